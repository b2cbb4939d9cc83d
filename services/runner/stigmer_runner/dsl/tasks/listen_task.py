"""The ``listen`` task: wait for CloudEvents delivered to this execution.

Order matters and makes it race-free: the task first registers its routing filters with
the API (an activity), then waits on the runtime's event inbox. Events are Temporal signals,
buffered by Temporal from the moment the API can route them here, so none is lost between
registering and waiting. The subscription is removed when the task ends (the API also drops
subscriptions of executions that are over).

The output is the array of consumed events as ``read`` asks (``data`` by default), or with
``foreach`` the array of what ``foreach.do`` (then ``foreach.output.as``) made of each event,
processed one at a time in arrival order (``foreach.export.as`` updates ``$context`` after
each event; see ``subscription_iterator``). Events consumed by ``until`` are not in it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from stigmer_runner.dsl.contracts import ActivityCall
from stigmer_runner.dsl.event_contracts import SUBSCRIBE_ACTIVITY, UNSUBSCRIBE_ACTIVITY
from stigmer_runner.dsl.event_filters import (
    Listener,
    Matcher,
    StrategyError,
    parse_strategy,
    read_event,
    routing_filters,
)
from stigmer_runner.dsl.event_hub import EventHub, hub_of
from stigmer_runner.dsl.expressions import truthy
from stigmer_runner.dsl.tasks.base import Directive, TaskContext, TaskResult
from stigmer_runner.dsl.tasks.subscription_iterator import iterate, parse_iterator

READ_MODES = ("data", "envelope", "raw")


async def run_listen(task: TaskContext) -> TaskResult:
    """Consume events per ``listen.to``; see the module docstring for the output."""
    listen = task.definition.get("listen")
    if not isinstance(listen, Mapping):
        raise task.configuration_error("'listen' must be a mapping with 'to'")
    try:
        strategy = parse_strategy(listen.get("to"), "listen.to")
    except StrategyError as exc:
        raise task.configuration_error(str(exc)) from None
    mode = listen.get("read", "data")
    if mode not in READ_MODES:
        raise task.configuration_error(f"listen.read must be one of {', '.join(READ_MODES)}")
    foreach = parse_iterator(task, task.definition.get("foreach"), field="foreach")

    def evaluate(expression: str, data: Any, field: str) -> Any:
        return task.evaluate(expression, field=field, data=data)

    listener = Listener(strategy, Matcher(evaluate, expect_data=task.input))
    subscription = {"execution_id": _execution_id(task), "task": task.pointer}
    await task.runtime.execute(
        ActivityCall(
            SUBSCRIBE_ACTIVITY,
            {**subscription, "filters": routing_filters(strategy)},
            max_attempts=0,
        )
    )
    hub = hub_of(task.runtime)
    reader = hub.open()
    try:
        outputs, ended = await _consume(task, listener, mode, foreach, hub, reader)
    except (Exception, asyncio.CancelledError):
        # A failure a ``try`` may catch, or the task's timeout: stop routing events here
        # before the workflow carries on (the API drops subscriptions of finished runs).
        hub.close(reader)
        await _unsubscribe(task, subscription)
        raise
    hub.close(reader)
    await _unsubscribe(task, subscription)
    if foreach is None and strategy.kind == "all":
        outputs = [read_event(e, mode) for e in listener.events]  # filter order
    return TaskResult(outputs, then=Directive.END if ended else None)


async def _consume(
    task: TaskContext,
    listener: Listener,
    mode: str,
    foreach: Mapping[str, Any] | None,
    hub: EventHub,
    reader: int,
) -> tuple[list[Any], bool]:
    """Take events from the inbox until the strategy is satisfied (or an ``end`` inside
    ``foreach`` ends the workflow); return the outputs so far and whether it ended."""
    outputs: list[Any] = []
    # A publisher that retries sends the same event again: consume it once.
    seen: set[tuple[Any, Any]] = set()
    ended = False
    until = listener.strategy.until_expression
    while not listener.done and not ended:
        event = await hub.next(reader)
        key = (event.get("source"), event.get("id"))
        if key in seen or not listener.offer(event):
            continue
        seen.add(key)
        item = read_event(event, mode)
        if foreach is not None:
            result, ended = await iterate(task, foreach, item, len(outputs), field="foreach")
            outputs.append(result)
        else:
            outputs.append(item)
        if until is not None:
            consumed = [read_event(e, mode) for e in listener.events]
            if truthy(task.evaluate(until, field="until", data=consumed)):
                listener.until_reached()
    return outputs, ended


async def _unsubscribe(task: TaskContext, subscription: dict[str, str]) -> None:
    await task.runtime.execute(ActivityCall(UNSUBSCRIBE_ACTIVITY, subscription, max_attempts=0))


def _execution_id(task: TaskContext) -> str:
    workflow = task.variables().get("workflow") or {}
    return str(workflow.get("id") or "")
