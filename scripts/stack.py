"""Runs `up`, `preview`, `refresh` or `destroy` on a stack of this project through
Pulumi's Automation API.

This is `pulumi up --stack STACK` for a machine without Pulumi's Python language host
(the offline toolchain of this repo has none; see toolchain/bootstrap.sh): the Automation
API runs `__main__.py` in this process and hands its address to the `pulumi` CLI, which
does the rest as usual — same engine, backend, provider plugins and stack files. With a
normal Pulumi install, `pulumi up --stack STACK` in the project directory does the same.

    python scripts/stack.py up --stack local
    python scripts/stack.py preview --stack knitfab --diff
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
from collections.abc import Callable
from pathlib import Path

from pulumi import automation as auto

PROJECT_DIR = Path(__file__).resolve().parent.parent
OPERATIONS = ("up", "preview", "refresh", "destroy")


def inline_program(project_dir: Path) -> Callable[[], None]:
    """The project's own `__main__.py`, run as the language host would run it."""

    def program() -> None:
        if str(project_dir) not in sys.path:
            sys.path.insert(0, str(project_dir))
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

    return program


def open_stack(stack_name: str, project_dir: Path = PROJECT_DIR) -> auto.Stack:
    """The stack, created on first use, with the project directory as the workspace:
    Pulumi.yaml's backend and Pulumi.<stack>.yaml's config apply as for the CLI."""
    workspace = auto.LocalWorkspaceOptions(work_dir=str(project_dir))
    return auto.create_or_select_stack(
        stack_name,
        project_name="ollama-judge",
        program=inline_program(project_dir),
        opts=workspace,
    )


def run(operation: str, stack: auto.Stack, diff: bool = False) -> int:
    """Runs one operation with the engine's output on stdout; returns an exit status."""
    echo = {"on_output": print, "color": "auto"}
    try:
        if operation == "up":
            stack.up(diff=diff, **echo)
        elif operation == "preview":
            stack.preview(diff=diff, **echo)
        elif operation == "refresh":
            stack.refresh(**echo)
        else:
            stack.destroy(**echo)
    except auto.CommandError:
        # The engine has already printed what went wrong; the rest is its own wrapping.
        print(f"pulumi {operation} failed", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("operation", choices=OPERATIONS)
    parser.add_argument("--stack", required=True, help="local or knitfab")
    parser.add_argument("--diff", action="store_true", help="show a detailed diff")
    args = parser.parse_args(argv)
    if "PULUMI_CONFIG_PASSPHRASE" not in os.environ and not os.environ.get(
        "PULUMI_CONFIG_PASSPHRASE_FILE"
    ):
        print(
            "Set PULUMI_CONFIG_PASSPHRASE (it protects the stack's secrets; this project "
            "stores none, so an empty one works): export PULUMI_CONFIG_PASSPHRASE=",
            file=sys.stderr,
        )
        return 2
    return run(args.operation, open_stack(args.stack), diff=args.diff)


if __name__ == "__main__":
    sys.exit(main())
