"""A new user's failures on stack `local`, driven through the stack runner as a user runs
it (stack_runner/, the target of `scripts/pulumi up`), each ending with a healthy
stack and nothing left behind:

- a model that cannot be pulled ends `up` soon after the last attempt, with the pull's
  own error, and the next `up` replaces the container;
- Ctrl-C once during `up` cancels gracefully; twice stops at once, mid-step;
- an `up` killed outright leaves a lock and a half-created container, which the next
  `up` clears by itself;
- a container of the judge's name that the project did not create is never touched;
- a Docker engine without GPUs stops `up` before anything exists, and the fix it names
  works.
"""

from __future__ import annotations

import re
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from tests.e2e import docker_host as host
from tests.e2e.docker_host import cpu_only
from tests.e2e.engine import ProjectCopy
from tests.e2e.runner import Runner
from tests.e2e.slow_docker import slow_container_creates

pytestmark = [pytest.mark.e2e, pytest.mark.recovery, pytest.mark.local]

# A registry on the container's own loopback, where nothing listens: every pull fails at
# once with "connection refused", a failure that retrying might cure (so it is retried).
UNPULLABLE = "127.0.0.1:1/library/judge:1"
# How long after the model script gives up `up` may still run: the readiness wait looks
# twice a second, then the engine wraps up the update.
GIVE_UP_BOUND_SECONDS = 5


@pytest.fixture
def project(engine: dict[str, str], judge_image: str, names_free: None, tmp_path: Path):
    project = ProjectCopy(tmp_path)
    yield project
    host.remove_judge_objects()


@pytest.fixture
def runner(project: ProjectCopy, tmp_path: Path) -> Runner:
    return Runner(project, tmp_path)


def configure(project: ProjectCopy, port: int, **more: Any) -> auto.Stack:
    """Writes the stack file the runner will use; the stack, to read its state."""
    return project.stack("local", cpu_only(port, **more))


def pending_operations(stack: auto.Stack) -> list[dict[str, Any]]:
    return stack.export_stack().deployment.get("pending_operations") or []


def log_time(container: str, text: str) -> float:
    """When the container first logged a line containing `text` (Docker's clock)."""
    log = host.docker("logs", "--timestamps", container).stdout
    for line in log.splitlines():
        if text in line:
            stamp = re.sub(r"(\.\d{6})\d*", r"\1", line.split(" ", 1)[0])
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    raise AssertionError(f"{text!r} not in the log of {container}:\n{log}")


def assert_healthy_judge() -> dict[str, Any]:
    return host.docker_health("ollama")


def destroy(runner: Runner) -> None:
    code, output = runner.run("destroy", "--stack", "local", "--yes")
    assert code == 0, output
    assert not host.exists("container", "ollama"), "destroy left the container"
    assert host.exists("volume", "ollama"), "destroy keeps the models"


def test_a_model_that_cannot_be_pulled_ends_up_soon_after_the_last_attempt(
    project: ProjectCopy, runner: Runner
):
    port = host.free_port()
    configure(
        project, port, **{"ollama-judge:models": [UNPULLABLE], "ollama-judge:pullAttempts": 2}
    )
    code, output = runner.run("up", "--stack", "local", "--yes")
    ended = time.time()

    assert code == 1, output
    # The pull's own error, and the script's verdict, reach the user.
    assert f"could not pull {UNPULLABLE} after 2 attempts: Error: pull model manifest" in output
    assert "connection refused" in output
    assert "docker logs ollama" in output
    assert "failed: the reason is above" in output
    gave_up = log_time("ollama", f"could not pull {UNPULLABLE} after 2 attempts")
    assert ended - gave_up < GIVE_UP_BOUND_SECONDS, f"up ended {ended - gave_up:.1f}s after"

    broken_id = host.inspect("container", "ollama")["Id"]
    stack = configure(project, port)
    code, output = runner.run("up", "--stack", "local", "--yes")
    assert code == 0, output
    assert assert_healthy_judge()["Id"] != broken_id, "the broken container was replaced"
    assert pending_operations(stack) == []
    destroy(runner)


def test_ctrl_c_once_cancels_gracefully_and_the_next_up_works(project: ProjectCopy, runner: Runner):
    port = host.free_port()
    stack = configure(project, port, **{"ollama-judge:models": [UNPULLABLE]})
    operation = runner.start("up", "--stack", "local", "--yes")
    host.wait_until(
        lambda: "attempt 1 of 5" in host.docker("logs", "ollama", check=False).stdout,
        120,
        "the judge to start pulling",
    )
    operation.ctrl_c()
    pressed = time.monotonic()
    assert operation.wait(timeout=60) == 130
    assert time.monotonic() - pressed < 15
    output = operation.output()
    assert "Cancelling: the engine finishes the step in flight" in output
    assert "^C received; cancelling" in output
    assert pending_operations(stack) == [], "a graceful cancel records every step"

    configure(project, port)
    code, output = runner.run("up", "--stack", "local", "--yes")
    assert code == 0, output
    assert_healthy_judge()
    destroy(runner)


