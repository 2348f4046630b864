"""Judge throughput on the real node (testcluster/node.py, offering 2 GPUs): verdicts per
second from K evaluation workers through the judge's Service, against the knitfab stack
with one replica (`OLLAMA_NUM_PARALLEL` 1 and K) and with 2 replicas (1 each), same
model, same run, as ratios against one worker on one default judge.

    .venv/bin/python benchmarks/knitfab_node_throughput.py [--clients 1,2,4] [--rounds 3]
        [--seconds 6]

Each judge setting is a fresh `up` of the committed knitfab stack (the tiny test judge
model from a registry on this machine, its CA, `replicas`, `environment`), warmed up as in
benchmarks/judge_throughput.py, then every K is measured in turn, round after round. The
workers (judge_throughput.ask_concurrently) reach the Service's cluster IP from this host
through kube-proxy, which picks a pod per connection: each worker keeps its connection,
so with 2 replicas the workers of a round may all land on one judge. How the answers
spread over the pods is counted from their logs and printed.

The model computes with one thread (`num_thread` in its Modelfile), as in
judge_throughput.py, for the same reason: two judges on 2 cores, each with one thread.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.judge_throughput import (
    CPU_NOTE,
    Budget,
    Result,
    Setting,
    ask_concurrently,
    table,
)
from benchmarks.knitfab_node_up import NAMESPACE, node_and_registry, wait_until_no_pods
from benchmarks.timing import cli_up, load
from judge_check.client import CheckError
from tests.e2e import docker_host as host
from tests.e2e import judge_model
from tests.e2e.engine import ProjectCopy, docker_engine, engine_environment
from tests.e2e.kube_cluster import Cluster
from tests.e2e.registry import Registry

# What Ollama's server logs for each answer of the OpenAI-compatible API.
ANSWER_LOG = '"/v1/chat/completions"'


def one_thread_model(scratch: Path, registry: Registry, image: str) -> str:
    files = judge_model.write_judge_model(scratch / "tiny", judge_model.TINY)
    files.modelfile.write_text(files.modelfile.read_text() + "PARAMETER num_thread 1\n")
    return registry.push(files, "judge-tiny-1thread:1", image)


def answers_per_pod(cluster: Cluster) -> Counter[str]:
    pods = cluster.get("pods", "-n", NAMESPACE, "-l", "app=ollama")["items"]
    return Counter(
        {
            pod["metadata"]["name"]: cluster.kubectl(
                "logs", "-n", NAMESPACE, pod["metadata"]["name"]
            ).count(ANSWER_LOG)
            for pod in pods
        }
    )


def service_url(cluster: Cluster) -> str:
    """The Service's address from this host, once kube-proxy routes it here: `up` ends
    when the endpoint is ready in the API, and the node's rules follow a moment later."""
    service = cluster.get("service", "ollama", "-n", NAMESPACE)
    url = f"http://{service['spec']['clusterIP']}:11434"
    started = time.monotonic()

    host.wait_until_answering(url, 30, f"the judge's Service at {url}")
    print(f"the Service answered here {time.monotonic() - started:.2f}s after up", flush=True)
    return f"{url}/v1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients", type=lambda text: [int(k) for k in text.split(",")], default=[1, 2, 4]
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6, help="per setting and round")
    args = parser.parse_args(argv)
    counts = sorted({1, *args.clients})
    # (replicas, NUM_PARALLEL) per deployment; the baseline first.
    judges = [(1, 1), *[(1, k) for k in counts if k > 1], (2, 1)]
    results: dict[Setting, Result] = {}
    spread: dict[tuple[int, int], Counter[str]] = {}
    os.environ.update(engine_environment())
    print(f"{CPU_NOTE}; one compute thread per judge")
    print(f"before: {load()}", flush=True)
    with tempfile.TemporaryDirectory() as scratch_dir, docker_engine(Path(scratch_dir)):
        scratch = Path(scratch_dir)
        image = host.build_ollama_image(host.IMAGE)
        project = ProjectCopy(scratch)
        with node_and_registry(scratch, image, gpus=2) as (reg, cluster):
            model = one_thread_model(scratch, reg, image)
            for replicas, parallel in judges:
                stack = project.stack(
                    "knitfab",
                    {
                        "kubernetes:kubeconfig": str(cluster.kubeconfig),
                        "ollama-judge:models": [model],
                        "ollama-judge:registries": {reg.address: {"caFile": str(reg.ca)}},
                        "ollama-judge:environment": {"OLLAMA_NUM_PARALLEL": str(parallel)},
                        # Two replicas cannot share the default ReadWriteOnce claim, and
                        # where the models are kept does not change a verdict's time.
                        "ollama-judge:kubernetes": {
                            "replicas": replicas,
                            "persistence": {"enabled": False},
                        },
                    },
                )
                cli_up(stack)
                url = service_url(cluster)
                for clients in (1, max(parallel, replicas * 2)):  # load, fill the slots
                    warm_up = ask_concurrently(url, model, clients, Budget(verdicts=clients))
                    if warm_up.failures:
                        raise CheckError(f"warming up: {warm_up.failures[0]}")
                before = answers_per_pod(cluster)
                wanted = [k for k in counts if parallel in (1, k)]
                for number in range(1, args.rounds + 1):
                    for clients in wanted:
                        setting = Setting(clients, parallel, replicas)
                        done = ask_concurrently(url, model, clients, Budget(seconds=args.seconds))
                        results.setdefault(setting, Result()).rounds.append(done)
                        print(
                            f"round {number}, {replicas} replica(s), NUM_PARALLEL={parallel}, "
                            f"{clients} clients: {done.rate:.2f} verdicts/s, "
                            f"{len(done.failures)} not a verdict",
                            flush=True,
                        )
                spread[(replicas, parallel)] = answers_per_pod(cluster) - before
                stack.destroy()
                wait_until_no_pods(cluster)
    print(f"after (this benchmark's own work included): {load()}")
    ordered = dict(
        sorted(results.items(), key=lambda i: (i[0].replicas, i[0].clients, i[0].parallel))
    )
    print(f"tiny model on the real node, medians over {args.rounds} rounds:")
    print(table(ordered))
    for (replicas, parallel), answered in spread.items():
        shares = ", ".join(f"{n}" for n in sorted(answered.values(), reverse=True))
        print(f"{replicas} replica(s), NUM_PARALLEL={parallel}: answers per pod {shares}")
    failures = [failure for result in results.values() for failure in result.failures]
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
