"""Continue-as-new: a long loop cut into runs gives what one run gives, at any cut point.

Each test runs a document the way the DSL workflow does: on :class:`Checkpoint` a new
interpreter starts with the cut's :class:`Resume`, until the run completes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from temporalio.converter import DataConverter

from stigmer_runner.contracts import DslRunInput
from stigmer_runner.dsl.checkpoint import Checkpoint, Resume
from stigmer_runner.dsl.errors import WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.fakes import FIXED_NOW, FakeRuntime

DOCUMENT = yaml.safe_load(
    """
document: {dsl: '1.0.0', namespace: test, name: long-loop, version: '1.0.0'}
do:
  - prepare:
      set: {total: 0, seen: []}
      export:
        as: '${ {prepared: true} }'
  - loop:
      for: {each: n, in: '${ [range(0; 25)] }'}
      while: '${ .total < 1000 }'
      do:
        - add:
            set:
              total: '${ .total + $n }'
              seen: '${ .seen + [$n] }'
              prepared: '${ $context.prepared }'
  - finish:
      set:
        total: '${ .total }'
        count: '${ .seen | length }'
        prepared: '${ .prepared }'
        input: '${ $workflow.input.who }'
"""
)

# Loops in a ``do`` task and in another loop's body, with what a cut must carry: `$context`
# written in the bodies, a `for.in` that reads it (evaluated once, when the loop starts), a
# `while`, `then` jumps, `input.from`/`output.as` of the enclosing tasks, and `if`s that
# must not be evaluated again when a continued run re-enters their task.
NESTED = yaml.safe_load(
    """
document: {dsl: '1.0.0', namespace: test, name: nested-loops, version: '1.0.0'}
do:
  - prepare:
      set: {rows: [[1, 2, 3], [4, 5], [], [6, 7, 8, 9], [100]], log: []}
      export:
        as: '${ {count: 0, limit: 3} }'
  - work:
      if: '${ $context.count == 0 }'
      input:
        from: '${ {rows: .rows, log: .log, sum: 0} }'
      output:
        as: '${ {sum: .sum, log: .log, first: $input.rows[0]} }'
      do:
        - rows:
            for: {each: row, at: r, in: '${ .rows }'}
            while: '${ .sum < 40 }'
            do:
              - cells:
                  for: {each: cell, in: '${ $row + [range(0; $context.limit)] }'}
                  do:
                    - add:
                        set:
                          sum: '${ .sum + $cell }'
                          log: '${ .log + [[$r, $index, $cell]] }'
                          rows: '${ .rows }'
                        export:
                          as: '${ $context + {count: ($context.count + 1), limit: 1} }'
                    - route:
                        switch:
                          - isTwo: {when: '${ $cell == 2 }', then: mark}
                          - other: {then: tally}
                    - never:
                        set: {sum: -1000}
                    - mark:
                        set: {sum: '${ .sum }', log: '${ .log + ["two"] }', rows: '${ .rows }'}
                    - tally:
                        set:
                          sum: '${ .sum }'
                          log: '${ .log }'
                          rows: '${ .rows }'
  - finish:
      set:
        sum: '${ .sum }'
        steps: '${ .log | length }'
        log: '${ .log }'
        first: '${ .first }'
        count: '${ $context.count }'
        input: '${ $workflow.input.who }'
