"""Resolving ``run: workflow`` references through the API's workflow list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from stigmer_core.api_client import StigmerClient
from stigmer_core.model import Metadata, Workflow, WorkflowSpec
from stigmer_runner.activities.workflow_lookup import WorkflowLookup, version_key
from stigmer_runner.dsl.run_contracts import WORKFLOW_NOT_FOUND_ERROR, WorkflowReference


def _workflow(namespace: str, name: str, version: str) -> dict[str, Any]:
    document = {"document": {"namespace": namespace, "name": name, "version": version}, "do": []}
    return Workflow(
        metadata=Metadata(id=f"{namespace}-{name}-{version}", name=name),
        spec=WorkflowSpec(namespace=namespace, name=name, version=version, document=document),
    ).to_doc()


# Two pages, so the lookup must follow the cursor; "other" namespaces must be ignored.
PAGES = {
    None: ([_workflow("test", "greet", "1.9.0"), _workflow("other", "greet", "9.0.0")], "p2"),
    "p2": ([_workflow("test", "greet", "1.10.0"), _workflow("test", "greet", "1.10.0-rc1")], None),
}


async def resolve(reference: WorkflowReference) -> Any:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        assert request.url.params["name"] == reference.name
        items, cursor = PAGES[request.url.params.get("cursor")]
        return httpx.Response(200, json={"items": items, "next_cursor": cursor})

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://api"
    ) as http:
        lookup = WorkflowLookup(api=StigmerClient(http=http))
        return await ActivityEnvironment().run(lookup.resolve, reference)


async def test_latest_is_the_highest_version_in_the_namespace() -> None:
    document = await resolve(WorkflowReference(namespace="test", name="greet"))
    assert document["document"]["version"] == "1.10.0"


async def test_an_exact_version_is_found_on_any_page() -> None:
    document = await resolve(WorkflowReference(namespace="test", name="greet", version="1.9.0"))
    assert document["document"]["version"] == "1.9.0"


async def test_an_unknown_version_is_a_non_retryable_configuration_error() -> None:
    with pytest.raises(ApplicationError) as caught:
        await resolve(WorkflowReference(namespace="test", name="greet", version="2.0.0", task="t"))
    assert caught.value.type == WORKFLOW_NOT_FOUND_ERROR
    assert caught.value.non_retryable
    assert "registered versions: 1.10.0, 1.10.0-rc1, 1.9.0" in caught.value.message
    assert caught.value.details[0]["type"].endswith("/errors/configuration")


def test_version_order_is_numeric_with_prereleases_first() -> None:
    versions = ["1.10.0", "1.9.0", "1.10.0-rc1", "0.1"]
    assert sorted(versions, key=version_key) == ["0.1", "1.9.0", "1.10.0-rc1", "1.10.0"]
