"""The charts' axes and bars: round scale values, labels as operators read them, shapes inside the plot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from webmon.monitor.charts import (
    BAR_TOP,
    LABEL_GAP,
    PLOT_MIN,
    BarChart,
    bar_chart,
    count_label,
    duration_label,
    gantt,
    nice_ticks,
    time_ticks,
)

T0 = datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC)
CHAR_PX = 7  # an 11 px label's widest characters (digits are about 6.2 px in Chromium)


@pytest.mark.parametrize(
    ("top", "unit", "ticks"),
    [
        (0, "count", [0, 1]),
        (3, "count", [0, 1, 2, 3]),
        (7, "count", [0, 2, 4, 6, 8]),
        (1000, "count", [0, 500, 1000]),
        (1234, "count", [0, 500, 1000, 1500]),
        (86_000, "count", [0, 50_000, 100_000]),
        (0, "duration", [0, 1]),
        (0.8, "duration", [0, 0.2, 0.4, 0.6, 0.8]),
        (45, "duration", [0, 15, 30, 45]),
        (150, "duration", [0, 60, 120, 180]),
        (191, "duration", [0, 60, 120, 180, 240]),
        (5000, "duration", [0, 1800, 3600, 5400]),
        (30 * 3600, "duration", [0, 12 * 3600, 24 * 3600, 36 * 3600]),
        (10 * 86400, "duration", [0, 7 * 86400, 14 * 86400]),
    ],
)
def test_a_scale_goes_from_zero_to_the_top_in_round_steps(top: float, unit: str, ticks: list[float]) -> None:
    assert nice_ticks(top, unit) == ticks


@pytest.mark.parametrize(
    ("seconds", "label"),
    [(0, "0 s"), (0.5, "0.5 s"), (30, "30 s"), (60, "1 min"), (90, "1 min 30 s"), (120, "2 min"),
     (3600, "1 h"), (5400, "1 h 30 min"), (36000, "10 h"), (86400, "1 d"), (90000, "1 d 01 h")],
)
def test_durations_on_an_axis_read_as_people_say_them(seconds: float, label: str) -> None:
    assert duration_label(seconds) == label


def test_counts_on_an_axis_have_thousands_separated() -> None:
    assert [count_label(v) for v in (0, 500, 1000, 1_500_000, 2.5)] == ["0", "500", "1,000", "1,500,000", "2.5"]


def test_a_clock_axis_has_round_times_of_the_viewers_zone() -> None:
    ticks, step = time_ticks(T0, T0 + timedelta(minutes=3, seconds=11))
    assert step == 60 and [t.strftime("%H:%M:%S") for t in ticks] == ["12:01:00", "12:02:00", "12:03:00"]
    with timezone.override("Asia/Taipei"):  # UTC+8: 23:50 UTC is 07:50 there; round hours of Taipei
        ticks, step = time_ticks(datetime(2026, 3, 1, 23, 50, tzinfo=UTC), datetime(2026, 3, 2, 5, 10, tzinfo=UTC))
        assert step == 7200 and [t.strftime("%H:%M") for t in ticks] == ["08:00", "10:00", "12:00"]
    ticks, step = time_ticks(T0, T0 + timedelta(seconds=20))
    assert step == 5 and ticks[0].strftime("%H:%M:%S") == "12:00:05"


def _bars(n: int, step: timedelta = timedelta(hours=1), unit: str = "duration") -> BarChart:
    return bar_chart(
        [(10.0 + i * 7, "bar-done", f"tick {i}", f"/runs/{i}/", T0 + i * step) for i in range(n)], unit=unit
    )


@pytest.mark.parametrize("n", [1, 7, 20, 100, 101])
def test_bars_stay_inside_the_plot_and_reach_the_scale(n: int) -> None:
    chart = _bars(n)
    top = float(chart.y_ticks[-1].y)
    assert float(chart.y_ticks[0].y) == chart.base and top == BAR_TOP
    for bar in chart.bars:
        x, w = float(bar.x.rstrip("%")), float(bar.w.rstrip("%"))
        assert 0 <= x and x + w <= 100 and w > 0
        assert float(bar.y) >= top and float(bar.y) + float(bar.h) == pytest.approx(chart.base)
    assert [bar.title for bar in chart.bars] == [f"tick {i}" for i in range(n)]
    assert min(float(bar.y) for bar in chart.bars) >= top  # the largest value is under the top gridline


def test_bar_heights_follow_the_scale() -> None:
    chart = bar_chart([(1000.0, "a", "", None, T0), (500.0, "b", "", None, T0)], unit="count", plot_height=100)
    assert [t.label for t in chart.y_ticks] == ["0", "500", "1,000"]
    assert [float(b.h) for b in chart.bars] == [100.0, 50.0]
    assert chart.bars[0].x == "0.50%" and chart.bars[0].w == "4.00%"  # 20 slots at least: a few bars stay narrow


@pytest.mark.parametrize("n", [2, 7, 20, 50, 100])
def test_x_labels_do_not_overlap_on_the_narrowest_plot(n: int) -> None:
    chart = _bars(n, step=timedelta(minutes=50))
    xs = [float(t.x.rstrip("%")) / 100 * PLOT_MIN for t in chart.x_ticks]
    widest = max(max(len(t.label), len(t.date)) for t in chart.x_ticks) * CHAR_PX
    # 0.05 px: the percentages have two decimals
    assert widest <= LABEL_GAP and all(b - a >= LABEL_GAP - 0.05 for a, b in zip(xs, xs[1:], strict=False))
    assert 2 <= len(xs) <= PLOT_MIN // LABEL_GAP + 1 or n == 2
    assert chart.x_ticks[-1].label == (T0 + (n - 1) * timedelta(minutes=50)).strftime("%H:%M")  # newest labelled


def test_x_labels_give_the_date_where_the_day_changes_and_utc_in_their_title() -> None:
    chart = _bars(48)  # two days of hourly ticks
    assert [(t.label, t.date) for t in chart.x_ticks] == [
        ("19:00", "2026-03-01"), ("05:00", "2026-03-02"), ("15:00", ""), ("01:00", "2026-03-03"), ("11:00", "")]
    assert chart.x_ticks[0].title.endswith(" UTC") and chart.zone == "Times in UTC"
    with timezone.override("Asia/Taipei"):
        chart = _bars(3)
        assert chart.x_ticks[-1].label == "22:00" and chart.x_ticks[-1].title == "2026-03-01 14:00:01 UTC"
        assert chart.zone == "Times in UTC+08:00"


def test_an_empty_bar_chart_has_a_scale_and_no_bars() -> None:
    chart = bar_chart([], unit="count")
    assert chart.bars == [] and chart.x_ticks == [] and [t.label for t in chart.y_ticks] == ["0", "1"]


def test_gantt_bars_share_one_clock_axis_with_every_attempt() -> None:
    s = timedelta(seconds=1)
    chart = gantt(
        [
            ("FetchPages", [("failed", T0, T0 + 10 * s, "f1", "/1"), ("done", T0 + 20 * s, T0 + 60 * s, "f2", "/2")]),
            ("ParsePages", [("done", T0 + 60 * s, T0 + 100 * s, "p", "/3")]),
            ("StoreItems", []),
        ]
    )
    fetch, parse, store = chart.rows
    assert [(b.x, b.w, b.latest, b.status) for b in fetch.bars] == [
        ("0.00%", "10.00%", False, "failed"), ("20.00%", "40.00%", True, "done")]
    assert [(b.x, b.w) for b in parse.bars] == [("60.00%", "40.00%")] and store.bars == []
    assert fetch.y < parse.y < store.y < chart.base
    assert [t.label for t in chart.x_ticks] == ["12:00:30", "12:01:00", "12:01:30"]
    assert chart.x_ticks[0].date == "2026-03-01" and chart.now_x is None


def test_a_running_gantt_reaches_now_and_marks_it() -> None:
    now = T0 + timedelta(minutes=4)
    chart = gantt([("FetchPages", [("done", T0, T0 + timedelta(minutes=1), "", None)]),
                   ("ParsePages", [("running", T0 + timedelta(minutes=1), now, "", None)])], now=now)
    assert chart.now_x == "100.00%" and chart.rows[1].bars[0].x == "25.00%"
    assert [t.label for t in chart.x_ticks] == ["12:01", "12:02", "12:03", "12:04"]
