"""The GitHub workflows: actionlint-clean, and doing what CI here does.

actionlint (built with Go by `.ci/services.sh deploy-tools`) checks every workflow file, and
runs shellcheck on their `run:` scripts as GitHub's runners would; the CI scripts get
shellcheck too. The rest reads ci.yaml: its lint and test jobs run the commands of .ci/run
and of the README, every action is pinned to a release, images are pushed only from main or
a version tag, and the kind job installs the chart with the kind values file.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.test_images import COMPONENTS
from tests.services import find_binary, unavailable

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
CI_SCRIPTS = [ROOT / ".ci" / "run", *sorted((ROOT / ".ci").glob("*.sh"))]
CI = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yaml").read_text())
JOBS: dict[str, dict[str, Any]] = CI["jobs"]
BUDGET_MINUTES = 90
KIND_VALUES = "deploy/helm/stigmer/ci/kind-values.yaml"


def run_lines(job: str) -> list[str]:
    """Every line of the job's `run:` scripts, stripped."""
    return [
        line.strip()
        for step in JOBS[job]["steps"]
        for line in str(step.get("run", "")).splitlines()
        if line.strip()
    ]


def uses(job: str) -> list[dict[str, Any]]:
    return [step for step in JOBS[job]["steps"] if "uses" in step]


def require(tool: str) -> str:
    found = find_binary(tool)
    if found is None:
        unavailable(f"no {tool}: run `bash .ci/services.sh deploy-tools`")
    return found


# --- linters -------------------------------------------------------------------------------


