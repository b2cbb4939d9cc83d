"""Cataloged (``name:version@catalog``) and by-URI functions, served by a local catalog.

The catalog server follows the specification's layout
(``<root>/functions/<name>/<version>/function.yaml``); calls go through the real HTTP
activity. No request leaves the machine.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import yaml

from stigmer_runner.activities.http_call import HttpCallActivities
from stigmer_runner.dsl.catalogs import raw_content_url
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.catalog_server import CREDENTIALS, serve_catalog
from tests.runner.http_runtime import HttpRuntime

HEADER = {"dsl": "1.0.3", "namespace": "test", "name": "catalogs", "version": "1.0.0"}


@pytest.fixture(scope="module")
def catalog() -> Iterator[str]:
    with serve_catalog() as url:
        yield url


@pytest.fixture
async def runtime() -> AsyncIterator[HttpRuntime]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield HttpRuntime(HttpCallActivities(http=http))


async def run(
    runtime: HttpRuntime, text: str, given: Any = None, *, default_catalog: str | None = None
) -> Any:
    doc = {"document": HEADER, **yaml.safe_load(textwrap.dedent(text))}
    interpreter = Interpreter(doc, runtime=runtime, default_catalog=default_catalog)
    return await interpreter.run({} if given is None else given)


async def fault(runtime: HttpRuntime, text: str, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(WorkflowError) as caught:
        await run(runtime, text, **kwargs)
    return caught.value.problem


async def test_cataloged_function_runs_like_an_inline_one_and_is_fetched_once(
    catalog: str, runtime: HttpRuntime
) -> None:
    output = await run(
        runtime,
        f"""
        use:
          catalogs:
            shared:
              endpoint: {catalog}/catalog/
        do:
          - first:
              call: greet:1.0.0@shared
              with:
                name: ${{ .who }}
              export:
                as: '${{ {{first: .}} }}'
          - second:
              call: greet:1.0.0@shared
              with: {{name: Bob}}
              output:
                as: '${{ [$context.first, .] }}'
        """,
        {"who": "Ada"},
    )
    assert output == ["Hello, Ada!", "Hello, Bob!"]
    url = f"{catalog}/catalog/functions/greet/1.0.0/function.yaml"
    assert [r.url for r in runtime.requests] == [url]
    assert ("/do/0/first/call", "COMPLETED") in runtime.phases()
    first = [e for e in runtime.events if e.task_id == "/do/0/first/call"]
    assert first[-1].name == "greet:1.0.0@shared"
    assert first[-1].input == {"name": "Ada"}
    assert first[-1].output == "Hello, Ada!"


async def test_cataloged_function_input_schema_checks_the_arguments(
    catalog: str, runtime: HttpRuntime
) -> None:
    problem = await fault(
        runtime,
        f"""
        use: {{catalogs: {{shared: {{endpoint: {{uri: "{catalog}/catalog"}}}}}}}}
        do:
          - greet: {{call: greet:1.0.0@shared, with: {{name: 42}}}}
        """,
    )
    assert problem["type"] == ErrorType.VALIDATION
    assert problem["instance"] == "/do/0/greet/call"


async def test_function_by_uri(catalog: str, runtime: HttpRuntime) -> None:
    output = await run(
        runtime,
        f"""
        do:
          - greet:
              call: {catalog}/catalog/functions/greet/1.0.0/function.yaml
              with: {{name: Ada}}
        """,
    )
    assert output == "Hello, Ada!"


async def test_catalog_with_basic_authentication(catalog: str, runtime: HttpRuntime) -> None:
    output = await run(
        runtime,
        f"""
        use:
          catalogs:
            private:
              endpoint:
                uri: {catalog}/secured
                authentication:
                  basic: {{username: reader, password: s3cret}}
        do:
          - greet: {{call: greet:1.0.0@private, with: {{name: Ada}}}}
        """,
    )
    assert output == "Hello, Ada!"
    assert runtime.requests[0].headers["Authorization"] == CREDENTIALS


async def test_default_catalog_is_the_runners(catalog: str, runtime: HttpRuntime) -> None:
    text = """
    do:
      - hello: {call: hello:1.0.0@default}
    """
    output = await run(runtime, text, default_catalog=f"{catalog}/runtime")
    assert output == {"from": "default catalog"}


async def test_a_workflow_catalog_named_default_overrides_the_runners(
    catalog: str, runtime: HttpRuntime
) -> None:
    text = f"""
    use: {{catalogs: {{default: {{endpoint: "{catalog}/mine"}}}}}}
    do:
      - hello: {{call: hello:1.0.0@default}}
    """
    output = await run(runtime, text, default_catalog=f"{catalog}/runtime")
    assert output == {"from": "workflow catalog"}


async def test_default_catalog_without_one_configured_is_a_configuration_error(
    runtime: HttpRuntime,
) -> None:
    problem = await fault(runtime, "do: [{hello: {call: hello:1.0.0@default}}]")
    assert problem["type"] == ErrorType.CONFIGURATION
    assert problem["instance"] == "/do/0/hello"
    assert "STIGMER_RUNNER_DEFAULT_CATALOG_URL" in problem["detail"]
    assert runtime.requests == []


async def test_unknown_catalog_is_a_configuration_error(catalog: str, runtime: HttpRuntime) -> None:
    problem = await fault(
        runtime,
        f"""
        use: {{catalogs: {{shared: {{endpoint: "{catalog}/catalog"}}}}}}
        do:
          - log: {{call: log:1.0.0@global, with: {{message: hi}}}}
        """,
    )
    assert problem["type"] == ErrorType.CONFIGURATION
    assert problem["instance"] == "/do/0/log"
    assert (
        "'log:1.0.0@global' names catalog 'global', which is not defined in use.catalogs"
        " (defined: shared)"
    ) in problem["detail"]
    assert runtime.requests == []


async def test_function_the_catalog_does_not_have(catalog: str, runtime: HttpRuntime) -> None:
    problem = await fault(
        runtime,
        f"""
        use: {{catalogs: {{shared: {{endpoint: "{catalog}/catalog"}}}}}}
        do:
          - log: {{call: log:9.9.9@shared}}
        """,
    )
    assert problem["type"] == ErrorType.CONFIGURATION
    assert problem["instance"] == "/do/0/log"
    assert "catalog 'shared' has no function 'log' version '9.9.9'" in problem["detail"]
    assert "answered 404" in problem["detail"]


async def test_a_definition_that_is_not_a_task(catalog: str, runtime: HttpRuntime) -> None:
    problem = await fault(
        runtime,
        f"""
        use: {{catalogs: {{shared: {{endpoint: "{catalog}/catalog"}}}}}}
        do:
          - use: {{call: broken:1.0.0@shared}}
        """,
    )
    assert problem["type"] == ErrorType.CONFIGURATION
    assert "is not a valid task" in problem["detail"]
    assert "'bogus' was unexpected" in problem["detail"]


async def test_a_failing_catalog_is_a_communication_error(
    catalog: str, runtime: HttpRuntime
) -> None:
    problem = await fault(
        runtime,
        f"""
        use: {{catalogs: {{down: {{endpoint: "{catalog}/down"}}}}}}
        do:
          - greet: {{call: greet:1.0.0@down, with: {{name: Ada}}}}
        """,
    )
    assert problem["type"] == ErrorType.COMMUNICATION
    assert problem["status"] == 503
    assert problem["instance"] == "/do/0/greet"


@pytest.mark.parametrize(
    ("url", "raw"),
    [
        (
            "https://github.com/serverlessworkflow/catalog/tree/main/functions/log/1.0.0/function.yaml",
            "https://raw.githubusercontent.com/serverlessworkflow/catalog/main/functions/log/1.0.0/function.yaml",
        ),
        (
            "https://github.com/serverlessworkflow/catalog/functions/log/1.0.0/function.yaml",
            "https://raw.githubusercontent.com/serverlessworkflow/catalog/HEAD/functions/log/1.0.0/function.yaml",
        ),
        (
            "https://gitlab.com/group/sub/repo/-/blob/v2/functions/f/1/function.yaml",
            "https://gitlab.com/group/sub/repo/-/raw/v2/functions/f/1/function.yaml",
        ),
        (
            "https://raw.githubusercontent.com/o/r/main/functions/f/1/function.yaml",
            "https://raw.githubusercontent.com/o/r/main/functions/f/1/function.yaml",
        ),
        ("http://127.0.0.1:8080/functions/f/1/function.yaml", None),
    ],
)
def test_git_hosting_urls_are_read_raw(url: str, raw: str | None) -> None:
    assert raw_content_url(url) == (raw or url)
