"""Data quality of a crawl tick: what StoreItems measures, and the spec's [monitors] that judge it.

Measured for every tick, monitors or not, in the one pass StoreItems makes over
the tick's items (`Measure.watch`):

- the item count (the distinct keys stored: the tick's marker count) and its
  change against the median of the crawl's last RECENT_TICKS stored ticks
  (their markers, read in the same transaction);
- field coverage: the share of items with each spec field non-empty (not
  None, not an empty or blank string, not an empty list; a field's `default`
  counts as a value), for the fields of [fields] only, so the set is bounded;
- with a `schema` in the spec, the items whose fields do not validate against
  that JSON Schema (`jsonschema`), with the first few errors.

`evaluate(report, monitors)` is a pure function of that report: StoreItems
judges the tick with it when it stores the items, and RunCrawl judges the
stored report again with the spec it runs with (a failed tick reruns green
once its monitor is loosened or set to warn). docs/crawl-specs.md, "[monitors]".
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.exceptions import CrawlError, SpecError
from pipelines.specreader import Table, describe

RECENT_TICKS = 5  # the baseline: median item count of this many stored ticks before this one
SAMPLES = 5  # schema errors kept in the report
VERDICTS = ("ok", "warn", "fail")
ON_VIOLATION = ("warn", "fail")
MONITOR_KINDS = ("min_items", "max_item_drop", "max_invalid_ratio", "coverage")


class DataQualityError(CrawlError):
    """Raised by StoreItems (after storing the items) and RunCrawl when a tick breaks a monitor with
    on_violation = "fail"; the message lists every violation."""


@dataclass(frozen=True)
class Monitors:
    """The [monitors] table of a spec: what a tick must satisfy, and what a violation does."""

    min_items: int | None = None
    max_item_drop: float | None = None
    coverage: tuple[tuple[str, float], ...] = ()
    max_invalid_ratio: float | None = None
    on_violation: str = "warn"

    @property
    def any(self) -> bool:
        return bool(self.min_items is not None or self.max_item_drop is not None or self.coverage
                    or self.max_invalid_ratio is not None)


@dataclass(frozen=True)
class Check:
    """One monitor applied to one tick."""

    monitor: str  # min_items, max_item_drop, max_invalid_ratio, coverage.<field>
    value: float | None  # what the tick measured (None: nothing to measure, e.g. no baseline yet)
    limit: float
    ok: bool
    sentence: str  # a violation's sentence, "" when ok

    def as_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "value": self.value, "limit": self.limit, "ok": self.ok}


# -- the spec ---------------------------------------------------------------------------------


def _ratio(table: Table, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise table.error(name, f"expected a ratio from 0 to 1, got {describe(value)}")
    if not 0 <= value <= 1 or math.isnan(value):
        raise table.error(name, f"expected a ratio from 0 to 1, got {value!r}")
    return float(value)


def parse_monitors(path: Path, data: dict[str, Any], fields: Iterable[str], has_schema: bool) -> Monitors:
    """[monitors] of a spec, every key checked: SpecError with a sentence naming the key."""
    if not data:
        return Monitors()
    names = list(fields)
    t = Table(path, data, "monitors.")
    min_items = t.get("min_items", (int,), "a whole number >= 0", None)
    if min_items is not None and min_items < 0:
        raise t.error("min_items", f"expected a whole number >= 0, got {min_items!r}")
    drop = t.get("max_item_drop", (int, float), "a ratio from 0 to 1", None)
    drop = _ratio(t, "max_item_drop", drop) if drop is not None else None
    invalid = t.get("max_invalid_ratio", (int, float), "a ratio from 0 to 1", None)
    if invalid is not None:
        invalid = _ratio(t, "max_invalid_ratio", invalid)
        if not has_schema:
            raise t.error("max_invalid_ratio", "needs a JSON Schema to count invalid items: set `schema` "
                                               "(a path to a .json file, relative to the spec) at the top of the spec")
    on_violation = t.string("on_violation", default="warn")
    if on_violation not in ON_VIOLATION:
        raise t.error("on_violation", f"expected \"warn\" or \"fail\", got {on_violation!r}")
    raw = t.table("coverage")
    coverage = []
    for field_name, value in raw.items():
        if field_name not in names:
            known = ", ".join(names) if names else "none: this spec has no [fields]"
            raise SpecError(path, f"monitors.coverage.{field_name}",
                            f"is not a field of this spec (its fields: {known})")
        coverage.append((field_name, _ratio(Table(path, raw, "monitors.coverage."), field_name, value)))
    t.finish()
    return Monitors(min_items, drop, tuple(coverage), invalid, on_violation)


def load_schema(path: Path, value: Any) -> tuple[str, dict[str, Any]]:
    """The spec's `schema` key: (the file's absolute path, the JSON Schema), checked; SpecError otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise SpecError(path, "schema", f"expected a path to a JSON Schema file (.json), got {describe(value)}")
    file = (path.resolve().parent / value).resolve()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(path, "schema", f"no such file {str(file)!r} (the path is relative to the spec file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(path, "schema", f"cannot read {str(file)!r}: {exc}") from None
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise SpecError(path, "schema", f"{str(file)!r} is not JSON: {exc}") from None
    if not isinstance(schema, (dict, bool)):
        raise SpecError(path, "schema", f"{str(file)!r} is not a JSON Schema (expected an object, got "
                                        f"{type(schema).__name__})")
    import jsonschema  # noqa: PLC0415 - only specs with a schema need it

    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "the top"
        raise SpecError(path, "schema", f"{str(file)!r} is not a valid JSON Schema: {exc.message} "
                                        f"(at {where})") from None
    return str(file), schema


# -- measuring ----------------------------------------------------------------------------------


def non_empty(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, dict)):
        return bool(value)
    return True


