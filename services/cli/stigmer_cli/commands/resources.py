"""``apply``, ``get``, ``list`` and ``cancel``: one API call each, printed for people or pipes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from stigmer_cli.local_server import ensure_server
from stigmer_cli.render import (
    OutputFormat,
    dump,
    execution_text,
    executions_table,
    instance_text,
    say,
    workflow_text,
    workflows_table,
)
from stigmer_cli.resolve import read_workflow_file, register
from stigmer_cli.runtime import Runtime, run_command
from stigmer_core.errors import TerminalPhaseError, ValidationFailedError
from stigmer_core.ids import IdPrefix, is_id
from stigmer_core.model import ExecutionPhase, Page

FormatOption = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="text for people; json or yaml for scripts."),
]
LimitOption = Annotated[
    int, typer.Option("--limit", min=1, max=1000, help="Items per page (newest first).")
]
CursorOption = Annotated[
    str | None,
    typer.Option("--cursor", help="Continue after a previous page (its printed next cursor)."),
]


def apply(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Option(
            "--file", "-f", metavar="FILE", help="Workflow document (YAML or JSON); - is stdin."
        ),
    ],
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Register a workflow and print its id.

    The same document again gives the same id; another one under the same version exits 2.
    """

    async def command(rt: Runtime) -> int:
        text = read_workflow_file(file, field="--file")
        async with rt.client() as client:
            await ensure_server(client, settings=rt.settings, console=rt.err)
            workflow = await register(client, text, source=file)
        if output is OutputFormat.TEXT:
            spec = workflow.spec
            say(rt.err, f"workflow {spec.namespace}/{spec.name} version {spec.version}")
            say(rt.out, workflow.metadata.id)
        else:
            say(rt.out, dump(workflow.to_doc(), output))
        return 0

    run_command(ctx, command)


def get(
    ctx: typer.Context,
    resource_id: Annotated[
        str,
        typer.Argument(
            metavar="ID", help="A workflow (wfl-…), instance (win-…) or execution (wex-…) id."
        ),
    ],
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Show one workflow, instance or execution, chosen by its id's prefix."""

    async def command(rt: Runtime) -> int:
        async with rt.client() as client:
            if is_id(resource_id, IdPrefix.WORKFLOW):
                workflow = await client.get_workflow(resource_id)
                doc, lines = workflow.to_doc(), workflow_text(workflow)
            elif is_id(resource_id, IdPrefix.INSTANCE):
                instance = await client.get_instance(resource_id)
                doc, lines = instance.to_doc(), instance_text(instance)
            elif is_id(resource_id, IdPrefix.EXECUTION):
                execution = await client.get_execution(resource_id)
                doc, lines = execution.to_doc(), execution_text(execution)
            else:
                raise ValidationFailedError(
                    f"not a Stigmer id: {resource_id!r} (expected wfl-…, win-… or wex-…)",
                    field="ID",
                )
        say(rt.out, "\n".join(lines) if output is OutputFormat.TEXT else dump(doc, output))
        return 0

    run_command(ctx, command)


list_app = typer.Typer(
    name="list",
    help="List workflows or executions, newest first, one page at a time.",
    no_args_is_help=True,
)


@list_app.command("workflows")
def list_workflows(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Option("--name", help="Only workflows with this name.")
    ] = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """List registered workflows."""

    async def command(rt: Runtime) -> int:
        async with rt.client() as client:
            page = await client.list_workflows(name=name, limit=limit, cursor=cursor)
        _print_page(rt, page, output, kind="workflows")
        return 0

    run_command(ctx, command)


@list_app.command("executions")
def list_executions(
    ctx: typer.Context,
    phase: Annotated[
        ExecutionPhase | None,
        typer.Option(
            "--phase",
            metavar="PHASE",
            case_sensitive=False,
            help="Only executions in this phase: PENDING, IN_PROGRESS, COMPLETED, FAILED, "
            "CANCELLED (any case).",
        ),
    ] = None,
    workflow: Annotated[
        str | None,
        typer.Option("--workflow", metavar="ID", help="Only runs of this workflow (wfl-…)."),
    ] = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """List executions."""

    async def command(rt: Runtime) -> int:
        async with rt.client() as client:
            page = await client.list_executions(
                phase=phase.value if phase else None,
                workflow_id=workflow,
                limit=limit,
                cursor=cursor,
            )
        _print_page(rt, page, output, kind="executions")
        return 0

    run_command(ctx, command)


def _print_page(rt: Runtime, page: Page, output: OutputFormat, *, kind: str) -> None:
    if output is not OutputFormat.TEXT:
        data: dict[str, Any] = page.model_dump(mode="json")
        say(rt.out, dump(data, output))
        return
    if not page.items:
        say(rt.out, f"no {kind}")
    else:
        table = workflows_table(page.items) if kind == "workflows" else executions_table(page.items)
        rt.out.print(table)
    if page.next_cursor:
        say(rt.out, f"next cursor: {page.next_cursor}")


def cancel(
    ctx: typer.Context,
    execution_id: Annotated[str, typer.Argument(metavar="ID", help="Execution id (wex-…).")],
) -> None:
    """Cancel an execution that has not finished yet."""

    async def command(rt: Runtime) -> int:
        if not is_id(execution_id, IdPrefix.EXECUTION):
            raise ValidationFailedError(
                f"not an execution id: {execution_id!r} (expected wex-…)", field="ID"
            )
        async with rt.client() as client:
            try:
                execution = await client.cancel_execution(execution_id)
            except TerminalPhaseError as exc:
                raise TerminalPhaseError(
                    f"cannot cancel {execution_id}: {exc.message}", field=exc.field
                ) from None
        say(rt.out, f"execution {execution.metadata.id} {execution.status.phase.value}")
        return 0

    run_command(ctx, command)
