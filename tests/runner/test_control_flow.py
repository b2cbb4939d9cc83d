"""for, fork, switch, try (with retries), wait and timeouts, on the fake runtime.

The fake runtime's sleep is virtual: timers fire in deadline order and advance its clock,
so concurrency, retry delays and timeouts are asserted exactly and without waiting.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
import yaml

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.fakes import FakeRuntime, json_response

HEADER = {"document": {"dsl": "1.0.3", "namespace": "test", "name": "flow", "version": "1.0.0"}}
TIMEOUT = "https://serverlessworkflow.io/spec/1.0.0/errors/timeout"
COMMUNICATION = "https://serverlessworkflow.io/spec/1.0.0/errors/communication"


def doc(text: str) -> dict[str, Any]:
    loaded = yaml.safe_load(textwrap.dedent(text))
    assert isinstance(loaded, dict)
    return {**HEADER, **loaded}


async def run(
    text: str, given: Any = None, runtime: FakeRuntime | None = None
) -> tuple[Any, FakeRuntime]:
    runtime = runtime or FakeRuntime()
    output = await Interpreter(doc(text), runtime=runtime).run({} if given is None else given)
    return output, runtime


async def fault(text: str, given: Any = None, runtime: FakeRuntime | None = None) -> Any:
    with pytest.raises(WorkflowError) as caught:
        await run(text, given, runtime)
    return caught.value.problem


class Flaky:
    """An HTTP service that answers ``failures`` 503s, then 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.calls += 1
        if self.calls <= self.failures:
            return json_response(request, {"busy": True}, status=503)
        return json_response(request, {"ok": self.calls})


# --- for ---------------------------------------------------------------------------------

FOR_CASES = {
    "default variables": (
        """
        do:
          - loop:
              for: {in: .items}
              do:
                - add: {set: {seen: "${ .seen + [[$item, $index]] }"}}
        """,
        {"items": ["a", "b"], "seen": []},
        {"seen": [["a", 0], ["b", 1]]},
    ),
    "named variables": (
        """
        do:
          - loop:
              for: {each: color, at: i, in: .colors}
              do:
                - add: {set: {out: "${ .out + [\\"\\\\($i):\\\\($color)\\"] }"}}
        """,
        {"colors": ["red", "blue"], "out": []},
        {"out": ["0:red", "1:blue"]},
    ),
    "empty collection outputs the input": (
        """
        do:
          - loop:
              for: {in: .items}
              do:
                - add: {set: {changed: true}}
        """,
        {"items": []},
        {"items": []},
    ),
    "while stops before the failing iteration": (
        """
        do:
          - loop:
              for: {in: .items}
              while: .total < 5
              do:
                - add: {set: {total: "${ .total + $item }", items: "${ .items }"}}
        """,
        {"items": [2, 2, 2, 2], "total": 0},
        {"items": [2, 2, 2, 2], "total": 6},
    ),
    "exit ends the iteration only": (
        """
        do:
          - loop:
              for: {in: .items}
              do:
                - skip:
                    if: ${ $item == 2 }
                    set: "${ . }"
                    then: exit
                - add: {set: {seen: "${ .seen + [$item] }"}}
        """,
        {"items": [1, 2, 3], "seen": []},
        {"seen": [1, 3]},
    ),
    "end inside the loop ends the workflow": (
        """
        do:
          - loop:
              for: {in: .items}
              do:
                - add: {set: {seen: "${ .seen + [$item] }"}}
                - stop:
                    if: ${ $item == 2 }
                    set: "${ . }"
                    then: end
          - after: {set: {unreachable: true}}
        """,
        {"items": [1, 2, 3], "seen": []},
        {"seen": [1, 2]},
    ),
}


@pytest.mark.parametrize("case", list(FOR_CASES))
async def test_for(case: str) -> None:
    text, given, expected = FOR_CASES[case]
    output, _ = await run(text, given)
    assert output == expected


