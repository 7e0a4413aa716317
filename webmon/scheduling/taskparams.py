"""A schedule's task parameters: checked against the class's Luigi parameters, then command-line flags.

`check()` takes the JSON object of a schedule (`task_params`) and the class
(`luigi.Task.get_params()`), and gives back each value as the luigi process
will see it, or raises TaskParamsError with one sentence: an unknown name
(the known ones are named), the tick given by hand, a bad value (the
parameter and what it expects), a missing required parameter.

A value is checked by the trip it makes: a JSON string is what one types on
the command line, so it goes through the Parameter's parse(); any other JSON
value (a number, true, a list or object for ListParameter / DictParameter)
through normalize(); then serialize() gives the flag's text, which the luigi
process parses again, so that round trip is checked too (it is where
NumericalParameter checks its range). `arguments()` builds the flags in the
class's parameter order, so a class defines its own command line.

The tick: a class with `at` (a DateMinuteParameter, pipelines.tasks.MinuteParameter)
gets the tick's minute, one with `date` (a DateParameter) the tick's day, from
the daemon (`--at`, `--date`); neither may be set in task_params.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import luigi
from django.utils.translation import gettext as _
from luigi.parameter import _no_value

TEXT_PARAMETERS = (luigi.Parameter, luigi.parameter.StrParameter, luigi.OptionalParameter,
                   luigi.parameter.OptionalStrParameter)


class TaskParamsError(ValueError):
    """Task parameters that do not fit the class; the message is the sentence to show.

    Raised by `check()`; Schedule.clean() puts it on the task_params field, the
    daemon's precheck refuses the run with it.
    """


def tick_params(cls: type[luigi.Task]) -> dict[str, luigi.Parameter]:
    """The class's tick parameters: `at` (a minute) and/or `date` (a day), when it has them."""
    params = dict(cls.get_params())
    found = {}
    if isinstance(params.get("at"), luigi.DateMinuteParameter):
        found["at"] = params["at"]
    if isinstance(params.get("date"), luigi.DateParameter):
        found["date"] = params["date"]
    return found


def tick_values(cls: type[luigi.Task], tick: datetime) -> dict[str, str]:
    """The tick flags' texts for one tick (aware UTC), each serialized by its own parameter."""
    naive = tick.replace(tzinfo=None)
    values = {}
    for name, param in tick_params(cls).items():
        values[name] = param.serialize(naive if name == "at" else naive.date())
    return values


def tick_formats(cls: type[luigi.Task]) -> dict[str, str]:
    """The strftime format of each tick parameter (for `date -u +FORMAT` in a crontab line)."""
    defaults = {"at": "%Y-%m-%dT%H%M", "date": "%Y-%m-%d"}
    return {name: getattr(param, "date_format", None) or defaults[name] for name, param in tick_params(cls).items()}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def describe(param: luigi.Parameter) -> str:
    """What a parameter expects, in words (for the sentences and the admin's list of parameters)."""
    if isinstance(param, luigi.ChoiceListParameter):
        return _("a JSON list of %(choices)s") % {"choices": ", ".join(sorted(str(c) for c in param._choices))}
    if isinstance(param, luigi.ChoiceParameter):
        return _("one of %(choices)s") % {"choices": ", ".join(sorted(str(c) for c in param._choices))}
    if isinstance(param, luigi.EnumParameter):
        return _("one of %(choices)s") % {"choices": ", ".join(m.name for m in param._enum)}
    if isinstance(param, luigi.BoolParameter):
        return _("true or false")
    if isinstance(param, luigi.NumericalParameter):
        where = param._permitted_range.split(" in ", 1)[-1]
        if param._var_type is int:
            return _("a whole number in %(range)s") % {"range": where}
        return _("a number in %(range)s") % {"range": where}
    if isinstance(param, luigi.IntParameter):
        return _("a whole number")
    if isinstance(param, luigi.FloatParameter):
        return _("a number")
    if isinstance(param, luigi.DateSecondParameter):
        return _("a UTC time such as 2026-11-21T073000")
    if isinstance(param, luigi.DateMinuteParameter):
        return _("a UTC minute such as 2026-11-21T0730")
    if isinstance(param, luigi.DateHourParameter):
        return _("a UTC hour such as 2026-11-21T07")
    if isinstance(param, luigi.YearParameter):
        return _("a year such as 2026")
    if isinstance(param, luigi.MonthParameter):
        return _("a month such as 2026-11")
    if isinstance(param, luigi.DateParameter):
        return _("a date such as 2026-11-21")
    if isinstance(param, luigi.TimeDeltaParameter):
        return _("a time span such as 1 day 2 hours or P1DT2H")
    if isinstance(param, luigi.DictParameter):
        return _("a JSON object")
    if isinstance(param, luigi.ListParameter):
        return _("a JSON list")
    if type(param) in TEXT_PARAMETERS:
        return _("text")
    return _("a value %(cls)s accepts") % {"cls": type(param).__name__}


def shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _sorted(value: Any) -> Any:
    """JSON objects with their keys sorted, at any depth: one value, one command line."""
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_sorted(v) for v in value]
    return value


