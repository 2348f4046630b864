"""Waits, during `up`, until the judge's container is healthy (the server answers and every
model is present) or has given up, and says why.

The docker provider's own wait only knows "healthy" and a timeout: a pull that can never
succeed would hold `up` for the whole pull budget, and its error would stay in the
container's log. This wait follows the container by the engine's own streams instead
(docker/streams.py): it relays the model script's progress to `up`'s output as it comes,
and ends as soon as the script gives up (the container stops, and Docker restarts it),
with the script's last words in the message.

Docker runs the first healthcheck one interval (10 s) after the start, and version 20.10
has no shorter start interval. Once the model script says it is ready, this wait runs the
healthcheck's own command itself (`docker exec`) and ends when it passes: the same test,
without the interval. Docker's status says "healthy" at its next check.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from components import judge
from components.config_rules import PROJECT
from components.docker import engine as docker_engine
from components.docker.streams import HEALTHY, READY, STOPPED, ContainerStreams
from components.readiness import CANCELLED, JudgeNotReady, Report, giving_up_reason

# How often the wait looks at its deadline and at CANCELLED while the container is silent
# (it reads nothing then), and runs the healthcheck's command again if it failed.
TICK_SECONDS = 0.5
# Lines of the model script shown when the judge failed.
LOG_LINES_SHOWN = 12


def failure_message(container_name: str, said: list[str], models: tuple[str, ...]) -> str:
    """Why the judge stopped, from the model script's messages, and how to go on."""
    reason = giving_up_reason(said)
    shown = "\n    ".join(said[-LOG_LINES_SHOWN:]) or "(no output from the model script)"
    fix = (
        f"Check the model names and that the registry can be reached from the container, "
        f"or change {PROJECT}:models; the next `up` replaces the container. "
        f"Docker keeps restarting it meanwhile (restart policy), so a registry that comes "
        f"back brings the judge up by itself. Full log: docker logs {container_name}"
    )
    headline = reason or "its model script stopped"
    listed = ", ".join(models) or "no models"
    return (
        f"the judge container {container_name} is not ready ({listed}): {headline}.\n"
        f"  Its last messages:\n    {shown}\n  {fix}"
    )


def follow(
    engine_host: str | None,
    container_id: str,
    models: tuple[str, ...],
    timeout_seconds: float,
    report: Report,
) -> None:
    """The wait, through a client of the engine the provider uses, closed after it."""
    try:
        client = docker_engine.docker_client(engine_host)
    except docker_engine.DockerEngineUnreachable as unreachable:
        raise JudgeNotReady(f"cannot follow the judge's start: {unreachable}") from None
    with contextlib.closing(client):
        try:
            container = client.containers.get(container_id)
            wait_until_ready(container, models, timeout_seconds, report)
        except docker_engine.ENGINE_ERRORS as error:
            raise JudgeNotReady(f"cannot follow the judge's start: {error}") from None


def wait_until_ready(
    container: Any,
    models: tuple[str, ...],
    timeout_seconds: float,
    report: Report,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Returns when the container is healthy; raises JudgeNotReady when it gave up, the
    time ran out, the engine stopped answering, or the update was cancelled."""
    name, deadline = str(container.name), clock() + timeout_seconds
    restarts = container.attrs.get("RestartCount", 0)
    container.reload()
    state = container.attrs["State"]
    if (state.get("Health") or {}).get("Status") == "healthy":
        return
    restarted = container.attrs.get("RestartCount", 0) != restarts
    stopped = restarted or state.get("Restarting") or not state.get("Running")
    check_at = None
    with ContainerStreams(container, report, running=not stopped) as streams:
        while not stopped:
            happened = streams.next(TICK_SECONDS)
            if happened == HEALTHY:
                return
            if happened == STOPPED:
                break
            if happened == READY:
                check_at = clock()
            if check_at is not None and clock() >= check_at:
                if _check_passes(container, models):
                    return
                check_at = clock() + TICK_SECONDS
            if clock() > deadline:
                raise JudgeNotReady(
                    f"the judge container {name} was not ready within {timeout_seconds:.0f}s "
                    f"(the server's start plus {PROJECT}:pullTimeoutSeconds).\n"
                    + failure_message(name, streams.said.said, models)
                )
            if CANCELLED.is_set():
                raise JudgeNotReady(
                    f"the update was interrupted while the judge container {name} was "
                    "starting; it keeps starting, and the next `up` waits for it again"
                )
        raise JudgeNotReady(failure_message(name, streams.last_words(), models))


def _check_passes(container: Any, models: tuple[str, ...]) -> bool:
    """The healthcheck's command, run now rather than at Docker's next interval. A
    container that stopped meanwhile fails it (the engine refuses the exec)."""
    with contextlib.suppress(*docker_engine.ENGINE_ERRORS):
        exit_code, _ = container.exec_run(judge.model_script_command("check", models))
        return bool(exit_code == 0)
    return False
