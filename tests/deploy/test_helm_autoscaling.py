"""Runner autoscaling modes: none, hpa, keda, operator. Whoever owns the replicas, the
runner Deployment renders none of its own; the KEDA and operator objects carry what the
contracts of issues 5 and 6 require."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.deploy.helm_chart import CHART, Manifest, Rendered, ci_values, pod_spec, render

MINIMAL = ci_values("minimal")
CRD_DIR = CHART / "crds"


def _runner(rendered: Rendered) -> Manifest:
    return rendered.component("Deployment", "runner")


def _env(deployment: Manifest) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in pod_spec(deployment)["containers"][0]["env"]}


def test_mode_none_renders_replicas_and_no_autoscaler() -> None:
    rendered = render(MINIMAL, sets=("runner.replicaCount=3",))
    assert _runner(rendered)["spec"]["replicas"] == 3
    for kind in ("HorizontalPodAutoscaler", "ScaledObject", "RunnerAutoscaler"):
        assert not rendered.of_kind(kind)


@pytest.mark.parametrize(
    ("values", "sets", "kind"),
    [
        (MINIMAL, ("runner.autoscaling.mode=hpa",), "HorizontalPodAutoscaler"),
        (ci_values("keda"), (), "ScaledObject"),
        (ci_values("operator"), (), "RunnerAutoscaler"),
        (ci_values("production"), (), "HorizontalPodAutoscaler"),
    ],
    ids=["hpa", "keda", "operator", "production-hpa"],
)
def test_autoscaled_runner_renders_no_replicas(
    values: str, sets: tuple[str, ...], kind: str
) -> None:
    rendered = render(values, sets=sets)
    runner = _runner(rendered)
    assert "replicas" not in runner["spec"]
    (autoscaler,) = rendered.of_kind(kind)
    assert autoscaler["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": runner["metadata"]["name"],
    }
    # Only the runner is autoscaled: the other components keep their replicas.
    assert rendered.component("Deployment", "api")["spec"]["replicas"] >= 1


def test_hpa_scales_on_cpu_with_autoscaling_v2() -> None:
    rendered = render(
        MINIMAL, sets=("runner.autoscaling.mode=hpa", "runner.autoscaling.minReplicas=2")
    )
    (hpa,) = rendered.of_kind("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["minReplicas"] == 2
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70


def test_keda_scaled_object_has_the_temporal_trigger_fields() -> None:
    rendered = render(ci_values("keda"))
    (scaled,) = rendered.of_kind("ScaledObject")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    assert spec["minReplicaCount"] == 1
    assert spec["maxReplicaCount"] == 30
    assert spec["pollingInterval"] == 10
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 600
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "temporal"
    metadata = trigger["metadata"]
    runner_env = _env(_runner(rendered))
    assert (
        metadata["endpoint"]
        == runner_env["TEMPORAL_HOST_PORT"]
        == "temporal-frontend.temporal.svc:7233"
    )
    assert metadata["namespace"] == runner_env["TEMPORAL_NAMESPACE"]
    assert metadata["taskQueue"] == runner_env["TEMPORAL_WORKFLOW_EXECUTION_RUNNER_TASK_QUEUE"]
    assert metadata["queueTypes"] == "workflow,activity"
    assert metadata["targetQueueSize"] == "10"
    assert metadata["activationTargetQueueSize"] == "0"
    assert metadata["minConnectTimeout"] == "5"
    # KEDA reads trigger metadata as strings only.
    assert all(isinstance(value, str) for value in metadata.values())


def test_keda_endpoint_override_and_authentication_ref() -> None:
    rendered = render(
        ci_values("keda"),
        sets=(
            "runner.autoscaling.keda.endpoint=temporal.cloud:7233",
            "runner.autoscaling.keda.authenticationRef=temporal-tls",
        ),
    )
    (trigger,) = rendered.of_kind("ScaledObject")[0]["spec"]["triggers"]
    assert trigger["metadata"]["endpoint"] == "temporal.cloud:7233"
    assert trigger["authenticationRef"] == {"name": "temporal-tls"}


def _crd_schema(path: Path, kind: str) -> dict[str, object]:
    for doc in yaml.safe_load_all(path.read_text()):
        if doc["spec"]["names"]["kind"] == kind:
            (version,) = [v for v in doc["spec"]["versions"] if v["storage"]]
            schema: dict[str, object] = version["schema"]["openAPIV3Schema"]
            return schema
    raise AssertionError(f"no CRD of {kind} in {path}")


def test_operator_mode_renders_the_runner_autoscaler_per_contract() -> None:
    rendered = render(ci_values("operator"))
    (autoscaler,) = rendered.of_kind("RunnerAutoscaler")
    assert autoscaler["apiVersion"] == "autoscaling.stigmer.io/v1alpha1"
    spec = autoscaler["spec"]
    assert spec["temporal"] == {
        "address": "temporal-frontend.temporal.svc:7233",
        "namespace": "default",
        "taskQueue": "workflow_execution_runner",
        "queueTypes": ["workflow", "activity"],
    }
    assert (spec["minReplicas"], spec["maxReplicas"]) == (0, 20)
    assert spec["scaleDown"] == {"stabilizationWindowSeconds": 300, "maxStepReplicas": 1}
    assert spec["scaleUp"] == {"stabilizationWindowSeconds": 0, "maxStepReplicas": 4}
    assert spec["pollingIntervalSeconds"] == 10
    assert spec["targetBacklogPerReplica"] == 10
    assert spec["activationBacklog"] == 0
    # Validated against the CRD's own schema (kubernetes-validate knows no custom kinds).
    crd = CRD_DIR / "runnerautoscalers.autoscaling.stigmer.io.yaml"
    jsonschema.validate(autoscaler, _crd_schema(crd, "RunnerAutoscaler"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {**autoscaler, "spec": {**spec, "minReplicas": -1}},
            _crd_schema(crd, "RunnerAutoscaler"),
        )


def test_crd_matches_the_contract() -> None:
    (crd,) = yaml.safe_load_all(
        (CRD_DIR / "runnerautoscalers.autoscaling.stigmer.io.yaml").read_text()
    )
    assert crd["metadata"]["name"] == "runnerautoscalers.autoscaling.stigmer.io"
    assert crd["spec"]["group"] == "autoscaling.stigmer.io"
    assert crd["spec"]["scope"] == "Namespaced"
    names = crd["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"]) == (
        "RunnerAutoscaler",
        "runnerautoscalers",
        ["ras"],
    )
    (version,) = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert "status" in version["subresources"]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert {
        "observedBacklog",
        "backlogAgeSeconds",
        "inFlight",
        "desiredReplicas",
        "currentReplicas",
        "lastScaleTime",
        "lastScaleReason",
        "conditions",
    } <= status.keys()


def test_operator_deployment_rbac_is_least_privilege() -> None:
    rendered = render(ci_values("operator"))
    operator = rendered.component("Deployment", "operator")
    pod = pod_spec(operator)
    assert pod["automountServiceAccountToken"] is True  # it talks to the Kubernetes API
    env = _env(operator)
    assert env["STIGMER_OPERATOR_NAMESPACES"] == "stigmer"
    assert env["STIGMER_OPERATOR_PEERING"] == "stigmer-operator"
    assert env["STIGMER_OBSERVABILITY_PORT"] == "9464"
    ports = {p["name"]: p["containerPort"] for p in pod["containers"][0]["ports"]}
    assert ports == {"metrics": 9464, "health": 8080}

    (role,) = rendered.of_kind("Role")
    assert role["metadata"]["namespace"] == "stigmer"
    grants = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    # Exactly the table in docs/autoscaling.md ("RBAC (least privilege)"), nothing more.
    assert grants == {
        ("autoscaling.stigmer.io", "runnerautoscalers", verb)
        for verb in ("get", "list", "watch", "patch")
    } | {
        ("autoscaling.stigmer.io", "runnerautoscalers/status", "get"),
        ("autoscaling.stigmer.io", "runnerautoscalers/status", "patch"),
        ("apps", "deployments", "get"),
        ("apps", "deployments/scale", "get"),
        ("apps", "deployments/scale", "patch"),
        ("", "events", "create"),
    } | {("kopf.dev", "kopfpeerings", verb) for verb in ("get", "list", "watch", "patch")}
    # Serving named namespaces needs nothing cluster-wide (kopf's scanning is off).
    assert rendered.of_kind("ClusterRole") == []
    (binding,) = rendered.of_kind("RoleBinding")
    assert binding["subjects"][0]["name"] == pod["serviceAccountName"]
    (peering,) = rendered.of_kind("KopfPeering")
    assert peering["metadata"]["name"] == "stigmer-operator"
    jsonschema.validate(
        peering, _crd_schema(CRD_DIR / "kopf-peerings.kopf.dev.yaml", "KopfPeering")
    )


def test_operator_cluster_wide_uses_one_cluster_role() -> None:
    rendered = render(ci_values("operator"), sets=("operator.clusterWide=true",))
    assert not rendered.of_kind("Role")
    (cluster_role,) = rendered.of_kind("ClusterRole")
    resources = {r for rule in cluster_role["rules"] for r in rule["resources"]}
    assert {"runnerautoscalers", "deployments/scale", "clusterkopfpeerings"} <= resources
    assert _env(rendered.component("Deployment", "operator"))["STIGMER_OPERATOR_NAMESPACES"] == ""
    assert rendered.of_kind("ClusterKopfPeering")


def test_operator_serving_several_namespaces_gets_a_role_in_each() -> None:
    rendered = render(ci_values("operator"), sets=("operator.watchNamespaces={stigmer,team-a}",))
    assert sorted(r["metadata"]["namespace"] for r in rendered.of_kind("Role")) == [
        "stigmer",
        "team-a",
    ]
    assert (
        _env(rendered.component("Deployment", "operator"))["STIGMER_OPERATOR_NAMESPACES"]
        == "stigmer,team-a"
    )


def test_operator_not_installed_keeps_the_resource() -> None:
    rendered = render(ci_values("operator"), sets=("operator.install=false",))
    assert rendered.of_kind("RunnerAutoscaler")
    assert not [d for d in rendered.of_kind("Deployment") if "operator" in d["metadata"]["name"]]
    assert not rendered.of_kind("Role")


def test_values_schema_is_valid_draft_07() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load((CHART / "values.yaml").read_text()))
