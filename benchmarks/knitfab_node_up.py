"""Times the knitfab stack on a real node (testcluster/node.py) against the manual's
`kubectl apply -f ollama.yaml` + `kubectl rollout status`, one run each, on the same node
and with the same model from the same registry, and prints ratios.

    .venv/bin/python benchmarks/knitfab_node_up.py

Both end with the model pulled: the stack's `up` returns when the Deployment is
Available, which its startup probe allows only once every model is pulled and loaded
onto its claim (a fresh `local` volume of the test cluster's default class each run);
the manual's rollout ends once its postStart pull into the container has finished (a
container is not running before its hook returns). The manual's manifest gets only what
reaching the registry needs: the model reference, the pinned image tag (its untagged
`ollama/ollama` means "always pull", and nothing can be pulled here) and the registry's
CA, mounted where the stack mounts it. The engine floor (the `up` of an empty program)
is measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.knitfab_up import MANUAL_MANIFEST
from benchmarks.timing import (
    Timeline,
    cli_up,
    empty_program_up,
    epoch_seconds,
    load,
    ratio,
    ready_line_at,
    timed,
)
from tests.e2e import docker_host as host
from tests.e2e import judge_model
from tests.e2e.docker_host import http_probe_image
from tests.e2e.engine import ProjectCopy, docker_engine, engine_environment
from tests.e2e.kube_cluster import Cluster, running_cluster
from tests.e2e.registry import Registry, docker_network, running_registry

PREFIX = f"ollama-judge-bench-{uuid.uuid4().hex[:6]}"
NAMESPACE = "knitfab"
CA_PATH = "/etc/ssl/certs/ollama-judge-registry.crt"
CLAIM = "ollama-models"
VOLUMES = 2  # one per model measured


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


def manual_run(cluster: Cluster, registry: Registry, image: str, model: str) -> float:
    assert registry.ca is not None
    cluster.kubectl(
        "create", "configmap", "registry-ca", "-n", NAMESPACE, f"--from-file=ca.crt={registry.ca}"
    )
    manifest = {"apiVersion": "v1", "kind": "List", "items": manual_manifests(image, model)}
    seconds = timed(
        lambda: (
            cluster.apply(manifest),
            cluster.kubectl("rollout", "status", "-n", NAMESPACE, "deployment/ollama",
                            "--timeout=600s"),
        )
    )  # fmt: skip
    pulled = cluster.kubectl("exec", "-n", NAMESPACE, "deployment/ollama", "--", "ollama", "list")
    assert model.split("/", 1)[1] in pulled, f"the manual's hook did not pull {model}:\n{pulled}"
    cluster.kubectl("delete", "deployment,service", "ollama", "-n", NAMESPACE, "--wait=true")
    cluster.kubectl("delete", "configmap", "registry-ca", "-n", NAMESPACE)
    wait_until_no_pods(cluster)
    return seconds


def stack_run(project: ProjectCopy, cluster: Cluster, registry: Registry, model: str) -> float:
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
    seconds = timed(lambda: cli_up(stack, on_event=timeline.on_event))
    print(f"where the stack's up went:\n{timeline.report(seconds)}", flush=True)
    print(f"the judge's pod, from the same start:\n{pod_timeline(cluster, started)}", flush=True)
    stack.destroy()
    wait_until_no_pods(cluster)
    # The claim outlives `destroy` (keepModelsOnDestroy): the next run starts on an empty
    # volume, as the manual's pod does.
    cluster.kubectl("delete", "pvc", CLAIM, "-n", NAMESPACE, "--wait=true")
    return seconds


def pod_timeline(cluster: Cluster, started: float) -> str:
    """When the judge's container started, when its model script said `ready:` (the
    kubelet's log timestamps) and when the pod turned Ready (whole seconds only), in
    seconds from `started`; and how long after `ready:` the `up` returned."""
    returned = time.time()
    [pod] = cluster.get("pods", "-n", NAMESPACE)["items"]
    name = pod["metadata"]["name"]
    [container] = pod["status"]["containerStatuses"]
    log = cluster.kubectl("logs", "--timestamps", "-n", NAMESPACE, name)
    ready_condition = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    marks = {
        "container started": epoch_seconds(container["state"]["running"]["startedAt"]),
        "model script said ready:": ready_line_at(log),
        "pod Ready (to the second)": epoch_seconds(ready_condition["lastTransitionTime"]),
        "up returned": returned,
    }
    lines = [f"  {at - started:6.2f}s  {what}" for what, at in marks.items()]
    ready_to_return = returned - marks["model script said ready:"]
    return "\n".join(
        [*lines, f"  ready: to up returned: {ready_to_return:.2f}s (goal at most 1 s)"]
    )


@contextmanager
def node_and_registry(
    scratch: Path, image: str, gpus: int = 1
) -> Iterator[tuple[Registry, Cluster]]:
    """For the duration: the test registry over TLS, reachable from the node, and the test
    cluster with its real node (offering `gpus` GPUs, running `image`), with the judge's
    namespace."""
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
        volumes = [scratch / "volumes" / str(number) for number in range(VOLUMES)]
        for volume in volumes:
            volume.mkdir(parents=True)
        cluster.default_storage([str(volume) for volume in volumes])
        yield reg, cluster


def wait_until_no_pods(cluster: Cluster) -> None:
    """The GPU is free again: the previous judge's pod is gone."""
    deadline = time.monotonic() + 120
    while cluster.get("pods", "-n", NAMESPACE)["items"]:
        if time.monotonic() > deadline:
            raise AssertionError("the previous judge's pod did not go away")
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="also the 300 MB model")
    shapes = {"tiny": judge_model.TINY}
    if parser.parse_args().large:
        shapes["large"] = judge_model.LARGE
    os.environ.update(engine_environment())
    print(f"before: {load()}", flush=True)
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as scratch_dir, docker_engine(Path(scratch_dir)):
        scratch = Path(scratch_dir)
        image = host.build_ollama_image(host.IMAGE)
        project = ProjectCopy(scratch)
        with node_and_registry(scratch, image) as (reg, cluster):
            for label, shape in shapes.items():
                model = reg.push(judge_model.write_judge_model(scratch / label, shape),
                                 f"judge-{label}:1", image)  # fmt: skip
                manual = manual_run(cluster, reg, image, model)
                stacked = stack_run(project, cluster, reg, model)
                results[label] = (stacked, manual)
                print(f"{label} model: stack up {stacked:.2f}s, manual {manual:.2f}s", flush=True)
        floor = empty_program_up(scratch / "empty")
    print(f"after: {load()}")
    print(f"engine floor (up of an empty program): {floor:.2f}s")
    for label, (stacked, manual) in results.items():
        print(
            f"{label} model, up to Available / kubectl apply + rollout status: "
            f"{ratio(stacked, manual)}; less the engine floor: {ratio(stacked - floor, manual)}; "
            f"/ (manual + floor + 1 s): {ratio(stacked, manual + floor + 1)} (goal at most 1.00x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
