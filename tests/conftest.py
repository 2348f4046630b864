"""Unit tests run the components on Pulumi's mocks, where no Docker engine holds the
judge's container: the readiness wait finds a healthy one instead."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from components import docker_engine
from tests.fake_docker import FakeDockerClient


@pytest.fixture(autouse=True, scope="module")
def healthy_judge_container(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.module.__name__.startswith("tests.e2e."):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(docker_engine, "docker_client", lambda host: FakeDockerClient())
        yield
