"""Waits, during `up`, until the judge's Deployment is Available, relaying the rollout's
progress; ends as soon as the rollout cannot succeed (rollout_watch.py), the time runs out,
the API stops answering, or the update is cancelled, and says why. Then until the judge's
Service has a ready endpoint, so that requests to `http://ollama:11434/v1/` reach a judge:
the moment the EndpointSlice controller writes it, where the provider's own wait would add
10 s of quiet.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from components.config import ClusterAccess
from components.config_rules import PROJECT
from components.kubernetes.client import ClusterUnreadable, Connection, connect
from components.kubernetes.rollout_watch import RolloutWatch
from components.kubernetes.watches import Watches
from components.readiness import JudgeNotReady, Report

# How long the API may go on failing before the wait stops following it.
API_SILENCE_SECONDS = 60
# Refusals that no retry changes.
FINAL_STATUSES = frozenset({401, 403})
LABEL = "kubernetes.io/service-name"  # on the EndpointSlices of a Service


def wait_until_available(
    apps: Any,
    core: Any,
    namespace: str,
    name: str,
    models: tuple[str, ...],
    timeout_seconds: float,
    report: Report,
    describe: Callable[[str, Exception], str],
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """`apps`, `core`: the client's AppsV1Api, CoreV1Api; `describe` says why a call failed."""
    rollout = RolloutWatch(apps, core, namespace, name, models)

    def failed(error: Exception, failing_for: float) -> None:
        why = describe(rollout.doing, error)
        if isinstance(error, ApiException) and error.status in FINAL_STATUSES:
            raise JudgeNotReady(
                f"cannot follow the judge's rollout: {why}. The kubeconfig's user needs list "
                f"and watch on deployments, replicasets, pods and events in namespace {namespace}"
            ) from None
        if failing_for >= API_SILENCE_SECONDS:
            raise JudgeNotReady(
                f"cannot follow the judge's rollout: the cluster's API has failed for "
                f"{failing_for:.0f}s: {why}"
            ) from None

    interrupted = (
        f"the update was interrupted while the judge's Deployment {name} (namespace "
        f"{namespace}) was rolling out; it keeps rolling out, and the next `up` waits for it "
        "again"
    )
    look = functools.partial(rollout.check, report=report)
    if not rollout.until(look, failed, timeout_seconds, clock, interrupted):
        raise JudgeNotReady(
            rollout.unfinished(
                f"was not available within {timeout_seconds:.0f}s (the server's start, "
                f"{PROJECT}:pullTimeoutSeconds and a minute, for each round of pods that a "
                "rolling update starts):"
            )
        )


def follow(
    access: ClusterAccess,
    namespace: str,
    name: str,
    models: tuple[str, ...],
    timeout_seconds: float,
    report: Report,
) -> None:
    connection = _connect(access, "cannot follow the judge's rollout")
    with connection.api as api:
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        wait_until_available(
            apps, core, namespace, name, models, timeout_seconds, report, connection.failure
        )


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


def follow_service(
    access: ClusterAccess, namespace: str, service: str, timeout_seconds: float
) -> None:
    with _connect(access, "cannot check the judge's Service").api as api:
        wait_until_serving(client.DiscoveryV1Api(api), namespace, service, timeout_seconds)


def _connect(access: ClusterAccess, cannot: str) -> Connection:
    try:
        return connect(access)
    except ClusterUnreadable as reason:
        raise JudgeNotReady(f"{cannot}: {reason}") from None
