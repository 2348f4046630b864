"""Stack settings: their types, their defaults, and the one place that reads them.

`parse_settings` turns the project's config (plain dicts, as Pulumi stores them) into
frozen dataclasses and rejects anything it does not understand, so a typo or a bad
value stops the program before any resource is touched. `load_settings` is the only
reader of `pulumi.Config`. Defaults live in the dataclasses and nowhere else.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi

from components.judge import MANAGED_ENV_NAMES

PROJECT = "ollama-judge"

T = TypeVar("T")


class ConfigError(pulumi.RunError):
    """A stack setting that cannot be used. Pulumi shows the message, not a traceback."""


# --- the settings ---------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeSettings:
    """What both targets share."""

    # A released tag: an untagged image is `latest`, which changes under your feet.
    image: str = "ollama/ollama:0.24.0"
    models: tuple[str, ...] = ("llama3.2",)
    # Budget for pulling every model on a fresh start; sets healthcheck, probe and
    # deployment timeouts so that nothing gives up before the pulls could finish.
    pull_timeout_seconds: int = 1800
    environment: Mapping[str, str] = field(default_factory=dict)
    keep_models_on_destroy: bool = True


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


@dataclass(frozen=True)
class NetworkPolicySettings:
    enabled: bool = False
    # Peers allowed to reach the judge. Empty pod labels = every pod of the namespaces
    # selected; no namespace labels = the judge's own namespace only.
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] | None = None


@dataclass(frozen=True)
class KubernetesJudgeArgs:
    """Settings of the `kubernetes` target (stack `knitfab`)."""

    judge: JudgeSettings = field(default_factory=JudgeSettings)
    namespace: str = "knitfab"
    create_namespace: bool = False
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


StackSettings = DockerJudgeArgs | KubernetesJudgeArgs


@dataclass(frozen=True)
class ClusterAccess:
    """How the kubernetes provider reaches the cluster: its own `kubernetes:` settings."""

    kubeconfig: str | None = None
    context: str | None = None
    render_directory: str | None = None


# --- reading one object -----------------------------------------------------------------


def _example(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class _Section:
    """One config object: hands out its keys by name, remembers which were read, and
    words every error the same way."""

    def __init__(self, path: str, raw: Any):
        self.path = path
        if not isinstance(raw, Mapping):
            raise ConfigError(
                f"{self._key(None)} must be an object (key: value pairs), got {raw!r}."
            )
        self.raw = raw
        self.read: set[str] = set()

    def _key(self, name: str | None) -> str:
        parts = [p for p in (self.path, name) if p]
        return f"{PROJECT}:{'.'.join(parts)}"

    def fail(self, name: str, value: Any, allowed: str, example: Any) -> ConfigError:
        key = self._key(name)
        shown = "not set" if value is None else f"{value!r}"
        return ConfigError(
            f"{key} is {shown}; allowed: {allowed}. "
            f"Fix it with: pulumi config set --path '{key}' {_example(example)}"
        )

    def get(self, name: str, default: T, parse: Callable[[str, Any], T]) -> T:
        self.read.add(name)
        if name not in self.raw or self.raw[name] is None:
            return default
        return parse(name, self.raw[name])

    def section(self, name: str) -> _Section:
        self.read.add(name)
        return _Section(f"{self.path}.{name}" if self.path else name, self.raw.get(name) or {})

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.read)
        if unknown:
            key = self._key(unknown[0])
            known = ", ".join(sorted(self.read))
            raise ConfigError(
                f"{key} is not a setting; known here: {known}. "
                f"Remove it with: pulumi config rm --path '{key}'"
            )

    # Parsers. Each takes (name, value) and returns the typed value or raises.

    def boolean(self, name: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        raise self.fail(name, value, "true or false", "true")

    def integer(self, low: int, high: int) -> Callable[[str, Any], int]:
        def parse(name: str, value: Any) -> int:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise self.fail(name, value, f"a whole number from {low} to {high}", low)
            return value

        return parse

    def choice(self, *allowed: str) -> Callable[[str, Any], str]:
        def parse(name: str, value: Any) -> str:
            if value not in allowed:
                raise self.fail(name, value, " or ".join(allowed), allowed[0])
            return str(value)

        return parse

    def matching(self, pattern: str, what: str, example: str) -> Callable[[str, Any], str]:
        def parse(name: str, value: Any) -> str:
            if not isinstance(value, str) or not re.fullmatch(pattern, value):
                raise self.fail(name, value, what, example)
            return value

        return parse

    def string_map(self, key_pattern: str, what: str) -> Callable[[str, Any], dict[str, str]]:
        def parse(name: str, value: Any) -> dict[str, str]:
            example = '\'{"KEY": "value"}\''
            if not isinstance(value, Mapping):
                raise self.fail(name, value, f"an object of {what}", example)
            result = {}
            for k, v in value.items():
                if not re.fullmatch(key_pattern, str(k)):
                    raise self.fail(f"{name}.{k}", v, f"keys that are {what}", example)
                if isinstance(v, bool) or not isinstance(v, str | int | float):
                    raise self.fail(f"{name}.{k}", v, "a string", '"value"')
                result[str(k)] = str(v)
            return result

        return parse


# --- shapes of values -------------------------------------------------------------------

DOCKER_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_SUBDOMAIN = rf"(?=.{{1,253}}$){DNS_LABEL}(\.{DNS_LABEL})*"
LABEL_KEY = rf"({DNS_SUBDOMAIN}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{{0,61}}[A-Za-z0-9])?"
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
MODEL_NAME = r"[A-Za-z0-9][A-Za-z0-9._:/@-]*"
# A Kubernetes quantity: a positive decimal with an optional SI, binary or exponent suffix.
QUANTITY = r"(\d+(\.\d*)?|\.\d+)([kMGTPE]|[KMGTPE]i|m|[eE][-+]?\d+)?"
EXTENDED_RESOURCE = rf"{DNS_SUBDOMAIN}/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"


def _image(section: _Section, name: str, value: Any) -> str:
    example = JudgeSettings.image
    if not isinstance(value, str) or not re.fullmatch(r"[^\s@]+(@sha256:[0-9a-f]{64})?", value):
        raise section.fail(name, value, "an image reference such as ollama/ollama:<tag>", example)
    reference, _, digest = value.partition("@")
    last_part = reference.rsplit("/", 1)[-1]
    tag = last_part.partition(":")[2]
    if not digest and tag in ("", "latest"):
        raise section.fail(
            name, value, "an image with a released tag or a digest, never latest", example
        )
    return value


def _models(section: _Section, name: str, value: Any) -> tuple[str, ...]:
    example = "'[\"llama3.2\"]'"
    if not isinstance(value, list):
        raise section.fail(name, value, "a list of model names", example)
    for i, model in enumerate(value):
        if not isinstance(model, str) or not re.fullmatch(MODEL_NAME, model):
            raise section.fail(f"{name}[{i}]", model, "a model name such as llama3.2", "llama3.2")
    if len(set(value)) != len(value):
        raise section.fail(name, value, "each model once", example)
    return tuple(value)


def _environment(section: _Section, name: str, value: Any) -> dict[str, str]:
    env = section.string_map(ENV_NAME, "environment variable names")(name, value)
    for env_name in env:
        if env_name in MANAGED_ENV_NAMES:
            raise section.fail(
                f"{name}.{env_name}",
                env[env_name],
                f"any variable but {', '.join(sorted(MANAGED_ENV_NAMES))} (set by the judge)",
                "null",
            )
    return env


def _quantity(section: _Section, name: str, value: Any) -> str:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    text = str(value) if is_number else value
    match = re.fullmatch(QUANTITY, text) if isinstance(text, str) else None
    if not match or float(match.group(1)) <= 0:
        raise section.fail(
            name, value, "a positive Kubernetes quantity such as 4, 500m or 5Gi", "5Gi"
        )
    return str(text)


def _docker_gpus(section: _Section, name: str, value: Any) -> str | None:
    if value == "all":
        return "all"
    if value == "none":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value) if value else None
    if isinstance(value, list) and value and all(_is_device_id(v) for v in value):
        # Quoted, because Docker reads the option as CSV and ids are comma-separated.
        return f'"device={",".join(str(v) for v in value)}"'
    raise section.fail(
        name, value, '"all", "none", a count (0 = none) or a list of device ids', "all"
    )


def _is_device_id(value: Any) -> bool:
    is_id = isinstance(value, str | int) and not isinstance(value, bool)
    return is_id and re.fullmatch(r"[A-Za-z0-9:_-]+", str(value)) is not None


def _ip_address(section: _Section, name: str, value: Any) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise section.fail(
            name,
            value,
            "an IP address: 127.0.0.1 (this host only) or 0.0.0.0 (every interface)",
            "127.0.0.1",
        ) from None


def _toleration(section: _Section, name: str, value: Any) -> Toleration:
    item = _Section(f"{section.path}.{name}", value)
    toleration = Toleration(
        key=item.get("key", None, item.matching(LABEL_KEY, "a label key", "nvidia.com/gpu")),
        operator=item.get("operator", Toleration.operator, item.choice("Equal", "Exists")),
        value=item.get("value", None, item.matching(r"[^\n]*", "a string", '""')),
        effect=item.get("effect", None, item.choice("NoSchedule", "PreferNoSchedule", "NoExecute")),
        toleration_seconds=item.get("tolerationSeconds", None, item.integer(0, 2**31 - 1)),
    )
    item.done()
    return toleration


def _tolerations(section: _Section, name: str, value: Any) -> tuple[Toleration, ...]:
    if not isinstance(value, list):
        raise section.fail(
            name,
            value,
            "a list of tolerations",
            '\'[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]\'',
        )
    return tuple(_toleration(section, f"{name}[{i}]", t) for i, t in enumerate(value))


# --- the whole stack --------------------------------------------------------------------


def _parse_judge(top: _Section) -> JudgeSettings:
    defaults = JudgeSettings()
    return JudgeSettings(
        image=top.get("image", defaults.image, lambda n, v: _image(top, n, v)),
        models=top.get("models", defaults.models, lambda n, v: _models(top, n, v)),
        pull_timeout_seconds=top.get(
            "pullTimeoutSeconds", defaults.pull_timeout_seconds, top.integer(60, 86400)
        ),
        environment=top.get(
            "environment", defaults.environment, lambda n, v: _environment(top, n, v)
        ),
        keep_models_on_destroy=top.get(
            "keepModelsOnDestroy", defaults.keep_models_on_destroy, top.boolean
        ),
    )


def _parse_docker(judge: JudgeSettings, s: _Section) -> DockerJudgeArgs:
    d = DockerJudgeArgs()
    docker_name = s.matching(DOCKER_NAME, "a Docker name (letters, digits, _ . -)", "ollama")
    args = DockerJudgeArgs(
        judge=judge,
        gpus=s.get("gpus", d.gpus, lambda n, v: _docker_gpus(s, n, v)),
        publish=s.get("publish", d.publish, s.boolean),
        host_address=s.get("hostAddress", d.host_address, lambda n, v: _ip_address(s, n, v)),
        host_port=s.get("hostPort", d.host_port, s.integer(1, 65535)),
        container_name=s.get("containerName", d.container_name, docker_name),
        network_name=s.get("networkName", d.network_name, docker_name),
        volume_name=s.get("volumeName", d.volume_name, docker_name),
        restart=s.get(
            "restart", d.restart, s.choice("unless-stopped", "always", "on-failure", "no")
        ),
    )
    s.done()
    return args


def _parse_kubernetes(judge: JudgeSettings, s: _Section) -> KubernetesJudgeArgs:
    d = KubernetesJudgeArgs()
    gpu = s.section("gpu")
    persistence = s.section("persistence")
    policy = s.section("networkPolicy")
    labels = s.string_map(LABEL_KEY, "label keys")
    args = KubernetesJudgeArgs(
        judge=judge,
        namespace=s.get("namespace", d.namespace, s.matching(DNS_LABEL, "a DNS label", "knitfab")),
        create_namespace=s.get("createNamespace", d.create_namespace, s.boolean),
        gpu_count=gpu.get("count", d.gpu_count, gpu.integer(0, 64)),
        gpu_resource=gpu.get(
            "resourceName",
            d.gpu_resource,
            gpu.matching(EXTENDED_RESOURCE, "an extended resource name", "nvidia.com/gpu"),
        ),
        cpu=s.get("cpu", d.cpu, lambda n, v: _quantity(s, n, v)),
        memory=s.get("memory", d.memory, lambda n, v: _quantity(s, n, v)),
        node_selector=s.get("nodeSelector", d.node_selector, labels),
        tolerations=s.get("tolerations", d.tolerations, lambda n, v: _tolerations(s, n, v)),
        runtime_class_name=s.get(
            "runtimeClassName",
            d.runtime_class_name,
            s.matching(DNS_SUBDOMAIN, "a RuntimeClass name", "nvidia"),
        ),
        image_pull_policy=s.get(
            "imagePullPolicy", d.image_pull_policy, s.choice("IfNotPresent", "Always", "Never")
        ),
        persistence=Persistence(
            enabled=persistence.get("enabled", d.persistence.enabled, persistence.boolean),
            size=persistence.get(
                "size", d.persistence.size, lambda n, v: _quantity(persistence, n, v)
            ),
            storage_class=persistence.get(
                "storageClass",
                d.persistence.storage_class,
                persistence.matching(DNS_SUBDOMAIN, "a StorageClass name", "standard"),
            ),
        ),
        network_policy=NetworkPolicySettings(
            enabled=policy.get("enabled", d.network_policy.enabled, policy.boolean),
            pod_labels=policy.get(
                "podLabels", d.network_policy.pod_labels, policy.string_map(LABEL_KEY, "label keys")
            ),
            namespace_labels=policy.get(
                "namespaceLabels",
                d.network_policy.namespace_labels,
                policy.string_map(LABEL_KEY, "label keys"),
            ),
        ),
    )
    for section in (gpu, persistence, policy, s):
        section.done()
    return args


def parse_settings(raw: Mapping[str, Any]) -> StackSettings:
    """Typed settings from the project's config, keys as in the stack file."""
    top = _Section("", raw)
    target = top.get("target", None, top.choice("docker", "kubernetes"))
    if target is None:
        raise top.fail("target", None, "docker or kubernetes", "docker")
    judge = _parse_judge(top)
    chosen, other = ("docker", "kubernetes") if target == "docker" else ("kubernetes", "docker")
    if top.raw.get(other) is not None:
        raise ConfigError(
            f"{PROJECT}:{other} is set, but {PROJECT}:target is {target}: its settings "
            f"would be ignored. Remove it with: pulumi config rm '{PROJECT}:{other}'"
        )
    top.read.add(other)
    section = top.section(chosen)
    top.done()
    if target == "docker":
        return _parse_docker(judge, section)
    return _parse_kubernetes(judge, section)


def _decode(text: str) -> Any:
    """Pulumi hands every value over as a string; objects and lists as JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def load_settings() -> StackSettings:
    """The stack's settings, read from Pulumi's config for this project."""
    from pulumi.runtime import config as runtime_config

    prefix = f"{PROJECT}:"
    keys = {
        k
        for k in (*runtime_config.CONFIG.get(), *runtime_config.get_config_env())
        if k.startswith(prefix)
    }
    config = pulumi.Config(PROJECT)
    raw = {k[len(prefix) :]: _decode(config.require(k[len(prefix) :])) for k in keys}
    return parse_settings(raw)


def load_cluster_access() -> ClusterAccess:
    """The kubernetes provider's settings that say which cluster it talks to, if any."""
    config = pulumi.Config("kubernetes")
    return ClusterAccess(
        kubeconfig=config.get("kubeconfig"),
        context=config.get("context"),
        render_directory=config.get("renderYamlToDirectory"),
    )