class Measure:
    """Counts coverage (and schema errors) of the records StoreItems reads, in its one pass."""

    def __init__(self, fields: Iterable[str], schema: Mapping[str, Any] | bool | None = None) -> None:
        self.fields = list(fields)
        self.filled = dict.fromkeys(self.fields, 0)
        self.read = 0
        self.invalid = 0
        self.samples: list[str] = []
        self._validator = None
        if schema is not None:
            import jsonschema  # noqa: PLC0415

            cls = jsonschema.validators.validator_for(schema)
            self._validator = cls(schema, format_checker=cls.FORMAT_CHECKER)

    def watch(self, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for record in records:
            self.observe(record)
            yield record

    def observe(self, record: dict[str, Any]) -> None:
        self.read += 1
        fields = record.get("fields") or {}
        for name in self.fields:
            if non_empty(fields.get(name)):
                self.filled[name] += 1
        if self._validator is not None:
            error = next(iter(self._validator.iter_errors(fields)), None)
            if error is not None:
                self.invalid += 1
                if len(self.samples) < SAMPLES:
                    where = "/".join(str(p) for p in error.absolute_path) or "the item"
                    self.samples.append(f"{record.get('key', '?')}: {where}: {error.message}"[:300])

    def report(self, items: int, recent: list[int]) -> dict[str, Any]:
        """The tick's report: counts, coverage, baseline and schema results (JSON-ready)."""
        coverage = {name: round(self.filled[name] / self.read, 4) if self.read else None for name in self.fields}
        baseline = None
        if recent:
            median = float(statistics.median(recent))
            baseline = {"median": median, "ticks": len(recent),
                        "change": round((items - median) / median, 4) if median else None}
        schema = None
        if self._validator is not None:
            schema = {"checked": self.read, "invalid": self.invalid,
                      "ratio": round(self.invalid / self.read, 4) if self.read else 0.0, "samples": self.samples}
        return {"items": items, "read": self.read, "coverage": coverage, "baseline": baseline, "schema": schema}


# -- judging ------------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{value:.0%}" if value * 100 == round(value * 100) else f"{value:.1%}"


def evaluate(report: Mapping[str, Any], monitors: Monitors) -> list[Check]:
    """Each monitor of `monitors` applied to a tick's report, in a fixed order."""
    checks: list[Check] = []
    items = int(report.get("items") or 0)
    if monitors.min_items is not None:
        ok = items >= monitors.min_items
        checks.append(Check("min_items", items, monitors.min_items, ok,
                            "" if ok else f"min_items: {items:,} items, fewer than {monitors.min_items:,}"))
    if monitors.max_item_drop is not None:
        baseline = report.get("baseline") or {}
        median = baseline.get("median")
        if not median:  # no earlier tick (or only empty ones): nothing to drop from
            checks.append(Check("max_item_drop", None, monitors.max_item_drop, True, ""))
        else:
            drop = max(0.0, (median - items) / median)
            ok = drop <= monitors.max_item_drop
            checks.append(Check(
                "max_item_drop", round(drop, 4), monitors.max_item_drop, ok,
                "" if ok else f"max_item_drop: {items:,} items, {_pct(drop)} fewer than the median of the last "
                              f"{baseline.get('ticks')} ticks ({median:,g}); at most {_pct(monitors.max_item_drop)} "
                              "allowed"))
    if monitors.max_invalid_ratio is not None:
        schema = report.get("schema") or {}
        ratio = float(schema.get("ratio") or 0.0)
        ok = ratio <= monitors.max_invalid_ratio
        samples = schema.get("samples") or []
        checks.append(Check(
            "max_invalid_ratio", ratio, monitors.max_invalid_ratio, ok,
            "" if ok else f"max_invalid_ratio: {schema.get('invalid', 0):,} of {schema.get('checked', 0):,} items "
                          f"do not match the schema ({_pct(ratio)} > {_pct(monitors.max_invalid_ratio)})"
                          + (f"; first: {samples[0]}" if samples else "")))
    coverage = report.get("coverage") or {}
    for name, limit in monitors.coverage:
        value = coverage.get(name)
        if value is None:  # no items: no share to measure (min_items and max_item_drop say that)
            checks.append(Check(f"coverage.{name}", None, limit, True, ""))
            continue
        ok = value >= limit
        checks.append(Check(f"coverage.{name}", value, limit, ok,
                            "" if ok else f"coverage.{name}: {_pct(value)} of the items have {name}, "
                                          f"less than {_pct(limit)}"))
    return checks


def verdict(checks: Iterable[Check], monitors: Monitors) -> str:
    return monitors.on_violation if any(not c.ok for c in checks) else "ok"


def judged(report: Mapping[str, Any], monitors: Monitors) -> dict[str, Any]:
    """The report with the monitors' checks, the violations' sentences and the verdict (the run's stats)."""
    checks = evaluate(report, monitors)
    return {**report, "monitors": [c.as_dict() for c in checks],
            "violations": [c.sentence for c in checks if not c.ok], "verdict": verdict(checks, monitors)}


def failure_message(crawl: str, violations: list[str]) -> str:
    return (f"data quality of crawl {crawl!r}: {len(violations)} monitor{'s' if len(violations) != 1 else ''} "
            "broken (on_violation = \"fail\"; the items are stored): " + "; ".join(violations))
