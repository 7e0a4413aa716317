"""AtomicFile and AtomicDirectory: an output is there whole or not at all, and what a dead attempt left is removed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.targets import AtomicDirectory
from pipelines.workflows.files import AtomicFile


def test_the_file_appears_only_when_the_writing_is_done(tmp_path: Path) -> None:
    target = AtomicFile(str(tmp_path / "exports" / "items.csv"))
    with target.temporary_path() as tmp:
        tmp.write_bytes(b"a,b\r\n")
        assert not target.exists() and tmp.exists()
    assert target.exists() and Path(target.path).read_bytes() == b"a,b\r\n"
    assert [p.name for p in (tmp_path / "exports").iterdir()] == ["items.csv"]


def test_a_failure_while_writing_leaves_nothing(tmp_path: Path) -> None:
    target = AtomicFile(str(tmp_path / "items.csv"))
    with pytest.raises(RuntimeError), target.temporary_path() as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_a_dead_attempts_temporary_file_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / f"items.csv.tmp-{dead.stdout.strip()}").write_text("half")
        (tmp_path / f"items.csv.tmp-{live.pid}").write_text("being written")
        target = AtomicFile(str(tmp_path / "items.csv"))
        with target.temporary_path() as tmp:
            tmp.write_text("whole")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["items.csv", f"items.csv.tmp-{live.pid}"]
    finally:
        live.kill()
        live.wait()


def test_on_a_shared_folder_another_hosts_attempt_is_removed_and_this_hosts_live_one_kept(tmp_path: Path) -> None:
    """luigid gave this worker the task, so an attempt another host left (its host died) is over."""
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    here = socket.gethostname()
    try:
        # The other host's pid is alive here too (a namesake): the host in the name decides, not the pid.
        (tmp_path / f"fetch.tmp-other-host.example-{live.pid}").mkdir()
        (tmp_path / f"fetch.tmp-{here}-{live.pid}").mkdir()
        target = AtomicDirectory(str(tmp_path / "fetch"))
        with target.temporary_dir() as tmp:
            assert tmp.name == f"fetch.tmp-{here}-{os.getpid()}"
            (tmp / "pages").write_text("whole")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["fetch", f"fetch.tmp-{here}-{live.pid}"]
    finally:
        live.kill()
        live.wait()
