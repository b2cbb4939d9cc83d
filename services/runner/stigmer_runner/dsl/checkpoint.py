"""Continue-as-new for long loops: where a run stops, and where the next one picks up.

Temporal histories must stay bounded, so a long run is cut into several Temporal runs of
the same workflow id. The cut happens between two iterations of a ``for`` task that sits
in the document's ``do``, in ``do`` tasks and in the bodies of other ``for`` tasks, at any
depth. What the next run needs to carry on is a path of :class:`Frame`, one for each task
from the document's ``do`` down to the loop, plus the run-wide state in :class:`Resume`;
nothing before the cut is run again. Loops elsewhere (a ``fork`` branch, a ``try`` block,
an extension's lists, a function's task, a ``listen`` task's ``foreach``) are not cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Frame:
    """One task on the path to the cut: the ``index``-th task of its list.

    For a ``do`` task only ``task_index``, ``task_input`` and ``started_at`` matter. For a
    ``for`` task ``iteration`` is the iteration in progress when a loop further in was cut,
    or, in the last frame of the path, the iteration to start, with ``data`` as its input.
    """

    task_index: int
    task_input: Any
    """The task's transformed input (after ``input.from``): its ``$input``."""
    iteration: int | None = None
    data: Any = None
    items: list[Any] | None = None
    """``for.in`` from ``iteration`` on, as evaluated when the loop started; None in a frame
    written before nested cuts, whose loop evaluates ``for.in`` again."""
    started_at: str | None = None
    """When the task started (ISO 8601): its ``$task.startedAt`` and the start of its timeout."""


@dataclass
class Resume:
    """Where a continued run picks up: the path of :class:`Frame` to the loop that was cut."""

    context: Any
    """``$context`` at the cut."""
    workflow_input: Any
    """The workflow's input, for ``$input`` and ``$workflow.input``."""
    started_at: str
    """When the first run started (ISO 8601), for ``$workflow.startedAt`` and its timeout."""
    frames: list[Frame] = field(default_factory=list)
    """Outermost first: a task of the document's ``do``, ..., the ``for`` that was cut."""
    # The shape written before nested cuts (a top-level ``for`` only), kept readable because a
    # run continued by an older runner may be picked up by this one during an upgrade.
    task_index: int | None = None
    task_input: Any = None
    iteration: int | None = None
    data: Any = None

    def path(self) -> list[Frame]:
        """The frames to re-enter, whichever shape this was written in."""
        if self.frames or self.task_index is None:
            return self.frames
        return [
            Frame(
                task_index=self.task_index,
                task_input=self.task_input,
                iteration=self.iteration,
                data=self.data,
            )
        ]


class Checkpoint(BaseException):
    """Raised at an iteration boundary when the run should continue as new.

    A BaseException, so the task-failure handling (``except Exception``) lets it through to
    the hosting workflow, which continues as new with :attr:`resume`.
    """

    def __init__(self, resume: Resume) -> None:
        where = "/".join(f"{frame.task_index}" for frame in resume.path())
        last = resume.path()[-1].iteration if resume.path() else None
        super().__init__(f"continue as new at task path {where}, iteration {last}")
        self.resume = resume


def iso(moment: datetime) -> str:
    """``moment`` as ISO 8601 in UTC with a ``Z``, as the run's descriptors show times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
