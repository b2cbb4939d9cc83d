"""fork, wait, timeouts and retry jitter inside Temporal's sandbox, then replayed."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import yaml
from temporalio.client import Client
from temporalio.worker import Replayer, Worker

from tests.runner.sandbox_timers_workflow import TimersWorkflow

pytestmark = pytest.mark.integration

DOCUMENT = yaml.safe_load(
    """
document: {dsl: '1.0.3', namespace: test, name: timers, version: '1.0.0'}
do:
  - both:
      fork:
        branches:
          - slow:
              do:
                - nap: {wait: {milliseconds: 800}}
                - done: {set: {by: slow}}
          - fast:
              do:
                - nap: {wait: PT0.2S}
                - done: {set: {by: fast}}
  - race:
      fork:
        compete: true
        branches:
          - sleeper: {wait: PT1H}
          - quick: {set: {winner: quick}}
  - pause: {wait: {milliseconds: 100}}
  - guarded:
      try:
        - stuck: {timeout: {after: {milliseconds: 300}}, wait: PT1H}
      catch:
        errors: {with: {status: 408}}
        retry:
          delay: {milliseconds: 100}
          jitter: {from: {milliseconds: 0}, to: {milliseconds: 100}}
          limit: {attempt: {count: 1}}
        do:
          - late: {set: {timedOut: '${ $error.instance }'}}
"""
)


@pytest.fixture
async def client(temporal_address: str) -> Client:
    return await Client.connect(temporal_address)


async def test_fork_wait_and_timeouts_run_sandboxed_and_replay(client: Client) -> None:
    queue = f"interpreter-timers-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[TimersWorkflow],
        # A sandbox violation fails the run at once instead of retrying the task forever.
        workflow_failure_exception_types=[Exception],
    ):
        handle = await client.start_workflow(
            TimersWorkflow.run,
            {"document": DOCUMENT, "input": {}},
            id=f"interpreter-timers-{uuid.uuid4()}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=60),
        )
        result = await handle.result()

    assert result["error"] is None
    assert result["output"] == {"timedOut": "/do/3/guarded/try/0/stuck"}
    last: dict[str, Any] = {}
    for event in result["events"]:
        last[event["task_id"]] = event
    assert last["/do/0/both"]["output"] == [{"by": "slow"}, {"by": "fast"}]
    finished = [
        e["task_id"] for e in result["events"] if e["phase"] == "COMPLETED" and e["name"] == "done"
    ]
    assert finished == [
        "/do/0/both/fork/branches/1/fast/do/1/done",
        "/do/0/both/fork/branches/0/slow/do/1/done",
    ]
    assert last["/do/1/race"]["output"] == {"winner": "quick"}
    assert last["/do/1/race/fork/branches/0/sleeper"]["phase"] == "CANCELLED"
    stuck = [e["phase"] for e in result["events"] if e["task_id"] == "/do/3/guarded/try/0/stuck"]
    assert stuck == ["RUNNING", "FAILED", "RUNNING", "FAILED"]
    # fork (both branches), race (the loser's hour), pause, then each attempt of ``stuck``:
    # its hour-long wait and the 300 ms timeout that ends it, with a jittered delay between.
    sleeps = result["sleeps"]
    assert sleeps[:4] == [0.8, 0.2, 3600, 0.1]
    assert sleeps[4:6] == sleeps[7:] == [3600, 0.3]
    assert 0.1 <= sleeps[6] < 0.2

    # Replaying the recorded history runs the interpreter again; any nondeterminism fails.
    history = await handle.fetch_history()
    await Replayer(workflows=[TimersWorkflow]).replay_workflow(history)
