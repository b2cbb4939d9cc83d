"""Local HTTP servers for tests: a stdlib server on a free loopback port, in a thread.

Tests serve what a workflow calls from here, so nothing leaves the machine; the server is
shut down, closed and its thread joined on exit.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer


def loopback_server(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A threaded server on 127.0.0.1 and a free port, not started yet."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    return server


@contextlib.contextmanager
def serving(server: HTTPServer, *, scheme: str = "http") -> Iterator[str]:
    """Run ``server`` in a thread; yield its base URL; stop it on exit."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port; yield the base URL."""
    with serving(loopback_server(handler)) as url:
        yield url
