"""`python -m stack_runner ARGS`, as scripts/pulumi runs up, preview, refresh and destroy
(stack_runner/cli.py)."""

# Ctrl-C is handled before anything else is imported (see stopped_while_starting).
# ruff: noqa: E402
import contextlib
import os
import signal
import sys

# How the user calls the CLI here; messages name this command.
CLI = os.environ.get("OLLAMA_JUDGE_CLI", "pulumi")
# Exit status of a run that the user interrupted, as a shell reports SIGINT.
INTERRUPTED = 130


def stopped_while_starting(_signum: int, _frame: object) -> None:
    """Ctrl-C before `main` hands it to stack_runner/interrupts.py: no CLI has been asked
    anything yet. Without this, Python would show the traceback of whatever it was
    importing (the imports below take about a second)."""
    with contextlib.suppress(OSError):  # the terminal is gone
        print(f"{CLI} was interrupted while starting: nothing changed", file=sys.stderr)
    raise SystemExit(INTERRUPTED)


signal.signal(signal.SIGINT, stopped_while_starting)

from stack_runner.cli import main

code = main()
# Python may take a moment to exit (the program's threads end): a Ctrl-C meanwhile
# ends it at once, as the terminal's default, without a traceback.
signal.signal(signal.SIGINT, signal.SIG_DFL)
sys.exit(code)
