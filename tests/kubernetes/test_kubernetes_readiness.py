"""The wait for an available judge Deployment, against a cluster whose objects a test
scripts (tests/support/fake_kubernetes.py), and the reading of the kubelet's words."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from components import readiness
from components.config import ClusterAccess
from components.judge import MODEL_SCRIPT
from components.kubernetes import rollout_watch as kubernetes_rollout_watch
from components.kubernetes import watches
from components.kubernetes.client import Connection
from components.kubernetes.rollout import available, go_unquote, hook_failure, is_current
from components.kubernetes.rollout_watch import Clients, JudgeObjects
from components.kubernetes.wait import follow, wait_until_serving
from components.readiness import JudgeNotReady
from tests.support import fake_kubernetes
from tests.support.fake_kubernetes import (
    TEMPLATE,
    FakeCluster,
    deployment,
    event,
    pod,
    refusal,
    replica_set,
)

CURRENT = replica_set("new")
OLD = replica_set(
    "old",
    {**TEMPLATE, "spec": {"containers": [{"name": "ollama", "image": "ollama/ollama:0.23"}]}},
)
ROLLING = deployment(updated=1)
AVAILABLE = deployment(updated=1, available=1)
NO_SUCH_MODEL = (
    "ollama-judge: could not pull judge:1: Error: pull model manifest: file does not exist "
    "(retrying cannot help)\n"
)


def kubelet_hook_message(output: str, pod_name: str = "ollama-new-a") -> str:
    """What the kubelet (pkg/kubelet/lifecycle/handlers.go) says of a failed exec hook:
    the command with the whole inlined script, the runtime's error, then the output as
    Go's %q writes it (for this text, as JSON does)."""
    command = f"/bin/sh -c {MODEL_SCRIPT} ollama-judge pull judge:1"
    return (
        f'Exec lifecycle hook ([{command}]) for Container "ollama" in Pod '
        f"\"{pod_name}_knitfab(pod-{pod_name})\" failed - error: command '{command}' exited "
        f"with 1: {output}, message: {json.dumps(output)}"
    )


@pytest.fixture(autouse=True)
def quick_looks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from fake_kubernetes.quick_looks(monkeypatch)


def wait(cluster: FakeCluster, timeout: float = 3600, clock: Any = None) -> list[str]:
    """Waits on `cluster` (on its clock unless told); returns the lines reported."""
    reported: list[str] = []
    wait_until_serving(
        Clients(cluster, cluster, cluster),
        JudgeObjects("knitfab", "ollama", "ollama", ("judge:1",)),
        timeout,
        reported.append,
        Connection(cluster.api_client).failure,
        clock=clock or cluster.clock,
    )
    return reported


def failure(cluster: FakeCluster, timeout: float = 3600, clock: Any = None) -> str:
    with pytest.raises(JudgeNotReady) as failed:
        wait(cluster, timeout, clock)
    return str(failed.value)


def set_deployment(value: dict[str, Any]):
    return lambda cluster: setattr(cluster, "deployment", value)


# --- when the wait ends well --------------------------------------------------------------


def test_an_available_deployment_is_ready_at_once():
    cluster = FakeCluster(AVAILABLE)
    assert wait(cluster) == ["Deployment ollama is available"]
    assert cluster.calls == [
        ("list_namespaced_deployment", "metadata.name=ollama"),
        ("list_service_for_all_namespaces", ""),
        ("list_endpoint_slice_for_all_namespaces", ""),
    ]
    assert cluster.watched == []


