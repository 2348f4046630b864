"""Asks the cluster, before anything changes, whether some node can hold the judge's GPUs.

Kubernetes accepts a Deployment that no node can run: its pod waits unscheduled, and
`up` learns so only from the rollout (components/kubernetes_readiness.py), when the
Recreate strategy has already taken the running judge down. Asking first turns that into
a config error that names the setting and what the nodes offer, and the judge keeps running.

The nodes are read through the Kubernetes Python client with the kubeconfig the
kubernetes provider uses (components/kubernetes_client.py). Where the nodes cannot be read
(no kubeconfig, an unreachable cluster, a user who may not list nodes) the check says so in
a warning and leaves the verdict to the rollout. Taints are not weighed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from kubernetes import client

from components.kubernetes_client import API_ERRORS, ClusterUnreadable, connect
from components.settings import (
    PROJECT,
    ClusterAccess,
    ConfigError,
    KubernetesJudgeArgs,
    cli_command,
)

# (connect, read) seconds: this runs before every preview of the stack.
TIMEOUT_SECONDS = (3, 5)


def gpu_shortfall(
    nodes: list[dict[str, Any]], args: KubernetesJudgeArgs, stack: str | None = None
) -> str | None:
    """Why no node can run the judge's pod for lack of GPUs, or None if one can."""
    if args.gpu_count == 0:
        return None
    offered = {
        node["metadata"]["name"]: int(
            node.get("status", {}).get("allocatable", {}).get(args.gpu_resource, "0")
        )
        for node in nodes
        if _selected(node, args.node_selector) and not node.get("spec", {}).get("unschedulable")
    }
    best = max(offered.values(), default=0)
    if best >= args.gpu_count:
        return None
    key = f"{PROJECT}:kubernetes.gpu.count"
    listing = ", ".join(f"{name}: {count}" for name, count in sorted(offered.items()))
    return (
        f"{key} is {args.gpu_count}, but no schedulable node can give one pod more than "
        f"{best} {args.gpu_resource} (insufficient {args.gpu_resource}; nodes: "
        f"{listing or 'none match'}). Fix it with: "
        + cli_command(f"config set --path '{key}' {best}", stack)
        + f", or set {PROJECT}:kubernetes.gpu.resourceName to the resource your nodes offer"
    )


def _selected(node: dict[str, Any], selector: Mapping[str, str]) -> bool:
    labels = node["metadata"].get("labels", {})
    return all(labels.get(k) == v for k, v in selector.items())


def check_gpu_capacity(args: KubernetesJudgeArgs, access: ClusterAccess) -> str | None:
    """Raises ConfigError when no node can hold the GPUs; returns why the check was
    skipped, or None when it passed."""
    if access.render_directory:
        return None
    try:
        nodes = read_nodes(access)
    except ClusterUnreadable as reason:
        return f"could not check the cluster's GPU capacity: {reason}"
    shortfall = gpu_shortfall(nodes, args, pulumi.get_stack())
    if shortfall:
        raise ConfigError(shortfall)
    return None


def read_nodes(access: ClusterAccess) -> list[dict[str, Any]]:
    """The cluster's nodes as the API returns them (camelCase keys)."""
    connection = connect(access)
    with connection.api as api:
        try:
            # Short timeouts: an unreachable cluster must not stall a preview.
            nodes = client.CoreV1Api(api).list_node(_request_timeout=TIMEOUT_SECONDS)
        except API_ERRORS as error:
            raise ClusterUnreadable(connection.failure("listing nodes", error)) from None
        return list(api.sanitize_for_serialization(nodes)["items"])
