"""Scheduling: the DSL's ``schedule`` turned into Temporal Schedules kept in step with the store."""

from stigmer_api.scheduling.service import ScheduleService, initial_status
from stigmer_api.scheduling.spec import ScheduleNotRunnableError, ScheduleTrigger, trigger_of

__all__ = [
    "ScheduleNotRunnableError",
    "ScheduleService",
    "ScheduleTrigger",
    "initial_status",
    "trigger_of",
]
