"""Prometheus' own checker on the rules file: ``promtool check rules`` and the alerts' unit
tests (deploy/prometheus/stigmer-alerts.test.yaml: series in, alerts expected out).

promtool comes from `PROMTOOL`, the PATH, or where .ci/services.sh puts it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.queries import RULES_FILE
from tests.services import unavailable

UNIT_TESTS = RULES_FILE.with_name("stigmer-alerts.test.yaml")
CI_LOCATION = Path.home() / ".cache" / "stigmer" / "promtool" / "promtool"


@pytest.fixture(scope="module")
def promtool() -> str:
    for candidate in (os.environ.get("PROMTOOL"), shutil.which("promtool"), str(CI_LOCATION)):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    unavailable("promtool not found (PROMTOOL, PATH, or bash .ci/services.sh)")


def _run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args],
        cwd=RULES_FILE.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = _run(promtool, "check", "rules", RULES_FILE.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alerts_fire_as_their_unit_tests_expect(promtool: str) -> None:
    result = _run(promtool, "test", "rules", UNIT_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
