"""A stand-in for a runner's long execution: it runs until it is released (a signal)."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="OperatorTestHold")
class HoldWorkflow:
    def __init__(self) -> None:
        self._released = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._released)
        return "released"

    @workflow.signal
    def release(self) -> None:
        self._released = True
