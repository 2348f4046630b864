"""Waits, during `up`, until the judge's container is healthy (the server answers and every
model is present) or has given up, and says why.

The docker provider's own wait only knows "healthy" and a timeout: a pull that can never
succeed would hold `up` for the whole pull budget, and its error would stay in the
container's log. This wait follows the container instead: it relays the model script's
progress to `up`'s output, and ends as soon as the script gives up (the container stops
or restarts), with the script's last words in the message.

Docker runs the first healthcheck one interval after the start (and version 20.10 has no
shorter start interval), so a judge ready after 1 s would wait for the 5 s mark. Once
the model script says it is ready, this wait runs the healthcheck's own command itself
(`docker exec`) and ends when it passes: the same test, without the interval. Docker's
status says "healthy" at its next check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from components import judge
from components.config_rules import PROJECT
from components.docker import engine as docker_engine
from components.readiness import (
    CANCELLED,
    JudgeNotReady,
    Report,
    giving_up_reason,
    script_lines,
)

POLL_SECONDS = 0.5
# What the model script says once every model is pulled and loaded.
READY_LINE = "ready:"
# Lines of the container log that explain a failure: the model script's own, and the
# errors `ollama pull` and `ollama serve` print.
LOG_LINES_SHOWN = 12


def failure_message(container_name: str, log: str, models: tuple[str, ...]) -> str:
    """Why the judge stopped, from its log, and how to go on."""
    said = script_lines(log)
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


class ContainerWatch:
    """One container's state and log, read through the Docker client."""

    def __init__(self, container: Any):
        self.container = container
        self.restarts = container.attrs.get("RestartCount", 0)
        self.reported = 0

    def state(self) -> dict[str, Any]:
        self.container.reload()
        return dict(self.container.attrs["State"])

    def healthy(self, state: dict[str, Any]) -> bool:
        return (state.get("Health") or {}).get("Status") == "healthy"

    def check_passes(self, models: tuple[str, ...]) -> bool:
        """The healthcheck's command, run now rather than at Docker's next interval."""
        exit_code, _ = self.container.exec_run(judge.model_script_command("check", models))
        return exit_code == 0

    def gave_up(self, state: dict[str, Any]) -> bool:
        """The model script ended the container: it stopped, or Docker restarted it."""
        restarted = self.container.attrs.get("RestartCount", 0) != self.restarts
        return restarted or state.get("Restarting", False) or not state.get("Running", False)

    def log(self) -> str:
        return str(self.container.logs(stdout=True, stderr=True).decode(errors="replace"))

    def new_script_lines(self) -> list[str]:
        lines = script_lines(self.log())
        fresh = lines[self.reported :]
        self.reported = len(lines)
        return fresh


def container_of(engine_host: str | None, container_id: str) -> Any:
    """The container, through the Docker client of the engine the provider uses."""
    try:
        return docker_engine.docker_client(engine_host).containers.get(container_id)
    except docker_engine.DockerEngineUnreachable as unreachable:
        raise JudgeNotReady(f"cannot follow the judge's start: {unreachable}") from None


def wait_until_ready(
    container: Any,
    models: tuple[str, ...],
    timeout_seconds: float,
    report: Report,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Returns when the container is healthy; raises JudgeNotReady when it gave up, the
    time ran out, or the update was cancelled."""
    watch = ContainerWatch(container)
    name = str(container.name)
    deadline = clock() + timeout_seconds
    script_ready = False
    while True:
        state = watch.state()
        for line in watch.new_script_lines():
            report(line)
            script_ready = script_ready or line.startswith(READY_LINE)
        if watch.healthy(state):
            return
        if script_ready and state.get("Running") and watch.check_passes(models):
            return
        if watch.gave_up(state):
            raise JudgeNotReady(failure_message(name, watch.log(), models))
        if clock() > deadline:
            raise JudgeNotReady(
                f"the judge container {name} was not ready within {timeout_seconds:.0f}s "
                f"(the server's start plus {PROJECT}:pullTimeoutSeconds).\n"
                + failure_message(name, watch.log(), models)
            )
        if CANCELLED.wait(POLL_SECONDS):
            raise JudgeNotReady(
                f"the update was interrupted while the judge container {name} was starting; "
                "it keeps starting, and the next `up` waits for it again"
            )