def test_progress_is_relayed_until_the_deployment_is_available():
    starting = pod("ollama-new-a", CURRENT, waiting=("ContainerCreating", ""))
    events = (
        event(starting, "Scheduled", "Successfully assigned knitfab/ollama-new-a to gpu-node-1"),
        event(starting, "Pulled", 'Container image "ollama/ollama:0.34.1" already present'),
        event(starting, "Started", "Started container ollama"),
    )

    def scheduled(cluster: FakeCluster) -> None:
        cluster.deployment = ROLLING
        cluster.replica_sets = [OLD, CURRENT]
        cluster.pods = [starting]
        cluster.events = list(events)

    def ready(cluster: FakeCluster) -> None:
        cluster.pods = [pod("ollama-new-a", CURRENT, ready=True)]

    cluster = FakeCluster(
        deployment(generation=2, observed=1),
        replica_sets=(OLD,),
        steps=(lambda c: None, scheduled, ready, set_deployment(AVAILABLE)),
    )
    assert wait(cluster) == [
        "ollama-new-a: scheduled on node gpu-node-1",
        'ollama-new-a: Container image "ollama/ollama:0.34.1" already present',
        "ollama-new-a: Started container ollama",
        "ollama-new-a: its postStart hook pulls and loads the models (judge:1)",
        "ollama-new-a: ready: every model is pulled and loaded",
        "Deployment ollama is available",
    ]


def test_after_the_first_lists_every_change_comes_by_the_watches():
    starting = pod("ollama-new-a", CURRENT, waiting=("ContainerCreating", ""))
    started = event(starting, "Started", "Started container ollama")
    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(starting,),
        steps=(
            lambda c: None,
            lambda c: setattr(c, "events", [started]),
            lambda c: setattr(c, "pods", [pod("ollama-new-a", CURRENT)]),
            lambda c: None,
            set_deployment(AVAILABLE),
        ),
    )
    assert wait(cluster)[-3:] == [
        "ollama-new-a: Started container ollama",
        "ollama-new-a: its postStart hook pulls and loads the models (judge:1)",
        "Deployment ollama is available",
    ]
    selectors = [
        ("list_namespaced_deployment", "metadata.name=ollama"),
        ("list_service_for_all_namespaces", ""),
        ("list_endpoint_slice_for_all_namespaces", ""),
        ("list_namespaced_replica_set", "app=ollama"),
        ("list_namespaced_pod", "app=ollama,pod-template-hash=new"),
        ("list_namespaced_event", "involvedObject.uid=pod-ollama-new-a"),
    ]
    assert cluster.calls == selectors
    assert cluster.watched == selectors


def test_the_calls_select_the_deployments_current_pods_and_their_events():
    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(pod("ollama-new-a", CURRENT),),
        steps=(lambda c: None, set_deployment(AVAILABLE)),
    )
    wait(cluster)
    assert cluster.calls[:6] == [
        ("list_namespaced_deployment", "metadata.name=ollama"),
        ("list_service_for_all_namespaces", ""),
        ("list_endpoint_slice_for_all_namespaces", ""),
        ("list_namespaced_replica_set", "app=ollama"),
        ("list_namespaced_pod", "app=ollama,pod-template-hash=new"),
        ("list_namespaced_event", "involvedObject.uid=pod-ollama-new-a"),
    ]


def test_a_new_current_replica_set_has_its_own_pods_followed():
    newer = replica_set(
        "newer",
        {**TEMPLATE, "spec": {"containers": [{"name": "ollama", "image": "ollama/ollama:0.25"}]}},
    )

    def changed(cluster: FakeCluster) -> None:
        cluster.deployment = deployment(generation=3, observed=3, updated=0)
        cluster.deployment["spec"]["template"] = newer["spec"]["template"] | {
            "metadata": TEMPLATE["metadata"]
        }
        cluster.replica_sets = [CURRENT, newer]
        cluster.pods = [pod("ollama-newer-a", newer, ready=True)]

    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(pod("ollama-new-a", CURRENT),),
        steps=(lambda c: None, changed),
    )
    said = failure(cluster, timeout=4)
    assert "\n  pod ollama-newer-a: Running\n" in said
    assert "ollama-new-a" not in said
    pods = [selector for call, selector in cluster.calls if call == "list_namespaced_pod"]
    assert pods == ["app=ollama,pod-template-hash=new", "app=ollama,pod-template-hash=newer"]
    assert ("list_namespaced_pod", "app=ollama,pod-template-hash=newer") in cluster.watched


# --- several replicas -------------------------------------------------------------------

THREE = ("ollama-new-a", "ollama-new-b", "ollama-new-c")


