"""`pulumi up|preview|refresh|destroy` for this project through Pulumi's Automation API, which
serves `__main__.py` from this process to the CLI (the offline toolchain has no Python language
host). As with the CLI, `up` and `destroy` preview and ask, unless --yes or --skip-preview."""

import argparse
import sys
from typing import Any

from pulumi import automation as auto

from stack_runner import repair
from stack_runner.engine_only import EngineOnlyCommand
from stack_runner.interrupts import ForwardingPulumiCommand, forward_signals
from stack_runner.output import CLI, INTERRUPTED, say, shown
from stack_runner.stacks import PROJECT_DIR, open_stack

CONFIRMED = {"up": "update", "destroy": "destroy"}  # what the CLI asks before


class RunnerCommand(EngineOnlyCommand, ForwardingPulumiCommand):
    """The CLI as the runner runs it: Ctrl-C passed on, nothing read back after the engine."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=CLI, epilog="Other commands go to the Pulumi CLI.")
    parser.add_argument("operation", choices=("up", "update", "preview", "refresh", "destroy"))
    parser.add_argument("-s", "--stack", help="local or knitfab (default: the selected stack)")
    parser.add_argument("-y", "--yes", action="store_true", help="preview, then go on unasked")
    parser.add_argument("-f", "--skip-preview", action="store_true", help="no preview, no question")
    parser.add_argument("--diff", action="store_true", help="show a detailed diff")
    parser.add_argument("-r", "--refresh", action="store_true", help="refresh before up")
    parser.add_argument("-t", "--target", action="append", help="only this resource URN")
    parser.add_argument("--expect-no-changes", action="store_true", help="fail on any change")
    return parser.parse_args(argv)


def run(operation: str, stack: auto.Stack, args: argparse.Namespace) -> bool:
    """The operation as the CLI runs it (see above); False if the user said no."""
    options: dict[str, Any] = {"target": args.target}
    if operation in ("up", "preview"):
        options.update(diff=args.diff, refresh=args.refresh)
    if operation in CONFIRMED and not args.skip_preview:
        (stack.preview if operation == "up" else stack.preview_destroy)(**options, **shown())
        verb = CONFIRMED[operation]
        answer = "yes" if args.yes else input(f"Do you want to perform this {verb}? [yes/no] ")
        if answer.strip().lower() not in ("y", "yes"):
            print(f"confirmation declined, not proceeding with the {verb}")
            return False
    if operation in ("up", "preview"):  # the CLI checks this after the change, not before
        options["expect_no_changes"] = args.expect_no_changes
    repair.run_operation(stack, getattr(stack, operation), **options)
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    operation = "up" if args.operation == "update" else args.operation
    stack_option = f" --stack {args.stack}" if args.stack else ""
    if operation in CONFIRMED and not (args.yes or args.skip_preview or sys.stdin.isatty()):
        say(
            "error: --yes or --skip-preview must be passed in to proceed when running in "
            f"non-interactive mode: {CLI} {operation} --yes{stack_option}"
        )
        return 2
    command = RunnerCommand()
    forward_signals(command)
    try:
        workspace = auto.LocalWorkspace(work_dir=str(PROJECT_DIR), pulumi_command=command)
        # Without --stack, the stack `pulumi stack select` chose, as for the CLI.
        name = args.stack or getattr(workspace.stack(), "name", None)
        if name is None:
            say(f"error: no stack selected: pass --stack local, or run {CLI} stack select")
            return 2
        stack_option = f" --stack {name}"
        stack = open_stack(name, command=command)
        if operation != "preview":
            repair.repair(stack)
        if not run(operation, stack, args):
            return 1
    except (KeyboardInterrupt, EOFError):  # EOFError: Ctrl-D at the question
        say(f"{CLI} {operation} was interrupted before the engine started: nothing changed")
        return INTERRUPTED
    except repair.StackBlocked as blocked:
        say(f"error: {blocked}")
        return 1
    except auto.CommandError:  # the engine's own words were shown as they came, but:
        if command.unshown:  # those of a command whose output is not shown (a state read)
            say(command.unshown)
        if command.interrupts:
            say(
                f"{CLI} {operation} was interrupted. The next `{CLI} up{stack_option}` "
                "(or scripts/deploy) picks up from where it stopped."
            )
            return INTERRUPTED
        say(f"{CLI} {operation}{stack_option} failed: the reason is above")
        return 1
    return INTERRUPTED if command.interrupts else 0
