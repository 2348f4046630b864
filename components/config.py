"""The stack's settings: pydantic models of the project's config, with their defaults, and
the one reader of Pulumi's config. Parsing is pure (dicts in, frozen models out); a bad
setting stops the program before anything is touched, in components/config_errors.py's words.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic.alias_generators import to_camel
from pydantic.functional_validators import AfterValidator, BeforeValidator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ValidationInfo

from components.config_errors import PROJECT, config_error, not_allowed
from components.judge import CLOUD_ENV, MANAGED_ENV_NAMES, MANAGED_ENV_PREFIX, is_managed


class Settings(BaseModel):
    """camelCase keys in the stack file, snake_case attributes (by which code and tests
    build settings too); frozen; no unknown key."""

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


def _about(allowed: str, example: Any = None, pattern: str = "", **field: Any) -> Any:
    """What a setting allows, and the example its fix sets (None: its default). Patterns
    match whole (pydantic's search) and, compiled, run on Python's engine (lookahead)."""
    whole = re.compile(rf"^(?:{pattern})\Z") if pattern else None
    examples = None if example is None else [example]
    return Field(description=allowed, examples=examples, pattern=whole, **field)


def _between(low: int, high: int) -> Any:
    return _about(f"a whole number from {low} to {high}", low, strict=True, ge=low, le=high)


DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_NAME = rf"(?=.{{1,253}}$){DNS_LABEL}(\.{DNS_LABEL})*"
LABEL_KEY = rf"({DNS_NAME}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{{0,61}}[A-Za-z0-9])?"
RESOURCE = rf"{DNS_NAME}/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
HOST = r"[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:\d{1,5})?"
IMAGE = r"[^\s@]+(@sha256:[0-9a-f]{64})?"
# Positive (a digit other than 0 comes first), with an SI, binary or exponent suffix.
QUANTITY = r"(?=[0.]*[1-9])(\d+(\.\d*)?|\.\d+)([kMGTPE]|[KMGTPE]i|m|[eE][-+]?\d+)?"
A_MAP = '\'{"KEY": "value"}\''
A_TOLERATION = '\'[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]\''


def _released(image: str) -> str:
    reference, _, digest = image.partition("@")
    if not digest and reference.rsplit("/", 1)[-1].partition(":")[2] in ("", "latest"):
        raise not_allowed("an image with a released tag or a digest, never latest")
    return image


def _once_each(models: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(models)) != len(models):
        raise not_allowed("each model once")
    return models


def _unmanaged(name: str) -> str:
    if is_managed(name):
        managed = ", ".join(sorted(MANAGED_ENV_NAMES))
        raise not_allowed(
            f"any variable but {managed}, {MANAGED_ENV_PREFIX}* (set by the judge) and "
            f"{CLOUD_ENV} (set {PROJECT}:allowCloud instead)",
            "null",
        )
    return name


def _ca_bundle(value: str) -> str:
    """A readable PEM file, kept as an absolute path, as the program reads it later."""
    path = Path(value).expanduser()
    try:
        text = path.read_text()
    except OSError as error:
        raise not_allowed(f"a readable PEM CA bundle ({error.strerror or error})") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise not_allowed("a PEM CA bundle (BEGIN CERTIFICATE)")
    return str(path.resolve())


def _docker_gpus(value: Any) -> str | None:
    """Docker's form of a GPU request: "all", a count, device ids, or None for none."""
    if value in ("all", "none"):
        return None if value == "none" else value
    if type(value) is int and value >= 0:
        return str(value) if value else None
    ids = value if isinstance(value, list) else []
    if ids and all(type(i) in (str, int) and re.fullmatch(r"[\w:-]+", str(i), re.A) for i in ids):
        # Quoted: Docker reads the option as CSV, and the ids are comma-separated.
        return f'"device={",".join(str(i) for i in ids)}"'
    raise ValueError("not a GPU request")


Flag = Annotated[bool, _about("true or false", "true", strict=True)]
# Values of maps of strings; a number is taken as it is written.
Text = Annotated[str, _about("a string", '"value"', coerce_numbers_to_str=True)]
Labels = dict[Annotated[str, _about("keys that are label keys", A_MAP, LABEL_KEY)], Text]
LabelMap = Annotated[Labels, _about("an object of label keys", A_MAP)]
Quantity = Annotated[
    str,
    _about("a positive Kubernetes quantity such as 4, 500m or 5Gi", "5Gi", QUANTITY),
    Field(coerce_numbers_to_str=True),
]
DockerName = Annotated[
    str, _about("a Docker name (letters, digits, _ . -)", "ollama", "[A-Za-z0-9][A-Za-z0-9_.-]*")
]
# A string only: Python's ipaddress takes the number 5 for 0.0.0.5.
IpAddress = Annotated[
    str,
    _about("an IP address: 127.0.0.1 (this host only) or 0.0.0.0 (every interface)", "127.0.0.1"),
    AfterValidator(lambda address: str(ipaddress.ip_address(address))),
]
Image = Annotated[
    str,
    _about("an image reference such as ollama/ollama:<tag>", None, IMAGE),
    AfterValidator(_released),
]
ModelName = Annotated[
    str, _about("a model name such as llama3.2", "llama3.2", "[A-Za-z0-9][A-Za-z0-9._:/@-]*")
]
EnvName = Annotated[
    str,
    _about("keys that are environment variable names", A_MAP, "[A-Za-z_][A-Za-z0-9_]*"),
    AfterValidator(_unmanaged),
]
Host = Annotated[str, _about("keys that are registry hosts (host[:port])", "{}", HOST)]


class Registry(Settings):
    """How the judge reaches one model registry (air-gapped sites keep their own)."""

    # A PEM bundle, on the machine where Pulumi runs, of the CA that signed the
    # registry's certificate: the judge trusts it in addition to the public ones.
    ca_file: Annotated[str | None, AfterValidator(_ca_bundle)] = _about(
        "the path of a PEM CA bundle",
        "/etc/ssl/private-registry-ca.pem",
        default=None,
        min_length=1,
    )
    insecure: Flag = False  # plain HTTP: only by this explicit opt-in

    @field_validator("insecure")
    @classmethod
    def _no_ca_over_plain_http(cls, insecure: bool, info: ValidationInfo) -> bool:
        if insecure and info.data.get("ca_file"):
            raise not_allowed("false when caFile is set (plain HTTP uses no CA)", "false")
        return insecure


class JudgeSettings(Settings):
    """What both targets share: the keys at the top of the project's config."""

    # A released tag: an untagged image is `latest`, which changes under your feet.
    image: Image = "ollama/ollama:0.24.0"
    models: Annotated[tuple[ModelName, ...], AfterValidator(_once_each)] = _about(
        "a list of model names", "'[\"llama3.2\"]'", default=("llama3.2",)
    )
    # Budget for pulling every model on a fresh start; sets healthcheck, probe and
    # deployment timeouts so that nothing gives up before the pulls could finish.
    pull_timeout_seconds: Annotated[int, _between(60, 86400)] = 1800
    # Tries per model when a pull fails for a reason that may pass (no route, a cut
    # transfer), with pauses of 5, 10, 20, ... s between them: 5 tries span about 75 s.
    pull_attempts: Annotated[int, _between(1, 10)] = 5
    environment: dict[EnvName, Text] = _about(
        "an object of environment variable names", A_MAP, default={}
    )
    keep_models_on_destroy: Flag = True
    # By host ("registry.example:5000"), as model references name them; a host with
    # nothing under it (`reg.example:5000:` in YAML) takes the defaults.
    registries: dict[Host, Annotated[Registry, BeforeValidator(lambda r: r or {})]] = _about(
        "an object of registry hosts", "'{\"registry.example:5000\": {}}'", default={}
    )
    # Ollama can serve cloud-hosted models and calls its cloud service at start: an
    # evaluation's articles and labels must not leave the site unless asked.
    allow_cloud: Flag = False


class DockerSettings(Settings):
    """The `docker` section (stack `local`)."""

    # Docker's forms: "all", a count ("2"), '"device=0,1"', or None for no GPU at all.
    gpus: Annotated[str | None, BeforeValidator(_docker_gpus)] = _about(
        '"all", "none", a count (0 = none) or a list of device ids', "all", default="all"
    )
    publish: Flag = True
    host_address: IpAddress = "127.0.0.1"  # no authentication: loopback unless asked
    host_port: Annotated[int, _between(1, 65535)] = 11434
    container_name: DockerName = "ollama"
    network_name: DockerName = "ollama-net"
    volume_name: DockerName = "ollama"
    restart: Literal["unless-stopped", "always", "on-failure", "no"] = "unless-stopped"


class DockerJudgeArgs(DockerSettings):
    """The `docker` target's settings: its section, what both targets share, and (not
    project config) the provider's `docker:host`, None for DOCKER_HOST or the socket."""

    judge: JudgeSettings = JudgeSettings()
    engine_host: str | None = None


class Toleration(Settings):
    key: str | None = _about("a label key", "nvidia.com/gpu", LABEL_KEY, default=None)
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = _about("a string", '""', r"[^\n]*", default=None)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute", None] = None
    toleration_seconds: Annotated[int | None, _between(0, 2**31 - 1)] = None


class Persistence(Settings):
    enabled: Flag = False
    size: Quantity = "30Gi"
    storage_class: str | None = _about("a StorageClass name", "standard", DNS_NAME, default=None)
    # Every replica mounts the one claim: more than one needs ReadWriteMany (see below).
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany"] = "ReadWriteOnce"


class NetworkPolicySettings(Settings):
    enabled: Flag = False
    # Peers allowed to reach the judge. Empty pod labels = every pod of the namespaces
    # selected; no namespace labels = the judge's own namespace only.
    pod_labels: LabelMap = {}
    namespace_labels: LabelMap | None = None


class Gpu(Settings):
    count: Annotated[int, _between(0, 64)] = 1
    resource_name: str = _about(
        "an extended resource name", "nvidia.com/gpu", RESOURCE, default="nvidia.com/gpu"
    )


class ClusterAccess(Settings):
    """How the kubernetes provider reaches the cluster: its own `kubernetes:` settings."""

    kubeconfig: str | None = None
    context: str | None = None
    render_directory: str | None = None


class KubernetesSettings(Settings):
    """The `kubernetes` section (stack `knitfab`)."""

    namespace: str = _about("a DNS label", "knitfab", DNS_LABEL, default="knitfab")
    create_namespace: Flag = False
    # Judge pods behind the Service, each with its own GPUs (the manual's: 1). Enough for
    # any evaluation we know of; a typo of a few zeros is not a request for 1000 GPUs.
    replicas: Annotated[int, _between(1, 100)] = 1
    gpu: Gpu = Gpu()
    cpu: Quantity = "4"
    memory: Quantity = "5Gi"
    node_selector: LabelMap = {}
    tolerations: tuple[Toleration, ...] = _about("a list of tolerations", A_TOLERATION, default=())
    runtime_class_name: str | None = _about("a RuntimeClass name", "nvidia", DNS_NAME, default=None)
    image_pull_policy: Literal["IfNotPresent", "Always", "Never"] = "IfNotPresent"
    persistence: Persistence = Persistence()
    network_policy: NetworkPolicySettings = NetworkPolicySettings()

    @property
    def gpu_count(self) -> int:
        return self.gpu.count

    @property
    def gpu_resource(self) -> str:
        return self.gpu.resource_name

    @model_validator(mode="after")
    def _one_node_per_claim(self) -> KubernetesSettings:
        # A ReadWriteOnce claim is mounted by one node only: the replicas beyond the
        # first would wait unscheduled (or, on one node, share it).
        claim = self.persistence
        if claim.enabled and self.replicas > 1 and claim.access_mode != "ReadWriteMany":
            context = {"replicas": self.replicas, "access_mode": claim.access_mode}
            raise PydanticCustomError("shared_claim", "replicas share a claim", context)
        return self


class KubernetesJudgeArgs(KubernetesSettings):
    """The `kubernetes` target's settings: its section, what both targets share, and (not
    project config) the provider's own, so that `up` watches the cluster it deploys to."""

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
    """Typed settings from the project's config, keys (camelCase) as in the stack file;
    `stack` is named in the commands that error messages give."""
    try:
        config = STACK.validate_python(raw, by_name=False)
    except ValidationError as error:
        raise config_error(error, raw, stack, TARGETS) from None
    # Validated already: put together as they are.
    judge = JudgeSettings.model_construct(
        **{k: getattr(config, k) for k in JudgeSettings.model_fields}
    )
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
    prefix = f"{PROJECT}:"
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

    values = {}
    for key in {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}:
        namespace, _, name = key.partition(":")
        value = pulumi.Config(namespace).get(name)
        if value is not None:
            values[key] = value
    return settings_from_config(values, pulumi.get_stack())
