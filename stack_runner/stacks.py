"""The project's stacks, opened through the Automation API with the project directory as the
workspace, so Pulumi.yaml and Pulumi.<stack>.yaml apply as for the CLI and `__main__.py` runs in
this process. The knitfab program's imports (about a second on 2 cores) start in a thread as its
stack is opened, beside the CLI's own start (about 0.7 s before it runs the program)."""

import contextlib
import importlib
import runpy
import sys
import threading
from pathlib import Path

import yaml
from pulumi import automation as auto

from stack_runner.engine_only import EngineOnlyCommand

PROJECT_DIR = Path(__file__).resolve().parent.parent
TARGET_MODULES = {"kubernetes": ("components.kubernetes.preflight", "components.kubernetes.judge")}


def import_ahead(project_dir: Path, stack_name: str) -> threading.Thread | None:
    """Starts importing the modules of the stack file's `ollama-judge:target` in the background
    (the program checks the target); the thread, if any."""
    try:
        settings = yaml.safe_load((project_dir / f"Pulumi.{stack_name}.yaml").read_text())
        modules = TARGET_MODULES[settings["config"]["ollama-judge:target"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError):  # no target, or none to import
        return None

    def load() -> None:
        # A module that fails here fails the program's own import too, which says why.
        with contextlib.suppress(Exception):
            for module in modules:
                importlib.import_module(module)

    thread = threading.Thread(target=load, name="program-imports", daemon=True)
    thread.start()
    return thread


def open_stack(
    stack_name: str, project_dir: Path = PROJECT_DIR, command: EngineOnlyCommand | None = None
) -> auto.Stack:
    """The stack, created on first use; its operations may run `engine_only`."""
    import_ahead(project_dir, stack_name)

    def program() -> None:
        if str(project_dir) not in sys.path:
            sys.path.insert(0, str(project_dir))
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

    workspace = auto.LocalWorkspace(
        work_dir=str(project_dir), program=program, pulumi_command=command or EngineOnlyCommand()
    )
    return auto.Stack.create_or_select(stack_name, workspace)
