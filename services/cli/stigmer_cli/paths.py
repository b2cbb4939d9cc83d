"""Where local mode keeps its files, all under one directory (``STIGMER_HOME``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalPaths:
    """The files of the local server under ``home`` (default ``~/.stigmer``)."""

    home: Path

    @property
    def pid_file(self) -> Path:
        """Pid of the running ``stigmer server`` supervisor."""
        return self.home / "server.pid"

    @property
    def ready_file(self) -> Path:
        """Holds the supervisor's pid once the API and both workers have started."""
        return self.home / "server.ready"

    @property
    def log_file(self) -> Path:
        """Output of a supervisor started in the background by ``run``/``apply``."""
        return self.home / "server.log"

    @property
    def store(self) -> Path:
        """The embedded (SQLite) store of workflows and executions."""
        return self.home / "stigmer.db"

    @property
    def temporal_pid_file(self) -> Path:
        """Pid of the Temporal dev server the supervisor started, if it started one."""
        return self.home / "temporal.pid"

    @property
    def temporal_db(self) -> Path:
        """Temporal dev server's database, so histories survive restarts."""
        return self.home / "temporal.db"

    @property
    def temporal_log(self) -> Path:
        """Output of the Temporal dev server."""
        return self.home / "temporal.log"

    def ensure_home(self) -> None:
        """Create ``home`` if it is missing (owner-only: it holds the local database)."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
