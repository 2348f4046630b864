"""Ctrl-C during `up` as with the Pulumi CLI in a terminal: the first asks the engine to cancel
(it finishes the step in flight and records it), the second stops it. The CLI runs in a process
group of its own, out of the terminal's reach, as Python must go on serving it the program while
the engine needs it; it gets each Ctrl-C, SIGTERM or hang-up from here. A command that only
reads or writes the state has nothing to cancel: it finishes, and no other starts."""

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from typing import IO, Any

from pulumi import automation as auto
from pulumi.automation.errors import create_command_error

from components.readiness import CANCELLED
from stack_runner.output import say

# The CLI's commands that run the engine, which a Ctrl-C asks to cancel.
ENGINE_COMMANDS = frozenset({"up", "preview", "refresh", "destroy", "import"})
CANCELLING = (
    "Cancelling: the engine finishes the step in flight and records it. "
    "Press Ctrl-C again to stop at once."
)


class ForwardingPulumiCommand(auto.PulumiCommand):
    process: subprocess.Popen[str] | None = None
    engine_at_work = False
    interrupts = 0  # passed on to the engine
    stopped = False  # interrupted before the engine ran: no command starts any more
    unshown = ""  # what the last command said on stderr when it failed, if nobody showed it

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: auto.OnOutput | None = None,
        on_error: auto.OnOutput | None = None,
    ) -> auto.CommandResult:
        if self.stopped:
            raise KeyboardInterrupt
        self.engine_at_work = args[0] in ENGINE_COMMANDS
        # As the Automation API runs every command: never prompt, and say who is calling.
        with subprocess.Popen(
            [self.command, "--non-interactive", *args],
            cwd=cwd,
            env={**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            encoding="utf-8",
            errors="replace",
            process_group=0,
        ) as process:
            self.process = process
            assert process.stdout is not None and process.stderr is not None
            stdout, stderr = Drain(process.stdout, on_output), Drain(process.stderr, on_error)
            code = process.wait()
            self.process, self.engine_at_work = None, False
        result = auto.CommandResult(stdout=stdout.text(), stderr=stderr.text(), code=code)
        self.unshown = result.stderr if code and on_error is None else ""
        if code != 0:
            raise create_command_error(result)
        return result


class Drain(threading.Thread):
    """Reads one of the CLI's streams to its end, passing each line on."""

    def __init__(self, stream: IO[str], callback: auto.OnOutput | None):
        super().__init__(daemon=True)
        self.stream, self.callback, self.lines = stream, callback, list[str]()
        self.start()

    def run(self) -> None:
        # The stream is closed under it when a Ctrl-C abandons the command (see below).
        with contextlib.suppress(ValueError, OSError):
            for line in iter(self.stream.readline, ""):
                self.lines.append(line.rstrip("\n"))
                if self.callback is not None:
                    # The terminal may be gone (SIGHUP): keep draining so the CLI can finish.
                    with contextlib.suppress(OSError):
                        self.callback(self.lines[-1])

    def text(self) -> str:
        self.join()
        return "\n".join(self.lines)


def forward_signals(command: ForwardingPulumiCommand) -> None:
    """From now on, Ctrl-C, SIGTERM and SIGHUP go to the CLI instead of ending Python."""

    def handle(signum: int, _frame: Any) -> None:
        # No command at work (set-up, a prompt), or a second Ctrl-C while one finishes.
        if (process := command.process) is None or command.stopped:
            raise KeyboardInterrupt
        if not command.engine_at_work:
            # Nothing to cancel gracefully: the command finishes and `run` starts no other.
            command.stopped = True
            return
        command.interrupts += 1
        CANCELLED.set()
        say(CANCELLING if command.interrupts == 1 else "Stopping at once.")
        # SIGTERM stays SIGTERM; after twice, the CLI is not listening any more.
        forwarded = signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL if command.interrupts > 2 else forwarded)

    for caught in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(caught, handle)
