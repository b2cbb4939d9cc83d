"""HTTP Digest access authentication (RFC 7616): parse challenges, compute the response.

Pure functions only, so the interpreter can use them between two ``call_http`` round
trips. Supported: algorithms MD5, SHA-256 and their ``-sess`` variants, ``qop=auth`` or no
qop (RFC 2069 servers), and ``userhash``. ``qop=auth-int`` alone is not supported.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

_HASHES = {"MD5": "md5", "SHA-256": "sha256"}
# Preferred first: the strongest algorithm a server offers wins.
_PREFERENCE = ("SHA-256", "SHA-256-SESS", "MD5", "MD5-SESS")
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')
_SCHEME = re.compile(rf"\s*,?\s*({_TOKEN})(?:\s+|$|(?=,))")


class DigestError(ValueError):
    """A challenge that cannot be answered (unsupported algorithm or qop, no nonce)."""


@dataclass(frozen=True)
class DigestChallenge:
    """One ``Digest`` challenge of a ``WWW-Authenticate`` header."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    userhash: bool = False


def parse_challenges(header: str) -> list[tuple[str, dict[str, str]]]:
    """Split a ``WWW-Authenticate`` value (possibly several joined by ", ") into challenges.

    Each challenge is (scheme, parameters) with parameter names lower-cased and quoted
    values unquoted. Token68 challenges (``Negotiate abc==``) keep no parameters.
    """
    challenges: list[tuple[str, dict[str, str]]] = []
    position = 0
    while position < len(header):
        scheme = _SCHEME.match(header, position)
        if scheme is None or scheme.end() == position:
            # A token68 or garbage: skip to the next comma-separated item.
            comma = header.find(",", position)
            position = len(header) if comma < 0 else comma + 1
            continue
        params: dict[str, str] = {}
        position = scheme.end()
        while position < len(header):
            param = _PARAM.match(header, position)
            if param is None:
                break  # the next challenge starts here
            name, value = param.group(1).lower(), param.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params[name] = value
            position = param.end()
        challenges.append((scheme.group(1), params))
    return challenges


def select_challenge(header: str) -> DigestChallenge | None:
    """The best ``Digest`` challenge in ``header`` this module can answer, or None if none.

    Raises :class:`DigestError` when the server offers Digest only in forms not supported.
    """
    offered: list[DigestChallenge] = []
    for scheme, params in parse_challenges(header):
        if scheme.lower() != "digest":
            continue
        if "nonce" not in params:
            raise DigestError("the Digest challenge has no nonce")
        qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
        offered.append(
            DigestChallenge(
                realm=params.get("realm", ""),
                nonce=params["nonce"],
                algorithm=params.get("algorithm", "MD5").upper(),
                qop=qop,
                opaque=params.get("opaque"),
                userhash=params.get("userhash", "").lower() == "true",
            )
        )
    if not offered:
        return None
    usable = [c for c in offered if c.algorithm in _PREFERENCE and (not c.qop or "auth" in c.qop)]
    if not usable:
        described = ", ".join(f"algorithm={c.algorithm} qop={','.join(c.qop)}" for c in offered)
        raise DigestError(f"no supported Digest challenge (offered: {described})")
    return min(usable, key=lambda c: _PREFERENCE.index(c.algorithm))


def digest_authorization(
    challenge: DigestChallenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    cnonce: str,
    nc: int = 1,
) -> str:
    """The credentials (after ``Digest ``) answering ``challenge`` for ``method`` ``uri``.

    ``uri`` is the request target as sent (path and query); ``cnonce`` must be unpredictable
    to the server (the interpreter draws it from the runtime's replay-safe random).
    """
    algorithm = challenge.algorithm
    session = algorithm.endswith("-SESS")
    name = _HASHES[algorithm.removesuffix("-SESS")]

    def h(text: str) -> str:
        return hashlib.new(name, text.encode()).hexdigest()

    ha1 = h(f"{username}:{challenge.realm}:{password}")
    if session:
        ha1 = h(f"{ha1}:{challenge.nonce}:{cnonce}")
    ha2 = h(f"{method.upper()}:{uri}")
    nc_text = f"{nc:08x}"
    if challenge.qop:
        response = h(f"{ha1}:{challenge.nonce}:{nc_text}:{cnonce}:auth:{ha2}")
    else:
        response = h(f"{ha1}:{challenge.nonce}:{ha2}")
    fields: dict[str, str | None] = {
        "username": h(f"{username}:{challenge.realm}") if challenge.userhash else username,
        "realm": challenge.realm,
        "uri": uri,
        "algorithm": challenge.algorithm,
        "nonce": challenge.nonce,
        "nc": nc_text if challenge.qop else None,
        "cnonce": cnonce if challenge.qop else None,
        "qop": "auth" if challenge.qop else None,
        "response": response,
        "opaque": challenge.opaque,
        "userhash": "true" if challenge.userhash else None,
    }
    return _join(fields)


_UNQUOTED = frozenset({"algorithm", "nc", "qop", "userhash"})


def _join(fields: Mapping[str, str | None]) -> str:
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        if key in _UNQUOTED:
            parts.append(f"{key}={value}")
        else:
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'{key}="{escaped}"')
    return ", ".join(parts)
