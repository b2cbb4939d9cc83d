"""Bad values fail `helm template` with a message that says what to change: the schema
catches typos and wrong types, templates/validations.yaml contradictions."""

from __future__ import annotations

import pytest

from tests.deploy.helm_chart import ci_values, render, render_error

MINIMAL = ci_values("minimal")


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("api.replicaCont=3",), "additional properties 'replicaCont' not allowed"),
        (
            ("runner.autoscaling.kedaa.targetQueueSize=3",),
            "additional properties 'kedaa' not allowed",
        ),
        (("globl.logging.level=INFO",), "additional properties 'globl' not allowed"),
        (("runner.autoscaling.mode=cpu",), "/runner/autoscaling/mode"),
        (("global.logging.format=xml",), "/global/logging/format"),
        (
            ("runner.autoscaling.keda.queueTypes={workflow,nexus}",),
            "/runner/autoscaling/keda/queueTypes/1",
        ),
        (("api.image.digest=latest",), "/api/image/digest"),
        (("runner.autoscaling.minReplicas=-1",), "/runner/autoscaling/minReplicas"),
    ],
    ids=[
        "typo-component-key",
        "typo-nested",
        "typo-top-level",
        "bad-mode",
        "bad-log-format",
        "bad-queue-type",
        "bad-digest",
        "negative-min",
    ],
)
def test_schema_rejects_typos_and_bad_values(sets: tuple[str, ...], message: str) -> None:
    error = render_error(MINIMAL, sets=sets)
    assert "values don't meet the specifications of the schema" in error
    assert message in error


def test_schema_rejects_wrong_types() -> None:
    error = render_error(MINIMAL, sets=("runner.autoscaling.maxReplicas=many",))
    assert "/runner/autoscaling/maxReplicas" in error
    assert "want integer" in error
    error = render_error(MINIMAL, sets=("api.tolerations=none",))
    assert "/api/tolerations" in error
    assert "want array" in error
    error = render_error(MINIMAL, sets=("networkPolicy.enabled=yes",))
    assert "/networkPolicy/enabled" in error
    assert "want boolean" in error


@pytest.mark.parametrize(
    ("values", "sets", "message"),
    [
        (None, (), "mongodb.existingSecret is required"),
        (MINIMAL, ("mongodb.existingSecret=",), "mongodb.existingSecret is required"),
        (MINIMAL, ("redis.existingSecret=",), "redis.existingSecret is required"),
        (
            MINIMAL,
            ("global.temporal.address=",),
            "global.temporal.address (or api.temporal.address) is required",
        ),
        (
            MINIMAL,
            ("global.temporal.address=", "runner.autoscaling.mode=keda"),
            "runner.autoscaling.mode=keda needs the Temporal frontend",
        ),
        (
            MINIMAL,
            ("inlineSecrets.mongodbUri=mongodb://u:p@db/",),
            "inlineSecrets.enabled is false",
        ),
        (
            MINIMAL,
            ("inlineSecrets.enabled=true", "inlineSecrets.apiToken=a"),
            "set both apiToken and runnerToken",
        ),
        (
            MINIMAL,
            ("inlineSecrets.enabled=true", "inlineSecrets.mongodbUri=mongodb://db/"),
            "mongodb.existingSecret and inlineSecrets.mongodbUri both",
        ),
        (
            MINIMAL,
            (
                "runner.autoscaling.mode=hpa",
                "runner.autoscaling.minReplicas=5",
                "runner.autoscaling.maxReplicas=2",
            ),
            "minReplicas (5) is greater than maxReplicas (2)",
        ),
        (
            MINIMAL,
            ("runner.autoscaling.mode=hpa", "runner.autoscaling.minReplicas=0"),
            "mode=hpa needs minReplicas >= 1",
        ),
        (
            ci_values("operator"),
            ("operator.clusterWide=true", "operator.watchNamespaces={a}"),
            "leave operator.watchNamespaces empty",
        ),
        (
            ci_values("operator"),
            ("operator.watchNamespaces={team-a}",),
            "must include the release namespace",
        ),
        (
            MINIMAL,
            ("api.replicaCount=2", "api.podDisruptionBudget.minAvailable=2"),
            "api.podDisruptionBudget.minAvailable (2) must be below api.replicaCount (2)",
        ),
    ],
    ids=[
        "nothing-given",
        "no-mongodb",
        "no-redis",
        "no-temporal",
        "keda-no-endpoint",
        "inline-without-flag",
        "half-inline-tokens",
        "two-mongodb-sources",
        "hpa-min-over-max",
        "hpa-min-zero",
        "operator-clusterwide-and-namespaces",
        "operator-without-own-namespace",
        "pdb-blocks-drains",
    ],
)
def test_validations_fail_fast_on_contradictions(
    values: str | None, sets: tuple[str, ...], message: str
) -> None:
    error = render_error(*([values] if values else []), sets=sets)
    assert "execution error at (stigmer/templates/validations.yaml" in error
    assert message in error


def test_inline_secrets_behind_the_flag_create_a_secret() -> None:
    rendered = render(
        MINIMAL,
        sets=(
            "mongodb.existingSecret=",
            "inlineSecrets.enabled=true",
            "inlineSecrets.mongodbUri=mongodb://db/",
            "inlineSecrets.apiToken=a",
            "inlineSecrets.runnerToken=r",
        ),
    )
    secret = rendered.named("Secret", "stg-stigmer-inline")
    assert secret["stringData"] == {
        "mongodb-uri": "mongodb://db/",
        "api-token": "a",
        "runner-token": "r",
    }
    api = rendered.component("Deployment", "api")
    env = {e["name"]: e for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MONGODB_URI"]["valueFrom"]["secretKeyRef"] == {
        "name": "stg-stigmer-inline",
        "key": "mongodb-uri",
    }
    assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"] == "stigmer-redis"
    assert env["STIGMER_API_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "stg-stigmer-inline"
    # The pods roll when the inline Secret changes.
    assert "checksum/inline-secrets" in api["spec"]["template"]["metadata"]["annotations"]
    # No token is generated when the tokens are given.
    assert [s["metadata"]["name"] for s in rendered.of_kind("Secret")] == ["stg-stigmer-inline"]


def test_generated_tokens_are_kept_on_uninstall() -> None:
    rendered = render(MINIMAL)
    secret = rendered.named("Secret", "stg-stigmer-auth")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert set(secret["data"]) == {"api-token", "runner-token"}
    assert secret["data"]["api-token"] != secret["data"]["runner-token"]
