"""Find an operation's channel and server in an AsyncAPI 3.x or 2.x document.

Pure functions over the parsed document (no I/O): the ``call: asyncapi`` handler fetches
the document and resolves the target here. Only local references (``#/...``) are followed.

AsyncAPI 3.x: ``operations.<name>`` has ``action`` (send/receive) and ``channel`` (a
reference); a channel has ``address`` and may restrict ``servers`` (references); a server
has ``host``, ``protocol``, optional ``pathname`` and ``variables``.
AsyncAPI 2.x: ``channels.<address>`` holds ``publish``/``subscribe`` operations (found by
``operationId``) and may restrict ``servers`` (names); a server has ``url`` and ``protocol``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

_VARIABLE = re.compile(r"\{([^{}]+)\}")
_MAX_REF_DEPTH = 32


class AsyncApiDocumentError(ValueError):
    """The document does not define what the task asks for; the message says what."""


@dataclass(frozen=True)
class AsyncApiTarget:
    """Where a task publishes or subscribes, every server variable substituted."""

    version: str
    server: str
    """The server's name in the document."""
    protocol: str
    """The server's protocol, lower-case (redis, http, kafka...)."""
    url: str
    """``protocol://host/pathname`` (3.x) or the server ``url`` (2.x, scheme added if absent)."""
    address: str
    """The channel's address: the Redis channel, or the path appended to an HTTP server URL."""
    action: str | None
    """The operation's action (send/receive in 3.x, publish/subscribe in 2.x); None without one."""
    correlation_location: str | None = None
    """The first ``correlationId.location`` of the operation's messages (``$message...#/...``)."""
    bindings: Mapping[str, Any] = field(default_factory=dict)
    """The server protocol's bindings by level (``server``, ``channel``, ``operation``,
    ``message``: the first message that has one), local references followed."""


def resolve_target(
    document: Any,
    *,
    operation: str | None,
    channel: str | None,
    server: str | None,
    variables: Mapping[str, Any] | None,
    protocol: str | None,
) -> AsyncApiTarget:
    """The channel and server the task's ``operation`` or ``channel`` uses."""
    if not isinstance(document, Mapping):
        raise AsyncApiDocumentError("the document is not an AsyncAPI object")
    version = document.get("asyncapi")
    if not isinstance(version, str):
        raise AsyncApiDocumentError("the document has no 'asyncapi' version field")
    if version.startswith("3."):
        return _resolve_v3(document, version, operation, channel, server, variables, protocol)
    if version.startswith("2."):
        return _resolve_v2(document, version, operation, channel, server, variables, protocol)
    raise AsyncApiDocumentError(
        f"AsyncAPI version {version!r} is not supported; use a 3.x or 2.x document"
    )


def _resolve_v3(
    document: Mapping[str, Any],
    version: str,
    operation: str | None,
    channel: str | None,
    server: str | None,
    variables: Mapping[str, Any] | None,
    protocol: str | None,
) -> AsyncApiTarget:
    channels = _mapping(document.get("channels"))
    action: str | None = None
    messages: list[Any] = []
    operation_spec: Mapping[str, Any] = {}
    if operation is not None:
        spec = _mapping(document.get("operations")).get(operation)
        if not isinstance(spec, Mapping):
            raise AsyncApiDocumentError(f"the document defines no operation {operation!r}")
        spec = operation_spec = _deref(document, spec)
        action = spec.get("action") if isinstance(spec.get("action"), str) else None
        if "channel" not in spec:
            raise AsyncApiDocumentError(f"operation {operation!r} has no channel")
        channel_name = _ref_name(spec["channel"])
        channel_spec = _deref(document, spec["channel"])
        messages.extend(_list(spec.get("messages")))
    elif channel is not None:
        channel_name, channel_spec = _find_channel_v3(channels, channel)
    else:
        raise AsyncApiDocumentError("name an operation or a channel")
    address = channel_spec.get("address")
    if not isinstance(address, str) or not address:
        raise AsyncApiDocumentError(
            f"channel {channel_name!r} has no address (dynamic addresses are not supported)"
        )
    messages.extend(_mapping(channel_spec.get("messages")).values())
    allowed = [_ref_name(ref) for ref in _list(channel_spec.get("servers"))]
    name, server_spec = _pick_server(document, allowed, server, protocol)
    server_protocol = _protocol(name, server_spec)
    host = server_spec.get("host")
    if not isinstance(host, str) or not host:
        raise AsyncApiDocumentError(f"server {name!r} has no host")
    pathname = server_spec.get("pathname")
    pathname = pathname if isinstance(pathname, str) else ""
    url = _substitute(
        f"{server_protocol}://{host}{pathname}",
        name,
        _mapping(server_spec.get("variables")),
        variables,
    )
    return AsyncApiTarget(
        version=version,
        server=name,
        protocol=server_protocol,
        url=url,
        address=address,
        action=action,
        correlation_location=_correlation(document, messages),
        bindings=_bindings(
            document,
            server_protocol,
            server=server_spec,
            channel=channel_spec,
            operation=operation_spec,
            messages=messages,
        ),
    )