def test_several_replicas_are_waited_for_until_every_one_is_ready():
    def ready(*names: str):
        def step(cluster: FakeCluster) -> None:
            cluster.pods = [pod(n, CURRENT, node=f"gpu-{n[-1]}", ready=n in names) for n in THREE]
            cluster.deployment = deployment(wanted=3, updated=3, available=len(names) - 1)

        return step

    cluster = FakeCluster(
        deployment(wanted=3, updated=3),
        replica_sets=(CURRENT,),
        steps=(
            ready(),
            ready("ollama-new-a"),
            ready(*THREE[:2]),
            ready(*THREE),
            set_deployment(deployment(wanted=3, updated=3, available=3)),
        ),
    )
    # Counts as they change: with fifty replicas, a line per pod and step would be hundreds.
    assert wait(cluster) == [
        "0 of 3 judges ready, 3 of their pods scheduled",
        "1 of 3 judges ready, 3 of their pods scheduled",
        "2 of 3 judges ready, 3 of their pods scheduled",
        "3 of 3 judges ready, 3 of their pods scheduled",
        "Deployment ollama is available",
    ]
    assert not available(deployment(wanted=3, updated=3, available=2))
    assert not available(deployment(wanted=3, updated=2, available=2)), "one not updated"
    assert available(deployment(wanted=3, updated=3, available=3))


def test_several_replicas_warnings_are_told_per_pod():
    pulling = pod("ollama-new-b", CURRENT, waiting=("ContainerCreating", ""))
    events = (
        event(pulling, "Pulling", 'Pulling image "ollama/ollama:0.34.1"'),
        event(pulling, "FailedMount", "MountVolume.SetUp failed for volume models"),
    )
    cluster = FakeCluster(
        deployment(wanted=2, updated=2, available=1),
        replica_sets=(CURRENT,),
        pods=(pod("ollama-new-a", CURRENT, ready=True), pulling),
        steps=(
            lambda c: None,
            lambda c: setattr(c, "events", list(events)),
            set_deployment(deployment(wanted=2, updated=2, available=2)),
        ),
    )
    assert wait(cluster) == [
        "1 of 2 judges ready, 2 of their pods scheduled",
        "ollama-new-b: MountVolume.SetUp failed for volume models",
        "Deployment ollama is available",
    ]


def test_ready_replicas_events_are_not_followed():
    ready = [pod(n, CURRENT, ready=True) for n in THREE[:2]]
    starting = pod("ollama-new-c", CURRENT)

    def crashes(cluster: FakeCluster) -> None:
        cluster.pods = [pod("ollama-new-a", CURRENT), ready[1], starting]

    cluster = FakeCluster(
        deployment(wanted=3, updated=3, available=2),
        replica_sets=(CURRENT,),
        pods=(*ready, starting),
        steps=(lambda c: None, lambda c: None, crashes, lambda c: None),
    )
    with pytest.raises(JudgeNotReady):
        wait(cluster, timeout=5)
    listed = [selector for call, selector in cluster.calls if call == "list_namespaced_event"]
    first_look = [f"involvedObject.uid=pod-{name}" for name in THREE]
    assert listed == [*first_look, first_look[0]], "the first look knows what was there before"
    watched = [selector for call, selector in cluster.watched if call == "list_namespaced_event"]
    assert watched == [first_look[2], first_look[0]], "only a pod not ready has its events watched"


def test_a_ready_pods_events_from_before_the_wait_do_not_count_when_it_fails_later():
    ready = pod("ollama-new-a", CURRENT, ready=True)
    earlier = event(ready, "Unhealthy", "Startup probe failed", count=2)
    again = event(ready, "Killing", "Container ollama failed its startup probe")

    def crashes(cluster: FakeCluster) -> None:
        cluster.pods, cluster.events = [pod("ollama-new-a", CURRENT)], [earlier, again]

    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(ready,),
        events=(earlier,),
        steps=(lambda c: None, crashes, set_deployment(AVAILABLE)),
    )
    reported = wait(cluster)
    assert "ollama-new-a: Container ollama failed its startup probe" in reported
    assert "ollama-new-a: Startup probe failed" not in reported


