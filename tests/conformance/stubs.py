"""Local stand-ins for the public services the conformance scenarios call.

Nine kit scenarios call ``https://petstore.swagger.io`` (Swagger's demo pet store) and
``https://httpbin.org``. Tests never reach the internet, so each host gets a local HTTP
server answering exactly the requests those scenarios make, with the shapes the real
services answer with:

- pet store: ``GET /v2/pet/findByStatus?status=S`` (a JSON array of pets),
  ``GET /v2/pet/{petId}`` (a pet, or 404 ``{"code": 1, "type": "error", ...}``),
  ``GET /v2/swagger.json`` (the Swagger 2.0 document of those two operations, its
  ``host`` and ``schemes`` naming the stub), and a JSON 404 for any other path, as the real
  service gives for ``/v2/pet/getPetByName/{name}``;
- httpbin: ``GET /basic-auth/{user}/{passwd}`` (200 ``{"authenticated": true, "user"}``
  with matching basic credentials, else 401 with ``WWW-Authenticate``).

:func:`PublicStubs.rewrite` points a definition at the stubs by replacing only the
scheme and host of those URLs. Every request is recorded, so a test can tell that the
stub (and not the internet) answered. A third server, the egress trap, serves as the
runner's HTTP(S) proxy: whatever is addressed to any other host lands there, is answered
403 and recorded (:meth:`PublicStubs.escapes`), and never leaves the machine.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PETSTORE = "petstore.swagger.io"
HTTPBIN = "httpbin.org"

_JSON = "application/json"


@dataclass(frozen=True)
class StubRequest:
    """One request a stub received."""

    host: str
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, value: Any, *headers: tuple[str, str]) -> Reply:
        return cls(status, json.dumps(value).encode(), (("Content-Type", _JSON), *headers))


Route = Callable[[StubRequest, str], Reply]
"""A host's request handler: the request and the stub's own base URL."""


# --- the pet store -------------------------------------------------------------------------

PETS: tuple[dict[str, Any], ...] = (
    {
        "id": 1,
        "category": {"id": 1, "name": "Dogs"},
        "name": "doggie",
        "photoUrls": ["https://example.com/photos/doggie.jpg"],
        "tags": [{"id": 1, "name": "friendly"}],
        "status": "available",
    },
    {
        "id": 2,
        "category": {"id": 2, "name": "Cats"},
        "name": "kitty",
        "photoUrls": [],
        "tags": [],
        "status": "available",
    },
    {
        "id": 3,
        "category": {"id": 1, "name": "Dogs"},
        "name": "rex",
        "photoUrls": [],
        "tags": [],
        "status": "sold",
    },
)


def _petstore(request: StubRequest, base_url: str) -> Reply:
    if request.method != "GET":
        return Reply.json(405, {"code": 405, "type": "unknown", "message": "Method Not Allowed"})
    path = request.path
    if path == "/v2/swagger.json":
        return Reply.json(200, swagger_document(base_url))
    if path == "/v2/pet/findByStatus":
        statuses = {s for v in request.query.get("status", []) for s in v.split(",")}
        return Reply.json(200, [p for p in PETS if p["status"] in statuses])
    match = re.fullmatch(r"/v2/pet/([^/]+)", path)
    if match:
        raw = unquote(match[1])
        if not raw.isdigit():
            message = f'java.lang.NumberFormatException: For input string: "{raw}"'
            return Reply.json(404, {"code": 404, "type": "unknown", "message": message})
        pet = next((p for p in PETS if p["id"] == int(raw)), None)
        if pet is None:
            return Reply.json(404, {"code": 1, "type": "error", "message": "Pet not found"})
        return Reply.json(200, pet)
    return Reply.json(404, {"code": 404, "type": "unknown", "message": "HTTP 404 Not Found"})


def swagger_document(base_url: str) -> dict[str, Any]:
    """The pet store's Swagger 2.0 document, cut to the operations the scenarios use."""
    parts = urlsplit(base_url)
    pet_ref = {"$ref": "#/definitions/Pet"}
    return {
        "swagger": "2.0",
        "info": {"title": "Swagger Petstore", "version": "1.0.7"},
        "host": parts.netloc,
        "basePath": "/v2",
        "schemes": [parts.scheme],
        "paths": {
            "/pet/findByStatus": {
                "get": {
                    "tags": ["pet"],
                    "summary": "Finds Pets by status",
                    "operationId": "findPetsByStatus",
                    "produces": ["application/json", "application/xml"],
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "required": True,
                            "type": "array",
                            "items": {
                                "type": "string",
                                "enum": ["available", "pending", "sold"],
                                "default": "available",
                            },
                            "collectionFormat": "multi",
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "successful operation",
                            "schema": {"type": "array", "items": pet_ref},
                        },
                        "400": {"description": "Invalid status value"},
                    },
                }
            },
            "/pet/{petId}": {
                "get": {
                    "tags": ["pet"],
                    "summary": "Find pet by ID",
                    "operationId": "getPetById",
                    "produces": ["application/json", "application/xml"],
                    "parameters": [
                        {
                            "name": "petId",
                            "in": "path",
                            "required": True,
                            "type": "integer",
                            "format": "int64",
                        }
                    ],
                    "responses": {
                        "200": {"description": "successful operation", "schema": pet_ref},
                        "400": {"description": "Invalid ID supplied"},
                        "404": {"description": "Pet not found"},
                    },
                }
            },
        },
        "definitions": {
            "Category": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer", "format": "int64"},
                    "name": {"type": "string"},
                },
            },
            "Tag": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer", "format": "int64"},
                    "name": {"type": "string"},
                },
            },
            "Pet": {
                "type": "object",
                "required": ["name", "photoUrls"],
                "properties": {
                    "id": {"type": "integer", "format": "int64"},
                    "category": {"$ref": "#/definitions/Category"},
                    "name": {"type": "string", "example": "doggie"},
                    "photoUrls": {"type": "array", "items": {"type": "string"}},
                    "tags": {"type": "array", "items": {"$ref": "#/definitions/Tag"}},
                    "status": {"type": "string", "enum": ["available", "pending", "sold"]},
                },
            },
        },
    }


