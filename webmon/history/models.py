"""Unmanaged, read-only models of the three tables luigid writes.

They match luigi 3.8.1's `luigi/db_task_history.py` column for column
(TaskRecord -> tasks, TaskEvent -> task_events, TaskParameter ->
task_parameters). Django never creates or migrates them (managed = False and
the router). Facts to keep in mind when querying (docs in DESIGN.md): a
`tasks` row is not a run (reruns append events to it), and some outcomes are
never written here.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

from webmon.exceptions import HistoryIsReadOnly
from webmon.history.fields import LuigiTimestampField


def _refuse(model: type[models.Model] | models.Model) -> NoReturn:
    name = model.__name__ if isinstance(model, type) else type(model).__name__
    raise HistoryIsReadOnly(f"{name} is in Luigi's history DB, which webmon only reads; luigid writes it.")


class ReadOnlyQuerySet(models.QuerySet):
    """Refuses the bulk writes that bypass Model.save() and Model.delete()."""

    def update(self, **kwargs: Any) -> NoReturn:
        _refuse(self.model)

    def delete(self) -> NoReturn:
        _refuse(self.model)

    def bulk_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(self.model)

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(self.model)


class HistoryModel(models.Model):
    """Base of models whose table is in the history DB; the router reads the flag."""

    lives_in_history_db = True

    objects = ReadOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(self)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(self)


# Luigi's columns are nullable unless noted, so the fields are too (null=True
# on text is deliberate: it mirrors the schema, Django does not write it).


class TaskRecord(HistoryModel):
    """A row of `tasks`: one task_id during one luigid lifetime (not one run)."""

    id = models.AutoField(primary_key=True)
    task_id = models.CharField(max_length=200, null=True, db_index=True)  # noqa: DJ001
    name = models.CharField(max_length=128, null=True, db_index=True)  # noqa: DJ001 - the task family
    host = models.CharField(max_length=128, null=True)  # noqa: DJ001

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

    class Meta:
        managed = False
        db_table = "task_parameters"

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
