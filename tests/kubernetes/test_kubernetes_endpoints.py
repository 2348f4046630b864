"""The wait's end on the Service's side: a ready endpoint, programmed by the nodes' proxies,
against a scripted API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from components.kubernetes import rollout_watch, watches
from components.kubernetes.rollout import ready_endpoints
from components.kubernetes.rollout_watch import PROXY_SYNC_SECONDS
from components.kubernetes.wait import wait_until_serving
from components.readiness import JudgeNotReady
from tests.support import fake_kubernetes
from tests.support.fake_kubernetes import FakeCluster, deployment, endpoint_slice

SELECTOR = "kubernetes.io/service-name=ollama"
AVAILABLE = deployment(updated=1, available=1)
STARTING = deployment(updated=1)


@pytest.fixture(autouse=True)
def quick_looks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from fake_kubernetes.quick_looks(monkeypatch)


def wait(cluster: FakeCluster, timeout: float = 60, clock: Any = None) -> list[str]:
    reported: list[str] = []
    describe = lambda doing, error: f"{doing} failed: {error}"  # noqa: E731
    wait_until_serving(
        cluster, cluster, cluster, "knitfab", "ollama", "ollama", (), timeout,
        reported.append, describe, clock or cluster.clock,
    )  # fmt: skip
    return reported


def test_ready_endpoints_are_the_addresses_of_ready_and_unstated_ones_only():
    ready = endpoint_slice(True, False, address="10.0.0.1")
    unstated = endpoint_slice(None, address="10.0.0.2")
    assert ready_endpoints([ready, unstated]) == {"10.0.0.1", "10.0.0.2"}
    assert ready_endpoints([endpoint_slice(False), {"endpoints": None}]) == frozenset()


def test_an_endpoint_that_turns_ready_during_the_wait_counts_once_the_proxies_had_time():
    cluster = FakeCluster(
        STARTING,
        endpoint_slices=(endpoint_slice(False),),
        steps=(
            lambda c: None,
            lambda c: setattr(c, "endpoint_slices", [endpoint_slice(True)]),
            lambda c: setattr(c, "deployment", AVAILABLE),
        ),
    )
    assert wait(cluster) == [
        "Service ollama: 1 ready endpoint(s)",
        "Deployment ollama is available",
    ]
    # Seen ready at the third look (the clock's 3); each look is a second on this clock.
    assert cluster.now == 3 + PROXY_SYNC_SECONDS // 1 + 1
    assert ("list_namespaced_endpoint_slice", SELECTOR) in cluster.watched


def test_the_wait_looks_again_when_the_proxies_had_time_not_at_the_next_tick(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(watches, "TICK_SECONDS", 60)
    monkeypatch.setattr(rollout_watch, "PROXY_SYNC_SECONDS", 0.5)
    cluster = FakeCluster(AVAILABLE, endpoint_slices=(endpoint_slice(False),))

    def turns_ready() -> None:
        time.sleep(0.2)
        cluster.endpoint_slices = [endpoint_slice(True)]
        cluster.publish()

    threading.Thread(target=turns_ready).start()
    began = time.monotonic()
    wait(cluster, clock=time.monotonic)
    assert 0.7 <= time.monotonic() - began < 2, "the change, then the proxies' time"


def test_endpoints_ready_before_the_wait_began_count_at_once():
    cluster = FakeCluster(AVAILABLE)
    wait(cluster)
    assert cluster.now == 2, "the first look (after the start's reading) ends the wait"


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
    cluster.failing["list_namespaced_endpoint_slice"] = client.ApiException(
        status=503, reason="Service Unavailable"
    )
    cluster.steps = [lambda c: None, lambda c: c.failing.clear()]
    wait(cluster)
    assert cluster.calls.count(("list_namespaced_endpoint_slice", SELECTOR)) == 2
