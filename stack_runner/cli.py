"""`pulumi up|preview|refresh|destroy` for this project, on any Pulumi install.

The offline toolchain of this repo has no Python language host (see
toolchain/bootstrap.sh), so these operations run through Pulumi's Automation API: it runs
`__main__.py` in this process and hands its address to the `pulumi` CLI, which does the
rest as usual — same engine, backend, provider plugins and stack files. `scripts/pulumi`
sends these four commands here and every other one to the CLI itself.

On top of the CLI's behaviour, before each operation the stack is repaired from what an
interrupted or failed one left behind (repair.py), Ctrl-C behaves as in the CLI
(interrupts.py), and an error is shown once, as the CLI shows it in a terminal
(program_errors.py, output.py). The program's imports for its target start beside the
CLI's own start (imports_ahead.py), and the Automation API's reads of the result after an
operation are skipped (stacks.ProjectStack).

    scripts/pulumi up --stack local [--yes] [--diff] [--refresh] [--target URN]...
    scripts/pulumi preview --stack knitfab --diff
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from pulumi import automation as auto

from stack_runner import imports_ahead, repair
from stack_runner.interrupts import ForwardingPulumiCommand, forwarded, say
from stack_runner.output import ErrorsOnce
from stack_runner.stacks import PROJECT_DIR, ProjectStack, open_stack, selected_stack

# How the user calls the CLI here; messages name this command.
CLI = os.environ.get("OLLAMA_JUDGE_CLI", "pulumi")
# Exit status of a run that the user interrupted, as a shell reports SIGINT.
INTERRUPTED = 130
OPERATIONS = ("up", "update", "preview", "refresh", "destroy")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"{CLI}",
        description="Runs up, preview, refresh or destroy on a stack of this project.",
        epilog="Every other command goes to the Pulumi CLI as it is.",
    )
    parser.add_argument("operation", choices=OPERATIONS)
    parser.add_argument("-s", "--stack", help="local or knitfab (default: the selected stack)")
    parser.add_argument("-y", "--yes", action="store_true", help="skip the confirmation")
    parser.add_argument("--diff", action="store_true", help="show a detailed diff")
    parser.add_argument("-r", "--refresh", action="store_true", help="refresh before up")
    parser.add_argument("--skip-preview", action="store_true", help="no preview before up")
    parser.add_argument("-t", "--target", action="append", help="only this resource URN")
    parser.add_argument(
        "--expect-no-changes", action="store_true", help="fail if anything would change"
    )
    return parser.parse_args(argv)


def shown() -> dict[str, Any]:
    """Where one operation's output goes: to the user, each error in full once."""
    return {"on_output": ErrorsOnce(print), "on_error": say, "color": "auto"}


def confirmed(operation: str, stack: auto.Stack, args: argparse.Namespace) -> bool:
    """As the CLI asks before changing anything; without a terminal, --yes is required."""
    if args.yes or operation not in ("up", "destroy"):
        return True
    if not sys.stdin.isatty():
        say(
            f"error: --yes must be passed in to proceed when running in non-interactive "
            f"mode: {CLI} {operation} --yes --stack {stack.name}"
        )
        return False
    echo = shown()
    if operation == "up":
        stack.preview(diff=args.diff, target=args.target, refresh=args.refresh, **echo)
    else:
        stack.preview_destroy(target=args.target, **echo)
    verb = "update" if operation == "up" else "destroy"
    answer = input(f"Do you want to perform this {verb}? [yes/no] ").strip().lower()
    return answer in ("y", "yes")


def run(operation: str, stack: ProjectStack, args: argparse.Namespace) -> None:
    """The operation, showing what the CLI prints; its result object is not read back."""
    echo = shown()
    with stack.results_unread():
        if operation in ("up", "preview"):
            change = stack.up if operation == "up" else stack.preview
            change(
                diff=args.diff,
                target=args.target,
                refresh=args.refresh,
                expect_no_changes=args.expect_no_changes,
                **echo,
            )
        elif operation == "refresh":
            stack.refresh(target=args.target, **echo)
        else:
            stack.destroy(target=args.target, **echo)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    operation = "up" if args.operation == "update" else args.operation
    if "PULUMI_CONFIG_PASSPHRASE" not in os.environ and not os.environ.get(
        "PULUMI_CONFIG_PASSPHRASE_FILE"
    ):
        say(
            "Set PULUMI_CONFIG_PASSPHRASE (it protects the stack's secrets; this project "
            "stores none, so an empty one works): export PULUMI_CONFIG_PASSPHRASE="
        )
        return 2
    command = ForwardingPulumiCommand()
    name: str | None = args.stack
    with forwarded(command):
        try:
            name = name or selected_stack(PROJECT_DIR, command)
            if name is None:
                say(
                    "error: no stack selected: pass --stack local (or knitfab), or run "
                    f"{CLI} stack select"
                )
                return 2
            imports_ahead.import_ahead(PROJECT_DIR, name)
            stack = open_stack(name, command=command)
            if operation != "preview":
                repair.with_stale_locks_cleared(stack, lambda: repair.repair(stack, say), say, CLI)
            if not confirmed(operation, stack, args):
                return 1
            repair.with_stale_locks_cleared(stack, lambda: run(operation, stack, args), say, CLI)
        except KeyboardInterrupt:
            say(f"{CLI} {operation} was interrupted before the engine started: nothing changed")
            return INTERRUPTED
        except repair.StackBlocked as blocked:
            say(f"error: {blocked}")
            return 1
        except auto.CommandError:
            # The engine's own words were shown as they came, on stdout and stderr.
            stack_option = f" --stack {name}" if name else ""
            if command.interrupts:
                say(
                    f"{CLI} {operation} was interrupted. The next `{CLI} up{stack_option}` "
                    "(or scripts/deploy) picks up from where it stopped."
                )
                return INTERRUPTED
            say(f"{CLI} {operation}{stack_option} failed: the reason is above")
            return 1
    return INTERRUPTED if command.interrupts else 0
