"""A stand-in for the Docker client's container object, for tests of the readiness wait
and for the components on Pulumi's mocks (where no container exists)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class FakeContainer:
    """A container whose state and log a test scripts: `steps` are applied one per
    `reload()`, as time passing between two looks."""

    def __init__(
        self,
        name: str = "ollama",
        health: str = "healthy",
        log: str = "",
        steps: list[Callable[[FakeContainer], None]] | None = None,
    ):
        self.name = name
        self.id = f"{name}-id"
        self.log_text = log
        self.steps = list(steps or [])
        self.execs: list[list[str]] = []
        self.attrs: dict[str, Any] = {
            "RestartCount": 0,
            "State": {"Running": True, "Restarting": False, "Health": {"Status": health}},
        }

    def reload(self) -> None:
        if self.steps:
            self.steps.pop(0)(self)

    def logs(self, stdout: bool = True, stderr: bool = True) -> bytes:
        return self.log_text.encode()

    def exec_run(self, cmd: list[str]) -> tuple[int, bytes]:
        """The healthcheck's command, answered as the model script would: 0 once it
        said it is ready."""
        self.execs.append(cmd)
        return (0 if "ollama-judge: ready:" in self.log_text else 1), b""

    # Steps.
    def say(self, *lines: str) -> None:
        self.log_text += "".join(f"{line}\n" for line in lines)

    def set_health(self, status: str) -> None:
        self.attrs["State"]["Health"]["Status"] = status

    def restart(self) -> None:
        self.attrs["RestartCount"] += 1
