"""Stack `knitfab` on a real Kubernetes control plane with a GPU node.

The cluster (testcluster/) is a real kube-apiserver, etcd, controller-manager and
scheduler; its node `gpu-node-1` (1 nvidia.com/gpu) is simulated by kwok, which reports
pods running and ready but runs nothing in them: no hook, no probe. Several replicas run
on a cluster of their own, with three such nodes. Where a test needs a
failed hook, it writes what a kubelet writes then. The stack is the committed
Pulumi.knitfab.yaml pointed at this cluster (`kubernetes:kubeconfig`); namespace `knitfab`
is created by the test setup, as Knitfab's exists already, and so is a default StorageClass
with volumes for the committed stack's claim (tests/e2e/conftest.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pulumi import automation as auto

from tests.e2e.engine import MissingPartError, ProjectCopy, up
from tests.e2e.kube_cluster import DEFAULT_CLASS, GPU_NODE, STORAGE_CLASS, Cluster, running_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.knitfab]

NAMESPACE = "knitfab"
# The committed stack's resources: the component, the Deployment, the Service, the claim.
ALL_SAME = {"same": 5}


@dataclass
class Deployed:
    project: ProjectCopy
    cluster: Cluster
    stack: auto.Stack
    outputs: dict[str, Any]
    up_output: str = ""

    def reconfigure(self, **config: Any) -> auto.Stack:
        return self.project.stack(
            "knitfab", {"kubernetes:kubeconfig": str(self.cluster.kubeconfig), **config}
        )

    def pod(self) -> dict[str, Any]:
        [pod] = self.pods(1)
        return pod

    def pods(self, count: int) -> list[dict[str, Any]]:
        pods = self.cluster.get("pods", "-n", NAMESPACE, "-l", "app=ollama")["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        assert len(live) == count, [p["metadata"]["name"] for p in pods]
        return live


def deployed_with(project: ProjectCopy, cluster: Cluster, **config: Any) -> Iterator[Deployed]:
    """For a module fixture: the knitfab stack up with `config`, destroyed afterwards."""
    deployed = Deployed(project, cluster, None, {})  # type: ignore[arg-type]
    deployed.stack = deployed.reconfigure(**config)
    result = deployed.stack.up()
    deployed.outputs = {k: v.value for k, v in result.outputs.items()}
    deployed.up_output = result.stdout
    yield deployed
    deployed.reconfigure().destroy()


@pytest.fixture(scope="module")
def deployed(engine: dict[str, str], cluster: Cluster, tmp_path_factory) -> Iterator[Deployed]:
    yield from deployed_with(ProjectCopy(tmp_path_factory.mktemp("knitfab")), cluster)


def test_deployment_is_available_with_its_pod_on_the_gpu_node(deployed: Deployed):
    deployment = deployed.cluster.get("deployment", "ollama", "-n", NAMESPACE)
    conditions = {c["type"]: c["status"] for c in deployment["status"]["conditions"]}
    assert conditions["Available"] == "True"
    assert deployment["status"]["availableReplicas"] == 1
    pod = deployed.pod()
    assert pod["spec"]["nodeName"] == GPU_NODE
    [container] = pod["spec"]["containers"]
    quantities = {"cpu": "4", "memory": "5Gi", "nvidia.com/gpu": "1"}
    assert container["resources"] == {"requests": quantities, "limits": quantities}
    hook = container["lifecycle"]["postStart"]["exec"]["command"]
    assert hook[-2:] == ["pull", "llama3.2"]
    assert "startupProbe" not in container and "readinessProbe" not in container


def test_service_routes_to_the_pod_on_11434(deployed: Deployed):
    pod = deployed.pod()
    slices = deployed.cluster.get(
        "endpointslices", "-n", NAMESPACE, "-l", "kubernetes.io/service-name=ollama"
    )["items"]
    endpoints = [e for s in slices for e in s.get("endpoints", [])]
    assert [e["targetRef"]["name"] for e in endpoints] == [pod["metadata"]["name"]]
    assert endpoints[0]["addresses"] == [pod["status"]["podIP"]]
    assert endpoints[0]["conditions"]["ready"] is True
    assert {p["port"] for s in slices for p in s["ports"]} == {11434}


def test_outputs_name_the_services_cluster_dns_name(deployed: Deployed):
    service = deployed.cluster.get("service", "ollama", "-n", NAMESPACE)
    assert service["spec"]["type"] == "ClusterIP"
    assert deployed.outputs["evaluationUrl"] == "http://ollama.knitfab.svc.cluster.local:11434"
    assert deployed.outputs["openaiBaseUrl"] == "http://ollama.knitfab.svc.cluster.local:11434/v1"


def test_second_up_changes_nothing(deployed: Deployed):
    assert up(deployed.reconfigure()) == ALL_SAME


def test_preview_diff_of_a_model_change_shows_only_the_hook(
    deployed: Deployed,
):
    stack = deployed.reconfigure(**{"ollama-judge:models": ["llama3.2", "qwen2.5"]})
    preview = stack.preview(diff=True)
    assert preview.change_summary == {"update": 1, "same": 4}
    changed = [line.strip() for line in preview.stdout.splitlines() if line.strip()[:1] in "~+-"]
    changed_paths = [line for line in changed if ":" in line]
    text = "\n".join(changed_paths)
    assert "qwen2.5" in preview.stdout
    assert "postStart" in text, preview.stdout
    for probe in ("startupProbe", "readinessProbe"):
        assert probe not in text, preview.stdout
    for unrelated in ("resources", "image:", "env", "ports", "selector", "Service"):
        assert unrelated not in text, f"{unrelated} changed:\n{preview.stdout}"


def test_unsatisfiable_gpu_request_fails_fast_saying_why_and_the_judge_keeps_running(
    deployed: Deployed,
):
    before = deployed.pod()
    greedy = deployed.reconfigure(**{"ollama-judge:kubernetes": {"gpu": {"count": 2}}})
    started = time.monotonic()
    with pytest.raises(auto.CommandError) as failed:
        greedy.up()
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"took {elapsed:.0f}s"
    message = str(failed.value)
    assert "ollama-judge:kubernetes.gpu.count is 2" in message
    assert f"insufficient nvidia.com/gpu; nodes: {GPU_NODE}: 1" in message
    assert "Traceback" not in message
    # Nothing was touched: the same pod still serves.
    assert deployed.pod()["metadata"]["uid"] == before["metadata"]["uid"]
    assert up(deployed.reconfigure()) == ALL_SAME


def test_up_returns_once_the_deployment_is_available(deployed: Deployed):
    assert "Deployment ollama is available" in deployed.up_output


def test_a_pod_no_node_can_hold_ends_up_with_the_schedulers_reason(deployed: Deployed):
    # More CPU than the node has: the GPU pre-flight does not weigh CPU, the scheduler does.
    greedy = deployed.reconfigure(**{"ollama-judge:kubernetes": {"cpu": "64"}})
    started = time.monotonic()
    with pytest.raises(auto.CommandError) as failed:
        greedy.up()
    elapsed = time.monotonic() - started
    assert elapsed < 90, f"took {elapsed:.0f}s"
    message = str(failed.value)
    assert "cannot be scheduled: 0/1 nodes are available: 1 Insufficient cpu." in message
    assert "ollama-judge:kubernetes.gpu, .cpu, .memory" in message
    assert "Traceback" not in message
    up(deployed.reconfigure())
    assert deployed.pod()["status"]["phase"] == "Running"


def fail_the_hook_as_a_kubelet_does(cluster: Cluster, pod: dict[str, Any], output: str) -> None:
    """What a kubelet writes when the postStart hook fails (pkg/kubelet, v1.36): the
    container's status with the hook's output at the end of its message, and an event."""
    name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
    command = "[/bin/sh -c ...script... ollama-judge pull llama3.2]"
    message = (
        f'Exec lifecycle hook ({command}) for Container "ollama" in Pod "{name}_{NAMESPACE}'
        f"({uid})\" failed - error: command '...' exited with 1: {output}, message: "
        + json.dumps(output)
    )
    finished = "2026-01-01T00:00:01Z"
    container = {
        "name": "ollama",
        "image": pod["spec"]["containers"][0]["image"],
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "state": {"waiting": {"reason": "PostStartHookError", "message": message}},
        "lastState": {
            "terminated": {
                "containerID": "containerd://failed-hook",
                "exitCode": 137,
                "reason": "Error",
                "startedAt": "2026-01-01T00:00:00Z",
                "finishedAt": finished,
            }
        },
    }
    status = {"status": {"containerStatuses": [container]}}
    cluster.kubectl(
        "patch",
        "pod",
        name,
        "-n",
        NAMESPACE,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.failed-hook", "namespace": NAMESPACE},
        "involvedObject": {"kind": "Pod", "namespace": NAMESPACE, "name": name, "uid": uid},
        "reason": "FailedPostStartHook",
        "message": "PostStartHook failed",
        "type": "Warning",
        "count": 1,
        "firstTimestamp": finished,
        "lastTimestamp": finished,
        "source": {"component": "kubelet", "host": GPU_NODE},
    }
    cluster.kubectl("create", "-f", "-", stdin=json.dumps(event))


def test_a_failed_model_pull_ends_up_within_seconds_with_the_hooks_reason(deployed: Deployed):
    # A pod no node holds: kwok leaves it alone, and the test plays its kubelet.
    stuck = deployed.reconfigure(**{"ollama-judge:kubernetes": {"cpu": "63"}})
    outcome: dict[str, Any] = {}
    updated = threading.Event()

    def run_up() -> None:
        def watch(line: str) -> None:
            if "ollama-deployment updated" in line:
                updated.set()

        try:
            stuck.up(on_output=watch)
        except auto.CommandError as error:
            outcome["error"] = error
        outcome["ended"] = time.monotonic()

    thread = threading.Thread(target=run_up)
    thread.start()
    assert updated.wait(120), "the Deployment was never updated"
    time.sleep(3)  # the wait has begun: a failure from before it would not count
    pods = deployed.cluster.get("pods", "-n", NAMESPACE, "-l", "app=ollama")["items"]
    [pod] = [p for p in pods if p["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "63"]
    reason = (
        "ollama-judge: could not pull llama3.2: Error: pull model manifest: file does not "
        "exist (retrying cannot help)\n"
    )
    fail_the_hook_as_a_kubelet_does(deployed.cluster, pod, reason)
    failed_at = time.monotonic()
    thread.join(120)
    assert "error" in outcome, "up did not fail"
    assert outcome["ended"] - failed_at < 15, f"took {outcome['ended'] - failed_at:.0f}s"
    message = str(outcome["error"])
    assert (
        f"the judge's pod {pod['metadata']['name']} (namespace knitfab) is not ready "
        "(llama3.2): its postStart hook gave up: could not pull llama3.2: Error: pull model "
        "manifest: file does not exist (retrying cannot help)."
    ) in message
    assert f"kubectl logs -n knitfab {pod['metadata']['name']} --previous" in message
    assert "Traceback" not in message
    up(deployed.reconfigure())
    assert deployed.pod()["status"]["phase"] == "Running"


@pytest.mark.defaults
def test_the_committed_stack_keeps_models_on_a_claim_that_outlives_the_pod(deployed: Deployed):
    claim = deployed.cluster.get("pvc", "ollama-models", "-n", NAMESPACE)
    # No class named: the cluster's default gave it, and a volume of it is bound.
    assert claim["spec"]["storageClassName"] == STORAGE_CLASS
    assert claim["status"]["phase"] == "Bound"
    pod = deployed.pod()
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"] == {"claimName": "ollama-models"}
    [mount] = pod["spec"]["containers"][0]["volumeMounts"]
    assert (mount["name"], mount["mountPath"]) == ("models", "/home/ollama/.ollama")

    deployed.cluster.kubectl("delete", "pod", "-n", NAMESPACE, pod["metadata"]["name"])
    deployed.cluster.kubectl(
        "rollout", "status", "deployment/ollama", "-n", NAMESPACE, "--timeout=120s"
    )
    replacement = deployed.pod()
    assert replacement["metadata"]["uid"] != pod["metadata"]["uid"]
    replacement_volumes = {v["name"]: v for v in replacement["spec"]["volumes"]}
    assert replacement_volumes["models"]["persistentVolumeClaim"]["claimName"] == "ollama-models"
    assert (
        deployed.cluster.get("pvc", "ollama-models", "-n", NAMESPACE)["metadata"]["uid"]
        == (claim["metadata"]["uid"])
    )

    # Switched off, the judge pulls into an emptyDir and the claim is kept; switched on
    # again, the judge mounts the same claim.
    deployed.reconfigure(**{"ollama-judge:kubernetes": {"persistence": {"enabled": False}}}).up()
    assert "emptyDir" in {v["name"]: v for v in deployed.pod()["spec"]["volumes"]}["models"]
    deployed.reconfigure().up()
    kept = deployed.cluster.get("pvc", "ollama-models", "-n", NAMESPACE)
    assert kept["metadata"]["uid"] == claim["metadata"]["uid"]
    assert kept["spec"]["volumeName"] == claim["spec"]["volumeName"]
    volumes = {v["name"]: v for v in deployed.pod()["spec"]["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"] == {"claimName": "ollama-models"}


def untouched(deployed: Deployed) -> dict[str, Any]:
    """What a stopped `up` must leave as it was: the judge's pod, Deployment and claim."""
    pod = deployed.pod()
    deployment = deployed.cluster.get("deployment", "ollama", "-n", NAMESPACE)
    claim = deployed.cluster.get("pvc", "ollama-models", "-n", NAMESPACE)
    return {
        "pod": pod["metadata"]["uid"],
        "deployment": deployment["metadata"]["resourceVersion"],
        "claim": claim["metadata"]["resourceVersion"],
        "claims": deployed.cluster.kubectl("get", "pvc", "-A", "-o", "name"),
    }


