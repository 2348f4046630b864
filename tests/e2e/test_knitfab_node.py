"""Stack `knitfab` on a real node: the pod runs, its hook pulls, its probes gate the
Service, and an evaluation Job gets a verdict.

The cluster is testcluster/'s control plane with no simulated node and one real one
(testcluster/node.py): a kubelet on containerd, CNI bridge networking, kube-proxy,
CoreDNS and kube-network-policies. The node advertises the GPU and CPUs the committed
Pulumi.knitfab.yaml requests; the container runs on this machine's CPU. The judge image
is the one images/ builds, imported into the node; the model comes from a real registry
over TLS (tests/e2e/registry.py), published on the Docker host's addresses, which pods
reach through the node's bridge.

The stack is the committed Pulumi.knitfab.yaml with the model reference, the kubeconfig
and the registry's CA (`registries`, without which no private registry is trusted) set;
later tests change one more setting each, and say which. The cluster's default StorageClass
has one `local` volume, a directory of this machine that the node mounts: the committed
stack's claim binds it, the kubelet gives its files the pod's fsGroup, and the judge pulls
onto it.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from judge_check import client as judge_check
from tests.e2e import evaluation, judge_model
from tests.e2e.docker_host import get_json, http_probe_image
from tests.e2e.engine import MissingPartError, ProjectCopy
from tests.e2e.kube_cluster import STORAGE_CLASS, Cluster, running_cluster
from tests.e2e.registry import Registry, docker_network, running_registry

pytestmark = [pytest.mark.e2e, pytest.mark.kubelet]

NAMESPACE = "knitfab"
NODE = "real-gpu-node"
RUN = uuid.uuid4().hex[:6]
PREFIX = f"ollama-judge-node-{RUN}"
MODEL = "judge:1"
# A registry known only inside the cluster, as Knitfab's own is: a Service in front of
# the test registry. This host cannot resolve the name, so Pulumi's manifest check can
# only warn, and the judge's hook is the one that finds out.
IN_CLUSTER_NAMESPACE = "models"
IN_CLUSTER_REGISTRY = f"registry.{IN_CLUSTER_NAMESPACE}.svc.cluster.local"


def parse_time(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# --- the cluster, the registry, the stack ---------------------------------------------


@pytest.fixture(scope="module")
def models_volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory behind the cluster's one volume, where the judge's models land."""
    return tmp_path_factory.mktemp("models-volume")


@pytest.fixture(scope="module")
def node_cluster(
    docker: None, judge_image: str, models_volume: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    try:
        with running_cluster(
            tmp_path_factory.mktemp("node-cluster"),
            fake_nodes=0,
            real_node_images=[judge_image, http_probe_image()],
        ) as cluster:
            cluster.kubectl("create", "namespace", NAMESPACE)
            cluster.default_storage([str(models_volume)])
            yield cluster
    except MissingPartError as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="module")