async def test_for_reports_the_innermost_iteration() -> None:
    _, runtime = await run(
        """
        do:
          - outer:
              for: {each: row, in: .rows}
              do:
                - inner:
                    for: {each: cell, in: "${ $row }"}
                    do:
                      - cell: {set: "${ $cell }"}
        """,
        {"rows": [[1], [2, 3]]},
    )
    cells = [
        (e.task_id, e.iteration)
        for e in runtime.events
        if e.name == "cell" and e.phase == "COMPLETED"
    ]
    pointer = "/do/0/outer/do/0/inner/do/0/cell"  # a loop body is the task's own do
    assert cells == [(pointer, 0), (pointer, 0), (pointer, 1)]
    inner = [e.iteration for e in runtime.events if e.name == "inner" and e.phase == "RUNNING"]
    assert inner == [0, 1]
    outer = [e.iteration for e in runtime.events if e.name == "outer"]
    assert outer == [None, None]


async def test_for_in_must_give_an_array() -> None:
    problem = await fault(
        """
        do:
          - loop:
              for: {in: .items}
              do: [{x: {set: {}}}]
        """,
        {"items": {"a": 1}},
    )
    assert problem["status"] == 400
    assert "for.in must evaluate to an array" in problem["detail"]
    assert problem["instance"] == "/do/0/loop"


# --- fork --------------------------------------------------------------------------------

FORK = """
do:
  - race:
      fork:
        compete: COMPETE
        branches:
          - slow:
              do:
                - nap: {wait: PT5S}
                - done: {set: {by: slow}}
          - fast:
              do:
                - nap: {wait: {seconds: 1}}
                - done: {set: {by: fast}}
"""


async def test_fork_runs_branches_concurrently_and_keeps_branch_order() -> None:
    output, runtime = await run(FORK.replace("COMPETE", "false"))
    assert output == [{"by": "slow"}, {"by": "fast"}]
    assert runtime.elapsed == 5  # concurrent: not 6
    finished = [e.task_id for e in runtime.events if e.phase == "COMPLETED" and e.name != "nap"]
    assert finished == [
        "/do/0/race/fork/branches/1/fast/do/1/done",
        "/do/0/race/fork/branches/1/fast",
        "/do/0/race/fork/branches/0/slow/do/1/done",
        "/do/0/race/fork/branches/0/slow",
        "/do/0/race",
    ]


async def test_fork_compete_first_branch_wins_and_losers_are_cancelled() -> None:
    output, runtime = await run(FORK.replace("COMPETE", "true"))
    assert output == {"by": "fast"}
    assert runtime.elapsed == 1
    last = {e.task_id: e.phase for e in runtime.events}
    assert last["/do/0/race/fork/branches/0/slow/do/0/nap"] == "CANCELLED"
    assert last["/do/0/race/fork/branches/0/slow"] == "CANCELLED"
    assert "/do/0/race/fork/branches/0/slow/do/1/done" not in last
    assert last["/do/0/race"] == "COMPLETED"


async def test_fork_compete_a_faulted_branch_does_not_win() -> None:
    output, _ = await run(
        """
        do:
          - race:
              fork:
                compete: true
                branches:
                  - broken: {raise: {error: {type: https://x.io/e, status: 500}}}
                  - slowButFine:
                      do:
                        - nap: {wait: PT1S}
                        - done: {set: {ok: true}}
        """
    )
    assert output == {"ok": True}


async def test_fork_a_faulted_branch_cancels_the_others_and_faults_the_fork() -> None:
    runtime = FakeRuntime()
    problem = await fault(
        """
        do:
          - all:
              fork:
                branches:
                  - waits: {wait: PT10S}
                  - breaks:
                      do:
                        - nap: {wait: PT1S}
                        - boom: {raise: {error: {type: https://x.io/e, status: 418}}}
        """,
        runtime=runtime,
    )
    assert problem["status"] == 418
    assert problem["instance"] == "/do/0/all/fork/branches/1/breaks/do/1/boom"
    last = {e.task_id: e.phase for e in runtime.events}
    assert last["/do/0/all/fork/branches/0/waits"] == "CANCELLED"
    assert last["/do/0/all"] == "FAILED"
    assert runtime.elapsed == 1


