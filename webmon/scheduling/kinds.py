"""Which Luigi task classes a schedule may name, and how a dotted name becomes a class.

A schedule names its task as `module.Class` (`pipelines.workflows.export.ExportItems`)
or by one of the short names of the built-in tasks (`RunCrawl`, `BackupDatabase`,
`PruneHistory`, kept for the rows written before any class could be named).

Settings read (luigi.cfg, the same file the luigi workers read):

- `[workflows] modules`: comma-separated modules or packages whose Luigi tasks
  may be scheduled; a package allows every module under it. Default
  `pipelines.workflows, pipelines.external`. The environment variable
  `CRAWLOPS_WORKFLOW_MODULES` replaces it (luigi.cfg < environment, as for
  `[crawl] spec_dirs`). `pipelines.tasks` and `pipelines.maintenance.tasks`
  are always allowed. A configured module that does not exist is skipped when
  classes are listed; naming a class in it gets a sentence.

Importing a module runs its code, so only the allowed modules are ever
imported. A module whose file changed since this process imported it is
imported again, so a long-lived daemon or webmon worker sees what the luigi
process it starts will see (a class removed from the code is refused, not
assumed).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import pkgutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import luigi
from django.utils.translation import gettext

log = logging.getLogger("webmon.scheduling")

DEFAULT_MODULES = "pipelines.workflows, pipelines.external"
BUILTIN_MODULES = ("pipelines.tasks", "pipelines.maintenance.tasks")
ALIASES = {
    "RunCrawl": "pipelines.tasks.RunCrawl",
    "BackupDatabase": "pipelines.maintenance.tasks.BackupDatabase",
    "PruneHistory": "pipelines.maintenance.tasks.PruneHistory",
}
CRAWL_TASK = ALIASES["RunCrawl"]
ENV = "CRAWLOPS_WORKFLOW_MODULES"


class TaskKindError(ValueError):
    """A task name that cannot be scheduled; its message is the sentence to show.

    Raised by `resolve()`; caught by Schedule.clean() (the admin shows it on the
    field) and by the daemon's precheck (the run is refused with it).
    """


@dataclass(frozen=True)
class TaskKind:
    """A schedulable class: `module` is what `--module` imports, `family` the name luigi runs."""

    name: str  # as the schedule stores it: a short name or module.Class
    module: str
    cls: type[luigi.Task]

    @property
    def family(self) -> str:
        return self.cls.get_task_family()

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.cls.__name__}"

    @property
    def is_crawl(self) -> bool:
        return self.dotted == CRAWL_TASK


def modules_setting() -> str:
    """Where the allowed modules come from, for sentences."""
    return ENV if os.environ.get(ENV) is not None else "luigi.cfg's [workflows] modules"


def configured_modules() -> list[str]:
    """`[workflows] modules` (or CRAWLOPS_WORKFLOW_MODULES), as a list of dotted names."""
    text = os.environ.get(ENV)
    if text is None:
        text = luigi.configuration.get_config().get("workflows", "modules", DEFAULT_MODULES)
    return [part.strip() for part in str(text).split(",") if part.strip()]


def allowed_modules() -> list[str]:
    return [*BUILTIN_MODULES, *(m for m in configured_modules() if m not in BUILTIN_MODULES)]


def is_allowed(module: str, allowed: list[str] | None = None) -> bool:
    return any(module == a or module.startswith(a + ".") for a in (allowed or allowed_modules()))


def canonical(name: str) -> str:
    """The name to store: a built-in task's short name, else the dotted name as given (stripped)."""
    name = name.strip()
    for short, dotted in ALIASES.items():
        if name == dotted:
            return short
    return name


_loaded: dict[str, float | None] = {}  # module -> mtime of its file when this process imported it


def _mtime(module: ModuleType) -> float | None:
    path = getattr(module, "__file__", None)
    try:
        return Path(path).stat().st_mtime if path else None
    except OSError:
        return -1.0  # the file is gone


def load_module(name: str) -> ModuleType:
    """Import `name`, again when its file changed since this process imported it.

    Raises TaskKindError with the reason when it cannot be imported (user code:
    any exception, or SystemExit, is a reason, never a crash).
    """
    importlib.invalidate_caches()
    try:
        module = sys.modules.get(name)
        if module is not None and name in _loaded and _mtime(module) != _loaded[name]:
            # A fresh module, not importlib.reload(): reload keeps the names the new code no longer defines.
            del sys.modules[name]
            module = None
        if module is None:
            module = importlib.import_module(name)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a workflow module is user code
        sys.modules.pop(name, None)
        _loaded.pop(name, None)
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise TaskKindError(gettext("Cannot import module %(module)s: %(reason)s.") % {"module": name, "reason": reason}) from None
    _loaded[name] = _mtime(module)
    return module


