"""Secrets from runner configuration reach `$secrets` and never show in status or output."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from stigmer_core.api_client import StigmerClient
from stigmer_core.model import ExecutionPhase
from tests.e2e.conftest import new_fleet, workflow_yaml
from tests.e2e.fleet import USER_TOKEN

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-value-for-tests"


async def test_secret_is_usable_and_masked(
    tmp_path: Path, temporal_address: str, mongodb_uri: str, redis_url: str
) -> None:
    fleet = new_fleet(tmp_path, temporal_address, mongodb_uri, redis_url)
    try:
        fleet.start_api()
        fleet.start_orchestrator()
        fleet.start_runner(STIGMER_SECRET_APIKEY=SECRET)
        document = workflow_yaml(
            f"secrets-{uuid.uuid4().hex[:6]}",
            "  - use:\n"
            "      set:\n"
            "        key: ${ $secrets.apiKey }\n"
            "        length: ${ $secrets.apiKey | length }\n",
        ).replace("do:\n", "use:\n  secrets: [apiKey]\ndo:\n")
        async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
            workflow = await api.register_workflow(document)
            execution = await api.create_execution(workflow_id=workflow.metadata.id)

            async def last() -> object:
                return [s async for s in api.watch_execution(execution.metadata.id)][-1]

            final = await asyncio.wait_for(last(), timeout=60)
            stored = await api.get_execution(execution.metadata.id)
        assert stored.status.phase is ExecutionPhase.COMPLETED, fleet.logs()
        assert stored.status.output == {"key": "***", "length": len(SECRET)}
        assert SECRET not in stored.model_dump_json()
        assert SECRET not in str(final)
    finally:
        fleet.stop()


async def test_missing_secret_fails_naming_it(
    tmp_path: Path, temporal_address: str, mongodb_uri: str, redis_url: str
) -> None:
    fleet = new_fleet(tmp_path, temporal_address, mongodb_uri, redis_url)
    try:
        fleet.start_api()
        fleet.start_orchestrator()
        fleet.start_runner()
        document = workflow_yaml(
            f"nosecret-{uuid.uuid4().hex[:6]}", "  - use:\n      set: {k: 1}\n"
        ).replace("do:\n", "use:\n  secrets: [notConfigured]\ndo:\n")
        async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
            workflow = await api.register_workflow(document)
            execution = await api.create_execution(workflow_id=workflow.metadata.id)
            snapshots = await asyncio.wait_for(_all(api, execution.metadata.id), timeout=60)
        status = snapshots[-1].status
        assert status.phase is ExecutionPhase.FAILED
        assert status.error is not None
        assert "notConfigured" in status.error["detail"]
    finally:
        fleet.stop()


async def _all(api: StigmerClient, execution_id: str) -> list:  # type: ignore[type-arg]
    return [s async for s in api.watch_execution(execution_id)]
