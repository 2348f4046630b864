"""Asks the nodes, before anything changes, whether they can hold the judge's pods' GPUs
(the rollout would learn it only once Recreate took the running judge down): a shortfall is
a config error that names the setting and what the nodes offer; nodes that cannot be read,
a warning. Weighed is what nodes can give (allocatable), not what other pods hold now (that
changes by the minute, the judge's own pods among them, and the scheduler waits), nor taints.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import pulumi
from kubernetes import client

from components.config import ClusterAccess, KubernetesJudgeArgs
from components.config_rules import PROJECT, ConfigError, cli_command
from components.kubernetes.client import API_ERRORS, ClusterUnreadable, connect, read_json

# (connect, read) seconds: an unreachable cluster must not stall a preview.
TIMEOUT_SECONDS = (3, 5)
# Nodes named in a message, at most: a cluster of fifty GPU nodes needs no list of fifty.
LISTED_NODES = 10


def gpu_shortfall(
    nodes: list[dict[str, Any]], args: KubernetesJudgeArgs, stack: str | None = None
) -> str | None:
    """Why the nodes cannot run the judge's pods for lack of GPUs, or None if they can: a
    node with 2 GPUs holds two pods of 1."""
    if args.gpu.count == 0:
        return None
    resource, count_key = args.gpu.resource_name, f"{PROJECT}:kubernetes.gpu.count"
    offered = {
        node["metadata"]["name"]: int(
            node.get("status", {}).get("allocatable", {}).get(resource, "0")
        )
        for node in nodes
        if args.node_selector.items() <= node["metadata"].get("labels", {}).items()
        and not node.get("spec", {}).get("unschedulable")
    }
    best = max(offered.values(), default=0)
    if best < args.gpu.count:
        listing = _listing(f"{name}: {count}" for name, count in sorted(offered.items()))
        return (
            f"{count_key} is {args.gpu.count}, but no schedulable node can give one pod more "
            f"than {best} {resource} (insufficient {resource}; nodes: "
            f"{listing or 'none match'}). Fix it with: "
            + cli_command(f"config set --path '{count_key}' {best}", stack)
            + f", or set {PROJECT}:kubernetes.gpu.resourceName to the resource your nodes offer"
        )
    holds = {name: count // args.gpu.count for name, count in offered.items()}
    fit = sum(holds.values())
    if fit >= args.replicas:
        return None
    key = f"{PROJECT}:kubernetes.replicas"
    where = _listing(
        f"{name}: {pods} ({offered[name]} {resource})"
        for name, pods in sorted(holds.items(), key=lambda item: (-item[1], item[0]))
        if pods
    )
    fixes = [cli_command(f"config set --path '{key}' {fit}", stack)]
    if smaller := _largest_count_that_fits(offered.values(), args.replicas, args.gpu.count):
        fixes.append(cli_command(f"config set --path '{count_key}' {smaller}", stack))
    return (
        f"{key} is {args.replicas}, but the schedulable nodes can hold only {fit} judge "
        f"{'pods' if fit > 1 else 'pod'} of {args.gpu.count} {resource} each (insufficient "
        f"{resource}; each pod needs its GPUs on one node; pods per node: {where}). Fix it "
        "with: " + ", or ".join(fixes) + ", or add GPU nodes"
    )


def _largest_count_that_fits(offered: Collection[int], replicas: int, below: int) -> int:
    """The most GPUs per pod, fewer than `below`, with which `replicas` pods fit; 0 if none."""
    return next((c for c in range(below - 1, 0, -1) if sum(n // c for n in offered) >= replicas), 0)


def _listing(items: Iterable[str]) -> str:
    shown = list(items)
    more = len(shown) - LISTED_NODES
    return ", ".join(shown[:LISTED_NODES]) + (f" and {more} more" if more > 0 else "")


def check_gpu_capacity(args: KubernetesJudgeArgs, access: ClusterAccess) -> str | None:
    """Raises ConfigError when the nodes cannot hold the GPUs; returns why it could not tell."""
    if access.render_directory:
        return None
    try:
        nodes = read_nodes(access)
    except ClusterUnreadable as reason:
        return f"could not check the cluster's GPU capacity: {reason}"
    if shortfall := gpu_shortfall(nodes, args, pulumi.get_stack()):
        raise ConfigError(shortfall)
    return None


def read_nodes(access: ClusterAccess) -> list[dict[str, Any]]:
    connection = connect(access)
    with connection.api as api:
        try:
            nodes = read_json(client.CoreV1Api(api).list_node, _request_timeout=TIMEOUT_SECONDS)
        except API_ERRORS as error:
            raise ClusterUnreadable(connection.failure("listing nodes", error)) from None
        return list(nodes["items"])
