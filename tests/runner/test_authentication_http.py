"""oauth2, oidc and digest through the real HTTP activity against a local server.

The server is a tiny authority (OIDC discovery with a ``jwks_uri``, and a token endpoint that
checks the client's credentials and, per client, issues an opaque token or a JWT it signs)
with a bearer-protected endpoint, and a digest-protected endpoint that verifies the answer
with its own RFC 7616 computation.
"""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import httpx
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from temporalio.client import Client

from stigmer_runner.activities.http_call import HttpCallActivities
from stigmer_runner.dsl.digest_auth import parse_challenges
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from tests.local_http import serve_http
from tests.runner.http_runtime import HttpRuntime
from tests.runner.sandbox_runs import replays, run_sandboxed

HEADER = {"dsl": "1.0.3", "namespace": "default", "name": "auth", "version": "1.0.0"}
CLIENT_ID, CLIENT_SECRET, ACCESS_TOKEN = "runner", "s3cr3t", "issued-token-1"
REALM, NONCE, USER, PASSWORD = "pets@local", "abc123nonce", "Mufasa", "Circle of Life"
ROGUE_ISSUER = "https://rogue.example/idp"
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
FORGING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUED: set[str] = set()
"""Tokens the authority issued: the protected endpoint accepts these."""


def _mint(client: str, issuer: str) -> str:
    """The access token the authority issues to ``client``: opaque, or a JWT."""
    if client == CLIENT_ID:
        return ACCESS_TOKEN
    claims = {"iss": ROGUE_ISSUER if client == "rogue" else issuer, "sub": client}
    key = FORGING_KEY if client == "forger" else SIGNING_KEY
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "signing-1"})
    ISSUED.add(token)
    return token


