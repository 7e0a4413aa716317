"""Helpers of the workflow tests: run a workflow module with the luigi CLI, read run records and exports."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipelines.workflows.tables import unescape_text
from tests.conftest import PYTHON, ROOT, DemoSite, Luigid

TICK = "2026-11-21T0730"
TICK_DIR = "20261121T0730Z"
# The tasks of one ShopReport tick, by family: two crawl chains, two exports, the comparison, the report.
DAG = {"FetchPages": 2, "ParsePages": 2, "StoreItems": 2, "RunCrawl": 2, "ExportItems": 2,
       "PriceComparison": 1, "ShopReport": 1}


def install_demo_specs(luigid: Luigid) -> None:
    """The shipped specs of both demo shops, unchanged: they read DEMO_SITE_PORT."""
    for name in ("demo.toml", "demo-b.toml"):
        shutil.copy(ROOT / "pipelines" / "crawls" / name, luigid.spec_dir / name)


def run_luigi(luigid: Luigid, site: DemoSite, module: str, *args: str, path: Path | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m luigi --module MODULE ARGS` against the test luigid, the demo site on its port.

    `path`: a folder put on PYTHONPATH first (a workflow module of the user's own).
    """
    env = luigid.env(DEMO_SITE_PORT=str(site.port))
    if path is not None:
        env["PYTHONPATH"] = f"{path}:{env['PYTHONPATH']}"
    return subprocess.run([PYTHON, "-m", "luigi", "--module", module, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def runs(luigid: Luigid, **where: str) -> list[dict[str, Any]]:
    """crawl_runs rows (oldest first), optionally filtered by column values."""
    engine = sa.create_engine(luigid.history_url)
    clause = " AND ".join(f"{column} = :{column}" for column in where) or "1 = 1"
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.text(
            f"SELECT id, task_id, family, crawl, params, status, started_at, finished_at, stats, error_message "
            f"FROM crawl_runs WHERE {clause} ORDER BY id"), where).mappings()]
    engine.dispose()
    for row in rows:
        row["params"] = json.loads(row["params"])
        row["stats"] = json.loads(row["stats"]) if row["stats"] else None
    return rows


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of an export, read the way a CSV library reads it."""
    text = path.read_bytes().decode("utf-8")  # strict: an export is UTF-8
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


def value_of(cell: str, like: Any) -> Any:
    """The value a CSV cell stands for, given the type it should have (text, number, list...)."""
    if like is None:
        assert cell == ""
        return None
    if isinstance(like, str):
        return unescape_text(cell)
    return json.loads(cell)
