"""The items browser's exports and pages on a big items DB: time and peak memory of a 1,000,000-item export.

Usage (from the repository root)::

    .venv/bin/python bench/items_export.py [--items 1000000] [--small 100000] [--url sqlite:////tmp/items-bench.db]
        [--requests 10] [--store 100000 [--store-url postgresql+psycopg2://.../scratch]] [--skip-exports] [--only-store]

Method
------
* An items DB (SQLite by default; any SQLAlchemy URL with --url) with the
  schema and indexes StoreItems creates (pipelines/store.py), filled directly
  (executemany, 20,000 rows per batch) with `--items` items of crawl `big`
  and `--small` of crawl `small`, two ticks each: every item first seen in
  T1 (1 % in T2: new), 10 % changed in T2, 10 % gone in T2 (last seen T1),
  the rest unchanged; 1 % have "needle" in their title. An item's fields are
  the demo spec's seven (title, price, availability, stock, tags, upc,
  description), about 330 bytes of JSON. Seeding is skipped when the DB
  holds the items already.
* Each export is a fresh Python process running webmon (DEBUG off, Django's
  test client, streaming response read chunk by chunk and thrown away after
  counting its bytes and lines): wall time from the request to the last
  byte, and the process's peak RSS (ru_maxrss) next to its RSS before the
  request (Django and webmon loaded). Exports: all items as CSV and as JSON
  lines (keyset chunks), the latest tick as CSV (the seen index), the gone
  items as CSV and a search as CSV (windows over the crawl), and all items of
  the small crawl as CSV: its peak next to the big one's says whether memory
  grows with the export.
* Pages (another fresh process, the same client): each page `--requests`
  times after one warm-up, median and p95 in ms.
* `--store N` (SQLite scratch files, or the scratch DB `--store-url` names):
  StoreItems' own store_items for a tick
  of N new items, then a tick of the same N unchanged, with the browser's
  three indexes and without them: what the indexes cost the writer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]
T1, T2 = datetime(2026, 1, 1, 0, 0), datetime(2026, 1, 1, 1, 0)
WORK = Path("/tmp/items-bench")
WORDS = ("quiet", "distant", "engineer", "notebook", "river", "garden", "cooking", "history", "mystery", "art",
         "philosophy", "travel", "poetry", "science", "horror", "biography", "winter", "lantern", "harbour", "crème")


def fields_of(i: int, rnd: random.Random, version: int) -> dict:
    title = " ".join(rnd.choice(WORDS).title() for _ in range(4)) + f" Vol. {i}"
    if i % 100 == 7:
        title += " needle"
    return {
        "title": title, "price": round(5 + (i * 7919 % 9000) / 100 + version, 2),
        "availability": "In stock" if i % 13 else "Out of stock", "stock": i % 40,
        "tags": [rnd.choice(WORDS) for _ in range(1 + i % 4)], "upc": f"{i:016x}",
        "description": " ".join(rnd.choice(WORDS) for _ in range(22)) + ".",
    }


def seed(url: str, crawl: str, n: int) -> None:
    import sqlalchemy as sa

    from pipelines import store

    engine = sa.create_engine(url, future=True)
    store.create_tables(engine)
    with engine.connect() as conn:
        have = conn.execute(sa.select(sa.func.count()).select_from(store.items)
                            .where(store.items.c.crawl == crawl)).scalar_one()
    if have >= n:
        engine.dispose()
        return
    rnd = random.Random(crawl)
    counts = {"new": 0, "changed": 0, "unchanged": 0, "t1": 0}
    started = time.perf_counter()
    for start in range(0, n, 20_000):
        rows = []
        for i in range(start, min(start + 20_000, n)):
            kind = i % 10
            version = 1 if kind == 0 else 0
            data = store.canonical(fields_of(i, rnd, version))
            key = f"{i:016x}"
            new = i % 100 == 55
            first = T2 if new else T1
            last_seen = T1 if kind == 1 and not new else T2
            last_changed = T2 if (kind == 0 or new) else T1
            counts["t1"] += first == T1
            if last_seen == T2:
                counts["new" if new else "changed" if last_changed == T2 else "unchanged"] += 1
            rows.append({"crawl": crawl, "key_hash": store.sha1(key), "item_key": key,
                         "url": f"http://shop.example/catalogue/product-{i}.html", "data": data,
                         "content_hash": store.sha1(data), "first_seen": first, "last_seen": last_seen,
                         "last_changed": last_changed})
        with engine.begin() as conn:
            conn.execute(store.items.insert(), rows)
    with engine.begin() as conn:
        conn.execute(store.markers.insert(), [
            {"crawl": crawl, "at": T1, "stored_at": T1, "items": counts["t1"], "new": counts["t1"], "changed": 0,
             "unchanged": 0},
            {"crawl": crawl, "at": T2, "stored_at": T2, "new": counts["new"], "changed": counts["changed"],
             "unchanged": counts["unchanged"], "items": counts["new"] + counts["changed"] + counts["unchanged"]},
        ])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE crawl_items")
    print(f"seeded {n:,} items of {crawl} in {time.perf_counter() - started:.0f} s", flush=True)
    engine.dispose()


# -- in the child processes --------------------------------------------------------------

def _child_setup(url: str) -> object:
    WORK.mkdir(exist_ok=True)
    (WORK / "luigi.cfg").write_text(f"[task_history]\ndb_connection = sqlite:///{WORK / 'history.db'}\n"
                                    f"[store]\ndb_connection = {url}\n[crawl]\nspec_dirs = {WORK / 'crawls'}\n")
    os.environ.update(DJANGO_SETTINGS_MODULE="webmon.settings", DATABASE_URL="sqlite://", DEBUG="false",
                      SECRET_KEY="bench-only-not-a-secret", LUIGI_CONFIG_PATH=str(WORK / "luigi.cfg"),
                      ALLOWED_HOSTS="testserver", SECURE_SSL_REDIRECT="false", WEBMON_CACHE="locmem",
                      WEBMON_LOG_LEVEL="WARNING")
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    client = Client()
    client.force_login(User.objects.create_user("bench", password="bench-not-a-secret-1"))
    return client


def child_export(url: str, path: str) -> None:
    client = _child_setup(url)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "bytes": size, "lines": lines, "rss_before_kb": before, "peak_kb": peak}))


def child_pages(url: str, paths: list[str], requests: int) -> None:
    client = _child_setup(url)
    out = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200 and b'id="banner-items"' not in response.content, path
        times = []
        for _ in range(requests):
            t = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out[path] = [statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]]
    print(json.dumps(out))


def run_child(*args: str) -> dict:
    result = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"child {args[:2]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- StoreItems with and without the browser's indexes ---------------------------------------

def store_cost(n: int, url: str = "") -> None:
    import sqlalchemy as sa

    from pipelines import store

    rnd = random.Random(1)
    records = [{"key": f"{i:016x}", "url": f"http://shop.example/p{i}", "fields": fields_of(i, rnd, 0)}
               for i in range(n)]
    where = "SQLite" if not url else url.split("://")[0]
    print(f"\nStoreItems (store_items), {n:,} items, {where}, best of 3 (interleaved):")
    print(f"{'indexes':<28} {'tick 1 (all new) s':>20} {'tick 2 (unchanged) s':>22}")
    best: dict[str, list[float]] = {}
    for _ in range(3):
        for variant in ("with the browser's 3", "without"):
            db = WORK / f"store-{hashlib.sha1(variant.encode()).hexdigest()[:6]}.db"
            db.unlink(missing_ok=True)
            engine = sa.create_engine(url or f"sqlite:///{db}", future=True)
            store.metadata.drop_all(engine)  # a scratch DB: --store-url must name one
            store.create_tables(engine)
            if variant == "without":
                with engine.begin() as conn:
                    for index in store.items.indexes:
                        conn.exec_driver_sql(f"DROP INDEX {index.name}")
            times = []
            for at in (T1, T2):
                t = time.perf_counter()
                store.store_items(engine, "s", at, records)
                times.append(time.perf_counter() - t)
            store.metadata.drop_all(engine)
            engine.dispose()
            db.unlink(missing_ok=True)
            best[variant] = [min(a, b) for a, b in zip(best.get(variant, times), times, strict=True)]
    for variant, (first, second) in best.items():
        print(f"{variant:<28} {first:>20.2f} {second:>22.2f}")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-export":
        child_export(sys.argv[2], sys.argv[3])
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--child-pages":
        child_pages(sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--url", default="sqlite:////tmp/items-bench.db")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--store", type=int, default=0, help="also time store_items for N items (SQLite)")
    parser.add_argument("--store-url", default="", help="time store_items there instead (a scratch DB: its items "
                                                         "tables are dropped)")
    parser.add_argument("--skip-exports", action="store_true")
    parser.add_argument("--only-store", action="store_true", help="only the store_items comparison")
    args = parser.parse_args()
    if args.only_store:
        WORK.mkdir(exist_ok=True)
        store_cost(args.store or 100_000, args.store_url)
        return 0
    WORK.mkdir(exist_ok=True)
    (WORK / "crawls").mkdir(exist_ok=True)
    demo = (ROOT / "pipelines/crawls/demo.toml").read_text()
    for crawl in ("big", "small"):  # the demo spec's fields are the CSV's columns
        (WORK / "crawls" / f"{crawl}.toml").write_text(demo.replace('name = "demo"', f'name = "{crawl}"'))
    seed(args.url, "big", args.items)
    seed(args.url, "small", args.small)
    tick = "2026-01-01T01:00"
    if not args.skip_exports:
        exports = [
            ("all items, CSV", "big", "/crawl/items/export.csv?name=big"),
            ("all items, JSON lines", "big", "/crawl/items/export.jsonl?name=big"),
            ("latest tick, CSV", "big", f"/crawl/tick/export.csv?name=big&at={tick}"),
            ("gone, CSV (windows)", "big", "/crawl/items/export.csv?name=big&show=gone"),
            ("search 'needle', CSV", "big", "/crawl/items/export.csv?name=big&q=needle"),
            ("all items, CSV", "small", "/crawl/items/export.csv?name=small"),
        ]
        print(f"\n{'export':<24} {'crawl':>6} {'rows':>10} {'MB':>8} {'s':>7} {'rows/s':>9} {'RSS before MB':>14}"
              f" {'peak RSS MB':>12}")
        for name, crawl, path in exports:
            r = run_child("--child-export", args.url, path)
            rows = r["lines"] - (1 if ".csv" in path else 0)
            print(f"{name:<24} {crawl:>6} {rows:>10,} {r['bytes'] / 2**20:>8.1f} {r['seconds']:>7.1f}"
                  f" {rows / r['seconds']:>9,.0f} {r['rss_before_kb'] / 1024:>14.1f} {r['peak_kb'] / 1024:>12.1f}",
                  flush=True)
    pages = ["/crawl/items/?name=big", "/crawl/items/?name=big&show=changed", "/crawl/items/?name=big&show=unchanged",
             "/crawl/items/?name=big&show=gone", "/crawl/items/?name=big&show=gone_in",
             "/crawl/items/?name=big&after=20260101T000000.000000Z-500000",  # deep in the T1 group
             "/crawl/items/?name=big&show=seen&tick=2026-01-01T00:00", "/crawl/items/?name=big&q=needle",
             "/crawl/items/?name=big&sort=key", f"/crawl/tick/?name=big&at={tick}", "/crawl/items/1/"]
    r = run_child("--child-pages", args.url, json.dumps(pages), str(args.requests))
    print(f"\n{'page (' + str(args.items) + ' items)':<58} {'p50 ms':>8} {'p95 ms':>8}")
    for path, (p50, p95) in r.items():
        print(f"{path:<58} {p50:>8.1f} {p95:>8.1f}")
    if args.store:
        store_cost(args.store, args.store_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
