"""The program's own client of the Kubernetes API, for the GPU pre-flight and the waits:
the provider's kubeconfig (`kubernetes:kubeconfig`, a path or the kubeconfig itself, and
`kubernetes:context`; else KUBECONFIG or ~/.kube/config), exec credential plugins included.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from components.config import ClusterAccess

# What a call through the client raises when it fails: the API's refusal, or no answer.
API_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError)


class ClusterUnreadable(Exception):  # noqa: N818 (a reason to skip, not an error)
    """The cluster cannot be read; the message says why."""


@dataclass
class Connection:
    api: client.ApiClient
    plugin_errors: list[str] = field(default_factory=list)

    def failure(self, doing: str, error: Exception) -> str:
        """Why `doing` ("listing nodes") failed, in the API's words and the exec plugin's: a
        failing plugin is only logged, so a 401 alone would not say why."""
        if isinstance(error, ApiException):
            try:
                why = str(json.loads(error.body or "")["message"])  # the Status body's
            except (TypeError, ValueError, KeyError):
                why = ""
            cause = f"{error.status} {error.reason}" + (f" ({why})" if why else "")
        else:
            cause = str(getattr(error, "reason", None) or error)  # urllib3 wraps the socket's
        reason = f"{doing} at {self.api.configuration.host} failed: {cause}"
        if not self.plugin_errors:
            return reason
        return f"{reason}; the kubeconfig's credentials failed: {'; '.join(self.plugin_errors)}"


def connect(access: ClusterAccess) -> Connection:
    """A client with the provider's kubeconfig; raises ClusterUnreadable when that cannot
    be used. Each call is tried once: the callers decide whether to try again."""
    logged = logging.handlers.BufferingHandler(sys.maxsize)  # the client's errors, kept
    logged.setLevel(logging.ERROR)
    logging.getLogger().addHandler(logged)
    try:
        configuration = _client_configuration(access)
    except (ConfigException, OSError, ValueError, yaml.YAMLError) as error:
        raise ClusterUnreadable(f"the kubeconfig cannot be used: {error}") from None
    finally:
        logging.getLogger().removeHandler(logged)
    configuration.retries = 0
    # The waits hold a watch open for each kind of object they follow and each pod not ready
    # yet: connections the pool cannot keep are closed, each with a warning on stderr.
    configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize, 64)
    return Connection(client.ApiClient(configuration), [r.getMessage() for r in logged.buffer])


def read_json(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A call of the client's API (`CoreV1Api(api).list_node`, ...) answered as the API sent
    it: not the client's models, which cost ten times the call for a list of fifty pods."""
    response = method(*args, _preload_content=False, **kwargs)
    try:
        return json.loads(response.data)
    finally:
        response.release_conn()


def _client_configuration(access: ClusterAccess) -> client.Configuration:
    configuration = client.Configuration()
    # A kubeconfig whose plugin refreshes a token is not written back: it is the user's.
    options = {"context": access.context, "persist_config": False}
    source = access.kubeconfig
    # Anything but a file's name, even one the file system refuses, is the kubeconfig itself.
    if source and not os.path.isfile(os.path.expanduser(source)):
        try:
            content = yaml.safe_load(source)
        except yaml.YAMLError as error:
            raise ClusterUnreadable(
                f"kubernetes:kubeconfig is not a kubeconfig ({error})"
            ) from None
        if not isinstance(content, dict):
            raise ClusterUnreadable(f"no kubeconfig at {source}")
        config.load_kube_config_from_dict(content, client_configuration=configuration, **options)
        return configuration
    # KUBECONFIG may list several files, merged as kubectl merges them.
    path = source or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    if not any(Path(p).expanduser().is_file() for p in path.split(os.pathsep) if p):
        raise ClusterUnreadable(f"no kubeconfig at {path}")
    config.load_kube_config(config_file=path, client_configuration=configuration, **options)
    return configuration
