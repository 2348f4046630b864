"""Times the local stack against the manual's plain Docker commands, side by side in one
run on the same Docker engine, and prints ratios (absolute times on a shared machine say
little; ratios taken in one run say more).

    .venv/bin/python benchmarks/local_up.py [--rounds 3]

1. A fresh `pulumi up` to ready (the container healthy) against `docker network create`
   + `docker run` until `GET /api/version` answers — the same ready state, as the judge
   has no models to pull here (a CPU-only host without a model registry).
2. `pulumi up` with nothing to change against `pulumi preview`.

Each round also measures the engine's floor (`up` of an empty program), prints where the
fresh `up` went (the engine's events) and how long after the model script said `ready:`
(the container log's timestamp) `up` returned. The goal: a fresh `up` within the manual's
time plus the floor plus 1 s, and `up` back within 1 s of the judge being ready.

Needs what the end-to-end tests need (`scripts/test` sets it up): the Pulumi engine, a
Docker engine, the pinned Ollama image, and the names ollama / ollama-net free.
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

from benchmarks.timing import (
    Timeline,
    cli_up,
    empty_program_up,
    load,
    median_ratio,
    ready_line_at,
    timed,
)
from tests.e2e import docker_host as host
from tests.e2e.engine import ProjectCopy, docker_engine, engine_environment


def manual_run(image: str, port: int) -> None:
    host.docker("network", "create", "ollama-net")
    host.docker(
        "run", "-d", "--network", "ollama-net", "-v", "ollama:/root/.ollama",
        "-p", f"127.0.0.1:{port}:11434", "--name", "ollama", image,
    )  # fmt: skip

    host.wait_until_answering(f"http://127.0.0.1:{port}", 60, "the manually started server")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    os.environ.update(engine_environment())
    print(f"before: {load()}", flush=True)
    times: dict[str, list[float]] = {
        "up": [], "manual": [], "floor": [], "ready to return": [], "no-op up": [], "preview": []
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch, docker_engine(Path(scratch)):
        image = host.build_ollama_image(host.IMAGE)
        host.claim_judge_names()
        project = ProjectCopy(Path(scratch))
        port = host.free_port()
        stack = project.stack("local", host.cpu_only(port))
        try:
            for round_number in range(1, rounds + 1):
                times["manual"].append(timed(lambda: manual_run(image, port)))
                host.remove_judge_objects()
                timeline = Timeline()
                times["up"].append(timed(lambda: cli_up(stack, on_event=timeline.on_event)))  # noqa: B023
                logged = host.docker("logs", "--timestamps", "ollama")
                ready_at = ready_line_at(logged.stdout + logged.stderr)
                times["ready to return"].append(time.time() - ready_at)
                times["no-op up"].append(timed(lambda: cli_up(stack)))
                times["preview"].append(timed(stack.preview))
                stack.destroy()
                host.remove_judge_objects()
                floor_dir = Path(scratch) / f"floor-{round_number}"
                times["floor"].append(empty_program_up(floor_dir))
                print(
                    f"round {round_number}: "
                    + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items())
                    + f"\n where the fresh up went:\n{timeline.report(times['up'][-1])}",
                    flush=True,
                )
        finally:
            host.release_judge_names()
    print(f"after: {load()}")
    median = {k: statistics.median(v) for k, v in times.items()}
    goal = median["manual"] + median["floor"] + 1
    print(f"engine floor (up of an empty program): {median['floor']:.2f}s")
    print(
        f"fresh pulumi up / docker network create + docker run: "
        f"{median_ratio(times['up'], times['manual'])}"
    )
    less_floor = [up - floor for up, floor in zip(times["up"], times["floor"], strict=True)]
    print(
        "fresh pulumi up less the engine floor / manual: "
        + median_ratio(less_floor, times["manual"])
    )
    print(
        f"fresh pulumi up / (manual + floor + 1 s): {median['up'] / goal:.2f}x "
        f"({median['up']:.2f}s / {goal:.2f}s; goal at most 1.00x)"
    )
    print(
        f"judge ready (its `ready:` line) to up returned: {median['ready to return']:.2f}s "
        f"median (goal at most 1 s)"
    )
    print(f"no-op pulumi up / pulumi preview: {median_ratio(times['no-op up'], times['preview'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
