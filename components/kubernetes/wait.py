"""Waits, during `up`, until the judge's Deployment is Available (every replica updated and
available: the readiness probe passes once every model is pulled and loaded), or until it
cannot be, and says why.

Pulumi's own wait for a Deployment only knows "available" and a timeout: a model pull that
can never succeed would hold `up` until the rollout's deadline, and its reason would stay
in the cluster. This wait looks at the rollout through the Kubernetes API alone, relays its
progress to `up`'s output, and ends as soon as the rollout cannot succeed (each look, and
what it holds against the rollout, is rollout_watch.py's), the time runs out,
the API stops answering, or the update is cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from components.config import ClusterAccess
from components.config_rules import PROJECT
from components.kubernetes.client import API_ERRORS, ClusterUnreadable, Connection, connect
from components.kubernetes.rollout_watch import RolloutWatch
from components.readiness import CANCELLED, JudgeNotReady, Report

# A full look: the Deployment, its current pods and their events.
POLL_SECONDS = 1.0
# Between full looks, the Deployment alone (one cheap read): its Available condition is
# what ends the wait, and a full look every 0.2 s would be four reads or more each time.
AVAILABLE_POLL_SECONDS = 0.2
# How long the API may go without answering before the wait stops following it.
API_SILENCE_SECONDS = 60
# Refusals that no retry changes.
FINAL_STATUSES = frozenset({401, 403})


def wait_until_available(
    apps: Any,
    core: Any,
    namespace: str,
    name: str,
    models: tuple[str, ...],
    timeout_seconds: float,
    report: Report,
    describe: Callable[[str, Exception], str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Returns when the Deployment is Available; raises JudgeNotReady when its rollout
    cannot succeed, the time ran out, the API stopped answering, or the update was
    cancelled. `apps` and `core` are the client's AppsV1Api and CoreV1Api; `describe` says
    why a call failed (the client's own words by default)."""
    watch = RolloutWatch(apps, core, namespace, name, models)
    describe = describe or Connection(apps.api_client).failure
    deadline = clock() + timeout_seconds
    answered = next_look = clock()
    while True:
        now = clock()
        try:
            if now >= next_look:
                next_look = now + POLL_SECONDS
                if watch.check(now, report):
                    return
            elif watch.available(report):
                return
            answered = now
        except API_ERRORS as error:
            why = describe(watch.doing, error)
            if isinstance(error, ApiException) and error.status in FINAL_STATUSES:
                raise JudgeNotReady(
                    f"cannot follow the judge's rollout: {why}. The kubeconfig's user needs "
                    f"get and list on deployments, replicasets, pods and events in namespace "
                    f"{namespace}"
                ) from None
            if now - answered >= API_SILENCE_SECONDS:
                raise JudgeNotReady(
                    f"cannot follow the judge's rollout: the cluster's API has failed for "
                    f"{now - answered:.0f}s: {why}"
                ) from None
        if now >= deadline:
            raise JudgeNotReady(
                watch.unfinished(
                    f"was not available within {timeout_seconds:.0f}s (the server's start, "
                    f"{PROJECT}:pullTimeoutSeconds and a minute, for each round of pods that "
                    "a rolling update starts):"
                )
            )
        if CANCELLED.wait(min(POLL_SECONDS, AVAILABLE_POLL_SECONDS)):
            raise JudgeNotReady(
                f"the update was interrupted while the judge's Deployment {name} (namespace "
                f"{namespace}) was rolling out; it keeps rolling out, and the next `up` waits "
                "for it again"
            )


def follow(
    access: ClusterAccess,
    namespace: str,
    name: str,
    models: tuple[str, ...],
    timeout_seconds: float,
    report: Report,
) -> None:
    """The wait, through a client with the kubeconfig the kubernetes provider uses."""
    try:
        connection = connect(access)
    except ClusterUnreadable as reason:
        raise JudgeNotReady(f"cannot follow the judge's rollout: {reason}") from None
    with connection.api as api:
        wait_until_available(
            client.AppsV1Api(api),
            client.CoreV1Api(api),
            namespace,
            name,
            models,
            timeout_seconds,
            report,
            connection.failure,
        )
