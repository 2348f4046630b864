"""The judge's identity on both stacks: a model pinned to its manifest's digest, deployed,
verified and compared, with a real registry, a real Docker judge (stack `local`) and a real
Kubernetes node (stack `knitfab`).

- A pinned model deploys on both; `modelDigests` is the registry's digest and the one the
  judge's `/api/tags` reports, and `scripts/judge-models compare` finds the stacks equal.
- The tag re-pushed with another model: `preview` and `up` of both stacks stop before any
  change, naming both digests; the judges keep answering with the old model. Re-pinning
  `local` deploys the new one, and `compare` names the difference and exits non-zero,
  until `knitfab` is re-pinned too.
- `scripts/judge-models pin` writes what a stack runs into its stack file, and
  `scripts/judge-check` prints the digest of the model that answered.
- The pull request's comment, from the real preview and from the credential-free mode:
  "the judge changes" heads the warning box for a re-pin and an image change, and not for
  a change of the host port.
- A judge that pulls another manifest than the pinned one (its registry is one that this
  host cannot reach, so only the judge can check) ends `up` with both digests named,
  without retrying.

The registry is published on the Docker host's addresses (tests/e2e/registry.py), which
this host, the Docker judge and the node's pods all reach. The Knitfab judge keeps its
models in an emptyDir (persistence off): the claim is test_knitfab_node's subject.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from components.config import JudgeSettings
from judge_check import client as judge_check
from review_comment.desired import desired_changes
from review_comment.markdown import findings
from review_comment.preview import preview_review
from stack_runner.stacks import open_stack
from tests.e2e import docker_host as host
from tests.e2e import judge_model
from tests.e2e.engine import MissingPartError, ProjectCopy
from tests.e2e.kube_cluster import Cluster, running_cluster
from tests.e2e.registry import Registry, docker_network, running_registry

pytestmark = [pytest.mark.e2e, pytest.mark.provenance, pytest.mark.kubelet]

RUN = uuid.uuid4().hex[:6]
PREFIX = f"ollama-judge-identity-{RUN}"
NAMES = {"container": PREFIX, "network": f"{PREFIX}-net", "volume": f"{PREFIX}-models"}
NAMESPACE = "knitfab"
MODEL = "judge:1"
OLLAMA_VERSION = JudgeSettings().image.rsplit(":", 1)[1]
BANNER = "**the judge changes: scores from before and after are not comparable**"


@dataclass
class Models:
    registry: Registry
    # The first model pushed as judge:1, and another one, pushed over it later.
    first: str
    replacement: judge_model.ModelFiles

    @property
    def reference(self) -> str:
        return self.registry.reference(MODEL)


@pytest.fixture(scope="module")
def models(
    docker: None, judge_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Models]:
    workdir = tmp_path_factory.mktemp("registry")
    with (
        docker_network(f"{PREFIX}-registry-net") as network,
        running_registry(workdir / "tls", network, on_gateway=True, prefix=PREFIX) as registry,
    ):
        registry.push(judge_model.write_judge_model(workdir / "first", seed=0), MODEL, judge_image)
        replacement = judge_model.write_judge_model(workdir / "replacement", seed=4)
        yield Models(registry, registry.digest(MODEL), replacement)


@pytest.fixture(scope="module")
def node_cluster(
    docker: None, judge_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    try:
        with running_cluster(
            tmp_path_factory.mktemp("node-cluster"), fake_nodes=0, real_node_images=[judge_image]
        ) as cluster:
            cluster.kubectl("create", "namespace", NAMESPACE)
            yield cluster
    except MissingPartError as missing:
        pytest.fail(str(missing), pytrace=False)


@dataclass
class Stacks:
    project: ProjectCopy
    models: Models
    cluster: Cluster
    port: int

    def pinned(self, digest: str) -> str:
        return f"{self.models.reference}@{digest}"

    def config(self, name: str, *models: str, **registries: Any) -> dict[str, Any]:
        registry = self.models.registry
        config: dict[str, Any] = {
            "ollama-judge:models": list(models),
            "ollama-judge:registries": {
                registry.address: {"caFile": str(registry.ca)},
                **registries,
            },
        }
        if name == "local":
            config["ollama-judge:docker"] = {
                "gpus": "none",
                "hostPort": self.port,
                "containerName": NAMES["container"],
                "networkName": NAMES["network"],
                "volumeName": NAMES["volume"],
            }
        else:
            config["kubernetes:kubeconfig"] = str(self.cluster.kubeconfig)
            config["ollama-judge:kubernetes"] = {"persistence": {"enabled": False}}
        return config

    def stack(self, name: str, *models: str, **registries: Any) -> auto.Stack:
        return self.project.stack(name, self.config(name, *models, **registries))

    def outputs(self, name: str) -> dict[str, Any]:
        stack = auto.select_stack(name, work_dir=str(self.project.dir))
        return {key: output.value for key, output in stack.outputs().items()}

    def judge_url(self, name: str) -> str:
        if name == "local":
            return f"http://127.0.0.1:{self.port}"
        ip = self.cluster.kubectl(
            "get", "service", "ollama", "-n", NAMESPACE, "-o", "jsonpath={.spec.clusterIP}"
        )
        return f"http://{ip}:11434"

    def tags(self, name: str) -> dict[str, str]:
        """What the judge of stack `name` has: each model's name and `sha256:<digest>`."""
        answer = host.get_json(f"{self.judge_url(name)}/api/tags")
        return {model["name"]: f"sha256:{model['digest']}" for model in answer["models"]}

    def verdict(self, name: str) -> judge_check.Verdict:
        verdict, _ = judge_check.JudgeClient(f"{self.judge_url(name)}/v1").ask(
            self.models.reference
        )
        return verdict

    def command(self, module: str, *args: str) -> subprocess.CompletedProcess[str]:
        """`python -m module args` as scripts/ runs it, in the project's copy."""
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=self.project.dir,
            env={**os.environ, "PULUMI_BACKEND_URL": self.project.backend_url},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    def started(self, name: str) -> tuple[str, str]:
        """The judge's container or pod, and when it started: unchanged means untouched."""
        if name == "local":
            container = host.inspect("container", NAMES["container"])
            assert container is not None
            return container["Id"], container["State"]["StartedAt"]
        [pod] = self.cluster.get("pods", "-n", NAMESPACE, "-l", "app=ollama")["items"]
        return pod["metadata"]["uid"], pod["status"]["startTime"]


