"""``input.schema`` and ``output.schema``: validate data against a JSON Schema (Draft 2020-12).

A schema is ``{format, document}`` (inline) or ``{format, resource: {endpoint}}`` (external,
fetched with an HTTP GET through the runtime, so inside Temporal it is an activity and the
interpreter stays deterministic). Only the ``json`` format is supported. Validation is pure:
``jsonschema`` resolves no remote ``$ref`` unless told to, and it is never told to here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

from stigmer_runner.dsl.contracts import HttpRequest
from stigmer_runner.dsl.errors import ErrorType, WorkflowError, http_status_problem
from stigmer_runner.dsl.runtime import TaskRuntime

_FORMAT = "json"


class SchemaValidator:
    """Validates data against schema definitions; fetches each external schema once per run.

    ``instance`` in every error is the pointer the caller names (a task's, or ``/input`` and
    ``/output`` of the workflow); ``label`` names the owner in error details.
    """

    def __init__(self, *, runtime: TaskRuntime) -> None:
        self._runtime = runtime
        self._fetched: dict[str, Any] = {}
        self._validators: dict[str, Draft202012Validator] = {}

    async def validate(
        self,
        definition: Any,
        value: Any,
        *,
        field: str,
        label: str,
        instance: str,
    ) -> None:
        """Raise a validation :class:`WorkflowError` when ``value`` breaks ``definition``.

        ``definition`` is the DSL schema object found at ``field`` (``input.schema``...);
        None means there is nothing to check.
        """
        if definition is None:
            return

        def config(detail: str) -> WorkflowError:
            return WorkflowError.of(
                ErrorType.CONFIGURATION, f"{label}: {field} {detail}", instance=instance
            )

        schema = await self._load(definition, config, field=field, instance=instance)
        key = json.dumps(schema, sort_keys=True, default=str)
        try:
            validator = self._validators.get(key)
            if validator is None:
                # Checked once per distinct schema: a loop body validates on every iteration.
                Draft202012Validator.check_schema(schema)
                validator = self._validators[key] = Draft202012Validator(schema)
            error = best_match(validator.iter_errors(value))
        except SchemaError as exc:
            raise config(f"is not a valid JSON Schema: {exc.message}") from None
        if error is None:
            return
        what = field.split(".", 1)[0]
        raise WorkflowError.of(
            ErrorType.VALIDATION,
            f"{label}: the {what} does not match {field} at {error.json_path}: {error.message}",
            instance=instance,
        )

    async def _load(
        self,
        definition: Any,
        config: Callable[[str], WorkflowError],
        *,
        field: str,
        instance: str,
    ) -> Any:
        if not isinstance(definition, Mapping):
            raise config("must be a mapping with 'document' or 'resource'")
        form = definition.get("format", _FORMAT)
        if not isinstance(form, str) or form.split(":", 1)[0].strip().lower() != _FORMAT:
            raise config(f"has format {form!r}; only json schemas are supported")
        if "document" in definition:
            schema = definition["document"]
        elif "resource" in definition:
            schema = await self._fetch(definition["resource"], config, instance=instance)
        else:
            raise config("must have 'document' (inline) or 'resource' (external)")
        if not isinstance(schema, Mapping | bool):
            raise config("must be a JSON Schema: an object or a boolean")
        return schema

    async def _fetch(
        self, resource: Any, config: Callable[[str], WorkflowError], *, instance: str
    ) -> Any:
        endpoint = resource.get("endpoint") if isinstance(resource, Mapping) else None
        if isinstance(endpoint, Mapping):
            if endpoint.get("authentication") is not None:
                raise config("resource: authenticated schema endpoints are not supported")
            endpoint = endpoint.get("uri")
        if not isinstance(endpoint, str) or not endpoint.strip():
            raise config("resource.endpoint must be a URI")
        uri = endpoint.strip()
        if uri.startswith("${"):
            raise config("resource.endpoint must be a literal URI, not an expression")
        if uri in self._fetched:
            return self._fetched[uri]
        request = HttpRequest(method="GET", url=uri, headers={"Accept": "application/json"})
        response = await self._runtime.call_http(request)
        if not 200 <= response.status_code < 300:
            raise WorkflowError(
                http_status_problem(
                    response.status_code,
                    method="GET",
                    uri=uri,
                    excerpt=None,
                    instance=instance,
                )
            )
        content = response.content
        if isinstance(content, str):
            try:
                content = json.loads(content)
            except ValueError:
                raise config(f"resource {uri} is not JSON") from None
        self._fetched[uri] = content
        return content
