"""What the stack runner says, and the CLI's output as it shows it: each diagnostic once.
Without a terminal, the CLI ends a resource's row with its latest diagnostic and repeats each in
full under "Diagnostics:"; here the row only points there. A program's error comes a second
time as "an unhandled error occurred: <message>" (the Automation API's server logs it and
returns it, pulumi/pulumi#10222): that repeat is left out of rows, counts, diagnostics, stderr."""

import contextlib
import os
import re
import sys
from collections.abc import Callable
from typing import Any

# How the user calls the CLI here; messages name this command.
CLI = os.environ.get("OLLAMA_JUDGE_CLI", "pulumi")
# Exit status of a run that the user interrupted, as a shell reports SIGINT.
INTERRUPTED = 130
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# A row: op, type, name, status (and the changed properties), then its latest diagnostic.
ROW = re.compile(r"(\s*\S.*?)(error|warning): (.*)")
# The diagnostics put "error:" first on its line; the lines after it, as deep, are its own.
DIAGNOSTIC = re.compile(r"(\s*)(error|warning|info): (.*)")
ERRORS = re.compile(r"\b(\d+) errors?\b")
REPEAT = "an unhandled error occurred: "


class Once:
    """An `on_output` (rows=True) or `on_error` of one operation: every line to `write`, but
    what is said twice."""

    def __init__(self, write: Callable[[str], Any], rows: bool = False):
        self.write, self.in_progress = write, rows
        self.repeat: str | None = None  # the indentation of the repeat being left out
        self.repeats = 0  # left out of the rows

    def __call__(self, line: str) -> None:
        plain = ANSI.sub("", line)
        if plain.startswith("Diagnostics:"):
            self.in_progress = False
        shown = self.row(plain, line) if self.in_progress else self.diagnostic(plain, line)
        if shown is not None:
            self.write(shown)

    def row(self, plain: str, line: str) -> str | None:
        row = ROW.match(plain)
        if row and row[3].startswith(REPEAT):
            self.repeats += 1
            return None
        if row:
            return f"{row[1]}{row[2]} (in full under Diagnostics)"
        if self.repeats and " pulumi:pulumi:Stack " in plain:
            return ERRORS.sub(lambda m: errors(int(m[1]) - self.repeats), plain)
        return line

    def diagnostic(self, plain: str, line: str) -> str | None:
        if start := DIAGNOSTIC.match(plain):
            self.repeat = start[1] if start[3].startswith(REPEAT) else None
        elif not (self.repeat is not None and plain.strip() and plain.startswith(self.repeat)):
            self.repeat = None
        return None if self.repeat is not None else line


def errors(count: int) -> str:
    return f"{count} error" if count == 1 else f"{count} errors"


def say(message: str) -> None:
    """A line on stderr that never fails: the terminal may already be gone."""
    with contextlib.suppress(OSError):
        print(message, file=sys.stderr, flush=True)


def shown() -> dict[str, Any]:
    """Where one operation's output goes: to the user, each error and warning once."""
    echo = Once(lambda line: print(line, flush=True), rows=True)
    return {"on_output": echo, "on_error": Once(say), "color": "auto"}
