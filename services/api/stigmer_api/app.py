"""``create_app(settings)``: the FastAPI application and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from stigmer_api.backlog import BacklogSampler, sample_forever
from stigmer_api.bus import Bus
from stigmer_api.bus.instrumented import InstrumentedBus
from stigmer_api.dispatch import Connector, Dispatcher, temporal_connector
from stigmer_api.http_errors import install_error_handlers
from stigmer_api.metrics import EXECUTIONS_PENDING
from stigmer_api.observed import instrument
from stigmer_api.request_metrics import RequestMetricsMiddleware
from stigmer_api.routes import (
    cloud_events,
    events,
    executions,
    health,
    instances,
    metrics,
    workflows,
)
from stigmer_api.services import Services
from stigmer_api.settings import ApiSettings, BusKind, StoreKind
from stigmer_api.storage import DocumentStore
from stigmer_api.storage.instrumented import InstrumentedStore
from stigmer_core.observability.exposition import record_build_info

log = logging.getLogger(__name__)


async def open_store(settings: ApiSettings) -> DocumentStore:
    if settings.stigmer_store is StoreKind.SQLITE:
        from stigmer_api.storage.sqlite import SqliteStore

        return await SqliteStore.open(settings.stigmer_sqlite_path)
    from stigmer_api.storage.mongo import MongoStore

    return await MongoStore.open(
        settings.mongodb_uri.get_secret_value(), database=settings.mongodb_database
    )


async def open_bus(settings: ApiSettings) -> Bus:
    if settings.stigmer_bus is BusKind.MEMORY:
        from stigmer_api.bus.memory import MemoryBus

        return MemoryBus()
    from stigmer_api.bus.redis import RedisBus

    return await RedisBus.open(settings.redis_url.get_secret_value())


async def reconcile_forever(services: Services) -> None:
    """Dispatch executions left PENDING while Temporal was unreachable, create the
    schedules that could not be created then (see ScheduleService.reconcile), and start the
    executions of ``schedule.on`` event sets a dead replica left half-done."""
    interval = services.settings.stigmer_reconcile_interval_seconds
    while True:
        try:
            await services.executions.dispatch_pending()
        except Exception:  # the loop must outlive store hiccups; the next round retries
            log.exception("reconciler round failed")
        try:
            EXECUTIONS_PENDING.set(await services.executions.count_pending())
        except Exception:  # as above
            log.exception("counting PENDING executions failed")
        try:
            await services.schedules.reconcile()
        except Exception:  # as above
            log.exception("schedule reconciler round failed")
        try:
            await services.triggers.finish_pending()
        except Exception:  # as above
            log.exception("event trigger reconciler round failed")
        await asyncio.sleep(interval)


def create_app(
    settings: ApiSettings,
    *,
    store: DocumentStore | None = None,
    bus: Bus | None = None,
    connect_temporal: Connector | None = None,
    tracing: TracerProvider | None = None,
) -> FastAPI:
    """Build the API. Store and bus are opened from settings unless given (tests give
    them to share one backend between apps); ``connect_temporal`` defaults to the
    settings' Temporal address. With ``tracing`` every request is a span (give the same
    provider's interceptors to ``connect_temporal``, see ``dispatch.temporal_connector``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            opened_store = store or await open_store(settings)
            if store is None:
                stack.push_async_callback(opened_store.close)
            opened_bus = bus or await open_bus(settings)
            if bus is None:
                stack.push_async_callback(opened_bus.close)
            the_store = InstrumentedStore(opened_store)
            the_bus = InstrumentedBus(opened_bus)
            dispatcher = Dispatcher(
                settings=settings, connect=connect_temporal or temporal_connector(settings)
            )
            await dispatcher.ensure_connected()
            services = Services.build(
                settings=settings, store=the_store, bus=the_bus, dispatcher=dispatcher
            )
            app.state.services = services
            reconciler = asyncio.create_task(reconcile_forever(services), name="reconciler")
            stack.push_async_callback(_cancel, reconciler)
            if settings.stigmer_backlog_sample_interval_seconds > 0:
                sampler = BacklogSampler(
                    dispatcher=dispatcher,
                    namespace=settings.temporal_namespace,
                    task_queue=settings.temporal_workflow_execution_runner_task_queue,
                )
                sampling = asyncio.create_task(
                    sample_forever(
                        sampler, interval=settings.stigmer_backlog_sample_interval_seconds
                    ),
                    name="backlog-sampler",
                )
                stack.push_async_callback(_cancel, sampling)
            yield

    app = FastAPI(
        title="Stigmer API",
        version="1",
        summary="Register Serverless Workflow DSL 1.0 workflows and run them on Temporal.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    instrument(app, tracing)
    app.add_middleware(RequestMetricsMiddleware)
    for module in (health, metrics, workflows, instances, executions, events, cloud_events):
        app.include_router(module.router)
    record_build_info("api")
    return app


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
