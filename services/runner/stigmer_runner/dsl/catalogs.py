"""Functions from catalogs (``name:version@catalog``) and by URI, fetched once per run.

A catalog (``use.catalogs.<name>.endpoint``) is the root of the specification's catalog
layout: the function ``log:1.0.0`` is the task definition at
``<root>/functions/log/1.0.0/function.yaml``. The catalog named ``default`` may be left
out of ``use.catalogs``: the runner's ``STIGMER_RUNNER_DEFAULT_CATALOG_URL`` stands for it
(a ``default`` in ``use.catalogs`` overrides it, as the specification allows). A function
may also be called by the URI of its definition (``call: https://.../function.yaml``).

Roots and URIs on GitHub or GitLab (``.../tree/<ref>/...``) are read from the raw content
host, as the specification expects. The definition is fetched with an HTTP GET through the
runtime (an activity inside Temporal, so it is recorded and replays identically), parsed as
YAML or JSON, checked against the DSL schema's task definition, and kept for the rest of the
run: a function called many times is fetched once.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import yaml

from stigmer_core.dsl_document import load_yaml, task_problem
from stigmer_runner.dsl.contracts import HttpRequest
from stigmer_runner.dsl.errors import WorkflowError, http_status_problem
from stigmer_runner.dsl.tasks.authentication import send_authenticated
from stigmer_runner.dsl.tasks.base import TaskContext
from stigmer_runner.dsl.tasks.call_http import resolve_uri, response_excerpt

DEFAULT_CATALOG = "default"
"""The catalog name the specification reserves for the runtime's own catalog."""

# {functionName}:{functionVersion}@{catalogName}, as the specification spells catalog calls.
_CATALOGED = re.compile(r"^(?P<name>[^:@/\s]+):(?P<version>[^@/\s]+)@(?P<catalog>[^@/\s]+)$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_ACCEPT = "application/yaml, text/yaml;q=0.9, application/json;q=0.9, */*;q=0.1"


def is_catalog_reference(function: str) -> bool:
    """Whether ``call: <function>`` names a cataloged function or a function by URI."""
    return bool(_CATALOGED.match(function) or _URI.match(function))


def raw_content_url(url: str) -> str:
    """A GitHub or GitLab browsing URL (``tree``/``blob``) turned into its raw-content URL.

    ``https://github.com/o/r/tree/main/functions/f`` → ``https://raw.githubusercontent.com/
    o/r/main/functions/f``; a GitHub repository root with no ``tree`` reads the default
    branch (``HEAD``). GitLab: ``/-/tree/<ref>/`` and ``/-/blob/<ref>/`` → ``/-/raw/<ref>/``.
    Any other URL is returned unchanged.
    """
    parts = urlsplit(url)
    host = parts.netloc.lower().removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if host == "github.com" and len(segments) >= 2:
        owner, repo, rest = segments[0], segments[1], segments[2:]
        browsing = rest[:1] in (["tree"], ["blob"]) and len(rest) >= 2
        rest = rest[1:] if browsing else ["HEAD", *rest]
        return "https://raw.githubusercontent.com/" + "/".join([owner, repo, *rest])
    if host == "gitlab.com" and "-" in segments:
        marker = segments.index("-")
        if segments[marker + 1 : marker + 2] in (["tree"], ["blob"]):
            segments[marker + 1] = "raw"
            return f"{parts.scheme}://{parts.netloc}/" + "/".join(segments)
    return url


class FunctionCatalogs:
    """Resolves cataloged and by-URI functions for one run; caches each definition by URL.

    ``default_catalog`` is the root URL of the runner's default catalog, if it has one.
    """

    def __init__(self, *, default_catalog: str | None = None) -> None:
        self._default = default_catalog or None
        self._definitions: dict[str, Mapping[str, Any]] = {}
        # One fetch per URL even when parallel branches call the same function at once.
        self._locks: dict[str, asyncio.Lock] = {}

    async def definition(self, task: TaskContext, function: str) -> Mapping[str, Any]:
        """The task definition of the cataloged or by-URI ``function`` (see the module doc)."""
        cataloged = _CATALOGED.match(function)
        if cataloged is None:
            url, policy, field = raw_content_url(function), None, "call"
            missing = f"there is no function at {function!r}"
        else:
            name, version, catalog = cataloged.group("name", "version", "catalog")
            root, policy, field = self._root(task, function, catalog)
            url = f"{raw_content_url(root.rstrip('/'))}/functions/{name}/{version}/function.yaml"
            missing = f"catalog {catalog!r} has no function {name!r} version {version!r}"
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:
            if url not in self._definitions:
                self._definitions[url] = await _fetch(task, function, url, policy, field, missing)
        return self._definitions[url]

    def _root(self, task: TaskContext, function: str, catalog: str) -> tuple[str, Any, str]:
        """The catalog's root URL, its authentication policy and the field naming it."""
        use = task.document.get("use")
        catalogs = use.get("catalogs") if isinstance(use, Mapping) else None
        if catalogs is not None and not isinstance(catalogs, Mapping):
            raise task.configuration_error("use.catalogs must map catalog names to catalogs")
        defined = catalogs or {}
        if catalog in defined:
            field = f"use.catalogs.{catalog}.endpoint"
            entry = defined[catalog]
            if not isinstance(entry, Mapping) or "endpoint" not in entry:
                raise task.configuration_error(f"use.catalogs.{catalog} must have an 'endpoint'")
            url, policy = resolve_uri(task, entry["endpoint"], field=field)
            return url, policy, field
        if catalog == DEFAULT_CATALOG:
            if self._default is None:
                raise task.configuration_error(
                    f"call: {function!r} names the default catalog, but this runner has none"
                    " (set STIGMER_RUNNER_DEFAULT_CATALOG_URL) and use.catalogs defines no"
                    " 'default'"
                )
            return self._default, None, "STIGMER_RUNNER_DEFAULT_CATALOG_URL"
        known = ", ".join(sorted(map(str, defined))) or "none"
        raise task.configuration_error(
            f"call: {function!r} names catalog {catalog!r}, which is not defined in"
            f" use.catalogs (defined: {known})"
        )


async def _fetch(
    task: TaskContext, function: str, url: str, policy: Any, field: str, missing: str
) -> Mapping[str, Any]:
    # ``raw``: a YAML definition may be served under any content type; parsed here instead.
    request = HttpRequest(
        method="GET", url=url, headers={"Accept": _ACCEPT}, redirect=True, output="raw"
    )
    response, _ = await send_authenticated(task, request, policy, field=f"{field}.authentication")
    if response.status_code in (404, 410):
        raise task.configuration_error(
            f"call: {function!r}: {missing} (GET {url} answered {response.status_code})"
        )
    if not 200 <= response.status_code < 300:
        raise WorkflowError(
            http_status_problem(
                response.status_code,
                method="GET",
                uri=response.request_uri or url,
                excerpt=response_excerpt(response.body_text()),
                instance=task.pointer,
            )
        )
    text = response.body_text()
    try:
        # Through JSON, so YAML-only values (dates, say) cannot reach the workflow state.
        definition = json.loads(json.dumps(load_yaml(text or "")))
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        raise task.configuration_error(
            f"call: {function!r}: the definition at {url} is neither YAML nor JSON: {exc}"
        ) from None
    problem = task_problem(definition)
    if problem is not None:
        raise task.configuration_error(
            f"call: {function!r}: the definition at {url} is not a valid task {problem}"
        )
    result: Mapping[str, Any] = definition
    return result
