"""What the waits for a ready judge share, whatever runs it (docker/wait.py,
kubernetes/wait.py): the error that ends `up`, the interruption that ends a wait,
how the model script's messages are read, how a wait follows several streams at once,
and how a wait runs beside the program.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi

# Set by the stack runner when the user interrupts `up`, so that a wait in progress ends
# with the update instead of keeping the program alive.
CANCELLED = threading.Event()

SCRIPT_PREFIX = "ollama-judge: "
# How the model script's last words before it fails begin (`give_up` in
# components/ollama-judge.sh).
GIVING_UP = ("could not", "ollama serve")

# How long leaving `Streams` waits for each reading thread once its stream is closed.
STREAM_JOIN_SECONDS = 5.0

Report = Callable[[str], None]
T = TypeVar("T")


class JudgeNotReady(pulumi.RunError):
    """The judge will not become ready; the message says why and what to do."""


def script_lines(text: str) -> list[str]:
    """The model script's messages in a log or a hook's output, without the prefix."""
    return [
        line.split(SCRIPT_PREFIX, 1)[1]
        for line in text.replace("\r", "\n").splitlines()
        if SCRIPT_PREFIX in line
    ]


def giving_up_reason(lines: list[str]) -> str | None:
    """The model script's last reason for giving up among its messages, if it gave one."""
    return next((line for line in reversed(lines) if line.startswith(GIVING_UP)), None)


class ScriptLines:
    """The model script's messages in a log that arrives in pieces (a followed log): a
    message split between two pieces is read whole, once it is complete."""

    def __init__(self) -> None:
        self.said: list[str] = []
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def feed(self, piece: bytes) -> list[str]:
        """The messages that `piece` completes; `said` keeps them all."""
        *complete, self._partial = (
            (self._partial + self._decoder.decode(piece)).replace("\r", "\n").split("\n")
        )
        new = script_lines("\n".join(complete))
        self.said += new
        return new


@dataclass(frozen=True)
class StreamEnded:
    """A stream's last item in `Streams`: its source ended it, or `error` did."""

    error: Exception | None = None


class Streams:
    """Blocking streams (a followed log, an event stream) read at once, each on a thread of
    its own, and taken in the order their items arrived. A wait takes them with a timeout,
    so that it also sees its deadline and CANCELLED while every stream is silent.

    Leaving the `with` block closes every stream, which ends a read in progress, and joins
    the threads: neither a thread nor a connection outlives the wait.
    """

    def __init__(self, join_seconds: float = STREAM_JOIN_SECONDS) -> None:
        self._join_seconds = join_seconds
        self._arrived: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._closers: list[Callable[[], None]] = []
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()

    def __enter__(self) -> Streams:
        return self

    def __exit__(self, *exception: object) -> None:
        self._closing.set()
        for close in self._closers:
            close()
        for thread in self._threads:
            thread.join(self._join_seconds)

    def follow(self, name: str, stream: Iterable[Any], close: Callable[[], None]) -> None:
        """Reads `stream` from now on; its items come as (name, item), then (name,
        StreamEnded). `close` ends the stream from another thread."""
        self._closers.append(close)

        def read() -> None:
            try:
                for item in stream:
                    self._arrived.put((name, item))
            except Exception as error:  # handed to the wait, unless it closed the stream
                ended = StreamEnded(error)
            else:
                ended = StreamEnded()
            if not self._closing.is_set():
                self._arrived.put((name, ended))

        thread = threading.Thread(target=read, name=f"ollama-judge-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def take(self, timeout: float) -> tuple[str, Any] | None:
        """The next item of any stream, or None if none came within `timeout` seconds."""
        try:
            return self._arrived.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None


def beside_the_program(wait: Callable[[Report], T], resource: pulumi.Resource) -> asyncio.Future[T]:
    """Runs a blocking wait on a thread of its own and returns its outcome as a future,
    for an `apply` to return.

    Run inside the `apply` itself, the wait would hold the program's event loop: the lines
    it reports (sent to the engine by that loop) would all arrive when it ends. `wait`
    gets the function that reports one line, as info of `resource`. The thread is a
    daemon, so a wait still running never keeps the process from exiting.
    """
    loop = asyncio.get_running_loop()
    # Pulumi's runtime settings (which engine to talk to) are context variables.
    context = contextvars.copy_context()
    outcome: asyncio.Future[T] = loop.create_future()

    def report(line: str) -> None:
        loop.call_soon_threadsafe(lambda: pulumi.log.info(line, resource=resource), context=context)

    def settle(done: Callable[[Any], None], value: Any) -> None:
        def finish() -> None:
            if not outcome.done():
                done(value)

        # The program may have ended meanwhile (another failure): nobody is waiting then.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(finish)

    def run() -> None:
        try:
            result = wait(report)
        except BaseException as error:  # handed on to the apply that awaits the outcome
            settle(outcome.set_exception, error)
        else:
            settle(outcome.set_result, result)

    threading.Thread(target=run, name="ollama-judge-readiness", daemon=True).start()
    return outcome
