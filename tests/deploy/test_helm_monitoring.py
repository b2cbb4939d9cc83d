"""Monitoring objects (ServiceMonitors, PrometheusRule, Grafana dashboards), the Ingress and
the NetworkPolicies of the chart."""

from __future__ import annotations

import json

import yaml

from tests.deploy.helm_chart import CHART, ci_values, render

PRODUCTION = ci_values("production")


def test_service_monitors_carry_the_release_label_and_match_service_ports() -> None:
    rendered = render(ci_values("operator"), sets=("monitoring.serviceMonitor.release=prom",))
    monitors = rendered.of_kind("ServiceMonitor")
    components = {m["metadata"]["labels"]["app.kubernetes.io/component"] for m in monitors}
    assert components == {"api", "orchestrator", "runner", "operator"}
    services = rendered.of_kind("Service")
    for monitor in monitors:
        assert monitor["metadata"]["labels"]["release"] == "prom"
        selector = monitor["spec"]["selector"]["matchLabels"]
        (service,) = [s for s in services if selector.items() <= s["metadata"]["labels"].items()]
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    # `job` is the Service name: stg-stigmer-runner, as the dashboards' job variable expects.
    assert {s["metadata"]["name"] for s in services} >= {"stg-stigmer-api", "stg-stigmer-runner"}


def test_prometheus_rule_holds_the_recommended_alerts_verbatim() -> None:
    rendered = render(PRODUCTION)
    (rule,) = rendered.of_kind("PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    expected = yaml.safe_load((CHART / "files" / "stigmer-alerts.yaml").read_text())
    assert rule["spec"]["groups"] == expected["groups"]
    alerts = [r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert alerts
    assert all("{{" not in r["alert"] for r in alerts)
    # Prometheus templates survive Helm untouched.
    assert any("{{ $labels." in json.dumps(r["annotations"]) for r in alerts)


def test_grafana_dashboards_are_labelled_config_maps() -> None:
    rendered = render(PRODUCTION)
    maps = [
        c
        for c in rendered.of_kind("ConfigMap")
        if c["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    files = sorted(p.name for p in (CHART / "files" / "dashboards").glob("*.json"))
    assert sorted(name for c in maps for name in c["data"]) == files
    for config_map in maps:
        assert config_map["metadata"]["namespace"] == "monitoring"
        assert config_map["metadata"]["annotations"]["grafana_folder"] == "Stigmer"
        for text in config_map["data"].values():
            assert json.loads(text)["uid"]


def test_monitoring_is_off_by_default() -> None:
    rendered = render(ci_values("minimal"))
    for kind in ("ServiceMonitor", "PrometheusRule", "NetworkPolicy", "Ingress"):
        assert not rendered.of_kind(kind)


def test_ingress_routes_to_the_api_service() -> None:
    rendered = render(PRODUCTION)
    (ingress,) = rendered.of_kind("Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "stg-stigmer-api", "port": {"name": "http"}}
    assert ingress["spec"]["tls"][0]["secretName"] == "stigmer-tls"


def test_network_policies_allow_only_the_needed_flows() -> None:
    rendered = render(PRODUCTION)
    policies = {
        p["metadata"]["labels"]["app.kubernetes.io/component"]: p
        for p in rendered.of_kind("NetworkPolicy")
    }
    assert set(policies) == {"api", "orchestrator", "runner"}
    for policy in policies.values():
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    api_ingress = policies["api"]["spec"]["ingress"]
    (rule,) = api_ingress
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    } in rule["from"]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "stg"}}} in rule["from"]
    for worker in ("orchestrator", "runner"):
        (ingress,) = policies[worker]["spec"]["ingress"]
        assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]
        egress = policies[worker]["spec"]["egress"]
        to_api = [e for e in egress if e.get("ports") == [{"port": 8234, "protocol": "TCP"}]]
        assert to_api
        assert (
            to_api[0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
        )
        deps = [e for e in egress if {"port": 27017, "protocol": "TCP"} in e.get("ports", [])]
        assert deps
        assert deps[0]["to"] == [{"ipBlock": {"cidr": "10.0.0.0/8"}}]
    # Only the runner may reach arbitrary hosts (the HTTP calls of workflows).
    assert {} in policies["runner"]["spec"]["egress"]
    assert {} not in policies["orchestrator"]["spec"]["egress"]
    assert {} not in policies["api"]["spec"]["egress"]
