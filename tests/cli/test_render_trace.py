"""`stigmer get` shows the execution's trace id (what to look up in the tracing backend)."""

from __future__ import annotations

from stigmer_cli.render import execution_text
from stigmer_core.model import ExecutionPhase
from tests.cli.builders import snapshot

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_execution_text_shows_the_trace_id() -> None:
    lines = execution_text(snapshot(ExecutionPhase.COMPLETED, trace_id=TRACE_ID))
    assert f"trace      {TRACE_ID}" in lines


def test_execution_text_has_no_trace_line_without_tracing() -> None:
    assert not any(line.startswith("trace") for line in execution_text(snapshot()))