def stops_with(stack: auto.Stack, *words: str) -> None:
    """`preview` and `up` of `stack` both stop with a message that has `words`."""
    for operation in (stack.preview, stack.up):
        with pytest.raises(auto.CommandError) as failed:
            operation()
        message = str(failed.value)
        for said in words:
            assert said in message, message[-3000:]
        assert "Traceback" not in message


@pytest.mark.defaults
def test_a_missing_storage_class_stops_preview_and_up_before_anything_changes(
    deployed: Deployed, tmp_path
):
    before = untouched(deployed)
    turn_off = "config set --path 'ollama-judge:kubernetes.persistence.enabled' false --stack"
    named = {"ollama-judge:kubernetes": {"persistence": {"storageClass": "nfs-client"}}}
    stops_with(
        deployed.reconfigure(**named),
        "ollama-judge:kubernetes.persistence.storageClass is nfs-client, but the cluster has no "
        f"StorageClass of that name (StorageClasses: {STORAGE_CLASS})",
        f"'ollama-judge:kubernetes.persistence.storageClass' {STORAGE_CLASS} --stack knitfab",
        turn_off,
    )
    deployed.cluster.kubectl(
        "annotate", "storageclass", STORAGE_CLASS, f"{DEFAULT_CLASS}=false", "--overwrite"
    )
    try:
        # The committed stack, on a cluster without a default class.
        stops_with(
            deployed.reconfigure(),
            "ollama-judge:kubernetes.persistence.storageClass is not set, but the cluster has "
            "no default StorageClass",
            turn_off,
        )
        # A new stack creates nothing, not even the namespace it would create first.
        fresh = ProjectCopy(tmp_path).stack(
            "knitfab",
            {
                "kubernetes:kubeconfig": str(deployed.cluster.kubeconfig),
                "ollama-judge:kubernetes": {"namespace": "nothing-yet", "createNamespace": True},
            },
        )
        stops_with(fresh, "no default StorageClass")
        assert "nothing-yet" not in deployed.cluster.kubectl("get", "namespaces", "-o", "name")
    finally:
        deployed.cluster.kubectl(
            "annotate", "storageclass", STORAGE_CLASS, f"{DEFAULT_CLASS}=true", "--overwrite"
        )
    assert untouched(deployed) == before
    assert up(deployed.reconfigure()) == ALL_SAME


