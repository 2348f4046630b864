"""The wait for the judge's Service to have a ready endpoint, against a scripted API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from components.kubernetes.wait import ready_endpoints, wait_until_serving
from components.readiness import CANCELLED, JudgeNotReady
from tests.support import fake_kubernetes
from tests.support.fake_kubernetes import FakeCluster

SELECTOR = "kubernetes.io/service-name=ollama"


def endpoint_slice(*ready: bool | None, name: str = "ollama-abcde") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": name, "labels": {"kubernetes.io/service-name": "ollama"}},
        "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {} if r is None else {"ready": r}}
            for r in ready
        ],
    }


@pytest.fixture(autouse=True)
def quick_looks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from fake_kubernetes.quick_looks(monkeypatch)


def test_ready_endpoints_counts_ready_and_unstated_ones_only():
    assert ready_endpoints([endpoint_slice(True, False), endpoint_slice(None)]) == 2
    assert ready_endpoints([endpoint_slice(False), {"endpoints": None}]) == 0


def test_the_wait_ends_once_the_services_slice_has_a_ready_endpoint():
    cluster = FakeCluster(
        steps=(
            lambda c: None,
            lambda c: setattr(c, "endpoint_slices", [endpoint_slice(False)]),
            lambda c: setattr(c, "endpoint_slices", [endpoint_slice(True)]),
        )
    )
    wait_until_serving(cluster, "knitfab", "ollama", 60, cluster.clock)
    assert cluster.now == 4, "at the look after the slice's endpoint became ready"
    assert cluster.calls == [("list_namespaced_endpoint_slice", SELECTOR)]
    assert cluster.watched == [("list_namespaced_endpoint_slice", SELECTOR)]


def test_other_services_slices_do_not_count():
    other = endpoint_slice(True, name="other-abcde")
    other["metadata"]["labels"] = {"kubernetes.io/service-name": "other"}
    cluster = FakeCluster(endpoint_slices=(other,))
    with pytest.raises(JudgeNotReady, match="had no ready endpoint within 5s"):
        wait_until_serving(cluster, "knitfab", "ollama", 5, cluster.clock)


def test_api_errors_are_retried_and_named_when_the_time_runs_out():
    cluster = FakeCluster()
    cluster.failing["list_namespaced_endpoint_slice"] = client.ApiException(
        status=503, reason="Service Unavailable"
    )
    with pytest.raises(JudgeNotReady) as failure:
        wait_until_serving(cluster, "knitfab", "ollama", 5, cluster.clock)
    message = str(failure.value)
    assert "Service ollama (namespace knitfab) had no ready endpoint within 5s" in message
    assert "(listing its EndpointSlices failed: (503)" in message
    assert len(cluster.calls) == 5, "once a look"


def test_a_failed_watch_is_listed_again_and_followed_on():
    cluster = FakeCluster(
        steps=(
            lambda c: None,
            lambda c: c.end_watches("expired"),
            lambda c: setattr(c, "endpoint_slices", [endpoint_slice(True)]),
        )
    )
    wait_until_serving(cluster, "knitfab", "ollama", 60, cluster.clock)
    assert len(cluster.calls) == 2


def test_an_interrupted_update_ends_the_wait():
    CANCELLED.set()
    cluster = FakeCluster()
    with pytest.raises(JudgeNotReady, match="interrupted"):
        wait_until_serving(cluster, "knitfab", "ollama", 60, cluster.clock)
