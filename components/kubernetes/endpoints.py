"""Waits, during `up`, until the judge's Service has a ready endpoint, so that requests to
`http://ollama:11434/v1/` reach a judge: the moment the EndpointSlice controller writes it,
where the provider's own wait would add 10 s of quiet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from components.config import ClusterAccess
from components.kubernetes.client import ClusterUnreadable, connect
from components.kubernetes.watches import Watches
from components.readiness import JudgeNotReady

LABEL = "kubernetes.io/service-name"  # on the EndpointSlices of a Service


def ready_endpoints(slices: list[dict[str, Any]]) -> int:
    """The slices' ready endpoints (a missing condition means ready, as the API documents)."""
    return sum(
        1
        for endpoint_slice in slices
        for endpoint in endpoint_slice.get("endpoints") or []
        if (endpoint.get("conditions") or {}).get("ready", True)
    )


def wait_until_serving(
    discovery: Any,
    namespace: str,
    service: str,
    timeout_seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    slices = Watches(namespace)
    selected = (discovery.list_namespaced_endpoint_slice, {"label_selector": f"{LABEL}={service}"})
    failure = ""

    def serving(now: float) -> bool:
        slices.update(lambda: {"its EndpointSlices": selected})
        return ready_endpoints(slices.objects("its EndpointSlices")) > 0

    def failed(error: Exception, failing_for: float) -> None:
        nonlocal failure  # named when the time runs out
        failure = f" ({slices.doing} failed: {error})"

    interrupted = (
        f"the update was interrupted while the Service {service} (namespace {namespace}) was "
        "getting its endpoint; the next `up` checks it again"
    )
    if not slices.until(serving, failed, timeout_seconds, clock, interrupted):
        raise JudgeNotReady(
            f"the judge is ready, but its Service {service} (namespace {namespace}) had no "
            f"ready endpoint within {timeout_seconds:.0f}s{failure}. Check that the "
            "cluster's controller-manager runs: it writes the Service's endpoints"
        )


def follow(access: ClusterAccess, namespace: str, service: str, timeout_seconds: float) -> None:
    try:
        connection = connect(access)
    except ClusterUnreadable as reason:
        raise JudgeNotReady(f"cannot check the judge's Service: {reason}") from None
    with connection.api as api:
        wait_until_serving(client.DiscoveryV1Api(api), namespace, service, timeout_seconds)