def coerce(name: str, param: luigi.Parameter, value: Any) -> Any:
    """The value the luigi process will get for `--name`, or TaskParamsError naming what it expects."""
    try:
        if type(param) in TEXT_PARAMETERS and not isinstance(value, str) and value is not None:
            raise TypeError("not text")
        parsed = param.parse(value) if isinstance(value, str) else _sorted(value)
        normal = param.normalize(parsed)
        text = param.serialize(normal)
        return param.normalize(param.parse(text))
    except Exception as exc:  # noqa: BLE001 - parameter classes are user code; any failure is a bad value
        # luigi's own parameters say no more than describe(); a parameter class of the project's or the
        # user's may (pipelines.tasks.MinuteParameter: "--at is a minute; ... has seconds").
        reason = str(exc).strip() if not type(param).__module__.startswith("luigi.") else ""
        tail = f" ({reason})" if reason and len(reason) < 200 else ""
        raise TaskParamsError(_("%(name)s: expected %(what)s, got %(value)s%(why)s.")
                              % {"name": name, "what": describe(param), "value": shown(value), "why": tail}) from None


def check(cls: type[luigi.Task], values: object) -> dict[str, Any]:
    """Each given value as the luigi process will get it; TaskParamsError with a sentence otherwise."""
    family = cls.get_task_family()
    params = dict(cls.get_params())
    ticks = tick_params(cls)
    settable = [n for n in params if n not in ticks]
    if not isinstance(values, Mapping):
        example = f'{{"{settable[0]}": ...}}' if settable else "{}"
        raise TaskParamsError(_("Expected a JSON object of %(task)s's parameters, e.g. %(example)s.")
                              % {"task": family, "example": example})
    for name in values:
        if name in ticks:
            text = (_("%(name)s is the tick: the daemon passes each run's minute as %(flag)s; leave it out of the "
                      "task parameters.") if name == "at" else
                    _("%(name)s is the tick: the daemon passes each run's day as %(flag)s; leave it out of the "
                      "task parameters."))
            raise TaskParamsError(text % {"name": name, "flag": flag(name)})
        if name not in params:
            known = ", ".join(settable) or _("none")
            raise TaskParamsError(_("%(task)s has no parameter %(name)r; its parameters: %(known)s.")
                                  % {"task": family, "name": str(name), "known": known})
    normal = {name: coerce(name, params[name], value) for name, value in values.items()}
    for name in settable:
        param = params[name]
        if name in normal:
            if _unsettable_false(family, name, param, normal[name]):
                raise TaskParamsError(_("%(name)s: a flag luigi can only switch on from the command line, and it "
                                        "is on by default: it cannot be false here.") % {"name": name})
            continue
        if not _has_value(family, name, param):
            raise TaskParamsError(_("%(task)s needs %(name)s (%(what)s): add it to the task parameters.")
                                  % {"task": family, "name": name, "what": describe(param)})
    return normal


def _has_value(family: str, name: str, param: luigi.Parameter) -> bool:
    try:
        return param.has_task_value(family, name)  # a default, or a value in luigi.cfg's [family] section
    except Exception:  # noqa: BLE001 - an unparseable luigi.cfg value: the luigi process would fail too
        return False


def _implicit_flag(param: luigi.Parameter) -> bool:
    return isinstance(param, luigi.BoolParameter) and param.parsing == luigi.BoolParameter.IMPLICIT_PARSING


def _unsettable_false(family: str, name: str, param: luigi.Parameter, value: Any) -> bool:
    if not _implicit_flag(param) or value:
        return False
    try:
        return bool(param.task_value(family, name))
    except Exception:  # noqa: BLE001
        return False


def arguments(cls: type[luigi.Task], values: Mapping[str, Any], ticks: Mapping[str, str]) -> list[str]:
    """`--name value` for each given value and tick, in the class's parameter order.

    `values` come from check(); `ticks` are texts (tick_values(), or a crontab's
    shell expressions). A value that starts with "-" is given as `--name=value`,
    so the command line never reads it as an option.
    """
    args: list[str] = []
    for name, param in cls.get_params():
        if name in ticks:
            args += [flag(name), ticks[name]]
        elif name in values:
            if _implicit_flag(param):
                args += [flag(name)] if values[name] else []
                continue
            text = param.serialize(values[name])
            if isinstance(param, luigi.BoolParameter):
                text = text.lower()
            args += [f"{flag(name)}={text}"] if text.startswith("-") else [flag(name), text]
    return args


def signature(cls: type[luigi.Task]) -> list[tuple[str, str, str]]:
    """(name, what it takes, description) of each parameter, for the admin; the ticks say so."""
    family = cls.get_task_family()
    ticks = tick_params(cls)
    rows = []
    for name, param in cls.get_params():
        if name in ticks:
            what = "the tick's minute (set by the daemon)" if name == "at" else "the tick's day (set by the daemon)"
        else:
            what = describe(param)
            if param._default is not _no_value:
                default = param._default
                what += f", default {shown(default if not isinstance(default, date | datetime) else str(default))}"
            elif not _has_value(family, name, param):
                what += ", required"
        rows.append((name, what, param.description or ""))
    return rows
