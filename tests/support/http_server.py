"""The unit tests' fake HTTP peers (an API server, a registry, a judge) served locally."""

import contextlib
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer


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
