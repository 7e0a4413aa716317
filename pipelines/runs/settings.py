"""The [runs] section of luigi.cfg: run records, log capture, the JSON log.

Also where the history DB URL comes from: `[task_history] db_connection`,
the same setting luigid writes its history with (one source of truth).
"""

from __future__ import annotations

import luigi

DEFAULT_HISTORY_URL = "sqlite:///var/history.db"


class runs(luigi.Config):  # noqa: N801 - named after its luigi.cfg section
    heartbeat_seconds = luigi.FloatParameter(
        default=10.0, description="How often a running task refreshes heartbeat_at of its run record.")
    dead_after_seconds = luigi.FloatParameter(
        default=60.0, description="A running record whose heartbeat is older than this is marked killed by the sweep.")
    webmon_url = luigi.Parameter(
        default="http://127.0.0.1:8000",
        description="Base URL of webmon; the tracking URL of a run is {webmon_url}/runs/{run_id}/. "
                    "WEBMON_BASE_URL, WEBMON_PORT or the running stack replace it (pipelines/stack.py).")
    log_level = luigi.Parameter(
        default="INFO", description="Lowest level of log records captured (records of every logger, root included).")
    log_batch_lines = luigi.IntParameter(
        default=500, description="Log lines written per batch; memory held by the capture is a few batches.")
    log_batch_seconds = luigi.FloatParameter(
        default=1.0, description="A batch that is not full is written after this many seconds.")
    log_max_lines = luigi.IntParameter(
        default=100_000, description="Log lines stored per run; the rest are counted in one 'truncated' line.")
    json_log = luigi.Parameter(
        default="var/log/tasks.jsonl",
        description="File that receives every captured record as a JSON line; '-' is stderr, empty is off.")


def history_url() -> str:
    """The SQLAlchemy URL of the history DB, from `[task_history] db_connection`."""
    return str(luigi.configuration.get_config().get("task_history", "db_connection", DEFAULT_HISTORY_URL))


def validate(settings: runs) -> runs:
    """Refuse values that would make the capture hang or store nothing, with a sentence."""
    if settings.log_batch_lines < 1:
        raise ValueError(f"[runs] log_batch_lines must be at least 1, got {settings.log_batch_lines}")
    if settings.log_max_lines < 0:
        raise ValueError(f"[runs] log_max_lines must be 0 or more, got {settings.log_max_lines}")
    for key in ("heartbeat_seconds", "dead_after_seconds", "log_batch_seconds"):
        if getattr(settings, key) <= 0:
            raise ValueError(f"[runs] {key} must be more than 0, got {getattr(settings, key)}")
    if settings.dead_after_seconds <= settings.heartbeat_seconds:
        raise ValueError(f"[runs] dead_after_seconds ({settings.dead_after_seconds}) must be more than "
                         f"heartbeat_seconds ({settings.heartbeat_seconds}), or live runs are swept as killed")
    return settings
