"""A stand-in for the evaluation's container: a container on the judge's network that
asks `http://ollama:11434/v1/` for a verdict with the `openai` client, building the
request as scripts/judge-check does.

No Python image can be pulled here, so the container runs this host's Python and the
project's virtualenv, bind-mounted read-only into a base-less image (the busybox probe
of docker_host): the same interpreter and `openai` client as the tests, but its own
network namespace, /etc/hosts and resolver, so `ollama` is resolved by Docker's DNS on
the judge's network, exactly as for the evaluation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.docker_host import http_probe_image
from tests.e2e.engine import PROJECT_DIR

# What the evaluation image has built in.
EVALUATION_BASE_URL = "http://ollama:11434/v1/"

# Runs inside the container, from the project directory: one judge question, the raw
# answer as JSON on stdout.
_ASK = """\
import json, sys
import openai
from judge_check.client import TIMEOUT_SECONDS, verdict_request
client = openai.OpenAI(
    base_url=sys.argv[1], api_key="ollama", timeout=TIMEOUT_SECONDS, max_retries=0
)
reply = client.chat.completions.create(**verdict_request(sys.argv[2]))
choice = reply.choices[0]
print(json.dumps({"content": choice.message.content, "finish_reason": choice.finish_reason}))
"""


@dataclass(frozen=True)
class Answer:
    content: str | None
    finish_reason: str | None


def _python_paths() -> list[str]:
    """What a container mounts, read-only and at the same paths, to run this host's
    interpreter, its libraries and the project (with its .venv)."""
    paths = {"/usr", "/lib", "/lib64", sys.base_prefix, sys.prefix, str(PROJECT_DIR)}
    return [p for p in sorted(paths) if Path(p).exists()]


def _python_mounts() -> list[str]:
    return [f"--volume={p}:{p}:ro" for p in _python_paths()]


def ask_from_network(
    network: str, model: str, base_url: str = EVALUATION_BASE_URL
) -> subprocess.CompletedProcess[str]:
    """The judge question, asked from a throwaway container on `network`."""
    return subprocess.run(
        [
            "docker", "run", "--rm", "--network", network, *_python_mounts(),
            f"--workdir={PROJECT_DIR}", f"--entrypoint={sys.executable}",
            http_probe_image(), "-c", _ASK, base_url, model,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )  # fmt: skip


def answer(result: subprocess.CompletedProcess[str]) -> Answer:
    if result.returncode != 0:
        raise AssertionError(f"the evaluation container failed:\n{result.stderr[-3000:]}")
    return answer_from_log(result.stdout)


def job_manifest(name: str, namespace: str, model: str, image: str) -> dict[str, Any]:
    """The judge question as a Job shaped like Knitfab's worker Jobs: no retry
    (`backoffLimit: 0`), no labels of its own, no Service variables, the judge found by
    the short name `ollama` through the cluster's DNS. The interpreter comes from this
    host (hostPath mounts), as in `ask_from_network`."""
    paths = _python_paths()
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "enableServiceLinks": False,
                    "automountServiceAccountToken": False,
                    "containers": [
                        {
                            "name": "evaluation",
                            "image": image,
                            "imagePullPolicy": "Never",
                            "workingDir": str(PROJECT_DIR),
                            "command": [sys.executable, "-c", _ASK, EVALUATION_BASE_URL, model],
                            "volumeMounts": [
                                {"name": f"host-{i}", "mountPath": p, "readOnly": True}
                                for i, p in enumerate(paths)
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": f"host-{i}", "hostPath": {"path": p, "type": "Directory"}}
                        for i, p in enumerate(paths)
                    ],
                }
            },
        },
    }


def answer_from_log(log: str) -> Answer:
    data = json.loads(log.strip().splitlines()[-1])
    return Answer(data["content"], data["finish_reason"])
