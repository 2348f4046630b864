"""One look at the judge's rollout, poll by poll, for `up`'s wait (wait.py):
is the Deployment Available yet, what has changed to tell, and can it still succeed.

A look reads the Kubernetes API alone (the Deployment, the pods of its current ReplicaSet,
their events; no logs and no exec, so the kubelets need not be reachable), and says the
rollout cannot succeed when:

- the postStart hook (the model pull) failed: the kubelet puts the hook's own output, where
  the model script leaves its reason, in the container's status;
- the image cannot be pulled;
- a pod cannot be scheduled (after a grace for claims being bound and autoscalers);
- the Deployment's progress deadline passed.

What happened before the wait began (events, a failed hook or an exceeded deadline of an
earlier `up`) does not count: the kubelet keeps restarting a failing container, and its
next try may succeed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException

from components.config_rules import PROJECT
from components.kubernetes import rollout
from components.kubernetes.client import read_json
from components.readiness import JudgeNotReady, Report

# (connect, read) seconds for each call.
REQUEST_TIMEOUT = (5, 15)
# A pod the scheduler cannot place yet may soon be placed: a claim is being bound, or a
# cluster autoscaler adds a node (it says so with an event, and the wait goes on).
UNSCHEDULABLE_SECONDS = 30
SCALE_UP_EVENT = "TriggeredScaleUp"
# After a FailedPostStartHook event, how long the kubelet may take to put the hook's output
# in the container's status (it does at its next sync of the pod).
HOOK_OUTPUT_SECONDS = 10


class RolloutWatch:
    """One Deployment's current rollout, read poll by poll. Remembers what it has told, and
    what was there before the wait began (so as not to hold it against this `up`)."""

    def __init__(
        self, apps: Any, core: Any, namespace: str, name: str, models: tuple[str, ...]
    ) -> None:
        self.apps, self.core = apps, core
        self.namespace, self.name = namespace, name
        self.models = ", ".join(models) or "no models"
        self.first = True
        self.earlier_deadline: dict[str, Any] | None = None
        self.earlier_events: dict[str, int] = {}  # event uid -> how often, at the start
        self.earlier_exits: dict[str, dict[str, str]] = {}  # pod uid -> container -> id
        self.unschedulable_since: dict[str, float] = {}
        self.hook_failed_since: dict[str, float] = {}
        self.events_readable = True
        self.told: set[str] = set()
        self.many = False  # several replicas: progress as counts (see _tell_counts)
        self.counts = ""
        self.pods: list[dict[str, Any]] = []
        self.labels = ""
        self.doing = ""

    def check(self, now: float, report: Report) -> bool:
        """One look: True once the Deployment is Available; raises JudgeNotReady when the
        rollout cannot succeed, and the client's errors when the API does not answer."""
        deployment = self._deployment()
        if self._available(deployment, report):
            return True
        exceeded = rollout.deadline_exceeded(deployment)
        if self.first:
            self.earlier_deadline = exceeded
        elif exceeded and exceeded != self.earlier_deadline:
            what = f"made no progress within its deadline: {exceeded.get('message')}"
            raise JudgeNotReady(self.unfinished(what))
        self.pods = self._current_pods(deployment)
        wanted = deployment["spec"].get("replicas", 1)
        self.many = wanted > 1
        for pod in self.pods:
            self._check_pod(pod, now, report)
        if self.many:
            self._tell_counts(wanted, report)
        self.first = False
        return False

    def available(self, report: Report) -> bool:
        """A quick look at the Deployment alone: True once it is Available."""
        return self._available(self._deployment(), report)

    def _available(self, deployment: dict[str, Any], report: Report) -> bool:
        if rollout.available(deployment):
            report(f"Deployment {self.name} is available")
            return True
        return False

    def _tell_counts(self, wanted: int, report: Report) -> None:
        """Several replicas' progress, as counts when they change: a line per pod and step
        would be hundreds. What goes wrong is still told per pod."""
        scheduled = sum(1 for pod in self.pods if pod["spec"].get("nodeName"))
        ready = sum(1 for pod in self.pods if rollout.ready(pod))
        counts = f"{ready} of {wanted} judges ready, {scheduled} of their pods scheduled"
        if counts != self.counts:
            self.counts = counts
            report(counts)

    def unfinished(self, what: str) -> str:
        states = "".join(f"\n  {rollout.pod_state(p)}" for p in self.pods) or "\n  (no pod yet)"
        return (
            f"the judge's Deployment {self.name} (namespace {self.namespace}) {what}{states}\n"
            f"  Its pods: kubectl -n {self.namespace} describe pods -l {self.labels}"
        )

    def _call(self, doing: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.doing = doing
        return read_json(method, *args, _request_timeout=REQUEST_TIMEOUT, **kwargs)

    def _deployment(self) -> dict[str, Any]:
        read = self.apps.read_namespaced_deployment
        try:
            found = self._call("reading the Deployment", read, self.name, self.namespace)
        except ApiException as error:
            if error.status != 404:
                raise
            found = None
        if not found or found["metadata"].get("deletionTimestamp"):
            raise JudgeNotReady(
                f"the judge's Deployment {self.name} (namespace {self.namespace}) was deleted "
                "while `up` waited for it (by a `destroy`, or by hand); once it is gone, "
                "`up --refresh` creates it again"
            )
        return dict(found)

    def _current_pods(self, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        labels = deployment["spec"]["selector"].get("matchLabels", {})
        self.labels = rollout.selector(labels)
        sets = self._call(
            "listing ReplicaSets",
            self.apps.list_namespaced_replica_set,
            self.namespace,
            label_selector=self.labels,
        )["items"]
        current = [rs for rs in sets if rollout.is_current(rs, deployment)]
        if not current:
            return []  # not created yet (Recreate: only once the old pods are gone)
        # Should there be two, the controller takes the oldest.
        replica_set = min(current, key=lambda rs: rs["metadata"]["creationTimestamp"])
        template_hash = replica_set["metadata"]["labels"][rollout.TEMPLATE_HASH]
        pods = self._call(
            "listing pods",
            self.core.list_namespaced_pod,
            self.namespace,
            label_selector=rollout.selector({**labels, rollout.TEMPLATE_HASH: template_hash}),
        )["items"]
        return [
            pod
            for pod in pods
            if rollout.owned_by(pod, replica_set) and not pod["metadata"].get("deletionTimestamp")
        ]

    def _events(self, pod: dict[str, Any], report: Report) -> list[dict[str, Any]]:
        if not self.events_readable:
            return []
        try:
            return list(
                self._call(
                    "listing events",
                    self.core.list_namespaced_event,
                    self.namespace,
                    field_selector=f"involvedObject.uid={rollout.uid(pod)}",
                )["items"]
            )
        except ApiException as error:
            if error.status != 403:
                raise
            # Not needed: a failed hook shows in the container's status too.
            self.events_readable = False
            report(f"the pods' events cannot be read ({error.status} {error.reason})")
            return []

    def _check_pod(self, pod: dict[str, Any], now: float, report: Report) -> None:
        uid, name = rollout.uid(pod), pod["metadata"]["name"]
        containers = pod.get("status", {}).get("containerStatuses", [])
        # A ready pod's events say nothing the wait needs (its hook succeeded), and with
        # many replicas each read costs a call per pod per poll. The first poll reads them
        # all: what was there before the wait must be known should a pod fail later.
        events = self._events(pod, report) if self.first or not rollout.ready(pod) else []
        if self.first:
            self.earlier_events.update({rollout.uid(e): rollout.times(e) for e in events})
            self.earlier_exits[uid] = {c["name"]: rollout.exited(c) for c in containers}
        fresh = [e for e in events if rollout.times(e) > self.earlier_events.get(rollout.uid(e), 0)]

        def tell(line: str, key: str | None = None, progress: bool = True) -> None:
            # Once per pod: every replica says "ready" in the same words. With several
            # replicas only warnings, per pod; their progress goes into the counts.
            told = key or f"{uid} {line}"
            if not (progress and self.many) and told not in self.told:
                self.told.add(told)
                report(f"{name}: {line}")

        if pod["spec"].get("nodeName"):
            tell(f"scheduled on node {pod['spec']['nodeName']}")
        for event in fresh:
            if event.get("reason") not in ("Scheduled", rollout.HOOK_FAILED_EVENT):
                warning = event.get("type") == "Warning"
                line = rollout.first_line(event.get("message", ""))
                tell(line, key=rollout.uid(event), progress=not warning)
            if event.get("reason") == "Started":
                tell(f"its postStart hook pulls and loads the models ({self.models})")
        for container in containers:
            waiting = container.get("state", {}).get("waiting") or {}
            if waiting.get("reason") in rollout.IMAGE_ERRORS:
                raise JudgeNotReady(self._image_failed(name, container["image"], waiting))
            earlier = self.earlier_exits.get(uid, {}).get(container["name"])
            if waiting.get("reason") == rollout.HOOK_FAILED_STATE and (
                rollout.exited(container) != earlier
            ):
                reason = rollout.hook_failure(waiting.get("message", ""))
                raise JudgeNotReady(self._hook_failed(name, reason))
        self._check_hook_events(name, uid, fresh, now)
        self._check_scheduling(pod, events, now)
        if rollout.ready(pod):
            tell("ready: every model is pulled and loaded")

    def _check_hook_events(
        self, name: str, uid: str, fresh: list[dict[str, Any]], now: float
    ) -> None:
        failed = [e for e in fresh if e.get("reason") == rollout.HOOK_FAILED_EVENT]
        if not failed:
            return
        # Kubelets before 1.2x put the hook's output in the event itself.
        said = [e["message"] for e in failed if rollout.HOOK_OUTPUT_MARK in e.get("message", "")]
        if said:
            raise JudgeNotReady(self._hook_failed(name, rollout.hook_failure(said[-1])))
        if now - self.hook_failed_since.setdefault(uid, now) >= HOOK_OUTPUT_SECONDS:
            reason = "the kubelet did not report its output in the pod's status"
            raise JudgeNotReady(self._hook_failed(name, reason))

    def _check_scheduling(
        self, pod: dict[str, Any], events: list[dict[str, Any]], now: float
    ) -> None:
        uid, refused = rollout.uid(pod), rollout.unschedulable(pod)
        if refused is None:
            self.unschedulable_since.pop(uid, None)
            return
        waited = now - self.unschedulable_since.setdefault(uid, now)
        scaling_up = any(e.get("reason") == SCALE_UP_EVENT for e in events)
        if waited >= UNSCHEDULABLE_SECONDS and not scaling_up:
            key = f"{PROJECT}:kubernetes"
            raise JudgeNotReady(
                f"the judge's pod {pod['metadata']['name']} (namespace {self.namespace}) cannot "
                f"be scheduled: {refused.get('message')}\n"
                f"  Check {key}.gpu, .cpu, .memory, .nodeSelector and .tolerations against what "
                "the nodes offer (kubectl describe nodes); the next `up` rolls a change out."
            )

    def _hook_failed(self, pod: str, reason: str) -> str:
        return (
            f"the judge's pod {pod} (namespace {self.namespace}) is not ready ({self.models}): "
            f"its postStart hook gave up: {reason}.\n"
            f"  Check the model names and that the registry can be reached from the cluster's "
            f"nodes, or change {PROJECT}:models; the next `up` rolls the change out. The "
            f"kubelet keeps restarting the container meanwhile, so a registry that comes back "
            f"brings the judge up by itself. Its log: "
            f"kubectl logs -n {self.namespace} {pod} --previous"
        )

    def _image_failed(self, pod: str, image: str, waiting: dict[str, Any]) -> str:
        return (
            f"the judge's pod {pod} (namespace {self.namespace}) cannot start: its image "
            f"{image} cannot be pulled ({waiting.get('reason')}: {waiting.get('message')}).\n"
            f"  Check {PROJECT}:image and that the nodes can reach its registry; an image "
            f"that is only on the nodes needs {PROJECT}:kubernetes.imagePullPolicy "
            "IfNotPresent or Never."
        )
