"""A Luigi task that runs until told to stop, reporting progress: for tests of what runs now."""

from __future__ import annotations

import os
import time

import luigi


class Nap(luigi.Task):
    stop_file = luigi.Parameter(description="The task ends when this file exists (or after a minute).")

    def run(self) -> None:
        self.set_progress_percentage(40)
        self.set_status_message("napping <b>hard</b>")
        self.set_tracking_url("javascript:alert(1)")
        deadline = time.monotonic() + 60
        while not os.path.exists(self.stop_file) and time.monotonic() < deadline:
            time.sleep(0.1)
