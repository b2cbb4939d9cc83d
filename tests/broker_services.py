"""Real MQTT, AMQP and Kafka brokers for the ``call: asyncapi`` tests.

The same layers as ``tests/services.py``, per session fixture:

- ``mqtt_url``: ``STIGMER_TEST_MQTT_URL`` (``mqtt://host:port``) → an ``eclipse-mosquitto:2``
  container → Debian's ``mosquitto`` with a config file of its own on a free port;
- ``amqp_url``: ``STIGMER_TEST_AMQP_URL`` (``amqp://user:password@host:port/``) → a
  ``rabbitmq:3`` container → Debian's ``rabbitmq-server`` (its start script, not the
  wrapper) as a node of its own: free AMQP, distribution and epmd ports, its own epmd
  (started here, so stopped by its PID), Mnesia and log directories;
- ``kafka_bootstrap``: ``STIGMER_TEST_KAFKA_BOOTSTRAP`` (``host:port``) → a
  ``confluentinc/cp-kafka`` container in KRaft mode → Kafka's jars (fetched by
  ``.ci/services.sh`` into ``KAFKA_LIBS``) run with ``java`` as a single KRaft node;
- else ``unavailable(reason)``.

Every local server is stopped by its PID when the session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.services import (
    LocalServer,
    find_binary,
    free_port,
    provide,
    run_async,
    wait_for,
)

MQTT_ENV = "STIGMER_TEST_MQTT_URL"
AMQP_ENV = "STIGMER_TEST_AMQP_URL"
KAFKA_ENV = "STIGMER_TEST_KAFKA_BOOTSTRAP"
KAFKA_VERSION = "3.9.1"
RABBITMQ_SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def kafka_libs() -> Path:
    """Where ``.ci/services.sh`` puts Kafka's jars (``KAFKA_LIBS`` overrides)."""
    default = Path.home() / ".cache" / "stigmer" / f"kafka-{KAFKA_VERSION}" / "libs"
    return Path(os.environ.get("KAFKA_LIBS") or default)


def _executable(path: Path) -> str | None:
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def tcp_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --- local servers ----------------------------------------------------------------------


class LocalMosquitto(LocalServer):
    """mosquitto with anonymous access and no persistence, on 127.0.0.1 only."""

    binary_name = "mosquitto"

    @classmethod
    def locate(cls) -> str | None:
        return find_binary(cls.binary_name) or _executable(Path("/usr/sbin/mosquitto"))

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def command(self, binary: str) -> list[str]:
        config = self.workdir / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            # Run as root, mosquitto would switch to its own user otherwise.
            f"user {getpass.getuser()}\n"
            "log_dest stdout\n"
        )
        return [binary, "-c", str(config)]

    def probe(self) -> bool:
        return tcp_answers("127.0.0.1", self.port)


