"""A local function catalog in the specification's layout, for the runner's tests.

``<root>/functions/<name>/<version>/function.yaml`` under the roots ``/catalog``, ``/runtime``
and ``/mine``; ``/secured`` wants basic credentials; ``/down`` answers 503. ``hits`` counts
the requests per path.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from tests.local_http import serve_http

GREET = """\
input:
  schema:
    document:
      type: object
      properties:
        name: {type: string}
      required: [name]
set:
  greeting: ${ "Hello, " + .name + "!" }
output:
  as: .greeting
"""
HELLO_DEFAULT = "set: {from: default catalog}\n"
HELLO_OVERRIDE = "set: {from: workflow catalog}\n"
NOT_A_TASK = "bogus: {}\n"
CREDENTIALS = "Basic " + base64.b64encode(b"reader:s3cret").decode()

ROUTES: dict[str, tuple[int, str]] = {
    "/catalog/functions/greet/1.0.0/function.yaml": (200, GREET),
    "/catalog/functions/broken/1.0.0/function.yaml": (200, NOT_A_TASK),
    "/runtime/functions/hello/1.0.0/function.yaml": (200, HELLO_DEFAULT),
    "/mine/functions/hello/1.0.0/function.yaml": (200, HELLO_OVERRIDE),
    "/down/functions/greet/1.0.0/function.yaml": (503, "catalog is down"),
}


class CatalogHandler(BaseHTTPRequestHandler):
    hits: Counter[str] = Counter()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        # A YAML definition under a generic type: the runner must not rely on it.
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.hits[self.path] += 1
        if self.path.startswith("/secured/"):
            if self.headers.get("Authorization") != CREDENTIALS:
                self._reply(401, "who are you?")
                return
            self._reply(200, GREET)
            return
        status, text = ROUTES.get(self.path, (404, "no such file"))
        self._reply(status, text)


@contextmanager
def serve_catalog() -> Iterator[str]:
    """Serve the catalog on a free local port; yield its base URL; stop it on exit."""
    with serve_http(CatalogHandler) as url:
        yield url
