"""A FakeRuntime whose HTTP calls go through the runner's real HTTP activity.

For interpreter tests against local servers: the request really leaves, and an activity
failure becomes the DSL problem the DSL workflow would make of it.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from stigmer_runner.activities.http_call import HttpCallActivities
from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import WorkflowError, http_failure_problem
from tests.runner.fakes import FakeRuntime


class HttpRuntime(FakeRuntime):
    """FakeRuntime whose HTTP calls go through the real activity, failures mapped as the
    DSL workflow maps them."""

    def __init__(self, activities: HttpCallActivities) -> None:
        super().__init__()
        self._activities = activities

    async def call_http(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        try:
            response: HttpResponse = await ActivityEnvironment().run(self._activities.call, request)
        except ApplicationError as exc:
            raise WorkflowError(http_failure_problem(exc.type, exc.message)) from None
        return response
