"""Find the document of the workflow a ``run: workflow`` task names, through the API."""

from __future__ import annotations

import re
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from stigmer_core.api_client import StigmerClient
from stigmer_core.model import Workflow
from stigmer_runner.dsl.errors import ErrorType, problem
from stigmer_runner.dsl.run_contracts import (
    RESOLVE_WORKFLOW_ACTIVITY,
    WORKFLOW_NOT_FOUND_ERROR,
    WorkflowReference,
)

LATEST = "latest"
_PAGE = 200
_NUMBER = re.compile(r"\d+")


class WorkflowLookup:
    """Resolves ``namespace``/``name``/``version`` to a registered workflow's document."""

    def __init__(self, *, api: StigmerClient) -> None:
        self._api = api

    @activity.defn(name=RESOLVE_WORKFLOW_ACTIVITY)
    async def resolve(self, reference: WorkflowReference) -> dict[str, Any]:
        """The document of the matching workflow; ``latest`` picks the highest version.

        An unknown workflow fails without retry (a configuration error); an API that
        cannot be reached fails with a retryable error.
        """
        candidates: list[Workflow] = []
        cursor: str | None = None
        while True:
            page = await self._api.list_workflows(name=reference.name, limit=_PAGE, cursor=cursor)
            for item in page.items:
                workflow = Workflow.model_validate(item)
                if (
                    workflow.spec.namespace == reference.namespace
                    and workflow.spec.name == reference.name
                ):
                    candidates.append(workflow)
            cursor = page.next_cursor
            if not cursor:
                break
        chosen = pick(candidates, reference.version)
        if chosen is None:
            detail = (
                f"{reference.task}: run.workflow names {reference.namespace}/{reference.name} "
                f"version {reference.version}, which is not registered"
            )
            if candidates:
                known = ", ".join(sorted(w.spec.version for w in candidates))
                detail += f" (registered versions: {known})"
            raise ApplicationError(
                detail,
                problem(ErrorType.CONFIGURATION, detail=detail),
                type=WORKFLOW_NOT_FOUND_ERROR,
                non_retryable=True,
            )
        return chosen.spec.document


def pick(workflows: list[Workflow], version: str) -> Workflow | None:
    """The workflow of exactly ``version``, or the highest version for ``latest``."""
    if version != LATEST:
        return next((w for w in workflows if w.spec.version == version), None)
    if not workflows:
        return None
    return max(workflows, key=lambda w: (version_key(w.spec.version), w.metadata.created_at))


def version_key(version: str) -> tuple[tuple[int, ...], bool, str]:
    """Order versions numerically (1.10 after 1.9); a pre-release before its release."""
    core, _, pre = version.partition("-")
    numbers = tuple(int(n) for n in _NUMBER.findall(core))
    return numbers, not pre, pre
