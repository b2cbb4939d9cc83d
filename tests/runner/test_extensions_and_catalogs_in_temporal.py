"""Extensions and cataloged functions inside Temporal's workflow sandbox, then replayed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Replayer

from stigmer_core.dsl_document import task_validator
from tests.runner.catalog_server import CatalogHandler, serve_catalog
from tests.runner.sandbox_runs import run_sandboxed
from tests.runner.sandbox_workflow import InterpreterWorkflow

pytestmark = pytest.mark.integration

GREET_PATH = "/catalog/functions/greet/1.0.0/function.yaml"


@pytest.fixture(scope="module")
def catalog() -> Iterator[str]:
    with serve_catalog() as url:
        yield url


def document(root: str) -> dict[str, Any]:
    mock = {
        "extend": "call",
        "when": '${ $task.call == "http" }',
        "before": [{"mocked": {"set": {"mocked": "${ $task.with.endpoint }"}, "then": "exit"}}],
    }
    audit = {
        "extend": "all",
        "after": [
            {"note": {"set": {}, "export": {"as": "${ $context + {($task.reference): $input} }"}}}
        ],
    }
    return {
        "document": {"dsl": "1.0.3", "namespace": "test", "name": "ext-cat", "version": "1.0.0"},
        "use": {
            "catalogs": {"shared": {"endpoint": f"{root}/catalog"}},
            "extensions": [{"mock": mock}, {"audit": audit}],
        },
        "do": [
            {"first": {"call": "greet:1.0.0@shared", "with": {"name": "${ .who }"}}},
            # The default catalog is the same root: same URL, so no second fetch.
            {"again": {"call": "greet:1.0.0@default", "with": {"name": "Bob"}}},
            {"offline": {"call": "http", "with": {"method": "get", "endpoint": "https://x.test"}}},
        ],
        "output": {"as": "${ {last: ., seen: $context} }"},
    }


async def test_extensions_and_catalog_functions_run_sandboxed_and_replay(
    temporal_address: str, catalog: str
) -> None:
    task_validator()  # as the runner does at start-up (main.py)
    client = await Client.connect(temporal_address)
    fetched_before = CatalogHandler.hits[GREET_PATH]
    result, handle = await run_sandboxed(
        client,
        {
            "document": document(catalog),
            "input": {"who": "Ada"},
            "default_catalog": f"{catalog}/catalog",
        },
        name="ext-cat-sandbox",
    )

    assert result["error"] is None
    assert result["output"] == {
        "last": {"mocked": "https://x.test"},
        "seen": {
            # `after` sees raw outputs: the function's before its own output.as.
            "/do/0/first/call": {"greeting": "Hello, Ada!"},
            "/do/0/first": "Hello, Ada!",
            "/do/1/again/call": {"greeting": "Hello, Bob!"},
            "/do/1/again": "Hello, Bob!",
            "/do/2/offline": {"mocked": "https://x.test"},
        },
    }
    assert CatalogHandler.hits[GREET_PATH] - fetched_before == 1
    history = await handle.fetch_history()
    scheduled = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert len(scheduled) == 1  # the one catalog fetch; the mocked call sent nothing
    await Replayer(workflows=[InterpreterWorkflow]).replay_workflow(history)
