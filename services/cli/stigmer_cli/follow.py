"""Follow an execution's event stream to its end, reconnecting when the stream drops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from stigmer_cli.snapshots import diff_snapshots
from stigmer_core.errors import UnavailableError
from stigmer_core.model import WorkflowExecution


class ExecutionWatcher(Protocol):
    """The part of ``StigmerClient`` that following needs."""

    def watch_execution(self, execution_id: str) -> AsyncIterator[WorkflowExecution]: ...


async def follow_execution(
    client: ExecutionWatcher,
    execution_id: str,
    *,
    on_line: Callable[[str], None],
    on_snapshot: Callable[[WorkflowExecution], None] | None = None,
    previous: WorkflowExecution | None = None,
    reconnects: int = 5,
    backoff_seconds: float = 0.5,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> WorkflowExecution:
    """Stream ``execution_id`` until a terminal phase and return the last snapshot.

    ``on_line`` receives one line per change (see ``diff_snapshots``), computed against
    ``previous`` (what the caller already showed). A stream that ends or breaks before a
    terminal phase is reopened up to ``reconnects`` times in a row; the server sends a
    fresh snapshot first, so nothing is missed. Raises UnavailableError after that.
    """
    last = previous
    failures = 0
    if last is not None and last.status.phase.terminal:
        return last
    while True:
        cause = "the event stream ended before the execution finished"
        try:
            stream = client.watch_execution(execution_id)
            try:
                async for snapshot in stream:
                    if last is not None and snapshot.status.sequence < last.status.sequence:
                        continue
                    if last is None or snapshot.status.sequence > last.status.sequence:
                        # Progress: a stream that keeps delivering news may keep dropping.
                        failures = 0
                    for line in diff_snapshots(last, snapshot):
                        on_line(line)
                    last = snapshot
                    if on_snapshot is not None:
                        on_snapshot(snapshot)
                    if snapshot.status.phase.terminal:
                        break
            finally:
                # Leaving the loop early must close the HTTP stream, not leak it.
                await _close(stream)
        except UnavailableError as exc:
            cause = exc.message
        if last is not None and last.status.phase.terminal:
            return last
        failures += 1
        if failures > reconnects:
            raise UnavailableError(f"{cause}; gave up after {reconnects} reconnects")
        await sleep(backoff_seconds * failures)


async def _close(stream: AsyncIterator[WorkflowExecution]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
