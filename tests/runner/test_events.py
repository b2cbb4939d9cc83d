"""``emit`` and ``listen`` in the interpreter, with an in-memory runtime (no Temporal)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from stigmer_runner.dsl.contracts import ActivityCall
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.event_contracts import (
    EMIT_EVENT_ACTIVITY,
    SUBSCRIBE_ACTIVITY,
    UNSUBSCRIBE_ACTIVITY,
)
from stigmer_runner.dsl.event_filters import literal_matches, read_event
from stigmer_runner.dsl.event_hub import hub_of
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.fakes import FakeRuntime

TEMPERATURE = "com.fake-hospital.vitals.measurements.temperature"
BPM = "com.fake-hospital.vitals.measurements.bpm"


class EventRuntime(FakeRuntime):
    """The fake runtime plus recorded activities and a seeded random source."""

    def __init__(self, *events: dict[str, Any]) -> None:
        super().__init__()
        self.inbox.extend(events)
        self.calls: list[ActivityCall] = []
        self._random = random.Random(7)

    async def execute(self, call: ActivityCall) -> Any:
        self.calls.append(call)
        return {"event_id": "x", "delivered_to": []} if call.name == EMIT_EVENT_ACTIVITY else None

    def random(self) -> float:
        return self._random.random()


def event(type_: str, data: Any = None, **attributes: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"e-{random.random()}",
        "source": "https://fake-hospital.com",
        "type": type_,
        "data": data,
        **attributes,
    }


def workflow(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {
        "document": {"dsl": "1.0.3", "namespace": "test", "name": "events", "version": "0.1.0"},
        "do": list(tasks),
    }


def listen(to: dict[str, Any], *, read: str | None = None) -> dict[str, Any]:
    definition: dict[str, Any] = {"to": to}
    if read is not None:
        definition["read"] = read
    return {"callDoctor": {"listen": definition}}


async def run(document: dict[str, Any], runtime: EventRuntime, data: Any = None) -> Any:
    return await Interpreter(document, runtime=runtime, execution_id="wex-1").run(data or {})


VITALS_FILTERS = [
    {"with": {"type": TEMPERATURE, "data": "${ .temperature > 38 }"}},
    {"with": {"type": BPM, "data": "${ .bpm < 60 or .bpm > 100 }"}},
]


# --- emit --------------------------------------------------------------------------------


async def test_emit_publishes_the_event_and_outputs_it() -> None:
    """ctk emit.feature: defaults filled in, expressions evaluated, the event is the output."""
    runtime = EventRuntime()
    document = workflow(
        {
            "emitEvent": {
                "emit": {
                    "event": {
                        "with": {
                            "source": "https://fake-source.com",
                            "type": "com.fake-source.user.greeted.v1",
                            "data": {
                                "greetings": '${ "Hello \\(.user.firstName) \\(.user.lastName)!" }'
                            },
                        }
                    }
                }
            }
        }
    )
    output = await run(document, runtime, {"user": {"firstName": "John", "lastName": "Doe"}})
    assert set(output) == {"id", "specversion", "time", "source", "type", "data"}
    assert output["source"] == "https://fake-source.com"
    assert output["type"] == "com.fake-source.user.greeted.v1"
    assert output["data"] == {"greetings": "Hello John Doe!"}
    assert output["specversion"] == "1.0"
    assert output["time"] == "2025-01-02T03:04:05Z"
    assert len(output["id"]) == 36
    assert output["id"][14] == "4"  # a version-4 UUID
    assert [c.name for c in runtime.calls] == [EMIT_EVENT_ACTIVITY]
    assert runtime.calls[0].payload == {"event": output}


async def test_emit_ids_are_reproducible_from_the_runtime_random() -> None:
    document = workflow({"e": {"emit": {"event": {"with": {"source": "s", "type": "t"}}}}})
    first = await run(document, EventRuntime())
    second = await run(document, EventRuntime())
    assert first["id"] == second["id"]


async def test_emit_keeps_given_defaults() -> None:
    attributes = {"source": "s", "type": "t", "id": "fixed", "time": "2020-01-01T00:00:00Z"}
    output = await run(workflow({"e": {"emit": {"event": {"with": attributes}}}}), EventRuntime())
    assert output["id"] == "fixed"
    assert output["time"] == "2020-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"type": "t"}, "emit.event.with.source"),
        ({"source": "s"}, "emit.event.with.type"),
        ({"source": "s", "type": "${ 42 }"}, "emit.event.with.type"),
    ],
)
async def test_emit_without_required_attributes_is_a_configuration_error(
    attributes: dict[str, Any], field: str
) -> None:
    runtime = EventRuntime()
    with pytest.raises(WorkflowError) as caught:
        await run(workflow({"e": {"emit": {"event": {"with": attributes}}}}), runtime)
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert field in caught.value.problem["detail"]
    assert runtime.calls == []


# --- listen: strategies ----------------------------------------------------------------------


async def test_listen_one_registers_waits_consumes_and_unregisters() -> None:
    started = event("com.race.started.v1", {"car": 1})
    runtime = EventRuntime(event("com.other"), started, event("com.race.started.v1", {"car": 2}))
    document = workflow(listen({"one": {"with": {"type": "com.race.started.v1"}}}))
    assert await run(document, runtime) == [{"car": 1}]
    assert [c.name for c in runtime.calls] == [SUBSCRIBE_ACTIVITY, UNSUBSCRIBE_ACTIVITY]
    assert runtime.calls[0].payload == {
        "execution_id": "wex-1",
        "task": "/do/0/callDoctor",
        "filters": [{"type": "com.race.started.v1"}],
    }
    assert runtime.calls[1].payload == {"execution_id": "wex-1", "task": "/do/0/callDoctor"}
    assert len(runtime.inbox) == 1  # the later event is left for whoever listens next


async def test_listen_any_with_filters_takes_the_first_matching_event() -> None:
    runtime = EventRuntime(
        event(TEMPERATURE, {"temperature": 37}),  # filtered out by the data expression
        event(BPM, {"bpm": 120}),
        event(TEMPERATURE, {"temperature": 40}),
    )
    output = await run(workflow(listen({"any": VITALS_FILTERS})), runtime)
    assert output == [{"bpm": 120}]
    # Expression-valued attributes stay in the workflow; the API routes on literals only.
    assert runtime.calls[0].payload["filters"] == [{"type": TEMPERATURE}, {"type": BPM}]


async def test_listen_any_without_filters_takes_any_event() -> None:
    runtime = EventRuntime(event("whatever", {"n": 1}))
    assert await run(workflow(listen({"any": []})), runtime) == [{"n": 1}]
    assert runtime.calls[0].payload["filters"] == [{}]


async def test_listen_all_outputs_one_event_per_filter_in_filter_order() -> None:
    runtime = EventRuntime(
        event(BPM, {"bpm": 50}),
        event(BPM, {"bpm": 40}),  # second match of a satisfied filter: not consumed
        event(TEMPERATURE, {"temperature": 39}),
    )
    output = await run(workflow(listen({"all": VITALS_FILTERS})), runtime)
    assert output == [{"temperature": 39}, {"bpm": 50}]


async def test_listen_all_read_envelope() -> None:
    temperature = event(TEMPERATURE, {"temperature": 39})
    bpm = event(BPM, {"bpm": 50})
    runtime = EventRuntime(temperature, bpm)
    output = await run(workflow(listen({"all": VITALS_FILTERS}, read="envelope")), runtime)
    assert output == [temperature, bpm]


async def test_listen_any_until_expression_counts_consumed_events() -> None:
    runtime = EventRuntime(*(event("tick", {"n": n}) for n in range(6)))
    document = workflow(listen({"any": [], "until": "( . | length ) > 3"}))
    assert await run(document, runtime) == [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}]
    assert len(runtime.inbox) == 2


async def test_listen_any_until_strategy_excludes_the_events_it_consumes() -> None:
    checked_out = "com.fake-hospital.patient.checked-out"
    runtime = EventRuntime(
        event(TEMPERATURE, {"temperature": 39}),
        event(BPM, {"bpm": 70}),  # does not match
        event(BPM, {"bpm": 130}),
        event(checked_out, {"patient": 1}),
        event(TEMPERATURE, {"temperature": 41}),
    )
    to = {"any": VITALS_FILTERS, "until": {"one": {"with": {"type": checked_out}}}}
    output = await run(workflow(listen(to)), runtime)
    assert output == [{"temperature": 39}, {"bpm": 130}]
    assert runtime.calls[0].payload["filters"] == [
        {"type": TEMPERATURE},
        {"type": BPM},
        {"type": checked_out},
    ]


async def test_listen_read_raw_gives_the_payload_as_it_travelled() -> None:
    runtime = EventRuntime(event("t", {"b": 1, "a": 2}), {**event("t"), "data_base64": "AAE="})
    output = await run(workflow(listen({"any": [], "until": "length == 2"}, read="raw")), runtime)
    assert output == ['{"a":2,"b":1}', "AAE="]


async def test_listen_consumes_a_redelivered_event_once() -> None:
    first = event("tick", {"n": 1})
    runtime = EventRuntime(first, dict(first), event("tick", {"n": 2}))
    output = await run(workflow(listen({"any": [], "until": "length == 2"})), runtime)
    assert output == [{"n": 1}, {"n": 2}]


async def test_a_failing_foreach_body_still_unsubscribes() -> None:
    runtime = EventRuntime(event("tick", {"n": 1}))
    boom = {"raise": {"error": {"type": "https://example.com/boom", "status": 400}}}
    step = {"listen": {"to": {"any": []}}, "foreach": {"do": [{"boom": boom}]}}
    with pytest.raises(WorkflowError) as caught:
        await run(workflow({"step": step}), runtime)
    assert caught.value.problem["type"] == "https://example.com/boom"
    assert [c.name for c in runtime.calls] == [SUBSCRIBE_ACTIVITY, UNSUBSCRIBE_ACTIVITY]


async def test_a_listen_that_times_out_unsubscribes() -> None:
    runtime = EventRuntime(event("other"))
    runtime.wait_on_empty_inbox = True
    step = {"listen": {"to": {"one": {"with": {"type": "t"}}}}, "timeout": {"after": "PT1M"}}
    with pytest.raises(WorkflowError) as caught:
        await run(workflow({"step": step}), runtime)
    assert caught.value.problem["type"] == ErrorType.TIMEOUT
    assert [c.name for c in runtime.calls] == [SUBSCRIBE_ACTIVITY, UNSUBSCRIBE_ACTIVITY]


async def test_concurrent_listens_each_see_every_event() -> None:
    """Two listens at once (fork branches) share the run's inbox without stealing events."""
    runtime = EventRuntime(event("cancelled", {"by": "b"}), event("approved", {"by": "a"}))
    runtime.wait_on_empty_inbox = True
    approval = workflow(listen({"one": {"with": {"type": "approved"}}}))
    cancellation = workflow(listen({"one": {"with": {"type": "cancelled"}}}))
    outputs = await asyncio.wait_for(
        asyncio.gather(run(approval, runtime), run(cancellation, runtime)), timeout=5
    )
    assert outputs == [[{"by": "a"}], [{"by": "b"}]]


