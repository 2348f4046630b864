"""Stack config in, typed settings out: the one place that reads Pulumi's config.

`parse_settings` turns the project's config (plain dicts, as Pulumi stores them) into
the frozen dataclasses of `components.settings` and rejects anything it does not
understand, so a typo or a bad value stops the program before any resource is touched.
`load_settings` is the only reader of `pulumi.Config`; `settings_from_config` reads
the same settings from a stack's config as the Automation API returns it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pulumi

from components.config_reader import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    DOCKER_NAME,
    EXTENDED_RESOURCE,
    LABEL_KEY,
    REGISTRY_HOST,
    Section,
    ca_file,
    docker_gpus,
    environment,
    image,
    ip_address,
    models,
    quantity,
)
from components.settings import (
    PROJECT,
    ClusterAccess,
    ConfigError,
    DockerJudgeArgs,
    JudgeSettings,
    KubernetesJudgeArgs,
    NetworkPolicySettings,
    Persistence,
    Registry,
    StackSettings,
    Toleration,
    cli_command,
)


def _toleration(section: Section, name: str, value: Any) -> Toleration:
    item = Section(f"{section.path}.{name}", value, section.stack)
    toleration = Toleration(
        key=item.get("key", None, item.matching(LABEL_KEY, "a label key", "nvidia.com/gpu")),
        operator=item.get("operator", Toleration.operator, item.choice("Equal", "Exists")),
        value=item.get("value", None, item.matching(r"[^\n]*", "a string", '""')),
        effect=item.get("effect", None, item.choice("NoSchedule", "PreferNoSchedule", "NoExecute")),
        toleration_seconds=item.get("tolerationSeconds", None, item.integer(0, 2**31 - 1)),
    )
    item.done()
    return toleration


def _tolerations(section: Section, name: str, value: Any) -> tuple[Toleration, ...]:
    if not isinstance(value, list):
        raise section.fail(
            name,
            value,
            "a list of tolerations",
            '\'[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]\'',
        )
    return tuple(_toleration(section, f"{name}[{i}]", t) for i, t in enumerate(value))


# --- the whole stack --------------------------------------------------------------------


def _parse_judge(top: Section) -> JudgeSettings:
    defaults = JudgeSettings()
    return JudgeSettings(
        image=top.get("image", defaults.image, lambda n, v: image(top, n, v, defaults.image)),
        models=top.get("models", defaults.models, lambda n, v: models(top, n, v)),
        pull_timeout_seconds=top.get(
            "pullTimeoutSeconds", defaults.pull_timeout_seconds, top.integer(60, 86400)
        ),
        pull_attempts=top.get("pullAttempts", defaults.pull_attempts, top.integer(1, 10)),
        environment=top.get(
            "environment", defaults.environment, lambda n, v: environment(top, n, v)
        ),
        keep_models_on_destroy=top.get(
            "keepModelsOnDestroy", defaults.keep_models_on_destroy, top.boolean
        ),
        registries=top.get("registries", defaults.registries, lambda n, v: _registries(top, n, v)),
        allow_cloud=top.get("allowCloud", defaults.allow_cloud, top.boolean),
    )


def _registries(section: Section, name: str, value: Any) -> dict[str, Registry]:
    if not isinstance(value, Mapping):
        raise section.fail(
            name, value, "an object of registry hosts", "'{\"registry.example:5000\": {}}'"
        )
    return {str(host): _registry(section, name, str(host), item) for host, item in value.items()}


def _registry(section: Section, name: str, host: str, value: Any) -> Registry:
    # Hosts have dots, so their key is quoted, as `pulumi config set --path` wants it.
    key = f'{name}["{host}"]'
    if not re.fullmatch(REGISTRY_HOST, host):
        raise section.fail(key, value, "keys that are registry hosts (host[:port])", "{}")
    item = Section(f"{section.path}.{key}" if section.path else key, value or {}, section.stack)
    registry = Registry(
        ca_file=item.get("caFile", None, lambda n, v: ca_file(item, n, v)),
        insecure=item.get("insecure", False, item.boolean),
    )
    item.done()
    if registry.ca_file and registry.insecure:
        raise item.fail(
            "insecure", True, "false when caFile is set (plain HTTP uses no CA)", "false"
        )
    return registry


def _parse_docker(judge: JudgeSettings, s: Section) -> DockerJudgeArgs:
    d = DockerJudgeArgs()
    docker_name = s.matching(DOCKER_NAME, "a Docker name (letters, digits, _ . -)", "ollama")
    args = DockerJudgeArgs(
        judge=judge,
        gpus=s.get("gpus", d.gpus, lambda n, v: docker_gpus(s, n, v)),
        publish=s.get("publish", d.publish, s.boolean),
        host_address=s.get("hostAddress", d.host_address, lambda n, v: ip_address(s, n, v)),
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


# Enough judges for any evaluation we know of; a typo of a few zeros is not a request for
# a thousand GPUs.
MAX_REPLICAS = 100
ACCESS_MODES = ("ReadWriteOnce", "ReadWriteMany")


def _parse_kubernetes(judge: JudgeSettings, s: Section) -> KubernetesJudgeArgs:
    d = KubernetesJudgeArgs()
    gpu = s.section("gpu")
    persistence = s.section("persistence")
    policy = s.section("networkPolicy")
    labels = s.string_map(LABEL_KEY, "label keys")
    args = KubernetesJudgeArgs(
        judge=judge,
        namespace=s.get("namespace", d.namespace, s.matching(DNS_LABEL, "a DNS label", "knitfab")),
        create_namespace=s.get("createNamespace", d.create_namespace, s.boolean),
        replicas=s.get("replicas", d.replicas, s.integer(1, MAX_REPLICAS)),
        gpu_count=gpu.get("count", d.gpu_count, gpu.integer(0, 64)),
        gpu_resource=gpu.get(
            "resourceName",
            d.gpu_resource,
            gpu.matching(EXTENDED_RESOURCE, "an extended resource name", "nvidia.com/gpu"),
        ),
        cpu=s.get("cpu", d.cpu, lambda n, v: quantity(s, n, v)),
        memory=s.get("memory", d.memory, lambda n, v: quantity(s, n, v)),
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
                "size", d.persistence.size, lambda n, v: quantity(persistence, n, v)
            ),
            storage_class=persistence.get(
                "storageClass",
                d.persistence.storage_class,
                persistence.matching(DNS_SUBDOMAIN, "a StorageClass name", "standard"),
            ),
            access_mode=persistence.get(
                "accessMode", d.persistence.access_mode, persistence.choice(*ACCESS_MODES)
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
    _check_shared_claim(args, s)
    return args


def _check_shared_claim(args: KubernetesJudgeArgs, s: Section) -> None:
    """A Deployment cannot give each replica a claim of its own: every pod mounts the one
    claim, which a ReadWriteOnce volume lets only one node mount. Without this check the
    replicas beyond the first would wait unscheduled (or, on one node, share it)."""
    shared = args.persistence.enabled and args.replicas > 1
    if not shared or args.persistence.access_mode == "ReadWriteMany":
        return
    key = f"{PROJECT}:kubernetes"

    def command(words: str) -> str:
        return cli_command(f"config set --path {words}", s.stack)

    raise ConfigError(
        f"{key}.replicas is {args.replicas} with {key}.persistence.enabled, but the models' "
        f"claim is {args.persistence.access_mode} ({key}.persistence.accessMode): all the "
        "replicas of a Deployment mount the same claim, and a ReadWriteOnce volume is "
        "mounted by one node only. Allowed with more than one replica: a ReadWriteMany "
        "claim, or no persistence. Fix it with one of: "
        + command(f"'{key}.persistence.accessMode' ReadWriteMany")
        + " (on a storage class that offers ReadWriteMany, such as NFS or CephFS; set "
        f"{key}.persistence.storageClass to it); "
        + command(f"'{key}.persistence.enabled' false")
        + " (each pod pulls the models into its own emptyDir); or "
        + command(f"'{key}.replicas' 1")
    )


def parse_settings(raw: Mapping[str, Any], stack: str | None = None) -> StackSettings:
    """Typed settings from the project's config, keys as in the stack file; `stack` is
    named in the commands that error messages give."""
    top = Section("", raw, stack)
    target = top.get("target", None, top.choice("docker", "kubernetes"))
    if target is None:
        raise top.fail("target", None, "docker or kubernetes", "docker")
    judge = _parse_judge(top)
    chosen, other = ("docker", "kubernetes") if target == "docker" else ("kubernetes", "docker")
    if top.raw.get(other) is not None:
        raise ConfigError(
            f"{PROJECT}:{other} is set, but {PROJECT}:target is {target}: its settings "
            "would be ignored. Remove it with: "
            + cli_command(f"config rm '{PROJECT}:{other}'", stack)
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


def settings_from_config(values: Mapping[str, str], stack: str | None) -> StackSettings:
    """Typed settings from a stack's whole config as Pulumi stores it: full keys
    ("ollama-judge:models", "docker:host"), every value a string. Besides the project's
    own, the providers' settings that say where the engine or the cluster is."""
    prefix = f"{PROJECT}:"
    raw = {key[len(prefix) :]: _decode(v) for key, v in values.items() if key.startswith(prefix)}
    settings = parse_settings(raw, stack)
    if isinstance(settings, DockerJudgeArgs):
        return replace(settings, engine_host=values.get("docker:host"))
    access = ClusterAccess(
        kubeconfig=values.get("kubernetes:kubeconfig"),
        context=values.get("kubernetes:context"),
        render_directory=values.get("kubernetes:renderYamlToDirectory"),
    )
    return replace(settings, cluster=access)


def load_settings() -> StackSettings:
    """The stack's settings, read from Pulumi's config (the only reader of it)."""
    from pulumi.runtime import config as runtime_config

    values = {}
    for key in {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}:
        namespace, _, name = key.partition(":")
        value = pulumi.Config(namespace).get(name)
        if value is not None:
            values[key] = value
    return settings_from_config(values, pulumi.get_stack())
