"""Gets a stack that an interrupted or failed operation left behind back to where the
engine can work on it, before the next operation: no hand work, and nothing touched that
this project did not create.

- A lock left by a process of this machine that no longer runs is removed (the engine's
  own `pulumi cancel` does that), saying so. A lock held by a live process, or by another
  machine, is reported with the command that clears it.
- Operations left pending in the state (the engine was stopped mid-step) are dropped
  from the state. A Docker container that such a step created, or any container carrying
  this stack's label that the state does not know, is removed, so that `up` creates it
  afresh; a container without the label is never touched.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pulumi import automation as auto

from components.config import DockerJudgeArgs, settings_from_config
from components.config_rules import PROJECT, ConfigError
from components.docker import engine as docker_engine
from components.docker.judge import STACK_LABEL

T = TypeVar("T")
CONTAINER_TYPE = "docker:index/container:Container"

# One lock in the engine's "the stack is currently locked" error.
LOCK_LINE = re.compile(
    r"^\s*(?P<where>\S+): created by (?P<user>[^@\s]*)@(?P<host>\S+) \(pid (?P<pid>\d+)\)",
    re.MULTILINE,
)


class StackBlocked(Exception):  # noqa: N818 (a state the user must act on, said in words)
    """The stack cannot be repaired here; the message says what to do."""


@dataclass(frozen=True)
class LockHolder:
    where: str
    user: str
    host: str
    pid: int

    def is_gone(self) -> bool:
        """The process that took the lock ran on this machine and has ended."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def lock_holders(error_text: str) -> list[LockHolder]:
    return [
        LockHolder(m["where"], m["user"], m["host"], int(m["pid"]))
        for m in LOCK_LINE.finditer(error_text)
    ]


def with_stale_locks_cleared(
    stack: auto.Stack, operation: Callable[[], T], say: Callable[[str], None], cli: str
) -> T:
    """Runs `operation`; if the stack is locked only by processes of this machine that
    have ended, removes their locks and runs it once more."""
    try:
        return operation()
    except auto.CommandError as error:
        holders = lock_holders(str(error))
        if "currently locked" not in str(error) or not holders:
            raise
        live = [h for h in holders if not h.is_gone()]
        if live:
            listing = "; ".join(f"pid {h.pid} of {h.user}@{h.host}" for h in live)
            raise StackBlocked(
                f"stack {stack.name} is locked by a process that may still be running "
                f"({listing}). Wait for it to end; if it has ended, clear the lock with: "
                f"{cli} cancel --yes --stack {stack.name}"
            ) from None
        pids = ", ".join(str(h.pid) for h in holders)
        say(
            f"--- stack {stack.name} was locked by an operation that ended without "
            f"unlocking it (pid {pids} of this machine): removing the lock"
        )
        stack.cancel()
        return operation()


def describe(operation: dict[str, Any]) -> str:
    resource = operation.get("resource", {})
    name = str(resource.get("urn", "?")).rsplit("::", 1)[-1]
    return f"{operation.get('type', '?')} {name} ({resource.get('type', '?')})"


def clear_pending_operations(
    stack: auto.Stack, state: auto.Deployment, say: Callable[[str], None]
) -> None:
    operations = (state.deployment or {}).get("pending_operations") or []
    if not operations:
        return
    say(
        f"--- the last operation on stack {stack.name} was interrupted and left "
        f"{len(operations)} step(s) unfinished: " + "; ".join(describe(op) for op in operations)
    )
    state.deployment = {**(state.deployment or {}), "pending_operations": []}
    stack.import_stack(state)
    say("--- dropped them from the state; this run creates or updates what they touched")


def docker_settings(stack: auto.Stack) -> DockerJudgeArgs | None:
    """The stack's Docker settings, or None for another target or a config that does not
    parse (the program then reports the config error itself)."""
    config = {key: value.value for key, value in stack.get_all_config().items()}
    try:
        settings = settings_from_config(config, stack.name)
    except ConfigError:
        return None  # the program reports it, with the fix
    return settings if isinstance(settings, DockerJudgeArgs) else None


def remove_orphan_containers(
    stack: auto.Stack, state: auto.Deployment, say: Callable[[str], None]
) -> None:
    """Removes containers of these names that carry this stack's label but that the
    state does not hold: leftovers of a create the engine never recorded."""
    settings = docker_settings(stack)
    if settings is None:
        return
    label = f"{PROJECT}/{stack.name}"
    deployment = state.deployment or {}
    known = {r["id"] for r in deployment.get("resources") or [] if r.get("id")}
    try:
        client = docker_engine.docker_client(settings.engine_host)
    except docker_engine.DockerEngineUnreachable:
        return  # the provider says it better when the operation reaches the engine
    for name in {settings.container_name, *pending_container_names(deployment)}:
        found = client.containers.list(all=True, filters={"name": f"^/{name}$"})
        for container in found:
            if container.id in known:
                continue
            if container.labels.get(STACK_LABEL) != label:
                raise StackBlocked(
                    f"a container named {name} exists that stack {stack.name} did not "
                    f"create (it has no label {STACK_LABEL}={label}); it may be the "
                    f"manual's judge. Remove it (docker rm -f {name}) or choose another "
                    f"name: {PROJECT}:docker.containerName"
                )
            say(
                f"--- container {name} ({container.short_id}) was created by an interrupted "
                "`up` and is not in the state: removing it (the model volume stays)"
            )
            container.remove(force=True)


def pending_container_names(deployment: Mapping[str, Any]) -> list[str]:
    """The names of the containers that unfinished creates were making."""
    return [
        str(op["resource"].get("inputs", {}).get("name"))
        for op in deployment.get("pending_operations") or []
        if op.get("resource", {}).get("type") == CONTAINER_TYPE
        and op["resource"].get("inputs", {}).get("name")
    ]


def repair(stack: auto.Stack, say: Callable[[str], None]) -> None:
    """Everything above, in order, from one read of the state: containers first (the
    pending steps name them), then the state."""
    state = stack.export_stack()
    remove_orphan_containers(stack, state, say)
    clear_pending_operations(stack, state, say)