"""
)


async def run_in_segments(
    document: dict[str, Any],
    iterations_per_run: int,
    *,
    resume: Resume | None = None,
    hours_per_run: float = 0.0,
) -> tuple[Any, int, list[FakeRuntime]]:
    """Run like the DSL workflow does: on Checkpoint, start a new interpreter with resume.

    Each run's clock starts ``hours_per_run`` after the previous run's.
    """
    runtimes: list[FakeRuntime] = []
    while True:
        runtime = FakeRuntime(now=FIXED_NOW + timedelta(hours=hours_per_run * len(runtimes)))
        runtime.iterations_per_run = iterations_per_run
        runtimes.append(runtime)
        interpreter = Interpreter(document, runtime=runtime, resume=resume)
        try:
            return await interpreter.run({"who": "ada"}), len(runtimes), runtimes
        except Checkpoint as cut:
            resume = cut.resume


def finished(runtimes: list[FakeRuntime]) -> list[tuple[Any, ...]]:
    """Every task's end (COMPLETED, SKIPPED, FAILED) across all runs, in order.

    A task re-entered by a continued run reports RUNNING again, but ends once.
    """
    return [
        (e.task_id, e.phase, e.iteration, e.input, e.output, e.error)
        for runtime in runtimes
        for e in runtime.events
        if e.phase != "RUNNING"
    ]


async def test_one_run_without_cuts() -> None:
    output, runs, _ = await run_in_segments(DOCUMENT, 0)
    assert runs == 1
    assert output == {"total": 300, "count": 25, "prepared": True, "input": "ada"}


@pytest.mark.parametrize("per_run", [1, 2, 7, 24])
async def test_cut_runs_give_the_same_output(per_run: int) -> None:
    whole, _, _ = await run_in_segments(DOCUMENT, 0)
    output, runs, _ = await run_in_segments(DOCUMENT, per_run)
    assert output == whole
    assert runs > 1


async def test_nested_loops_run_uncut() -> None:
    output, runs, _ = await run_in_segments(NESTED, 0)
    assert runs == 1
    # for.in is evaluated when each loop starts: row 0's cells with the limit of 3 the
    # context had then, later rows' with 1. The fifth row does not run: `while` stops it.
    assert output["sum"] == (1 + 2 + 3 + 0 + 1 + 2) + (4 + 5 + 0) + 0 + (6 + 7 + 8 + 9 + 0)
    assert output["log"][:3] == [[0, 0, 1], [0, 1, 2], "two"]
    assert output["log"][-1] == [3, 4, 0]
    assert output["steps"] == 15 + 2  # the adds and the two cells of 2
    assert output["count"] == 15
    assert output["first"] == [1, 2, 3]
    assert output["input"] == "ada"


@pytest.mark.parametrize("per_run", [1, 2, 3, 5, 13])
async def test_nested_loops_cut_runs_give_the_same_output_and_reports(per_run: int) -> None:
    whole, _, uncut = await run_in_segments(NESTED, 0)
    output, runs, cut = await run_in_segments(NESTED, per_run)
    assert output == whole
    assert runs > 1
    # Nothing before a cut runs again, and iteration numbers carry on across runs.
    assert finished(cut) == finished(uncut)


async def test_a_cut_carries_every_enclosing_task() -> None:
    runtime = FakeRuntime()
    runtime.iterations_per_run = 2  # the second boundary: row 0's cells, 0 -> 1 -> cut at 2
    with pytest.raises(Checkpoint) as cut:
        await Interpreter(NESTED, runtime=runtime).run({"who": "ada"})
    resume = cut.value.resume
    path = resume.path()
    assert [frame.task_index for frame in path] == [1, 0, 0]  # work, rows, cells
    work, rows, cells = path
    assert work.iteration is None
    assert work.task_input["sum"] == 0
    assert rows.iteration == 0
    assert rows.items == [[1, 2, 3], [4, 5], [], [6, 7, 8, 9], [100]]
    assert cells.iteration == 2
    assert cells.items == [3, 0, 1, 2]
    assert cells.data["sum"] == 3
    assert resume.context == {"count": 2, "limit": 1}
    assert work.started_at == "2025-01-02T03:04:05Z"


async def test_loops_in_forks_and_try_blocks_are_not_cut() -> None:
    document = yaml.safe_load(
        """
document: {dsl: '1.0.0', namespace: test, name: uncut, version: '1.0.0'}
do:
  - both:
      fork:
        branches:
          - one:
              for: {in: '${ [1, 2, 3] }'}
              do:
                - s: {set: {x: '${ $item }'}}
  - guarded:
      try:
        - inner:
            for: {in: '${ [1, 2, 3] }'}
            do:
              - s: {set: {x: '${ $item }'}}
      catch: {}
"""
    )
    runtime = FakeRuntime()
    runtime.iterations_per_run = 1
    output = await Interpreter(document, runtime=runtime).run({})
    assert output == {"x": 3}
    assert runtime.boundaries == 0  # not asked: such a loop cannot be resumed


async def test_started_at_and_timeouts_span_the_runs() -> None:
    timed = yaml.safe_load(
        """
document: {dsl: '1.0.0', namespace: test, name: timed, version: '1.0.0'}
do:
  - work:
      timeout: {after: {minutes: 150}}
      output:
        as: '${ {n: ., started: $task.startedAt.iso8601} }'
      do:
        - loop:
            for: {in: '${ [range(0; 4)] }'}
            do:
              - s: {set: '${ $item }'}
"""
    )
    # Cut at every boundary, runs an hour apart: the fourth starts 3 hours in, past 150 min.
    with pytest.raises(WorkflowError) as err:
        await run_in_segments(timed, 1, hours_per_run=1)
    assert err.value.problem["status"] == 408
    assert err.value.problem["instance"] == "/do/0/work"
    # Cut every other boundary: two runs, an hour apart, in time; started when run 1 began.
    output, runs, _ = await run_in_segments(timed, 2, hours_per_run=1)
    assert runs == 2
    assert output == {"n": 3, "started": "2025-01-02T03:04:05Z"}


def _old_shape(resume: Resume) -> dict[str, Any]:
    """``resume`` as a runner older than nested cuts wrote it (a top-level loop only)."""
    (frame,) = resume.path()
    return {
        "task_index": frame.task_index,
        "task_input": frame.task_input,
        "iteration": frame.iteration,
        "data": frame.data,
        "context": resume.context,
        "workflow_input": resume.workflow_input,
        "started_at": resume.started_at,
    }


async def test_a_run_continued_by_an_older_runner_resumes() -> None:
    runtime = FakeRuntime()
    runtime.iterations_per_run = 5
    with pytest.raises(Checkpoint) as cut:
        await Interpreter(DOCUMENT, runtime=runtime).run({"who": "ada"})
    # The continued run's input, as Temporal hands it over: JSON in the old shape.
    converter = DataConverter.default.payload_converter
    old = {
        "execution_id": "e",
        "workflow_id": "w",
        "document": DOCUMENT,
        "resume": _old_shape(cut.value.resume),
        "continued": True,
    }
    (run,) = converter.from_payloads(converter.to_payloads([old]), [DslRunInput])
    assert isinstance(run, DslRunInput)
    assert run.resume is not None
    assert run.resume.frames == []
    assert run.resume.iteration == 5
    output, runs, _ = await run_in_segments(DOCUMENT, 0, resume=run.resume)
    whole, _, _ = await run_in_segments(DOCUMENT, 0)
    assert runs == 1
    assert output == whole
