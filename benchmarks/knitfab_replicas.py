"""Times `up` of the knitfab stack to Available for 1, 10 and 50 replicas on one test
cluster of 50 simulated GPU nodes (testcluster/, TESTCLUSTER_FAKE_NODES), and prints each
as a ratio to the one-replica time, beside the engine's floor (the `up` of an empty
program) from the same run.

    .venv/bin/python benchmarks/knitfab_replicas.py [--rounds 1] [--replicas 1,10,50]

Each `up` starts from nothing (the stack is destroyed after it): the pre-flight reads the
nodes, the Deployment of N replicas is created, then its Service, and `up` follows the
rollout until every pod is ready and the Service routes to them. The models are kept in
each pod's emptyDir (`persistence.enabled` false): several replicas cannot share the
default ReadWriteOnce claim, and where the models are kept does not change the rollout
here. Where the time goes is printed too: the rollout wait
(from the Deployment created to "available", read off `up`'s output), and, for the same N,
the control plane's own time for it, `kubectl apply` of the manual's manifest with N
replicas and `kubectl rollout status`. The nodes are simulated (kwok): pods are scheduled
and bound for real and reported ready at once, and no model is pulled, so this measures
what the program and the control plane do per replica, not Ollama. The goal: 50 replicas
take at most twice the time of one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.knitfab_up import MANUAL_MANIFEST
from benchmarks.timing import cli_up, empty_program_up, load, ratio, timed
from tests.e2e.engine import ProjectCopy, engine_environment
from tests.e2e.kube_cluster import Cluster, running_cluster

NODES = 50


class Timeline:
    """When `up`'s output said what: seconds from the start, by the first line saying it."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.seen: dict[str, float] = {}

    def __call__(self, line: str) -> None:
        for mark in ("ollama-deployment created", "Deployment ollama is available"):
            if mark in line:
                self.seen.setdefault(mark, time.perf_counter() - self.start)

    def rollout_wait(self) -> float:
        return self.seen["Deployment ollama is available"] - self.seen["ollama-deployment created"]


def manual_rollout(cluster: Cluster, replicas: int) -> float:
    """`kubectl apply` of the manual's manifest with `replicas`, then `rollout status`."""
    manifest = MANUAL_MANIFEST.replace("replicas: 1", f"replicas: {replicas}")
    seconds = timed(
        lambda: (
            cluster.kubectl("apply", "-f", "-", stdin=manifest),
            cluster.kubectl(
                "rollout", "status", "-n", "knitfab", "deployment/ollama", "--timeout=300s"
            ),
        )
    )
    cluster.kubectl("delete", "-f", "-", "--wait=true", stdin=manifest)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--replicas", default="1,10,50", help="comma-separated counts")
    options = parser.parse_args()
    counts = [int(n) for n in options.replicas.split(",")]
    os.environ.update(engine_environment())
    ups: dict[int, list[float]] = {n: [] for n in counts}
    waits: dict[int, list[float]] = {n: [] for n in counts}
    manual: dict[int, list[float]] = {n: [] for n in counts}
    floors: list[float] = []
    with (
        tempfile.TemporaryDirectory() as scratch,
        running_cluster(Path(scratch) / "cluster", fake_nodes=max(NODES, *counts)) as cluster,
    ):
        cluster.kubectl("create", "namespace", "knitfab")
        project = ProjectCopy(Path(scratch))
        for round_number in range(1, options.rounds + 1):
            for count in counts:
                manual[count].append(manual_rollout(cluster, count))
                stack = project.stack(
                    "knitfab",
                    {
                        "kubernetes:kubeconfig": str(cluster.kubeconfig),
                        "ollama-judge:kubernetes": {
                            "replicas": count,
                            "persistence": {"enabled": False},
                        },
                    },
                )
                timeline = Timeline()
                ups[count].append(timed(lambda: cli_up(stack, on_output=timeline)))  # noqa: B023
                waits[count].append(timeline.rollout_wait())
                stack.destroy()
            floors.append(empty_program_up(Path(scratch) / f"floor-{round_number}"))
            print(
                f"round {round_number}: "
                + ", ".join(
                    f"{n} replicas: up {ups[n][-1]:.2f}s (rollout wait {waits[n][-1]:.2f}s, "
                    f"kubectl {manual[n][-1]:.2f}s)"
                    for n in counts
                )
                + f"; engine floor {floors[-1]:.2f}s; {load()}",
                flush=True,
            )
    up_time = {n: statistics.median(t) for n, t in ups.items()}
    wait = {n: statistics.median(t) for n, t in waits.items()}
    kubectl = {n: statistics.median(t) for n, t in manual.items()}
    floor, first = statistics.median(floors), counts[0]
    print(f"engine floor (up of an empty program): {floor:.2f}s")
    for n in counts:
        print(
            f"{n} replicas / {first}: up {ratio(up_time[n], up_time[first])}; less the floor "
            f"{ratio(up_time[n] - floor, up_time[first] - floor)}; rollout wait "
            f"{ratio(wait[n], wait[first])}; kubectl apply + rollout status "
            f"{ratio(kubectl[n], kubectl[first])}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
