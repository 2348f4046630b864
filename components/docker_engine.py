"""The Docker engine the docker provider talks to, through the maintained Docker client:
the provider's `docker:host`, else DOCKER_HOST, else the local socket."""

from __future__ import annotations

import docker


def docker_client(host: str | None) -> docker.DockerClient:
    # "auto" agrees on an API version with the engine, old (Debian's 20.10) or new.
    if host:
        return docker.DockerClient(base_url=host, version="auto", timeout=30)
    return docker.from_env(version="auto", timeout=30)
