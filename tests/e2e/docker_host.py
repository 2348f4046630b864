"""Looks at the Docker engine the way a user would: `docker inspect`, `docker run`,
HTTP on the published port."""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from components.config import JudgeSettings
from tests.e2e.engine import PROJECT_DIR, MissingPartError

JUDGE_NAMES = {"container": "ollama", "network": "ollama-net", "volume": "ollama"}
IMAGE = JudgeSettings().image
VERSION = IMAGE.rsplit(":", 1)[1]
# A file the tests leave in the model volume to see whether the volume survived.
MARKER = "/root/.ollama/e2e-marker"


def cpu_only(port: int, **more: Any) -> dict[str, Any]:
    """Stack config a CPU-only test host needs on top of the committed stack file: no
    GPUs, a free port, and no models (nothing here can download one)."""
    return {
        "ollama-judge:models": [],
        "ollama-judge:docker": {"gpus": "none", "hostPort": port},
        **more,
    }


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def inspect(kind: str, name: str) -> dict[str, Any] | None:
    """`docker <kind> inspect NAME`, or None when there is no such object."""
    result = docker(kind, "inspect", name, check=False)
    return json.loads(result.stdout)[0] if result.returncode == 0 else None


def exists(kind: str, name: str) -> bool:
    return inspect(kind, name) is not None


# An empty volume the tests hold while the judge's names are theirs. A run killed before
# it released them leaves it behind, so the next run knows whose objects it finds.
CLAIM = "ollama-judge-e2e-claim"


def claim_judge_names() -> None:
    """The stack uses fixed names; never touch a judge, network or volume a user has, but
    take back what a killed test run left."""
    taken = [f"{kind} {name}" for kind, name in JUDGE_NAMES.items() if exists(kind, name)]
    if taken and exists("volume", CLAIM):
        print(f"removing {', '.join(taken)}: left by a test run that was stopped")
        remove_judge_objects()
    elif taken:
        raise MissingPartError(
            f"this Docker engine already has {', '.join(taken)}: the local stack's tests "
            "create and delete objects of those names, so they run only where they are free"
        )
    docker("volume", "create", CLAIM)


def release_judge_names() -> None:
    remove_judge_objects()
    docker("volume", "rm", CLAIM, check=False)


def remove_judge_objects(names: dict[str, str] = JUDGE_NAMES) -> None:
    """The judge's container, network and volume of those names, if they are there."""
    docker("rm", "-f", names["container"], check=False)
    docker("network", "rm", names["network"], check=False)
    docker("volume", "rm", "-f", names["volume"], check=False)


_PORTS_GIVEN: set[int] = set()


def free_port() -> int:
    """A free port below the kernel's ephemeral range. One from that range (what a bind to
    port 0 gives) may be taken, before the test binds it, as the source port of any new
    connection on this host, and the engine and Docker make many: the bind then fails."""
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randint(max(1024, ephemeral_low - 12000), ephemeral_low - 1)
        if port in _PORTS_GIVEN:  # given to a test that may not have bound it yet
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _PORTS_GIVEN.add(port)
        return port
    raise AssertionError(f"no free port below {ephemeral_low} after 200 tries")


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP listener on `port`, as the kernel reports them."""
    result = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    )
    return {line.split()[3].rsplit(":", 1)[0] for line in result.stdout.splitlines()}


def get_json(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def wait_until_answering(url: str, seconds: float, what: str) -> None:
    """Until the Ollama server at `url` answers `GET /api/version`; asked every 0.05 s, so
    that a benchmark's time is not rounded up to the next poll."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            get_json(f"{url}/api/version", timeout=1)
            return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {seconds}s waiting for {what}") from None
            time.sleep(0.05)


def build_ollama_image(image: str) -> str:
    """The pinned image, built locally from Ollama's Go module when it is not there."""
    version = image.rsplit(":", 1)[1]
    script = PROJECT_DIR / "images" / "build-ollama-image.sh"
    result = subprocess.run([str(script), version], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MissingPartError(f"{script.name} {version} failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


PROBE_IMAGE = "ollama-judge-e2e/http-probe:busybox"


def http_probe_image() -> str:
    """A tiny image that stands in for the evaluation's container: busybox (from the
    Debian package busybox-static, which building the judge image installs) with wget."""
    if not exists("image", PROBE_IMAGE):
        busybox = shutil.which("busybox")
        if busybox is None:
            raise MissingPartError("busybox is missing (apt-get install busybox-static)")
        with tempfile.TemporaryDirectory() as root:
            Path(root, "bin").mkdir()
            shutil.copy(busybox, Path(root, "bin", "busybox"))
            archive = subprocess.run(
                ["tar", "-C", root, "-c", "."], capture_output=True, check=True
            ).stdout
            subprocess.run(
                ["docker", "import", "--change", 'ENTRYPOINT ["/bin/busybox"]', "-", PROBE_IMAGE],
                input=archive,
                capture_output=True,
                check=True,
            )
    return PROBE_IMAGE


def fetch_on_judge_network(url: str) -> subprocess.CompletedProcess[str]:
    """GET `url` from a throwaway container on the judge's network, as the evaluation
    would."""
    return docker(
        "run", "--rm", "--network", JUDGE_NAMES["network"], http_probe_image(),
        "wget", "-qO-", url, check=False,
    )  # fmt: skip


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(0.5)


def docker_health(name: str, seconds: float = 30) -> dict[str, Any]:
    """The container once Docker's own healthcheck calls it healthy. `up` returns as
    soon as the healthcheck's command passes (run by up itself); Docker's status follows
    at its next check, one interval (10 s) after the start at most."""
    found: dict[str, Any] = {}

    def healthy() -> bool:
        found.update(inspect("container", name) or {})
        return bool(found) and found["State"].get("Health", {}).get("Status") == "healthy"

    wait_until(healthy, seconds, f"Docker to call {name} healthy")
    return found
