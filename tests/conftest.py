"""Unit tests run the program on Pulumi's mocks, with no Docker engine, cluster or
registry: the readiness waits find a healthy container, an available Deployment and a
Service with a ready endpoint, and every registry has every model."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from components import model_registry
from components.config_rules import split_pin
from components.docker import wait as docker_readiness
from components.kubernetes import wait as kubernetes_readiness
from components.readiness import JudgeIdentity

pytest_plugins = ["tests.support.unread_futures"]


def judge_said(models: tuple[str, ...]) -> JudgeIdentity:
    """What a ready judge says of `models`: each one's pin, or a digest of its name."""
    return JudgeIdentity({split_pin(model)[0]: digest_of(model) for model in models}, "0.34.1")


def digest_of(model: str) -> str:
    name, pin = split_pin(model)
    return pin or f"sha256:{hashlib.sha256(name.encode()).hexdigest()}"


@pytest.fixture(autouse=True, scope="module")
def judge_without_services(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.module.__name__.startswith("tests.e2e."):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(docker_readiness, "follow", lambda *args: judge_said(args[2]))
        patch.setattr(kubernetes_readiness, "follow", lambda *args: judge_said(args[4]))
        # A registry that names no digest: a pin is left to the judge.
        patch.setattr(model_registry, "manifest_status", lambda url, verify: (200, None))
        yield