def test_network_policy_admits_only_the_evaluation_pods(deployed: Deployed):
    guarded = deployed.reconfigure(
        **{
            "ollama-judge:kubernetes": {
                "networkPolicy": {"enabled": True, "podLabels": {"app": "evaluate"}}
            }
        }
    )
    guarded.up()
    policy = deployed.cluster.get("networkpolicy", "ollama", "-n", NAMESPACE)
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "ollama"}}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": {"app": "evaluate"}}}],
            "ports": [{"port": 11434, "protocol": "TCP"}],
        }
    ]
    deployed.reconfigure().up()
    assert "ollama" not in deployed.cluster.kubectl(
        "get", "networkpolicy", "-n", NAMESPACE, "-o", "name"
    )


def test_destroy_removes_what_up_created_but_the_models_claim_and_the_namespace(
    deployed: Deployed, cluster: Cluster
):
    claim = cluster.get("pvc", "ollama-models", "-n", NAMESPACE)
    deployed.reconfigure().destroy()
    for kind in ("deployment", "service", "networkpolicy"):
        assert cluster.kubectl("get", kind, "-n", NAMESPACE, "-o", "name").strip() == "", kind
    assert cluster.get("namespace", NAMESPACE)["status"]["phase"] == "Active"
    # keepModelsOnDestroy: the claim stays, and the next `up` takes it up again.
    assert cluster.get("pvc", "ollama-models", "-n", NAMESPACE)["status"]["phase"] == "Bound"
    deployed.reconfigure().up()  # for the module's own teardown, too
    kept = cluster.get("pvc", "ollama-models", "-n", NAMESPACE)
    assert kept["metadata"]["uid"] == claim["metadata"]["uid"]
    volumes = {v["name"]: v for v in deployed.pod()["spec"]["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"] == {"claimName": "ollama-models"}


# --- several replicas, on a cluster of three one-GPU nodes ------------------------------

THREE_NODES = {"gpu-node-1", "gpu-node-2", "gpu-node-3"}


def judges(count: int, **settings: Any) -> dict[str, Any]:
    """Several judges, each pulling into its own emptyDir: the claim the committed stack
    keeps is ReadWriteOnce, which one node mounts."""
    no_claim = {"persistence": {"enabled": False}}
    return {"ollama-judge:kubernetes": {"replicas": count, **no_claim, **settings}}


@pytest.fixture(scope="module")
def three_gpu_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    try:
        with running_cluster(tmp_path_factory.mktemp("three-nodes"), fake_nodes=3) as started:
            started.kubectl("create", "namespace", NAMESPACE)
            yield started
    except MissingPartError as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="module")
