"""What `up`'s wait for a ready judge asks of the Docker engine and of the Kubernetes API
while the judge pulls its model for about two minutes, counted on the wire.

    .venv/bin/python benchmarks/wait_traffic.py [--seconds 120] [--only docker|kubernetes]

The 300 MB judge model is pushed to the test registry, whose blob server is then held to
the rate that makes its download take `--seconds` (a token bucket on its interface, `tc`
in its network namespace). Then, one after the other:

- stack `local` with that model, through a relay of the Docker engine's socket (the
  stack's `docker:host`): every request on it (the provider's and the program's, the
  wait's among them) by endpoint, and the bytes each kind of request read;
- stack `knitfab` on the test cluster's real node, with the same model: every request
  the program itself sends to the API server (its pre-flight and its waits; the
  provider's are its own process's), by verb and resource, counted in the Kubernetes
  client's REST layer.

Needs what the end-to-end tests need (`scripts/test` sets it up) and root (tc, nsenter).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.judge_registry import PREFIX
from benchmarks.knitfab_node_up import node_and_registry, wait_until_no_pods
from benchmarks.timing import cli_up, load, timed
from tests.e2e import docker_host as host
from tests.e2e import judge_model
from tests.e2e.engine import ProjectCopy, docker_engine, engine_environment
from tests.e2e.registry import Registry
from tests.e2e.slow_docker import DOCKER_SOCKET, pump

REQUEST_LINE = re.compile(rb"^(GET|POST|PUT|DELETE|HEAD) (/v[\d.]+)?(/[^ ?]*)")
ID = re.compile(r"/[0-9a-f]{12,64}(?=/|$)")


def endpoint(method: str, path: str) -> str:
    """`GET /containers/{id}/logs`: the request's kind, with ids and names left out."""
    path = ID.sub("/{id}", path)
    path = re.sub(
        r"^/(containers|networks|volumes|images)/(?!create|json|prune)[^/]+", r"/\1/{x}", path
    )
    return f"{method} {path}"


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: collections.Counter[str] = collections.Counter()
        self.bytes: collections.Counter[str] = collections.Counter()

    def report(self, title: str) -> str:
        lines = [title]
        for kind, count in sorted(self.requests.items(), key=lambda item: -item[1]):
            lines.append(f"  {count:6d} x {kind:42s} {self.bytes[kind]:12,d} bytes read")
        total_requests, total_bytes = sum(self.requests.values()), sum(self.bytes.values())
        lines.append(f"  {total_requests:6d} requests in all, {total_bytes:,d} bytes read")
        return "\n".join(lines)


class _Relay(socketserver.BaseRequestHandler):
    server: _CountingRelay

    def handle(self) -> None:
        counts = self.server.counts
        current = ["(none)"]
        with socket.socket(socket.AF_UNIX) as upstream:
            upstream.connect(DOCKER_SOCKET)

            def requests_in(data: bytes) -> None:
                match = REQUEST_LINE.match(data)
                if match:
                    kind = endpoint(match[1].decode(), match[3].decode())
                    current[0] = kind
                    with counts.lock:
                        counts.requests[kind] += 1

            def bytes_out(data: bytes) -> None:
                with counts.lock:
                    counts.bytes[current[0]] += len(data)

            back = threading.Thread(target=pump, args=(upstream, self.request, bytes_out))
            back.start()
            pump(self.request, upstream, requests_in)
            back.join()


class _CountingRelay(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str) -> None:
        super().__init__(path, _Relay)
        self.counts = Counts()


