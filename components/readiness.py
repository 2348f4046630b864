"""What the waits for a ready judge share (docker/wait.py, kubernetes/wait.py): the error
that ends `up`, the interruption that ends a wait, the model script's messages, streams
read at once, and how a wait runs beside the program and when it runs at all."""

import asyncio
import codecs
import concurrent.futures
import contextvars
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Self, TypeVar

import pulumi

# Set by the stack runner when the user interrupts `up`: a wait in progress ends with it.
CANCELLED = threading.Event()

SCRIPT_PREFIX = "ollama-judge: "
# How the model script's last words begin when it gives up (`give_up` in ollama-judge.sh).
GIVING_UP = ("could not", "ollama serve")

Report = Callable[[str], None]
T = TypeVar("T")


class JudgeNotReady(pulumi.RunError):
    """The judge will not become ready; the message says why and what to do."""


def script_lines(text: str) -> list[str]:
    """The model script's messages in a log or a hook's output, without the prefix."""
    return [line.split(SCRIPT_PREFIX, 1)[1] for line in text.splitlines() if SCRIPT_PREFIX in line]


def giving_up_reason(lines: list[str]) -> str | None:
    return next((line for line in reversed(lines) if line.startswith(GIVING_UP)), None)


def script_messages(log: Iterable[bytes]) -> Iterator[str]:
    """The model script's messages in a log that arrives in pieces, each whole once complete."""
    partial = ""
    for text in codecs.iterdecode(log, "utf-8", errors="replace"):
        complete, _, partial = (partial + text).replace("\r", "\n").rpartition("\n")
        yield from script_lines(complete)


class JudgeIdentity(NamedTuple):
    """Which models answer, by their manifests' digests, and which Ollama serves them."""

    digests: dict[str, str]  # model name (as configured, without a pin) -> sha256:<hex>
    version: str


def identity_in(messages: Iterable[str]) -> JudgeIdentity:
    """What a start of the judge said of itself, up to "ready:"."""
    digests, version = {}, ""
    for message in messages:
        if message.startswith("digest "):
            name, _, digest = message.removeprefix("digest ").rpartition(" ")
            digests[name] = digest
        elif message.startswith("ollama version "):
            version = message.removeprefix("ollama version ")
        elif message.startswith("ready:"):
            break
    return JudgeIdentity(digests, version)


@dataclass(frozen=True)
class StreamEnded:
    """A stream's last item in `Streams`: its source ended it, or `error` did."""

    error: Exception | None = None


class Streams:
    """Blocking streams (a followed log, events, a watch) read at once, each on a thread of
    its own, and taken in the order their items arrived, with a timeout. Leaving the `with`
    block closes every stream and joins the threads (`join_seconds` each at most)."""

    def __init__(self, join_seconds: float = 5.0) -> None:
        self._join_seconds = join_seconds
        self._arrived: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._closers: list[Callable[[], None]] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exception: object) -> None:
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


def beside_the_program(wait: Callable[[Report], T], resource: pulumi.Resource) -> asyncio.Future[T]:
    """Runs `wait(report)` on a daemon thread (one still running never keeps the process from
    exiting) and returns its outcome as a future, for an `apply` to return: inside the `apply`,
    the wait would hold the loop that sends the lines it reports (as info of `resource`)."""
    loop = asyncio.get_running_loop()
    # Pulumi's runtime settings (which engine to talk to) are context variables.
    context = contextvars.copy_context()
    outcome: concurrent.futures.Future[T] = concurrent.futures.Future()

    def report(line: str) -> None:
        loop.call_soon_threadsafe(lambda: pulumi.log.info(line, resource=resource), context=context)

    def run() -> None:
        outcome.set_running_or_notify_cancel()
        try:
            outcome.set_result(wait(report))
        except BaseException as error:  # handed on to the apply that awaits the outcome
            outcome.set_exception(error)

    threading.Thread(target=run, name="ollama-judge-readiness", daemon=True).start()
    # Settled on the program's loop, unless the program ended meanwhile (another failure).
    return asyncio.wrap_future(outcome)


def after_wait(
    resource: pulumi.Resource,
    names: Sequence[pulumi.Input[str]],
    wait: Callable[[list[str], Report], JudgeIdentity],
    at_once: bool = False,
) -> tuple[pulumi.Output[list[str]], pulumi.Output[JudgeIdentity | None]]:
    """`names`, and what `wait(names, report)` found, once it returned, run beside the
    program. At once in a preview (it changes nothing), where what a judge will say is not
    known yet, or if `at_once`, where no judge says anything."""

    previewing = pulumi.runtime.is_dry_run()

    def after(resolved: list[str]) -> Any:
        if previewing or at_once:
            return resolved, None
        return beside_the_program(lambda report: (resolved, wait(resolved, report)), resource)

    done = pulumi.Output.all(*names).apply(after)
    found = done.apply(lambda both: pulumi.output.UNKNOWN if previewing else both[1])
    return done.apply(lambda both: both[0]), found
