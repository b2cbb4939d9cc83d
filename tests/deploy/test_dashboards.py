"""The Grafana dashboards load, are importable anywhere, and query only known metrics."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.deploy.known_metrics import known_series
from tests.deploy.queries import (
    DASHBOARD_DIR,
    ROOT,
    dashboard_queries,
    dashboard_variables,
    iter_panels,
    load_dashboards,
    metric_names,
    to_promql,
    variable_expression,
)

EXPECTED = {"fleet-overview.json", "worker-health.json", "api.json"}
DASHBOARDS = load_dashboards()


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_dashboards", ROOT / "scripts" / "gen_dashboards.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _all_values(node: Any, key: str) -> list[Any]:
    """Every value stored under ``key`` anywhere in a JSON tree."""
    found: list[Any] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                found.append(v)
            found.extend(_all_values(v, key))
    elif isinstance(node, list):
        for item in node:
            found.extend(_all_values(item, key))
    return found


def test_the_three_dashboards_are_there() -> None:
    assert set(DASHBOARDS) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dashboard_file_matches_its_generator(name: str) -> None:
    expected = _generator().render(name)
    assert (DASHBOARD_DIR / name).read_text() == expected, (
        f"deploy/grafana/{name} is stale: run python scripts/gen_dashboards.py"
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dashboard_is_importable(name: str) -> None:
    dashboard = DASHBOARDS[name]
    assert dashboard["schemaVersion"] >= 39, "older than Grafana 11's model"
    assert dashboard["id"] is None, "an exported id would clash with the importing Grafana"
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])
    assert dashboard["title"].startswith("Stigmer / ")
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_datasource_is_a_variable_never_a_fixed_uid(name: str) -> None:
    dashboard = DASHBOARDS[name]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    references = [
        ref
        for ref in _all_values(dashboard, "datasource")
        if isinstance(ref, dict) and ref.get("type") != "grafana"
    ]
    assert references, "panels must name their data source"
    for ref in references:
        assert ref == {"type": "prometheus", "uid": "${datasource}"}, ref
    assert "__inputs" not in dashboard


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_namespace_and_job_variables_filter_every_panel_query(name: str) -> None:
    dashboard = DASHBOARDS[name]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    for variable in ("namespace", "job"):
        assert variables[variable]["type"] == "query"
        assert variables[variable]["includeAll"] is True
        # "All" must also match series that lack the label (a setup without Kubernetes).
        assert variables[variable]["allValue"] == ".*"
    for query in dashboard_queries(name, dashboard):
        if "variable" in query.where:
            continue
        assert 'namespace=~"$namespace"' in query.expr, query.where
        assert 'job=~"$job"' in query.expr, query.where


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_panel_has_a_query_and_a_description(name: str) -> None:
    dashboard = DASHBOARDS[name]
    panels = [p for p in iter_panels(dashboard) if p["type"] != "row"]
    assert len(panels) >= 8
    ids = [p["id"] for p in iter_panels(dashboard)]
    assert len(set(ids)) == len(ids), "panel ids must be unique"
    for panel in panels:
        targets = panel.get("targets", [])
        assert targets, f"panel {panel['title']!r} has no query"
        assert all(t.get("expr", "").strip() for t in targets), panel["title"]
        assert len({t["refId"] for t in targets}) == len(targets), panel["title"]
        assert panel.get("description"), f"panel {panel['title']!r} says nothing about itself"
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_expression_parses_and_uses_known_metrics(name: str) -> None:
    dashboard = DASHBOARDS[name]
    variables = dashboard_variables(dashboard)
    known = known_series()
    queries = dashboard_queries(name, dashboard)
    assert queries
    for query in queries:
        try:
            names = metric_names(to_promql(query.expr, variables))
        except ValueError as exc:
            pytest.fail(f"{query.where}: {exc}\n{query.expr}")
        assert names, f"{query.where} selects no metric: {query.expr}"
        unknown = names - set(known)
        assert not unknown, f"{query.where} uses unknown metrics {sorted(unknown)}"


def test_dashboards_cover_what_the_issue_asks_for() -> None:
    def families(name: str) -> set[str]:
        variables = dashboard_variables(DASHBOARDS[name])
        known = known_series()
        return {
            known[metric]
            for query in dashboard_queries(name, DASHBOARDS[name])
            for metric in metric_names(to_promql(query.expr, variables))
        }

    assert families("fleet-overview.json") >= {
        "stigmer_executions_finished_total",
        "stigmer_executions_created_total",
        "stigmer_execution_duration_seconds",
        "stigmer_task_queue_backlog",
        "stigmer_task_queue_backlog_age_seconds",
        "stigmer_executions_pending",
        "up",
    }
    assert families("worker-health.json") >= {
        "temporal_worker_task_slots_available",
        "temporal_worker_task_slots_used",
        "temporal_num_pollers",
        "temporal_workflow_task_queue_poll_succeed_total",
        "temporal_workflow_task_queue_poll_empty_total",
        "temporal_workflow_task_schedule_to_start_latency_seconds",
        "temporal_activity_schedule_to_start_latency_seconds",
        "temporal_workflow_task_execution_failed_total",
        "temporal_sticky_cache_hit_total",
    }
    assert families("api.json") >= {
        "stigmer_http_request_duration_seconds",
        "stigmer_sse_subscribers",
        "stigmer_store_errors_total",
        "stigmer_bus_errors_total",
        "stigmer_status_updates_total",
    }


def test_quantiles_group_by_le() -> None:
    """histogram_quantile over buckets summed without ``le`` is a silent nonsense query."""
    for name, dashboard in DASHBOARDS.items():
        for query in dashboard_queries(name, dashboard):
            if "histogram_quantile" in query.expr:
                assert re.search(r"by \((le\b|[^)]*\ble\b)", query.expr), query.where


def test_grafana_variables_outside_quotes_are_rejected() -> None:
    """The checker itself: a variable used as a bare token would break some selections."""
    variables = frozenset({"job"})
    assert to_promql('rate(x{job=~"$job"}[$__rate_interval])', variables) == (
        'rate(x{job=~"$job"}[5m])'
    )
    with pytest.raises(ValueError, match="outside a quoted matcher"):
        to_promql("sum by ($job) (x)", variables)
    with pytest.raises(ValueError, match="unknown"):
        to_promql('x{job=~"$nope"}', variables)


def test_metric_names_reads_bare_names_and_name_matchers() -> None:
    expr = (
        "histogram_quantile(0.9, sum by (le) (rate(a_seconds_bucket[5m]))) "
        '/ on() group_left {__name__="b_total"} + count(c offset 5m)'
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c"}
    with pytest.raises(ValueError, match="parenthesis"):
        metric_names("sum(rate(x[5m])")


def test_variable_queries_are_read() -> None:
    assert variable_expression('label_values(up{job="a"}, instance)') == 'up{job="a"}'
    assert variable_expression("label_values(namespace)") is None
    assert variable_expression("query_result(topk(3, x))") == "topk(3, x)"
    with pytest.raises(ValueError, match="unrecognised"):
        variable_expression("metrics(stigmer_.*)")


def test_dashboards_are_plain_json_files() -> None:
    for path in Path(DASHBOARD_DIR).glob("*.json"):
        json.loads(path.read_text())  # raises on invalid JSON
        assert path.read_text().endswith("}\n")
