"""The throwaway Kubernetes control plane of testcluster/, as the tests use it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.engine import PROJECT_DIR, MissingPartError

TESTCLUSTER = PROJECT_DIR / "testcluster"
GPU_NODE = "gpu-node-1"


@dataclass
class Cluster:
    kubeconfig: Path
    kubectl_path: Path

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        result = subprocess.run(
            [str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            input=stdin,
            # kubectl caches discovery under ~/.kube unless told otherwise.
            env={**os.environ, "KUBECACHEDIR": str(self.kubeconfig.parent / "kubectl-cache")},
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def get(self, *args: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def apply(self, manifest: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))


def _run(script: str, *args: str) -> str:
    result = subprocess.run(
        [str(TESTCLUSTER / script), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise MissingPartError(f"testcluster/{script} failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


@contextmanager
def running_cluster(state_dir: Path) -> Iterator[Cluster]:
    """A control plane with one GPU node, started here and stopped afterwards."""
    bin_dir = Path(_run("build.sh"))
    try:
        kubeconfig = Path(_run("up.sh", str(state_dir)))
        yield Cluster(kubeconfig, bin_dir / "kubectl")
    finally:
        subprocess.run([str(TESTCLUSTER / "down.sh"), str(state_dir)], check=False)
