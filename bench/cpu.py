"""CPU seconds used by each process of the benchmark, read from /proc (Linux).

On a two-core machine a burst is CPU-bound, so where the CPU goes says more about the
throughput than any timestamp does.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` (all its threads), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name, which may itself hold spaces.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def listener_pid(port: int) -> int | None:
    """The PID of the process listening on TCP ``port`` here, when /proc shows it."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                local, state, inode = parts[1], parts[3], parts[9]
                if state == "0A" and int(local.rpartition(":")[2], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return int(proc.name)
    return None


class CpuMeter:
    """CPU seconds per named process between ``start()`` and ``stop()``."""

    def __init__(self, processes: dict[str, int]) -> None:
        self._processes = processes
        self._before: dict[str, float | None] = {}

    def start(self) -> None:
        self._before = {name: cpu_seconds(pid) for name, pid in self._processes.items()}

    def stop(self) -> dict[str, float]:
        used: dict[str, float] = {}
        for name, pid in self._processes.items():
            before, after = self._before.get(name), cpu_seconds(pid)
            if before is not None and after is not None:
                used[name] = after - before
        return used