async def test_fork_inside_for_reports_iterations() -> None:
    _, runtime = await run(
        """
        do:
          - loop:
              for: {in: .items}
              do:
                - both:
                    fork:
                      branches:
                        - one: {set: "${ $item }"}
        """,
        {"items": ["a", "b"]},
    )
    ones = [e.iteration for e in runtime.events if e.name == "one" and e.phase == "COMPLETED"]
    assert ones == [0, 1]


# --- switch ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"n": 1}, {"n": 1, "kind": "one"}),
        ({"n": 2}, {"n": 2, "kind": "other"}),
        ({"n": 3}, {"n": 3}),
    ],
)
async def test_switch_cases_in_order_with_default(given: Any, expected: Any) -> None:
    output, _ = await run(
        """
        do:
          - pick:
              switch:
                - three: {when: .n == 3, then: exit}
                - one: {when: .n == 1, then: setOne}
                - fallback: {then: setOther}
          - setOne: {set: '${ . + {kind: "one"} }', then: end}
          - setOther: {set: '${ . + {kind: "other"} }'}
        """,
        given,
    )
    assert output == expected


async def test_switch_case_without_then_is_a_configuration_error() -> None:
    problem = await fault("do: [{pick: {switch: [{a: {when: 'true'}}]}}]")
    assert problem["status"] == 400
    assert "switch[0].a.then" in problem["detail"]


# --- try ---------------------------------------------------------------------------------

TRY = """
do:
  - attempt:
      try:
        - outer:
            do:
              - boom:
                  raise:
                    error: {type: https://x.io/boom, status: 418, title: Teapot, detail: hot}
      catch: CATCH
"""


@pytest.mark.parametrize(
    ("catch", "caught"),
    [
        ({}, True),
        ({"errors": {"with": {"status": 418}}}, True),
        ({"errors": {"with": {"status": 500}}}, False),
        ({"errors": {"with": {"type": "https://x.io/boom", "title": "Teapot"}}}, True),
        ({"errors": {"with": {"details": "hot"}}}, True),
        ({"errors": {"with": {"details": "cold"}}}, False),
        ({"errors": {"with": {"instance": "/do/0/attempt/try/0/outer/do/0/boom"}}}, True),
        ({"errors": {"with": {"instance": "/do/0/attempt"}}}, False),
        ({"when": "${ $error.status == 418 }"}, True),
        ({"when": "${ $error.status == 419 }"}, False),
        ({"exceptWhen": '${ $error.title == "Teapot" }'}, False),
        ({"as": "oops", "when": '${ $oops.detail == "hot" }'}, True),
    ],
)
async def test_try_catch_filters(catch: dict[str, Any], caught: bool) -> None:
    text = TRY.replace("CATCH", yaml.safe_dump(catch, default_flow_style=True).strip())
    if caught:
        output, runtime = await run(text, {"in": 1})
        assert output == {"in": 1}  # no catch.do: the error is swallowed
        assert runtime.phases()[-1] == ("/do/0/attempt", "COMPLETED")
    else:
        problem = await fault(text)
        assert problem["instance"] == "/do/0/attempt/try/0/outer/do/0/boom"


async def test_catch_do_sees_the_error_and_sets_the_output() -> None:
    text = TRY.replace(
        "CATCH",
        "{as: e, do: [{handle: {set: {caught: '${ $e.instance }', input: '${ . }'}}}]}",
    )
    output, runtime = await run(text, {"in": 1})
    assert output == {"caught": "/do/0/attempt/try/0/outer/do/0/boom", "input": {"in": 1}}
    assert ("/do/0/attempt/catch/do/0/handle", "COMPLETED") in runtime.phases()


async def test_nested_try_inner_mismatch_reaches_the_outer_catch() -> None:
    output, _ = await run(
        """
        do:
          - outerTry:
              try:
                - innerTry:
                    try:
                      - boom: {raise: {error: {type: https://x.io/a, status: 400}}}
                    catch:
                      errors: {with: {status: 500}}
                      do: [{inner: {set: {by: inner}}}]
              catch:
                errors: {with: {status: 400}}
                do: [{outer: {set: {by: outer, at: "${ $error.instance }"}}}]
        """
    )
    assert output == {"by": "outer", "at": "/do/0/outerTry/try/0/innerTry/try/0/boom"}


