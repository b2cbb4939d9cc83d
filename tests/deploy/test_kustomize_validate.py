"""Every object of a built-in kind that a Kustomize flavour renders is valid for Kubernetes.

`kubernetes-validate --strict` (offline JSON schemas of the Kubernetes API) rejects unknown
and misplaced fields, which `kubectl kustomize` happily renders. It has no schema for
custom kinds: those listed in CUSTOM_KINDS are skipped here (the RunnerAutoscaler example is
checked against our own CRD's schema instead); any other kind without a schema fails.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy.kustomize_render import FLAVOURS, of_kind, render

# The oldest Kubernetes minor the manifests support (topology spread's matchLabelKeys and
# nodeTaintsPolicy, policy/v1 PodDisruptionBudgets, CRD validation rules).
KUBERNETES_VERSION = "1.30"
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),  # KEDA
    ("monitoring.coreos.com/v1", "ServiceMonitor"),  # Prometheus Operator
    ("monitoring.coreos.com/v1", "PrometheusRule"),  # Prometheus Operator
    ("autoscaling.stigmer.io/v1alpha1", "RunnerAutoscaler"),  # ours: see below
    ("kopf.dev/v1", "KopfPeering"),  # kopf's peering
}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_built_in_kinds_validate_strictly(flavour: str) -> None:
    checked = 0
    for obj in render(flavour):
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        where = f"{flavour}: {obj['kind']} {obj['metadata']['name']}"
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{where}: {exc.message} at {list(exc.path)}", pytrace=False)
        except kubernetes_validate.SchemaNotFoundError:
            pytest.fail(f"{where}: no schema, and not a known custom kind", pytrace=False)
        checked += 1
    assert checked > 0


def test_strict_validation_rejects_a_misplaced_field() -> None:
    """The check above can fail: a typo'd container field is an error, not a no-op."""
    deployment: dict[str, Any] = of_kind(render("base"), "Deployment")[0]
    container = dict(deployment["spec"]["template"]["spec"]["containers"][0])
    container["readOnlyRootFileSystem"] = True  # the real field is readOnlyRootFilesystem
    broken = {
        **deployment,
        "spec": {
            **deployment["spec"],
            "template": {
                **deployment["spec"]["template"],
                "spec": {**deployment["spec"]["template"]["spec"], "containers": [container]},
            },
        },
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_runner_autoscaler_example_matches_its_crd() -> None:
    manifests = render("base+operator")
    crd = next(
        m
        for m in of_kind(manifests, "CustomResourceDefinition")
        if m["spec"]["names"]["kind"] == "RunnerAutoscaler"
    )
    (version,) = [v for v in crd["spec"]["versions"] if v["storage"]]
    schema = version["schema"]["openAPIV3Schema"]
    (example,) = of_kind(manifests, "RunnerAutoscaler")
    assert example["apiVersion"] == f"{crd['spec']['group']}/{version['name']}"
    jsonschema.validate(example, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**example, "spec": {**example["spec"], "minReplicas": -1}}, schema)
