"""Every rendered object of a built-in kind validates against the Kubernetes OpenAPI schemas
(kubernetes-validate, strict: unknown fields fail). Custom kinds are skipped by it:
RunnerAutoscaler and KopfPeering are validated against their CRDs in
test_helm_autoscaling.py; ScaledObject, ServiceMonitor and PrometheusRule (no CRD schema
available offline) get structural assertions in test_helm_autoscaling.py and
test_helm_monitoring.py."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from tests.deploy.helm_chart import CHART, CI_VALUES, KUBE_VERSION, render

CUSTOM_KINDS = {
    "ScaledObject",
    "ServiceMonitor",
    "PrometheusRule",
    "RunnerAutoscaler",
    "KopfPeering",
    "ClusterKopfPeering",
}


@pytest.mark.parametrize(
    "values", [pytest.param(str(p), id=p.name.removesuffix("-values.yaml")) for p in CI_VALUES]
)
def test_rendered_objects_validate_strictly(values: str) -> None:
    validated = 0
    for obj in render(values).objects:
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            assert obj["kind"] in CUSTOM_KINDS, f"no schema for {obj['kind']}"
            continue
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {error}")
        validated += 1
    assert validated >= 10


def test_strict_validation_catches_an_unknown_field() -> None:
    (deployment, *_) = render(str(CI_VALUES[0])).of_kind("Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSION, strict=True)


def test_crds_validate_strictly() -> None:
    crds = [
        doc
        for path in sorted((CHART / "crds").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
    assert {crd["spec"]["names"]["kind"] for crd in crds} == {
        "RunnerAutoscaler",
        "KopfPeering",
        "ClusterKopfPeering",
    }
    for crd in crds:
        kubernetes_validate.validate(crd, KUBE_VERSION, strict=True)
