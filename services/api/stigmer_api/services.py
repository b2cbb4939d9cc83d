"""The objects routes need, built once by the app's lifespan and handed to routes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi import Request

from stigmer_api.auth import Authenticator, Role
from stigmer_api.bus import Bus
from stigmer_api.dispatch import Dispatcher
from stigmer_api.execution_metrics import ExecutionMetrics
from stigmer_api.executions import ExecutionService
from stigmer_api.instances import InstanceService
from stigmer_api.scheduling import ScheduleService
from stigmer_api.scheduling.event_triggers import EventTriggers
from stigmer_api.settings import ApiSettings
from stigmer_api.storage import DocumentStore
from stigmer_api.workflows import WorkflowService


@dataclass(frozen=True)
class Services:
    settings: ApiSettings
    store: DocumentStore
    bus: Bus
    dispatcher: Dispatcher
    auth: Authenticator
    workflows: WorkflowService
    instances: InstanceService
    executions: ExecutionService
    schedules: ScheduleService
    triggers: EventTriggers
    # Set when the server starts shutting down: open event streams end, so clients
    # reconnect to another replica instead of holding this one open until a timeout.
    draining: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def build(
        cls,
        *,
        settings: ApiSettings,
        store: DocumentStore,
        bus: Bus,
        dispatcher: Dispatcher,
    ) -> Services:
        workflows = WorkflowService(store=store)
        instances = InstanceService(store=store, workflows=workflows)
        executions = ExecutionService(
            store=store,
            bus=bus,
            dispatcher=dispatcher,
            workflows=workflows,
            instances=instances,
            metrics=ExecutionMetrics(workflows=workflows),
        )
        return cls(
            settings=settings,
            store=store,
            bus=bus,
            dispatcher=dispatcher,
            auth=Authenticator(settings=settings),
            workflows=workflows,
            instances=instances,
            executions=executions,
            schedules=ScheduleService(settings=settings, store=store, dispatcher=dispatcher),
            triggers=EventTriggers(store=store, executions=executions),
        )


def services(request: Request) -> Services:
    """FastAPI dependency: the app's services."""
    found: Services = request.app.state.services
    return found


def as_user(request: Request) -> None:
    """FastAPI dependency: only the user token (or anonymous local mode) may call."""
    services(request).auth.require(request, Role.USER)


def as_reader(request: Request) -> None:
    """FastAPI dependency: users and runners may call (reads)."""
    services(request).auth.require(request, Role.USER, Role.RUNNER)


def as_runner(request: Request) -> None:
    """FastAPI dependency: runners (and users) may report status."""
    services(request).auth.require(request, Role.USER, Role.RUNNER)
