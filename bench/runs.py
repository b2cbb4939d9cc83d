"""Running executions one at a time and in a burst, whatever the path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench.cpu import CpuMeter
from bench.progress import say
from bench.stats import Burst, Latency


@dataclass
class Timed:
    """Monotonic start and finish of one execution, plus whatever the path noted."""

    started: float
    finished: float
    stored: float | None = None
    """When the system recorded the end, if earlier than the client saw it (Stigmer's store)."""
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.finished - self.started


RunOnce = Callable[[float], Awaitable[Timed]]


async def sequential(
    paths: dict[str, RunOnce], *, warmup: int, runs: int, timeout: float
) -> dict[str, list[Timed]]:
    """Warm up, then time ``runs`` executions of each path, one at a time.

    The paths take turns (bare, Stigmer, bare, ...), so a change in background load
    during the run weighs on both alike.
    """
    for i in range(warmup):
        for run_once in paths.values():
            await run_once(timeout)
        say(f"warm-up {i + 1}/{warmup}")
    timed: dict[str, list[Timed]] = {name: [] for name in paths}
    for i in range(runs):
        for name, run_once in paths.items():
            timed[name].append(await run_once(timeout))
        if (i + 1) % 10 == 0 or i + 1 == runs:
            medians = ", ".join(
                f"{name} {Latency([t.seconds for t in got]).at(50) * 1000:.0f} ms"
                for name, got in timed.items()
            )
            say(f"latency run {i + 1}/{runs}: medians so far {medians}")
    return timed


async def burst(
    run_once: RunOnce, *, count: int, timeout: float, meter: CpuMeter
) -> tuple[Burst, list[Timed]]:
    """Start ``count`` executions at once; throughput over first start → last completion."""
    meter.start()
    began = time.monotonic()
    results = await asyncio.gather(
        *(run_once(timeout) for _ in range(count)), return_exceptions=True
    )
    cpu = meter.stop()
    done = [r for r in results if isinstance(r, Timed)]
    errors = [r for r in results if not isinstance(r, Timed)]
    for error in errors[:3]:
        say(f"  a burst execution failed: {type(error).__name__}: {error}")
    first = min((t.started for t in done), default=began)
    last = max((t.finished for t in done), default=began)
    last_stored = max((t.stored or t.finished for t in done), default=began)
    return (
        Burst(
            count=len(done),
            failed=len(errors),
            window_seconds=last - first,
            stored_window_seconds=last_stored - first,
            latencies=[t.seconds for t in done],
            cpu_seconds=cpu,
        ),
        done,
    )
