"""A Temporal payload codec that encrypts every payload with AES-256-GCM.

Workflow inputs, activity results, signals and memos pass through it on their way to
Temporal, so `$secrets` values (loaded by an activity) never rest in a history in clear.
Each encrypted payload names its key id in its metadata: after a rotation the new key
encrypts, and older keys, kept for decryption only, still open what they wrote.

A payload without the encryption marker is passed through unchanged, so histories written
before the codec was switched on keep replaying.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from stigmer_core.errors import StigmerError
from stigmer_core.payload_keys import PayloadKeyring

ENCODING = b"binary/encrypted"
"""The `encoding` metadata of an encrypted payload (the name Temporal's samples use)."""

KEY_ID_METADATA = "encryption-key-id"
"""Metadata entry naming the key that encrypted the payload."""

_NONCE_BYTES = 12


class PayloadDecryptionError(StigmerError):
    """An encrypted payload cannot be opened with the configured keys."""

    code = "payload_decryption_failed"


class AesGcmPayloadCodec(PayloadCodec):
    """Encrypts with the keyring's current key; decrypts with whichever key a payload names."""

    def __init__(self, *, keyring: PayloadKeyring) -> None:
        self._current_id = keyring.current.key_id
        self._ciphers = {
            key.key_id: AESGCM(key.secret) for key in (keyring.current, *keyring.previous)
        }

    @property
    def current_key_id(self) -> str:
        return self._current_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        """The whole payload (metadata and data) sealed; the key id is authenticated too."""
        key_id = self._current_id.encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._current_id].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id}, data=nonce + sealed
        )

    def decrypt(self, payload: Payload) -> Payload:
        """The original payload; clear payloads as they are; PayloadDecryptionError if stuck."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            known = ", ".join(sorted(self._ciphers))
            raise PayloadDecryptionError(
                f"a Temporal payload is encrypted with key id {key_id!r}, which is not "
                f"configured (configured: {known}); add that key to "
                "STIGMER_PAYLOAD_PREVIOUS_KEYS or the payload keys file"
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise PayloadDecryptionError(
                f"a Temporal payload does not decrypt with the key configured as {key_id!r}: "
                "that id names a different key than the one that encrypted it, "
                "or the payload was altered"
            ) from None
        return Payload.FromString(plain)
