"""``stigmer-api`` refuses an unusable configuration with one line and status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_missing_token_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"STIGMER_API_TOKEN", "STIGMER_API_ALLOW_ANONYMOUS"}
    }
    env |= {
        "STIGMER_STORE": "sqlite",
        "STIGMER_SQLITE_PATH": str(tmp_path / "stigmer.db"),
        "STIGMER_BUS": "memory",
        "STIGMER_API_PORT": "0",
        "TEMPORAL_HOST_PORT": "127.0.0.1:9",  # nothing listens: must not matter
        "STIGMER_LOG_FORMAT": "console",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from stigmer_api.main import main; main()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "STIGMER_API_TOKEN is not set" in done.stderr
    assert "Traceback" not in done.stderr
