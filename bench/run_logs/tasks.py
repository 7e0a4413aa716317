"""The benchmark's task: logs N short formatted lines, like a busy crawl stage.

Its logger has a console handler (stderr), as the crawl tasks' loggers do, so
"capture off" is a worker as it was before run logs: lines printed, not stored.
"""

from __future__ import annotations

import json
import logging
import time

import luigi

log = logging.getLogger("bench.run_logs")
_console = logging.StreamHandler()
_console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
log.addHandler(_console)
log.setLevel(logging.INFO)


class LogLines(luigi.Task):
    """Logs `lines` lines with logger.info and a %-formatted message; writes its loop time."""

    name = luigi.Parameter()
    lines = luigi.IntParameter(default=100_000)
    out = luigi.Parameter()

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(self.out)

    def run(self) -> None:
        started = time.perf_counter()
        for i in range(1, self.lines + 1):
            log.info("fetched page %d of %d: status %d, %d bytes", i, self.lines, 200, 5120 + i % 977)
        loop_s = time.perf_counter() - started
        with self.output().open("w") as fh:
            json.dump({"loop_s": loop_s, "lines": self.lines}, fh)
