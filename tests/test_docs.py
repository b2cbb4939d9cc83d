"""Docs that are generated from code must match the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).parents[1]


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_openapi_document_is_current() -> None:
    expected = _script("gen_openapi").render()
    actual = (ROOT / "docs" / "openapi.json").read_text()
    assert actual == expected, (
        "docs/openapi.json is stale: run python scripts/gen_openapi.py > docs/openapi.json"
    )


def test_configuration_reference_is_current() -> None:
    expected = _script("gen_config_reference").render()
    actual = (ROOT / "docs" / "configuration-reference.md").read_text()
    assert actual == expected, (
        "docs/configuration-reference.md is stale: run "
        "python scripts/gen_config_reference.py > docs/configuration-reference.md"
    )
