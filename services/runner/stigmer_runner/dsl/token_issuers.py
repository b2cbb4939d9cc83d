"""Checks of an issued access token for the oauth2/oidc ``issuers`` field.

Pure functions of the token and an already fetched JWK set: no I/O and no clock, so they run
inside the workflow and replay alike. PyJWT does the decoding and the signature check. Only
``iss`` (and for oidc the signature) is checked: ``exp``, ``nbf`` and ``aud`` are not, since
the token was issued to this very run a moment ago and reading the clock here would not
replay.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import jwt

# Asymmetric algorithms only: a JWK set publishes public keys, and accepting "none" or an
# HMAC algorithm would let a token name its own key.
_FAMILIES = {
    "RSA": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    "EC": ("ES256", "ES256K", "ES384", "ES512"),
    "OKP": ("EdDSA", "Ed25519"),
}
_JWS = jwt.PyJWS()


class TokenIssuerError(Exception):
    """The token fails the ``issuers`` check; the message says why (never the token)."""


def check_issuer(token: str, issuers: Sequence[str]) -> str:
    """The token's ``iss`` when it is one of ``issuers``; raise TokenIssuerError otherwise."""
    accepted = ", ".join(repr(i) for i in issuers)
    issuer = _claims(token, accepted).get("iss")
    if not isinstance(issuer, str):
        raise TokenIssuerError(f"the access token names no issuer (iss); accepted: {accepted}")
    if issuer not in issuers:
        raise TokenIssuerError(
            f"the access token's issuer {issuer!r} is not one of the accepted issuers {accepted}"
        )
    return issuer


def verify_signature(token: str, jwks: Any, *, source: str) -> None:
    """Raise TokenIssuerError unless a key of the JWK set ``jwks`` (from ``source``, for the
    message) verifies the token's signature."""
    try:
        header = _JWS.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenIssuerError("the access token is not a JWT") from None
    algorithm, kid = header.get("alg"), header.get("kid")
    if not isinstance(algorithm, str) or not any(algorithm in f for f in _FAMILIES.values()):
        raise TokenIssuerError(
            f"the access token is signed with {algorithm!r}, not an asymmetric algorithm "
            f"a key of {source} can verify"
        )
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise TokenIssuerError(f"{source} is not a JWK set (no 'keys' list)")
    for data in keys:
        key = _key(data, algorithm, kid)
        if key is None:
            continue
        try:
            _JWS.decode_complete(token, key=key, algorithms=[algorithm])
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidTokenError as exc:
            raise TokenIssuerError(f"the access token cannot be verified: {exc}") from None
        return
    which = f"the key {kid!r}" if kid is not None else f"any {algorithm} key"
    raise TokenIssuerError(f"the access token's signature does not verify with {which} of {source}")


def _claims(token: str, accepted: str) -> Mapping[str, Any]:
    try:
        complete = _JWS.decode_complete(token, options={"verify_signature": False})
        claims = json.loads(complete["payload"])
    except (jwt.InvalidTokenError, ValueError):
        raise TokenIssuerError(
            f"the access token is not a JWT, so its issuer cannot be checked against {accepted}"
        ) from None
    if not isinstance(claims, Mapping):
        raise TokenIssuerError("the access token's payload is not a JSON object")
    return claims


def _key(data: Any, algorithm: str, kid: Any) -> jwt.PyJWK | None:
    """The signing key ``data`` describes, if it may verify ``algorithm`` for ``kid``."""
    if not isinstance(data, Mapping) or data.get("use", "sig") != "sig":
        return None
    if kid is not None and data.get("kid") != kid:
        return None
    if data.get("alg", algorithm) != algorithm:
        return None
    if algorithm not in _FAMILIES.get(str(data.get("kty")), ()):
        return None
    try:
        return jwt.PyJWK(dict(data), algorithm=algorithm)
    except jwt.PyJWTError:
        return None
