"""The stack's settings: their types and their defaults, and the one error type for
settings that cannot be used. Defaults live here and nowhere else."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

PROJECT = "ollama-judge"


class ConfigError(pulumi.RunError):
    """A stack setting that cannot be used. Pulumi shows the message, not a traceback."""


def cli_command(words: str, stack: str | None) -> str:
    """A command for the user to type, as they run the Pulumi CLI: `pulumi`, or
    `scripts/pulumi` (which says so in OLLAMA_JUDGE_CLI) where the offline toolchain put
    no `pulumi` on PATH; with the stack named, so it works whichever stack is selected."""
    command = f"{os.environ.get('OLLAMA_JUDGE_CLI', 'pulumi')} {words}"
    return f"{command} --stack {stack}" if stack else command


@dataclass(frozen=True)
class Registry:
    """How the judge reaches one model registry (air-gapped sites keep their own)."""

    # A PEM bundle, on the machine where Pulumi runs, of the CA that signed the
    # registry's certificate: the judge trusts it in addition to the public ones.
    ca_file: str | None = None
    # Plain HTTP: only by this explicit opt-in.
    insecure: bool = False


@dataclass(frozen=True)
class JudgeSettings:
    """What both targets share."""

    # A released tag: an untagged image is `latest`, which changes under your feet.
    image: str = "ollama/ollama:0.24.0"
    models: tuple[str, ...] = ("llama3.2",)
    # Budget for pulling every model on a fresh start; sets healthcheck, probe and
    # deployment timeouts so that nothing gives up before the pulls could finish.
    pull_timeout_seconds: int = 1800
    # Tries per model when a pull fails for a reason that may pass (no route, a cut
    # transfer), with pauses of 5, 10, 20, ... s between them: 5 tries span about 75 s.
    pull_attempts: int = 5
    environment: Mapping[str, str] = field(default_factory=dict)
    keep_models_on_destroy: bool = True
    # Registries by host ("registry.example:5000"), as model references name them.
    registries: Mapping[str, Registry] = field(default_factory=dict)
    # Ollama can serve cloud-hosted models and calls its cloud service at start: an
    # evaluation's articles and labels must not leave the site unless asked.
    allow_cloud: bool = False


@dataclass(frozen=True)
class DockerJudgeArgs:
    """Settings of the `docker` target (stack `local`)."""

    judge: JudgeSettings = field(default_factory=JudgeSettings)
    # "all", a count as a string ("2"), "device=..." or None for no GPU at all.
    gpus: str | None = "all"
    publish: bool = True
    # The API has no authentication: loopback unless the user says otherwise.
    host_address: str = "127.0.0.1"
    host_port: int = 11434
    container_name: str = "ollama"
    network_name: str = "ollama-net"
    volume_name: str = "ollama"
    restart: str = "unless-stopped"
    # Not project config: the docker provider's `docker:host`, where the engine is (None:
    # DOCKER_HOST or the local socket, as for the provider).
    engine_host: str | None = None


@dataclass(frozen=True)
class Toleration:
    key: str | None = None
    operator: str = "Equal"
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


@dataclass(frozen=True)
class Persistence:
    enabled: bool = False
    size: str = "30Gi"
    storage_class: str | None = None
    # A Deployment gives every replica the same claim: more than one replica needs
    # ReadWriteMany (see components/config.py).
    access_mode: str = "ReadWriteOnce"


@dataclass(frozen=True)
class NetworkPolicySettings:
    enabled: bool = False
    # Peers allowed to reach the judge. Empty pod labels = every pod of the namespaces
    # selected; no namespace labels = the judge's own namespace only.
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] | None = None


@dataclass(frozen=True)
class ClusterAccess:
    """How the kubernetes provider reaches the cluster: its own `kubernetes:` settings."""

    kubeconfig: str | None = None
    context: str | None = None
    render_directory: str | None = None


@dataclass(frozen=True)
class KubernetesJudgeArgs:
    """Settings of the `kubernetes` target (stack `knitfab`)."""

    judge: JudgeSettings = field(default_factory=JudgeSettings)
    namespace: str = "knitfab"
    create_namespace: bool = False
    # Judge pods behind the Service, each with its own gpu_count GPUs (the manual's: 1).
    replicas: int = 1
    gpu_count: int = 1
    gpu_resource: str = "nvidia.com/gpu"
    cpu: str = "4"
    memory: str = "5Gi"
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    runtime_class_name: str | None = None
    image_pull_policy: str = "IfNotPresent"
    persistence: Persistence = field(default_factory=Persistence)
    network_policy: NetworkPolicySettings = field(default_factory=NetworkPolicySettings)
    # Not project config: the kubernetes provider's own settings, so that `up` reads the
    # rollout from the cluster the provider deploys to.
    cluster: ClusterAccess = field(default_factory=ClusterAccess)


StackSettings = DockerJudgeArgs | KubernetesJudgeArgs
