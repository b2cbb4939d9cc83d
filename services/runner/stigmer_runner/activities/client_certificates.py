"""HTTPS clients that present a client certificate (mutual TLS), one per configured host.

The DSL 1.0 schema has no ``certificate`` authentication policy, so a workflow cannot name a
certificate; the runner's operator configures one per host instead
(``STIGMER_RUNNER_CLIENT_CERTIFICATES``), and every HTTPS request of the HTTP activity to that
host presents it. The certificate and key stay in files on the runner: they are loaded once,
at start, into an ``ssl.SSLContext`` and never enter a workflow's history, status or logs.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

import httpx

from stigmer_runner.settings import ClientCertificate


class ClientCertificates:
    """Which httpx client sends a request: a certificate-presenting one for the configured
    hosts (``host:port`` first, then ``host``), the shared one for everything else."""

    def __init__(
        self, *, default: httpx.AsyncClient, by_host: Mapping[str, httpx.AsyncClient]
    ) -> None:
        self._default = default
        self._by_host = dict(by_host)

    def host_key(self, url: httpx.URL) -> str | None:
        """The configured key (``host:port`` or ``host``) that ``url`` uses, if any."""
        if url.scheme != "https" or not url.host:
            return None
        port = url.port or 443
        for key in (f"{url.host}:{port}", url.host):
            if key in self._by_host:
                return key
        return None

    def client_for(self, url: httpx.URL) -> httpx.AsyncClient:
        key = self.host_key(url)
        return self._default if key is None else self._by_host[key]


def ssl_context(host: str, certificate: ClientCertificate) -> ssl.SSLContext:
    """The TLS settings for ``host``; ValueError naming the host and the file on failure
    (never the file's content)."""
    which = "ca"
    try:
        context = (
            httpx.create_ssl_context()
            if certificate.ca is None
            else ssl.create_default_context(cafile=str(certificate.ca))
        )
        which = "certificate/key"
        context.load_cert_chain(
            str(certificate.certificate),
            None if certificate.key is None else str(certificate.key),
        )
    except (OSError, ssl.SSLError) as exc:
        # ssl.SSLError is an OSError whose reason names what failed (PEM_LIB, KEY_VALUES...).
        reason = (exc.reason if isinstance(exc, ssl.SSLError) else None) or exc.strerror or exc
        raise ValueError(
            f"STIGMER_RUNNER_CLIENT_CERTIFICATES[{host!r}]: cannot load the {which} "
            f"({reason or type(exc).__name__})"
        ) from None
    return context


@asynccontextmanager
async def open_client_certificates(
    default: httpx.AsyncClient,
    certificates: Mapping[str, ClientCertificate],
    *,
    timeout: float,
) -> AsyncIterator[ClientCertificates]:
    """One httpx client per configured host, closed on exit; fails fast on a bad file."""
    contexts = {host: ssl_context(host, cert) for host, cert in certificates.items()}
    async with AsyncExitStack() as stack:
        clients = {
            host: await stack.enter_async_context(httpx.AsyncClient(verify=ctx, timeout=timeout))
            for host, ctx in contexts.items()
        }
        yield ClientCertificates(default=default, by_host=clients)
