"""Replay saved histories of representative runs against today's workflow code.

A change to the invoke workflow, the ``schedule.after`` loop or the DSL workflow (or the
interpreter it runs) that makes them issue different commands for the same history fails
here, before it strands running executions in production. Histories are recorded by
scripts/record_histories.py; evolve workflow code with ``workflow.patched`` and re-record
only after such a versioned change.

``nested-loops-before-nested-cuts.dsl.json`` is the first run of a child-mode DSL run recorded
by the runner before loops nested in ``for`` bodies could be cut (a 3x3 nested loop with a
``wait`` in its body, two iterations per run): it keeps the ``workflow.patched`` guard of nested
cuts honest. ``fork-reports-before-coalescing.dsl.json`` is a 5-branch fork of waits recorded
the same way before overlapping flushes were coalesced (one report per branch; see
``tests/runner/test_report_coalescing_in_temporal.py``), for that ``workflow.patched`` guard.
Keep both; they are not re-recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from stigmer_core.payload_codec import AesGcmPayloadCodec
from stigmer_core.payload_keys import PayloadKey, PayloadKeyring
from stigmer_orchestrator.workflows import AfterLoop, InvokeWorkflowExecution
from stigmer_runner.dsl_workflow import DslWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories_of_every_workflow() -> None:
    kinds = {path.name.split(".")[-2] for path in HISTORIES}
    assert kinds == {"invoke", "dsl", "after"}
    assert len(HISTORIES) >= 9


# The histories were recorded without a payload codec; a worker with payload keys must
# still replay them (its codec passes clear payloads through).
ENCRYPTING = dataclasses.replace(
    DataConverter.default,
    payload_codec=AesGcmPayloadCodec(
        keyring=PayloadKeyring(current=PayloadKey(key_id="replay", secret=bytes(32)))
    ),
)


@pytest.mark.parametrize("converter", [DataConverter.default, ENCRYPTING], ids=["clear", "codec"])
@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path, converter: DataConverter) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=[InvokeWorkflowExecution, DslWorkflow, AfterLoop], data_converter=converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name} no longer replays: {result.replay_failure}"
