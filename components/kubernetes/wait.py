"""Waits, during `up`, until the judge's Deployment is Available and its Service routes to
it, relaying the rollout's progress; ends as soon as the rollout cannot succeed
(rollout_watch.py), the time runs out, the API stops answering, or the update is cancelled,
and says why. The Service's ready endpoint counts once the nodes' proxies route to it
(routing.py), not 10 s later as with the provider's own wait: a request sent as `up`
returns is answered.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from components.config import ClusterAccess
from components.config_rules import PROJECT
from components.kubernetes import rollout
from components.kubernetes.client import ClusterUnreadable, connect, read_json
from components.kubernetes.rollout_watch import Clients, JudgeObjects, RolloutWatch
from components.readiness import (
    JudgeIdentity,
    JudgeNotReady,
    Report,
    identity_in,
    script_messages,
)

# How long the API may go on failing before the wait stops following it.
API_SILENCE_SECONDS = 60
# Refusals that no retry changes.
FINAL_STATUSES = frozenset({401, 403})


def wait_until_serving(
    clients: Clients,
    judge: JudgeObjects,
    timeout_seconds: float,
    report: Report,
    describe: Callable[[str, Exception], str],
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """`describe` says why a call failed."""
    rollout = RolloutWatch(clients, judge)
    namespace, name, service = judge.namespace, judge.deployment, judge.service

    def failed(error: Exception, failing_for: float) -> None:
        why = describe(rollout.doing, error)
        if isinstance(error, ApiException) and error.status in FINAL_STATUSES:
            raise JudgeNotReady(
                f"cannot follow the judge's rollout: {why}. The kubeconfig's user needs list "
                f"and watch on deployments, replicasets, pods, events and endpointslices in "
                f"namespace {namespace}"
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
    if rollout.until(look, failed, timeout_seconds, clock, interrupted):
        return
    if rollout.available:
        raise JudgeNotReady(
            f"the judge is ready, but its Service {service} (namespace {namespace}) had no "
            f"ready endpoint within {timeout_seconds:.0f}s. Check that the cluster's "
            "controller-manager runs its EndpointSlice controller: it writes the Service's "
            "endpoints"
        )
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
    service: str,
    models: tuple[str, ...],
    timeout_seconds: float,
    report: Report,
) -> JudgeIdentity:
    try:
        connection = connect(access)
    except ClusterUnreadable as reason:
        raise JudgeNotReady(f"cannot follow the judge's rollout: {reason}") from None
    with connection.api as api:
        clients = Clients(client.AppsV1Api(api), client.CoreV1Api(api), client.DiscoveryV1Api(api))
        judge = JudgeObjects(namespace, name, service, models)
        wait_until_serving(clients, judge, timeout_seconds, report, connection.failure)
        return identity(clients, judge, report)


def identity(clients: Clients, judge: JudgeObjects, report: Report) -> JudgeIdentity:
    """What the ready judges said of themselves at their start: each one's log up to
    "ready:", read once. Judges that differ (an unpinned model pulled at other times) are
    named; the outputs hold the first one's."""
    try:
        said = _identities(clients, judge)
    except ApiException as error:
        report(
            f"the judges' logs cannot be read ({error.status} {error.reason}), so "
            f"modelDigests and ollamaVersion stay empty: the kubeconfig's user needs get "
            f"on pods/log in namespace {judge.namespace}"
        )
        return JudgeIdentity({}, "")
    first = next(iter(said.values()), JudgeIdentity({}, ""))
    if any(found != first for found in said.values()):
        each = "; ".join(f"{pod}: {i.digests}, Ollama {i.version}" for pod, i in said.items())
        report(f"the judges differ: {each}")
    return first


def _identities(clients: Clients, judge: JudgeObjects) -> dict[str, JudgeIdentity]:
    deployment = read_json(clients.apps.read_namespaced_deployment, judge.deployment,
                           judge.namespace)  # fmt: skip
    labels = rollout.selector(deployment["spec"]["selector"].get("matchLabels", {}))
    pods = read_json(clients.core.list_namespaced_pod, judge.namespace, label_selector=labels)
    said: dict[str, JudgeIdentity] = {}
    for pod in sorted(pods["items"], key=lambda pod: str(pod["metadata"]["name"])):
        if rollout.ready(pod) and not pod["metadata"].get("deletionTimestamp"):
            pod_name = pod["metadata"]["name"]
            log = clients.core.read_namespaced_pod_log(
                pod_name, judge.namespace, _preload_content=False
            )
            try:
                said[pod_name] = identity_in(script_messages(log.stream(4096)))
            finally:
                log.close()  # read up to "ready:" only: the connection is not reused
    return said
