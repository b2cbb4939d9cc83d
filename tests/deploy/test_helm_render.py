"""The chart lints and renders for every ci/ values file, and what it renders is sound:
probes, resources and a locked-down security context on every container, env names that are
real settings, Services that reach their pods."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from stigmer_api.settings import ApiSettings
from stigmer_core.settings import ApiClientSettings
from stigmer_operator.settings import OperatorSettings
from stigmer_orchestrator.settings import OrchestratorSettings
from stigmer_runner.settings import RunnerSettings
from tests.deploy.helm_chart import (
    CHART,
    CI_VALUES,
    KUBE_VERSION,
    Manifest,
    Rendered,
    pod_spec,
    render,
    run_helm,
)

FLAVOURS = [
    pytest.param(str(path), id=path.name.removesuffix("-values.yaml")) for path in CI_VALUES
]
# Settings classes whose fields are the env names a component may receive.
SETTINGS: dict[str, type[BaseSettings]] = {
    "api": ApiSettings,
    "orchestrator": OrchestratorSettings,
    "runner": RunnerSettings,
    "operator": OperatorSettings,
    "test": ApiClientSettings,
}
STIGMER_COMPONENTS = set(SETTINGS)


def _settings_names(component: str) -> set[str]:
    return {name.upper() for name in SETTINGS[component].model_fields}


def _workloads(rendered: Rendered) -> list[Manifest]:
    return rendered.of_kind("Deployment") + rendered.of_kind("Pod")


def _component(obj: Manifest) -> str:
    label: str = obj["metadata"]["labels"]["app.kubernetes.io/component"]
    return label


@pytest.mark.parametrize("values", FLAVOURS)
def test_lint_strict(values: str) -> None:
    result = run_helm("lint", "--strict", "--kube-version", KUBE_VERSION, "-f", values, str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("values", FLAVOURS)
def test_every_container_has_probes_resources_and_a_locked_down_security_context(
    values: str,
) -> None:
    rendered = render(values)
    workloads = _workloads(rendered)
    assert rendered.of_kind("Deployment"), "nothing rendered"
    for workload in workloads:
        spec = pod_spec(workload)
        pod_sc = spec.get("securityContext", {})
        where = f"{workload['kind']} {workload['metadata']['name']}"
        assert pod_sc.get("runAsNonRoot") is True, where
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", where
            assert container["resources"]["requests"].keys() >= {"cpu", "memory"}, where
            assert "memory" in container["resources"]["limits"], where
            tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert tmp, f"{where}: no writable /tmp"
            assert "emptyDir" in volumes[tmp[0]["name"]], f"{where}: /tmp is not an emptyDir"
            if workload["kind"] == "Deployment":  # a helm test Pod runs to completion
                assert container["livenessProbe"], where
                assert container["readinessProbe"], where
            if _component(workload) in STIGMER_COMPONENTS:
                assert sc["runAsUser"] == 10001, where


@pytest.mark.parametrize("values", FLAVOURS)
def test_probes_use_the_health_endpoints_on_declared_ports(values: str) -> None:
    for deployment in render(values).of_kind("Deployment"):
        if _component(deployment) not in STIGMER_COMPONENTS:
            continue
        container = pod_spec(deployment)["containers"][0]
        ports = {port["name"] for port in container["ports"]}
        liveness = container["livenessProbe"]["httpGet"]
        readiness = container["readinessProbe"]["httpGet"]
        assert liveness["path"] == "/healthz"
        assert readiness["path"] == (
            "/healthz" if _component(deployment) == "operator" else "/readyz"
        )
        assert {liveness["port"], readiness["port"]} <= ports


@pytest.mark.parametrize("values", FLAVOURS)
def test_env_names_are_settings_fields(values: str) -> None:
    checked = 0
    for workload in _workloads(render(values)):
        component = _component(workload)
        if component not in STIGMER_COMPONENTS:
            continue  # third-party dev dependencies
        fields = _settings_names(component)
        for container in pod_spec(workload)["containers"]:
            for env in container.get("env", []):
                name = env["name"]
                checked += 1
                if name in fields or name.startswith("OTEL_"):
                    continue
                raise AssertionError(f"{component}: {name} is not a field of its settings class")
    assert checked > 20


def test_a_renamed_setting_would_fail_the_env_check() -> None:
    """The env check is not vacuous: the chart's names are exactly fields."""
    names = {
        env["name"]
        for env in pod_spec(
            render(str(CHART / "ci" / "minimal-values.yaml")).component("Deployment", "api")
        )["containers"][0]["env"]
    }
    assert {"MONGODB_URI", "REDIS_URL", "TEMPORAL_HOST_PORT", "STIGMER_API_TOKEN"} <= names
    assert names <= _settings_names("api")


