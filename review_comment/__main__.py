"""`scripts/review`: the pull request's comment saying what a change does to each stack, from a
real preview of each, or from the program of a base commit against this checkout's, without
credentials. The Markdown goes to --output or stdout."""

import argparse
import sys
from pathlib import Path

from pulumi import automation as auto

from review_comment.desired import desired_state_review
from review_comment.markdown import StackReview, comment
from review_comment.preview import preview_review

STACKS = ("local", "knitfab")


def stack_review(stack: str, desired_state: str | None, fallback: str | None) -> StackReview:
    if desired_state:
        return desired_state_review(stack, desired_state)
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
    args = parser.parse_args(argv)
    reviews = [
        stack_review(stack, args.desired_state, args.fallback) for stack in args.stack or STACKS
    ]
    text = comment(reviews)  # as written: its length is what GitHub and the workflow check
    if args.output:
        # UTF-8, as review-comment.yml reads it, whatever this machine's locale.
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
