"""Authentication policies of calls: basic, bearer, digest, oauth2 and oidc.

A policy is inline, reusable (``use.authentications``) or reads its settings from a secret
(``use: <secret>``). It resolves to an ``Authorization`` header and to the
``$authorization`` descriptor (scheme, parameter) that the task's ``output.as`` and
``export.as`` may read. ``oauth2`` and ``oidc`` first obtain an access token (see
``oauth2_tokens``) and send it as a bearer token; ``digest`` answers the server's challenge,
so it needs the request itself (:func:`send_authenticated`). The DSL 1.0 schema defines no
``certificate`` policy (registration refuses one); client certificates (mutual TLS) are the
runner's configuration, per host (see ``activities/client_certificates``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse
from stigmer_runner.dsl.digest_auth import DigestError, digest_authorization, select_challenge
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.tasks.base import TaskContext
from stigmer_runner.dsl.tasks.oauth2_tokens import fetch_access_token

_TOKEN_SCHEMES = ("oauth2", "oidc")
_SCHEMES = ("basic", "bearer", "digest", "oauth2", "oidc", "certificate")


@dataclass(frozen=True)
class Authorization:
    scheme: str
    parameter: str

    @property
    def header(self) -> str:
        return f"{self.scheme} {self.parameter}"

    def descriptor(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "parameter": self.parameter}


async def send_authenticated(
    task: TaskContext, request: HttpRequest, policy: Any, *, field: str
) -> tuple[HttpResponse, Authorization | None]:
    """Send ``request`` through the runtime with ``policy`` applied; any policy but certificate.

    Digest takes two round trips: the request without credentials, then, on a 401 with a
    ``Digest`` challenge, again with the answer. Returns the response and the authorization
    sent (None without a policy, or when the server asked for no digest).
    """
    if policy is None:
        return await task.runtime.call_http(request), None
    scheme, config, field = _policy(task, policy, field=field)
    if scheme != "digest":
        authorization = await _authorize(task, scheme, config, field=field)
        return await task.runtime.call_http(_with(request, authorization)), authorization
    username, password = _credentials(task, config, ("username", "password"), field=field)
    first = _with(request, None)
    response = await task.runtime.call_http(first)
    header = response.headers.get("www-authenticate", "")
    if response.status_code != 401 or not header:
        return response, None
    try:
        challenge = select_challenge(header)
    except DigestError as exc:
        raise WorkflowError.of(
            ErrorType.AUTHENTICATION,
            f"task {task.name!r}, {field}: {request.method} {request.url}: {exc}",
            instance=task.pointer,
        ) from None
    if challenge is None:
        return response, None
    target = urlsplit(response.request_uri or request.url)
    uri = (target.path or "/") + (f"?{target.query}" if target.query else "")
    # Replay-safe randomness: the same cnonce (and so the same request) on replay.
    cnonce = "".join(f"{int(task.runtime.random() * 2**32):08x}" for _ in range(4))
    authorization = Authorization(
        "Digest",
        digest_authorization(
            challenge,
            username=username,
            password=password,
            method=request.method,
            uri=uri,
            cnonce=cnonce,
        ),
    )
    return await task.runtime.call_http(_with(request, authorization)), authorization


async def authorize(task: TaskContext, policy: Any, *, field: str) -> Authorization | None:
    """The authorization ``policy`` gives, for calls that are not plain HTTP requests.

    Like :func:`send_authenticated` but without a request to answer a challenge for, so
    ``digest`` is a configuration error here.
    """
    if policy is None:
        return None
    scheme, config, field = _policy(task, policy, field=field)
    if scheme == "digest":
        raise task.configuration_error(f"{field}: digest authentication applies to HTTP calls")
    return await _authorize(task, scheme, config, field=field)


def resolve_authentication(task: TaskContext, policy: Any, *, field: str) -> Authorization | None:
    """Resolve ``policy`` without I/O: basic and bearer only.

    Calls that can await should prefer :func:`authorize` or :func:`send_authenticated`,
    which also obtain oauth2 and oidc tokens and answer digest challenges.
    """
    if policy is None:
        return None
    scheme, config, field = _policy(task, policy, field=field)
    if scheme in ("digest", *_TOKEN_SCHEMES):
        raise task.configuration_error(
            f"{field}: {scheme} authentication is not supported by this call yet "
            "(use basic or bearer)"
        )
    return _static(task, scheme, config, field=field)


def _policy(task: TaskContext, policy: Any, *, field: str) -> tuple[str, Any, str]:
    """(scheme, its configuration, the field naming it) of a policy or a reference to one."""
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
    for scheme in _SCHEMES:
        if scheme in policy:
            if scheme == "certificate":
                raise task.configuration_error(
                    f"{field}: the DSL 1.0 schema defines no certificate policy; client "
                    "certificates (mutual TLS) are configured on the runner per host "
                    "(STIGMER_RUNNER_CLIENT_CERTIFICATES) and presented to that host on every "
                    "HTTPS request"
                )
            return scheme, policy[scheme], f"{field}.{scheme}"
    raise task.configuration_error(
        f"{field} must define one of the policies basic, bearer, digest, oauth2 or oidc"
    )


async def _authorize(task: TaskContext, scheme: str, config: Any, *, field: str) -> Authorization:
    if scheme not in _TOKEN_SCHEMES:
        return _static(task, scheme, config, field=field)
    if not isinstance(config, Mapping):
        raise task.configuration_error(f"{field} must be a mapping")
    if "use" in config:
        settings: Mapping[str, Any] = _secret(task, config["use"], field=field)
    else:
        resolved = task.evaluate_value(dict(config), field=field)
        if not isinstance(resolved, Mapping):
            raise task.configuration_error(f"{field} must be a mapping")
        settings = resolved
    token = await fetch_access_token(task, settings, scheme=scheme, field=field)
    return Authorization("Bearer", token)


def _static(task: TaskContext, scheme: str, config: Any, *, field: str) -> Authorization:
    if scheme == "basic":
        username, password = _credentials(task, config, ("username", "password"), field=field)
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return Authorization("Basic", encoded)
    # The spec's prose also shows the shorthand ``bearer: ${ .token }``.
    config = {"token": config} if isinstance(config, str) else config
    (token,) = _credentials(task, config, ("token",), field=field)
    return Authorization("Bearer", token)


def _with(request: HttpRequest, authorization: Authorization | None) -> HttpRequest:
    """``request`` with the policy's Authorization header replacing the task's own, if any."""
    headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
    if authorization is not None:
        headers["Authorization"] = authorization.header
    return replace(request, headers=headers)


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
