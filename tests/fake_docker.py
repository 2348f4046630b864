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
        self.attrs: dict[str, Any] = {
            "RestartCount": 0,
            "State": {"Running": True, "Restarting": False, "Health": {"Status": health}},
        }

    def reload(self) -> None:
        if self.steps:
            self.steps.pop(0)(self)

    def logs(self, stdout: bool = True, stderr: bool = True) -> bytes:
        return self.log_text.encode()

    # Steps.
    def say(self, *lines: str) -> None:
        self.log_text += "".join(f"{line}\n" for line in lines)

    def set_health(self, status: str) -> None:
        self.attrs["State"]["Health"]["Status"] = status

    def restart(self) -> None:
        self.attrs["RestartCount"] += 1
