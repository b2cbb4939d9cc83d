"""Access tokens for the ``oauth2`` and ``oidc`` authentication policies.

The token request goes through the runtime's ``call_http`` (an activity in Temporal), so a
replayed run reuses the token it obtained instead of asking again. ``oauth2`` posts to
``authority`` + ``endpoints.token`` (default ``/oauth2/token``); ``oidc`` first reads the
``token_endpoint`` from ``<authority>/.well-known/openid-configuration``. Grants:
``client_credentials``, ``password``, ``refresh_token`` (the refresh token is
``subject.token``, the schema having no field of its own for it) and token exchange
(RFC 8693). With ``issuers`` set, the access token must be a JWT whose ``iss`` is one of
them; for ``oidc`` its signature must also verify against the keys at the discovery
document's ``jwks_uri``, when it names one (see ``token_issuers``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus, urlencode

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.tasks.base import TaskContext
from stigmer_runner.dsl.token_issuers import TokenIssuerError, check_issuer, verify_signature

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
_GRANTS = ("client_credentials", "password", "refresh_token", TOKEN_EXCHANGE)
_CLIENT_AUTHENTICATIONS = ("client_secret_post", "client_secret_basic", "none")
_ENCODINGS = ("application/x-www-form-urlencoded", "application/json")
_DISCOVERY = "/.well-known/openid-configuration"


async def fetch_access_token(
    task: TaskContext, config: Mapping[str, Any], *, scheme: str, field: str
) -> str:
    """Obtain an access token as the ``oauth2`` or ``oidc`` (``scheme``) policy describes."""
    authority = _string(task, config, "authority", field=field, required=True)
    authority = authority.rstrip("/")
    issuers = _strings(task, config, "issuers", field=field)
    jwks_uri = ""
    if scheme == "oidc":
        endpoint, jwks_uri = await _discover(task, authority)
    else:
        endpoints = config.get("endpoints") or {}
        if not isinstance(endpoints, Mapping):
            raise task.configuration_error(f"{field}.endpoints must be a mapping")
        path = endpoints.get("token", "/oauth2/token")
        if not isinstance(path, str) or not path:
            raise task.configuration_error(f"{field}.endpoints.token must be a string")
        endpoint = path if "://" in path else f"{authority}/{path.lstrip('/')}"
    request = _token_request(task, config, endpoint, field=field)
    response = await _send(task, request, authority=authority)
    content = response.content if isinstance(response.content, Mapping) else {}
    if not 200 <= response.status_code < 300:
        reason = content.get("error_description") or content.get("error") or "no reason given"
        raise _failure(
            task, authority, f"the token endpoint returned HTTP {response.status_code}: {reason}"
        )
    token = content.get("access_token")
    if not isinstance(token, str) or not token:
        raise _failure(task, authority, "the token response has no access_token")
    if issuers:
        await _check_issuer(task, token, issuers, authority=authority, jwks_uri=jwks_uri)
    return token


async def _check_issuer(
    task: TaskContext, token: str, issuers: list[str], *, authority: str, jwks_uri: str
) -> None:
    """Raise an authentication error unless ``token`` passes the ``issuers`` check."""
    try:
        check_issuer(token, issuers)
        if jwks_uri:
            request = HttpRequest(
                method="GET", url=jwks_uri, headers={"Accept": "application/json"}
            )
            response = await _send(task, request, authority=authority)
            if not 200 <= response.status_code < 300:
                raise TokenIssuerError(f"{jwks_uri} returned HTTP {response.status_code}")
            verify_signature(token, response.content, source=jwks_uri)
    except TokenIssuerError as exc:
        raise _failure(task, authority, str(exc)) from None


async def _discover(task: TaskContext, authority: str) -> tuple[str, str]:
    """(token_endpoint, jwks_uri or "") from the authority's OIDC discovery document."""
    request = HttpRequest(
        method="GET", url=authority + _DISCOVERY, headers={"Accept": "application/json"}
    )
    response = await _send(task, request, authority=authority)
    content = response.content if isinstance(response.content, Mapping) else {}
    endpoint = content.get("token_endpoint")
    if not 200 <= response.status_code < 300 or not isinstance(endpoint, str) or not endpoint:
        raise _failure(
            task,
            authority,
            f"{_DISCOVERY} (HTTP {response.status_code}) does not name a token_endpoint",
        )
    jwks_uri = content.get("jwks_uri")
    return endpoint, jwks_uri if isinstance(jwks_uri, str) else ""


