"""Atomic directory targets: a stage's output appears whole or not at all.

A stage writes its files into `<target>.tmp-<host>-<pid>` and renames that
folder to the target path when everything is written and closed; rename is
atomic on POSIX. A worker killed half-way leaves only a `.tmp-...` folder,
which the next attempt removes before it starts.

On a folder several worker hosts share, the host in the name tells whose
attempt it was: one of this host's is kept while its pid lives; another
host's is removed, because luigid gave this worker the task, so the other
host's attempt is over (its host died, or luigid pruned its worker). A name
without a host (`.tmp-<pid>`, written before hosts were named) counts as
this host's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import luigi

from pipelines.runs.sweep import pid_alive


def attempt_name(name: str) -> str:
    """The temporary name of this process's attempt at the file or folder `name`."""
    host = socket.gethostname().replace("/", "_") or "localhost"
    return f"{name}.tmp-{host}-{os.getpid()}"


def stale_attempts(target: Path) -> list[Path]:
    """Temporary files or folders of `target` left by attempts that are over (see the module's docstring)."""
    if not target.parent.is_dir():
        return []
    host = socket.gethostname().replace("/", "_") or "localhost"
    stale = []
    for tmp in target.parent.glob(target.name + ".tmp-*"):
        owner, _, pid = tmp.name[len(target.name) + len(".tmp-"):].rpartition("-")
        if not pid.isdigit():
            owner, pid = "", ""
        mine = owner in ("", host)
        if mine and pid and int(pid) != os.getpid() and pid_alive(int(pid)):
            continue  # a live attempt of this host owns it
        stale.append(tmp)
    return stale


class AtomicDirectory(luigi.LocalTarget):
    """A folder target written through `temporary_dir()`."""

    @property
    def dir(self) -> Path:
        return Path(self.path)

    def remove_stale(self) -> list[Path]:
        """Remove temporary folders left by dead attempts; returns what went."""
        removed = stale_attempts(self.dir)
        for tmp in removed:
            shutil.rmtree(tmp, ignore_errors=True)
        return removed

    @contextlib.contextmanager
    def temporary_dir(self) -> Iterator[Path]:
        self.remove_stale()
        tmp = self.dir.with_name(attempt_name(self.dir.name))
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
