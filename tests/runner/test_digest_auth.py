"""HTTP Digest computation against RFC 7616's worked example (section 3.9.1)."""

from __future__ import annotations

import hashlib

import pytest

from stigmer_runner.dsl.digest_auth import (
    DigestChallenge,
    DigestError,
    digest_authorization,
    parse_challenges,
    select_challenge,
)

NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
REALM = "http-auth@example.org"
# The server's two challenges, as one header (repeated headers are joined with ", ").
CHALLENGES = (
    f'Digest realm="{REALM}", qop="auth, auth-int", algorithm=SHA-256, nonce="{NONCE}", '
    f'opaque="{OPAQUE}", Digest realm="{REALM}", qop="auth, auth-int", algorithm=MD5, '
    f'nonce="{NONCE}", opaque="{OPAQUE}"'
)


def answer(challenge: DigestChallenge) -> str:
    return digest_authorization(
        challenge,
        username="Mufasa",
        password="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce=CNONCE,
    )


def fields(credentials: str) -> dict[str, str]:
    ((scheme, params),) = parse_challenges("Digest " + credentials)
    assert scheme == "Digest"
    return params


@pytest.mark.parametrize(
    ("algorithm", "response"),
    [
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ],
)
def test_rfc_7616_example_responses(algorithm: str, response: str) -> None:
    challenge = DigestChallenge(
        realm=REALM, nonce=NONCE, algorithm=algorithm, qop=("auth", "auth-int"), opaque=OPAQUE
    )
    assert fields(answer(challenge)) == {
        "username": "Mufasa",
        "realm": REALM,
        "uri": "/dir/index.html",
        "algorithm": algorithm,
        "nonce": NONCE,
        "nc": "00000001",
        "cnonce": CNONCE,
        "qop": "auth",
        "response": response,
        "opaque": OPAQUE,
    }


def test_the_strongest_offered_challenge_is_chosen() -> None:
    challenge = select_challenge(CHALLENGES)
    assert challenge == DigestChallenge(
        realm=REALM, nonce=NONCE, algorithm="SHA-256", qop=("auth", "auth-int"), opaque=OPAQUE
    )
    only_md5 = select_challenge(f'Basic realm="x", Digest realm="{REALM}", nonce="{NONCE}"')
    assert only_md5 == DigestChallenge(realm=REALM, nonce=NONCE)


def test_other_schemes_and_token68_are_skipped() -> None:
    assert parse_challenges('Negotiate abc==, Basic realm="a, b", Bearer') == [
        ("Negotiate", {"abc": "="}),
        ("Basic", {"realm": "a, b"}),
        ("Bearer", {}),
    ]
    assert select_challenge('Basic realm="x"') is None


def test_without_qop_the_rfc_2069_response() -> None:
    challenge = DigestChallenge(realm=REALM, nonce=NONCE)
    params = fields(answer(challenge))
    assert not {"qop", "cnonce", "nc"} & params.keys()

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"Mufasa:{REALM}:Circle of Life")
    assert params["response"] == md5(f"{ha1}:{NONCE}:{md5('GET:/dir/index.html')}")


def test_session_algorithm_and_userhash() -> None:
    challenge = DigestChallenge(
        realm=REALM, nonce=NONCE, algorithm="SHA-256-SESS", qop=("auth",), userhash=True
    )
    params = fields(answer(challenge))

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    ha1 = sha(f"{sha(f'Mufasa:{REALM}:Circle of Life')}:{NONCE}:{CNONCE}")
    ha2 = sha("GET:/dir/index.html")
    assert params["response"] == sha(f"{ha1}:{NONCE}:00000001:{CNONCE}:auth:{ha2}")
    assert params["username"] == sha(f"Mufasa:{REALM}")
    assert params["userhash"] == "true"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ('Digest realm="r", nonce="n", algorithm=SHA-512-256', "algorithm=SHA-512-256"),
        ('Digest realm="r", nonce="n", qop="auth-int"', "qop=auth-int"),
        ('Digest realm="r"', "has no nonce"),
    ],
)
def test_unanswerable_challenges(header: str, message: str) -> None:
    with pytest.raises(DigestError, match=message):
        select_challenge(header)


def test_quotes_in_values_are_escaped() -> None:
    challenge = DigestChallenge(realm='say "hi"', nonce="n")
    assert fields(answer(challenge))["realm"] == 'say "hi"'
