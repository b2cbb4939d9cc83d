"""Real Temporal, MongoDB and Redis servers for integration tests.

Each session fixture finds its service in this order:

1. an environment variable: ``STIGMER_TEST_TEMPORAL_ADDRESS`` (host:port),
   ``STIGMER_TEST_MONGODB_URI``, ``STIGMER_TEST_REDIS_URL``;
2. a container, when a Docker engine answers (images ``temporalio/temporal``,
   ``mongo:7``, ``redis:7``);
3. a local binary started on a free port with a temporary directory: ``temporal``,
   ``ferretdb`` (PATH or ``~/go/bin``), ``redis-server``; stopped by its PID at the end;
4. otherwise the test is skipped, or fails when ``STIGMER_TEST_REQUIRE_SERVICES=1``
   (CI sets it, so a missing server can never pass as a skip).

The container engine of ``run: container`` follows the same order: the CLI named by
``STIGMER_TEST_CONTAINER_RUNTIME``, else ``docker`` when its engine answers, else a local
``podman`` that answers (``.ci/services.sh`` installs and configures it); its test image is
imported from Debian's static busybox, so no registry is ever reached.

The ``Local*`` classes also serve tests that stop and restart a server on purpose.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient, MongoClient
from redis import Redis
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from stigmer_api.bus.memory import MemoryBus
from stigmer_api.bus.redis import RedisBus
from stigmer_api.storage.mongo import MongoStore
from stigmer_api.storage.sqlite import SqliteStore

REQUIRE_SERVICES_ENV = "STIGMER_TEST_REQUIRE_SERVICES"
TEMPORAL_ENV = "STIGMER_TEST_TEMPORAL_ADDRESS"
MONGODB_ENV = "STIGMER_TEST_MONGODB_URI"
REDIS_ENV = "STIGMER_TEST_REDIS_URL"
CONTAINER_RUNTIME_ENV = "STIGMER_TEST_CONTAINER_RUNTIME"
TEST_IMAGE = "localhost/stigmer-busybox:test"
BUSYBOX = Path("/bin/busybox")
_BUSYBOX_APPLETS = ("sh", "cat", "echo", "env", "false", "httpd", "ls", "printf", "sleep", "true")

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_binary(name: str) -> str | None:
    """``name`` on PATH, else in ``~/go/bin`` (where ``go build`` puts FerretDB)."""
    found = shutil.which(name)
    if found:
        return found
    candidate = Path.home() / "go" / "bin" / name
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def unavailable(reason: str, *, module: bool = False) -> NoReturn:
    """Skip for want of a service (``module``: the whole module, at collection), or fail
    when the run requires services, as CI does."""
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason} (and {REQUIRE_SERVICES_ENV}=1)", pytrace=False)
    pytest.skip(reason, allow_module_level=module)


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to the end from sync code, even while an event loop runs here."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make()).result()


def collect_abandoned_sockets() -> None:
    """Collect garbage now, dropping only the warnings of unclosed sockets it frees.

    pymongo's asyncio client abandons the socket of a connection attempt that close()
    cancels (pool_shared._async_create_connection closes it on OSError and timeouts only),
    and closing a client whose server is unreachable does exactly that. Left to the
    garbage collector, the warning would fail whichever test happens to be running then.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "unclosed <socket.socket", ResourceWarning)
        gc.collect()


# --- local servers ----------------------------------------------------------------------


