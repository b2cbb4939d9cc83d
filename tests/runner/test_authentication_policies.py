"""oauth2, oidc and digest policies of ``call: http``, with scripted responses (no network)."""

from __future__ import annotations

import base64
import textwrap
from typing import Any
from urllib.parse import parse_qs

import pytest
import yaml

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse
from stigmer_runner.dsl.digest_auth import parse_challenges
from stigmer_runner.dsl.errors import ErrorType, WorkflowError, problem
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.fakes import FakeRuntime, Responder, json_response

HEADER = {"dsl": "1.0.3", "namespace": "default", "name": "auth", "version": "1.0.0"}
AUTHORITY = "https://id.example/realms/r"
API = "https://api.example/pets/1"


def authority(token: str = "t0k3n", *, status: int = 200) -> Responder:
    """An authority with OIDC discovery and a token endpoint at both default paths."""

    def respond(request: HttpRequest) -> HttpResponse:
        if request.url == f"{AUTHORITY}/.well-known/openid-configuration":
            return json_response(request, {"token_endpoint": f"{AUTHORITY}/protocol/token"})
        if request.url in (f"{AUTHORITY}/oauth2/token", f"{AUTHORITY}/protocol/token"):
            if status != 200:
                return json_response(
                    request,
                    {"error": "invalid_client", "error_description": "bad secret"},
                    status=status,
                )
            return json_response(request, {"access_token": token, "token_type": "Bearer"})
        if request.url == f"{AUTHORITY}/auth/token":
            return json_response(request, {"access_token": "custom", "token_type": "Bearer"})
        return json_response(request, {"pet": 1, "auth": request.headers.get("Authorization")})

    return respond


async def call(
    policy: dict[str, Any], responder: Responder, *, extra: str = "", **options: Any
) -> tuple[Any, FakeRuntime]:
    runtime = FakeRuntime(responder)
    doc = {"document": HEADER, **yaml.safe_load(textwrap.dedent(extra) or "{}")}
    doc["do"] = [
        {
            "getPet": {
                "call": "http",
                "with": {"method": "get", "endpoint": {"uri": API, "authentication": policy}},
                "output": {"as": "${ {content: ., authorization: $authorization} }"},
            }
        }
    ]
    output = await Interpreter(doc, runtime=runtime, **options).run({"secret": "s3cr3t"})
    return output, runtime


def form(request: HttpRequest) -> dict[str, list[str]]:
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert isinstance(request.body, str)
    return parse_qs(request.body)


async def test_oauth2_client_credentials_like_the_dsl_example() -> None:
    # authentication-oauth2.yaml, with the client secret from an expression.
    policy = {
        "oauth2": {
            "authority": AUTHORITY,
            "endpoints": {"token": "/auth/token", "introspection": "/auth/introspect"},
            "grant": "client_credentials",
            "client": {"id": "workflow-runtime-id", "secret": "${ .secret }"},
        }
    }
    output, runtime = await call(policy, authority())
    token_request, api_request = runtime.requests
    assert (token_request.method, token_request.url) == ("POST", f"{AUTHORITY}/auth/token")
    assert form(token_request) == {
        "grant_type": ["client_credentials"],
        "client_id": ["workflow-runtime-id"],
        "client_secret": ["s3cr3t"],
    }
    assert api_request.headers == {"Authorization": "Bearer custom"}
    assert output == {
        "content": {"pet": 1, "auth": "Bearer custom"},
        "authorization": {"scheme": "Bearer", "parameter": "custom"},
    }


async def test_oauth2_client_secret_basic_scopes_and_audiences() -> None:
    policy = {
        "oauth2": {
            "authority": AUTHORITY + "/",
            "grant": "client_credentials",
            "client": {"id": "my id", "secret": "p@ss", "authentication": "client_secret_basic"},
            "scopes": ["pets:read", "pets:write"],
            "audiences": ["pets", "store"],
        }
    }
    _, runtime = await call(policy, authority())
    token_request = runtime.requests[0]
    assert token_request.url == f"{AUTHORITY}/oauth2/token"
    expected = base64.b64encode(b"my+id:p%40ss").decode()
    assert token_request.headers["Authorization"] == f"Basic {expected}"
    assert form(token_request) == {
        "grant_type": ["client_credentials"],
        "scope": ["pets:read pets:write"],
        "audience": ["pets", "store"],
    }


async def test_oauth2_password_grant_with_a_public_client_and_json_encoding() -> None:
    policy = {
        "oauth2": {
            "authority": AUTHORITY,
            "grant": "password",
            "username": "alice",
            "password": "${ .secret }",
            "client": {"id": "cli", "authentication": "none"},
            "request": {"encoding": "application/json"},
        }
    }
    _, runtime = await call(policy, authority("pw-token"))
    token_request = runtime.requests[0]
    assert token_request.headers["Content-Type"] == "application/json"
    assert token_request.body == {
        "grant_type": "password",
        "username": "alice",
        "password": "s3cr3t",
        "client_id": "cli",
    }
    assert runtime.requests[1].headers["Authorization"] == "Bearer pw-token"


