"""The conformance harness itself: the Gherkin reader, the step vocabulary and the stubs.

No servers needed: these make sure the harness fails loudly instead of passing quietly.
"""

from __future__ import annotations

import base64
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stigmer_core.model import ExecutionPhase, TaskPhase, TaskStatus
from tests.conformance.gherkin import GherkinError, parse_feature
from tests.conformance.steps import Outcome, Plan, StepError, compile_scenario, json_equal
from tests.conformance.stubs import PublicStubs

HERE = Path("kit.feature")


def feature(body: str) -> str:
    return "Feature: Kit\n  As a tester\n\n" + textwrap.indent(textwrap.dedent(body), "  ")


def plan_of(steps: str) -> Plan:
    parsed = parse_feature(feature("Scenario: One\n" + textwrap.indent(steps, "  ")), HERE)
    return compile_scenario(parsed.scenarios[0], where="kit")


DEFINE = 'Given a workflow with definition:\n"""yaml\ndo: []\n"""\nWhen the workflow is executed\n'


def run_checks(plan: Plan, outcome: Outcome) -> None:
    for _, check in plan.checks:
        check(outcome)


def task(name: str, phase: TaskPhase = TaskPhase.COMPLETED, **fields: Any) -> TaskStatus:
    return TaskStatus(id=f"/do/0/{name}", name=name, type="set", phase=phase, **fields)


def completed(output: Any, *tasks: TaskStatus) -> Outcome:
    return Outcome(ExecutionPhase.COMPLETED, output, None, list(tasks))


# --- the reader ----------------------------------------------------------------------------


def test_doc_strings_keep_their_own_indentation() -> None:
    text = feature(
        """
        Scenario: One
          Given a workflow with definition:
            \"\"\"yaml
            do:
              - a: {set: {x: 1}}
            \"\"\"
        """
    )
    step = parse_feature(text, HERE).scenarios[0].steps[0]
    assert step.docstring == "do:\n  - a: {set: {x: 1}}\n"
    assert step.keyword == "Given"
    assert step.text == "a workflow with definition:"


@pytest.mark.parametrize(
    "construct",
    ["Background:", "Scenario Outline: x", "Examples:", "@tag", "| a | b |", "Rule: r"],
)
def test_unsupported_gherkin_is_an_error_with_its_line(construct: str) -> None:
    text = feature(f"Scenario: One\n  Given a workflow with definition:\n{construct}\n")
    with pytest.raises(GherkinError, match=r"kit\.feature:\d+: unsupported"):
        parse_feature(text, HERE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Feature: Empty\n", "no scenarios"),
        ('Feature: F\nScenario: S\n  Given x:\n  """\n  never closed\n', "never closed"),
        ("Feature: F\nScenario: S\n  Perhaps something\n", "expected a step"),
        ("Scenario: S\n", "expected 'Feature:' first"),
    ],
)
def test_malformed_features_are_errors(text: str, message: str) -> None:
    with pytest.raises(GherkinError, match=message):
        parse_feature(text, HERE)


# --- the vocabulary ------------------------------------------------------------------------


def test_an_unknown_step_fails_loudly() -> None:
    with pytest.raises(StepError, match="unknown step Then 'the workflow should be fast'"):
        plan_of(DEFINE + "Then the workflow should be fast\n")


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("When the workflow is executed\nThen the workflow should complete\n", "no 'Given"),
        (DEFINE, "no Then step"),
        (DEFINE.replace("When", "Then") + "Then the workflow should complete\n", "When step"),
        (DEFINE + "Then the workflow should complete\nAnd given the workflow input is:\n"
         '"""\na: 1\n"""\n', "Given step"),
        (DEFINE + "Then the workflow should complete with output:\n", "needs a doc string"),
    ],
)  # fmt: skip
def test_steps_in_an_impossible_order_or_shape_are_errors(steps: str, message: str) -> None:
    with pytest.raises(StepError, match=message):
        plan_of(steps)


def test_output_is_compared_as_json() -> None:
    plan = plan_of(
        DEFINE + 'Then the workflow should complete with output:\n"""\nids: [1, 2]\n"""\n'
    )
    run_checks(plan, completed({"ids": [1, 2.0]}))
    for wrong in ({"ids": [2, 1]}, {"ids": [1, 2], "more": 0}, {"ids": [True, 2]}):
        with pytest.raises(AssertionError, match="output"):
            run_checks(plan, completed(wrong))
    with pytest.raises(AssertionError, match="expected COMPLETED"):
        run_checks(plan, Outcome(ExecutionPhase.FAILED, None, {"status": 500}, []))


def test_json_equality_tells_booleans_from_numbers() -> None:
    assert json_equal({"a": [1, "x"]}, {"a": [1.0, "x"]})
    assert not json_equal(True, 1)
    assert not json_equal(0, False)
    assert not json_equal(None, {})


def test_properties_are_dotted_paths_that_must_all_exist() -> None:
    plan = plan_of(
        DEFINE + "Then the workflow should complete\n"
        "And the workflow output should have properties 'a', 'a.b', 'c.0'\n"
    )
    run_checks(plan, completed({"a": {"b": None}, "c": [7]}))
    with pytest.raises(AssertionError, match=r"lacks \['a.b'\]"):
        run_checks(plan, completed({"a": {}, "c": [7]}))


