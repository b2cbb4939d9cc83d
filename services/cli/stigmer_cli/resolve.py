"""What ``stigmer run TARGET`` means: a file to register, a workflow id, or a workflow name."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from stigmer_core.api_client import StigmerClient
from stigmer_core.errors import ConflictError, NotFoundError, ValidationFailedError
from stigmer_core.ids import IdPrefix, is_id
from stigmer_core.model import Workflow

_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def looks_like_path(target: str) -> bool:
    """Whether ``target`` names a file (``-`` is stdin) rather than a workflow id or name."""
    return (
        target == "-"
        or Path(target).exists()
        or "/" in target
        or "\\" in target
        or target.lower().endswith(_FILE_SUFFIXES)
    )


def read_workflow_file(target: str, *, field: str) -> str:
    """The text of the workflow file ``target`` (``-`` reads stdin); raise naming ``field``."""
    if target == "-":
        return sys.stdin.read()
    path = Path(target)
    if path.is_dir():
        raise ValidationFailedError(f"{target} is a directory, not a workflow file", field=field)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationFailedError(f"no such file: {target}", field=field) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailedError(f"cannot read {target}: {exc}", field=field) from None


async def register(client: StigmerClient, text: str, *, source: str) -> Workflow:
    """Register a document; the conflict message says which file and what to change."""
    try:
        return await client.register_workflow(text)
    except ConflictError as exc:
        raise ConflictError(f"cannot register {source}: {exc.message}", field=exc.field) from None
    except ValidationFailedError as exc:
        raise ValidationFailedError(
            f"{source} is not a valid workflow: {exc.message}", field=exc.field
        ) from None


async def find_workflow_by_name(client: StigmerClient, name: str) -> Workflow:
    """The newest version of the workflow called ``name`` (in one namespace)."""
    found: list[Workflow] = []
    cursor: str | None = None
    while True:
        page = await client.list_workflows(name=name, limit=100, cursor=cursor)
        found.extend(Workflow.model_validate(item) for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    if not found:
        raise NotFoundError(
            f"no workflow named {name!r}; give a file to register, or see `stigmer list workflows`",
            field="WORKFLOW",
        )
    namespaces = sorted({w.spec.namespace for w in found})
    if len(namespaces) > 1:
        raise ValidationFailedError(
            f"workflows named {name!r} exist in several namespaces ({', '.join(namespaces)}); "
            "run one by its id (see `stigmer list workflows`)",
            field="WORKFLOW",
        )
    return max(found, key=_version_key)


def _version_key(workflow: Workflow) -> tuple[tuple[int, ...], int, str, float]:
    """Semantic-version order (a release after its pre-releases); creation time breaks ties."""
    version = workflow.spec.version
    match = re.match(r"^v?(\d+(?:\.\d+)*)(-[^+]*)?", version)
    release = tuple(int(part) for part in match.group(1).split(".")) if match else ()
    is_release = 1 if match and not match.group(2) else 0
    prerelease = (match.group(2) or "") if match else version
    return release, is_release, prerelease, workflow.metadata.created_at.timestamp()


async def resolve_workflow_id(client: StigmerClient, target: str) -> str:
    """The id of the workflow ``target`` names: ``wfl-…`` as is, otherwise looked up by name."""
    if target.startswith(f"{IdPrefix.WORKFLOW.value}-"):
        if not is_id(target, IdPrefix.WORKFLOW):
            raise ValidationFailedError(f"malformed workflow id: {target}", field="WORKFLOW")
        return target
    return (await find_workflow_by_name(client, target)).metadata.id
