"""Chart geometry: numbers only, scaled into the drawing."""

from __future__ import annotations

from datetime import UTC, date, datetime

from webmon.monitor.charts import calendar, sparkline
from webmon.monitor.summaries import calendar_days, day_css, family_rows, percentile, success_rate


def test_a_sparkline_puts_the_largest_value_at_the_top() -> None:
    spark = sparkline([1.0, 4.0, 2.0], width=100, height=20, pad=0)
    assert spark.points == "0.0,15.0 50.0,0.0 100.0,10.0"
    assert (spark.last_x, spark.last_y) == ("100.0", "10.0")
    assert sparkline([]) is None
    assert sparkline([0.0]).points.count(",") == 2  # one value: a flat line


def test_the_calendar_has_a_cell_per_day_in_week_columns() -> None:
    cal = calendar({"2026-03-02": ("day-ok", "ok")}, today=date(2026, 3, 8), days=7)
    assert [c.day for c in cal.cells][0] == "2026-03-02"  # a Monday: first column, top row
    # 18 px cells, 3 px apart, right of the weekday labels
    assert (cal.cells[0].x, cal.cells[0].y, cal.cells[0].css, cal.size) == (30, 16, "day-ok", 18)
    assert cal.cells[-1].css == "day-none" and cal.cells[-1].y == 16 + 6 * 21  # Sunday at the bottom
    assert {c.x for c in cal.cells} == {30}
    assert [label for _, label in cal.weekdays] == ["Mon", "Wed", "Fri"]


def test_month_labels_do_not_overlap_and_the_last_is_not_cut() -> None:
    cal = calendar({}, today=date(2026, 12, 3), days=90)  # December begins in the last column
    xs = [x for x, _ in cal.months]
    assert all(b - a >= 2 * 21 for a, b in zip(xs, xs[1:], strict=False))
    assert cal.months[-1] == (max(c.x for c in cal.cells), "Dec")
    assert cal.months[-1][0] + 30 <= cal.width  # room for the label's three letters
    assert cal.width <= 400  # 90 days fit any page


def test_day_colours_and_rates() -> None:
    assert day_css({"done": 3}) == "day-ok"
    assert day_css({"done": 3, "failed": 1}) == "day-few"  # 25 %
    assert day_css({"done": 2, "failed": 1}) == "day-some"  # 33 %
    assert day_css({"done": 1, "failed": 2}) == "day-most"  # 67 %
    assert day_css({"failed": 1, "running": 2}) == "day-failed"
    assert day_css({"running": 1}) == "day-running"
    assert day_css({}) == "day-none"
    assert calendar_days([("2026-01-01", {"done": 23, "failed": 1})]) == {
        "2026-01-01": ("day-few", "2026-01-01: 24 ticks, 23 done, 1 failed")
    }
    assert success_rate({"done": 3, "failed": 1, "running": 5}) == 0.75
    assert success_rate({"running": 1}) is None


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile([], 50)) == (50.0, 95.0, None)
    assert percentile([7.0], 95) == 7.0


def test_family_rows_ignore_running_runs_in_durations() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    rows = family_rows(["F"], [("F", "done", t, 2.0), ("F", "running", t, None), ("F", "failed", t, 4.0)], cap=10)
    assert (rows[0].runs, rows[0].failed, rows[0].running, rows[0].p50.total_seconds()) == (3, 1, 1, 2.0)
