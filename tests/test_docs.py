"""Docs that are generated from code must match the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_configuration_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_config_reference", ROOT / "scripts" / "gen_config_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render()
    actual = (ROOT / "docs" / "configuration-reference.md").read_text()
    assert actual == expected, (
        "docs/configuration-reference.md is stale: run "
        "python scripts/gen_config_reference.py > docs/configuration-reference.md"
    )
