"""What a setting's value may be, with the words its errors use (what is allowed, the
example the fix sets), and `config_error`, which words pydantic's first error as a message
naming the key as `config set --path` takes it, the value, what is allowed and the fix."""

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, get_args

import pulumi
from pydantic import AfterValidator, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

PROJECT = "ollama-judge"
CLOUD_ENV = "OLLAMA_NO_CLOUD"


class ConfigError(pulumi.RunError):
    """A stack setting that cannot be used. Pulumi shows the message, not a traceback."""


def cli_command(words: str, stack: str | None) -> str:
    """A command as the user runs Pulumi (OLLAMA_JUDGE_CLI: `scripts/pulumi` where the
    offline toolchain put no `pulumi` on PATH), for the stack whichever is selected."""
    command = f"{os.environ.get('OLLAMA_JUDGE_CLI', 'pulumi')} {words}"
    return f"{command} --stack {stack}" if stack else command


def allows(allowed: str, example: Any = None, pattern: str = "", **field: Any) -> Any:
    """A field's constraints, what it allows and its fix's example (None: its default).
    Patterns match whole (pydantic searches) on Python's engine (which looks ahead)."""
    whole = re.compile(rf"^(?:{pattern})\Z") if pattern else None
    examples = None if example is None else [example]
    return Field(description=allowed, examples=examples, pattern=whole, **field)


def between(low: int, high: int) -> Any:
    return allows(f"a whole number from {low} to {high}", low, strict=True, ge=low, le=high)


def not_allowed(allowed: str, example: Any = None) -> PydanticCustomError:
    """A check's refusal: what is allowed, and the fix's value (None: the field's)."""
    return PydanticCustomError("not_allowed", "{allowed}", {"allowed": allowed, "example": example})


DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_NAME = rf"(?=.{{1,253}}$){DNS_LABEL}(\.{DNS_LABEL})*"
LABEL_KEY = rf"({DNS_NAME}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{{0,61}}[A-Za-z0-9])?"
RESOURCE = rf"{DNS_NAME}/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
HOST = r"[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:\d{1,5})?"
IMAGE = r"[^\s@]+(@sha256:[0-9a-f]{64})?"
# Positive (a digit other than 0 comes first), with an SI, binary or exponent suffix.
QUANTITY = r"(?=[0.]*[1-9])(\d+(\.\d*)?|\.\d+)([kMGTPE]|[KMGTPE]i|m|[eE][-+]?\d+)?"
A_MAP = '\'{"KEY": "value"}\''
# A model pinned to its manifest's digest: `name:tag@sha256:<hex>`. Ollama cannot pull by
# digest (upstream issue ollama/ollama#1328): the judge pulls the name, then compares.
PIN = "@sha256:"


def _released(image: str) -> str:
    reference, _, digest = image.partition("@")
    if not digest and reference.rsplit("/", 1)[-1].partition(":")[2] in ("", "latest"):
        raise not_allowed("an image with a released tag or a digest, never latest")
    return image


def split_pin(model: str) -> tuple[str, str | None]:
    """A model as the name Ollama pulls and the digest it is pinned to (`sha256:<hex>`)."""
    name, pinned, digest = model.partition(PIN)
    return name, f"sha256:{digest}" if pinned else None


def once_each(models: tuple[str, ...]) -> tuple[str, ...]:
    if len({split_pin(model)[0] for model in models}) != len(models):
        raise not_allowed("each model once")
    return models


def _unmanaged(name: str) -> str:
    managed = ("HOME", "NVIDIA_VISIBLE_DEVICES", "OLLAMA_HOST", "OLLAMA_MODELS")
    if name in managed or name == CLOUD_ENV or name.startswith("OLLAMA_JUDGE_"):
        raise not_allowed(
            f"any variable but {', '.join(managed)}, OLLAMA_JUDGE_* (set by the judge) and "
            f"{CLOUD_ENV} (set {PROJECT}:allowCloud instead)",
            "null",
        )
    return name


def ca_bundle(value: str) -> str:
    """A readable PEM file, kept as an absolute path, as the program reads it later."""
    path = Path(value).expanduser()
    try:
        text = path.read_text()
    except OSError as error:
        raise not_allowed(f"a readable PEM CA bundle ({error.strerror or error})") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise not_allowed("a PEM CA bundle (BEGIN CERTIFICATE)")
    return str(path.resolve())


def docker_gpus(value: Any) -> str | None:
    """Docker's form of a GPU request: "all", a count ("2"), '"device=0,1"', or None; "auto"
    is left for the pre-flight, which asks the engine (docker/preflight.py)."""
    if value in ("auto", "all", "none"):
        return None if value == "none" else value
    if type(value) is int and value >= 0:
        return str(value) if value else None
    ids = value if isinstance(value, list) else []
    if ids and all(type(i) in (str, int) and re.fullmatch(r"[\w:-]+", str(i), re.A) for i in ids):
        # Quoted: Docker reads the option as CSV, and the ids are comma-separated.
        return f'"device={",".join(str(i) for i in ids)}"'
    raise ValueError("not a GPU request")


