"""What the stack runner makes of a lock or of steps an interrupted operation left."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from pulumi.automation.errors import create_command_error

from stack_runner import repair as stack_repair
from stack_runner.engine_only import EngineOnlyCommand
from stack_runner.repair import StackBlocked, has_ended

HOST = socket.gethostname()
CONTAINER = "docker:index/container:Container"
PENDING_CREATE = {
    "type": "creating",
    "resource": {
        "urn": "urn:pulumi:local::ollama-judge::ollama-judge:index:DockerJudge$"
        f"{CONTAINER}::ollama-container",
        "type": CONTAINER,
        "inputs": {"name": "ollama"},
    },
}


def locked_error(*holders: tuple[str, int]) -> Exception:
    lines = [
        f"error: the stack is currently locked by {len(holders)} lock(s). Either wait for "
        "the other process(es) to end or delete the lock file with `pulumi cancel`."
    ]
    for host, pid in holders:
        lines.append(
            f"  file:///root/.pulumi/locks/organization/ollama-judge/local/{pid}.json: "
            f"created by root@{host} (pid {pid}) at 2026-11-28T10:00:00Z"
        )
    return create_command_error(auto.CommandResult(stdout="", stderr="\n".join(lines), code=255))


def ended_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


class NoCLI(EngineOnlyCommand):
    """Stands in for the CLI where nothing may run it."""

    def __init__(self) -> None:  # no `pulumi version`
        pass


class FakeStack:
    """What the repair asks of a stack, recorded: no `stack import` to edit the state."""

    name = "local"

    def __init__(self, pending: list[dict[str, Any]] | None = None, locked: int = 0) -> None:
        self.workspace = auto.LocalWorkspace(work_dir=".", pulumi_command=NoCLI())
        self.state = {"resources": [], "pending_operations": pending}
        self.locked = locked  # refreshes that find the stack locked by an ended process
        self.cancelled = 0
        self.refreshed: list[dict[str, Any]] = []

    def cancel(self) -> None:
        self.cancelled += 1

    def export_stack(self) -> auto.Deployment:
        return auto.Deployment(version=3, deployment=self.state)

    def refresh(self, **options: Any) -> None:
        if self.locked:
            self.locked -= 1
            raise locked_error((HOST, ended_pid()))
        self.refreshed.append(options)


@pytest.fixture(autouse=True)
def cli_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages name the command as scripts/pulumi sets it."""
    monkeypatch.setattr(stack_repair, "CLI", "scripts/pulumi")


@pytest.fixture
def no_containers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Docker side of the repair, recorded instead of asked (tests/e2e test it)."""
    seen: list[str] = []
    monkeypatch.setattr(
        stack_repair, "remove_orphan_containers", lambda stack, state: seen.append("ran")
    )
    return seen


def said(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """What the repair said to the user, line by line."""
    return capsys.readouterr().err.splitlines()


def test_a_lock_is_stale_only_if_its_process_ran_here_and_ended():
    assert has_ended(HOST, ended_pid())
    assert not has_ended(HOST, os.getpid())
    assert not has_ended("another-machine", ended_pid())


def test_a_killed_process_not_yet_collected_by_its_parent_has_ended():
    # What an operation killed with its runner leaves for a moment: a zombie, until the
    # process it was handed to collects its exit status.
    process = subprocess.Popen(["true"])
    try:
        stat = Path(f"/proc/{process.pid}/stat")
        deadline = time.monotonic() + 10
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.01)
        assert has_ended(HOST, process.pid)
        assert not has_ended("another-machine", process.pid)
    finally:
        process.wait()


def test_a_stale_lock_is_removed_and_the_operation_runs_again(capsys):
    stack = FakeStack()
    attempts: list[int] = []

    def operation(**options: Any) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise locked_error((HOST, ended_pid()))

    stack_repair.run_operation(stack, operation)
    assert stack.cancelled == 1 and len(attempts) == 2
    [message] = said(capsys)
    assert "ended without unlocking it" in message and "removing the lock" in message


def test_a_live_lock_is_left_alone_and_the_message_names_the_command_that_clears_it():
    stack = FakeStack()

    def operation(**options: Any) -> None:
        raise locked_error(("builder", 4242), (HOST, os.getpid()))

    with pytest.raises(StackBlocked) as blocked:
        stack_repair.run_operation(stack, operation)
    assert stack.cancelled == 0
    assert "pid 4242 of root@builder" in str(blocked.value)
    assert f"pid {os.getpid()} of root@{HOST}" in str(blocked.value)
    assert "scripts/pulumi cancel --yes --stack local" in str(blocked.value)


def test_other_failures_pass_through():
    def operation(**options: Any) -> None:
        raise create_command_error(auto.CommandResult(stdout="", stderr="error: boom", code=255))

    with pytest.raises(auto.CommandError, match="boom"):
        stack_repair.run_operation(FakeStack(), operation)


def test_pending_steps_are_cleared_by_the_engines_refresh(no_containers: list[str], capsys):
    stack = FakeStack(pending=[PENDING_CREATE, {**PENDING_CREATE, "type": "updating"}])
    stack_repair.repair(stack)
    assert no_containers == ["ran"]
    [refresh] = stack.refreshed
    assert refresh["clear_pending_creates"] is True
    lines = said(capsys)
    assert "interrupted, leaving: creating ollama-container; updating ollama-container" in lines[0]
    assert "dropped them from the state" in lines[-1]


def test_a_stack_without_pending_steps_is_not_refreshed(no_containers: list[str]):
    stack = FakeStack(pending=[])
    stack_repair.repair(stack)
    assert no_containers == ["ran"] and stack.refreshed == []


def test_a_stale_lock_met_by_the_repairs_refresh_is_removed(no_containers: list[str], capsys):
    stack = FakeStack(pending=[PENDING_CREATE], locked=1)
    stack_repair.repair(stack)
    assert stack.cancelled == 1 and len(stack.refreshed) == 1
    assert sum("interrupted, leaving" in line for line in said(capsys)) == 1
