"""Small tasks for the run-record tests: they log, print, warn, leak secrets, fail, sleep.

Run with `python -m luigi --module tests.runs.run_tasks ...` against the test luigid.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from pathlib import Path

import luigi

# Registers the [runs] Config class so tests can pass --runs-log-max-lines and friends.
import pipelines.runs.settings  # noqa: F401

log = logging.getLogger("tests.runs.chatty")
SECRET = "hunter2-proxy-pass"


class ChattyError(Exception):
    """What Chatty raises when asked to fail."""


class Chatty(luigi.Task):
    """Logs through its own logger, urllib3's and luigi's, prints, warns, leaks secrets; may fail."""

    name = luigi.Parameter()
    out_dir = luigi.Parameter()
    fail = luigi.BoolParameter(default=False)
    api_token = luigi.Parameter(default="")

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(Path(self.out_dir) / f"{self.name}.txt"))

    def run(self) -> None:
        log.info("chatty %s: step %d of %d", self.name, 1, 3)
        logging.getLogger("urllib3.connectionpool").warning(
            "Retrying (Retry(total=2)) after connection broken by '%s': /page", "ConnectionResetError")
        logging.getLogger("urllib3.connectionpool").info("Starting new HTTP connection (1): 127.0.0.1:9")
        print(f"chatty {self.name}: printed to stdout")
        print(f"chatty {self.name}: printed to stderr", file=sys.stderr)
        warnings.warn(f"chatty {self.name}: unverified HTTPS request", stacklevel=1)
        log.info("via http://crawler:%s@proxy.local:3128 with Authorization: Bearer tok-%s", SECRET, self.name)
        log.info("settings {'db_password': 'pw-%s', 'timeout': 5}", self.name)
        log.info("<b>markup stays as it is</b> & so do ampersands")
        log.info("a bare secret from the environment: %s", os.environ.get("CHATTY_SERVICE_TOKEN", "none"))
        log.info("chatty %s: step %d of %d", self.name, 2, 3)
        if self.fail:
            _load(self.name)
        with self.output().open("w") as fh:
            fh.write("done\n")
        self.run_stats = {"name": self.name, "steps": 3}


def _load(name: str) -> None:
    try:
        {}["missing"]
    except KeyError as exc:
        raise ChattyError(f"chatty {name} could not load its page (token=tk-{name})") from exc


class Sleepy(luigi.Task):
    """Logs a line, then sleeps: long enough to be SIGKILLed mid-run."""

    name = luigi.Parameter()
    out_dir = luigi.Parameter()
    seconds = luigi.FloatParameter(default=60.0)

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(Path(self.out_dir) / f"{self.name}.txt"))

    def run(self) -> None:
        log.info("sleepy %s: going to sleep", self.name)
        time.sleep(self.seconds)
        with self.output().open("w") as fh:
            fh.write("done\n")


class LogMany(luigi.Task):
    """Logs `lines` short lines, for the cap and ordering tests."""

    name = luigi.Parameter()
    out_dir = luigi.Parameter()
    lines = luigi.IntParameter(default=1000)

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(Path(self.out_dir) / f"{self.name}.txt"))

    def run(self) -> None:
        for i in range(1, self.lines + 1):
            log.info("line %d of %d", i, self.lines)
        with self.output().open("w") as fh:
            fh.write("done\n")