@pytest.fixture(scope="module")
def stacks(
    engine: dict[str, str],
    models: Models,
    node_cluster: Cluster,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stacks]:
    """Both stacks up with judge:1 pinned to the registry's digest."""
    stacks = Stacks(
        ProjectCopy(tmp_path_factory.mktemp("identity")), models, node_cluster, host.free_port()
    )
    try:
        for name in ("local", "knitfab"):
            stacks.stack(name, stacks.pinned(models.first)).up()
        yield stacks
    finally:
        try:
            for name in ("local", "knitfab"):
                auto.select_stack(name, work_dir=str(stacks.project.dir)).destroy()
        finally:
            host.remove_judge_objects(NAMES)


# --- pinned, deployed, compared --------------------------------------------------------


@pytest.mark.parametrize("name", ["local", "knitfab"])
def test_a_pinned_model_deploys_and_every_view_names_the_registrys_digest(
    stacks: Stacks, name: str
):
    reference, pin = stacks.models.reference, stacks.models.first
    outputs = stacks.outputs(name)
    assert outputs["modelDigests"] == {reference: pin}
    assert outputs["ollamaVersion"] == OLLAMA_VERSION
    # The name the evaluation sends as `model`: without the pin.
    assert outputs["models"] == [reference]
    assert stacks.tags(name) == {reference: pin}
    assert stacks.verdict(name).score == judge_model.SCORE


def test_the_two_stacks_compare_equal(stacks: Stacks):
    compared = stacks.command("judge_models", "compare", "local", "knitfab")
    assert compared.returncode == 0, compared.stdout + compared.stderr


def test_judge_check_prints_the_digest_of_the_model_that_answered(stacks: Stacks):
    checked = stacks.command("judge_check", "local")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines()[2] == f"digest: {stacks.models.first}"


def test_pin_writes_what_the_stack_runs_into_its_stack_file(stacks: Stacks):
    """`local` up unpinned, then pinned by the command: the stack file names the digest the
    judge reported, and the next `up` deploys what it names."""
    reference = stacks.models.reference
    stacks.stack("local", reference).up()
    pinned = stacks.command("judge_models", "pin", "--stack", "local")
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    stack_file = (stacks.project.dir / "Pulumi.local.yaml").read_text()
    assert stacks.pinned(stacks.models.first) in stack_file
    stack = open_stack("local", stacks.project.dir)  # the stack file as the command left it
    models = json.loads(stack.get_all_config()["ollama-judge:models"].value)
    assert models == [stacks.pinned(stacks.models.first)]
    stack.up()
    assert stacks.outputs("local")["modelDigests"] == {reference: stacks.models.first}


# --- the tag moves --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moved(stacks: Stacks, judge_image: str) -> str:
    """judge:1 pushed again with another model; its new digest."""
    stacks.models.registry.push(stacks.models.replacement, MODEL, judge_image)
    digest = stacks.models.registry.digest(MODEL)
    assert digest != stacks.models.first
    return digest


@pytest.mark.parametrize("name", ["local", "knitfab"])
def test_a_moved_tag_stops_preview_and_up_before_any_change_naming_both_digests(
    stacks: Stacks, moved: str, name: str
):
    started = stacks.started(name)
    stack = stacks.stack(name, stacks.pinned(stacks.models.first))
    for operation in (stack.preview, stack.up):
        with pytest.raises(auto.CommandError) as failed:
            operation()
        message = str(failed.value)
        assert "ollama-judge:models[0]" in message, message
        assert stacks.models.first in message and moved in message, message
        assert "Traceback" not in message
    assert stacks.started(name) == started
    # The judge still answers, with the model it was pinned to.
    assert stacks.tags(name) == {stacks.models.reference: stacks.models.first}
    assert stacks.verdict(name).score == judge_model.SCORE


