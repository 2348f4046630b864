"""The one way this program talks to a Docker engine itself, the one the docker provider
uses: TLS from DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, ssh:// hosts through the `ssh`
command, as for the docker CLI. Docker CLI contexts are not followed, as by the provider.
"""

import contextlib
import os
from datetime import UTC, datetime
from typing import Any

import docker
import requests
from docker.errors import DockerException
from docker.types import CancellableStream
from docker.utils import kwargs_from_env

# Short: this runs before every preview, and a missing engine must not stall it.
TIMEOUT_SECONDS = 5
# What the client raises when the engine does not answer, or answers with an error.
ENGINE_ERRORS = (DockerException, requests.RequestException)


class DockerEngineUnreachable(Exception):  # noqa: N818 (a reason to step aside, not an error)
    """The message names the engine and says why it does not answer."""


def engine_address(host: str | None) -> str:
    return host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def docker_client(host: str | None) -> docker.DockerClient:
    """A client that speaks the engine's own API version (Docker 20.10 speaks 1.41; the
    client library would ask for newer ones)."""
    address = engine_address(host)
    try:
        return docker.DockerClient(
            base_url=address,
            version="auto",
            timeout=TIMEOUT_SECONDS,
            tls=kwargs_from_env().get("tls", False),
            use_ssh_client=True,
        )
    except ENGINE_ERRORS as error:
        raise DockerEngineUnreachable(
            f"cannot reach the Docker engine at {address}: {error}"
        ) from None


def engine_info(host: str | None) -> dict[str, Any]:
    with contextlib.closing(docker_client(host)) as client:
        try:
            return client.info()
        except ENGINE_ERRORS as error:
            raise DockerEngineUnreachable(
                f"asking the Docker engine at {engine_address(host)} for its info failed: {error}"
            ) from None


def close_stream(stream: CancellableStream) -> None:
    """Ends a stream of the engine that another thread may be reading: that read returns."""
    try:
        stream.close()
    except NameError:
        # Through an ssh:// host, docker 7.2's CancellableStream.close finds no socket behind
        # the `ssh` command's pipe and fails (UnboundLocalError; no upstream issue found).
        # Ending the `ssh` command ends the read (docker's _get_raw_response_socket finds it).
        stream._response.raw._fp.fp.channel.close()  # type: ignore[attr-defined]


def since_value(rfc3339: str) -> str:
    """A time as the engine writes it ("2024-05-01T10:00:00.123456789Z") as `since` takes it
    ("1714557600.123456789"): to the nanosecond, which a datetime cannot hold."""
    whole, _, fraction = rfc3339.rstrip("Z").partition(".")
    seconds = int(datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp())
    return f"{seconds}.{fraction[:9]:0<9}"
