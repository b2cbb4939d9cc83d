"""Continue-as-new: a long top-level loop cut into runs gives what one run gives."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from stigmer_runner.dsl.checkpoint import Checkpoint
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.fakes import FakeRuntime

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


async def run_in_segments(iterations_per_run: int) -> tuple[Any, int]:
    """Run like the DSL workflow does: on Checkpoint, start a new interpreter with resume."""
    resume = None
    runs = 0
    while True:
        runs += 1
        runtime = FakeRuntime()
        runtime.iterations_per_run = iterations_per_run
        interpreter = Interpreter(DOCUMENT, runtime=runtime, resume=resume)
        try:
            return await interpreter.run({"who": "ada"}), runs
        except Checkpoint as cut:
            resume = cut.resume


async def test_one_run_without_cuts() -> None:
    output, runs = await run_in_segments(0)
    assert runs == 1
    assert output == {"total": 300, "count": 25, "prepared": True, "input": "ada"}


@pytest.mark.parametrize("per_run", [1, 2, 7, 24])
async def test_cut_runs_give_the_same_output(per_run: int) -> None:
    whole, _ = await run_in_segments(0)
    output, runs = await run_in_segments(per_run)
    assert output == whole
    assert runs > 1


async def test_only_top_level_loops_are_cut() -> None:
    nested = yaml.safe_load(
        """
document: {dsl: '1.0.0', namespace: test, name: nested, version: '1.0.0'}
do:
  - outer:
      do:
        - inner:
            for: {in: '${ [1, 2, 3] }'}
            do:
              - s:
                  set: {x: '${ $item }'}
"""
    )
    runtime = FakeRuntime()
    runtime.iterations_per_run = 1
    output = await Interpreter(nested, runtime=runtime).run({})
    assert output == {"x": 3}
    assert runtime.boundaries == 0  # not asked: a nested loop cannot be resumed
