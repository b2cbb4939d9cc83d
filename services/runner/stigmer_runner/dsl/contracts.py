"""Payloads that cross between the DSL workflow and the runner's activities.

Plain dataclasses only: Temporal's default data converter serialises them as JSON. Both
the workflow (through the interpreter) and the activities import this module.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

HTTP_CALL_ACTIVITY = "stigmer.runner.http.call"
"""Activity name of :class:`stigmer_runner.activities.http_call.HttpCallActivities`."""

# ``ApplicationError.type`` values the HTTP activity raises, so the workflow can turn an
# activity failure into the right DSL problem (see errors.http_failure_problem).
HTTP_TRANSPORT_ERROR = "HttpTransportError"
"""The request could not be sent or the response not read (retryable)."""
HTTP_TIMEOUT_ERROR = "HttpTimeout"
"""The request timed out; not retryable when it was the task's own ``timeout`` (final)."""
HTTP_INVALID_REQUEST_ERROR = "HttpInvalidRequest"
"""The request cannot be sent as built, e.g. a malformed URL (not retryable)."""
HTTP_RESPONSE_TOO_LARGE_ERROR = "HttpResponseTooLarge"
"""The response body exceeded the activity's size limit (not retryable)."""
HTTP_CLIENT_CERTIFICATE_ERROR = "HttpClientCertificateRefused"
"""The server refused the TLS connection for want of an accepted client certificate (not
retryable): an authentication error."""


@dataclass
class HttpRequest:
    """One HTTP request as the ``call: http`` task resolved it: no expressions left."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    # True: follow redirects and accept 3xx; False: a 3xx is returned as is (and faults).
    redirect: bool = False
    timeout_seconds: float | None = None
    # The task's ``output`` format (content, response or raw); raw bytes travel only for raw.
    output: str = "content"


@dataclass
class HttpResponse:
    """An HTTP response; 4xx and 5xx are responses too (the interpreter decides they fault).

    ``content`` is the body decoded by content type: JSON for application/json and
    ``+json``, text for ``text/*``, base64 otherwise; None when the body is empty.
    ``raw_base64`` holds the undecoded body, only when the request asked for ``raw``.
    Header names are lower-case; repeated headers are joined with ", ".
    """

    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    content: Any = None
    content_type: str | None = None
    raw_base64: str | None = None
    # The request as sent (final URL with query, headers with credentials redacted), for
    # ``output: response``.
    request_method: str = ""
    request_uri: str = ""
    request_headers: dict[str, str] = field(default_factory=dict)

    def body_text(self) -> str | None:
        """The body as text, for documents fetched over HTTP (OpenAPI, catalog functions):
        from the raw bytes when the request asked for them, else from the decoded content."""
        if self.raw_base64:
            try:
                return base64.b64decode(self.raw_base64).decode("utf-8-sig", errors="replace")
            except (binascii.Error, ValueError):
                return None
        if self.content is None:
            return None
        return self.content if isinstance(self.content, str) else json.dumps(self.content)


@dataclass
class TaskEvent:
    """A task changed phase. ``phase`` is a :class:`stigmer_core.model.TaskPhase` value.

    ``task_id`` is the task's JSON pointer in the document (``/do/0/greet``); ``at`` an ISO
    8601 UTC time from the runtime's clock; ``error`` the RFC 7807 problem of a FAILED task.
    """

    task_id: str
    name: str
    type: str
    phase: str
    at: str
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    iteration: int | None = None
    """Inside a ``for`` loop: the index of the innermost iteration (see TaskStatus.iteration)."""
    started_at: str | None = None
    """On the event that ends a task: when it started (``at`` of its RUNNING event), so the
    report that ends it carries its duration even when the start went in an earlier one."""


@dataclass
class ActivityCall:
    """A side effect the interpreter asks the runtime to run as a runner activity."""

    name: str
    """Registered activity name, e.g. ``stigmer.runner.run.process``."""
    payload: dict[str, Any] = field(default_factory=dict)
    """The activity's single JSON argument."""
    timeout_seconds: float | None = None
    """Start-to-close timeout; None: the runner's default task timeout."""
    max_attempts: int = 3
    """Platform retries (transport failures, a runner that died). DSL retries are ``try``'s."""
    non_retryable_types: list[str] = field(default_factory=list)
    """``ApplicationError.type`` values that must not be retried."""


@dataclass
class ChildRun:
    """Run a workflow document as a child of the current run (``run: workflow``)."""

    document: dict[str, Any]
    input: Any = None
    task_pointer: str = ""
    """The parent's task that started the child; makes the child's id unique and stable."""
