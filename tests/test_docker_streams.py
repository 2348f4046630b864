"""Several blocking streams read at once, each on its own thread, for the Docker wait."""

from __future__ import annotations

import threading
from typing import Any

from components.docker.wait import Streams


def silent_until(released: threading.Event) -> Any:
    """A stream that blocks, as a followed one does, until it is released."""
    released.wait()
    yield from ()


def reading_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in ("ollama-judge-a", "ollama-judge-b")]


def test_each_streams_items_come_in_order_then_its_end_or_its_error():
    reset = ConnectionResetError("reset")

    def broken() -> Any:
        yield "b1"
        yield "b2"
        raise reset

    with Streams() as streams:
        streams.follow("a", iter(["a1"]), lambda: None)
        streams.follow("b", broken(), lambda: None)
        taken = [streams.take(5) for _ in range(5)]
    assert [item for source, item in taken if source == "a"] == ["a1", None]
    assert [item for source, item in taken if source == "b"] == ["b1", "b2", reset]


def test_leaving_streams_ends_every_read_in_progress_and_its_thread():
    released = threading.Event()
    with Streams() as streams:
        streams.follow("a", silent_until(released), released.set)
        assert streams.take(0.05) is None
        assert reading_threads() == ["ollama-judge-a"]
    assert released.is_set()
    assert reading_threads() == []
