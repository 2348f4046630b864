"""Asks the cluster, before anything changes, what the rollout would learn only once Recreate
took the running judge down: whether the nodes can hold the judge's pods' GPUs, and whether
the models' claim has a StorageClass (the one it names, or the cluster's default). A no is a
config error that names the setting and what the cluster has; a cluster that cannot be read,
a warning. Weighed is what nodes can give (allocatable), not what other pods hold now (that
changes by the minute, the judge's own pods among them, and the scheduler waits), nor taints.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
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
# What makes a StorageClass the default of claims that name none (the beta one: old clusters).
DEFAULT_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


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
    return _read_all(access, "nodes", lambda api: client.CoreV1Api(api).list_node)


def _read_all(
    access: ClusterAccess, what: str, lister: Callable[[client.ApiClient], Callable[..., Any]]
) -> list[dict[str, Any]]:
    """Every object a cluster-wide list call (`lister` of the client) finds."""
    connection = connect(access)
    with connection.api as api:
        try:
            found = read_json(lister(api), _request_timeout=TIMEOUT_SECONDS)
        except API_ERRORS as error:
            raise ClusterUnreadable(connection.failure(f"listing {what}", error)) from None
        return list(found["items"])


def storage_class_missing(
    classes: list[dict[str, Any]], args: KubernetesJudgeArgs, stack: str | None = None
) -> str | None:
    """Why the models' claim would find no StorageClass, or None if it finds one. Without
    one it waits unbound, and the judge's pod with it: nothing would say why."""
    persistence, key = args.persistence, f"{PROJECT}:kubernetes.persistence"
    names = sorted(c["metadata"]["name"] for c in classes)
    defaults = [
        c["metadata"]["name"]
        for c in classes
        if any(c["metadata"].get("annotations", {}).get(a) == "true" for a in DEFAULT_ANNOTATIONS)
    ]
    if not persistence.enabled or persistence.storage_class in names:
        return None
    if not persistence.storage_class and defaults:
        return None
    if persistence.storage_class:
        problem = (
            f"{key}.storageClass is {persistence.storage_class}, but the cluster has no "
            "StorageClass of that name"
        )
    else:
        problem = (
            f"{key}.enabled is true (its default) and {key}.storageClass is not set, but the "
            "cluster has no default StorageClass (annotated storageclass.kubernetes.io/"
            'is-default-class: "true")'
        )
    if names:
        a_class = (
            cli_command(f"config set --path '{key}.storageClass' {(defaults or names)[0]}", stack)
            + " (or another of the cluster's classes)"
        )
    else:
        a_class = (
            "a StorageClass from the cluster's administrator (the default, or one named in "
            f"{key}.storageClass)"
        )
    return (
        f"{problem} (StorageClasses: {_listing(names) or 'none'}): the models' claim would "
        f"wait unbound, and the judge with it. Fix it with: {a_class}, or "
        + cli_command(f"config set --path '{key}.enabled' false", stack)
        + " (no claim: each start of a pod pulls the models again)"
    )


def check_storage_class(args: KubernetesJudgeArgs, access: ClusterAccess) -> str | None:
    """Raises ConfigError when the models' claim would find no StorageClass; returns why it
    could not tell."""
    if access.render_directory or not args.persistence.enabled:
        return None
    try:
        classes = read_storage_classes(access)
    except ClusterUnreadable as reason:
        return f"could not check the cluster's StorageClasses: {reason}"
    if missing := storage_class_missing(classes, args, pulumi.get_stack()):
        raise ConfigError(missing)
    return None


def read_storage_classes(access: ClusterAccess) -> list[dict[str, Any]]:
    return _read_all(
        access, "storageclasses", lambda api: client.StorageV1Api(api).list_storage_class
    )
