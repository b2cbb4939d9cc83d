"""Fixtures for whole-system tests: a running fleet against real services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from stigmer_core.api_client import StigmerClient
from tests.e2e.fleet import USER_TOKEN, Fleet, running_fleet
from tests.e2e.stub_server import StubServer


@pytest.fixture(scope="session")
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture(scope="module")
def fleet(
    temporal_address: str,
    mongodb_uri: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    """API, orchestrator and one runner as three processes."""
    with running_fleet(
        tmp_path_factory.mktemp("fleet"),
        temporal_address=temporal_address,
        mongodb_uri=mongodb_uri,
        redis_url=redis_url,
        extra_env={"STIGMER_RUNNER_TASK_HEARTBEAT_SECONDS": "3"},
    ) as fleet:
        yield fleet


@pytest.fixture
async def api(fleet: Fleet) -> AsyncIterator[StigmerClient]:
    async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as client:
        yield client


def workflow_yaml(name: str, tasks: str) -> str:
    """A DSL document with the given ``do`` list (YAML, indented by two spaces)."""
    return (
        "document:\n"
        "  dsl: '1.0.0'\n"
        "  namespace: tests\n"
        f"  name: {name}\n"
        "  version: '1.0.0'\n"
        "do:\n" + tasks
    )


def new_fleet(
    tmp_path: Path, temporal_address: str, mongodb_uri: str, redis_url: str, **env: str
) -> Fleet:
    return Fleet(
        temporal_address=temporal_address,
        mongodb_uri=mongodb_uri,
        redis_url=redis_url,
        workdir=tmp_path,
        extra_env=env,
    )
