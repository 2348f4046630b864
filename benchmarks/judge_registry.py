"""What the judge benchmarks share: names for this run's Docker objects, and the test
judge models (tests/e2e/judge_model.py) pushed with `ollama push` to a real registry on
this machine (tests/e2e/registry.py), from which their judges pull as a site's judge
pulls from the site's registry.

    with judge_registry(scratch) as judges:
        model = judges.push("tiny")  # "172.17.0.1:PORT/library/judge-tiny:1"
        # a judge of judges.image trusts judges.registry.ca and pulls `model`
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e import docker_host as host
from tests.e2e import judge_model
from tests.e2e.registry import Registry, docker_network, running_registry

RUN = uuid.uuid4().hex[:6]
# Every Docker object of a benchmark run starts with this, so that a run never touches a
# judge of yours (`ollama`, `ollama-net`, volume `ollama`) nor another run's objects.
PREFIX = f"ollama-judge-bench-{RUN}"
# The tiny model answers in milliseconds; the large one (about 300 MB) is what pulls take.
SHAPES = {"tiny": judge_model.TINY, "large": judge_model.LARGE}
# The judge models' vocabulary is bytes, so the evaluation's prompt is about 1,500 tokens;
# on a CPU without fast vector units the large model reads it in minutes.
VERDICT_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class JudgeRegistry:
    image: str  # the pinned Ollama image, built here if missing
    registry: Registry
    scratch: Path

    def push(self, label: str) -> str:
        """Writes the judge model of that shape ("tiny" or "large"), pushes it as
        `judge-LABEL:1` and returns the reference a judge pulls."""
        files = judge_model.write_judge_model(self.scratch / label, SHAPES[label])
        return self.registry.push(files, f"judge-{label}:1", self.image)


@contextmanager
def judge_registry(scratch: Path) -> Iterator[JudgeRegistry]:
    """The registry (TLS with a CA of its own) for the duration, published on the Docker
    host's addresses: this host and a judge on any network reach it by the same
    reference. Needs a Docker engine (tests.e2e.engine.docker_engine)."""
    image = host.build_ollama_image(host.IMAGE)
    with (
        docker_network(f"{PREFIX}-registry-net") as network,
        running_registry(scratch / "registry", network, on_gateway=True, prefix=PREFIX) as reg,
    ):
        yield JudgeRegistry(image, reg, scratch)
