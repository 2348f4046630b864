"""A stand-in for the Kubernetes API of the waits: the objects a test scripts, as the API
sends them (camelCase dicts), listed and watched."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from components import readiness
from components.kubernetes import watches

# What readiness.Streams names the threads of the waits' streams ("watch").
THREAD_NAME = "ollama-judge-watch"

LABELS = {"app": "ollama"}
TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": LABELS},
    "spec": {"containers": [{"name": "ollama", "image": "ollama/ollama:0.34.1"}]},
}
DEPLOYMENT_UID = "d-1"


def deployment(
    generation: int = 2,
    observed: int = 2,
    updated: int = 0,
    available: int = 0,
    replicas: int | None = None,
    conditions: tuple[dict[str, Any], ...] = (),
    wanted: int = 1,
) -> dict[str, Any]:
    """A Deployment of `wanted` replicas, with its status as the controller writes it."""
    return {
        "metadata": {
            "name": "ollama",
            "namespace": "knitfab",
            "uid": DEPLOYMENT_UID,
            "generation": generation,
        },
        "spec": {"replicas": wanted, "selector": {"matchLabels": LABELS}, "template": TEMPLATE},
        "status": {
            "observedGeneration": observed,
            "replicas": updated if replicas is None else replicas,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": list(conditions),
        },
    }


def replica_set(
    template_hash: str, template: dict[str, Any] = TEMPLATE, created: str = "2026-01-01T00:00:00Z"
) -> dict[str, Any]:
    labels = {**LABELS, "pod-template-hash": template_hash}
    return {
        "metadata": {
            "name": f"ollama-{template_hash}",
            "uid": f"rs-{template_hash}",
            "labels": labels,
            "creationTimestamp": created,
            "ownerReferences": [{"kind": "Deployment", "uid": DEPLOYMENT_UID}],
        },
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {**template, "metadata": {**template["metadata"], "labels": labels}},
        },
    }


def pod(
    name: str,
    owner: dict[str, Any],
    node: str | None = "gpu-node-1",
    waiting: tuple[str, str] | None = None,
    last_exit: str | None = None,
    ready: bool = False,
    unschedulable: str | None = None,
) -> dict[str, Any]:
    """A pod of ReplicaSet `owner`; `waiting` is its container's (reason, message), and
    `last_exit` the id of the container's last run that ended."""
    state: dict[str, Any] = {"running": {}}
    if waiting:
        state = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
    container: dict[str, Any] = {
        "name": "ollama",
        "image": "ollama/ollama:0.34.1",
        "state": state,
        "ready": ready,
        "restartCount": 1 if last_exit else 0,
    }
    if last_exit:
        container["lastState"] = {
            "terminated": {"containerID": last_exit, "exitCode": 137, "reason": "Error"}
        }
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    if unschedulable:
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": unschedulable,
            }
        )
    return {
        "metadata": {
            "name": name,
            "uid": f"pod-{name}",
            "labels": owner["metadata"]["labels"],
            "ownerReferences": [{"kind": "ReplicaSet", "uid": owner["metadata"]["uid"]}],
        },
        "spec": {"nodeName": None if unschedulable else node},
        "status": {
            "phase": "Running" if not unschedulable else "Pending",
            "conditions": conditions,
            "containerStatuses": [] if unschedulable else [container],
        },
    }


def endpoint_slice(
    *ready: bool | None, service: str = "ollama", address: str = "10.0.0.1"
) -> dict[str, Any]:
    """An EndpointSlice of `service`, with an endpoint per `ready` (None: no condition)."""
    name = f"{service}-abcde"
    return {
        "metadata": {"name": name, "uid": name, "labels": {"kubernetes.io/service-name": service}},
        "endpoints": [
            {"addresses": [address], "conditions": {} if r is None else {"ready": r}} for r in ready
        ],
    }


# The judge's Service as a wait finds it unless a test says otherwise: routing to its judge.
ROUTED = (endpoint_slice(True),)


def event(of: dict[str, Any], reason: str, message: str, count: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"uid": f"event-{of['metadata']['name']}-{reason}"},
        "involvedObject": {"kind": "Pod", "uid": of["metadata"]["uid"]},
        "reason": reason,
        "message": message,
        "count": count,
        "type": "Warning" if reason.startswith("Failed") else "Normal",
    }


def quick_looks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """For an autouse fixture: the waits' looks do not idle, no interruption from another
    test is pending, and no watch outlives its wait."""
    monkeypatch.setattr(watches, "TICK_SECONDS", 0)
    readiness.CANCELLED.clear()
    yield
    readiness.CANCELLED.clear()
    assert not [thread for thread in threading.enumerate() if thread.name == THREAD_NAME]


def refusal(status: int, reason: str, message: str = "") -> ApiException:
    error = ApiException(status=status, reason=reason)
    error.body = json.dumps({"kind": "Status", "message": message}) if message else None
    return error


