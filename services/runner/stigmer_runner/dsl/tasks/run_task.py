"""The ``run`` task: a shell command, a script, a container, another workflow.

Shell commands and scripts run in the runner's process activity, containers in its
container activity; both enforce the runner's settings (allowed at all, time limit, output
limit); this handler only resolves the definition and shapes the result by ``return``. A
process or container that exits non-zero faults
the task with a runtime error unless ``return`` is ``code`` or ``all``, which hand the
code to the workflow instead. ``run: workflow`` looks the workflow up through the API (an
activity) and runs it as a durable child run.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from stigmer_runner.dsl.contracts import ActivityCall, ChildRun, HttpRequest
from stigmer_runner.dsl.errors import ErrorType, WorkflowError, http_status_problem
from stigmer_runner.dsl.run_contracts import (
    CONTAINER_ACTIVITY,
    NON_RETRYABLE_PROCESS_ERRORS,
    PROCESS_ACTIVITY,
    RESOLVE_WORKFLOW_ACTIVITY,
    WORKFLOW_NOT_FOUND_ERROR,
    ContainerRequest,
    ProcessRequest,
    ProcessResult,
    WorkflowReference,
)
from stigmer_runner.dsl.tasks.authentication import send_authenticated
from stigmer_runner.dsl.tasks.base import TaskContext, TaskResult
from stigmer_runner.dsl.tasks.process_fields import (
    process_arguments,
    process_environment,
    process_stdin,
    process_timeout,
)
from stigmer_runner.dsl.tasks.run_container import container_request

RETURN_MODES = ("stdout", "stderr", "code", "all", "none")
_KINDS = ("container", "script", "shell", "workflow")
_EXCERPT_CHARS = 500
# Room for the activity to report a killed process before Temporal's own timeout fires.
_ACTIVITY_MARGIN_SECONDS = 30.0


async def run_run(task: TaskContext) -> TaskResult:
    """Run the process or workflow the task defines."""
    spec = task.definition.get("run")
    if not isinstance(spec, Mapping):
        raise task.configuration_error("'run' must be a mapping")
    kinds = [kind for kind in _KINDS if kind in spec]
    if len(kinds) != 1:
        raise task.configuration_error(
            "'run' must define exactly one of container, script, shell or workflow"
        )
    kind = kinds[0]
    wait = spec.get("await", True)
    if not isinstance(wait, bool):
        raise task.configuration_error("run.await must be true or false")
    mode = spec.get("return", "stdout")
    if mode not in RETURN_MODES:
        raise task.configuration_error(f"run.return must be one of {', '.join(RETURN_MODES)}")
    if kind == "workflow":
        return TaskResult(await _run_workflow(task, spec["workflow"], wait))
    request: ProcessRequest | ContainerRequest
    if kind == "container":
        request = container_request(task, spec["container"], wait)
    else:
        request = await _process_request(task, kind, spec[kind], wait)
    raw = await task.runtime.execute(
        ActivityCall(
            name=CONTAINER_ACTIVITY if kind == "container" else PROCESS_ACTIVITY,
            payload=request.payload(),
            timeout_seconds=(
                None
                if request.timeout_seconds is None
                else request.timeout_seconds + _ACTIVITY_MARGIN_SECONDS
            ),
            non_retryable_types=list(NON_RETRYABLE_PROCESS_ERRORS),
        )
    )
    if not wait:
        # Not awaited: the spec says the task outputs its transformed input.
        return TaskResult(task.input)
    what = "the container" if kind == "container" else "the process"
    return TaskResult(shape_result(task, _as_result(raw), mode, what))


def shape_result(
    task: TaskContext, result: ProcessResult, mode: str, what: str = "the process"
) -> Any:
    """The task's raw output for ``return: mode``; faults on a failed process (``what``)
    unless the mode returns the exit code."""
    stdout = _text(result.stdout, result.stdout_truncated, result.limit_bytes)
    stderr = _text(result.stderr, result.stderr_truncated, result.limit_bytes)
    code = result.code if result.code is not None else 0
    if code != 0 and mode not in ("code", "all"):
        raise WorkflowError.of(ErrorType.RUNTIME, _failure(task, what, code, stderr))
    if mode == "stdout":
        return stdout
    if mode == "stderr":
        return stderr
    if mode == "code":
        return code
    if mode == "all":
        return {"code": code, "stdout": stdout, "stderr": stderr}
    return None


async def _process_request(task: TaskContext, kind: str, spec: Any, wait: bool) -> ProcessRequest:
    field = f"run.{kind}"
    if not isinstance(spec, Mapping):
        raise task.configuration_error(f"{field} must be a mapping")
    request = ProcessRequest(
        kind=kind,
        task=f"task {task.name!r} ({task.pointer})",
        arguments=process_arguments(task, spec.get("arguments"), f"{field}.arguments"),
        environment=process_environment(task, spec.get("environment"), f"{field}.environment"),
        stdin=process_stdin(task, spec.get("stdin"), f"{field}.stdin"),
        timeout_seconds=process_timeout(task),
        wait=wait,
    )
    if kind == "shell":
        command = task.evaluate_value(spec.get("command"), field=f"{field}.command")
        if not isinstance(command, str) or not command.strip():
            raise task.configuration_error(f"{field}.command must be a non-empty string")
        request.command = command
        return request
    language = spec.get("language")
    if not isinstance(language, str) or not language.strip():
        raise task.configuration_error(f"{field}.language must name a language, such as python")
    request.language = language
    if ("code" in spec) == ("source" in spec):
        raise task.configuration_error(f"{field} must define exactly one of code or source")
    if "code" in spec:
        code = spec["code"]
        if not isinstance(code, str):
            raise task.configuration_error(f"{field}.code must be a string")
        request.code = code
    else:
        request.code = await _fetch_source(task, spec["source"], f"{field}.source")
    return request


async def _fetch_source(task: TaskContext, source: Any, field: str) -> str:
    """The code of an external script, fetched over HTTP(S) like a ``call: http`` GET."""
    if not isinstance(source, Mapping):
        raise task.configuration_error(f"{field} must be a mapping with an 'endpoint'")
    endpoint = source.get("endpoint")
    policy = None
    if isinstance(endpoint, Mapping):
        policy = endpoint.get("authentication")
        endpoint = endpoint.get("uri")
    uri = task.evaluate_value(endpoint, field=f"{field}.endpoint")
    if not isinstance(uri, str) or not uri.lower().startswith(("http://", "https://")):
        raise task.configuration_error(f"{field}.endpoint must be an absolute http(s) URI")
    request = HttpRequest(method="GET", url=uri, output="raw")
    response, _ = await send_authenticated(
        task, request, policy, field=f"{field}.endpoint.authentication"
    )
    if not 200 <= response.status_code < 300:
        raise WorkflowError(
            http_status_problem(
                response.status_code, method="GET", uri=uri, excerpt=None, instance=task.pointer
            )
        )
    try:
        return base64.b64decode(response.raw_base64 or "").decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise task.configuration_error(f"{field}: {uri} did not return UTF-8 text") from None


async def _run_workflow(task: TaskContext, spec: Any, wait: bool) -> Any:
    field = "run.workflow"
    if not isinstance(spec, Mapping):
        raise task.configuration_error(f"{field} must be a mapping")
    if not wait:
        raise task.configuration_error("run.await: false is not supported for run: workflow yet")
    names: dict[str, str] = {}
    for key in ("namespace", "name", "version"):
        value = task.evaluate_value(
            spec.get(key, "latest" if key == "version" else None), field=f"{field}.{key}"
        )
        if not isinstance(value, str) or not value.strip():
            raise task.configuration_error(f"{field}.{key} must be a non-empty string")
        names[key] = value.strip()
    reference = WorkflowReference(
        namespace=names["namespace"],
        name=names["name"],
        version=names["version"],
        task=f"task {task.name!r} ({task.pointer})",
    )
    child_input = (
        task.evaluate_value(spec["input"], field=f"{field}.input")
        if "input" in spec
        else task.input
    )
    document = await task.runtime.execute(
        ActivityCall(
            name=RESOLVE_WORKFLOW_ACTIVITY,
            payload=reference.payload(),
            non_retryable_types=[WORKFLOW_NOT_FOUND_ERROR],
        )
    )
    if not isinstance(document, Mapping):
        raise WorkflowError.of(
            ErrorType.RUNTIME,
            f"task {task.name!r}: the lookup of {reference.namespace}/{reference.name} returned "
            "no workflow document",
        )
    return await task.runtime.run_workflow(
        ChildRun(document=dict(document), input=child_input, task_pointer=task.pointer)
    )


def _as_result(raw: Any) -> ProcessResult:
    """The activity's result: a ProcessResult, or its JSON form after Temporal."""
    if isinstance(raw, ProcessResult):
        return raw
    if isinstance(raw, Mapping):
        known = ProcessResult.__dataclass_fields__
        return ProcessResult(**{k: v for k, v in raw.items() if k in known})
    raise WorkflowError.of(ErrorType.RUNTIME, f"the process activity returned {type(raw).__name__}")


def _text(text: str, truncated: bool, limit: int) -> str:
    if not truncated:
        return text
    return f"{text}\n[stigmer: output truncated after {limit} bytes]"


def _failure(task: TaskContext, what: str, code: int, stderr: str) -> str:
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    detail = f"task {task.name!r}: {what} {how}"
    excerpt = stderr.strip()
    if excerpt:
        if len(excerpt) > _EXCERPT_CHARS:
            excerpt = excerpt[-_EXCERPT_CHARS:]
            detail += f"; stderr ends with: {excerpt}"
        else:
            detail += f"; stderr: {excerpt}"
    return detail
