"""Throwaway Ollama servers in containers of the pinned image, for tests that pull from
a registry and ask a model something. Their names start with `ollama-judge-parts-`;
the stack's own names (`ollama`, `ollama-net`) are never used here.

How an Ollama container trusts a private CA: Ollama is Go, and Go's crypto/x509 on
Linux builds its roots from ONE bundle file (SSL_CERT_FILE if set, else the first of
/etc/ssl/certs/ca-certificates.crt, /etc/pki/tls/certs/ca-bundle.crt, ... that exists)
plus EVERY file in the certificate directories (SSL_CERT_DIR if set, else /etc/ssl/certs
and /etc/pki/tls/certs), skipping only symlinks into the same directory. So either
- mount the CA (or a whole bundle) read-only as a new file in /etc/ssl/certs: it adds to
  the image's roots, no variable needed (`cert_dir_trust`); or
- mount a bundle read-only anywhere and point SSL_CERT_FILE at it: it replaces the
  image's bundle file, so it must hold the public roots too where those are needed
  (`bundle_trust`).
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.engine import MissingPartError

OLLAMA_PORT = 11434
# A file name no CA package uses, so that it never shadows one of the image's.
CA_PATH_IN_CONTAINER = "/etc/ssl/certs/ollama-judge-ca.crt"
BUNDLE_PATH_IN_CONTAINER = "/etc/ollama-judge/ca-bundle.pem"
# Local-only: no model recommendations or cloud model lists fetched at start, and no
# cloud-hosted models served (envconfig.NoCloud in Ollama v0.24.0 and v0.34.1).
LOCAL_ONLY_ENV = {"OLLAMA_NO_CLOUD": "1"}


@dataclass(frozen=True)
class Trust:
    """What a container needs to trust a CA: read-only mounts and variables."""

    mounts: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def cert_dir_trust(ca: Path) -> Trust:
    """Adds `ca` (a PEM file: one certificate or a bundle) to the image's roots."""
    return Trust(mounts=[f"{ca}:{CA_PATH_IN_CONTAINER}:ro"])


def bundle_trust(bundle: Path) -> Trust:
    """Makes `bundle` the roots' bundle file in place of the image's."""
    return Trust(
        mounts=[f"{bundle}:{BUNDLE_PATH_IN_CONTAINER}:ro"],
        env={"SSL_CERT_FILE": BUNDLE_PATH_IN_CONTAINER},
    )


# The way the judge trusts a registry's CA in these tests.
judge_trust = cert_dir_trust


@dataclass(frozen=True)
class OllamaServer:
    name: str
    url: str  # the API from this host: http://127.0.0.1:PORT

    def exec(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Runs a command in the container; raises with its output when it fails."""
        result = subprocess.run(
            ["docker", "exec", self.name, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"`{' '.join(args)}` in {self.name} failed ({result.returncode}):\n"
                f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
        return result

    def try_exec(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "exec", self.name, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def logs(self) -> str:
        result = subprocess.run(
            ["docker", "logs", self.name], capture_output=True, text=True, check=False
        )
        return result.stdout + result.stderr


def _published_port(name: str) -> int:
    mapping = subprocess.run(
        ["docker", "port", name, f"{OLLAMA_PORT}/tcp"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    return int(mapping.rsplit(":", 1)[1])


def _wait_until_serving(server: OllamaServer, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{server.url}/api/version", timeout=5):
                return
        except (urllib.error.URLError, ConnectionError) as error:
            if time.monotonic() > deadline:
                raise MissingPartError(
                    f"{server.name}: ollama serve did not answer within {seconds}s ({error}):\n"
                    f"{server.logs()[-3000:]}"
                ) from error
            time.sleep(0.2)


@contextmanager
def running_ollama(
    name: str,
    image: str,
    network: str,
    trust: Trust | None = None,
    mounts: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[OllamaServer]:
    """`ollama serve` in a container `name` on `network`, its API published on a free
    loopback port; removed afterwards with everything it pulled."""
    trust = trust or Trust()
    variables = {**LOCAL_ONLY_ENV, **trust.env, **(env or {})}
    command = ["docker", "run", "--detach", "--name", name, "--network", network]
    command += ["--publish", f"127.0.0.1::{OLLAMA_PORT}"]
    for mount in [*trust.mounts, *(mounts or [])]:
        command += ["--volume", mount]
    for key, value in variables.items():
        command += ["--env", f"{key}={value}"]
    try:
        subprocess.run([*command, image, "serve"], capture_output=True, text=True, check=True)
        server = OllamaServer(name, f"http://127.0.0.1:{_published_port(name)}")
        _wait_until_serving(server, seconds=60)
        yield server
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
