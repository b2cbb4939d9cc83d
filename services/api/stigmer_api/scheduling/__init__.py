"""Scheduling: the DSL's ``schedule`` turned into Temporal Schedules and ``after`` loops kept in
step with the store, and ``on`` events that start executions (``event_triggers``, imported by
its users: it builds on the executions service, which imports this package)."""

from stigmer_api.scheduling.service import ScheduleService, initial_status
from stigmer_api.scheduling.spec import ScheduleNotRunnableError, ScheduleTrigger, trigger_of

__all__ = [
    "ScheduleNotRunnableError",
    "ScheduleService",
    "ScheduleTrigger",
    "initial_status",
    "trigger_of",
]
