"""Long loops continue as new on real Temporal and end as one uninterrupted run would."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from stigmer_core.api_client import StigmerClient
from stigmer_core.model import ExecutionPhase, TaskPhase
from stigmer_core.temporal_contracts import dsl_workflow_id
from tests.e2e.conftest import new_fleet, workflow_yaml
from tests.e2e.fleet import USER_TOKEN
from tests.e2e.stub_server import StubServer

pytestmark = pytest.mark.integration


async def test_long_loop_spans_several_runs(
    tmp_path: Path, temporal_address: str, mongodb_uri: str, redis_url: str, stub: StubServer
) -> None:
    fleet = new_fleet(
        tmp_path, temporal_address, mongodb_uri, redis_url, STIGMER_RUNNER_ITERATIONS_PER_RUN="10"
    )
    try:
        fleet.start_api()
        fleet.start_orchestrator()
        fleet.start_runner()
        document = workflow_yaml(
            f"long-loop-{uuid.uuid4().hex[:6]}",
            "  - start:\n"
            "      set: {total: 0}\n"
            "      export:\n"
            "        as: '${ {base: 100} }'\n"
            "  - loop:\n"
            "      for: {each: n, in: '${ [range(0; 40)] }'}\n"
            "      do:\n"
            "        - fetch:\n"
            "            call: http\n"
            "            with:\n"
            "              method: get\n"
            f"              endpoint: {stub.url}/pets/1\n"
            "            output:\n"
            "              as: '${ .id }'\n"
            "        - add:\n"
            "            set:\n"
            "              total: '${ ($context.base // 0) + $n + . }'\n",
        )
        async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
            workflow = await api.register_workflow(document)
            execution = await api.create_execution(workflow_id=workflow.metadata.id)

            async def last() -> object:
                return [s async for s in api.watch_execution(execution.metadata.id)][-1]

            await asyncio.wait_for(last(), timeout=120)
            final = await api.get_execution(execution.metadata.id)
        assert final.status.phase is ExecutionPhase.COMPLETED, fleet.logs()
        # The last iteration's output: base 100 + n 39 + pet id 1.
        assert final.status.output == {"total": 140}
        add = final.status.task("/do/1/loop/do/1/add")
        assert add is not None
        assert add.iteration == 39
        client = await Client.connect(temporal_address)
        runs = [
            run
            async for run in client.list_workflows(
                f'WorkflowId="{dsl_workflow_id(execution.metadata.id)}"'
            )
        ]
        assert len(runs) >= 4, "40 iterations at 10 per run take at least 4 runs"
    finally:
        fleet.stop()


async def test_nested_loops_span_several_runs(
    tmp_path: Path, temporal_address: str, mongodb_uri: str, redis_url: str, stub: StubServer
) -> None:
    fleet = new_fleet(
        tmp_path, temporal_address, mongodb_uri, redis_url, STIGMER_RUNNER_ITERATIONS_PER_RUN="4"
    )
    try:
        fleet.start_api()
        fleet.start_orchestrator()
        fleet.start_runner()
        document = workflow_yaml(
            f"nested-loops-{uuid.uuid4().hex[:6]}",
            "  - start:\n"
            "      set: {total: 0}\n"
            "  - batch:\n"
            "      do:\n"
            "        - rows:\n"
            "            for: {each: row, in: '${ [range(0; 4)] }'}\n"
            "            do:\n"
            "              - cells:\n"
            "                  for: {each: cell, in: '${ [range(0; 5)] }'}\n"
            "                  do:\n"
            "                    - fetch:\n"
            "                        call: http\n"
            "                        with:\n"
            "                          method: get\n"
            f"                          endpoint: {stub.url}/pets/1\n"
            "                        output:\n"
            "                          as: '${ .id }'\n"
            "                    - add:\n"
            "                        set:\n"
            "                          total: '${ $row * 10 + $cell + . }'\n",
        )
        async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
            workflow = await api.register_workflow(document)
            execution = await api.create_execution(workflow_id=workflow.metadata.id)

            async def last() -> object:
                return [s async for s in api.watch_execution(execution.metadata.id)][-1]

            await asyncio.wait_for(last(), timeout=120)
            final = await api.get_execution(execution.metadata.id)
        assert final.status.phase is ExecutionPhase.COMPLETED, fleet.logs()
        # The last iteration's output: row 3, cell 4, pet id 1.
        assert final.status.output == {"total": 35}
        add = final.status.task("/do/1/batch/do/0/rows/do/0/cells/do/1/add")
        assert add is not None
        assert add.iteration == 4  # the innermost loop's, carried on across runs
        for pointer in ("/do/1/batch", "/do/1/batch/do/0/rows"):
            enclosing = final.status.task(pointer)
            assert enclosing is not None
            assert enclosing.phase is TaskPhase.COMPLETED
        client = await Client.connect(temporal_address)
        runs = [
            run
            async for run in client.list_workflows(
                f'WorkflowId="{dsl_workflow_id(execution.metadata.id)}"'
            )
        ]
        assert len(runs) >= 5, "19 iteration boundaries, a cut at every fourth: 5 runs"
    finally:
        fleet.stop()
