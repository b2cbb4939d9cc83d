"""The DSL `schedule` → trigger → Temporal ScheduleSpec (pure logic, no server)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import ScheduleIntervalSpec

from stigmer_api.scheduling import ScheduleNotRunnableError, ScheduleTrigger, trigger_of
from stigmer_api.scheduling.service import initial_status
from stigmer_core.errors import ValidationFailedError
from stigmer_core.model import ScheduleKind, ScheduleState


def doc(schedule: Any) -> dict[str, Any]:
    return {"document": {"name": "x"}, "schedule": schedule, "do": []}


@pytest.mark.parametrize(
    ("every", "seconds"),
    [
        ({"seconds": 2}, 2.0),
        ({"minutes": 1, "seconds": 30}, 90.0),
        ({"days": 1}, 86400.0),
        ({"milliseconds": 1500}, 1.5),
        ("PT5M", 300.0),
        ("P1DT1H", 90000.0),
    ],
)
def test_every_becomes_an_interval(every: Any, seconds: float) -> None:
    trigger = trigger_of(doc({"every": every}))
    assert trigger == ScheduleTrigger(every_seconds=seconds)
    spec = trigger.temporal_spec()
    assert spec.intervals == [ScheduleIntervalSpec(every=timedelta(seconds=seconds))]
    assert spec.cron_expressions == []


def test_cron_becomes_a_cron_expression() -> None:
    trigger = trigger_of(doc({"cron": " 0 0 * * * "}))
    assert trigger is not None
    spec = trigger.temporal_spec()
    assert spec.cron_expressions == ["0 0 * * *"]
    assert spec.intervals == []


def test_every_and_cron_together_fire_on_both() -> None:
    trigger = trigger_of(doc({"every": {"hours": 1}, "cron": "@daily"}))
    assert trigger is not None
    spec = trigger.temporal_spec()
    assert spec.intervals == [ScheduleIntervalSpec(every=timedelta(hours=1))]
    assert spec.cron_expressions == ["@daily"]


@pytest.mark.parametrize(
    "cron", ["0 0 * * *", "*/5 9-17 * * MON-FRI", "@hourly", "@every 10m", "CRON_TZ=UTC 0 3 * * *"]
)
def test_cron_forms_temporal_reads_are_accepted(cron: str) -> None:
    assert trigger_of(doc({"cron": cron})) == ScheduleTrigger(cron=cron)


@pytest.mark.parametrize("cron", ["banana", "0 0 * *", "0 0 * * * * * *", "@sometimes", ""])
def test_text_that_is_no_cron_is_a_422_at_its_pointer(cron: str) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        trigger_of(doc({"cron": cron}))
    assert caught.value.field == "/schedule/cron"


def test_no_schedule_or_an_empty_one_is_not_scheduled() -> None:
    assert trigger_of({"document": {}, "do": []}) is None
    assert trigger_of(doc({})) is None
    assert initial_status(doc({})) is None


@pytest.mark.parametrize(
    ("schedule", "pointer"),
    [
        ({"after": {"minutes": 5}, "every": {"minutes": 1}}, "/schedule/after"),
        ({"after": "${ .delay }"}, "/schedule/after"),
        ({"after": {"milliseconds": 10}}, "/schedule/after"),
        ({"on": {"one": {"with": {"type": "x"}}}, "cron": "@daily"}, "/schedule/on"),
        ({"on": {"one": {"with": {"type": "${ .t }"}}}}, "/schedule/on/one/with"),
        (
            {"on": {"all": [{"with": {"type": "a"}, "correlate": {"k": {"from": ".id"}}}]}},
            "/schedule/on/all/0/correlate",
        ),
        ({"on": {"any": [{"with": {"type": "a"}}], "until": "${ true }"}}, "/schedule/on/until"),
        ({"on": {"all": []}}, "/schedule/on"),
        ({"every": "${ .interval }"}, "/schedule/every"),
        ({"every": "P1M"}, "/schedule/every"),
        ({"every": {"milliseconds": 500}}, "/schedule/every"),
    ],
)
def test_valid_dsl_stigmer_cannot_run_registers_as_unsupported(
    schedule: dict[str, Any], pointer: str
) -> None:
    with pytest.raises(ScheduleNotRunnableError) as caught:
        trigger_of(doc(schedule))
    assert caught.value.pointer == pointer
    status = initial_status(doc(schedule))
    assert status is not None
    assert status.state is ScheduleState.UNSUPPORTED
    assert status.message == caught.value.message


def test_a_runnable_schedule_starts_pending() -> None:
    status = initial_status(doc({"every": {"seconds": 2}}))
    assert status is not None
    assert status.state is ScheduleState.PENDING


def test_after_is_a_fixed_delay_run_by_a_loop() -> None:
    trigger = trigger_of(doc({"after": {"minutes": 1, "seconds": 30}}))
    assert trigger is not None
    assert trigger.kind is ScheduleKind.AFTER
    assert trigger.after_seconds == 90
    status = initial_status(doc({"after": {"seconds": 1}}))
    assert status is not None
    assert (status.state, status.kind) == (ScheduleState.PENDING, ScheduleKind.AFTER)


@pytest.mark.parametrize("kind", ["one", "any", "all"])
def test_on_is_an_event_strategy_of_literal_filters(kind: str) -> None:
    one = {"with": {"type": "com.example.a", "source": "shop"}}
    strategy_doc = {kind: one if kind == "one" else [one, {"with": {"type": "b"}}]}
    trigger = trigger_of(doc({"on": strategy_doc}))
    assert trigger is not None
    assert trigger.kind is ScheduleKind.EVENT
    assert trigger.on is not None
    assert trigger.on.kind == kind
    assert trigger.on.filters[0].attributes == one["with"]


def test_every_and_cron_are_time_triggers() -> None:
    trigger = trigger_of(doc({"every": {"seconds": 5}}))
    assert trigger is not None
    assert trigger.kind is ScheduleKind.TIME
