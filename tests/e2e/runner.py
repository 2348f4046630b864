"""The stack runner (stack_runner/) as a user runs it: a process of its own in a
process group of its own, as a terminal's foreground job, so a test can press Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.engine import ProjectCopy


class Runner:
    def __init__(self, project: ProjectCopy, log_dir: Path):
        self.project = project
        self.log_dir = log_dir
        self.runs = 0

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PULUMI_BACKEND_URL": self.project.backend_url,
            "OLLAMA_JUDGE_CLI": "scripts/pulumi",
        }

    def start(self, *args: str) -> RunningOperation:
        self.runs += 1
        log = self.log_dir / f"run-{self.runs}.log"
        handle = log.open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "stack_runner", *args],
            cwd=self.project.dir,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
            process_group=0,
        )
        return RunningOperation(process, log, handle)

    def run(self, *args: str, timeout: float = 600) -> tuple[int, str]:
        operation = self.start(*args)
        return operation.wait(timeout), operation.output()


class RunningOperation:
    def __init__(self, process: subprocess.Popen[str], log: Path, handle):
        self.process = process
        self.log = log
        self.handle = handle

    def output(self) -> str:
        self.handle.flush()
        return self.log.read_text()

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.handle.flush()

    def ctrl_c(self) -> None:
        """What a terminal does on Ctrl-C: SIGINT to the foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)

    def kill_everything(self) -> None:
        """A closed laptop lid, an OOM kill: the runner and the CLI die at once."""
        for pid in self.cli_pids():
            os.killpg(pid, signal.SIGKILL)
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def cli_pids(self) -> list[int]:
        """The runner's child processes (the CLI), from /proc."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return pids

    def wait_for_output(self, text: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; output:\n{self.output()}")
            time.sleep(0.2)
