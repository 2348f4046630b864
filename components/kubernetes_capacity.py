"""Asks the cluster, before anything changes, whether some node can hold the judge's GPUs.

Kubernetes accepts a Deployment that no node can run: its pod waits unscheduled, and
Pulumi's wait for the rollout ends at the deadline without the scheduler's reason. With
the Recreate strategy the running judge is gone by then. Asking first turns that into a
config error that names the setting and what the nodes offer, and the judge keeps running.

The nodes are read through the Kubernetes Python client with the kubeconfig the
kubernetes provider uses: `kubernetes:kubeconfig` (a path or the kubeconfig itself) and
`kubernetes:context`, else KUBECONFIG (one or more paths) or ~/.kube/config. Whatever
the kubeconfig authenticates with works here too: certificates, tokens, and exec
credential plugins (EKS, GKE, AKS, OIDC logins). Where the nodes cannot be read (no
kubeconfig, an unreachable cluster, a user who may not list nodes) the check says so in
a warning and leaves the verdict to the rollout. Taints are not weighed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from components.settings import (
    PROJECT,
    ClusterAccess,
    ConfigError,
    KubernetesJudgeArgs,
    cli_command,
)

# (connect, read) seconds: this runs before every preview of the stack.
TIMEOUT_SECONDS = (3, 5)


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


def _is_file(value: str) -> bool:
    """Whether `kubernetes:kubeconfig` names a file; the provider takes anything else as
    the kubeconfig itself, including what the file system refuses as a name."""
    try:
        return Path(value).expanduser().is_file()
    except (OSError, ValueError):  # too long a name, a NUL byte
        return False


def _kubeconfig_content(value: str) -> dict[str, Any]:
    """`kubernetes:kubeconfig` that is not a path to a file: the kubeconfig itself, YAML
    or JSON, as the provider also takes it."""
    try:
        content = yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise ClusterUnreadable(f"kubernetes:kubeconfig is not a kubeconfig ({error})") from None
    if not isinstance(content, dict):
        raise ClusterUnreadable(f"no kubeconfig at {value}")
    return content


def _client_configuration(access: ClusterAccess) -> client.Configuration:
    """The client settings of the kubeconfig the provider uses. Exec and auth-provider
    plugins run here as they would for the provider (and kubectl)."""
    configuration = client.Configuration()
    # A kubeconfig whose plugin refreshes a token is not written back: it is the user's.
    options = {"context": access.context, "persist_config": False}
    source = access.kubeconfig
    if source and not _is_file(source):
        content = _kubeconfig_content(source)
        config.load_kube_config_from_dict(content, client_configuration=configuration, **options)
        return configuration
    # KUBECONFIG may list several files, merged as kubectl merges them.
    path = source or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    if not any(Path(p).expanduser().is_file() for p in path.split(os.pathsep) if p):
        raise ClusterUnreadable(f"no kubeconfig at {path}")
    config.load_kube_config(config_file=path, client_configuration=configuration, **options)
    return configuration


class _ErrorsLogged(logging.Handler):
    """What the client logs as errors while it loads a kubeconfig: a failing exec plugin
    is only logged (the client then goes on without credentials), so the API's 401
    alone would not say why."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _status_message(error: ApiException) -> str:
    """The API's own words from a failed call's Status body, if any."""
    try:
        return str(json.loads(error.body or "")["message"])
    except (TypeError, ValueError, KeyError):
        return ""


def read_nodes(access: ClusterAccess) -> list[dict[str, Any]]:
    """The cluster's nodes as the API returns them (camelCase keys)."""
    logged = _ErrorsLogged()
    logging.getLogger().addHandler(logged)
    try:
        configuration = _client_configuration(access)
    except (ConfigException, OSError, ValueError, yaml.YAMLError) as error:
        raise ClusterUnreadable(f"the kubeconfig cannot be used: {error}") from None
    finally:
        logging.getLogger().removeHandler(logged)
    # One try with short timeouts: an unreachable cluster must not stall a preview.
    configuration.retries = 0
    where = f"listing nodes at {configuration.host} failed"
    with client.ApiClient(configuration) as api:
        try:
            nodes = client.CoreV1Api(api).list_node(_request_timeout=TIMEOUT_SECONDS)
        except ApiException as error:
            why = _status_message(error)
            reason = f"{error.status} {error.reason}" + (f" ({why})" if why else "")
            raise ClusterUnreadable(_with_plugin_errors(f"{where}: {reason}", logged)) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            cause = getattr(error, "reason", None) or error  # urllib3 wraps the socket's error
            raise ClusterUnreadable(_with_plugin_errors(f"{where}: {cause}", logged)) from None
        return list(api.sanitize_for_serialization(nodes)["items"])


def _with_plugin_errors(reason: str, logged: _ErrorsLogged) -> str:
    if not logged.messages:
        return reason
    return f"{reason}; the kubeconfig's credentials failed: {'; '.join(logged.messages)}"
