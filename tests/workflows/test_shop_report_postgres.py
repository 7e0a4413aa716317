"""The demo workflow with the items DB and the history DB on PostgreSQL: the same DAG, the same records."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import make_luigid, start_demo_site, stop
from tests.workflows.support import DAG, TICK, TICK_DIR, install_demo_specs, run_luigi, runs


@pytest.mark.postgres
def test_shop_report_runs_its_dag_with_run_records_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    shops = start_demo_site(30)
    luigid = make_luigid(tmp_path, history_url=postgres_url, items_url=postgres_url)
    luigid.start()
    try:
        install_demo_specs(luigid)
        result = run_luigi(luigid, shops, "pipelines.workflows.demo", "ShopReport", "--at", TICK)
        assert result.returncode == 0, result.stderr[-4000:]
        records = runs(luigid)
        assert Counter(r["family"] for r in records) == DAG
        assert {r["status"] for r in records} == {"done"}
        report = json.loads((luigid.data_dir / "exports" / "demo+demo-b" / TICK_DIR / "shop-report.json").read_text())
        assert (report["left"]["items"], report["right"]["items"], report["comparison"]["matched"]) == (30, 29, 26)
    finally:
        luigid.stop()
        stop(shops.proc)
