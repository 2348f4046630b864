"""Blocking streams (a followed log, an event stream) read at once, each on a thread of its
own, and taken in the order their items arrived, with a timeout: the Docker wait also sees
its deadline and CANCELLED while every stream is silent. Leaving the `with` block closes
every stream and joins the threads: neither a thread nor a connection outlives the wait.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# How long leaving `Streams` waits for each reading thread once its stream is closed.
STREAM_JOIN_SECONDS = 5.0


@dataclass(frozen=True)
class StreamEnded:
    """A stream's last item: its source ended it, or `error` did."""

    error: Exception | None = None


class Streams:
    def __init__(self) -> None:
        self._arrived: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._closers: list[Callable[[], None]] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Streams:
        return self

    def __exit__(self, *exception: object) -> None:
        for close in self._closers:
            close()
        for thread in self._threads:
            thread.join(STREAM_JOIN_SECONDS)

    def follow(self, name: str, stream: Iterable[Any], close: Callable[[], None]) -> None:
        """Reads `stream` from now on; its items come as (name, item), then (name,
        StreamEnded). `close` ends the stream from another thread."""
        self._closers.append(close)

        def read() -> None:
            try:
                for item in stream:
                    self._arrived.put((name, item))
            except Exception as error:  # handed to the wait
                self._arrived.put((name, StreamEnded(error)))
            else:
                self._arrived.put((name, StreamEnded()))

        thread = threading.Thread(target=read, name=f"ollama-judge-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def take(self, timeout: float) -> tuple[str, Any] | None:
        try:
            return self._arrived.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None
