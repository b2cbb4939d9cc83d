"""Kubernetes access: one configuration shared by kopf's login and our API client, and the
Deployment's scale subresource."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kopf
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException


async def load_configuration(kubeconfig: Path | None) -> client.Configuration:
    """The service account's configuration in a pod, else the kubeconfig file's."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        await config.load_kube_config(
            config_file=str(kubeconfig) if kubeconfig else None,
            client_configuration=configuration,
        )
    return configuration


async def connection_info(configuration: client.Configuration) -> kopf.ConnectionInfo:
    """kopf's credentials from the same configuration, so both talk to one API server."""
    found: Any = configuration.get_api_key_with_prefix("BearerToken")
    if inspect.isawaitable(found):
        # kubernetes-asyncio 33.3+ may refresh a service account token here.
        found = await found
    scheme, _, token = str(found or "").partition(" ")
    if not token:
        scheme, token = "", scheme
    if not configuration.host:
        raise kopf.LoginError("the Kubernetes configuration names no API server")
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        scheme=scheme or None,
        token=token or None,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


class ScaleTargetError(Exception):
    """The target's scale could not be read or written (missing, forbidden, API down)."""


@dataclass(frozen=True)
class Scale:
    spec_replicas: int
    """Replicas the Deployment is asked to have."""
    status_replicas: int
    """Replicas it has now."""


class Deployments:
    """The scale subresource of Deployments (``get``/``patch deployments/scale``)."""

    def __init__(self, *, api: client.ApiClient) -> None:
        self._apps = client.AppsV1Api(api)

    async def get_scale(self, namespace: str, name: str) -> Scale:
        try:
            scale = await self._apps.read_namespaced_deployment_scale(name, namespace)
        except ApiException as exc:
            raise ScaleTargetError(
                f"cannot read deployments/{name}/scale: {exc.status} {exc.reason}"
            ) from exc
        return Scale(
            spec_replicas=int(scale.spec.replicas or 0),
            status_replicas=int((scale.status.replicas if scale.status else 0) or 0),
        )

    async def set_replicas(self, namespace: str, name: str, replicas: int) -> None:
        try:
            await self._apps.patch_namespaced_deployment_scale(
                name, namespace, {"spec": {"replicas": replicas}}
            )
        except ApiException as exc:
            raise ScaleTargetError(
                f"cannot scale deployments/{name}: {exc.status} {exc.reason}"
            ) from exc
