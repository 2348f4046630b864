"""What the program registers for each stack, pinned in tests/golden/program-*.json.

`__main__.py` runs on Pulumi's mocks with the committed stack files and with configs
that set every option; every resource it registers (type, name, inputs, parent, options
and dependencies) and every output must stay as they are when the code is rearranged.
(The rendered manifests of the real kubernetes provider are pinned beside them by
tests/e2e/test_rendered_golden.py.) To write the files anew after a deliberate change:
OLLAMA_JUDGE_WRITE_GOLDEN=1, then review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.pulumi_program import PROJECT_DIR, run_main, stack_config

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CA = str(PROJECT_DIR / "tests" / "golden" / "ca.pem")

SHARED = {
    "image": "ollama/ollama:0.23.1",
    "models": ["llama3.2", "qwen2.5:7b", "registry.example:5000/library/judge:1"],
    "pullTimeoutSeconds": 900,
    "pullAttempts": 3,
    "environment": {"OLLAMA_NUM_PARALLEL": 4, "OLLAMA_KEEP_ALIVE": "24h"},
    "keepModelsOnDestroy": False,
    "registries": {
        "registry.example:5000": {"caFile": CA},
        "plain.example:5000": {"insecure": True},
    },
    "allowCloud": True,
}

CONFIGS: dict[str, dict[str, Any]] = {
    "local": {},
    "knitfab": {},
    "docker-every-option": {
        **SHARED,
        "target": "docker",
        "docker": {
            "gpus": [0, "GPU-3a2b"],
            "publish": True,
            "hostAddress": "0.0.0.0",
            "hostPort": 18080,
            "containerName": "judge",
            "networkName": "judge-net",
            "volumeName": "judge-models",
            "restart": "on-failure",
        },
    },
    "docker-cpu-unpublished": {
        "target": "docker",
        "models": [],
        "docker": {"gpus": "none", "publish": False, "restart": "no"},
    },
    "kubernetes-every-option": {
        **SHARED,
        "target": "kubernetes",
        "kubernetes": {
            "namespace": "judges",
            "createNamespace": True,
            "replicas": 3,
            "gpu": {"count": 2, "resourceName": "nvidia.com/mig-1g.5gb"},
            "cpu": "2500m",
            "memory": "12Gi",
            "nodeSelector": {"gpu.example/model": "a100", "pool": "judges"},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                {
                    "key": "dedicated",
                    "operator": "Equal",
                    "value": "judge",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
            "runtimeClassName": "nvidia",
            "imagePullPolicy": "Always",
            "persistence": {
                "enabled": True,
                "size": "100Gi",
                "storageClass": "nfs-client",
                "accessMode": "ReadWriteMany",
            },
            "networkPolicy": {
                "enabled": True,
                "podLabels": {"role": "evaluation"},
                "namespaceLabels": {"kubernetes.io/metadata.name": "knitfab"},
            },
        },
    },
    "kubernetes-cpu-policy-in-namespace": {
        "target": "kubernetes",
        "models": ["llama3.2"],
        "kubernetes": {
            "gpu": {"count": 0},
            "persistence": {"enabled": True},
            "networkPolicy": {"enabled": True},
        },
    },
}


def config_of(name: str) -> dict[str, str]:
    if name in ("local", "knitfab"):
        return stack_config(name)
    return {
        f"ollama-judge:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in CONFIGS[name].items()
    }


def registered(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    program = run_main(config_of(name), monkeypatch)
    # Resources register as their inputs resolve, in no fixed order.
    resources = [
        {**dataclasses.asdict(r), "dependencies": sorted(r.dependencies)}
        for r in program.monitor.registered
    ]
    return {
        "resources": sorted(resources, key=lambda r: (r["type"], r["name"])),
        "outputs": program.outputs,
    }


def as_text(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_program_registers_what_it_did(name: str, monkeypatch: pytest.MonkeyPatch):
    found = as_text(registered(name, monkeypatch)).replace(str(PROJECT_DIR), "<project>")
    golden = GOLDEN / f"program-{name}.json"
    if os.environ.get("OLLAMA_JUDGE_WRITE_GOLDEN"):
        golden.write_text(found)
        pytest.fail(f"wrote {golden}: review the diff, then run without the variable")
    assert found == golden.read_text()
