"""Exit codes: one place maps execution phases and errors to the number a shell sees."""

from __future__ import annotations

from enum import IntEnum

from stigmer_core.errors import (
    ConflictError,
    NotFoundError,
    StigmerError,
    UnavailableError,
    ValidationFailedError,
)
from stigmer_core.model import ExecutionPhase


class ExitCode(IntEnum):
    OK = 0
    """The execution COMPLETED (or the command did what it was asked)."""

    FAILED = 1
    """The execution FAILED, or the API refused the request for another reason."""

    USAGE = 2
    """Bad usage: unknown option, bad --input, missing file, invalid workflow, unknown id."""

    CANCELLED = 3
    """The execution was CANCELLED."""

    UNAVAILABLE = 4
    """The Stigmer API (or a server it needs) cannot be reached."""

    INTERRUPTED = 130
    """Ctrl-C while following; the execution keeps running on the server."""


EXIT_CODES_HELP = (
    "Exit codes: 0 COMPLETED (or success), 1 FAILED (or another API error), "
    "2 bad usage or invalid workflow, 3 CANCELLED, 4 server unreachable."
)


def exit_code_for_phase(phase: ExecutionPhase) -> ExitCode:
    """The exit code of a command that ended with an execution in ``phase``.

    A phase that is not terminal (``--no-follow``) counts as success: the request worked.
    """
    if phase is ExecutionPhase.FAILED:
        return ExitCode.FAILED
    if phase is ExecutionPhase.CANCELLED:
        return ExitCode.CANCELLED
    return ExitCode.OK


def exit_code_for_error(error: StigmerError) -> ExitCode:
    """The exit code for a domain error the API (or the CLI itself) raised."""
    if isinstance(error, UnavailableError):
        return ExitCode.UNAVAILABLE
    # Each of these means the request has to change, not the server: usage errors.
    if isinstance(error, ValidationFailedError | NotFoundError | ConflictError):
        return ExitCode.USAGE
    return ExitCode.FAILED