def replicated(
    engine: dict[str, str], three_gpu_nodes: Cluster, tmp_path_factory
) -> Iterator[Deployed]:
    project = ProjectCopy(tmp_path_factory.mktemp("replicas"))
    yield from deployed_with(project, three_gpu_nodes, **judges(3))


def test_three_replicas_run_on_three_gpu_nodes_behind_the_service(replicated: Deployed):
    deployment = replicated.cluster.get("deployment", "ollama", "-n", NAMESPACE)
    assert deployment["status"]["availableReplicas"] == 3
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"},
    }
    pods = replicated.pods(3)
    assert {p["spec"]["nodeName"] for p in pods} == THREE_NODES, "one pod per GPU node"
    for pod in pods:
        assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    slices = replicated.cluster.get(
        "endpointslices", "-n", NAMESPACE, "-l", "kubernetes.io/service-name=ollama"
    )["items"]
    endpoints = [e for s in slices for e in s.get("endpoints", [])]
    assert sorted(e["targetRef"]["name"] for e in endpoints) == sorted(
        p["metadata"]["name"] for p in pods
    )
    assert all(e["conditions"]["ready"] for e in endpoints)
    assert replicated.outputs["openaiBaseUrl"] == "http://ollama.knitfab.svc.cluster.local:11434/v1"
    assert "Deployment ollama is available" in replicated.up_output


