"""The API routes behind ``emit`` and ``listen``, as the runner calls them.

A thin wrapper over :class:`stigmer_core.api_client.StigmerClient` (its transport, token and
error mapping), until the core client grows these methods.
"""

from __future__ import annotations

from typing import Any

from stigmer_core.api_client import StigmerClient


class EventApi:
    """``POST /v1/events`` and an execution's subscriptions."""

    def __init__(self, *, api: StigmerClient) -> None:
        self._api = api

    async def publish_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Publish a CloudEvent; return the API's delivery report."""
        report: dict[str, Any] = await self._api._request("POST", "/v1/events", json=event)
        return report

    async def subscribe(
        self, execution_id: str, *, task: str, filters: list[dict[str, Any]]
    ) -> None:
        """Register (or replace) the routing filters of ``task`` in ``execution_id``."""
        await self._api._request(
            "PUT",
            f"/v1/executions/{execution_id}/subscriptions",
            json={"task": task, "filters": filters},
        )

    async def unsubscribe(self, execution_id: str, *, task: str | None = None) -> None:
        """Remove the subscription of ``task`` (all of the execution's when None)."""
        params = {"task": task} if task is not None else {}
        await self._api._request(
            "DELETE", f"/v1/executions/{execution_id}/subscriptions", params=params
        )
