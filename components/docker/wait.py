"""Waits, during `up`, until the judge's container is healthy (the server answers and every
model is present) or has given up, and says why: the docker provider's own wait knows only
"healthy" and a timeout, and leaves a failed pull's error in the container's log. It reads
the container's log and events once each; as Docker's first healthcheck comes one interval
(10 s) after the start, it runs the same command itself once the script says it is ready.
"""

import contextlib
import time
from collections.abc import Callable
from typing import Any

from components import judge
from components.config_rules import PROJECT
from components.docker import engine as docker_engine
from components.readiness import (
    CANCELLED,
    JudgeIdentity,
    JudgeNotReady,
    Report,
    StreamEnded,
    Streams,
    giving_up_reason,
    identity_in,
    script_messages,
)

# How often the wait looks at its deadline and at CANCELLED while the container is silent,
# and runs the healthcheck's command again if it failed.
TICK_SECONDS = 0.5
LOG_LINES_SHOWN = 12
# How long the log may take to bring its last lines once the container stopped.
LOG_DRAIN_SECONDS = 2.0


def failure_message(container_name: str, said: list[str], models: tuple[str, ...]) -> str:
    """Why the judge stopped, from the model script's messages, and how to go on."""
    listed = ", ".join(models) or "no models"
    headline = giving_up_reason(said) or "its model script stopped"
    shown = "\n    ".join(said[-LOG_LINES_SHOWN:]) or "(no output from the model script)"
    return (
        f"the judge container {container_name} is not ready ({listed}): {headline}.\n"
        f"  Its last messages:\n    {shown}\n"
        "  Check the model names and that the registry can be reached from the container, "
        f"or change {PROJECT}:models; the next `up` replaces the container. Docker keeps "
        "restarting it meanwhile (restart policy), so a registry that comes back brings the "
        f"judge up by itself. Full log: docker logs {container_name}"
    )


def follow(
    engine_host: str | None,
    container_id: str,
    models: tuple[str, ...],
    timeout_seconds: float,
    report: Report,
) -> JudgeIdentity:
    try:
        with contextlib.closing(docker_engine.docker_client(engine_host)) as client:
            container = client.containers.get(container_id)
            wait_until_ready(container, models, timeout_seconds, report)
            return identity(container)
    except (docker_engine.DockerEngineUnreachable, *docker_engine.ENGINE_ERRORS) as error:
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
    running = not (restarted or state.get("Restarting") or not state.get("Running"))
    said: list[str] = []
    log_ended, check_at = False, None
    with Streams() as streams:
        log = container.logs(stream=True, follow=True, stdout=True, stderr=True)
        streams.follow("log", script_messages(log), lambda: docker_engine.close_stream(log))
        if running:
            # Replayed from the start of this run: no event is lost before the stream began.
            since = docker_engine.since_value(container.attrs["State"]["StartedAt"])
            # The only events sent: "health_status" stands for "health_status: healthy" too.
            filters = {"container": [container.id], "event": ["die", "health_status"]}
            events = container.client.events(since=since, filters=filters, decode=True)
            streams.follow("events", events, lambda: docker_engine.close_stream(events))
        while running:
            match streams.take(TICK_SECONDS):
                case ("log", str() as line):
                    said.append(line)
                    report(line)
                    if line.startswith("ready:"):  # every model is pulled and loaded
                        check_at = clock()
                case ("events", {"Action": "health_status: healthy"}):
                    return
                case ("events", {"Action": "die"}):
                    break
                case ("log", StreamEnded(error=None)):  # it stopped: its die event says so
                    log_ended = True
                case (source, StreamEnded(error=error)):
                    why = f": {error}" if error else ""
                    raise JudgeNotReady(f"cannot follow the judge's start: its {source} ended{why}")
            if check_at is not None and clock() >= check_at:
                if _check_passes(container, models):
                    return
                check_at = clock() + TICK_SECONDS
            if clock() > deadline:
                raise JudgeNotReady(
                    f"the judge container {name} was not ready within {timeout_seconds:.0f}s "
                    f"(the server's start plus {PROJECT}:pullTimeoutSeconds).\n"
                    + failure_message(name, said, models)
                )
            if CANCELLED.is_set():
                raise JudgeNotReady(
                    f"the update was interrupted while the judge container {name} was "
                    "starting; it keeps starting, and the next `up` waits for it again"
                )
        # It stopped: its last words may still be on their way, until the log ends.
        drained_by = time.monotonic() + LOG_DRAIN_SECONDS
        while not log_ended and (arrived := streams.take(drained_by - time.monotonic())):
            match arrived:
                case ("log", str() as line):
                    said.append(line)
                    report(line)
                case ("log", StreamEnded()):
                    log_ended = True
        raise JudgeNotReady(failure_message(name, said, models))


def _check_passes(container: Any, models: tuple[str, ...]) -> bool:
    """The healthcheck's command, run now: a stopped container fails it (no exec is let in)."""
    with contextlib.suppress(*docker_engine.ENGINE_ERRORS):
        exit_code, _ = container.exec_run(judge.model_script_command("check", models))
        return bool(exit_code == 0)
    return False


def identity(container: Any) -> JudgeIdentity:
    """What the judge's current start said of itself: its log from that start to "ready:"."""
    container.reload()  # it may have started again while `up` waited
    # To the microsecond, as the client takes it: the start's first line comes much later.
    since = float(docker_engine.since_value(container.attrs["State"]["StartedAt"]))
    log = container.logs(stream=True, follow=False, stdout=True, stderr=True, since=since)
    with contextlib.closing(log):
        return identity_in(script_messages(log))
