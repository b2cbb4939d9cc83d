"""The API service's settings, read once from the environment in `main()`."""

from __future__ import annotations

from enum import StrEnum

from pydantic import SecretStr

from stigmer_core.settings import TemporalSettings


class StoreKind(StrEnum):
    MONGODB = "mongodb"
    SQLITE = "sqlite"


class BusKind(StrEnum):
    REDIS = "redis"
    MEMORY = "memory"


class ApiSettings(TemporalSettings):
    stigmer_api_host: str = "0.0.0.0"
    """Interface the HTTP server binds to (local mode binds 127.0.0.1)."""

    stigmer_api_port: int = 8234
    """Port of the HTTP server."""

    stigmer_store: StoreKind = StoreKind.MONGODB
    """Where resources live: `mongodb` (fleet) or `sqlite` (local mode)."""

    mongodb_uri: SecretStr = SecretStr("mongodb://localhost:27017")
    """MongoDB connection string (may hold credentials)."""

    mongodb_database: str = "stigmer"
    """MongoDB database name."""

    stigmer_sqlite_path: str = "stigmer.db"
    """File of the embedded store when `STIGMER_STORE=sqlite`."""

    stigmer_bus: BusKind = BusKind.REDIS
    """How status changes are fanned out: `redis` (fleet) or `memory` (one process)."""

    redis_url: SecretStr = SecretStr("redis://localhost:6379/0")
    """Redis URL for pub/sub (may hold credentials)."""

    stigmer_api_token: SecretStr | None = None
    """Bearer token users (the CLI) must send. Required unless anonymous access is allowed."""

    stigmer_runner_token: SecretStr | None = None
    """Bearer token runners and the orchestrator send; allows reads and status updates."""

    stigmer_api_allow_anonymous: bool = False
    """Serve without tokens. Only for local mode, where the server binds to loopback."""

    stigmer_runner_start_timeout_seconds: float = 300.0
    """How long an execution may wait for a runner to pick it up before it FAILS."""

    stigmer_execution_timeout_seconds: float = 7 * 24 * 3600.0
    """Upper bound on one execution's run time."""

    stigmer_handoff_grace_seconds: float = 120.0
    """After the runner start timeout, how long to wait for a run to start before the
    execution is handed to a runner again (a hand-off Temporal lost)."""

    stigmer_reconcile_interval_seconds: float = 5.0
    """How often PENDING executions are (re)dispatched when Temporal was unreachable."""

    stigmer_schedule_sweep_interval_seconds: float = 60.0
    """How often each replica compares every Temporal schedule with the registered workflows
    and repairs differences (schedules of workflows deleted while Temporal was down)."""

    stigmer_schedule_catchup_window_seconds: float = 60.0
    """How late a scheduled fire may still start after an outage of Temporal; older missed
    fires are skipped (Temporal's minimum is 10 s)."""

    stigmer_schedule_start_timeout_seconds: float = 3600.0
    """How long a scheduled fire keeps trying to create its execution while the API is
    unreachable; later fires are skipped meanwhile."""

    stigmer_schedule_after_poll_max_seconds: float = 30.0
    """``schedule.after``: the longest pause between two checks of whether the round's
    execution has ended (checks start 1 s apart and double up to this)."""

    stigmer_temporal_connect_timeout_seconds: float = 5.0
    """How long one attempt to connect to Temporal may take."""

    stigmer_sse_keepalive_seconds: float = 15.0
    """Interval of SSE comment pings that keep idle proxies from closing streams."""

    stigmer_backlog_sample_interval_seconds: float = 15.0
    """How often the runner queue's backlog is read from Temporal into
    `stigmer_task_queue_backlog` (one DescribeTaskQueue call per replica); 0 turns it off."""

    stigmer_readiness_requires_temporal: bool = False
    """Fail `/readyz` while Temporal is unreachable. Off by default: without Temporal the API
    still accepts executions (they wait in PENDING), so taking replicas out of a load balancer
    would turn a Temporal outage into an API outage."""
