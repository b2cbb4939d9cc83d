"""Following survives dropped streams: it reconnects, never repeats lines, and gives up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from stigmer_cli.follow import follow_execution
from stigmer_core.errors import NotFoundError, UnavailableError
from stigmer_core.model import ExecutionPhase, TaskPhase, WorkflowExecution
from tests.cli.builders import EXECUTION_ID, snapshot, task

Session = list[WorkflowExecution | Exception]


class ScriptedStreams:
    """Each ``watch_execution`` call plays the next session: snapshots, then maybe an error.

    A stand-in for the SSE endpoint; the real endpoint is covered by the local-mode test.
    """

    def __init__(self, sessions: list[Session]) -> None:
        self._sessions = sessions
        self.opened = 0
        self.closed = 0

    async def _play(self, session: Session) -> AsyncIterator[WorkflowExecution]:
        try:
            for item in session:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self.closed += 1

    def watch_execution(self, execution_id: str) -> AsyncIterator[WorkflowExecution]:
        assert execution_id == EXECUTION_ID
        session = self._sessions[self.opened]
        self.opened += 1
        return self._play(session)


async def no_sleep(_: float) -> None:
    return None


RUNNING = snapshot(
    ExecutionPhase.IN_PROGRESS, sequence=2, tasks=[task("/do/0/a", TaskPhase.RUNNING)]
)
DONE = snapshot(
    ExecutionPhase.COMPLETED,
    sequence=3,
    tasks=[task("/do/0/a", TaskPhase.COMPLETED)],
    output={"ok": True},
)


async def test_reconnects_after_a_drop_without_repeating_lines() -> None:
    streams = ScriptedStreams(
        [
            [RUNNING, UnavailableError("connection reset")],
            # The server starts every stream with a fresh snapshot: here the same one.
            [RUNNING, DONE],
        ]
    )
    lines: list[str] = []
    final = await follow_execution(streams, EXECUTION_ID, on_line=lines.append, sleep=no_sleep)
    assert final.status.phase is ExecutionPhase.COMPLETED
    assert lines == [
        f"execution {EXECUTION_ID} IN_PROGRESS",
        "  ▶ /do/0/a (set) RUNNING",
        f"execution {EXECUTION_ID} COMPLETED",
        "  ✓ /do/0/a (set) COMPLETED",
    ]
    assert streams.opened == streams.closed == 2


async def test_a_stream_that_ends_early_is_reopened() -> None:
    streams = ScriptedStreams([[RUNNING], [DONE]])
    final = await follow_execution(streams, EXECUTION_ID, on_line=lambda _: None, sleep=no_sleep)
    assert final is DONE
    assert streams.opened == 2


async def test_stops_reading_at_a_terminal_phase() -> None:
    # Anything after the terminal snapshot would be a bug on the server; it is not read.
    streams = ScriptedStreams([[RUNNING, DONE, UnavailableError("never reached")]])
    final = await follow_execution(streams, EXECUTION_ID, on_line=lambda _: None, sleep=no_sleep)
    assert final is DONE
    assert streams.closed == 1


async def test_gives_up_after_the_reconnect_budget() -> None:
    sessions: list[Session] = [[RUNNING, UnavailableError("down")]]
    sessions += [[UnavailableError("refused")] for _ in range(3)]
    streams = ScriptedStreams(sessions)
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    with pytest.raises(UnavailableError, match="gave up after 2 reconnects"):
        await follow_execution(
            streams, EXECUTION_ID, on_line=lambda _: None, reconnects=2, sleep=record
        )
    assert streams.opened == 3
    assert waits == [0.5, 1.0]


async def test_already_terminal_needs_no_stream() -> None:
    streams = ScriptedStreams([])
    final = await follow_execution(
        streams, EXECUTION_ID, on_line=lambda _: None, previous=DONE, sleep=no_sleep
    )
    assert final is DONE
    assert streams.opened == 0


async def test_other_errors_are_not_retried() -> None:
    streams = ScriptedStreams([[NotFoundError("execution not found")]])
    with pytest.raises(NotFoundError):
        await follow_execution(streams, EXECUTION_ID, on_line=lambda _: None, sleep=no_sleep)
    assert streams.opened == 1


async def test_older_snapshots_after_reconnect_are_ignored() -> None:
    older = snapshot(ExecutionPhase.PENDING, sequence=1)
    streams = ScriptedStreams([[RUNNING], [older, DONE]])
    seen: list[WorkflowExecution] = []
    await follow_execution(
        streams, EXECUTION_ID, on_line=lambda _: None, on_snapshot=seen.append, sleep=no_sleep
    )
    assert [s.status.sequence for s in seen] == [2, 3]
