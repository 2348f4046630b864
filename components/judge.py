"""What every judge deployment shares, whatever runs it.

The evaluation image has `http://ollama:11434/v1/` baked in, so the port, the host
name and the URL shapes here are a contract, not a preference. The model script is the
one piece of code that runs inside the Ollama container: Docker runs it as the
entrypoint and healthcheck, Kubernetes as the postStart hook and the probes.
"""

from __future__ import annotations

from importlib import resources

from components.settings import JudgeSettings

OLLAMA_PORT = 11434
JUDGE_HOST = "ollama"
MODELS_PATH = "/root/.ollama"

# The Ollama image sets NVIDIA_VISIBLE_DEVICES=all, so a container that was given no GPU
# still sees every GPU on a host whose default runtime is NVIDIA's. "void" hides them.
NO_GPU_ENV = {"NVIDIA_VISIBLE_DEVICES": "void"}

# Variables the judge manages itself; users may not override them through `environment`.
MANAGED_ENV_NAMES = frozenset(
    {"OLLAMA_HOST", "OLLAMA_MODELS", "NVIDIA_VISIBLE_DEVICES"}
    | {
        f"OLLAMA_JUDGE_{suffix}"
        for suffix in ("LOG", "PULL_SECONDS", "PULL_ATTEMPTS", "SERVER_WAIT_SECONDS")
    }
)

# How long `ollama serve` may take to answer before the model script gives up.
SERVER_WAIT_SECONDS = 120


def _without_comments(script: str) -> str:
    """The script as it is embedded in container specs: comments are for this repo's
    readers, and every byte shows up in `kubectl describe` and in preview diffs."""
    lines = (line.rstrip() for line in script.splitlines())
    return "\n".join(line for line in lines if line and not line.lstrip().startswith("#")) + "\n"


MODEL_SCRIPT = _without_comments(
    resources.files(__package__).joinpath("scripts/ollama-judge.sh").read_text()
)


def evaluation_url(host: str) -> str:
    return f"http://{host}:{OLLAMA_PORT}"


def openai_base_url(url: str) -> str:
    return f"{url}/v1"


def model_script_command(mode: str, models: tuple[str, ...]) -> list[str]:
    """The argv that runs the model script in `mode` ("serve", "pull" or "check")."""
    return ["/bin/sh", "-c", MODEL_SCRIPT, "ollama-judge", mode, *models]


def model_script_env(settings: JudgeSettings) -> dict[str, str]:
    return {
        "OLLAMA_JUDGE_PULL_SECONDS": str(settings.pull_timeout_seconds),
        "OLLAMA_JUDGE_PULL_ATTEMPTS": str(settings.pull_attempts),
        "OLLAMA_JUDGE_SERVER_WAIT_SECONDS": str(SERVER_WAIT_SECONDS),
    }


def ready_within_seconds(pull_seconds: int) -> int:
    """Longest a healthy start may take: the server's start, then every pull."""
    return SERVER_WAIT_SECONDS + pull_seconds
