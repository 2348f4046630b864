"""A Docker engine socket that answers like the real one, but holds container creates for
a while: the provider's create step then stays in flight long enough for a test to stop
the engine in the middle of it, as a user's Ctrl-C or a closed terminal would.

The stack reaches it through the provider's own setting, `docker:host`.
"""

from __future__ import annotations

import contextlib
import re
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DOCKER_SOCKET = "/var/run/docker.sock"
CREATE = re.compile(rb"^POST /v[\d.]+/containers/create")


class _Relay(socketserver.BaseRequestHandler):
    server: _SlowServer

    def handle(self) -> None:
        client = self.request
        with socket.socket(socket.AF_UNIX) as upstream:
            upstream.connect(DOCKER_SOCKET)
            back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
            back.start()
            pump(client, upstream, self.server.hold_creates)
            back.join()


def pump(source: socket.socket, target: socket.socket, hold=None) -> None:
    """Copies one direction of a connection, showing each chunk to `hold` first. Clients
    write each request whole, so a request (a keep-alive connection carries several)
    starts a chunk."""
    try:
        while data := source.recv(65536):
            if hold is not None:
                hold(data)
            target.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


class _SlowServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, delay: float):
        super().__init__(path, _Relay)
        self.delay = delay
        self.creates_seen = threading.Event()

    def hold_creates(self, request: bytes) -> None:
        if CREATE.match(request):
            self.creates_seen.set()
            time.sleep(self.delay)


@contextmanager
def slow_container_creates(directory: Path, delay: float) -> Iterator[_SlowServer]:
    """A socket at directory/docker.sock; use `unix://<path>` as the Docker host."""
    path = directory / "docker.sock"
    server = _SlowServer(str(path), delay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        path.unlink(missing_ok=True)
