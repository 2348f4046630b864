"""The Docker component, on Pulumi's mocks: what it registers for each setting."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import DockerJudgeArgs, JudgeSettings, Registry
from components.docker import wait as docker_wait
from components.docker.judge import DockerJudge, go_duration
from components.judge import MODEL_SCRIPT
from components.readiness import JudgeNotReady
from tests.conftest import digest_of
from tests.support.pulumi_program import Program, assert_only_changed, deploy_judge

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
# The manual's `docker run --gpus all`: the program's `auto` becomes this on a GPU host.
MANUAL = DockerJudgeArgs(gpus="all")


def deploy(args: DockerJudgeArgs) -> Program:
    return deploy_judge(DockerJudge, args)


def with_judge(**judge_settings: Any) -> DockerJudgeArgs:
    return DockerJudgeArgs(gpus="all", judge=JudgeSettings(**judge_settings))


@pytest.fixture(scope="module")
def default() -> Program:
    return deploy(MANUAL)


def test_default_reproduces_the_manuals_docker_commands(default: Program):
    # docker network create ollama-net
    assert default.one(NETWORK).inputs["name"] == "ollama-net"
    # docker run -d --gpus all --network ollama-net -v ollama:/root/.ollama
    #            -p 11434:11434 --name ollama ollama/ollama
    container = default.one(CONTAINER).inputs
    assert container["name"] == "ollama"
    assert container["gpus"] == "all"
    assert container["networksAdvanced"] == [{"name": "ollama-net", "aliases": ["ollama"]}]
    assert default.one(VOLUME).inputs["name"] == "ollama"
    assert container["volumes"] == [{"volumeName": "ollama", "containerPath": "/root/.ollama"}]
    assert container["ports"] == [{"internal": 11434, "external": 11434, "ip": "127.0.0.1"}]
    # Beyond the manual: root without the capabilities, or a way to gain any, Ollama lacks.
    assert container["capabilities"] == {"drops": ["ALL"]}
    assert container["securityOpts"] == ["no-new-privileges"]
    image = default.one(IMAGE).inputs
    assert image["name"] == "ollama/ollama:0.34.1"
    assert container["image"] == image["imageId"], "the container runs the image resource"
    # docker exec ollama ollama pull llama3.2
    assert container["entrypoints"] == [
        "/bin/sh",
        "-c",
        MODEL_SCRIPT,
        "ollama-judge",
        "serve",
        "llama3.2",
    ]


def test_default_has_a_healthcheck_that_requires_every_model(default: Program):
    container = default.one(CONTAINER).inputs
    healthcheck = container["healthcheck"]
    assert healthcheck["tests"] == [
        "CMD",
        "/bin/sh",
        "-c",
        MODEL_SCRIPT,
        "ollama-judge",
        "check",
        "llama3.2",
    ]
    # `up` waits itself (components/docker/wait.py), not through the provider.
    assert container["wait"] is False
    # The server's start (120 s) plus the default pull budget (1800 s).
    assert healthcheck["startPeriod"] == "32m0s"
    assert container["restart"] == "unless-stopped"


def test_container_carries_the_stack_label(default: Program):
    assert default.one(CONTAINER).inputs["labels"] == [
        {"label": "ollama-judge.stack", "value": "project/stack"}
    ]


def test_default_outputs(default: Program):
    assert default.outputs == {
        "evaluationUrl": "http://ollama:11434",
        "openaiBaseUrl": "http://ollama:11434/v1",
        "hostUrl": "http://127.0.0.1:11434",
        "models": ["llama3.2"],
        "modelDigests": {"llama3.2": digest_of("llama3.2")},
        "ollamaVersion": "0.34.1",
        "image": "ollama/ollama:0.34.1",
        "gpus": "all",
    }


def test_fixed_container_name_means_delete_before_replace(default: Program):
    assert default.one(CONTAINER).delete_before_replace


def test_model_volume_is_kept_on_destroy_by_default(default: Program):
    assert default.one(VOLUME).retain_on_delete
    assert default.one(IMAGE).inputs["keepLocally"] is True


def test_children_are_parented_to_the_component(default: Program):
    component = default.one("ollama-judge:index:DockerJudge")
    children = [r for r in default.monitor.registered if r is not component]
    assert len(children) == 4
    assert all(r.parent.endswith("::ollama") for r in children)
    assert sorted(r.name for r in children) == [
        "ollama-container",
        "ollama-image",
        "ollama-models",
        "ollama-network",
    ]


def test_no_gpus_hides_the_gpus_the_image_would_expose(default: Program):
    cpu_only = deploy(MANUAL.model_copy(update={"gpus": None}))
    container = cpu_only.one(CONTAINER).inputs
    assert "gpus" not in container
    assert "NVIDIA_VISIBLE_DEVICES=void" in container["envs"]
    assert_only_changed(default, cpu_only, "ollama-container:gpus", "ollama-container:envs")


def test_gpu_devices_are_passed_as_docker_reads_them(default: Program):
    two = deploy(MANUAL.model_copy(update={"gpus": '"device=0,1"'}))
    assert two.one(CONTAINER).inputs["gpus"] == '"device=0,1"'
    assert_only_changed(default, two, "ollama-container:gpus")
    assert two.outputs["gpus"] == "device=0,1"


def test_no_gpus_are_an_output_too():
    cpu_only = deploy(MANUAL.model_copy(update={"gpus": None}))
    assert cpu_only.outputs["gpus"] == "none"


def test_auto_is_decided_by_the_preflight_before_the_component():
    with pytest.raises(ValueError, match="gpu_request"):
        deploy(DockerJudgeArgs())


def test_publishing_on_every_interface_needs_an_explicit_address(default: Program):
    everywhere = deploy(MANUAL.model_copy(update={"host_address": "0.0.0.0", "host_port": 8080}))
    assert everywhere.one(CONTAINER).inputs["ports"] == [
        {"internal": 11434, "external": 8080, "ip": "0.0.0.0"}
    ]
    assert everywhere.outputs["hostUrl"] == "http://127.0.0.1:8080"
    assert_only_changed(default, everywhere, "ollama-container:ports")


def test_ipv6_host_url_is_bracketed():
    assert deploy(MANUAL.model_copy(update={"host_address": "::1"})).outputs["hostUrl"] == (
        "http://[::1]:11434"
    )


def test_unpublished_port_leaves_only_the_network_url(default: Program):
    hidden = deploy(MANUAL.model_copy(update={"publish": False}))
    assert "ports" not in hidden.one(CONTAINER).inputs
    assert hidden.outputs["hostUrl"] is None
    assert hidden.outputs["evaluationUrl"] == "http://ollama:11434"
    assert_only_changed(default, hidden, "ollama-container:ports")


def test_models_change_the_entrypoint_and_healthcheck_only(default: Program):
    two = deploy(with_judge(models=("llama3.2", "qwen2.5")))
    container = two.one(CONTAINER).inputs
    assert container["entrypoints"][-2:] == ["llama3.2", "qwen2.5"]
    assert container["healthcheck"]["tests"][-2:] == ["llama3.2", "qwen2.5"]
    assert two.outputs["models"] == ["llama3.2", "qwen2.5"]
    assert_only_changed(
        default, two, "ollama-container:entrypoints", "ollama-container:healthcheck.tests"
    )


def test_no_models_still_waits_for_the_server():
    none = deploy(with_judge(models=()))
    container = none.one(CONTAINER).inputs
    assert container["entrypoints"][-1] == "serve"
    assert container["healthcheck"]["tests"][-1] == "check"


def test_pull_budget_sets_the_script_budget_and_every_wait(default: Program):
    short = deploy(with_judge(pull_timeout_seconds=300))
    container = short.one(CONTAINER).inputs
    assert "OLLAMA_JUDGE_PULL_SECONDS=300" in container["envs"]
    assert container["healthcheck"]["startPeriod"] == "7m0s"
    assert_only_changed(
        default, short, "ollama-container:envs", "ollama-container:healthcheck.startPeriod"
    )


def test_environment_reaches_the_container(default: Program):
    tuned = deploy(with_judge(environment={"OLLAMA_KEEP_ALIVE": "24h"}))
    assert "OLLAMA_KEEP_ALIVE=24h" in tuned.one(CONTAINER).inputs["envs"]
    assert_only_changed(default, tuned, "ollama-container:envs")


def test_image_setting_changes_the_image_only(default: Program):
    other = deploy(with_judge(image="ollama/ollama:0.9.0"))
    assert other.one(IMAGE).inputs["name"] == "ollama/ollama:0.9.0"
    assert other.outputs["image"] == "ollama/ollama:0.9.0"
    assert_only_changed(default, other, "ollama-image:name")


def test_opting_out_of_keeping_models_lets_destroy_remove_the_volume(default: Program):
    throwaway = deploy(with_judge(keep_models_on_destroy=False))
    assert not throwaway.one(VOLUME).retain_on_delete
    assert_only_changed(default, throwaway, "ollama-models:<retainOnDelete>")


def test_names_are_settable(default: Program):
    renamed = deploy(
        MANUAL.model_copy(
            update={"container_name": "judge", "network_name": "eval", "volume_name": "m"}
        )
    )
    container = renamed.one(CONTAINER).inputs
    assert container["networksAdvanced"] == [{"name": "eval", "aliases": ["ollama"]}]
    assert container["volumes"][0]["volumeName"] == "m"
    assert renamed.outputs["evaluationUrl"] == "http://judge:11434"
    assert_only_changed(
        default,
        renamed,
        "ollama-container:name",
        "ollama-container:networksAdvanced[0].name",
        "ollama-container:volumes[0].volumeName",
        "ollama-network:name",
        "ollama-models:name",
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(10, "10s"), (60, "1m0s"), (1920, "32m0s"), (3600, "1h0m0s"), (3725, "1h2m5s")],
)
def test_durations_are_spelled_as_the_provider_reads_them_back(seconds: int, text: str):
    assert go_duration(seconds) == text


def test_the_judge_stays_local_and_keeps_its_models_loaded(default: Program):
    envs = default.one(CONTAINER).inputs["envs"]
    assert "OLLAMA_NO_CLOUD=1" in envs
    assert "OLLAMA_KEEP_ALIVE=-1" in envs
    cloud = deploy(with_judge(allow_cloud=True, environment={"OLLAMA_KEEP_ALIVE": "10m"}))
    assert not any(e.startswith("OLLAMA_NO_CLOUD") for e in cloud.one(CONTAINER).inputs["envs"])
    assert "OLLAMA_KEEP_ALIVE=10m" in cloud.one(CONTAINER).inputs["envs"]


def test_private_registries_reach_the_container(tmp_path, default: Program):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    registries = {
        "reg.example:5000": Registry(ca_file=str(ca)),
        "plain.lan": Registry(insecure=True),
    }
    private = deploy(with_judge(registries=registries))
    container = private.one(CONTAINER).inputs
    assert container["uploads"] == [
        {"file": "/etc/ssl/certs/ollama-judge-reg.example-5000.crt", "content": ca.read_text()}
    ]
    assert "OLLAMA_JUDGE_INSECURE_REGISTRIES=plain.lan" in container["envs"]
    assert_only_changed(default, private, "ollama-container:uploads", "ollama-container:envs")


def test_up_waits_for_the_judge_through_the_engine_the_provider_uses(
    monkeypatch: pytest.MonkeyPatch,
):
    waits: list[tuple[Any, ...]] = []
    monkeypatch.setattr(docker_wait, "follow", lambda *args: waits.append(args[:4]))
    deploy(DockerJudgeArgs(gpus="all", engine_host="tcp://judge-box:2375"))
    # The server's start (120 s) plus the default pull budget (1800 s).
    assert waits == [("tcp://judge-box:2375", "ollama-container-id", ("llama3.2",), 1920)]


def test_a_judge_that_cannot_be_ready_fails_up_with_the_reason(monkeypatch: pytest.MonkeyPatch):
    def gave_up(*args: Any) -> None:
        raise JudgeNotReady("the judge container ollama is not ready (llama3.2): could not pull")

    monkeypatch.setattr(docker_wait, "follow", gave_up)
    with pytest.raises(JudgeNotReady, match="could not pull"):
        deploy(MANUAL)


def test_a_preview_does_not_wait(monkeypatch: pytest.MonkeyPatch):
    def must_not_wait(*args: Any) -> None:
        raise AssertionError("a preview waited for the judge")

    monkeypatch.setattr(docker_wait, "follow", must_not_wait)
    preview = deploy_judge(DockerJudge, MANUAL, Program(preview=True))
    assert preview.one(CONTAINER)


def test_the_only_judge_on_its_volume_takes_no_pull_lock(default: Program):
    """A container replaced mid-pull would leave the lock to the next, which would wait a
    minute for its heartbeat."""
    envs = default.one(CONTAINER).inputs["envs"]
    assert not any(env.startswith("OLLAMA_JUDGE_PULL_LOCK=") for env in envs)