async def test_oauth2_refresh_token_and_token_exchange_grants() -> None:
    refresh = {
        "oauth2": {
            "authority": AUTHORITY,
            "grant": "refresh_token",
            "subject": {"token": "r-1", "type": "urn:ietf:params:oauth:token-type:refresh_token"},
        }
    }
    _, runtime = await call(refresh, authority())
    assert form(runtime.requests[0]) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["r-1"],
    }
    exchange = {
        "oauth2": {
            "authority": AUTHORITY,
            "grant": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject": {"token": "subj", "type": "urn:ietf:params:oauth:token-type:jwt"},
            "actor": {"token": "act", "type": "urn:ietf:params:oauth:token-type:access_token"},
            "audiences": ["pets"],
        }
    }
    _, runtime = await call(exchange, authority())
    assert form(runtime.requests[0]) == {
        "grant_type": ["urn:ietf:params:oauth:grant-type:token-exchange"],
        "subject_token": ["subj"],
        "subject_token_type": ["urn:ietf:params:oauth:token-type:jwt"],
        "actor_token": ["act"],
        "actor_token_type": ["urn:ietf:params:oauth:token-type:access_token"],
        "audience": ["pets"],
    }


async def test_oidc_discovers_the_token_endpoint_from_a_secret_policy() -> None:
    # authentication-oidc-secret.yaml: the whole policy is a secret.
    secret = {
        "authority": AUTHORITY,
        "grant": "client_credentials",
        "client": {"id": "workflow-runtime-id", "secret": "workflow-runtime-secret"},
    }
    output, runtime = await call(
        {"oidc": {"use": "mySecret"}},
        authority("oidc-token"),
        extra="use: {secrets: [mySecret]}",
        secrets={"mySecret": secret},
    )
    discovery, token_request, api_request = runtime.requests
    assert discovery.url == f"{AUTHORITY}/.well-known/openid-configuration"
    assert token_request.url == f"{AUTHORITY}/protocol/token"
    assert form(token_request)["client_secret"] == ["workflow-runtime-secret"]
    assert api_request.headers == {"Authorization": "Bearer oidc-token"}
    assert output["authorization"] == {"scheme": "Bearer", "parameter": "oidc-token"}


async def test_reusable_oauth2_policy() -> None:
    extra = f"""
    use:
      authentications:
        idp:
          oauth2:
            authority: {AUTHORITY}
            client: {{id: a, secret: b}}
    """
    _, runtime = await call({"use": "idp"}, authority("reused"), extra=extra)
    assert runtime.requests[1].headers == {"Authorization": "Bearer reused"}


async def test_a_refused_token_request_is_an_authentication_error() -> None:
    policy = {"oauth2": {"authority": AUTHORITY, "client": {"id": "a", "secret": "wrong"}}}
    with pytest.raises(WorkflowError) as caught:
        await call(policy, authority(status=401))
    body = caught.value.problem
    assert (body["type"], body["status"]) == (ErrorType.AUTHENTICATION, 401)
    assert body["instance"] == "/do/0/getPet"
    assert AUTHORITY in body["detail"]
    assert "HTTP 401: bad secret" in body["detail"]


async def test_an_unreachable_authority_is_an_authentication_error() -> None:
    def down(request: HttpRequest) -> HttpResponse | Exception:
        failure = problem(ErrorType.COMMUNICATION, detail="connection refused", status=502)
        return WorkflowError(failure)

    with pytest.raises(WorkflowError) as caught:
        await call({"oidc": {"authority": AUTHORITY}}, down)
    body = caught.value.problem
    assert (body["type"], body["status"]) == (ErrorType.AUTHENTICATION, 401)
    assert f"from {AUTHORITY}: connection refused" in body["detail"]


async def test_a_token_response_without_access_token_is_an_authentication_error() -> None:
    def empty(request: HttpRequest) -> HttpResponse:
        return json_response(request, {"token_type": "Bearer"})

    with pytest.raises(WorkflowError) as caught:
        await call({"oauth2": {"authority": AUTHORITY}}, empty)
    assert caught.value.problem["type"] == ErrorType.AUTHENTICATION
    assert "has no access_token" in caught.value.problem["detail"]


