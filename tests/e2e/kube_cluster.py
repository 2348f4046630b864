"""The throwaway Kubernetes control plane of testcluster/, as the tests use it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.engine import PROJECT_DIR, MissingPartError

TESTCLUSTER = PROJECT_DIR / "testcluster"
GPU_NODE = "gpu-node-1"
# The clusters' default StorageClass, which the committed stack's claim names none but gets.
STORAGE_CLASS = "e2e-local"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
EVERY_NODE = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "Exists"}]}


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

    def default_storage(self, directories: Sequence[str]) -> None:
        """A default StorageClass without a provisioner, and a `local` volume of it in each
        of `directories`, as a cluster without dynamic provisioning offers them: a claim binds
        one, which stays Released once the claim is deleted (Retain). A `local` volume, unlike
        a hostPath one, has its files given to the pod's fsGroup by the kubelet, as a CSI
        driver's are. Every node may use each volume: the nodes of these clusters all run on
        this machine, and only the real one mounts anything."""
        self.apply(
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": STORAGE_CLASS, "annotations": {DEFAULT_CLASS: "true"}},
                "provisioner": "kubernetes.io/no-provisioner",
                "volumeBindingMode": "Immediate",
            }
        )
        for number, directory in enumerate(directories, 1):
            self.apply(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {"name": f"{STORAGE_CLASS}-{number}"},
                    "spec": {
                        "capacity": {"storage": "100Gi"},
                        "accessModes": ["ReadWriteOnce"],
                        "persistentVolumeReclaimPolicy": "Retain",
                        "storageClassName": STORAGE_CLASS,
                        "local": {"path": directory},
                        "nodeAffinity": {"required": {"nodeSelectorTerms": [EVERY_NODE]}},
                    },
                }
            )

    @contextmanager
    def paused(self, component: str) -> Iterator[None]:
        """A control-plane process of up.sh stopped (SIGSTOP) for the duration."""
        pid = int((self.kubeconfig.parent / "pids" / f"{component}.pid").read_text().split()[0])
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)


def _run(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(TESTCLUSTER / script), *args], capture_output=True, text=True, check=False, env=env
    )
    if result.returncode != 0:
        raise MissingPartError(f"testcluster/{script} failed:\n{result.stderr[-3000:]}")
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


@contextmanager
def running_cluster(
    state_dir: Path,
    fake_nodes: int = 1,
    real_node_images: Sequence[str] | None = None,
    real_node_gpus: int = 1,
) -> Iterator[Cluster]:
    """A control plane with `fake_nodes` simulated GPU nodes, and with `real_node_images`
    a real node too (testcluster/node.py) that runs those images and offers
    `real_node_gpus` GPUs; started here and stopped afterwards."""
    bin_dir = Path(_run("build.sh"))
    env = {
        **os.environ,
        "TESTCLUSTER_BIN": str(bin_dir),
        "TESTCLUSTER_FAKE_NODES": str(fake_nodes),
        "TESTCLUSTER_NODE_GPUS": str(real_node_gpus),
    }
    try:
        kubeconfig = Path(_run("up.sh", str(state_dir), env=env))
        if real_node_images is not None:
            _run("node.py", "up", str(state_dir), *real_node_images, env=env)
        yield Cluster(kubeconfig, bin_dir / "kubectl")
    finally:
        if real_node_images is not None:
            subprocess.run([str(TESTCLUSTER / "node.py"), "down", str(state_dir)], check=False)
        subprocess.run([str(TESTCLUSTER / "down.sh"), str(state_dir)], check=False)