def test_one_replica_that_cannot_pull_ends_the_wait_naming_that_pod():
    failed, failed_event = hook_failed("ollama-new-b")
    others = [pod(n, CURRENT, ready=True) for n in ("ollama-new-a", "ollama-new-c")]

    def hook_fails(cluster: FakeCluster) -> None:
        cluster.pods, cluster.events = [others[0], failed, others[1]], [failed_event]

    cluster = FakeCluster(
        deployment(wanted=3, updated=3, available=2),
        replica_sets=(CURRENT,),
        pods=(*others, pod("ollama-new-b", CURRENT)),
        steps=(lambda c: None, hook_fails),
    )
    assert failure(cluster).startswith(
        "the judge's pod ollama-new-b (namespace knitfab) is not ready (judge:1): its "
        "postStart hook gave up: could not pull judge:1"
    )


def test_one_replica_no_node_can_hold_ends_the_wait_with_the_schedulers_words():
    placed = [pod(n, CURRENT, ready=True) for n in THREE[:2]]
    left = pod("ollama-new-c", CURRENT, unschedulable=UNSCHEDULABLE)
    cluster = FakeCluster(
        deployment(wanted=3, updated=3, available=2),
        replica_sets=(CURRENT,),
        pods=(*placed, left),
    )
    assert failure(cluster).startswith(
        f"the judge's pod ollama-new-c (namespace knitfab) cannot be scheduled: {UNSCHEDULABLE}"
    )


def test_a_deadline_passed_lists_every_replicas_state():
    pods = (
        pod("ollama-new-a", CURRENT, ready=True),
        pod("ollama-new-b", CURRENT, waiting=("CrashLoopBackOff", "back-off 40s"), last_exit="c"),
    )
    cluster = FakeCluster(
        deployment(wanted=2, updated=2, available=1), replica_sets=(CURRENT,), pods=pods
    )
    said = failure(cluster, timeout=5)
    assert "\n  pod ollama-new-a: Running\n" in said
    assert "\n  pod ollama-new-b: Running, waiting (CrashLoopBackOff: back-off 40s)" in said


# --- a failed model pull --------------------------------------------------------------


def hook_failed(name: str = "ollama-new-a", output: str = NO_SUCH_MODEL, exit_id: str = "c1"):
    failed = pod(
        name,
        CURRENT,
        waiting=("PostStartHookError", kubelet_hook_message(output, name)),
        last_exit=exit_id,
    )
    return failed, event(failed, "FailedPostStartHook", "PostStartHook failed")


def test_a_failed_hook_ends_the_wait_with_the_model_scripts_reason():
    failed, failed_event = hook_failed()
    starting = pod("ollama-new-a", CURRENT, waiting=("ContainerCreating", ""))

    def hook_fails(cluster: FakeCluster) -> None:
        cluster.pods, cluster.events = [failed], [failed_event]

    cluster = FakeCluster(
        ROLLING, replica_sets=(CURRENT,), pods=(starting,), steps=(lambda c: None, hook_fails)
    )
    assert failure(cluster) == (
        "the judge's pod ollama-new-a (namespace knitfab) is not ready (judge:1): its "
        "postStart hook gave up: could not pull judge:1: Error: pull model manifest: file "
        "does not exist (retrying cannot help).\n"
        "  Check the model names and that the registry can be reached from the cluster's "
        "nodes, or change ollama-judge:models; the next `up` rolls the change out. The "
        "kubelet keeps restarting the container meanwhile, so a registry that comes back "
        "brings the judge up by itself. Its log: kubectl logs -n knitfab ollama-new-a "
        "--previous"
    )


def test_a_hook_failure_event_alone_waits_a_little_for_the_hooks_output():
    running = pod("ollama-new-a", CURRENT)
    _, failed_event = hook_failed()
    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(running,),
        steps=(lambda c: None, lambda c: setattr(c, "events", [failed_event])),
    )
    with pytest.raises(JudgeNotReady, match="did not report its output") as failed:
        wait(cluster)
    assert "its postStart hook gave up" in str(failed.value)
    assert (
        3 + kubernetes_rollout_watch.HOOK_OUTPUT_SECONDS
        <= cluster.now
        <= 6 + (kubernetes_rollout_watch.HOOK_OUTPUT_SECONDS)
    )


