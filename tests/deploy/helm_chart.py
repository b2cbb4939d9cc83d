"""Rendering the Helm chart for tests: no cluster, only the `helm` binary.

`helm` is looked up on PATH, then in ``~/go/bin`` (``go install helm.sh/helm/v3/cmd/helm``
puts it there; ``.ci/run`` installs it); missing, the test is ``unavailable()``.
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.services import find_binary, unavailable

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "stigmer"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) that kubernetes-validate
# ships schemas for; helm built without release ldflags would assume v1.20 otherwise.
KUBE_VERSION = "1.33.0"
RELEASE = "stg"
NAMESPACE = "stigmer"

Manifest = dict[str, Any]


def helm() -> str:
    binary = find_binary("helm")
    if binary is None:
        unavailable("helm is not installed (go install helm.sh/helm/v3/cmd/helm@v3.21.4)")
    return binary


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm(), *args], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )


@dataclass(frozen=True)
class Rendered:
    """The objects `helm template` printed for one set of values."""

    objects: list[Manifest]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> Manifest:
        matches = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
        return matches[0]

    def component(self, kind: str, component: str) -> Manifest:
        matches = [
            o
            for o in self.of_kind(kind)
            if o["metadata"]["labels"].get("app.kubernetes.io/component") == component
        ]
        assert len(matches) == 1, f"expected one {kind} of {component}, found {len(matches)}"
        return matches[0]


def template_args(values_files: tuple[str, ...], sets: tuple[str, ...]) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    args += ["--kube-version", KUBE_VERSION]
    for path in values_files:
        args += ["-f", path]
    for assignment in sets:
        args += ["--set", assignment]
    return args


@functools.cache
def render(*values_files: str, sets: tuple[str, ...] = ()) -> Rendered:
    """Render the chart (cached: the same values render the same objects, tokens aside)."""
    result = run_helm(*template_args(values_files, sets))
    assert result.returncode == 0, result.stderr
    objects = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return Rendered(objects)


def render_error(*values_files: str, sets: tuple[str, ...] = ()) -> str:
    """The error of a render that must fail."""
    result = run_helm(*template_args(values_files, sets))
    assert result.returncode != 0, f"helm template succeeded with {values_files} {sets}"
    return result.stderr


def ci_values(name: str) -> str:
    return str(CHART / "ci" / f"{name}-values.yaml")


def pod_spec(workload: Manifest) -> Manifest:
    spec: Manifest = workload["spec"]
    return spec if workload["kind"] == "Pod" else spec["template"]["spec"]
