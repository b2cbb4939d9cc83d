"""``stigmer codec-server``: decode encrypted Temporal payloads for Temporal's UI and CLI."""

from __future__ import annotations

from typing import Annotated

import typer

from stigmer_cli.runtime import Runtime, run_command
from stigmer_cli.urls import is_loopback_host
from stigmer_core.errors import StigmerError, ValidationFailedError
from stigmer_core.payload_codec import AesGcmPayloadCodec
from stigmer_core.temporal_connect import payload_keyring

CODEC_SERVER_HELP = (
    "Serve Temporal's codec-server protocol (POST /decode) with the payload keys of this "
    "environment (STIGMER_PAYLOAD_KEY and STIGMER_PAYLOAD_PREVIOUS_KEYS, or "
    "STIGMER_PAYLOAD_KEYS_FILE), so Temporal's UI and CLI show encrypted payloads in clear:\n\n"
    "temporal workflow show -w ID --codec-endpoint http://127.0.0.1:8888 "
    '--codec-auth "Bearer $STIGMER_CODEC_SERVER_TOKEN"\n\n'
    "Whoever reaches it can read every secret in every history: it listens on loopback by "
    "default and needs STIGMER_CODEC_SERVER_TOKEN on any other interface."
)


def codec_server(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8888,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-origin",
            help="Origin of a Temporal UI allowed to call from the browser (repeatable), "
            "e.g. http://localhost:8233.",
        ),
    ] = None,
) -> None:
    async def command(rt: Runtime) -> int:
        keyring = payload_keyring(rt.settings)
        if keyring is None:
            raise ValidationFailedError(
                "no payload key is configured, so there is nothing to decode: set "
                "STIGMER_PAYLOAD_KEY or STIGMER_PAYLOAD_KEYS_FILE as the workers have them",
                field="STIGMER_PAYLOAD_KEY",
            )
        secret = rt.settings.stigmer_codec_server_token
        token = secret.get_secret_value() if secret else None
        if token is None and not is_loopback_host(host):
            raise ValidationFailedError(
                f"the codec server decrypts every payload: listening on {host} needs "
                "STIGMER_CODEC_SERVER_TOKEN",
                field="STIGMER_CODEC_SERVER_TOKEN",
            )
        # Imported here so the client commands never load a web server, and a CLI-only
        # install fails with advice.
        try:
            import uvicorn

            from stigmer_cli.codec_server import codec_app
        except ImportError as exc:
            raise StigmerError(
                f"the codec server needs the server components ({exc}); "
                "install them with `pip install 'stigmer[local]'`"
            ) from exc
        app = codec_app(
            AesGcmPayloadCodec(keyring=keyring), token=token, allowed_origins=allow_origin or []
        )
        rt.err.print(
            f"codec server on http://{host}:{port}/decode (current key id "
            f"{keyring.current.key_id!r}); Ctrl-C stops it",
            markup=False,
            highlight=False,
        )
        await uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).serve()
        return 0

    run_command(ctx, command)
