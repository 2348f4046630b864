"""The CLI's output as the stack runner shows it: each error in full once.

Run by the Automation API, the CLI never has a terminal, so it draws its progress the
non-interactive way: a line each time a resource's row changes, ending in the row's latest
diagnostic. An error thus appears in its row's line and again, in full, under
"Diagnostics:" once the operation ends. In a terminal the CLI shows it once: it redraws
the rows without it when it prints the diagnostics. Here a row's line keeps saying that
the resource has an error, as it happens, and leaves the words to the diagnostics.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Colour codes, when the user asked for colour.
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# A row: op, type, name, status (and the changed properties), then its latest diagnostic.
# The diagnostics section and the --diff display put "error:" first on its line instead.
ROW_ERROR = re.compile(r"(\s*\S.*?)error: ")
DIAGNOSTICS = "Diagnostics"


class ErrorsOnce:
    """An `on_output` for one operation: passes every line on to `write`, but a progress
    row's error message, which the diagnostics section repeats."""

    def __init__(self, write: Callable[[str], Any]):
        self.write = write
        self.in_progress = True

    def __call__(self, line: str) -> None:
        plain = ANSI.sub("", line)
        if plain.startswith(f"{DIAGNOSTICS}:"):
            self.in_progress = False
        row = ROW_ERROR.match(plain) if self.in_progress else None
        self.write(f"{row.group(1)}error (in full under {DIAGNOSTICS})" if row else line)