@pytest.mark.parametrize(
    ("policy", "detail"),
    [
        ({"oauth2": {"grant": "client_credentials"}}, "oauth2.authority must be a non-empty"),
        (
            {"oauth2": {"authority": AUTHORITY, "grant": "authorization_code"}},
            "authorization_code needs a user",
        ),
        (
            {
                "oidc": {
                    "authority": AUTHORITY,
                    "client": {"id": "a", "authentication": "private_key_jwt"},
                }
            },
            "oidc.client.authentication 'private_key_jwt' is not supported yet",
        ),
        ({"oauth2": {"authority": AUTHORITY, "grant": "password"}}, "oauth2.username must be"),
        (
            {"oauth2": {"authority": AUTHORITY, "grant": "refresh_token"}},
            "oauth2.subject must be a mapping",
        ),
        ({"oauth2": {"authority": AUTHORITY, "scopes": "a b"}}, "scopes must be a list"),
    ],
)
async def test_unusable_token_policies_are_configuration_errors(
    policy: dict[str, Any], detail: str
) -> None:
    with pytest.raises(WorkflowError) as caught:
        await call(policy, authority())
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert "task 'getPet'" in caught.value.problem["detail"]
    assert detail in caught.value.problem["detail"]


# --- digest -------------------------------------------------------------------------------

CHALLENGE = 'Digest realm="pets", qop="auth", algorithm=SHA-256, nonce="n0nce", opaque="op"'


def digest_server(request: HttpRequest) -> HttpResponse:
    if "Authorization" not in request.headers:
        return json_response(
            request, {"error": "login"}, status=401, headers={"www-authenticate": CHALLENGE}
        )
    return json_response(request, {"pet": 1})


async def test_digest_answers_the_servers_challenge() -> None:
    policy = {"digest": {"username": "Mufasa", "password": "${ .secret }"}}
    output, runtime = await call(policy, digest_server)
    first, second = runtime.requests
    assert "Authorization" not in first.headers
    scheme, _, credentials = second.headers["Authorization"].partition(" ")
    ((_, params),) = parse_challenges("Digest " + credentials)
    assert scheme == "Digest"
    assert params["username"] == "Mufasa"
    assert params["uri"] == "/pets/1"
    assert params["nonce"] == "n0nce"
    assert params["opaque"] == "op"
    # FakeRuntime.random() is 0.5: the cnonce is drawn from the replay-safe random.
    assert params["cnonce"] == "80000000" * 4
    assert output["content"] == {"pet": 1}
    assert output["authorization"] == {"scheme": "Digest", "parameter": credentials}


async def test_digest_credentials_from_a_secret_and_a_refused_answer() -> None:
    def refuse(request: HttpRequest) -> HttpResponse:
        return json_response(
            request, {"error": "no"}, status=401, headers={"www-authenticate": CHALLENGE}
        )

    with pytest.raises(WorkflowError) as caught:
        await call(
            {"digest": {"use": "creds"}},
            refuse,
            secrets={"creds": {"username": "u", "password": "p"}},
        )
    # The server refused the answer: a communication error with its status, as for any 401.
    assert (caught.value.problem["type"], caught.value.problem["status"]) == (
        ErrorType.COMMUNICATION,
        401,
    )


async def test_digest_on_a_server_that_asks_nothing_sends_one_request() -> None:
    output, runtime = await call({"digest": {"username": "u", "password": "p"}}, authority())
    assert len(runtime.requests) == 1
    assert output["authorization"] is None


async def test_an_unsupported_digest_challenge_is_an_authentication_error() -> None:
    def sha512(request: HttpRequest) -> HttpResponse:
        header = 'Digest realm="r", nonce="n", algorithm=SHA-512-256'
        return json_response(request, None, status=401, headers={"www-authenticate": header})

    with pytest.raises(WorkflowError) as caught:
        await call({"digest": {"username": "u", "password": "p"}}, sha512)
    assert (caught.value.problem["type"], caught.value.problem["status"]) == (
        ErrorType.AUTHENTICATION,
        401,
    )
    assert f"GET {API}: no supported Digest challenge" in caught.value.problem["detail"]


async def test_call_openapi_operation_gets_an_oauth2_token() -> None:
    document = {
        "openapi": "3.0.0",
        "info": {"title": "Pets", "version": "1"},
        "servers": [{"url": "https://api.example"}],
        "paths": {"/pets/1": {"get": {"operationId": "getPet", "responses": {}}}},
    }

    def respond(request: HttpRequest) -> HttpResponse:
        if request.url == "https://docs.example/pets.json":
            return json_response(request, document)
        return authority("api-token")(request)

    runtime = FakeRuntime(respond)
    policy = {"oauth2": {"authority": AUTHORITY, "client": {"id": "a", "secret": "b"}}}
    doc = {
        "document": HEADER,
        "do": [
            {
                "getPet": {
                    "call": "openapi",
                    "with": {
                        "document": {"endpoint": "https://docs.example/pets.json"},
                        "operationId": "getPet",
                        "authentication": policy,
                    },
                }
            }
        ],
    }
    output = await Interpreter(doc, runtime=runtime).run({})
    fetch, token_request, operation = runtime.requests
    assert "Authorization" not in fetch.headers
    assert token_request.url == f"{AUTHORITY}/oauth2/token"
    assert operation.headers["Authorization"] == "Bearer api-token"
    assert output == {"pet": 1, "auth": "Bearer api-token"}
