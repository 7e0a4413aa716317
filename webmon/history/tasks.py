"""Reads of Luigi's own tables (tasks, task_events, task_parameters), each bounded at a million tasks.

A history that stock Luigi wrote is first-class: these reads need none of our
tables. The indexes they use are Luigi's (tasks.task_id, tasks.name,
task_events.task_id) plus those `manage.py prepare_history` adds
(webmon/history/prepare.py); without the latter every read still works, a
few more slowly:

- the tasks list, newest first (tasks.id), keyset on id: the primary key;
  filtered by family through (name, id), by host through (host, id), by
  task_id through Luigi's task_id index.
- a task's status is its latest event (ORDER BY ts DESC, id DESC LIMIT 1,
  as Luigi's own relationship orders them), read per listed task through
  (task_id, ts, id, event_name) without touching the table.
- filters no index serves (status, a parameter's value) look through at most
  `window` tasks per page, newest first, and say where they stopped, like the
  runs list.
- families: the names by an index skip-scan of tasks.name; per family the
  newest task and a count capped at `cap`, one query for all families, then
  the newest tasks' latest events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections, router
from django.db.models import Exists, OuterRef, Subquery
from django.db.models.functions import Length, Substr

from webmon.history.fields import LuigiTimestampField
from webmon.history.queries import Cursor
from webmon.history.readonly import ReadOnlyQuerySet

# The event names luigid writes (luigi.scheduler -> DbTaskHistory).
EVENTS = ("PENDING", "RUNNING", "DONE", "FAILED")
VALUE_HEAD = 2000  # characters of a parameter value shown on the task page
LIST_HEAD = 200  # characters of a task_id on the list


@dataclass(frozen=True)
class TaskFilter:
    """What the tasks list is filtered by; empty strings mean no filter."""

    family: str = ""
    host: str = ""
    status: str = ""  # the name of the task's latest event
    task_id: str = ""
    param: str = ""  # a parameter's name ...
    value: str = ""  # ... and/or its exact value

    @property
    def scans(self) -> bool:
        """True when a filter needs a look at rows no index narrows down."""
        return bool(self.status or self.param or self.value)


@dataclass
class TaskPage:
    tasks: list[Any]
    older: int | None  # continue with tasks older than this id
    newer: int | None  # continue with tasks newer than this id
    scanned_to: int | None = None  # the scan window ended this page at this task id


@dataclass
class FamilyTasks:
    """One family in Luigi's tasks: a capped count and its newest task with its latest event."""

    family: str
    tasks: int
    newest_id: int | None
    newest_event: str | None
    newest_ts: datetime | None


def _latest(column: str) -> Subquery:
    from webmon.history.models import TaskEvent  # noqa: PLC0415 - models import this module

    events = TaskEvent.objects.filter(task=OuterRef("pk")).order_by("-ts", "-id")
    if column == "ts":
        return Subquery(events.values("ts")[:1], output_field=LuigiTimestampField())
    return Subquery(events.values(column)[:1])


