"""The GPU capacity check: pure verdicts on node lists, and when it steps aside."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubernetes_capacity import check_gpu_capacity, gpu_shortfall, read_nodes
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


def test_shortfall_is_a_config_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(
        "components.kubernetes_capacity.read_nodes", lambda access: [node("gpu-1", 1)]
    )
    with pytest.raises(ConfigError, match=r"insufficient nvidia\.com/gpu"):
        check_gpu_capacity(replace(KubernetesJudgeArgs(), gpu_count=2), ClusterAccess())


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
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def api_server() -> Iterator[FakeApiServer]:
    fake = FakeApiServer()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


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
        check_gpu_capacity(replace(KubernetesJudgeArgs(), gpu_count=2), ClusterAccess(str(path)))
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
