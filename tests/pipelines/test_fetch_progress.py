"""FetchPages' progress rule (pipelines/fetch/progress.py): a percentage only of a stated estimate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.fetch.progress import MAX_PAGES, PREVIOUS, Estimate, estimate, percent, previous_pages, status_line


@pytest.mark.parametrize(
    ("done", "queued", "max_pages", "previous", "refused", "expected"),
    [
        # a fresh crawl: found so far is no total, whatever the ratio (the 97 % at 349 of 1,051)
        (349, 702, 20_000, None, 0, None),
        (0, 1, 20_000, None, 0, None),
        # the crawl has found max_pages pages: it will fetch max_pages
        (349, 651, 1_000, None, 0, Estimate(1_000, MAX_PAGES)),
        (349, 900, 1_000, 800, 0, Estimate(1_000, MAX_PAGES)),
        # a link was refused for max_pages: the limit is reached
        (10, 0, 1_000, None, 1, Estimate(1_000, MAX_PAGES)),
        # the previous tick's page count
        (349, 100, 20_000, 1_000, 0, Estimate(1_000, PREVIOUS)),
        (1_000, 0, 20_000, 1_000, 0, Estimate(1_000, PREVIOUS)),
        # found more than the previous tick: that estimate is known to be too low
        (900, 200, 20_000, 1_000, 0, None),
        # the previous tick hit max_pages (overrides changed it since): max_pages
        (10, 5, 500, 2_000, 0, Estimate(500, MAX_PAGES)),
        # a previous tick of no pages is no estimate
        (3, 4, 20_000, 0, 0, None),
    ],
)
def test_the_estimate_is_max_pages_when_it_will_be_hit_else_the_previous_tick_else_none(
    done: int, queued: int, max_pages: int, previous: int | None, refused: int, expected: Estimate | None
) -> None:
    assert estimate(done, queued, max_pages, previous, refused) == expected


@pytest.mark.parametrize(
    ("done", "guess", "final", "expected"),
    [
        (349, Estimate(1_000, PREVIOUS), False, 34),
        (0, Estimate(1_000, PREVIOUS), False, 0),
        (999, Estimate(1_000, MAX_PAGES), False, 99),
        (1_000, Estimate(1_000, MAX_PAGES), False, 99),  # never above 99 before the stage ends
        (1_003, Estimate(1_000, MAX_PAGES), False, 99),  # redirects past max_pages
        (349, None, False, None),
        (349, None, True, 100),
        (349, Estimate(1_000, PREVIOUS), True, 100),
    ],
)
def test_the_percentage_is_done_over_the_estimate_at_most_99_until_the_end(
    done: int, guess: Estimate | None, final: bool, expected: int | None
) -> None:
    assert percent(done, guess, final) == expected


def stats(fetched: int, failed: int, queued: int) -> dict:
    return {"fetched": fetched, "failed": failed, "queued": queued, "skipped": 7, "pages_per_s": 41.6}


@pytest.mark.parametrize(
    ("counters", "guess", "previous", "final", "line"),
    [
        (stats(340, 9, 10), Estimate(1_000, PREVIOUS), 1_000, False,
         "fetching: 349 of ~1,000 pages (previous tick), 9 failed, 7 skipped, 42 pages/s"),
        (stats(340, 9, 651), Estimate(1_000, MAX_PAGES), None, False,
         "fetching: 349 of 1,000 pages (max_pages), 9 failed, 7 skipped, 42 pages/s"),
        (stats(340, 9, 702), None, None, False,
         "fetching: 349 pages fetched, 1,051 found so far (no estimate: no earlier tick), 9 failed, 7 skipped, "
         "42 pages/s"),
        (stats(1_100, 0, 100), None, 1_000, False,
         "fetching: 1,100 pages fetched, 1,200 found so far (more than the previous tick's 1,000), 0 failed, "
         "7 skipped, 42 pages/s"),
        (stats(1_042, 9, 0), None, None, True, "fetched: 1,042 pages, 9 failed, 7 skipped, 42 pages/s"),
    ],
)
def test_the_status_line_names_the_estimate(
    counters: dict, guess: Estimate | None, previous: int | None, final: bool, line: str
) -> None:
    assert status_line(counters, guess, previous, final) == line


def tick(crawl_dir: Path, name: str, fetched: int | None, failed: int = 0) -> None:
    folder = crawl_dir / name
    folder.mkdir(parents=True)
    if fetched is not None:  # a tick whose fetch never finished has no fetch folder
        (folder / "fetch").mkdir()
        (folder / "fetch" / "stats.json").write_text(json.dumps({"fetched": fetched, "failed": failed}))


def test_the_previous_page_count_is_the_newest_earlier_tick_whose_fetch_finished(tmp_path: Path) -> None:
    crawl = tmp_path / "shop"
    assert previous_pages(crawl, "20261121T0730Z") is None  # a fresh crawl: not even its folder
    tick(crawl, "20261121T0700Z", 500, 3)
    tick(crawl, "20261121T0710Z", 800, 2)
    tick(crawl, "20261121T0720Z", None)  # failed in its fetch
    tick(crawl, "20261121T0730Z", 9_999)  # this tick (a rerun) and later ones do not count
    tick(crawl, "20261121T0740Z", 7_777)
    assert previous_pages(crawl, "20261121T0730Z") == 802
    assert previous_pages(crawl, "20261121T0710Z") == 503
    assert previous_pages(crawl, "20261121T0700Z") is None
    (crawl / "20261121T0710Z" / "fetch" / "stats.json").write_text("not json")
    assert previous_pages(crawl, "20261121T0730Z") == 503
