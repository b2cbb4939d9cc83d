"""Render deploy/kustomize's flavours with `kustomize build` (or `kubectl kustomize`).

A flavour is an overlay, the base alone, or the base with one component: the latter are
written to a temporary kustomization that points back at the repository with relative paths
(kustomize refuses absolute ones). Renders are cached for the session: each costs a process.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "deploy" / "kustomize"
COMPONENTS = ("monitoring", "keda", "operator", "dev-dependencies")
OVERLAYS = ("dev", "prod")
# Namespace of the base-plus-component renders (a RoleBinding's subject needs one).
TEST_NAMESPACE = "stigmer-test"

FLAVOURS: tuple[str, ...] = (
    *(f"overlays/{name}" for name in OVERLAYS),
    "base",
    *(f"base+{name}" for name in COMPONENTS),
)

Manifest = dict[str, Any]


def _command() -> list[str]:
    if standalone := shutil.which("kustomize"):
        return [standalone, "build"]
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    unavailable("neither kustomize nor kubectl (with its built-in kustomize) is on PATH")


def _build(directory: Path) -> list[Manifest]:
    done = subprocess.run(
        [*_command(), str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"kustomize build {directory} failed:\n{done.stderr}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@functools.cache
def render(flavour: str) -> tuple[Manifest, ...]:
    """Every object the flavour renders, in kustomize's order."""
    if "+" not in flavour:
        return tuple(_build(KUSTOMIZE / flavour))
    _, component = flavour.split("+")
    with tempfile.TemporaryDirectory() as tmp:
        rel = Path(os.path.relpath(KUSTOMIZE, tmp))
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": TEST_NAMESPACE,
            "resources": [str(rel / "base")],
            "components": [str(rel / "components" / component)],
        }
        (Path(tmp) / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        return tuple(_build(Path(tmp)))


def of_kind(manifests: tuple[Manifest, ...], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: tuple[Manifest, ...], kind: str, name: str) -> Manifest | None:
    return next((m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name), None)


def containers(deployment: Manifest) -> list[Manifest]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def config_map_data(manifests: tuple[Manifest, ...], name: str) -> dict[str, str]:
    found = named(manifests, "ConfigMap", name)
    assert found is not None, f"ConfigMap {name} is referenced but not rendered"
    return dict(found.get("data", {}))
