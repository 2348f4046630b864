"""The configs testcluster/node.py writes for the real test node (pure functions; the
node itself is driven by tests/e2e/test_knitfab_node.py)."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "testcluster"))
import node_config as node
import pytest

PATHS = node.Paths(Path("/state"))


def by_kind(manifests: list[dict], kind: str) -> dict:
    [found] = [m for m in manifests if m["kind"] == kind]
    return found


def test_cluster_dns_service_reaches_coredns_on_the_hosts_port():
    manifests = node.cluster_manifests("192.0.2.2", 10053)
    service = by_kind(manifests, "Service")
    endpoints = by_kind(manifests, "EndpointSlice")
    assert service["spec"]["clusterIP"] == node.DNS_IP
    assert {p["targetPort"] for p in service["spec"]["ports"]} == {10053}
    assert endpoints["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    assert endpoints["endpoints"][0]["addresses"] == ["192.0.2.2"]
    assert {(p["name"], p["port"]) for p in endpoints["ports"]} == {
        (p["name"], 10053) for p in service["spec"]["ports"]
    }


def test_the_cpu_policy_rewrites_only_the_real_nodes_capacity_and_allocatable():
    policy = by_kind(node.cluster_manifests("192.0.2.2", 10053), "MutatingAdmissionPolicy")
    [rule] = policy["spec"]["matchConstraints"]["resourceRules"]
    assert "nodes/status" in rule["resources"]
    [condition] = policy["spec"]["matchConditions"]
    assert f'object.metadata.name == "{node.NODE}"' in condition["expression"]
    expression = policy["spec"]["mutations"][0]["jsonPatch"]["expression"]
    for field in ("capacity", "allocatable"):
        assert f'path: "/status/{field}/cpu", value: "{node.NODE_CPUS}"' in expression


def test_pods_get_addresses_inside_the_clusters_pod_range_with_the_dns_of_the_cluster():
    bridge = node.cni_config(PATHS)["plugins"][0]
    subnet = ipaddress.ip_network(bridge["ipam"]["ranges"][0][0]["subnet"])
    assert subnet.subnet_of(ipaddress.ip_network(node.POD_RANGE))
    assert bridge["ipam"]["dataDir"].startswith("/state/node/")
    kubelet = node.kubelet_config(PATHS, 10250)
    assert kubelet["clusterDNS"] == [node.DNS_IP]
    assert kubelet["containerRuntimeEndpoint"] == f"unix://{PATHS.containerd_socket}"


def test_containerd_keeps_everything_under_the_state_dir():
    config = node.containerd_config(PATHS, "testcluster.invalid/pause:abc")
    for key in ("root", "state"):
        assert f'{key} = "/state/node/containerd/' in config
    assert 'address = "/state/node/containerd/containerd.sock"' in config
    assert 'sandbox_image = "testcluster.invalid/pause:abc"' in config


def test_node_refuses_a_gpu_count_it_cannot_offer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import node as node_script

    for wrong in ("0", "two", "9"):
        monkeypatch.setenv("TESTCLUSTER_NODE_GPUS", wrong)
        assert node_script.main(["up", "/nonexistent-state"]) == 2
        assert f"TESTCLUSTER_NODE_GPUS must be 1 to 8, not '{wrong}'" in capsys.readouterr().err