def resolve(name: str) -> TaskKind:
    """The class a schedule's task names, or TaskKindError with a sentence."""
    stored = canonical(name)
    dotted = ALIASES.get(stored, stored)
    module_name, _, class_name = dotted.rpartition(".")
    if not module_name or not class_name:
        known = ", ".join(ALIASES)
        raise TaskKindError(gettext("Name the task as module.Class (e.g. pipelines.workflows.export.ExportItems) "
                                    "or as one of %(known)s; got %(name)r.") % {"known": known, "name": name.strip()})
    allowed = allowed_modules()
    if not is_allowed(module_name, allowed):
        configured = ", ".join(configured_modules()) or gettext("none")
        raise TaskKindError(gettext("Module %(module)s is not a workflow module: schedules name tasks of "
                                    "%(builtin)s and of %(setting)s (%(configured)s); add it there to schedule its "
                                    "tasks.") % {"module": module_name, "builtin": gettext(" and ").join(BUILTIN_MODULES),
                                                 "setting": modules_setting(), "configured": configured})
    module = load_module(module_name)
    cls = getattr(module, class_name, None)
    if cls is None:
        found = [k.cls.__name__ for k in classes_in(module)]
        raise TaskKindError(gettext("Module %(module)s has no class %(name)s; its Luigi tasks: %(found)s.")
                            % {"module": module_name, "name": class_name, "found": ", ".join(found) or gettext("none")})
    problem = not_schedulable(cls)
    if problem:
        raise TaskKindError(gettext("%(task)s %(problem)s.") % {"task": dotted, "problem": problem})
    return TaskKind(stored, module_name, cls)


def not_schedulable(cls: object) -> str | None:
    """Why a module attribute cannot be scheduled, or None for a runnable luigi.Task subclass."""
    if not isinstance(cls, type) or not issubclass(cls, luigi.Task):
        return gettext("is not a Luigi task (a subclass of luigi.Task)")
    if issubclass(cls, luigi.Config):
        return gettext("is a luigi.Config (settings), not a task")
    if issubclass(cls, luigi.ExternalTask) or cls.run is None:  # type: ignore[comparison-overlap]
        return gettext("is an external task (it has no run()): luigi can only wait for it, not run it")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        return gettext("is an abstract base class (it leaves %(missing)s to its subclasses)") % {"missing": missing}
    return None


def classes_in(module: ModuleType) -> list[TaskKind]:
    """The runnable Luigi tasks defined in `module` (not those it imports), in source order."""
    kinds = [TaskKind(f"{module.__name__}.{name}", module.__name__, obj) for name, obj in vars(module).items()
             if not name.startswith("_") and isinstance(obj, type) and obj.__module__ == module.__name__
             and not_schedulable(obj) is None]
    return kinds


def known_kinds() -> list[TaskKind]:
    """Every task a schedule can name: the built-ins, then the classes of the allowed modules.

    Packages are walked (their submodules imported). A module that cannot be
    imported is logged and skipped: an absent `pipelines.external` lists nothing.
    """
    kinds = [resolve(short) for short in ALIASES]
    seen = {k.dotted for k in kinds}
    for name in configured_modules():
        for module_name in _walk(name):
            try:
                module = load_module(module_name)
            except TaskKindError as exc:  # e.g. pipelines.external not installed in this checkout
                log.debug("workflow module skipped: %s", exc)
                continue
            for kind in classes_in(module):
                if kind.dotted not in seen:
                    seen.add(kind.dotted)
                    kinds.append(kind)
    return kinds


def _walk(name: str) -> list[str]:
    try:
        module = load_module(name)
    except TaskKindError:
        return [name]  # reported by the caller's import
    path = getattr(module, "__path__", None)
    if not path:
        return [name]
    found = []
    try:  # walk_packages imports subpackages: user code, which may even call sys.exit()
        found = [info.name for info in pkgutil.walk_packages(path, prefix=name + ".", onerror=lambda _: None)]
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        log.debug("cannot list the modules of %s: %s", name, exc)
    return [name, *sorted(found)]
