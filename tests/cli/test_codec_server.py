"""`stigmer codec-server`'s app: Temporal's decode protocol, a token, and clear refusals."""

from __future__ import annotations

import base64
import os

import httpx
from google.protobuf.json_format import MessageToDict, ParseDict
from temporalio.api.common.v1 import Payloads
from temporalio.converter import DataConverter

from stigmer_cli.codec_server import codec_app
from stigmer_core.payload_codec import AesGcmPayloadCodec
from stigmer_core.payload_keys import PayloadKey, PayloadKeyring

SECRET = "s3cr3t-value-for-tests"


def _codec(key_id: str = "k1") -> AesGcmPayloadCodec:
    key = PayloadKey(key_id=key_id, secret=os.urandom(32))
    return AesGcmPayloadCodec(keyring=PayloadKeyring(current=key))


async def _post(app: object, body: object, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as client:
        return await client.post("/decode", json=body, headers=headers)


async def _sealed_body(codec: AesGcmPayloadCodec) -> dict[str, object]:
    sealed = await codec.encode(await DataConverter.default.encode([{"apiKey": SECRET}]))
    return MessageToDict(Payloads(payloads=sealed))


async def test_decode_returns_the_clear_payloads() -> None:
    codec = _codec()
    body = await _sealed_body(codec)
    assert SECRET not in str(body)
    response = await _post(codec_app(codec, token=None, allowed_origins=[]), body)
    assert response.status_code == 200
    decoded = ParseDict(response.json(), Payloads()).payloads
    assert await DataConverter.default.decode(decoded) == [{"apiKey": SECRET}]
    assert base64.b64decode(response.json()["payloads"][0]["metadata"]["encoding"]) == (
        b"json/plain"
    )


async def test_a_token_is_required_when_set() -> None:
    codec = _codec()
    app = codec_app(codec, token="t0ken", allowed_origins=[])
    body = await _sealed_body(codec)
    assert (await _post(app, body)).status_code == 401
    assert (await _post(app, body, Authorization="Bearer wrong")).status_code == 401
    assert (await _post(app, body, Authorization="Bearer t0ken")).status_code == 200


async def test_an_unknown_key_and_a_bad_body_are_400_with_a_reason() -> None:
    app = codec_app(_codec("k2"), token=None, allowed_origins=[])
    unknown = await _post(app, await _sealed_body(_codec("k1")))
    assert unknown.status_code == 400
    assert "'k1'" in unknown.json()["error"]
    bad = await _post(app, {"payloads": "nope"})
    assert bad.status_code == 400
    assert "protobuf JSON" in bad.json()["error"]


async def test_the_temporal_ui_origin_may_call_from_the_browser() -> None:
    app = codec_app(_codec(), token=None, allowed_origins=["http://localhost:8233"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as client:
        response = await client.options(
            "/decode",
            headers={
                "Origin": "http://localhost:8233",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
            },
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:8233"
