"""The HTTP call activity against a real HTTP server on localhost."""

from __future__ import annotations

import base64
import dataclasses
import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from stigmer_runner.activities.http_call import HttpCallActivities
from stigmer_runner.dsl.contracts import (
    HTTP_CALL_ACTIVITY,
    HTTP_INVALID_REQUEST_ERROR,
    HTTP_RESPONSE_TOO_LARGE_ERROR,
    HTTP_TIMEOUT_ERROR,
    HTTP_TRANSPORT_ERROR,
    HttpRequest,
    HttpResponse,
)


@pytest.fixture
async def activities() -> AsyncIterator[HttpCallActivities]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield HttpCallActivities(http=http, max_response_bytes=10_000)


async def send(activities: HttpCallActivities, request: HttpRequest) -> HttpResponse:
    response: HttpResponse = await ActivityEnvironment().run(activities.call, request)
    return response


def test_the_activity_has_the_contract_name() -> None:
    definition = activity._Definition.from_callable(HttpCallActivities.call)
    assert definition is not None
    assert definition.name == HTTP_CALL_ACTIVITY == "stigmer.runner.http.call"


async def test_json_body_query_headers_and_request_echo(
    server: str, activities: HttpCallActivities
) -> None:
    response = await send(
        activities,
        HttpRequest(
            method="POST",
            url=f"{server}/echo?status=available&keep=1",
            headers={"X-Trace": "t-1", "Authorization": "Bearer s3cret"},
            query={"page": "2", "status": "sold"},
            body={"order": {"qty": 3}},
        ),
    )
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.headers["x-multi"] == "a"
    echo = response.content
    assert echo["method"] == "POST"
    assert echo["query"] == {"status": "sold", "keep": "1", "page": "2"}
    assert json.loads(echo["body"]) == {"order": {"qty": 3}}
    assert echo["headers"]["content-type"] == "application/json"
    assert echo["headers"]["authorization"] == "Bearer s3cret"
    assert echo["headers"]["x-trace"] == "t-1"
    assert response.request_method == "POST"
    assert response.request_uri == f"{server}/echo?status=sold&keep=1&page=2"
    assert response.request_headers["authorization"] == "Bearer [redacted]"
    assert response.request_headers["x-trace"] == "t-1"
    assert response.raw_base64 is None


@pytest.mark.parametrize(
    ("body", "headers", "sent", "content_type"),
    [
        ("plain words", {}, "plain words", "text/plain; charset=utf-8"),
        ('{"a":1}', {"content-type": "application/json"}, '{"a":1}', "application/json"),
        (
            {"a": "1 2", "b": 3},
            {"Content-Type": "application/x-www-form-urlencoded"},
            "a=1+2&b=3",
            "application/x-www-form-urlencoded",
        ),
        ([1, True, None], {}, "[1,true,null]", "application/json"),
    ],
)
async def test_body_encoding(
    server: str,
    activities: HttpCallActivities,
    body: Any,
    headers: dict[str, str],
    sent: str,
    content_type: str,
) -> None:
    response = await send(
        activities, HttpRequest(method="PUT", url=f"{server}/echo", headers=headers, body=body)
    )
    assert response.content["body"] == sent
    assert response.content["headers"]["content-type"] == content_type


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("/text", "café"),
        ("/binary", base64.b64encode(b"\x00\x01\xff").decode()),
        ("/problem", {"title": "Conflict"}),
        ("/badjson", "not json"),
        ("/empty", None),
    ],
)
async def test_content_is_decoded_by_content_type(
    server: str, activities: HttpCallActivities, path: str, content: Any
) -> None:
    response = await send(activities, HttpRequest(method="GET", url=f"{server}{path}"))
    assert response.content == content


async def test_raw_output_carries_the_undecoded_body_only(
    server: str, activities: HttpCallActivities
) -> None:
    response = await send(activities, HttpRequest(method="GET", url=f"{server}/text", output="raw"))
    assert response.raw_base64 == base64.b64encode("café".encode("latin-1")).decode()
    assert response.content is None


@pytest.mark.parametrize("status", [400, 404, 500, 503])
async def test_error_statuses_are_returned_not_raised(
    server: str, activities: HttpCallActivities, status: int
) -> None:
    response = await send(activities, HttpRequest(method="GET", url=f"{server}/status/{status}"))
    assert response.status_code == status
    assert response.content == {"status": status}


async def test_redirects_are_followed_only_when_asked(
    server: str, activities: HttpCallActivities
) -> None:
    stay = await send(activities, HttpRequest(method="GET", url=f"{server}/redirect"))
    assert stay.status_code == 302
    assert stay.headers["location"] == "/echo?from=redirect"
    follow = await send(
        activities, HttpRequest(method="GET", url=f"{server}/redirect", redirect=True)
    )
    assert follow.status_code == 200
    assert follow.content["query"] == {"from": "redirect"}
    assert follow.request_uri == f"{server}/echo?from=redirect"


async def test_task_timeout_is_final(server: str, activities: HttpCallActivities) -> None:
    with pytest.raises(ApplicationError) as caught:
        await send(
            activities,
            HttpRequest(method="GET", url=f"{server}/slow?seconds=2", timeout_seconds=0.2),
        )
    assert caught.value.type == HTTP_TIMEOUT_ERROR
    assert caught.value.non_retryable


async def test_client_timeout_is_retryable(server: str) -> None:
    async with httpx.AsyncClient(timeout=0.2) as http:
        activities = HttpCallActivities(http=http)
        with pytest.raises(ApplicationError) as caught:
            await send(activities, HttpRequest(method="GET", url=f"{server}/slow?seconds=2"))
    assert caught.value.type == HTTP_TIMEOUT_ERROR
    assert not caught.value.non_retryable


async def test_unreachable_server_is_a_retryable_transport_error(
    activities: HttpCallActivities,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is closed now: the connection is refused.
    with pytest.raises(ApplicationError) as caught:
        await send(activities, HttpRequest(method="GET", url=f"http://127.0.0.1:{port}/"))
    assert caught.value.type == HTTP_TRANSPORT_ERROR
    assert not caught.value.non_retryable


async def test_unsupported_url_is_not_retried(activities: HttpCallActivities) -> None:
    with pytest.raises(ApplicationError) as caught:
        await send(activities, HttpRequest(method="GET", url="ftp://127.0.0.1/file"))
    assert caught.value.type == HTTP_INVALID_REQUEST_ERROR
    assert caught.value.non_retryable


async def test_oversized_response_is_refused(server: str, activities: HttpCallActivities) -> None:
    ok = await send(activities, HttpRequest(method="GET", url=f"{server}/big?bytes=10000"))
    assert len(ok.content) == 10_000
    with pytest.raises(ApplicationError) as caught:
        await send(activities, HttpRequest(method="GET", url=f"{server}/big?bytes=10001"))
    assert caught.value.type == HTTP_RESPONSE_TOO_LARGE_ERROR
    assert caught.value.non_retryable


async def test_heartbeats_while_waiting_when_the_caller_set_a_heartbeat_timeout(
    server: str, activities: HttpCallActivities
) -> None:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_timeout=timedelta(seconds=0.3))
    beats: list[tuple[Any, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    response = await env.run(
        activities.call, HttpRequest(method="GET", url=f"{server}/slow?seconds=0.5")
    )
    assert response.status_code == 200
    assert len(beats) >= 3
