"""Structure of every object each Kustomize flavour renders (pure: no cluster).

Flavours: overlays/dev, overlays/prod, the base alone, and the base with each component.
"""

from __future__ import annotations

import importlib
import tomllib

import pytest
from pydantic_settings import BaseSettings

from stigmer_api.settings import ApiSettings
from stigmer_orchestrator.settings import OrchestratorSettings
from stigmer_runner.settings import RunnerSettings
from tests.deploy.kustomize_render import (
    FLAVOURS,
    ROOT,
    Manifest,
    config_map_data,
    containers,
    named,
    of_kind,
    render,
)

STIGMER_IMAGES = "ghcr.io/stigmer/"
# The processes whose settings classes name the environment they read.
SETTINGS: dict[str, type[BaseSettings]] = {
    "stigmer-api": ApiSettings,
    "stigmer-orchestrator": OrchestratorSettings,
    "stigmer-runner": RunnerSettings,
}
# The health endpoints (issue 4): liveness, readiness.
PROBES = {
    "stigmer-api": ("/healthz", "/readyz"),
    "stigmer-orchestrator": ("/healthz", "/readyz"),
    "stigmer-runner": ("/healthz", "/readyz"),
    "stigmer-operator": ("/healthz", "/healthz"),
}
AUTOSCALERS = ("ScaledObject", "RunnerAutoscaler")
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _image_repo(image: str) -> str:
    return image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image


def _image_tag(image: str) -> str | None:
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None


def _deployments(flavour: str) -> list[Manifest]:
    deployments = of_kind(render(flavour), "Deployment")
    assert deployments, f"{flavour} renders no Deployment"
    return deployments


def _env_names(manifests: tuple[Manifest, ...], container: Manifest) -> set[str]:
    names = {env["name"] for env in container.get("env", [])}
    for source in container.get("envFrom", []):
        assert "prefix" not in source, "a prefix would hide the names from this check"
        if ref := source.get("configMapRef"):
            names |= set(config_map_data(manifests, ref["name"]))
        if ref := source.get("secretRef"):
            secret = named(manifests, "Secret", ref["name"])
            assert secret is not None, f"envFrom Secret {ref['name']} is not rendered"
            names |= set(secret.get("data", {}))
    return names


def _allowed(settings: type[BaseSettings]) -> set[str]:
    return {field.upper() for field in settings.model_fields}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_every_container_is_hardened_probed_and_bounded(flavour: str) -> None:
    for deployment in _deployments(flavour):
        pod = deployment["spec"]["template"]["spec"]
        pod_security = pod.get("securityContext", {})
        assert pod_security.get("runAsNonRoot") is True, deployment["metadata"]["name"]
        assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault"
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        for container in containers(deployment):
            where = f"{flavour}: {deployment['metadata']['name']}/{container['name']}"
            security = container.get("securityContext", {})
            assert security.get("runAsNonRoot") is True, where
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("readOnlyRootFilesystem") is True, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            assert security.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
            assert "livenessProbe" in container, where
            assert "readinessProbe" in container, where
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert set(resources.get(bound, {})) >= {"cpu", "memory"}, f"{where} {bound}"
            tag = _image_tag(container["image"])
            assert tag is not None, f"{where}: image {container['image']} has no tag"
            assert tag != "latest", f"{where}: image {container['image']} is not pinned"
            if container["image"].startswith(STIGMER_IMAGES):
                # Releases pin the project's version; only the dev overlay runs `dev`.
                assert tag == ("dev" if flavour == "overlays/dev" else VERSION), where
                assert security.get("runAsUser") == 10001, where
                tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
                assert tmp, f"{where}: no writable /tmp"
                assert "emptyDir" in volumes[tmp[0]["name"]], where


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_probes_hit_the_health_endpoints_on_declared_ports(flavour: str) -> None:
    for deployment in _deployments(flavour):
        for container in containers(deployment):
            ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
            for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
                probe = container.get(kind)
                if probe is None:
                    continue
                check = probe.get("httpGet") or probe.get("tcpSocket")
                if check is not None and isinstance(check["port"], str):
                    assert check["port"] in ports, f"{container['name']} {kind}: unknown port"
            repo = _image_repo(container["image"])
            if repo.startswith(STIGMER_IMAGES):
                component = repo.removeprefix(STIGMER_IMAGES)
                live, ready = PROBES[component]
                assert container["livenessProbe"]["httpGet"]["path"] == live
                assert container["readinessProbe"]["httpGet"]["path"] == ready


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_env_names_are_settings_fields(flavour: str) -> None:
    """A renamed setting breaks this test: every env name is a field of the settings class."""
    manifests = render(flavour)
    checked = 0
    for deployment in _deployments(flavour):
        for container in containers(deployment):
            component = _image_repo(container["image"]).removeprefix(STIGMER_IMAGES)
            if component not in SETTINGS:
                continue
            allowed = _allowed(SETTINGS[component])
            for name in _env_names(manifests, container):
                assert name in allowed or name.startswith("OTEL_"), (
                    f"{flavour}: {component} gets {name}, which "
                    f"{SETTINGS[component].__name__} does not read"
                )
                checked += 1
    assert checked > 0


