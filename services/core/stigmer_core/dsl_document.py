"""Parse and validate Serverless Workflow DSL 1.0 documents against the spec's JSON Schema.

The schema (``schemas/workflow.yaml``) is the specification's own, copied unchanged, so
"valid" here means valid by the specification and nothing stricter.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from stigmer_core.errors import ValidationFailedError


@dataclass(frozen=True)
class DocumentHeader:
    dsl: str
    namespace: str
    name: str
    version: str


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false.

    PyYAML follows YAML 1.1, where ``on``, ``off``, ``yes`` and ``no`` are booleans; the
    DSL's ``schedule.on`` and ``listen.to.any`` keys would silently turn into ``True``.
    """


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_yaml(text: str | bytes) -> Any:
    """Load YAML (or JSON) with YAML 1.2 boolean rules."""
    return yaml.load(text, Loader=_Yaml12Loader)


@cache
def _validator() -> Draft202012Validator:
    text = resources.files("stigmer_core").joinpath("schemas/workflow.yaml").read_text()
    schema = load_yaml(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@cache
def task_validator() -> Draft202012Validator:
    """A validator for one task definition (the schema's ``#/$defs/task``).

    Built once from the same schema; call it at start-up where reading the packaged schema
    later would be I/O in the wrong place (a Temporal workflow).
    """
    schema: Any = _validator().schema
    defs = schema["$defs"]
    return Draft202012Validator({"$defs": defs, "$ref": "#/$defs/task"})


def json_pointer(path: Any) -> str:
    """RFC 6901 pointer for a jsonschema error path."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else ""


def parse_document(text: str | bytes) -> dict[str, Any]:
    """Parse YAML or JSON text into a document; raise ValidationFailedError if it is neither."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValidationFailedError(f"the body is not valid YAML or JSON{where}", field="") from exc
    if not isinstance(data, dict):
        raise ValidationFailedError("a workflow document must be a mapping", field="")
    # Round-trip through JSON so YAML-only types (dates, sets) are rejected early.
    try:
        data = json.loads(json.dumps(data))
    except TypeError as exc:
        raise ValidationFailedError(
            f"the document holds a non-JSON value: {exc}", field=""
        ) from exc
    result: dict[str, Any] = data
    return result


def _pick(errors: list[ValidationError]) -> ValidationError:
    # Deepest first; at equal depth a oneOf (which we can explain further) beats the
    # "unevaluated property" error that a failed oneOf always drags along.
    return max(
        errors,
        key=lambda e: (
            len(e.absolute_path),
            e.validator in ("oneOf", "anyOf"),
            e.validator != "unevaluatedProperties",
        ),
    )


def _explain(error: ValidationError) -> ValidationError:
    """Descend into the one alternative of a oneOf that the author evidently meant.

    A task is a oneOf of task types and ``call`` a oneOf of protocols. Alternatives whose
    discriminator does not match fail with ``const``/``not`` errors or a ``required`` error
    on the object itself; when exactly one alternative is left, its errors name the field
    to fix (``/do/0/b/with``: 'endpoint' is a required property) instead of "/do/0/b".
    """
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return error
    here = list(error.absolute_path)
    branches: dict[object, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    viable = [
        errs
        for errs in branches.values()
        if not any(
            e.validator in ("const", "not")
            or (e.validator == "required" and list(e.absolute_path) == here)
            for e in errs
        )
    ]
    if not viable:
        # No alternative fits (an unknown task type, say): the unexpected keys are the news.
        unexpected = [e for e in error.context if e.validator == "unevaluatedProperties"]
        return unexpected[0] if unexpected else error
    candidates = [e for errs in viable for e in errs]
    errs = [
        e
        for e in candidates
        if not (e.validator == "unevaluatedProperties" and list(e.absolute_path) == here)
    ] or candidates
    return _explain(_pick(errs))


def validate_document(document: dict[str, Any]) -> DocumentHeader:
    """Validate against the DSL schema; return the header or raise with the offending pointer."""
    errors = list(_validator().iter_errors(document))
    if errors:
        error = _explain(_pick(errors))
        pointer = json_pointer(error.absolute_path)
        raise ValidationFailedError(
            f"invalid workflow document at {pointer or '/'}: {error.message}", field=pointer
        )
    header = document["document"]
    return DocumentHeader(
        dsl=header["dsl"],
        namespace=header["namespace"],
        name=header["name"],
        version=header["version"],
    )


def task_problem(definition: Any) -> str | None:
    """Why ``definition`` is not a valid DSL task (pointer and message), or None if it is."""
    errors = list(task_validator().iter_errors(definition))
    if not errors:
        return None
    error = _explain(_pick(errors))
    return f"at {json_pointer(error.absolute_path) or '/'}: {error.message}"


def count_tasks(document: dict[str, Any]) -> int:
    """Number of top-level tasks in the document's ``do`` list."""
    tasks = document.get("do")
    return len(tasks) if isinstance(tasks, list) else 0
