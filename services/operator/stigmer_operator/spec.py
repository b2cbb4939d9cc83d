"""The RunnerAutoscaler resource's spec as a validated model.

The CRD's OpenAPI schema already rejects most bad specs at admission; this model is the
operator's own check (a CRD applied without its schema, a cross-field rule such as
``minReplicas <= maxReplicas``), so a bad spec is a permanent error, never a crash loop.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

GROUP = "autoscaling.stigmer.io"
VERSION = "v1alpha1"
PLURAL = "runnerautoscalers"
KIND = "RunnerAutoscaler"

QueueType = Literal["workflow", "activity"]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class ScaleTargetRef(_Model):
    api_version: str = "apps/v1"
    kind: Literal["Deployment"] = "Deployment"
    name: str = Field(min_length=1)


class TemporalQueue(_Model):
    address: str = Field(min_length=1)
    namespace: str = "default"
    task_queue: str = "workflow_execution_runner"
    queue_types: tuple[QueueType, ...] = ("workflow", "activity")

    @model_validator(mode="after")
    def _some_queue_types(self) -> TemporalQueue:
        if not self.queue_types or len(set(self.queue_types)) != len(self.queue_types):
            raise ValueError("queueTypes must list workflow and/or activity, each once")
        return self


class ScalingRules(_Model):
    stabilization_window_seconds: int = Field(ge=0, le=3600)
    max_step_replicas: int | None = Field(default=None, ge=1)
    """At most this many replicas added (or removed) by one decision; unset: no limit."""


class AutoscalerSpec(_Model):
    scale_target_ref: ScaleTargetRef
    temporal: TemporalQueue
    target_backlog_per_replica: int = Field(default=10, ge=1)
    activation_backlog: int = Field(default=0, ge=0)
    min_replicas: int = Field(default=0, ge=0)
    max_replicas: int = Field(default=20, ge=1)
    scale_up: ScalingRules = ScalingRules(stabilization_window_seconds=0, max_step_replicas=4)
    scale_down: ScalingRules = ScalingRules(stabilization_window_seconds=300, max_step_replicas=1)
    polling_interval_seconds: int = Field(default=10, ge=1, le=3600)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> AutoscalerSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas ({self.min_replicas}) exceeds maxReplicas ({self.max_replicas})"
            )
        return self
