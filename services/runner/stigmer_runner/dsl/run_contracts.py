"""Payloads between the ``run`` task handler and the runner activities that do its work.

Plain dataclasses: the handler sends them as an :class:`ActivityCall` payload (a JSON
object) and Temporal's data converter rebuilds them from the activity's type hints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PROCESS_ACTIVITY = "stigmer.runner.run.process"
"""Activity name of :class:`stigmer_runner.activities.processes.ProcessActivities`."""

CONTAINER_ACTIVITY = "stigmer.runner.run.container"
"""Activity name of :class:`stigmer_runner.activities.containers.ContainerActivities`."""

RESOLVE_WORKFLOW_ACTIVITY = "stigmer.runner.run.resolve-workflow"
"""Activity name of :class:`stigmer_runner.activities.workflow_lookup.WorkflowLookup`."""

# ``ApplicationError.type`` values the process activity raises; none is worth a retry.
PROCESS_NOT_ALLOWED_ERROR = "ProcessNotAllowed"
"""The runner's settings do not allow this kind of process (configuration error)."""
PROCESS_CONFIGURATION_ERROR = "ProcessConfiguration"
"""The process cannot start as defined: unknown language, missing interpreter..."""
PROCESS_TIMEOUT_ERROR = "ProcessTimeout"
"""The process outlived its time limit; its process group was killed."""
CONTAINER_ENGINE_ERROR = "ContainerEngine"
"""The container engine refused a container (bad image, name in use, engine down): retried."""
WORKFLOW_NOT_FOUND_ERROR = "WorkflowNotFound"
"""``run: workflow`` names a workflow the API does not know."""

NON_RETRYABLE_PROCESS_ERRORS = [
    PROCESS_NOT_ALLOWED_ERROR,
    PROCESS_CONFIGURATION_ERROR,
    PROCESS_TIMEOUT_ERROR,
]


@dataclass
class ProcessRequest:
    """One ``run: shell`` or ``run: script`` with every expression resolved.

    ``kind`` is ``shell`` (``command`` runs through ``/bin/sh -c``) or ``script``
    (``code`` runs with the interpreter of ``language``). ``arguments`` are argv after the
    command or script; ``environment`` is the whole environment the process sees on top
    of a minimal base (PATH, HOME, LANG): the runner's own variables are never inherited.
    """

    kind: str
    task: str
    """The task's name and pointer, for error messages."""
    command: str = ""
    language: str = ""
    code: str = ""
    arguments: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    timeout_seconds: float | None = None
    """The task's own ``timeout``; the runner's limit applies when it is lower or unset."""
    wait: bool = True
    """False for ``await: false``: start the process and return at once."""

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ContainerRequest:
    """One ``run: container`` with every expression resolved and every field checked.

    The container runs ``image`` with ``command`` (split into words like a POSIX shell
    would, never run by one) followed by ``arguments``; without ``command`` the arguments
    replace the image's CMD, as in ``docker run image args``. ``ports`` maps host ports
    (``[ip:]port``) to container ports (``port[/protocol]``); ``volumes`` maps absolute host
    paths to container paths (``path[:ro]``). ``environment`` is all the container gets
    beyond the image's own variables.
    """

    task: str
    """The task's name and pointer, for error messages."""
    image: str
    name: str = ""
    """The container's name; empty: the runner makes one up (``stigmer-`` and random hex)."""
    command: list[str] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    ports: dict[str, str] = field(default_factory=dict)
    volumes: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    pull_policy: str = "ifNotPresent"
    """``ifNotPresent``, ``always`` or ``never``."""
    cleanup: str = "never"
    """``always`` (remove once it ended), ``never`` (leave it stopped) or ``eventually``."""
    cleanup_after_seconds: float | None = None
    """For ``eventually``: how long after it ended the container is removed."""
    timeout_seconds: float | None = None
    """The task's own ``timeout``; the runner's limit applies when it is lower or unset."""
    wait: bool = True
    """False for ``await: false``: start the container and return at once."""

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProcessResult:
    """How a process ended. Text is UTF-8 decoded (invalid bytes replaced)."""

    code: int | None = None
    """Exit code; a negative value -N means the process was killed by signal N; None when
    the process was not awaited."""
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    """True when the process wrote more than the runner's output limit; the rest was dropped."""
    stderr_truncated: bool = False
    limit_bytes: int = 0
    """The output limit that applied, for the truncation notice."""


@dataclass
class WorkflowReference:
    """The workflow a ``run: workflow`` task names; ``version`` may be ``latest``."""

    namespace: str
    name: str
    version: str = "latest"
    task: str = ""

    def payload(self) -> dict[str, Any]:
        return asdict(self)


LOAD_SECRETS_ACTIVITY = "stigmer.runner.secrets.load"
"""Activity name of :class:`stigmer_runner.activities.secret_loading.SecretLoading`."""
SECRETS_UNAVAILABLE_ERROR = "SecretsUnavailable"
"""Declared secrets are missing or malformed on this runner (configuration error)."""


@dataclass
class SecretsRequest:
    """Load the secrets a document declares: ``names`` is its ``use.secrets``, unchecked."""

    names: Any = None

    def payload(self) -> dict[str, Any]:
        return asdict(self)
