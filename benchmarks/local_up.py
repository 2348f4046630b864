"""Times the local stack against the manual's plain Docker commands, side by side in one
run on the same Docker engine, and prints ratios (absolute times on a shared machine say
little; ratios taken in one run say more).

    .venv/bin/python benchmarks/local_up.py [--rounds 3]

1. A fresh `pulumi up` to ready (the container healthy) against `docker network create`
   + `docker run` until `GET /api/version` answers — the same ready state, as the judge
   has no models to pull here (a CPU-only host without a model registry).
2. `pulumi up` with nothing to change against `pulumi preview`.

Needs what the end-to-end tests need (`scripts/test` sets it up): the Pulumi engine, a
Docker engine, the pinned Ollama image, and the names ollama / ollama-net free.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import urllib.error
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import median_ratio, timed
from tests.e2e import docker_host as host
from tests.e2e.engine import ProjectCopy, docker_engine, engine_environment


def manual_run(image: str, port: int) -> None:
    host.docker("network", "create", "ollama-net")
    host.docker(
        "run", "-d", "--network", "ollama-net", "-v", "ollama:/root/.ollama",
        "-p", f"127.0.0.1:{port}:11434", "--name", "ollama", image,
    )  # fmt: skip

    def answers() -> bool:
        try:
            host.get_json(f"http://127.0.0.1:{port}/api/version", timeout=1)
            return True
        except (urllib.error.URLError, ConnectionError):
            return False

    host.wait_until(answers, 60, "the manually started server")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    os.environ.update(engine_environment())
    with tempfile.TemporaryDirectory() as scratch, docker_engine(Path(scratch)):
        image = host.build_ollama_image(host.IMAGE)
        host.assert_judge_names_free()
        project = ProjectCopy(Path(scratch))
        port = host.free_port()
        stack = project.stack("local", host.cpu_only(port))
        times: dict[str, list[float]] = {"up": [], "manual": [], "no-op up": [], "preview": []}
        try:
            for round_number in range(1, rounds + 1):
                times["manual"].append(timed(lambda: manual_run(image, port)))
                host.remove_judge_objects()
                times["up"].append(timed(stack.up))
                times["no-op up"].append(timed(stack.up))
                times["preview"].append(timed(stack.preview))
                stack.destroy()
                host.remove_judge_objects()
                print(
                    f"round {round_number}: "
                    + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items())
                )
        finally:
            host.remove_judge_objects()
    fresh = median_ratio(times["up"], times["manual"])
    print(f"fresh pulumi up / docker network create + docker run: {fresh}")
    print(f"no-op pulumi up / pulumi preview: {median_ratio(times['no-op up'], times['preview'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