async def test_nested_try_error_in_inner_catch_do_reaches_the_outer_catch() -> None:
    output, _ = await run(
        """
        do:
          - outerTry:
              try:
                - innerTry:
                    try:
                      - boom: {raise: {error: {type: https://x.io/a, status: 400}}}
                    catch:
                      do: [{again: {raise: {error: {type: https://x.io/b, status: 409}}}}]
              catch:
                do: [{outer: {set: "${ $error.status }"}}]
        """
    )
    assert output == 409


# --- retries -----------------------------------------------------------------------------

RETRY = """
do:
  - tryGet:
      try:
        - get:
            call: http
            with: {method: get, endpoint: https://svc.test/thing}
      catch:
        errors:
          with: {type: https://serverlessworkflow.io/spec/1.0.0/errors/communication, status: 503}
        retry: RETRY
"""


@pytest.mark.parametrize(
    ("retry", "sleeps"),
    [
        ({"delay": {"seconds": 3}, "limit": {"attempt": {"count": 3}}}, [3, 3, 3]),
        (
            {
                "delay": {"seconds": 3},
                "backoff": {"constant": {}},
                "limit": {"attempt": {"count": 3}},
            },
            [3, 3, 3],
        ),
        (
            {
                "delay": {"seconds": 2},
                "backoff": {"linear": {}},
                "limit": {"attempt": {"count": 3}},
            },
            [2, 4, 6],
        ),
        (
            {"delay": "PT1S", "backoff": {"exponential": {}}, "limit": {"attempt": {"count": 4}}},
            [1, 2, 4, 8],
        ),
        (
            {
                "delay": {"seconds": 1},
                "jitter": {"from": {"seconds": 1}, "to": {"seconds": 3}},
                "limit": {"attempt": {"count": 2}},
            },
            [1 + 1 + 0.25 * 2, 1 + 1 + 0.75 * 2],
        ),
        (
            # 10 s in all: retries after 4 s and 4 s more fit; a third would end at 12 s.
            {"delay": {"seconds": 4}, "limit": {"duration": {"seconds": 10}}},
            [4, 4],
        ),
    ],
)
async def test_retry_delays(retry: dict[str, Any], sleeps: list[float]) -> None:
    runtime = FakeRuntime(Flaky(failures=100))
    runtime.random_values = (0.25, 0.75)
    text = RETRY.replace("RETRY", yaml.safe_dump(retry, default_flow_style=True).strip())
    problem = await fault(text, runtime=runtime)
    assert problem["status"] == 503  # retries ran out: the last error faults the task
    assert runtime.sleeps == pytest.approx(sleeps)
    assert len(runtime.requests) == len(sleeps) + 1
    assert runtime.elapsed == pytest.approx(sum(sleeps))


async def test_retry_by_name_until_success() -> None:
    service = Flaky(failures=2)
    runtime = FakeRuntime(service)
    text = (
        "use: {retries: {patient: {delay: {seconds: 5}, limit: {attempt: {count: 5}}}}}\n"
        + RETRY.replace("RETRY", "patient")
    )
    output, _ = await run(text, runtime=runtime)
    assert output == {"ok": 3}
    assert runtime.sleeps == [5, 5]
    get = [p for t, p in runtime.phases() if t == "/do/0/tryGet/try/0/get"]
    assert get == ["RUNNING", "FAILED"] * 2 + ["RUNNING", "COMPLETED"]


async def test_retry_exhausted_runs_catch_do() -> None:
    runtime = FakeRuntime(Flaky(failures=100))
    text = RETRY.replace(
        "retry: RETRY",
        "retry: {limit: {attempt: {count: 1}}}\n        do: [{fallback: {set: {gave: up}}}]",
    )
    output, _ = await run(text, runtime=runtime)
    assert output == {"gave": "up"}
    assert len(runtime.requests) == 2


async def test_retry_when_declines_the_retry() -> None:
    runtime = FakeRuntime(Flaky(failures=100))
    text = RETRY.replace("RETRY", "{when: '${ $error.status != 503 }', delay: PT1S}")
    problem = await fault(text, runtime=runtime)
    assert problem["status"] == 503
    assert runtime.sleeps == []


