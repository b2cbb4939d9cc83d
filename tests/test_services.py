"""The service fixtures themselves: what they hand out answers, and what they start stops."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.services import (
    LocalRedis,
    LocalTemporal,
    find_binary,
    free_port,
    mongodb_answers,
    redis_answers,
    temporal_answers,
    unavailable,
)


@pytest.mark.integration
async def test_temporal_address_serves_the_default_namespace(temporal_address: str) -> None:
    client = await Client.connect(temporal_address)

    assert client.namespace == "default"
    assert temporal_answers(temporal_address)


@pytest.mark.integration
def test_mongodb_uri_and_redis_url_answer(mongodb_uri: str, redis_url: str) -> None:
    assert mongodb_answers(mongodb_uri)
    assert redis_answers(redis_url)


@pytest.mark.integration
async def test_a_local_temporal_stops_and_restarts_on_its_port(
    temporal_server_factory: Callable[..., LocalTemporal],
) -> None:
    server = temporal_server_factory()
    pid = server.pid
    assert pid is not None
    assert temporal_answers(server.address)

    server.stop()

    assert not temporal_answers(server.address, timeout=2)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    server.start()
    await server.wait_ready_async()
    assert temporal_answers(server.address)


def test_free_port_is_bindable() -> None:
    port = free_port()

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    if find_binary(LocalRedis.binary_name) is None:
        unavailable("no redis-server binary")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = LocalRedis(port=taken.getsockname()[1], workdir=tmp_path)
        server.start()
        try:
            with pytest.raises(RuntimeError, match="exited with"):
                server.wait_ready(timeout=30)
        finally:
            server.stop()

    assert not server.running
    assert "bind" in server.log_tail().lower() or "address" in server.log_tail().lower()


def test_unavailable_skips_unless_services_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STIGMER_TEST_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception):
        unavailable("no server")

    monkeypatch.setenv("STIGMER_TEST_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="no server"):
        unavailable("no server")
