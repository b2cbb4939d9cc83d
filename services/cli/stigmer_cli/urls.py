"""Small parsers of the addresses in settings: API URLs and Temporal host:port."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from stigmer_core.errors import ValidationFailedError


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine only (localhost, 127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_url_host_port(url: str) -> tuple[str, int]:
    """Host and port of an ``http(s)://`` API URL (port defaults from the scheme)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailedError(
            f"STIGMER_API_URL must be an http(s) URL such as http://127.0.0.1:8234, got {url!r}",
            field="STIGMER_API_URL",
        )
    try:
        port = parts.port
    except ValueError:
        raise ValidationFailedError(
            f"STIGMER_API_URL has a bad port: {url!r}", field="STIGMER_API_URL"
        ) from None
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine (so local mode may start a server for it)."""
    try:
        host, _ = api_url_host_port(url)
    except ValidationFailedError:
        return False
    return is_loopback_host(host)


def split_host_port(address: str, *, field: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:7233`` for IPv6) as a pair; raise naming ``field`` if malformed."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValidationFailedError(
            f"{field} must be host:port, such as localhost:7233, got {address!r}", field=field
        )
    return host.strip("[]"), int(port)
