"""Items parsed at fetch time by the page process: used by ParsePages only while the spec's parse part holds.

The luigi CLI against a real luigid and the demo site, as test_crawl_chain does.
"""

from __future__ import annotations

import json
import shutil

from tests.conftest import DemoSite, Luigid
from tests.pipelines.test_crawl_chain import TICK, TICK_DIR, assert_every_product_stored, history_events


def test_the_page_process_parses_and_its_items_equal_a_reparse_of_the_warc(luigid: Luigid,
                                                                           demo_site: DemoSite) -> None:
    crawl = "fetchparse"
    luigid.write_spec(crawl, demo_site.url)
    done = luigid.run("RunCrawl", "--crawl", crawl, "--at", TICK)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_every_product_stored(luigid.items_url, crawl, demo_site.products)
    tick = luigid.data_dir / crawl / TICK_DIR
    assert json.loads((tick / "fetch" / "parse.json").read_text())["stats"]["items"] == demo_site.products
    at_fetch = json.loads((tick / "parse" / "stats.json").read_text())
    assert at_fetch["parsed_at_fetch"] is True

    # ParsePages again, on the same WARC, with nothing from the fetch: the same lines and stats.
    shutil.move(tick / "parse", tick / "parse.at-fetch")
    (tick / "fetch" / "parse.json").unlink()
    # luigid remembers ParsePages as done: this one run is scheduled locally.
    again = luigid.run("ParsePages", "--crawl", crawl, "--at", TICK, "--local-scheduler")
    assert again.returncode == 0, again.stderr[-3000:]
    reparsed = json.loads((tick / "parse" / "stats.json").read_text())
    assert reparsed["parsed_at_fetch"] is False
    for name in ("items.jsonl", "errors.jsonl"):
        assert (tick / "parse" / name).read_text() == (tick / "parse.at-fetch" / name).read_text(), name
    drop = {"elapsed_s", "parsed_at_fetch"}
    assert {k: v for k, v in reparsed.items() if k not in drop} == {k: v for k, v in at_fetch.items() if k not in drop}


def test_a_spec_fixed_after_a_parse_failure_parses_the_warc_again(luigid: Luigid, demo_site: DemoSite) -> None:
    crawl = "fixparse"
    spec = luigid.write_spec(crawl, demo_site.url)
    spec.write_text(spec.read_text() + '\n[fields.isbn]\ncss = "td.isbn::text"\nrequired = true\n')
    failed = luigid.run("RunCrawl", "--crawl", crawl, "--at", TICK)
    assert failed.returncode == 30, failed.stderr[-3000:]
    assert "required field 'isbn' not found" in failed.stderr  # the fetch-side lines failed the ratio
    tick = luigid.data_dir / crawl / TICK_DIR
    assert (tick / "fetch" / "parse.json").exists() and not (tick / "parse").exists()

    luigid.write_spec(crawl, demo_site.url)
    fixed = luigid.run("RunCrawl", "--crawl", crawl, "--at", TICK)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert json.loads((tick / "parse" / "stats.json").read_text())["parsed_at_fetch"] is False
    assert_every_product_stored(luigid.items_url, crawl, demo_site.products)
    assert history_events(luigid.history_url, crawl)["FetchPages"].count("RUNNING") == 1


def test_parse_workers_0_leaves_the_parse_to_parse_pages(luigid: Luigid, demo_site: DemoSite) -> None:
    crawl = "noworkers"
    luigid.write_spec(crawl, demo_site.url, parse_workers=0)
    done = luigid.run("RunCrawl", "--crawl", crawl, "--at", TICK)
    assert done.returncode == 0, done.stderr[-3000:]
    tick = luigid.data_dir / crawl / TICK_DIR
    assert not (tick / "fetch" / "parse.json").exists() and not (tick / "fetch" / "items.jsonl").exists()
    assert json.loads((tick / "parse" / "stats.json").read_text())["parsed_at_fetch"] is False
    assert_every_product_stored(luigid.items_url, crawl, demo_site.products)
