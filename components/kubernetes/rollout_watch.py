"""What `up`'s wait (wait.py) follows of the judge's rollout, through the API alone (the
kubelets need not be reachable): the Deployment, its ReplicaSets, the current one's pods and
their events, and the Service's EndpointSlices. The rollout cannot succeed once a postStart
hook (the model pull) failed, an image cannot be pulled, a pod cannot be scheduled or the
deadline passed; not for what came before the wait: the kubelet keeps restarting a failing
container, whose next try may succeed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kubernetes.client.exceptions import ApiException

from components.config_rules import PROJECT
from components.kubernetes import rollout
from components.kubernetes.routing import ServiceRouting
from components.kubernetes.watches import Selected, Watches
from components.readiness import JudgeNotReady, Report

# A pod the scheduler cannot place yet may soon be placed: a claim is being bound, or a
# cluster autoscaler adds a node (it says so with an event, and the wait goes on).
UNSCHEDULABLE_SECONDS = 30
SCALE_UP_EVENT = "TriggeredScaleUp"
# How long the kubelet's next sync may take to put a failed hook's output in the status.
HOOK_OUTPUT_SECONDS = 10

Item = dict[str, Any]  # an object, or a part of one, as the API sends it (camelCase keys)


class Clients(NamedTuple):
    """The client's AppsV1Api, CoreV1Api and DiscoveryV1Api."""

    apps: Any
    core: Any
    discovery: Any


class JudgeObjects(NamedTuple):
    """The judge's Deployment and Service, in one namespace, and its models."""

    namespace: str
    deployment: str
    service: str
    models: tuple[str, ...]


