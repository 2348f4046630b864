"""Times the knitfab stack against the manual's `kubectl apply -f ollama.yaml`, side by
side in one run against the same test cluster (testcluster/), and prints ratios.

    .venv/bin/python benchmarks/knitfab_up.py [--rounds 3]

1. `pulumi up` until the Deployment is Available against `kubectl apply -f ollama.yaml`
   followed by `kubectl rollout status`.
2. `pulumi up` with nothing to change against `kubectl diff -f ollama.yaml` with nothing
   to change.

The cluster's node is simulated (kwok): pods become ready at once and no model is pulled,
so this measures the tools, not Ollama. The committed stack's claim gets a volume of the
test cluster's default StorageClass each round. Each round also measures the engine's floor (`up`
of an empty program) and prints where the fresh `up` went (the engine's events); the goal
is a fresh `up` within the manual's time plus the floor plus 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import Timeline, cli_up, empty_program_up, load, median_ratio, timed
from tests.e2e.engine import ProjectCopy, engine_environment
from tests.e2e.kube_cluster import running_cluster

# The manual's manifest, as its Task 2 applies it.
MANUAL_MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ollama
  namespace: knitfab
  labels:
    app: ollama
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ollama
  template:
    metadata:
      labels:
        app: ollama
    spec:
      containers:
        - name: ollama
          image: ollama/ollama
          resources:
            requests:
              cpu: "4"
              memory: "5Gi"
              nvidia.com/gpu: 1
            limits:
              cpu: "4"
              memory: "5Gi"
              nvidia.com/gpu: 1
          ports:
            - containerPort: 11434
          lifecycle:
            postStart:
              exec:
                command: ["sh", "-c", "ollama pull llama3.2"]
---
apiVersion: v1
kind: Service
metadata:
  name: ollama
  namespace: knitfab
spec:
  selector:
    app: ollama
  ports:
    - protocol: TCP
      port: 11434
      targetPort: 11434
  type: ClusterIP
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    os.environ.update(engine_environment())
    print(f"before: {load()}", flush=True)
    times: dict[str, list[float]] = {
        "up": [], "apply": [], "floor": [], "no-op up": [], "diff": []
    }  # fmt: skip
    with (
        tempfile.TemporaryDirectory() as scratch,
        running_cluster(Path(scratch) / "cluster") as cluster,
    ):
        cluster.kubectl("create", "namespace", "knitfab")
        # The committed stack keeps its models on a claim: a volume of the cluster's default
        # class for each round's fresh `up` (the simulated node mounts nothing).
        cluster.default_storage([f"{scratch}/models-{number}" for number in range(rounds)])
        project = ProjectCopy(Path(scratch))
        stack = project.stack("knitfab", {"kubernetes:kubeconfig": str(cluster.kubeconfig)})
        for round_number in range(1, rounds + 1):
            times["apply"].append(
                timed(
                    lambda: (
                        cluster.kubectl("apply", "-f", "-", stdin=MANUAL_MANIFEST),
                        cluster.kubectl("rollout", "status", "-n", "knitfab",
                                    "deployment/ollama", "--timeout=120s"),
                    )
                )
            )  # fmt: skip
            # kubectl diff exits 1 if anything would change: here nothing may.
            times["diff"].append(
                timed(lambda: cluster.kubectl("diff", "-f", "-", stdin=MANUAL_MANIFEST))
            )
            cluster.kubectl("delete", "-f", "-", "--wait=true", stdin=MANUAL_MANIFEST)
            timeline = Timeline()
            times["up"].append(timed(lambda: cli_up(stack, on_event=timeline.on_event)))  # noqa: B023
            times["no-op up"].append(timed(lambda: cli_up(stack)))
            stack.destroy()
            # The claim outlives `destroy` (keepModelsOnDestroy): the next round's is new.
            cluster.kubectl("delete", "pvc", "ollama-models", "-n", "knitfab", "--wait=true")
            times["floor"].append(empty_program_up(Path(scratch) / f"floor-{round_number}"))
            print(
                f"round {round_number}: "
                + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items())
                + f"\n where the fresh up went:\n{timeline.report(times['up'][-1])}",
                flush=True,
            )
    print(f"after: {load()}")
    median = {k: statistics.median(v) for k, v in times.items()}
    goal = median["apply"] + median["floor"] + 1
    print(f"engine floor (up of an empty program): {median['floor']:.2f}s")
    print(
        f"pulumi up / kubectl apply + rollout status: {median_ratio(times['up'], times['apply'])}"
    )
    print(
        f"pulumi up / (kubectl apply + rollout status + floor + 1 s): {median['up'] / goal:.2f}x "
        f"({median['up']:.2f}s / {goal:.2f}s; goal at most 1.00x)"
    )
    print(f"no-op pulumi up / kubectl diff: {median_ratio(times['no-op up'], times['diff'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
