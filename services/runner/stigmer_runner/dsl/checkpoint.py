"""Continue-as-new for long loops: where a run stops, and where the next one picks up.

Temporal histories must stay bounded, so a long run is cut into several Temporal runs of
the same workflow id. The cut happens between two iterations of a ``for`` task at the top
level of the document's ``do``: everything the next run needs to carry on is in
:class:`Resume`, and nothing before the cut is run again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Resume:
    """Where a continued run picks up: iteration ``iteration`` of the top-level ``for`` task
    at index ``task_index``, with the loop's accumulated ``data``."""

    task_index: int
    task_input: Any
    """The ``for`` task's transformed input (``for.in`` and ``while`` are evaluated on it)."""
    iteration: int
    data: Any
    context: Any
    """``$context`` at the cut."""
    workflow_input: Any
    """The workflow's input, for ``$input`` and ``$workflow.input``."""
    started_at: str
    """When the first run started (ISO 8601), for ``$workflow.startedAt`` and its timeout."""


class Checkpoint(BaseException):
    """Raised at an iteration boundary when the run should continue as new.

    A BaseException, so the task-failure handling (``except Exception``) lets it through to
    the hosting workflow, which continues as new with :attr:`resume`.
    """

    def __init__(self, resume: Resume) -> None:
        super().__init__(
            f"continue as new at task {resume.task_index}, iteration {resume.iteration}"
        )
        self.resume = resume
