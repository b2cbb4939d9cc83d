"""One logging set-up for every process: JSON for collectors, plain lines for people.

The execution id (and workflow id, task) are bound through context variables, so every
line logged while handling an execution carries them without passing loggers around.
Temporal's ``workflow.logger`` and ``activity.logger`` lines carry the execution id too
(read from the Temporal workflow id they name), and every line logged inside a span
carries ``trace_id`` and ``span_id``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from stigmer_core.settings import LogFormat
from stigmer_core.trace_context import current_ids

_RESERVED = list(RESERVED_ATTRS)
_bound: ContextVar[dict[str, Any] | None] = ContextVar("stigmer_log_context", default=None)


@contextmanager
def bind(**values: Any) -> Iterator[None]:
    """Attach ``values`` (execution_id=..., task=...) to every log line in this context."""
    token = _bound.set({**(_bound.get() or {}), **values})
    try:
        yield
    finally:
        _bound.reset(token)


def bind_here(**values: Any) -> None:
    """Attach ``values`` to every later log line of the current context, without a block.

    For code that runs in a context of its own that ends with it (an HTTP request, an
    activity); elsewhere prefer :func:`bind`, which undoes itself.
    """
    _bound.set({**(_bound.get() or {}), **values})


# Temporal workflow ids name the execution: stigmer/dsl/wex-..., .../invoke/wex-...
_EXECUTION_IN_ID = re.compile(r"(?:^|/)(wex-[0-9A-HJKMNP-TV-Z]{26})(?:/|$)")


def execution_of(temporal_workflow_id: str) -> str | None:
    """The Stigmer execution id a Temporal workflow id names, if any."""
    found = _EXECUTION_IN_ID.search(temporal_workflow_id)
    return found.group(1) if found else None


def _temporal_fields(record: logging.LogRecord) -> dict[str, Any]:
    """Fields of a ``workflow.logger``/``activity.logger`` line (their ``extra``): workflow
    code runs outside our context variables, so this is how its lines get bound."""
    details = getattr(record, "temporal_workflow", None) or getattr(
        record, "temporal_activity", None
    )
    if not isinstance(details, dict):
        return {}
    fields: dict[str, Any] = {}
    temporal_id = details.get("workflow_id")
    if isinstance(temporal_id, str):
        fields["temporal_workflow_id"] = temporal_id
        execution_id = execution_of(temporal_id)
        if execution_id is not None:
            fields["execution_id"] = execution_id
    if "activity_type" in details:
        fields["activity"] = details["activity_type"]
    return fields


class ContextFilter(logging.Filter):
    """Puts bound values, Temporal's workflow/activity fields and the current trace and span
    ids on each record (as attributes, so the JSON formatter emits them as fields) and in
    ``record.context`` (for the console format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = {**_temporal_fields(record), **(_bound.get() or {})}
        ids = current_ids()
        if ids is not None:
            context["trace_id"], context["span_id"] = ids
        for key, value in context.items():
            setattr(record, key, value)
        record.context = " ".join(f"{k}={v}" for k, v in context.items())
        return True


def json_formatter() -> logging.Formatter:
    """The production format: one JSON object per line."""
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "asctime": "time"},
        # Temporal's nested dicts repeat what the filter already put in flat fields.
        reserved_attrs=[*_RESERVED, "context", "temporal_workflow", "temporal_activity"],
    )


def console_formatter() -> logging.Formatter:
    """The format for people on a terminal: one line, bound values at the end."""
    return logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s %(context)s")


def configure_logging(level: str = "INFO", fmt: LogFormat = LogFormat.AUTO) -> None:
    """Configure the root logger once, at process start."""
    if fmt is LogFormat.AUTO:
        fmt = LogFormat.CONSOLE if sys.stderr.isatty() else LogFormat.JSON
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(json_formatter() if fmt is LogFormat.JSON else console_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Per-request access lines drown everything else at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
