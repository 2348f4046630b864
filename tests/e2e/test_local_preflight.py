"""Stack `local` asking for GPUs (`docker.gpus: all`) on a real Docker engine that has no
NVIDIA runtime: the program's pre-flight stops `preview` and `up` with the config error,
and nothing is created (without it, `up` created the network, the volume and the image,
and only then Docker refused the GPUs). The committed `auto` runs on the CPU there
instead (tests/e2e/test_defaults.py).

The engine is the test host's, which has no GPU and no NVIDIA Container Toolkit. The
`up` test renames the network, volume and container to names of its own: should the
pre-flight ever let `up` through, it must not create, or race with, the `ollama`,
`ollama-net` and `ollama` objects of a judge or of another test run on the same engine.
"""

from __future__ import annotations

import secrets
import time

import pytest
from pulumi import automation as auto

from tests.e2e import docker_host as host
from tests.e2e.engine import ProjectCopy

pytestmark = [pytest.mark.e2e, pytest.mark.engine, pytest.mark.defaults]

CONFIG_ERROR = "ollama-judge:docker.gpus is all, but the Docker engine at "
CPU_FIX = "pulumi config set --path 'ollama-judge:docker.gpus' none --stack local"


def assert_is_the_preflight_error(error: auto.CommandError, runtimes: list[str]) -> None:
    message = str(error)
    assert CONFIG_ERROR in message, message
    assert f"runtimes: {', '.join(runtimes)}" in message
    assert "install" in message and "NVIDIA Container Toolkit" in message
    assert CPU_FIX in message
    assert "could not select device driver" not in message
    assert "Traceback" not in message


ALL_GPUS = {"ollama-judge:docker": {"gpus": "all"}}


def test_preview_with_all_gpus_names_the_setting_and_both_fixes(
    project: ProjectCopy, engine_without_gpus: list[str]
):
    with pytest.raises(auto.CommandError) as failed:
        project.stack("local", ALL_GPUS).preview()
    assert_is_the_preflight_error(failed.value, engine_without_gpus)


def test_up_with_gpus_on_an_engine_without_nvidia_runtime_creates_nothing(
    project: ProjectCopy, engine_without_gpus: list[str]
):
    name = f"ollama-e2e-preflight-{secrets.token_hex(4)}"
    names = {"container": name, "network": f"{name}-net", "volume": name}
    image_was_there = host.exists("image", host.IMAGE)
    stack = project.stack(
        "local",
        {
            "ollama-judge:docker": {
                "gpus": "all",
                "containerName": names["container"],
                "networkName": names["network"],
                "volumeName": names["volume"],
            }
        },
    )
    started = time.monotonic()
    with pytest.raises(auto.CommandError) as failed:
        stack.up()
    elapsed = time.monotonic() - started
    assert_is_the_preflight_error(failed.value, engine_without_gpus)
    assert elapsed < 60, f"took {elapsed:.0f}s"
    for kind, object_name in names.items():
        assert not host.exists(kind, object_name), f"{kind} {object_name} was created"
    assert host.exists("image", host.IMAGE) == image_was_there
    resources = stack.export_stack().deployment.get("resources") or []
    assert [r["type"] for r in resources if r["type"] != "pulumi:pulumi:Stack"] == []
