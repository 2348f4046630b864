"""`scripts/review`: the pull-request comment that says what a change does to each stack.

    scripts/review [--stack local] [--stack knitfab] [--output FILE]
    scripts/review --desired-state BASE_REF [--stack ...] [--output FILE]
    scripts/review --fallback BASE_REF [--stack ...] [--output FILE]

Without --desired-state: a real preview of each stack (its backend, config, cluster or
Docker engine, passphrase, as `scripts/pulumi preview`), read from the engine's events.

With --desired-state: no credentials at all. The program of BASE_REF (from git) and the
program of the working tree each run against a throwaway file backend with an empty
passphrase (review_comment/desired.py), and their resources are compared: what the pull
request changes in the desired state, not what would change in the live one.

With --fallback: a real preview, and for a stack whose preview fails (this machine cannot
reach its cluster or Docker engine) the desired state, with the failure named.

The Markdown (review_comment/markdown.py) goes to --output or stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pulumi import automation as auto

from review_comment.desired import desired_state_review
from review_comment.markdown import StackReview, comment
from review_comment.preview import preview_review

STACKS = ("local", "knitfab")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/review", description="Writes the pull request's preview comment."
    )
    parser.add_argument("-s", "--stack", action="append", choices=STACKS)
    parser.add_argument(
        "--desired-state",
        metavar="BASE_REF",
        help="compare the program of BASE_REF with this checkout, without credentials",
    )
    parser.add_argument(
        "--fallback",
        metavar="BASE_REF",
        help="a real preview, and where one fails (no access to its cluster or engine), "
        "the desired state against BASE_REF for that stack, saying why",
    )
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    return parser.parse_args(argv)


def real_or_fallback(stack: str, fallback: str | None) -> StackReview:
    from stack_runner.stacks import open_stack  # needs the Pulumi engine

    try:
        return preview_review(open_stack(stack))
    except auto.CommandError as failed:
        if fallback is None:
            raise
        lines = str(failed).strip().splitlines() or ["no output"]
        why = next((line.strip() for line in lines if "error:" in line), lines[-1].strip())
        desired = desired_state_review(stack, fallback)
        note = f"The real preview failed ({why[:300]}); shown instead:"
        return StackReview(stack, desired.changes, "desired", (note, *desired.notes))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reviews = []
    for stack in args.stack or STACKS:
        if args.desired_state:
            reviews.append(desired_state_review(stack, args.desired_state))
        else:
            reviews.append(real_or_fallback(stack, args.fallback))
    text = comment(reviews)  # as written: its length is what GitHub and the workflow check
    if args.output:
        # UTF-8, as review-comment.yml reads it, whatever this machine's locale.
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
