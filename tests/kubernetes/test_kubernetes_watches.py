"""The rollout wait's watches through the real Kubernetes client, against an HTTP server that
lists a rollout and holds every watch open without a change, as an API server does while
nothing happens: an interruption still ends the wait at once, and shuts every watch."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml
from kubernetes import client

from components import readiness
from components.config import ClusterAccess
from components.kubernetes import watches
from components.kubernetes.client import connect
from components.kubernetes.rollout_watch import Clients, JudgeObjects
from components.kubernetes.wait import wait_until_serving
from components.readiness import JudgeNotReady
from tests.support import fake_kubernetes
from tests.support.fake_kubernetes import deployment, pod, replica_set
from tests.support.http_server import send_json, serving

CURRENT = replica_set("new")
# More pods not ready than the client's pool keeps connections by default (5 a core).
PODS = [pod(f"ollama-new-{n}", CURRENT) for n in range(24)]


class HeldWatches:
    """Lists the Deployment, its ReplicaSet and PODS; answers a watch with its headers and
    then nothing, until the test ends. Counts the watches it holds."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.watching = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if "watch=true" in self.path:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.flush()
                    outer.watching += 1
                    outer.released.wait(30)
                    self.close_connection = True
                    return
                items = {
                    "deployments": [deployment(updated=1)],
                    "replicasets": [CURRENT],
                    "pods": PODS,
                }.get(self.path.split("?")[0].rsplit("/", 1)[-1], [])
                for item in items:
                    item["metadata"].setdefault("resourceVersion", "1")
                send_json(self, 200, {"metadata": {"resourceVersion": "1"}, "items": items})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def held() -> Iterator[HeldWatches]:
    server = HeldWatches()
    with serving(server.server):
        yield server
        server.released.set()  # ends the watches it holds, so that it can shut down


@pytest.fixture(autouse=True)
def quick_looks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from fake_kubernetes.quick_looks(monkeypatch)


def test_an_interruption_shuts_every_watch_at_once_and_keeps_no_connection_it_cannot(
    held: HeldWatches, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setattr(watches, "TICK_SECONDS", 0.2)
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "judge",
        "contexts": [{"name": "judge", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": held.url}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }
    connection = connect(ClusterAccess(kubeconfig=yaml.safe_dump(kubeconfig)))
    # The Deployment, every Service and EndpointSlice, its ReplicaSets, its pods, each pod's
    # events.
    streams = 5 + len(PODS)
    interrupted: list[float] = []

    def interrupt() -> None:
        give_up = time.monotonic() + 20
        while held.watching < streams and time.monotonic() < give_up:
            time.sleep(0.05)
        interrupted.append(time.monotonic())
        readiness.CANCELLED.set()

    threading.Thread(target=interrupt, daemon=True).start()
    with connection.api as api, pytest.raises(JudgeNotReady, match="interrupted"):
        clients = Clients(client.AppsV1Api(api), client.CoreV1Api(api), client.DiscoveryV1Api(api))
        judge = JudgeObjects("knitfab", "ollama", "ollama", ("judge:1",))
        wait_until_serving(clients, judge, 60, print, connection.failure)
    assert held.watching == streams
    # Every watch shut, and no thread left (quick_looks), within a tick of the interruption.
    assert time.monotonic() - interrupted[0] < 1
    assert "Connection pool is full" not in caplog.text
