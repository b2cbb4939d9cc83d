"""Deterministic races between coroutines: the first to finish, timeouts, cancellation.

Inside a Temporal workflow, the order in which concurrent work completes must be the same
on replay. ``asyncio.wait`` hands back sets, whose iteration order is not stable across
processes; these helpers register done-callbacks in a fixed order instead, so "the first
to finish" is decided by the event loop alone, which Temporal replays exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from stigmer_runner.dsl.runtime import TaskRuntime

T = TypeVar("T")


async def first_completed(futures: Sequence[asyncio.Future[T]]) -> asyncio.Future[T]:
    """Wait until one of ``futures`` is done and return the first to finish."""
    if not futures:
        raise ValueError("first_completed needs at least one future")
    loop = asyncio.get_running_loop()
    winner: asyncio.Future[asyncio.Future[T]] = loop.create_future()

    def settle(future: asyncio.Future[T]) -> None:
        if not winner.done():
            winner.set_result(future)

    for future in futures:
        future.add_done_callback(settle)
    try:
        return await winner
    finally:
        for future in futures:
            future.remove_done_callback(settle)


async def cancel_and_wait(futures: Sequence[asyncio.Future[Any]]) -> None:
    """Cancel ``futures`` and wait until they have finished (and reported CANCELLED)."""
    for future in futures:
        future.cancel()
    if futures:
        await asyncio.gather(*futures, return_exceptions=True)


async def within(
    runtime: TaskRuntime,
    work: Awaitable[T],
    seconds: float,
    on_timeout: Callable[[], BaseException],
) -> T:
    """Await ``work``, unless a durable timer of ``seconds`` fires first.

    When the timer wins, ``work`` is cancelled (its running tasks report CANCELLED) and
    ``on_timeout()`` is raised. A cancellation from outside cancels both.
    """
    job: asyncio.Future[Any] = asyncio.ensure_future(work)
    timer: asyncio.Future[Any] = asyncio.ensure_future(runtime.sleep(seconds))
    try:
        first: asyncio.Future[Any] = await first_completed([job, timer])
    except BaseException:
        await cancel_and_wait([job, timer])
        raise
    if first is job:
        await cancel_and_wait([timer])
        result: T = job.result()
        return result
    await cancel_and_wait([job])
    timer.result()  # a timer that failed (runtime trouble) says so rather than timing out
    raise on_timeout()
