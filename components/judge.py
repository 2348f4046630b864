"""What every judge deployment shares: the port, host name and URL shapes (a contract: the
evaluation image has `http://ollama:11434/v1/` baked in), the model script that runs in the
Ollama container (Docker's entrypoint and healthcheck, Kubernetes' hook and probes) and its
settings, and `JudgeComponent`, the targets' outputs.
"""

from importlib import resources
from pathlib import Path

import pulumi

from components.config import JudgeSettings
from components.config_rules import CLOUD_ENV, split_pin
from components.readiness import JudgeIdentity

OLLAMA_PORT = 11434
JUDGE_HOST = "ollama"
# Where the models' volume is mounted on Docker: the manual's `-v ollama:/root/.ollama`, the
# Ollama server's own directory as root (its models/ and its key). Kubernetes runs the judge
# as another user (kubernetes/container.py) and mounts the same layout elsewhere.
MODELS_PATH = "/root/.ollama"

# The Ollama image sets NVIDIA_VISIBLE_DEVICES=all, so a container that was given no GPU
# still sees every GPU on a host whose default runtime is NVIDIA's. "void" hides them.
NO_GPU_ENV = {"NVIDIA_VISIBLE_DEVICES": "void"}

# An evaluation sends requests in bursts with idle minutes between runs; Ollama's default
# unloads a model after five idle minutes, and the next run would wait for the load.
DEFAULT_ENV = {"OLLAMA_KEEP_ALIVE": "-1"}

# How long `ollama serve` may take to answer before the model script gives up.
SERVER_WAIT_SECONDS = 120

# The script as it is embedded in container specs, without comments: they are for this
# repo's readers, and every byte shows up in `kubectl describe` and in preview diffs.
_source = resources.files(__package__).joinpath("ollama-judge.sh").read_text()
_lines = (line.rstrip() for line in _source.splitlines())
MODEL_SCRIPT = "".join(f"{line}\n" for line in _lines if line and not line.lstrip().startswith("#"))

# Every target's outputs: the stack's export name of each, and the component's attribute.
OUTPUTS = {
    "evaluationUrl": "evaluation_url",
    "openaiBaseUrl": "openai_base_url",
    "hostUrl": "host_url",
    "models": "models",
    "modelDigests": "model_digests",
    "ollamaVersion": "ollama_version",
    "image": "image",
    "gpus": "gpus",
}


def evaluation_url(host: str) -> str:
    return f"http://{host}:{OLLAMA_PORT}"


def model_script_command(mode: str, models: tuple[str, ...]) -> list[str]:
    """The argv that runs the model script in `mode` ("serve", "pull" or "check")."""
    return ["/bin/sh", "-c", MODEL_SCRIPT, "ollama-judge", mode, *models]


def server_env(settings: JudgeSettings) -> dict[str, str]:
    """The server's and the model script's settings."""
    env = {
        **DEFAULT_ENV,
        **settings.environment,
        "OLLAMA_JUDGE_PULL_SECONDS": str(settings.pull_timeout_seconds),
        "OLLAMA_JUDGE_PULL_ATTEMPTS": str(settings.pull_attempts),
        "OLLAMA_JUDGE_SERVER_WAIT_SECONDS": str(SERVER_WAIT_SECONDS),
    }
    if not settings.allow_cloud:
        env[CLOUD_ENV] = "1"
    insecure = sorted(host for host, registry in settings.registries.items() if registry.insecure)
    if insecure:
        env["OLLAMA_JUDGE_INSECURE_REGISTRIES"] = " ".join(insecure)
    return env


def registry_ca_files(settings: JudgeSettings) -> dict[str, str]:
    """The private registries' CA bundles, as files for the judge: Go's certificate loader
    reads every file of /etc/ssl/certs besides the public CAs."""
    files = {}
    for host, registry in sorted(settings.registries.items()):
        if registry.ca_file:
            path = f"/etc/ssl/certs/ollama-judge-{host.replace(':', '-')}.crt"
            files[path] = Path(registry.ca_file).read_text()
    return files


def ready_within_seconds(pull_seconds: int) -> int:
    """Longest a healthy start may take: the server's start, then every pull."""
    return SERVER_WAIT_SECONDS + pull_seconds


class JudgeComponent(pulumi.ComponentResource):
    evaluation_url: pulumi.Output[str]
    openai_base_url: pulumi.Output[str]
    host_url: pulumi.Output[str | None]
    models: pulumi.Output[list[str]]
    model_digests: pulumi.Output[dict[str, str] | None]
    ollama_version: pulumi.Output[str | None]
    image: pulumi.Output[str]
    gpus: pulumi.Output[str]

    def _publish(
        self,
        evaluation_url: pulumi.Output[str],
        host_url: str | None,
        settings: JudgeSettings,
        gpus: str,
        identity: pulumi.Output[JudgeIdentity | None],
    ) -> None:
        """Sets every output and registers them; the last call of a subclass's __init__.
        `identity`: what the judge said of its models and server once ready (None where no
        judge runs: a rendering)."""
        self.evaluation_url = evaluation_url
        self.openai_base_url = evaluation_url.apply(lambda url: f"{url}/v1")
        self.host_url = pulumi.Output.from_input(host_url)
        # What clients send as `model`: the names, without their pins.
        names = [split_pin(model)[0] for model in settings.models]
        self.models = pulumi.Output.from_input(names)
        self.model_digests = identity.apply(
            lambda said: {n: d for n in names if (d := said.digests.get(n))} if said else None
        )
        self.ollama_version = identity.apply(lambda said: said.version if said else None)
        self.image = pulumi.Output.from_input(settings.image)
        # What the judge was given ("all", "2", "device=0,1", "1 nvidia.com/gpu", "none"):
        # with docker.gpus auto, what the engine offered.
        self.gpus = pulumi.Output.from_input(gpus)
        self.register_outputs({name: getattr(self, name) for name in OUTPUTS.values()})
