"""Pid files and stopping processes by pid, careful not to signal a stranger.

A pid file can outlive its process (a crash, a reboot) and the pid can be reused, so
every check confirms the process is alive and, where ``/proc`` exists, that its command
line names what we expect before it is signalled.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stigmer_core.errors import ConflictError


def read_pid(path: Path) -> int | None:
    """The pid stored in ``path``; ``None`` if the file is missing or holds no number."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        # Reap it if it is our own exited child, so it does not linger as a zombie.
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state follows the parenthesised command name, which may itself hold spaces.
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def pid_runs(pid: int, word: str) -> bool:
    """Whether ``pid`` is alive and its command line contains ``word``.

    Where ``/proc`` is unavailable the command line cannot be checked; liveness decides.
    """
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return True
    return word.encode() in cmdline


@contextmanager
def claimed_pid_file(path: Path, *, word: str) -> Iterator[None]:
    """Hold ``path`` with this process's pid; refuse if a live ``word`` process holds it.

    The file is created exclusively, so two processes racing to start cannot both win.
    A stale file (dead pid or another program) is replaced. Removed on exit if still ours.
    """
    me = os.getpid()
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            other = read_pid(path)
            if other is not None and other != me and pid_runs(other, word):
                raise ConflictError(
                    f"a Stigmer server is already running (pid {other}, pid file {path})",
                    field="pid",
                ) from None
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(f"{me}\n")
        break
    else:
        raise ConflictError(f"cannot claim the pid file {path}", field="pid")
    try:
        yield
    finally:
        if read_pid(path) == me:
            path.unlink(missing_ok=True)


def stop_pid(pid: int, *, grace_seconds: float, poll_seconds: float = 0.1) -> bool:
    """SIGTERM ``pid``, wait up to ``grace_seconds``, then SIGKILL; True if it had to be killed."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    if _wait_gone(pid, grace_seconds, poll_seconds):
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    _wait_gone(pid, 5.0, poll_seconds)
    return True


def _wait_gone(pid: int, timeout: float, poll: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True
