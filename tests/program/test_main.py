"""`__main__.py` with the committed stack files, on Pulumi's mocks."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml

from components.config import ClusterAccess
from components.config_rules import PROJECT, ConfigError
from tests.conftest import digest_of
from tests.support.pulumi_program import PROJECT_DIR, Program, run_main, stack_config


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch):
    """Runs __main__.py with a stack config (see run_main)."""
    return lambda config, program=None: run_main(config, monkeypatch, program)


def test_project_file_names_the_project_the_config_uses():
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    assert project["name"] == PROJECT
    assert project["runtime"]["name"] == "python"
    assert project["backend"]["url"].startswith("file://")


def engine_with_runtimes(monkeypatch: pytest.MonkeyPatch, *runtimes: str) -> None:
    info = {"Runtimes": {name: {"path": name} for name in runtimes}, "DefaultRuntime": "runc"}
    monkeypatch.setattr("components.docker.preflight.engine_info", lambda host: info)


def test_local_stack_deploys_the_docker_judge(main, monkeypatch: pytest.MonkeyPatch):
    engine_with_runtimes(monkeypatch, "runc", "nvidia")
    program = main(stack_config("local"))
    assert program.one("ollama-judge:index:DockerJudge")
    assert program.of_type("ollama-judge:index:KubernetesJudge") == []
    container = program.one("docker:index/container:Container").inputs
    assert container["gpus"] == "all"
    assert container["entrypoints"][-1] == "llama3.2"
    assert program.outputs == {
        "evaluationUrl": "http://ollama:11434",
        "openaiBaseUrl": "http://ollama:11434/v1",
        "hostUrl": "http://127.0.0.1:11434",
        "models": ["llama3.2"],
        "modelDigests": {"llama3.2": digest_of("llama3.2")},
        "ollamaVersion": "0.34.1",
        "image": "ollama/ollama:0.34.1",
        "gpus": "all",
    }


def test_knitfab_stack_deploys_the_kubernetes_judge(main):
    program = main(stack_config("knitfab"))
    assert program.one("ollama-judge:index:KubernetesJudge")
    assert program.of_type("ollama-judge:index:DockerJudge") == []
    assert program.one("kubernetes:apps/v1:Deployment").inputs["metadata"]["namespace"] == "knitfab"
    assert program.outputs == {
        "evaluationUrl": "http://ollama.knitfab.svc.cluster.local:11434",
        "openaiBaseUrl": "http://ollama.knitfab.svc.cluster.local:11434/v1",
        "hostUrl": None,
        "models": ["llama3.2"],
        "modelDigests": {"llama3.2": digest_of("llama3.2")},
        "ollamaVersion": "0.34.1",
        "image": "ollama/ollama:0.34.1",
        "gpus": "1 nvidia.com/gpu",
    }


def test_bad_config_stops_the_program_before_any_resource(main):
    config = {**stack_config("local"), f"{PROJECT}:docker": json.dumps({"gpus": -1})}
    program = Program()
    with pytest.raises(ConfigError, match=r"ollama-judge:docker\.gpus is -1"):
        main(config, program)
    assert program.monitor.registered == []


def test_gpus_on_an_engine_without_nvidia_runtime_stop_the_program_before_any_resource(
    main, monkeypatch: pytest.MonkeyPatch
):
    engine_with_runtimes(monkeypatch, "runc", "io.containerd.runc.v2")
    program = Program()
    config = {**stack_config("local"), f"{PROJECT}:docker": json.dumps({"gpus": "all"})}
    with pytest.raises(ConfigError, match=r"runtimes: io\.containerd\.runc\.v2, runc;") as error:
        main(config, program)
    assert "pulumi config set --path 'ollama-judge:docker.gpus' none --stack " in str(error.value)
    assert program.monitor.registered == []


def warnings_of(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    warnings: list[str] = []
    monkeypatch.setattr(
        pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message)
    )
    return warnings


def test_the_committed_local_stack_runs_on_the_cpu_of_an_engine_without_gpus_with_a_warning(
    main, monkeypatch: pytest.MonkeyPatch
):
    engine_with_runtimes(monkeypatch, "runc", "io.containerd.runc.v2")
    warnings = warnings_of(monkeypatch)
    program = main(stack_config("local"))
    container = program.one("docker:index/container:Container").inputs
    assert "gpus" not in container
    assert "NVIDIA_VISIBLE_DEVICES=void" in container["envs"]
    assert program.outputs["gpus"] == "none"
    [warning] = warnings
    assert warning.startswith("ollama-judge:docker.gpus is auto and the Docker engine at ")
    assert "the judge runs on the CPU, slower" in warning


@pytest.mark.parametrize(
    ("gpus", "given", "said"),
    [
        # Asked for: the provider, which may reach the engine another way, has the verdict.
        ("all", "all", "could not check whether the Docker engine can give GPUs: "),
        # Left to the engine: the CPU is planned, and the warning says it depends.
        ("auto", None, "could not ask the Docker engine whether it can give GPUs ("),
    ],
)
def test_local_stack_without_a_docker_engine_warns(
    main, monkeypatch: pytest.MonkeyPatch, gpus: str, given: str | None, said: str
):
    warnings = warnings_of(monkeypatch)
    config = {**stack_config("local"), f"{PROJECT}:docker": json.dumps({"gpus": gpus})}
    program = main(config)
    assert program.one("docker:index/container:Container").inputs.get("gpus") == given
    [warning] = warnings
    assert warning.startswith(said)
    assert "no-such-docker.sock" in warning


def test_the_docker_providers_host_setting_is_the_engine_asked(
    main, monkeypatch: pytest.MonkeyPatch
):
    asked: list[str | None] = []
    monkeypatch.setattr(
        "components.docker.preflight.engine_info",
        lambda host: asked.append(host) or {"Runtimes": {"nvidia": {}}},
    )
    main({**stack_config("local"), "docker:host": "ssh://judge@gpu-box"})
    assert asked == ["ssh://judge@gpu-box"]


def test_the_committed_knitfab_stack_stops_before_anything_where_no_class_is_the_default(
    main, monkeypatch: pytest.MonkeyPatch
):
    gpu_node = {"metadata": {"name": "gpu-1"}, "status": {"allocatable": {"nvidia.com/gpu": "1"}}}
    monkeypatch.setattr("components.kubernetes.preflight.read_nodes", lambda access: [gpu_node])
    no_default = [{"metadata": {"name": "slow"}}]
    monkeypatch.setattr(
        "components.kubernetes.preflight.read_storage_classes", lambda access: no_default
    )
    program = Program()
    with pytest.raises(ConfigError, match=r"cluster has no default StorageClass"):
        main(stack_config("knitfab"), program)
    assert program.monitor.registered == []


def test_unknown_top_level_key_in_the_stack_is_reported(main):
    config = {**stack_config("knitfab"), f"{PROJECT}:modles": '["llama3.2"]'}
    with pytest.raises(ConfigError, match=r"ollama-judge:modles is not a setting"):
        main(config)


def test_the_kubernetes_providers_settings_are_the_cluster_up_follows(
    main, monkeypatch: pytest.MonkeyPatch
):
    followed: list[ClusterAccess] = []
    monkeypatch.setattr(
        "components.kubernetes.wait.follow", lambda access, *rest: followed.append(access)
    )
    kubeconfig = str(PROJECT_DIR / "no-such-kubeconfig")
    main(
        {
            **stack_config("knitfab"),
            "kubernetes:kubeconfig": kubeconfig,
            "kubernetes:context": "gpu",
        }
    )
    assert followed == [ClusterAccess(kubeconfig=kubeconfig, context="gpu")]
