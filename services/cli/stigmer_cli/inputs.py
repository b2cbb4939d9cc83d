"""Parse the values people type: ``--input JSON|@file`` and ``--env K=V``.

Every failure is a ValidationFailedError naming the option, so the CLI exits 2 with a
message instead of a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from stigmer_core.dsl_document import load_yaml
from stigmer_core.errors import ValidationFailedError


def parse_input(value: str | None, *, option: str = "--input") -> Any:
    """The workflow input from ``value``: inline JSON, or ``@path`` to a JSON or YAML file.

    ``None`` (option not given) gives ``None`` so the API applies its default (``{}``).
    """
    if value is None:
        return None
    if value.startswith("@"):
        if not value[1:]:
            raise ValidationFailedError(
                f"{option} @ needs a file name, e.g. @input.json", field=option
            )
        return _read_input_file(Path(value[1:]), option=option)
    return _parse_json(value, source="inline JSON", option=option)


def _read_input_file(path: Path, *, option: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationFailedError(f"{option}: no such file: {path}", field=option) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailedError(f"{option}: cannot read {path}: {exc}", field=option) from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            return load_yaml(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ValidationFailedError(
                f"{option}: {path} is not valid YAML{where}", field=option
            ) from None
    return _parse_json(text, source=str(path), option=option)


def _parse_json(text: str, *, source: str, option: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailedError(
            f"{option}: {source} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno} (use @file to read a file)",
            field=option,
        ) from None


def parse_env(pairs: list[str] | None, *, option: str = "--env") -> dict[str, str]:
    """``["K=V", ...]`` as a dict; the value may contain ``=``, the key may not be empty."""
    env: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationFailedError(f"{option} takes KEY=VALUE, got {pair!r}", field=option)
        env[key.strip()] = value
    return env
