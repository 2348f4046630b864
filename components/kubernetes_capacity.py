"""Asks the cluster, before anything changes, whether some node can hold the judge's GPUs.

Kubernetes accepts a Deployment that no node can run: its pod waits unscheduled, and
Pulumi's wait for the rollout ends at the deadline without the scheduler's reason. With
the Recreate strategy the running judge is gone by then. Asking first turns that into a
config error that names the setting and what the nodes offer, and the judge keeps running.

The nodes are read with the kubeconfig the kubernetes provider uses
(`kubernetes:kubeconfig`, `kubernetes:context`, else KUBECONFIG or ~/.kube/config),
authenticating with a client certificate or a bearer token. Where that is not possible
(exec or auth-provider plugins, no kubeconfig, an unreachable cluster) the check says so
in a warning and leaves the verdict to the rollout. Taints are not weighed.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml

from components.settings import (
    PROJECT,
    ClusterAccess,
    ConfigError,
    KubernetesJudgeArgs,
    cli_command,
)


class ClusterUnreadable(Exception):  # noqa: N818 (a reason to skip, not an error)
    """The nodes cannot be read; the message says why."""


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


def _kubeconfig(access: ClusterAccess) -> dict[str, Any]:
    source = access.kubeconfig
    if source is None:
        paths = os.environ.get("KUBECONFIG", "").split(os.pathsep)
        source = next((p for p in paths if p), str(Path.home() / ".kube" / "config"))
    text = Path(source).read_text() if "\n" not in source and Path(source).exists() else source
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ClusterUnreadable(f"the kubeconfig is not YAML ({error})") from None
    if not isinstance(config, dict) or "contexts" not in config:
        raise ClusterUnreadable(f"no kubeconfig at {source}")
    return config


def _named(config: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    for entry in config.get(f"{kind}s") or []:
        if entry.get("name") == name:
            return entry.get(kind) or {}
    raise ClusterUnreadable(f"the kubeconfig has no {kind} {name!r}")


def _pem(entry: dict[str, Any], key: str, scratch: Path) -> str | None:
    """A certificate or key of the kubeconfig as a file path (ssl wants files)."""
    if entry.get(f"{key}-data"):
        path = scratch / key
        path.write_bytes(base64.b64decode(entry[f"{key}-data"]))
        return str(path)
    return entry.get(key)


def read_nodes(access: ClusterAccess) -> list[dict[str, Any]]:
    config = _kubeconfig(access)
    context = _named(config, "context", access.context or config.get("current-context", ""))
    cluster = _named(config, "cluster", context.get("cluster", ""))
    user = _named(config, "user", context.get("user", ""))
    if "exec" in user or "auth-provider" in user:
        raise ClusterUnreadable("the kubeconfig's user authenticates through a plugin")
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        tls = ssl.create_default_context(cafile=_pem(cluster, "certificate-authority", scratch))
        if cluster.get("insecure-skip-tls-verify"):
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
        certificate = _pem(user, "client-certificate", scratch)
        if certificate:
            tls.load_cert_chain(certificate, _pem(user, "client-key", scratch))
        request = urllib.request.Request(f"{cluster.get('server', '').rstrip('/')}/api/v1/nodes")
        token = user.get("token") or (
            Path(user["tokenFile"]).read_text().strip() if user.get("tokenFile") else None
        )
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, context=tls, timeout=15) as response:
                return list(json.load(response)["items"])
        except (OSError, ValueError, KeyError) as error:
            raise ClusterUnreadable(
                f"listing nodes at {request.full_url} failed: {error}"
            ) from None
