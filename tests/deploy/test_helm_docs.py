"""docs/deploy.md's values reference is generated from values.schema.json."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_values_reference", ROOT / "scripts" / "gen_values_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_values_reference_is_current() -> None:
    script = _script()
    actual = script.current_section((ROOT / "docs" / "deploy.md").read_text())
    assert actual == script.render(), (
        "docs/deploy.md's values reference is stale: "
        "run python scripts/gen_values_reference.py --write"
    )


def test_values_reference_lists_every_leaf_of_the_schema() -> None:
    reference = _script().render()
    schema = json.loads((ROOT / "deploy/helm/stigmer/values.schema.json").read_text())
    assert "| `runner.autoscaling.keda.queueTypes` | array of `workflow`, `activity` |" in reference
    assert f"| `{next(iter(schema['properties']))}` |" in reference
    assert reference.count("\n| `") > 150
