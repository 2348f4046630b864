"""A Deployment's rollout as the API's objects show it (when it is done, its current
ReplicaSet and pods, what the kubelet says); no calls: rollout_watch.py follows them.
"""

from __future__ import annotations

import re
from typing import Any

from components.readiness import giving_up_reason, script_lines

TEMPLATE_HASH = "pod-template-hash"
HOOK_FAILED_EVENT = "FailedPostStartHook"
HOOK_FAILED_STATE = "PostStartHookError"
IMAGE_ERRORS = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName")
# The kubelet's message about a failed exec hook ends with the hook's output, Go-quoted:
# `Exec lifecycle hook ([...]) for Container "c" in Pod "p" failed - error: ..., message: "..."`
HOOK_OUTPUT_MARK = ', message: "'
_GO_ESCAPE = re.compile(r'\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[abfnrtv\\"\'])')
_GO_CHARS = dict(zip("abfnrtv\\\"'", "\a\b\f\n\r\t\v\\\"'", strict=True))


def go_unquote(text: str) -> str:
    """A string as Go's %q wrote it, without its quotes, unescaped."""

    def unescape(match: re.Match[str]) -> str:
        code = match.group(1)
        return chr(int(code[1:], 16)) if code[0] in "xuU" else _GO_CHARS[code]

    return _GO_ESCAPE.sub(unescape, text)


def hook_failure(message: str) -> str:
    """Why the hook failed, from the kubelet's message about it: the model script's reason
    for giving up, else the hook's last line of output, else its exit status."""
    mark = message.rfind(HOOK_OUTPUT_MARK)
    quoted = message[mark + len(HOOK_OUTPUT_MARK) :] if mark >= 0 else ""
    output = go_unquote(quoted.removesuffix('"'))
    lines = output.strip().splitlines()
    if lines:
        return giving_up_reason(script_lines(output)) or lines[-1]
    status = re.search(r"exited with (\d+)", message)
    return f"it exited with {status.group(1)} and said nothing" if status else "it failed"


def condition(item: dict[str, Any], kind: str) -> dict[str, Any]:
    conditions = item.get("status", {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == kind), {})


def ready_endpoints(slices: list[dict[str, Any]]) -> frozenset[str]:
    """The addresses of the slices' ready endpoints (a missing condition means ready, as the
    API documents)."""
    return frozenset(
        address
        for endpoint_slice in slices
        for endpoint in endpoint_slice.get("endpoints") or []
        if (endpoint.get("conditions") or {}).get("ready", True)
        for address in endpoint.get("addresses") or []
    )


def available(deployment: dict[str, Any]) -> bool:
    """As `kubectl rollout status` decides: the controller has seen the current spec, and
    every replica is updated and available, with no old one left."""
    status = deployment.get("status", {})
    updated = status.get("updatedReplicas", 0)
    return (
        status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
        and updated >= deployment["spec"].get("replicas", 1)
        and status.get("replicas", 0) <= updated
        and status.get("availableReplicas", 0) >= updated
    )


def is_current(replica_set: dict[str, Any], deployment: dict[str, Any]) -> bool:
    """Whether the ReplicaSet is the Deployment's of its current pod template: the
    controller's own test (the template, less the hash label it adds)."""
    if not owned_by(replica_set, deployment):
        return False
    template = dict(replica_set["spec"]["template"])
    labels = {k: v for k, v in template["metadata"]["labels"].items() if k != TEMPLATE_HASH}
    template["metadata"] = {**template["metadata"], "labels": labels}
    return bool(template == deployment["spec"]["template"])


def owned_by(item: dict[str, Any], owner: dict[str, Any]) -> bool:
    return any(o.get("uid") == uid(owner) for o in item["metadata"].get("ownerReferences", []))


def ready(pod: dict[str, Any]) -> bool:
    return condition(pod, "Ready").get("status") == "True"


def selector(labels: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def pod_state(pod: dict[str, Any]) -> str:
    """One line on where a pod is, for a message about a rollout that did not finish."""
    status = pod.get("status", {})
    parts = [f"pod {pod['metadata']['name']}: {status.get('phase', 'Pending')}"]
    scheduled = condition(pod, "PodScheduled")
    if scheduled.get("status") == "False":
        parts.append(f"not scheduled ({first_line(scheduled.get('message', ''))})")
    for container in status.get("containerStatuses", []):
        state = container.get("state", {})
        if waiting := state.get("waiting"):
            message, reason = waiting.get("message", ""), waiting.get("reason")
            said = hook_failure(message) if reason == HOOK_FAILED_STATE else first_line(message)
            parts.append(f"waiting ({reason}{': ' + said if said else ''})")
        elif "running" in state and not container.get("ready"):
            parts.append("running, not ready")
        if last := container.get("lastState", {}).get("terminated"):
            parts.append(f"last exit: {last.get('reason')} ({last.get('exitCode')})")
        if container.get("restartCount"):
            parts.append(f"{container['restartCount']} restarts")
    return ", ".join(parts)


def first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def times(event: dict[str, Any]) -> int:
    """How often an event happened: the kubelet counts repeats in the same Event."""
    return int((event.get("series") or {}).get("count") or event.get("count") or 1)


def uid(item: dict[str, Any]) -> str:
    return str(item["metadata"]["uid"])


def exited(container: dict[str, Any]) -> str:
    """The id of the container's last run that ended, or ""."""
    terminated = container.get("lastState", {}).get("terminated") or {}
    return str(terminated.get("containerID", ""))
