"""Runtime expressions: strict and bare jq, variables, determinism, errors, caching."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from stigmer_runner.dsl import expressions
from stigmer_runner.dsl.expressions import (
    ExpressionError,
    evaluate,
    evaluate_value,
    is_expression,
    truthy,
    unwrap,
)

NOW = 1_700_000_000.25


def run(expression: str, data: Any = None, **variables: Any) -> Any:
    return evaluate(expression, data, variables, now=NOW)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("${ .a }", True),
        ("  ${.a}  ", True),
        ("${\n  .a\n}", True),
        (".a", False),
        ("Hello ${ .name }!", False),
        ("${}", False),
        (42, False),
        (None, False),
    ],
)
def test_is_expression_accepts_only_whole_strict_expressions(value: Any, expected: bool) -> None:
    assert is_expression(value) is expected


def test_unwrap_strips_the_delimiters_or_keeps_bare_jq() -> None:
    assert unwrap("${ .a | length }") == ".a | length"
    assert unwrap(" .user.claims.subject ") == ".user.claims.subject"


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ("${ .a + 1 }", {"a": 1}, 2),
        (".user.claims.subject", {"user": {"claims": {"subject": "x"}}}, "x"),
        ("{ ids: [ .a, .b ] }", {"a": 1, "b": 2}, {"ids": [1, 2]}),
        ("${ .missing }", {}, None),
        ("empty", {}, None),
        ("1, 2", None, 1),
        (".a # a trailing comment", {"a": 3}, 3),
        ("def twice: . * 2; .a | twice", {"a": 4}, 8),
    ],
)
def test_evaluate(expression: str, data: Any, expected: Any) -> None:
    assert run(expression, data) == expected


def test_variables_are_bound_by_name() -> None:
    assert run(
        "${ [$context.a, $input, $task.name] }", None, context={"a": 1}, input=2, task={"name": "t"}
    ) == [
        1,
        2,
        "t",
    ]


def test_variables_a_program_does_not_mention_are_not_serialised() -> None:
    # A value jq cannot take would fail the evaluation if it were passed along.
    unserialisable = {"workflow": object()}
    assert evaluate("${ $context }", None, {"context": {}, **unserialisable}, now=NOW) == {}


def test_unknown_variable_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match=r"\$nope is not defined"):
        run("${ $nope }", {})


def test_now_is_the_time_given_not_the_host_clock() -> None:
    assert run("now") == NOW
    assert run("now | todate") == "2023-11-14T22:13:20Z"
    assert run('now | localtime | strflocaltime("%H:%M")') == "22:13"


def test_the_host_environment_is_invisible() -> None:
    assert os.environ, "the test needs a non-empty environment to prove anything"
    assert run("env") == {}
    assert run("$ENV") == {}
    assert run("[debug, stderr]", 1) == [1, 1]


def test_input_builtin_is_refused() -> None:
    with pytest.raises(ExpressionError, match="input is not available"):
        run("input", {})


def test_modules_cannot_be_imported() -> None:
    with pytest.raises(ExpressionError, match="modules"):
        run('import "a" as a; .', {})


def test_syntax_error_names_the_expression_without_the_prelude() -> None:
    with pytest.raises(ExpressionError) as caught:
        run("${ .a | }", {})
    assert caught.value.expression == "${ .a | }"
    assert caught.value.message.startswith("syntax error")
    assert "__stigmer" not in caught.value.message
    assert "def now" not in str(caught.value)


def test_evaluation_error_carries_jq_message() -> None:
    with pytest.raises(ExpressionError, match=r'Cannot index number with "b"|Cannot index number'):
        run(".a.b", {"a": 1})
    with pytest.raises(ExpressionError, match="boom"):
        run('error("boom")', {})


def test_empty_expression_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="empty"):
        run("${ }", {})


def test_evaluate_value_walks_mappings_and_lists_and_leaves_other_strings() -> None:
    value = {
        "shape": "circle",
        "size": "${ .size }",
        "list": ["${ .size.width }", "plain", 3, None, True],
        "greeting": "Hello ${ .name }",
    }
    data = {"size": {"width": 6}, "name": "Ann"}
    assert evaluate_value(value, data, {}, now=NOW) == {
        "shape": "circle",
        "size": {"width": 6},
        "list": [6, "plain", 3, None, True],
        "greeting": "Hello ${ .name }",
    }
    assert value["size"] == "${ .size }", "the definition must not be modified"


def test_truthy_follows_jq() -> None:
    values: list[Any] = [None, False, 0, "", [], {}, True]
    assert [truthy(v) for v in values] == [
        False,
        False,
        True,
        True,
        True,
        True,
        True,
    ]


def test_programs_are_compiled_once_per_text_and_variables() -> None:
    expressions._compiled.cache_clear()
    for value in range(5):
        assert run("${ .a + $input }", {"a": value}, input=1) == value + 1
    info = expressions._compiled.cache_info()
    assert (info.misses, info.hits) == (1, 4)
    run("${ .a + $input }", {"a": 1}, input=1, context={})
    assert expressions._compiled.cache_info().misses == 1, "unused variables change nothing"


def test_cached_programs_are_safe_to_share_between_threads() -> None:
    # Temporal runs workflow tasks on a thread pool; every thread uses the same programs.
    def work(n: int) -> list[Any]:
        return [run("${ .n * 2 + $input }", {"n": n + i}, input=i) for i in range(200)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(16)))
    for n, values in enumerate(results):
        assert values == [(n + i) * 2 + i for i in range(200)]


def test_failed_evaluations_survive_the_cyclic_garbage_collector() -> None:
    # Regression: jq's result iterator, kept alive by an error's traceback cycle, crashed
    # the interpreter when the cyclic collector freed it. A subprocess keeps a crash here.
    code = textwrap.dedent(
        """
        import gc
        from stigmer_runner.dsl.expressions import ExpressionError, evaluate

        def fail():
            try:
                evaluate(".a.b", {"a": 1}, {}, now=0)
            except ExpressionError as exc:
                kept = exc  # the traceback now references this frame: a cycle
                return kept

        for _ in range(50):
            fail()
        gc.collect()
        print("survived")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "survived"
