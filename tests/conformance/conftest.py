"""Fixtures of the conformance tests: the fleet as processes, and the public-service stubs.

The fleet is the one of tests/e2e (API, orchestrator and runner as separate processes on
real Temporal, MongoDB and Redis). Its runner gets the stubs' egress trap as HTTP and HTTPS
proxy, so any request to a host that is not local is refused and recorded, never sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conformance.stubs import PublicStubs
from tests.e2e.conftest import api  # noqa: F401  (the e2e client fixture, on this fleet)
from tests.e2e.fleet import Fleet, running_fleet

LOCAL_HOSTS = "127.0.0.1,localhost,::1"


@pytest.fixture(scope="module")
def public_stubs() -> Iterator[PublicStubs]:
    with PublicStubs() as stubs:
        yield stubs


@pytest.fixture(scope="module")
def fleet(
    temporal_address: str,
    mongodb_uri: str,
    redis_url: str,
    public_stubs: PublicStubs,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    """API, orchestrator and one runner as three processes; the runner cannot reach out."""
    trap = public_stubs.proxy_url
    with running_fleet(
        tmp_path_factory.mktemp("conformance-fleet"),
        temporal_address=temporal_address,
        mongodb_uri=mongodb_uri,
        redis_url=redis_url,
        runner_env={
            "HTTP_PROXY": trap,
            "HTTPS_PROXY": trap,
            "ALL_PROXY": trap,
            "NO_PROXY": LOCAL_HOSTS,
            "STIGMER_RUNNER_ALLOW_SHELL": "true",  # for the own `run: shell` scenario
        },
    ) as fleet:
        yield fleet
