"""The stack's settings: pydantic models of the project's config, with their defaults, and
the one reader of Pulumi's config. Parsing is pure (dicts in, frozen models out): a bad
value stops the program before any resource is touched (words: config_rules.py)."""

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

import pulumi
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic.alias_generators import to_camel
from pydantic.functional_validators import AfterValidator, BeforeValidator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ValidationInfo

from components import config_rules as rules


class Settings(BaseModel):
    """camelCase keys in the stack file; snake_case attributes, by which code builds them too."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, extra="forbid", frozen=True
    )

    @model_validator(mode="before")
    @classmethod
    def _null_is_the_default(cls, data: Any) -> Any:
        # `config set --path KEY null`, or a key left empty in YAML, keeps the default.
        if not isinstance(data, Mapping):
            return data
        known = {field.alias for field in cls.model_fields.values()}
        return {key: value for key, value in data.items() if value is not None or key not in known}


class Registry(Settings):
    """How the judge reaches one model registry (air-gapped sites keep their own)."""

    # Read where Pulumi runs: the judge trusts it in addition to the public CAs.
    ca_file: Annotated[str | None, AfterValidator(rules.ca_bundle)] = rules.allows(
        "the path of a PEM CA bundle",
        "/etc/ssl/private-registry-ca.pem",
        default=None,
        min_length=1,
    )
    insecure: rules.Flag = False  # plain HTTP: only by this explicit opt-in

    @field_validator("insecure")
    @classmethod
    def _no_ca_over_plain_http(cls, insecure: bool, info: ValidationInfo) -> bool:
        if insecure and info.data.get("ca_file"):
            raise rules.not_allowed("false when caFile is set (plain HTTP uses no CA)", "false")
        return insecure


class JudgeSettings(Settings):
    """What both targets share: the keys at the top of the project's config."""

    # A released tag: an untagged image is `latest`, which changes under your feet.
    image: rules.Image = "ollama/ollama:0.34.1"
    models: Annotated[tuple[rules.ModelName, ...], AfterValidator(rules.once_each)] = rules.allows(
        "a list of model names", "'[\"llama3.2\"]'", default=("llama3.2",)
    )
    # Sizes the healthcheck, probe and deployment timeouts: none gives up before the pulls.
    pull_timeout_seconds: Annotated[int, rules.between(60, 86400)] = 1800
    # Tries per model after failures that may pass, 5, 10, 20, ... s apart: 5 span about 75 s.
    pull_attempts: Annotated[int, rules.between(1, 10)] = 5
    environment: dict[rules.EnvName, rules.Text] = rules.allows(
        "an object of environment variable names", rules.A_MAP, default={}
    )
    keep_models_on_destroy: rules.Flag = True
    # A host with nothing under it (`reg.example:5000:` in YAML) takes the defaults.
    registries: dict[rules.Host, Annotated[Registry, BeforeValidator(lambda r: r or {})]] = (
        rules.allows("an object of registry hosts", "'{\"registry.example:5000\": {}}'", default={})
    )
    # Ollama can serve cloud-hosted models and calls its cloud service at start: an
    # evaluation's articles and labels must not leave the site unless asked.
    allow_cloud: rules.Flag = False


class DockerSettings(Settings):
    """The `docker` section (stack `local`)."""

    # "auto" works on any host: every GPU where the engine can give them, else the CPU.
    gpus: Annotated[str | None, BeforeValidator(rules.docker_gpus)] = rules.allows(
        '"auto", "all", "none", a count (0 = none) or a list of device ids', "auto", default="auto"
    )
    publish: rules.Flag = True
    # The API has no authentication: loopback unless the user says otherwise.
    host_address: rules.IpAddress = "127.0.0.1"
    host_port: Annotated[int, rules.between(1, 65535)] = 11434
    container_name: rules.DockerName = "ollama"
    network_name: rules.DockerName = "ollama-net"
    volume_name: rules.DockerName = "ollama"
    restart: Literal["unless-stopped", "always", "on-failure", "no"] = "unless-stopped"


class DockerJudgeArgs(DockerSettings):
    """The `docker` target's settings: its section, what both targets share, and `docker:host`."""

    judge: JudgeSettings = JudgeSettings()
    engine_host: str | None = None


class Toleration(Settings):
    key: str | None = rules.allows("a label key", "nvidia.com/gpu", rules.LABEL_KEY, default=None)
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = rules.allows("a string", '""', r"[^\n]*", default=None)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute", None] = None
    toleration_seconds: Annotated[int | None, rules.between(0, 2**31 - 1)] = None


class Persistence(Settings):
    # Models are gigabytes: a pod's start (a drain, an eviction, a change) finds them on the
    # claim instead of pulling them again. Its StorageClass is checked before anything
    # changes (kubernetes/preflight.py).
    enabled: rules.Flag = True
    size: rules.Quantity = "30Gi"
    storage_class: str | None = rules.allows(
        "a StorageClass name", "standard", rules.DNS_NAME, default=None
    )
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany"] = "ReadWriteOnce"


