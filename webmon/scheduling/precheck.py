"""What the trigger daemon checks before it starts a run: its task class and parameters, a crawl's spec.

`run_problem(run)` first resolves the schedule's task class and checks its
parameters (the run's overrides for a crawl) as Schedule.clean() does: a
schedule that was valid when saved can stop being so when the code changes
(a class removed or renamed, a parameter added without a default, a module
that no longer imports). Such a run is refused like a broken spec (below), with
the sentence of kinds.py / taskparams.py as its reason, instead of a luigi
process that would fail with a traceback, or a daemon that cannot build the
command.

A run of a broken spec cannot do anything: its luigi process would stop in
its first complete() with exit 35 and the spec's sentence. The daemon loads
the spec itself first (with the run's overrides, as `--overrides` would give
them), so such a run is failed at once with that sentence as its reason, is
not spawned and is not retried: retrying cannot mend a file, a fixed spec is
picked up by the next tick or a rerun. The schedule goes down and its
channels are told, as for any failed run.

The daemon reads the spec as the luigi process it would start reads it:
the same environment, the same luigi.cfg, and relative paths ([crawl]
spec_dirs, a crawl given as a path) from the repository root, the process's
working directory.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from webmon.scheduling.models import ScheduledRun

log = logging.getLogger("webmon.scheduling")


def run_problem(run: ScheduledRun) -> str | None:
    """The sentence a run is refused with (its task, then a crawl's spec), or None when it may start.

    Never raises: an unexpected error while checking is logged and the run is started.
    """
    try:
        problem = run.schedule.task_problem(run.params or None)
    except Exception:  # noqa: BLE001 - the daemon must live; the luigi process will say what is wrong
        log.exception("cannot check the task of %s before starting it; starting it anyway", run)
        return None
    if problem is not None:
        return problem
    return spec_problem(run)


def spec_problem(run: ScheduledRun) -> str | None:
    """The sentence a RunCrawl run's spec fails with (SpecError), or None when it loads.

    Never raises: anything but a SpecError (a parse hook that breaks on import
    in an odd way, an unreadable luigi.cfg) is logged and the run is started, so
    its luigi process says what is wrong in its own output.
    """
    schedule = run.schedule
    if not schedule.is_crawl:
        return None  # only a crawl has a spec
    from pipelines.config import crawl
    from pipelines.exceptions import SpecError
    from pipelines.spec import load_spec

    root = Path(settings.BASE_DIR)
    name, folders = schedule.crawl, crawl().spec_folders()
    if Path.cwd().resolve() != root.resolve():  # the child runs in the root: resolve as it would
        folders = [folder if folder.is_absolute() else root / folder for folder in folders]
        if name.endswith(".toml") and not Path(name).is_absolute():
            name = str(root / name)
    try:
        load_spec(name, folders, overrides=dict(run.params or {}))
    except SpecError as exc:
        return str(exc)
    except (Exception, SystemExit):  # noqa: BLE001 - a spec's hook module is user code; the daemon must live
        log.exception("cannot check the spec of %s before starting it; starting it anyway", run)
    return None
