"""A Temporal codec server: lets Temporal's UI and CLI show payloads Stigmer encrypted.

Temporal's tools call ``POST /decode`` with ``{"payloads": [...]}`` (payloads in protobuf
JSON) and show what comes back (the protocol of Temporal's "codec server" documentation).
Only decoding is offered: operators read histories, they do not need to forge inputs.
Anyone who can reach this server can read every secret in every history, so it binds to
loopback by default and requires a bearer token on any other interface.
"""

from __future__ import annotations

import hmac
import json

from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads

from stigmer_core.payload_codec import AesGcmPayloadCodec, PayloadDecryptionError


def codec_app(
    codec: AesGcmPayloadCodec, *, token: str | None, allowed_origins: list[str]
) -> Starlette:
    """The codec server's ASGI app: ``POST /decode``; ``token`` (if set) as a bearer token."""

    async def decode(request: Request) -> Response:
        if token is not None and not hmac.compare_digest(
            request.headers.get("authorization", ""), f"Bearer {token}"
        ):
            return JSONResponse({"error": "a valid bearer token is required"}, status_code=401)
        try:
            body = json.loads(await request.body())
            payloads = ParseDict(body, Payloads())
        except (ValueError, ParseError) as exc:
            return JSONResponse(
                {"error": f'the body must be {{"payloads": [...]}} in protobuf JSON: {exc}'},
                status_code=400,
            )
        try:
            decoded = await codec.decode(payloads.payloads)
        except PayloadDecryptionError as exc:
            return JSONResponse({"error": exc.message}, status_code=400)
        return JSONResponse(MessageToDict(Payloads(payloads=decoded)))

    return Starlette(
        routes=[Route("/decode", decode, methods=["POST"])],
        middleware=[
            # The UI calls from the browser, with the user's credentials and its namespace.
            Middleware(
                CORSMiddleware,
                allow_origins=allowed_origins,
                allow_methods=["POST"],
                allow_headers=["Authorization", "Content-Type", "X-Namespace"],
                allow_credentials=True,
            )
        ],
    )
