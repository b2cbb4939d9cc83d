"""Authentication policies of calls: ``basic`` and ``bearer``, inline, reusable or from secrets.

A policy resolves to an ``Authorization`` header and to the ``$authorization`` descriptor
(scheme, parameter) that the task's ``output.as`` and ``export.as`` may read.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.tasks.base import TaskContext

_NOT_YET = ("digest", "oauth2", "oidc", "certificate")


@dataclass(frozen=True)
class Authorization:
    scheme: str
    parameter: str

    @property
    def header(self) -> str:
        return f"{self.scheme} {self.parameter}"

    def descriptor(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "parameter": self.parameter}


def resolve_authentication(task: TaskContext, policy: Any, *, field: str) -> Authorization | None:
    """Resolve ``policy`` (the ``authentication`` of an endpoint) against the task input."""
    if policy is None:
        return None
    if not isinstance(policy, Mapping):
        raise task.configuration_error(f"{field} must be a mapping")
    if set(policy) == {"use"}:
        name = policy["use"]
        policies = (task.document.get("use") or {}).get("authentications") or {}
        if not isinstance(name, str) or not isinstance(policies, Mapping) or name not in policies:
            raise task.configuration_error(
                f"{field}.use names {name!r}, which is not defined in use.authentications"
            )
        field, policy = f"use.authentications.{name}", policies[name]
        if not isinstance(policy, Mapping):
            raise task.configuration_error(f"{field} must be a mapping")
    if "basic" in policy:
        username, password = _credentials(
            task, policy["basic"], ("username", "password"), field=f"{field}.basic"
        )
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return Authorization("Basic", encoded)
    if "bearer" in policy:
        bearer = policy["bearer"]
        # The spec's prose also shows the shorthand ``bearer: ${ .token }``.
        config = {"token": bearer} if isinstance(bearer, str) else bearer
        (token,) = _credentials(task, config, ("token",), field=f"{field}.bearer")
        return Authorization("Bearer", token)
    for scheme in _NOT_YET:
        if scheme in policy:
            raise task.configuration_error(
                f"{field}: {scheme} authentication is not supported yet (use basic or bearer)"
            )
    raise task.configuration_error(f"{field} must define a basic or bearer policy")


def _credentials(
    task: TaskContext, config: Any, keys: tuple[str, ...], *, field: str
) -> tuple[str, ...]:
    if not isinstance(config, Mapping):
        raise task.configuration_error(f"{field} must be a mapping")
    if "use" in config:
        config = _secret(task, config["use"], field=field)
        values = config
    else:
        values = task.evaluate_value(dict(config), field=field)
    resolved = []
    for key in keys:
        value = values.get(key) if isinstance(values, Mapping) else None
        if not isinstance(value, str):
            raise task.configuration_error(f"{field}.{key} must be a string")
        resolved.append(value)
    return tuple(resolved)


def _secret(task: TaskContext, name: Any, *, field: str) -> Mapping[str, Any]:
    secret = task.engine.secrets.get(name) if isinstance(name, str) else None
    if not isinstance(secret, Mapping):
        # The specification's rule for a secret that is missing or not accessible.
        raise WorkflowError.of(
            ErrorType.AUTHORIZATION,
            f"task {task.name!r}, {field}.use: secret {name!r} is not available",
            instance=task.pointer,
        )
    return secret
