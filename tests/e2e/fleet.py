"""The fleet as separate processes: API, orchestrator and runners, each started from its
console entry point with environment settings, and each stopped by its PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.services import free_port

USER_TOKEN = "user-token-for-tests"
RUNNER_TOKEN = "runner-token-for-tests"


@dataclass
class ServiceProcess:
    name: str
    module: str
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    observability_port: int | None = None
    """Port of a worker's /metrics, /healthz and /readyz (None: the API, or turned off)."""

    @property
    def observability_url(self) -> str:
        assert self.observability_port, f"{self.name} serves no metrics and probes"
        return f"http://127.0.0.1:{self.observability_port}"

    def start(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait, then SIGKILL: returns the exit code."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        assert self.popen is not None
        os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _worker_env(env: dict[str, str]) -> dict[str, str]:
    """Each worker process its own probes port (default 9464 would clash between workers)."""
    return {
        "STIGMER_OBSERVABILITY_HOST": "127.0.0.1",
        "STIGMER_OBSERVABILITY_PORT": str(free_port()),
        **env,
    }


@contextmanager
def running_fleet(
    workdir: Path,
    *,
    temporal_address: str,
    mongodb_uri: str,
    redis_url: str,
    workers: bool = True,
    extra_env: dict[str, str] | None = None,
    runner_env: dict[str, str] | None = None,
) -> Iterator[Fleet]:
    """API (and, with ``workers``, orchestrator and one runner) started, stopped afterwards."""
    fleet = Fleet(
        temporal_address=temporal_address,
        mongodb_uri=mongodb_uri,
        redis_url=redis_url,
        workdir=workdir,
        extra_env=extra_env or {},
    )
    try:
        fleet.start_api()
        if workers:
            fleet.start_orchestrator()
            fleet.start_runner(**(runner_env or {}))
        yield fleet
    finally:
        fleet.stop()


@dataclass
class Fleet:
    """Processes sharing one configuration: its own database and its own task queues."""

    temporal_address: str
    mongodb_uri: str
    redis_url: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[ServiceProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.database = f"stigmer_test_{suffix}"
        self.env = {
            "TEMPORAL_HOST_PORT": self.temporal_address,
            "TEMPORAL_NAMESPACE": "default",
            "TEMPORAL_WORKFLOW_EXECUTION_STIGMER_TASK_QUEUE": f"stigmer-{suffix}",
            "TEMPORAL_WORKFLOW_EXECUTION_RUNNER_TASK_QUEUE": f"runner-{suffix}",
            "MONGODB_URI": self.mongodb_uri,
            "MONGODB_DATABASE": self.database,
            "REDIS_URL": self.redis_url,
            "STIGMER_API_HOST": "127.0.0.1",
            "STIGMER_API_PORT": str(self.api_port),
            "STIGMER_API_URL": self.api_url,
            "STIGMER_API_TOKEN": USER_TOKEN,
            "STIGMER_RUNNER_TOKEN": RUNNER_TOKEN,
            "STIGMER_LOG_FORMAT": "json",
            "STIGMER_RECONCILE_INTERVAL_SECONDS": "0.5",
            "STIGMER_SHUTDOWN_GRACE_SECONDS": "5",
            **self.extra_env,
        }

    def _start(self, name: str, module: str, env: dict[str, str] | None = None) -> ServiceProcess:
        process = ServiceProcess(
            name=name,
            module=module,
            env={**self.env, **(env or {})},
            log_path=self.workdir / f"{name}.log",
        )
        port = process.env.get("STIGMER_OBSERVABILITY_PORT")
        process.observability_port = int(port) if port and port != "0" else None
        process.start()
        self.processes.append(process)
        return process

    def start_api(self, **env: str) -> ServiceProcess:
        process = self._start("api", "stigmer_api", env)
        self.wait_api_ready(process)
        return process

    def start_orchestrator(self, **env: str) -> ServiceProcess:
        return self._start("orchestrator", "stigmer_orchestrator", _worker_env(env))

    def start_runner(self, name: str = "runner", **env: str) -> ServiceProcess:
        return self._start(name, "stigmer_runner", _worker_env(env))

    def wait_worker_ready(self, process: ServiceProcess, timeout: float = 30.0) -> None:
        """Until the worker's /readyz answers 200: it polls its queue."""
        deadline = time.monotonic() + timeout
        answer = "no answer"
        while time.monotonic() < deadline:
            if not process.alive():
                raise RuntimeError(f"the {process.name} exited:\n{process.log_tail()}")
            try:
                response = httpx.get(f"{process.observability_url}/readyz", timeout=3)
                if response.status_code == 200:
                    return
                answer = response.text
            except httpx.TransportError as exc:
                answer = repr(exc)
            time.sleep(0.1)
        raise RuntimeError(f"the {process.name} is not ready ({answer}):\n{process.log_tail()}")

    def wait_api_ready(self, process: ServiceProcess, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process.alive():
                raise RuntimeError(f"the API exited during start-up:\n{process.log_tail()}")
            try:
                if httpx.get(f"{self.api_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the API did not become ready:\n{process.log_tail()}")

    def stop(self) -> None:
        # Reverse start order: workers before the API they report to.
        for process in reversed(self.processes):
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log_tail()}" for p in self.processes)
