"""The committed defaults on a host like this one, without GPUs and without a model
registry: the committed Pulumi.local.yaml, with only its models emptied, deploys a judge
that runs on the CPU, says so with a warning that names `ollama-judge:docker.gpus`, and
shows the choice in its `gpus` output. (`gpus: all` on such a host still stops before
anything exists: tests/e2e/test_local_preflight.py.)
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e import docker_host as host
from tests.e2e.engine import ProjectCopy

pytestmark = [pytest.mark.e2e, pytest.mark.defaults, pytest.mark.local]


def warnings_in(events: list[Any]) -> list[str]:
    return [
        event.diagnostic_event.message
        for event in events
        if event.diagnostic_event and event.diagnostic_event.severity == "warning"
    ]


def test_the_committed_local_stack_deploys_a_cpu_judge_and_says_why(
    project: ProjectCopy, judge_image: str, names_free: None, engine_without_gpus: list[str]
):
    stack = project.stack("local", {"ollama-judge:models": []})
    events: list[Any] = []
    try:
        result = stack.up(on_event=events.append)
        [gpu_warning] = [w for w in warnings_in(events) if "docker.gpus" in w]
        assert gpu_warning.startswith("ollama-judge:docker.gpus is auto and the Docker engine")
        assert f"runtimes: {', '.join(engine_without_gpus)}" in gpu_warning
        assert "the judge runs on the CPU, slower" in gpu_warning
        assert "config set --path 'ollama-judge:docker.gpus' none --stack local" in gpu_warning
        assert result.outputs["gpus"].value == "none"
        container = host.docker_health("ollama")
        assert container["State"]["Health"]["Status"] == "healthy"
        assert not container["HostConfig"].get("DeviceRequests")
        assert "NVIDIA_VISIBLE_DEVICES=void" in container["Config"]["Env"]
        host_url = result.outputs["hostUrl"].value
        assert host_url == "http://127.0.0.1:11434"  # the committed port
        assert host.get_json(f"{host_url}/api/version") == {"version": host.VERSION}
    finally:
        stack.destroy()
