"""The `stigmer` command against the fleet, as a user runs it: exit codes and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import workflow_yaml
from tests.e2e.fleet import USER_TOKEN, Fleet

pytestmark = pytest.mark.integration


def stigmer(fleet: Fleet, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STIGMER_API_URL": fleet.api_url,
        "STIGMER_API_TOKEN": USER_TOKEN,
        "STIGMER_HOME": str(home),
    }
    return subprocess.run(
        [sys.executable, "-m", "stigmer_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_completed_exits_0_with_output(fleet: Fleet, tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        workflow_yaml(
            f"cli-ok-{uuid.uuid4().hex[:6]}",
            '  - greet:\n      set:\n        greeting: ${ "hi " + .who }\n',
        )
    )
    result = stigmer(
        fleet, "run", str(path), "--input", '{"who": "Ada"}', "-o", "json", home=tmp_path
    )
    assert result.returncode == 0, result.stderr
    execution = json.loads(result.stdout)
    assert execution["status"]["phase"] == "COMPLETED"
    assert execution["status"]["output"] == {"greeting": "hi Ada"}


def test_run_failed_exits_1_and_names_the_task(fleet: Fleet, tmp_path: Path) -> None:
    path = tmp_path / "fails.yaml"
    path.write_text(
        workflow_yaml(
            f"cli-fails-{uuid.uuid4().hex[:6]}",
            "  - boom:\n"
            "      raise:\n"
            "        error:\n"
            "          type: https://serverlessworkflow.io/spec/1.0.0/errors/runtime\n"
            "          status: 500\n"
            "          title: It broke\n",
        )
    )
    result = stigmer(fleet, "run", str(path), home=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    text = result.stdout + result.stderr
    assert "FAILED" in text
    assert "/do/0/boom" in text
    assert "It broke" in text
    assert "Traceback" not in text


def test_invalid_workflow_exits_2_with_pointer(fleet: Fleet, tmp_path: Path) -> None:
    path = tmp_path / "invalid.yaml"
    path.write_text(workflow_yaml("cli-invalid", "  - f:\n      call: http\n"))
    result = stigmer(fleet, "run", str(path), home=tmp_path)
    assert result.returncode == 2
    assert "/do/0/f" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
