"""The AES-256-GCM payload codec: round trips, key ids, rotation, and failures that say why."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from stigmer_core.errors import ValidationFailedError
from stigmer_core.payload_codec import (
    ENCODING,
    KEY_ID_METADATA,
    AesGcmPayloadCodec,
    PayloadDecryptionError,
)
from stigmer_core.payload_keys import PayloadKey, PayloadKeyring, keyring_from, parse_key
from stigmer_core.settings import TemporalSettings
from stigmer_core.temporal_connect import data_converter

SECRET = "s3cr3t-value-for-tests"


def _key(key_id: str) -> PayloadKey:
    return PayloadKey(key_id=key_id, secret=os.urandom(32))


def _text(key: PayloadKey) -> str:
    return f"{key.key_id}:{base64.b64encode(key.secret).decode()}"


def _codec(current: PayloadKey, *previous: PayloadKey) -> AesGcmPayloadCodec:
    return AesGcmPayloadCodec(keyring=PayloadKeyring(current=current, previous=previous))


async def _payloads(value: object) -> list[Payload]:
    return await DataConverter.default.encode([value])


async def test_round_trip_restores_the_payload_and_hides_its_bytes() -> None:
    codec = _codec(_key("k1"))
    [clear] = await _payloads({"apiKey": SECRET, "n": 1})
    [sealed] = await codec.encode([clear])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"k1"
    assert SECRET.encode() not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()  # the original metadata is sealed too
    assert await codec.decode([sealed]) == [clear]


async def test_the_same_payload_encrypts_differently_each_time() -> None:
    codec = _codec(_key("k1"))
    [clear] = await _payloads(SECRET)
    first, second = await codec.encode([clear, clear])
    assert first.data != second.data


async def test_a_whole_converter_round_trips_values() -> None:
    converter = DataConverter(payload_codec=_codec(_key("k1")))
    encoded = await converter.encode([{"a": [1, 2]}, "x", None])
    assert all(p.metadata["encoding"] == ENCODING for p in encoded)
    assert await converter.decode(encoded) == [{"a": [1, 2]}, "x", None]


async def test_clear_payloads_pass_through_so_older_histories_still_read() -> None:
    codec = _codec(_key("k1"))
    clear = await _payloads({"written": "before the codec was on"})
    assert await codec.decode(clear) == clear


async def test_an_unknown_key_id_is_a_clear_error() -> None:
    [sealed] = await _codec(_key("gone")).encode(await _payloads(SECRET))
    with pytest.raises(PayloadDecryptionError) as caught:
        await _codec(_key("k2"), _key("k1")).decode([sealed])
    message = caught.value.message
    assert "'gone'" in message
    assert "k1, k2" in message
    assert "STIGMER_PAYLOAD_PREVIOUS_KEYS" in message


async def test_after_rotation_new_payloads_use_the_new_key_and_old_ones_still_decrypt() -> None:
    old, new = _key("2024-01"), _key("2025-06")
    [written_before] = await _codec(old).encode(await _payloads("before"))
    rotated = _codec(new, old)
    [written_after] = await rotated.encode(await _payloads("after"))
    assert rotated.current_key_id == "2025-06"
    assert written_after.metadata[KEY_ID_METADATA] == b"2025-06"
    decoded = await rotated.decode([written_before, written_after])
    assert await DataConverter.default.decode(decoded) == ["before", "after"]
    with pytest.raises(PayloadDecryptionError, match="2025-06"):
        await _codec(old).decode([written_after])  # a process not yet given the new key


async def test_a_wrong_key_under_the_right_id_fails_clearly() -> None:
    [sealed] = await _codec(_key("k1")).encode(await _payloads(SECRET))
    with pytest.raises(PayloadDecryptionError, match="does not decrypt with the key configured"):
        await _codec(_key("k1")).decode([sealed])


async def test_a_relabelled_key_id_is_detected() -> None:
    key = _key("k1")
    codec = _codec(key, PayloadKey(key_id="k0", secret=key.secret))
    [sealed] = await codec.encode(await _payloads(SECRET))
    sealed.metadata[KEY_ID_METADATA] = b"k0"  # same key bytes, other id: the id is authenticated
    with pytest.raises(PayloadDecryptionError):
        await codec.decode([sealed])


def test_parse_key_checks_id_encoding_and_length() -> None:
    key = _key("k1")
    assert parse_key(_text(key)) == key
    with pytest.raises(ValueError, match="<key id>:<base64"):
        parse_key("no-colon")
    with pytest.raises(ValueError, match="must be 1-64 letters"):
        parse_key("bad id:" + base64.b64encode(key.secret).decode())
    with pytest.raises(ValueError, match="not valid base64"):
        parse_key("k1:***")
    with pytest.raises(ValueError, match="is 16 bytes; AES-256 needs 32"):
        parse_key("k1:" + base64.b64encode(os.urandom(16)).decode())


def test_no_key_means_no_codec() -> None:
    assert keyring_from(current=None, previous=None, keys_file=None) is None
    assert data_converter(TemporalSettings()).payload_codec is None


def test_settings_from_the_environment_make_an_encrypting_converter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    new, old = _key("new"), _key("old")
    monkeypatch.setenv("STIGMER_PAYLOAD_KEY", _text(new))
    monkeypatch.setenv("STIGMER_PAYLOAD_PREVIOUS_KEYS", _text(old))
    converter = data_converter(TemporalSettings())
    assert isinstance(converter.payload_codec, AesGcmPayloadCodec)
    assert converter.payload_codec.current_key_id == "new"
    # Error messages may quote secrets: they are sealed as well.
    assert converter.failure_converter_class is DefaultFailureConverterWithEncodedAttributes


def test_a_malformed_key_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STIGMER_PAYLOAD_KEY", "k1:tooshort")
    with pytest.raises(ValueError, match="stigmer_payload_key"):
        TemporalSettings()


def test_a_keys_file_first_line_encrypts_the_rest_decrypt(tmp_path: Path) -> None:
    new, old = _key("new"), _key("old")
    path = tmp_path / "keys"
    path.write_text(f"# rotated 2025-06\n{_text(new)}\n\n{_text(old)}\n", encoding="utf-8")
    keyring = keyring_from(current=None, previous=None, keys_file=path)
    assert keyring == PayloadKeyring(current=new, previous=(old,))


def test_keys_file_problems_name_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(ValidationFailedError, match="cannot read") as caught:
        keyring_from(current=None, previous=None, keys_file=missing)
    assert caught.value.field == "STIGMER_PAYLOAD_KEYS_FILE"
    empty = tmp_path / "empty"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ValidationFailedError, match="holds no key"):
        keyring_from(current=None, previous=None, keys_file=empty)
    with pytest.raises(ValidationFailedError, match="not both"):
        keyring_from(current=_text(_key("k")), previous=None, keys_file=empty)


def test_duplicate_ids_and_previous_without_current_are_refused() -> None:
    key = _key("k1")
    with pytest.raises(ValidationFailedError, match="more than once"):
        keyring_from(current=_text(key), previous=_text(_key("k1")), keys_file=None)
    with pytest.raises(ValidationFailedError, match="without STIGMER_PAYLOAD_KEY"):
        keyring_from(current=None, previous=_text(key), keys_file=None)


def test_keys_never_show_in_reprs() -> None:
    key = _key("k1")
    assert base64.b64encode(key.secret).decode() not in repr(PayloadKeyring(current=key))
