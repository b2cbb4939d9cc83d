"""Progress lines on stderr, so stdout carries only the results."""

from __future__ import annotations

import sys
import time

_START = time.monotonic()


def say(message: str) -> None:
    """One timestamped progress line on stderr."""
    print(f"[{time.monotonic() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)
