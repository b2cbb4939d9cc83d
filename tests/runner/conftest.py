"""A real HTTP server on localhost for the runner's tests (never the internet)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from tests.local_http import serving


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str | None, **headers: str) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> None:
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path == "/echo":
            echo = {
                "method": self.command,
                "query": query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode(),
            }
            self._send(200, json.dumps(echo).encode(), "application/json", X_Multi="a")
        elif url.path.startswith("/pets/"):
            pet = {"id": int(url.path.rsplit("/", 1)[1]), "name": "Rex", "status": "available"}
            self._send(200, json.dumps(pet).encode(), "application/json")
        elif url.path == "/text":
            self._send(200, "café".encode("latin-1"), "text/plain; charset=ISO-8859-1")
        elif url.path == "/binary":
            self._send(200, b"\x00\x01\xff", "application/octet-stream")
        elif url.path == "/problem":
            self._send(409, b'{"title": "Conflict"}', "application/problem+json")
        elif url.path == "/badjson":
            self._send(200, b"not json", "application/json")
        elif url.path.startswith("/status/"):
            code = int(url.path.rsplit("/", 1)[1])
            self._send(code, json.dumps({"status": code}).encode(), "application/json")
        elif url.path == "/redirect":
            self._send(302, b"", None, Location="/echo?from=redirect")
        elif url.path == "/slow":
            time.sleep(float(query.get("seconds", "1")))
            self._send(200, b'{"slept": true}', "application/json")
        elif url.path == "/big":
            self._send(200, b"a" * int(query["bytes"]), "text/plain")
        elif url.path == "/empty":
            self._send(204, b"", None)
        else:
            self._send(404, b'{"error": "no such route"}', "application/json")

    do_GET = do_POST = do_PUT = do_DELETE = _route  # noqa: N815 - http.server's naming


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Tests hang up on slow routes on purpose (timeouts); the broken pipe is expected.
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Base URL of a threaded HTTP server; routes in ``_Handler._route``."""
    with serving(_Server(("127.0.0.1", 0), _Handler)) as url:
        yield url