class TaskQuerySet(ReadOnlyQuerySet):
    def with_latest_event(self) -> TaskQuerySet:
        """Each task's latest event name and time (its status now), as `latest_event` / `latest_ts`."""
        return self.annotate(latest_event=_latest("event_name"), latest_ts=_latest("ts"))

    def indexed_filter(self, f: TaskFilter) -> TaskQuerySet:
        qs = self
        if f.family:
            qs = qs.filter(name=f.family)
        if f.host:
            qs = qs.filter(host=f.host)
        if f.task_id:
            qs = qs.filter(task_id=f.task_id)
        return qs

    def matching(self, f: TaskFilter) -> TaskQuerySet:
        from webmon.history.models import TaskParameter  # noqa: PLC0415

        qs = self.indexed_filter(f)
        if f.status:
            qs = qs.alias(status_now=_latest("event_name")).filter(status_now=f.status)
        if f.param or f.value:
            params = TaskParameter.objects.filter(task=OuterRef("pk"))
            if f.param:
                params = params.filter(name=f.param)
            if f.value:
                params = params.filter(value=f.value)
            qs = qs.filter(Exists(params))
        return qs

    def page(self, f: TaskFilter, *, before: int | None = None, after: int | None = None, size: int,
             window: int) -> TaskPage:
        """One page of tasks, newest first, continuing before or after a task id.

        Queries: 1, or 2 when a filter scans (the window's far end first, from an index).
        """
        going_newer = after is not None and before is None
        indexed, matching = self.indexed_filter(f), self.matching(f)
        if before is not None:
            indexed, matching = indexed.filter(id__lt=before), matching.filter(id__lt=before)
        elif after is not None:
            indexed, matching = indexed.filter(id__gt=after), matching.filter(id__gt=after)
        order = "id" if going_newer else "-id"
        edge = None
        if f.scans:
            found = list(indexed.order_by(order).values_list("id", flat=True)[window - 1 : window])
            if found:
                edge = found[0]
                matching = matching.filter(id__lte=edge) if going_newer else matching.filter(id__gte=edge)
        rows = list(
            matching.order_by(order)
            .with_latest_event()
            .annotate(task_id_head=Substr("task_id", 1, LIST_HEAD))
            .only("id", "name", "host")[: size + 1]
        )
        more = len(rows) > size
        rows = rows[:size]
        # Where the next page in this direction starts: past the last row, or past the scan window.
        far = rows[-1].id if more else edge
        if going_newer:
            rows.reverse()
            newer, older = far, (rows[-1].id if rows else after)
        else:
            older = far
            newer = (rows[0].id if rows else before) if before is not None else None
        scanned_to = edge if (edge is not None and not more) else None
        return TaskPage(rows, older, newer, scanned_to)

    def family_names(self, limit: int) -> list[str]:
        from webmon.history.sqlfuncs import distinct_values  # noqa: PLC0415

        return distinct_values(self.model, "name", limit)

    def families(self, names: Sequence[str], cap: int) -> list[FamilyTasks]:
        """Per family: its tasks counted up to `cap`, its newest task and that task's latest event. Queries: 2.

        Index ranges only: (name, id) for the count and the newest id (all
        families in one query), then the newest tasks by primary key with
        their latest events from (task_id, ts, id, event_name).
        """
        if not names:
            return []
        connection = connections[router.db_for_read(self.model) or "default"]
        q = connection.ops.quote_name
        tasks, name, pk = q(self.model._meta.db_table), q("name"), q("id")
        # The names as a derived table of constants and each figure as one correlated
        # subquery: planned once, not once per family (PostgreSQL spent 25 ms planning
        # 50 members that each held the subqueries). The count stops at `cap`: a
        # cap-th row exists (any order: either index on name serves), or fewer are counted.
        families = " UNION ALL ".join("SELECT %s AS member, %s AS family" for _ in names)
        sql = (
            f"SELECT f.member,"
            f" COALESCE((SELECT %s FROM {tasks} a WHERE a.{name} = f.family LIMIT 1 OFFSET %s),"
            f" (SELECT COUNT(*) FROM {tasks} b WHERE b.{name} = f.family)) AS n,"
            f" (SELECT MAX(c.{pk}) FROM {tasks} c WHERE c.{name} = f.family) AS newest"
            f" FROM ({families}) f"
        )
        params: list[Any] = [cap, cap - 1]
        for i, family in enumerate(names):
            params += [i, family]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = {int(member): (int(n or 0), newest) for member, n, newest in cursor.fetchall()}
        ids = [newest for _, newest in rows.values() if newest is not None]
        latest = {t.id: t for t in self.filter(pk__in=ids).with_latest_event().only("id")} if ids else {}
        out = []
        for i, name in enumerate(names):
            n, newest = rows.get(i, (0, None))
            task = latest.get(newest)
            out.append(FamilyTasks(name, n, newest, task.latest_event if task else None,
                                   task.latest_ts if task else None))
        return out


class ParameterQuerySet(ReadOnlyQuerySet):
    def of_task(self, task_pk: int, n: int) -> list[Any]:
        """A task's parameters by name, values cut to VALUE_HEAD (`value_head`, `value_length`). Primary key range."""
        return list(
            self.filter(task_id=task_pk)
            .order_by("name")
            .defer("value")
            .annotate(value_head=Substr("value", 1, VALUE_HEAD), value_length=Length("value"))[:n]
        )


class EventQuerySet(ReadOnlyQuerySet):
    def of_task(self, task_pk: int, *, before: Cursor | None, n: int) -> list[Any]:
        """Up to n events of a task, newest first (ts, id), before a cursor: an index range."""
        qs = self.filter(task_id=task_pk)
        if before is not None:
            qs = qs.filter(ts__lte=before.started_at).exclude(ts=before.started_at, id__gte=before.id)
        return list(qs.order_by("-ts", "-id")[:n])
