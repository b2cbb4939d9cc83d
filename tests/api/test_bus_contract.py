"""The Bus contract, run against Redis and the in-process bus alike."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis

from stigmer_api.bus.base import Bus, execution_channel
from stigmer_api.bus.memory import MemoryBus
from stigmer_api.bus.redis import RedisBus
from stigmer_core.errors import UnavailableError
from tests.services import LocalRedis, free_port


@pytest.fixture(
    params=[pytest.param("redis", marks=pytest.mark.integration), pytest.param("memory")]
)
def bus(request: pytest.FixtureRequest) -> Bus:
    """Each contract test runs once per backend."""
    backend: Bus = request.getfixturevalue(f"{request.param}_bus")
    return backend


def channel() -> str:
    return execution_channel(f"wex-test-{uuid.uuid4().hex}")


async def test_a_message_published_right_after_subscribing_arrives(bus: Bus) -> None:
    name = channel()
    async with bus.subscribe(name) as subscription:
        await bus.publish(name, '{"phase": "IN_PROGRESS"}')

        assert await subscription.get(timeout=5) == '{"phase": "IN_PROGRESS"}'


async def test_messages_arrive_in_order_through_async_iteration(bus: Bus) -> None:
    name = channel()
    sent = [f"message {i}" for i in range(20)]
    async with bus.subscribe(name) as subscription:
        for message in sent:
            await bus.publish(name, message)

        received: list[str] = []
        async with asyncio.timeout(5):
            async for message in subscription:
                received.append(message)
                if len(received) == len(sent):
                    break

    assert received == sent


async def test_every_subscriber_gets_every_message(bus: Bus) -> None:
    name = channel()
    async with bus.subscribe(name) as first, bus.subscribe(name) as second:
        await bus.publish(name, "one")
        await bus.publish(name, "two")

        assert [await first.get(timeout=5), await first.get(timeout=5)] == ["one", "two"]
        assert [await second.get(timeout=5), await second.get(timeout=5)] == ["one", "two"]


async def test_channels_are_separate(bus: Bus) -> None:
    mine, other = channel(), channel()
    async with bus.subscribe(mine) as subscription:
        await bus.publish(other, "not for me")
        await bus.publish(mine, "for me")

        assert await subscription.get(timeout=5) == "for me"
        assert await subscription.get(timeout=0.2) is None


async def test_get_times_out_with_none(bus: Bus) -> None:
    async with bus.subscribe(channel()) as subscription:
        started = time.monotonic()
        assert await subscription.get(timeout=0.3) is None
        assert 0.25 <= time.monotonic() - started < 3
        assert await subscription.get(timeout=0) is None


async def test_nothing_arrives_after_exit_nor_from_before_subscribing(bus: Bus) -> None:
    name = channel()
    async with bus.subscribe(name) as old:
        await bus.publish(name, "unread when the subscription ends")
    await bus.publish(name, "while nobody listens")

    async with bus.subscribe(name) as new:
        await bus.publish(name, "now")
        assert await new.get(timeout=5) == "now"
        assert await new.get(timeout=0.2) is None
        assert await old.get(timeout=0.2) is None
    assert [message async for message in old] == []


async def test_a_waiting_reader_wakes_for_a_later_message(bus: Bus) -> None:
    name = channel()
    async with bus.subscribe(name) as subscription:
        reader = asyncio.create_task(subscription.get(timeout=5))
        await asyncio.sleep(0.1)
        await bus.publish(name, "late")

        assert await reader == "late"


async def test_ping_answers(bus: Bus) -> None:
    await bus.ping()


# --- backend-specific ----------------------------------------------------------------------


@pytest.mark.integration
async def test_redis_unsubscribes_on_exit(redis_bus: RedisBus, redis_url: str) -> None:
    name = channel()
    watcher = Redis.from_url(redis_url, decode_responses=True)
    try:
        async with redis_bus.subscribe(name), redis_bus.subscribe(name):
            # Subscribers of one bus share one connection.
            assert await watcher.pubsub_numsub(name) == [(name, 1)]
        assert await watcher.pubsub_numsub(name) == [(name, 0)]
        # publish returns how many received it: nobody is left.
        assert await watcher.publish(name, "anyone?") == 0
    finally:
        await watcher.aclose()


@pytest.mark.integration
async def test_hundreds_of_watchers_share_one_connection(
    redis_bus: RedisBus, redis_url: str
) -> None:
    """More live SSE watchers than redis-py's pool holds (100) all get every message."""
    names = [channel() for _ in range(3)]
    watcher = Redis.from_url(redis_url, decode_responses=True)
    try:
        async with contextlib.AsyncExitStack() as stack:
            subscriptions = [
                (name, await stack.enter_async_context(redis_bus.subscribe(name)))
                for name in names
                for _ in range(100)
            ]
            for name in names:
                await redis_bus.publish(name, f"to {name}")
            got = await asyncio.gather(*(s.get(timeout=5) for _, s in subscriptions))
            assert got == [f"to {name}" for name, _ in subscriptions]
            # Exactly one connection holds subscriptions, and it holds the three channels.
            subscribed = [c for c in await watcher.client_list() if int(c["sub"]) > 0]
            assert [int(c["sub"]) for c in subscribed] == [3]
    finally:
        await watcher.aclose()


@pytest.mark.integration
async def test_redis_messages_cross_clients(redis_bus: RedisBus, redis_url: str) -> None:
    """The API replica that publishes is rarely the one whose client streams."""
    publisher = await RedisBus.open(redis_url)
    name = channel()
    try:
        async with redis_bus.subscribe(name) as subscription:
            await publisher.publish(name, "from afar")
            assert await subscription.get(timeout=5) == "from afar"
    finally:
        await publisher.close()


@pytest.mark.integration
async def test_redis_unreachable_is_unavailable() -> None:
    with pytest.raises(UnavailableError):
        await RedisBus.open(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=1)


@pytest.mark.integration
async def test_redis_going_away_is_unavailable(redis_server_factory: Any) -> None:
    server: LocalRedis = redis_server_factory()
    bus = await RedisBus.open(server.url, timeout_seconds=1)
    try:
        name = channel()
        async with bus.subscribe(name) as subscription:
            await bus.publish(name, "before")
            assert await subscription.get(timeout=5) == "before"
            server.stop()

            with pytest.raises(UnavailableError):
                await bus.publish(name, "during")
            with pytest.raises(UnavailableError):
                await subscription.get(timeout=1)
        with pytest.raises(UnavailableError):
            await bus.ping()
        with pytest.raises(UnavailableError):
            async with bus.subscribe(name):
                pass

        # Back on the same port, the same bus works again.
        server.start()
        await server.wait_ready_async()
        async with bus.subscribe(name) as subscription:
            await bus.publish(name, "after")
            assert await subscription.get(timeout=5) == "after"
    finally:
        await bus.close()


async def test_memory_bus_closed_is_unavailable() -> None:
    bus = MemoryBus()
    await bus.close()

    with pytest.raises(UnavailableError):
        await bus.publish(channel(), "x")
    with pytest.raises(UnavailableError):
        await bus.ping()
    with pytest.raises(UnavailableError):
        async with bus.subscribe(channel()):
            pass
