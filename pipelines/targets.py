"""Atomic directory targets: a stage's output appears whole or not at all.

A stage writes its files into `<target>.tmp-<pid>` and renames that folder to
the target path when everything is written and closed; rename is atomic on
POSIX. A worker killed half-way leaves only a `.tmp-<pid>` folder, which the
next attempt removes before it starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import luigi


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AtomicDirectory(luigi.LocalTarget):
    """A folder target written through `temporary_dir()`."""

    @property
    def dir(self) -> Path:
        return Path(self.path)

    def remove_stale(self) -> list[Path]:
        """Remove temporary folders left by dead attempts; returns what went."""
        removed = []
        parent = self.dir.parent
        if not parent.is_dir():
            return removed
        for tmp in parent.glob(self.dir.name + ".tmp-*"):
            pid = tmp.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and _pid_alive(int(pid)):
                continue  # another live worker owns it
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
        return removed

    @contextlib.contextmanager
    def temporary_dir(self) -> Iterator[Path]:
        self.remove_stale()
        tmp = self.dir.with_name(f"{self.dir.name}.tmp-{os.getpid()}")
        tmp.mkdir(parents=True)
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for child in tmp.iterdir():  # data on disk before the rename makes it visible
            with open(child, "rb") as fh:
                os.fsync(fh.fileno())
        os.rename(tmp, self.dir)
