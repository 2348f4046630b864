"""A stand-in for the Kubernetes client calls of the rollout wait (AppsV1Api and CoreV1Api
in one object), answering from objects a test scripts, as the API sends them (camelCase
dicts). `steps` change them: one step at each read of the Deployment, that is, each poll."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

LABELS = {"app": "ollama"}
TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": LABELS},
    "spec": {"containers": [{"name": "ollama", "image": "ollama/ollama:0.24.0"}]},
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
        "spec": {"template": {**template, "metadata": {**template["metadata"], "labels": labels}}},
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
        "image": "ollama/ollama:0.24.0",
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


def event(of: dict[str, Any], reason: str, message: str, count: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"uid": f"event-{of['metadata']['name']}-{reason}"},
        "involvedObject": {"kind": "Pod", "uid": of["metadata"]["uid"]},
        "reason": reason,
        "message": message,
        "count": count,
        "type": "Warning" if reason.startswith("Failed") else "Normal",
    }


def refusal(status: int, reason: str, message: str = "") -> ApiException:
    error = ApiException(status=status, reason=reason)
    error.body = json.dumps({"kind": "Status", "message": message}) if message else None
    return error


class FakeCluster:
    def __init__(
        self,
        deployment: dict[str, Any],
        replica_sets: tuple[dict[str, Any], ...] = (),
        pods: tuple[dict[str, Any], ...] = (),
        events: tuple[dict[str, Any], ...] = (),
        steps: tuple[Callable[[FakeCluster], Any], ...] = (),
    ):
        # Only names the server, in messages about failed calls.
        self.api_client = client.ApiClient(client.Configuration(host="https://cluster.example"))
        self.deployment = deployment
        self.replica_sets = list(replica_sets)
        self.pods = list(pods)
        self.events = list(events)
        self.steps = list(steps)
        # A call's name -> the error it raises.
        self.failing: dict[str, Exception] = {}
        self.calls: list[tuple[str, str]] = []

    def _answer(self, call: str, argument: str, body: Any) -> RawResponse:
        self.calls.append((call, argument))
        if call in self.failing:
            raise self.failing[call]
        return RawResponse(json.dumps(body).encode())

    def read_namespaced_deployment(self, name: str, namespace: str, **options: Any) -> Any:
        if self.steps:
            self.steps.pop(0)(self)
        return self._answer("read_namespaced_deployment", f"{namespace}/{name}", self.deployment)

    def list_namespaced_replica_set(self, namespace: str, label_selector: str, **options: Any):
        sets = [rs for rs in self.replica_sets if _selected(rs, label_selector)]
        return self._answer("list_namespaced_replica_set", label_selector, {"items": sets})

    def list_namespaced_pod(self, namespace: str, label_selector: str, **options: Any) -> Any:
        pods = [p for p in self.pods if _selected(p, label_selector)]
        return self._answer("list_namespaced_pod", label_selector, {"items": pods})

    def list_namespaced_event(self, namespace: str, field_selector: str, **options: Any) -> Any:
        uid = field_selector.removeprefix("involvedObject.uid=")
        events = [e for e in self.events if e["involvedObject"]["uid"] == uid]
        return self._answer("list_namespaced_event", field_selector, {"items": events})


class RawResponse:
    """What the client returns for a call with `_preload_content=False`, as far as it is
    read: the body, and the connection to give back."""

    def __init__(self, data: bytes):
        self.data = data

    def release_conn(self) -> None:
        pass


def _selected(item: dict[str, Any], label_selector: str) -> bool:
    labels = item["metadata"].get("labels", {})
    wanted = dict(term.split("=", 1) for term in label_selector.split(","))
    return all(labels.get(k) == v for k, v in wanted.items())
