"""Workflow secrets (``$secrets``) from the runner's configuration, and masking them.

Secrets come from environment variables with a prefix (``STIGMER_SECRET_<NAME>``) and
from files in a mounted directory (``STIGMER_RUNNER_SECRETS_DIR``), and a workflow sees
only those it declares in ``use.secrets``. Any value of a secret must never show in what
leaves the run (task input, output and errors, the execution's output): :func:`mask`
replaces them with ``***``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from stigmer_core.errors import ValidationFailedError
from stigmer_runner.settings import RunnerSettings

MASK = "***"
MIN_MASKED_LENGTH = 4
"""Shorter values would mask ordinary text (``a``, ``on``, ``1``) everywhere."""

_STRUCTURED_SUFFIXES = (".json", ".yaml", ".yml")
_NOT_ENV = re.compile(r"[^A-Za-z0-9]")


class MissingSecretsError(ValidationFailedError):
    """The workflow declares secrets this runner does not have."""


def declared_secrets(document: Mapping[str, Any]) -> list[str]:
    """The names in the document's ``use.secrets`` (a list of strings), in order."""
    use = document.get("use")
    names = use.get("secrets") if isinstance(use, Mapping) else None
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ValidationFailedError(
            "use.secrets must be a list of secret names", field="/use/secrets"
        )
    return list(dict.fromkeys(names))


def load_secrets(
    settings: RunnerSettings,
    names: Iterable[str],
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The values of the secrets ``names``, and of no other.

    For each name, the variable ``<prefix><NAME>`` wins (the name upper-cased, characters
    other than letters and digits as ``_``; a JSON object or array value is parsed), then a
    file in the secrets directory named ``name``, ``name.json``, ``name.yaml`` or
    ``name.yml`` (JSON/YAML parsed; a plain file is its text without the final newline).
    Raises :class:`MissingSecretsError` naming every secret found nowhere.
    """
    env = os.environ if environ is None else environ
    directory = settings.stigmer_runner_secrets_dir
    secrets: dict[str, Any] = {}
    missing: list[str] = []
    for name in dict.fromkeys(names):
        variable = settings.stigmer_runner_secret_env_prefix + _NOT_ENV.sub("_", name).upper()
        if variable in env:
            secrets[name] = _env_value(env[variable])
            continue
        found = _from_directory(directory, name) if directory is not None else None
        if found is None:
            missing.append(name)
        else:
            secrets[name] = found[0]
    if missing:
        where = f"environment variables {settings.stigmer_runner_secret_env_prefix}<NAME>"
        if directory is not None:
            where += f" or files in {directory}"
        raise MissingSecretsError(
            f"secrets declared in use.secrets are not configured on this runner: "
            f"{', '.join(missing)} (looked in {where})",
            field="/use/secrets",
        )
    return secrets


def _env_value(text: str) -> Any:
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError:
            pass  # not JSON after all: the text is the secret
    return text


def _from_directory(directory: Path, name: str) -> tuple[Any] | None:
    """``(value,)`` from the secret's file, or None when there is no such file."""
    if "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
        return None  # a name never reaches outside the directory
    for suffix in ("", *_STRUCTURED_SUFFIXES):
        path = directory / f"{name}{suffix}"
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if suffix:
            try:
                return (yaml.safe_load(text),)  # YAML is a superset of JSON
            except yaml.YAMLError as exc:
                raise ValidationFailedError(
                    f"secret file {path} is not valid {suffix[1:].upper()}: {exc}",
                    field="/use/secrets",
                ) from None
        return (_plain(text),)
    return None


def _plain(text: str) -> Any:
    """A file without suffix: a YAML/JSON mapping or list when it is one, else its text."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")) or ("\n" in stripped and ":" in stripped):
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = None
        if isinstance(value, dict | list):
            return value
    return text[:-1] if text.endswith("\n") else text


# --- masking --------------------------------------------------------------------------------


def secret_strings(secrets: Mapping[str, Any]) -> list[str]:
    """Every text form a secret value may take in output, longest first.

    Each string (of at least MIN_MASKED_LENGTH characters) and number found in a secret,
    the same escaped as inside a JSON string, and each structured value as JSON.
    """
    found: set[str] = set()

    def add(text: str) -> None:
        if len(text) >= MIN_MASKED_LENGTH:
            found.add(text)
            escaped = json.dumps(text)[1:-1]
            if escaped != text:
                found.add(escaped)

    def walk(value: Any) -> None:
        if isinstance(value, str):
            add(value)
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, int | float):
            add(str(value))
        elif isinstance(value, Mapping):
            add(json.dumps(value))
            add(json.dumps(value, separators=(",", ":")))
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            add(json.dumps(value))
            add(json.dumps(value, separators=(",", ":")))
            for item in value:
                walk(item)

    for value in secrets.values():
        walk(value)
    return sorted(found, key=lambda s: (-len(s), s))


def mask(value: Any, secrets: Mapping[str, Any] | Iterable[str]) -> Any:
    """``value`` with every secret value replaced by ``***``, in strings, keys and nested
    values alike. ``secrets`` is the secrets mapping or :func:`secret_strings` of it
    (cheaper when masking many values with the same secrets). Returns a new value; numbers,
    booleans and null are returned unchanged unless they equal a secret number.
    """
    needles = secret_strings(secrets) if isinstance(secrets, Mapping) else list(secrets)
    if not needles:
        return value
    return _mask(value, needles)


def _mask(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        for needle in needles:
            if needle in value:
                value = value.replace(needle, MASK)
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return MASK if str(value) in needles else value
    if isinstance(value, Mapping):
        return {_mask(str(k), needles): _mask(v, needles) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(item, needles) for item in value]
    return value
