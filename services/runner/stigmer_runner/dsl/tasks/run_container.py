"""``run: container``: the task's container definition, resolved and checked.

Every field may be a runtime expression. What can be checked without the runner's settings
is checked here, so a malformed definition is a configuration error naming the task before
any engine is asked; the container activity checks the rest (is a runtime configured, may
this volume be mounted).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from stigmer_runner.dsl.durations import duration_seconds
from stigmer_runner.dsl.run_contracts import ContainerRequest
from stigmer_runner.dsl.tasks.base import TaskContext
from stigmer_runner.dsl.tasks.process_fields import (
    as_text,
    process_arguments,
    process_environment,
    process_stdin,
    process_timeout,
)

CLEANUP_POLICIES = ("always", "never", "eventually")
PULL_POLICIES = ("ifNotPresent", "always", "never")
_FIELD = "run.container"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_IMAGE = re.compile(r"^[A-Za-z0-9][^\s]*$")
_HOST_PORT = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3}){3}:)?\d{1,5}$")
_CONTAINER_PORT = re.compile(r"^\d{1,5}(?:/(?:tcp|udp|sctp))?$")
_CONTAINER_PATH = re.compile(r"^/[^:,\0]*(?::(?:ro|rw))?$")


def container_request(task: TaskContext, spec: Any, wait: bool) -> ContainerRequest:
    """The ``ContainerRequest`` for the task's ``run.container``."""
    if not isinstance(spec, Mapping):
        raise task.configuration_error(f"{_FIELD} must be a mapping")
    image = task.evaluate_value(spec.get("image"), field=f"{_FIELD}.image")
    if not isinstance(image, str) or not _IMAGE.match(image):
        raise task.configuration_error(
            f"{_FIELD}.image must name an image, such as busybox:1.36 or registry/app@sha256:..."
        )
    cleanup, after = _lifetime(task, spec.get("lifetime"))
    pull = spec.get("pullPolicy", "ifNotPresent")
    if pull not in PULL_POLICIES:
        raise task.configuration_error(
            f"{_FIELD}.pullPolicy must be one of {', '.join(PULL_POLICIES)}"
        )
    return ContainerRequest(
        task=f"task {task.name!r} ({task.pointer})",
        image=image,
        name=_name(task, spec.get("name")),
        command=_command(task, spec.get("command")),
        arguments=process_arguments(task, spec.get("arguments"), f"{_FIELD}.arguments"),
        ports=_mapping(task, spec.get("ports"), "ports", _HOST_PORT, _CONTAINER_PORT),
        volumes=_volumes(task, spec.get("volumes")),
        environment=process_environment(task, spec.get("environment"), f"{_FIELD}.environment"),
        stdin=process_stdin(task, spec.get("stdin"), f"{_FIELD}.stdin"),
        pull_policy=pull,
        cleanup=cleanup,
        cleanup_after_seconds=after,
        timeout_seconds=process_timeout(task),
        wait=wait,
    )


def _name(task: TaskContext, value: Any) -> str:
    name = task.evaluate_value(value, field=f"{_FIELD}.name")
    if name is None:
        return ""
    if not isinstance(name, str) or not _NAME.match(name):
        raise task.configuration_error(
            f"{_FIELD}.name must be 1-128 letters, digits, '_', '.' or '-', starting with a "
            f"letter or digit; got {name!r}"
        )
    return name


def _command(task: TaskContext, value: Any) -> list[str]:
    command = task.evaluate_value(value, field=f"{_FIELD}.command")
    if command is None:
        return []
    if not isinstance(command, str):
        raise task.configuration_error(f"{_FIELD}.command must be a string")
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise task.configuration_error(f"{_FIELD}.command: {exc}") from None
    if not words:
        raise task.configuration_error(f"{_FIELD}.command must not be empty")
    return words


def _mapping(
    task: TaskContext, value: Any, key: str, left: re.Pattern[str], right: re.Pattern[str]
) -> dict[str, str]:
    """Host side to container side, both as text matching their patterns."""
    field = f"{_FIELD}.{key}"
    resolved = task.evaluate_value(value, field=field)
    if resolved is None:
        return {}
    if not isinstance(resolved, Mapping):
        raise task.configuration_error(f"{field} must be a mapping of host to container")
    mapping: dict[str, str] = {}
    for host, container in resolved.items():
        host_text, container_text = as_text(host), as_text(container)
        if not left.match(host_text) or not right.match(container_text):
            raise task.configuration_error(
                f"{field}: {host_text!r}: {container_text!r} is not a valid mapping"
            )
        mapping[host_text] = container_text
    return mapping


def _volumes(task: TaskContext, value: Any) -> dict[str, str]:
    volumes = _mapping(task, value, "volumes", re.compile(r"^/[^:,\0]*$"), _CONTAINER_PATH)
    for host in volumes:
        if ".." in host.split("/"):
            raise task.configuration_error(f"{_FIELD}.volumes: {host!r} must not contain '..'")
    return volumes


def _lifetime(task: TaskContext, value: Any) -> tuple[str, float | None]:
    field = f"{_FIELD}.lifetime"
    if value is None:
        return "never", None
    if not isinstance(value, Mapping):
        raise task.configuration_error(f"{field} must be a mapping with 'cleanup'")
    cleanup = value.get("cleanup")
    if cleanup not in CLEANUP_POLICIES:
        raise task.configuration_error(
            f"{field}.cleanup must be one of {', '.join(CLEANUP_POLICIES)}"
        )
    if (cleanup == "eventually") != ("after" in value):
        raise task.configuration_error(
            f"{field}.after is required with cleanup: eventually, and only then"
        )
    if cleanup != "eventually":
        return str(cleanup), None
    after = task.evaluate_value(value["after"], field=f"{field}.after")
    try:
        return "eventually", duration_seconds(after)
    except ValueError as exc:
        raise task.configuration_error(f"{field}.after: {exc}") from None
