"""The servers the benchmark runs on, and a description of the machine it ran on.

Servers given by flags are used as they are; the others are started here from local
binaries on free loopback ports (the same classes the integration tests use) and stopped
by their PIDs when the benchmark ends, whatever the reason.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import platform
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import temporalio
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from tests.services import LocalFerretDB, LocalRedis, LocalServer, LocalTemporal, free_port

from bench.progress import say


@dataclass
class Endpoints:
    temporal: str
    mongodb: str
    redis: str
    started: list[str]
    """Which of the three this run started itself."""


class NotLoopbackError(ValueError):
    """An address that is not on this machine's loopback interface."""


def require_loopback(flag: str, host: str | None) -> None:
    """The benchmark only sends traffic to 127.0.0.0/8 or ::1."""
    if not host:
        raise NotLoopbackError(f"{flag}: no host in the address")
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise NotLoopbackError(f"{flag}: cannot resolve {host!r}: {exc}") from exc
    for info in infos:
        if not ipaddress.ip_address(info[4][0]).is_loopback:
            raise NotLoopbackError(
                f"{flag}: {host!r} resolves to {info[4][0]}, which is not loopback; "
                "the benchmark only talks to servers on this machine"
            )


def check_flags(*, temporal: str | None, mongodb: str | None, redis: str | None) -> None:
    """Raise NotLoopbackError naming the flag whose address leaves the machine."""
    if temporal is not None:
        require_loopback("--temporal", temporal.rpartition(":")[0].strip("[]") or None)
    if mongodb is not None:
        require_loopback("--mongodb", urlsplit(mongodb).hostname)
    if redis is not None:
        require_loopback("--redis", urlsplit(redis).hostname)


def provide(
    stack: contextlib.ExitStack,
    *,
    workdir: Path,
    temporal: str | None,
    mongodb: str | None,
    redis: str | None,
) -> Endpoints:
    """Start the servers not given; each one is stopped by PID when ``stack`` closes."""
    started: list[str] = []

    def start(server: LocalServer, what: str) -> None:
        say(f"starting {what} on port {server.port}")
        stack.callback(server.stop)
        server.start()
        server.wait_ready(timeout=90)
        started.append(what)

    if temporal is None:
        local_temporal = LocalTemporal(free_port(), workdir / "temporal" / "temporal.db")
        local_temporal.db_file.parent.mkdir(parents=True)
        start(local_temporal, "temporal")
        temporal = local_temporal.address
    if mongodb is None:
        ferretdb = LocalFerretDB(port=free_port(), workdir=workdir / "ferretdb")
        start(ferretdb, "ferretdb")
        mongodb = ferretdb.uri
    if redis is None:
        local_redis = LocalRedis(port=free_port(), workdir=workdir / "redis")
        start(local_redis, "redis")
        redis = local_redis.url
    return Endpoints(temporal=temporal, mongodb=mongodb, redis=redis, started=started)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


async def describe(client: Client, endpoints: Endpoints) -> dict[str, Any]:
    """Machine, software versions and servers, for the report."""
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "load_average_at_start": list(os.getloadavg()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "temporal_server": info.server_version,
        "temporalio_sdk": temporalio.__version__,
        "servers": {
            "temporal": endpoints.temporal,
            "mongodb": endpoints.mongodb,
            "redis": endpoints.redis,
            "started_by_benchmark": endpoints.started,
        },
    }


def _unwind(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def unwind_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C, so every server the benchmark started is stopped by
    its PID on the way out."""
    signal.signal(signal.SIGTERM, _unwind)
