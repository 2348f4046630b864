"""The one error type of stack config, and its words: the key as `config set --path` takes
it, the value, what is allowed (the description and example, or the Literal, of the field
that pydantic found wrong) and the command that fixes it."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, get_args

import pulumi
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

PROJECT = "ollama-judge"


class ConfigError(pulumi.RunError):
    """A stack setting that cannot be used. Pulumi shows the message, not a traceback."""


def cli_command(words: str, stack: str | None) -> str:
    """A command as the user runs Pulumi (OLLAMA_JUDGE_CLI: `scripts/pulumi` where the
    offline toolchain put no `pulumi` on PATH), for the stack whichever is selected."""
    command = f"{os.environ.get('OLLAMA_JUDGE_CLI', 'pulumi')} {words}"
    return f"{command} --stack {stack}" if stack else command


def not_allowed(allowed: str, example: Any = None) -> PydanticCustomError:
    """A validator's refusal: what is allowed, and the fix's value (None: the field's)."""
    return PydanticCustomError("not_allowed", "{allowed}", {"allowed": allowed, "example": example})


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
        return _shared_claim(key, context, stack)
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
    """The key that pydantic's location names, its value as written, and its field (or
    the item of one)."""
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


def _shared_claim(key: str, context: dict[str, Any], stack: str | None) -> ConfigError:
    def command(words: str) -> str:
        return cli_command(f"config set --path {words}", stack)

    return ConfigError(
        f"{key}.replicas is {context['replicas']} with {key}.persistence.enabled, but the "
        f"models' claim is {context['access_mode']} ({key}.persistence.accessMode): all the "
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
