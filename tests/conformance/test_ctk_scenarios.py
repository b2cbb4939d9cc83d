"""Every scenario of the Serverless Workflow conformance kit, run on the real path.

The kit (``../shared/ctk/features/*.feature``, DSL 1.0.3) is read by a strict Gherkin
reader (tests/conformance/gherkin.py); each scenario is one test, id'd by feature file and
scenario name, and runs as written: its definition is registered through the API, an
execution is created with its input and followed over SSE to a terminal phase by the fleet
(API, orchestrator and runner as processes on real Temporal, MongoDB and Redis), and its
Then steps are checked as the kit's README describes (tests/conformance/steps.py). An
unknown step wording fails collection, so a new kit version cannot silently skip checks.

One deviation from "as written": scenarios that call ``https://petstore.swagger.io`` or
``https://httpbin.org`` have the scheme and host of those URLs (and nothing else) replaced
with a local stub's ``http://127.0.0.1:PORT`` before registration, because tests never
reach the internet (tests/conformance/stubs.py answers as those services do). The runner's
HTTP(S) proxy is a trap that refuses and records anything else leaving the machine; every
test asserts that nothing tried to.

Each workflow is deleted after its scenario: the kit reuses names and versions (two
``output-filtering`` 1.0.0 documents, say), which the API keeps one document per.

Scenarios that fail today because the feature they need is not built yet are listed in
:data:`NOT_YET`, each with its reason, and marked ``xfail(strict=True)``: when a feature
lands, its scenario passes, the strict xfail fails, and the table must be updated.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from stigmer_core.api_client import StigmerClient
from stigmer_core.model import ExecutionPhase, ExecutionStatus
from tests.conformance.gherkin import read_features
from tests.conformance.steps import Outcome, Plan, compile_scenario
from tests.conformance.stubs import PublicStubs
from tests.services import unavailable

pytestmark = pytest.mark.integration

FEATURES = Path(__file__).resolve().parents[2].parent / "shared" / "ctk" / "features"
# Stigmer's own scenarios for what the kit lacks (wait, emit/listen, run, retry, timeouts,
# export/$context, if, while, exit, non-compete fork, nested try), in the kit's wording.
OWN_FEATURES = Path(__file__).resolve().parent / "features"
EXECUTION_TIMEOUT_SECONDS = 90.0

NOT_YET: dict[str, str] = {
    # Empty: every scenario of kit v1.0.3 passes. An entry looks like
    # "call/Call OpenAPI With Content Output": "call: openapi is not implemented",
}
"""Scenario id -> why it fails today. Keep it true: a scenario that starts passing fails."""


@dataclass(frozen=True)
class Case:
    id: str
    plan: Plan


def load_cases(folder: Path) -> list[Case]:
    """Every scenario of the kit in ``folder``, compiled; ids are ``<file stem>/<name>``."""
    cases = []
    for feature in read_features(folder):
        for scenario in feature.scenarios:
            where = f"{feature.path}:{scenario.line}"
            case_id = f"{feature.path.stem}/{scenario.name}"
            cases.append(Case(case_id, compile_scenario(scenario, where=where)))
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"scenario ids must be unique: {duplicates}")
    return cases


def _params() -> list[object]:
    if not FEATURES.is_dir():
        reason = f"the conformance kit is not at {FEATURES} (../shared beside the checkout)"
        unavailable(reason, module=True)
    cases = load_cases(FEATURES) + load_cases(OWN_FEATURES)
    stale = sorted(set(NOT_YET) - {c.id for c in cases})
    if stale:
        raise ValueError(f"NOT_YET names scenarios the kit does not have: {stale}")
    return [
        pytest.param(
            case,
            id=case.id,
            marks=[pytest.mark.xfail(strict=True, reason=NOT_YET[case.id])]
            if case.id in NOT_YET
            else [],
        )
        for case in cases
    ]


async def follow(api: StigmerClient, execution_id: str) -> ExecutionStatus:
    """The execution's status at its terminal phase, followed over SSE."""
    last: ExecutionStatus | None = None
    async for snapshot in api.watch_execution(execution_id):
        last = snapshot.status
    assert last is not None, "the event stream ended without a snapshot"
    assert last.phase.terminal, f"the stream ended before a terminal phase: {last}"
    return last


@pytest.mark.parametrize("case", _params())
async def test_scenario(case: Case, api: StigmerClient, public_stubs: PublicStubs) -> None:
    plan = case.plan
    definition = public_stubs.rewrite(plan.definition)
    public_stubs.clear()
    workflow = await api.register_workflow(definition)
    try:
        execution = await api.create_execution(workflow_id=workflow.metadata.id, input=plan.input)
        try:
            status = await asyncio.wait_for(
                follow(api, execution.metadata.id), EXECUTION_TIMEOUT_SECONDS
            )
        except TimeoutError:
            await api.cancel_execution(execution.metadata.id)
            raise
    finally:
        await api.delete_workflow(workflow.metadata.id)

    escapes = [f"{r.method} {r.target}" for r in public_stubs.escapes()]
    assert not escapes, f"requests tried to leave the machine: {escapes}"
    outcome = Outcome(status.phase, status.output, status.error, status.tasks)
    for label, check in plan.checks:
        try:
            check(outcome)
        except AssertionError as exc:
            raise AssertionError(f"Then {label}\n{exc}") from None
    if public_stubs.calls_public_host(plan.definition):
        assert public_stubs.requests, "the scenario calls a public host, but no stub was called"


@pytest.mark.parametrize("url", ["http://192.0.2.1/pets", "https://192.0.2.1/pets"])
async def test_requests_leaving_the_machine_are_trapped(
    url: str, api: StigmerClient, public_stubs: PublicStubs
) -> None:
    """The guarantee the scenarios rely on: the runner sends nothing off this machine."""
    document = (
        "document: {dsl: '1.0.3', namespace: conformance, name: egress, version: '1.0.0'}\n"
        f"do:\n  - leave:\n      call: http\n      with: {{method: get, endpoint: {url}}}\n"
    )
    public_stubs.clear()
    workflow = await api.register_workflow(document)
    try:
        execution = await api.create_execution(workflow_id=workflow.metadata.id)
        status = await asyncio.wait_for(follow(api, execution.metadata.id), 60)
    finally:
        await api.delete_workflow(workflow.metadata.id)
    assert status.phase is ExecutionPhase.FAILED, status
    assert status.error is not None
    assert status.error["type"].endswith("/errors/communication"), status.error
    targets = [r.target for r in public_stubs.escapes()]
    assert targets, "the request did not reach the egress trap"
    assert all("192.0.2.1" in t for t in targets), targets