async def test_a_reader_sees_only_events_pulled_after_it_opened() -> None:
    runtime = EventRuntime(event("a"), event("b"))
    hub = hub_of(runtime)
    first = hub.open()
    assert (await hub.next(first))["type"] == "a"
    second = hub.open()
    assert (await hub.next(second))["type"] == "b"
    assert (await hub.next(first))["type"] == "b"
    hub.close(first)
    hub.close(second)
    assert hub_of(runtime) is hub


# --- listen: filters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "actual", "matches"),
    [
        ("com.example.order", "com.example.order", True),
        ("com\\.example\\..*", "com.example.order", True),
        ("com.example", "com.example.order", False),  # the whole attribute must match
        ("a[", "a[", True),  # not a valid pattern: compared as a string
        ({"kind": "dog"}, {"kind": "dog", "age": 3}, True),
        ({"kind": "dog"}, {"kind": "cat"}, False),
        ({"kind": "dog"}, "dog", False),
        (3, 3, True),
        ("3", 3, False),
    ],
)
def test_literal_attribute_matching(expected: Any, actual: Any, matches: bool) -> None:
    assert literal_matches(expected, actual) is matches


async def test_listen_filters_on_any_attribute_with_expressions_and_regexes() -> None:
    wanted = event("com.shop.order.paid", {"total": 5}, subject="order-7")
    runtime = EventRuntime(
        event("com.shop.order.paid", {"total": 5}, subject="order-8"),
        event("com.shop.order.shipped", {"total": 5}, subject="order-7"),
        wanted,
    )
    filters = {
        "with": {
            "type": "com\\.shop\\.order\\.(paid|refunded)",
            "subject": "${ $input.order }",  # a non-boolean result must equal the attribute
        }
    }
    output = await run(workflow(listen({"one": filters})), runtime, {"order": "order-7"})
    assert output == [{"total": 5}]


