"""The judge's container as the engine's own streams tell it, for docker/wait.py: its log
from the start, whose model script messages are relayed as they come, and its events since
the start of its run (Docker found it healthy, it stopped), read at once and taken as one
sequence of what happened. Neither stream is read again: each byte comes once.
"""

from __future__ import annotations

import time
from typing import Any

from components.docker import engine as docker_engine
from components.readiness import JudgeNotReady, Report, ScriptLines, StreamEnded, Streams

# What happened, for the wait.
READY, HEALTHY, STOPPED = "ready", "healthy", "stopped"
# What the model script says once every model is pulled and loaded.
READY_LINE = "ready:"
# The only events the engine sends; "health_status" also stands for "health_status: healthy".
EVENTS = ["die", "health_status"]
HEALTHY_EVENT = "health_status: healthy"
# How long the log may take to bring its last lines once the container stopped.
LOG_DRAIN_SECONDS = 2.0


class ContainerStreams:
    """A container's followed log, and its events unless it already stopped (`running`
    false). Leaving the `with` block closes both and ends their threads."""

    def __init__(self, container: Any, report: Report, running: bool) -> None:
        self.said = ScriptLines()
        self._container, self._report, self._running = container, report, running
        self._streams = Streams()
        self._log_ended = False

    def __enter__(self) -> ContainerStreams:
        container = self._container
        try:
            log = container.logs(stream=True, follow=True, stdout=True, stderr=True)
            self._streams.follow("log", log, lambda: docker_engine.close_stream(log))
            if self._running:
                # Replayed from the start of this run: no event is lost before the stream
                # began.
                since = docker_engine.since_value(container.attrs["State"]["StartedAt"])
                filters = {"container": [container.id], "event": EVENTS}
                events = container.client.events(since=since, filters=filters, decode=True)
                self._streams.follow("events", events, lambda: docker_engine.close_stream(events))
        except BaseException:
            self._streams.__exit__()
            raise
        return self

    def __exit__(self, *exception: object) -> None:
        self._streams.__exit__(*exception)

    def next(self, timeout: float) -> str | None:
        """What happened within `timeout` seconds: READY (the script said so), HEALTHY,
        STOPPED, or None (nothing that ends a wait)."""
        match self._streams.take(timeout):
            case ("log", bytes() as piece):
                return READY if self._relay(piece) else None
            case ("events", {"Action": action}) if action == HEALTHY_EVENT:
                return HEALTHY
            case ("events", {"Action": "die"}):
                return STOPPED
            case ("log", StreamEnded(error=None)):  # it stopped: its die event says so
                self._log_ended = True
            case (source, StreamEnded(error=error)):
                why = f": {error}" if error else ""
                raise JudgeNotReady(f"cannot follow the judge's start: its {source} ended{why}")
        return None

    def last_words(self) -> list[str]:
        """Every message of the model script, once the container stopped: its last ones may
        still be on their way, and the log ends once it brought them."""
        drained_by = time.monotonic() + LOG_DRAIN_SECONDS
        while not self._log_ended and (
            arrived := self._streams.take(drained_by - time.monotonic())
        ):
            match arrived:
                case ("log", bytes() as piece):
                    self._relay(piece)
                case ("log", StreamEnded()):
                    self._log_ended = True
        return self.said.said

    def _relay(self, piece: bytes) -> bool:
        """Reports the messages that `piece` completes; True if one says the script is ready."""
        lines = self.said.feed(piece)
        for line in lines:
            self._report(line)
        return any(line.startswith(READY_LINE) for line in lines)
