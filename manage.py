#!/usr/bin/env python
"""Django's command-line utility for webmon (run it from the repository root)."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmon.settings")
    from django.core.management import execute_from_command_line  # noqa: PLC0415 - after the env is set

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