async def test_an_event_of_unexpected_shape_does_not_match_nor_fault() -> None:
    runtime = EventRuntime(
        event(TEMPERATURE, "not an object"), event(TEMPERATURE, {"temperature": 39})
    )
    output = await run(workflow(listen({"any": VITALS_FILTERS[:1]})), runtime)
    assert output == [{"temperature": 39}]


async def test_listen_all_correlates_events_on_the_first_extracted_value() -> None:
    def reading(kind: str, room: str, value: int) -> dict[str, Any]:
        return event(f"my.home.sensors.{kind}", {"reading": value}, roomid=room)

    correlate = {"roomId": {"from": ".roomid"}}
    to = {
        "all": [
            {"with": {"type": "my.home.sensors.temperature"}, "correlate": correlate},
            {"with": {"type": "my.home.sensors.humidity"}, "correlate": correlate},
        ]
    }
    runtime = EventRuntime(
        reading("temperature", "kitchen", 21),
        reading("humidity", "attic", 80),  # another room: not correlated
        reading("humidity", "kitchen", 45),
    )
    output = await run(workflow(listen(to, read="envelope")), runtime)
    assert [(e["roomid"], e["data"]["reading"]) for e in output] == [
        ("kitchen", 21),
        ("kitchen", 45),
    ]