class LocalRabbitMQ(LocalServer):
    """A RabbitMQ node of its own, with an epmd of its own on a free port."""

    binary_name = "rabbitmq-server"

    def __init__(self, *, port: int, workdir: Path) -> None:
        super().__init__(port=port, workdir=workdir)
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"stigmer-{uuid.uuid4().hex[:8]}@localhost"
        self._epmd: subprocess.Popen[bytes] | None = None
        self._epmd_log: IO[bytes] | None = None

    @classmethod
    def locate(cls) -> str | None:
        if shutil.which("epmd") is None:
            return None
        return _executable(RABBITMQ_SCRIPT)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def command(self, binary: str) -> list[str]:
        (self.workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            "disk_free_limit.absolute = 10MB\n"
        )
        (self.workdir / "enabled_plugins").write_text("[].\n")
        return [binary]

    def environment(self) -> dict[str, str]:
        work = str(self.workdir)
        return {
            **os.environ,
            "HOME": work,  # the Erlang cookie goes here
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",
            "RABBITMQ_CONFIG_FILE": f"{work}/rabbitmq.conf",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{work}/enabled_plugins",
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": f"{work}/mnesia",
            "RABBITMQ_LOG_BASE": f"{work}/log",
            "RABBITMQ_PID_FILE": f"{work}/rabbitmq.pid",
            "RABBITMQ_LOGS": "-",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self) -> None:
        """Start our own epmd first: the node registers with it instead of daemonizing
        one that no PID of ours would stop."""
        if self.running:
            return
        epmd = shutil.which("epmd")
        if epmd is None:
            raise FileNotFoundError("epmd is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._epmd is None or self._epmd.poll() is not None:
            self._epmd_log = (self.workdir / "epmd.log").open("ab")
            self._epmd = subprocess.Popen(
                [epmd, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                stdin=subprocess.DEVNULL,
                stdout=self._epmd_log,
                stderr=subprocess.STDOUT,
            )
            wait_for(lambda: tcp_answers("127.0.0.1", self.epmd_port), "epmd", timeout=10.0)
        super().start()

    def stop(self, grace_seconds: float = 30.0) -> None:
        super().stop(grace_seconds)
        epmd, self._epmd = self._epmd, None
        if epmd is not None and epmd.poll() is None:
            epmd.terminate()
            try:
                epmd.wait(5)
            except subprocess.TimeoutExpired:
                epmd.kill()
                epmd.wait()
        if self._epmd_log is not None:
            self._epmd_log.close()
            self._epmd_log = None

    def probe(self) -> bool:
        # The node opens its AMQP listener only once it has booted.
        return tcp_answers("127.0.0.1", self.port)


class LocalKafka(LocalServer):
    """Apache Kafka as one KRaft node (broker and controller) from its jars."""

    binary_name = "java"

    def __init__(self, *, port: int, workdir: Path) -> None:
        super().__init__(port=port, workdir=workdir)
        self.controller_port = free_port()

    @classmethod
    def locate(cls) -> str | None:
        if not (kafka_libs() / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file():
            return None
        return shutil.which("java")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def describe(self) -> str:
        return f"kafka on port {self.port} (pid {self.pid})"

    def command(self, binary: str) -> list[str]:
        properties = self.workdir / "server.properties"
        properties.write_text(
            "process.roles=broker,controller\n"
            "node.id=1\n"
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}\n"
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}\n"
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}\n"
            "controller.listener.names=CONTROLLER\n"
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
            "inter.broker.listener.name=PLAINTEXT\n"
            f"log.dirs={self.workdir / 'data'}\n"
            "num.partitions=1\n"
            "offsets.topic.replication.factor=1\n"
            "transaction.state.log.replication.factor=1\n"
            "transaction.state.log.min.isr=1\n"
            "group.initial.rebalance.delay.ms=0\n"
            "auto.create.topics.enable=true\n"
        )
        classpath = f"{kafka_libs()}/*"
        if not (self.workdir / "data" / "meta.properties").exists():
            cluster = uuid.uuid4().hex[:22]
            subprocess.run(
                [binary, "-cp", classpath, "kafka.tools.StorageTool", "format",
                 "-t", cluster, "-c", str(properties)],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        return [binary, "-Xmx512m", "-cp", classpath, "kafka.Kafka", str(properties)]

    def probe(self) -> bool:
        return tcp_answers("127.0.0.1", self.port) and kafka_answers(self.bootstrap)


def kafka_answers(bootstrap: str, timeout: float = 10.0) -> bool:
    """Whether a Kafka broker at ``bootstrap`` serves metadata."""
    from aiokafka import AIOKafkaProducer

    async def check() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            async with asyncio.timeout(timeout):
                await producer.start()
        finally:
            await producer.stop()

    try:
        run_async(check)
    except Exception:
        return False
    return True


# --- containers -------------------------------------------------------------------------


def _mosquitto_container(stack: contextlib.ExitStack) -> str:
    from testcontainers.core.container import DockerContainer

    container = (
        DockerContainer("eclipse-mosquitto:2")
        .with_command("mosquitto -c /mosquitto-no-auth.conf")
        .with_exposed_ports(1883)
    )
    stack.enter_context(container)
    host, port = container.get_container_host_ip(), int(container.get_exposed_port(1883))
    wait_for(lambda: tcp_answers(host, port), "mosquitto container", timeout=60.0)
    return f"mqtt://{host}:{port}"


def _rabbitmq_container(stack: contextlib.ExitStack) -> str:
    try:
        from testcontainers.community.rabbitmq import RabbitMqContainer
    except ImportError:
        from testcontainers.rabbitmq import RabbitMqContainer

    container = stack.enter_context(RabbitMqContainer("rabbitmq:3"))
    host, port = container.get_container_host_ip(), int(container.get_exposed_port(5672))
    wait_for(lambda: tcp_answers(host, port), "RabbitMQ container", timeout=120.0)
    return f"amqp://guest:guest@{host}:{port}/"


def _kafka_container(stack: contextlib.ExitStack) -> str:
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:
        from testcontainers.kafka import KafkaContainer

    container = stack.enter_context(KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft())
    bootstrap: str = container.get_bootstrap_server()
    wait_for(lambda: kafka_answers(bootstrap), "Kafka container", timeout=120.0)
    return bootstrap


# --- session fixtures -------------------------------------------------------------------


@pytest.fixture(scope="session")
def mqtt_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mqtt://host:port`` of an MQTT broker that lets anyone in."""
    with contextlib.ExitStack() as stack:
        yield provide(
            stack,
            env_var=MQTT_ENV,
            container=_mosquitto_container,
            local=lambda: LocalMosquitto(
                port=free_port(), workdir=tmp_path_factory.mktemp("mosquitto")
            ),
            endpoint=lambda server: server.url,
            kind=LocalMosquitto,
        )


@pytest.fixture(scope="session")
def amqp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``amqp://user:password@host:port/`` of a RabbitMQ node."""
    with contextlib.ExitStack() as stack:
        yield provide(
            stack,
            env_var=AMQP_ENV,
            container=_rabbitmq_container,
            local=lambda: LocalRabbitMQ(port=free_port(), workdir=tmp_path_factory.mktemp("rmq")),
            endpoint=lambda server: server.url,
            kind=LocalRabbitMQ,
        )


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a Kafka broker that creates topics on first use."""
    with contextlib.ExitStack() as stack:
        yield provide(
            stack,
            env_var=KAFKA_ENV,
            container=_kafka_container,
            local=lambda: LocalKafka(port=free_port(), workdir=tmp_path_factory.mktemp("kafka")),
            endpoint=lambda server: server.bootstrap,
            kind=LocalKafka,
        )
