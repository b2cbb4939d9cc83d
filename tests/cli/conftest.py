"""Fixtures of the CLI tests: stand-in processes, always stopped by their PID."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

DummyFactory = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def dummy_process() -> Iterator[DummyFactory]:
    """Start ``python -c sleep WORD`` processes (``WORD`` lands in their command line)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(word: str, *, ignore_sigterm: bool = False) -> subprocess.Popen[bytes]:
        code = "import signal, sys, time\n"
        if ignore_sigterm:
            code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        code += "sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(120)\n"
        process = subprocess.Popen(
            [sys.executable, "-c", code, word], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        started.append(process)
        assert process.stdout is not None
        # Wait until its signal disposition is in place.
        assert process.stdout.readline() == b"ready\n"
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
