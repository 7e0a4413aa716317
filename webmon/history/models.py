"""Unmanaged, read-only models of the history DB: Luigi's three tables and our run tables.

They match luigi 3.8.1's `luigi/db_task_history.py` column for column
(TaskRecord -> tasks, TaskEvent -> task_events, TaskParameter ->
task_parameters). Django never creates or migrates them (managed = False and
the router). Facts to keep in mind when querying (docs in DESIGN.md): a
`tasks` row is not a run (reruns append events to it), and some outcomes are
never written here. Their reads are in webmon/history/tasks.py. Our run records (crawl_runs, crawl_run_logs) are the
primary source of the run pages; they are in webmon/history/runs.py.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models

from webmon.history.fields import LuigiTimestampField
from webmon.history.readonly import HistoryModel, ReadOnlyQuerySet
from webmon.history.runs import CrawlRun, CrawlRunLog
from webmon.history.tasks import EventQuerySet, ParameterQuerySet, TaskQuerySet

__all__ = ["CrawlRun", "CrawlRunLog", "HistoryModel", "ReadOnlyQuerySet", "TaskEvent", "TaskParameter", "TaskRecord"]


class TaskEventQuerySet(EventQuerySet):
    def timeline(self, task_id: str, since: datetime, until: datetime, n: int) -> list[TaskEvent]:
        """Events of the luigi task `task_id` between two instants, oldest first.

        A `tasks` row outlives a run (reruns append events to it), so the
        window, not the row, says which events belong to one run. One query
        (tasks.task_id and task_events.task_id are indexed).
        """
        qs = self.filter(task__task_id=task_id, ts__gte=since, ts__lte=until)
        return list(qs.order_by("ts", "id")[:n])


# Luigi's columns are nullable unless noted, so the fields are too (null=True
# on text is deliberate: it mirrors the schema, Django does not write it).


class TaskRecord(HistoryModel):
    """A row of `tasks`: one task_id during one luigid lifetime (not one run)."""

    id = models.AutoField(primary_key=True)
    task_id = models.CharField(max_length=200, null=True, db_index=True)  # noqa: DJ001
    name = models.CharField(max_length=128, null=True, db_index=True)  # noqa: DJ001 - the task family
    host = models.CharField(max_length=128, null=True)  # noqa: DJ001

    objects = TaskQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = "tasks"

    def __str__(self) -> str:
        return f"{self.name} {self.task_id}"


class TaskEvent(HistoryModel):
    """A row of `task_events`: a status change (PENDING, RUNNING, DONE, FAILED) at `ts`."""

    id = models.AutoField(primary_key=True)
    task = models.ForeignKey(
        TaskRecord, models.DO_NOTHING, null=True, db_column="task_id", db_constraint=False, related_name="events"
    )
    event_name = models.CharField(max_length=20, null=True)  # noqa: DJ001
    ts = LuigiTimestampField(db_index=True)  # NOT NULL; aware UTC on read

    objects = TaskEventQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = "task_events"

    def __str__(self) -> str:
        return f"{self.event_name} {self.ts:%Y-%m-%d %H:%M:%S}"


class TaskParameter(HistoryModel):
    """A row of `task_parameters`: one parameter of a task, as text."""

    pk = models.CompositePrimaryKey("task_id", "name")
    task = models.ForeignKey(
        TaskRecord, models.DO_NOTHING, db_column="task_id", db_constraint=False, related_name="parameters"
    )
    name = models.CharField(max_length=128)
    value = models.TextField(null=True)  # noqa: DJ001

    objects = ParameterQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = "task_parameters"

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