class FakeCluster:
    """The client calls of the waits (AppsV1Api, CoreV1Api and DiscoveryV1Api in one object),
    lists and watches, answered from objects a test scripts, as the API sends them.

    The wait reads the clock (`clock`) as it begins and then once a look. From the second
    reading on, each first makes the next of `steps` (which change the objects, as the
    cluster's controllers and kubelets would) and returns once every watch of the wait has
    handed over the changes: each look sees one step more. Every change has a
    resourceVersion of its own, and a watch sends those after the one it started from."""

    def __init__(
        self,
        deployment: dict[str, Any] | None = None,
        replica_sets: tuple[dict[str, Any], ...] = (),
        pods: tuple[dict[str, Any], ...] = (),
        events: tuple[dict[str, Any], ...] = (),
        steps: tuple[Callable[[FakeCluster], Any], ...] = (),
        endpoint_slices: tuple[dict[str, Any], ...] = ROUTED,
    ):
        # Only names the server, in messages about failed calls.
        self.api_client = client.ApiClient(client.Configuration(host="https://cluster.example"))
        self.deployment = deployment
        self.replica_sets = list(replica_sets)
        self.pods = list(pods)
        self.events = list(events)
        self.endpoint_slices = list(endpoint_slices)
        self.services: list[dict[str, Any]] = []  # every Service: only their changes count
        self.logs: dict[str, str] = {}  # pod name -> its log
        self.steps = list(steps)
        # A call's name -> the error its lists, or its watches, raise.
        self.failing: dict[str, Exception] = {}
        self.failing_watches: dict[str, Exception] = {}
        self.calls: list[tuple[str, str]] = []  # each list: (call, selector)
        self.watched: list[tuple[str, str]] = []  # each watch: (call, selector)
        self.now = 0.0
        self.readings = 0
        self.version = 0
        self.expired = 0  # a watch from a resourceVersion before this one is answered 410 Gone
        self.changes: list[tuple[int, str, str, dict[str, Any]]] = []  # version, call, type, it
        self.published: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        self.open: list[FakeWatch] = []  # the watches answering
        self.waiting: set[threading.Thread] = set()  # threads whose watch has nothing to send
        self.lock = threading.Condition()
        self.publish()

    def list_namespaced_deployment(self, namespace: str, **options: Any) -> Any:
        return self._answer("list_namespaced_deployment", options)

    def list_namespaced_replica_set(self, namespace: str, **options: Any) -> Any:
        return self._answer("list_namespaced_replica_set", options)

    def list_namespaced_pod(self, namespace: str, **options: Any) -> Any:
        return self._answer("list_namespaced_pod", options)

    def list_namespaced_event(self, namespace: str, **options: Any) -> Any:
        return self._answer("list_namespaced_event", options)

    def list_namespaced_endpoint_slice(self, namespace: str, **options: Any) -> Any:
        return self._answer("list_namespaced_endpoint_slice", options)

    def list_endpoint_slice_for_all_namespaces(self, **options: Any) -> Any:
        return self._answer("list_endpoint_slice_for_all_namespaces", options)

    def list_service_for_all_namespaces(self, **options: Any) -> Any:
        return self._answer("list_service_for_all_namespaces", options)

    def read_namespaced_deployment(self, name: str, namespace: str, **options: Any) -> Any:
        self.calls.append(("read_namespaced_deployment", name))
        return RawResponse(json.dumps(self.deployment).encode())

    def read_namespaced_pod_log(self, name: str, namespace: str, **options: Any) -> Any:
        """A pod's log, from `logs` (pod name -> its text), in pieces of 7 bytes."""
        self.calls.append(("read_namespaced_pod_log", name))
        if "read_namespaced_pod_log" in self.failing:
            raise self.failing["read_namespaced_pod_log"]
        text = self.logs.get(name, "").encode()
        return LogResponse([text[at : at + 7] for at in range(0, len(text), 7)])

    def clock(self) -> float:
        self.readings += 1
        if self.readings > 1 and self.steps:
            self.steps.pop(0)(self)
            self.publish()
        self._settle()
        self.now += 1
        return self.now

    def end_watches(self, how: str | Exception = "timeout") -> None:
        """Ends the open watches: as the server does after their timeout, with a 410 Gone
        ("expired"), or with an error that their reads raise."""
        with self.lock:
            if how == "expired":
                self.expired = self.version + 1
            for answering in self.open:
                answering.ended = how
            self._wake()

    def _answer(self, call: str, options: dict[str, Any]) -> Any:
        selector = options.get("label_selector") or options.get("field_selector", "")
        if options.get("watch"):
            self.watched.append((call, selector))
            if call in self.failing_watches:
                raise self.failing_watches[call]
            return FakeWatch(self, call, options)
        self.calls.append((call, selector))
        if call in self.failing:
            raise self.failing[call]
        with self.lock:
            items = [it for _, it in self.published[call].values() if _selected(it, options)]
            body = {"metadata": {"resourceVersion": str(self.version)}, "items": items}
        return RawResponse(json.dumps(body).encode())

    def publish(self) -> None:
        """Each object added, changed or deleted since, as a change of its own."""
        current = {
            "list_namespaced_deployment": [self.deployment] if self.deployment else [],
            "list_namespaced_replica_set": self.replica_sets,
            "list_namespaced_pod": self.pods,
            "list_namespaced_event": self.events,
            "list_namespaced_endpoint_slice": self.endpoint_slices,
            "list_endpoint_slice_for_all_namespaces": self.endpoint_slices,
            "list_service_for_all_namespaces": self.services,
        }
        with self.lock:
            for call, objects in current.items():
                before = self.published.get(call, {})
                after = {}
                for item in objects:
                    text = json.dumps(item, sort_keys=True)
                    uid = item["metadata"]["uid"]
                    after[uid] = before.get(uid) or ("", {})
                    if after[uid][0] != text:
                        after[uid] = (text, self._change(call, uid in before, json.loads(text)))
                for uid in before.keys() - after.keys():
                    self._change(call, "DELETED", before[uid][1])
                self.published[call] = after
            self._wake()

    def _change(self, call: str, how: bool | str, item: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        item = {**item, "metadata": {**item["metadata"], "resourceVersion": str(self.version)}}
        kind = how if isinstance(how, str) else ("MODIFIED" if how else "ADDED")
        self.changes.append((self.version, call, kind, item))
        return item

    def _wake(self) -> None:
        self.waiting.clear()
        self.lock.notify_all()

    def _settle(self) -> None:
        """Until every watch thread of the wait waits for a change it has not been sent."""
        give_up = time.monotonic() + 10
        while True:
            with self.lock:
                busy = [t for t in threading.enumerate() if t.name == THREAD_NAME]
                busy = [t for t in busy if t not in self.waiting]
            if not busy:
                return
            assert time.monotonic() < give_up, f"the wait's watches did not settle: {busy}"
            time.sleep(0.001)


class FakeWatch:
    """A watch's response: each change after its resourceVersion to the objects it selects,
    a line each, until the cluster ends it or the wait shuts it."""

    status = 200

    def __init__(self, cluster: FakeCluster, call: str, options: dict[str, Any]):
        self.cluster, self.call, self.options = cluster, call, options
        self.sent = int(options["resource_version"])
        self.ended: str | Exception | None = "expired" if self.sent < cluster.expired else None
        self.shut = False

    def stream(self, amt: Any = None, decode_content: bool = False) -> Iterator[bytes]:
        cluster = self.cluster
        with cluster.lock:
            cluster.open.append(self)
        try:
            while True:
                with cluster.lock:
                    while not (lines := self._unsent()) and not self.shut and not self.ended:
                        cluster.waiting.add(threading.current_thread())
                        cluster.lock.wait()
                    cluster.waiting.discard(threading.current_thread())
                if lines:
                    yield b"".join(lines)
                elif self.shut:
                    raise urllib3.exceptions.ProtocolError("the wait shut the watch's read")
                elif isinstance(self.ended, Exception):
                    raise self.ended
                else:
                    if self.ended == "expired":
                        gone = {
                            "kind": "Status",
                            "code": 410,
                            "reason": "Expired",
                            "message": "too old",
                        }
                        yield json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n"
                    return
        finally:
            with cluster.lock:
                cluster.open.remove(self)

    def _unsent(self) -> list[bytes]:
        lines = [
            json.dumps({"type": kind, "object": item}).encode() + b"\n"
            for version, call, kind, item in self.cluster.changes
            if version > self.sent and call == self.call and _selected(item, self.options)
        ]
        self.sent = self.cluster.version
        return lines

    def shutdown(self) -> None:
        with self.cluster.lock:
            self.shut = True
            self.cluster._wake()

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


class LogResponse:
    """A log read with `_preload_content=False`: its pieces, as far as they are taken."""

    def __init__(self, pieces: list[bytes]):
        self.pieces, self.taken, self.closed = pieces, 0, False

    def stream(self, amt: Any = None) -> Iterator[bytes]:
        for piece in self.pieces:
            self.taken += 1
            yield piece

    def close(self) -> None:
        self.closed = True


class RawResponse:
    """What the client returns for a list with `_preload_content=False`, as far as it is
    read: the body, and the connection to give back."""

    def __init__(self, data: bytes):
        self.data = data

    def release_conn(self) -> None:
        pass


def _selected(item: dict[str, Any], options: dict[str, Any]) -> bool:
    """Whether the object has the labels of the label selector, and the fields of the field
    selector (a path of names: `involvedObject.uid=...`)."""
    labels = item["metadata"].get("labels", {})
    for term in filter(None, options.get("label_selector", "").split(",")):
        key, value = term.split("=", 1)
        if labels.get(key) != value:
            return False
    for term in filter(None, options.get("field_selector", "").split(",")):
        path, value = term.split("=", 1)
        found: Any = item
        for name in path.split("."):
            found = found.get(name, {})
        if found != value:
            return False
    return True
