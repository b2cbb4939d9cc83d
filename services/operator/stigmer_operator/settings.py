"""The operator's settings, read once from the environment in `main()`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import field_validator
from pydantic_settings import NoDecode

from stigmer_core.settings import StigmerSettings


class OperatorSettings(StigmerSettings):
    stigmer_operator_namespaces: Annotated[list[str], NoDecode] = []
    """Namespaces whose RunnerAutoscalers this operator serves, comma-separated exact names
    (the operator lists no namespaces, so no patterns). Empty: every namespace."""

    stigmer_operator_peering: str = "stigmer-operator"
    """Name of the kopf peering object: replicas with the same name elect one active
    operator, so two replicas never scale the same Deployment at once."""

    stigmer_operator_standalone: bool = False
    """Run without peering (no KopfPeering object needed); only for a single replica."""

    stigmer_operator_liveness_port: int = 8080
    """Port of kopf's liveness endpoint (`/healthz`)."""

    kubeconfig: Path | None = None
    """Kubeconfig file, used outside a cluster (in a pod the service account is used);
    unset: `~/.kube/config`."""

    stigmer_observability_host: str = "0.0.0.0"
    """Address the Prometheus metrics endpoint listens on."""

    stigmer_observability_port: int = 9464
    """Port of the Prometheus metrics endpoint (`/metrics`)."""

    @field_validator("stigmer_operator_namespaces", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        # A plain comma list reads better in a manifest than the JSON list pydantic expects.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