class LocalServer:
    """A server binary run on this machine on ``port``, stopped by its PID."""

    binary_name = ""

    def __init__(self, *, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @classmethod
    def locate(cls) -> str | None:
        """The binary that starts this kind of server, or None when not installed."""
        return find_binary(cls.binary_name)

    def command(self, binary: str) -> list[str]:
        """The argument vector that starts the server."""
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The server's environment (None: this process's)."""
        return None

    def probe(self) -> bool:
        """One quick check that the server answers requests."""
        raise NotImplementedError

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.binary_name}.log"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server (no wait; see wait_ready). Starting a running server is a no-op."""
        if self.running:
            return
        binary = self.locate()
        if binary is None:
            raise FileNotFoundError(f"{self.binary_name} is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.command(binary),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=self.environment(),
        )

    def stop(self, grace_seconds: float = 15.0) -> None:
        """Terminate the server by PID, and kill it if it outlives ``grace_seconds``."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._close_log()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the server answers; RuntimeError with its log if it never does."""
        deadline = time.monotonic() + timeout
        while not self.probe():
            self._check_alive()
            if time.monotonic() >= deadline:
                raise RuntimeError(f"{self.describe()} not ready in {timeout}s\n{self.log_tail()}")
            time.sleep(0.2)

    async def wait_ready_async(self, timeout: float = 60.0) -> None:
        """wait_ready for async tests: the event loop keeps running meanwhile."""
        await asyncio.to_thread(self.wait_ready, timeout)

    def describe(self) -> str:
        return f"{self.binary_name} on port {self.port} (pid {self.pid})"

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _check_alive(self) -> None:
        if self._process is None:
            raise RuntimeError(f"{self.binary_name} was not started")
        code = self._process.poll()
        if code is not None:
            raise RuntimeError(f"{self.describe()} exited with {code}\n{self.log_tail()}")

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalServer:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LocalTemporal(LocalServer):
    """``temporal server start-dev``; with the same ``db_file`` a restart keeps its state."""

    binary_name = "temporal"

    def __init__(self, port: int, db_file: Path) -> None:
        super().__init__(port=port, workdir=db_file.parent)
        self.db_file = db_file

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self, binary: str) -> list[str]:
        # HTTP and metrics ports default to random free ones, so servers do not collide.
        return [
            binary, "server", "start-dev", "--headless",
            "--ip", "127.0.0.1", "--port", str(self.port),
            "--db-filename", str(self.db_file), "--log-level", "warn",
        ]  # fmt: skip

    def probe(self) -> bool:
        return temporal_answers(self.address)


class LocalFerretDB(LocalServer):
    """FerretDB 1.x with its SQLite handler: MongoDB's wire protocol, no MongoDB needed."""

    binary_name = "ferretdb"

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def command(self, binary: str) -> list[str]:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        return [
            binary, "--handler=sqlite", f"--sqlite-url=file:{data}/",
            f"--listen-addr=127.0.0.1:{self.port}", "--telemetry=disable",
            f"--state-dir={self.workdir}", "--debug-addr=-", "--log-level=warn",
        ]  # fmt: skip

    def probe(self) -> bool:
        return mongodb_answers(self.uri)


class LocalRedis(LocalServer):
    """redis-server without persistence."""

    binary_name = "redis-server"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, binary: str) -> list[str]:
        return [
            binary, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
        ]  # fmt: skip

    def probe(self) -> bool:
        return redis_answers(self.url)


# --- readiness probes -------------------------------------------------------------------


def temporal_answers(address: str, timeout: float = 5.0) -> bool:
    """Whether a Temporal frontend at ``address`` serves the default namespace."""

    async def check() -> None:
        async with asyncio.timeout(timeout):
            client = await Client.connect(address)
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace="default")
            )

    try:
        run_async(check)
    except Exception:
        return False
    return True


def mongodb_answers(uri: str, timeout: float = 0.5) -> bool:
    """Whether a MongoDB-protocol server at ``uri`` answers ping."""
    ms = int(timeout * 1000)
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms
    )
    try:
        client.admin.command("ping")
    except Exception:
        return False
    finally:
        client.close()
    return True


def redis_answers(url: str, timeout: float = 2.0) -> bool:
    """Whether Redis at ``url`` answers PING."""
    client = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


# --- containers -------------------------------------------------------------------------


