"""ShopReport: the bundled demo's workflow, two shops crawled, exported and compared per tick.

    python -m luigi --module pipelines.workflows.demo ShopReport --at 2026-11-21T0730

`./scheduler.sh up` serves both shops from the demo site: the catalogue at
`/` (crawl `demo`) and the outlet at `/outlet/` (crawl `demo-b`, the same
books at other prices). One tick of ShopReport runs, through requires():

    RunCrawl(demo) ----> ExportItems(demo, csv) ----------+
          \\                                               +--> ShopReport
           +--> PriceComparison(demo, demo-b, key=upc) ---+
          /                                               |
    RunCrawl(demo-b) -> ExportItems(demo-b, csv) ---------+

and writes `<data_dir>/exports/<left>+<right>/<tick>/shop-report.json`: the
item counts and export files of both crawls, the comparison's counts and
the five biggest price differences. Schedule it as the task
`pipelines.workflows.demo.ShopReport` with `{}` (or `{"left": ..., "right": ...}`)
as task parameters; the daemon passes `--at`.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import luigi

from pipelines.runs.reclaim import ReclaimFirst
from pipelines.tasks import MinuteParameter, _setup_logging
from pipelines.workflows.compare import PriceComparison
from pipelines.workflows.export import ExportItems
from pipelines.workflows.files import AtomicFile, exports_dir, pair_name, tick_name
from pipelines.workflows.tables import unescape_text

log = logging.getLogger("pipelines.workflows.demo")

BIGGEST = 5


def biggest_differences(matched_csv: Path, count: int = BIGGEST) -> list[dict[str, Any]]:
    """The `count` pairs of matched.csv with the largest price difference in percent, largest first."""
    with open(matched_csv, encoding="utf-8", newline="") as fh:
        rows = [row for row in csv.DictReader(fh) if row["difference_pct"]]
    rows.sort(key=lambda row: (-abs(float(row["difference_pct"])), row["key"]))
    return [{"key": unescape_text(row["key"]), "title": unescape_text(row.get("left_title", "")),
             "left_price": json.loads(row["left_price"]), "right_price": json.loads(row["right_price"]),
             "difference": json.loads(row["difference"]), "difference_pct": json.loads(row["difference_pct"])}
            for row in rows[:count]]


class ShopReport(ReclaimFirst, luigi.Task):
    """One tick of two shops: both crawled, both exported as CSV, compared on UPC, summed up in a report."""

    at = MinuteParameter(description="The tick, UTC, to the minute.")
    left = luigi.Parameter(default="demo", description="The first shop's crawl.")
    right = luigi.Parameter(default="demo-b", description="The second shop's crawl.")

    def requires(self) -> dict[str, luigi.Task]:
        return {
            "left": ExportItems(crawl=self.left, at=self.at, format="csv"),
            "right": ExportItems(crawl=self.right, at=self.at, format="csv"),
            "comparison": PriceComparison(left=self.left, right=self.right, at=self.at, key="upc"),
        }

    def output(self) -> AtomicFile:
        needs = self.requires()
        pair = pair_name(needs["left"].crawl, needs["right"].crawl)
        return AtomicFile(str(exports_dir() / pair / tick_name(self.at) / "shop-report.json"))

    def run(self) -> None:
        _setup_logging()
        inputs = self.input()
        folder = Path(inputs["comparison"].path)
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        report = {
            "at": self.at.isoformat() + "Z",
            "left": {"crawl": summary["left"], "items": summary["items"]["left"], "export": inputs["left"].path},
            "right": {"crawl": summary["right"], "items": summary["items"]["right"], "export": inputs["right"].path},
            "comparison": {"folder": str(folder), **{k: summary[k] for k in (
                "matched", "only_left", "only_right", "cheaper_left", "cheaper_right", "same_price", "unpriced")}},
            "biggest_differences": biggest_differences(folder / "matched.csv"),
        }
        target = self.output()
        with target.temporary_path() as tmp:
            tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        counts = report["comparison"]
        self.set_status_message(f"{counts['matched']:,} books in both shops, {counts['cheaper_right']:,} cheaper "
                                f"in {summary['right']}, {counts['cheaper_left']:,} cheaper in {summary['left']}")
        self.run_stats = {"path": target.path, "left_items": report["left"]["items"],
                          "right_items": report["right"]["items"], **counts}
        log.info("shop report %s", json.dumps(self.run_stats, sort_keys=True))
