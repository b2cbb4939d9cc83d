"""Loading a workflow's declared secrets from the runner's configuration, and masking them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from stigmer_core.errors import ValidationFailedError
from stigmer_runner.activities.secret_loading import SecretLoading
from stigmer_runner.dsl.run_contracts import SECRETS_UNAVAILABLE_ERROR, SecretsRequest
from stigmer_runner.secrets import (
    MASK,
    MissingSecretsError,
    declared_secrets,
    load_secrets,
    mask,
    secret_strings,
)
from stigmer_runner.settings import RunnerSettings


def settings(secrets_dir: Path | None = None) -> RunnerSettings:
    return RunnerSettings(stigmer_runner_secrets_dir=secrets_dir)


# --- loading ------------------------------------------------------------------------------


def test_env_secrets_by_prefix_with_json_values() -> None:
    environ = {
        "STIGMER_SECRET_API_KEY": "k-123456",
        "STIGMER_SECRET_DB": '{"username": "admin", "password": "s3cret!"}',
        "STIGMER_SECRET_ODD": "{not json",
    }
    loaded = load_secrets(settings(), ["api-key", "db", "odd"], environ=environ)
    assert loaded == {
        "api-key": "k-123456",
        "db": {"username": "admin", "password": "s3cret!"},
        "odd": "{not json",
    }


def test_file_secrets_plain_json_and_yaml(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("tok-abcdef\n")
    (tmp_path / "db.json").write_text(json.dumps({"password": "pw-1234"}))
    (tmp_path / "oauth.yaml").write_text("client:\n  id: app\n  secret: shh-9999\n")
    (tmp_path / "mounted").write_text("username: u\npassword: p-5678\n")
    loaded = load_secrets(settings(tmp_path), ["token", "db", "oauth", "mounted"], environ={})
    assert loaded == {
        "token": "tok-abcdef",
        "db": {"password": "pw-1234"},
        "oauth": {"client": {"id": "app", "secret": "shh-9999"}},
        "mounted": {"username": "u", "password": "p-5678"},
    }


def test_only_declared_secrets_are_exposed(tmp_path: Path) -> None:
    (tmp_path / "wanted").write_text("w-1111")
    (tmp_path / "other").write_text("o-2222")
    environ = {"STIGMER_SECRET_ALSO_OTHER": "x-3333", "STIGMER_SECRET_WANTED_TOO": "y-4444"}
    loaded = load_secrets(settings(tmp_path), ["wanted"], environ=environ)
    assert loaded == {"wanted": "w-1111"}


def test_env_wins_over_a_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file")
    loaded = load_secrets(settings(tmp_path), ["token"], environ={"STIGMER_SECRET_TOKEN": "env"})
    assert loaded == {"token": "env"}


def test_missing_secrets_are_named_with_where_they_were_looked_for(tmp_path: Path) -> None:
    with pytest.raises(MissingSecretsError) as caught:
        load_secrets(settings(tmp_path), ["a", "b"], environ={"STIGMER_SECRET_A": "1"})
    assert "configured on this runner: b (" in caught.value.message
    assert str(tmp_path) in caught.value.message
    assert caught.value.field == "/use/secrets"


def test_names_never_reach_outside_the_directory(tmp_path: Path) -> None:
    inner = tmp_path / "secrets"
    inner.mkdir()
    (tmp_path / "outside").write_text("nope")
    with pytest.raises(MissingSecretsError):
        load_secrets(settings(inner), ["../outside"], environ={})


def test_a_malformed_structured_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{: [")
    with pytest.raises(ValidationFailedError) as caught:
        load_secrets(settings(tmp_path), ["bad"], environ={})
    assert "bad.json" in caught.value.message


def test_declared_secrets_reads_use_secrets() -> None:
    assert declared_secrets({"use": {"secrets": ["a", "b", "a"]}}) == ["a", "b"]
    assert declared_secrets({"do": []}) == []
    with pytest.raises(ValidationFailedError):
        declared_secrets({"use": {"secrets": {"a": 1}}})


# --- masking ------------------------------------------------------------------------------

SECRETS = {
    "token": "tok-abcdef",
    "db": {"username": "adm", "password": 'p"ss\nword'},
    "pin": 123456,
}


def test_mask_replaces_secret_values_anywhere() -> None:
    value = {
        "output": "Bearer tok-abcdef",
        "list": ["x tok-abcdef y", 123456, 42, True, None],
        "tok-abcdef": "key too",
        "nested": {"detail": 'password was p"ss\nword'},
    }
    assert mask(value, SECRETS) == {
        "output": f"Bearer {MASK}",
        "list": [f"x {MASK} y", MASK, 42, True, None],
        MASK: "key too",
        "nested": {"detail": f"password was {MASK}"},
    }


def test_mask_catches_json_forms_of_secrets() -> None:
    as_json = json.dumps({"config": SECRETS["db"]})
    masked = mask(as_json, SECRETS)
    assert 'p\\"ss\\nword' not in masked
    assert MASK in masked
    whole = mask(json.dumps(SECRETS["db"]), SECRETS)
    assert whole == MASK


def test_short_secret_values_are_not_masked() -> None:
    # "adm" is shorter than 4 characters: masking it would garble ordinary text.
    assert mask("admin: adm", SECRETS) == "admin: adm"
    assert "adm" not in secret_strings(SECRETS)


def test_mask_leaves_values_without_secrets_alone_and_accepts_precomputed_needles() -> None:
    value = {"a": [1, "plain"], "b": 2.5}
    assert mask(value, SECRETS) == value
    assert mask(value, {}) == value
    needles = secret_strings(SECRETS)
    assert mask("tok-abcdef", needles) == MASK
    # The longest form is replaced first, so a secret inside another leaves no fragment.
    assert needles == sorted(needles, key=lambda s: (-len(s), s))


# --- the activity ---------------------------------------------------------------------------


async def test_the_activity_loads_declared_secrets(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("tok-abcdef")
    (tmp_path / "unrelated").write_text("u-123456")
    loading = SecretLoading(settings=settings(tmp_path))
    loaded = await ActivityEnvironment().run(loading.load, SecretsRequest(names=["token"]))
    assert loaded == {"token": "tok-abcdef"}


@pytest.mark.parametrize("names", [["absent"], "not-a-list"])
async def test_the_activity_fails_without_retry_on_bad_declarations(
    tmp_path: Path, names: object
) -> None:
    loading = SecretLoading(settings=settings(tmp_path))
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(loading.load, SecretsRequest(names=names))
    assert caught.value.type == SECRETS_UNAVAILABLE_ERROR
    assert caught.value.non_retryable
    assert caught.value.details[0]["type"].endswith("/errors/configuration")
    assert caught.value.details[0]["instance"] == "/use/secrets"
