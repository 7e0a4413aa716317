"""Bad input on the luigi command line: its one sentence, without luigi's traceback.

luigi 3.8.1 prints an exception raised by a task's complete() (or requires())
as a warning, "Will not run X or any dependencies due to error in complete()
method:" followed by the whole traceback (worker.py, `_log_complete_error`),
and an exception raised while it builds the root task from the command line
as "Uncaught exception in luigi" with its traceback (retcodes.py). For a
broken crawl spec or a mistyped --at, 40 to 60 lines bury the one sentence
that says what to fix.

`install()` puts a filter on luigi's console logger, `luigi-interface`, that
rewrites exactly those two records, and only when the error is bad input:

- complete() or requires() raised a `SpecError` (a broken spec file, a TOML
  syntax error, an unknown crawl name, an override key the spec lacks): the
  record becomes the error's sentence, at ERROR. The worker has already turned
  the exception into traceback text by then (in a pool process, under
  `parallel_scheduling`), so the error is recognised by the text's last
  exception.
- a command-line value a parameter cannot parse (`--at`, `--overrides`,
  `--date`, `--db`, ...) or a missing parameter: `--FLAG VALUE: what is wrong`.

Anything else (a real bug, an items DB that cannot be read) keeps its
traceback. Exit codes stay luigi's: 35 (scheduling_error) for the first kind,
40 (unhandled_exception) for the second, as for luigi's own missing parameter.

Why a log filter and not validating earlier: an exception raised while luigi
builds the root task from the command line is "unhandled" to luigi (exit 40
and still a traceback), so loading the spec during parameter parsing would
turn a broken spec's exit 35 into 40. complete() is where luigi reports a
task it cannot schedule (35), which scripts and the trigger daemon read; the
filter changes what is printed, not what luigi decides.
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path
from types import TracebackType

import luigi
from luigi.parameter import MissingParameterException, ParameterException

from pipelines.exceptions import SpecError

CONSOLE_LOGGER = "luigi-interface"  # luigi's worker and its command line print through this logger

# Raised by complete()/requires() because of what the user wrote, never because of a bug.
USER_ERRORS: tuple[type[Exception], ...] = (SpecError,)

_LUIGI_DIR = str(Path(luigi.__file__).resolve().parent)
_SCHEDULING_ERROR = " or any dependencies due to error in "  # luigi's complete()/deps() headline
_TRACEBACK_START = "Traceback (most recent call last):"


class UserErrorFilter(logging.Filter):
    """Rewrites luigi's traceback records of bad input to the input's sentence; passes every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            sentence = sentence_for(record)
        except Exception:  # noqa: BLE001 - a filter must never lose a record: print it as luigi wrote it
            return True
        if sentence is not None:
            record.msg, record.args = sentence, ()
            record.exc_info, record.exc_text, record.stack_info = None, None, None
            # An error, not luigi's warning: the run did not happen (and the daemon looks for ERROR lines).
            record.levelno, record.levelname = logging.ERROR, logging.getLevelName(logging.ERROR)
        return True


def install() -> None:
    """Add the filter to luigi's console logger, once per process (called when our task modules load)."""
    logger = logging.getLogger(CONSOLE_LOGGER)
    if not any(isinstance(f, UserErrorFilter) for f in logger.filters):
        logger.addFilter(UserErrorFilter())


def sentence_for(record: logging.LogRecord) -> str | None:
    """The sentence to print instead of `record`, or None to print it unchanged."""
    if record.exc_info and record.exc_info[1] is not None:  # "Uncaught exception in luigi"
        return command_line_sentence(record.exc_info[1])
    message = record.getMessage()
    if message.startswith("Will not run ") and _SCHEDULING_ERROR in message:
        _, _, text = message.partition(" method:\n")
        return traceback_sentence(text)
    return None


def traceback_sentence(text: str) -> str | None:
    """The message of the last exception in traceback `text` when that exception is a user error."""
    for cls in _with_subclasses(USER_ERRORS):
        head = f"\n{_qualified(cls)}: "
        at = text.rfind(head)
        if at < 0:
            continue
        message = text[at + len(head):]
        if _TRACEBACK_START in message or '\n  File "' in message:
            continue  # an earlier exception of the chain; the last one is something else
        return message.strip()
    return None


def command_line_sentence(exc: BaseException) -> str | None:
    """What was wrong with the command line, when `exc` says so; None for anything else."""
    if isinstance(exc, USER_ERRORS):
        return str(exc)
    if isinstance(exc.__cause__, ValueError):  # luigi's "Error when parsing the default value of 'at'"
        cause = command_line_sentence(exc.__cause__)
        if cause is not None:
            return cause
    where = _parameter_frame(exc.__traceback__)
    if isinstance(exc, MissingParameterException) and where is not None and "param_obj" in where:
        flag = "--" + str(where["param_name"]).replace("_", "-")
        return f"{where.get('task_family', 'the task')} needs {flag}: {where['param_obj'].description}"
    if isinstance(exc, ParameterException):
        return str(exc)  # luigi's own sentence (unknown or duplicate parameter)
    if where is None or not isinstance(exc, ValueError):
        return None  # not a value luigi could not read: a bug, keep the traceback
    problem = f"not valid JSON ({exc})" if isinstance(exc, json.JSONDecodeError) else str(exc)
    config = where.get("__config__")
    if config is not None:
        return f"[{config[0]}] {config[1]} in the luigi configuration: {problem}"
    flag = "--" + str(where["param_name"]).replace("_", "-")
    if problem.startswith(flag):
        return problem  # the parameter says it already (MinuteParameter: "--at expects ...")
    value = next((where[k] for k in ("attr", "found", "arg", "value") if k in where), None)
    shown = f" {value!r}" if isinstance(value, str) and value not in problem else ""
    return f"{flag}{shown}: {problem}"


def _parameter_frame(tb: TracebackType | None) -> dict[str, object] | None:
    """The locals of the innermost luigi frame reading a parameter, if the exception passed one.

    luigi 3.8.1 reads a value in CmdlineParser._get_task_kwargs (local flags),
    Parameter._value_iterator (--Task-param flags, luigi.cfg) and
    Task.get_param_values (normalize); each has `param_name` in its locals.
    A value from luigi.cfg passes Parameter._get_value_from_config (`section`, `name`).
    tests/pipelines/test_spec_errors_cli.py pins this against the real CLI.
    """
    found: dict[str, object] | None = None
    config: tuple[object, object] | None = None
    for frame, _ in traceback.walk_tb(tb):
        if not frame.f_code.co_filename.startswith(_LUIGI_DIR):
            continue
        names = frame.f_locals
        if frame.f_code.co_name == "_get_value_from_config" and "section" in names:
            config = (names["section"], names.get("name"))
        elif "param_name" in names:
            found = dict(names)
    if found is not None and config is not None:
        found["__config__"] = config
    return found


def _qualified(cls: type) -> str:
    # As traceback.format_exception_only names the type.
    return cls.__qualname__ if cls.__module__ in ("builtins", "__main__") else f"{cls.__module__}.{cls.__qualname__}"


def _with_subclasses(classes: tuple[type, ...]) -> list[type]:
    todo, seen = list(classes), []
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.append(cls)
            todo.extend(cls.__subclasses__())
    return seen
