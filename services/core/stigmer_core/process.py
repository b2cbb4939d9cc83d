"""Process entry points: run a service coroutine until SIGTERM or SIGINT.

Services are written as coroutines that run until cancelled and clean up on the way out
(stop accepting work, drain within a grace period, close clients in reverse order). The
signal handler only cancels; the coroutine decides how to stop. The same coroutines run
as tasks side by side in local mode, where one supervisor owns the signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Any


def run_until_signal(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on a new event loop; SIGTERM/SIGINT cancel it once, gracefully."""

    async def runner() -> None:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(runner())
