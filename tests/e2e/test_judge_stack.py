"""Stack `local` as the evaluation's judge: the committed Pulumi.local.yaml with a real
judge model in `models`, pulled by the judge from a real registry on this machine over
TLS with a test CA (`registries`), asked as the evaluation asks it, changed, and hurt.

- `up` returns once the model is present and loaded; a second `up` pulls nothing.
- A container on the judge's network gets a verdict from `http://ollama:11434/v1/`, and
  scripts/judge-check gets one from the stack's hostUrl.
- Adding a model pulls only that one and keeps the volume; removing one leaves it on the
  volume, and the judge no longer requires it.
- A model the registry does not have stops preview and `up` before anything changes; a
  registry this host cannot reach is a warning, and the judge decides.
- A registry down when `up` starts and back within the pull retries, and a blob transfer
  cut midway, end in a judge with every model, verified.

The registry is published on the Docker host's own addresses (tests/e2e/registry.py,
`on_gateway`), so that both this host (where Pulumi's manifest pre-flight runs) and the
judge reach it by the address in the model references, as a user's registry is reached.

The stack runs under names of its own (`ollama-judge-e2e-<run>`, through
`ollama-judge:docker`), so it runs beside a judge of yours and beside the other stack
tests; on its network the judge keeps the alias `ollama` the evaluation calls. Every
container, network and volume made here is removed afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from judge_check import client as judge_check
from tests.e2e import docker_host as host
from tests.e2e import evaluation, judge_model
from tests.e2e.engine import ProjectCopy
from tests.e2e.registry import Registry, docker_network, running_registry
from tests.e2e.runner import Runner

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.judge]

RUN = uuid.uuid4().hex[:6]
PREFIX = f"ollama-judge-e2e-{RUN}"
NAMES = {"container": PREFIX, "network": f"{PREFIX}-net", "volume": f"{PREFIX}-models"}
# Tiny judge models with weights of their own (the seed), so that each has a blob only
# it uses; their template and parameters are the same, so those blobs are shared.
TINY = {"judge:1": 0, "judge-b:1": 1, "judge-c:1": 2}
LARGE = "judge-large:1"
# Years: Ollama reports a model kept loaded for good (keep_alive -1) as expiring
# centuries from now, and one kept for minutes as expiring this year.
FOREVER = 2100
# What the Ollama server logs each time a model's llama-server has loaded it.
RUNNER_STARTED = "llama-server started in"


# --- the registry and the judge -----------------------------------------------------


@pytest.fixture(scope="module")
def registry(
    docker: None, judge_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    workdir = tmp_path_factory.mktemp("registry")
    with (
        docker_network(f"{PREFIX}-registry-net") as network,
        running_registry(workdir / "tls", network, on_gateway=True, prefix=PREFIX) as registry,
    ):
        for name, seed in TINY.items():
            files = judge_model.write_judge_model(workdir / name.replace(":", "-"), seed=seed)
            registry.push(files, name, judge_image)
        yield registry


@pytest.fixture(scope="module")
def plain_registry(
    registry: Registry, judge_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """A second registry, on plain HTTP, on the first one's network."""
    workdir = tmp_path_factory.mktemp("plain-registry")
    with running_registry(
        workdir / "plain", registry.network, tls=False, on_gateway=True, prefix=f"{PREFIX}-plain"
    ) as plain:
        plain.push(judge_model.write_judge_model(workdir / "model", seed=3), "judge:1", judge_image)
        yield plain


