"""Unit tests run the program on Pulumi's mocks, with no Docker engine, cluster or
registry: the readiness waits find a healthy container, an available Deployment and a
Service with a ready endpoint, and every registry has every model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from components import model_registry
from components.docker import wait as docker_readiness
from components.kubernetes import wait as kubernetes_readiness

pytest_plugins = ["tests.support.unread_futures"]


@pytest.fixture(autouse=True, scope="module")
def judge_without_services(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.module.__name__.startswith("tests.e2e."):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(docker_readiness, "follow", lambda *args: None)
        patch.setattr(kubernetes_readiness, "follow", lambda *args: None)
        patch.setattr(model_registry, "manifest_status", lambda url, verify: 200)
        yield
