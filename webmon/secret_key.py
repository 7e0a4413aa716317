"""SECRET_KEY: from the environment, or a development key kept in var/."""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key


def secret_key(from_env: str | None, *, debug: bool, dev_key_file: Path) -> str:
    """The SECRET_KEY to use.

    With DEBUG off the key must come from the environment: a key generated
    on disk would silently differ between hosts and invalidate sessions.
    """
    if from_env:
        return from_env
    if not debug:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: with DEBUG off, set the SECRET_KEY environment variable"
            " to a long random string (a development key is only generated when DEBUG is on)."
        )
    return dev_secret_key(dev_key_file)


def dev_secret_key(path: Path) -> str:
    """Read the development key at `path`, creating it (mode 0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(get_random_secret_key())
        try:
            # link() refuses to replace: when two processes race, the first key wins
            # and both read it, so nobody runs with a key that is not on disk.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it to have a new development key generated.")
    return key