@pytest.fixture(scope="module")
def large_model(
    registry: Registry, judge_image: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A few hundred MB: a blob transfer long enough to be cut midway."""
    files = judge_model.write_judge_model(tmp_path_factory.mktemp("large"), judge_model.LARGE)
    return registry.push(files, LARGE, judge_image)


@dataclass
class FirstUp:
    """What the judge had the moment the first `up` returned, before anyone asked it."""

    tags: set[str]
    loaded: dict[str, int]
    blob_gets: set[str]


@dataclass
class Judge:
    project: ProjectCopy
    registry: Registry
    port: int
    outputs: dict[str, Any] = field(default_factory=dict)
    first_up: FirstUp | None = None

    def ref(self, model: str) -> str:
        return self.registry.reference(model)

    def config(self, models: tuple[str, ...], registries: dict[str, Any] | None = None):
        return {
            "ollama-judge:models": list(models),
            "ollama-judge:docker": {
                "gpus": "none",
                "hostPort": self.port,
                "containerName": NAMES["container"],
                "networkName": NAMES["network"],
                "volumeName": NAMES["volume"],
            },
            "ollama-judge:registries": {
                self.registry.address: {"caFile": str(self.registry.ca)},
                **(registries or {}),
            },
        }

    def stack(self, *models: str, registries: dict[str, Any] | None = None) -> auto.Stack:
        return self.project.stack("local", self.config(models, registries))

    def up(self, *models: str, registries: dict[str, Any] | None = None) -> auto.UpResult:
        return self.stack(*models, registries=registries).up()

    # What the judge says, on its published port.

    def api(self, path: str) -> Any:
        return host.get_json(f"http://127.0.0.1:{self.port}{path}")

    def tags(self) -> set[str]:
        return {model["name"] for model in self.api("/api/tags")["models"]}

    def loaded(self) -> dict[str, int]:
        """Loaded models and the year their keep-alive ends."""
        return {m["name"]: int(m["expires_at"][:4]) for m in self.api("/api/ps")["models"]}

    # What Docker says.

    def container(self) -> dict[str, Any]:
        container = host.inspect("container", NAMES["container"])
        assert container is not None, "the judge container is gone"
        return container

    def exec(self, *args: str) -> subprocess.CompletedProcess[str]:
        return host.docker("exec", NAMES["container"], *args)

    def logs(self) -> str:
        result = host.docker("logs", NAMES["container"], check=False)
        return result.stdout + result.stderr

    def has_marker(self) -> bool:
        return (
            host.docker("exec", NAMES["container"], "ls", host.MARKER, check=False).returncode == 0
        )

    def blobs_dir(self) -> Path:
        volume = host.inspect("volume", NAMES["volume"])
        assert volume is not None
        return Path(volume["Mountpoint"]) / "models" / "blobs"


@pytest.fixture(scope="module")
def judge(
    engine: dict[str, str],
    judge_image: str,
    registry: Registry,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Judge]:
    """Stack `local` up with the tiny model: what it had right after `up` is kept."""
    judge = Judge(ProjectCopy(tmp_path_factory.mktemp("stack")), registry, host.free_port())
    requests_before = len(registry.requests())
    stack = judge.stack(judge.ref("judge:1"))
    try:
        result = stack.up()
        judge.first_up = FirstUp(
            tags=judge.tags(),
            loaded=judge.loaded(),
            blob_gets={
                r.digest
                for r in registry.requests()[requests_before:]
                if r.digest and r.method == "GET"
            },
        )
        judge.outputs = {key: output.value for key, output in result.outputs.items()}
        yield judge
    finally:
        try:
            stack.destroy()
        finally:
            host.remove_judge_objects(NAMES)


@pytest.fixture
def runner(judge: Judge, tmp_path: Path) -> Runner:
    """The stack runner as a user runs it (scripts/pulumi up), in a process of its own,
    so that a test can break the registry while `up` runs."""
    return Runner(judge.project, tmp_path)


def wait_for(condition, seconds: float, what: str, operation=None) -> None:
    """Polls `condition`; fails if the time runs out or `operation` (a running `up`)
    ends first."""
    deadline = time.monotonic() + seconds
    while not condition():
        if operation is not None and operation.process.poll() is not None:
            raise AssertionError(f"`up` ended before {what}:\n{operation.output()[-4000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(0.05)


def is_preflight(request: Any) -> bool:
    """A manifest request of the program's look-up (the `requests` package), not of a
    pull (Ollama's own client)."""
    return "/manifests/" in request.uri and request.user_agent.startswith("python-requests")


def warnings_in(events: list[Any]) -> list[str]:
    """The engine's warnings among an operation's events."""
    return [
        event.diagnostic_event.message
        for event in events
        if event.diagnostic_event and event.diagnostic_event.severity == "warning"
    ]


# --- `up` to a judge that is ready ----------------------------------------------------


def test_up_returns_once_the_model_is_pulled_and_loaded(judge: Judge):
    assert judge.first_up is not None
    model = judge.ref("judge:1")
    assert model in judge.first_up.tags
    # Every blob of the model came from the registry (redirected to the blob server).
    assert judge.first_up.blob_gets == judge.registry.blob_digests("judge:1")
    # Preloaded, and kept loaded for good.
    assert judge.first_up.loaded.get(model, 0) > FOREVER, judge.first_up.loaded


def test_the_first_verdict_after_up_loads_no_model(judge: Judge):
    """The evaluation's first request finds the model loaded: Ollama starts no runner
    for it (a load shows in the server's log as "llama-server started in N seconds")."""
    runners_before = judge.logs().count(RUNNER_STARTED)
    client = judge_check.JudgeClient(f"http://127.0.0.1:{judge.port}/v1")
    verdict, _ = client.ask(judge.ref("judge:1"))
    assert verdict == judge_check.Verdict(judge_model.SCORE, judge_model.FREE_REPLY)
    assert judge.logs().count(RUNNER_STARTED) == runners_before, judge.logs()[-4000:]
    assert judge.loaded().get(judge.ref("judge:1"), 0) > FOREVER


def test_the_judge_has_the_registry_ca_beside_the_public_ones_and_stays_local(judge: Judge):
    assert judge.registry.ca is not None
    # One file of its own in the directory Go reads every file of, the image's bundle
    # untouched; copied in, so it reaches a Docker engine on another host too.
    added = judge.exec("sh", "-c", "ls /etc/ssl/certs/ollama-judge-*.crt").stdout.split()
    assert len(added) == 1, added
    assert judge.exec("cat", added[0]).stdout == judge.registry.ca.read_text()
    assert judge.exec("ls", "/etc/ssl/certs/ca-certificates.crt").returncode == 0
    env = judge.container()["Config"]["Env"]
    assert "OLLAMA_NO_CLOUD=1" in env
    assert "OLLAMA_KEEP_ALIVE=-1" in env


def test_a_second_up_changes_nothing_and_pulls_nothing(judge: Judge):
    before = len(judge.registry.requests())
    result = judge.up(judge.ref("judge:1"))
    assert set(result.summary.resource_changes or {}) == {"same"}, result.summary
    assert [r for r in judge.registry.requests()[before:] if r.is_blob] == []


# --- asked as the evaluation asks -----------------------------------------------------


def test_a_container_on_the_network_gets_a_verdict_from_http_ollama_11434(judge: Judge):
    # The evaluation's URL names the alias the judge keeps whatever its container's name.
    assert evaluation.EVALUATION_BASE_URL == "http://ollama:11434/v1/"
    reply = evaluation.answer(evaluation.ask_from_network(NAMES["network"], judge.ref("judge:1")))
    assert reply.finish_reason == "stop"
    verdict = json.loads(reply.content or "")
    # The schema's every rule: both keys and no other, a score of 1-5, a short reason.
    assert set(verdict) == set(judge_check.VERDICT_SCHEMA["required"])
    checked = judge_check.parse_verdict(reply.content)
    assert len(checked.reason) <= judge_check.VERDICT_SCHEMA["properties"]["reason"]["maxLength"]
    assert (checked.score, checked.reason) == (judge_model.SCORE, judge_model.FREE_REPLY)


def test_judge_check_of_the_stack_prints_the_verdict(judge: Judge):
    """`scripts/judge-check local`, run in the test's copy of the project: the stack's
    hostUrl and first model, from its outputs."""
    result = subprocess.run(
        [sys.executable, "-m", "judge_check", "local"],
        cwd=judge.project.dir,
        env={**os.environ, "PULUMI_BACKEND_URL": judge.project.backend_url},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert judge.outputs["hostUrl"] == f"http://127.0.0.1:{judge.port}"
    assert f"asking {judge.ref('judge:1')} at {judge.outputs['hostUrl']}/v1" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"verdict: score {judge_model.SCORE}: {judge_model.FREE_REPLY}"
    assert re.fullmatch(r"latency: \d+\.\d\ds", lines[1])


# --- changing the models --------------------------------------------------------------


def test_adding_a_model_pulls_only_that_one_keeps_the_volume_and_loads_both(judge: Judge):
    first, added = judge.ref("judge:1"), judge.ref("judge-b:1")
    judge.exec("touch", host.MARKER)
    before = len(judge.registry.requests())
    judge.up(first, added)
    loaded = judge.loaded()

    fetched = {r.digest for r in judge.registry.requests()[before:] if r.digest}
    only_added = judge.registry.blob_digests("judge-b:1") - judge.registry.blob_digests("judge:1")
    assert fetched == only_added
    assert {first, added} <= judge.tags()
    assert judge.has_marker(), "the volume was not kept"
    # The container was replaced; the new one loaded the model it found on the volume too.
    assert {model: loaded.get(model, 0) > FOREVER for model in (first, added)} == {
        first: True,
        added: True,
    }, loaded


def test_removing_a_model_keeps_it_on_the_volume_and_the_judge_stops_requiring_it(judge: Judge):
    removed, kept = judge.ref("judge:1"), judge.ref("judge-b:1")
    judge.up(kept)
    assert {removed, kept} <= judge.tags(), "removing a model from `models` deleted it"
    assert judge.has_marker()
    health_check = judge.container()["Config"]["Healthcheck"]["Test"]
    assert kept in health_check and removed not in health_check

    # Gone from the volume too, the judge stays healthy: nothing requires it any more.
    deleted_at = time.time()
    judge.exec("ollama", "rm", removed)

    def checked_since() -> list[dict[str, Any]]:
        log = judge.container()["State"]["Health"]["Log"]
        return [entry for entry in log if docker_time(entry["Start"]) > deleted_at]

    host.wait_until(lambda: bool(checked_since()), 60, "a health check after the removal")
    assert [entry["ExitCode"] for entry in checked_since()] == [0] * len(checked_since())
    assert judge.container()["State"]["Health"]["Status"] == "healthy"


def docker_time(stamp: str) -> float:
    """Docker's RFC 3339 time with nanoseconds, as a POSIX timestamp."""
    stamp = re.sub(r"(\.\d{6})\d*", r"\1", stamp).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).timestamp()


# --- the manifest pre-flight ----------------------------------------------------------


def test_a_model_the_registry_lacks_stops_preview_and_up_before_anything_changes(judge: Judge):
    present, missing = judge.ref("judge-b:1"), judge.ref("judge-absent:1")
    judge.exec("touch", host.MARKER)
    container, volume = judge.container(), host.inspect("volume", NAMES["volume"])
    before = len(judge.registry.requests())

    stack = judge.stack(present, missing)
    for operation in (stack.preview, stack.up):
        with pytest.raises(auto.CommandError) as failed:
            operation()
        message = str(failed.value)
        assert "ollama-judge:models[1]" in message, message
        assert missing in message
        # The registry is named on its own too, not only inside the model's reference.
        assert judge.registry.address in message.replace(missing, ""), message
        assert "Traceback" not in message

    # Only the look-up asked the registry anything; the judge is untouched.
    asked = judge.registry.requests()[before:]
    assert asked and all(is_preflight(r) for r in asked), asked
    assert {r.status for r in asked if "/judge-absent/" in r.uri} == {404}
    after = judge.container()
    assert (after["Id"], after["State"]["StartedAt"]) == (
        container["Id"],
        container["State"]["StartedAt"],
    )
    assert after["State"]["Health"]["Status"] == "healthy"
    assert host.inspect("volume", NAMES["volume"]) == volume
    assert judge.has_marker()
    assert present in judge.tags()


def test_a_registry_unreachable_from_here_is_a_warning_and_the_judge_still_pulls(judge: Judge):
    """The registry by its container name: the judge's network resolves it (the
    registry joins that network), this host does not."""
    present = judge.ref("judge-b:1")
    by_name = judge.registry.reference("judge:1", judge.registry.named_address)
    judge.registry.connect(NAMES["network"])
    events: list[Any] = []
    try:
        result = judge.stack(
            present,
            by_name,
            registries={judge.registry.named_address: {"caFile": str(judge.registry.ca)}},
        ).up(on_event=events.append)
    finally:
        judge.registry.disconnect(NAMES["network"])
    warnings = warnings_in(events)
    assert any(judge.registry.named_address in warning for warning in warnings), (
        warnings or result.stdout
    )
    assert by_name in judge.tags()


def test_a_model_from_a_plain_http_registry_opted_in_as_insecure_is_pulled(
    judge: Judge, plain_registry: Registry
):
    present, plain = judge.ref("judge-b:1"), plain_registry.reference("judge:1")
    events: list[Any] = []
    judge.stack(present, plain, registries={plain_registry.address: {"insecure": True}}).up(
        on_event=events.append
    )
    assert plain in judge.tags()
    assert f"pulled {plain}" in judge.logs()
    # The pre-flight asked it over plain HTTP too, and found the model.
    assert warnings_in(events) == []
    assert [r.status for r in plain_registry.requests() if is_preflight(r)] == [200]


# --- faults ---------------------------------------------------------------------------


def test_a_registry_down_when_up_starts_and_back_within_the_retries(judge: Judge, runner: Runner):
    present, added = judge.ref("judge-b:1"), judge.ref("judge-c:1")
    judge.stack(present, added)
    judge.registry.stop()
    try:
        operation = runner.start("up", "--stack", "local", "--yes")
        wait_for(
            lambda: f"pull of {added} failed" in judge.logs(),
            180,
            "the judge's first failed pull",
            operation,
        )
    finally:
        judge.registry.start()
    code = operation.wait(600)
    output = operation.output()
    assert code == 0, output[-4000:]
    assert f"pulled {added}" in judge.logs()
    assert {present, added} <= judge.tags()
    # The pre-flight could not reach the registry from here either: a warning, no stop.
    assert re.search(rf"warning: .*{re.escape(judge.registry.address)}", output), output[-4000:]


def test_a_blob_transfer_cut_midway_resumes_and_the_model_verifies(
    judge: Judge, runner: Runner, large_model: str
):
    present = judge.ref("judge-b:1")
    judge.exec("touch", host.MARKER)
    layer = max(judge.registry.manifest(LARGE)["layers"], key=lambda layer: layer["size"])
    blob = judge.blobs_dir() / layer["digest"].replace(":", "-")
    partial = blob.with_name(f"{blob.name}-partial")

    def written() -> int:
        """Bytes of the partial download on the volume (it is sparse until written)."""
        try:
            return partial.stat().st_blocks * 512
        except FileNotFoundError:
            return 0

    judge.stack(present, large_model)
    operation = runner.start("up", "--stack", "local", "--yes")
    try:
        wait_for(lambda: written() > 0, 300, "the large blob's download to start", operation)
        judge.registry.kill_blobs()
        cut_at = written()
        assert partial.exists() and not blob.exists(), "the blob was complete before the cut"
        assert cut_at < layer["size"]
        # The judge notices: its transfers fail or stall until the server is back.
        time.sleep(3)
    finally:
        judge.registry.start()
    code = operation.wait(600)
    assert code == 0, operation.output()[-4000:]

    # Ollama's pull retries a cut part itself (after 1, 2, 4, ... s); the model script
    # tries the whole pull again if that is not enough.
    retries = re.findall(r".*(?:attempt \d+ failed|stalled|trying again).*", judge.logs())
    assert retries, judge.logs()[-4000:]
    print(f"\ncut after {cut_at / layer['size']:.0%} of the blob; then: {retries[0].strip()}")
    judge.exec("ollama", "show", large_model)
    assert large_model in judge.tags()
    assert not partial.exists()
    digest = hashlib.sha256()
    with blob.open("rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    assert f"sha256:{digest.hexdigest()}" == layer["digest"]
    assert judge.has_marker(), "the volume was not kept"
    assert present in judge.tags()