def test_operator_env_names_are_settings_fields() -> None:
    settings_module = importlib.import_module("stigmer_operator.settings")
    classes = [
        value
        for value in vars(settings_module).values()
        if isinstance(value, type) and issubclass(value, BaseSettings)
    ]
    allowed = set().union(*(_allowed(cls) for cls in classes))
    manifests = render("base+operator")
    operator = named(manifests, "Deployment", "stigmer-operator")
    assert operator is not None
    for container in containers(operator):
        for name in _env_names(manifests, container):
            assert name in allowed or name.startswith("OTEL_"), name


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_references_resolve(flavour: str) -> None:
    """ConfigMaps, service accounts, selectors and ports point at rendered things; Secrets
    too, except `stigmer-secrets`, which production installs bring."""
    manifests = render(flavour)
    secrets = {m["metadata"]["name"] for m in of_kind(manifests, "Secret")}
    accounts = {m["metadata"]["name"] for m in of_kind(manifests, "ServiceAccount")}
    pods = [d["spec"]["template"] for d in _deployments(flavour)]
    for deployment in _deployments(flavour):
        pod = deployment["spec"]["template"]["spec"]
        assert pod.get("serviceAccountName", "default") in accounts | {"default"}
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
        for container in containers(deployment):
            for source in container.get("envFrom", []):
                if ref := source.get("configMapRef"):
                    config_map_data(manifests, ref["name"])
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] not in secrets:
                    assert ref["name"] == "stigmer-secrets", f"{flavour}: Secret {ref['name']}"
    for kind in ("Service", "PodDisruptionBudget"):
        for obj in of_kind(manifests, kind):
            selector = obj["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            matching = [p for p in pods if selector.items() <= p["metadata"]["labels"].items()]
            assert len(matching) == 1, f"{flavour}: {kind} {obj['metadata']['name']}"
            if kind == "Service":
                ports = {
                    port["name"]
                    for c in matching[0]["spec"]["containers"]
                    for port in c.get("ports", [])
                }
                for port in obj["spec"]["ports"]:
                    assert port["targetPort"] in ports, f"{obj['metadata']['name']} {port}"


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_objects_carry_the_recommended_labels(flavour: str) -> None:
    for obj in render(flavour):
        labels = obj["metadata"].get("labels", {})
        where = f"{flavour}: {obj['kind']} {obj['metadata']['name']}"
        if obj["kind"] == "Namespace":
            continue
        assert labels.get("app.kubernetes.io/part-of") == "stigmer", where
        assert labels.get("app.kubernetes.io/managed-by") == "kustomize", where
        assert "app.kubernetes.io/name" in labels, where


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_autoscaled_runner_has_no_replicas(flavour: str) -> None:
    manifests = render(flavour)
    runner = named(manifests, "Deployment", "stigmer-runner")
    assert runner is not None
    if any(of_kind(manifests, kind) for kind in AUTOSCALERS):
        assert "replicas" not in runner["spec"], f"{flavour}: the autoscaler owns replicas"
    else:
        assert runner["spec"]["replicas"] >= 1


@pytest.mark.parametrize("flavour", [f for f in FLAVOURS if "keda" in f or "prod" in f])
def test_keda_scaled_object(flavour: str) -> None:
    manifests = render(flavour)
    (scaled,) = of_kind(manifests, "ScaledObject")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == "stigmer-runner"
    assert named(manifests, "Deployment", spec["scaleTargetRef"]["name"]) is not None
    # KEDA's premature scale-to-zero: keep a runner and scale in slowly.
    assert spec["minReplicaCount"] >= 1
    assert spec["maxReplicaCount"] >= spec["minReplicaCount"]
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 300
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "temporal"
    metadata = trigger["metadata"]
    assert metadata["queueTypes"] == "workflow,activity"
    assert int(metadata["targetQueueSize"]) >= 1
    assert int(metadata["activationTargetQueueSize"]) >= 0
    common = config_map_data(manifests, "stigmer-common-config")
    # The scaler reads the queue the runners poll.
    assert metadata["endpoint"] == common["TEMPORAL_HOST_PORT"]
    assert metadata["namespace"] == common["TEMPORAL_NAMESPACE"]
    assert metadata["taskQueue"] == common["TEMPORAL_WORKFLOW_EXECUTION_RUNNER_TASK_QUEUE"]


def test_operator_component() -> None:
    manifests = render("base+operator")
    (autoscaler,) = of_kind(manifests, "RunnerAutoscaler")
    spec = autoscaler["spec"]
    assert named(manifests, "Deployment", spec["scaleTargetRef"]["name"]) is not None
    common = config_map_data(manifests, "stigmer-common-config")
    assert spec["temporal"]["address"] == common["TEMPORAL_HOST_PORT"]
    assert spec["temporal"]["namespace"] == common["TEMPORAL_NAMESPACE"]
    assert spec["temporal"]["taskQueue"] == common["TEMPORAL_WORKFLOW_EXECUTION_RUNNER_TASK_QUEUE"]
    operator = named(manifests, "Deployment", "stigmer-operator")
    assert operator is not None
    assert operator["spec"]["replicas"] >= 2, "kopf peering needs a standby"
    assert not of_kind(manifests, "ClusterRole"), "the operator's rights stay in its namespace"
    assert not of_kind(manifests, "ClusterRoleBinding")
    (role,) = of_kind(manifests, "Role")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"], rule
        assert "*" not in rule["resources"], rule
        # It creates Events and nothing else; it deletes and replaces nothing.
        if rule["resources"] != ["events"]:
            assert not {"delete", "create", "update"} & set(rule["verbs"]), rule
    granted = {
        (g, r): set(rule["verbs"])
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert granted[("apps", "deployments/scale")] == {"get", "patch"}
    assert granted[("autoscaling.stigmer.io", "runnerautoscalers/status")] >= {"patch"}
    (binding,) = of_kind(manifests, "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    (subject,) = binding["subjects"]
    assert subject["name"] == operator["spec"]["template"]["spec"]["serviceAccountName"]
    assert subject["namespace"] == operator["metadata"]["namespace"]


def test_dev_overlay_is_self_contained() -> None:
    manifests = render("overlays/dev")
    services = {m["metadata"]["name"] for m in of_kind(manifests, "Service")}
    common = config_map_data(manifests, "stigmer-common-config")
    assert common["TEMPORAL_HOST_PORT"].split(":")[0] in services
    (secret,) = of_kind(manifests, "Secret")
    assert secret["metadata"]["name"].startswith("stigmer-secrets")
    for deployment in of_kind(manifests, "Deployment"):
        image = containers(deployment)[0]["image"]
        if image.startswith(STIGMER_IMAGES):
            assert _image_tag(image) == "dev", image
        else:
            annotations = deployment["metadata"].get("annotations", {})
            assert annotations.get("stigmer.io/not-for-production") == "true", image


def test_prod_overlay_is_highly_available() -> None:
    manifests = render("overlays/prod")
    assert not of_kind(manifests, "Secret"), "production brings its own stigmer-secrets"
    replicas = {"stigmer-api": 3, "stigmer-orchestrator": 2}
    for deployment in of_kind(manifests, "Deployment"):
        name = deployment["metadata"]["name"]
        assert name in {*replicas, "stigmer-runner"}, f"unexpected {name} in production"
        assert deployment["spec"].get("replicas") == replicas.get(name), name
        assert deployment["spec"]["template"]["spec"]["topologySpreadConstraints"], name
        for container in containers(deployment):
            assert _image_tag(container["image"]) == VERSION, container["image"]
    (scaled,) = of_kind(manifests, "ScaledObject")
    assert scaled["spec"]["minReplicaCount"] == 3
    for budget in of_kind(manifests, "PodDisruptionBudget"):
        assert "maxUnavailable" not in budget["spec"]
        assert budget["spec"]["minAvailable"] >= 1
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert of_kind(manifests, kind), f"prod has no {kind}"
    dashboards = [
        m
        for m in of_kind(manifests, "ConfigMap")
        if m["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert dashboards
