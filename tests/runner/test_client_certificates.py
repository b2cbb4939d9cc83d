"""Client certificates (mutual TLS) through the real HTTP activity against a local server.

The server speaks HTTPS and requires a client certificate signed by its CA; the CA, the
server's and the clients' certificates are made here by ``trustme``. The runner's certificate
is configured per host, as ``STIGMER_RUNNER_CLIENT_CERTIFICATES`` does.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
import yaml

from stigmer_runner.activities.client_certificates import open_client_certificates
from stigmer_runner.activities.http_call import HttpCallActivities
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from stigmer_runner.settings import ClientCertificate, RunnerSettings
from tests.local_http import serving
from tests.runner.http_runtime import HttpRuntime

HEADER = {"dsl": "1.0.3", "namespace": "default", "name": "mtls", "version": "1.0.0"}
CA = trustme.CA()
ROGUE_CA = trustme.CA()
CLIENT = CA.issue_cert("runner@stigmer.test")
ROGUE_CLIENT = ROGUE_CA.issue_cert("runner@stigmer.test")

OPENAPI = """\
openapi: 3.1.0
info: {title: Who, version: '1'}
servers: [{url: ../}]
paths:
  /whoami:
    get:
      operationId: whoAmI
      responses:
        '200': {description: ok, content: {application/json: {}}}
"""


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/docs/openapi.yaml":
            body, kind = OPENAPI.encode(), "application/yaml"
        else:
            assert isinstance(self.connection, ssl.SSLSocket)
            subject = dict((self.connection.getpeercert() or {}).get("subjectAltName", ()))
            body, kind = json.dumps({"client": subject.get("email")}).encode(), "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._context = context

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = self.socket.accept()
        # The handshake happens in the handler's thread, on its first read.
        return self._context.wrap_socket(
            conn, server_side=True, do_handshake_on_connect=False
        ), address

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):
            # Refused: the alert is sent. Drain what the client already sent before closing,
            # as servers' lingering close does, so the close is no reset that could overtake
            # the alert (with TLS 1.3 the client sends its request before the refusal).
            request.settimeout(2)
            try:
                while socket.socket.recv(request, 65536):
                    pass
            except OSError:
                pass
            return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused handshakes are what some tests are about


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    CA.issue_cert("127.0.0.1").configure_cert(context)
    CA.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    with serving(_TlsServer(context), scheme="https") as url:
        yield url


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "ca": tmp_path / "ca.pem",
        "client": tmp_path / "client.pem",
        "rogue": tmp_path / "rogue.pem",
    }
    CA.cert_pem.write_to_path(str(paths["ca"]))
    CLIENT.private_key_and_cert_chain_pem.write_to_path(str(paths["client"]))
    ROGUE_CLIENT.private_key_and_cert_chain_pem.write_to_path(str(paths["rogue"]))
    return paths


@asynccontextmanager
async def runtime_with(
    server: str, certificate: ClientCertificate | None, ca: Path
) -> AsyncIterator[HttpRuntime]:
    host = httpx.URL(server)
    certificates = {} if certificate is None else {f"{host.host}:{host.port}": certificate}
    # The default client trusts the test CA too, so "no certificate" is the only difference.
    trusting = ssl.create_default_context(cafile=str(ca))
    async with (
        httpx.AsyncClient(verify=trusting, timeout=5) as http,
        open_client_certificates(http, certificates, timeout=5) as configured,
    ):
        yield HttpRuntime(HttpCallActivities(http=http, certificates=configured))


async def run(runtime: HttpRuntime, text: str) -> Any:
    document = {"document": HEADER, **yaml.safe_load(textwrap.dedent(text))}
    return await Interpreter(document, runtime=runtime).run({})


def http_call(server: str) -> str:
    return f"""
    do:
      - whoAmI:
          call: http
          with:
            method: get
            endpoint: {server}/whoami
    """


async def test_the_configured_certificate_opens_call_http_and_call_openapi(
    server: str, files: dict[str, Path]
) -> None:
    certificate = ClientCertificate(certificate=files["client"], ca=files["ca"])
    async with runtime_with(server, certificate, files["ca"]) as runtime:
        assert await run(runtime, http_call(server)) == {"client": "runner@stigmer.test"}
        # The openapi document is fetched over the same mutual TLS, then the operation.
        text = f"""
        do:
          - whoAmI:
              call: openapi
              with:
                document:
                  endpoint: {server}/docs/openapi.yaml
                operationId: whoAmI
        """
        assert await run(runtime, text) == {"client": "runner@stigmer.test"}
        assert [r.url for r in runtime.requests[1:]] == [
            f"{server}/docs/openapi.yaml",
            f"{server}/whoami",
        ]


@pytest.mark.parametrize(
    ("client", "presented"),
    [
        (None, "no client certificate is configured for 127.0.0.1:"),
        ("rogue", "the client certificate configured for 127.0.0.1:"),
    ],
)
async def test_without_an_accepted_certificate_the_call_is_an_authentication_error(
    server: str,
    files: dict[str, Path],
    client: str | None,
    presented: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    certificate = (
        None if client is None else ClientCertificate(certificate=files[client], ca=files["ca"])
    )
    async with runtime_with(server, certificate, files["ca"]) as runtime:
        with pytest.raises(WorkflowError) as caught:
            await run(runtime, http_call(server))
        body = caught.value.problem
        assert (body["type"], body["status"]) == (ErrorType.AUTHENTICATION, 401)
        assert f"GET {server}/whoami: the server refused the TLS connection" in body["detail"]
        assert presented in body["detail"]
        # Certificate material appears in no status report, error or log line.
        reported = json.dumps([asdict(e) for e in runtime.events]) + json.dumps(body)
        for pem in (files["client"].read_text(), files["rogue"].read_text()):
            for line in pem.splitlines()[1:3]:
                assert line not in reported
                assert line not in caplog.text


async def test_an_unreadable_certificate_fails_at_start_naming_the_host(
    files: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    async with httpx.AsyncClient() as http:
        for path, reason in ((tmp_path / "missing.pem", "No such file"), (broken, "PEM")):
            certificates = {"api.partner.test": ClientCertificate(certificate=path)}
            with pytest.raises(ValueError, match=reason) as caught:
                async with open_client_certificates(http, certificates, timeout=5):
                    pass
            assert "STIGMER_RUNNER_CLIENT_CERTIFICATES['api.partner.test']" in str(caught.value)
            assert "not base64" not in str(caught.value)


def test_settings_read_client_certificates_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"api.partner.test:8443": {"certificate": "/tls/c.pem", "key": "/tls/k.pem"}}
    monkeypatch.setenv("STIGMER_RUNNER_CLIENT_CERTIFICATES", json.dumps(value))
    settings = RunnerSettings()
    assert settings.stigmer_runner_client_certificates == {
        "api.partner.test:8443": ClientCertificate(
            certificate=Path("/tls/c.pem"), key=Path("/tls/k.pem")
        )
    }
