"""The program's imports for its target, made while the engine starts.

scripts/pulumi has already imported what the local stack's program needs (its stack
repair uses the same modules); the knitfab stack's program would still import the
Kubernetes SDK and client, about a second of a fresh process on 2 cores, after the engine
has started it. Made in a thread of their own as soon as the stack is known, they overlap
the CLI's own start (about 0.7 s before it runs the program); the program's imports then
find them done, or wait for the rest (Python's import lock is per module).
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from pathlib import Path

import yaml

TARGET_MODULES = {
    "kubernetes": ("components.kubernetes.preflight", "components.kubernetes.judge"),
}


def target_of(project_dir: Path, stack_name: str) -> str | None:
    """The stack file's `ollama-judge:target`, if it says; the program checks it."""
    try:
        settings = yaml.safe_load((project_dir / f"Pulumi.{stack_name}.yaml").read_text())
        target = settings["config"]["ollama-judge:target"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    return target if isinstance(target, str) else None


def import_ahead(project_dir: Path, stack_name: str) -> threading.Thread | None:
    """Starts importing the stack's target modules in the background; the thread, if any."""
    modules = TARGET_MODULES.get(target_of(project_dir, stack_name) or "", ())
    if not modules:
        return None

    def load() -> None:
        # A module that fails here fails the program's own import too, which says why.
        with contextlib.suppress(Exception):
            for module in modules:
                importlib.import_module(module)

    thread = threading.Thread(target=load, name="program-imports", daemon=True)
    thread.start()
    return thread
