"""The wait for the judge's Service to have a ready endpoint, against a scripted API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from components.kubernetes import endpoints as kubernetes_endpoints
from components.kubernetes.endpoints import ready_endpoints, wait_until_serving
from components.readiness import CANCELLED, JudgeNotReady
from tests import waits
from tests.waits import Clock


def endpoint_slice(*ready: bool | None) -> dict[str, Any]:
    return {
        "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {} if r is None else {"ready": r}}
            for r in ready
        ]
    }


class FakeDiscovery:
    """DiscoveryV1Api's list call, answering one scripted list of slices per call."""

    def __init__(self, *answers: list[dict[str, Any]] | Exception):
        self.answers = list(answers)
        self.selectors: list[str] = []
        self.api_client = client.ApiClient()

    def list_namespaced_endpoint_slice(self, namespace: str, **kwargs: Any) -> dict[str, Any]:
        self.selectors.append(kwargs["label_selector"])
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return {"items": answer}


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from waits.quick_polls(monkeypatch, kubernetes_endpoints)


def test_ready_endpoints_counts_ready_and_unstated_ones_only():
    assert ready_endpoints([endpoint_slice(True, False), endpoint_slice(None)]) == 2
    assert ready_endpoints([endpoint_slice(False), {"endpoints": None}]) == 0


def test_the_wait_ends_once_the_services_slice_has_a_ready_endpoint():
    discovery = FakeDiscovery([], [endpoint_slice(False)], [endpoint_slice(True)])
    wait_until_serving(discovery, "knitfab", "ollama", 60, Clock())
    assert discovery.selectors == ["kubernetes.io/service-name=ollama"] * 3


def test_api_errors_are_retried_and_named_when_the_time_runs_out():
    discovery = FakeDiscovery(client.ApiException(status=503, reason="Service Unavailable"))
    with pytest.raises(JudgeNotReady) as failure:
        wait_until_serving(discovery, "knitfab", "ollama", 5, Clock())
    message = str(failure.value)
    assert "Service ollama (namespace knitfab) had no ready endpoint within 5s" in message
    assert "503" in message


def test_an_interrupted_update_ends_the_wait():
    CANCELLED.set()
    with pytest.raises(JudgeNotReady, match="interrupted"):
        wait_until_serving(FakeDiscovery([]), "knitfab", "ollama", 60, Clock())
