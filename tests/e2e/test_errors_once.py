"""An error reaches the user once: `scripts/pulumi` run as typed, in a copy of the
project, with the real engine; the output is searched for the error's words.

A config error stops the program before it declares anything, so these runs touch no
cluster and no Docker engine; the kubeconfig points at a port where nothing listens.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.engine import user_clone

pytestmark = [pytest.mark.e2e, pytest.mark.engine]

TYPO = "ollama-judge:kubernetes.replica"
UNKNOWN_KEY = f"{TYPO} is not a setting; known here: "
REMOVE_IT = f"Remove it with: scripts/pulumi config rm --path '{TYPO}' --stack knitfab"
BAD_GPUS = "ollama-judge:docker.gpus is 'some'; allowed: \"auto\", "
SET_IT = (
    "Fix it with: scripts/pulumi config set --path 'ollama-judge:docker.gpus' auto --stack local"
)
UNREACHABLE = "configured Kubernetes cluster is unreachable"
NOWHERE = """\
apiVersion: v1
kind: Config
clusters: [{name: nowhere, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: nobody, user: {token: none}}]
contexts: [{name: nowhere, context: {cluster: nowhere, user: nobody}}]
current-context: nowhere
"""


@pytest.fixture
def clone(engine: dict[str, str], tmp_path: Path) -> Path:
    """The project as a user's clone, sharing this checkout's .venv (the pins are the same)."""
    clone = user_clone(tmp_path)
    return clone


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    state = tmp_path / "state"
    state.mkdir()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(NOWHERE)
    return {**os.environ, "PULUMI_BACKEND_URL": f"file://{state}", "KUBECONFIG": str(kubeconfig)}


def pulumi(clone: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    """`scripts/pulumi ARGS` as typed; its exit status and all it printed."""
    result = subprocess.run(
        ["scripts/pulumi", *args],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout


@pytest.mark.parametrize(
    "operation",
    [("preview",), ("preview", "--diff"), ("up", "--yes")],
    ids=["preview", "preview-diff", "up"],
)
def test_a_config_error_is_shown_once_with_its_fix(
    clone: Path, env: dict[str, str], operation: tuple[str, ...]
):
    code, _ = pulumi(clone, env, "config", "set", "--path", TYPO, "3", "--stack", "knitfab")
    assert code == 0

    code, output = pulumi(clone, env, *operation, "--stack", "knitfab")

    assert code == 1, output
    assert output.count(UNKNOWN_KEY) == 1, output
    assert output.count(REMOVE_IT) == 1, output
    assert "replicas" in output.split(UNKNOWN_KEY, 1)[1].split(".", 1)[0], output
    assert "an unhandled error occurred" not in output, output
    assert f"scripts/pulumi {operation[0]} --stack knitfab failed" in output, output


def test_a_config_error_of_the_local_stack_is_shown_once(clone: Path, env: dict[str, str]):
    code, _ = pulumi(
        clone,
        env,
        "config",
        "set",
        "--path",
        "ollama-judge:docker.gpus",
        "some",
        "--stack",
        "local",
    )
    assert code == 0

    code, output = pulumi(clone, env, "preview", "--stack", "local")

    assert code == 1, output
    assert output.count(BAD_GPUS) == 1, output
    assert output.count(SET_IT) == 1, output


def test_an_unreachable_cluster_is_shown_once(clone: Path, env: dict[str, str]):
    code, output = pulumi(clone, env, "up", "--yes", "--stack", "knitfab")

    assert code == 1, output
    assert output.count(UNREACHABLE) == 1, output
    assert "scripts/pulumi up --stack knitfab failed" in output, output