async def test_correlation_expect_is_evaluated_against_the_task_input() -> None:
    to = {
        "one": {
            "with": {"type": "order.paid"},
            "correlate": {"order": {"from": ".data.id", "expect": "${ .orderId }"}},
        }
    }
    runtime = EventRuntime(event("order.paid", {"id": "a"}), event("order.paid", {"id": "b"}))
    output = await run(workflow(listen(to)), runtime, {"orderId": "b"})
    assert output == [{"id": "b"}]


# --- listen: foreach -------------------------------------------------------------------------


async def test_listen_foreach_runs_the_body_per_event_with_item_and_index() -> None:
    runtime = EventRuntime(*(event("tick", {"n": n}) for n in (10, 20, 30)))
    step = {
        "listen": {"to": {"any": [], "until": "length == 3"}},
        "foreach": {
            "item": "event",
            "at": "i",
            "do": [{"double": {"set": {"twice": "${ $event.n * 2 }", "at": "${ $i }"}}}],
            "output": {"as": "${ .twice + $i }"},
        },
    }
    assert await run(workflow({"step": step}), runtime) == [20, 41, 62]
    body = [e for e in runtime.events if e.task_id == "/do/0/step/foreach/do/0/double"]
    assert [e.iteration for e in body if e.phase == "COMPLETED"] == [0, 1, 2]


