"""`helm test`: the API is ready, and a tiny workflow runs to completion through the fleet.

Runs in the API image with the standard library only. Reads STIGMER_API_URL and
STIGMER_API_TOKEN; exits non-zero with a message naming the failed step.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

API = os.environ["STIGMER_API_URL"].rstrip("/")
TOKEN = os.environ.get("STIGMER_API_TOKEN", "")
DEADLINE_SECONDS = float(os.environ.get("STIGMER_TEST_TIMEOUT_SECONDS", "180"))
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}

WORKFLOW = """\
document:
  dsl: '1.0.0'
  namespace: helm-test
  name: hello
  version: '1.0.0'
do:
  - greet:
      set:
        greeting: ${ "Hello, " + .name + "!" }
"""


def call(method: str, path: str, body: bytes | None = None, content_type: str = "") -> Any:
    request = urllib.request.Request(API + path, data=body, method=method)
    if TOKEN:
        request.add_header("Authorization", f"Bearer {TOKEN}")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def wait_ready(deadline: float) -> None:
    last = ""
    while time.monotonic() < deadline:
        try:
            call("GET", "/readyz")
            print("readyz: ready")
            return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(2)
    sys.exit(f"FAIL readyz: the API at {API} is not ready ({last})")


def run_workflow(deadline: float) -> None:
    workflow = call("POST", "/v1/workflows", WORKFLOW.encode(), "application/yaml")
    payload = {"workflow_id": workflow["metadata"]["id"], "input": {"name": "helm"}}
    execution = call("POST", "/v1/executions", json.dumps(payload).encode(), "application/json")
    execution_id = execution["metadata"]["id"]
    print(f"execution {execution_id} created")
    phase = execution["status"]["phase"]
    while time.monotonic() < deadline:
        execution = call("GET", f"/v1/executions/{execution_id}")
        phase = execution["status"]["phase"]
        if phase in TERMINAL:
            break
        time.sleep(1)
    output = execution["status"].get("output")
    if phase != "COMPLETED" or output != {"greeting": "Hello, helm!"}:
        sys.exit(
            f"FAIL execution {execution_id}: phase {phase}, output {output!r}, "
            f"error {execution['status'].get('error')!r}"
        )
    print(f"execution {execution_id} COMPLETED with {output}")


def main() -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    wait_ready(deadline)
    try:
        run_workflow(deadline)
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        sys.exit(f"FAIL {exc.url}: {exc.code} {body}")


if __name__ == "__main__":
    main()
