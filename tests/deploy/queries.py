"""Read the PromQL out of the Grafana dashboards and the Prometheus rules file.

Pure helpers shared by the static checks (tests/deploy/) and the live check
(tests/e2e/test_dashboard_metrics.py): where the queries are, how a Grafana query becomes
plain PromQL, and which metric names an expression selects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "deploy" / "grafana"
RULES_FILE = ROOT / "deploy" / "prometheus" / "stigmer-alerts.yaml"

# Grafana's interval variables, replaced by a duration (or a number) of the same kind so that
# the expression parses; the value does not matter for the checks.
_INTERVALS = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__interval_ms": "60000",
}
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(.*),)?\s*(\w+)\s*\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.DOTALL)


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it was found (for failure messages)."""

    where: str
    expr: str


def load_dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard under deploy/grafana/, by file name."""
    return {
        path.name: json.loads(path.read_text()) for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def load_rules() -> dict[str, Any]:
    document = yaml.safe_load(RULES_FILE.read_text())
    assert isinstance(document, dict), f"{RULES_FILE} is not a mapping"
    return document


def iter_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries(name: str, dashboard: dict[str, Any]) -> list[Query]:
    """The panel targets' expressions and the Prometheus template variables' queries."""
    queries = [
        Query(f"{name} panel {panel.get('title')!r} target {target.get('refId')}", target["expr"])
        for panel in iter_panels(dashboard)
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        expr = variable_expression(text)
        if expr is not None:
            queries.append(Query(f"{name} variable ${variable['name']}", expr))
    return queries


def variable_expression(text: str) -> str | None:
    """The PromQL inside a Grafana Prometheus variable query, None for ``label_values(l)``."""
    if match := _LABEL_VALUES.match(text):
        return match.group(1)
    if match := _QUERY_RESULT.match(text):
        return match.group(1)
    raise ValueError(f"unrecognised Grafana variable query: {text!r}")


def rule_queries(rules: dict[str, Any]) -> list[Query]:
    return [
        Query(f"rule {rule.get('alert') or rule.get('record')}", str(rule["expr"]))
        for group in rules.get("groups", [])
        for rule in group.get("rules", [])
    ]


def all_queries() -> list[Query]:
    """Every expression of every dashboard and of the rules file."""
    queries = [
        query
        for name, dashboard in load_dashboards().items()
        for query in dashboard_queries(name, dashboard)
    ]
    return queries + rule_queries(load_rules())


def to_promql(expr: str, variables: frozenset[str] = frozenset()) -> str:
    """Grafana's variables replaced: interval ones by a duration, others only inside strings.

    A dashboard variable (``$namespace``) may appear only inside a label matcher's quotes,
    where any text is valid PromQL; anywhere else it would be a query that works for one value
    and breaks for another, so it is an error here.
    """
    out: list[str] = []
    position = 0
    for match in _VARIABLE.finditer(expr):
        name = match.group(1) or match.group(2)
        out.append(expr[position : match.start()])
        position = match.end()
        if name in _INTERVALS:
            out.append(_INTERVALS[name])
        elif name in variables and _inside_string(expr, match.start()):
            out.append(match.group(0))
        else:
            raise ValueError(f"variable ${name} is unknown or outside a quoted matcher: {expr}")
    out.append(expr[position:])
    return "".join(out)


def _inside_string(expr: str, index: int) -> bool:
    quote: str | None = None
    escaped = False
    for char in expr[:index]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif quote is None and char in "\"'`":
            quote = char
        elif char == quote:
            quote = None
    return quote is not None


def parse(expr: str) -> promql_parser.Expr:
    """Parse with the Prometheus grammar (promql-parser); raises ValueError when invalid."""
    return promql_parser.parse(expr)


def metric_names(expr: str) -> set[str]:
    """The metric names the expression selects: bare names and ``{__name__="..."}``."""
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    if matcher.op != promql_parser.MatchOp.Equal:
                        raise ValueError(f"a regex on __name__ cannot be checked: {expr}")
                    names.add(matcher.value)

    promql_parser.walk(parse(expr), visit)
    return names


def dashboard_variables(dashboard: dict[str, Any]) -> frozenset[str]:
    return frozenset(v["name"] for v in dashboard.get("templating", {}).get("list", []))


def used_metric_names() -> dict[str, set[str]]:
    """Every sample name a dashboard or an alert selects, mapped to where it is used."""
    used: dict[str, set[str]] = {}
    for name, dashboard in load_dashboards().items():
        variables = dashboard_variables(dashboard)
        for query in dashboard_queries(name, dashboard):
            for metric in metric_names(to_promql(query.expr, variables)):
                used.setdefault(metric, set()).add(query.where)
    for query in rule_queries(load_rules()):
        for metric in metric_names(query.expr):
            used.setdefault(metric, set()).add(query.where)
    return used