class RolloutWatch(Watches):
    """One Deployment's current rollout, as its streams hold it."""

    def __init__(self, clients: Clients, judge: JudgeObjects) -> None:
        super().__init__(judge.namespace)
        self.apps, self.core, self.name = clients.apps, clients.core, judge.deployment
        self.models = ", ".join(judge.models) or "no models"
        self.first = True
        self.earlier_deadline: Item | None = None
        self.earlier_events: dict[str, int] = {}  # event uid -> how often, at the start
        self.earlier_exits: dict[str, dict[str, str]] = {}  # pod uid -> container -> id
        self.since: dict[str, float] = {}  # "<pod uid> <state>" -> when first seen
        self.events_readable = True
        self.told: set[str] = set()
        self.counts = self.labels = ""
        self.pods: list[Item] = []
        self.available = False
        self.routing = ServiceRouting(
            clients.core, clients.discovery, judge.namespace, judge.service
        )

    def check(self, now: float, report: Report) -> bool:
        """One look: True once the Deployment is Available and its Service routes to it;
        raises JudgeNotReady when the rollout cannot succeed, and the client's errors when
        the API fails."""
        self._update(report)
        self.routing.look(self, now, report)
        deployment = next(iter(self.objects("the Deployment")), None)
        if not deployment or deployment["metadata"].get("deletionTimestamp"):
            raise JudgeNotReady(
                f"the judge's Deployment {self.name} (namespace {self.namespace}) was deleted "
                "while `up` waited for it (by a `destroy`, or by hand); once it is gone, "
                "`up --refresh` creates it again"
            )
        if rollout.available(deployment):
            if not self.available:
                self.available = True
                report(f"Deployment {self.name} is available")
            return self._routed(now)
        self.available = False
        progressing = rollout.condition(deployment, "Progressing")
        exceeded = progressing if progressing.get("reason") == "ProgressDeadlineExceeded" else None
        if self.first:
            self.earlier_deadline = exceeded
        elif exceeded and exceeded != self.earlier_deadline:
            what = f"made no progress within its deadline: {exceeded.get('message')}"
            raise JudgeNotReady(self.unfinished(what))
        self.pods = self._current(deployment)[1]
        wanted = deployment["spec"].get("replicas", 1)
        for pod in self.pods:
            self._check_pod(pod, now, report, many=wanted > 1)
        if wanted > 1:
            # As counts when they change: a line per pod and step would be hundreds.
            scheduled = sum(1 for pod in self.pods if pod["spec"].get("nodeName"))
            ready = sum(1 for pod in self.pods if rollout.ready(pod))
            counts = f"{ready} of {wanted} judges ready, {scheduled} of their pods scheduled"
            if counts != self.counts:
                self.counts = counts
                report(counts)
        if self.first:  # what was there before is known: a ready pod's events are not needed
            self.first = False
            self._update(report)
        return False

    def _routed(self, now: float) -> bool:
        """Whether the Service routes to the ready judge on every node; if not yet, when to
        look again."""
        routed_at = self.routing.routed_at()
        if routed_at is None:
            return False
        self.due = routed_at
        return now >= routed_at

    def unfinished(self, what: str) -> str:
        states = "".join(f"\n  {rollout.pod_state(p)}" for p in self.pods) or "\n  (no pod yet)"
        return (
            f"the judge's Deployment {self.name} (namespace {self.namespace}) {what}{states}\n"
            f"  Its pods: kubectl -n {self.namespace} describe pods -l {self.labels}"
        )

    def _wanted(self) -> dict[str, Selected]:
        """The Deployment and what the Service's routing follows (routing.py); unless the
        Deployment is Available, its ReplicaSets, the current one's pods and their events:
        every pod's at first (what came before), then the unready pods'."""
        by_name = {"field_selector": f"metadata.name={self.name}"}
        wanted = {"the Deployment": (self.apps.list_namespaced_deployment, by_name)}
        wanted.update(self.routing.wanted())
        deployment = next(iter(self.objects("the Deployment")), None)
        if not deployment or rollout.available(deployment):
            return wanted
        self.labels = rollout.selector(deployment["spec"]["selector"].get("matchLabels", {}))
        by_labels = {"label_selector": self.labels}
        wanted["ReplicaSets"] = (self.apps.list_namespaced_replica_set, by_labels)
        replica_set, pods = self._current(deployment)
        if replica_set:
            selector = rollout.selector(replica_set["spec"]["selector"]["matchLabels"])
            wanted["pods"] = (self.core.list_namespaced_pod, {"label_selector": selector})
        for pod in pods if self.events_readable else []:
            if self.first or not rollout.ready(pod):
                about = {"field_selector": f"involvedObject.uid={rollout.uid(pod)}"}
                events = self.core.list_namespaced_event
                wanted[f"events of {pod['metadata']['name']}"] = (events, about)
        return wanted

    def _update(self, report: Report) -> None:
        try:
            self.update(self._wanted)
        except ApiException as error:
            refused = f"({error.status} {error.reason})"
            if error.status == 403 and "events of" in self.doing:
                # Not needed: a failed hook shows in the container's status too.
                self.events_readable = False
                report(f"the pods' events cannot be read {refused}")
            elif error.status == 403 and "every " in self.doing:
                self.routing.refused(refused, report)
            else:
                raise
            self.update(self._wanted)

    def _current(self, deployment: Item) -> tuple[Item | None, list[Item]]:
        """The current ReplicaSet (None until the controller creates it; Recreate: once the
        old pods are gone), and its pods, by name."""
        sets = [rs for rs in self.objects("ReplicaSets") if rollout.is_current(rs, deployment)]
        # Should there be two, the controller takes the oldest.
        current = min(sets, key=lambda rs: rs["metadata"]["creationTimestamp"], default=None)
        pods = [pod for pod in self.objects("pods") if current and rollout.owned_by(pod, current)]
        pods = [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]
        return current, sorted(pods, key=lambda pod: str(pod["metadata"]["name"]))

    def _check_pod(self, pod: Item, now: float, report: Report, many: bool) -> None:
        uid, name = rollout.uid(pod), pod["metadata"]["name"]
        containers = pod.get("status", {}).get("containerStatuses", [])
        events = self.objects(f"events of {name}")
        if self.first:
            self.earlier_events.update({rollout.uid(e): rollout.times(e) for e in events})
            self.earlier_exits[uid] = {c["name"]: rollout.exited(c) for c in containers}
        fresh = [e for e in events if rollout.times(e) > self.earlier_events.get(rollout.uid(e), 0)]

        def tell(line: str, key: str | None = None, progress: bool = True) -> None:
            # Once per pod: every replica says "ready" in the same words. With several
            # replicas only warnings, per pod; their progress goes into the counts.
            told = key or f"{uid} {line}"
            if not (progress and many) and told not in self.told:
                self.told.add(told)
                report(f"{name}: {line}")

        if pod["spec"].get("nodeName"):
            tell(f"scheduled on node {pod['spec']['nodeName']}")
        for event in fresh:
            if event.get("reason") not in ("Scheduled", rollout.HOOK_FAILED_EVENT):
                progress = event.get("type") != "Warning"
                tell(rollout.first_line(event.get("message", "")), rollout.uid(event), progress)
            if event.get("reason") == "Started":
                tell(f"its postStart hook pulls and loads the models ({self.models})")
        for container in containers:
            waiting = container.get("state", {}).get("waiting") or {}
            if waiting.get("reason") in rollout.IMAGE_ERRORS:
                raise JudgeNotReady(
                    f"the judge's pod {name} (namespace {self.namespace}) cannot start: its "
                    f"image {container['image']} cannot be pulled ({waiting.get('reason')}: "
                    f"{waiting.get('message')}).\n"
                    f"  Check {PROJECT}:image and that the nodes can reach its registry; an "
                    f"image that is only on the nodes needs {PROJECT}:kubernetes.imagePullPolicy "
                    "IfNotPresent or Never."
                )
        if hook_failed := self._hook_failure(uid, containers, fresh, now):
            raise JudgeNotReady(
                f"the judge's pod {name} (namespace {self.namespace}) is not ready "
                f"({self.models}): its postStart hook gave up: {hook_failed}.\n"
                f"  Check the model names and that the registry can be reached from the "
                f"cluster's nodes, or change {PROJECT}:models; the next `up` rolls the change "
                f"out. The kubelet keeps restarting the container meanwhile, so a registry "
                f"that comes back brings the judge up by itself. Its log: "
                f"kubectl logs -n {self.namespace} {name} --previous"
            )
        self._check_scheduling(pod, events, now)
        if rollout.ready(pod):
            tell("ready: every model is pulled and loaded")

    def _hook_failure(
        self, uid: str, containers: list[Item], fresh: list[Item], now: float
    ) -> str | None:
        """Why the pod's postStart hook failed since the wait began, if it did."""
        earlier = self.earlier_exits.get(uid, {})
        for container in containers:
            waiting = container.get("state", {}).get("waiting") or {}
            again = rollout.exited(container) != earlier.get(container["name"])
            if waiting.get("reason") == rollout.HOOK_FAILED_STATE and again:
                return rollout.hook_failure(waiting.get("message", ""))
        failed = [e for e in fresh if e.get("reason") == rollout.HOOK_FAILED_EVENT]
        # Kubelets before 1.2x put the hook's output in the event itself.
        said = [e["message"] for e in failed if rollout.HOOK_OUTPUT_MARK in e.get("message", "")]
        if said:
            return rollout.hook_failure(said[-1])
        if failed and now - self.since.setdefault(f"{uid} hook failed", now) >= HOOK_OUTPUT_SECONDS:
            return "the kubelet did not report its output in the pod's status"
        return None

    def _check_scheduling(self, pod: Item, events: list[Item], now: float) -> None:
        timer, refused = f"{rollout.uid(pod)} unschedulable", rollout.condition(pod, "PodScheduled")
        if refused.get("reason") != "Unschedulable" or refused["status"] != "False":
            self.since.pop(timer, None)
            return
        waited = now - self.since.setdefault(timer, now)
        scaling_up = any(e.get("reason") == SCALE_UP_EVENT for e in events)
        if waited >= UNSCHEDULABLE_SECONDS and not scaling_up:
            key = f"{PROJECT}:kubernetes"
            raise JudgeNotReady(
                f"the judge's pod {pod['metadata']['name']} (namespace {self.namespace}) cannot "
                f"be scheduled: {refused.get('message')}\n"
                f"  Check {key}.gpu, .cpu, .memory, .nodeSelector and .tolerations against what "
                "the nodes offer (kubectl describe nodes); the next `up` rolls a change out."
            )