def _token_request(
    task: TaskContext, config: Mapping[str, Any], endpoint: str, *, field: str
) -> HttpRequest:
    grant = config.get("grant", "client_credentials")
    if grant not in _GRANTS:
        raise task.configuration_error(
            f"{field}.grant must be one of {', '.join(_GRANTS)} (got {grant!r}; "
            "authorization_code needs a user and cannot run in a workflow)"
        )
    form: dict[str, Any] = {"grant_type": grant}
    if grant == "password":
        form["username"] = _string(task, config, "username", field=field, required=True)
        form["password"] = _string(task, config, "password", field=field, required=True)
    elif grant == "refresh_token":
        form["refresh_token"] = _required_token(task, config, "subject", field=field)[0]
    elif grant == TOKEN_EXCHANGE:
        form["subject_token"], form["subject_token_type"] = _required_token(
            task, config, "subject", field=field
        )
        if config.get("actor") is not None:
            actor = _required_token(task, config, "actor", field=field)
            form["actor_token"], form["actor_token_type"] = actor
    scopes = _strings(task, config, "scopes", field=field)
    if scopes:
        form["scope"] = " ".join(scopes)
    audiences = _strings(task, config, "audiences", field=field)
    if audiences:
        form["audience"] = audiences
    headers = {"Accept": "application/json"}
    _client_authentication(task, config.get("client"), form, headers, field=f"{field}.client")
    encoding = (config.get("request") or {}).get("encoding", _ENCODINGS[0])
    if encoding not in _ENCODINGS:
        raise task.configuration_error(
            f"{field}.request.encoding must be one of {', '.join(_ENCODINGS)}"
        )
    headers["Content-Type"] = encoding
    body: Any = form if encoding == _ENCODINGS[1] else urlencode(form, doseq=True)
    return HttpRequest(method="POST", url=endpoint, headers=headers, body=body)


def _client_authentication(
    task: TaskContext,
    client: Any,
    form: dict[str, Any],
    headers: dict[str, str],
    *,
    field: str,
) -> None:
    if client is None:
        return
    if not isinstance(client, Mapping):
        raise task.configuration_error(f"{field} must be a mapping")
    method = client.get("authentication", "client_secret_post")
    if method not in _CLIENT_AUTHENTICATIONS:
        raise task.configuration_error(
            f"{field}.authentication {method!r} is not supported yet "
            f"(use one of {', '.join(_CLIENT_AUTHENTICATIONS)})"
        )
    if "assertion" in client:
        raise task.configuration_error(f"{field}.assertion is not supported yet")
    client_id = _string(task, client, "id", field=field, required=True)
    secret = _string(task, client, "secret", field=field, required=method != "none")
    if method == "client_secret_basic":
        # RFC 6749 section 2.3.1: both parts form-encoded before the Basic encoding.
        pair = f"{quote_plus(client_id)}:{quote_plus(secret or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        return
    form["client_id"] = client_id
    if method == "client_secret_post":
        form["client_secret"] = secret


async def _send(task: TaskContext, request: HttpRequest, *, authority: str) -> HttpResponse:
    try:
        return await task.runtime.call_http(request)
    except WorkflowError as exc:
        detail = exc.problem.get("detail") or exc.problem.get("title") or "no response"
        raise _failure(task, authority, str(detail)) from None


def _failure(task: TaskContext, authority: str, reason: str) -> WorkflowError:
    return WorkflowError.of(
        ErrorType.AUTHENTICATION,
        f"task {task.name!r}: cannot obtain an access token from {authority}: {reason}",
        instance=task.pointer,
    )


def _string(
    task: TaskContext, config: Mapping[str, Any], key: str, *, field: str, required: bool
) -> str:
    value = config.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise task.configuration_error(f"{field}.{key} must be a non-empty string")
    return value


def _strings(task: TaskContext, config: Mapping[str, Any], key: str, *, field: str) -> list[str]:
    value = config.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise task.configuration_error(f"{field}.{key} must be a list of strings")
    return value


def _required_token(
    task: TaskContext, config: Mapping[str, Any], key: str, *, field: str
) -> tuple[str, str]:
    value = config.get(key)
    if not isinstance(value, Mapping):
        raise task.configuration_error(f"{field}.{key} must be a mapping with token and type")
    token = _string(task, value, "token", field=f"{field}.{key}", required=True)
    kind = _string(task, value, "type", field=f"{field}.{key}", required=True)
    return token, kind