async def test_retry_attempt_duration_times_out_each_attempt() -> None:
    runtime = FakeRuntime()
    problem = await fault(
        """
        do:
          - tryNap:
              try:
                - nap: {wait: PT1M}
              catch:
                errors: {with: {status: 408}}
                retry: {delay: PT1S, limit: {attempt: {count: 1, duration: PT10S}}}
        """,
        runtime=runtime,
    )
    assert problem["type"] == TIMEOUT
    assert runtime.elapsed == 21  # two attempts of 10 s and one delay of 1 s
    naps = [p for t, p in runtime.phases() if t == "/do/0/tryNap/try/0/nap"]
    assert naps == ["RUNNING", "CANCELLED", "RUNNING", "CANCELLED"]


async def test_unknown_retry_name_is_a_configuration_error() -> None:
    problem = await fault(RETRY.replace("RETRY", "nope"))
    assert problem["status"] == 400
    assert "use.retries" in problem["detail"]


# --- wait and timeouts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wait", "seconds"),
    [
        ("PT30S", 30),
        ("P1DT1H", 90000),
        ({"minutes": 1, "milliseconds": 500}, 60.5),
        ("${ .delay }", 2),
    ],
)
async def test_wait_sleeps_durably(wait: Any, seconds: float) -> None:
    runtime = FakeRuntime()
    output, _ = await run(
        "do: [{pause: {wait: WAIT}}, {after: {set: '${ $task.startedAt.epoch.seconds }'}}]".replace(
            "WAIT", json.dumps(wait)
        ),
        {"delay": "PT2S"},
        runtime,
    )
    assert runtime.sleeps == [seconds]
    assert output == int(runtime.now().timestamp())
    assert runtime.elapsed == seconds


async def test_wait_rejects_a_bad_duration() -> None:
    problem = await fault("do: [{pause: {wait: soon}}]")
    assert problem["status"] == 400
    assert "wait:" in problem["detail"]


async def test_task_timeout_faults_and_cancels_the_work() -> None:
    runtime = FakeRuntime()
    problem = await fault(
        """
        do:
          - slow:
              timeout: {after: PT5S}
              do:
                - nap: {wait: PT1M}
        """,
        runtime=runtime,
    )
    assert problem["type"] == TIMEOUT
    assert problem["status"] == 408
    assert problem["instance"] == "/do/0/slow"
    assert runtime.phases()[-2:] == [("/do/0/slow/do/0/nap", "CANCELLED"), ("/do/0/slow", "FAILED")]
    assert runtime.elapsed == 5


async def test_named_timeout_not_reached() -> None:
    runtime = FakeRuntime()
    output, _ = await run(
        """
        use: {timeouts: {short: {after: {seconds: 10}}}}
        do:
          - quick:
              timeout: short
              do:
                - nap: {wait: PT1S}
                - done: {set: {ok: true}}
        """,
        runtime=runtime,
    )
    assert output == {"ok": True}
    assert runtime.sleeps == [1, 10]  # the nap starts before the timeout timer
    assert runtime.elapsed == 1  # the timer lost and was cancelled


async def test_timeout_is_catchable() -> None:
    output, _ = await run(
        """
        do:
          - guarded:
              try:
                - slow: {timeout: {after: PT1S}, wait: PT1H}
              catch:
                errors:
                  with: {type: https://serverlessworkflow.io/spec/1.0.0/errors/timeout}
                do: [{late: {set: "${ $error.instance }"}}]
        """
    )
    assert output == "/do/0/guarded/try/0/slow"


async def test_workflow_timeout() -> None:
    runtime = FakeRuntime()
    problem = await fault(
        """
        timeout: {after: PT1M}
        do:
          - nap: {wait: PT2M}
        """,
        runtime=runtime,
    )
    assert problem["type"] == TIMEOUT
    assert problem["status"] == 408
    assert runtime.phases()[-1] == ("/do/0/nap", "CANCELLED")
    assert runtime.elapsed == 60


async def test_unknown_timeout_name_is_a_configuration_error() -> None:
    problem = await fault("do: [{x: {timeout: nope, set: {}}}]")
    assert problem["status"] == 400
    assert "use.timeouts" in problem["detail"]
    assert problem["instance"] == "/do/0/x"
