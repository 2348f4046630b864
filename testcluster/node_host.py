"""What testcluster/node.py does on the host: runs commands, starts and stops the node's
processes (recorded in STATE/node/pids), and waits."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from node_config import Paths

READY_SECONDS = 120
STOP_GRACE_SECONDS = 10


def log(message: str) -> None:
    print(f"node.py: {message}", file=sys.stderr, flush=True)


class NodeError(Exception):
    pass


def cluster_env(state: Path) -> dict[str, str]:
    """What up.sh wrote of its cluster: ports, paths, the bin directory."""
    written = state / "cluster.env"
    if not written.is_file():
        raise NodeError(
            f"no test cluster in {state} (no cluster.env): start one first with "
            f"TESTCLUSTER_FAKE_NODES=0 testcluster/up.sh {state}"
        )
    env = {}
    for line in written.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    return env


def host_address() -> str:
    """The address other hosts (and pods, through the bridge's gateway) reach this one by:
    the source address of the default route."""
    route = subprocess.run(
        ["ip", "-4", "-o", "route", "get", "192.0.2.123"], capture_output=True, text=True
    ).stdout.split()
    if "src" not in route:
        raise NodeError("no IPv4 default route: the node needs an address of its own")
    return route[route.index("src") + 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- processes ---------------------------------------------------------------------------


class Processes:
    """Processes started in the background, recorded as `pid executable` in pids/, so that
    `down` signals only what is still the program it started."""

    def __init__(self, paths: Paths):
        self.paths = paths

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.paths.pids.mkdir(parents=True, exist_ok=True)
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        executable = os.path.realpath(shutil.which(argv[0]) or argv[0])
        with open(self.paths.logs / f"{name}.log", "ab") as out:
            process = subprocess.Popen(
                [executable, *argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        (self.paths.pids / f"{name}.pid").write_text(f"{process.pid} {executable}\n")

    def running(self, name: str) -> int | None:
        pidfile = self.paths.pids / f"{name}.pid"
        if not pidfile.exists():
            return None
        pid, _, executable = pidfile.read_text().strip().partition(" ")
        try:
            if os.readlink(f"/proc/{pid}/exe") == executable:
                return int(pid)
        except OSError:
            pass
        return None

    def names(self) -> list[str]:
        return sorted(pidfile.stem for pidfile in self.paths.pids.glob("*.pid"))

    def check_alive(self, names: Iterable[str]) -> None:
        for name in names:
            if self.running(name) is None:
                tail = (self.paths.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise NodeError(f"{name} exited; the end of its log:\n{tail}")

    def stop(self, name: str) -> None:
        pid = self.running(name)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            while self.running(name) is not None and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.running(name) is not None:
                log(f"{name} ignored SIGTERM for {STOP_GRACE_SECONDS}s: SIGKILL")
                os.kill(pid, signal.SIGKILL)
        (self.paths.pids / f"{name}.pid").unlink(missing_ok=True)


def run(*argv: str | Path, input_bytes: bytes | None = None, check: bool = True) -> str:
    result = subprocess.run(
        [str(a) for a in argv], input=input_bytes, capture_output=True, check=False
    )
    if check and result.returncode != 0:
        raise NodeError(
            f"{' '.join(map(str, argv[:4]))} failed: {result.stderr.decode(errors='replace')}"
        )
    return result.stdout.decode(errors="replace")


def wait_for(what: str, condition, processes: Processes, names: Iterable[str]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    names = list(names)
    while not condition():
        processes.check_alive(names)
        if time.monotonic() > deadline:
            raise NodeError(f"timed out after {READY_SECONDS}s waiting for {what}")
        time.sleep(0.2)
