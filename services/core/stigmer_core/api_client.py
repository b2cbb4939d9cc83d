"""An asynchronous client of the Stigmer HTTP API, used by the runner, orchestrator and CLI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from stigmer_core.errors import StigmerError, UnavailableError, error_from_body
from stigmer_core.model import (
    Page,
    Workflow,
    WorkflowExecution,
    WorkflowInstance,
    WorkflowSchedule,
)
from stigmer_core.status import StatusUpdate
from stigmer_core.trace_context import trace_headers


class StigmerClient:
    """Typed calls to ``/v1``; errors come back as the domain errors the API raised.

    Use ``async with StigmerClient.connect(url, token=...) as client`` or hand in an
    ``httpx.AsyncClient`` you own (tests pass one bound to an ASGI app).
    """

    def __init__(self, *, http: httpx.AsyncClient) -> None:
        self._http = http

    @classmethod
    def connect(
        cls, base_url: str, *, token: str | None = None, timeout: float = 30.0
    ) -> _OwnedClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout)
        return _OwnedClient(http)

    async def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        # Inside a span (a runner's report, say) the API's span joins the caller's trace.
        kwargs["headers"] = trace_headers(kwargs.get("headers"))
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise UnavailableError(
                f"cannot reach the Stigmer API at {self._http.base_url}: {reason}"
            ) from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            raise error_from_body(body, f"HTTP {response.status_code} from {method} {url}")
        if response.status_code == 204:
            return None
        return response.json()

    # --- workflows ---
    async def register_workflow(self, document: str | dict[str, Any]) -> Workflow:
        if isinstance(document, str):
            content, ctype = document.encode(), "application/yaml"
        else:
            content, ctype = json.dumps(document).encode(), "application/json"
        data = await self._request(
            "POST", "/v1/workflows", content=content, headers={"Content-Type": ctype}
        )
        return Workflow.model_validate(data)

    async def get_workflow(self, workflow_id: str) -> Workflow:
        return Workflow.model_validate(await self._request("GET", f"/v1/workflows/{workflow_id}"))

    async def list_workflows(
        self, *, name: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page:
        params = _params(name=name, limit=limit, cursor=cursor)
        return Page.model_validate(await self._request("GET", "/v1/workflows", params=params))

    async def get_workflow_schedule(self, workflow_id: str) -> WorkflowSchedule:
        data = await self._request("GET", f"/v1/workflows/{workflow_id}/schedule")
        return WorkflowSchedule.model_validate(data)

    async def delete_workflow(self, workflow_id: str) -> None:
        await self._request("DELETE", f"/v1/workflows/{workflow_id}")

    # --- instances ---
    async def create_instance(
        self, workflow_id: str, *, env: dict[str, str] | None = None, name: str | None = None
    ) -> WorkflowInstance:
        body = {"workflow_id": workflow_id, "env": env or {}, "name": name}
        data = await self._request("POST", "/v1/instances", json=body)
        return WorkflowInstance.model_validate(data)

    async def get_instance(self, instance_id: str) -> WorkflowInstance:
        data = await self._request("GET", f"/v1/instances/{instance_id}")
        return WorkflowInstance.model_validate(data)

    # --- executions ---
    async def create_execution(
        self,
        *,
        workflow_id: str | None = None,
        instance_id: str | None = None,
        input: Any = None,
        env: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        request_id: str | None = None,
    ) -> WorkflowExecution:
        body: dict[str, Any] = {"workflow_id": workflow_id, "instance_id": instance_id}
        if input is not None:
            body["input"] = input
        if env:
            body["env"] = env
        if labels:
            body["labels"] = labels
        if request_id is not None:
            body["request_id"] = request_id
        data = await self._request("POST", "/v1/executions", json=body)
        return WorkflowExecution.model_validate(data)

    async def get_execution(self, execution_id: str) -> WorkflowExecution:
        data = await self._request("GET", f"/v1/executions/{execution_id}")
        return WorkflowExecution.model_validate(data)

    async def list_executions(
        self,
        *,
        phase: str | None = None,
        workflow_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        params = _params(phase=phase, workflow_id=workflow_id, limit=limit, cursor=cursor)
        return Page.model_validate(await self._request("GET", "/v1/executions", params=params))

    async def cancel_execution(self, execution_id: str) -> WorkflowExecution:
        data = await self._request("POST", f"/v1/executions/{execution_id}/cancel")
        return WorkflowExecution.model_validate(data)

    async def update_status(self, execution_id: str, update: StatusUpdate) -> WorkflowExecution:
        body = update.model_dump(mode="json", exclude_unset=True)
        data = await self._request("POST", f"/v1/executions/{execution_id}/status", json=body)
        return WorkflowExecution.model_validate(data)

    async def watch_execution(
        self, execution_id: str, *, idle_timeout: float = 60.0
    ) -> AsyncIterator[WorkflowExecution]:
        """Yield the execution as the server streams it; ends after a terminal phase.

        The server sends a keep-alive at least every 15 s by default; a stream silent for
        ``idle_timeout`` seconds is taken as lost (UnavailableError), so callers can reconnect.
        """
        url = f"/v1/executions/{execution_id}/events"
        timeout = httpx.Timeout(self._http.timeout.connect, read=idle_timeout)
        try:
            async with self._http.stream("GET", url, timeout=timeout) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_from_body(_json_or_none(response), f"HTTP {response.status_code}")
                async for event, data in _sse_events(response):
                    if event == "execution":
                        yield WorkflowExecution.model_validate_json(data)
                    elif event == "error":
                        raise error_from_body(json.loads(data), "stream error")
        except httpx.TransportError as exc:
            raise UnavailableError(f"lost the event stream of {execution_id}: {exc}") from exc

    async def ready(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", "/readyz")
        return result


class _OwnedClient:
    """``async with`` wrapper that closes the httpx client it created."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def __aenter__(self) -> StigmerClient:
        return StigmerClient(http=self._http)

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()


def _params(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


async def _sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """Parse a text/event-stream body into (event, data) pairs."""
    event: str = "message"
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "event":
                event = value
            elif key == "data":
                data.append(value)


__all__ = ["StigmerClient", "StigmerError"]
