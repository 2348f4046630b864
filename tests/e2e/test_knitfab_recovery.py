"""Stack `knitfab` after an interrupted `up`, through the stack runner as a user runs it:

- killed mid-rollout: the next `up` clears the lock and the unfinished steps by itself.
  The kubernetes provider creates by server-side apply, so the objects the killed run had
  sent are taken over rather than refused as already existing;
- Ctrl-C while `up` waits for the rollout: the update is cancelled and recorded, and the
  next `up` finishes it;
- Ctrl-C before the engine starts: the run ends saying so, without a traceback, and
  nothing has changed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import docker_host as host
from tests.e2e.engine import PROJECT_DIR, ProjectCopy
from tests.e2e.kube_cluster import Cluster
from tests.e2e.runner import Runner

pytestmark = [pytest.mark.e2e, pytest.mark.recovery, pytest.mark.knitfab]


@pytest.fixture
def knitfab_cleared(cluster: Cluster) -> Iterator[None]:
    yield
    # Whatever happened, the other knitfab tests find the namespace empty.
    for kind in ("deployment", "service"):
        cluster.kubectl("delete", kind, "ollama", "-n", "knitfab", "--ignore-not-found")


def judge_pods(cluster: Cluster) -> list[dict[str, Any]]:
    return cluster.get("pods", "-n", "knitfab", "-l", "app=ollama")["items"]


def test_an_up_killed_mid_rollout_is_repaired_by_the_next_up(
    engine: dict[str, str], cluster: Cluster, tmp_path: Path, knitfab_cleared: None
):
    project = ProjectCopy(tmp_path)
    # No claim: its volume is bound by the controller-manager, which this test pauses.
    no_claim = {"persistence": {"enabled": False}}
    config = {"kubernetes:kubeconfig": str(cluster.kubeconfig), "ollama-judge:kubernetes": no_claim}
    stack = project.stack("knitfab", config)
    runner = Runner(project, tmp_path)
    # The provider waits for the controller to observe the new Deployment: with the
    # controller-manager paused, that step lasts until the kill.
    with cluster.paused("kube-controller-manager"):
        operation = runner.start("up", "--stack", "knitfab", "--yes")
        operation.wait_for_output("ollama-deployment creating", 180)
        time.sleep(2)
        operation.kill_everything()
    state = stack.export_stack().deployment
    assert state.get("pending_operations"), "killed mid-step: the create was not recorded"

    code, output = runner.run("up", "--stack", "knitfab", "--yes")
    assert code == 0, output
    assert "ended without unlocking it" in output
    assert "dropped them from the state" in output
    service = cluster.get("service", "ollama", "-n", "knitfab")
    assert service["spec"]["ports"][0]["port"] == 11434
    deployment = cluster.get("deployment", "ollama", "-n", "knitfab")
    assert deployment["status"].get("availableReplicas") == 1

    code, output = runner.run("destroy", "--stack", "knitfab", "--yes")
    assert code == 0, output
    assert cluster.kubectl("get", "deployment", "ollama", "-n", "knitfab", check=False) == ""


def test_ctrl_c_while_up_waits_for_the_rollout_cancels_and_the_next_up_finishes(
    engine: dict[str, str], cluster: Cluster, tmp_path: Path, knitfab_cleared: None
):
    project = ProjectCopy(tmp_path)
    stack = project.stack("knitfab", {"kubernetes:kubeconfig": str(cluster.kubeconfig)})
    runner = Runner(project, tmp_path)
    # Without a scheduler the judge's pod stays Pending, and `up` waits for its rollout.
    with cluster.paused("kube-scheduler"):
        operation = runner.start("up", "--stack", "knitfab", "--yes")
        operation.wait_for_output("ollama-deployment created", 180)
        host.wait_until(lambda: judge_pods(cluster), 60, "the judge's pod")
        operation.ctrl_c()
        assert operation.wait(timeout=120) == 130, operation.output()
    output = operation.output()
    assert "Cancelling: the engine finishes the step in flight" in output
    assert "The next `scripts/pulumi up --stack knitfab` (or scripts/deploy) picks up" in output
    assert "Traceback" not in output
    state = stack.export_stack().deployment
    assert not state.get("pending_operations"), "a graceful cancel records every step"
    recorded = [r["urn"].rsplit("::", 1)[-1] for r in state["resources"]]
    assert "ollama-deployment" in recorded
    assert "ollama-service" in recorded, "the Service comes beside the Deployment"

    code, output = runner.run("up", "--stack", "knitfab", "--yes")
    assert code == 0, output
    assert "Deployment ollama is available" in output
    deployment = cluster.get("deployment", "ollama", "-n", "knitfab")
    assert deployment["status"].get("availableReplicas") == 1
    service = cluster.get("service", "ollama", "-n", "knitfab")
    assert service["spec"]["ports"][0]["port"] == 11434
    assert stack.outputs()["openaiBaseUrl"].value.startswith("http://ollama.knitfab.svc")


@pytest.mark.parametrize(
    ("held", "said"),
    [
        # The first thing the runner asks the CLI, before it handles Ctrl-C itself.
        ("version", "scripts/pulumi was interrupted while starting: nothing changed"),
        # The stack's repair reads its state before the engine runs.
        (
            "stack export",
            "scripts/pulumi up was interrupted before the engine started: nothing changed",
        ),
    ],
)
def test_ctrl_c_before_the_engine_starts_ends_the_run_saying_nothing_changed(
    engine: dict[str, str],
    cluster: Cluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    held: str,
    said: str,
):
    project = ProjectCopy(tmp_path)
    stack = project.stack("knitfab", {"kubernetes:kubeconfig": str(cluster.kubeconfig)})
    # The runner finds tests/e2e/held_pulumi.sh as `pulumi`: the command `held` waits.
    real = shutil.which("pulumi")
    assert real is not None
    held_cli = tmp_path / "held-cli"
    held_cli.mkdir()
    (held_cli / "pulumi").symlink_to(PROJECT_DIR / "tests" / "e2e" / "held_pulumi.sh")
    mark, release = tmp_path / "held", tmp_path / "release"
    monkeypatch.setenv("HELD_PULUMI_REAL", real)
    monkeypatch.setenv("HELD_PULUMI_ARGS", held)
    monkeypatch.setenv("HELD_PULUMI_MARK", str(mark))
    monkeypatch.setenv("HELD_PULUMI_RELEASE", str(release))
    monkeypatch.setenv("PATH", f"{held_cli}{os.pathsep}{os.environ['PATH']}")

    operation = Runner(project, tmp_path).start("up", "--stack", "knitfab", "--yes")
    host.wait_until(mark.exists, 120, f"the runner to ask for `pulumi {held}`")
    operation.ctrl_c()
    # A command the runner started in a process group of its own finishes.
    release.touch()
    code = operation.wait(timeout=60)
    output = operation.output()

    assert code == 130, output
    assert said in output
    assert "Traceback" not in output
    assert "Cancelling" not in output, "no engine ran that a Ctrl-C could cancel"
    monkeypatch.undo()
    assert not stack.export_stack().deployment.get("resources")
    assert judge_pods(cluster) == []
