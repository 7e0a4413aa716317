"""The Luigi tasks of a crawl tick: FetchPages -> ParsePages -> StoreItems.

Run a tick through luigid with the plain luigi CLI:

    python -m luigi --module pipelines.tasks RunCrawl --crawl demo --at 2026-11-21T0730

`crawl` is a spec name (searched in `[crawl] spec_dirs`) or a path to a .toml
file; either way the crawl's identity is the spec's `name` (CrawlTick). `at`
is the tick's logical time, UTC, to the minute. The same tick twice is a
no-op; a failed tick resumes at the stage that failed, because each
stage's output is atomic (folders renamed into place, a marker row written in
the items transaction).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import platform
import re
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import luigi

from pipelines import cli_errors, config, limits
from pipelines.exceptions import CrawlLimitError, ParseRatioExceeded, SpecError
from pipelines.fetch import progress
from pipelines.fetch.crawler import Crawler, may_start_browsers
from pipelines.fetch.http import charset_of
from pipelines.fetch.pagework import PARSE_STATE, FetchSideLines
from pipelines.parse import Extractor, parse_fingerprint, parse_page
from pipelines.quality import DataQualityError, Measure, failure_message, judged
from pipelines.runs.reclaim import ReclaimFirst
from pipelines.spec import CrawlSpec, load_spec
from pipelines.store import MarkerTarget, engine_for, read_marker, read_quality, store_items
from pipelines.targets import AtomicDirectory
from pipelines.warc import PageWriter, read_pages

log = logging.getLogger("pipelines.tasks")
cli_errors.install()  # a broken spec or a bad --at prints its sentence, not luigi's traceback

_FORMATS = ("%Y-%m-%dT%H%M", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S",
            "%Y%m%dT%H%M", "%Y-%m-%dT%H%MZ")


class MinuteParameter(luigi.DateMinuteParameter):
    """A UTC minute. Accepts 2026-11-21T0730 (Luigi's form), 2026-11-21T07:30,
    with seconds (must be :00) or an offset (converted to UTC)."""

    def parse(self, x: str) -> dt.datetime:
        text = x.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        for fmt in _FORMATS:
            try:
                parsed = dt.datetime.strptime(text, fmt)
            except ValueError:
                continue
            if parsed.second:  # normalize() would drop them: 07:30:15 is no tick
                raise ValueError(f"--at is a minute; {x!r} has seconds")
            return self.normalize(parsed)
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"--at expects a UTC minute such as 2026-11-21T0730 or 2026-11-21T07:30, got {x!r}") from None
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        if value.second or value.microsecond:
            raise ValueError(f"--at is a minute; {x!r} has seconds")
        return self.normalize(value)


class OverridesParameter(luigi.DictParameter):
    """--overrides: a JSON object of spec keys; anything else is refused with a sentence."""

    def normalize(self, x: Any) -> Any:
        if not isinstance(x, Mapping):
            given = json.dumps(x, default=repr)
            raise ValueError(f'expected a JSON object of spec keys such as {{"max_pages": 100}}, got {given}')
        return super().normalize(x)


def _setup_logging() -> None:
    # luigi configures only its own logger; give ours a handler too.
    logger = logging.getLogger("pipelines")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


class CrawlTick:
    """The parameters of one crawl tick, shared by its four tasks; the crawl is named by its spec's `name`.

    `--crawl shop` and `--crawl path/to/shop.toml` (a spec named shop) are one crawl: the same
    task ids (so the same tick by path, then by name, runs once), run records, data folder,
    items and metrics. A path is resolved when the task is built, whoever builds it (the luigi
    command line, requires(), luigi.cfg): `crawl` becomes the spec's name and `spec_path` keeps
    the file's absolute path. spec_path is insignificant (not in the task id) but public, so it
    travels with the task's params: requires() hands it down (clone), and luigid keeps it with
    each task and gives it to a worker in another process that loads the task from luigid
    (`load_task(family, params)`), which then reads the same file instead of looking the name
    up in its own spec_dirs.
    """

    crawl = luigi.Parameter(description="Crawl name (a spec in [crawl] spec_dirs) or path to a .toml spec.")
    at = MinuteParameter(description="Logical time of the tick, UTC, to the minute.")
    # Not part of the task's identity: a tick is a tick; overrides change how it runs the first time.
    overrides = OverridesParameter(default={}, significant=False,
                                   description='Spec overrides, e.g. {"max_pages": 100, "fetch.delay": 1}.')
    spec_path = luigi.Parameter(default="", significant=False,
                                description="The spec file, when `crawl` was given as a path (set from it).")

    @classmethod
    def get_param_values(cls, params: list[tuple[str, luigi.Parameter]], args: tuple,
                         kwargs: dict[str, Any]) -> list[tuple[str, Any]]:
        values = dict(super().get_param_values(params, args, kwargs))  # type: ignore[misc]
        values = _named_by_spec(values)
        return [(name, values[name]) for name, _ in params]

    @cached_property
    def spec(self) -> CrawlSpec:
        spec = load_spec(str(self.spec_path or self.crawl), overrides=dict(self.overrides))
        if spec.name != self.crawl and not str(self.crawl).endswith(".toml"):
            raise SpecError(spec.path, "name", f"is {spec.name!r}, but this task is crawl {self.crawl!r}: a crawl's "
                                               "name is its identity, so neither overrides nor spec_path may change it")
        return spec


def _named_by_spec(values: dict[str, Any]) -> dict[str, Any]:
    """A tick's parameter values with a spec path in `crawl` replaced by the spec's name."""
    crawl = str(values["crawl"])
    if not crawl.endswith(".toml"):
        return values
    path = Path(crawl).absolute()  # a worker elsewhere (another cwd) must find the same file
    try:
        name = load_spec(str(path), spec_dirs=[]).name
    except SpecError:
        return values  # left as given: the first stage that loads the spec says what is wrong
    return {**values, "crawl": name, "spec_path": values.get("spec_path") or str(path)}


class CrawlTask(CrawlTick, ReclaimFirst, luigi.Task):
    """Paths and status shared by the stages of one crawl tick.

    ReclaimFirst: a rerun after a SIGKILLed worker frees the tick in luigid before scheduling it
    (pipelines/runs/reclaim.py).
    """

    @property
    def tick_dir(self) -> Path:
        return Path(config.crawl().data_dir) / self.spec.name / self.at.strftime("%Y%m%dT%H%MZ")

    def _status(self, message: str, percent: float | None = None) -> None:
        # Both are RPCs to luigid; callers keep them to one every few seconds.
        self.set_status_message(message)
        if percent is not None:
            self.set_progress_percentage(max(0, min(100, int(percent))))


class FetchPages(CrawlTask):
    """Crawls the site: every response into pages.warc.gz, every URL's outcome into urls.jsonl.

    With page processes ([fetch] parse_workers), also the item pages' lines
    (items.jsonl, errors.jsonl) and parse.json: their spec fingerprint and
    stats, which ParsePages uses instead of parsing the WARC again.
    """

    @property
    def resources(self) -> dict[str, int]:  # type: ignore[override]
        """The [resources] this fetch holds in luigid while it runs (see fetch_resources)."""
        try:
            spec = self.spec
        except SpecError:
            return {}  # run() says what is wrong with the spec
        return fetch_resources(spec, socket.gethostname(), luigi.configuration.get_config().getintdict("resources"))

    def output(self) -> AtomicDirectory:
        return AtomicDirectory(str(self.tick_dir / "fetch"))

    def run(self) -> None:
        _setup_logging()
        spec = self.spec
        log.info("fetching %s (%s) from %s", spec.name, spec.path, ", ".join(spec.start_urls))
        info = {"software": "crawlops", "crawl": spec.name, "tick": self.at.isoformat() + "Z",
                "hostname": socket.gethostname(), "python": platform.python_version()}
        if may_start_browsers(spec):  # a browser crawl, or a link hook's render="browser" on an HTTP crawl
            _exit_cleanly_on_sigterm()  # so the browsers are quit, not orphaned
        self._previous = progress.previous_pages(self.tick_dir.parent, self.tick_dir.name)
        log.info("progress estimate: %s", f"{self._previous:,} pages in the previous tick"
                 if self._previous is not None else "none (no earlier tick of this crawl finished its fetch)")
        with self.output().temporary_dir() as tmp:
            with open(tmp / "pages.warc.gz", "wb") as warc, open(tmp / "urls.jsonl", "w", encoding="utf-8") as urls, \
                    open(tmp / "items.jsonl", "w", encoding="utf-8") as items, \
                    open(tmp / "errors.jsonl", "w", encoding="utf-8") as errors:
                lines = FetchSideLines(items, errors)
                crawler = Crawler(spec, PageWriter(warc, info), urls, progress=self._progress, lines=lines)
                try:
                    stats = crawler.run()
                except BaseException:
                    self.run_stats = crawler.last_stats  # a failed fetch keeps its counters (the run record)
                    raise
            stats["limits"] = limits.hits(stats, spec.max_pages, spec.max_depth, spec.fetch.max_bytes)
            _write_json(tmp / "stats.json", stats)
            if lines.complete:
                _write_json(tmp / PARSE_STATE, {"fingerprint": parse_fingerprint(spec), "stats": lines.stats,
                                                "samples": lines.samples})
            else:  # some page was not parsed at fetch time: ParsePages parses the WARC
                (tmp / "items.jsonl").unlink()
                (tmp / "errors.jsonl").unlink()
        self._progress(stats, final=True, reached=self._limits(stats))
        log.info("fetch stats %s", json.dumps(stats, sort_keys=True))
        self.run_stats = stats

    def _limits(self, stats: dict) -> str | None:
        """Log each limit the crawl reached and put the warnings in `stats`; the summary's words."""
        judged = limits.judge(stats["limits"], self.spec.on_limit)
        for hit in judged["hits"]:
            if hit["action"] != "ignore":
                log.warning("limit reached (%s): %s", hit["action"], hit["sentence"])
        if judged["warnings"]:
            stats["warnings"] = judged["warnings"]
        return limits.summary(judged)

    def _progress(self, stats: dict, final: bool = False, reached: str | None = None) -> None:
        """The status line and a percentage of a stated estimate (pipelines/fetch/progress.py), or none."""
        done = stats["fetched"] + stats["failed"]
        previous = getattr(self, "_previous", None)
        guess = progress.estimate(done, stats["queued"], self.spec.max_pages, previous,
                                  stats["skipped_by_reason"].get("max_pages", 0))
        # Both are RPCs to luigid (through the StatusRelay); the crawler calls this every 2 s. None clears
        # a percentage an earlier attempt or a dropped estimate left in luigid.
        self.set_status_message(progress.status_line(stats, guess, previous, final) + (f"; {reached}" if reached else ""))
        self.set_progress_percentage(progress.percent(done, guess, final))


class ParsePages(CrawlTask):
    """Extracts items from the item pages of the WARC into items.jsonl; failures into errors.jsonl.

    When FetchPages parsed the pages already with the same parse fingerprint
    (fields, item_pages, key, parse_hook and its source), its lines are
    streamed in; a spec fixed since then parses the WARC again.
    """

    def requires(self) -> FetchPages:
        return self.clone(FetchPages)  # every parameter, spec_path too

    def output(self) -> AtomicDirectory:
        return AtomicDirectory(str(self.tick_dir / "parse"))

    def run(self) -> None:
        _setup_logging()
        spec = self.spec
        extractor = Extractor(spec)
        max_ratio = spec.max_error_ratio if spec.max_error_ratio is not None else config.parse().max_error_ratio
        fetched = Path(self.input().path)
        stats = {"pages": 0, "item_pages": 0, "items": 0, "no_item": 0, "errors": 0}
        self.run_stats = stats  # counted into as it goes: a stage that fails keeps its counters in its run record
        started = last = time.monotonic()
        samples: list[str] = []
        state = _read_json(fetched / PARSE_STATE)
        reuse = state is not None and state.get("fingerprint") == parse_fingerprint(spec)
        with self.output().temporary_dir() as tmp:
            with open(tmp / "items.jsonl", "w", encoding="utf-8") as items_out, \
                    open(tmp / "errors.jsonl", "w", encoding="utf-8") as errors_out:
                if reuse:
                    assert state is not None
                    log.info("using the lines parsed at fetch time (same parse fingerprint)")
                    for name, out in (("items.jsonl", items_out), ("errors.jsonl", errors_out)):
                        with open(fetched / name, encoding="utf-8") as lines:
                            shutil.copyfileobj(lines, out)
                    stats.update(state["stats"])
                    samples = list(state["samples"])
                for page in () if reuse else read_pages(fetched / "pages.warc.gz"):
                    stats["pages"] += 1
                    if not (200 <= page.status < 300) or not spec.is_item_page(page.url) or page.source:
                        continue
                    stats["item_pages"] += 1
                    encoding = page.encoding or charset_of(page.header("Content-Type")) or "utf-8"
                    kind, line = parse_page(spec, extractor, page.url, page.body, encoding, page.status,
                                            dict(page.headers))
                    if kind == "no_item":
                        stats["no_item"] += 1
                        continue
                    if kind == "error":
                        stats["errors"] += 1
                        if len(samples) < 5:
                            samples.append(f"{page.url}: {json.loads(line)['error']}")
                        errors_out.write(line)
                        continue
                    items_out.write(line)
                    stats["items"] += 1
                    now = time.monotonic()
                    if now - last > 2:
                        last = now
                        self._status(f"parsing: {stats['items']:,} items from {stats['pages']:,} pages, "
                                     f"{stats['errors']:,} errors")
            ratio = stats["errors"] / stats["item_pages"] if stats["item_pages"] else 0.0
            stats["error_ratio"] = round(ratio, 4)
            stats["parsed_at_fetch"] = reuse
            stats["elapsed_s"] = round(time.monotonic() - started, 3)
            if ratio > max_ratio:
                raise ParseRatioExceeded(
                    f"{stats['errors']} of {stats['item_pages']} item pages failed to parse "
                    f"({ratio:.1%} > max_error_ratio {max_ratio:.1%}); first errors: " + " | ".join(samples)
                )
            _write_json(tmp / "stats.json", stats)
        self._status(f"parsed: {stats['items']:,} items, {stats['errors']:,} errors", 100)
        log.info("parse stats %s", json.dumps(stats, sort_keys=True))


class StoreItems(CrawlTask):
    """Upserts the tick's items into the items DB with the tick's marker, in one transaction.

    In the same pass it measures the tick's data quality (pipelines/quality.py: item count against
    the recent ticks, field coverage, JSON Schema errors), stores that report with the marker and
    judges it with the spec's [monitors]. A violation is logged and listed in the run's stats; with
    on_violation = "warn" the run is done with `warnings` in its stats, with "fail" it fails after
    the items are stored: what was collected is kept (and the upsert of a rerun would only redo the
    same writes), and RunCrawl, judging the stored report, keeps the tick failed on every rerun.
    """

    def requires(self) -> ParsePages:
        return self.clone(ParsePages)

    def output(self) -> MarkerTarget:
        return MarkerTarget(config.store().db_connection, self.spec.name, self.at)

    def run(self) -> None:
        _setup_logging()
        spec = self.spec
        engine = engine_for(config.store().db_connection)
        path = Path(self.input().path) / "items.jsonl"
        measure = Measure([f.name for f in spec.fields], spec.schema)
        made: dict[str, Any] = {}

        def report(counts: Any, recent: list[int]) -> dict[str, Any]:
            made.update(measure.report(counts.items, recent), tick=self.at.strftime("%Y-%m-%dT%H:%M:00Z"))
            return made

        counts = store_items(engine, spec.name, self.at, measure.watch(_read_jsonl(path)), report=report)
        stats: dict[str, Any] = counts.as_dict()
        quality = judged(made, spec.monitors)
        stats["quality"] = quality
        for sentence in quality["violations"]:
            log.warning("data quality: %s", sentence)
        if quality["verdict"] == "warn":
            stats["warnings"] = quality["violations"]
        message = (f"stored: {stats['items']:,} items, {stats['new']:,} new, {stats['changed']:,} changed, "
                   f"{stats['unchanged']:,} unchanged")
        if quality["violations"]:
            message += f"; {len(quality['violations'])} data-quality violation(s) ({quality['verdict']})"
        self._status(message, 100)
        log.info("store stats %s", json.dumps(stats, sort_keys=True))
        self.run_stats = stats
        if quality["verdict"] == "fail":
            raise DataQualityError(failure_message(spec.name, quality["violations"]))


class RunCrawl(CrawlTick, ReclaimFirst, luigi.WrapperTask):
    """One crawl tick: the whole chain. Complete when its items are stored.

    And when its data quality, judged by the spec's [monitors], does not fail the tick: a tick that
    broke a monitor with on_violation = "fail" stays incomplete, so every rerun fails with the same
    violations; loosen the monitor or set it to "warn" and the rerun is done. The same for a limit
    the fetch reached (max_pages, ...) with on_limit = "fail" (pipelines/limits.py)."""

    def requires(self) -> StoreItems:
        return self.clone(StoreItems)

    def complete(self) -> bool:
        if not super().complete():
            return False
        quality = self._quality()
        if quality is not None and quality["verdict"] == "fail":
            return False
        return not self._limits(_read_json(self.requires().tick_dir / "fetch" / "stats.json"))["failures"]

    def _limits(self, fetch_stats: dict[str, Any] | None) -> dict[str, Any]:
        """The limits the tick's fetch reached, judged by the spec's on_limit now (pipelines/limits.py)."""
        return limits.judge((fetch_stats or {}).get("limits"), self.spec.on_limit)

    def _quality(self) -> dict[str, Any] | None:
        """The tick's stored quality report judged by the spec's monitors now; None for a tick stored without one."""
        spec = self.spec
        report = read_quality(engine_for(config.store().db_connection), spec.name, self.at)
        return judged(report, spec.monitors) if report is not None else None

    def run(self) -> None:
        _setup_logging()
        store = self.requires()
        parts = []
        fetch_stats = _read_json(store.tick_dir / "fetch" / "stats.json")
        if fetch_stats:
            parts.append(
                f"{fetch_stats['fetched']:,} pages fetched, "
                f"{_counted(fetch_stats['failed'], 'failed', fetch_stats['failed_by_reason'])}, "
                f"{_counted(fetch_stats['skipped'], 'skipped', fetch_stats['skipped_by_reason'])}, "
                f"{fetch_stats['retries']:,} retries"
            )
        marker = read_marker(engine_for(config.store().db_connection), store.spec.name, self.at)
        if marker:
            parts.append(f"{marker['items']:,} items ({marker['new']:,} new, {marker['changed']:,} changed, "
                         f"{marker['unchanged']:,} unchanged)")
        quality = self._quality()
        violations = quality["violations"] if quality else []
        if violations:
            parts.append(f"data quality: {len(violations)} violation(s), {quality['verdict']}")  # type: ignore[index]
        reached = self._limits(fetch_stats)
        if limits.summary(reached):
            parts.append(limits.summary(reached))  # type: ignore[arg-type]
        message = "; ".join(parts)
        self.set_status_message(message)
        self.run_stats = {"fetch": fetch_stats, "store": marker, "summary": message}
        warnings = list(reached["warnings"])
        if quality is not None:
            self.run_stats["quality"] = {"verdict": quality["verdict"], "violations": violations}
            if quality["verdict"] == "warn":
                warnings = violations + warnings
        if reached["hits"]:
            self.run_stats["limits"] = {"verdict": reached["verdict"], "hits": reached["hits"]}
        if warnings:
            self.run_stats["warnings"] = warnings
        if quality is not None and quality["verdict"] == "fail":
            raise DataQualityError(failure_message(store.spec.name, violations))
        if reached["failures"]:
            raise CrawlLimitError(limits.failure_message(store.spec.name, reached["failures"]))
        log.info("crawl %s tick %s done: %s", store.spec.name, self.at.isoformat(), message)


def resource_key(prefix: str, name: str) -> str:
    """`prefix_name` as a [resources] key: lower case, every character but a-z 0-9 _ as `_`."""
    return re.sub(r"[^a-z0-9_]", "_", f"{prefix}_{name}".lower())


def fetch_resources(spec: CrawlSpec, hostname: str, configured: Mapping[str, int]) -> dict[str, int]:
    """One unit of each limit a fetch of `spec` on worker host `hostname` falls under.

    Candidates: `site_<host>` for each start URL's host (the site, cluster-wide);
    for a browser crawl `browser` (browsers in the whole cluster) and
    `browser_<hostname>` (browsers on this worker host: luigid's resources are
    cluster-wide, so a per-host limit is a resource named after the host).
    Only names the worker's own [resources] section sets are declared: luigid
    gives a resource it has no number for a capacity of 1, so declaring every
    site would let one fetch per site run where nobody asked for a limit.
    """
    names = [resource_key("site", host) for host in dict.fromkeys(urlsplit(u).hostname or "" for u in spec.start_urls)]
    if spec.render == "browser":
        names += ["browser", resource_key("browser", hostname)]
    return {name: 1 for name in names if name in configured}


def _exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks quit Chromium.

    Python's default SIGTERM ends the process at once, without cleanup; the
    reaper would still find the browsers, but only at the next crawl.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


_LISTED_REASONS = 4  # more than this many: the top ones and "N other", so the line stays short


def _counted(total: int, what: str, reasons: dict[str, int]) -> str:
    """'9 failed (timeout 4, http_404 2, redirect_loop 1, 2 other)': the reasons always add up to the total."""
    if not total:
        return f"0 {what}"
    ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ranked if len(ranked) <= _LISTED_REASONS else ranked[:_LISTED_REASONS - 1]
    parts = [f"{reason} {count:,}" for reason, count in shown]
    rest = sum(count for _, count in ranked[len(shown):])
    if rest:
        parts.append(f"{rest:,} other")
    unexplained = total - sum(reasons.values())
    if unexplained > 0:  # stats written by an older crawler, say: say so rather than hide it
        parts.append(f"{unexplained:,} without a reason")
    return f"{total:,} {what} (" + ", ".join(parts) + ")"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # the tick's files may have been pruned; the marker still tells


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")

