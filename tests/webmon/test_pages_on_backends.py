"""The monitor's queries on PostgreSQL and MariaDB history DBs: every page renders with no banner,
and the hand-written SQL (index skip-scan, UNION ALL of slices, days, seconds) gives the same answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from history_seed import HistorySeed, run_row
from webmon_support import Manage, write_luigi_cfg

NOW = datetime.now(UTC).replace(microsecond=0)

CHECK = """
import json
from datetime import UTC, datetime, timedelta
from django.core.management import call_command
from django.test import Client, override_settings
from django.test.utils import setup_test_environment
from django.contrib.auth.models import User
from webmon.history.models import CrawlRun
from webmon.history.queries import RunFilter, percentile

call_command("migrate", verbosity=0)
setup_test_environment()
client = Client()
client.force_login(User.objects.create_user("u", password="p-not-real-1"))
now = datetime.fromisoformat(%(now)r)
out = {"pages": {}}
with override_settings(LUIGID_URL="http://127.0.0.1:9", WEBMON_PAGE_SIZE=4, WEBMON_SCAN_WINDOW=100):
    for path in ["/", "/runs/", "/runs/?status=failed", "/runs/?q=shop", "/runs/?crawl=shop&family=ParsePages",
                 "/runs/2/", "/crawl/?name=shop", "/runs/?group=tick", "/families/", "/runs/2/log.json?after=1",
                 "/tasks/", "/tasks/?status=FAILED&param=crawl&value=shop", "/tasks/?family=FetchPages&host=w"]:
        r = client.get(path)
        out["pages"][path] = [r.status_code, b'id="banner-history"' in r.content]
    # Keyset pagination walks every run exactly once.
    seen, query = [], ""
    while True:
        r = client.get("/runs/?" + query)
        seen += [run.id for run in r.context["page"].runs]
        older = r.context["page"].older
        if older is None:
            break
        query = "before=" + older.encode()
    out["walk"] = seen
runs = CrawlRun.objects
out["crawls"] = runs.crawl_names(10)
out["families"] = runs.family_names(10)
midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
bounds = [(midnight - timedelta(days=2), midnight - timedelta(days=1)), (midnight - timedelta(days=1), midnight),
          (midnight, midnight + timedelta(days=1))]
out["days"] = runs.tick_counts_in_ranges("shop", bounds)
out["trend"] = [[len(t.runs), t.status] for t in runs.newest_ticks("shop", 100)]
out["by_crawl"] = runs.tick_counts_by_crawl(["shop", "books"], now - timedelta(days=7), now)
out["seconds"] = sorted(round(s, 3) for f, st, ts, s in runs.family_windows(["FetchPages"], now - timedelta(days=30), 100) if s is not None)
out["aware"] = all(ts.tzinfo is not None for f, st, ts, s in runs.family_windows(["FetchPages"], now - timedelta(days=30), 100))
out["newest"] = sorted(r.id for r in runs.newest_of_each_crawl(["shop", "books"], 2))
# The families page's figures (summed up by PostgreSQL itself, elsewhere from the rows) match the rows.
fams, since = ["FetchPages", "ParsePages", "Nobody"], now - timedelta(days=30)
r3 = lambda v: None if v is None else round(v, 3)
out["family_stats"] = [[w.family, w.statuses, r3(w.p50), r3(w.p95), str(w.newest), str(w.oldest)]
                       for w in runs.family_window_stats(fams, since, 100)]
out["family_rows"] = []
for fam in fams:
    mine = [r for r in runs.family_windows([fam], since, 100)]
    secs = [s for f, st, ts, s in mine if st in ("done", "failed", "killed") and s is not None]
    counts = {}
    for f, st, ts, s in mine:
        counts[st] = counts.get(st, 0) + 1
    starts = [ts for f, st, ts, s in mine]
    out["family_rows"].append([fam, counts, r3(percentile(secs, 50)), r3(percentile(secs, 95)),
                               str(max(starts, default=None)), str(min(starts, default=None))])
out["tick_ids"] = sorted(r.id for r in runs.tick_attempts(runs.get(pk=2), 10))
print(json.dumps(out))
"""


def check(manage: Manage, tmp_path, url: str) -> dict:
    seed = HistorySeed(url)
    base = NOW - timedelta(days=1)
    ids = seed.tick("shop", base, statuses={"ParsePages": "failed"})  # ids 1..2: fetch done, parse failed
    seed.logs(ids["ParsePages"], [("INFO", "a"), ("ERROR", "b <c>")])
    seed.tick("shop", base + timedelta(hours=1), seconds=30.5)  # ids 3..6
    seed.tick("books", base + timedelta(hours=2))  # ids 7..10
    seed.runs_bulk([run_row(started_at=base + timedelta(hours=3))] * 3)  # ids 11..13: the same start
    # ids 14..33: enough FetchPages durations for p50 and p95 to be different runs
    seed.runs_bulk([run_row(started_at=base + timedelta(hours=4, minutes=i), seconds=100.0 + i) for i in range(20)])
    seed.engine.dispose()
    cfg = write_luigi_cfg(tmp_path, url)
    result = manage("shell", "-c", CHECK % {"now": NOW.isoformat()}, env={"LUIGI_CONFIG_PATH": str(cfg)})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_same_answers(out: dict) -> None:
    for path, (status, banner) in out["pages"].items():
        assert (status, banner) == (200, False), path
    assert out["walk"] == list(range(33, 0, -1))
    assert out["crawls"] == ["books", "demo", "shop"]
    assert out["families"] == ["FetchPages", "ParsePages", "RunCrawl", "StoreItems"]
    # shop: a tick failed in ParsePages, then one done (a day before NOW, on one or two UTC days)
    totals: dict[str, int] = {}
    for day in out["days"]:
        for status, n in day.items():
            totals[status] = totals.get(status, 0) + n
    assert totals == {"done": 1, "failed": 1}
    assert out["trend"] == [[4, "done"], [2, "failed"]]
    assert out["by_crawl"] == {"shop": {"done": 1, "failed": 1}, "books": {"done": 1}}
    # MariaDB's DATETIME (no fractional precision declared by the schema) keeps whole seconds.
    assert 20.0 in out["seconds"] and (30.5 in out["seconds"] or 30.0 in out["seconds"])
    assert out["aware"] is True
    assert out["newest"] == [5, 6, 9, 10]
    assert out["family_stats"] == out["family_rows"]
    # FetchPages: 20, 30.5, 20, 10 x 3 and 100..119 seconds: nearest rank 13 of 26 and 25 of 26
    assert out["family_stats"][0][1:4] == [{"done": 26}, 106.0, 118.0]
    assert out["family_stats"][1][1] == {"failed": 1, "done": 2}  # ParsePages: the first tick failed there
    assert out["family_stats"][2] == ["Nobody", {}, None, None, "None", "None"]
    assert out["tick_ids"] == [1, 2]


@pytest.mark.postgres
def test_every_page_and_query_works_on_postgresql(manage: Manage, tmp_path, postgres_url: str) -> None:
    assert_same_answers(check(manage, tmp_path, postgres_url))


@pytest.mark.mariadb
def test_every_page_and_query_works_on_mariadb(manage: Manage, tmp_path, mariadb_url: str) -> None:
    assert_same_answers(check(manage, tmp_path, mariadb_url))


def test_every_page_and_query_works_on_sqlite(manage: Manage, tmp_path) -> None:
    assert_same_answers(check(manage, tmp_path, f"sqlite:///{tmp_path / 'history.db'}"))
