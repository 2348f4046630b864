"""The GPU pre-flight of stack `knitfab` with a kubeconfig whose user authenticates
through an exec credential plugin (as EKS, GKE, AKS and OIDC kubeconfigs do), against
the real test control plane (kube-apiserver with client-certificate authentication;
node `gpu-node-1` with one nvidia.com/gpu; a default StorageClass). The StorageClass check
reads the cluster the same way.

The plugin (exec_credential.py) hands out the admin's client certificate; the kubeconfig
itself holds no credential, so the nodes are read only if the plugin ran.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from pulumi import automation as auto

from components.config import ClusterAccess, Gpu, KubernetesJudgeArgs, Persistence
from components.config_rules import ConfigError
from components.kubernetes.preflight import check_gpu_capacity, check_storage_class, read_nodes
from tests.e2e.engine import ProjectCopy
from tests.e2e.kube_cluster import GPU_NODE, Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.knitfab]

PLUGIN = Path(__file__).with_name("exec_credential.py")
SHORTFALL = f"insufficient nvidia.com/gpu; nodes: {GPU_NODE}: 1"


@pytest.fixture
def plugin_log(tmp_path: Path) -> Path:
    return tmp_path / "plugin.log"


@pytest.fixture
def exec_kubeconfig(cluster: Cluster, tmp_path: Path, plugin_log: Path) -> Path:
    """The admin kubeconfig with its user's certificate and key replaced by the plugin."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    [user] = config["users"]
    user["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(PLUGIN)],
            "env": [
                {"name": "EXEC_CREDENTIAL_FROM", "value": str(cluster.kubeconfig)},
                {"name": "EXEC_CREDENTIAL_LOG", "value": str(plugin_log)},
            ],
            "interactiveMode": "Never",
        }
    }
    path = tmp_path / "exec-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_nodes_are_read_with_an_exec_plugin_kubeconfig(exec_kubeconfig: Path, plugin_log: Path):
    nodes = {
        n["metadata"]["name"]: n for n in read_nodes(ClusterAccess(kubeconfig=str(exec_kubeconfig)))
    }
    assert nodes[GPU_NODE]["status"]["allocatable"]["nvidia.com/gpu"] == "1"
    assert plugin_log.read_text() == "ran\n"


def test_two_gpus_are_a_config_error_with_an_exec_plugin_kubeconfig(exec_kubeconfig: Path):
    two = KubernetesJudgeArgs().model_copy(update={"gpu": Gpu(count=2)})
    with pytest.raises(ConfigError, match=f"gpu.count is 2, .*{SHORTFALL}"):
        check_gpu_capacity(two, ClusterAccess(kubeconfig=str(exec_kubeconfig)))
    # The kubeconfig given as its content, as `kubernetes:kubeconfig` may be, works too.
    with pytest.raises(ConfigError, match=SHORTFALL):
        check_gpu_capacity(two, ClusterAccess(kubeconfig=exec_kubeconfig.read_text()))
    assert (
        check_gpu_capacity(KubernetesJudgeArgs(), ClusterAccess(kubeconfig=str(exec_kubeconfig)))
        is None
    )


def test_the_storage_classes_are_read_with_an_exec_plugin_kubeconfig(
    exec_kubeconfig: Path, plugin_log: Path
):
    access = ClusterAccess(kubeconfig=str(exec_kubeconfig))
    # The cluster's default class takes the committed claim: no warning, no error.
    assert check_storage_class(KubernetesJudgeArgs(), access) is None
    assert plugin_log.read_text() == "ran\n"
    missing = KubernetesJudgeArgs().model_copy(
        update={"persistence": Persistence(storage_class="nfs-client")}
    )
    with pytest.raises(ConfigError, match=r"storageClass is nfs-client, but the cluster has no"):
        check_storage_class(missing, access)


def test_preview_of_two_gpus_stops_with_the_config_error_as_the_user_sees_it(
    engine: dict[str, str], exec_kubeconfig: Path, plugin_log: Path, tmp_path: Path
):
    stack = ProjectCopy(tmp_path).stack(
        "knitfab",
        {
            "kubernetes:kubeconfig": str(exec_kubeconfig),
            "ollama-judge:kubernetes": {"gpu": {"count": 2}},
        },
    )
    with pytest.raises(auto.CommandError) as failed:
        stack.preview()
    message = str(failed.value)
    assert "ollama-judge:kubernetes.gpu.count is 2" in message
    assert SHORTFALL in message
    assert "could not check the cluster's GPU capacity" not in message
    assert "Traceback" not in message
    assert plugin_log.exists()
