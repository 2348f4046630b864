"""The real parts the end-to-end tests drive: the Pulumi engine built by
toolchain/bootstrap.sh, a Docker engine, and a scratch copy of the project."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from stack_runner.stacks import open_stack

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.local.yaml", "Pulumi.knitfab.yaml", "__main__.py")


class MissingPartError(Exception):
    """A real part the tests need is not there; the message says how to get it."""


def engine_environment() -> dict[str, str]:
    """Variables that put the pinned engine first and forbid any download."""
    bootstrap = PROJECT_DIR / "toolchain" / "bootstrap.sh"
    result = subprocess.run([str(bootstrap)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MissingPartError(f"toolchain/bootstrap.sh failed:\n{result.stderr[-3000:]}")
    bin_dir = Path(result.stdout.strip().splitlines()[-1])
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_CONFIG_PASSPHRASE": "e2e-tests",
    }
    # A build from the cache brings its own plugin home; a user install keeps theirs.
    cache_home = bin_dir.parent / "pulumi-home"
    if cache_home.is_dir():
        env["PULUMI_HOME"] = str(cache_home)
    return env


def docker_answers() -> bool:
    return (
        shutil.which("docker") is not None
        and subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
    )


@contextmanager
def docker_engine(log_dir: Path) -> Iterator[None]:
    """A Docker engine for the duration: the running one, or a dockerd started here and
    stopped afterwards."""
    if docker_answers():
        yield
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None or os.geteuid() != 0:
        raise MissingPartError(
            "no Docker engine answers and none can be started here "
            "(needs root and dockerd: apt-get install docker.io)"
        )
    log = (log_dir / "dockerd.log").open("w")
    process = subprocess.Popen([dockerd], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not docker_answers():
            if process.poll() is not None or time.monotonic() > deadline:
                raise MissingPartError(f"dockerd did not start; see {log.name}")
            time.sleep(0.5)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def up(stack: auto.Stack, **options: Any) -> dict[str, int]:
    """Runs `up` and returns its resource changes, e.g. {"same": 6}."""
    return dict(stack.up(**options).summary.resource_changes or {})


class ProjectCopy:
    """The project in a scratch directory with its own state backend, so that stack
    config set by a test never touches the clone's stack files."""

    def __init__(self, root: Path):
        self.dir = root / "project"
        self.dir.mkdir()
        for name in PROJECT_FILES:
            shutil.copy(PROJECT_DIR / name, self.dir / name)
        for package in ("components", "stack_runner", "judge_check", "judge_models"):
            shutil.copytree(
                PROJECT_DIR / package,
                self.dir / package,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        state = root / "state"
        state.mkdir()
        self.backend_url = f"file://{state}"

    def stack(self, name: str, config: dict[str, Any] | None = None) -> auto.Stack:
        """The stack `name`: its committed stack file with `config` merged over it (a
        nested dict is merged key by key, anything else replaces)."""
        os.environ["PULUMI_BACKEND_URL"] = self.backend_url
        stack_file = self.dir / f"Pulumi.{name}.yaml"
        settings = yaml.safe_load((PROJECT_DIR / stack_file.name).read_text())
        _merge(settings["config"], config or {})
        if stack_file.exists():  # keep the salt the engine added when it created the stack
            salt = yaml.safe_load(stack_file.read_text()).get("encryptionsalt")
            if salt:
                settings["encryptionsalt"] = salt
        stack_file.write_text(yaml.safe_dump(settings))
        return open_stack(name, self.dir)


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> None:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def user_clone(root: Path) -> Path:
    """The project as a user's clone in `root`/clone, sharing this checkout's .venv (the
    pins are the same)."""
    clone = root / "clone"
    shutil.copytree(
        PROJECT_DIR,
        clone,
        ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*_cache", "rendered"),
    )
    (clone / ".venv").symlink_to(PROJECT_DIR / ".venv")
    return clone
