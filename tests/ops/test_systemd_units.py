"""The sample units in deploy/systemd are ones systemd accepts, word for word.

`systemd-analyze verify` reads each unit as systemd would (unknown keys,
bad values, a command that is not there); the paths of the sample
(/opt/crawlops and its venv, the crawlops user) are pointed at this checkout
first, so a command that does not exist is a real error.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, ROOT

UNITS = sorted((ROOT / "deploy/systemd").glob("*.service"))


def test_the_samples_include_a_worker_host_unit() -> None:
    assert {u.name for u in UNITS} >= {"luigid.service", "crawlops-webmon.service", "crawlops-trigger.service",
                                      "crawlops-worker.service"}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_accepts_the_unit(unit: Path, tmp_path: Path) -> None:
    text = (unit.read_text().replace("/opt/crawlops/.venv/bin/python", PYTHON).replace("/opt/crawlops", str(ROOT))
            .replace("User=crawlops", "User=root").replace("Group=crawlops", "Group=root"))
    local = tmp_path / unit.name
    local.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr
