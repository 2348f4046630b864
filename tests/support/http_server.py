"""The unit tests' fake HTTP peers (an API server, a registry, a judge) served locally."""

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextlib.contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[None]:
    """`server` answers on a thread of its own until the block ends, then is closed."""
    # A short poll, so that shutdown() returns at once.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def send_json(handler: BaseHTTPRequestHandler, status: int, value: Any) -> None:
    """Answers the request `handler` serves with `value` as JSON."""
    data = json.dumps(value).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