async def test_listen_foreach_body_input_is_the_event_as_read() -> None:
    runtime = EventRuntime(event("tick", {"n": 1}))
    step = {
        "listen": {"to": {"one": {"with": {"type": "tick"}}}, "read": "envelope"},
        "foreach": {"do": [{"pick": {"set": {"type": "${ .type }", "same": "${ $item == . }"}}}]},
    }
    assert await run(workflow({"step": step}), runtime) == [{"type": "tick", "same": True}]


# --- listen: configuration errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("listen_definition", "detail"),
    [
        ({"to": {}}, "listen.to: must set exactly one of all, any or one"),
        ({"to": {"one": {"with": {}}}}, "listen.to.one.with"),
        ({"to": {"all": []}}, "listen.to.all: must list at least one"),
        ({"to": {"any": [{"with": {"type": "t"}, "bogus": 1}]}}, "listen.to.any[0]"),
        ({"to": {"any": [], "until": 3}}, "listen.to.until"),
        ({"to": {"any": []}, "read": "bytes"}, "listen.read"),
    ],
)
async def test_listen_configuration_errors_name_the_field(
    listen_definition: dict[str, Any], detail: str
) -> None:
    runtime = EventRuntime()
    with pytest.raises(WorkflowError) as caught:
        await run(workflow({"l": {"listen": listen_definition}}), runtime)
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert detail in caught.value.problem["detail"]
    assert runtime.calls == []  # nothing registered for a listen that cannot run


async def test_listen_foreach_export_sets_the_context_after_each_event() -> None:
    runtime = EventRuntime(*(event("tick", {"n": n}) for n in (1, 2, 3)))
    step = {
        "listen": {"to": {"any": [], "until": "length == 3"}},
        "foreach": {
            "at": "i",
            # The body reads what the previous event's export left in $context.
            "do": [{"add": {"set": {"sum": "${ ($context.total // 0) + $item.n }"}}}],
            "output": {"as": "${ .sum }"},
            "export": {
                "as": "${ $context + { total: $output, last: ., at: $i, "
                "ids: (($context.ids // []) + [$item.n]) } }"
            },
        },
    }
    after = {"read": {"set": {"context": "${ $context }"}}}
    document = workflow({"step": step}, after)
    output = await run(document, runtime)
    assert output == {"context": {"total": 6, "last": 6, "at": 2, "ids": [1, 2, 3]}}
    step_done = [e for e in runtime.events if e.task_id == "/do/0/step" and e.phase == "COMPLETED"]
    assert step_done[0].output == [1, 3, 6]  # each event's output, running totals


async def test_listen_foreach_export_starts_from_the_context_before_the_listen() -> None:
    runtime = EventRuntime(event("tick", {"n": 5}))
    first = {"seed": {"set": {}, "export": {"as": {"seeded": True}}}}
    step = {
        "listen": {"to": {"one": {"with": {"type": "tick"}}}},
        "foreach": {"export": {"as": "${ $context + { n: .n } }"}},
    }
    after = {"read": {"set": {"context": "${ $context }"}}}
    output = await run(workflow(first, {"step": step}, after), runtime)
    assert output == {"context": {"seeded": True, "n": 5}}


@pytest.mark.parametrize(
    ("foreach", "detail"),
    [
        ({"export": "${ . }"}, "foreach.export must be a mapping"),
        ({"export": {"as": 3}}, "foreach.export.as must be an expression or an object"),
    ],
)
async def test_listen_foreach_export_misconfigured_is_a_configuration_error(
    foreach: dict[str, Any], detail: str
) -> None:
    step = {"listen": {"to": {"any": []}}, "foreach": foreach}
    runtime = EventRuntime(event("tick", {"n": 1}))
    with pytest.raises(WorkflowError) as caught:
        await run(workflow({"l": step}), runtime)
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert detail in caught.value.problem["detail"]


def test_read_event_modes() -> None:
    cloud_event = event("t", {"x": 1})
    assert read_event(cloud_event, "data") == {"x": 1}
    assert read_event(cloud_event, "envelope") == cloud_event
    assert read_event(cloud_event, "raw") == '{"x":1}'
