"""Fixtures for tests that drive real parts. A missing part fails the test (in CI and
elsewhere): a skipped end-to-end test would hide exactly what it exists to show."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import docker_host
from tests.e2e.engine import MissingPartError, ProjectCopy, docker_engine, engine_environment
from tests.e2e.kube_cluster import Cluster, running_cluster


@pytest.fixture(scope="session")
def engine() -> Iterator[dict[str, str]]:
    """The pinned Pulumi engine on PATH for this test session."""
    try:
        env = engine_environment()
    except MissingPartError as missing:
        pytest.fail(str(missing), pytrace=False)
    saved = {key: os.environ.get(key) for key in (*env, "PULUMI_BACKEND_URL")}
    os.environ.update(env)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def docker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    try:
        with docker_engine(tmp_path_factory.mktemp("dockerd")):
            yield
    except MissingPartError as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture
def project(engine: dict[str, str], tmp_path: Path) -> ProjectCopy:
    return ProjectCopy(tmp_path)


@pytest.fixture(scope="session")
def judge_image(docker: None) -> str:
    """The pinned Ollama image, built locally (no registry can be reached)."""
    try:
        return docker_host.build_ollama_image(docker_host.IMAGE)
    except MissingPartError as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="module")
def names_free(docker: None) -> Iterator[None]:
    """The local stack's fixed names are free before a module and freed after it."""
    try:
        docker_host.claim_judge_names()
    except MissingPartError as missing:
        pytest.fail(str(missing), pytrace=False)
    yield
    docker_host.release_judge_names()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The test control plane, with namespace knitfab and a default StorageClass as on a
    Knitfab installation (the committed stack's claim binds one of its volumes; a claim the
    stack keeps on `destroy` is taken up again by the next `up`)."""
    try:
        with running_cluster(tmp_path_factory.mktemp("cluster")) as started:
            started.kubectl("create", "namespace", "knitfab")
            started.default_storage([f"/tmp/e2e-models-{number}" for number in range(1, 5)])
            yield started
    except MissingPartError as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture
def engine_without_gpus(docker: None) -> list[str]:
    """The engine's runtimes, none of them NVIDIA's, as these tests need."""
    runtimes = sorted(
        json.loads(docker_host.docker("info", "--format", "{{json .Runtimes}}").stdout)
    )
    if any("nvidia" in name for name in runtimes):
        pytest.fail(
            f"this Docker engine has an NVIDIA runtime ({', '.join(runtimes)}): these tests "
            "need one without, as on a host without GPUs",
            pytrace=False,
        )
    return runtimes