@pytest.mark.parametrize("values", FLAVOURS)
def test_services_select_pods_and_target_declared_ports(values: str) -> None:
    rendered = render(values)
    deployments = rendered.of_kind("Deployment")
    for service in rendered.of_kind("Service"):
        selector = service["spec"]["selector"]
        matches = [
            d
            for d in deployments
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matches) == 1, service["metadata"]["name"]
        ports = {p["name"] for p in pod_spec(matches[0])["containers"][0]["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, service["metadata"]["name"]


@pytest.mark.parametrize("values", FLAVOURS)
def test_every_stigmer_deployment_has_a_pdb_service_account_and_labels(values: str) -> None:
    rendered = render(values)
    pdbs = rendered.of_kind("PodDisruptionBudget")
    accounts = {sa["metadata"]["name"] for sa in rendered.of_kind("ServiceAccount")}
    for deployment in rendered.of_kind("Deployment"):
        labels = deployment["metadata"]["labels"]
        assert {
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/component",
            "app.kubernetes.io/managed-by",
            "helm.sh/chart",
        } <= labels.keys()
        if _component(deployment) not in STIGMER_COMPONENTS:
            continue
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert any(p["spec"]["selector"]["matchLabels"] == selector for p in pdbs)
        assert pod_spec(deployment)["serviceAccountName"] in accounts


def test_kind_values_use_images_loaded_into_kind_and_dev_dependencies() -> None:
    rendered = render(str(CHART / "ci" / "kind-values.yaml"))
    for component in ("api", "orchestrator", "runner"):
        container = pod_spec(rendered.component("Deployment", component))["containers"][0]
        assert container["image"] == f"ghcr.io/stigmer/stigmer-{component}:ci"
        assert container["imagePullPolicy"] == "Never"
    temporal = pod_spec(rendered.component("Deployment", "dev-temporal"))["containers"][0]
    assert temporal["image"].startswith("temporalio/admin-tools")
    assert [*temporal["command"], *temporal["args"]][:5] == [
        "temporal",
        "server",
        "start-dev",
        "--ip",
        "0.0.0.0",
    ]
    api_env = {
        e["name"]: e
        for e in pod_spec(rendered.component("Deployment", "api"))["containers"][0]["env"]
    }
    assert api_env["TEMPORAL_HOST_PORT"]["value"] == "stg-stigmer-temporal:7233"
    assert api_env["MONGODB_URI"]["value"] == "mongodb://stg-stigmer-mongodb:27017/"
    assert {_component(d) for d in rendered.of_kind("Deployment")} >= {
        "dev-mongodb",
        "dev-redis",
        "dev-temporal",
    }
    for deployment in rendered.of_kind("Deployment"):
        if _component(deployment).startswith("dev-"):
            assert deployment["metadata"]["annotations"]["stigmer.io/not-for-production"] == "true"


def test_production_values_take_secrets_only_from_existing_secrets() -> None:
    rendered = render(str(CHART / "ci" / "production-values.yaml"))
    assert not rendered.of_kind("Secret"), "production must not render Secrets"
    api = pod_spec(rendered.component("Deployment", "api"))
    env = {e["name"]: e for e in api["containers"][0]["env"]}
    for name, secret in [
        ("MONGODB_URI", "stigmer-mongodb"),
        ("REDIS_URL", "stigmer-redis"),
        ("STIGMER_API_TOKEN", "stigmer-auth"),
        ("STIGMER_RUNNER_TOKEN", "stigmer-auth"),
    ]:
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == secret
        assert "value" not in env[name]
    assert env["STIGMER_PAYLOAD_KEYS_FILE"]["value"] == "/etc/stigmer/payload-keys/keys"
    assert any(
        v.get("secret", {}).get("secretName") == "stigmer-payload-keys" for v in api["volumes"]
    )
    image = api["containers"][0]["image"]
    assert image == "ghcr.io/stigmer/stigmer-api@sha256:" + "0" * 64


def test_global_temporal_with_component_override() -> None:
    rendered = render(
        str(CHART / "ci" / "minimal-values.yaml"),
        sets=("runner.temporal.runnerTaskQueue=gpu_runners", "global.temporal.namespace=prod"),
    )

    def env(component: str) -> dict[str, str]:
        container = pod_spec(rendered.component("Deployment", component))["containers"][0]
        return {e["name"]: e.get("value", "") for e in container["env"]}

    assert env("runner")["TEMPORAL_WORKFLOW_EXECUTION_RUNNER_TASK_QUEUE"] == "gpu_runners"
    assert (
        env("api")["TEMPORAL_WORKFLOW_EXECUTION_RUNNER_TASK_QUEUE"] == "workflow_execution_runner"
    )
    assert env("api")["TEMPORAL_NAMESPACE"] == env("runner")["TEMPORAL_NAMESPACE"] == "prod"
    assert env("runner")["STIGMER_API_URL"] == "http://stg-stigmer-api.stigmer.svc:8234"


def test_helm_test_hook_checks_readiness_and_runs_a_workflow() -> None:
    rendered = render(str(CHART / "ci" / "minimal-values.yaml"))
    pod = rendered.of_kind("Pod")[0]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    config = rendered.named("ConfigMap", "stg-stigmer-test")
    script = config["data"]["helm-test.py"]
    assert script == (CHART / "files" / "helm-test.py").read_text().rstrip("\n")
    assert "/readyz" in script
    assert "/v1/executions" in script
    assert "COMPLETED" in script
    compile(script, "helm-test.py", "exec")


def test_chart_files_are_the_synced_copies_of_deploy_sources() -> None:
    """files/ holds copies of deploy/prometheus and deploy/grafana (a chart cannot read
    outside its folder): the copies must match them."""
    root = CHART.parents[2]
    pairs = [(root / "deploy/prometheus/stigmer-alerts.yaml", CHART / "files/stigmer-alerts.yaml")]
    pairs += [
        (path, CHART / "files/dashboards" / path.name)
        for path in sorted((root / "deploy/grafana").glob("*.json"))
    ]
    assert len(pairs) > 1, "deploy/grafana has no dashboards"
    for source, copy in pairs:
        assert copy.read_bytes() == source.read_bytes(), f"{copy} is stale: cp {source} {copy}"


def test_values_yaml_has_no_secret_values() -> None:
    values = (CHART / "values.yaml").read_text()
    for line in values.splitlines():
        if any(word in line for word in ("mongodbUri:", "redisUrl:", "apiToken:", "runnerToken:")):
            assert line.strip().endswith('""'), line
    assert Path(CHART / "values.schema.json").exists()
