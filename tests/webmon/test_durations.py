"""How long something took, as every page writes it (templatetags/monitor.py `human`, the `dur` filter)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone, translation
from history_seed import HistorySeed, run_row

from webmon.monitor.templatetags.monitor import dur, human


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "<1 ms"),
        (0.0004, "<1 ms"),
        (0.0006, "1 ms"),
        (0.012, "12 ms"),
        (0.12, "120 ms"),
        (0.9994, "999 ms"),
        (0.9996, "1.0 s"),  # rounds up to a second: shown in seconds, never "1000 ms"
        (1.0, "1.0 s"),
        (1.25, "1.2 s"),
        (9.94, "9.9 s"),
        (9.96, "10 s"),  # never "10.0 s"
        (12.3, "12 s"),
        (59.4, "59 s"),
        (59.6, "1 min 00 s"),  # never "60 s"
        (61, "1 min 01 s"),
        (245, "4 min 05 s"),
        (3599.4, "59 min 59 s"),
        (3599.6, "1 h 00 min"),  # never "60 min 00 s"
        (7380, "2 h 03 min"),
        (47 * 3600 + 59 * 60, "47 h 59 min"),
        (48 * 3600, "2 d 00 h"),
        (3 * 86400 + 4 * 3600, "3 d 04 h"),
        (-5, "<1 ms"),  # a clock that went back: never a negative duration
    ],
)
def test_a_duration_is_written_in_the_unit_that_fits(seconds: float, text: str) -> None:
    with translation.override("en"):
        assert human(seconds) == text


def test_the_filter_takes_timedeltas_and_numbers_and_none() -> None:
    with translation.override("en"):
        assert dur(timedelta(milliseconds=120)) == "120 ms"
        assert dur(0.12) == "120 ms"
        assert dur(None) == "—"


@pytest.mark.parametrize("language, text", [("zh-hant", "120 毫秒"), ("zh-hans", "120 毫秒")])
def test_milliseconds_are_translated(language: str, text: str) -> None:
    with translation.override(language):
        assert human(0.12) == text


def test_the_families_page_shows_sub_second_durations_in_milliseconds(client: Client, history: HistorySeed) -> None:
    now = timezone.now()
    history.runs_bulk([run_row(family="Quick", started_at=now - timedelta(minutes=i), seconds=0.12) for i in range(5)])
    body = client.get("/families/").content.decode()
    assert '<td class="p50">120 ms</td>' in body and '<td class="p95">120 ms</td>' in body
