"""Django for the ops tests: the same set-up as tests/webmon (in-memory webmon DB, fixed SECRET_KEY)."""

from __future__ import annotations

import sys
from pathlib import Path

WEBMON_TESTS = Path(__file__).resolve().parent.parent / "webmon"
if str(WEBMON_TESTS) not in sys.path:
    sys.path.insert(0, str(WEBMON_TESTS))

# tests/webmon/conftest.py sets Django up when imported and holds the shared fixtures.
from tests.webmon.conftest import *  # noqa: E402,F403
