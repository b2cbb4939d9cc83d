"""What the process and container activities share: piping I/O and their error shapes."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.exceptions import ApplicationError

from stigmer_runner.dsl.errors import ErrorType, problem
from stigmer_runner.dsl.run_contracts import (
    PROCESS_CONFIGURATION_ERROR,
    PROCESS_NOT_ALLOWED_ERROR,
    PROCESS_TIMEOUT_ERROR,
)

_READ_CHUNK = 64 * 1024


async def feed_stdin(process: asyncio.subprocess.Process, stdin: str | None) -> None:
    """Write stdin, if any, and close it so the process sees end of input."""
    assert process.stdin is not None
    try:
        if stdin:
            process.stdin.write(stdin.encode())
            await process.stdin.drain()
        process.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the process exited without reading its input: not an error by itself


async def read_capped(stream: asyncio.StreamReader, limit: int) -> tuple[bytes, bool]:
    """Read to end of stream; keep the first ``limit`` bytes; say whether more came."""
    kept = bytearray()
    truncated = False
    while chunk := await stream.read(_READ_CHUNK):
        room = limit - len(kept)
        if len(chunk) > room:
            truncated = True
            chunk = chunk[: max(room, 0)]
        kept += chunk
    return bytes(kept), truncated


def not_allowed_error(task: str, what: str, remedy: str) -> ApplicationError:
    """``what`` is off on this runner; ``remedy`` names the setting that turns it on."""
    detail = f"{task}: {what} is disabled on this runner; {remedy}"
    return _error(detail, PROCESS_NOT_ALLOWED_ERROR)


def configuration_error(task: str, detail: str) -> ApplicationError:
    """The process or container cannot start as defined (a configuration error)."""
    return _error(f"{task}: {detail}", PROCESS_CONFIGURATION_ERROR)


def timeout_error(task: str, what: str, seconds: float) -> ApplicationError:
    """``what`` outlived its limit and was killed (the standard timeout error)."""
    detail = f"{task}: {what} did not finish within {seconds:g} s and was killed"
    return ApplicationError(
        detail,
        problem(ErrorType.TIMEOUT, detail=detail),
        type=PROCESS_TIMEOUT_ERROR,
        non_retryable=True,
    )


def _error(detail: str, error_type: str) -> ApplicationError:
    body: dict[str, Any] = problem(ErrorType.CONFIGURATION, detail=detail)
    return ApplicationError(detail, body, type=error_type, non_retryable=True)
