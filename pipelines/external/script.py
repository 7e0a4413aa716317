"""PythonScript: a plain Python script (requests, Playwright, anything) run as one Luigi task per tick.

    python -m luigi --module pipelines.external PythonScript \\
        --path examples/requests_script/fetch_books.py --args '["--pages", "3"]' --at 2026-11-21T0730

The script runs with the worker's Python, in its own folder, in its own
process group (child.py), unbuffered; what it prints and logs reaches the run
record line by line. Exit 0 is done; anything else fails the task with the
code and the last stderr lines. It is told, in its environment:

- CRAWLOPS_OUTPUT_DIR: a folder for its files, which become the tick's
  output (`[crawl] data_dir/external/<name>/<tick>/`) when it exits 0;
- CRAWLOPS_STATS_FILE: where it may write a JSON object of its own figures,
  stored with the run's stats under "reported";
- CRAWLOPS_TICK (2026-11-21T07:30Z) and CRAWLOPS_NAME.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import luigi

from pipelines.external.base import ExternalTask, as_strings, checked_name, read_json
from pipelines.external.exceptions import BadCommand

STATS = "script-stats.json"


class PythonScript(ExternalTask):
    """One tick of a script; complete when the script exited 0 and its folder was renamed into place."""

    path = luigi.Parameter(description="The script file (.py), absolute or relative to the worker's folder.")
    args = luigi.ListParameter(default=[], description='Its arguments, e.g. ["--pages", "3"].')

    @property
    def label(self) -> str:
        return checked_name(str(self.name) if self.name else Path(str(self.path)).stem,
                            "name" if self.name else "script")

    def command(self, tmp: Path) -> tuple[list[str], Path, dict[str, str]]:
        script = Path(str(self.path)).absolute()
        if not script.is_file():
            raise BadCommand(f"no script at {script}")
        argv = [sys.executable, str(script), *as_strings(list(self.args))]
        return argv, script.parent, {"CRAWLOPS_OUTPUT_DIR": str(tmp), "CRAWLOPS_STATS_FILE": str(tmp / STATS)}

    def collect(self, tmp: Path, outcome: dict[str, Any]) -> dict[str, Any]:
        stats: dict[str, Any] = {"engine": "script", "script": self.label, **outcome}
        if "wall_s" in outcome:
            stats["elapsed_s"] = outcome["wall_s"]
        reported = read_json(tmp / STATS)
        if reported is not None:
            stats["reported"] = reported
        stats["files"] = sum(1 for p in tmp.iterdir() if p.is_file() and p.name != STATS)
        return stats
