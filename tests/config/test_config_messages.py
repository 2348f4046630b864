"""Every config error message, word for word, pinned in tests/golden/config_errors.json.

One case per way a setting can be wrong. The messages are what a user reads to fix the
stack (the key, the value, what is allowed, the command that fixes it), so a change of
how config is parsed must leave each of them as it is. To write the file anew after a
deliberate change of wording: OLLAMA_JUDGE_WRITE_GOLDEN=1, then review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from components.config import parse_settings
from components.config_rules import ConfigError

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "config_errors.json"
PROJECT_DIR = Path(__file__).resolve().parents[2]
NOT_A_CA = str(PROJECT_DIR / "tests" / "golden" / "not-a-ca.txt")
A_CA = str(PROJECT_DIR / "tests" / "golden" / "ca.pem")


def docker(**settings: Any) -> dict[str, Any]:
    return {"target": "docker", "docker": settings}


def kubernetes(**settings: Any) -> dict[str, Any]:
    return {"target": "kubernetes", "kubernetes": settings}


def registry(value: Any) -> dict[str, Any]:
    return {**docker(), "registries": {"reg.example:5000": value}}


CASES: dict[str, dict[str, Any]] = {
    # The whole stack
    "target missing": {},
    "target unknown": {"target": "gcp"},
    "top-level key unknown": {**docker(), "modles": ["llama3.2"]},
    "other target's section set": {**docker(), "kubernetes": {"namespace": "x"}},
    "other target's section empty": {**kubernetes(), "docker": {}},
    "section not an object": {"target": "docker", "docker": "gpus=all"},
    # Both targets
    "image not a string": {**docker(), "image": 123},
    "image with a space": {**docker(), "image": "ollama/ollama 0.9"},
    "image untagged": {**docker(), "image": "ollama/ollama"},
    "image latest": {**kubernetes(), "image": "ollama/ollama:latest"},
    "models not a list": {**docker(), "models": "llama3.2"},
    "model not a string": {**docker(), "models": ["llama3.2", 3]},
    "model name bad": {**docker(), "models": ["bad name!"]},
    "models repeated": {**docker(), "models": ["llama3.2", "llama3.2"]},
    "model pin too short": {**docker(), "models": ["llama3.2:3b@sha256:abc"]},
    "model pin upper case": {**docker(), "models": [f"llama3.2@sha256:{'AB' * 32}"]},
    "model pin not sha256": {**docker(), "models": [f"llama3.2@md5:{'ab' * 16}"]},
    "models repeated, one pinned": {
        **docker(),
        "models": ["judge:1", f"judge:1@sha256:{'a' * 64}"],
    },
    "pull timeout too short": {**docker(), "pullTimeoutSeconds": 10},
    "pull timeout a string": {**docker(), "pullTimeoutSeconds": "600"},
    "pull timeout a boolean": {**docker(), "pullTimeoutSeconds": True},
    "pull attempts zero": {**docker(), "pullAttempts": 0},
    "pull attempts too many": {**kubernetes(), "pullAttempts": 11},
    "environment not an object": {**docker(), "environment": ["A=1"]},
    "environment name bad": {**docker(), "environment": {"1X": "a"}},
    "environment value a list": {**docker(), "environment": {"A": [1]}},
    "environment value a boolean": {**docker(), "environment": {"A": True}},
    "environment value null in a map": {**docker(), "environment": {"A": None}},
    "environment managed": {**docker(), "environment": {"OLLAMA_HOST": "0.0.0.0"}},
    "environment managed prefix": {**docker(), "environment": {"OLLAMA_JUDGE_LOG": "x"}},
    "environment cloud": {**kubernetes(), "environment": {"OLLAMA_NO_CLOUD": "0"}},
    "keep models not a boolean": {**docker(), "keepModelsOnDestroy": "yes"},
    "allow cloud not a boolean": {**docker(), "allowCloud": 1},
    "registries not an object": {**docker(), "registries": ["reg.example:5000"]},
    "registry host bad": {**docker(), "registries": {"reg example/x": {}}},
    "registry not an object": registry("insecure"),
    "registry key unknown": registry({"tls": True}),
    "registry ca file empty": registry({"caFile": ""}),
    "registry ca file not a string": registry({"caFile": 5}),
    "registry ca file missing": registry({"caFile": "/nonexistent/ca.pem"}),
    "registry ca file not PEM": registry({"caFile": NOT_A_CA}),
    "registry insecure not a boolean": registry({"insecure": "yes"}),
    "registry both ca file and insecure": registry({"caFile": A_CA, "insecure": True}),
    # docker
    "docker gpus negative": docker(gpus=-1),
    "docker gpus a word": docker(gpus="some"),
    "docker gpus empty list": docker(gpus=[]),
    "docker gpus list of booleans": docker(gpus=[True]),
    "docker gpus id with a comma": docker(gpus=["a,b"]),
    "docker gpus a boolean": docker(gpus=True),
    "docker publish not a boolean": docker(publish="no"),
    "docker host address a name": docker(hostAddress="localhost"),
    "docker host port zero": docker(hostPort=0),
    "docker host port too high": docker(hostPort=70000),
    "docker host port a string": docker(hostPort="11434"),
    "docker container name bad": docker(containerName="-bad"),
    "docker network name bad": docker(networkName="a b"),
    "docker volume name empty": docker(volumeName=""),
    "docker restart unknown": docker(restart="sometimes"),
    "docker key unknown": docker(gpu="all"),
    # kubernetes
    "kubernetes namespace upper case": kubernetes(namespace="Knitfab"),
    "kubernetes namespace too long": kubernetes(namespace="n" * 64),
    "kubernetes create namespace a string": kubernetes(createNamespace="true"),
    "kubernetes replicas zero": kubernetes(replicas=0),
    "kubernetes replicas too many": kubernetes(replicas=101),
    "kubernetes gpu not an object": kubernetes(gpu=1),
    "kubernetes gpu count negative": kubernetes(gpu={"count": -1}),
    "kubernetes gpu count too high": kubernetes(gpu={"count": 65}),
    "kubernetes gpu resource bad": kubernetes(gpu={"resourceName": "gpu"}),
    "kubernetes gpu key unknown": kubernetes(gpu={"type": "a100"}),
    "kubernetes cpu a word": kubernetes(cpu="four"),
    "kubernetes cpu negative": kubernetes(cpu=-1),
    "kubernetes cpu zero": kubernetes(cpu=0),
    "kubernetes cpu a boolean": kubernetes(cpu=True),
    "kubernetes memory with a space": kubernetes(memory="5 GB"),
    "kubernetes memory a unit only": kubernetes(memory="Gi"),
    "kubernetes node selector a list": kubernetes(nodeSelector=["gpu=true"]),
    "kubernetes node selector key bad": kubernetes(nodeSelector={"-x": "1"}),
    "kubernetes node selector value a list": kubernetes(nodeSelector={"a": [1]}),
    "kubernetes tolerations an object": kubernetes(tolerations={"key": "x"}),
    "kubernetes toleration not an object": kubernetes(tolerations=[1]),
    "kubernetes toleration key bad": kubernetes(tolerations=[{"key": "-x"}]),
    "kubernetes toleration operator unknown": kubernetes(tolerations=[{"operator": "In"}]),
    "kubernetes toleration value on two lines": kubernetes(tolerations=[{"value": "a\nb"}]),
    "kubernetes toleration effect unknown": kubernetes(tolerations=[{"effect": "Never"}]),
    "kubernetes toleration seconds negative": kubernetes(
        tolerations=[{"key": "a", "tolerationSeconds": -1}]
    ),
    "kubernetes second toleration key unknown": kubernetes(
        tolerations=[{"key": "a"}, {"keys": "b"}]
    ),
    "kubernetes runtime class bad": kubernetes(runtimeClassName="Nvidia_"),
    "kubernetes image pull policy lower case": kubernetes(imagePullPolicy="always"),
    "kubernetes persistence not an object": kubernetes(persistence=True),
    "kubernetes persistence enabled a string": kubernetes(persistence={"enabled": "yes"}),
    "kubernetes persistence size a word": kubernetes(persistence={"size": "big"}),
    "kubernetes persistence storage class bad": kubernetes(persistence={"storageClass": "Bad_"}),
    "kubernetes persistence access mode unknown": kubernetes(
        persistence={"accessMode": "ReadOnlyMany"}
    ),
    "kubernetes persistence key unknown": kubernetes(persistence={"class": "x"}),
    "kubernetes network policy enabled a number": kubernetes(networkPolicy={"enabled": 1}),
    "kubernetes network policy pod labels a list": kubernetes(networkPolicy={"podLabels": ["a"]}),
    "kubernetes network policy namespace label key bad": kubernetes(
        networkPolicy={"namespaceLabels": {"bad key": "x"}}
    ),
    "kubernetes network policy key unknown": kubernetes(networkPolicy={"ports": [1]}),
    "kubernetes replicas on a read-write-once claim": kubernetes(
        replicas=2, persistence={"enabled": True}
    ),
    "kubernetes replicas on a default claim with size": kubernetes(
        replicas=5, persistence={"enabled": True, "size": "10Gi"}
    ),
    "kubernetes replicas on the default persistence": kubernetes(replicas=2),
    "kubernetes key unknown": kubernetes(gpus=1),
}

# The stack the fix commands name, and how the user calls the CLI, for a few cases each.
STACKS: dict[str, tuple[str | None, str | None]] = {
    "docker restart unknown": ("local", "scripts/pulumi"),
    "kubernetes replicas on a read-write-once claim": ("knitfab", "scripts/pulumi"),
    "other target's section set": ("local", None),
    "kubernetes gpu key unknown": ("knitfab", None),
}


def message(case: str) -> str:
    stack, cli = STACKS.get(case, (None, None))
    os.environ.pop("OLLAMA_JUDGE_CLI", None)
    if cli:
        os.environ["OLLAMA_JUDGE_CLI"] = cli
    try:
        parse_settings(CASES[case], stack)
    except ConfigError as error:
        return str(error).replace(str(PROJECT_DIR), "<project>")
    finally:
        os.environ.pop("OLLAMA_JUDGE_CLI", None)
    raise AssertionError(f"{case}: no config error")


@pytest.fixture(scope="module")
def golden() -> dict[str, str]:
    if os.environ.get("OLLAMA_JUDGE_WRITE_GOLDEN"):
        written = {case: message(case) for case in CASES}
        GOLDEN.write_text(json.dumps(written, indent=1, ensure_ascii=False) + "\n")
        pytest.fail(f"wrote {GOLDEN}: review the diff, then run without the variable")
    return dict(json.loads(GOLDEN.read_text()))


def test_every_case_is_pinned(golden: dict[str, str]):
    assert sorted(golden) == sorted(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_error_message_is_unchanged(
    case: str, golden: dict[str, str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("OLLAMA_JUDGE_CLI", raising=False)
    assert message(case) == golden[case]