def test_an_event_that_carries_the_hooks_output_is_enough():
    running = pod("ollama-new-a", CURRENT)
    said = event(running, "FailedPostStartHook", kubelet_hook_message(NO_SUCH_MODEL))
    cluster = FakeCluster(ROLLING, replica_sets=(CURRENT,), pods=(running,), events=())
    cluster.steps = [lambda c: None, lambda c: setattr(c, "events", [said])]
    assert "gave up: could not pull judge:1: Error: pull model manifest" in failure(cluster)


def test_failures_from_before_the_wait_do_not_count_but_a_new_one_does():
    # An earlier `up` failed; the kubelet keeps restarting the container.
    earlier, earlier_event = hook_failed(exit_id="c1")
    earlier_event["count"] = 3
    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(earlier,),
        events=(earlier_event,),
        steps=(lambda c: None, lambda c: None, set_deployment(AVAILABLE)),
    )
    assert wait(cluster)[-1] == "Deployment ollama is available"

    again, again_event = hook_failed(
        output="ollama-judge: could not pull judge:1: other\n", exit_id="c2"
    )
    again_event["count"] = 4

    def fails_again(cluster: FakeCluster) -> None:
        cluster.pods, cluster.events = [again], [again_event]

    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(earlier,),
        events=(earlier_event,),
        steps=(lambda c: None, lambda c: None, fails_again),
    )
    assert "gave up: could not pull judge:1: other." in failure(cluster)


def test_pods_of_older_replica_sets_do_not_count():
    old_pod = pod(
        "ollama-old-a",
        OLD,
        waiting=("PostStartHookError", kubelet_hook_message(NO_SUCH_MODEL, "ollama-old-a")),
        last_exit="c9",
    )
    old_event = event(old_pod, "FailedPostStartHook", "PostStartHook failed")
    cluster = FakeCluster(
        ROLLING,
        replica_sets=(OLD, CURRENT),
        pods=(pod("ollama-new-a", CURRENT),),
        steps=(
            lambda c: None,
            lambda c: (c.pods.append(old_pod), c.events.append(old_event)),
            lambda c: None,
            set_deployment(AVAILABLE),
        ),
    )
    assert wait(cluster)[-1] == "Deployment ollama is available"
    assert not any("ollama-old-a" in argument for _, argument in cluster.calls)


# --- other rollouts that cannot succeed --------------------------------------------------


def test_an_image_that_cannot_be_pulled_ends_the_wait():
    message = 'Back-off pulling image "ollama/ollama:0.34.1": ErrImagePull: not found'
    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(pod("ollama-new-a", CURRENT, waiting=("ImagePullBackOff", message)),),
    )
    said = failure(cluster)
    assert said.startswith(
        "the judge's pod ollama-new-a (namespace knitfab) cannot start: its image "
        f"ollama/ollama:0.34.1 cannot be pulled (ImagePullBackOff: {message})."
    )
    assert "ollama-judge:image" in said and "imagePullPolicy" in said


UNSCHEDULABLE = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."


def test_an_unschedulable_pod_ends_the_wait_after_a_grace_with_the_schedulers_words():
    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(pod("ollama-new-a", CURRENT, unschedulable=UNSCHEDULABLE),),
    )
    with pytest.raises(JudgeNotReady) as failed:
        wait(cluster)
    assert str(failed.value).startswith(
        f"the judge's pod ollama-new-a (namespace knitfab) cannot be scheduled: {UNSCHEDULABLE}"
    )
    assert "ollama-judge:kubernetes.gpu" in str(failed.value)
    grace = kubernetes_rollout_watch.UNSCHEDULABLE_SECONDS
    assert grace <= cluster.now <= grace + 4


