"""The items browser on PostgreSQL, MariaDB and SQLite items DBs: the same filters, search, pages and exports
give the same answers, and every page renders without a banner."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from items_seed import T1, T2, ItemsSeed, rec, three_ticks, tick
from webmon_support import Manage

CHECK = """
import json
from django.core.management import call_command
from django.test import Client, override_settings
from django.test.utils import setup_test_environment
from django.contrib.auth.models import User

call_command("migrate", verbosity=0)
setup_test_environment()
client = Client()
client.force_login(User.objects.create_user("u", password="p-not-real-1"))
queries = json.loads(%(queries)r)
out = {"lists": {}, "pages": {}}
for query in queries:
    r = client.get("/crawl/items/?name=shop&" + query)
    out["lists"][query] = [i.key_head for i in r.context["page"].items]
    out["pages"][query] = [r.status_code, b'id="banner-items"' in r.content]
for path in ["/crawl/tick/?name=shop&at=2026-01-01T08:00", "/crawl/tick/?name=shop&at=2026-01-01T07:30",
             "/crawl/items/1/"]:
    r = client.get(path)
    out["pages"][path] = [r.status_code, b'id="banner-items"' in r.content]
# Keyset pages walk every item of a crawl once, newest change first and by key.
with override_settings(WEBMON_PAGE_SIZE=4):
    for sort in ("changed", "key"):
        seen, query = [], "name=many&sort=" + sort
        while query:
            r = client.get("/crawl/items/?" + query)
            seen += [i.key_head for i in r.context["page"].items]
            query = r.context["next_query"]
        out["walk_" + sort] = seen
r = client.get("/crawl/items/export.jsonl?name=shop&show=seen")
out["export"] = [json.loads(line)["key"] for line in b"".join(r.streaming_content).decode().splitlines()]
r = client.get("/crawl/items/export.csv?name=many&q=Needle")
out["export_search"] = len(b"".join(r.streaming_content).decode().splitlines()) - 1
# A tick stored while an export streams: on PostgreSQL and MariaDB the export is one snapshot.
import sqlalchemy as sa
from datetime import datetime, UTC
from pipelines import store
from webmon.items import queries
queries.EXPORT_CHUNK = 5
r = client.get("/crawl/items/export.jsonl?name=many")
chunks = iter(r.streaming_content)
first = next(chunks)
writer = sa.create_engine(%(url)r, future=True)
store.store_items(writer, "many", datetime(2026, 1, 1, 9, 0, tzinfo=UTC), [{"key": "m000", "url": "u", "fields": {"t": "late"}}])
writer.dispose()
rest = b"".join(chunks)
lines = [json.loads(line) for line in (first + rest).decode().splitlines()]
out["during"] = [len(lines), len({o["key"] for o in lines}), [o["fields"] for o in lines if o["key"] == "m000"]]
print(json.dumps(out))
"""

EXPECTED = {
    "show=new": ["f"], "show=changed": ["e"], "show=unchanged": ["b", "d", "a"], "show=gone": ["c"],
    "show=gone_in": ["c"], "show=seen": ["f", "e", "b", "d", "a"],
    f"show=changed&tick={tick(T2)}": ["b"], f"show=seen&tick={tick(T2)}": ["e", "b", "d", "c", "a"],
    "sort=key": ["a", "b", "c", "d", "e", "f"], "q=P%22%3A2": ["b"],  # q = p":2, in the fields' JSON, any case
}


def check(manage: Manage, tmp_path: Path, url: str) -> dict:
    seed = ItemsSeed(url)
    three_ticks(seed)
    for n in range(3):
        seed.tick("many", T1 + timedelta(minutes=n), [rec(f"m{n}{i:02d}", t="needle" if i % 3 == 0 else "x")
                                                      for i in range(10)])
    seed.engine.dispose()
    cfg = tmp_path / "luigi.cfg"
    cfg.write_text(f"[task_history]\ndb_connection = sqlite:///{tmp_path / 'history.db'}\n"
                   f"[store]\ndb_connection = {url}\n")
    result = manage("shell", "-c", CHECK % {"queries": json.dumps(list(EXPECTED)), "url": url},
                    env={"LUIGI_CONFIG_PATH": str(cfg)})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_same_answers(out: dict, snapshot: bool) -> None:
    for path, (status, banner) in out["pages"].items():
        assert (status, banner) == (200, False), path
    assert out["lists"] == EXPECTED
    many = [f"m{n}{i:02d}" for n in range(3) for i in range(10)]
    assert out["walk_key"] == many
    assert out["walk_changed"] == [k for n in (2, 1, 0) for k in reversed(many[n * 10:(n + 1) * 10])]
    assert out["export"] == ["f", "e", "b", "d", "a"]
    assert out["export_search"] == 12
    count, distinct, m000 = out["during"]
    if snapshot:  # the file is the DB as it was when the export began
        assert (count, distinct, m000) == (30, 30, [{"t": "needle"}])
    else:  # SQLite: no snapshot; the item changed meanwhile moved ahead of the cursor, none is there twice
        assert (count, distinct, m000) == (29, 29, [])


@pytest.mark.postgres
def test_the_items_browser_on_postgresql(manage: Manage, tmp_path: Path, postgres_url: str) -> None:
    assert_same_answers(check(manage, tmp_path, postgres_url), snapshot=True)


@pytest.mark.mariadb
def test_the_items_browser_on_mariadb(manage: Manage, tmp_path: Path, mariadb_url: str) -> None:
    assert_same_answers(check(manage, tmp_path, mariadb_url), snapshot=True)


def test_the_items_browser_on_sqlite(manage: Manage, tmp_path: Path) -> None:
    assert_same_answers(check(manage, tmp_path, f"sqlite:///{tmp_path / 'items.db'}"), snapshot=False)

