"""Which addresses count as this machine, and how settings' addresses are parsed."""

from __future__ import annotations

import pytest

from stigmer_cli.urls import api_url_host_port, is_loopback_url, split_host_port
from stigmer_core.errors import ValidationFailedError


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8234", True),
        ("http://localhost:8234", True),
        ("http://127.1.2.3", True),
        ("http://[::1]:8234", True),
        ("https://stigmer.example.com", False),
        ("http://10.0.0.5:8234", False),
        ("not a url", False),
    ],
)
def test_loopback_urls(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_api_url_ports_default_by_scheme() -> None:
    assert api_url_host_port("http://127.0.0.1:9000/") == ("127.0.0.1", 9000)
    assert api_url_host_port("http://localhost") == ("localhost", 80)
    assert api_url_host_port("https://localhost") == ("localhost", 443)


def test_bad_api_url_names_the_variable() -> None:
    with pytest.raises(ValidationFailedError) as caught:
        api_url_host_port("ftp://localhost")
    assert caught.value.field == "STIGMER_API_URL"


def test_host_port() -> None:
    assert split_host_port("localhost:7233", field="X") == ("localhost", 7233)
    assert split_host_port("[::1]:7233", field="X") == ("::1", 7233)
    for bad in ("localhost", ":7233", "localhost:http", "localhost:70000"):
        with pytest.raises(ValidationFailedError, match="host:port"):
            split_host_port(bad, field="TEMPORAL_HOST_PORT")
