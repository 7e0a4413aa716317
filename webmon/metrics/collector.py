"""The collector behind /metrics, on a registry of its own (never prometheus_client's global one).

It gathers the history part (history.py), the webmon part (schedules.py),
luigid's running and pending tasks (four count-only calls to its API, 1 s
timeout each: running, pending, and pending behind a failed or a disabled
upstream), build info, webmon's own responses (http.py) and its own
collect time and errors. The three sources are read each on its own: a part
that fails (history DB unreadable, webmon DB, luigid down) is left out of
that scrape and counted in crawl_exporter_errors_total{part}; the rest is
still served.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from functools import cache
from importlib import metadata

import django
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from webmon.exceptions import LuigidUnavailable
from webmon.metrics import history, http, schedules
from webmon.monitor import luigid
from webmon.monitor.sources import missing_sqlite_file, short_reason

log = logging.getLogger("webmon.metrics")

PARTS = ("history", "webmon", "luigid")
_errors = dict.fromkeys(PARTS, 0)
_errors_lock = threading.Lock()


def count_error(part: str) -> None:
    with _errors_lock:
        _errors[part] += 1


def errors() -> dict[str, int]:
    with _errors_lock:
        return dict(_errors)


class CrawlCollector:
    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration; collect() runs only on a scrape

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        failed: set[str] = set()

        def error(part: str) -> None:
            count_error(part)
            failed.add(part)

        metrics = self._part("history", _history, error)
        metrics += self._part("webmon", lambda: schedules.families(timezone.now(), error), error)
        metrics += luigid_families(error)
        metrics += [build_info(), http_responses()]
        yield from metrics
        yield GaugeMetricFamily("crawl_exporter_collect_seconds", "How long the newest collect of /metrics took.",
                                value=time.perf_counter() - started)
        # Dashboards count a counter series first seen in a window whole only when its part was read at the
        # window's start (docs/metrics.md, exact counts): without this, a series back after a gap would
        # count its whole total.
        part_up = GaugeMetricFamily("crawl_exporter_part_up", "1 when this scrape read the part (history, "
                                    "webmon, luigid) in full, 0 when some of its series are missing.",
                                    labels=["part"])
        for part in PARTS:
            part_up.add_metric([part], 0 if part in failed else 1)
        yield part_up
        failures = CounterMetricFamily("crawl_exporter_errors", "Scrapes that could not read a part: history "
                                       "(DB or totals tables), webmon (its DB), luigid (its API).", labels=["part"])
        for part, n in errors().items():
            failures.add_metric([part], n)
        yield failures

    @staticmethod
    def _part(part: str, read: Callable[[], list[Metric]], error: Callable[[str], None]) -> list[Metric]:
        try:
            return read()
        except (DatabaseError, FileNotFoundError) as exc:  # expected while a DB is down or not set up yet
            log.warning("metrics: cannot read the %s part: %s", part, short_reason(exc))
        except Exception:  # a bug: a broken part must still not cost the scrape the others
            log.exception("metrics: cannot read the %s part", part)
        error(part)
        return []


# Pending tasks behind these never run until someone acts (a failed upstream stays failed until its
# retry, a disabled one until re-enabled): luigid keeps them pending for remove_delay, so they are not
# backlog. UPSTREAM_RUNNING and UPSTREAM_MISSING_INPUT (luigi's word for "waits on a pending task",
# which includes every pending task without pending deps) are work that will run.
BLOCKED = {"upstream_failed": "UPSTREAM_FAILED", "upstream_disabled": "UPSTREAM_DISABLED"}


def luigid_families(error: Callable[[str], None] = count_error) -> list[Metric]:
    up = GaugeMetricFamily("crawl_luigid_up", "1 when luigid's API answered this scrape (1 s timeout), else 0.")
    try:
        running, pending = _task_count("RUNNING"), _task_count("PENDING")
        blocked = {reason: _task_count("PENDING", upstream) for reason, upstream in BLOCKED.items()}
    except LuigidUnavailable:
        error("luigid")
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    tasks = GaugeMetricFamily("crawl_luigid_tasks", "Tasks luigid holds: running, and pending that can run "
                              "(not behind a failed or disabled upstream).", labels=["status"])
    tasks.add_metric(["running"], running)
    # Two counts read one after the other: a task that changed in between must not make this negative.
    tasks.add_metric(["pending"], max(0, pending - sum(blocked.values())))
    held = GaugeMetricFamily("crawl_luigid_blocked_tasks", "Pending tasks luigid holds that cannot run: behind "
                             "a failed or a disabled upstream task.", labels=["reason"])
    for reason, n in blocked.items():
        held.add_metric([reason], n)
    return [up, tasks, held]


def _task_count(status: str, upstream_status: str = "") -> int:
    # With max_shown_tasks=1 luigid answers a count, not the tasks, as soon as there is more than one. With
    # an upstream_status its shortcut count answers -1 instead, so the filtered call sends search=" ": that
    # skips the shortcut (search is not empty) and matches every task (no search term), and luigid counts
    # the tasks it filtered (luigi/scheduler.py task_list; pinned by tests/metrics/test_luigid_backlog.py).
    answer = luigid.call("task_list", {"status": status, "upstream_status": upstream_status,
                                       "search": " " if upstream_status else "", "limit": True,
                                       "max_shown_tasks": 1})
    if not isinstance(answer, dict):
        raise LuigidUnavailable("task_list answered something that is not a task list")
    if set(answer) == {"num_tasks"}:
        if not isinstance(answer["num_tasks"], int) or answer["num_tasks"] < 0:
            raise LuigidUnavailable("task_list answered a count that is not a number")
        return answer["num_tasks"]
    return len(answer)


def _history() -> list[Metric]:
    if missing_sqlite_file():  # never let sqlite create an empty history DB
        raise FileNotFoundError("the history DB file does not exist")
    return history.families()


def build_info() -> Metric:
    info = GaugeMetricFamily("crawl_build_info", "Versions webmon runs with; always 1.",
                             labels=["version", "python", "luigi", "django"])
    info.add_metric(list(_versions()), 1)
    return info


@cache
def _versions() -> tuple[str, str, str, str]:
    try:
        with open(settings.BASE_DIR / "pyproject.toml", "rb") as fh:
            version = str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        version = "unknown"
    try:
        luigi_version = metadata.version("luigi")
    except metadata.PackageNotFoundError:
        luigi_version = "unknown"
    return version, platform.python_version(), luigi_version, django.get_version()


def http_responses() -> Metric:
    family = CounterMetricFamily("crawl_http_responses", "Responses webmon sent (this process), by status class.",
                                 labels=["status_class"])
    for status_class, n in http.counts().items():
        family.add_metric([status_class], n)
    return family


REGISTRY = CollectorRegistry()
REGISTRY.register(CrawlCollector())
