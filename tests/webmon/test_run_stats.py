"""A run's stats as tables with human units (webmon/monitor/runstats.py), and on the run page."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test import Client
from history_seed import HistorySeed

from webmon.monitor.runstats import Bar, bars, count, rate, ratio, row, rows, size, stat_rows

AT = datetime(2026, 11, 21, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fn", "value", "text"),
    [
        (count, 0, "0"),
        (count, 1_234_567, "1,234,567"),
        (size, 0, "0 B"),
        (size, 1023, "1023 B"),
        (size, 1024, "1.0 KiB"),
        (size, 939_454, "917.4 KiB"),
        (size, 5 * 1024 * 1024 + 512 * 1024, "5.5 MiB"),
        (size, 3 * 1024**3, "3.0 GiB"),
        (size, 5 * 1024**4, "5.0 TiB"),
        (size, 2048 * 1024**4, "2,048.0 TiB"),
        (rate, 8.26, "8.3 pages/s"),
        (rate, 1234.4, "1,234 pages/s"),
        (ratio, 0, "0%"),
        (ratio, 1, "100%"),
        (ratio, 0.0123, "1.23%"),
        (ratio, 0.5, "50.0%"),
    ],
)
def test_units(fn, value, text) -> None:  # noqa: ANN001
    assert fn(value) == text


@pytest.mark.parametrize(
    ("key", "value", "kind", "label", "shown", "exact"),
    [
        ("fetched", 1_042, "count", "Pages fetched", "1,042", ""),
        ("bytes", 939_454, "bytes", "Size", "917.4 KiB", "939,454 bytes"),
        ("elapsed_s", 125.5, "seconds", "Elapsed", "2 min 06 s", "125.500 s"),  # rounded, not cut
        ("elapsed_s", 3.25, "seconds", "Elapsed", "3.2 s", "3.250 s"),
        ("pages_per_s", 41.6, "rate", "Rate", "41.6 pages/s", "41.6"),
        ("error_ratio", 0.0123, "ratio", "Error ratio", "1.23%", "0.0123"),
        ("parsed_at_fetch", True, "flag", "Parsed at fetch time", "yes", ""),
        ("summary", "1 page fetched", "text", "Summary", "1 page fetched", ""),
        # unknown keys: their own name, whole numbers with separators, other numbers and text as they are
        ("pages_gone", 12_000, "count", "pages_gone", "12,000", ""),
        ("load", 0.75, "number", "load", "0.75", ""),
        ("<b>odd</b>", "<i>x</i>", "text", "<b>odd</b>", "<i>x</i>", ""),  # escaped by the template
        ("nothing", None, "text", "nothing", "—", ""),
        ("deep", [{"a": 1}], "json", "deep", '[{"a": 1}]', ""),
    ],
)
def test_a_stat_gets_its_label_and_unit(key: str, value, kind: str, label: str, shown: str, exact: str) -> None:  # noqa: ANN001
    got = row(key, value)
    assert (got.kind, got.label, got.value, got.exact) == (kind, label, shown, exact)


def test_counts_by_status_or_reason_are_bars_largest_first() -> None:
    got = row("responses_by_status", {"404": 9, "200": 1_030, "301": 3, "503": 9})
    assert (got.kind, got.label, got.value) == ("bars", "Responses by status", "1,051")
    assert got.bars == [
        Bar("200", "1,030", "98.0%", 160, "hbar-2xx"),
        Bar("404", "9", "0.86%", 1, "hbar-4xx"),
        Bar("503", "9", "0.86%", 1, "hbar-5xx"),
        Bar("301", "3", "0.29%", 1, "hbar-3xx"),
    ]
    reasons = row("failed_by_reason", {"timeout": 6, "http_404": 3, "reset": 0})
    assert [(b.label, b.width, b.css) for b in reasons.bars] == [
        ("timeout", 160, "hbar-reason"), ("http_404", 80, "hbar-reason"), ("reset", 0, "hbar-reason")]
    # any *_by_* object of whole numbers, known or not
    assert row("errors_by_field", {"price": 2}).kind == "bars"


def test_many_reasons_end_in_one_bar_for_the_others() -> None:
    got = bars({f"reason{i:02d}": 100 - i for i in range(20)}, "failed_by_reason")
    assert len(got) == 12
    assert got[-1].label == "9 others" and got[-1].count == f"{sum(100 - i for i in range(11, 20)):,}"
    assert got[-1].css == "hbar-other"


def test_nested_objects_are_sub_tables_and_known_keys_come_first() -> None:
    stats = {"zeta": 1, "store": {"unchanged": 3, "items": 5, "new": 2}, "fetch": {"fetched": 7, "bytes": 2048},
             "summary": "7 pages", "middleware": {}}
    got = rows(stats)
    assert [r.key for r in got] == ["summary", "middleware", "fetch", "store", "zeta"]
    fetch = got[2]
    assert fetch.kind == "table"
    assert [(r.label, r.value) for r in fetch.table] == [("Pages fetched", "7"), ("Size", "2.0 KiB")]
    assert [r.key for r in got[3].table] == ["items", "new", "unchanged"]
    assert (got[1].kind, got[1].value) == ("text", "none")


def test_objects_deeper_than_three_levels_are_json_text() -> None:
    got = row("a", {"b": {"c": {"d": {"e": 1}}}})
    assert got.table[0].table[0].table[0].kind == "json"
    assert got.table[0].table[0].table[0].value == '{"e": 1}'


def test_the_quality_report_links_to_its_section_when_the_page_shows_it() -> None:
    report = {"verdict": "warn", "coverage": {"title": 1.0}}
    assert row("quality", report, quality_anchor="quality-section").anchor == "quality-section"
    assert row("quality", report).kind == "table"  # no section: shown like any object


def test_stored_text_that_is_no_object_is_shown_as_it_is() -> None:
    assert stat_rows(None) == [] and stat_rows("") == []
    assert stat_rows("[1, 2]") is None and stat_rows("not json") is None
    assert [r.key for r in stat_rows(json.dumps({"fetched": 1}))] == ["fetched"]


def test_the_run_page_shows_stats_as_tables(client: Client, history: HistorySeed) -> None:
    run_id = history.run(
        started_at=AT, status="done",
        stats={"fetched": 1_042, "bytes": 939_454, "failed_by_reason": {"timeout": 3}, "<odd>": "<b>x</b>"},
    )
    body = client.get(f"/runs/{run_id}/").content.decode()
    assert '<table id="run-stats" class="kv stats">' in body
    assert '<tr class="stat stat-count" data-key="fetched"><th>Pages fetched</th><td><span class="stat-value">1,042</span>' in body
    assert '<span class="stat-value" title="939,454 bytes">917.4 KiB</span>' in body
    assert '<tr class="hbar hbar-reason"><th>timeout</th>' in body
    assert '<th>&lt;odd&gt;</th><td><span class="stat-value">&lt;b&gt;x&lt;/b&gt;</span>' in body
    assert "939454" not in body  # no raw dump


def test_a_failed_run_without_stats_says_why_there_are_none(client: Client, history: HistorySeed) -> None:
    run_id = history.run(started_at=AT, status="failed", stats=None, error_type="ValueError", error_message="x")
    body = client.get(f"/runs/{run_id}/").content.decode()
    assert 'id="run-stats" class="empty">No stats: this run recorded none' in body


def test_labels_and_units_are_in_the_pages_language(client: Client, history: HistorySeed) -> None:
    run_id = history.run(started_at=AT, status="done", stats={"fetched": 1_042, "pages_per_s": 8.3, "bytes": 10})
    body = client.get(f"/runs/{run_id}/", HTTP_ACCEPT_LANGUAGE="zh-TW").content.decode()
    assert "<th>已抓取頁面</th>" in body
    assert "8.3 頁/秒" in body
    assert 'title="10 位元組"' in body
