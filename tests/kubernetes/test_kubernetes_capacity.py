"""The GPU capacity check: pure verdicts on node lists, and when it steps aside."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ClusterAccess, Gpu, KubernetesJudgeArgs
from components.config_rules import ConfigError
from components.kubernetes.preflight import check_gpu_capacity, gpu_shortfall, read_nodes
from tests.support.http_server import send_json, serving


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
        [node("gpu-1", 1), node("gpu-2", 1)],
        KubernetesJudgeArgs().model_copy(update={"gpu": Gpu(count=2)}),
    )
    assert message is not None
    assert message.startswith("ollama-judge:kubernetes.gpu.count is 2")
    assert "insufficient nvidia.com/gpu" in message
    assert "gpu-1: 1, gpu-2: 1" in message
    assert "pulumi config set --path 'ollama-judge:kubernetes.gpu.count' 1" in message


def test_cpu_only_judge_needs_no_gpu_node():
    assert (
        gpu_shortfall(
            [node("cpu-1", None)], KubernetesJudgeArgs().model_copy(update={"gpu": Gpu(count=0)})
        )
        is None
    )


def test_other_resource_names_are_counted_by_their_own_name():
    shared = KubernetesJudgeArgs().model_copy(
        update={"gpu": Gpu(resource_name="nvidia.com/gpu.shared")}
    )
    assert gpu_shortfall([node("gpu-1", 4)], shared) is not None


def test_only_selected_and_schedulable_nodes_count():
    nodes = [
        node("gpu-a", 2, {"pool": "a"}),
        node("gpu-b", 2, {"pool": "b"}, unschedulable=True),
    ]
    two = KubernetesJudgeArgs().model_copy(update={"gpu": Gpu(count=2)})
    assert gpu_shortfall(nodes, two.model_copy(update={"node_selector": {"pool": "a"}})) is None
    assert gpu_shortfall(nodes, two.model_copy(update={"node_selector": {"pool": "b"}})) is not None
    assert "none match" in (
        gpu_shortfall(nodes, two.model_copy(update={"node_selector": {"pool": "c"}})) or ""
    )


def replicas(count: int, gpus: int = 1, **settings: Any) -> KubernetesJudgeArgs:
    return KubernetesJudgeArgs().model_copy(
        update={"replicas": count, "gpu": Gpu(count=gpus), **settings}
    )


def test_each_replica_needs_its_gpus_on_one_node():
    nodes = [node("gpu-1", 1), node("gpu-2", 2), node("cpu-1", None)]
    assert gpu_shortfall(nodes, replicas(3)) is None, "a node of 2 holds two pods of 1"
    assert gpu_shortfall(nodes, replicas(4)) is not None
    # Two pods of 2: only gpu-2 can hold one, though the nodes have 3 GPUs between them.
    assert gpu_shortfall(nodes, replicas(1, gpus=2)) is None
    assert gpu_shortfall(nodes, replicas(2, gpus=2)) is not None


def test_replicas_that_do_not_fit_say_how_many_fit_and_where():
    nodes = [node("gpu-1", 1), node("gpu-2", 2), node("gpu-3", 1), node("cpu-1", None)]
    message = gpu_shortfall(nodes, replicas(5), "knitfab")
    assert message == (
        "ollama-judge:kubernetes.replicas is 5, but the schedulable nodes can hold only 4 "
        "judge pods of 1 nvidia.com/gpu each (insufficient nvidia.com/gpu; each pod needs its "
        "GPUs on one node; pods per node: gpu-2: 2 (2 nvidia.com/gpu), gpu-1: 1 (1 "
        "nvidia.com/gpu), gpu-3: 1 (1 nvidia.com/gpu)). Fix it with: pulumi config set --path "
        "'ollama-judge:kubernetes.replicas' 4 --stack knitfab, or add GPU nodes"
    )


def test_fewer_gpus_per_pod_are_offered_as_a_fix_when_they_would_fit():
    nodes = [node("gpu-1", 4), node("gpu-2", 4)]
    message = gpu_shortfall(nodes, replicas(4, gpus=4)) or ""
    assert "can hold only 2 judge pods of 4 nvidia.com/gpu each" in message
    assert "--path 'ollama-judge:kubernetes.replicas' 2, or " in message
    assert "--path 'ollama-judge:kubernetes.gpu.count' 2, or add GPU nodes" in message


def test_cordoned_and_unselected_nodes_hold_no_replica():
    nodes = [
        node("gpu-a", 1, {"pool": "a"}),
        node("gpu-b", 1, {"pool": "a"}, unschedulable=True),
        node("gpu-c", 1, {"pool": "c"}),
    ]
    assert gpu_shortfall(nodes, replicas(2)) is None
    message = gpu_shortfall(nodes, replicas(2, node_selector={"pool": "a"})) or ""
    assert "can hold only 1 judge pod of 1 nvidia.com/gpu each" in message
    assert "pods per node: gpu-a: 1 (1 nvidia.com/gpu))" in message


def test_fifty_nodes_fit_fifty_replicas_and_a_long_list_is_cut():
    nodes = [node(f"gpu-node-{i}", 1) for i in range(1, 51)]
    assert gpu_shortfall(nodes, replicas(50)) is None
    message = gpu_shortfall(nodes, replicas(51)) or ""
    assert "can hold only 50 judge pods" in message
    assert "gpu-node-1: 1 (1 nvidia.com/gpu), gpu-node-10: 1" in message
    assert " and 40 more)" in message


def test_cpu_only_replicas_are_not_counted():
    assert gpu_shortfall([node("cpu-1", None)], replicas(100, gpus=0)) is None


def test_rendering_to_yaml_needs_no_cluster():
    access = ClusterAccess(render_directory="rendered")
    assert (
        check_gpu_capacity(KubernetesJudgeArgs().model_copy(update={"gpu": Gpu(count=64)}), access)
        is None
    )


def test_an_unreadable_cluster_skips_the_check_with_the_reason(tmp_path: Path):
    access = ClusterAccess(kubeconfig=str(tmp_path / "missing"))
    assert "could not check" in (check_gpu_capacity(KubernetesJudgeArgs(), access) or "")


def test_shortfall_is_a_config_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(
        "components.kubernetes.preflight.read_nodes", lambda access: [node("gpu-1", 1)]
    )
    with pytest.raises(ConfigError, match=r"insufficient nvidia\.com/gpu"):
        check_gpu_capacity(
            KubernetesJudgeArgs().model_copy(update={"gpu": Gpu(count=2)}), ClusterAccess()
        )


# --- reading the nodes with the provider's kubeconfig, from a fake API server ----------

TOKEN = "from-the-plugin"


class FakeApiServer:
    """Answers GET /api/v1/nodes over plain HTTP with one GPU node, to the bearer token
    TOKEN only; remembers the Authorization headers it saw."""

    def __init__(self) -> None:
        self.authorizations: list[str | None] = []
        seen = self.authorizations

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self.reply(401, {"kind": "Status", "message": "Unauthorized"})
                else:
                    self.reply(200, {"kind": "NodeList", "items": [node("gpu-node-1", 1)]})

            def reply(self, status: int, body: dict[str, Any]) -> None:
                send_json(self, status, body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def api_server() -> Iterator[FakeApiServer]:
    fake = FakeApiServer()
    with serving(fake.server):
        yield fake


def exec_plugin(tmp_path: Path, token: str = TOKEN, fails_with: str | None = None) -> Path:
    """A credential plugin as EKS, GKE or AKS kubeconfigs run one: prints an
    ExecCredential, or fails with a message on stderr."""
    script = tmp_path / "get-credential"
    body = (
        f"sys.exit({fails_with!r})"
        if fails_with
        else "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
        f"'kind': 'ExecCredential', 'status': {{'token': {token!r}}}}}))"
    )
    script.write_text(f"#!{sys.executable}\nimport json, sys\n{body}\n")
    script.chmod(0o755)
    return script


def kubeconfig(server: str, plugin: Path, context: str = "judge") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": context,
        "contexts": [{"name": context, "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": server}}],
        "users": [
            {
                "name": "u",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1",
                        "command": str(plugin),
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
    }


def test_an_exec_plugins_credentials_read_the_nodes(api_server: FakeApiServer, tmp_path: Path):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig(api_server.url, exec_plugin(tmp_path))))
    with pytest.raises(ConfigError, match=r"nodes: gpu-node-1: 1\)"):
        check_gpu_capacity(
            KubernetesJudgeArgs().model_copy(update={"gpu": Gpu(count=2)}),
            ClusterAccess(kubeconfig=str(path)),
        )
    assert api_server.authorizations == [f"Bearer {TOKEN}"]


@pytest.mark.parametrize("encode", [yaml.safe_dump, json.dumps], ids=["yaml", "json"])
def test_the_kubeconfig_setting_may_be_the_kubeconfig_itself(
    api_server: FakeApiServer, tmp_path: Path, encode
):
    content = encode(kubeconfig(api_server.url, exec_plugin(tmp_path)))
    [gpu_node] = read_nodes(ClusterAccess(kubeconfig=content))
    assert gpu_node["metadata"]["name"] == "gpu-node-1"
    assert gpu_node["status"]["allocatable"]["nvidia.com/gpu"] == "1"


def test_a_kubeconfig_too_long_to_be_a_file_name_is_taken_as_the_kubeconfig(
    api_server: FakeApiServer, tmp_path: Path
):
    config = kubeconfig(api_server.url, exec_plugin(tmp_path))
    # Embedded certificates make lines far longer than a file name may be.
    config["clusters"][0]["cluster"]["extensions"] = [{"name": "x" * 300, "extension": {}}]
    [gpu_node] = read_nodes(ClusterAccess(kubeconfig=yaml.safe_dump(config)))
    assert gpu_node["metadata"]["name"] == "gpu-node-1"


def test_kubeconfig_lists_in_the_environment_are_merged(
    api_server: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "second"
    path.write_text(yaml.safe_dump(kubeconfig(api_server.url, exec_plugin(tmp_path))))
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "absent"), str(path)]))
    assert [n["metadata"]["name"] for n in read_nodes(ClusterAccess())] == ["gpu-node-1"]


def test_the_context_setting_chooses_among_the_kubeconfigs_contexts(
    api_server: FakeApiServer, tmp_path: Path
):
    config = kubeconfig("https://127.0.0.1:1", exec_plugin(tmp_path), context="elsewhere")
    config["contexts"].append({"name": "judge", "context": {"cluster": "fake", "user": "u"}})
    config["clusters"].append({"name": "fake", "cluster": {"server": api_server.url}})
    access = ClusterAccess(kubeconfig=yaml.safe_dump(config), context="judge")
    assert [n["metadata"]["name"] for n in read_nodes(access)] == ["gpu-node-1"]


def test_a_failing_plugin_skips_the_check_with_the_plugins_words(
    api_server: FakeApiServer, tmp_path: Path
):
    plugin = exec_plugin(tmp_path, fails_with="token expired: run aws sso login")
    config = yaml.safe_dump(kubeconfig(api_server.url, plugin))
    reason = check_gpu_capacity(KubernetesJudgeArgs(), ClusterAccess(kubeconfig=config))
    assert reason is not None
    assert f"listing nodes at {api_server.url} failed: 401" in reason
    assert "token expired: run aws sso login" in reason


def test_an_unreachable_cluster_skips_the_check_naming_the_server(tmp_path: Path):
    config = yaml.safe_dump(kubeconfig("https://127.0.0.1:1", exec_plugin(tmp_path)))
    reason = check_gpu_capacity(KubernetesJudgeArgs(), ClusterAccess(kubeconfig=config))
    assert reason is not None
    assert "listing nodes at https://127.0.0.1:1 failed" in reason
