"""Parsing and validating stack config: pure functions, no Pulumi runtime."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.config import (
    ClusterAccess,
    DockerJudgeArgs,
    Gpu,
    JudgeSettings,
    KubernetesJudgeArgs,
    NetworkPolicySettings,
    Persistence,
    Registry,
    Toleration,
    _decode,
    parse_settings,
    settings_from_config,
)
from components.config_rules import ConfigError, split_pin


def docker(**docker_settings: Any) -> dict[str, Any]:
    return {"target": "docker", "docker": docker_settings}


def kubernetes(**kubernetes_settings: Any) -> dict[str, Any]:
    return {"target": "kubernetes", "kubernetes": kubernetes_settings}


def error_of(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw)
    return str(caught.value)


def test_config_error_is_a_run_error_so_pulumi_prints_only_the_message():
    assert issubclass(ConfigError, pulumi.RunError)


def test_docker_defaults_reproduce_the_manual_with_a_pinned_image():
    settings = parse_settings({"target": "docker"})
    assert settings == DockerJudgeArgs()
    assert settings.judge.models == ("llama3.2",)
    # The manual's `--gpus all` where the engine has GPUs (docker/preflight.py decides).
    assert settings.gpus == "auto"
    assert (settings.container_name, settings.network_name, settings.volume_name) == (
        "ollama",
        "ollama-net",
        "ollama",
    )
    assert (settings.host_address, settings.host_port, settings.publish) == (
        "127.0.0.1",
        11434,
        True,
    )
    repository, tag = settings.judge.image.rsplit(":", 1)
    assert repository == "ollama/ollama" and tag not in ("", "latest")


def test_kubernetes_defaults_reproduce_the_manual():
    settings = parse_settings({"target": "kubernetes"})
    assert settings == KubernetesJudgeArgs()
    assert (settings.namespace, settings.gpu.count, settings.gpu.resource_name) == (
        "knitfab",
        1,
        "nvidia.com/gpu",
    )
    assert (settings.cpu, settings.memory) == ("4", "5Gi")
    assert settings.network_policy.enabled is False


def test_kubernetes_keeps_models_on_a_claim_of_the_clusters_default_class_by_default():
    settings = parse_settings({"target": "kubernetes"})
    assert isinstance(settings, KubernetesJudgeArgs)
    persistence = settings.persistence
    assert (persistence.enabled, persistence.storage_class) == (True, None)
    assert persistence.access_mode == "ReadWriteOnce"


def test_shared_settings_apply_to_either_target():
    raw = {
        "image": "ollama/ollama:0.9.0",
        "models": ["llama3.2", "qwen2.5:7b", "registry.local:5000/library/tiny:1"],
        "pullTimeoutSeconds": 600,
        "environment": {"OLLAMA_KEEP_ALIVE": "24h", "OLLAMA_NUM_PARALLEL": 4},
        "keepModelsOnDestroy": False,
    }
    expected = JudgeSettings(
        image="ollama/ollama:0.9.0",
        models=("llama3.2", "qwen2.5:7b", "registry.local:5000/library/tiny:1"),
        pull_timeout_seconds=600,
        environment={"OLLAMA_KEEP_ALIVE": "24h", "OLLAMA_NUM_PARALLEL": "4"},
        keep_models_on_destroy=False,
    )
    assert parse_settings({**raw, "target": "docker"}).judge == expected
    assert parse_settings({**raw, "target": "kubernetes"}).judge == expected


def test_image_pinned_by_digest_is_accepted():
    image = "ollama/ollama@sha256:" + "a" * 64
    assert parse_settings({"target": "docker", "image": image}).judge.image == image


def test_a_model_pinned_to_its_manifests_digest_is_pulled_by_name_and_compared():
    pinned = f"registry.local:5000/library/judge:1@sha256:{'0123abcd' * 8}"
    settings = parse_settings({"target": "docker", "models": ["llama3.2", pinned]})
    assert settings.judge.models == ("llama3.2", pinned)
    assert [split_pin(model) for model in settings.judge.models] == [
        ("llama3.2", None),
        ("registry.local:5000/library/judge:1", f"sha256:{'0123abcd' * 8}"),
    ]


def test_empty_model_list_is_allowed():
    assert parse_settings({"target": "docker", "models": []}).judge.models == ()


@pytest.mark.parametrize(
    ("gpus", "expected"),
    [
        ("auto", "auto"),
        ("all", "all"),
        (2, "2"),
        (0, None),
        ("none", None),
        ([0], '"device=0"'),
        ([0, "GPU-3a2b"], '"device=0,GPU-3a2b"'),
    ],
)
def test_docker_gpus_forms(gpus: Any, expected: str | None):
    assert parse_settings(docker(gpus=gpus)).gpus == expected


def test_docker_settings_are_all_read():
    settings = parse_settings(
        docker(
            publish=False,
            hostAddress="0.0.0.0",
            hostPort=18080,
            containerName="judge",
            networkName="eval-net",
            volumeName="judge-models",
            restart="always",
        )
    )
    assert settings == DockerJudgeArgs(
        publish=False,
        host_address="0.0.0.0",
        host_port=18080,
        container_name="judge",
        network_name="eval-net",
        volume_name="judge-models",
        restart="always",
    )


def test_kubernetes_settings_are_all_read():
    settings = parse_settings(
        kubernetes(
            namespace="judges",
            createNamespace=True,
            replicas=3,
            gpu={"count": 2, "resourceName": "nvidia.com/mig-1g.5gb"},
            cpu="500m",
            memory=8589934592,
            nodeSelector={"nvidia.com/gpu.present": "true"},
            tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            runtimeClassName="nvidia",
            imagePullPolicy="Always",
            persistence={
                "enabled": True,
                "size": "50Gi",
                "storageClass": "fast",
                "accessMode": "ReadWriteMany",
            },
            networkPolicy={
                "enabled": True,
                "podLabels": {"app": "evaluate"},
                "namespaceLabels": {"kubernetes.io/metadata.name": "knitfab"},
            },
        )
    )
    assert settings == KubernetesJudgeArgs(
        namespace="judges",
        create_namespace=True,
        replicas=3,
        gpu=Gpu(count=2, resource_name="nvidia.com/mig-1g.5gb"),
        cpu="500m",
        memory="8589934592",
        node_selector={"nvidia.com/gpu.present": "true"},
        tolerations=(Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule"),),
        runtime_class_name="nvidia",
        image_pull_policy="Always",
        persistence=Persistence(
            enabled=True, size="50Gi", storage_class="fast", access_mode="ReadWriteMany"
        ),
        network_policy=NetworkPolicySettings(
            enabled=True,
            pod_labels={"app": "evaluate"},
            namespace_labels={"kubernetes.io/metadata.name": "knitfab"},
        ),
    )


@pytest.mark.parametrize(
    ("raw", "key", "fragment"),
    [
        ({}, "ollama-judge:target", "docker or kubernetes"),
        ({"target": "aws"}, "ollama-judge:target", "docker or kubernetes"),
        ({"target": "docker", "image": "ollama/ollama"}, "ollama-judge:image", "never latest"),
        ({"target": "docker", "image": "ollama/ollama:latest"}, "ollama-judge:image", "latest"),
        ({"target": "docker", "image": "my registry/ollama:1"}, "ollama-judge:image", "image"),
        ({"target": "docker", "models": "llama3.2"}, "ollama-judge:models", "a list"),
        ({"target": "docker", "models": [""]}, "ollama-judge:models[0]", "model name"),
        ({"target": "docker", "models": ["a", "a"]}, "ollama-judge:models", "each model once"),
        ({"target": "docker", "models": ["ok", "two words"]}, "ollama-judge:models[1]", "model"),
        (
            {"target": "docker", "models": ["ok", "judge:1@sha256:0f"]},
            "ollama-judge:models[1]",
            "name:tag@sha256:<64 hex digits>",
        ),
        ({"target": "docker", "pullTimeoutSeconds": 10}, "ollama-judge:pullTimeoutSeconds", "60"),
        (
            {"target": "docker", "pullTimeoutSeconds": "1h"},
            "ollama-judge:pullTimeoutSeconds",
            "whole",
        ),
        (
            {"target": "docker", "environment": {"OLLAMA_HOST": "0.0.0.0:1"}},
            "ollama-judge:environment.OLLAMA_HOST",
            "set by the judge",
        ),
        (
            # The Kubernetes judge's home holds its models' volume (kubernetes/container.py).
            {"target": "kubernetes", "environment": {"HOME": "/root"}},
            "ollama-judge:environment.HOME",
            "set by the judge",
        ),
        (
            {"target": "docker", "environment": {"BAD-NAME": "1"}},
            "ollama-judge:environment.BAD-NAME",
            "environment variable names",
        ),
        (
            {"target": "docker", "environment": {"OLLAMA_DEBUG": ["1"]}},
            "ollama-judge:environment.OLLAMA_DEBUG",
            "a string",
        ),
        (
            {"target": "docker", "keepModelsOnDestroy": "no"},
            "ollama-judge:keepModelsOnDestroy",
            "true",
        ),
        (docker(gpus=-1), "ollama-judge:docker.gpus", '"auto", "all", "none"'),
        (docker(gpus="some"), "ollama-judge:docker.gpus", "device ids"),
        (docker(gpus=[]), "ollama-judge:docker.gpus", "device ids"),
        (docker(gpus=True), "ollama-judge:docker.gpus", "a count"),
        (docker(hostPort=0), "ollama-judge:docker.hostPort", "1 to 65535"),
        (docker(hostPort=70000), "ollama-judge:docker.hostPort", "1 to 65535"),
        (docker(hostPort="11434"), "ollama-judge:docker.hostPort", "whole number"),
        (docker(hostAddress="localhost"), "ollama-judge:docker.hostAddress", "IP address"),
        (docker(publish="yes"), "ollama-judge:docker.publish", "true or false"),
        (docker(containerName="-x"), "ollama-judge:docker.containerName", "Docker name"),
        (docker(restart="sometimes"), "ollama-judge:docker.restart", "unless-stopped"),
        (kubernetes(gpu={"count": -1}), "ollama-judge:kubernetes.gpu.count", "0 to 64"),
        (kubernetes(replicas=0), "ollama-judge:kubernetes.replicas", "1 to 100"),
        (kubernetes(replicas=1000), "ollama-judge:kubernetes.replicas", "1 to 100"),
        (kubernetes(replicas="3"), "ollama-judge:kubernetes.replicas", "whole number"),
        (kubernetes(replicas=2.5), "ollama-judge:kubernetes.replicas", "whole number"),
        (
            kubernetes(persistence={"accessMode": "ReadWriteOncePod"}),
            "ollama-judge:kubernetes.persistence.accessMode",
            "ReadWriteOnce or ReadWriteMany",
        ),
        (
            kubernetes(gpu={"resourceName": "gpu"}),
            "ollama-judge:kubernetes.gpu.resourceName",
            "extended",
        ),
        (kubernetes(memory="5 GB"), "ollama-judge:kubernetes.memory", "quantity"),
        (kubernetes(cpu="0"), "ollama-judge:kubernetes.cpu", "positive"),
        (kubernetes(cpu="four"), "ollama-judge:kubernetes.cpu", "quantity"),
        (kubernetes(namespace="Knitfab"), "ollama-judge:kubernetes.namespace", "DNS label"),
        (
            kubernetes(imagePullPolicy="Sometimes"),
            "ollama-judge:kubernetes.imagePullPolicy",
            "Always",
        ),
        (kubernetes(nodeSelector=["gpu"]), "ollama-judge:kubernetes.nodeSelector", "an object"),
        (kubernetes(tolerations={"key": "x"}), "ollama-judge:kubernetes.tolerations", "a list"),
        (
            kubernetes(tolerations=[{"operator": "Maybe"}]),
            "ollama-judge:kubernetes.tolerations[0].operator",
            "Equal or Exists",
        ),
        (
            kubernetes(persistence={"size": "lots"}),
            "ollama-judge:kubernetes.persistence.size",
            "quantity",
        ),
        (
            kubernetes(networkPolicy={"enabled": 1}),
            "ollama-judge:kubernetes.networkPolicy.enabled",
            "true or false",
        ),
        (kubernetes(gpu=4), "ollama-judge:kubernetes.gpu", "must be an object"),
    ],
)
def test_bad_value_names_the_key_the_value_and_what_is_allowed(raw, key, fragment):
    message = error_of(raw)
    assert message.startswith(key), message
    assert fragment in message
    assert f"pulumi config set --path '{key}'" in message or "must be an object" in message


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"target": "docker", "model": ["llama3.2"]}, "ollama-judge:model"),
        (docker(gpu="all"), "ollama-judge:docker.gpu"),
        (kubernetes(gpu={"number": 1}), "ollama-judge:kubernetes.gpu.number"),
        (kubernetes(persistence={"enable": True}), "ollama-judge:kubernetes.persistence.enable"),
        (kubernetes(tolerations=[{"keys": "x"}]), "ollama-judge:kubernetes.tolerations[0].keys"),
    ],
)
def test_unknown_key_is_rejected_with_the_known_ones(raw, key):
    message = error_of(raw)
    assert message.startswith(f"{key} is not a setting; known here:")
    assert f"pulumi config rm --path '{key}'" in message


def test_replicas_default_to_the_manuals_one_with_a_read_write_once_claim():
    settings = parse_settings(kubernetes(persistence={"enabled": True}))
    assert isinstance(settings, KubernetesJudgeArgs)
    assert settings.replicas == 1
    assert settings.persistence.access_mode == "ReadWriteOnce"


def test_many_replicas_with_a_read_write_once_claim_are_refused_naming_every_fix():
    message = error_of(kubernetes(replicas=3, persistence={"enabled": True}))
    assert message.startswith(
        "ollama-judge:kubernetes.replicas is 3 with ollama-judge:kubernetes.persistence.enabled "
        "(true by default), but the models' claim is ReadWriteOnce "
        "(ollama-judge:kubernetes.persistence.accessMode)"
    )
    # Persistence is on by default: replicas alone meet the same message.
    assert error_of(kubernetes(replicas=3)) == message
    for fix in (
        "pulumi config set --path 'ollama-judge:kubernetes.persistence.accessMode' ReadWriteMany",
        "pulumi config set --path 'ollama-judge:kubernetes.persistence.enabled' false",
        "pulumi config set --path 'ollama-judge:kubernetes.replicas' 1",
    ):
        assert fix in message
    assert "its own emptyDir" in message


def test_many_replicas_share_a_read_write_many_claim_or_pull_into_their_own_empty_dirs():
    shared = kubernetes(replicas=3, persistence={"enabled": True, "accessMode": "ReadWriteMany"})
    for raw in (shared, kubernetes(replicas=3, persistence={"enabled": False})):
        settings = parse_settings(raw)
        assert isinstance(settings, KubernetesJudgeArgs) and settings.replicas == 3


def test_settings_of_the_other_target_are_rejected():
    message = error_of({"target": "docker", "kubernetes": {"namespace": "x"}})
    assert "ollama-judge:kubernetes is set, but ollama-judge:target is docker" in message


def test_the_bad_value_itself_is_in_the_message():
    assert "'5 GB'" in error_of(kubernetes(memory="5 GB"))


def test_a_number_is_not_a_host_address():
    # Python's ipaddress reads the number 5 as 0.0.0.5; a stack file means no such thing.
    assert error_of(docker(hostAddress=5)) == (
        "ollama-judge:docker.hostAddress is 5; allowed: an IP address: 127.0.0.1 (this host "
        "only) or 0.0.0.0 (every interface). Fix it with: "
        "pulumi config set --path 'ollama-judge:docker.hostAddress' 127.0.0.1"
    )


def test_a_label_key_with_dots_is_quoted_in_the_fix():
    # Unquoted, `config set --path` would read the dots as nested keys.
    message = error_of(kubernetes(nodeSelector={"nvidia.com/gpu.present": ["true"]}))
    key = 'ollama-judge:kubernetes.nodeSelector["nvidia.com/gpu.present"]'
    assert message.startswith(f"{key} is ['true']; allowed: a string.")
    assert message.endswith(f"pulumi config set --path '{key}' \"value\"")


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (docker(judge={"image": "x"}), "ollama-judge:docker.judge"),
        (docker(engineHost="ssh://gpu-box"), "ollama-judge:docker.engineHost"),
        (kubernetes(cluster={"context": "gpu"}), "ollama-judge:kubernetes.cluster"),
        (docker(host_port=1), "ollama-judge:docker.host_port"),
    ],
)
def test_what_is_not_project_config_cannot_be_set_as_project_config(raw, key):
    # The engine and the cluster are the providers' settings (docker:host, kubernetes:*),
    # and the stack file's keys are camelCase.
    assert error_of(raw).startswith(f"{key} is not a setting; known here:")


def test_null_keeps_the_default():
    raw = {
        "target": "kubernetes",
        "image": None,
        "docker": None,
        "kubernetes": {"replicas": None, "networkPolicy": None},
        "registries": {"reg.example:5000": None},
    }
    settings = parse_settings(raw)
    assert isinstance(settings, KubernetesJudgeArgs)
    assert settings.model_copy(update={"judge": JudgeSettings()}) == KubernetesJudgeArgs()
    assert settings.judge.registries["reg.example:5000"] == Registry()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("docker", "docker"),
        ("1800", 1800),
        ("true", True),
        ('["a"]', ["a"]),
        ('{"x": 1}', {"x": 1}),
    ],
)
def test_config_strings_are_decoded_like_pulumi_stores_them(text: str, value: Any):
    assert _decode(text) == value


def test_fixes_name_the_command_that_runs_here_and_the_stack(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OLLAMA_JUDGE_CLI", "scripts/pulumi")
    with pytest.raises(ConfigError) as error:
        parse_settings({"target": "docker", "docker": {"restart": "sometimes"}}, stack="local")
    assert str(error.value).endswith(
        "Fix it with: scripts/pulumi config set --path 'ollama-judge:docker.restart' "
        "unless-stopped --stack local"
    )


PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_registries_take_a_ca_file_or_plain_http(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text(PEM)
    raw = {
        **docker(),
        "registries": {"reg.example:5000": {"caFile": str(ca)}, "plain.lan": {"insecure": True}},
    }
    registries = parse_settings(raw).judge.registries
    assert registries["reg.example:5000"].ca_file == str(ca)
    assert registries["plain.lan"].insecure and not registries["plain.lan"].ca_file


@pytest.mark.parametrize(
    ("registry", "fragment"),
    [
        ({"caFile": "/nonexistent/ca.pem"}, "a readable PEM CA bundle (No such file or directory)"),
        ({"caFile": "NOT-PEM"}, "a readable PEM CA bundle"),
        ({"insecure": "yes"}, "true or false"),
        ({"ca": "x"}, "is not a setting"),
    ],
)
def test_bad_registry_settings_name_the_quoted_key(registry: dict, fragment: str):
    message = error_of({**docker(), "registries": {"reg.example:5000": registry}})
    assert message.startswith('ollama-judge:registries["reg.example:5000"].')
    assert fragment in message


def test_a_registry_is_either_trusted_by_its_ca_or_plain_http(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text(PEM)
    message = error_of(
        {**docker(), "registries": {"reg.example": {"caFile": str(ca), "insecure": True}}}
    )
    assert "false when caFile is set" in message


def test_cloud_settings_stay_with_allow_cloud():
    assert parse_settings(docker()).judge.allow_cloud is False
    assert parse_settings({**docker(), "allowCloud": True}).judge.allow_cloud is True
    message = error_of({**docker(), "environment": {"OLLAMA_NO_CLOUD": "0"}})
    assert "set ollama-judge:allowCloud instead" in message
    assert "OLLAMA_JUDGE_*" in error_of({**docker(), "environment": {"OLLAMA_JUDGE_LOG": "x"}})


def test_settings_from_a_stacks_config_as_pulumi_stores_it_take_the_providers_access_too():
    local = settings_from_config(
        {
            "ollama-judge:target": "docker",
            "ollama-judge:models": '["qwen2.5:7b"]',
            "docker:host": "ssh://judge@gpu-box",
            "kubernetes:context": "ignored here",
        },
        "local",
    )
    assert isinstance(local, DockerJudgeArgs)
    assert (local.judge.models, local.engine_host) == (("qwen2.5:7b",), "ssh://judge@gpu-box")
    knitfab = settings_from_config(
        {
            "ollama-judge:target": "kubernetes",
            "kubernetes:kubeconfig": "/etc/kube/config",
            "kubernetes:context": "gpu",
            "kubernetes:renderYamlToDirectory": "rendered",
        },
        "knitfab",
    )
    assert isinstance(knitfab, KubernetesJudgeArgs)
    assert knitfab.cluster == ClusterAccess(
        kubeconfig="/etc/kube/config", context="gpu", render_directory="rendered"
    )


def test_settings_from_a_stacks_config_name_the_stack_in_their_fixes():
    with pytest.raises(ConfigError, match=r"--stack knitfab$"):
        settings_from_config(
            {"ollama-judge:target": "kubernetes", "ollama-judge:x": "1"}, "knitfab"
        )
