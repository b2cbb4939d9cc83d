"""Pure helpers of stigmer_core.observability, and the SDK exporter the worker reads back."""

from __future__ import annotations

import httpx
import pytest

from stigmer_core.errors import UnavailableError
from stigmer_core.observability.exposition import merged
from stigmer_core.observability.readiness import Readiness, WorkerState, worker_state
from stigmer_core.observability.runtime import sdk_metrics_runtime
from stigmer_core.observability.server import listening_socket
from tests.metrics_scrape import parse


@pytest.mark.parametrize(
    ("started", "running", "stopping", "state"),
    [
        (False, False, False, WorkerState.CONNECTING),
        (True, True, False, WorkerState.POLLING),
        (True, True, True, WorkerState.STOPPING),
        (True, False, False, WorkerState.STOPPED),  # a fatal worker error: no pollers left
        (True, False, True, WorkerState.STOPPED),
    ],
)
def test_worker_state(started: bool, running: bool, stopping: bool, state: WorkerState) -> None:
    assert worker_state(started=started, running=running, stopping=stopping) is state


def test_readiness_body_names_every_check() -> None:
    body = Readiness(ready=False, checks={"worker": "polling", "temporal": "unavailable: x"}).body()
    assert body == {
        "status": "not ready",
        "checks": {"worker": "polling", "temporal": "unavailable: x"},
    }


def test_merged_exposition_parses_as_one_page() -> None:
    stigmer = b"# HELP a_total A.\n# TYPE a_total counter\na_total 1.0"
    sdk = b'# HELP b B.\n# TYPE b gauge\nb{task_queue="q"} 2\n'
    page = parse(merged(stigmer, sdk).decode())
    assert page.value("a_total") == 1
    assert page.value("b", task_queue="q") == 2


def test_a_failed_sdk_scrape_leaves_a_comment_not_an_error() -> None:
    text = merged(b"a 1\n", None, sdk_error="ConnectError: refused\nagain").decode()
    assert text == "a 1\n# Temporal SDK metrics unavailable: ConnectError: refused again\n"
    assert parse(text).value("a") == 1


def test_sdk_exporter_serves_conventional_names_on_loopback() -> None:
    sdk = sdk_metrics_runtime()
    assert sdk.url.startswith("http://127.0.0.1:")
    response = httpx.get(sdk.url, timeout=5)
    assert response.status_code == 200


def test_a_taken_port_is_a_clear_error_naming_the_setting() -> None:
    taken = listening_socket("127.0.0.1", 0)
    try:
        with pytest.raises(UnavailableError) as caught:
            listening_socket("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()
    assert caught.value.field == "STIGMER_OBSERVABILITY_PORT"
    assert "cannot serve metrics and probes on 127.0.0.1:" in caught.value.message