@functools.cache
def docker_available() -> bool:
    """Whether a Docker engine answers a ping within a few seconds."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        return False
    # The docker SDK leaves its socket unclosed when the engine does not answer; that
    # would surface as an unraisable ResourceWarning in some unrelated test later.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        answered = _docker_ping()
        gc.collect()
    return answered


def _docker_ping() -> bool:
    try:
        import docker  # type: ignore[import-untyped]  # optional, and slow to import

        client = docker.from_env(timeout=3)
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def _temporal_container(stack: contextlib.ExitStack) -> str:
    from testcontainers.core.container import DockerContainer  # only with Docker

    container = (
        DockerContainer("temporalio/temporal")
        .with_command("server start-dev --ip 0.0.0.0 --headless")
        .with_exposed_ports(7233)
    )
    stack.enter_context(container)
    address = f"{container.get_container_host_ip()}:{container.get_exposed_port(7233)}"
    wait_for(lambda: temporal_answers(address), "Temporal container", timeout=120.0)
    return address


def _mongodb_container(stack: contextlib.ExitStack) -> str:
    try:  # testcontainers 4.10 moved its modules under .community
        from testcontainers.community.mongodb import MongoDbContainer
    except ImportError:
        from testcontainers.mongodb import MongoDbContainer

    container = stack.enter_context(MongoDbContainer("mongo:7"))
    uri: str = container.get_connection_url()
    wait_for(lambda: mongodb_answers(uri), "MongoDB container", timeout=60.0)
    return uri


def _redis_container(stack: contextlib.ExitStack) -> str:
    try:
        from testcontainers.community.redis import RedisContainer
    except ImportError:
        from testcontainers.redis import RedisContainer

    container = stack.enter_context(RedisContainer("redis:7"))
    url = f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"
    wait_for(lambda: redis_answers(url), "Redis container", timeout=60.0)
    return url


def wait_for(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{what} did not answer within {timeout}s")
        time.sleep(0.5)


# --- container engines ------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerEngine:
    """An OCI engine's CLI that runs containers here, and an image it holds."""

    cli: str
    image: str = TEST_IMAGE

    def run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """``cli args...``, captured, not checked."""
        return subprocess.run(
            [self.cli, *args], capture_output=True, text=True, timeout=timeout, check=False
        )

    def container_exists(self, name: str) -> bool:
        return self.run("container", "inspect", name).returncode == 0