def registry(
    docker: None, judge_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    workdir = tmp_path_factory.mktemp("registry")
    with (
        docker_network(f"{PREFIX}-registry-net") as network,
        running_registry(
            workdir / "tls",
            network,
            on_gateway=True,
            prefix=PREFIX,
            extra_names=(IN_CLUSTER_REGISTRY,),
        ) as registry,
    ):
        registry.push(judge_model.write_judge_model(workdir / "judge"), MODEL, judge_image)
        yield registry


Sample = tuple[float, list[bool], list[bool], float]


@dataclass
class Observed:
    """What the cluster showed while `up` ran, sampled every 0.2 s."""

    started: float = 0.0
    returned: float = 0.0
    # (time the pods' read began, [Ready of each judge pod], [ready of each of the
    # Service's endpoints], time the endpoints' read ended): the pods are read first.
    samples: list[Sample] = field(default_factory=list)
    # One more sample, read after `up` returned: what the judge had when the caller went on.
    after_return: Sample = (0.0, [], [], 0.0)
    # The Service's cluster IP, once seen, and what it answered the moment `up` returned.
    cluster_ip: str = ""
    answer_at_return: str = ""


@dataclass
class Judge:
    project: ProjectCopy
    cluster: Cluster
    registry: Registry
    first_up: Observed = field(default_factory=Observed)

    def config(self, **overrides: Any) -> dict[str, Any]:
        config: dict[str, Any] = {
            "kubernetes:kubeconfig": str(self.cluster.kubeconfig),
            "ollama-judge:models": [self.registry.reference(MODEL)],
            "ollama-judge:registries": {self.registry.address: {"caFile": str(self.registry.ca)}},
        }
        config.update(overrides)
        return config

    def stack(self, **overrides: Any) -> auto.Stack:
        return self.project.stack("knitfab", self.config(**overrides))

    def endpoint_readiness(self) -> list[bool]:
        slices = self.cluster.get(
            "endpointslices", "-n", NAMESPACE, "-l", "kubernetes.io/service-name=ollama"
        )["items"]
        return [
            bool(e.get("conditions", {}).get("ready"))
            for s in slices
            for e in s.get("endpoints") or []
        ]

    def pod_readiness(self) -> list[bool]:
        pods = self.cluster.get("pods", "-n", NAMESPACE, "-l", "app=ollama")["items"]
        return [
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p.get("status", {}).get("conditions", [])
            )
            for p in pods
        ]

    def sample(self) -> Sample:
        began, pods, endpoints = time.time(), self.pod_readiness(), self.endpoint_readiness()
        return began, pods, endpoints, time.time()

    def up_observed(self, stack: auto.Stack) -> tuple[auto.UpResult, Observed]:
        observed = Observed()
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                observed.samples.append(self.sample())
                if not observed.cluster_ip:
                    observed.cluster_ip = self.cluster_ip()
                done.wait(0.2)

        watcher = threading.Thread(target=watch, daemon=True)
        observed.started = time.time()
        watcher.start()
        try:
            result = stack.up()
            observed.returned = time.time()
            observed.answer_at_return = self.version_through_the_service(observed.cluster_ip)
        finally:
            observed.returned = observed.returned or time.time()
            done.set()
            watcher.join()
        observed.after_return = self.sample()
        return result, observed

    def cluster_ip(self) -> str:
        found = self.cluster.kubectl(
            "get", "service", "ollama", "-n", NAMESPACE, "-o", "jsonpath={.spec.clusterIP}",
            check=False,
        )  # fmt: skip
        return found if found and "NotFound" not in found else ""

    def version_through_the_service(self, cluster_ip: str) -> str:
        """`/api/version` through the Service's cluster IP from this host (the node, whose
        kube-proxy routes it): "answered", or why not."""
        try:
            get_json(f"http://{cluster_ip or self.cluster_ip()}:11434/api/version")
        except OSError as error:  # refused, or an HTTP error status
            return str(error)
        return "answered"

    def pod(self) -> dict[str, Any]:
        pods = self.cluster.get("pods", "-n", NAMESPACE, "-l", "app=ollama")["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        assert len(live) == 1, [p["metadata"]["name"] for p in pods]
        return live[0]

    def events(self, pod: str) -> list[dict[str, Any]]:
        return self.cluster.get(
            "events", "-n", NAMESPACE, f"--field-selector=involvedObject.name={pod}"
        )["items"]

    def log_lines(self, pod: str) -> list[tuple[float, str]]:
        """The judge container's log, each line with the time the kubelet took it."""
        log = self.cluster.kubectl("logs", "-n", NAMESPACE, pod, "--timestamps")
        lines = []
        for line in log.splitlines():
            stamp, _, text = line.partition(" ")
            lines.append((parse_time(stamp[:26] + "Z"), text))
        return lines

    def blob_gets(self) -> int:
        return sum(1 for r in self.registry.requests() if r.method == "GET" and r.is_blob)

    def run_job(self, name: str, namespace: str = NAMESPACE, seconds: float = 300) -> str:
        """Runs the evaluation's question as a Job; its log once it ends (raises if it
        failed)."""
        job = evaluation.job_manifest(name, namespace, self.registry.reference(MODEL),
                                      http_probe_image())  # fmt: skip
        self.cluster.apply(job)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status = self.cluster.get("job", name, "-n", namespace).get("status", {})
            if status.get("succeeded") or status.get("failed"):
                log = self.cluster.kubectl("logs", "-n", namespace, f"job/{name}", check=False)
                if status.get("failed"):
                    raise AssertionError(f"job {namespace}/{name} failed:\n{log[-3000:]}")
                return log
            time.sleep(0.5)
        raise AssertionError(f"job {namespace}/{name} did not end within {seconds}s")


@pytest.fixture(scope="module")
def judge(
    engine: dict[str, str],
    node_cluster: Cluster,
    registry: Registry,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Judge]:
    judge = Judge(ProjectCopy(tmp_path_factory.mktemp("knitfab-node")), node_cluster, registry)
    _, judge.first_up = judge.up_observed(judge.stack())
    yield judge
    judge.stack().destroy()


# --- up ----------------------------------------------------------------------------------


def test_the_committed_stack_runs_on_the_real_node_with_the_manuals_resources(judge: Judge):
    pod = judge.pod()
    assert pod["spec"]["nodeName"] == NODE
    [container] = pod["spec"]["containers"]
    quantities = {"cpu": "4", "memory": "5Gi", "nvidia.com/gpu": "1"}
    assert container["resources"] == {"requests": quantities, "limits": quantities}
    [status] = pod["status"]["containerStatuses"]
    assert status["ready"] and "running" in status["state"]
    reasons = [e["reason"] for e in judge.events(pod["metadata"]["name"])]
    assert {"Scheduled", "Created", "Started"} <= set(reasons), reasons
    assert "FailedPostStartHook" not in reasons


def test_up_returns_once_the_hook_pulled_and_loaded_and_the_service_answers_at_once(
    judge: Judge,
):
    pod = judge.pod()
    said = judge.log_lines(pod["metadata"]["name"])
    pulled = [
        t for t, text in said if f"ollama-judge: pulled {judge.registry.reference(MODEL)}" in text
    ]
    ready = [t for t, text in said if "ollama-judge: ready:" in text]
    assert pulled and ready, said
    assert judge.blob_gets() >= len(judge.registry.blob_digests(MODEL))

    observed = judge.first_up
    # The pod ran unready while its hook pulled; it turned ready, and the Service got a
    # ready endpoint, only once the model script had the model pulled and loaded.
    unready_pod = [t for t, pods, _, _ in observed.samples if pods and not any(pods)]
    # `up` may return between two samples, before one saw the endpoint ready.
    seen = [*observed.samples, observed.after_return]
    first_ready_pod = min(t for t, pods, _, _ in seen if any(pods))
    # An endpoint seen ready means a ready pod by the end of that read; a pod seen unready,
    # one unready after its read began. The pod turned ready between the two, so each read
    # that saw it unready began before any read that saw a ready endpoint ended. (Within a
    # sample the endpoints are read last: they may show a pod that turned ready meanwhile.)
    ready_endpoint_read = min(end for _, _, endpoints, end in seen if any(endpoints))
    assert unready_pod, "the pod was never seen unready"
    assert max(unready_pod) < first_ready_pod
    assert max(unready_pod) < ready_endpoint_read
    # The kubelet's log stamps and ours come from one clock; a sample takes ~0.2 s.
    assert first_ready_pod >= ready[0] - 1
    conditions = {c["type"]: c for c in pod["status"]["conditions"]}
    assert parse_time(conditions["Ready"]["lastTransitionTime"]) >= int(ready[0]) - 1

    deployment = judge.cluster.get("deployment", "ollama", "-n", NAMESPACE)
    available = {c["type"]: c for c in deployment["status"]["conditions"]}["Available"]
    assert available["status"] == "True"
    # `up` returned once the Deployment was Available and the Service had the endpoint: a
    # read started after it returned finds both. (A sample's stamp precedes its two reads,
    # which take a few tenths of a second here, so the samples do not order it finer.)
    _, pods_after, endpoints_after, _ = observed.after_return
    assert pods_after and all(pods_after), observed.after_return
    assert endpoints_after and all(endpoints_after), observed.after_return
    assert parse_time(available["lastTransitionTime"]) <= observed.returned + 1
    # The nodes' proxies had the endpoint programmed: a request sent as `up` returned is
    # answered through the Service, not refused.
    assert observed.answer_at_return == "answered"


# --- the evaluation --------------------------------------------------------------------


def verdict_of(log: str) -> judge_check.Verdict:
    return judge_check.parse_verdict(evaluation.answer_from_log(log).content)


def test_a_knitfab_shaped_job_gets_a_verdict_from_http_ollama_11434_v1(judge: Judge):
    assert evaluation.EVALUATION_BASE_URL == "http://ollama:11434/v1/"
    log = judge.run_job("evaluation-1")
    assert verdict_of(log) == judge_check.Verdict(judge_model.SCORE, judge_model.FREE_REPLY)


PROBE_OTHER_NAMESPACE = "elsewhere"


def reaches_judge_from(judge: Judge, namespace: str, name: str) -> bool:
    """Whether a pod in `namespace` connects to the judge's port within 5 s."""
    script = (
        "import socket, sys\n"
        "try:\n"
        f"    socket.create_connection(('ollama.{NAMESPACE}', 11434), timeout=5).close()\n"
        "    print('connected')\n"
        "except OSError as error:\n"
        "    print('refused', error)\n"
    )
    job = evaluation.job_manifest(name, namespace, "", http_probe_image())
    job["spec"]["template"]["spec"]["containers"][0]["command"] = [
        evaluation.sys.executable, "-c", script,
    ]  # fmt: skip
    judge.cluster.apply(job)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = judge.cluster.get("job", name, "-n", namespace).get("status", {})
        if status.get("succeeded") or status.get("failed"):
            log = judge.cluster.kubectl("logs", "-n", namespace, f"job/{name}")
            return log.strip().splitlines()[-1] == "connected"
        time.sleep(0.5)
    raise AssertionError(f"job {namespace}/{name} did not end")


def test_with_the_network_policy_the_evaluation_still_gets_a_verdict_and_others_are_refused(
    judge: Judge,
):
    judge.cluster.kubectl("create", "namespace", PROBE_OTHER_NAMESPACE)
    # Without the policy, a pod of another namespace reaches the judge: what the policy
    # takes away below is really there.
    assert reaches_judge_from(judge, PROBE_OTHER_NAMESPACE, "probe-open")

    judge.stack(**{"ollama-judge:kubernetes": {"networkPolicy": {"enabled": True}}}).up()
    try:
        log = judge.run_job("evaluation-with-policy")
        assert verdict_of(log) == judge_check.Verdict(judge_model.SCORE, judge_model.FREE_REPLY)
        assert not reaches_judge_from(judge, PROBE_OTHER_NAMESPACE, "probe-closed")
    finally:
        judge.stack().up()


# --- kept models, and Pod Security `restricted` --------------------------------------------

ENFORCE = "pod-security.kubernetes.io/enforce"
JUDGE_ID = 65532


@pytest.fixture
def restricted(judge: Judge) -> Iterator[None]:
    """The judge's namespace enforcing Pod Security `restricted` during the test (not the
    whole module's: the evaluation Jobs here run as root)."""
    judge.cluster.kubectl("label", "namespace", NAMESPACE, f"{ENFORCE}=restricted")
    try:
        yield
    finally:
        judge.cluster.kubectl("label", "namespace", NAMESPACE, f"{ENFORCE}-")


def destroy_keeping_the_claim(judge: Judge) -> None:
    """`destroy`, and no judge pod left using the claim it keeps."""
    judge.stack().destroy()
    judge.cluster.kubectl("wait", "-n", NAMESPACE, "pod", "-l", "app=ollama", "--for=delete",
                          "--timeout=120s")  # fmt: skip


def emptied(volume: Path) -> None:
    for path in volume.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def said_present(judge: Judge, pod: str) -> bool:
    said = [text for _, text in judge.log_lines(pod)]
    return any(f"{judge.registry.reference(MODEL)} is present" in line for line in said)


@pytest.mark.defaults
def test_in_a_restricted_namespace_the_judge_pulls_onto_its_claim_and_a_new_pod_finds_it(
    judge: Judge, models_volume: Path, restricted: None
):
    destroy_keeping_the_claim(judge)
    emptied(models_volume)
    judge.stack().up()
    first = judge.pod()
    assert first["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "ollama-models"
    assert first["spec"]["containers"][0]["securityContext"]["runAsUser"] == JUDGE_ID
    claim = judge.cluster.get("pvc", "ollama-models", "-n", NAMESPACE)
    assert (claim["spec"]["storageClassName"], claim["status"]["phase"]) == (STORAGE_CLASS, "Bound")
    blobs = list(models_volume.rglob("blobs/*"))
    assert blobs, "the model did not land on the volume"
    assert {blob.stat().st_uid for blob in blobs} == {JUDGE_ID}

    blob_gets = judge.blob_gets()
    judge.cluster.kubectl("delete", "pod", "-n", NAMESPACE, first["metadata"]["name"])
    judge.cluster.kubectl(
        "wait", "-n", NAMESPACE, "deployment/ollama", "--for=condition=Available", "--timeout=300s"
    )
    second = judge.pod()
    assert second["metadata"]["name"] != first["metadata"]["name"]
    judge.cluster.kubectl(
        "wait", "-n", NAMESPACE, f"pod/{second['metadata']['name']}", "--for=condition=Ready",
        "--timeout=300s",
    )  # fmt: skip
    assert said_present(judge, second["metadata"]["name"])
    assert judge.blob_gets() == blob_gets, "the new pod fetched blobs again"
    # The new pod, too, turned ready (and so got traffic) only once its hook had the model
    # back: the Ready condition's time, in whole seconds, is not before the hook's `ready:`.
    said = judge.log_lines(second["metadata"]["name"])
    ready = [t for t, text in said if "ollama-judge: ready:" in text]
    conditions = {c["type"]: c for c in judge.pod()["status"]["conditions"]}
    assert ready and parse_time(conditions["Ready"]["lastTransitionTime"]) >= int(ready[0])


def test_destroy_keeps_the_claim_and_the_next_up_finds_the_model_on_it(judge: Judge):
    claim = judge.cluster.get("pvc", "ollama-models", "-n", NAMESPACE)
    judge.stack().destroy()
    kept = judge.cluster.get("pvc", "ollama-models", "-n", NAMESPACE)
    assert (kept["metadata"]["uid"], kept["status"]["phase"]) == (claim["metadata"]["uid"], "Bound")

    blob_gets = judge.blob_gets()
    judge.stack().up()
    assert said_present(judge, judge.pod()["metadata"]["name"])
    assert judge.blob_gets() == blob_gets, "the judge fetched blobs again"
    assert (
        judge.cluster.get("pvc", "ollama-models", "-n", NAMESPACE)["metadata"]["uid"]
        == (claim["metadata"]["uid"])
    )


def root_judge(judge: Judge, name: str) -> dict[str, Any]:
    """A judge as this project deployed it before Pod Security `restricted`: root, with the
    models' volume at /root/.ollama. That is the running judge's pod with the user, its home
    and its mount undone, and a copy of its registries' CAs (the stack's own go with it)."""
    cluster = judge.cluster
    spec = cluster.get("deployment", "ollama", "-n", NAMESPACE)["spec"]["template"]["spec"]
    [cas] = [v["configMap"] for v in spec["volumes"] if "configMap" in v]
    copied = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-cas", "namespace": NAMESPACE},
        "data": cluster.get("configmap", cas["name"], "-n", NAMESPACE)["data"],
    }
    cas["name"] = copied["metadata"]["name"]
    del spec["securityContext"]
    [container] = spec["containers"]
    for key in ("runAsNonRoot", "runAsUser", "runAsGroup"):
        del container["securityContext"][key]
    container["env"] = [
        {**e, "value": "/root/.ollama/ollama-judge-pull.lock"}
        if e["name"] == "OLLAMA_JUDGE_PULL_LOCK"
        else e
        for e in container["env"]
        if e["name"] != "HOME"
    ]
    [models] = [m for m in container["volumeMounts"] if m["name"] == "models"]
    models["mountPath"] = "/root/.ollama"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        # Not the judge's label: neither the Service nor judge.pod() is to find it.
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "root-judge"}},
        "spec": spec,
    }
    return {"apiVersion": "v1", "kind": "List", "items": [copied, pod]}


