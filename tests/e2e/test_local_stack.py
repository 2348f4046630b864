"""Stack `local` on a real Docker engine with a real Ollama server.

The stack runs with the committed Pulumi.local.yaml plus the overrides a CPU-only test
host needs: no GPUs (`docker.gpus: none`), a free test port (`docker.hostPort`), and no
models (`models: []`), since nothing here can download one. The image is the pinned
`ollama/ollama:<version>`, built locally from Ollama's Go module (images/).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pulumi import automation as auto

from tests.e2e import docker_host as host
from tests.e2e.docker_host import IMAGE, MARKER, VERSION, cpu_only
from tests.e2e.engine import ProjectCopy, up

pytestmark = [pytest.mark.e2e, pytest.mark.local]


@dataclass
class Deployed:
    project: ProjectCopy
    stack: auto.Stack
    port: int
    outputs: dict[str, Any]

    def reconfigure(self, **more: Any) -> auto.Stack:
        return self.project.stack("local", cpu_only(self.port, **more))


@pytest.fixture(scope="module")
def deployed(
    engine: dict[str, str], judge_image: str, names_free: None, tmp_path_factory
) -> Iterator[Deployed]:
    project = ProjectCopy(tmp_path_factory.mktemp("local"))
    port = host.free_port()
    stack = project.stack("local", cpu_only(port))
    result = stack.up()
    yield Deployed(project, stack, port, {k: v.value for k, v in result.outputs.items()})
    stack.destroy()


# --- what `up` stands up ----------------------------------------------------------------


def test_up_creates_the_configured_network_volume_and_container(deployed: Deployed):
    network = host.inspect("network", "ollama-net")
    assert network is not None
    container = host.docker_health("ollama")
    assert container["State"]["Running"] is True
    assert list(container["NetworkSettings"]["Networks"]) == ["ollama-net"]
    assert "ollama" in container["NetworkSettings"]["Networks"]["ollama-net"]["Aliases"]
    [mount] = container["Mounts"]
    assert (mount["Type"], mount["Name"], mount["Destination"]) == (
        "volume",
        "ollama",
        "/root/.ollama",
    )
    assert container["Config"]["Image"].startswith("sha256:") or container["Image"]
    assert host.inspect("image", container["Image"])["RepoTags"] == [IMAGE]


def test_cpu_only_container_requests_no_gpu_and_hides_them(deployed: Deployed):
    container = host.inspect("container", "ollama")
    assert not container["HostConfig"].get("DeviceRequests")
    assert "NVIDIA_VISIBLE_DEVICES=void" in container["Config"]["Env"]


def test_port_is_published_on_loopback_only(deployed: Deployed):
    bindings = host.inspect("container", "ollama")["HostConfig"]["PortBindings"]
    assert bindings == {"11434/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(deployed.port)}]}
    assert host.listening_addresses(deployed.port) == {"127.0.0.1"}


def test_host_url_answers_with_the_pinned_version(deployed: Deployed):
    assert deployed.outputs["hostUrl"] == f"http://127.0.0.1:{deployed.port}"
    version = host.get_json(f"{deployed.outputs['hostUrl']}/api/version")
    assert version == {"version": VERSION}


def test_evaluation_url_works_from_another_container_on_the_network(deployed: Deployed):
    assert deployed.outputs["openaiBaseUrl"] == "http://ollama:11434/v1"
    openai = host.fetch_on_judge_network(f"{deployed.outputs['openaiBaseUrl']}/models")
    assert openai.returncode == 0, openai.stderr
    models = json.loads(openai.stdout)
    assert models["object"] == "list" and not models["data"], "the test judge has no models"
    native = host.fetch_on_judge_network(f"{deployed.outputs['evaluationUrl']}/api/version")
    assert json.loads(native.stdout) == {"version": VERSION}


def test_second_up_changes_nothing(deployed: Deployed):
    assert up(deployed.stack) == {"same": 6}


# --- drift and changes ------------------------------------------------------------------


def test_container_removed_out_of_band_comes_back_with_the_volume_data(deployed: Deployed):
    host.docker("exec", "ollama", "touch", MARKER)
    host.docker("rm", "-f", "ollama")
    changes = up(deployed.stack, refresh=True)
    assert changes.get("create") == 1, changes
    assert host.docker("exec", "ollama", "ls", MARKER).returncode == 0
    assert up(deployed.stack) == {"same": 6}


def test_new_tag_of_the_same_image_leaves_the_container_running(
    deployed: Deployed, judge_image: str
):
    retagged = f"ollama/ollama:{VERSION}-e2e-same"
    host.docker("tag", judge_image, retagged)
    started = host.inspect("container", "ollama")["State"]["StartedAt"]
    try:
        assert up(deployed.reconfigure(**{"ollama-judge:image": retagged})) == {
            "replace": 1,
            "same": 5,
        }
        assert host.inspect("container", "ollama")["State"]["StartedAt"] == started
        assert up(deployed.reconfigure()) == {"replace": 1, "same": 5}
    finally:
        host.docker("rmi", retagged, check=False)


def test_new_image_replaces_image_and_container_and_keeps_the_volume(
    deployed: Deployed, judge_image: str
):
    other = f"ollama/ollama:{VERSION}-e2e-other"
    build = subprocess.run(
        ["docker", "build", "-t", other, "-"],
        input=f"FROM {judge_image}\nLABEL ollama-judge.e2e=other\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    host.docker("exec", "ollama", "touch", MARKER)
    try:
        changes = up(deployed.reconfigure(**{"ollama-judge:image": other}))
        assert changes == {"replace": 2, "same": 4}, changes
        container = host.inspect("container", "ollama")
        assert container["Image"] == host.inspect("image", other)["Id"]
        assert host.docker("exec", "ollama", "ls", MARKER).returncode == 0
        assert up(deployed.reconfigure()) == {"replace": 2, "same": 4}
    finally:
        host.docker("rmi", other, check=False)
    assert host.docker("exec", "ollama", "ls", MARKER).returncode == 0


def test_setting_change_replaces_the_container_only(deployed: Deployed):
    host.docker("exec", "ollama", "touch", MARKER)
    tuned = deployed.reconfigure(**{"ollama-judge:environment": {"OLLAMA_KEEP_ALIVE": "1h"}})
    assert up(tuned) == {"replace": 1, "same": 5}
    assert "OLLAMA_KEEP_ALIVE=1h" in host.inspect("container", "ollama")["Config"]["Env"]
    assert host.docker("exec", "ollama", "ls", MARKER).returncode == 0
    assert up(deployed.reconfigure()) == {"replace": 1, "same": 5}


# --- failures and recovery --------------------------------------------------------------


def test_unreachable_docker_engine_is_a_clear_error_and_up_works_after(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(auto.CommandError) as failed:
        deployed.stack.up(refresh=True)
    assert "Cannot connect to the Docker daemon" in str(failed.value) or "docker.sock" in str(
        failed.value
    )
    monkeypatch.delenv("DOCKER_HOST")
    assert up(deployed.stack) == {"same": 6}