def test_replicas_the_nodes_cannot_hold_are_refused_before_anything_changes(
    replicated: Deployed,
):
    before = {p["metadata"]["uid"] for p in replicated.pods(3)}
    with pytest.raises(auto.CommandError) as failed:
        replicated.reconfigure(**judges(4)).up()
    message = str(failed.value)
    assert (
        "ollama-judge:kubernetes.replicas is 4, but the schedulable nodes can hold only 3 judge "
        "pods of 1 nvidia.com/gpu each (insufficient nvidia.com/gpu; each pod needs its GPUs on "
        "one node; pods per node: gpu-node-1: 1 (1 nvidia.com/gpu), gpu-node-2: 1 (1 "
        "nvidia.com/gpu), gpu-node-3: 1 (1 nvidia.com/gpu))"
    ) in message
    assert "config set --path 'ollama-judge:kubernetes.replicas' 3" in message
    assert "Traceback" not in message
    assert {p["metadata"]["uid"] for p in replicated.pods(3)} == before, "nothing was touched"
    assert replicated.cluster.get("deployment", "ollama", "-n", NAMESPACE)["spec"]["replicas"] == 3


def test_replicas_with_a_read_write_once_claim_stop_before_anything_changes(
    replicated: Deployed,
):
    # Only the replicas set: the committed stack keeps its models on a ReadWriteOnce claim.
    shared = replicated.reconfigure(**{"ollama-judge:kubernetes": {"replicas": 3}})
    with pytest.raises(auto.CommandError) as failed:
        shared.up()
    message = str(failed.value)
    assert (
        "ollama-judge:kubernetes.replicas is 3 with ollama-judge:kubernetes.persistence.enabled "
        "(true by default), but the models' claim is ReadWriteOnce"
    ) in message
    assert "'ollama-judge:kubernetes.persistence.accessMode' ReadWriteMany" in message
    assert "'ollama-judge:kubernetes.persistence.enabled' false" in message
    assert "Traceback" not in message
    assert replicated.cluster.kubectl("get", "pvc", "-n", NAMESPACE, "-o", "name").strip() == ""


def test_scaling_keeps_the_running_judges(replicated: Deployed):
    before = {p["metadata"]["uid"] for p in replicated.pods(3)}
    assert up(replicated.reconfigure(**judges(2))) == {"update": 1, "same": 3}
    kept = {p["metadata"]["uid"] for p in replicated.pods(2)}
    assert kept < before, "scaling down removed a judge and restarted none"
    assert up(replicated.reconfigure(**judges(3))) == {"update": 1, "same": 3}
    assert kept < {p["metadata"]["uid"] for p in replicated.pods(3)}
    assert up(replicated.reconfigure(**judges(3))) == {"same": 4}
