"""The HTTP call activity: send a resolved ``call: http`` request and decode the response.

Every response comes back, whatever its status: the interpreter decides which statuses
fault the task. Only a request that produced no response raises, as an ``ApplicationError``
whose ``type`` (see ``stigmer_runner.dsl.contracts``) tells the workflow which DSL error
to report.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from stigmer_core.trace_context import trace_headers
from stigmer_runner.activities.client_certificates import ClientCertificates
from stigmer_runner.activities.heartbeats import heartbeating
from stigmer_runner.dsl.contracts import (
    HTTP_CALL_ACTIVITY,
    HTTP_CLIENT_CERTIFICATE_ERROR,
    HTTP_INVALID_REQUEST_ERROR,
    HTTP_RESPONSE_TOO_LARGE_ERROR,
    HTTP_TIMEOUT_ERROR,
    HTTP_TRANSPORT_ERROR,
    HttpRequest,
    HttpResponse,
)

# Temporal refuses payloads over 2 MB; base64 grows a body by a third.
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
# TLS alerts a server sends when it wants a client certificate it did not get or accept.
_CLIENT_CERTIFICATE_ALERTS = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
    }
)


class HttpCallActivities:
    """Activities that speak HTTP, sharing one connection pool (one more per host that
    gets a client certificate, see ``client_certificates``)."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        certificates: ClientCertificates | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._http = http
        self._certificates = certificates or ClientCertificates(default=http, by_host={})
        self._max_response_bytes = max_response_bytes

    @activity.defn(name=HTTP_CALL_ACTIVITY)
    async def call(self, request: HttpRequest) -> HttpResponse:
        """Send ``request``; return the response, 4xx and 5xx included."""
        async with heartbeating():
            return await self._send(request)

    async def _send(self, request: HttpRequest) -> HttpResponse:
        headers, content = _encode_body(request)
        try:
            url = httpx.URL(request.url).copy_merge_params(request.query)
            async with self._certificates.client_for(url).stream(
                request.method,
                url,
                # The callee joins the execution's trace (W3C traceparent of this activity).
                headers=trace_headers(headers),
                content=content,
                follow_redirects=request.redirect,
                timeout=(
                    httpx.USE_CLIENT_DEFAULT
                    if request.timeout_seconds is None
                    else request.timeout_seconds
                ),
            ) as response:
                body = await self._read(response, request)
        except httpx.TimeoutException as exc:
            # A timeout the task asked for is final; the client's own default is not.
            raise ApplicationError(
                f"{request.method} {request.url} timed out: {_describe(exc)}",
                type=HTTP_TIMEOUT_ERROR,
                non_retryable=request.timeout_seconds is not None,
            ) from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ApplicationError(
                f"cannot send {request.method} {request.url}: {_describe(exc)}",
                type=HTTP_INVALID_REQUEST_ERROR,
                non_retryable=True,
            ) from exc
        except (httpx.HTTPError, ssl.SSLError) as exc:
            # httpcore lets an SSLError raised while reading the response escape unwrapped:
            # with TLS 1.3 that is where a refused client certificate shows.
            alert = _client_certificate_alert(exc)
            if alert is not None:
                raise ApplicationError(
                    self._refused(request, alert),
                    type=HTTP_CLIENT_CERTIFICATE_ERROR,
                    non_retryable=True,
                ) from None
            raise ApplicationError(
                f"{request.method} {request.url} failed: {_describe(exc)}",
                type=HTTP_TRANSPORT_ERROR,
            ) from exc
        return _response(request, response, body)

    def _refused(self, request: HttpRequest, alert: str) -> str:
        """Why the server ended the TLS connection, and what the runner presented."""
        url = httpx.URL(request.url)
        key = self._certificates.host_key(url)
        presented = (
            f"the client certificate configured for {key} was not accepted"
            if key is not None
            else f"no client certificate is configured for {url.host}:{url.port or 443} "
            "(STIGMER_RUNNER_CLIENT_CERTIFICATES)"
        )
        return (
            f"{request.method} {request.url}: the server refused the TLS connection for want of "
            f"a client certificate ({alert}): {presented}"
        )

    async def _read(self, response: httpx.Response, request: HttpRequest) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_response_bytes:
                raise ApplicationError(
                    f"{request.method} {request.url}: the response body exceeds "
                    f"{self._max_response_bytes} bytes",
                    type=HTTP_RESPONSE_TOO_LARGE_ERROR,
                    non_retryable=True,
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _encode_body(request: HttpRequest) -> tuple[dict[str, str], bytes | None]:
    """Headers and bytes to send: strings as text, form data when asked, JSON otherwise."""
    headers = dict(request.headers)
    if request.body is None:
        return headers, None
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    media = _media_type(content_type)
    if isinstance(request.body, str):
        body = request.body.encode()
        default = "text/plain; charset=utf-8"
    elif media == "application/x-www-form-urlencoded" and isinstance(request.body, Mapping):
        body = urlencode({k: _form_value(v) for k, v in request.body.items()}).encode()
        default = media
    else:
        body = json.dumps(request.body, separators=(",", ":")).encode()
        default = "application/json"
    if content_type is None:
        headers["Content-Type"] = default
    return headers, body


def _form_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _response(request: HttpRequest, response: httpx.Response, body: bytes) -> HttpResponse:
    content_type = response.headers.get("content-type")
    encoded = base64.b64encode(body).decode("ascii") if body else None
    return HttpResponse(
        status_code=response.status_code,
        headers=dict(response.headers.items()),
        content=None if request.output == "raw" else _decode(body, content_type, encoded),
        content_type=content_type,
        raw_base64=encoded if request.output == "raw" else None,
        request_method=response.request.method,
        request_uri=str(response.request.url),
        request_headers={
            name: _redact(name, value) for name, value in response.request.headers.items()
        },
    )


def _decode(body: bytes, content_type: str | None, encoded: str | None) -> Any:
    """JSON for application/json and +json, text for text/*, base64 for anything else."""
    if not body:
        return None
    media = _media_type(content_type)
    if media == "application/json" or media.endswith("+json"):
        try:
            return json.loads(body)
        except ValueError:
            # Mislabelled JSON still deserves a readable body rather than base64.
            return body.decode(_charset(content_type), errors="replace")
    if media.startswith("text/"):
        return body.decode(_charset(content_type), errors="replace")
    return encoded


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _charset(content_type: str | None) -> str:
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
            try:
                "".encode(charset)
            except LookupError:
                break
            return charset
    return "utf-8"


def _redact(name: str, value: str) -> str:
    """Credentials never travel back into workflow output; the scheme may."""
    if name.lower() not in _SECRET_HEADERS:
        return value
    scheme, _, rest = value.partition(" ")
    return f"{scheme} [redacted]" if rest and name.lower() != "cookie" else "[redacted]"


def _client_certificate_alert(exc: BaseException) -> str | None:
    """The TLS alert in ``exc``'s causes that means "no acceptable client certificate"."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) and seen.reason in _CLIENT_CERTIFICATE_ALERTS:
            return str(seen.reason)
        text = str(seen)
        for alert in _CLIENT_CERTIFICATE_ALERTS:
            if alert in text:
                return alert
        seen = seen.__cause__ or seen.__context__
    return None


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
