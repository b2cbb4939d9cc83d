"""Every example workflow of the DSL specification registers through the API.

The examples (``../shared/dsl-examples/*.yaml``, DSL 1.0.3) are sent as written to
``POST /v1/workflows`` of a running API process; a 422 (or any other error) fails the test.
Each workflow is deleted again, since several examples share a name and version.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from stigmer_core.api_client import StigmerClient
from stigmer_core.dsl_document import load_yaml
from tests.e2e.fleet import Fleet, running_fleet
from tests.services import unavailable

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "dsl-examples"


def _examples() -> list[Path]:
    paths = sorted(EXAMPLES.glob("*.yaml"))
    if not paths:
        reason = f"no DSL examples at {EXAMPLES} (../shared beside the checkout)"
        unavailable(reason, module=True)
    return paths


@pytest.fixture(scope="module")
def fleet(
    temporal_address: str,
    mongodb_uri: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    """Only the API process: registering needs nothing else."""
    with running_fleet(
        tmp_path_factory.mktemp("examples-fleet"),
        temporal_address=temporal_address,
        mongodb_uri=mongodb_uri,
        redis_url=redis_url,
        workers=False,
    ) as fleet:
        yield fleet


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.stem)
async def test_example_registers(path: Path, api: StigmerClient) -> None:
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    workflow = await api.register_workflow(text)
    try:
        header = load_yaml(text)["document"]
        assert workflow.spec.document == load_yaml(text)
        assert (workflow.spec.namespace, workflow.spec.name, workflow.spec.version) == (
            header["namespace"],
            header["name"],
            header["version"],
        )
    finally:
        await api.delete_workflow(workflow.metadata.id)
