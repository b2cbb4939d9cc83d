"""``stigmer run`` and ``stigmer watch``: start an execution and follow it to its end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console
from rich.status import Status

from stigmer_cli.exit_codes import EXIT_CODES_HELP, exit_code_for_phase
from stigmer_cli.follow import follow_execution
from stigmer_cli.inputs import parse_env, parse_input
from stigmer_cli.local_server import ensure_server
from stigmer_cli.render import FollowFormat, dump, say
from stigmer_cli.resolve import looks_like_path, read_workflow_file, register, resolve_workflow_id
from stigmer_cli.runtime import Runtime, run_command
from stigmer_cli.snapshots import diff_snapshots, summary_lines
from stigmer_core.api_client import StigmerClient
from stigmer_core.errors import ValidationFailedError
from stigmer_core.ids import IdPrefix, is_id
from stigmer_core.model import WorkflowExecution

RUN_HELP = (
    "Run a workflow and follow it to the end.\n\n"
    "WORKFLOW is a workflow file (YAML or JSON; - reads stdin), registered first; or a "
    "workflow id (wfl-…); or a workflow name, whose newest version runs.\n\n"
    "Progress is one line per execution phase change and per task state change, then a "
    "summary with the output or the error.\n\n"
    "When no server answers at a loopback STIGMER_API_URL, a local server is started in the "
    "background (see `stigmer server`) and reused by later commands.\n\n"
    f"{EXIT_CODES_HELP}"
)

WATCH_HELP = f"Follow an execution (wex-…) to its end, as `run` does.\n\n{EXIT_CODES_HELP}"

OutputOption = Annotated[
    FollowFormat,
    typer.Option(
        "--output",
        "-o",
        help="text: progress lines and a summary; json: only the final execution as JSON.",
    ),
]


def run(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(metavar="WORKFLOW", help="Workflow file, workflow id, or name.")
    ],
    input_: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            metavar="JSON|@FILE",
            help="Workflow input: inline JSON, or @path to a .json/.yaml file.",
        ),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            "-e",
            metavar="KEY=VALUE",
            help="Runtime environment entry for this execution; repeat for more.",
        ),
    ] = None,
    no_follow: Annotated[
        bool, typer.Option("--no-follow", help="Print the execution id and exit 0 at once.")
    ] = False,
    output: OutputOption = FollowFormat.TEXT,
) -> None:
    """Run a workflow and follow it to the end."""

    async def command(rt: Runtime) -> int:
        # Check everything local before touching the network (or starting a server).
        input_value = parse_input(input_)
        env_map = parse_env(env)
        text = read_workflow_file(target, field="WORKFLOW") if looks_like_path(target) else None
        async with rt.client() as client:
            await ensure_server(client, settings=rt.settings, console=rt.err)
            if text is not None:
                workflow = await register(client, text, source=target)
                workflow_id = workflow.metadata.id
                if output is FollowFormat.TEXT:
                    spec = workflow.spec
                    # With --no-follow stdout carries only the execution id, for scripts.
                    say(
                        rt.err if no_follow else rt.out,
                        f"workflow {workflow_id} {spec.namespace}/{spec.name} {spec.version}",
                    )
            else:
                workflow_id = await resolve_workflow_id(client, target)
            execution = await client.create_execution(
                workflow_id=workflow_id, input=input_value, env=env_map or None
            )
            if no_follow:
                if output is FollowFormat.JSON:
                    say(rt.out, dump(execution.to_doc(), output))
                else:
                    say(rt.out, execution.metadata.id)
                return 0
            return await follow_and_report(client, rt, execution.metadata.id, execution, output)

    run_command(ctx, command)


def watch(
    ctx: typer.Context,
    execution_id: Annotated[str, typer.Argument(metavar="ID", help="Execution id (wex-…).")],
    output: OutputOption = FollowFormat.TEXT,
) -> None:
    """Follow an execution to its end."""

    async def command(rt: Runtime) -> int:
        if not is_id(execution_id, IdPrefix.EXECUTION):
            raise ValidationFailedError(
                f"not an execution id: {execution_id!r} (expected wex-…)", field="ID"
            )
        async with rt.client() as client:
            return await follow_and_report(client, rt, execution_id, None, output)

    run_command(ctx, command)


async def follow_and_report(
    client: StigmerClient,
    rt: Runtime,
    execution_id: str,
    first: WorkflowExecution | None,
    output: FollowFormat,
) -> int:
    """Follow to a terminal phase, printing changes (text) or the final JSON; return exit code."""
    text = output is FollowFormat.TEXT
    if first is not None and text:
        for line in diff_snapshots(None, first):
            say(rt.out, line)

    with _spinner(rt.out, enabled=text) as status:

        def on_line(line: str) -> None:
            if text:
                say(rt.out, line)

        def on_snapshot(snapshot: WorkflowExecution) -> None:
            if status is not None:
                done = sum(1 for t in snapshot.status.tasks if t.phase.terminal)
                status.update(
                    f"{snapshot.metadata.id} {snapshot.status.phase.value} "
                    f"({done}/{len(snapshot.status.tasks)} tasks done)"
                )

        try:
            final = await follow_execution(
                client,
                execution_id,
                on_line=on_line,
                on_snapshot=on_snapshot,
                previous=first,
                reconnects=rt.settings.stigmer_watch_reconnects,
            )
        except asyncio.CancelledError:
            # Ctrl-C: asyncio.run cancels us. Only the following stops, so say how to resume.
            say(
                rt.err,
                f"stopped following {execution_id}; it keeps running "
                f"(`stigmer watch {execution_id}` follows it, `stigmer cancel {execution_id}` "
                "stops it)",
            )
            raise
    if text:
        for line in summary_lines(final):
            say(rt.out, line)
    else:
        say(rt.out, dump(final.to_doc(), output))
    return exit_code_for_phase(final.status.phase)


@contextlib.contextmanager
def _spinner(console: Console, *, enabled: bool) -> Iterator[Status | None]:
    """A spinner under the progress lines, on a terminal only (pipes get plain lines)."""
    if not enabled or not console.is_terminal:
        yield None
        return
    with console.status("waiting for the execution…") as status:
        yield status