def test_a_pod_an_autoscaler_makes_room_for_is_waited_for():
    waiting = pod("ollama-new-a", CURRENT, unschedulable=UNSCHEDULABLE)
    scale_up = event(waiting, "TriggeredScaleUp", "pod triggered scale-up: [{gpu-pool 0->1}]")
    cluster = FakeCluster(ROLLING, replica_sets=(CURRENT,), pods=(waiting,), events=(scale_up,))
    said = failure(cluster, timeout=100)
    assert "was not available within 100s" in said
    assert f"not scheduled ({UNSCHEDULABLE})" in said


def test_an_exceeded_progress_deadline_ends_the_wait_unless_it_was_there_before():
    exceeded = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "ollama-new" has timed out progressing.',
        "lastUpdateTime": "2026-01-01T01:00:00Z",
    }
    late = deployment(updated=1, conditions=(exceeded,))
    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(pod("ollama-new-a", CURRENT),),
        steps=(lambda c: None, set_deployment(late)),
    )
    said = failure(cluster)
    assert said.startswith(
        "the judge's Deployment ollama (namespace knitfab) made no progress within its "
        'deadline: ReplicaSet "ollama-new" has timed out progressing.\n'
        "  pod ollama-new-a: Running, running, not ready\n"
    )
    assert said.endswith("kubectl -n knitfab describe pods -l app=ollama")

    earlier = FakeCluster(
        late,
        replica_sets=(CURRENT,),
        pods=(pod("ollama-new-a", CURRENT),),
        steps=(lambda c: None, lambda c: None, set_deployment(AVAILABLE)),
    )
    assert wait(earlier)[-1] == "Deployment ollama is available"


def test_the_wait_ends_at_its_deadline_saying_where_the_pods_are():
    crashing = pod(
        "ollama-new-a", CURRENT, waiting=("CrashLoopBackOff", "back-off 40s"), last_exit="c3"
    )
    said = failure(FakeCluster(ROLLING, replica_sets=(CURRENT,), pods=(crashing,)), timeout=5)
    assert said.startswith(
        "the judge's Deployment ollama (namespace knitfab) was not available within 5s (the "
        "server's start, ollama-judge:pullTimeoutSeconds and a minute, for each round of pods "
        "that a rolling update starts):\n"
        "  pod ollama-new-a: Running, waiting (CrashLoopBackOff: back-off 40s), last exit: "
        "Error (137), 1 restarts\n"
    )


def test_an_interrupted_update_ends_the_wait():
    readiness.CANCELLED.set()
    assert "interrupted" in failure(FakeCluster(ROLLING))


def test_a_deployment_deleted_before_or_while_the_wait_follows_it_ends_the_wait():
    assert "was deleted while `up` waited for it" in failure(FakeCluster(None))
    deleting = deployment(updated=1)
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T01:00:00Z"
    for gone in (deleting, None):
        cluster = FakeCluster(ROLLING, steps=(lambda c: None, set_deployment(gone)))
        assert "was deleted while `up` waited for it" in failure(cluster)
        assert cluster.now == 3, "seen at the look after the change"


# --- the API's answers ------------------------------------------------------------------


def test_a_refused_call_ends_the_wait_naming_the_rights_needed():
    cluster = FakeCluster(ROLLING, replica_sets=(CURRENT,))
    cluster.failing["list_namespaced_pod"] = refusal(
        403, "Forbidden", 'pods is forbidden: User "judge" cannot list resource "pods"'
    )
    said = failure(cluster)
    assert said.startswith(
        "cannot follow the judge's rollout: listing pods at https://cluster.example failed: 403 "
        'Forbidden (pods is forbidden: User "judge" cannot list resource "pods").'
    )
    assert "list and watch on deployments, replicasets, pods, events and endpointslices" in said


def test_a_refused_watch_ends_the_wait_naming_the_rights_needed():
    cluster = FakeCluster(ROLLING, replica_sets=(CURRENT,))
    cluster.failing_watches["list_namespaced_replica_set"] = refusal(403, "Forbidden")
    said = failure(cluster)
    assert said.startswith(
        "cannot follow the judge's rollout: watching ReplicaSets at https://cluster.example "
        "failed: 403 Forbidden."
    )
    assert "list and watch on deployments, replicasets, pods, events and endpointslices" in said


