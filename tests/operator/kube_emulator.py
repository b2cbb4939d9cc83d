"""kmock's in-memory Kubernetes API, with the one server behaviour it leaves out that the
operator meets: ``metadata.generateName`` (kopf posts Events with it) and a
``resourceVersion`` on created objects (kopf's JSON patches test it)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp.web
import kmock
import yaml

RAS = "autoscaling.stigmer.io/v1alpha1/runnerautoscalers"
DEPLOYMENTS = "apps/v1/deployments"
EVENTS = "v1/events"


class KubernetesWithGenerateName(kmock.KubernetesEmulator):
    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        data = request.data
        if request.action == kmock.action.CREATE and isinstance(data, dict):
            metadata = data.setdefault("metadata", {})
            if not metadata.get("name") and metadata.get("generateName"):
                metadata["name"] = f"{metadata['generateName']}{uuid.uuid4().hex[:8]}"
            # kopf's JSON patches test the resourceVersion; kmock keeps none of its own.
            metadata.setdefault("resourceVersion", "1")
        return await super()._handle(request)


async def emulator() -> AsyncIterator[KubernetesWithGenerateName]:
    """The emulator serving the resources the operator uses, on a local port."""
    async with KubernetesWithGenerateName() as kube, kmock.Server(kube):
        kube.resources[RAS] = kmock.ResourceInfo(
            kind="RunnerAutoscaler",
            singular="runnerautoscaler",
            namespaced=True,
            shortnames={"ras"},
            subresources={"status"},
            verbs={"get", "list", "watch", "patch"},
        )
        kube.resources[DEPLOYMENTS] = kmock.ResourceInfo(
            kind="Deployment",
            singular="deployment",
            namespaced=True,
            subresources={"scale", "status"},
            verbs={"get", "list", "watch", "patch"},
        )
        kube.resources[EVENTS] = kmock.ResourceInfo(
            kind="Event", singular="event", namespaced=True, verbs={"create", "list"}
        )
        # Discovered on every real API server; kopf waits for them in its discovery.
        kube.resources["v1/namespaces"] = kmock.ResourceInfo(
            kind="Namespace", singular="namespace", namespaced=False, verbs={"list", "watch"}
        )
        kube.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = kmock.ResourceInfo(
            kind="CustomResourceDefinition",
            singular="customresourcedefinition",
            namespaced=False,
            verbs={"list", "watch"},
        )
        yield kube


async def create(kube: kmock.KubernetesEmulator, plural_path: str, body: dict[str, Any]) -> None:
    """POST an object, as kubectl would: watchers see it (assigning ``kube.objects`` would
    not notify them)."""
    namespace = body["metadata"]["namespace"]
    group_version, plural = plural_path.rsplit("/", 1)
    prefix = "/api" if group_version.count("/") == 0 else "/apis"
    url = kube.url / f"{prefix.lstrip('/')}/{group_version}/namespaces/{namespace}/{plural}"
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        response.raise_for_status()


def write_kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig naming the emulator, as a developer's would name a kind cluster."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "emulator", "cluster": {"server": server}}],
                "users": [{"name": "tester", "user": {"token": "test-token"}}],
                "contexts": [
                    {"name": "emulator", "context": {"cluster": "emulator", "user": "tester"}}
                ],
                "current-context": "emulator",
            }
        )
    )
    return path


def deployment(namespace: str, name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"namespace": namespace, "name": name, "resourceVersion": "1"},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas},
    }
