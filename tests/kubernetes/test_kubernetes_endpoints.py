"""The wait's end on the Service's side: a ready endpoint that every node's proxy routes to,
against a scripted API; and the proxies' syncs as the wait reckons them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from components.kubernetes import watches
from components.kubernetes.rollout import ready_endpoints
from components.kubernetes.rollout_watch import Clients, JudgeObjects
from components.kubernetes.routing import (
    MIN_SYNC_SECONDS,
    PERIODIC_SYNC_SECONDS,
    SYNC_SECONDS,
    UNSEEN_SECONDS,
    ProxySyncs,
)
from components.kubernetes.wait import wait_until_serving
from components.readiness import JudgeNotReady
from tests.support import fake_kubernetes
from tests.support.fake_kubernetes import FakeCluster, deployment, endpoint_slice, refusal

EVERY_SLICE = ("list_endpoint_slice_for_all_namespaces", "")
EVERY_SERVICE = ("list_service_for_all_namespaces", "")
ITS_SLICES = ("list_namespaced_endpoint_slice", "kubernetes.io/service-name=ollama")
AVAILABLE = deployment(updated=1, available=1)
STARTING = deployment(updated=1)


@pytest.fixture(autouse=True)
def quick_looks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from fake_kubernetes.quick_looks(monkeypatch)


def wait(cluster: FakeCluster, timeout: float = 60, clock: Any = None) -> list[str]:
    reported: list[str] = []
    describe = lambda doing, error: f"{doing} failed: {error}"  # noqa: E731
    judge = JudgeObjects("knitfab", "ollama", "ollama", ())
    clients = Clients(cluster, cluster, cluster)
    wait_until_serving(clients, judge, timeout, reported.append, describe, clock or cluster.clock)
    return reported


def test_ready_endpoints_are_the_addresses_of_ready_and_unstated_ones_only():
    ready = endpoint_slice(True, False, address="10.0.0.1")
    unstated = endpoint_slice(None, address="10.0.0.2")
    assert ready_endpoints([ready, unstated]) == {"10.0.0.1", "10.0.0.2"}
    assert ready_endpoints([endpoint_slice(False), {"endpoints": None}]) == frozenset()


# --- the proxies' syncs -------------------------------------------------------------------


def test_a_change_long_after_the_latest_sync_may_have_started_is_synced_at_once():
    syncs = ProxySyncs(began=0)
    assert syncs.changed(5) == 5 + SYNC_SECONDS


def test_a_change_while_a_sync_may_start_any_time_waits_for_a_pause_after_it():
    syncs = ProxySyncs(began=0)  # what came before: a sync may start until 1.1
    assert syncs.changed(0.5) == pytest.approx(0.5 + UNSEEN_SECONDS)
    assert syncs.changed(0.6) == pytest.approx(0.6 + UNSEEN_SECONDS), "a burst: one more sync"


def test_a_change_soon_after_the_latest_sync_waits_for_the_pause_after_it():
    syncs = ProxySyncs(began=0)
    assert syncs.changed(5) == 5 + SYNC_SECONDS  # a sync at 5
    assert syncs.changed(5.5) == pytest.approx(5 + UNSEEN_SECONDS)
    assert syncs.changed(7) == pytest.approx(5 + 2 * UNSEEN_SECONDS - SYNC_SECONDS)
    assert syncs.changed(9) == 9 + SYNC_SECONDS, "after the pause: at once"


def test_after_a_quiet_as_long_as_the_periodic_sync_a_change_may_just_have_missed_one():
    first = SYNC_SECONDS + MIN_SYNC_SECONDS  # a sync may start until then
    syncs = ProxySyncs(began=0)
    at = first + PERIODIC_SYNC_SECONDS + 10
    assert syncs.changed(at) == pytest.approx(at + UNSEEN_SECONDS)
    # The latest sync may have begun up to a pause and a sync before its bound, and so may
    # the periodic one after it.
    syncs = ProxySyncs(began=0)
    at = first + PERIODIC_SYNC_SECONDS - 1
    assert syncs.changed(at) == pytest.approx(at + UNSEEN_SECONDS)
    syncs = ProxySyncs(began=0)
    at = first + PERIODIC_SYNC_SECONDS - 2
    assert syncs.changed(at) == pytest.approx(at + SYNC_SECONDS)


# --- the wait -----------------------------------------------------------------------------


def test_an_endpoint_that_turns_ready_during_the_wait_counts_once_the_proxies_took_it():
    cluster = FakeCluster(
        STARTING,
        endpoint_slices=(endpoint_slice(False),),
        steps=(
            lambda c: None,
            lambda c: None,
            lambda c: setattr(c, "endpoint_slices", [endpoint_slice(True)]),
            lambda c: setattr(c, "deployment", AVAILABLE),
        ),
    )
    reported = wait(cluster)
    assert reported == ["Service ollama: 1 ready endpoint(s)", "Deployment ollama is available"]
    # The first look at 2 (clock): a sync may start until 3.1; the change seen at 4, after
    # it: the next at 4.2, done at 4.3; a look is a second here.
    assert cluster.now == 5
    assert EVERY_SLICE in cluster.watched and EVERY_SERVICE in cluster.watched


def test_changes_elsewhere_after_the_endpoint_turned_ready_do_not_hold_the_wait_back():
    def another_service(cluster: FakeCluster) -> None:
        number = len(cluster.services)
        cluster.services.append({"metadata": {"name": f"s{number}", "uid": f"s{number}"}})

    cluster = FakeCluster(
        AVAILABLE,
        endpoint_slices=(endpoint_slice(False),),
        steps=(
            lambda c: None,
            lambda c: setattr(c, "endpoint_slices", [endpoint_slice(True)]),
            *[another_service] * 10,
        ),
    )
    wait(cluster)
    # Ready seen at 3, when a sync may start until 3.1: done at 3 + 1.2; the look at 5.
    assert cluster.now == 5


def test_the_wait_looks_again_when_the_proxies_are_done_not_at_the_next_tick(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(watches, "TICK_SECONDS", 60)
    cluster = FakeCluster(AVAILABLE, endpoint_slices=(endpoint_slice(False),))

    def turns_ready() -> None:
        time.sleep(0.2)
        cluster.endpoint_slices = [endpoint_slice(True)]
        cluster.publish()

    threading.Thread(target=turns_ready).start()
    began = time.monotonic()
    wait(cluster, clock=time.monotonic)
    # A change 0.2 s after the wait began, when a sync may start any time: a pause after it.
    waited = time.monotonic() - began
    assert 2 * SYNC_SECONDS + MIN_SYNC_SECONDS <= waited < 3


def test_endpoints_ready_before_the_wait_began_count_at_once():
    cluster = FakeCluster(AVAILABLE)
    wait(cluster)
    assert cluster.now == 2, "the first look (after the start's reading) ends the wait"


def test_without_leave_to_list_every_service_the_proxies_get_the_longest_a_change_may_take():
    cluster = FakeCluster(
        AVAILABLE,
        endpoint_slices=(endpoint_slice(False),),
        steps=(lambda c: None, lambda c: setattr(c, "endpoint_slices", [endpoint_slice(True)])),
    )
    cluster.failing["list_service_for_all_namespaces"] = refusal(403, "Forbidden")
    reported = wait(cluster)
    assert reported[0] == (
        "the cluster's Services and EndpointSlices cannot be listed (403 Forbidden): once the "
        f"judge is ready, `up` gives the nodes' proxies {UNSEEN_SECONDS:g}s"
    )
    assert ITS_SLICES in cluster.watched
    # Seen ready at 3: done at 3 + 1.2, the look at 5.
    assert cluster.now == 5


def test_a_judge_that_is_ready_without_a_routed_service_ends_at_the_deadline_saying_so():
    other = endpoint_slice(True, service="other")
    cluster = FakeCluster(AVAILABLE, endpoint_slices=(other,))
    with pytest.raises(JudgeNotReady) as failure:
        wait(cluster, timeout=5)
    message = str(failure.value)
    assert "the judge is ready, but its Service ollama (namespace knitfab) had no ready " in message
    assert "endpoint within 5s. Check that the cluster's controller-manager runs its " in message


def test_a_failed_slice_list_is_retried():
    cluster = FakeCluster(AVAILABLE)
    cluster.failing["list_endpoint_slice_for_all_namespaces"] = client.ApiException(
        status=503, reason="Service Unavailable"
    )
    cluster.steps = [lambda c: None, lambda c: c.failing.clear()]
    wait(cluster)
    assert cluster.calls.count(EVERY_SLICE) == 2
