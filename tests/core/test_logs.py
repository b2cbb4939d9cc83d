"""The log filter: bound values, Temporal's workflow/activity fields and the current trace
on every line, as JSON fields in production and at the end of console lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from stigmer_core.logs import (
    ContextFilter,
    bind,
    bind_here,
    console_formatter,
    execution_of,
    json_formatter,
)
from stigmer_core.trace_context import continue_trace, current_trace_id, trace_headers

EXECUTION_ID = "wex-01JD0000000000000000000000"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_bound_values_are_json_fields_and_end_with_the_block(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    with bind(execution_id=EXECUTION_ID, workflow_id="wfl-1"), bind(task="/do/0/a"):
        logger.info("inside")
    logger.info("outside")
    inside, outside = lines(stream)
    assert inside["message"] == "inside"
    assert (inside["execution_id"], inside["workflow_id"], inside["task"]) == (
        EXECUTION_ID,
        "wfl-1",
        "/do/0/a",
    )
    assert "execution_id" not in outside
    assert "context" not in inside, "the console summary is not repeated in JSON"


def test_lines_in_a_span_carry_its_trace_and_span_ids(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    tracer = TracerProvider().get_tracer("tests")
    with tracer.start_as_current_span("work") as span:
        logger.info("traced")
    logger.info("untraced")
    traced, untraced = lines(stream)
    context = span.get_span_context()
    assert traced["trace_id"] == f"{context.trace_id:032x}"
    assert traced["span_id"] == f"{context.span_id:016x}"
    assert "trace_id" not in untraced


def test_temporal_logger_lines_name_the_execution(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    workflow_id = f"stigmer/dsl/{EXECUTION_ID}"
    logger.info(
        "from an activity",
        extra={"temporal_activity": {"workflow_id": workflow_id, "activity_type": "http"}},
    )
    (line,) = lines(stream)
    assert line["execution_id"] == EXECUTION_ID
    assert line["temporal_workflow_id"] == workflow_id
    assert line["activity"] == "http"
    assert "temporal_activity" not in line


def test_bind_here_lasts_for_the_rest_of_the_context(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    with bind():
        bind_here(execution_id=EXECUTION_ID)
        logger.info("after")
    logger.info("outside")
    after, outside = lines(stream)
    assert after["execution_id"] == EXECUTION_ID
    assert "execution_id" not in outside


def test_console_lines_end_with_the_context() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    with bind(execution_id=EXECUTION_ID):
        ContextFilter().filter(record)
    assert console_formatter().format(record).endswith(f"hello execution_id={EXECUTION_ID}")


@pytest.mark.parametrize(
    ("temporal_id", "expected"),
    [
        (f"stigmer/workflow-execution/invoke/{EXECUTION_ID}", EXECUTION_ID),
        (f"stigmer/dsl/{EXECUTION_ID}/child-2", EXECUTION_ID),
        ("stigmer/scheduled/wfl-01JD0000000000000000000000", None),
        ("wex-not-an-id", None),
    ],
)
def test_execution_of_temporal_workflow_ids(temporal_id: str, expected: str | None) -> None:
    assert execution_of(temporal_id) == expected


def test_trace_helpers_outside_and_inside_a_stored_trace() -> None:
    assert current_trace_id() is None
    assert trace_headers({"X": "1"}) == {"X": "1"}
    stored = "4bf92f3577b34da6a3ce929d0e0e4736"
    with continue_trace(stored):
        assert current_trace_id() == stored
        headers = trace_headers({"Accept": "application/json"})
        assert headers["traceparent"].startswith(f"00-{stored}-")
        # A task's own traceparent wins over ours.
        assert trace_headers({"TraceParent": "mine"}) == {"TraceParent": "mine"}
    with continue_trace("not hex"):
        assert trace.get_current_span().get_span_context().is_valid is False
