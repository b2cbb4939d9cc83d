"""Latency percentiles, burst throughput, and the comparison against the targets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

PERCENTILES = (50, 95, 99)
LATENCY_TARGET = 2.0
"""Stigmer's latency may be at most this many times the bare path's (each percentile)."""
THROUGHPUT_TARGET = 0.5
"""Stigmer's burst throughput must be at least this fraction of the bare path's."""


def percentile(samples: Sequence[float], p: float) -> float:
    """The ``p``-th percentile with linear interpolation between ranks (numpy's default)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Latency:
    """Seconds per execution, one at a time."""

    samples: list[float]

    def at(self, p: float) -> float:
        return percentile(self.samples, p)

    def summary(self) -> dict[str, float]:
        values = {f"p{p}": self.at(p) for p in PERCENTILES}
        values["mean"] = sum(self.samples) / len(self.samples)
        values["min"] = min(self.samples)
        values["max"] = max(self.samples)
        return values


@dataclass
class Burst:
    """``count`` executions started together: from the first start to the last completion."""

    count: int
    failed: int
    window_seconds: float
    stored_window_seconds: float | None = None
    """First start → last completion as stored by the system (not as a client saw it)."""
    latencies: list[float] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    """CPU time each process used during the burst (the benchmark client included)."""

    @property
    def per_second(self) -> float:
        return self.count / self.window_seconds if self.window_seconds > 0 else 0.0

    @property
    def stored_per_second(self) -> float:
        window = self.stored_window_seconds or self.window_seconds
        return self.count / window if window > 0 else 0.0


@dataclass
class PathResult:
    name: str
    latency: Latency
    burst: Burst
    breakdown: dict[str, float] = field(default_factory=dict)
    """Median seconds per stage of one execution (Stigmer only), from its timestamps."""
    trace: list[tuple[float, str]] = field(default_factory=list)
    """Timeline of the median latency run (with --trace): milliseconds, event."""


@dataclass
class Verdict:
    metric: str
    ratio: float
    target: str
    passed: bool


def verdicts(bare: PathResult, stigmer: PathResult) -> list[Verdict]:
    """Stigmer/bare per latency percentile (≤ target) and for throughput (≥ target)."""
    found = [
        Verdict(
            metric=f"latency p{p}",
            ratio=stigmer.latency.at(p) / bare.latency.at(p),
            target=f"<= {LATENCY_TARGET:.1f}x",
            passed=stigmer.latency.at(p) / bare.latency.at(p) <= LATENCY_TARGET,
        )
        for p in PERCENTILES
    ]
    ratio = stigmer.burst.per_second / bare.burst.per_second if bare.burst.per_second else 0.0
    found.append(
        Verdict(
            metric="throughput",
            ratio=ratio,
            target=f">= {THROUGHPUT_TARGET:.1f}x",
            passed=ratio >= THROUGHPUT_TARGET and stigmer.burst.failed == 0,
        )
    )
    return found


def render_table(bare: PathResult, stigmer: PathResult) -> str:
    """The side-by-side table printed on stdout."""
    found = {v.metric: v for v in verdicts(bare, stigmer)}
    header = f"{'metric':<22}{'bare Temporal':>15}{'Stigmer':>12}{'ratio':>9}  {'target':<9}result"
    lines = [header, "-" * len(header)]
    for p in PERCENTILES:
        v = found[f"latency p{p}"]
        lines.append(
            f"{f'latency p{p} (ms)':<22}{bare.latency.at(p) * 1000:>15.1f}"
            f"{stigmer.latency.at(p) * 1000:>12.1f}{v.ratio:>8.2f}x  {v.target:<9}"
            f"{'PASS' if v.passed else 'FAIL'}"
        )
    v = found["throughput"]
    lines.append(
        f"{f'burst of {bare.burst.count} (exec/s)':<22}{bare.burst.per_second:>15.1f}"
        f"{stigmer.burst.per_second:>12.1f}{v.ratio:>8.2f}x  {v.target:<9}"
        f"{'PASS' if v.passed else 'FAIL'}"
    )
    lines.append(
        f"{'burst window (s)':<22}{bare.burst.window_seconds:>15.2f}"
        f"{stigmer.burst.window_seconds:>12.2f}"
    )
    lines.append(
        f"{'  by stored end (/s)':<22}{bare.burst.stored_per_second:>15.1f}"
        f"{stigmer.burst.stored_per_second:>12.1f}"
        f"{_ratio(stigmer.burst.stored_per_second, bare.burst.stored_per_second):>9}"
    )
    lines.append(
        f"{'burst p50 latency (ms)':<22}{_p50_ms(bare.burst.latencies):>15}"
        f"{_p50_ms(stigmer.burst.latencies):>12}"
    )
    if bare.burst.failed or stigmer.burst.failed:
        lines.append(f"{'burst failures':<22}{bare.burst.failed:>15}{stigmer.burst.failed:>12}")
    names = list(dict.fromkeys([*bare.burst.cpu_seconds, *stigmer.burst.cpu_seconds]))
    if names:
        lines.append("")
        lines.append("CPU seconds used during the burst, per process:")
        for name in names:
            lines.append(
                f"  {name:<20}{_cpu(bare.burst.cpu_seconds, name):>15}"
                f"{_cpu(stigmer.burst.cpu_seconds, name):>12}"
            )
        lines.append(
            f"  {'total':<20}{sum(bare.burst.cpu_seconds.values()):>15.2f}"
            f"{sum(stigmer.burst.cpu_seconds.values()):>12.2f}"
        )
    if stigmer.breakdown:
        lines.append("")
        lines.append("Stigmer, median time per stage of one execution (ms):")
        for stage, seconds in stigmer.breakdown.items():
            lines.append(f"  {stage:<58}{seconds * 1000:>8.1f}")
    for result in (bare, stigmer):
        if result.trace:
            lines.append("")
            lines.append(f"{result.name}: timeline of the median latency run")
            lines.extend(f"  {ms:8.1f} ms  {what}" for ms, what in result.trace)
    return "\n".join(lines)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def _p50_ms(samples: list[float]) -> str:
    return f"{percentile(samples, 50) * 1000:.1f}" if samples else "-"


def _cpu(used: dict[str, float], name: str) -> str:
    return f"{used[name]:.2f}" if name in used else "-"


def as_json(bare: PathResult, stigmer: PathResult, environment: dict[str, Any]) -> dict[str, Any]:
    """Everything measured, for machines."""

    def one(result: PathResult) -> dict[str, Any]:
        return {
            "latency_seconds": result.latency.summary(),
            "latency_samples": result.latency.samples,
            "burst": {
                "count": result.burst.count,
                "failed": result.burst.failed,
                "window_seconds": result.burst.window_seconds,
                "executions_per_second": result.burst.per_second,
                "stored_window_seconds": result.burst.stored_window_seconds,
                "executions_per_second_by_stored_end": result.burst.stored_per_second,
                "cpu_seconds": result.burst.cpu_seconds,
                "p50_latency_seconds": percentile(result.burst.latencies, 50)
                if result.burst.latencies
                else None,
            },
            "breakdown_median_seconds": result.breakdown,
            "trace_ms": [{"at_ms": ms, "event": what} for ms, what in result.trace],
        }

    return {
        "environment": environment,
        "bare": one(bare),
        "stigmer": one(stigmer),
        "verdicts": [asdict(v) for v in verdicts(bare, stigmer)],
    }