@pytest.mark.defaults
def test_a_claim_a_root_judge_filled_is_taken_over_in_a_restricted_namespace_without_a_pull(
    judge: Judge, models_volume: Path
):
    cluster = judge.cluster
    root = root_judge(judge, "root-judge")
    root_pod = root["items"][-1]
    # The kept claim, emptied and given to a root judge (the earlier version) as a new
    # volume comes: its top directory root's. The root judge fills it, its files root's.
    destroy_keeping_the_claim(judge)
    emptied(models_volume)
    os.chown(models_volume, 0, 0)
    os.chmod(models_volume, 0o755)
    try:
        cluster.apply(root)
        cluster.kubectl(
            "wait", "-n", NAMESPACE, "pod/root-judge", "--for=condition=Ready", "--timeout=300s"
        )
        root_files = [models_volume, *models_volume.rglob("*")]
        assert list(models_volume.rglob("blobs/*")), "the root judge did not pull onto the claim"
        assert {path.stat().st_uid for path in root_files} == {0}
        cluster.kubectl("delete", "pod", "-n", NAMESPACE, "root-judge")
        blob_gets = judge.blob_gets()

        cluster.kubectl("label", "namespace", NAMESPACE, f"{ENFORCE}=restricted")
        # The API server refuses the root judge now...
        with pytest.raises(AssertionError) as refused:
            cluster.kubectl("create", "--dry-run=server", "-f", "-",
                            stdin=json.dumps(root_pod))  # fmt: skip
        assert 'violates PodSecurity "restricted:latest"' in str(refused.value)
        assert "runAsNonRoot != true" in str(refused.value)

        # ... and admits this judge, which finds the root judge's model on the same claim.
        judge.stack().up()
        pod = judge.pod()
        assert said_present(judge, pod["metadata"]["name"])
        assert judge.blob_gets() == blob_gets, "the judge fetched blobs again"

        # The kubelet gave root's files the judge's group (fsGroup), readable and writable.
        for path in root_files:
            mode = path.stat().st_mode
            assert path.stat().st_gid == JUDGE_ID, path
            assert mode & 0o060 == 0o060, (path, oct(mode))
            assert not path.is_dir() or mode & 0o2010 == 0o2010, (path, oct(mode))
        probe = "/home/ollama/.ollama/models/blobs/written-by-the-judge"
        cluster.kubectl("exec", "-n", NAMESPACE, pod["metadata"]["name"], "--",
                        "sh", "-c", f"id -u && touch {probe} && rm {probe}")  # fmt: skip
    finally:
        cluster.kubectl("label", "namespace", NAMESPACE, f"{ENFORCE}-")
        cluster.kubectl("delete", "-n", NAMESPACE, "pod/root-judge", "configmap/root-judge-cas",
                        "--ignore-not-found")  # fmt: skip
        judge.stack().up()


