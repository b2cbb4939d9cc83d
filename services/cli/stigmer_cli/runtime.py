"""What every command gets: settings, two consoles, an API client, and one error policy.

Commands are coroutines returning an exit code; ``run_command`` runs them and turns
expected errors into a message and an exit code, never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console

from stigmer_cli.exit_codes import ExitCode, exit_code_for_error
from stigmer_cli.settings import CliSettings
from stigmer_core.api_client import StigmerClient
from stigmer_core.errors import StigmerError

# Without a terminal rich assumes 80 columns and would cut table columns short.
_PIPE_WIDTH = 200


@dataclass(frozen=True)
class Runtime:
    """Built once per invocation by the top-level callback; stored as ``ctx.obj``."""

    settings: CliSettings
    out: Console
    err: Console

    def client(self) -> AbstractAsyncContextManager[StigmerClient]:
        """A client of the configured API, closed when the ``async with`` block ends."""
        token = self.settings.stigmer_api_token
        return StigmerClient.connect(
            self.settings.stigmer_api_url,
            token=token.get_secret_value() if token else None,
            timeout=self.settings.stigmer_api_timeout_seconds,
        )


def make_runtime() -> Runtime:
    """Read settings from the environment; exit 2 naming the variable if one is invalid."""
    err = Console(stderr=True)
    try:
        settings = CliSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]).upper()
        err.print(f"error: {name}: {first['msg']}", markup=False, highlight=False)
        raise typer.Exit(ExitCode.USAGE) from None
    out = Console()
    if not out.is_terminal:
        out = Console(width=_PIPE_WIDTH)
    return Runtime(settings=settings, out=out, err=err)


def runtime_of(ctx: typer.Context) -> Runtime:
    """The Runtime the top-level callback stored on the click context."""
    obj = ctx.find_root().obj
    if not isinstance(obj, Runtime):
        obj = make_runtime()
        ctx.find_root().obj = obj
    return obj


def report_error(console: Console, error: StigmerError) -> None:
    """``error: message`` and, when known, the field to fix."""
    console.print(f"error: {error.message}", markup=False, highlight=False, soft_wrap=True)
    if error.field:
        console.print(f"  field: {error.field}", markup=False, highlight=False)


def run_command(ctx: typer.Context, command: Callable[[Runtime], Coroutine[Any, Any, int]]) -> None:
    """Run ``command`` and exit with its code; expected errors become message + exit code."""
    runtime = runtime_of(ctx)
    try:
        code = asyncio.run(command(runtime))
    except StigmerError as exc:
        report_error(runtime.err, exc)
        code = exit_code_for_error(exc)
    except KeyboardInterrupt:
        runtime.err.print("interrupted", markup=False, highlight=False)
        code = ExitCode.INTERRUPTED
    raise typer.Exit(int(code))
