"""Asks each model's registry, before anything changes, whether it has the model: a
misspelt model or tag is otherwise found only by the judge's pull, after the old judge was
replaced. A registry that cannot be reached from here, or wants a login, is a warning. One
GET per model: `requests` (which the Docker client brings) makes it, where a registry
client library would add a dependency tree.
"""

import requests

from components.config import JudgeSettings, Registry
from components.config_rules import PROJECT, ConfigError, cli_command, split_pin

TIMEOUT_SECONDS = 5


def registry_and_manifest(reference: str) -> tuple[str, str]:
    """[[host/]namespace/]model[:tag] as its registry's host and its manifest's path, with
    Ollama's defaults for what is left out."""
    parts = reference.split("/")
    name, _, tag = parts[-1].partition(":")
    namespace = parts[-2] if len(parts) >= 2 else "library"
    host = parts[-3] if len(parts) >= 3 else "registry.ollama.ai"
    return host, f"/v2/{namespace}/{name}/manifests/{tag or 'latest'}"


def manifest_status(url: str, verify: str | bool) -> tuple[int, str | None]:
    """The registry's answer, and the digest it names for the manifest (what a pull of the
    tag gets now), as Ollama asks for it."""
    headers = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    answer = requests.get(url, headers=headers, verify=verify, timeout=TIMEOUT_SECONDS)
    return answer.status_code, answer.headers.get("Docker-Content-Digest")


def check_models(settings: JudgeSettings, stack: str | None) -> list[str]:
    """Raises ConfigError for a model its registry lacks; returns warnings for those unchecked."""
    warnings = []
    for index, model in enumerate(settings.models):
        name, pin = split_pin(model)
        host, manifest = registry_and_manifest(name)
        registry = settings.registries.get(host) or Registry()
        url = f"{'http' if registry.insecure else 'https'}://{host}{manifest}"
        key = f"{PROJECT}:models[{index}]"
        unchecked = f"; the judge's pull will tell{', and it checks the pin' if pin else ''}"
        try:
            status, digest = manifest_status(url, registry.ca_file or True)
        except requests.RequestException as error:
            warnings.append(
                f"could not check that registry {host} has {name} "
                f"(GET {url}: {type(error).__name__}){unchecked}"
            )
            continue
        if status == 404:
            raise ConfigError(
                f"{key} is {model!r}, but registry {host} has no such model "
                f"(GET {url} answered 404). Nothing was changed. Check the name and tag, "
                f"or push the model there; the list: "
                + cli_command(f"config get {PROJECT}:models", stack)
            )
        if status != 200:
            warnings.append(f"could not check that registry {host} has {name}: GET {url} "
                            f"answered {status}{unchecked}")  # fmt: skip
        elif pin and not digest:
            warnings.append(f"registry {host} did not name the digest of {name} (GET {url}); "
                            "the judge checks the pin")  # fmt: skip
        elif pin and digest != pin:
            repin = cli_command(f"config set --path '{key}' '{name}@{digest}'", stack)
            raise ConfigError(
                f"{key} pins {name} to {pin}, but registry {host} now has {digest} under that "
                "name: a judge that pulled it would be another model, whose scores do not "
                "compare. Nothing was changed; the running judge keeps its model. Either pin "
                f"the new model: {repin}; or keep the pinned one: push it to {host} again "
                "under that name (or under a name of its own, and pin that)"
            )
    return warnings