# --- a model the registry lacks ------------------------------------------------------------


@pytest.fixture
def in_cluster_registry(judge: Judge) -> Iterator[str]:
    """The test registry under a name only the cluster's DNS knows."""
    registry = judge.registry
    judge.cluster.kubectl("create", "namespace", IN_CLUSTER_NAMESPACE)
    port = registry.host_port
    judge.cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "registry", "namespace": IN_CLUSTER_NAMESPACE},
                    "spec": {"ports": [{"name": "https", "port": port, "targetPort": port}]},
                },
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "name": "registry-gateway",
                        "namespace": IN_CLUSTER_NAMESPACE,
                        "labels": {"kubernetes.io/service-name": "registry"},
                    },
                    "addressType": "IPv4",
                    "endpoints": [{"addresses": [registry.published_on]}],
                    "ports": [{"name": "https", "protocol": "TCP", "port": port}],
                },
            ],
        }
    )
    yield f"{IN_CLUSTER_REGISTRY}:{port}"
    judge.cluster.kubectl("delete", "namespace", IN_CLUSTER_NAMESPACE, "--wait=false")


def test_a_model_the_registry_lacks_fails_up_with_the_hooks_reason(
    judge: Judge, in_cluster_registry: str
):
    missing = f"{in_cluster_registry}/library/missing:1"
    stack = judge.stack(**{
        "ollama-judge:models": [missing],
        "ollama-judge:registries": {
            in_cluster_registry: {"caFile": str(judge.registry.ca)},
        },
    })  # fmt: skip
    service_before = judge.cluster.get("service", "ollama", "-n", NAMESPACE)
    started = time.monotonic()
    with pytest.raises(auto.CommandError) as failure:
        stack.up()
    took = time.monotonic() - started
    message = str(failure.value)
    assert f"could not pull {missing}" in message, message[-3000:]
    assert "file does not exist" in message, message[-3000:]
    # Well inside the pull budget (30 min) the Deployment's own wait would have spent.
    assert took < 180, took
    service_after = judge.cluster.get("service", "ollama", "-n", NAMESPACE)
    assert (
        service_after["metadata"]["resourceVersion"]
        == service_before["metadata"]["resourceVersion"]
    )

    # Back to a model the registry has: the next `up` repairs the judge.
    judge.stack().up()
    assert judge.pod()["status"]["containerStatuses"][0]["ready"]
    assert verdict_of(judge.run_job("evaluation-after-repair")) == judge_check.Verdict(
        judge_model.SCORE, judge_model.FREE_REPLY
    )
