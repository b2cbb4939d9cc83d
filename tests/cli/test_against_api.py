"""The commands against a real API (SQLite store, in-process bus, real Temporal), no workers.

Without workers executions stay PENDING, which is what cancel and watch need; runs that
complete are covered by test_local_mode.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stigmer_api.main import serve
from stigmer_api.settings import ApiSettings, BusKind, StoreKind
from stigmer_cli.main import app
from tests.services import free_port

pytestmark = pytest.mark.integration

HELLO = """\
document:
  dsl: '1.0.0'
  namespace: cli-tests
  name: hello
  version: '{version}'
do:
  - greet:
      set:
        greeting: ${{ "Hello " + .name }}
"""


class ApiThread:
    """``stigmer_api.main.serve`` on its own event loop in a thread, stopped by cancellation."""

    def __init__(self, settings: ApiSettings) -> None:
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._task: asyncio.Task[None] | None = None

    async def _start(self) -> None:
        started = asyncio.Event()
        self._task = asyncio.create_task(serve(self._settings, started=started))
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._task.done():
            self._task.result()

    async def _stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        # Like asyncio.run: finish tasks the server left behind (sse-starlette's watcher).
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await self._loop.shutdown_asyncgens()

    def __enter__(self) -> ApiThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(60)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._task is not None:
                asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
            self._loop.close()


@pytest.fixture(scope="module")
def api_env(
    temporal_address: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("cli-api")
    port = free_port()
    settings = ApiSettings(
        stigmer_store=StoreKind.SQLITE,
        stigmer_sqlite_path=str(home / "stigmer.db"),
        stigmer_bus=BusKind.MEMORY,
        stigmer_api_host="127.0.0.1",
        stigmer_api_port=port,
        stigmer_api_allow_anonymous=True,
        temporal_host_port=temporal_address,
    )
    with ApiThread(settings):
        yield {
            "STIGMER_API_URL": f"http://127.0.0.1:{port}",
            "STIGMER_HOME": str(home / "home"),
            "STIGMER_API_TOKEN": "",
            "COLUMNS": "200",
        }


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, version: str, greeting: str = "Hello") -> Path:
    path = tmp_path / f"hello-{version}-{greeting}.yaml"
    path.write_text(HELLO.format(version=version).replace("Hello", greeting))
    return path


def test_apply_get_and_conflict(api_env: dict[str, str], tmp_path: Path) -> None:
    code, out, err = invoke(api_env, "apply", "-f", str(write(tmp_path, "1.0.0")))
    assert code == 0, err
    workflow_id = out.strip()
    assert workflow_id.startswith("wfl-")
    assert "cli-tests/hello version 1.0.0" in err

    # The same document again: the same workflow.
    assert invoke(api_env, "apply", "-f", str(write(tmp_path, "1.0.0")))[1].strip() == workflow_id

    code, _, err = invoke(api_env, "apply", "-f", str(write(tmp_path, "1.0.0", "Hi")))
    assert code == 2
    assert "already registered with a different document" in err
    assert "field: /document/version" in err

    code, out, _ = invoke(api_env, "get", workflow_id, "-o", "json")
    assert code == 0
    assert json.loads(out)["spec"]["version"] == "1.0.0"
    code, out, _ = invoke(api_env, "get", workflow_id)
    assert "name       cli-tests/hello" in out

    code, _, err = invoke(api_env, "get", "wex-01JD0000000000000000000000")
    assert code == 2
    assert "not found" in err


def test_invalid_workflow_is_exit_2(api_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("document:\n  dsl: '1.0.0'\n  name: x\ndo: []\n")
    code, out, err = invoke(api_env, "run", str(bad))
    assert code == 2
    assert out == ""
    assert "is not a valid workflow" in err
    assert "field:" in err


def test_run_no_follow_then_cancel_then_watch(api_env: dict[str, str], tmp_path: Path) -> None:
    code, out, err = invoke(
        api_env, "run", str(write(tmp_path, "2.0.0")), "--no-follow", "-i", '{"name": "Ada"}'
    )
    assert code == 0, err
    execution_id = out.strip()
    assert execution_id.startswith("wex-")

    code, out, _ = invoke(api_env, "get", execution_id, "-o", "yaml")
    assert code == 0
    assert "name: Ada" in out

    code, out, _ = invoke(api_env, "cancel", execution_id)
    assert (code, out.strip()) == (0, f"execution {execution_id} CANCELLED")

    code, out, _ = invoke(api_env, "watch", execution_id)
    assert code == 3
    assert f"CANCELLED {execution_id}" in out
    code, out, _ = invoke(api_env, "watch", execution_id, "-o", "json")
    assert code == 3
    assert json.loads(out)["status"]["phase"] == "CANCELLED"

    code, _, err = invoke(api_env, "cancel", execution_id)
    assert code == 2
    assert f"cannot cancel {execution_id}" in err


def test_run_by_name_picks_the_newest_version(api_env: dict[str, str], tmp_path: Path) -> None:
    for version in ("3.0.0", "10.0.0", "9.1.0"):
        assert invoke(api_env, "apply", "-f", str(write(tmp_path, version)))[0] == 0
    code, out, err = invoke(api_env, "run", "hello", "--no-follow", "-o", "json")
    assert code == 0, err
    execution = json.loads(out)
    _, workflow_out, _ = invoke(api_env, "get", execution["spec"]["workflow_id"], "-o", "json")
    assert json.loads(workflow_out)["spec"]["version"] == "10.0.0"
    invoke(api_env, "cancel", execution["metadata"]["id"])

    code, _, err = invoke(api_env, "run", "no-such-workflow")
    assert code == 2
    assert "no workflow named 'no-such-workflow'" in err


def test_list_pages_with_cursor(api_env: dict[str, str], tmp_path: Path) -> None:
    path = str(write(tmp_path, "4.0.0"))
    ids = []
    for _ in range(3):
        code, out, _ = invoke(api_env, "run", path, "--no-follow")
        assert code == 0
        ids.append(out.strip())
    for execution_id in ids:
        invoke(api_env, "cancel", execution_id)

    code, out, _ = invoke(api_env, "list", "executions", "--limit", "2", "--phase", "cancelled")
    assert code == 0
    assert "PHASE" in out
    assert ids[2] in out
    assert ids[1] in out
    cursor = out.strip().splitlines()[-1].removeprefix("next cursor: ")
    code, out, _ = invoke(
        api_env, "list", "executions", "--limit", "2", "--phase", "CANCELLED", "--cursor", cursor
    )
    assert code == 0
    assert ids[0] in out
    assert ids[2] not in out

    code, out, _ = invoke(api_env, "list", "workflows", "--name", "hello", "-o", "json")
    assert code == 0
    assert {item["spec"]["name"] for item in json.loads(out)["items"]} == {"hello"}