def container_engine_answers(cli: str) -> bool:
    """Whether ``cli`` is installed and its engine answers ``info``."""
    found = shutil.which(cli)
    if found is None:
        return False
    try:
        done = subprocess.run([found, "info"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def ensure_test_image(engine: ContainerEngine) -> None:
    """Import the test image from the host's static busybox unless the engine has it."""
    if engine.run("image", "inspect", engine.image).returncode == 0:
        return
    if not BUSYBOX.is_file():
        unavailable(f"{BUSYBOX} (Debian's busybox-static) is needed to make {engine.image}")
    with tempfile.TemporaryDirectory() as work:
        archive = Path(work) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(BUSYBOX, arcname="bin/busybox")
            for applet in _BUSYBOX_APPLETS:
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        done = engine.run(
            "import", "--change", 'CMD ["/bin/sh"]', "--change", "ENV PATH=/bin",
            str(archive), engine.image,
        )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"{engine.cli} import of {engine.image} failed: {done.stderr}", pytrace=False)


# --- session fixtures -------------------------------------------------------------------


def provide(
    stack: contextlib.ExitStack,
    *,
    env_var: str,
    container: Callable[[contextlib.ExitStack], str],
    local: Callable[[], LocalServer],
    endpoint: Callable[[Any], str],
    kind: type[LocalServer],
) -> str:
    """The service's endpoint: from ``env_var``, else a container when Docker answers,
    else a local ``kind`` server (stopped by ``stack``), else unavailable()."""
    given = os.environ.get(env_var)
    if given:
        return given
    if docker_available():
        return container(stack)
    binary = kind.binary_name
    if kind.locate() is None:
        unavailable(f"no {env_var}, no Docker engine, and no {binary} binary")
    server = local()
    stack.callback(server.stop)
    server.start()
    try:
        server.wait_ready()
    except RuntimeError as exc:
        pytest.fail(f"local {binary} did not start: {exc}", pytrace=False)
    return endpoint(server)


@pytest.fixture(scope="session")
def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of a Temporal frontend with the ``default`` namespace."""
    with contextlib.ExitStack() as stack:
        yield provide(
            stack,
            env_var=TEMPORAL_ENV,
            container=_temporal_container,
            local=lambda: LocalTemporal(
                free_port(), tmp_path_factory.mktemp("temporal") / "temporal.db"
            ),
            endpoint=lambda server: server.address,
            kind=LocalTemporal,
        )


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URI of a MongoDB-protocol server (MongoDB itself, or FerretDB)."""
    with contextlib.ExitStack() as stack:
        yield provide(
            stack,
            env_var=MONGODB_ENV,
            container=_mongodb_container,
            local=lambda: LocalFerretDB(port=free_port(), workdir=tmp_path_factory.mktemp("fdb")),
            endpoint=lambda server: server.uri,
            kind=LocalFerretDB,
        )


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis server."""
    with contextlib.ExitStack() as stack:
        yield provide(
            stack,
            env_var=REDIS_ENV,
            container=_redis_container,
            local=lambda: LocalRedis(port=free_port(), workdir=tmp_path_factory.mktemp("redis")),
            endpoint=lambda server: server.url,
            kind=LocalRedis,
        )


@pytest.fixture(scope="session")
def container_engine() -> ContainerEngine:
    """A container engine's CLI that runs containers, holding the busybox test image."""
    given = os.environ.get(CONTAINER_RUNTIME_ENV)
    if given:
        if not container_engine_answers(given):
            pytest.fail(f"{CONTAINER_RUNTIME_ENV}={given} does not answer 'info'", pytrace=False)
        cli = given
    elif docker_available():
        cli = "docker"
    elif container_engine_answers("podman"):
        cli = "podman"
    else:
        unavailable(f"no {CONTAINER_RUNTIME_ENV}, no Docker engine, and no podman that answers")
    engine = ContainerEngine(cli=cli)
    ensure_test_image(engine)
    return engine


# --- per-test fixtures ------------------------------------------------------------------


def _server_factory(
    kind: type[LocalServer], make: Callable[[int, Path], LocalServer], tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    if kind.locate() is None:
        unavailable(f"no {kind.binary_name} binary to start a server of our own")
    servers: list[LocalServer] = []

    def start(*, port: int | None = None, ready: bool = True) -> LocalServer:
        workdir = tmp_path / f"{kind.binary_name}-{len(servers)}"
        workdir.mkdir(parents=True)
        server = make(port or free_port(), workdir)
        servers.append(server)
        server.start()
        if ready:
            server.wait_ready()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def temporal_server_factory(tmp_path: Path) -> Iterator[Callable[..., LocalTemporal]]:
    """Start extra Temporal dev servers (``factory(port=None, ready=True)``) that a test
    may stop and restart; all are stopped after the test."""
    yield from _server_factory(
        LocalTemporal, lambda port, workdir: LocalTemporal(port, workdir / "temporal.db"), tmp_path
    )


@pytest.fixture
def ferretdb_server_factory(tmp_path: Path) -> Iterator[Callable[..., LocalFerretDB]]:
    """Start extra FerretDB servers a test controls; all are stopped after the test."""
    yield from _server_factory(
        LocalFerretDB, lambda port, workdir: LocalFerretDB(port=port, workdir=workdir), tmp_path
    )


@pytest.fixture
def redis_server_factory(tmp_path: Path) -> Iterator[Callable[..., LocalRedis]]:
    """Start extra Redis servers a test controls; all are stopped after the test."""
    yield from _server_factory(
        LocalRedis, lambda port, workdir: LocalRedis(port=port, workdir=workdir), tmp_path
    )


@pytest_asyncio.fixture
async def mongo_store(mongodb_uri: str) -> AsyncIterator[MongoStore]:
    """A MongoStore on a database of its own, dropped after the test."""
    database = f"stigmer_test_{uuid.uuid4().hex[:16]}"
    store = await MongoStore.open(mongodb_uri, database=database)
    try:
        yield store
    finally:
        await store.close()
        admin: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            mongodb_uri, serverSelectionTimeoutMS=5000
        )
        try:
            await admin.drop_database(database)
        finally:
            await admin.close()


@pytest_asyncio.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """A SqliteStore in a fresh file."""
    store = await SqliteStore.open(tmp_path / "stigmer.db")
    try:
        yield store
    finally:
        await store.close()


@pytest_asyncio.fixture
async def redis_bus(redis_url: str) -> AsyncIterator[RedisBus]:
    """A RedisBus on the session's Redis."""
    bus = await RedisBus.open(redis_url)
    try:
        yield bus
    finally:
        await bus.close()


@pytest_asyncio.fixture
async def memory_bus() -> AsyncIterator[MemoryBus]:
    """An in-process bus."""
    bus = MemoryBus()
    try:
        yield bus
    finally:
        await bus.close()
