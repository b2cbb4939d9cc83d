"""DSL workloads on the whole fleet: a long ``for`` loop and a wide ``fork`` of HTTP calls.

Run from the repository root::

    python bench/dsl_workloads.py [--iterations 1000] [--branches 50] [--repeat 3]
        [--temporal ADDR --mongodb URI --redis URL] [--fleet-env KEY=VALUE ...] [--json]

(a) ``for`` over ``--iterations`` items whose body is one ``set`` task; (b) a ``fork`` of
``--branches`` branches, each one ``call: http`` GET to a local HTTP server (the e2e stub).
Each run is timed from the ``create_execution`` call to COMPLETED seen on the SSE stream;
the runner process's resident memory is sampled every 50 ms meanwhile, and its VmHWM (peak
RSS since it started) read from /proc afterwards. The target for (a) is under 5 s with
flat memory. A development tool, not a test: see docs/performance.md, "DSL workloads".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Run as a script: the repository root holds the bench and tests packages it imports.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from tests.e2e.fleet import USER_TOKEN, Fleet
from tests.e2e.stub_server import StubServer

from bench.cli import drop_database
from bench.environment import Endpoints, check_flags, describe, provide, unwind_on_sigterm
from bench.progress import say
from bench.stigmer_path import start_fleet
from stigmer_core.api_client import StigmerClient
from stigmer_core.model import ExecutionPhase, WorkflowExecution
from stigmer_core.temporal_contracts import dsl_workflow_id

FOR_TARGET_SECONDS = 5.0
SAMPLE_SECONDS = 0.05

HEADER = """\
document:
  dsl: '1.0.0'
  namespace: bench
  name: {name}
  version: '1.0.0'
"""

FOR_WORKFLOW = (
    HEADER
    + """\
do:
  - loop:
      for:
        in: ${{ [range(0; {iterations})] }}
      do:
        - step:
            set:
              n: ${{ .n + 1 }}
"""
)

FORK_BRANCH = """\
          - b{index}:
              call: http
              with:
                method: get
                endpoint: {url}/pets/{index}
"""

FORK_WORKFLOW = (
    HEADER
    + """\
do:
  - fanOut:
      fork:
        branches:
{branches}"""
)


@dataclass
class Measurement:
    """One execution of one workload."""

    seconds: float
    rss_before_mb: float
    rss_peak_mb: float
    rss_after_mb: float
    vmhwm_mb: float | None
    task_entries: int
    history_events: int
    runs_in_chain: int
    report_markers: int
    """Local activities recorded (status reports, each one API call)."""
    workflow_tasks: int
    dsl_run_seconds: float
    """First to last event of the DSL workflow's history (all runs of the chain)."""


@dataclass
class Workload:
    name: str
    size: int
    runs: list[Measurement] = field(default_factory=list)

    def median_seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)


class MemorySampler:
    """Samples a process's RSS in a thread (psutil when installed, else /proc)."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._stop = threading.Event()
        self.peak_kb = 0
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> MemorySampler:
        self.peak_kb = rss_kb(self._pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.peak_kb = max(self.peak_kb, rss_kb(self._pid))


def rss_kb(pid: int) -> int:
    try:
        import psutil  # type: ignore[import-untyped,import-not-found,unused-ignore]

        return int(psutil.Process(pid).memory_info().rss // 1024)
    except ImportError:
        return _status_kb(pid, "VmRSS") or 0


def _status_kb(pid: int, key: str) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    return None


async def run_once(
    api: StigmerClient, temporal: Client, workflow_id: str, given: Any, runner_pid: int
) -> tuple[WorkflowExecution, Measurement]:
    before = rss_kb(runner_pid)
    with MemorySampler(runner_pid) as sampler:
        started = time.monotonic()
        execution = await api.create_execution(workflow_id=workflow_id, input=given)
        final: WorkflowExecution | None = None
        async for snapshot in api.watch_execution(execution.metadata.id):
            final = snapshot
            if snapshot.status.phase.terminal:
                break
        seconds = time.monotonic() - started
    if final is None or final.status.phase is not ExecutionPhase.COMPLETED:
        status = final.status if final else None
        raise RuntimeError(f"execution {execution.metadata.id} did not complete: {status}")
    shape = await history_shape(temporal, dsl_workflow_id(execution.metadata.id))
    hwm = _status_kb(runner_pid, "VmHWM")
    return final, Measurement(
        seconds=seconds,
        rss_before_mb=before / 1024,
        rss_peak_mb=sampler.peak_kb / 1024,
        rss_after_mb=rss_kb(runner_pid) / 1024,
        vmhwm_mb=hwm / 1024 if hwm is not None else None,
        task_entries=len(final.status.tasks),
        **shape,
    )


async def history_shape(temporal: Client, workflow_id: str) -> dict[str, Any]:
    """The DSL workflow's history over every run of its continue-as-new chain."""
    handle = temporal.get_workflow_handle(workflow_id)
    with contextlib.suppress(Exception):
        await handle.result()  # the status can be stored before the workflow task closes
    run_id: str | None = (await handle.describe()).run_id
    events: list[Any] = []
    runs = 0
    while run_id is not None and runs < 1000:
        history = await temporal.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        events = list(history.events) + events
        runs += 1
        first = history.events[0].workflow_execution_started_event_attributes
        run_id = first.continued_execution_run_id or None
    names = [EventType.Name(event.event_type) for event in events]
    times = [event.event_time.ToDatetime().timestamp() for event in events]
    return {
        "history_events": len(events),
        "runs_in_chain": runs,
        "report_markers": names.count("EVENT_TYPE_MARKER_RECORDED"),
        "workflow_tasks": names.count("EVENT_TYPE_WORKFLOW_TASK_COMPLETED"),
        "dsl_run_seconds": max(times) - min(times) if times else 0.0,
    }


