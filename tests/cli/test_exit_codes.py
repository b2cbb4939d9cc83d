"""One mapping from phases and errors to exit codes."""

from __future__ import annotations

import pytest

from stigmer_cli.exit_codes import ExitCode, exit_code_for_error, exit_code_for_phase
from stigmer_core.errors import (
    ConflictError,
    DispatchFailedError,
    NotFoundError,
    StigmerError,
    TerminalPhaseError,
    UnauthorizedError,
    UnavailableError,
    ValidationFailedError,
)
from stigmer_core.model import ExecutionPhase


@pytest.mark.parametrize(
    ("phase", "code"),
    [
        (ExecutionPhase.COMPLETED, 0),
        (ExecutionPhase.FAILED, 1),
        (ExecutionPhase.CANCELLED, 3),
        # --no-follow ends before the run does: the request itself succeeded.
        (ExecutionPhase.PENDING, 0),
        (ExecutionPhase.IN_PROGRESS, 0),
    ],
)
def test_phase_exit_codes(phase: ExecutionPhase, code: int) -> None:
    assert exit_code_for_phase(phase) == code


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ValidationFailedError("bad"), ExitCode.USAGE),
        (NotFoundError("gone"), ExitCode.USAGE),
        (ConflictError("other document"), ExitCode.USAGE),
        (TerminalPhaseError("already done"), ExitCode.USAGE),
        (UnavailableError("down"), ExitCode.UNAVAILABLE),
        (UnauthorizedError("token"), ExitCode.FAILED),
        (DispatchFailedError("temporal said no"), ExitCode.FAILED),
        (StigmerError("internal"), ExitCode.FAILED),
    ],
)
def test_error_exit_codes(error: StigmerError, code: ExitCode) -> None:
    assert exit_code_for_error(error) is code


def test_documented_numbers_are_stable() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 130]
