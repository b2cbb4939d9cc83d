"""Workflow errors as RFC 7807 problems, with the DSL's standard error types.

A faulted workflow or task carries a problem: ``type``, ``status``, ``title``, ``detail`` and
``instance`` (the JSON pointer of the task that failed). Everything here is plain data so it
can cross the Temporal boundary and land in an execution's status unchanged.
"""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus
from typing import Any

from stigmer_runner.dsl.contracts import (
    HTTP_CLIENT_CERTIFICATE_ERROR,
    HTTP_INVALID_REQUEST_ERROR,
    HTTP_TIMEOUT_ERROR,
)


class ErrorType(StrEnum):
    """The specification's standard error types (dsl-reference.md, "Standard Error Types")."""

    CONFIGURATION = "https://serverlessworkflow.io/spec/1.0.0/errors/configuration"
    VALIDATION = "https://serverlessworkflow.io/spec/1.0.0/errors/validation"
    EXPRESSION = "https://serverlessworkflow.io/spec/1.0.0/errors/expression"
    AUTHENTICATION = "https://serverlessworkflow.io/spec/1.0.0/errors/authentication"
    AUTHORIZATION = "https://serverlessworkflow.io/spec/1.0.0/errors/authorization"
    TIMEOUT = "https://serverlessworkflow.io/spec/1.0.0/errors/timeout"
    COMMUNICATION = "https://serverlessworkflow.io/spec/1.0.0/errors/communication"
    RUNTIME = "https://serverlessworkflow.io/spec/1.0.0/errors/runtime"

    @property
    def default_status(self) -> int:
        return _DEFAULT_STATUS[self]

    @property
    def default_title(self) -> str:
        return _DEFAULT_TITLE[self]


_DEFAULT_STATUS = {
    ErrorType.CONFIGURATION: 400,
    ErrorType.VALIDATION: 400,
    ErrorType.EXPRESSION: 400,
    ErrorType.AUTHENTICATION: 401,
    ErrorType.AUTHORIZATION: 403,
    ErrorType.TIMEOUT: 408,
    ErrorType.COMMUNICATION: 500,
    ErrorType.RUNTIME: 500,
}

_DEFAULT_TITLE = {
    ErrorType.CONFIGURATION: "Configuration Error",
    ErrorType.VALIDATION: "Validation Error",
    ErrorType.EXPRESSION: "Expression Error",
    ErrorType.AUTHENTICATION: "Authentication Error",
    ErrorType.AUTHORIZATION: "Authorization Error",
    ErrorType.TIMEOUT: "Timeout",
    ErrorType.COMMUNICATION: "Communication Error",
    ErrorType.RUNTIME: "Runtime Error",
}


def problem(
    error_type: ErrorType | str,
    *,
    detail: str | None = None,
    status: int | None = None,
    title: str | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    """Build an RFC 7807 problem; status and title default from a standard error type."""
    standard = error_type if isinstance(error_type, ErrorType) else None
    if status is None:
        status = standard.default_status if standard else 500
    if title is None and standard is not None:
        title = standard.default_title
    body: dict[str, Any] = {"type": str(error_type), "status": status}
    if title is not None:
        body["title"] = title
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    return body


class WorkflowError(Exception):
    """A DSL error that faults the task raising it and, uncaught, the workflow.

    ``problem`` is the RFC 7807 body. When the interpreter sees one without an ``instance``
    it fills in the pointer of the task that was running.
    """

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail") or problem.get("title") or problem.get("type"))
        self.problem = problem

    @classmethod
    def of(
        cls,
        error_type: ErrorType,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        instance: str | None = None,
    ) -> WorkflowError:
        """Shorthand for ``WorkflowError(problem(...))``."""
        body = problem(error_type, detail=detail, status=status, title=title, instance=instance)
        return cls(body)

    @property
    def instance(self) -> str | None:
        value = self.problem.get("instance")
        return value if isinstance(value, str) else None

    def located(self, instance: str) -> WorkflowError:
        """Set ``instance`` when it is missing; the innermost task that saw the error wins."""
        if self.instance is None:
            self.problem = {**self.problem, "instance": instance}
        return self


def runtime_problem(exc: BaseException, instance: str | None = None) -> dict[str, Any]:
    """The problem reported for a Python exception nobody meant to raise (a bug): runtime, 500."""
    return problem(
        ErrorType.RUNTIME,
        detail=f"unexpected {type(exc).__name__}: {exc}",
        instance=instance,
    )


def http_status_problem(
    status: int, *, method: str, uri: str, excerpt: str | None, instance: str | None = None
) -> dict[str, Any]:
    """The communication problem for an HTTP response whose status the DSL treats as an error."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = ErrorType.COMMUNICATION.default_title
    detail = f"{method} {uri} returned HTTP {status}"
    if excerpt:
        detail = f"{detail}: {excerpt}"
    return problem(
        ErrorType.COMMUNICATION, detail=detail, status=status, title=title, instance=instance
    )


def http_failure_problem(
    error_type: str | None, message: str, *, instance: str | None = None
) -> dict[str, Any]:
    """Map a failed HTTP call activity (its ``ApplicationError.type``) to a DSL problem.

    For the workflow's runtime port: it catches the activity failure and raises
    ``WorkflowError(http_failure_problem(cause.type, cause.message))``.
    """
    if error_type == HTTP_TIMEOUT_ERROR:
        return problem(ErrorType.TIMEOUT, detail=message, instance=instance)
    if error_type == HTTP_INVALID_REQUEST_ERROR:
        return problem(ErrorType.CONFIGURATION, detail=message, instance=instance)
    if error_type == HTTP_CLIENT_CERTIFICATE_ERROR:
        return problem(ErrorType.AUTHENTICATION, detail=message, instance=instance)
    # Transport failures, oversized responses and anything unknown: the call did not
    # produce a usable response; 502 is what a gateway answers in that case.
    return problem(ErrorType.COMMUNICATION, detail=message, status=502, instance=instance)
