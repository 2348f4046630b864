"""Reading one object of stack config: the section reader that knows each key's full
name and words every error the same way, and the shapes of values it accepts."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from components.judge import CLOUD_ENV, MANAGED_ENV_NAMES, MANAGED_ENV_PREFIX, is_managed
from components.settings import PROJECT, ConfigError, cli_command

T = TypeVar("T")


def _example(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class Section:
    """One config object: hands out its keys by name, remembers which were read, and
    words every error the same way."""

    def __init__(self, path: str, raw: Any, stack: str | None = None):
        self.path = path
        # The stack the commands in error messages name (None: the selected one).
        self.stack = stack
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
            "Fix it with: "
            + cli_command(f"config set --path '{key}' {_example(example)}", self.stack)
        )

    def get(self, name: str, default: T, parse: Callable[[str, Any], T]) -> T:
        self.read.add(name)
        if name not in self.raw or self.raw[name] is None:
            return default
        return parse(name, self.raw[name])

    def section(self, name: str) -> Section:
        self.read.add(name)
        path = f"{self.path}.{name}" if self.path else name
        return Section(path, self.raw.get(name) or {}, self.stack)

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.read)
        if unknown:
            key = self._key(unknown[0])
            known = ", ".join(sorted(self.read))
            raise ConfigError(
                f"{key} is not a setting; known here: {known}. "
                "Remove it with: " + cli_command(f"config rm --path '{key}'", self.stack)
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
REGISTRY_HOST = r"[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:\d{1,5})?"
# A Kubernetes quantity: a positive decimal with an optional SI, binary or exponent suffix.
QUANTITY = r"(\d+(\.\d*)?|\.\d+)([kMGTPE]|[KMGTPE]i|m|[eE][-+]?\d+)?"
EXTENDED_RESOURCE = rf"{DNS_SUBDOMAIN}/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"


def image(section: Section, name: str, value: Any, example: str) -> str:
    """An image reference with a tag or a digest; `example` goes into the fix."""
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


def models(section: Section, name: str, value: Any) -> tuple[str, ...]:
    example = "'[\"llama3.2\"]'"
    if not isinstance(value, list):
        raise section.fail(name, value, "a list of model names", example)
    for i, model in enumerate(value):
        if not isinstance(model, str) or not re.fullmatch(MODEL_NAME, model):
            raise section.fail(f"{name}[{i}]", model, "a model name such as llama3.2", "llama3.2")
    if len(set(value)) != len(value):
        raise section.fail(name, value, "each model once", example)
    return tuple(value)


def ca_file(section: Section, name: str, value: Any) -> str:
    """A readable PEM file; kept as an absolute path, as the program reads it."""
    example = "/etc/ssl/private-registry-ca.pem"
    if not isinstance(value, str) or not value:
        raise section.fail(name, value, "the path of a PEM CA bundle", example)
    path = Path(value).expanduser()
    try:
        text = path.read_text()
    except OSError as error:
        raise section.fail(
            name, value, f"a readable PEM CA bundle ({error.strerror or error})", example
        ) from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise section.fail(name, value, "a PEM CA bundle (BEGIN CERTIFICATE)", example)
    return str(path.resolve())


def environment(section: Section, name: str, value: Any) -> dict[str, str]:
    env = section.string_map(ENV_NAME, "environment variable names")(name, value)
    for env_name in env:
        if is_managed(env_name):
            managed = ", ".join(sorted(MANAGED_ENV_NAMES))
            raise section.fail(
                f"{name}.{env_name}",
                env[env_name],
                f"any variable but {managed}, {MANAGED_ENV_PREFIX}* (set by the judge) and "
                f"{CLOUD_ENV} (set {PROJECT}:allowCloud instead)",
                "null",
            )
    return env


def quantity(section: Section, name: str, value: Any) -> str:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    text = str(value) if is_number else value
    match = re.fullmatch(QUANTITY, text) if isinstance(text, str) else None
    if not match or float(match.group(1)) <= 0:
        raise section.fail(
            name, value, "a positive Kubernetes quantity such as 4, 500m or 5Gi", "5Gi"
        )
    return str(text)


def docker_gpus(section: Section, name: str, value: Any) -> str | None:
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


def ip_address(section: Section, name: str, value: Any) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise section.fail(
            name,
            value,
            "an IP address: 127.0.0.1 (this host only) or 0.0.0.0 (every interface)",
            "127.0.0.1",
        ) from None
