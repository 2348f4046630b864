"""Ctrl-C during `up` behaves as with the Pulumi CLI in a terminal: the first asks the
engine to cancel (it finishes the step in flight and records it), the second stops it at
once.

The Automation API runs the CLI as a child of this process, which also serves the
program. If both got the terminal's Ctrl-C, Python would stop serving the program while
the engine still needs it. So the CLI runs in a process group of its own, where the
terminal's signals do not reach it, and this process passes on each Ctrl-C (or SIGTERM,
or the terminal closing) exactly once, then goes on serving until the CLI has exited.

Before the engine starts (the stack is opened, its state read and repaired) there is
nothing to cancel gracefully: a Ctrl-C lets the CLI command in flight finish, which takes
a moment and changes nothing the judge depends on, and starts no other.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

from pulumi.automation import CommandResult, PulumiCommand
from pulumi.automation.errors import create_command_error

from components.readiness import CANCELLED

OnOutput = Callable[[str], Any] | None
# The CLI's commands that run the engine, which a Ctrl-C asks to cancel; every other one
# (`stack export`, `config`, ...) reads or writes the state and is over in a moment.
ENGINE_COMMANDS = frozenset({"up", "preview", "refresh", "destroy", "import"})


class ForwardingPulumiCommand(PulumiCommand):
    """The CLI, run in its own process group; `interrupt` passes a signal on to it."""

    def __init__(self) -> None:
        super().__init__()
        self.process: subprocess.Popen[str] | None = None
        self.engine_at_work = False
        self.interrupts = 0  # passed on to the engine
        # Interrupted before the engine ran: no command starts any more.
        self.stopped = False

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: OnOutput = None,
        on_error: OnOutput = None,
    ) -> CommandResult:
        if self.stopped:
            raise KeyboardInterrupt
        # As the Automation API runs every command: never prompt, and say who is calling.
        argv = [self.command, *([] if "--non-interactive" in args else ["--non-interactive"])]
        env = {**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true"}
        self.engine_at_work = bool(args) and args[0] in ENGINE_COMMANDS
        with subprocess.Popen(
            [*argv, *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            encoding="utf-8",
            errors="replace",
            process_group=0,
        ) as process:
            self.process = process
            assert process.stdout is not None and process.stderr is not None
            stdout: list[str] = []
            stderr: list[str] = []
            readers = [
                _reader(process.stdout, on_output, stdout),
                _reader(process.stderr, on_error, stderr),
            ]
            for reader in readers:
                reader.join()
            code = process.wait()
            self.process = None
            self.engine_at_work = False
        result = CommandResult(stdout="\n".join(stdout), stderr="\n".join(stderr), code=code)
        if code != 0:
            raise create_command_error(result)
        return result

    def interrupt(self, signum: int) -> None:
        """Passes one interrupt on to the running CLI, as SIGINT (SIGTERM stays SIGTERM)."""
        self.interrupts += 1
        CANCELLED.set()
        process = self.process
        if process is None or process.poll() is not None:
            return
        forwarded = signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT
        if self.interrupts > 2:
            # Twice was not enough: the CLI is not listening any more.
            forwarded = signal.SIGKILL
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, forwarded)


def _reader(stream: IO[str], callback: OnOutput, lines: list[str]) -> threading.Thread:
    def read() -> None:
        # The stream is closed under it when a Ctrl-C abandons the command (see forwarded).
        with contextlib.suppress(ValueError, OSError):
            for line in iter(stream.readline, ""):
                text = line.rstrip("\n")
                lines.append(text)
                if callback is not None:
                    # The terminal may be gone (SIGHUP): keep draining so the CLI can finish.
                    with contextlib.suppress(OSError):
                        callback(text)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def say(message: str) -> None:
    """A line on stderr that never fails: the terminal may already be gone."""
    with contextlib.suppress(OSError):
        print(message, file=sys.stderr, flush=True)


@contextmanager
def forwarded(command: ForwardingPulumiCommand) -> Iterator[None]:
    """While inside, Ctrl-C, SIGTERM and SIGHUP go to the CLI instead of ending Python."""

    def handle(signum: int, _frame: Any) -> None:
        if command.process is None:
            # No command at work (set-up, a prompt): stop here.
            raise KeyboardInterrupt
        if not command.engine_at_work:
            # A command that reads or writes the state: nothing to cancel gracefully. It
            # finishes and `run` starts no other; a second Ctrl-C does not wait for it.
            if command.stopped:
                raise KeyboardInterrupt
            command.stopped = True
            return
        if command.interrupts == 0:
            say(
                "Cancelling: the engine finishes the step in flight and records it. "
                "Press Ctrl-C again to stop at once."
            )
        else:
            say("Stopping at once.")
        command.interrupt(signum)

    caught = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, handle) for sig in caught}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
