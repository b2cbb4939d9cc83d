"""The DocumentStore contract, run against MongoDB (FerretDB here) and SQLite alike."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from stigmer_api.storage.base import Collection, DocumentStore
from stigmer_api.storage.mongo import MongoStore
from stigmer_api.storage.sqlite import SqliteStore
from stigmer_core.errors import ConflictError, UnavailableError, ValidationFailedError
from stigmer_core.ids import IdPrefix, new_id
from stigmer_core.model import (
    ExecutionPhase,
    ExecutionSpec,
    ExecutionStatus,
    InstanceSpec,
    Metadata,
    Workflow,
    WorkflowExecution,
    WorkflowInstance,
    WorkflowSpec,
)
from tests.services import LocalFerretDB, collect_abandoned_sockets, free_port

WORKFLOW_KEY = "spec.namespace, spec.name, spec.version"


@pytest.fixture(
    params=[pytest.param("mongo", marks=pytest.mark.integration), pytest.param("sqlite")]
)
def store(request: pytest.FixtureRequest) -> DocumentStore:
    """Each contract test runs once per backend."""
    backend: DocumentStore = request.getfixturevalue(f"{request.param}_store")
    return backend


def workflow(
    name: str = "greet", version: str = "1.0.0", namespace: str = "default"
) -> dict[str, Any]:
    return Workflow(
        metadata=Metadata(id=new_id(IdPrefix.WORKFLOW), name=name),
        spec=WorkflowSpec(namespace=namespace, name=name, version=version, document={"do": []}),
    ).to_doc()


def execution(workflow_id: str, phase: ExecutionPhase = ExecutionPhase.PENDING) -> dict[str, Any]:
    return WorkflowExecution(
        metadata=Metadata(id=new_id(IdPrefix.EXECUTION), name="run"),
        spec=ExecutionSpec(workflow_id=workflow_id, instance_id=new_id(IdPrefix.INSTANCE)),
        status=ExecutionStatus(phase=phase),
    ).to_doc()


def bumped(doc: dict[str, Any], **status: Any) -> dict[str, Any]:
    """The document as the next write would store it: version + 1, status fields set."""
    new = {**doc, "metadata": {**doc["metadata"], "version": doc["metadata"]["version"] + 1}}
    new["status"] = {**doc["status"], **status}
    return new


async def test_insert_then_get_returns_the_document(store: DocumentStore) -> None:
    doc = workflow()
    await store.insert(Collection.WORKFLOWS, doc)

    assert await store.get(Collection.WORKFLOWS, doc["metadata"]["id"]) == doc
    assert await store.get(Collection.WORKFLOWS, new_id(IdPrefix.WORKFLOW)) is None
    # Collections are separate namespaces.
    assert await store.get(Collection.EXECUTIONS, doc["metadata"]["id"]) is None


async def test_insert_of_an_existing_id_conflicts_on_metadata_id(store: DocumentStore) -> None:
    doc = workflow()
    await store.insert(Collection.WORKFLOWS, doc)
    again = {**workflow(name="other"), "metadata": doc["metadata"]}

    with pytest.raises(ConflictError) as caught:
        await store.insert(Collection.WORKFLOWS, again)

    assert caught.value.field == "metadata.id"
    assert doc["metadata"]["id"] in caught.value.message
    assert await store.get(Collection.WORKFLOWS, doc["metadata"]["id"]) == doc


async def test_insert_of_an_existing_unique_key_conflicts_naming_the_key(
    store: DocumentStore,
) -> None:
    first = workflow(name="greet", version="1.0.0")
    await store.insert(Collection.WORKFLOWS, first)
    clash = workflow(name="greet", version="1.0.0")

    with pytest.raises(ConflictError) as caught:
        await store.insert(Collection.WORKFLOWS, clash)

    assert caught.value.field == WORKFLOW_KEY
    assert "spec.name='greet'" in caught.value.message
    assert await store.get(Collection.WORKFLOWS, clash["metadata"]["id"]) is None
    # Any part of the key that differs makes a different key.
    await store.insert(Collection.WORKFLOWS, workflow(name="greet", version="1.0.1"))
    await store.insert(Collection.WORKFLOWS, workflow(name="greet", namespace="team"))


async def test_replace_onto_another_documents_unique_key_conflicts(store: DocumentStore) -> None:
    one, two = workflow(version="1"), workflow(version="2")
    await store.insert(Collection.WORKFLOWS, one)
    await store.insert(Collection.WORKFLOWS, two)
    moved = {**two, "spec": {**two["spec"], "version": "1"}}
    moved["metadata"] = {**two["metadata"], "version": 2}

    with pytest.raises(ConflictError) as caught:
        await store.replace(Collection.WORKFLOWS, moved, expected_version=1)

    assert caught.value.field == WORKFLOW_KEY
    assert await store.get(Collection.WORKFLOWS, two["metadata"]["id"]) == two


async def test_find_one_matches_dotted_fields_with_their_types(store: DocumentStore) -> None:
    done = execution("wfl-a", ExecutionPhase.COMPLETED)
    await store.insert(Collection.EXECUTIONS, execution("wfl-a"))
    await store.insert(Collection.EXECUTIONS, done)

    found = await store.find_one(
        Collection.EXECUTIONS, {"spec.workflow_id": "wfl-a", "status.phase": "COMPLETED"}
    )
    assert found == done
    assert await store.find_one(Collection.EXECUTIONS, {"spec.workflow_id": "wfl-b"}) is None
    # Equality is typed, as in MongoDB: the number 0 is not the string "0", nor false.
    assert await store.find_one(Collection.EXECUTIONS, {"status.sequence": 0}) is not None
    assert await store.find_one(Collection.EXECUTIONS, {"status.sequence": "0"}) is None
    assert await store.find_one(Collection.EXECUTIONS, {"status.sequence": False}) is None
    # null matches a null field and a missing one.
    assert await store.find_one(Collection.EXECUTIONS, {"status.started_at": None}) is not None
    assert await store.find_one(Collection.EXECUTIONS, {"status.nothing_here": None}) is not None


async def test_list_filters_sorts_newest_first_and_pages_by_id(store: DocumentStore) -> None:
    mine = [execution("wfl-mine") for _ in range(7)]
    others = [execution("wfl-other") for _ in range(3)]
    for doc in [*mine, *others]:
        await store.insert(Collection.EXECUTIONS, doc)
    expected = sorted(mine, key=lambda d: d["metadata"]["id"], reverse=True)

    pages: list[list[dict[str, Any]]] = []
    before: str | None = None
    while True:
        page = await store.list(
            Collection.EXECUTIONS,
            filters={"spec.workflow_id": "wfl-mine"},
            limit=3,
            before_id=before,
        )
        if not page:
            break
        pages.append(page)
        before = page[-1]["metadata"]["id"]

    assert [len(p) for p in pages] == [3, 3, 1]
    assert [doc for page in pages for doc in page] == expected
    everything = await store.list(Collection.EXECUTIONS, limit=100)
    assert len(everything) == 10
    assert [d["metadata"]["id"] for d in everything] == sorted(
        (d["metadata"]["id"] for d in everything), reverse=True
    )


async def test_list_filters_on_several_fields(store: DocumentStore) -> None:
    running = execution("wfl-x", ExecutionPhase.IN_PROGRESS)
    for doc in [running, execution("wfl-x"), execution("wfl-y", ExecutionPhase.IN_PROGRESS)]:
        await store.insert(Collection.EXECUTIONS, doc)

    found = await store.list(
        Collection.EXECUTIONS, filters={"spec.workflow_id": "wfl-x", "status.phase": "IN_PROGRESS"}
    )

    assert found == [running]


async def test_replace_is_a_compare_and_swap_on_the_version(store: DocumentStore) -> None:
    doc = execution("wfl-a")
    doc_id = doc["metadata"]["id"]
    await store.insert(Collection.EXECUTIONS, doc)
    second = bumped(doc, phase="IN_PROGRESS")

    assert await store.replace(Collection.EXECUTIONS, second, expected_version=1) is True
    assert await store.get(Collection.EXECUTIONS, doc_id) == second
    stale = bumped(doc, phase="FAILED")
    assert await store.replace(Collection.EXECUTIONS, stale, expected_version=1) is False
    assert await store.get(Collection.EXECUTIONS, doc_id) == second
    # A filter on the new value finds the replaced document through the index.
    listed = await store.list(Collection.EXECUTIONS, filters={"status.phase": "IN_PROGRESS"})
    assert listed == [second]
    gone = execution("wfl-a")
    assert await store.replace(Collection.EXECUTIONS, bumped(gone), expected_version=1) is False
    assert await store.get(Collection.EXECUTIONS, gone["metadata"]["id"]) is None


async def test_count_matches_filters_and_null_matches_a_missing_field(
    store: DocumentStore,
) -> None:
    workflow_id = new_id(IdPrefix.WORKFLOW)
    pending = [execution(workflow_id) for _ in range(3)]
    for doc in pending:
        await store.insert(Collection.EXECUTIONS, doc)
    await store.insert(Collection.EXECUTIONS, execution(workflow_id, ExecutionPhase.COMPLETED))
    dispatched = bumped(pending[0], dispatched_at="2025-01-02T03:04:05Z")
    assert await store.replace(Collection.EXECUTIONS, dispatched, expected_version=1)

    def count(**filters: Any) -> Any:
        return store.count(Collection.EXECUTIONS, {"spec.workflow_id": workflow_id, **filters})

    assert await count() == 4
    assert await count(**{"status.phase": "PENDING"}) == 3
    assert await count(**{"status.phase": "PENDING", "status.dispatched_at": None}) == 2
    assert await count(**{"status.phase": "CANCELLED"}) == 0


# Users' data may be any JSON: nested arrays, keys with "$" or ".", empty keys.
AWKWARD = {"$schema": "x", "a.b": [[1, [2, 3]], []], "": None, "deep": {"$ref": [[{"k": 1}]]}}


async def test_users_data_round_trips_whatever_its_shape(store: DocumentStore) -> None:
    doc = execution(new_id(IdPrefix.WORKFLOW))
    doc["spec"]["input"] = AWKWARD
    doc["spec"]["env"] = {"A.B": "1", "$HOME": "/"}
    doc["status"]["output"] = [[AWKWARD], [[[]]]]
    doc["status"]["error"] = {"type": "t", "details": AWKWARD}
    doc["status"]["tasks"] = [
        {"id": "/do/0/a", "name": "a", "type": "set", "phase": "COMPLETED", "output": AWKWARD},
        {"id": "/do/1/b", "name": "b", "type": "set", "phase": "RUNNING", "input": [[1]]},
    ]
    await store.insert(Collection.EXECUTIONS, doc)
    assert await store.get(Collection.EXECUTIONS, doc["metadata"]["id"]) == doc
    changed = {**doc, "metadata": {**doc["metadata"], "version": 2}}
    changed["status"] = {**doc["status"], "output": {"x.y": [[2]]}}
    assert await store.replace(Collection.EXECUTIONS, changed, expected_version=1)
    listed = await store.list(
        Collection.EXECUTIONS, filters={"spec.workflow_id": doc["spec"]["workflow_id"]}
    )
    assert listed == [changed]
    assert doc["status"]["output"] == [[AWKWARD], [[[]]]]  # the caller's document is untouched


async def test_delete_removes_once(store: DocumentStore) -> None:
    doc = workflow()
    await store.insert(Collection.WORKFLOWS, doc)

    assert await store.delete(Collection.WORKFLOWS, doc["metadata"]["id"]) is True
    assert await store.delete(Collection.WORKFLOWS, doc["metadata"]["id"]) is False
    assert await store.get(Collection.WORKFLOWS, doc["metadata"]["id"]) is None
    # The unique key is free again.
    await store.insert(Collection.WORKFLOWS, {**workflow(), "spec": doc["spec"]})


async def increment(store: DocumentStore, doc_id: str) -> int:
    """Add one to status.sequence with a re-read-and-retry loop; return the retries."""
    retries = 0
    while True:
        current = await store.get(Collection.EXECUTIONS, doc_id)
        assert current is not None
        version = current["metadata"]["version"]
        new = bumped(current, sequence=current["status"]["sequence"] + 1)
        if await store.replace(Collection.EXECUTIONS, new, expected_version=version):
            return retries
        retries += 1


async def test_concurrent_compare_and_swap_loses_no_increment(store: DocumentStore) -> None:
    doc = execution("wfl-a")
    await store.insert(Collection.EXECUTIONS, doc)

    await asyncio.gather(*(increment(store, doc["metadata"]["id"]) for _ in range(50)))

    final = await store.get(Collection.EXECUTIONS, doc["metadata"]["id"])
    assert final is not None
    assert final["status"]["sequence"] == 50
    assert final["metadata"]["version"] == 51


async def test_bad_input_names_the_field(store: DocumentStore) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        await store.list(Collection.EXECUTIONS, filters={"status.$where": "x"})
    assert caught.value.field == "status.$where"
    with pytest.raises(ValidationFailedError) as caught:
        await store.find_one(Collection.EXECUTIONS, {"spec.input": {"$ne": None}})
    assert caught.value.field == "spec.input"
    with pytest.raises(ValidationFailedError) as caught:
        await store.list(Collection.EXECUTIONS, limit=0)
    assert caught.value.field == "limit"
    doc = workflow()
    del doc["metadata"]["id"]
    with pytest.raises(ValidationFailedError) as caught:
        await store.insert(Collection.WORKFLOWS, doc)
    assert caught.value.field == "metadata.id"


async def test_all_resource_kinds_round_trip(store: DocumentStore) -> None:
    wf = workflow()
    instance = WorkflowInstance(
        metadata=Metadata(id=new_id(IdPrefix.INSTANCE), name="default"),
        spec=InstanceSpec(workflow_id=wf["metadata"]["id"], default=True, env={"A": "1"}),
    ).to_doc()
    await store.insert(Collection.WORKFLOWS, wf)
    await store.insert(Collection.INSTANCES, instance)

    assert await store.find_one(Collection.INSTANCES, {"spec.default": True}) == instance
    assert await store.find_one(Collection.INSTANCES, {"spec.default": 1}) is None
    await store.ping()


# --- backend-specific ----------------------------------------------------------------------


@pytest.mark.integration
async def test_mongo_open_is_idempotent_and_keeps_data(
    mongo_store: MongoStore, mongodb_uri: str
) -> None:
    doc = workflow()
    await mongo_store.insert(Collection.WORKFLOWS, doc)
    database = mongo_store._db.name

    again = await MongoStore.open(mongodb_uri, database=database)
    try:
        assert await again.get(Collection.WORKFLOWS, doc["metadata"]["id"]) == doc
        with pytest.raises(ConflictError):
            await again.insert(Collection.WORKFLOWS, {**workflow(), "spec": doc["spec"]})
    finally:
        await again.close()


@pytest.mark.integration
async def test_mongo_keeps_metadata_id_as_primary_key(
    mongo_store: MongoStore, mongodb_uri: str
) -> None:
    doc = workflow()
    await mongo_store.insert(Collection.WORKFLOWS, doc)

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri)
    try:
        raw = await client[mongo_store._db.name]["workflows"].find_one(
            {"_id": doc["metadata"]["id"]}
        )
    finally:
        await client.close()
    assert raw is not None
    assert raw["metadata"] == doc["metadata"]


@pytest.mark.integration
async def test_mongo_compare_and_swap_across_clients(
    mongo_store: MongoStore, mongodb_uri: str
) -> None:
    """Two API replicas: their stores share nothing but the server."""
    other = await MongoStore.open(mongodb_uri, database=mongo_store._db.name)
    doc = execution("wfl-a")
    await mongo_store.insert(Collection.EXECUTIONS, doc)
    try:
        await asyncio.gather(
            *(increment(s, doc["metadata"]["id"]) for s in [mongo_store, other] * 10)
        )
        final = await other.get(Collection.EXECUTIONS, doc["metadata"]["id"])
        server = await other._client.admin.command("buildInfo")
    finally:
        await other.close()
    assert final is not None
    if final["status"]["sequence"] != 20 and "ferretdbVersion" in server:
        pytest.xfail("FerretDB 1.x runs an update as query-then-write, not atomically")
    assert final["status"]["sequence"] == 20


@pytest.mark.integration
async def test_mongo_unreachable_is_unavailable() -> None:
    with pytest.raises(UnavailableError):
        await MongoStore.open(
            f"mongodb://127.0.0.1:{free_port()}/", database="nowhere", timeout_seconds=0.5
        )
    collect_abandoned_sockets()


@pytest.mark.integration
async def test_mongo_server_going_away_is_unavailable(
    ferretdb_server_factory: Any,
) -> None:
    server: LocalFerretDB = ferretdb_server_factory()
    store = await MongoStore.open(server.uri, database="going_away", timeout_seconds=1.0)
    try:
        doc = workflow()
        await store.insert(Collection.WORKFLOWS, doc)
        server.stop()
        with pytest.raises(UnavailableError):
            await store.get(Collection.WORKFLOWS, doc["metadata"]["id"])
        with pytest.raises(UnavailableError):
            await store.ping()
        # Back on the same port and data, the same store works again.
        server.start()
        await server.wait_ready_async()
        assert await store.get(Collection.WORKFLOWS, doc["metadata"]["id"]) == doc
    finally:
        await store.close()
    with pytest.raises(UnavailableError):
        await store.ping()


async def test_sqlite_reopen_keeps_data_and_indexes(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "stigmer.db"
    doc = workflow()
    first = await SqliteStore.open(path)
    await first.insert(Collection.WORKFLOWS, doc)
    await first.close()

    second = await SqliteStore.open(path)
    try:
        assert await second.get(Collection.WORKFLOWS, doc["metadata"]["id"]) == doc
        with pytest.raises(ConflictError):
            await second.insert(Collection.WORKFLOWS, {**workflow(), "spec": doc["spec"]})
    finally:
        await second.close()


async def test_sqlite_in_memory_and_closed_store() -> None:
    store = await SqliteStore.open(":memory:")
    doc = workflow()
    await store.insert(Collection.WORKFLOWS, doc)
    assert await store.get(Collection.WORKFLOWS, doc["metadata"]["id"]) == doc
    await store.close()

    with pytest.raises(UnavailableError):
        await store.get(Collection.WORKFLOWS, doc["metadata"]["id"])
    with pytest.raises(UnavailableError):
        await store.ping()


async def test_sqlite_unopenable_path_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")

    with pytest.raises(UnavailableError):
        await SqliteStore.open(tmp_path / "a-file" / "stigmer.db")