def test_property_value_and_item_count() -> None:
    plan = plan_of(
        DEFINE + "Then the workflow should complete\n"
        "And the workflow output should have a 'e.instance' property with value:\n"
        '"""yaml\n/do/0/x\n"""\n'
        "And the workflow output should have a 'colors' property containing 1 items\n"
    )
    run_checks(plan, completed({"e": {"instance": "/do/0/x"}, "colors": ["red"]}))
    with pytest.raises(AssertionError, match="2 items, expected 1"):
        run_checks(plan, completed({"e": {"instance": "/do/0/x"}, "colors": ["red", "blue"]}))
    with pytest.raises(AssertionError, match=r"no 'e\.instance' property"):
        run_checks(plan, completed({"colors": ["red"]}))


def test_fault_with_error_checks_the_fields_it_names() -> None:
    plan = plan_of(
        DEFINE + 'Then the workflow should fault with error:\n"""yaml\nstatus: 400\n'
        "instance: /do/0/raiseError\n" + '"""\n'
    )
    error = {"status": 400, "instance": "/do/0/raiseError", "detail": "not compared"}
    run_checks(plan, Outcome(ExecutionPhase.FAILED, None, error, []))
    with pytest.raises(AssertionError, match="instance"):
        run_checks(plan, Outcome(ExecutionPhase.FAILED, None, {**error, "instance": "/do/1"}, []))


def test_run_order_follows_the_order_tasks_started() -> None:
    plan = plan_of(
        DEFINE + "Then the workflow should complete\nAnd a should run first\n"
        "And c should run after a\nAnd a should run before c\nAnd c should run last\n"
    )
    run_checks(plan, completed({}, task("a"), task("b", TaskPhase.SKIPPED), task("c")))
    with pytest.raises(AssertionError, match="a ran at position 1"):
        run_checks(plan, completed({}, task("c"), task("a")))
    with pytest.raises(AssertionError, match="expected c to run exactly once"):
        run_checks(plan, completed({}, task("a")))


def test_task_outcomes() -> None:
    plan = plan_of(
        DEFINE + "Then the workflow should fault\nAnd a should complete with output:\n"
        '"""\nx: 1\n"""\nAnd b should fault\n'
    )
    outcome = Outcome(
        ExecutionPhase.FAILED,
        None,
        {"status": 500},
        [task("a", output={"x": 1}), task("b", TaskPhase.FAILED)],
    )
    run_checks(plan, outcome)
    outcome.tasks[0] = task("a", output={"x": 2})
    with pytest.raises(AssertionError, match="a output"):
        run_checks(plan, outcome)


# --- the stubs -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stubs() -> Iterator[PublicStubs]:
    with PublicStubs() as running:
        yield running


def test_rewrite_changes_only_scheme_and_host(stubs: PublicStubs) -> None:
    text = (
        "uri: https://petstore.swagger.io/v2/pet/{petId}\n"
        "other: https://httpbin.org/basic-auth/{u}/{p}\n"
        "source: https://fake-source.com\n"
        "lookalike: https://petstore.swagger.io.example.com/x\n"
    )
    rewritten = stubs.rewrite(text)
    assert rewritten == (
        f"uri: {stubs.urls['petstore.swagger.io']}/v2/pet/{{petId}}\n"
        f"other: {stubs.urls['httpbin.org']}/basic-auth/{{u}}/{{p}}\n"
        "source: https://fake-source.com\n"
        "lookalike: https://petstore.swagger.io.example.com/x\n"
    )
    assert not stubs.calls_public_host(rewritten)


def test_petstore_answers_like_the_real_one(stubs: PublicStubs) -> None:
    base = stubs.urls["petstore.swagger.io"]
    found = httpx.get(f"{base}/v2/pet/findByStatus", params={"status": "available"})
    assert found.status_code == 200
    assert found.headers["content-type"] == "application/json"
    assert [p["status"] for p in found.json()] == ["available", "available"]
    assert httpx.get(f"{base}/v2/pet/2").json()["id"] == 2
    assert httpx.get(f"{base}/v2/pet/404").json() == {
        "code": 1,
        "type": "error",
        "message": "Pet not found",
    }
    assert httpx.get(f"{base}/v2/pet/getPetByName/Milou").status_code == 404
    swagger = httpx.get(f"{base}/v2/swagger.json").json()
    assert swagger["host"] == base.removeprefix("http://")
    operations = {op["operationId"] for path in swagger["paths"].values() for op in path.values()}
    assert operations == {"findPetsByStatus", "getPetById"}


def test_httpbin_basic_auth(stubs: PublicStubs) -> None:
    url = f"{stubs.urls['httpbin.org']}/basic-auth/user/secret"
    good = "Basic " + base64.b64encode(b"user:secret").decode()
    answer = httpx.get(url, headers={"Authorization": good})
    assert answer.json() == {"authenticated": True, "user": "user"}
    refused = httpx.get(url, auth=("user", "wrong"))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(url).status_code == 401


def test_the_egress_trap_refuses_and_records(stubs: PublicStubs) -> None:
    stubs.clear()
    with httpx.Client(proxy=stubs.proxy_url) as client:
        assert client.get("http://192.0.2.1/x").status_code == 403
    assert [r.target for r in stubs.escapes()] == ["http://192.0.2.1/x"]
