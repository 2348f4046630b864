"""`python -m stack_runner ARGS`: scripts/pulumi's up, preview, refresh and destroy (cli.py)."""

# Ctrl-C is handled before anything else is imported (see stopped_while_starting).
# ruff: noqa: E402
import signal
import sys

from stack_runner.output import CLI, INTERRUPTED, say


def stopped_while_starting(_signum: int, _frame: object) -> None:
    """Ctrl-C before `main` hands it to interrupts.py (the imports below take a second): said
    so, not as the traceback of an import."""
    say(f"{CLI} was interrupted while starting: nothing changed")
    raise SystemExit(INTERRUPTED)


signal.signal(signal.SIGINT, stopped_while_starting)

from stack_runner.cli import main

code = main()
# Python may take a moment to exit (the program's threads end): a signal meanwhile ends
# it at once, as by default, without a traceback.
for caught in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(caught, signal.SIG_DFL)
sys.exit(code)