def test_there_are_workflows() -> None:
    assert ROOT / ".github" / "workflows" / "ci.yaml" in WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_actionlint_finds_nothing(workflow: Path) -> None:
    actionlint = require("actionlint")
    # Without shellcheck actionlint silently skips the run: scripts; GitHub's runners have it.
    shellcheck = require("shellcheck")
    done = subprocess.run(
        [actionlint, "-no-color", "-shellcheck", shellcheck, "-format", "{{json .}}", workflow],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    findings = json.loads(done.stdout or "[]")
    assert findings == [], "\n".join(f"{f['line']}:{f['column']} {f['message']}" for f in findings)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("script", CI_SCRIPTS, ids=lambda path: path.name)
def test_ci_scripts_pass_shellcheck(script: Path) -> None:
    shellcheck = require("shellcheck")
    done = subprocess.run(
        [shellcheck, "--shell=bash", "--external-sources", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- what the jobs run ---------------------------------------------------------------------


def ci_run_lint_commands() -> list[str]:
    """The commands between `echo "== lint"` and `echo "== tests"` in .ci/run."""
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    start, end = lines.index('echo "== lint"'), lines.index('echo "== tests"')
    commands = [line.strip() for line in lines[start + 1 : end] if line.strip()]
    assert commands, ".ci/run lints nothing?"
    return commands


def readme_test_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"## Run the tests\s+```bash\n(.+?)\n```", readme, re.DOTALL)
    assert match, "README.md has no 'Run the tests' command"
    return [part.strip() for part in match.group(1).split("&&")]


def test_lint_job_runs_what_ci_run_lints() -> None:
    lines = run_lines("lint")
    for command in ci_run_lint_commands():
        assert command in lines, f"the lint job does not run `{command}`"


def test_test_job_runs_the_readme_commands() -> None:
    lines = run_lines("test")
    for command in readme_test_commands():
        if command == "pytest":  # the whole suite, not a part of it
            assert "pytest" in lines, "the test job does not run the whole suite"
        else:
            assert any(command in line for line in lines), f"the test job does not run {command}"
    # As .ci/run: a missing server fails the run instead of skipping tests.
    assert JOBS["test"]["env"]["STIGMER_TEST_REQUIRE_SERVICES"] == "1"


def test_test_job_serves_mongodb_redis_and_temporal() -> None:
    job = JOBS["test"]
    images = {name: service["image"] for name, service in job["services"].items()}
    assert images["mongodb"].startswith("mongo:")
    assert images["redis"].startswith("redis:")
    env = job["env"]
    # The services publish their default ports on the runner.
    assert env["STIGMER_TEST_MONGODB_URI"] == "mongodb://127.0.0.1:27017/"
    assert env["STIGMER_TEST_REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert job["services"]["mongodb"]["ports"] == ["27017:27017"]
    assert job["services"]["redis"]["ports"] == ["6379:6379"]
    temporal_port = env["STIGMER_TEST_TEMPORAL_ADDRESS"].rpartition(":")[2]
    assert any("temporal server start-dev" in line for line in run_lines("test")), (
        "the test job starts no Temporal dev server"
    )
    assert any(f"--port {temporal_port}" in line for line in run_lines("test"))


def test_deploy_job_runs_the_deploy_tests() -> None:
    lines = run_lines("deploy")
    assert "bash .ci/services.sh deploy-tools" in lines
    assert "pytest tests/deploy" in lines


# --- budget and pinning --------------------------------------------------------------------


def test_every_job_has_a_timeout_and_ci_fits_the_budget() -> None:
    def path_minutes(name: str) -> int:
        job = JOBS[name]
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        return int(job["timeout-minutes"]) + max((path_minutes(n) for n in needs), default=0)

    for name, job in JOBS.items():
        assert "timeout-minutes" in job, f"job {name} has no timeout"
        assert path_minutes(name) <= BUDGET_MINUTES, f"{name} may run past {BUDGET_MINUTES} min"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_actions_are_pinned_to_releases(workflow: Path) -> None:
    pinned = re.compile(r"[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})")
    steps = [
        step
        for job in yaml.safe_load(workflow.read_text())["jobs"].values()
        for step in job.get("steps", [])
        if "uses" in step
    ]
    assert steps
    for step in steps:
        assert pinned.fullmatch(step["uses"]), f"pin {step['uses']} to a release (vX.Y.Z or SHA)"


# --- images and the kind job ---------------------------------------------------------------


def test_images_job_builds_every_target() -> None:
    job = JOBS["images"]
    assert set(job["strategy"]["matrix"]["target"]) == {c.target for c in COMPONENTS}
    (build,) = [s for s in uses("images") if s["uses"].startswith("docker/build-push-action@")]
    assert build["with"]["target"] == "${{ matrix.target }}"


def test_images_are_pushed_only_from_main_or_version_tags() -> None:
    job = JOBS["images"]
    push = job["env"]["PUSH"]
    for needed in ("github.event_name == 'push'", "refs/heads/main", "refs/tags/v"):
        assert needed in push
    assert job["permissions"]["packages"] == "write"
    (build,) = [s for s in uses("images") if s["uses"].startswith("docker/build-push-action@")]
    assert build["with"]["push"] == "${{ env.PUSH == 'true' }}"
    (login,) = [s for s in uses("images") if s["uses"].startswith("docker/login-action@")]
    assert login["if"] == "env.PUSH == 'true'"
    # Nothing else in CI may write packages.
    assert CI["permissions"] == {"contents": "read"}


def test_kind_job_loads_every_image_and_runs_the_e2e_script() -> None:
    job = JOBS["e2e-kind"]
    assert "images" in job["needs"]
    built = {
        s["with"]["target"]
        for s in uses("e2e-kind")
        if s["uses"].startswith("docker/build-push-action@")
    }
    assert built == {c.target for c in COMPONENTS}
    assert any(s["uses"].startswith("helm/kind-action@") for s in uses("e2e-kind"))
    lines = run_lines("e2e-kind")
    assert "for component in api orchestrator runner operator; do" in lines
    assert "bash .ci/kind-e2e.sh" in lines


def test_kind_e2e_script_uses_the_kind_values_and_checks_the_run() -> None:
    script = (ROOT / ".ci" / "kind-e2e.sh").read_text()
    assert f'VALUES_FILE="${{VALUES_FILE:-{KIND_VALUES}}}"' in script
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    for needed in (
        "helm upgrade --install",
        "--wait",
        "rollout status",
        "port-forward",
        "stigmer run examples/hello.yaml",
        '.status.phase == "COMPLETED"',
        "helm test",
    ):
        assert needed in code, f"kind-e2e.sh does not run {needed}"
    assert (ROOT / "examples" / "hello.yaml").is_file()
    assert (ROOT / "deploy" / "helm" / "stigmer" / "Chart.yaml").is_file()
    assert (ROOT / KIND_VALUES).is_file(), f"the kind job needs {KIND_VALUES}"
