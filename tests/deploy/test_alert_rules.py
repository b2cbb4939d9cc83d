"""The recommended alerts: a valid Prometheus rules file that says what to do.

What ``promtool check rules`` checks, done here without promtool (tests/deploy/test_promtool.py
runs promtool itself, and its unit tests of the alerts, where it is installed).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.known_metrics import known_series
from tests.deploy.queries import ROOT, load_rules, metric_names, rule_queries

RULES = load_rules()
ALERTS: list[dict[str, Any]] = [
    rule for group in RULES["groups"] for rule in group["rules"] if "alert" in rule
]
DOC = ROOT / "docs" / "dashboards-and-alerts.md"

# What the issue asks the rules to cover, and the alert that does.
REQUIRED = {
    "schedule-to-start latency high": "StigmerWorkflowTaskScheduleToStartHigh",
    "no pollers on a queue": "StigmerTaskQueueWithoutPollers",
    "backlog growing": "StigmerTaskQueueBacklogGrowing",
    "execution failure ratio high": "StigmerExecutionFailureRatioHigh",
    "API 5xx ratio": "StigmerApiErrorRatioHigh",
    "store errors": "StigmerStoreErrors",
    "bus errors": "StigmerBusErrors",
    "executions stuck PENDING": "StigmerExecutionsStuckPending",
}
_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_TEMPLATE_VARIABLE = re.compile(r"\$labels\.(\w+)")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_file_is_the_plain_groups_format() -> None:
    assert set(RULES) == {"groups"}, "plain Prometheus format, no PrometheusRule envelope"
    names = [group["name"] for group in RULES["groups"]]
    assert len(set(names)) == len(names)
    for group in RULES["groups"]:
        assert set(group) <= {"name", "interval", "limit", "rules"}
        assert group["rules"], group["name"]
        for rule in group["rules"]:
            assert ("alert" in rule) != ("record" in rule), rule
            allowed = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
            assert set(rule) <= allowed, rule


def test_every_required_alert_exists() -> None:
    names = {alert["alert"] for alert in ALERTS}
    missing = {need: name for need, name in REQUIRED.items() if name not in names}
    assert not missing


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_alert_is_complete(alert: dict[str, Any]) -> None:
    assert re.fullmatch(r"Stigmer[A-Z][A-Za-z]+", alert["alert"])
    assert _DURATION.match(str(alert.get("for", ""))), "every alert needs a `for`"
    assert alert["labels"]["severity"] in {"critical", "warning", "info"}
    annotations = alert["annotations"]
    for key in ("summary", "description", "runbook"):
        assert str(annotations.get(key, "")).strip(), f"{alert['alert']} lacks {key}"
    assert annotations["dashboard"] in {
        "stigmer-fleet-overview",
        "stigmer-worker-health",
        "stigmer-api",
    }


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_expression_parses_and_uses_known_metrics(alert: dict[str, Any]) -> None:
    try:
        names = metric_names(str(alert["expr"]))
    except ValueError as exc:
        pytest.fail(f"{alert['alert']}: {exc}")
    assert names
    unknown = names - set(known_series())
    assert not unknown, f"{alert['alert']} uses unknown metrics {sorted(unknown)}"


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_annotations_only_use_labels_the_expression_keeps(alert: dict[str, Any]) -> None:
    """``{{ $labels.x }}`` renders empty when the expression aggregated ``x`` away."""
    expr = str(alert["expr"])
    kept = set(re.findall(r"by \(([^)]*)\)", expr))
    kept_labels = {label.strip() for group in kept for label in group.split(",")}
    if "up == 0" in expr:  # not aggregated: keeps the target's labels
        kept_labels |= {"namespace", "job", "instance"}
    for key in ("summary", "description"):
        used = set(_TEMPLATE_VARIABLE.findall(str(alert["annotations"][key])))
        assert used <= kept_labels, f"{alert['alert']} {key} uses {sorted(used - kept_labels)}"


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_runbook_points_at_a_section_of_the_doc(alert: dict[str, Any]) -> None:
    path, _, anchor = str(alert["annotations"]["runbook"]).partition("#")
    assert path == "docs/dashboards-and-alerts.md"
    headings = [line.lstrip("#") for line in DOC.read_text().splitlines() if line.startswith("#")]
    assert anchor in {_anchor(h) for h in headings}, f"no section for #{anchor} in {path}"
    assert anchor == alert["alert"].lower()


def test_rule_queries_cover_every_rule() -> None:
    assert len(rule_queries(RULES)) == sum(len(g["rules"]) for g in RULES["groups"])
