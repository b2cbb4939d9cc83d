"""One logging set-up for every process: JSON for collectors, plain lines for people.

The execution id (and workflow id, task) are bound through context variables, so every
line logged while handling an execution carries them without passing loggers around.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from stigmer_core.settings import LogFormat

_bound: ContextVar[dict[str, Any] | None] = ContextVar("stigmer_log_context", default=None)


@contextmanager
def bind(**values: Any) -> Iterator[None]:
    """Attach ``values`` (execution_id=..., task=...) to every log line in this context."""
    token = _bound.set({**(_bound.get() or {}), **values})
    try:
        yield
    finally:
        _bound.reset(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _bound.get() or {}
        for key, value in context.items():
            setattr(record, key, value)
        record.context = " ".join(f"{k}={v}" for k, v in context.items())
        return True


def configure_logging(level: str = "INFO", fmt: LogFormat = LogFormat.AUTO) -> None:
    """Configure the root logger once, at process start."""
    if fmt is LogFormat.AUTO:
        fmt = LogFormat.CONSOLE if sys.stderr.isatty() else LogFormat.JSON
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    if fmt is LogFormat.JSON:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "asctime": "time"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s %(context)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Per-request access lines drown everything else at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