class NetworkPolicySettings(Settings):
    enabled: rules.Flag = False
    # The peers: no namespace labels = the judge's own namespace; no pod labels = every pod.
    pod_labels: rules.Labels = {}
    namespace_labels: rules.Labels | None = None


class Gpu(Settings):
    count: Annotated[int, rules.between(0, 64)] = 1
    resource_name: str = rules.allows(
        "an extended resource name", "nvidia.com/gpu", rules.RESOURCE, default="nvidia.com/gpu"
    )


class ClusterAccess(Settings):
    """How the kubernetes provider reaches the cluster: its own `kubernetes:` settings."""

    kubeconfig: str | None = None
    context: str | None = None
    render_directory: str | None = None


class KubernetesSettings(Settings):
    """The `kubernetes` section (stack `knitfab`)."""

    namespace: str = rules.allows("a DNS label", "knitfab", rules.DNS_LABEL, default="knitfab")
    create_namespace: rules.Flag = False
    # Judge pods behind the Service, each with its own GPUs (the manual's: 1). Enough for
    # any evaluation we know of; a typo of a few zeros is not a request for 1000 GPUs.
    replicas: Annotated[int, rules.between(1, 100)] = 1
    gpu: Gpu = Gpu()
    cpu: rules.Quantity = "4"
    memory: rules.Quantity = "5Gi"
    node_selector: rules.Labels = {}
    tolerations: tuple[Toleration, ...] = rules.allows(
        "a list of tolerations",
        '\'[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]\'',
        default=(),
    )
    runtime_class_name: str | None = rules.allows(
        "a RuntimeClass name", "nvidia", rules.DNS_NAME, default=None
    )
    image_pull_policy: Literal["IfNotPresent", "Always", "Never"] = "IfNotPresent"
    persistence: Persistence = Persistence()
    network_policy: NetworkPolicySettings = NetworkPolicySettings()

    @model_validator(mode="after")
    def _one_node_per_claim(self) -> Self:
        # Every replica of a Deployment mounts its one claim, which only one node mounts if
        # it is ReadWriteOnce: the replicas beyond the first would wait unscheduled.
        claim = self.persistence
        if claim.enabled and self.replicas > 1 and claim.access_mode != "ReadWriteMany":
            context = {"replicas": self.replicas, "access_mode": claim.access_mode}
            raise PydanticCustomError("shared_claim", "replicas share a claim", context)
        return self


class KubernetesJudgeArgs(KubernetesSettings):
    """The `kubernetes` target's settings: its section, what both targets share, and the
    provider's own settings, so that `up` reads the rollout from the cluster it deploys to."""

    judge: JudgeSettings = JudgeSettings()
    cluster: ClusterAccess = ClusterAccess()


StackSettings = DockerJudgeArgs | KubernetesJudgeArgs


class DockerStack(JudgeSettings):
    target: Literal["docker"]
    docker: DockerSettings = DockerSettings()
    kubernetes: None = None  # the other target's section would be ignored without a word


class KubernetesStack(JudgeSettings):
    target: Literal["kubernetes"]
    kubernetes: KubernetesSettings = KubernetesSettings()
    docker: None = None


TARGETS = {"docker": DockerStack, "kubernetes": KubernetesStack}
STACK = TypeAdapter(Annotated[DockerStack | KubernetesStack, Field(discriminator="target")])


def parse_settings(raw: Mapping[str, Any], stack: str | None = None) -> StackSettings:
    """Typed settings from the project's config as in the stack file; fixes name `stack`."""
    try:
        config = STACK.validate_python(raw, by_name=False)
    except ValidationError as error:
        raise rules.config_error(error, raw, stack, TARGETS) from None
    # Validated already: put together as they are.
    judge = JudgeSettings.model_construct(**dict(config))  # without target and the sections
    if isinstance(config, DockerStack):
        return DockerJudgeArgs.model_construct(**dict(config.docker), judge=judge)
    return KubernetesJudgeArgs.model_construct(**dict(config.kubernetes), judge=judge)


def _decode(text: str) -> Any:
    """Pulumi hands every value over as a string; objects and lists as JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def settings_from_config(values: Mapping[str, str], stack: str | None) -> StackSettings:
    """Typed settings from a stack's whole config as Pulumi stores it (full keys, string
    values), with the providers' settings that say where the engine or the cluster is."""
    prefix = f"{rules.PROJECT}:"
    raw = {key[len(prefix) :]: _decode(v) for key, v in values.items() if key.startswith(prefix)}
    settings = parse_settings(raw, stack)
    if isinstance(settings, DockerJudgeArgs):
        return settings.model_copy(update={"engine_host": values.get("docker:host")})
    cluster = ClusterAccess(
        kubeconfig=values.get("kubernetes:kubeconfig"),
        context=values.get("kubernetes:context"),
        render_directory=values.get("kubernetes:renderYamlToDirectory"),
    )
    return settings.model_copy(update={"cluster": cluster})


def load_settings() -> StackSettings:
    """The stack's settings, read from Pulumi's config (the only reader of it)."""
    from pulumi.runtime import config as runtime_config

    keys = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    values = {key: value for key in keys if (value := runtime_config.get_config(key)) is not None}
    return settings_from_config(values, pulumi.get_stack())
