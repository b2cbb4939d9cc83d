"""``--input`` and ``--env`` parsing: every bad value is a usage error naming the option."""

from __future__ import annotations

from pathlib import Path

import pytest

from stigmer_cli.inputs import parse_env, parse_input
from stigmer_core.errors import ValidationFailedError


def test_inline_json_of_any_type() -> None:
    assert parse_input('{"name": "Ada", "n": [1, 2]}') == {"name": "Ada", "n": [1, 2]}
    assert parse_input("42") == 42
    assert parse_input(None) is None


def test_at_file_reads_json_and_yaml(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_text('{"a": true}')
    (tmp_path / "in.yaml").write_text("a: 1\non: off\n")
    assert parse_input(f"@{tmp_path / 'in.json'}") == {"a": True}
    # YAML 1.2 rules: `on`/`off` stay strings.
    assert parse_input(f"@{tmp_path / 'in.yaml'}") == {"a": 1, "on": "off"}


def test_bad_json_names_the_option_and_position() -> None:
    with pytest.raises(ValidationFailedError) as caught:
        parse_input('{"name": }')
    assert caught.value.field == "--input"
    assert "line 1, column 10" in caught.value.message


def test_bad_json_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ValidationFailedError, match=r"bad\.json is not valid JSON"):
        parse_input(f"@{bad}")


def test_missing_input_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailedError, match="no such file") as caught:
        parse_input(f"@{tmp_path / 'absent.json'}")
    assert caught.value.field == "--input"


def test_at_without_a_name() -> None:
    with pytest.raises(ValidationFailedError, match="needs a file name"):
        parse_input("@")


def test_env_pairs() -> None:
    assert parse_env(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    assert parse_env(None) == {}


@pytest.mark.parametrize("pair", ["NOEQUALS", "=value", " =v"])
def test_bad_env_pair(pair: str) -> None:
    with pytest.raises(ValidationFailedError, match="KEY=VALUE") as caught:
        parse_env([pair])
    assert caught.value.field == "--env"
