"""Record Temporal histories of representative runs for the replay tests.

    python scripts/record_histories.py [--temporal ADDR --mongodb URI --redis URL] [--only NAME]

Starts a fleet (API, orchestrator, runner as processes; servers from local binaries unless
given), runs each workflow in REPRESENTATIVE, and writes the histories of its invoke and DSL
workflows to tests/replay/histories/<name>.<kind>.json; ``after-loop`` records the first run
(one round, up to its continue-as-new) of a ``schedule.after`` loop as after-loop.after.json.
``--only`` (repeatable) records just the named ones. Re-record after an intentional,
versioned change to workflow code (``workflow.patched``); an unintentional change that breaks
replay of these files is what the replay tests are there to catch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from temporalio.client import Client  # noqa: E402
from tests.e2e.fleet import USER_TOKEN, Fleet  # noqa: E402
from tests.e2e.stub_server import StubServer  # noqa: E402
from tests.services import LocalFerretDB, LocalRedis, LocalTemporal, free_port  # noqa: E402

from stigmer_core.api_client import StigmerClient  # noqa: E402
from stigmer_core.temporal_contracts import (  # noqa: E402
    after_loop_id,
    dsl_workflow_id,
    invoke_workflow_id,
)

OUT = ROOT / "tests" / "replay" / "histories"

HEADER = "document: {{dsl: '1.0.0', namespace: replay, name: {name}, version: '1.0.0'}}\n"

REPRESENTATIVE: dict[str, str] = {
    "http-and-set": """do:
  - start:
      set: {petId: 7}
  - fetch:
      call: http
      with: {method: get, endpoint: '{stub}/pets/{petId}'}
  - finish:
      set: {name: '${ .name }'}
""",
    "raise-fails": """do:
  - ok:
      set: {a: 1}
  - boom:
      raise:
        error: {type: 'https://serverlessworkflow.io/spec/1.0.0/errors/validation', status: 400}
""",
    "control-flow": """do:
  - loop:
      for: {each: n, in: '${ [1, 2, 3] }'}
      do:
        - add:
            set: {total: '${ (.total // 0) + $n }'}
  - branches:
      fork:
        branches:
          - slow:
              wait: {seconds: 1}
          - quick:
              set: {q: true}
  - choose:
      switch:
        - big: {when: '${ true }', then: guarded}
  - guarded:
      try:
        - fail:
            raise:
              error: {type: 'https://serverlessworkflow.io/spec/1.0.0/errors/runtime', status: 500}
      catch:
        errors: {with: {status: 500}}
        retry:
          delay: {seconds: 1}
          backoff: {constant: {}}
          limit: {attempt: {count: 1}}
        do:
          - recovered:
              set: {recovered: true}
""",
    "listen-event": """do:
  - await:
      listen:
        to:
          one:
            with: {type: io.stigmer.replay}
  - done:
      set: {got: '${ .[0].data }'}
""",
}


AFTER_LOOP = """schedule:
  after: {seconds: 1}
do:
  - slow:
      wait: {seconds: 3}
  - done:
      set: {round: finished}
"""


def write_history(path: Path, history_json: str) -> None:
    path.write_text(json.dumps(json.loads(history_json), indent=1) + "\n")
    print(f"  wrote {path.relative_to(ROOT)}", file=sys.stderr)


async def record_after_loop(fleet: Fleet, api: StigmerClient, temporal: Client) -> None:
    """One round of a loop: create, wait (checks between timers), sleep, continue as new."""
    name = f"after-loop-{uuid.uuid4().hex[:6]}"
    workflow = await api.register_workflow(HEADER.format(name=name) + AFTER_LOOP)
    queue = fleet.env["TEMPORAL_WORKFLOW_EXECUTION_STIGMER_TASK_QUEUE"]
    loop = temporal.get_workflow_handle(after_loop_id(queue, "replay", name))
    first = temporal.get_workflow_handle(loop.id, run_id=(await loop.describe()).run_id)
    with contextlib.suppress(Exception):  # it ends by continuing as new
        await first.result(follow_runs=False)
    write_history(OUT / "after-loop.after.json", (await first.fetch_history()).to_json())
    await api.delete_workflow(workflow.metadata.id)


async def record(fleet: Fleet, stub: StubServer, temporal: Client, only: set[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
        if not only or "after-loop" in only:
            await record_after_loop(fleet, api, temporal)
        for name, body in REPRESENTATIVE.items():
            if only and name not in only:
                continue
            document = HEADER.format(name=f"{name}-{uuid.uuid4().hex[:6]}") + body.replace(
                "{stub}", stub.url
            )
            workflow = await api.register_workflow(document)
            execution = await api.create_execution(workflow_id=workflow.metadata.id)
            execution_id = execution.metadata.id
            if name == "listen-event":
                await asyncio.sleep(3)  # let the listen subscribe first
                await api._request(  # the events route has no client method yet
                    "POST",
                    "/v1/events",
                    json={
                        "specversion": "1.0",
                        "id": str(uuid.uuid4()),
                        "source": "replay",
                        "type": "io.stigmer.replay",
                        "data": {"hello": "world"},
                    },
                )
            snapshots = [s async for s in api.watch_execution(execution_id)]
            print(f"{name}: {snapshots[-1].status.phase.value}", file=sys.stderr)
            for kind, workflow_id in (
                ("invoke", invoke_workflow_id(execution_id)),
                ("dsl", dsl_workflow_id(execution_id)),
            ):
                handle = temporal.get_workflow_handle(workflow_id)
                with contextlib.suppress(Exception):
                    await handle.result()
                history = await handle.fetch_history()
                write_history(OUT / f"{name}.{kind}.json", history.to_json())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--temporal")
    parser.add_argument("--mongodb")
    parser.add_argument("--redis")
    parser.add_argument(
        "--only", action="append", default=[], help="record only this one (repeatable)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stigmer-record-") as tmp, StubServer() as stub:
        work = Path(tmp)
        started: list[LocalTemporal | LocalFerretDB | LocalRedis] = []
        try:
            temporal_address = args.temporal
            if not temporal_address:
                server = LocalTemporal(free_port(), work / "temporal" / "temporal.db")
                started.append(server)
                server.start()
                server.wait_ready()
                temporal_address = server.address
            mongodb_uri = args.mongodb
            if not mongodb_uri:
                ferret = LocalFerretDB(port=free_port(), workdir=work / "ferretdb")
                started.append(ferret)
                ferret.start()
                ferret.wait_ready()
                mongodb_uri = ferret.uri
            redis_url = args.redis
            if not redis_url:
                redis = LocalRedis(port=free_port(), workdir=work / "redis")
                started.append(redis)
                redis.start()
                redis.wait_ready()
                redis_url = redis.url
            fleet = Fleet(
                temporal_address=temporal_address,
                mongodb_uri=mongodb_uri,
                redis_url=redis_url,
                workdir=work,
            )
            try:
                fleet.start_api()
                fleet.start_orchestrator()
                fleet.start_runner()

                async def go() -> None:
                    await record(
                        fleet, stub, await Client.connect(temporal_address), set(args.only)
                    )

                asyncio.run(go())
            finally:
                fleet.stop()
        finally:
            for server in reversed(started):
                server.stop()


if __name__ == "__main__":
    main()
