"""A stand-in for the Docker client and its container object, for the tests of the
readiness wait: the container's state at the wait's first look, then what its followed log
and its event stream bring, in the order the test's steps make them happen."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# The start of the container's run, as the engine writes it, and as `since` takes it.
STARTED_AT = "2024-05-01T10:00:00.123456789Z"
SINCE_START = "1714557600.123456789"
END = object()


class FakeStream:
    """A followed stream: what the steps made happen for it, then it blocks, as a followed
    stream does, until the container stops or the stream is closed."""

    def __init__(self, container: FakeContainer, kind: str, **asked: Any) -> None:
        self.container, self.kind, self.asked = container, kind, asked
        self.closed = False

    def __iter__(self) -> FakeStream:
        return self

    def __next__(self) -> Any:
        return self.container.take(self)

    def close(self) -> None:
        with self.container.changed:
            self.closed = True
            self.container.changed.notify_all()


class FakeLogCopy(list[bytes]):
    """A log read without following: its pieces, then the end."""

    def close(self) -> None:
        pass


class FakeClient:
    def __init__(self, container: FakeContainer) -> None:
        self.container = container
        self.containers = self
        self.closed = False

    def get(self, container_id: str) -> FakeContainer:
        assert container_id == self.container.id
        return self.container

    def events(self, **asked: Any) -> FakeStream:
        return self.container.open("events", **asked)

    def close(self) -> None:
        self.closed = True


class FakeContainer:
    """A container whose state and streams a test scripts. `steps` happen one after the
    other, each once the streams have handed out all that the previous one made happen."""

    def __init__(
        self,
        name: str = "ollama",
        health: str = "healthy",
        log: str = "",
        steps: list[Callable[[FakeContainer], None]] | None = None,
        running: bool = True,
        failed_checks: int = 0,
    ):
        self.name = name
        self.id = f"{name}-id"
        self.client = FakeClient(self)
        self.steps = list(steps or [])
        self.execs: list[list[str]] = []
        self.streams: list[FakeStream] = []
        self.log_reads: list[dict[str, Any]] = []
        self.failed_checks = failed_checks
        self.restarts_at_look = 0
        self.attrs: dict[str, Any] = {
            "RestartCount": 0,
            "State": {
                "Running": running,
                "Restarting": False,
                "StartedAt": STARTED_AT,
                "Health": {"Status": health},
            },
        }
        self.log = b""
        self.happened: list[tuple[str, Any]] = []
        self.handed_out = 0
        self.changed = threading.Condition()
        if log:
            self.write(log.encode())
        if not running:
            self.end_log()

    # What the wait asks of the client.
    def reload(self) -> None:
        self.attrs["RestartCount"] += self.restarts_at_look
        self.restarts_at_look = 0

    def logs(self, **asked: Any) -> Any:
        if not asked.get("follow"):  # the log as it is now, read once
            self.log_reads.append(asked)
            return FakeLogCopy([self.log])
        return self.open("log", **asked)

    def exec_run(self, cmd: list[str]) -> tuple[int, bytes]:
        """The healthcheck's command, answered as the model script would: 0 once it said it
        is ready (after `failed_checks` failures)."""
        self.execs.append(cmd)
        if self.failed_checks:
            self.failed_checks -= 1
            return 1, b""
        return (0 if b"ollama-judge: ready:" in self.log else 1), b""

    def open(self, kind: str, **asked: Any) -> FakeStream:
        stream = FakeStream(self, kind, **asked)
        self.streams.append(stream)
        return stream

    def take(self, stream: FakeStream) -> Any:
        """The stream's next item, in the order of all that happened (steps run as needed)."""
        with self.changed:
            while not stream.closed:
                if self.handed_out < len(self.happened):
                    kind, item = self.happened[self.handed_out]
                    if kind == stream.kind:
                        self.handed_out += 1
                        self.changed.notify_all()
                        if isinstance(item, Exception):
                            raise item
                        if item is END:
                            break
                        return item
                elif self.steps:
                    self.steps.pop(0)(self)
                    self.changed.notify_all()
                    continue
                self.changed.wait()
            raise StopIteration

    # Steps.
    def write(self, *pieces: bytes) -> None:
        """Log output, in pieces as the engine may send it."""
        for piece in pieces:
            self.log += piece
            self.happened.append(("log", piece))

    def say(self, *lines: str) -> None:
        self.write("".join(f"{line}\n" for line in lines).encode())

    def event(self, action: str) -> None:
        self.happened.append(("events", {"Type": "container", "Action": action, "id": self.id}))

    def set_health(self, status: str) -> None:
        self.attrs["State"]["Health"]["Status"] = status
        self.event(f"health_status: {status}")

    def end_log(self) -> None:
        self.happened.append(("log", END))

    def end_events(self) -> None:
        """The engine closed the event stream (as when it shuts down)."""
        self.happened.append(("events", END))

    def stop(self) -> None:
        """The container's process ended: its log ends, Docker says it died."""
        self.attrs["State"]["Running"] = False
        self.event("die")
        self.end_log()

    def restart(self) -> None:
        """As `stop`, and Docker restarted it (restart policy)."""
        self.stop()
        self.attrs["RestartCount"] += 1
        self.attrs["State"]["Running"] = True

    def fail(self, kind: str, error: Exception) -> None:
        """The engine broke off the stream."""
        self.happened.append((kind, error))
