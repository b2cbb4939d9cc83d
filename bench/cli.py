"""``python bench/latency_throughput.py``: Stigmer against the bare Temporal path.

Both paths run on the same Temporal server in one invocation: latency one execution at a
time (the paths taking turns), then throughput in bursts of executions started together.
Progress goes to stderr, results to stdout (a table, or JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pymongo import MongoClient
from temporalio.client import Client
from tests.e2e.fleet import Fleet

from bench.bare_path import BarePath, WorkerProcess
from bench.cpu import CpuMeter, listener_pid
from bench.environment import (
    Endpoints,
    NotLoopbackError,
    check_flags,
    describe,
    provide,
    unwind_on_sigterm,
)
from bench.progress import say
from bench.runs import Timed, burst, sequential
from bench.stats import Burst, Latency, PathResult, as_json, render_table
from bench.stigmer_path import CREATE_RETURNED, STAGES, StigmerPath, http_client, start_fleet
from bench.trace import median_run, timeline
from stigmer_core.api_client import StigmerClient


@dataclass
class Options:
    runs: int
    burst: int
    bursts: int
    warmup: int
    timeout: float
    temporal: str | None
    mongodb: str | None
    redis: str | None
    json: bool
    trace: bool
    save: Path | None
    keep: bool
    fleet_env: list[str]


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python bench/latency_throughput.py",
        description="Latency and burst throughput of Stigmer against the bare Temporal path.",
    )
    parser.add_argument("--runs", type=positive, default=50, help="timed runs per path (50)")
    parser.add_argument("--burst", type=positive, default=100, help="executions per burst (100)")
    parser.add_argument(
        "--bursts", type=positive, default=1, help="burst rounds per path; the median counts (1)"
    )
    parser.add_argument("--warmup", type=non_negative, default=5, help="untimed runs first (5)")
    parser.add_argument(
        "--timeout", type=seconds, default=120.0, help="seconds one execution may take (120)"
    )
    parser.add_argument("--temporal", help="use this Temporal frontend (host:port)")
    parser.add_argument("--mongodb", help="use this MongoDB/FerretDB (mongodb://...)")
    parser.add_argument("--redis", help="use this Redis (redis://...)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="also print the timeline (Temporal history + stored stamps) of each path's "
        "median latency run",
    )
    parser.add_argument("--save", type=Path, help="also write the JSON results to this file")
    parser.add_argument(
        "--fleet-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the API, orchestrator and runner (repeatable); "
        "{workdir} in VALUE becomes the run's work folder",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder with the logs")
    args = parser.parse_args(argv)
    try:
        check_flags(temporal=args.temporal, mongodb=args.mongodb, redis=args.redis)
    except NotLoopbackError as exc:
        parser.error(str(exc))
    for item in args.fleet_env:
        if "=" not in item or not item.partition("=")[0]:
            parser.error(f"--fleet-env: expected KEY=VALUE, got {item!r}")
    return Options(**vars(args))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when it ran (whatever the verdicts), 1 on error, 130 on Ctrl-C."""
    options = parse(argv)
    unwind_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="stigmer-bench-"))
    keep = options.keep
    try:
        with contextlib.ExitStack() as stack:
            endpoints = provide(
                stack,
                workdir=workdir,
                temporal=options.temporal,
                mongodb=options.mongodb,
                redis=options.redis,
            )
            fleet_env = dict(
                item.replace("{workdir}", str(workdir)).split("=", 1) for item in options.fleet_env
            )
            bare_queues = BarePath.queues()
            workers = start_bare_workers(stack, endpoints, bare_queues, workdir)
            fleet = Fleet(
                temporal_address=endpoints.temporal,
                mongodb_uri=endpoints.mongodb,
                redis_url=endpoints.redis,
                workdir=workdir,
                # The production interval, not the tests' quick one: a reconciler scanning
                # PENDING executions every 0.5 s would load the store during bursts.
                extra_env={"STIGMER_RECONCILE_INTERVAL_SECONDS": "5", **fleet_env},
            )
            if "ferretdb" not in endpoints.started:
                stack.callback(drop_database, endpoints.mongodb, fleet.database)
            stack.callback(fleet.stop)
            say("starting the Stigmer fleet (API, orchestrator, runner)")
            start_fleet(fleet)
            processes = process_ids(endpoints, workers, fleet)
            result = asyncio.run(measure(options, endpoints, fleet, bare_queues, processes))
            if any(r.burst.failed for r in result[:2]):
                keep = True  # the logs say why executions failed
            say("stopping everything this run started")
    except KeyboardInterrupt:
        say("interrupted: stopped everything this run started")
        return 130
    except Exception as exc:
        keep = True  # the logs say why
        say(f"the benchmark failed: {type(exc).__name__}: {exc}")
        return 1
    finally:
        if keep:
            say(f"logs are in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    bare, stigmer, environment = result
    document = json.dumps(as_json(bare, stigmer, environment), indent=2)
    if options.save is not None:
        options.save.write_text(document + "\n")
    if options.json:
        print(document)
    else:
        print(render_environment(environment, options))
        print(render_table(bare, stigmer))
    return 0


def start_bare_workers(
    stack: contextlib.ExitStack, endpoints: Endpoints, queues: tuple[str, str], workdir: Path
) -> list[WorkerProcess]:
    """The bare path's workflow worker (queue A) and activity worker (queue B)."""
    workers = [
        WorkerProcess(
            role=role,
            queue=queue,
            temporal=endpoints.temporal,
            log_path=workdir / f"bare-{role}.log",
        )
        for role, queue in zip(("workflow", "activity"), queues, strict=True)
    ]
    say(f"starting the bare workers on {queues[0]} and {queues[1]}")
    for worker in workers:
        stack.callback(worker.stop)
        worker.start()
    for worker in workers:
        worker.wait_ready()
    return workers


def process_ids(endpoints: Endpoints, workers: list[WorkerProcess], fleet: Fleet) -> dict[str, int]:
    """Every process whose CPU time the bursts account for, by name."""
    processes = {"benchmark client": os.getpid()}
    processes.update({f"bare {w.role} worker": w.pid for w in workers})
    processes.update({p.name: p.pid for p in fleet.processes})
    for name, port in (
        ("temporal", int(endpoints.temporal.rpartition(":")[2])),
        ("mongodb", urlsplit(endpoints.mongodb).port or 27017),
        ("redis", urlsplit(endpoints.redis).port or 6379),
    ):
        pid = listener_pid(port)
        if pid is not None:
            processes[name] = pid
    return processes


def drop_database(uri: str, database: str) -> None:
    """Leave a server we were given as we found it."""
    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        client.drop_database(database)
    except Exception as exc:  # cleanup must not hide the benchmark's own outcome
        say(f"could not drop database {database}: {exc}")
    finally:
        client.close()


async def measure(
    options: Options,
    endpoints: Endpoints,
    fleet: Fleet,
    bare_queues: tuple[str, str],
    processes: dict[str, int],
) -> tuple[PathResult, PathResult, dict[str, Any]]:
    client = await Client.connect(endpoints.temporal)
    environment = await describe(client, endpoints)
    bare = BarePath(client=client, workflow_queue=bare_queues[0], activity_queue=bare_queues[1])
    async with http_client(fleet.api_url, connections=2 * options.burst + 20) as http:
        stigmer = await StigmerPath.prepare(api=StigmerClient(http=http), temporal=client)
        say(f"latency: {options.warmup} warm-up and {options.runs} timed runs per path")
        timed = await sequential(
            {"bare": bare.run_once, "stigmer": stigmer.run_once},
            warmup=options.warmup,
            runs=options.runs,
            timeout=options.timeout,
        )
        traces: dict[str, list[tuple[float, str]]] = {}
        if options.trace:
            for name, labels in (("bare", ["bare"]), ("stigmer", ["invoke", "dsl"])):
                traces[name] = await timeline(client, median_run(timed[name]), labels=labels)
        bursts: dict[str, list[Burst]] = {"bare": [], "stigmer": []}
        meter = CpuMeter(processes)
        for round_ in range(options.bursts):
            # Settling (untimed) after each burst keeps one burst's tail out of the next.
            for name, run_once in (("bare", bare.run_once), ("stigmer", stigmer.run_unsettled)):
                say(f"burst {round_ + 1}/{options.bursts}: {options.burst} {name} executions")
                got, _ = await burst(
                    run_once, count=options.burst, timeout=options.timeout, meter=meter
                )
                say(f"  {got.count} done, {got.failed} failed, {got.per_second:.1f}/s")
                bursts[name].append(got)
                await stigmer.settle()
    environment["load_average_at_end"] = list(os.getloadavg())
    environment["command"] = " ".join(["python", "bench/latency_throughput.py", *sys.argv[1:]])
    environment["fleet_env"] = options.fleet_env
    return (
        PathResult(
            "bare",
            Latency([t.seconds for t in timed["bare"]]),
            median_burst(bursts["bare"]),
            trace=traces.get("bare", []),
        ),
        PathResult(
            "stigmer",
            Latency([t.seconds for t in timed["stigmer"]]),
            median_burst(bursts["stigmer"]),
            breakdown=median_stages(timed["stigmer"]),
            trace=traces.get("stigmer", []),
        ),
        environment,
    )


def median_burst(rounds: list[Burst]) -> Burst:
    """The round with the median throughput (the lower middle one for an even count)."""
    ordered = sorted(rounds, key=lambda b: b.per_second)
    return ordered[(len(ordered) - 1) // 2]


def median_stages(timed: list[Timed]) -> dict[str, float]:
    """Median seconds per stage over the timed Stigmer runs."""
    stages: dict[str, float] = {}
    for stage in (*STAGES, CREATE_RETURNED):
        # NaN: a stamp the run did not store; it has no say in the median.
        values = [t.notes["stages"][stage] for t in timed]
        values = [v for v in values if not math.isnan(v)]
        if values:
            stages[stage] = statistics.median(values)
    return stages


def render_environment(environment: dict[str, Any], options: Options) -> str:
    servers = environment["servers"]
    started = ", ".join(servers["started_by_benchmark"]) or "none"
    return "\n".join(
        [
            f"machine: {environment['cpus']} CPUs ({environment['cpu_model']}), "
            f"Python {environment['python']}, load average at start "
            f"{environment['load_average_at_start'][0]:.2f}, at end "
            f"{environment['load_average_at_end'][0]:.2f}",
            f"Temporal server {environment['temporal_server']}, "
            f"temporalio {environment['temporalio_sdk']}; servers started here: {started}",
            f"runs: {options.warmup} warm-up + {options.runs} timed per path, "
            f"{options.bursts} burst(s) of {options.burst}",
            "",
        ]
    )
