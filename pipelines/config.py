"""Settings of the crawl tasks, read from luigi.cfg.

Each class is named after its luigi.cfg section (Luigi's convention), so
`[store] db_connection` is `store().db_connection`; the luigi.Config ones can
also be given on the luigi command line (`--store-db-connection URL`).
"""

from __future__ import annotations

import os
from pathlib import Path

import luigi


class crawl:  # noqa: N801 - named after its section, like the Config classes below
    """The [crawl] section.

    Not a luigi.Config: its CLI flags (--crawl-...) would clash with the
    tasks' --crawl parameter. Environment variables override luigi.cfg.
    """

    def __init__(self) -> None:
        cfg = luigi.configuration.get_config()
        self.spec_dirs = os.environ.get("CRAWL_SPEC_DIRS") or cfg.get("crawl", "spec_dirs", "pipelines/crawls")
        self.data_dir = os.environ.get("CRAWL_DATA_DIR") or cfg.get("crawl", "data_dir", "var/data")
        # Where browser crawls track their Chromium processes, for the reaper.
        self.browser_run_dir = os.environ.get("CRAWL_BROWSER_RUN_DIR") or cfg.get(
            "crawl", "browser_run_dir", "var/run/browsers")

    def spec_folders(self) -> list[Path]:
        return [Path(p.strip()) for p in str(self.spec_dirs).split(",") if p.strip()]


class store(luigi.Config):  # noqa: N801
    db_connection = luigi.Parameter(
        default="sqlite:///var/items.db",
        description="SQLAlchemy URL of the items DB (items and completion markers).",
    )


class parse(luigi.Config):  # noqa: N801
    max_error_ratio = luigi.FloatParameter(
        default=0.1,
        description="Share of item pages that may fail to parse before ParsePages fails.",
    )
