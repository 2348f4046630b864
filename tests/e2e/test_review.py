"""scripts/review with the real engine: real previews of both stacks against a deployed
base state, and the credential-free desired-state mode agreeing with them.

Stack `local` runs on the real Docker engine under names of its own (the engine may be
shared), CPU only, with no models and a free port; stack `knitfab` on the test control
plane (tests/e2e/conftest.py's `cluster`).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from review_comment.desired import desired_changes
from review_comment.markdown import MARKER, Change, StackReview, comment, findings
from review_comment.preview import preview_review
from tests.e2e import docker_host as host
from tests.e2e.engine import PROJECT_DIR, ProjectCopy
from tests.e2e.kube_cluster import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.preview]


def tops(changes: list[Change]) -> dict[str, set[str]]:
    """Changed resources by name, with the top-level properties that change."""
    return {c.name: {p.split(".")[0].split("[")[0] for p in c.properties} for c in changes}


def merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


@dataclass
class Base:
    """A stack deployed once per module; each test previews a change of its config."""

    project: ProjectCopy
    stack_name: str
    config: dict[str, Any]

    def changed(self, change: dict[str, Any]) -> dict[str, Any]:
        """The base config with `change` merged over it, key by key."""
        return merged(self.config, change)

    def preview(self, **change: Any) -> StackReview:
        stack = self.project.stack(self.stack_name, self.changed(change))
        try:
            return preview_review(stack)
        finally:
            self.project.stack(self.stack_name, self.config)

    def desired(self, tmp_path: Path, **change: Any) -> list[Change]:
        return self.desired_and_warnings(tmp_path, **change)[0]

    def desired_and_warnings(self, tmp_path: Path, **change: Any) -> tuple[list[Change], list[str]]:
        """The credential-free mode between the deployed config and the changed one, and the
        changed program's warnings."""
        base = tmp_path / "base"
        head = tmp_path / "head"
        for target, config in ((base, self.config), (head, self.changed(change))):
            (target.parent / f"{target.name}-copy").mkdir()
            copy = ProjectCopy(target.parent / f"{target.name}-copy")
            copy.stack(self.stack_name, config)
            os.environ["PULUMI_BACKEND_URL"] = self.project.backend_url
            copy.dir.rename(target)
        return desired_changes(base, head, self.stack_name)


# --- local ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local(engine: dict[str, str], judge_image: str, tmp_path_factory) -> Iterator[Base]:
    suffix = uuid.uuid4().hex[:8]
    names = {
        "containerName": f"review-{suffix}",
        "networkName": f"review-{suffix}-net",
        "volumeName": f"review-{suffix}",
    }
    config = host.cpu_only(host.free_port())
    config["ollama-judge:docker"].update(names)
    config["ollama-judge:keepModelsOnDestroy"] = False
    base = Base(ProjectCopy(tmp_path_factory.mktemp("review-local")), "local", config)
    stack = base.project.stack("local", config)
    stack.up()
    yield base
    base.project.stack("local", config).destroy()
    host.docker("volume", "rm", f"review-{suffix}-renamed", check=False)


def test_local_unchanged_says_no_changes(local: Base):
    review = local.preview()
    assert review.changes == []
    assert "**No changes.**" in comment([review])


def test_local_host_address_beyond_loopback_warns_of_exposure(local: Base):
    review = local.preview(**{"ollama-judge:docker": {"hostAddress": "0.0.0.0"}})
    assert tops(review.changes) == {"ollama-container": {"ports"}}
    [exposed] = [f for f in findings(review.changes) if "the API is exposed" in f]
    assert "0.0.0.0:" in exposed
    assert any("the judge restarts" in f for f in findings(review.changes))


def test_local_volume_replaced_without_keep_models_warns_models_are_lost(
    local: Base, tmp_path: Path
):
    renamed = local.config["ollama-judge:docker"]["volumeName"] + "-renamed"
    change = {"ollama-judge:docker": {"volumeName": renamed}}
    review = local.preview(**change)
    volume = next(c for c in review.changes if c.name == "ollama-models")
    assert volume.op == "replace"
    assert not volume.retained
    assert any(f.startswith("**models are lost**") for f in findings(review.changes))
    # The credential-free mode sees the same.
    desired = local.desired(tmp_path, **change)
    assert [(c.name, c.op) for c in desired] == [(c.name, c.op) for c in review.changes]
    assert any(f.startswith("**models are lost**") for f in findings(desired))


def test_local_desired_state_says_that_auto_gpus_depend_on_the_engine(local: Base, tmp_path: Path):
    change = {"ollama-judge:docker": {"gpus": "auto"}}
    # This engine has no GPU: the real preview plans the CPU, as the deployed `none` does.
    assert local.preview(**change).changes == []
    changes, warnings = local.desired_and_warnings(tmp_path, **change)
    assert changes == []
    [said] = [w for w in warnings if "docker.gpus" in w]
    assert "could not ask the Docker engine whether it can give GPUs" in said
    assert "ollama-judge:docker.gpus is auto, so the judge is planned on the CPU" in said
    assert "On an engine with an NVIDIA runtime or CDI device it gets every GPU" in said


