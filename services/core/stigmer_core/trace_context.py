"""The current trace, as the rest of the code needs it: ids for logs and for the execution's
status, W3C headers for outgoing HTTP calls, and re-entering a stored trace.

Only the OpenTelemetry API is used here: with tracing off (no SDK provider configured)
there is never a current span, so every helper is a cheap no-op.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

from opentelemetry import propagate, trace

TRACEPARENT = "traceparent"


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span as lowercase hex, or None outside a span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


def current_trace_id() -> str | None:
    """The current trace's id (32 hex characters) when it is sampled, else None: an id of a
    trace that no backend receives would send people looking for nothing."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return trace.format_trace_id(context.trace_id)


def trace_headers(headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """``headers`` plus the W3C trace context of the current span (``traceparent``, and
    ``tracestate``/``baggage`` when set). Headers the caller gave win: a task that sets its
    own ``traceparent`` keeps it."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    given = dict(headers or {})
    names = {name.lower() for name in given}
    return {**{k: v for k, v in carrier.items() if k.lower() not in names}, **given}


def inject_into(headers: MutableMapping[str, str]) -> None:
    """Add the current span's W3C trace context to ``headers`` in place."""
    propagate.inject(headers)


@contextmanager
def continue_trace(trace_id: str | None) -> Iterator[None]:
    """Run the block inside the trace ``trace_id`` (stored earlier), so work resumed later
    (a PENDING execution dispatched by the reconciler) joins the execution's trace.

    The parent is a remote placeholder in that trace: its span id is new, since the span that
    started the trace ended long ago. Without a valid id (or outside tracing) nothing changes.
    """
    if trace_id is None or trace.get_current_span().get_span_context().is_valid:
        yield
        return
    try:
        trace_int = int(trace_id, 16)
    except ValueError:
        yield
        return
    if not 0 < trace_int < 2**128:
        yield
        return
    parent = trace.SpanContext(
        trace_id=trace_int,
        span_id=random.getrandbits(64) or 1,
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    with trace.use_span(trace.NonRecordingSpan(parent), end_on_exit=False):
        yield
