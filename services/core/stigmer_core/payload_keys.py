"""Keys that encrypt Temporal payloads: parsing them from settings, a file, or text.

A key is written ``<key id>:<base64 of 32 bytes>``. The id is stored next to every payload
it encrypts, so after a rotation the codec still knows which key opens an older payload.
This module only parses and validates; ``payload_codec`` does the cryptography.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path

from stigmer_core.errors import ValidationFailedError

KEY_BYTES = 32
"""AES-256: keys are 32 bytes."""

_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class PayloadKey:
    """One AES-256 key and the id payloads name it by."""

    key_id: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class PayloadKeyring:
    """The key new payloads are encrypted with, and older keys kept only to decrypt."""

    current: PayloadKey
    previous: tuple[PayloadKey, ...] = ()

    def __post_init__(self) -> None:
        ids = [key.key_id for key in (self.current, *self.previous)]
        duplicates = sorted({key_id for key_id in ids if ids.count(key_id) > 1})
        if duplicates:
            raise ValueError(f"payload key id {duplicates[0]!r} is given more than once")


def parse_key(text: str) -> PayloadKey:
    """``<key id>:<base64 key>`` → PayloadKey; ValueError saying what is wrong (never the key)."""
    key_id, colon, encoded = text.strip().partition(":")
    if not colon:
        raise ValueError("a payload key is written `<key id>:<base64 of 32 bytes>`")
    if not _KEY_ID.match(key_id):
        raise ValueError(f"payload key id {key_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
    try:
        secret = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"payload key {key_id!r} is not valid base64") from None
    if len(secret) != KEY_BYTES:
        raise ValueError(
            f"payload key {key_id!r} is {len(secret)} bytes; AES-256 needs {KEY_BYTES} "
            "(generate one with `openssl rand -base64 32`)"
        )
    return PayloadKey(key_id=key_id, secret=secret)


def parse_keys(text: str, *, separator: str = ",") -> tuple[PayloadKey, ...]:
    """Several keys separated by ``separator``; blank entries and ``#`` comments are skipped."""
    entries = (entry.split("#", 1)[0].strip() for entry in text.split(separator))
    return tuple(parse_key(entry) for entry in entries if entry)


def keyring_from(
    *, current: str | None, previous: str | None, keys_file: Path | None
) -> PayloadKeyring | None:
    """The keyring the settings describe, or None when no key is configured (codec off).

    Either ``current`` (plus optional ``previous``) or ``keys_file`` (first line encrypts,
    the others only decrypt). Raises ValidationFailedError naming the variable to fix.
    """
    if keys_file is not None:
        if current or previous:
            raise ValidationFailedError(
                "set either STIGMER_PAYLOAD_KEYS_FILE or STIGMER_PAYLOAD_KEY "
                "(and STIGMER_PAYLOAD_PREVIOUS_KEYS), not both",
                field="STIGMER_PAYLOAD_KEYS_FILE",
            )
        return _keyring_from_file(keys_file)
    if not current:
        if previous:
            raise ValidationFailedError(
                "STIGMER_PAYLOAD_PREVIOUS_KEYS is set without STIGMER_PAYLOAD_KEY: "
                "the current key is needed to encrypt new payloads",
                field="STIGMER_PAYLOAD_KEY",
            )
        return None
    try:
        return PayloadKeyring(current=parse_key(current), previous=parse_keys(previous or ""))
    except ValueError as exc:
        raise ValidationFailedError(str(exc), field="STIGMER_PAYLOAD_KEY") from None


def _keyring_from_file(path: Path) -> PayloadKeyring:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationFailedError(
            f"cannot read the payload keys file {path}: {exc.strerror or exc}",
            field="STIGMER_PAYLOAD_KEYS_FILE",
        ) from None
    try:
        keys = parse_keys(text, separator="\n")
        if not keys:
            raise ValueError("it holds no key (one `<key id>:<base64 key>` per line)")
        return PayloadKeyring(current=keys[0], previous=keys[1:])
    except ValueError as exc:
        raise ValidationFailedError(
            f"payload keys file {path}: {exc}", field="STIGMER_PAYLOAD_KEYS_FILE"
        ) from None