@contextlib.contextmanager
def counting_docker_socket(directory: Path) -> Iterator[tuple[str, Counts]]:
    path = directory / "docker.sock"
    relay = _CountingRelay(str(path))
    thread = threading.Thread(target=relay.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{path}", relay.counts
    finally:
        relay.shutdown()
        relay.server_close()


@contextlib.contextmanager
def counting_kubernetes_requests() -> Iterator[Counts]:
    """Every request this process's Kubernetes client sends, by verb and resource."""
    from kubernetes.client import rest

    counts = Counts()
    original = rest.RESTClientObject.request

    def request(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        path = url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
        parts = path.split("/")
        # api/v1/namespaces/NS/pods/NAME -> pods; apis/apps/v1/namespaces/NS/deployments
        resource = next(
            (
                parts[i + 2]
                for i, part in enumerate(parts)
                if part == "namespaces" and i + 2 < len(parts)
            ),
            parts[-1],
        )
        watch = "watch=true" in url.lower()
        kind = f"{method} {resource}{' (watch)' if watch else ''}"
        with counts.lock:
            counts.requests[kind] += 1
        return original(self, method, url, *args, **kwargs)

    rest.RESTClientObject.request = request  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        rest.RESTClientObject.request = original  # type: ignore[method-assign]


def throttle(container: str, bits_per_second: int) -> None:
    """Holds the container's outgoing traffic to the rate (its downloads' source)."""
    pid = host.docker("inspect", "--format", "{{.State.Pid}}", container).stdout.strip()
    rate = f"{bits_per_second // 1000}kbit"
    subprocess.run(
        ["nsenter", "-t", pid, "-n", "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf",
         "rate", rate, "burst", "64kb", "latency", "2s"],
        check=True,
    )  # fmt: skip


def model_bytes(registry: Registry, model: str) -> int:
    manifest = registry.manifest(model.rsplit("/", 1)[-1])
    return sum(layer["size"] for layer in manifest["layers"]) + manifest["config"]["size"]


def docker_run(project: ProjectCopy, registry: Registry, model: str, scratch: Path) -> None:
    names = {"containerName": f"{PREFIX}-judge", "networkName": f"{PREFIX}-judge-net",
             "volumeName": f"{PREFIX}-judge-models"}  # fmt: skip
    with counting_docker_socket(scratch) as (address, counts):
        stack = project.stack(
            "local",
            {
                **host.cpu_only(host.free_port()),
                "ollama-judge:models": [model],
                "ollama-judge:registries": {registry.address: {"caFile": str(registry.ca)}},
                "ollama-judge:docker": {"gpus": "none", "hostPort": host.free_port(), **names},
                "docker:host": address,
            },
        )
        seconds = timed(lambda: cli_up(stack))
        print(
            counts.report(f"stack local: up took {seconds:.1f}s; requests on the engine's socket:"),
            flush=True,
        )
        stack.destroy()
    host.docker("volume", "rm", "-f", names["volumeName"], check=False)


def kubernetes_run(project: ProjectCopy, cluster: Any, registry: Registry, model: str) -> None:
    stack = project.stack(
        "knitfab",
        {
            "kubernetes:kubeconfig": str(cluster.kubeconfig),
            "ollama-judge:models": [model],
            "ollama-judge:registries": {registry.address: {"caFile": str(registry.ca)}},
        },
    )
    with counting_kubernetes_requests() as counts:
        seconds = timed(lambda: cli_up(stack))
    print(
        counts.report(f"stack knitfab: up took {seconds:.1f}s; the program's API requests:"),
        flush=True,
    )
    stack.destroy()
    wait_until_no_pods(cluster)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120, help="how long the pull takes")
    parser.add_argument("--only", choices=("docker", "kubernetes"))
    args = parser.parse_args()
    os.environ.update(engine_environment())
    print(f"before: {load()}", flush=True)
    with tempfile.TemporaryDirectory() as scratch_dir, docker_engine(Path(scratch_dir)):
        scratch = Path(scratch_dir)
        image = host.build_ollama_image(host.IMAGE)
        project = ProjectCopy(scratch)
        with node_and_registry(scratch, image) as (registry, cluster):
            files = judge_model.write_judge_model(scratch / "large", judge_model.LARGE)
            model = registry.push(files, "judge-large:1", image)
            size = model_bytes(registry, model)
            throttle(registry.blobs_host, int(size * 8 / args.seconds))
            print(
                f"model {model}: {size:,d} bytes, held to {size / args.seconds / 1e6:.2f} MB/s",
                flush=True,
            )
            if args.only != "kubernetes":
                docker_run(project, registry, model, scratch)
            if args.only != "docker":
                kubernetes_run(project, cluster, registry, model)
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
