"""The conformance kit's scenarios for for, fork (branch.feature), switch and try (CTK v1.0.3).

Documents, inputs and expectations are copied from /work/shared/ctk/features/*.feature;
petstore.swagger.io answers from the fake runtime (a pet looked up by name is a 404).
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
import yaml

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.fakes import FakeRuntime, json_response

HEADER = """
document:
  dsl: '1.0.3'
  namespace: default
  name: ctk
  version: '1.0.0'
"""

# scenario: (document's do, input, expected output, first task run, last task run)
SCENARIOS: dict[str, tuple[str, str, str, str | None, str | None]] = {
    "for: For Task": (
        """
        do:
          - loopColors:
              for:
                each: color
                in: '.colors'
              do:
                - markProcessed:
                    set:
                      processed: '${ { colors: (.processed.colors + [ $color ]), indexes: (.processed.indexes + [ $index ])} }'
        """,  # noqa: E501 - copied verbatim from the feature
        "colors: [ red, green, blue ]",
        """
        processed:
          colors: [ red, green, blue ]
          indexes: [ 0, 1, 2 ]
        """,
        None,
        None,
    ),
    "switch: Switch task with matching case": (
        """
        do:
          - switchColor:
              switch:
                - red:
                    when: '.color == "red"'
                    then: setRed
                - green:
                    when: '.color == "green"'
                    then: setGreen
                - blue:
                    when: '.color == "blue"'
                    then: setBlue
          - setRed:
              set:
                colors: '${ .colors + [ "red" ] }'
              then: end
          - setGreen:
              set:
                colors: '${ .colors + [ "green" ] }'
              then: end
          - setBlue:
              set:
                colors: '${ .colors + [ "blue" ] }'
              then: end
        """,
        "color: red",
        "colors: [ red ]",
        "switchColor",
        "setRed",
    ),
    "switch: Switch task with implicit default case": (
        """
        do:
          - switchColor:
              switch:
                - red:
                    when: '.color == "red"'
                    then: setRed
                - green:
                    when: '.color == "green"'
                    then: setGreen
                - blue:
                    when: '.color == "blue"'
                    then: setBlue
              then: end
          - setRed:
              set:
                colors: '${ .colors + [ "red" ] }'
          - setGreen:
              set:
                colors: '${ .colors + [ "green" ] }'
          - setBlue:
              set:
                colors: '${ .colors + [ "blue" ] }'
        """,
        "color: yellow",
        "color: yellow",
        "switchColor",
        "switchColor",
    ),
    "switch: Switch task with explicit default case": (
        """
        do:
          - switchColor:
              switch:
                - red:
                    when: '.color == "red"'
                    then: setRed
                - green:
                    when: '.color == "green"'
                    then: setGreen
                - blue:
                    when: '.color == "blue"'
                    then: setBlue
                - anyOtherColor:
                    then: setCustomColor
          - setRed:
              set:
                colors: '${ .colors + [ "red" ] }'
          - setGreen:
              set:
                colors: '${ .colors + [ "green" ] }'
          - setBlue:
              set:
                colors: '${ .colors + [ "blue" ] }'
          - setCustomColor:
              set:
                colors: '${ .colors + [ $input.color ] }'
        """,
        "color: yellow",
        "colors: [ yellow ]",
        "switchColor",
        "setCustomColor",
    ),
}


def petstore(request: HttpRequest) -> HttpResponse:
    """petstore.swagger.io has no getPetByName route: it answers 404."""
    return json_response(request, {"code": 404, "type": "unknown"}, status=404)


def load(text: str) -> Any:
    return yaml.safe_load(textwrap.dedent(text))


async def run(do: str, given: str) -> tuple[Any, FakeRuntime]:
    runtime = FakeRuntime(petstore)
    document = load(HEADER) | load(do)
    output = await Interpreter(document, runtime=runtime).run(load(given))
    return output, runtime


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_scenario_completes_with_output(scenario: str) -> None:
    do, given, expected, first, last = SCENARIOS[scenario]
    output, runtime = await run(do, given)
    assert output == load(expected)
    started = [e.name for e in runtime.events if e.phase == "RUNNING"]
    if first is not None:
        assert started[0] == first
    if last is not None:
        assert started[-1] == last


async def test_fork_with_competing_concurrent_sub_tasks() -> None:
    do = """
    do:
      - branchWithCompete:
          fork:
            compete: true
            branches:
              - setRed:
                  set:
                    colors: ${ .colors + ["red"] }
              - setGreen:
                  set:
                    colors: ${ .colors + ["green"] }
              - setBlue:
                  set:
                    colors: ${ .colors + ["blue"] }
    """
    output, _ = await run(do, "{}")
    assert len(output["colors"]) == 1


TRY_GET_PET = """
do:
  - tryGetPet:
      try:
        - getPet:
            call: http
            with:
              method: get
              endpoint:
                uri: https://petstore.swagger.io/v2/pet/getPetByName/{petName}
      catch:
        errors:
          with:
            type: https://serverlessworkflow.io/dsl/errors/types/communication
            status: STATUS
        as: err
        do:
          - setError:
              set:
                error: ${ $err }
"""


async def test_try_handle_caught_error() -> None:
    output, _ = await run(TRY_GET_PET.replace("STATUS", "404"), "petName: Milou")
    assert {"type", "status", "title"} <= set(output["error"])
    assert output["error"]["instance"] == "/do/0/tryGetPet/try/0/getPet"
    assert output["error"]["status"] == 404


async def test_try_raise_uncaught_error() -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(TRY_GET_PET.replace("STATUS", "503"), "petName: Milou")
    assert caught.value.problem["status"] == 404
    assert caught.value.problem["instance"] == "/do/0/tryGetPet/try/0/getPet"