def preview_findings(stacks: Stacks, digest: str, **change: Any) -> list[str]:
    """What the real preview of `local`, as scripts/review makes it, says of a change from
    what is deployed to judge:1 pinned to `digest` with `change`."""
    config = {**stacks.config("local", stacks.pinned(digest)), **change}
    return findings(preview_review(stacks.project.stack("local", config)).changes)


def test_the_pull_requests_preview_says_the_judge_changes_for_a_re_pin_and_an_image(
    stacks: Stacks, moved: str
):
    re_pinned = f"{stacks.models.reference} re-pinned ({stacks.models.first} → {moved})"
    assert preview_findings(stacks, moved)[0] == f"{BANNER}: {re_pinned}"
    image = "ollama/ollama:0.34.0"
    said = preview_findings(stacks, moved, **{"ollama-judge:image": image})
    assert said[0].startswith(BANNER) and f"image {JudgeSettings().image} → {image}" in said[0]


def test_the_credential_free_review_says_the_judge_changes_for_an_image_only(
    stacks: Stacks, moved: str, tmp_path: Path
):
    """scripts/review's desired-state mode: the program of two commits, no state."""
    base = stacks.config("local", stacks.pinned(moved))
    heads = {
        "image": {**base, "ollama-judge:image": "ollama/ollama:0.34.0"},
        "port": {**base, "ollama-judge:docker": {**base["ollama-judge:docker"], "hostPort": 1}},
    }
    said = {}
    try:
        for name, head in heads.items():
            dirs = []
            for side, config in (("base", base), (name, head)):
                (root := tmp_path / f"{name}-{side}").mkdir()
                copy = ProjectCopy(root)
                copy.stack("local", config)
                dirs.append(copy.dir)
            said[name] = findings(desired_changes(dirs[0], dirs[1], "local")[0])
    finally:
        os.environ["PULUMI_BACKEND_URL"] = stacks.project.backend_url
    assert said["image"][0].startswith(BANNER) and "image " in said["image"][0]
    assert not any(line.startswith(BANNER) for line in said["port"]), said["port"]


def test_re_pinning_deploys_the_new_model_and_compare_follows(stacks: Stacks, moved: str):
    reference = stacks.models.reference
    stacks.stack("local", stacks.pinned(moved)).up()
    assert stacks.outputs("local")["modelDigests"] == {reference: moved}
    assert stacks.tags("local") == {reference: moved}

    compared = stacks.command("judge_models", "compare", "local", "knitfab")
    said = compared.stdout + compared.stderr
    assert compared.returncode != 0, said
    assert reference in said and moved in said and stacks.models.first in said, said

    # Knitfab re-pinned too: the same judge again on both.
    stacks.stack("knitfab", stacks.pinned(moved)).up()
    assert stacks.tags("knitfab") == {reference: moved}
    compared = stacks.command("judge_models", "compare", "local", "knitfab")
    assert compared.returncode == 0, compared.stdout + compared.stderr


def test_a_host_port_change_restarts_the_judge_but_it_stays_the_same_judge(
    stacks: Stacks, moved: str
):
    docker = {**stacks.config("local")["ollama-judge:docker"], "hostPort": host.free_port()}
    said = preview_findings(stacks, moved, **{"ollama-judge:docker": docker})
    assert [line.split(":")[0] for line in said] == ["**the judge restarts**"]


# --- the judge's own check --------------------------------------------------------------


def test_a_judge_pulling_another_manifest_than_the_pinned_one_ends_up_naming_both(
    stacks: Stacks, moved: str
):
    """The model by the registry's container name: this host cannot resolve it, so the
    pre-flight can only warn, and the judge (whose network the registry joins) pulls the
    tag, now the replacement, against the first model's pin."""
    registry = stacks.models.registry
    by_name = registry.reference(MODEL, registry.named_address)
    registry.connect(NAMES["network"])
    try:
        stack = stacks.stack(
            "local",
            f"{by_name}@{stacks.models.first}",
            **{registry.named_address: {"caFile": str(registry.ca)}},
        )
        began = time.monotonic()
        with pytest.raises(auto.CommandError) as failed:
            stack.up()
        took = time.monotonic() - began
    finally:
        registry.disconnect(NAMES["network"])
    message = str(failed.value)
    assert by_name in message and stacks.models.first in message and moved in message, message
    # A mismatch is final: no retries (5, 10, 20, 40 s apart) before `up` says so.
    assert took < 60, took
    assert "attempt 2" not in host.docker("logs", NAMES["container"], check=False).stdout
