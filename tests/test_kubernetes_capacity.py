"""The GPU capacity check: pure verdicts on node lists, and when it steps aside."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from components.kubernetes_capacity import check_gpu_capacity, gpu_shortfall
from components.settings import ClusterAccess, ConfigError, KubernetesJudgeArgs


def node(name: str, gpus: int | None, labels: dict[str, str] | None = None, **spec) -> dict:
    allocatable = {"cpu": "16", "memory": "64Gi"}
    if gpus is not None:
        allocatable["nvidia.com/gpu"] = str(gpus)
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec,
        "status": {"allocatable": allocatable},
    }


def test_one_gpu_node_holds_the_default_judge():
    assert gpu_shortfall([node("cpu-1", None), node("gpu-1", 1)], KubernetesJudgeArgs()) is None


def test_two_gpus_do_not_fit_on_one_gpu_nodes_and_the_message_says_why():
    message = gpu_shortfall(
        [node("gpu-1", 1), node("gpu-2", 1)], replace(KubernetesJudgeArgs(), gpu_count=2)
    )
    assert message is not None
    assert message.startswith("ollama-judge:kubernetes.gpu.count is 2")
    assert "insufficient nvidia.com/gpu" in message
    assert "gpu-1: 1, gpu-2: 1" in message
    assert "pulumi config set --path 'ollama-judge:kubernetes.gpu.count' 1" in message


def test_cpu_only_judge_needs_no_gpu_node():
    assert gpu_shortfall([node("cpu-1", None)], replace(KubernetesJudgeArgs(), gpu_count=0)) is None


def test_other_resource_names_are_counted_by_their_own_name():
    shared = replace(KubernetesJudgeArgs(), gpu_resource="nvidia.com/gpu.shared")
    assert gpu_shortfall([node("gpu-1", 4)], shared) is not None


def test_only_selected_and_schedulable_nodes_count():
    nodes = [
        node("gpu-a", 2, {"pool": "a"}),
        node("gpu-b", 2, {"pool": "b"}, unschedulable=True),
    ]
    two = replace(KubernetesJudgeArgs(), gpu_count=2)
    assert gpu_shortfall(nodes, replace(two, node_selector={"pool": "a"})) is None
    assert gpu_shortfall(nodes, replace(two, node_selector={"pool": "b"})) is not None
    assert "none match" in (gpu_shortfall(nodes, replace(two, node_selector={"pool": "c"})) or "")


def test_rendering_to_yaml_needs_no_cluster():
    access = ClusterAccess(render_directory="rendered")
    assert check_gpu_capacity(replace(KubernetesJudgeArgs(), gpu_count=64), access) is None


def test_an_unreadable_cluster_skips_the_check_with_the_reason(tmp_path: Path):
    access = ClusterAccess(kubeconfig=str(tmp_path / "missing"))
    assert "could not check" in (check_gpu_capacity(KubernetesJudgeArgs(), access) or "")


def test_plugin_authentication_skips_the_check():
    kubeconfig = """
apiVersion: v1
kind: Config
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {exec: {command: get-token}}}]
"""
    reason = check_gpu_capacity(KubernetesJudgeArgs(), ClusterAccess(kubeconfig=kubeconfig))
    assert reason is not None and "plugin" in reason


def test_shortfall_is_a_config_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(
        "components.kubernetes_capacity.read_nodes", lambda access: [node("gpu-1", 1)]
    )
    with pytest.raises(ConfigError, match=r"insufficient nvidia\.com/gpu"):
        check_gpu_capacity(replace(KubernetesJudgeArgs(), gpu_count=2), ClusterAccess())