def start_with_slow_creates(project: ProjectCopy, runner: Runner, tmp_path: Path, port: int):
    """An `up` whose container create is in flight for a while, and the Docker proxy."""
    proxy = slow_container_creates(tmp_path, delay=20)
    server = proxy.__enter__()
    stack = configure(project, port, **{"docker:host": f"unix://{tmp_path / 'docker.sock'}"})
    operation = runner.start("up", "--stack", "local", "--yes")
    assert server.creates_seen.wait(180), operation.output()
    return stack, proxy, server, operation


def test_ctrl_c_twice_stops_at_once_and_the_next_up_clears_what_was_left(
    project: ProjectCopy, runner: Runner, tmp_path: Path
):
    port = host.free_port()
    stack, proxy, server, operation = start_with_slow_creates(project, runner, tmp_path, port)
    try:
        operation.ctrl_c()
        time.sleep(0.5)
        operation.ctrl_c()
        pressed = time.monotonic()
        assert operation.wait(timeout=30) == 130, operation.output()
        assert time.monotonic() - pressed < 10
        assert "Stopping at once." in operation.output()
        assert pending_operations(stack), "stopped mid-step: the create was not recorded"
        # The create the engine had sent still happens: a container outside the state.
        host.wait_until(lambda: host.exists("container", "ollama"), 60, "the late create")

        server.delay = 0
        code, output = runner.run("up", "--stack", "local", "--yes")
        assert code == 0, output
        assert "is not in the state: removing it (the model volume stays)" in output
        assert "dropped them from the state" in output
        assert_healthy_judge()
        assert pending_operations(stack) == []
        destroy(runner)
    finally:
        proxy.__exit__(None, None, None)


def test_an_up_killed_outright_leaves_a_lock_the_next_up_removes(
    project: ProjectCopy, runner: Runner, tmp_path: Path
):
    port = host.free_port()
    stack, proxy, server, operation = start_with_slow_creates(project, runner, tmp_path, port)
    try:
        operation.kill_everything()
        host.wait_until(lambda: host.exists("container", "ollama"), 60, "the late create")
        assert pending_operations(stack), "killed mid-step: the create was not recorded"

        server.delay = 0
        code, output = runner.run("up", "--stack", "local", "--yes")
        assert code == 0, output
        assert "ended without unlocking it" in output and "removing the lock" in output
        assert "is not in the state: removing it" in output
        assert_healthy_judge()
        assert pending_operations(stack) == []
        destroy(runner)
    finally:
        proxy.__exit__(None, None, None)


def test_a_container_the_project_did_not_create_is_never_touched(
    project: ProjectCopy, runner: Runner
):
    probe = host.http_probe_image()
    host.docker("run", "-d", "--name", "ollama", probe, "sleep", "600")
    try:
        mine = host.inspect("container", "ollama")["Id"]
        configure(project, host.free_port())
        code, output = runner.run("up", "--stack", "local", "--yes")
        assert code == 1
        assert "a container named ollama exists that stack local did not create" in output
        assert "docker rm -f ollama" in output
        assert host.inspect("container", "ollama")["Id"] == mine
    finally:
        host.docker("rm", "-f", "ollama", check=False)
    code, output = runner.run("up", "--stack", "local", "--yes")
    assert code == 0, output
    assert_healthy_judge()
    destroy(runner)


def test_an_engine_without_gpus_stops_up_before_anything_exists_and_the_fix_works(
    project: ProjectCopy, runner: Runner
):
    stack = project.stack(
        "local",
        {
            "ollama-judge:models": [],
            "ollama-judge:docker": {"gpus": "all", "hostPort": host.free_port()},
        },
    )
    code, output = runner.run("up", "--stack", "local", "--yes")
    assert code == 1
    assert "ollama-judge:docker.gpus is all, but the Docker engine at" in output
    assert "could not select device driver" not in output
    for kind, name in host.JUDGE_NAMES.items():
        assert not host.exists(kind, name), f"{kind} {name} was created"
    fix = re.search(r"run the judge on CPU with: (scripts/pulumi config set [^\n]*)", output)
    assert fix, output
    # As typed, with the CLI on PATH in place of scripts/pulumi (the README test runs
    # scripts/pulumi itself).
    words = fix.group(1).replace("scripts/pulumi ", "pulumi ", 1)
    subprocess.run(words, shell=True, cwd=project.dir, check=True, capture_output=True)
    code, output = runner.run("up", "--stack", "local", "--yes")
    assert code == 0, output
    assert_healthy_judge()
    assert pending_operations(stack) == []
    destroy(runner)
