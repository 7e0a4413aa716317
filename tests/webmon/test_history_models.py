"""Reading a history DB written by Luigi itself through the unmanaged models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connections
from django.db.models import Max
from webmon_support import LuigiHistory

from webmon.exceptions import HistoryIsReadOnly
from webmon.history.models import TaskEvent, TaskParameter, TaskRecord
from webmon.history.timestamps import aware


def test_tasks_events_and_parameters_read_back_as_luigi_wrote_them(history_db: LuigiHistory) -> None:
    tasks = {t.task_id: t for t in TaskRecord.objects.all()}
    assert set(tasks) == {"RunCrawl_demo_a1", "FetchPages_shop_b2"}
    ok = tasks["RunCrawl_demo_a1"]
    assert (ok.name, ok.host) == ("RunCrawl", "worker-1")
    assert [e.event_name for e in ok.events.order_by("id")] == ["PENDING", "RUNNING", "DONE"]
    assert [e.event_name for e in tasks["FetchPages_shop_b2"].events.order_by("id")] == ["PENDING", "RUNNING", "FAILED"]
    assert dict(ok.parameters.values_list("name", "value")) == {"crawl": "demo", "at": "2024-05-01T10:00"}
    assert TaskParameter.objects.get(pk=(ok.id, "crawl")).value == "demo"


def test_event_timestamps_come_back_as_aware_utc(history_db: LuigiHistory) -> None:
    events = list(TaskEvent.objects.all())
    assert len(events) == 6
    for event in events:
        assert event.ts.tzinfo is UTC
        assert history_db.before <= event.ts <= history_db.after


def test_aggregated_and_filtered_timestamps_are_aware_utc_too(history_db: LuigiHistory) -> None:
    latest = TaskEvent.objects.aggregate(latest=Max("ts"))["latest"]
    assert latest.tzinfo is UTC
    assert history_db.before <= latest <= history_db.after
    assert TaskEvent.objects.filter(ts__gte=history_db.before, ts__lte=history_db.after).count() == 6
    assert not TaskEvent.objects.filter(ts__gt=history_db.after).exists()
    assert TaskEvent.objects.values_list("ts", flat=True).first().tzinfo is UTC


def test_history_models_refuse_to_write(history_db: LuigiHistory) -> None:
    task = TaskRecord.objects.first()
    with pytest.raises(HistoryIsReadOnly, match="TaskRecord is in Luigi's history DB, which webmon only reads"):
        task.save()
    with pytest.raises(HistoryIsReadOnly):
        task.delete()
    with pytest.raises(HistoryIsReadOnly):
        TaskEvent.objects.create(task=task, event_name="DONE", ts=datetime.now(UTC))
    with pytest.raises(HistoryIsReadOnly):
        task.events.update(event_name="DONE")
    with pytest.raises(HistoryIsReadOnly):
        TaskParameter.objects.filter(task=task).delete()


def test_even_raw_sql_cannot_write_the_history_db(history_db: LuigiHistory) -> None:
    with pytest.raises(DatabaseError, match="readonly database"), connections["history"].cursor() as cursor:
        cursor.execute("DELETE FROM task_events")
    assert TaskEvent.objects.count() == 6


def test_aware_reads_a_naive_luigi_timestamp_as_utc() -> None:
    assert aware(datetime(2024, 5, 1, 10, 0, 30, 123)) == datetime(2024, 5, 1, 10, 0, 30, 123, tzinfo=UTC)
    assert aware(datetime(2024, 5, 1, 10, 0)).tzinfo is UTC


def test_aware_keeps_the_instant_of_an_already_aware_value() -> None:
    from zoneinfo import ZoneInfo

    paris = datetime(2024, 5, 1, 12, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert aware(paris) == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert aware(paris).tzinfo is UTC