async def measure(options: argparse.Namespace, fleet: Fleet, stub: StubServer) -> dict[str, Any]:
    temporal = await Client.connect(fleet.env["TEMPORAL_HOST_PORT"])
    runner = next(p for p in fleet.processes if p.name == "runner")
    async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
        environment = await describe_fleet(temporal, fleet)
        workloads = [
            Workload("for", options.iterations),
            Workload("fork", options.branches),
        ]
        for workload in workloads:
            warmup = await register(api, workload.name, 3, stub.url)
            await run_once(api, temporal, warmup, {"n": 0}, runner.pid)
            workflow_id = await register(api, workload.name, workload.size, stub.url)
            for attempt in range(options.repeat):
                final, measurement = await run_once(
                    api, temporal, workflow_id, {"n": 0}, runner.pid
                )
                check_output(workload, final.status.output)
                workload.runs.append(measurement)
                say(
                    f"{workload.name} x{workload.size} run {attempt + 1}: "
                    f"{measurement.seconds:.2f} s, runner RSS {measurement.rss_before_mb:.0f} -> "
                    f"peak {measurement.rss_peak_mb:.0f} MB, {measurement.history_events} "
                    f"history events in {measurement.runs_in_chain} run(s), "
                    f"{measurement.report_markers} reports, {measurement.workflow_tasks} "
                    f"workflow tasks, DSL workflow {measurement.dsl_run_seconds:.2f} s"
                )
    return {"environment": environment, "workloads": workloads}


async def describe_fleet(temporal: Client, fleet: Fleet) -> dict[str, Any]:
    endpoints = Endpoints(
        temporal=fleet.env["TEMPORAL_HOST_PORT"],
        mongodb=fleet.mongodb_uri,
        redis=fleet.redis_url,
        started=[],
    )
    return await describe(temporal, endpoints)


async def register(api: StigmerClient, kind: str, size: int, url: str) -> str:
    name = f"bench-{kind}-{size}-{uuid.uuid4().hex[:8]}"
    if kind == "for":
        document = FOR_WORKFLOW.format(name=name, iterations=size)
    else:
        branches = "".join(FORK_BRANCH.format(index=i, url=url) for i in range(size))
        document = FORK_WORKFLOW.format(name=name, branches=branches)
    workflow = await api.register_workflow(document)
    return workflow.metadata.id


def check_output(workload: Workload, output: Any) -> None:
    if workload.name == "for":
        expected: Any = {"n": workload.size}
        if output != expected:
            raise RuntimeError(f"for x{workload.size}: output {output!r}, expected {expected!r}")
    elif not (isinstance(output, list) and len(output) == workload.size):
        raise RuntimeError(f"fork x{workload.size}: output is not {workload.size} responses")