def _find_channel_v3(channels: Mapping[str, Any], channel: str) -> tuple[str, Mapping[str, Any]]:
    """A channel by key, or else by address."""
    if isinstance(channels.get(channel), Mapping):
        return channel, channels[channel]
    for name, spec in channels.items():
        if isinstance(spec, Mapping) and spec.get("address") == channel:
            return str(name), spec
    raise AsyncApiDocumentError(f"the document defines no channel {channel!r}")


def _resolve_v2(
    document: Mapping[str, Any],
    version: str,
    operation: str | None,
    channel: str | None,
    server: str | None,
    variables: Mapping[str, Any] | None,
    protocol: str | None,
) -> AsyncApiTarget:
    channels = _mapping(document.get("channels"))
    action: str | None = None
    operation_spec: Mapping[str, Any] | None = None
    if operation is not None:
        found = [
            (str(address), spec, kind)
            for address, spec in channels.items()
            if isinstance(spec, Mapping)
            for kind in ("publish", "subscribe")
            if isinstance(spec.get(kind), Mapping) and spec[kind].get("operationId") == operation
        ]
        if channel is not None:
            found = [entry for entry in found if entry[0] == channel]
        if not found:
            raise AsyncApiDocumentError(f"the document defines no operationId {operation!r}")
        address, channel_spec, action = found[0]
        operation_spec = channel_spec[action]
    elif channel is not None:
        named = channels.get(channel)
        if not isinstance(named, Mapping):
            raise AsyncApiDocumentError(f"the document defines no channel {channel!r}")
        address, channel_spec = channel, named
    else:
        raise AsyncApiDocumentError("name an operation or a channel")
    channel_spec = _deref(document, channel_spec)
    operations = (
        [operation_spec]
        if operation_spec is not None
        else [channel_spec[k] for k in ("publish", "subscribe") if k in channel_spec]
    )
    messages: list[Any] = []
    for spec in operations:
        message = _deref(document, spec.get("message")) if isinstance(spec, Mapping) else {}
        messages.extend(_list(message.get("oneOf")) or [message])
    allowed = [str(name) for name in _list(channel_spec.get("servers"))]
    name, server_spec = _pick_server(document, allowed, server, protocol)
    server_protocol = _protocol(name, server_spec)
    url = server_spec.get("url")
    if not isinstance(url, str) or not url:
        raise AsyncApiDocumentError(f"server {name!r} has no url")
    if "://" not in url:
        url = f"{server_protocol}://{url}"
    url = _substitute(url, name, _mapping(server_spec.get("variables")), variables)
    return AsyncApiTarget(
        version=version,
        server=name,
        protocol=server_protocol,
        url=url,
        address=address,
        action=action,
        correlation_location=_correlation(document, messages),
        bindings=_bindings(
            document,
            server_protocol,
            server=server_spec,
            channel=channel_spec,
            operation=_deref(document, operation_spec) if operation_spec is not None else {},
            messages=messages,
        ),
    )


def _pick_server(
    document: Mapping[str, Any], allowed: list[str], server: str | None, protocol: str | None
) -> tuple[str, Mapping[str, Any]]:
    """The named server; else the first (allowed) one speaking ``protocol``; else the first."""
    servers = _mapping(document.get("servers"))
    if server is not None:
        spec = servers.get(server)
        if not isinstance(spec, Mapping):
            raise AsyncApiDocumentError(f"the document defines no server {server!r}")
        if allowed and server not in allowed:
            raise AsyncApiDocumentError(
                f"server {server!r} does not serve the channel (it lists {', '.join(allowed)})"
            )
        spec = _deref(document, spec)
        if protocol is not None and _protocol(server, spec) != protocol.lower():
            raise AsyncApiDocumentError(
                f"server {server!r} speaks {_protocol(server, spec)}, not {protocol}"
            )
        return server, spec
    candidates = [
        (str(name), _deref(document, spec))
        for name, spec in servers.items()
        if isinstance(spec, Mapping) and (not allowed or name in allowed)
    ]
    if protocol is not None:
        candidates = [c for c in candidates if _protocol(c[0], c[1]) == protocol.lower()]
        if not candidates:
            raise AsyncApiDocumentError(f"no server of the channel speaks {protocol}")
    if not candidates:
        raise AsyncApiDocumentError("the document defines no server for the channel")
    return candidates[0]