def test_local_desired_state_agrees_with_the_real_preview(local: Base, tmp_path: Path):
    change = {"ollama-judge:docker": {"hostAddress": "0.0.0.0"}}
    real = local.preview(**change)
    desired = local.desired(tmp_path, **change)
    assert tops(desired) == tops(real.changes)
    assert [c.op for c in desired] == [c.op for c in real.changes]
    assert [f.split(":")[0] for f in findings(desired)] == [
        f.split(":")[0] for f in findings(real.changes)
    ]


# --- knitfab ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def knitfab(engine: dict[str, str], cluster: Cluster, tmp_path_factory) -> Iterator[Base]:
    """The judge in a namespace of its own, with its models on a claim that is not kept
    (keepModelsOnDestroy: false) and a NetworkPolicy."""
    namespace = f"review-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", namespace)
    # The class the claim names must exist: the program checks before anything changes.
    cluster.apply(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": namespace},
            "provisioner": "kubernetes.io/no-provisioner",
        }
    )
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": namespace},
            "spec": {
                "capacity": {"storage": "30Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": namespace,
                "hostPath": {"path": f"/tmp/{namespace}"},
            },
        }
    )
    config = {
        "kubernetes:kubeconfig": str(cluster.kubeconfig),
        "ollama-judge:keepModelsOnDestroy": False,
        "ollama-judge:kubernetes": {
            "namespace": namespace,
            "persistence": {"enabled": True, "storageClass": namespace},
            "networkPolicy": {"enabled": True, "podLabels": {"app": "evaluate"}},
        },
    }
    base = Base(ProjectCopy(tmp_path_factory.mktemp("review-knitfab")), "knitfab", config)
    base.project.stack("knitfab", config).up()
    yield base
    base.project.stack("knitfab", config).destroy()
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")
    cluster.kubectl("delete", "pv", namespace, "--wait=false")
    cluster.kubectl("delete", "storageclass", namespace, "--wait=false")


def test_knitfab_unchanged_says_no_changes(knitfab: Base):
    review = knitfab.preview()
    assert review.changes == []
    assert "**No changes.**" in comment([review])


def test_knitfab_model_list_change_names_the_deployments_changed_properties(knitfab: Base):
    review = knitfab.preview(**{"ollama-judge:models": ["llama3.2", "qwen3:0.6b"]})
    [deployment] = review.changes
    assert deployment.type == "kubernetes:apps/v1:Deployment"
    assert deployment.op == "update"
    containers = "spec.template.spec.containers[0]"
    assert set(deployment.properties) == {f"{containers}.lifecycle.postStart.exec.command[6]"}
    text = comment([review])
    assert "**the judge restarts**" in text
    for path in deployment.properties:
        assert f"`{path}`" in text


def test_knitfab_gpu_count_change_says_so(knitfab: Base):
    review = knitfab.preview(**{"ollama-judge:kubernetes": {"gpu": {"count": 0}}})
    [gpu] = [f for f in findings(review.changes) if "GPU request changes" in f]
    assert "nvidia.com/gpu 1 → none" in gpu


def test_knitfab_claim_deleted_without_keep_models_warns_models_are_lost(knitfab: Base):
    review = knitfab.preview(**{"ollama-judge:kubernetes": {"persistence": {"enabled": False}}})
    claim = next(c for c in review.changes if c.type.endswith("PersistentVolumeClaim"))
    assert (claim.op, claim.retained) == ("delete", False)
    meaning = findings(review.changes)
    assert any(f.startswith("**models are lost**") for f in meaning)
    assert any(f.startswith("**the judge restarts**") for f in meaning)


def test_knitfab_network_policy_removed_warns_of_exposure(knitfab: Base):
    review = knitfab.preview(**{"ollama-judge:kubernetes": {"networkPolicy": {"enabled": False}}})
    assert [(c.name, c.op) for c in review.changes] == [("ollama-network-policy", "delete")]
    [exposed] = findings(review.changes)
    assert exposed.startswith("**the API is exposed**")


def test_knitfab_desired_state_agrees_with_the_real_preview(knitfab: Base, tmp_path: Path):
    change = {"ollama-judge:models": ["llama3.2", "qwen3:0.6b"]}
    real = knitfab.preview(**change)
    desired = knitfab.desired(tmp_path, **change)
    assert [(c.name, c.op, c.properties) for c in desired] == [
        (c.name, c.op, c.properties) for c in real.changes
    ]


# --- the command, without credentials ---------------------------------------------------


def test_desired_state_mode_needs_no_kubeconfig_no_secrets_and_no_state(
    engine: dict[str, str], tmp_path: Path
):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG"))
        and key != "DOCKER_HOST"
    }
    # No ~/.kube and no ~/.pulumi state; the engine's build cache stays where it is.
    env["OLLAMA_JUDGE_CACHE"] = os.environ.get(
        "OLLAMA_JUDGE_CACHE", str(Path.home() / ".cache" / "ollama-judge")
    )
    env["HOME"] = str(tmp_path)
    output = tmp_path / "comment.md"
    result = subprocess.run(
        [
            str(PROJECT_DIR / "scripts" / "review"),
            "--desired-state",
            "HEAD",
            "--output",
            str(output),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    text = output.read_text()
    assert text.startswith(MARKER)
    for stack in ("local", "knitfab"):
        assert f"### Stack `{stack}` — desired state, not live state" in text
    assert not (tmp_path / ".kube").exists()