def as_json(result: dict[str, Any]) -> dict[str, Any]:
    workloads: list[Workload] = result["workloads"]
    body: dict[str, Any] = {"environment": result["environment"], "workloads": {}}
    for workload in workloads:
        entry: dict[str, Any] = {
            "size": workload.size,
            "median_seconds": workload.median_seconds(),
            "max_rss_peak_mb": max(r.rss_peak_mb for r in workload.runs),
            "runs": [asdict(r) for r in workload.runs],
        }
        if workload.name == "for":
            entry["target_seconds"] = FOR_TARGET_SECONDS
            entry["verdict"] = "PASS" if entry["median_seconds"] < FOR_TARGET_SECONDS else "FAIL"
        body["workloads"][workload.name] = entry
    return body


def render(body: dict[str, Any]) -> str:
    env = body["environment"]
    lines = [
        f"machine: {env['cpus']} CPUs ({env['cpu_model']}), Python {env['python']}, "
        f"Temporal {env['temporal_server']}, SDK {env['temporalio_sdk']}",
        "",
        "| workload | median s | runs (s) | runner RSS before -> peak MB | VmHWM MB "
        "| status entries | history events (runs) | reports | workflow tasks "
        "| DSL workflow s | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in body["workloads"].items():
        runs = entry["runs"]
        last = runs[-1]
        label = f"for x{entry['size']} (set)" if name == "for" else f"fork x{entry['size']} (http)"
        verdict = entry.get("verdict", "-")
        if "verdict" in entry:
            verdict = f"{verdict} (< {entry['target_seconds']:g} s)"
        hwm = f"{last['vmhwm_mb']:.0f}" if last["vmhwm_mb"] is not None else "n/a"
        seconds = ", ".join(f"{r['seconds']:.2f}" for r in runs)
        lines.append(
            f"| {label} | {entry['median_seconds']:.2f} | {seconds} | "
            f"{runs[0]['rss_before_mb']:.0f} -> {entry['max_rss_peak_mb']:.0f} | {hwm} | "
            f"{last['task_entries']} | {last['history_events']} ({last['runs_in_chain']}) | "
            f"{last['report_markers']} | {last['workflow_tasks']} | "
            f"{last['dsl_run_seconds']:.2f} | {verdict} |"
        )
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=1000, help="for loop items")
    parser.add_argument("--branches", type=int, default=50, help="fork branches")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per workload")
    parser.add_argument("--temporal", help="Temporal host:port (default: start one)")
    parser.add_argument("--mongodb", help="MongoDB URI (default: start FerretDB)")
    parser.add_argument("--redis", help="Redis URL (default: start one)")
    parser.add_argument(
        "--fleet-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the fleet ({workdir} is the work folder); repeatable",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    options = parser.parse_args(argv)
    for item in options.fleet_env:
        if "=" not in item:
            parser.error(f"--fleet-env: {item!r} is not KEY=VALUE")
    for flag in ("iterations", "branches", "repeat"):
        if getattr(options, flag) < 1:
            parser.error(f"--{flag} must be at least 1")
    try:
        check_flags(temporal=options.temporal, mongodb=options.mongodb, redis=options.redis)
    except ValueError as exc:
        parser.error(str(exc))
    return options


def main(argv: list[str] | None = None) -> int:
    """Run both workloads; 0 when they ran (whatever the verdict), 1 on error, 130 on Ctrl-C."""
    options = parse(argv)
    unwind_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="stigmer-dsl-bench-"))
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
            stub = stack.enter_context(StubServer())
            fleet_env = dict(
                item.replace("{workdir}", str(workdir)).split("=", 1) for item in options.fleet_env
            )
            fleet = Fleet(
                temporal_address=endpoints.temporal,
                mongodb_uri=endpoints.mongodb,
                redis_url=endpoints.redis,
                workdir=workdir,
                extra_env={"STIGMER_RECONCILE_INTERVAL_SECONDS": "5", **fleet_env},
            )
            if "ferretdb" not in endpoints.started:
                stack.callback(drop_database, endpoints.mongodb, fleet.database)
            stack.callback(fleet.stop)
            say("starting the Stigmer fleet (API, orchestrator, runner)")
            start_fleet(fleet)
            result = asyncio.run(measure(options, fleet, stub))
            say("stopping everything this run started")
    except KeyboardInterrupt:
        say("interrupted: stopped everything this run started")
        return 130
    except Exception as exc:
        keep = True
        say(f"the benchmark failed: {type(exc).__name__}: {exc}")
        return 1
    finally:
        if keep:
            say(f"logs are in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    body = as_json(result)
    print(json.dumps(body, indent=2) if options.json else render(body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