@pytest.mark.parametrize("refused", ["failing", "failing_watches"])
def test_events_that_cannot_be_read_are_done_without(refused: str):
    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(pod("ollama-new-a", CURRENT),),
        steps=(lambda c: None, lambda c: None, lambda c: None, set_deployment(AVAILABLE)),
    )
    getattr(cluster, refused)["list_namespaced_event"] = refusal(403, "Forbidden")
    reported = wait(cluster)
    assert reported.count("the pods' events cannot be read (403 Forbidden)") == 1
    assert reported[-1] == "Deployment ollama is available"
    read = [call for call, _ in cluster.calls + cluster.watched]
    assert read.count("list_namespaced_event") == 1 + (refused == "failing_watches")


def test_an_api_that_does_not_answer_for_a_minute_ends_the_wait():
    cluster = FakeCluster(ROLLING)
    cluster.failing["list_namespaced_deployment"] = urllib3.exceptions.MaxRetryError(
        None, "/apis", ConnectionRefusedError("connection refused")
    )
    with pytest.raises(JudgeNotReady, match=r"the cluster's API has failed for 6.s") as failed:
        wait(cluster)
    assert "connection refused" in str(failed.value)
    assert "listing the Deployment at https://cluster.example failed" in str(failed.value)


def test_an_api_that_stops_answering_while_watched_ends_the_wait_a_minute_later():
    def stops(cluster: FakeCluster) -> None:
        refused = urllib3.exceptions.MaxRetryError(None, "/apis", ConnectionRefusedError())
        cluster.failing = dict.fromkeys(["list_namespaced_deployment"], refused)
        cluster.end_watches(urllib3.exceptions.ProtocolError("connection reset"))

    cluster = FakeCluster(ROLLING, steps=(lambda c: None, stops))
    with pytest.raises(JudgeNotReady, match=r"the cluster's API has failed for 6.s") as failed:
        wait(cluster)
    assert "watching the Deployment" not in str(failed.value), "the last failure is named"
    assert 2 + 60 <= cluster.now <= 2 + 62, "from the last look that had its answers"


def test_a_short_outage_of_the_api_is_waited_out():
    cluster = FakeCluster(ROLLING)
    cluster.failing["list_namespaced_deployment"] = urllib3.exceptions.ProtocolError("reset")
    cluster.steps = [lambda c: None] * 5 + [lambda c: c.failing.clear(), set_deployment(AVAILABLE)]
    assert wait(cluster) == ["Deployment ollama is available"]


# --- the watches ---------------------------------------------------------------------------


def test_a_watch_that_breaks_is_listed_again_and_followed_on():
    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(pod("ollama-new-a", CURRENT),),
        steps=(
            lambda c: None,
            lambda c: c.end_watches(urllib3.exceptions.ProtocolError("connection reset")),
            lambda c: setattr(c, "pods", [pod("ollama-new-a", CURRENT, ready=True)]),
            set_deployment(AVAILABLE),
        ),
    )
    assert wait(cluster)[-2:] == [
        "ollama-new-a: ready: every model is pulled and loaded",
        "Deployment ollama is available",
    ]
    assert [call for call, _ in cluster.calls].count("list_namespaced_pod") == 2


def test_a_watch_whose_version_expired_is_listed_again_and_followed_on():
    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(pod("ollama-new-a", CURRENT),),
        steps=(
            lambda c: None,
            lambda c: c.end_watches("expired"),
            lambda c: setattr(c, "pods", [pod("ollama-new-a", CURRENT, ready=True)]),
            set_deployment(AVAILABLE),
        ),
    )
    assert wait(cluster)[-2:] == [
        "ollama-new-a: ready: every model is pulled and loaded",
        "Deployment ollama is available",
    ]
    assert [call for call, _ in cluster.calls].count("list_namespaced_deployment") == 2


