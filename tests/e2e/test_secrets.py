"""Secrets from runner configuration reach `$secrets` and never show in status or output."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from pathlib import Path

import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from stigmer_core.api_client import StigmerClient
from stigmer_core.model import ExecutionPhase
from stigmer_core.payload_codec import ENCODING, AesGcmPayloadCodec
from stigmer_core.payload_keys import PayloadKeyring, parse_key
from stigmer_core.temporal_contracts import dsl_workflow_id, invoke_workflow_id
from tests.e2e.conftest import new_fleet, workflow_yaml
from tests.e2e.fleet import USER_TOKEN
from tests.e2e.stub_server import StubServer

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


@pytest.mark.parametrize("encrypted", [False, True], ids=["clear", "payload-key"])
async def test_missing_secret_fails_naming_it(
    tmp_path: Path, temporal_address: str, mongodb_uri: str, redis_url: str, encrypted: bool
) -> None:
    # With a payload key, failures are encrypted in Temporal too; the error still arrives.
    env = {"STIGMER_PAYLOAD_KEY": _new_key("e2e-f")} if encrypted else {}
    fleet = new_fleet(tmp_path, temporal_address, mongodb_uri, redis_url, **env)
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
        if encrypted:
            # The failure's message is sealed too (it would name what the workflow declared).
            plain = await Client.connect(temporal_address)
            handle = plain.get_workflow_handle(dsl_workflow_id(execution.metadata.id))
            history = await handle.fetch_history()
            failures = [
                event.activity_task_failed_event_attributes.failure
                for event in history.events
                if event.HasField("activity_task_failed_event_attributes")
            ]
            assert failures, "the secret-loading activity failed"
            assert all(f.HasField("encoded_attributes") for f in failures)
            raw = b"".join(event.SerializeToString() for event in history.events)
            assert b"notConfigured" not in raw
    finally:
        fleet.stop()


async def _all(api: StigmerClient, execution_id: str) -> list:  # type: ignore[type-arg]
    return [s async for s in api.watch_execution(execution_id)]


async def test_with_a_payload_key_secrets_are_encrypted_in_temporal_history(
    tmp_path: Path, temporal_address: str, mongodb_uri: str, redis_url: str, stub: StubServer
) -> None:
    payload_key = _new_key("e2e-1")
    fleet = new_fleet(
        tmp_path, temporal_address, mongodb_uri, redis_url, STIGMER_PAYLOAD_KEY=payload_key
    )
    try:
        fleet.start_api()
        fleet.start_orchestrator()
        fleet.start_runner(STIGMER_SECRET_APIKEY=SECRET)
        # The secret reaches the secret-loading activity's result, an HTTP activity's input
        # (a query parameter) and a task's output: all of them land in histories.
        document = workflow_yaml(
            f"sealed-{uuid.uuid4().hex[:6]}",
            "  - fetch:\n"
            "      call: http\n"
            "      with:\n"
            "        method: get\n"
            f"        endpoint: {stub.url}/pets/7\n"
            "        query:\n"
            "          token: ${ $secrets.apiKey }\n"
            "  - use:\n"
            "      set:\n"
            "        pet: ${ .name }\n"
            "        key: ${ $secrets.apiKey }\n"
            "        length: ${ $secrets.apiKey | length }\n",
        ).replace("do:\n", "use:\n  secrets: [apiKey]\ndo:\n")
        async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
            workflow = await api.register_workflow(document)
            execution = await api.create_execution(workflow_id=workflow.metadata.id)
            await asyncio.wait_for(_all(api, execution.metadata.id), timeout=60)
            stored = await api.get_execution(execution.metadata.id)
        assert stored.status.phase is ExecutionPhase.COMPLETED, fleet.logs()
        assert stored.status.output == {"pet": "Rex", "key": "***", "length": len(SECRET)}

        # A plain client, as Temporal's UI and CLI read histories: no codec.
        plain = await Client.connect(temporal_address)
        codec = AesGcmPayloadCodec(keyring=PayloadKeyring(current=parse_key(payload_key)))
        for workflow_id in (
            invoke_workflow_id(execution.metadata.id),
            dsl_workflow_id(execution.metadata.id),
        ):
            history = await plain.get_workflow_handle(workflow_id).fetch_history()
            raw = b"".join(event.SerializeToString() for event in history.events)
            assert SECRET.encode() not in raw, f"{workflow_id} holds the secret in clear"
            payloads = [p for event in history.events for p in _payloads(event)]
            assert payloads, f"{workflow_id} has no payloads to check"
            clear = [p for p in payloads if p.metadata.get("encoding") != ENCODING]
            assert not clear, f"{workflow_id}: {clear}"
            if workflow_id.startswith("stigmer/dsl/"):
                # The secret is in there, sealed: the key that encrypted it opens it.
                opened = await codec.decode(payloads)
                assert any(SECRET.encode() in p.data for p in opened)
    finally:
        fleet.stop()


def _new_key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


def _payloads(message: Message) -> list[Payload]:
    """Every Payload inside ``message`` that a codec encodes. Not search attributes (Temporal
    indexes them), nor a local-activity marker's `data` entry: the SDK's own bookkeeping
    (sequence number, activity type, times), never user data; the marker's `result` is ours."""
    if isinstance(message, Payload):
        return [message]
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.message_type is None or field.name == "search_attributes":
            continue
        if field.message_type.GetOptions().map_entry:
            skip = "data" if message.DESCRIPTOR.name == "MarkerRecordedEventAttributes" else None
            values = [item for key, item in value.items() if key != skip]
        elif field.is_repeated:
            values = list(value)
        else:
            values = [value]
        for item in values:
            if isinstance(item, Message):
                found += _payloads(item)
    return found
