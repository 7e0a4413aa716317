"""Task and crawl metrics from the totals tables of the history DB (three queries, a few rows each).

The workers keep `crawl_run_totals` and `crawl_crawl_totals` in the transaction
that records each outcome (pipelines/runs/totals.py), so what a scrape reads
does not grow with crawl_runs. Labels come from those rows: task families and
crawl names, both bounded by the code and the specs; the data-quality series
(`quality_families`) come from `crawl_quality_latest`, one row per crawl with
its newest tick's report, labelled by crawl × spec field or monitor.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django.db import DatabaseError, connections
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from webmon.routers import HISTORY_ALIAS

US = 1_000_000


def families() -> list[Metric]:
    from pipelines.runs.totals import BUCKET_COLUMNS  # noqa: PLC0415 - webmon starts without pipelines/

    columns = ("family", "status", "runs", "duration_us", *BUCKET_COLUMNS, "last_finished", "last_duration_us")
    with connections[HISTORY_ALIAS].cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM crawl_run_totals")
        run_rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        cursor.execute("SELECT crawl, name, value FROM crawl_crawl_totals")
        crawl_rows = cursor.fetchall()
    return task_families(run_rows) + crawl_families(crawl_rows) + quality_families(quality_rows())


QUALITY_COLUMNS = ("crawl", "tick", "items", "verdict", "report")


def quality_rows() -> list[dict[str, Any]]:
    """crawl_quality_latest, or nothing on a history whose workers have not created it yet (an upgrade)."""
    try:
        with connections[HISTORY_ALIAS].cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(QUALITY_COLUMNS)} FROM crawl_quality_latest")
            return [dict(zip(QUALITY_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
    except DatabaseError:
        return []


def quality_families(rows: list[dict[str, Any]]) -> list[Metric]:
    """The newest tick's data quality of each crawl (pipelines/quality.py): gauges, so an alert holds
    while the newest tick broke a monitor and clears with the next good tick."""
    tick = GaugeMetricFamily("crawl_quality_tick_timestamp_seconds",
                             "The tick (its logical time) of the newest data-quality report of the crawl.",
                             labels=["crawl"])
    items = GaugeMetricFamily("crawl_quality_items", "Items the newest tick of the crawl stored.", labels=["crawl"])
    change = GaugeMetricFamily("crawl_quality_item_change_ratio",
                               "The newest tick's item count against the median of the crawl's last 5 stored "
                               "ticks: (items - median) / median; absent without earlier ticks.", labels=["crawl"])
    coverage = GaugeMetricFamily("crawl_quality_coverage_ratio",
                                 "Share of the newest tick's items with the field non-empty, per spec field.",
                                 labels=["crawl", "field"])
    invalid = GaugeMetricFamily("crawl_quality_invalid_ratio",
                                "Share of the newest tick's items that do not match the crawl's JSON Schema "
                                "(crawls with a schema only).", labels=["crawl"])
    violation = GaugeMetricFamily("crawl_quality_violation",
                                  "1 when the newest tick broke the monitor of the spec's [monitors], 0 when it "
                                  "held (monitor: min_items, max_item_drop, max_invalid_ratio, coverage.<field>).",
                                  labels=["crawl", "monitor"])
    for row in sorted(rows, key=lambda r: str(r["crawl"])):
        crawl = str(row["crawl"])
        try:
            report = json.loads(row["report"] or "{}")
        except ValueError:
            report = {}
        if not isinstance(report, dict):
            report = {}
        tick.add_metric([crawl], float(row["tick"]))
        items.add_metric([crawl], float(row["items"]))
        baseline = report.get("baseline")
        if isinstance(baseline, dict) and isinstance(baseline.get("change"), (int, float)):
            change.add_metric([crawl], float(baseline["change"]))
        for field, value in sorted((report.get("coverage") or {}).items()):
            if isinstance(value, (int, float)):
                coverage.add_metric([crawl, str(field)], float(value))
        if isinstance(report.get("invalid_ratio"), (int, float)):
            invalid.add_metric([crawl], float(report["invalid_ratio"]))
        for check in report.get("monitors") or []:
            if isinstance(check, dict) and "monitor" in check:
                violation.add_metric([crawl, str(check["monitor"])], 0.0 if check.get("ok") else 1.0)
    return [tick, items, change, coverage, invalid, violation]


def task_families(rows: list[dict[str, Any]]) -> list[Metric]:
    from pipelines.runs.totals import BUCKET_COLUMNS, DURATION_BUCKETS, FINAL  # noqa: PLC0415

    by_family: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        if row["status"] in FINAL:
            by_family[str(row["family"])][row["status"]] = row
    runs = CounterMetricFamily("crawl_task_runs", "Task runs that ended, by final status (a run the sweep "
                               "killed that was alive after all also counts with its real outcome).",
                               labels=["family", "status"])
    duration = HistogramMetricFamily("crawl_task_duration_seconds", "Duration of ended task runs "
                                     "(start to end; a killed run ends at its last heartbeat).", labels=["family"])
    success = GaugeMetricFamily("crawl_task_last_success_timestamp_seconds",
                                "When the newest run of the family that ended done ended.", labels=["family"])
    failure = GaugeMetricFamily("crawl_task_last_failure_timestamp_seconds",
                                "When the newest run of the family that failed or was killed ended.",
                                labels=["family"])
    last = GaugeMetricFamily("crawl_task_last_duration_seconds", "Duration of the newest ended run of the family.",
                             labels=["family"])
    for family, statuses in sorted(by_family.items()):
        for status in FINAL:
            runs.add_metric([family, status], statuses[status]["runs"] if status in statuses else 0)
        rows_ = statuses.values()
        cumulative = [sum(r[col] for r in rows_) for col in BUCKET_COLUMNS]
        count = sum(r["runs"] for r in rows_)
        buckets = [*zip(map(floatToGoString, DURATION_BUCKETS), cumulative, strict=True), ("+Inf", count)]
        duration.add_metric([family], buckets, sum(r["duration_us"] for r in rows_) / US)
        if "done" in statuses:
            success.add_metric([family], statuses["done"]["last_finished"])
        failed = [statuses[s]["last_finished"] for s in ("failed", "killed") if s in statuses]
        if failed:
            failure.add_metric([family], max(failed))
        newest = max(rows_, key=lambda r: (r["last_finished"], r["last_duration_us"]))
        last.add_metric([family], newest["last_duration_us"] / US)
    return [runs, duration, success, failure, last]


def crawl_families(rows: list[tuple[str, str, float]]) -> list[Metric]:
    from pipelines.limits import LIMITS  # noqa: PLC0415
    from pipelines.runs.totals import (  # noqa: PLC0415
        LAST_SUCCESS,
        LIMIT_HITS,
        LIMIT_URLS,
        PARSE_RUNS,
        SCRAPY_CLOSES,
        STATUS_CLASSES,
        STORED_KINDS,
        TASK_FAILED_AT,
        TASK_RUNS,
        failure_reason,
        finish_reason,
    )

    by_crawl: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    task_rows = []
    for crawl, name, value in rows:
        if name.startswith((TASK_RUNS, TASK_FAILED_AT)):
            task_rows.append((str(crawl), name, value))
            continue
        if name.startswith("failures_"):
            name = "failures_" + failure_reason(name.removeprefix("failures_"))
        elif name.startswith(SCRAPY_CLOSES):
            name = SCRAPY_CLOSES + finish_reason(name.removeprefix(SCRAPY_CLOSES))
        by_crawl[str(crawl)][name] += value
    help_ = {
        "pages_fetched": "Pages fetched (responses stored) by FetchPages, or responses of a Scrapy spider.",
        "bytes": "Bytes of response bodies fetched by FetchPages or a Scrapy spider.",
        "retries": "Requests retried by FetchPages or a Scrapy spider.",
        "items_parsed": "Items extracted by ParsePages, or scraped by a Scrapy spider.",
        "items_dropped": "Item pages ParsePages could not parse (its errors), or items a Scrapy spider dropped.",
        PARSE_RUNS: "Runs that reported items parsed: ParsePages runs and Scrapy spider runs (items per run).",
    }
    simple = {name: CounterMetricFamily(f"crawl_{name}", text, labels=["crawl"]) for name, text in help_.items()}
    responses = CounterMetricFamily("crawl_responses", "Responses FetchPages received, by status class.",
                                    labels=["crawl", "status_class"])
    failures = CounterMetricFamily("crawl_fetch_failures", "URLs FetchPages gave up on, by reason (the crawler's "
                                   "reason words; http_4xx and http_5xx for error statuses; other).",
                                   labels=["crawl", "reason"])
    stored = CounterMetricFamily("crawl_items_stored", "Items StoreItems stored, by kind.", labels=["crawl", "kind"])
    success = GaugeMetricFamily("crawl_last_success_timestamp_seconds",
                                "When the newest RunCrawl (or Scrapy spider run) of the crawl that ended done "
                                "ended.", labels=["crawl"])
    scrapy_errors = CounterMetricFamily("crawl_scrapy_errors", "ERROR log lines of a Scrapy spider's runs "
                                        "(log_count/ERROR; spider exceptions log one each).", labels=["crawl"])
    closes = CounterMetricFamily("crawl_scrapy_closes", "Scrapy spider runs by finish_reason (Scrapy's words; "
                                 "none: no stats, the spider never closed; other: anything else).",
                                 labels=["crawl", "reason"])
    limit_hits = CounterMetricFamily("crawl_limit_hits", "FetchPages runs whose crawl reached the limit (max_pages, "
                                     "max_depth, budget, max_bytes): its data may be incomplete.",
                                     labels=["crawl", "limit"])
    limit_urls = CounterMetricFamily("crawl_limit_skipped_urls", "URLs FetchPages did not fetch because of the limit "
                                     "(max_bytes: responses failed as too_large).", labels=["crawl", "limit"])
    for crawl, values in sorted(by_crawl.items()):
        for name, family in simple.items():
            family.add_metric([crawl], values.get(name, 0))
        for status_class in STATUS_CLASSES:
            responses.add_metric([crawl, status_class], values.get(f"responses_{status_class}", 0))
        for name, value in sorted(values.items()):
            if name.startswith("failures_"):
                failures.add_metric([crawl, name.removeprefix("failures_")], value)
        for kind in STORED_KINDS:
            stored.add_metric([crawl, kind], values.get(f"items_stored_{kind}", 0))
        if LAST_SUCCESS in values:
            success.add_metric([crawl], values[LAST_SUCCESS])
        reasons = {n.removeprefix(SCRAPY_CLOSES): v for n, v in values.items() if n.startswith(SCRAPY_CLOSES)}
        if reasons:  # a crawl some Scrapy spider ran as
            scrapy_errors.add_metric([crawl], values.get("scrapy_errors", 0))
            for reason, n in sorted(reasons.items()):
                closes.add_metric([crawl, reason], n)
        else:  # a crawl of FetchPages: every limit, 0 until one is reached
            for limit in LIMITS:
                limit_hits.add_metric([crawl, limit], values.get(LIMIT_HITS + limit, 0))
                limit_urls.add_metric([crawl, limit], values.get(LIMIT_URLS + limit, 0))
    return [*simple.values(), responses, failures, stored, success, scrapy_errors, closes, limit_hits, limit_urls,
            *crawl_task_families(task_rows)]


def crawl_task_families(rows: list[tuple[str, str, float]]) -> list[Metric]:
    """Task runs per crawl and family: what an alert needs to name the crawl that failed. Runs without
    a crawl (backups, pruning) have crawl "", which Prometheus stores as no crawl label."""
    from pipelines.runs.totals import FINAL, TASK_FAILED_AT, TASK_RUNS  # noqa: PLC0415

    counts: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    failed_at: dict[tuple[str, str], float] = {}
    for crawl, name, value in rows:
        if name.startswith(TASK_FAILED_AT):
            failed_at[crawl, name.removeprefix(TASK_FAILED_AT)] = value
        else:
            status, _, family = name.removeprefix(TASK_RUNS).partition(".")
            counts[crawl, family][status] = value
    runs = CounterMetricFamily("crawl_task_runs_by_crawl", "Task runs that ended, by crawl (empty for runs "
                               "without one), family and final status.", labels=["crawl", "family", "status"])
    failure = GaugeMetricFamily("crawl_task_last_failure_by_crawl_timestamp_seconds",
                                "When the newest failed or killed run of the family for the crawl ended.",
                                labels=["crawl", "family"])
    for (crawl, family), statuses in sorted(counts.items()):
        for status in FINAL:
            runs.add_metric([crawl, family, status], statuses.get(status, 0))
    for (crawl, family), at in sorted(failed_at.items()):
        failure.add_metric([crawl, family], at)
    return [runs, failure]
