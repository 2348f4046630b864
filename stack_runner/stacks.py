"""The project's stacks, opened through the Automation API with the project directory as
the workspace: Pulumi.yaml's backend and Pulumi.<stack>.yaml's config apply as for the CLI,
and `__main__.py` runs in this process as the language host would run it."""

from __future__ import annotations

import contextlib
import runpy
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from pulumi import automation as auto
from pulumi.automation._stack import StackInitMode

from stack_runner import program_errors

PROJECT_DIR = Path(__file__).resolve().parent.parent


def inline_program(project_dir: Path) -> Callable[[], None]:
    """The project's own `__main__.py`, run as the language host would run it."""

    def program() -> None:
        if str(project_dir) not in sys.path:
            sys.path.insert(0, str(project_dir))
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

    return program


class ProjectStack(auto.Stack):
    """A stack of this project, whose operations can skip reading their result back.

    After the engine is done, the Automation API's `up`, `refresh` and `destroy` read the
    stack's outputs (two CLI runs, for `up`) and its newest history entry (one more) to
    build the result they return: about 1.5 s on a quiet 2-core machine, on every run,
    which the CLI's own `pulumi up` does not spend. Within `results_unread()` they skip
    those reads; the result then has no outputs and a summary that says so."""

    _read_results = True

    @contextlib.contextmanager
    def results_unread(self) -> Iterator[None]:
        self._read_results = False
        try:
            yield
        finally:
            self._read_results = True

    def outputs(self) -> auto.OutputMap:
        return super().outputs() if self._read_results else {}

    def info(self, show_secrets: bool = True) -> auto.UpdateSummary | None:
        if self._read_results:
            return super().info(show_secrets)
        now = datetime.now(UTC)
        return auto.UpdateSummary("not read", now, "", {}, {}, "not read", end_time=now)


def open_stack(
    stack_name: str,
    project_dir: Path = PROJECT_DIR,
    command: auto.PulumiCommand | None = None,
) -> ProjectStack:
    """The stack, created on first use, with the project directory as the workspace:
    Pulumi.yaml's backend and Pulumi.<stack>.yaml's config apply as for the CLI."""
    program_errors.report_once()
    workspace = auto.LocalWorkspace(
        work_dir=str(project_dir), program=inline_program(project_dir), pulumi_command=command
    )
    return ProjectStack(stack_name, workspace, StackInitMode.CREATE_OR_SELECT)


def selected_stack(project_dir: Path, command: auto.PulumiCommand) -> str | None:
    """The stack `pulumi stack select` chose, as the CLI would use it without --stack."""
    workspace = auto.LocalWorkspace(work_dir=str(project_dir), pulumi_command=command)
    current = workspace.stack()
    return current.name if current else None
