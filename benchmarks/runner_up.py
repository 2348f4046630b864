"""Times what the stack runner adds to the engine: `up` with nothing to change, against the
engine's floor (`up` of an empty program), in one run, and prints ratios.

    .venv/bin/python benchmarks/runner_up.py [--rounds 5]

The knitfab stack renders its manifests to YAML (kubernetes:renderYamlToDirectory): the
real program and engine run, and no Docker engine or cluster is needed.

1. `scripts/pulumi up --yes --skip-preview` and `scripts/pulumi up --yes` (a preview
   first, as scripts/deploy runs it), each a process of its own as typed;
2. the same `up` in this process, as benchmarks' `cli_up` runs it (the result not read
   back) and as the Automation API runs it by default (outputs and history read back).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import cli_up, empty_program_up, load, median_ratio, timed
from tests.e2e.engine import ProjectCopy, engine_environment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    os.environ.update(engine_environment())
    print(f"before: {load()}", flush=True)
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        project = ProjectCopy(Path(scratch))
        rendered = {"kubernetes:renderYamlToDirectory": str(Path(scratch) / "rendered")}
        stack = project.stack("knitfab", rendered)
        stack.up()

        def typed(*args: str) -> None:
            command = [sys.executable, "-m", "stack_runner", "up", "--stack", "knitfab", *args]
            quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL}
            subprocess.run(command, cwd=project.dir, check=True, **quiet)

        runs = {
            "floor": lambda n: empty_program_up(Path(scratch) / f"floor-{n}"),
            "up --yes --skip-preview": lambda n: timed(lambda: typed("--yes", "--skip-preview")),
            "up --yes": lambda n: timed(lambda: typed("--yes")),
            "cli_up": lambda n: timed(lambda: cli_up(stack)),
            "Stack.up": lambda n: timed(stack.up),
        }
        for n in range(rounds):
            for name, run in runs.items():
                os.environ["PULUMI_BACKEND_URL"] = project.backend_url
                times.setdefault(name, []).append(run(n))
            print(f"round {n + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()))
    print(f"after: {load()}")
    floor = times["floor"]
    for name in ("up --yes --skip-preview", "up --yes", "cli_up", "Stack.up"):
        print(f"{name} / engine floor: {median_ratio(times[name], floor)}")
    preview_first = median_ratio(times["up --yes"], times["up --yes --skip-preview"])
    print(f"up --yes / up --yes --skip-preview: {preview_first}")
    print(f"Stack.up / cli_up: {median_ratio(times['Stack.up'], times['cli_up'])}")
    print(f"median floor {statistics.median(floor):.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
