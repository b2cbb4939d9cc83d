"""Process entry points: run a service coroutine until SIGTERM or SIGINT.

Services are written as coroutines that run until cancelled and clean up on the way out
(stop accepting work, drain within a grace period, close clients in reverse order). The
signal handler only cancels; the coroutine decides how to stop. The same coroutines run
as tasks side by side in local mode, where one supervisor owns the signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn

from stigmer_core.errors import StigmerError


def run_until_signal(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on a new event loop; SIGTERM/SIGINT cancel it once, gracefully.

    After a clean stop the process exits at once with status 0. Everything that needs
    closing was closed by ``main`` itself; skipping interpreter finalization avoids a known
    crash of C extensions with threads of their own (grpcio) at exit, which would turn a
    clean shutdown into an abort (status -6) that orchestrators count as a failure.
    """

    async def runner() -> None:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(runner())
    except StigmerError as exc:
        # A deliberate error at start-up (an unusable setting, say): its message, not a
        # traceback, and a non-zero status so the orchestrator of processes notices.
        where = f" ({exc.field})" if exc.field else ""
        logging.getLogger(__name__).error("cannot run: %s%s", exc.message, where)
        exit_now(2)
    exit_now(0)


def exit_now(code: int) -> NoReturn:
    """Flush logs and standard streams, then end the process without interpreter
    finalization (see run_until_signal for why). Only for after a complete, clean stop."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
