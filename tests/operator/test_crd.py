"""The CRD's schema, the operator's spec model and the example resource agree (no cluster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel, ValidationError

from stigmer_operator.spec import GROUP, KIND, PLURAL, VERSION, AutoscalerSpec

ROOT = Path(__file__).parents[2]
CRD = ROOT / "deploy/helm/stigmer/crds/runnerautoscalers.autoscaling.stigmer.io.yaml"
EXAMPLE = ROOT / "examples/kubernetes/runnerautoscaler.yaml"


def crd_version() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    assert crd["metadata"]["name"] == f"{PLURAL}.{GROUP}"
    assert crd["spec"]["names"]["kind"] == KIND
    (version,) = crd["spec"]["versions"]
    assert version["name"] == VERSION
    assert version["subresources"] == {"status": {}}
    return dict(version)


def schema() -> dict[str, Any]:
    return dict(crd_version()["schema"]["openAPIV3Schema"])


def _aliases(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def test_crd_spec_properties_are_the_models_fields() -> None:
    spec_schema = schema()["properties"]["spec"]
    assert set(spec_schema["properties"]) == _aliases(AutoscalerSpec)
    temporal = spec_schema["properties"]["temporal"]["properties"]
    assert set(temporal) == _aliases(AutoscalerSpec.model_fields["temporal"].annotation)  # type: ignore[arg-type]


def test_example_is_valid_for_the_crd_and_the_operator() -> None:
    example = yaml.safe_load(EXAMPLE.read_text())
    assert example["apiVersion"] == f"{GROUP}/{VERSION}"
    jsonschema.validate(example, schema())
    parsed = AutoscalerSpec.model_validate(example["spec"])
    assert parsed.scale_down.stabilization_window_seconds == 300


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"minReplicas": -1}, "minReplicas"),
        ({"targetBacklogPerReplica": 0}, "targetBacklogPerReplica"),
        ({"temporal": {"address": "t:7233", "queueTypes": ["nexus"]}}, "queueTypes"),
        ({"pollingIntervalSeconds": 0}, "pollingIntervalSeconds"),
    ],
)
def test_bad_specs_are_refused_by_both(change: dict[str, Any], path: str) -> None:
    example = yaml.safe_load(EXAMPLE.read_text())
    example["spec"].update(change)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(example, schema())
    with pytest.raises(ValidationError) as refused:
        AutoscalerSpec.model_validate(example["spec"])
    assert path in str(refused.value)


def test_model_refuses_min_above_max() -> None:
    # The CRD says so in a CEL rule, which only an API server evaluates.
    spec = yaml.safe_load(EXAMPLE.read_text())["spec"] | {"minReplicas": 5, "maxReplicas": 2}
    with pytest.raises(ValidationError, match="minReplicas \\(5\\) exceeds maxReplicas \\(2\\)"):
        AutoscalerSpec.model_validate(spec)
