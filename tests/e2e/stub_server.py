"""A local HTTP server for workflows to call, so no test reaches the internet.

Routes: ``/pets/{id}`` (JSON), ``/slow?seconds=S&key=K`` (sleeps), ``/status/{code}``,
and every request is counted by path so tests can assert "called exactly once".
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from tests.local_http import loopback_server, serving


class StubServer:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        # Headers of every request by path, in arrival order (names in lower case).
        self.headers: dict[str, list[dict[str, str]]] = {}
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _reply(self, code: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with stub._lock:
                    stub.hits[url.path] += 1
                    stub.headers.setdefault(url.path, []).append(
                        {k.lower(): v for k, v in self.headers.items()}
                    )
                    if "pet" in query:
                        stub.hits[f"{url.path}?pet={query['pet']}"] += 1
                parts = url.path.strip("/").split("/")
                if parts[0] == "pets" and len(parts) == 2:
                    self._reply(200, {"id": int(parts[1]), "name": "Rex", "status": "available"})
                elif parts[0] == "slow":
                    time.sleep(float(query.get("seconds", "1")))
                    self._reply(200, {"slept": float(query.get("seconds", "1"))})
                elif parts[0] == "status" and len(parts) == 2:
                    self._reply(int(parts[1]), {"status": int(parts[1])})
                else:
                    self._reply(404, {"error": "no such stub route"})

        self._server = loopback_server(Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._running = contextlib.ExitStack()

    def slow_hits(self, pet: int) -> int:
        """How often /slow was called with ``pet=<pet>``."""
        return self.hits[f"/slow?pet={pet}"]

    def __enter__(self) -> StubServer:
        self._running.enter_context(serving(self._server))
        return self

    def __exit__(self, *exc: object) -> None:
        self._running.close()