# --- httpbin -------------------------------------------------------------------------------


def _httpbin(request: StubRequest, base_url: str) -> Reply:
    match = re.fullmatch(r"/basic-auth/([^/]+)/([^/]+)", request.path)
    if match is None:
        return Reply(404, b"", (("Content-Type", "text/html"),))
    if request.method != "GET":
        return Reply(405, b"", (("Allow", "GET, HEAD, OPTIONS"),))
    user, password = unquote(match[1]), unquote(match[2])
    if basic_credentials(request.headers.get("authorization", "")) == (user, password):
        return Reply.json(200, {"authenticated": True, "user": user})
    return Reply(401, b"", (("WWW-Authenticate", 'Basic realm="Fake Realm"'),))


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic ...`` header, or None."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


ROUTES: Mapping[str, Route] = {PETSTORE: _petstore, HTTPBIN: _httpbin}

# --- the egress trap -----------------------------------------------------------------------

EGRESS = "egress"
"""The stub that stands as HTTP(S) proxy for every destination that is not local, so a
request meant to leave the machine ends here, recorded and refused."""


def _egress(request: StubRequest, base_url: str) -> Reply:
    text = f"blocked by the conformance tests: {request.method} {request.target} would leave"
    return Reply(403, text.encode(), (("Content-Type", "text/plain"),))


# --- the servers ---------------------------------------------------------------------------


class PublicStubs:
    """One local HTTP server per public host, and the egress trap; a context manager."""

    def __init__(self) -> None:
        self.requests: list[StubRequest] = []
        self._lock = threading.Lock()
        routes = {**ROUTES, EGRESS: _egress}
        self._servers = {host: self._server(host, route) for host, route in routes.items()}
        self.urls = {
            host: f"http://127.0.0.1:{server.server_address[1]}"
            for host, server in self._servers.items()
        }
        self._threads = [
            threading.Thread(target=s.serve_forever, name=f"stub {h}", daemon=True)
            for h, s in self._servers.items()
        ]
        self._pattern = re.compile(
            r"https?://(" + "|".join(re.escape(h) for h in ROUTES) + r")(?![\w.:-])"
        )

    def _server(self, host: str, route: Route) -> ThreadingHTTPServer:
        stubs = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # the test's failure message says what matters

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                url = urlsplit(self.path)
                request = StubRequest(
                    host=host,
                    method=self.command,
                    target=self.path,
                    path=url.path,
                    query=parse_qs(url.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                )
                with stubs._lock:
                    stubs.requests.append(request)
                reply = route(request, stubs.urls[host])
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            # http.server dispatches on these names; CONNECT is how a proxied HTTPS call starts.
            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_CONNECT = _handle  # noqa: N815

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        return server

    @property
    def proxy_url(self) -> str:
        """The egress trap's URL: set it as HTTP_PROXY and HTTPS_PROXY of a process."""
        return self.urls[EGRESS]

    def escapes(self) -> list[StubRequest]:
        """Requests that were meant for a host outside this machine."""
        return self.received(EGRESS)

    def rewrite(self, text: str) -> str:
        """``text`` with the scheme and host of every stubbed public URL made local."""
        return self._pattern.sub(lambda m: self.urls[m[1]], text)

    def calls_public_host(self, text: str) -> bool:
        """Whether ``text`` names a URL of a host these stubs stand in for."""
        return self._pattern.search(text) is not None

    def received(self, host: str) -> list[StubRequest]:
        """The requests the stub of ``host`` received so far."""
        with self._lock:
            return [r for r in self.requests if r.host == host]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def __enter__(self) -> PublicStubs:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
