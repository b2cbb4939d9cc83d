"""Two API replicas writing one execution: a replica's remembered copy going stale loses
nothing, because the compare-and-swap fails and the replica re-reads."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from stigmer_api.bus.memory import MemoryBus
from stigmer_api.dispatch import Dispatcher
from stigmer_api.executions import CreateExecution
from stigmer_api.services import Services
from stigmer_api.settings import ApiSettings
from stigmer_api.storage.sqlite import SqliteStore
from stigmer_core.model import ExecutionPhase, TaskPhase, TaskStatus
from stigmer_core.status import StatusUpdate
from tests.api.conftest import document


async def _no_temporal() -> Client:
    raise RuntimeError("no Temporal in this test")


def replica(store: SqliteStore, bus: MemoryBus) -> Services:
    settings = ApiSettings(stigmer_api_allow_anonymous=True)
    dispatcher = Dispatcher(settings=settings, connect=_no_temporal)
    return Services.build(settings=settings, store=store, bus=bus, dispatcher=dispatcher)


def task(i: int) -> TaskStatus:
    return TaskStatus(id=f"/do/{i}/t{i}", name=f"t{i}", type="set", phase=TaskPhase.COMPLETED)


async def test_interleaved_replicas_lose_no_update(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "shared.db")
    bus = MemoryBus()
    try:
        a, b = replica(store, bus), replica(store, bus)
        workflow, _ = await a.workflows.register(document("replicas"))
        created = await a.executions.create(CreateExecution(workflow_id=workflow.metadata.id))
        execution_id = created.metadata.id

        await a.executions.update_status(execution_id, StatusUpdate(tasks=[task(0)]))
        await b.executions.update_status(execution_id, StatusUpdate(tasks=[task(1)]))
        # A remembers the version it wrote before B's: its swap must fail and re-read.
        await a.executions.update_status(execution_id, StatusUpdate(tasks=[task(2)]))
        await b.executions.update_status(
            execution_id, StatusUpdate(phase=ExecutionPhase.COMPLETED, output={"ok": True})
        )

        stored = await a.executions.get(execution_id)
        assert [t.id for t in stored.status.tasks] == ["/do/0/t0", "/do/1/t1", "/do/2/t2"]
        assert stored.status.phase is ExecutionPhase.COMPLETED
        assert stored.status.sequence == created.status.sequence + 4
        assert stored.metadata.version == created.metadata.version + 4
    finally:
        await bus.close()
        await store.close()
