"""What the tests of the readiness waits share: a clock that a test moves, and polls that
do not sleep."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from components import readiness


class Clock:
    """Each reading is `step` seconds (one by default) after the previous one."""

    def __init__(self, step: float = 1.0) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def quick_polls(monkeypatch: pytest.MonkeyPatch, wait_module: ModuleType) -> Iterator[None]:
    """For an autouse fixture: the module's polls do not sleep, and no interruption from
    another test is pending."""
    monkeypatch.setattr(wait_module, "POLL_SECONDS", 0)
    readiness.CANCELLED.clear()
    yield
    readiness.CANCELLED.clear()