def _protocol(name: str, spec: Mapping[str, Any]) -> str:
    protocol = spec.get("protocol")
    if not isinstance(protocol, str) or not protocol:
        raise AsyncApiDocumentError(f"server {name!r} has no protocol")
    return protocol.lower()


def _substitute(
    text: str, server: str, declared: Mapping[str, Any], given: Mapping[str, Any] | None
) -> str:
    """Replace ``{name}`` with the task's server variable, else the declared default."""

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        spec = declared.get(name)
        spec = spec if isinstance(spec, Mapping) else {}
        if given is not None and name in given:
            value = str(given[name])
        elif "default" in spec:
            value = str(spec["default"])
        else:
            raise AsyncApiDocumentError(
                f"server {server!r} needs the variable {name!r}: set with.server.variables.{name}"
            )
        allowed = spec.get("enum")
        if isinstance(allowed, list) and allowed and value not in [str(v) for v in allowed]:
            raise AsyncApiDocumentError(
                f"server {server!r}: variable {name!r} must be one of "
                f"{', '.join(str(v) for v in allowed)}, got {value!r}"
            )
        return value

    return _VARIABLE.sub(value_of, text)


def _bindings(
    document: Mapping[str, Any],
    protocol: str,
    *,
    server: Mapping[str, Any],
    channel: Mapping[str, Any],
    operation: Mapping[str, Any],
    messages: list[Any],
) -> dict[str, Any]:
    """Each level's ``bindings.<protocol>`` object, for the transport to honour."""
    found: dict[str, Any] = {}
    levels: list[tuple[str, Any]] = [
        ("server", server),
        ("channel", channel),
        ("operation", operation),
        *(("message", message) for message in messages),
    ]
    for level, spec in levels:
        if level in found:
            continue
        bindings = _deref(document, _deref(document, spec).get("bindings"))
        value = _deref(document, bindings.get(protocol))
        if value:
            found[level] = _resolved(document, value)
    return found


def _resolved(document: Mapping[str, Any], value: Any, depth: int = 0) -> Any:
    """``value`` with local references inside it followed (bindings nest exchange/queue)."""
    if depth > _MAX_REF_DEPTH:
        raise AsyncApiDocumentError("the document's bindings nest too deep (a cycle?)")
    if isinstance(value, Mapping):
        if isinstance(value.get("$ref"), str):
            return _resolved(document, _deref(document, value), depth + 1)
        return {str(k): _resolved(document, v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(document, v, depth + 1) for v in value]
    return value


def _correlation(document: Mapping[str, Any], messages: list[Any]) -> str | None:
    for message in messages:
        spec = _deref(document, message)
        correlation = _deref(document, spec.get("correlationId"))
        location = correlation.get("location")
        if isinstance(location, str) and location:
            return location
    return None


def _deref(document: Mapping[str, Any], value: Any) -> Mapping[str, Any]:
    """Follow local ``$ref`` chains; anything that is not an object resolves to ``{}``."""
    for _ in range(_MAX_REF_DEPTH):
        if not isinstance(value, Mapping):
            return {}
        ref = value.get("$ref")
        if not isinstance(ref, str):
            return value
        value = _pointer(document, ref)
    raise AsyncApiDocumentError("the document's $ref chain is too deep (a cycle?)")


def _pointer(document: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#"):
        raise AsyncApiDocumentError(f"external reference {ref!r} is not supported")
    node: Any = document
    for part in ref[1:].split("/")[1:]:
        key = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise AsyncApiDocumentError(f"reference {ref!r} points to nothing in the document")
    return node


def _ref_name(value: Any) -> str:
    """The last segment of a ``$ref`` (a channel or server name), or the value itself."""
    if isinstance(value, Mapping) and isinstance(value.get("$ref"), str):
        return str(unquote(value["$ref"].rsplit("/", 1)[-1]).replace("~1", "/").replace("~0", "~"))
    return str(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def correlation_id(location: str | None, message: Mapping[str, Any]) -> str | None:
    """The correlation id a ``$message.payload#/a/b`` or ``$message.header#/a`` location
    selects in ``message`` (with ``payload`` and ``headers``); None when absent."""
    if not location or "#" not in location:
        return None
    source, _, pointer = location.partition("#")
    source = source.strip()
    if source == "$message.payload":
        node: Any = message.get("payload")
    elif source == "$message.header":
        node = message.get("headers")
    else:
        return None
    for part in pointer.split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        else:
            return None
    if node is None or isinstance(node, Mapping | list):
        return None
    return str(node)