Flag = Annotated[bool, allows("true or false", "true", strict=True)]
# Values of maps of strings: a number is taken as it is written.
Text = Annotated[str, allows("a string", '"value"', coerce_numbers_to_str=True)]
Labels = Annotated[
    dict[Annotated[str, allows("keys that are label keys", A_MAP, LABEL_KEY)], Text],
    allows("an object of label keys", A_MAP),
]
Quantity = Annotated[
    str,
    allows("a positive Kubernetes quantity such as 4, 500m or 5Gi", "5Gi", QUANTITY),
    Field(coerce_numbers_to_str=True),
]
DockerName = Annotated[
    str, allows("a Docker name (letters, digits, _ . -)", "ollama", "[A-Za-z0-9][A-Za-z0-9_.-]*")
]
# A string only: Python's ipaddress takes the number 5 for 0.0.0.5.
IpAddress = Annotated[
    str,
    allows("an IP address: 127.0.0.1 (this host only) or 0.0.0.0 (every interface)", "127.0.0.1"),
    AfterValidator(lambda address: str(ipaddress.ip_address(address))),
]
Image = Annotated[
    str,
    allows("an image reference such as ollama/ollama:<tag>", None, IMAGE),
    AfterValidator(_released),
]
ModelName = Annotated[
    str,
    allows(
        "a model name such as llama3.2, or one pinned to its manifest's digest: "
        "name:tag@sha256:<64 hex digits>",
        "llama3.2",
        rf"[A-Za-z0-9][A-Za-z0-9._:/-]*({PIN}[0-9a-f]{{64}})?",
    ),
]
EnvName = Annotated[
    str,
    allows("keys that are environment variable names", A_MAP, "[A-Za-z_][A-Za-z0-9_]*"),
    AfterValidator(_unmanaged),
]
Host = Annotated[str, allows("keys that are registry hosts (host[:port])", "{}", HOST)]


def config_error(
    error: ValidationError, raw: Mapping[str, Any], stack: str | None, targets: Mapping[str, Any]
) -> ConfigError:
    """The first problem pydantic found in `raw`, validated as the model of its target."""
    problem = error.errors()[0]
    kind, loc, context = problem["type"], problem["loc"], problem.get("ctx", {})
    if kind.startswith("union_tag_"):  # no target, or an unknown one
        return _fix("target", raw.get("target"), " or ".join(targets), next(iter(targets)), stack)
    if kind == "extra_forbidden":
        path, _, info = _walk(targets[str(loc[0])], raw, loc[1:-1])
        key = f"{PROJECT}:{_join(path, str(loc[-1]))}"
        known = ", ".join(sorted(_fields(info.annotation)))
        fix = cli_command(f"config rm --path '{key}'", stack)
        return ConfigError(f"{key} is not a setting; known here: {known}. Remove it with: {fix}")
    path, value, info = _walk(targets[str(loc[0])], raw, loc[1:])
    key = f"{PROJECT}:{path}"
    if kind == "model_type":
        return ConfigError(f"{key} must be an object (key: value pairs), got {value!r}.")
    if kind == "none_required":  # the other target's section
        fix = cli_command(f"config rm '{key}'", stack)
        ignored = f"{PROJECT}:target is {raw['target']}: its settings would be ignored"
        return ConfigError(f"{key} is set, but {ignored}. Remove it with: {fix}")
    if kind == "shared_claim":
        return ConfigError(
            f"{key}.replicas is {context['replicas']} with {key}.persistence.enabled (true by "
            f"default), but the models' claim is {context['access_mode']} "
            f"({key}.persistence.accessMode): all the replicas of a Deployment mount the same "
            "claim, and a ReadWriteOnce volume is mounted by one node only. Allowed with more "
            "than one replica: a ReadWriteMany claim, or no persistence. Fix it with one of: "
            + cli_command(f"config set --path '{key}.persistence.accessMode' ReadWriteMany", stack)
            + " (on a storage class that offers ReadWriteMany, such as NFS or CephFS; set "
            f"{key}.persistence.storageClass to it); "
            + cli_command(f"config set --path '{key}.persistence.enabled' false", stack)
            + " (each pod pulls the models into its own emptyDir); or "
            + cli_command(f"config set --path '{key}.replicas' 1", stack)
        )
    choices = [choice for choice in get_args(info.annotation) if choice is not None]
    allowed = info.description or " or ".join(choices)
    example = (info.examples or [info.default])[0] if info.description else choices[0]
    if kind == "not_allowed":
        allowed, example = context["allowed"], context["example"] or example
    return _fix(path, value, allowed, example, stack)


def _fix(path: str, value: Any, allowed: str, example: Any, stack: str | None) -> ConfigError:
    key, shown = f"{PROJECT}:{path}", "not set" if value is None else repr(value)
    example = example if isinstance(example, str) else json.dumps(example)
    fix = cli_command(f"config set --path '{key}' {example}", stack)
    return ConfigError(f"{key} is {shown}; allowed: {allowed}. Fix it with: {fix}")


def _walk(model: type, raw: Any, loc: tuple[Any, ...]) -> tuple[str, Any, FieldInfo]:
    """The key pydantic's location names, its value as written, and its field (or item's)."""
    path, value, info, outer = "", raw, FieldInfo.from_annotation(model), None
    for part in loc:
        if part == "[key]":  # a map's key: named by its entry, shown with the entry's value
            info = FieldInfo.from_annotation(get_args(outer)[0])
            continue
        outer = info.annotation
        if type(None) in get_args(outer):  # an optional map: null keeps its default
            outer = FieldInfo.from_annotation(get_args(outer)[0]).annotation
        if hasattr(outer, "model_fields"):
            info = _fields(outer)[part]
        else:  # an item of a list, an entry of a map
            info = FieldInfo.from_annotation(get_args(outer)[0 if isinstance(part, int) else 1])
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)
        value = value[part]
    return path, value, info


def _fields(model: Any) -> dict[str, FieldInfo]:
    return {str(field.alias): field for field in model.model_fields.values()}


def _join(path: str, name: str) -> str:
    if path and any(c in name for c in '.:/[]"'):  # hosts, label keys: quoted for `--path`
        return f'{path}["{name}"]'
    return f"{path}.{name}" if path else name
