"""What the stack runner makes of a lock or of steps an interrupted operation left."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest
from pulumi.automation import CommandResult
from pulumi.automation.errors import create_command_error

from stack_runner import repair as stack_repair
from stack_runner.repair import LockHolder, StackBlocked, describe, lock_holders

HOST = socket.gethostname()


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
    return create_command_error(CommandResult(stdout="", stderr="\n".join(lines), code=255))


def ended_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


class FakeStack:
    name = "local"

    def __init__(self) -> None:
        self.cancelled = 0

    def cancel(self) -> None:
        self.cancelled += 1


def test_lock_holders_are_read_from_the_engines_message():
    assert lock_holders(str(locked_error(("builder", 4242), (HOST, 17)))) == [
        LockHolder(
            "file:///root/.pulumi/locks/organization/ollama-judge/local/4242.json",
            "root",
            "builder",
            4242,
        ),
        LockHolder(
            "file:///root/.pulumi/locks/organization/ollama-judge/local/17.json", "root", HOST, 17
        ),
    ]


def test_a_lock_is_stale_only_if_its_process_ran_here_and_ended():
    assert LockHolder("x", "root", HOST, ended_pid()).is_gone()
    assert not LockHolder("x", "root", HOST, os.getpid()).is_gone()
    assert not LockHolder("x", "root", "another-machine", ended_pid()).is_gone()


def test_a_stale_lock_is_removed_and_the_operation_runs_again():
    stack = FakeStack()
    attempts: list[int] = []
    said: list[str] = []

    def operation() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise locked_error((HOST, ended_pid()))
        return "done"

    result = stack_repair.with_stale_locks_cleared(stack, operation, said.append, "scripts/pulumi")
    assert result == "done"
    assert stack.cancelled == 1 and len(attempts) == 2
    assert "ended without unlocking it" in said[0] and "removing the lock" in said[0]


def test_a_live_lock_is_left_alone_and_the_message_names_the_command_that_clears_it():
    stack = FakeStack()

    def operation() -> None:
        raise locked_error((HOST, os.getpid()))

    with pytest.raises(StackBlocked) as blocked:
        stack_repair.with_stale_locks_cleared(stack, operation, print, "scripts/pulumi")
    assert stack.cancelled == 0
    assert f"pid {os.getpid()} of root@{HOST}" in str(blocked.value)
    assert "scripts/pulumi cancel --yes --stack local" in str(blocked.value)


def test_other_failures_pass_through():
    def operation() -> None:
        raise create_command_error(CommandResult(stdout="", stderr="error: boom", code=255))

    with pytest.raises(Exception, match="boom"):
        stack_repair.with_stale_locks_cleared(FakeStack(), operation, print, "pulumi")


def test_a_pending_step_is_described_by_its_name_and_type():
    operation = {
        "type": "creating",
        "resource": {
            "urn": "urn:pulumi:local::ollama-judge::ollama-judge:index:DockerJudge$"
            "docker:index/container:Container::ollama-container",
            "type": "docker:index/container:Container",
        },
    }
    assert describe(operation) == "creating ollama-container (docker:index/container:Container)"
