"""What webmon reads from Luigi's configuration (luigi.cfg).

Read through `luigi.configuration.get_config()`, so the files are the ones
luigid and the workers read from the same working directory: luigi.cfg there,
overridden by the file named in LUIGI_CONFIG_PATH. Never repeat these values
in webmon's own settings: luigi.cfg is their one source of truth.
"""

from __future__ import annotations

import math

import luigi.configuration
from django.core.exceptions import ImproperlyConfigured

HISTORY_SETTING = "luigi.cfg [task_history] db_connection"
ITEMS_SETTING = "luigi.cfg [store] db_connection"
ITEMS_DEFAULT_URL = "sqlite:///var/items.db"  # pipelines.config.store's default


def history_db_url() -> str:
    """The SQLAlchemy URL of Luigi's task-history DB."""
    url = luigi.configuration.get_config().get("task_history", "db_connection", None)
    if not url:
        raise ImproperlyConfigured(
            "Luigi's configuration has no [task_history] db_connection, which names the history DB"
            " webmon reads: run from the repository root (where luigi.cfg is) or set LUIGI_CONFIG_PATH."
        )
    return str(url)


def items_db_url() -> str:
    """The SQLAlchemy URL of the items DB the workers' StoreItems writes (crawl_items, crawl_markers)."""
    url = luigi.configuration.get_config().get("store", "db_connection", ITEMS_DEFAULT_URL)
    return str(url or ITEMS_DEFAULT_URL)


def stale_after_seconds() -> int:
    """When a running record's silence deserves a warning: 2 x [runs] heartbeat_seconds, at most dead_after_seconds.

    Two missed heartbeats say more than one late one; past dead_after_seconds the sweep
    should already have marked the run killed.
    """
    from pipelines.runs.settings import runs

    try:
        settings = runs()
        seconds = min(2 * settings.heartbeat_seconds, settings.dead_after_seconds)
    except ValueError as exc:  # a value luigi cannot read as a number
        raise ImproperlyConfigured(
            f"luigi.cfg [runs]: heartbeat_seconds and dead_after_seconds must be numbers of seconds ({exc})"
        ) from None
    if seconds <= 0:
        raise ImproperlyConfigured("luigi.cfg [runs]: heartbeat_seconds and dead_after_seconds must be more than 0")
    return max(1, math.ceil(seconds))


def luigid_url() -> str:
    """luigid's URL as the workers find it: [core] scheduler_url, else scheduler_host and scheduler_port."""
    config = luigi.configuration.get_config()
    url = config.get("core", "scheduler_url", "")
    if url:
        return str(url)
    host = config.get("core", "scheduler_host", "127.0.0.1")
    port = config.get("core", "scheduler_port", "8082")
    return f"http://{host}:{port}"
