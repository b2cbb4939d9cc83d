"""The ``issuers`` checks of oauth2/oidc access tokens, on tokens minted here (no server)."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from stigmer_runner.dsl.token_issuers import TokenIssuerError, check_issuer, verify_signature

KEY = ec.generate_private_key(ec.SECP256R1())
ISSUER = "https://id.example/realms/r"


def token(claims: dict[str, Any], *, kid: str = "k1", key: Any = KEY, alg: str = "ES256") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def jwks(**extra: Any) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(KEY.public_key()))
    return {"keys": [{**public, "kid": "k1", **extra}]}


def test_an_accepted_issuer_is_returned_and_the_signature_verifies() -> None:
    issued = token({"iss": ISSUER, "exp": 1})  # long expired: exp is not checked
    assert check_issuer(issued, ["https://other", ISSUER]) == ISSUER
    verify_signature(issued, jwks(), source="jwks")


@pytest.mark.parametrize(
    ("issued", "reason"),
    [
        (token({"sub": "x"}), "names no issuer (iss); accepted: 'https://id.example/realms/r'"),
        (token({"iss": "https://evil"}), "issuer 'https://evil' is not one of the accepted"),
        ("opaque-token", "is not a JWT, so its issuer cannot be checked against 'https://id"),
    ],
)
def test_issuer_failures_say_why(issued: str, reason: str) -> None:
    with pytest.raises(TokenIssuerError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_issuer(issued, [ISSUER])


@pytest.mark.parametrize(
    ("issued", "keys", "reason"),
    [
        (
            token({"iss": ISSUER}, key="a-shared-secret-of-at-least-32-bytes", alg="HS256"),
            jwks(),
            "not an asymmetric algorithm",
        ),
        (token({"iss": ISSUER}, kid="k2"), jwks(), "does not verify with the key 'k2' of jwks"),
        (token({"iss": ISSUER}), jwks(use="enc"), "does not verify with the key 'k1'"),
        (token({"iss": ISSUER}), jwks(alg="ES384"), "does not verify with the key 'k1'"),
        (token({"iss": ISSUER}), {"keys": "none"}, "jwks is not a JWK set"),
        (
            token({"iss": ISSUER}, key=ec.generate_private_key(ec.SECP256R1())),
            jwks(),
            "does not verify with the key 'k1'",
        ),
    ],
)
def test_signature_failures_say_why(issued: str, keys: Any, reason: str) -> None:
    with pytest.raises(TokenIssuerError, match=reason):
        verify_signature(issued, keys, source="jwks")
