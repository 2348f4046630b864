"""What the waits for a ready judge share (docker/wait.py, kubernetes/wait.py): the error
that ends `up`, the interruption that ends a wait, the model script's messages, and how a
wait runs beside the program."""

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Callable
from typing import TypeVar

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


def beside_the_program(wait: Callable[[Report], T], resource: pulumi.Resource) -> asyncio.Future[T]:
    """Runs a blocking wait on a daemon thread (one still running never keeps the process
    from exiting) and returns its outcome as a future, for an `apply` to return. `wait` gets
    the function that reports one line, as info of `resource`. Inside the `apply` itself, the
    wait would hold the event loop that sends those lines: they would all come at its end."""
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
