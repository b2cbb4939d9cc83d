"""The files Kustomize components carry are copies of their sources in the repository.

Kustomize loads nothing outside a kustomization's root, so components/monitoring holds copies
of deploy/grafana/*.json and a PrometheusRule built from deploy/prometheus/stigmer-alerts.yaml,
and components/operator a copy of the RunnerAutoscaler CRD of the Helm chart. Refresh them
with `python scripts/sync_kustomize_sources.py`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _sync() -> ModuleType:
    path = ROOT / "scripts" / "sync_kustomize_sources.py"
    spec = importlib.util.spec_from_file_location("sync_kustomize_sources", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SYNC = _sync()
STALE = "stale copy: run python scripts/sync_kustomize_sources.py"


def _require(source: Path) -> None:
    assert source.exists(), f"{source.relative_to(ROOT)} is missing: nothing to compare"


def test_dashboards_are_byte_identical_copies() -> None:
    _require(SYNC.DASHBOARDS)
    sources = {p.name: p.read_bytes() for p in SYNC.DASHBOARDS.glob("*.json")}
    assert sources, "deploy/grafana has no dashboard"
    copies = {p.name: p.read_bytes() for p in (SYNC.MONITORING / "dashboards").glob("*.json")}
    assert copies.keys() == sources.keys(), STALE
    for name, content in sources.items():
        assert copies[name] == content, f"{name}: {STALE}"


def test_dashboards_are_all_generated_into_config_maps() -> None:
    kustomization = yaml.safe_load((SYNC.MONITORING / "kustomization.yaml").read_text())
    generated = {f for g in kustomization["configMapGenerator"] for f in g["files"]}
    copies = {f"dashboards/{p.name}" for p in (SYNC.MONITORING / "dashboards").glob("*.json")}
    assert copies
    assert generated == copies


def test_prometheus_rule_carries_the_alert_file() -> None:
    _require(SYNC.ALERTS)
    source = SYNC.ALERTS.read_text(encoding="utf-8")
    rule_path = SYNC.MONITORING / "prometheusrule.yaml"
    assert rule_path.read_text(encoding="utf-8") == SYNC.prometheus_rule(source), STALE
    rule = yaml.safe_load(rule_path.read_text(encoding="utf-8"))
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"] == yaml.safe_load(source)


def test_runner_autoscaler_crd_is_identical_to_the_charts() -> None:
    _require(SYNC.CRD)
    copy = SYNC.OPERATOR / SYNC.CRD_NAME
    assert copy.read_bytes() == SYNC.CRD.read_bytes(), STALE


def test_prometheus_rule_wraps_rule_text_verbatim() -> None:
    """Pure check of the wrapper: block scalars survive the indentation."""
    alerts = (
        "groups:\n  - name: g\n    rules:\n      - alert: A\n"
        "        expr: |\n          up\n\n          == 0\n"
    )
    rule = yaml.safe_load(SYNC.prometheus_rule(alerts))
    assert rule["spec"] == yaml.safe_load(alerts)
    assert rule["metadata"]["name"] == "stigmer-alerts"