def test_a_watch_the_server_ends_goes_on_from_its_last_version_without_a_list():
    cluster = FakeCluster(
        ROLLING,
        replica_sets=(CURRENT,),
        pods=(pod("ollama-new-a", CURRENT),),
        steps=(
            lambda c: None,
            lambda c: setattr(c, "pods", [pod("ollama-new-a", CURRENT, node="gpu-node-2")]),
            lambda c: c.end_watches(),
            lambda c: setattr(c, "pods", [pod("ollama-new-a", CURRENT, ready=True)]),
            set_deployment(AVAILABLE),
        ),
    )
    reported = wait(cluster)
    assert reported.count("ollama-new-a: ready: every model is pulled and loaded") == 1
    assert len(cluster.calls) == 6, "nothing listed twice"
    assert [call for call, _ in cluster.watched].count("list_namespaced_pod") == 2


def test_an_interruption_ends_the_wait_within_a_second_and_leaves_no_watch(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(watches, "TICK_SECONDS", 0.5)
    cluster = FakeCluster(ROLLING, replica_sets=(CURRENT,), pods=(pod("ollama-new-a", CURRENT),))
    interrupted_at: list[float] = []

    def interrupt() -> None:
        time.sleep(1)
        interrupted_at.append(time.monotonic())
        readiness.CANCELLED.set()

    threading.Thread(target=interrupt).start()
    assert "interrupted" in failure(cluster, clock=time.monotonic)
    assert time.monotonic() - interrupted_at[0] < 1
    assert len(cluster.watched) == 6 and cluster.open == []


def test_a_grace_runs_out_without_any_change(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(watches, "TICK_SECONDS", 0.1)
    monkeypatch.setattr(kubernetes_rollout_watch, "UNSCHEDULABLE_SECONDS", 0.5)
    waiting = pod("ollama-new-a", CURRENT, unschedulable=UNSCHEDULABLE)
    cluster = FakeCluster(ROLLING, replica_sets=(CURRENT,), pods=(waiting,))
    began = time.monotonic()
    assert "cannot be scheduled" in failure(cluster, clock=time.monotonic)
    assert 0.5 <= time.monotonic() - began < 1.5
    assert cluster.open == []


def test_an_unusable_kubeconfig_is_named(tmp_path):
    with pytest.raises(JudgeNotReady, match="cannot follow the judge's rollout: no kubeconfig"):
        follow(
            ClusterAccess(kubeconfig=str(tmp_path / "absent")),
            "knitfab",
            "ollama",
            "ollama",
            (),
            60,
            print,
        )


# --- reading the API's objects --------------------------------------------------------


def test_the_hooks_reason_is_the_model_scripts_even_among_other_output():
    output = "pulling manifest\nError: x\nollama-judge: could not pull a: Error: x\n"
    assert hook_failure(kubelet_hook_message(output)) == "could not pull a: Error: x"


def test_without_the_model_scripts_words_the_hooks_last_line_or_exit_status_says_why():
    assert hook_failure(kubelet_hook_message("sh: ollama: not found\n")) == (
        "sh: ollama: not found"
    )
    assert hook_failure(kubelet_hook_message("")) == "it exited with 1 and said nothing"
    assert hook_failure("PostStartHook failed") == "it failed"


def test_go_quoted_output_is_unescaped():
    assert (
        go_unquote(r"tab\there \"quoted\" caf\u00e9 \\ \x41\n") == 'tab\there "quoted" café \\ A\n'
    )


def test_the_current_replica_set_is_the_one_of_the_deployments_template():
    assert is_current(CURRENT, ROLLING)
    assert not is_current(OLD, ROLLING)
    foreign = {**CURRENT, "metadata": {**CURRENT["metadata"], "ownerReferences": []}}
    assert not is_current(foreign, ROLLING)


def test_available_needs_the_current_spec_seen_and_every_replica_updated_and_available():
    assert available(AVAILABLE)
    assert not available(deployment(generation=3, observed=2, updated=1, available=1))
    assert not available(deployment(updated=1, available=0))
    assert not available(deployment(updated=1, available=1, replicas=2)), "an old pod is left"
