"""Pure helpers behind the API's metrics: labels, backlog statistics, execution ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from starlette.routing import Route
from temporalio.api.taskqueue.v1 import TaskQueueStats, TaskQueueTypeInfo, TaskQueueVersionInfo
from temporalio.api.workflowservice.v1 import DescribeTaskQueueResponse

from stigmer_api.backlog import Backlog, backlogs, describe_request
from stigmer_api.execution_metrics import duration_seconds, finished_now
from stigmer_api.request_metrics import UNMATCHED_ROUTE, method_label, route_label
from stigmer_core.model import (
    ExecutionPhase,
    ExecutionSpec,
    ExecutionStatus,
    Metadata,
    WorkflowExecution,
)


async def _endpoint() -> None:
    return None


def test_route_label_is_the_template_or_one_label_for_no_route() -> None:
    route = Route("/v1/executions/{execution_id}", _endpoint)
    assert route_label({"type": "http", "route": route}) == "/v1/executions/{execution_id}"
    assert route_label({"type": "http"}) == UNMATCHED_ROUTE


def test_method_label_is_bounded() -> None:
    assert method_label("POST") == "POST"
    assert method_label("BREW") == "OTHER"


def test_backlogs_from_an_enhanced_describe_answer() -> None:
    def info(count: int, age_seconds: int) -> TaskQueueTypeInfo:
        return TaskQueueTypeInfo(
            stats=TaskQueueStats(
                approximate_backlog_count=count,
                approximate_backlog_age=Duration(seconds=age_seconds),
            )
        )

    response = DescribeTaskQueueResponse(
        versions_info={
            "": TaskQueueVersionInfo(types_info={1: info(3, 4), 2: info(5, 6)}),
            "build-2": TaskQueueVersionInfo(types_info={2: info(1, 9), 3: info(7, 7)}),
        }
    )
    assert backlogs(response) == [
        Backlog(queue_type="workflow", count=3, age_seconds=4.0),
        Backlog(queue_type="activity", count=6, age_seconds=9.0),
    ]
    assert backlogs(DescribeTaskQueueResponse()) == [
        Backlog(queue_type="workflow", count=0, age_seconds=0.0),
        Backlog(queue_type="activity", count=0, age_seconds=0.0),
    ]


def test_describe_request_asks_for_stats_of_both_types_in_one_call() -> None:
    request = describe_request("default", "runner-q")
    assert request.report_stats
    assert request.api_mode == 1  # DESCRIBE_TASK_QUEUE_MODE_ENHANCED
    assert list(request.task_queue_types) == [1, 2]
    assert request.task_queue.name == "runner-q"


def execution(phase: ExecutionPhase, *, seconds: float | None) -> WorkflowExecution:
    created = datetime(2025, 1, 2, tzinfo=UTC)
    return WorkflowExecution(
        metadata=Metadata(id="wex-1", name="w", created_at=created),
        spec=ExecutionSpec(workflow_id="wfl-1", instance_id="win-1"),
        status=ExecutionStatus(
            phase=phase,
            completed_at=None if seconds is None else created + timedelta(seconds=seconds),
        ),
    )


def test_an_execution_finishes_once_and_its_duration_runs_from_creation() -> None:
    done = execution(ExecutionPhase.COMPLETED, seconds=2.5)
    assert finished_now(ExecutionPhase.IN_PROGRESS, done)
    assert finished_now(ExecutionPhase.PENDING, done)
    assert not finished_now(ExecutionPhase.COMPLETED, done)
    running = execution(ExecutionPhase.IN_PROGRESS, seconds=None)
    assert not finished_now(ExecutionPhase.PENDING, running)
    assert duration_seconds(done) == 2.5
    assert duration_seconds(execution(ExecutionPhase.FAILED, seconds=None)) == 0.0
