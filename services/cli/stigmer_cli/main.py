"""The ``stigmer`` command: the typer app and the console-script entry point."""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Annotated

import typer

from stigmer_cli.commands import codec, execute, resources, server
from stigmer_cli.exit_codes import EXIT_CODES_HELP
from stigmer_cli.runtime import make_runtime
from stigmer_core.process import exit_now

HELP = (
    "Run Serverless Workflow DSL 1.0 workflows durably on Temporal.\n\n"
    "Talks to the Stigmer API at STIGMER_API_URL (default http://127.0.0.1:8234), sending "
    "STIGMER_API_TOKEN as a bearer token when set. `run` and `apply` start a local server "
    "when none answers on a loopback URL. Reference: docs/cli.md.\n\n"
    f"{EXIT_CODES_HELP}"
)

app = typer.Typer(
    name="stigmer",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        try:
            version = metadata.version("stigmer")
        except metadata.PackageNotFoundError:
            version = "unknown"
        typer.echo(f"stigmer {version}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = make_runtime()


app.command("run", help=execute.RUN_HELP)(execute.run)
app.command("apply")(resources.apply)
app.command("get")(resources.get)
app.add_typer(resources.list_app)
app.command("watch", help=execute.WATCH_HELP)(execute.watch)
app.command("cancel")(resources.cancel)
app.add_typer(server.server_app)
app.command("codec-server", help=codec.CODEC_SERVER_HELP)(codec.codec_server)


def main() -> None:
    """Console-script entry point (``stigmer``).

    Every command has finished its work and closed what it opened when typer exits; the
    process then ends without interpreter finalization, which grpcio's threads (loaded with
    the runner in `stigmer server`) can turn into an abort at exit.
    """
    try:
        app()
    except SystemExit as done:
        if isinstance(done.code, str):
            sys.stderr.write(done.code + "\n")
        exit_now(done.code if isinstance(done.code, int) else (0 if done.code is None else 1))
