"""What ScrapySpider and PythonScript share: the tick, the per-tick output folder, the run of the child.

The output of a tick is `[crawl] data_dir/external/<name>/<tick>/`, written in
`<tick>.tmp-<host>-<pid>` and renamed into place when the child ended well and its
stats were written: a rerun of a complete tick does nothing, and a failed
attempt leaves no output. What a failed attempt had written (the items a
spider collected before it failed) is not thrown away: its folder is renamed
`<tick>.failed-<UTC time>-<pid>`, beside the output, for a person to read.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import luigi
from luigi.freezing import recursively_unfreeze

from pipelines import config
from pipelines.external import child
from pipelines.external.exceptions import BadCommand, ChildFailed, ExternalError
from pipelines.runs.reclaim import ReclaimFirst
from pipelines.targets import AtomicDirectory, attempt_name
from pipelines.tasks import MinuteParameter

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
RESULT = "result.json"


def checked_name(name: str, what: str) -> str:
    """A name that is safe as a folder, a logger and a metric label, or a sentence saying why not."""
    if not _NAME.fullmatch(name) or ".." in name:
        raise BadCommand(f"{what} {name!r} cannot name the output folder: use letters, digits, '_', '-' and '.' "
                         "(up to 100, starting with a letter or digit), or set --name")
    return name


@contextlib.contextmanager
def attempt_dir(target: AtomicDirectory) -> Iterator[Path]:
    """A temporary folder renamed to the target on success, to `.failed-...` on any failure."""
    target.remove_stale()
    # Absolute: the child runs in its own folder (the project's, the script's), and luigi.cfg's shipped
    # data_dir (var/data) is relative to the worker's; Scrapy's feed URI cannot be relative either.
    final = target.dir.absolute()
    tmp = final.with_name(attempt_name(final.name))
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        with contextlib.suppress(OSError):
            if any(tmp.iterdir()):
                os.rename(tmp, final.with_name(f"{final.name}.failed-{stamp}-{os.getpid()}"))
            else:
                tmp.rmdir()
        raise
    for path in tmp.iterdir():  # data on disk before the rename makes it visible
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    os.rename(tmp, final)


class ExternalTask(ReclaimFirst, luigi.Task):
    """A command run once per tick in its own process group; subclasses say which command and what it counts."""

    at = MinuteParameter(description="Logical time of the tick, UTC, to the minute.")
    name = luigi.Parameter(default="", description="Names the output folder data_dir/external/<name>/ and the "
                                                   "loggers; default: the spider's or the script's name.")
    timeout_seconds = luigi.FloatParameter(default=0, significant=False,
                                           description="Stop the whole process group after this many seconds "
                                                       "(SIGTERM, then SIGKILL after grace_seconds); 0: no limit.")
    grace_seconds = luigi.FloatParameter(default=10, significant=False,
                                         description="Between SIGTERM and SIGKILL when the group is stopped.")

    @property
    @abc.abstractmethod
    def label(self) -> str:
        """The name of this crawler: folder, loggers, and (ScrapySpider) the crawl label of its metrics."""

    def output(self) -> AtomicDirectory:
        return AtomicDirectory(str(Path(config.crawl().data_dir) / "external" / self.label
                                   / self.at.strftime("%Y%m%dT%H%MZ")))

    @abc.abstractmethod
    def command(self, tmp: Path) -> tuple[list[str], Path, dict[str, str]]:
        """argv, working folder and extra environment of the child; `tmp` is the attempt's output folder."""

    def what(self, argv: list[str]) -> str:
        """The child in messages: 'python /path/fetch.py --pages ...', 'spider shop'."""
        return child.describe(argv)

    def collect(self, tmp: Path, outcome: dict[str, Any]) -> dict[str, Any]:
        """The run's stats from what the child left in `tmp` and how it ended (also after a failure)."""
        return outcome

    def check(self, tmp: Path, stats: dict[str, Any]) -> None:
        """Raise when a child that exited 0 still did not do its job."""

    def run(self) -> None:
        label = self.label
        with attempt_dir(self.output()) as tmp:
            argv, cwd, extra = self.command(tmp)
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "CRAWLOPS_TICK": self.at.strftime("%Y-%m-%dT%H:%MZ"),
                   "CRAWLOPS_NAME": label, **extra}
            what = self.what(argv)
            self.set_status_message(f"running {what}")
            try:
                ended = child.run(argv, name=label, cwd=cwd, env=env, timeout_seconds=self.timeout_seconds,
                                  grace_seconds=self.grace_seconds, what=what)
            except ExternalError as exc:
                code = exc.returncode if isinstance(exc, ChildFailed) else None
                self.run_stats = self.collect(tmp, {"exit_code": code, "error": type(exc).__name__})
                raise
            stats = self.collect(tmp, {"exit_code": 0, "wall_s": ended.elapsed_s, "lines": ended.lines})
            self.run_stats = stats
            self.check(tmp, stats)
            (tmp / RESULT).write_text(json.dumps(stats, indent=2, sort_keys=True, default=str) + "\n",
                                      encoding="utf-8")
        self.set_status_message(f"done in {ended.elapsed_s:.1f} s")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def setting_words(settings: Mapping[str, Any], flag: str) -> list[str]:
    """{"A": 1, "B": {"x": 2}} -> ["-s", "A=1", "-s", 'B={"x": 2}'] (strings as they are, the rest as JSON)."""
    words: list[str] = []
    for key, value in recursively_unfreeze(settings).items():  # a DictParameter's nested values are frozen
        text = value if isinstance(value, str) else json.dumps(value)
        words += [flag, f"{key}={text}"]
    return words


def as_strings(values: Sequence[Any]) -> list[str]:
    return [v if isinstance(v, str) else json.dumps(v) for v in recursively_unfreeze(list(values))]
