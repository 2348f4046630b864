"""Judge throughput: verdicts per second when K evaluation workers ask at once, against
an Ollama judge that serves one request at a time (`OLLAMA_NUM_PARALLEL=1`, Ollama's
default) and one with K parallel slots (`OLLAMA_NUM_PARALLEL=K`), same model, same run,
as ratios against one worker on the default judge.

    .venv/bin/python benchmarks/judge_throughput.py [--clients 1,2,4] [--rounds 5]
        [--seconds 6 | --verdicts N] [--threads 1] [--large]

A worker is a thread with its own `openai` client asking the evaluation's question
(scripts/judge-check's request: the G-Eval instruction, the article, the verdict's
JSON schema), one question after another. Every answer must be a verdict
(judge_check.parse_verdict); the others are counted, and make the run fail.

One judge container per NUM_PARALLEL value, all started first, with the stack's own
variables (components/judge.py), pulling the tiny test judge model (or the 300 MB one,
`--large`) from a registry on this machine. Each is warmed up first: one verdict loads
the model, then one question per slot at once, since Ollama caches the prompt per slot
and the question is the same every time. The settings are then measured in turn,
round after round, so that a change in the machine's load falls on all of them alike;
verdicts/s is the median over the rounds (their range beside it), the latencies are
those of every verdict.

The judges compute with one thread (`--threads`, the model's `num_thread`; 0 for
Ollama's default of one per core). With one per core on this 2-core machine, whatever
else runs, the benchmark's own clients and the server's HTTP included, preempts one of
the model's threads while the other spin-waits for it: verdicts of 20 ms then take
seconds, at random, and that noise drowns what is measured.

What NUM_PARALLEL costs: Ollama sizes the KV cache for NUM_PARALLEL x the context
length (`KvSize` in the server's log); the script prints the context per slot (as
`ollama ps` shows it), the KV cache and the total memory of each judge.

Needs a Docker engine, the pinned Ollama image and the registry image (`scripts/test`
sets them up). Every Docker name starts with `ollama-judge-bench-<run>`.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.judge_registry import PREFIX, VERDICT_TIMEOUT_SECONDS, JudgeRegistry, judge_registry
from benchmarks.timing import load, ratio
from components.judge import DEFAULT_ENV
from judge_check.client import CheckError, JudgeClient
from tests.e2e import docker_host as host
from tests.e2e.engine import docker_engine
from tests.e2e.ollama_server import OllamaServer, judge_trust, running_ollama

# The judges here are given no GPU, whatever the machine has.
CPU_NOTE = (
    "judges on CPU only: these numbers show how Ollama schedules concurrent requests (one "
    "at a time, or side by side in parallel slots), not the throughput of a GPU judge"
)
# What llama-server logs as Ollama 0.34.1 loads a model (Ollama passes its log on): the
# KV cache's size and cells, the memory breakdown's host total (model + context + compute,
# in MiB) and the threads of its system_info line.
KV_CACHE = re.compile(r"llama_kv_cache: size =\s*([\d.]+ \w+)")
KV_TOKENS = re.compile(r"llama_kv_cache: size =[^(]*\(\s*(\d+) cells")
TOTAL_MEMORY = re.compile(r"\|\s+- Host\s+\|\s+(\d+) =")
THREADS = re.compile(r"system_info: n_threads = (\d+)")


@dataclass(frozen=True)
class Setting:
    clients: int  # evaluation workers asking at once
    parallel: int  # the judge's OLLAMA_NUM_PARALLEL
    replicas: int = 1  # judges behind one address (a Service)


@dataclass(frozen=True)
class Budget:
    """How long one measurement asks: `verdicts` questions in all, or for `seconds`."""

    verdicts: int | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Round:
    seconds: float
    latencies: list[float]  # one per verdict
    failures: list[str]  # what came back instead of a verdict

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds


@dataclass
class Result:
    rounds: list[Round] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.median(r.rate for r in self.rounds)

    @property
    def latencies(self) -> list[float]:
        return [seconds for r in self.rounds for seconds in r.latencies]

    @property
    def failures(self) -> list[str]:
        return [failure for r in self.rounds for failure in r.failures]


def ask_concurrently(url: str, model: str, clients: int, budget: Budget) -> Round:
    """`clients` workers ask one question after another until the budget is spent."""
    workers = [JudgeClient(url, VERDICT_TIMEOUT_SECONDS) for _ in range(clients)]
    latencies: list[float] = []
    failures: list[str] = []
    lock, asked = threading.Lock(), 0
    started = time.monotonic()

    def another() -> bool:
        nonlocal asked
        with lock:
            asked += 1
            if budget.seconds is not None:
                return time.monotonic() - started < budget.seconds
            return asked <= (budget.verdicts or 0)

    def work(worker: JudgeClient) -> None:
        while another():
            try:
                latencies.append(worker.ask(model)[1])
            except CheckError as error:
                failures.append(str(error))

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(work, workers))
    return Round(time.monotonic() - started, latencies, failures)


def with_threads(server: OllamaServer, model: str, threads: int) -> str:
    """`model` computing with `threads` threads, made in the judge from the pulled one
    under a name of its own (Ollama's API for it takes no such option); `model` for 0."""
    if not threads:
        return model
    name = f"judge-threads-{threads}"
    body = {"model": name, "from": model, "parameters": {"num_thread": threads}, "stream": False}
    request = urllib.request.Request(
        f"{server.url}/api/create", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60):
        return name


@contextmanager
def judges(
    registry: JudgeRegistry, model: str, parallels: list[int], threads: int
) -> Iterator[tuple[str, dict[int, OllamaServer]]]:
    """A warmed-up judge per NUM_PARALLEL value, and the model to ask them for; removed
    afterwards."""
    reg = registry.registry
    with ExitStack() as stack:
        servers = {}
        for parallel in parallels:
            server = stack.enter_context(
                running_ollama(
                    f"{PREFIX}-judge-p{parallel}",
                    registry.image,
                    reg.network,
                    judge_trust(reg.ca) if reg.ca else None,
                    env={**DEFAULT_ENV, "OLLAMA_NUM_PARALLEL": str(parallel)},
                )
            )
            server.exec("ollama", "pull", *reg.pull_flags(), model, timeout=900)
            asked = with_threads(server, model, threads)
            for clients in (1, parallel):  # load the model; then fill every slot's cache
                warm_up = ask_concurrently(
                    f"{server.url}/v1", asked, clients, Budget(verdicts=clients)
                )
                if warm_up.failures:
                    raise CheckError(f"{server.name}: {warm_up.failures[0]}")
            servers[parallel] = server
        yield asked, servers


def memory(server: OllamaServer) -> str:
    """The loaded model's context per slot (`ollama ps`), and its KV cache, total memory
    and threads as the server's log states them."""
    (loaded,) = host.get_json(f"{server.url}/api/ps")["models"]
    log = server.logs()

    def last(pattern: re.Pattern[str]) -> str:
        found = pattern.findall(log)
        return found[-1] if found else "?"

    return (
        f"context {loaded['context_length']} tokens per slot (ollama ps); KV cache "
        f"{last(KV_CACHE)} for {last(KV_TOKENS)} tokens, total {last(TOTAL_MEMORY)} MiB, "
        f"{last(THREADS)} compute thread(s) (server log)"
    )


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value at least p% of the values do not exceed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def plan(clients: list[int]) -> list[Setting]:
    """Each K on the default judge and on a judge with K slots; the baseline first."""
    counts = sorted({1, *clients})
    return [Setting(k, parallel) for k in counts for parallel in sorted({1, k})]


def table(results: dict[Setting, Result]) -> str:
    baseline = next(iter(results.values())).rate
    lines = [
        "| judges | clients | OLLAMA_NUM_PARALLEL | verdicts/s | rounds "
        "| vs 1 client, 1 judge, NUM_PARALLEL=1 | latency p50 | p95 | verdicts | not a verdict |",
        "| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for setting, result in results.items():
        latencies, rates = result.latencies, [r.rate for r in result.rounds]
        lines.append(
            f"| {setting.replicas} | {setting.clients} | {setting.parallel} | {result.rate:.2f} "
            f"| {min(rates):.2f}-{max(rates):.2f} "
            f"| {ratio(result.rate, baseline, '/s')} "
            f"| {statistics.median(latencies):.3f}s | {percentile(latencies, 95):.3f}s "
            f"| {len(latencies)} | {len(result.failures)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients",
        type=lambda text: [int(k) for k in text.split(",")],
        default=[1, 2, 4],
        help="numbers of evaluation workers, e.g. 1,2,4 (1 is always measured: the baseline)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds over every setting")
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--seconds", type=float, default=6, help="per setting and round")
    limit.add_argument("--verdicts", type=int, help="per setting and round, instead")
    parser.add_argument(
        "--threads", type=int, default=1, help="the judges' compute threads; 0: one per core"
    )
    parser.add_argument("--large", action="store_true", help="the 300 MB model, not the tiny")
    args = parser.parse_args(argv)
    if min(args.clients) < 1:
        parser.error("--clients: each number must be at least 1")

    budget = Budget(verdicts=args.verdicts) if args.verdicts else Budget(seconds=args.seconds)
    settings = plan(args.clients)
    results = {setting: Result() for setting in settings}
    label = "large" if args.large else "tiny"
    print(f"{CPU_NOTE}; {args.threads or 'one per core'} compute thread(s) per judge")
    print(f"before: {load()}", flush=True)
    with (
        tempfile.TemporaryDirectory() as scratch,
        docker_engine(Path(scratch)),
        judge_registry(Path(scratch)) as registry,
    ):
        model = registry.push(label)
        parallels = sorted({setting.parallel for setting in settings})
        with judges(registry, model, parallels, args.threads) as (asked, servers):
            for parallel, server in servers.items():
                print(f"{label} model, NUM_PARALLEL={parallel}: {memory(server)}", flush=True)
            for number in range(1, args.rounds + 1):
                for setting in settings:
                    url = f"{servers[setting.parallel].url}/v1"
                    done = ask_concurrently(url, asked, setting.clients, budget)
                    results[setting].rounds.append(done)
                    print(
                        f"round {number}, {setting.clients} clients, NUM_PARALLEL="
                        f"{setting.parallel}: {done.rate:.2f} verdicts/s, "
                        f"{len(done.failures)} not a verdict",
                        flush=True,
                    )
    print(f"after (this benchmark's own work included): {load()}")
    print(f"{label} model, medians over {args.rounds} rounds:")
    print(table(results))
    failures = [failure for result in results.values() for failure in result.failures]
    for failure in sorted(set(failures)):
        print(f"not a verdict: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
