"""Stack `knitfab` after an `up` that was killed mid-rollout: the next `up`, through the
stack runner as a user runs it, clears the lock and the unfinished steps by itself. The
kubernetes provider creates by server-side apply, so the objects the killed run had sent
are taken over rather than refused as already existing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.engine import ProjectCopy
from tests.e2e.kube_cluster import Cluster
from tests.e2e.runner import Runner

pytestmark = [pytest.mark.e2e, pytest.mark.recovery, pytest.mark.knitfab]


def test_an_up_killed_mid_rollout_is_repaired_by_the_next_up(
    engine: dict[str, str], cluster: Cluster, tmp_path: Path
):
    project = ProjectCopy(tmp_path)
    stack = project.stack("knitfab", {"kubernetes:kubeconfig": str(cluster.kubeconfig)})
    runner = Runner(project, tmp_path)
    try:
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
    finally:
        # Whatever happened, the other knitfab tests find the namespace empty.
        for kind in ("deployment", "service"):
            cluster.kubectl("delete", kind, "ollama", "-n", "knitfab", "--ignore-not-found")
