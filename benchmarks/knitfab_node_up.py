"""Times the knitfab stack on a real node (testcluster/node.py) against the manual's
`kubectl apply -f ollama.yaml` + `kubectl rollout status`, on the same node and with the
same model from the same registry: the command, and the first verdict through the
Service's cluster IP, asked from this host the moment the command returns and again until
one is answered. Prints where each second went and the ratios (medians of the rounds).

    .venv/bin/python benchmarks/knitfab_node_up.py [--large] [--rounds N]

Both commands end with the model pulled: the stack's `up` returns once its judge is ready,
every model pulled and loaded onto its claim (a fresh `local` volume of the test cluster's
default class each run), and its Service has a ready endpoint; the manual's rollout ends
once its postStart pull into the container has finished (a container is not running
before its hook returns), and its first verdict loads the model. The manual's manifest
gets only what reaching the registry needs: the model reference, the pinned image tag
(its untagged `ollama/ollama` means "always pull", and nothing can be pulled here) and
the registry's CA, mounted where the stack mounts it. The engine floor (the `up` of an
empty program) is measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.knitfab_up import MANUAL_MANIFEST
from benchmarks.timing import (
    Timeline,
    cli_up,
    empty_program_up,
    epoch_seconds,
    load,
    ratio,
)
from judge_check.client import CheckError, JudgeClient
from tests.e2e import docker_host as host
from tests.e2e import judge_model
from tests.e2e.docker_host import http_probe_image
from tests.e2e.engine import ProjectCopy, docker_engine, engine_environment
from tests.e2e.kube_cluster import Cluster, running_cluster
from tests.e2e.registry import Registry, docker_network, running_registry

PREFIX = f"ollama-judge-bench-{uuid.uuid4().hex[:6]}"
NAMESPACE = "knitfab"
SERVICE = "ollama"
CA_PATH = "/etc/ssl/certs/ollama-judge-registry.crt"
CLAIM = "ollama-models"
# How long a verdict may keep being refused before the run counts it as never answered.
FIRST_VERDICT_SECONDS = 120
RETRY_SECONDS = 0.02


@dataclass(frozen=True)
class Run:
    command: float  # from the command's start until it returned
    first_verdict: float  # from the command's start until the first verdict was answered
    refused: int  # requests refused (or not answered) before it, from the command's return


def manual_manifests(image: str, model: str) -> list[dict[str, Any]]:
    deployment, service = yaml.safe_load_all(MANUAL_MANIFEST)
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    container["image"] = image
    container["lifecycle"]["postStart"]["exec"]["command"] = ["sh", "-c", f"ollama pull {model}"]
    container["volumeMounts"] = [
        {"name": "registry-ca", "mountPath": CA_PATH, "subPath": "ca.crt", "readOnly": True}
    ]
    pod["volumes"] = [{"name": "registry-ca", "configMap": {"name": "registry-ca"}}]
    return [deployment, service]


def first_verdict(cluster: Cluster, model: str, command: Callable[[], object]) -> Run:
    """Runs `command`; the moment it returns, asks the Service for a verdict, and again until
    one is answered."""
    core = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    started = time.perf_counter()
    command()
    returned = time.perf_counter()
    spec = core.read_namespaced_service(SERVICE, NAMESPACE).spec
    assert spec is not None
    judge = JudgeClient(f"http://{spec.cluster_ip}:11434/v1", FIRST_VERDICT_SECONDS)
    refused = 0
    while True:
        try:
            judge.ask(model)
            break
        except CheckError as error:
            refused += 1
            if time.perf_counter() - returned > FIRST_VERDICT_SECONDS:
                raise AssertionError(f"no verdict through the Service: {error}") from None
            time.sleep(RETRY_SECONDS)
    return Run(returned - started, time.perf_counter() - started, refused)


def manual_run(cluster: Cluster, registry: Registry, image: str, model: str) -> Run:
    assert registry.ca is not None
    cluster.kubectl(
        "create", "configmap", "registry-ca", "-n", NAMESPACE, f"--from-file=ca.crt={registry.ca}"
    )
    manifest = {"apiVersion": "v1", "kind": "List", "items": manual_manifests(image, model)}

    def apply_and_wait() -> None:
        cluster.apply(manifest)
        cluster.kubectl("rollout", "status", "-n", NAMESPACE, "deployment/ollama", "--timeout=600s")

    started = time.time()
    run = first_verdict(cluster, model, apply_and_wait)
    print(f"the manual's pod, from the same start:\n{pod_timeline(cluster, started, run)}")
    pulled = cluster.kubectl("exec", "-n", NAMESPACE, "deployment/ollama", "--", "ollama", "list")
    assert model.split("/", 1)[1] in pulled, f"the manual's hook did not pull {model}:\n{pulled}"
    cluster.kubectl("delete", "deployment,service", "ollama", "-n", NAMESPACE, "--wait=true")
    cluster.kubectl("delete", "configmap", "registry-ca", "-n", NAMESPACE)
    wait_until_no_pods(cluster)
    return run


def stack_run(project: ProjectCopy, cluster: Cluster, registry: Registry, model: str) -> Run:
    stack = project.stack(
        "knitfab",
        {
            "kubernetes:kubeconfig": str(cluster.kubeconfig),
            "ollama-judge:models": [model],
            "ollama-judge:registries": {registry.address: {"caFile": str(registry.ca)}},
        },
    )
    timeline = Timeline()
    started = time.time()
    run = first_verdict(cluster, model, lambda: cli_up(stack, on_event=timeline.on_event))
    print(f"where the stack's up went:\n{timeline.report(run.command)}", flush=True)
    print(f"the judge's pod, from the same start:\n{pod_timeline(cluster, started, run)}")
    stack.destroy()
    wait_until_no_pods(cluster)
    # The claim outlives `destroy` (keepModelsOnDestroy): the next run starts on an empty
    # volume, as the manual's pod does.
    cluster.kubectl("delete", "pvc", CLAIM, "-n", NAMESPACE, "--wait=true")
    return run


def pod_timeline(cluster: Cluster, started: float, run: Run) -> str:
    """In seconds from `started`: when the judge's container started, each step of the
    stack's model script (the kubelet's log timestamps), when the pod turned Ready
    (whole seconds only), when the command returned, when the server logged the first
    verdict (the answer's end) and when it reached this host."""
    [pod] = cluster.get("pods", "-n", NAMESPACE)["items"]
    name = pod["metadata"]["name"]
    [container] = pod["status"]["containerStatuses"]
    log = cluster.kubectl("logs", "--timestamps", "-n", NAMESPACE, name)
    ready_condition = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    marks = {
        "container started (to the second)": epoch_seconds(
            container["state"]["running"]["startedAt"]
        )
    }
    for line in log.splitlines():  # the model script's steps (the stack's hook)
        stamp, _, text = line.partition(" ")
        if "ollama-judge: " in text:
            marks[f"hook: {text.split('ollama-judge: ', 1)[1][:60]}"] = epoch_seconds(stamp)
    marks["pod Ready (to the second)"] = epoch_seconds(ready_condition["lastTransitionTime"])
    marks["command returned"] = started + run.command
    verdicts = [line for line in log.splitlines() if "/v1/chat/completions" in line]
    if verdicts:
        marks["server logged the first verdict"] = epoch_seconds(verdicts[0].split(" ", 1)[0])
    marks[f"first verdict answered here ({run.refused} refused before)"] = (
        started + run.first_verdict
    )
    return "\n".join(f"  {at - started:6.2f}s  {what}" for what, at in marks.items())


@contextmanager
def node_and_registry(
    scratch: Path, image: str, gpus: int = 1, volumes: int = 2
) -> Iterator[tuple[Registry, Cluster]]:
    """For the duration: the test registry over TLS, reachable from the node, and the test
    cluster with its real node (offering `gpus` GPUs, running `image`), with the judge's
    namespace and `volumes` empty volumes for the default StorageClass."""
    with (
        docker_network(f"{PREFIX}-registry-net") as network,
        running_registry(scratch / "registry", network, on_gateway=True, prefix=PREFIX) as reg,
        running_cluster(
            scratch / "cluster",
            fake_nodes=0,
            real_node_images=[image, http_probe_image()],
            real_node_gpus=gpus,
        ) as cluster,
    ):
        cluster.kubectl("create", "namespace", NAMESPACE)
        # The committed stack keeps its models on a claim: one empty volume per stack run.
        directories = [scratch / "volumes" / str(number) for number in range(volumes)]
        for directory in directories:
            directory.mkdir(parents=True)
        cluster.default_storage([str(directory) for directory in directories])
        yield reg, cluster


def wait_until_no_pods(cluster: Cluster) -> None:
    """The GPU is free again: the previous judge's pod is gone."""
    deadline = time.monotonic() + 120
    while cluster.get("pods", "-n", NAMESPACE)["items"]:
        if time.monotonic() > deadline:
            raise AssertionError("the previous judge's pod did not go away")
        time.sleep(0.2)


def median(runs: list[Run], seconds: Callable[[Run], float]) -> float:
    return statistics.median(seconds(run) for run in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="also the 300 MB model")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each way, per model")
    arguments = parser.parse_args()
    shapes = {"tiny": judge_model.TINY}
    if arguments.large:
        shapes["large"] = judge_model.LARGE
    os.environ.update(engine_environment())
    print(f"before: {load()}", flush=True)
    results: dict[str, dict[str, list[Run]]] = {}
    with tempfile.TemporaryDirectory() as scratch_dir, docker_engine(Path(scratch_dir)):
        scratch = Path(scratch_dir)
        image = host.build_ollama_image(host.IMAGE)
        project = ProjectCopy(scratch)
        volumes = arguments.rounds * len(shapes)
        with node_and_registry(scratch, image, volumes=volumes) as (reg, cluster):
            for label, shape in shapes.items():
                model = reg.push(judge_model.write_judge_model(scratch / label, shape),
                                 f"judge-{label}:1", image)  # fmt: skip
                runs = results[label] = {"stack": [], "manual": []}
                for number in range(1, arguments.rounds + 1):
                    runs["manual"].append(manual_run(cluster, reg, image, model))
                    runs["stack"].append(stack_run(project, cluster, reg, model))
                    print(f"{label} model, round {number}: {runs['manual'][-1]}, "
                          f"{runs['stack'][-1]}", flush=True)  # fmt: skip
        floor = empty_program_up(scratch / "empty")
    print(f"after: {load()}")
    print(f"engine floor (up of an empty program): {floor:.2f}s")
    for label, runs in results.items():
        command = median(runs["stack"], lambda run: run.command)
        verdict = median(runs["stack"], lambda run: run.first_verdict)
        manual_command = median(runs["manual"], lambda run: run.command)
        manual_verdict = median(runs["manual"], lambda run: run.first_verdict)
        refused = [run.refused for run in runs["stack"]]
        print(
            f"{label} model, medians of {arguments.rounds} rounds:\n"
            f"  up / kubectl apply + rollout status: {ratio(command, manual_command)}\n"
            f"  first verdict, stack / manual: {ratio(verdict, manual_verdict)}; / (manual + "
            f"floor + 1 s): {ratio(verdict, manual_verdict + floor + 1)} (goal at most 1.00x)\n"
            f"  requests refused after up returned, per round: {refused} (goal: none); after "
            f"rollout status: {[run.refused for run in runs['manual']]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
