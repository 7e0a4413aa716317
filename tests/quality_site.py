"""The layout-change scenario of the data-quality tests: a demo site whose layout a file switches.

`layout_file` is the file the demo site `layout_site` re-reads (`--layout-file`): "v1" at first;
a test writes "v2" between two ticks (the description leaves `#description`,
the even-numbered products vanish). `MONITORS` is the [monitors] table the
tests append to a spec, with `{mode}` for on_violation. The fixtures are
registered for every test by tests/conftest.py (`pytest_plugins`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DemoSite, start_demo_site, stop

PRODUCTS = 40
MONITORS = """
[monitors]
min_items = 10
max_item_drop = 0.3
on_violation = "{mode}"

[monitors.coverage]
description = 0.95
title = 1.0
"""


@pytest.fixture(scope="module")
def layout_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("layout") / "layout.txt"
    path.write_text("v1\n")
    return path


@pytest.fixture(scope="module")
def layout_site(layout_file: Path) -> Iterator[DemoSite]:
    s = start_demo_site(PRODUCTS, layout_file=layout_file)
    yield s
    stop(s.proc)