def _jwks() -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    return {"keys": [{**public, "kid": "signing-1", "use": "sig", "alg": "RS256"}]}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/idp/.well-known/openid-configuration":
            host = self.headers["Host"]
            self._reply(
                200,
                {
                    "token_endpoint": f"http://{host}/idp/protocol/token",
                    "jwks_uri": f"http://{host}/idp/jwks",
                },
            )
        elif self.path == "/idp/jwks":
            self._reply(200, _jwks())
        elif self.path == "/api/pets/1":
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            if scheme == "Bearer" and (token == ACCESS_TOKEN or token in ISSUED):
                self._reply(200, {"id": 1, "name": "doggie"})
            else:
                self._reply(401, {"error": "no token"})
        elif self.path.startswith("/digest/"):
            self._digest()
        else:
            self._reply(404, {"error": "no such route"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        if self.path not in ("/idp/oauth2/token", "/idp/protocol/token"):
            self._reply(404, {"error": "no such route"})
            return
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        client = (form.get("client_id", [""])[0], form.get("client_secret", [""])[0])
        if scheme == "Basic":
            user, _, secret = base64.b64decode(encoded).decode().partition(":")
            client = (unquote_plus(user), unquote_plus(secret))
        known = client[0] in (CLIENT_ID, "jwt-client", "rogue", "forger")
        if (
            not known
            or client[1] != CLIENT_SECRET
            or form.get("grant_type") != ["client_credentials"]
        ):
            self._reply(401, {"error": "invalid_client", "error_description": "who are you?"})
            return
        token = _mint(client[0], f"http://{self.headers['Host']}/idp")
        self._reply(200, {"access_token": token, "token_type": "Bearer"})

    def _digest(self) -> None:
        challenge = f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{NONCE}"'
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        if scheme != "Digest":
            self._reply(401, {"error": "login"}, {"WWW-Authenticate": challenge})
            return
        ((_, p),) = parse_challenges("Digest " + credentials)

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{USER}:{REALM}:{PASSWORD}")
        ha2 = md5(f"GET:{self.path}")
        expected = md5(f"{ha1}:{NONCE}:{p['nc']}:{p['cnonce']}:auth:{ha2}")
        if p.get("uri") != self.path or p.get("response") != expected:
            self._reply(401, {"error": "wrong answer"}, {"WWW-Authenticate": challenge})
            return
        self._reply(200, {"user": p["username"], "path": self.path})


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_http(_Handler) as url:
        yield url


@pytest.fixture
async def runtime() -> AsyncIterator[HttpRuntime]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield HttpRuntime(HttpCallActivities(http=http))


async def run(runtime: HttpRuntime, uri: str, policy: str) -> Any:
    text = f"""
    do:
      - getPet:
          call: http
          with:
            method: get
            endpoint:
              uri: {uri}
              authentication:
                {policy}
          output:
            as: '${{ {{content: ., authorization: $authorization}} }}'
    """
    doc = {"document": HEADER, **yaml.safe_load(textwrap.dedent(text))}
    return await Interpreter(doc, runtime=runtime).run({"secret": CLIENT_SECRET})


@pytest.mark.parametrize(
    "policy",
    [
        "oauth2: {authority: AUTH, client: {id: runner, secret: '${ .secret }'}}",
        "oauth2: {authority: AUTH, client: {id: runner, secret: s3cr3t, "
        "authentication: client_secret_basic}}",
        "oidc: {authority: AUTH, grant: client_credentials, client: {id: runner, secret: s3cr3t}}",
    ],
)
async def test_token_from_the_authority_opens_the_protected_endpoint(
    server: str, runtime: HttpRuntime, policy: str
) -> None:
    output = await run(runtime, f"{server}/api/pets/1", policy.replace("AUTH", f"{server}/idp"))
    assert output == {
        "content": {"id": 1, "name": "doggie"},
        "authorization": {"scheme": "Bearer", "parameter": ACCESS_TOKEN},
    }


async def test_a_refused_client_is_an_authentication_error(
    server: str, runtime: HttpRuntime
) -> None:
    policy = f"oauth2: {{authority: {server}/idp, client: {{id: runner, secret: wrong}}}}"
    with pytest.raises(WorkflowError) as caught:
        await run(runtime, f"{server}/api/pets/1", policy)
    body = caught.value.problem
    assert (body["type"], body["status"]) == (ErrorType.AUTHENTICATION, 401)
    assert f"{server}/idp: the token endpoint returned HTTP 401: who are you?" in body["detail"]
    assert len(runtime.requests) == 1


def issuers_policy(scheme: str, server: str, client: str) -> str:
    return (
        f"{scheme}: {{authority: {server}/idp, client: {{id: {client}, secret: s3cr3t}}, "
        f"issuers: [https://other.example, {server}/idp]}}"
    )


@pytest.mark.parametrize("scheme", ["oauth2", "oidc"])
async def test_issuers_accept_a_jwt_from_a_listed_issuer(
    server: str, runtime: HttpRuntime, scheme: str
) -> None:
    output = await run(
        runtime, f"{server}/api/pets/1", issuers_policy(scheme, server, "jwt-client")
    )
    assert output["content"] == {"id": 1, "name": "doggie"}
    token = output["authorization"]["parameter"]
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == f"{server}/idp"
    # oidc verifies the signature with the keys its discovery document points at.
    fetched_keys = [r.url for r in runtime.requests if r.url.endswith("/idp/jwks")]
    assert fetched_keys == ([f"{server}/idp/jwks"] if scheme == "oidc" else [])


@pytest.mark.parametrize(
    ("scheme", "client", "reason"),
    [
        ("oauth2", "rogue", f"the access token's issuer {ROGUE_ISSUER!r} is not one of"),
        ("oidc", "rogue", f"the access token's issuer {ROGUE_ISSUER!r} is not one of"),
        ("oauth2", CLIENT_ID, "the access token is not a JWT, so its issuer cannot be checked"),
        ("oidc", "forger", "the access token's signature does not verify with the key 'signing-1'"),
    ],
)
async def test_a_token_failing_the_issuers_check_is_an_authentication_error(
    server: str, runtime: HttpRuntime, scheme: str, client: str, reason: str
) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(runtime, f"{server}/api/pets/1", issuers_policy(scheme, server, client))
    body = caught.value.problem
    assert (body["type"], body["status"]) == (ErrorType.AUTHENTICATION, 401)
    assert f"cannot obtain an access token from {server}/idp: {reason}" in body["detail"]
    assert f"'{server}/idp'" in body["detail"] or client == "forger"  # the accepted issuers
    # The protected endpoint is never called with a token that failed the check.
    assert not any(r.url.endswith("/api/pets/1") for r in runtime.requests)


async def test_digest_protected_endpoint(server: str, runtime: HttpRuntime) -> None:
    policy = f"digest: {{username: {USER}, password: {PASSWORD}}}"
    output = await run(runtime, f"{server}/digest/pets?page=2", policy)
    assert output["content"] == {"user": USER, "path": "/digest/pets?page=2"}
    assert output["authorization"]["scheme"] == "Digest"
    assert len(runtime.requests) == 2


async def test_a_wrong_digest_password_fails_with_the_servers_401(
    server: str, runtime: HttpRuntime
) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(runtime, f"{server}/digest/pets", f"digest: {{username: {USER}, password: nope}}")
    assert (caught.value.problem["type"], caught.value.problem["status"]) == (
        ErrorType.COMMUNICATION,
        401,
    )


@pytest.mark.integration
async def test_oidc_and_digest_run_in_the_workflow_sandbox_and_replay(
    temporal_address: str, server: str
) -> None:
    """Token and challenge round trips are activities; the cnonce is the same on replay, and
    so is the issuers check (PyJWT, passed through the sandbox, verifies the signature)."""
    oidc = {
        "authority": f"{server}/idp",
        "client": {"id": "jwt-client", "secret": CLIENT_SECRET},
        "issuers": [f"{server}/idp"],
    }
    document = {
        "document": HEADER,
        "do": [
            {
                "pet": {
                    "call": "http",
                    "with": {
                        "method": "get",
                        "endpoint": {
                            "uri": f"{server}/api/pets/1",
                            "authentication": {"oidc": oidc},
                        },
                    },
                    "export": {"as": "{pet: .name}"},
                }
            },
            {
                "owner": {
                    "call": "http",
                    "with": {
                        "method": "get",
                        "endpoint": {
                            "uri": f"{server}/digest/owner",
                            "authentication": {"digest": {"username": USER, "password": PASSWORD}},
                        },
                    },
                    "output": {"as": "{pet: $context.pet, user: .user}"},
                }
            },
        ],
    }
    client = await Client.connect(temporal_address)
    result, handle = await run_sandboxed(
        client, {"document": document, "input": {}}, name="auth-sandbox"
    )
    assert result["error"] is None
    assert result["output"] == {"pet": "doggie", "user": USER}
    await replays(handle)
