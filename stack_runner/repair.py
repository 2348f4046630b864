"""Gets a stack that an interrupted operation left behind back to where the engine can work on
it, with the engine's own commands, touching nothing this project did not create: a lock of an
ended process of this machine is removed (`pulumi cancel`), others are reported; a container an
unfinished create made (with this stack's label, unknown to the state) is removed, one without
the label never is; then `pulumi refresh --clear-pending-creates` drops the unfinished creates
and, as every engine operation does, writes the state back without the other unfinished steps."""

import os
import re
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from components.config import DockerJudgeArgs, settings_from_config
from components.config_rules import PROJECT, ConfigError
from components.docker import engine as docker_engine
from components.docker.judge import STACK_LABEL
from stack_runner.engine_only import engine_only
from stack_runner.output import CLI, say, shown

# One lock in the engine's "the stack is currently locked" error: who took it, where.
LOCK = re.compile(r"^\s*\S+: created by (?P<user>[^@\s]*)@(?P<host>\S+) \(pid (?P<pid>\d+)\)")


class StackBlocked(Exception):  # noqa: N818 (a state the user must act on, said in words)
    """The stack cannot be repaired here; the message says what to do."""


def has_ended(host: str, pid: int) -> bool:
    """The process that took a lock ran on this machine and has ended: it is gone, or a
    zombie (killed with its parent, it stays one until the process it is handed to collects
    it, and a signal still reaches it)."""
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def run_operation(stack: auto.Stack, operation: Callable[..., Any], **options: Any) -> None:
    """Runs a stack's up, preview, refresh or destroy, shown and `engine_only`; if the stack is
    locked only by ended processes of this machine, removes their locks and runs it once more."""

    def attempt() -> None:
        with engine_only(stack):
            operation(**options, **shown())

    try:
        attempt()
    except auto.ConcurrentUpdateError as error:
        holders = [m for line in str(error).splitlines() if (m := LOCK.match(line))]
        if not holders:
            raise
        if live := [h for h in holders if not has_ended(h["host"], int(h["pid"]))]:
            listing = "; ".join(f"pid {h['pid']} of {h['user']}@{h['host']}" for h in live)
            raise StackBlocked(
                f"stack {stack.name} is locked by a process that may still be running "
                f"({listing}). Wait for it to end; if it has ended, clear the lock with: "
                f"{CLI} cancel --yes --stack {stack.name}"
            ) from None
        pids = ", ".join(h["pid"] for h in holders)
        say(
            f"--- stack {stack.name} was locked by an operation that ended without unlocking "
            f"it (pid {pids} of this machine): removing the lock"
        )
        stack.cancel()
        attempt()


def remove_orphan_containers(stack: auto.Stack, deployment: Mapping[str, Any]) -> None:
    config = {key: value.value for key, value in stack.get_all_config().items()}
    try:
        settings = settings_from_config(config, stack.name)
        if not isinstance(settings, DockerJudgeArgs):
            return
        client = docker_engine.docker_client(settings.engine_host)
    except (ConfigError, docker_engine.DockerEngineUnreachable):
        # The program reports a setting with its fix; the provider, an engine it cannot reach.
        return
    label = f"{PROJECT}/{stack.name}"
    known = {r["id"] for r in deployment.get("resources") or [] if r.get("id")}
    names = {settings.container_name}
    for step in deployment.get("pending_operations") or []:
        if step["resource"].get("type") == "docker:index/container:Container":
            names.add(step["resource"].get("inputs", {}).get("name") or settings.container_name)
    for name in names:
        for container in client.containers.list(all=True, filters={"name": f"^/{name}$"}):
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


def repair(stack: auto.Stack) -> None:
    """Everything above, from one read of the state: containers first (the pending steps name
    them), then the state."""
    deployment = stack.export_stack().deployment or {}
    remove_orphan_containers(stack, deployment)
    if not (pending := deployment.get("pending_operations")):
        return
    steps = "; ".join(f"{s['type']} {s['resource']['urn'].rsplit('::', 1)[-1]}" for s in pending)
    say(f"--- the last operation on stack {stack.name} was interrupted, leaving: {steps}")
    run_operation(stack, stack.refresh, clear_pending_creates=True)
    say("--- dropped them from the state; this run creates or updates what they touched")
