"""Times stack `local` from `up` to the judge's first verdict against the manual's
commands, in one run on the same Docker engine, from the same registry, with the tiny
judge model and with the large one, and prints ratios (absolute times on a shared
machine say little; ratios taken in one run say more).

    .venv/bin/python benchmarks/judge_up.py

For each model, on a fresh volume:
1. The manual: `docker network create`, `docker run` (the registry's CA mounted as the
   stack mounts it), `docker exec ... ollama pull` once the server answers, then the
   first verdict (scripts/judge-check's request, from this host).
2. `pulumi up` of stack local with the model in `models` and the CA in `registries`,
   then the first verdict the same way.
Then five more verdicts on each judge. The first verdict of each judge pays for reading
the whole prompt, which Ollama then caches, so the verdicts after it are cheaper on both;
the manual's first verdict also loads the model, the stack's does not (it was loaded
before `up` returned): their ratio is what the preload saves the evaluation's first
request.

The engine floor is the `up` of an empty program (a fresh stack of a scratch project
on the same engine and backend): what any `up` costs before this program does anything.

Needs what the end-to-end tests need (`scripts/test` sets it up): the Pulumi engine, a
Docker engine, the pinned Ollama image and the registry image. Every name it uses
starts with `ollama-judge-bench-`, so it runs beside a judge of yours.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.judge_registry import PREFIX, SHAPES, VERDICT_TIMEOUT_SECONDS, judge_registry
from benchmarks.timing import cli_up, empty_program_up, load, ratio, timed
from judge_check.client import JudgeClient
from tests.e2e import docker_host as host
from tests.e2e.engine import ProjectCopy, docker_engine, engine_environment
from tests.e2e.registry import Registry

STEADY_VERDICTS = 5


@dataclass(frozen=True)
class Names:
    container: str
    network: str
    volume: str

    @classmethod
    def of(cls, role: str) -> Names:
        return cls(f"{PREFIX}-{role}", f"{PREFIX}-{role}-net", f"{PREFIX}-{role}-models")

    def remove(self) -> None:
        host.docker("rm", "-f", self.container, check=False)
        host.docker("network", "rm", self.network, check=False)
        host.docker("volume", "rm", "-f", self.volume, check=False)


@dataclass(frozen=True)
class Run:
    ready: float  # from the first command until the judge is ready (up returned, pull done)
    first_verdict: float  # the first verdict's own latency
    steady_verdict: float  # the median latency of the verdicts after it

    @property
    def to_first_verdict(self) -> float:
        return self.ready + self.first_verdict

    def __str__(self) -> str:
        return (
            f"ready {self.ready:.2f}s, first verdict {self.first_verdict:.2f}s, "
            f"then {self.steady_verdict:.2f}s (median of {STEADY_VERDICTS})"
        )


def verdicts(url: str, model: str) -> tuple[float, float]:
    """The first verdict's latency, and the median of the next ones."""

    def ask() -> float:
        return JudgeClient(f"{url}/v1", VERDICT_TIMEOUT_SECONDS).ask(model)[1]

    first = ask()
    steady = [ask() for _ in range(STEADY_VERDICTS)]
    return first, statistics.median(steady)


def manual_run(image: str, registry: Registry, model: str) -> Run:
    """The manual's commands, with the CA mounted as the stack mounts it."""
    names, port = Names.of("manual"), host.free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        host.docker("network", "create", names.network)
        host.docker(
            "run", "-d", "--name", names.container, "--network", names.network,
            "--network-alias", "ollama", "-v", f"{names.volume}:/root/.ollama",
            "-v", f"{registry.ca}:/etc/ssl/certs/ollama-judge-0.crt:ro",
            "-p", f"127.0.0.1:{port}:11434", image,
        )  # fmt: skip
        # `docker exec ... ollama pull` fails while the server starts; a user tries again.
        host.wait_until_answering(url, 120, f"the server at {url}")
        host.docker("exec", names.container, "ollama", "pull", *registry.pull_flags(), model)
        ready = time.perf_counter() - started
        first, steady = verdicts(url, model)
    finally:
        names.remove()
    return Run(ready, first, steady)


def stack_config(registry: Registry, model: str, names: Names, port: int) -> dict[str, Any]:
    return {
        "ollama-judge:models": [model],
        "ollama-judge:docker": {
            "gpus": "none",
            "hostPort": port,
            "containerName": names.container,
            "networkName": names.network,
            "volumeName": names.volume,
        },
        "ollama-judge:registries": {registry.address: {"caFile": str(registry.ca)}},
        # A fresh volume every run, removed with the stack.
        "ollama-judge:keepModelsOnDestroy": False,
    }


def stack_run(project: ProjectCopy, registry: Registry, model: str) -> Run:
    names, port = Names.of("stack"), host.free_port()
    stack = project.stack("local", stack_config(registry, model, names, port))
    try:
        ready = timed(lambda: cli_up(stack))
        first, steady = verdicts(f"http://127.0.0.1:{port}", model)
        stack.destroy()
    finally:
        names.remove()
    return Run(ready, first, steady)


def main() -> int:
    os.environ.update(engine_environment())
    print(f"before: {load()}", flush=True)
    with tempfile.TemporaryDirectory() as scratch_dir, docker_engine(Path(scratch_dir)):
        scratch = Path(scratch_dir)
        project = ProjectCopy(scratch)  # sets the backend for the stacks below
        results: dict[str, tuple[Run, Run]] = {}
        with judge_registry(scratch) as judges:
            for label in SHAPES:
                model = judges.push(label)
                manual = manual_run(judges.image, judges.registry, model)
                stacked = stack_run(project, judges.registry, model)
                results[label] = (stacked, manual)
                for who, run in (("stack", stacked), ("manual", manual)):
                    print(f"{label} model, {who}: {run}", flush=True)
        floor = empty_program_up(scratch / "empty")

    print(f"after: {load()}")
    print(f"engine floor (up of an empty program): {floor:.2f}s")
    for label, (stacked, manual) in results.items():
        print(
            f"{label} model, up → first verdict / manual → first verdict: "
            f"{ratio(stacked.to_first_verdict, manual.to_first_verdict)}; without the "
            f"engine floor: {ratio(stacked.to_first_verdict - floor, manual.to_first_verdict)}"
        )
        print(
            f"{label} model, first verdict / median of {STEADY_VERDICTS} after it: "
            f"stack {ratio(stacked.first_verdict, stacked.steady_verdict)}, "
            f"manual {ratio(manual.first_verdict, manual.steady_verdict)}"
        )
        print(
            f"{label} model, first verdict, stack (loaded by up) / manual (loaded on demand): "
            f"{ratio(stacked.first_verdict, manual.first_verdict)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
