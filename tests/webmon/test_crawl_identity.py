"""webmon shows one crawl for a spec run by path and by name (real luigid, real runs)."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager

from django.test import Client, override_settings

from tests.conftest import ROOT, DemoSite, Luigid

CLOSED_PORT_URL = "http://127.0.0.1:9"  # the overview's "running now" is not what this is about


def test_a_spec_run_by_path_and_by_name_is_one_crawl_in_webmon(
    client: Client, luigid: Luigid, demo_site: DemoSite, history_at: Callable[[str], AbstractContextManager[None]]
) -> None:
    spec = luigid.write_spec("shop", demo_site.url, max_pages=20)
    for crawl, tick in ((os.path.relpath(spec, ROOT), "2026-11-21T0730"), ("shop", "2026-11-21T0830")):
        result = luigid.run("RunCrawl", "--crawl", crawl, "--at", tick)
        assert result.returncode == 0, result.stderr[-4000:]

    with history_at(str(luigid.home / "history.db")), override_settings(LUIGID_URL=CLOSED_PORT_URL):
        overview = client.get("/")
        runs = client.get("/runs/")
        detail = client.get("/crawl/", {"name": "shop"})
    assert [row.name for row in overview.context["crawls"]] == ["shop"]
    assert runs.context["crawls"] == ["shop"]
    assert detail.context["ticks"] == 2
