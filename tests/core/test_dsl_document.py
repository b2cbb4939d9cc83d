"""Validation against the specification's schema, with the JSON pointer of the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from stigmer_core.dsl_document import parse_document, validate_document
from stigmer_core.errors import ValidationFailedError
from tests.services import unavailable

EXAMPLES = sorted((Path(__file__).parents[2].parent / "shared" / "dsl-examples").glob("*.yaml"))
HEADER = "document: {dsl: 1.0.0, namespace: test, name: doc, version: 1.0.0}\n"


def test_every_spec_example_validates() -> None:
    if not EXAMPLES:
        unavailable("../shared/dsl-examples is not beside the checkout")
    for path in EXAMPLES:
        header = validate_document(parse_document(path.read_text()))
        assert header.name, path.name


@pytest.mark.parametrize(
    ("body", "pointer", "words"),
    [
        ("document: {dsl: 1.0.0, namespace: t, name: d}\ndo: []\n", "/document", "version"),
        (
            HEADER + "do:\n  - a:\n      call: http\n      with: {method: get}\n",
            "/do/0/a/with",
            "endpoint",
        ),
        (HEADER + "do:\n  - a:\n      sett: {x: 1}\n", "/do/0/a", "sett"),
        (HEADER + "do:\n  - a:\n      set: {x: 1}\n      then: 5\n", "/do/0/a/then", "string"),
        (
            HEADER + "do:\n  - a:\n      raise:\n        error: {type: nope, status: 400}\n",
            "/do/0/a/raise/error/type",
            "match",
        ),
    ],
)
def test_invalid_documents_name_the_field(body: str, pointer: str, words: str) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        validate_document(parse_document(body))
    assert caught.value.field == pointer
    assert words in caught.value.message


@pytest.mark.parametrize("body", ["a: [", "- just\n- a list\n", "plain text"])
def test_unparseable_or_non_mapping_bodies(body: str) -> None:
    with pytest.raises(ValidationFailedError):
        parse_document(body)


def test_yaml_12_booleans_keep_on_as_a_key() -> None:
    document = parse_document("on: 1\nyes: 2\ntrue_flag: true\n")
    assert document == {"on": 1, "yes": 2, "true_flag": True}
