"""What webmon reads from Luigi's configuration (luigi.cfg).

Read through `luigi.configuration.get_config()`, so the files are the ones
luigid and the workers read from the same working directory: luigi.cfg there,
overridden by the file named in LUIGI_CONFIG_PATH. Never repeat these values
in webmon's own settings: luigi.cfg is their one source of truth.
"""

from __future__ import annotations

import luigi.configuration
from django.core.exceptions import ImproperlyConfigured

HISTORY_SETTING = "luigi.cfg [task_history] db_connection"


def history_db_url() -> str:
    """The SQLAlchemy URL of Luigi's task-history DB."""
    url = luigi.configuration.get_config().get("task_history", "db_connection", None)
    if not url:
        raise ImproperlyConfigured(
            "Luigi's configuration has no [task_history] db_connection, which names the history DB"
            " webmon reads: run from the repository root (where luigi.cfg is) or set LUIGI_CONFIG_PATH."
        )
    return str(url)


def luigid_url() -> str:
    """luigid's URL as the workers find it: [core] scheduler_url, else scheduler_host and scheduler_port."""
    config = luigi.configuration.get_config()
    url = config.get("core", "scheduler_url", "")
    if url:
        return str(url)
    host = config.get("core", "scheduler_host", "127.0.0.1")
    port = config.get("core", "scheduler_port", "8082")
    return f"http://{host}:{port}"
