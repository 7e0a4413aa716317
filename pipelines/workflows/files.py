"""Where workflow outputs live, and atomic single-file targets.

Outputs go under `<[crawl] data_dir>/exports/`:

    exports/<crawl>/<tick>/items.csv              ExportItems (one crawl)
    exports/<left>+<right>/<tick>/...             tasks of two crawls

A crawl name has no `+` (letters, digits, `_ . -`), so a two-crawl folder
never is a crawl's. `<tick>` is the tick's folder name, as under data_dir.

`AtomicFile` is the file sibling of `pipelines.targets.AtomicDirectory`: the
file is written as `<name>.tmp-<host>-<pid>`, fsynced and renamed into place, so it
is there whole or not at all, and a worker killed half-way leaves a temporary
file the next attempt removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import luigi

from pipelines import config
from pipelines.targets import attempt_name, stale_attempts


def tick_name(at: datetime) -> str:
    """The tick's folder name, the same as the crawl chain's (`20261121T0730Z`)."""
    return at.strftime("%Y%m%dT%H%MZ")


def exports_dir() -> Path:
    return Path(config.crawl().data_dir) / "exports"


def pair_name(left: str, right: str) -> str:
    return f"{left}+{right}"


def variant(*values: Any) -> str:
    """Eight hex digits naming a set of parameter values, for outputs that depend on them."""
    return hashlib.sha1(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:8]


class AtomicFile(luigi.LocalTarget):
    """A file target written through `temporary_path()`."""

    def remove_stale(self) -> list[Path]:
        """Remove temporary files left by dead attempts; returns what went."""
        removed = stale_attempts(Path(self.path))
        for tmp in removed:
            tmp.unlink(missing_ok=True)
        return removed

    @contextlib.contextmanager
    def temporary_path(self) -> Iterator[Path]:  # type: ignore[override]
        target = Path(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.remove_stale()
        tmp = target.with_name(attempt_name(target.name))
        try:
            yield tmp
            with open(tmp, "rb") as fh:  # on disk before the rename makes it visible
                os.fsync(fh.fileno())
            os.rename(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
