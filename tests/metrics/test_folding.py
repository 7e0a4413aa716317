"""Ended scheduled runs, counted incrementally: each end once, counts that only grow, no full scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import F

from webmon.metrics import folding
from webmon.metrics.models import Cursor, PendingRun
from webmon.scheduling import states
from webmon.scheduling.models import Schedule, ScheduledRun

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
QUEUED, RUNNING, SUCCESS, FAILED, SKIPPED = (ScheduledRun.QUEUED, ScheduledRun.RUNNING, ScheduledRun.SUCCESS,
                                             ScheduledRun.FAILED, ScheduledRun.SKIPPED)


@pytest.fixture
def schedule(fresh: None) -> Schedule:
    return Schedule.objects.create(name="s", crawl="shop", cron="0 * * * *", start_at=T0 - timedelta(days=1))


def new_run(schedule: Schedule, hour: int, state: str = QUEUED, delay: float | None = None, attempts: int = 1,
            trigger: str = ScheduledRun.SCHEDULE) -> ScheduledRun:
    at = T0 + timedelta(hours=hour)
    started = at + timedelta(seconds=delay) if delay is not None else None
    return ScheduledRun.objects.create(schedule=schedule, logical_time=at, state=state, started_at=started,
                                       attempts=attempts if started else 0, trigger=trigger)


def start(run: ScheduledRun, delay: float) -> None:  # what the daemon's claim does
    ScheduledRun.objects.filter(pk=run.pk).update(state=RUNNING, started_at=run.logical_time + timedelta(seconds=delay),
                                                  attempts=F("attempts") + 1)


def end(run: ScheduledRun, state: str = SUCCESS) -> None:
    ScheduledRun.objects.filter(pk=run.pk).update(state=state)


def ends(schedule: Schedule) -> dict[str, int]:
    row = folding.fold().get(schedule.pk, dict.fromkeys(folding.TOTAL_FIELDS, 0))
    return {state: row[state] for state in folding.FINAL if row[state]}


def delays(schedule: Schedule) -> tuple[int, int, int]:
    row = folding.fold()[schedule.pk]
    return row["delay_count"], row["delay_sum_ms"], row["le_1"]


def test_runs_that_ended_before_the_first_scrape_are_counted_by_one_aggregate(schedule: Schedule) -> None:
    new_run(schedule, 0, SUCCESS, delay=0.5)
    new_run(schedule, 1, SUCCESS, delay=2.0)
    new_run(schedule, 2, FAILED, delay=0.1)
    new_run(schedule, 3, SKIPPED)
    new_run(schedule, 4, SUCCESS, delay=0.3, attempts=2)  # its first start is gone: no delay
    new_run(schedule, 5, SUCCESS, delay=0.3, trigger=ScheduledRun.MANUAL)  # not a scheduled start

    assert ends(schedule) == {"success": 4, "failed": 1, "skipped": 1}
    assert delays(schedule) == (3, 2_600, 2)


def test_a_run_seen_open_is_counted_when_it_ends_once(schedule: Schedule) -> None:
    run = new_run(schedule, 0)
    assert ends(schedule) == {}
    start(run, 0.7)
    assert delays(schedule) == (1, 700, 1)  # counted at its first start
    end(run, FAILED)
    assert ends(schedule) == {"failed": 1}
    assert ends(schedule) == {"failed": 1}
    assert delays(schedule) == (1, 700, 1)
    assert not PendingRun.objects.exists()


def test_a_retry_does_not_count_its_delay_again(schedule: Schedule) -> None:
    run = new_run(schedule, 0)
    start(run, 0.2)
    folding.fold()
    ScheduledRun.objects.filter(pk=run.pk).update(state=QUEUED)  # failed, retries left: queued again
    folding.fold()
    start(run, 600)
    end(run)
    assert ends(schedule) == {"success": 1}
    assert delays(schedule) == (1, 200, 1)


def test_a_run_first_seen_on_its_second_attempt_has_no_delay(schedule: Schedule) -> None:
    run = new_run(schedule, 0)
    folding.fold()
    start(run, 0.2)
    ScheduledRun.objects.filter(pk=run.pk).update(state=QUEUED)
    start(run, 90)  # both between two scrapes
    end(run)
    assert ends(schedule) == {"success": 1}
    assert delays(schedule)[0] == 0


def test_a_rerun_counts_again_and_counts_never_fall(schedule: Schedule) -> None:
    run = new_run(schedule, 0, FAILED, delay=0.4)
    assert ends(schedule) == {"failed": 1}
    assert states.rerun(run, by="ops")
    assert ends(schedule) == {"failed": 1}  # not taken back
    start(run, 3600)
    end(run, SUCCESS)
    assert ends(schedule) == {"failed": 1, "success": 1}
    assert delays(schedule)[0] == 1  # the rerun's start is no scheduling delay


def test_runs_created_between_scrapes_are_counted_whether_open_or_ended(schedule: Schedule) -> None:
    folding.fold()
    new_run(schedule, 0, SUCCESS, delay=1)
    open_run = new_run(schedule, 1, RUNNING, delay=1)
    assert ends(schedule) == {"success": 1}
    end(open_run, ScheduledRun.TIMED_OUT)
    assert ends(schedule) == {"success": 1, "timed_out": 1}
    assert Cursor.objects.get().last_id == open_run.pk


def test_two_scrapes_at_once_never_count_twice(schedule: Schedule, monkeypatch: pytest.MonkeyPatch) -> None:
    new_run(schedule, 0, SUCCESS)
    new_run(schedule, 1, RUNNING, delay=1)
    count_new_ends = folding._count_new_ends

    def other_process_folds_meanwhile(*args: object, **kwargs: object) -> None:
        monkeypatch.setattr(folding, "_count_new_ends", count_new_ends)
        folding.fold()  # wins the claim
        count_new_ends(*args, **kwargs)

    monkeypatch.setattr(folding, "_count_new_ends", other_process_folds_meanwhile)
    assert ends(schedule) == {"success": 1}  # the loser returns what the winner wrote, and writes nothing
    assert Cursor.objects.get().version == 1
    assert PendingRun.objects.count() == 1
    assert delays(schedule)[0] == 1


def test_a_deleted_run_stops_being_pending(schedule: Schedule) -> None:
    run = new_run(schedule, 0)
    folding.fold()
    run.delete()
    assert ends(schedule) == {}
    assert not PendingRun.objects.exists()


def test_a_scrape_without_changes_writes_nothing(schedule: Schedule, num_queries) -> None:
    new_run(schedule, 0, SUCCESS)
    new_run(schedule, 1, RUNNING, delay=1)
    folding.fold()
    with num_queries(default=5, history=0):
        # 1 cursor, 2 highest run id, 3 totals, 4 pending runs, 5 open runs
        folding.fold()


def test_a_big_backlog_is_counted_over_several_scrapes(schedule: Schedule, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folding, "CATCH_UP", 2)
    for hour in range(5):
        new_run(schedule, hour, SUCCESS, delay=0.5)
    open_run = new_run(schedule, 5, RUNNING, delay=0.5)

    assert ends(schedule) == {"success": 2}
    assert ends(schedule) == {"success": 4}
    assert ends(schedule) == {"success": 5}  # and the open run is pending now
    end(open_run)
    assert ends(schedule) == {"success": 6}
    assert delays(schedule) == (6, 3000, 6)


FOLD_SCRIPT = """
import json
from datetime import UTC, datetime, timedelta
from webmon.metrics import folding
from webmon.scheduling.models import Schedule, ScheduledRun
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
s = Schedule.objects.create(name="s", crawl="shop", cron="0 * * * *", start_at=T0)
ScheduledRun.objects.create(schedule=s, logical_time=T0, state="success", attempts=1,
                            started_at=T0 + timedelta(seconds=1.5))
ScheduledRun.objects.create(schedule=s, logical_time=T0 + timedelta(hours=1), state="failed", attempts=1,
                            started_at=T0 + timedelta(hours=1, milliseconds=250))
ScheduledRun.objects.create(schedule=s, logical_time=T0 + timedelta(hours=2), state="running", attempts=1,
                            started_at=T0 + timedelta(hours=2, seconds=40))
print(json.dumps(folding.fold()[s.pk], sort_keys=True))
"""
EXPECTED_FOLD = {"success": 1, "failed": 1, "skipped": 0, "timed_out": 0, "delay_count": 3, "delay_sum_ms": 41750,
                 "le_0_25": 1, "le_0_5": 1, "le_1": 1, "le_2": 2, "le_5": 2, "le_10": 2, "le_30": 2, "le_60": 3,
                 "le_300": 3}


def _fold_on(manage, url: str) -> dict:
    env = {"DATABASE_URL": url}
    migrated = manage("migrate", "--no-input", env=env)
    assert migrated.returncode == 0, migrated.stderr
    done = manage("shell", "-c", FOLD_SCRIPT, env=env)
    assert done.returncode == 0, done.stderr
    import json

    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.postgres
def test_the_fold_on_postgresql(manage, postgres_url: str) -> None:
    assert _fold_on(manage, postgres_url) == EXPECTED_FOLD


@pytest.mark.mariadb
def test_the_fold_on_mariadb(manage, mariadb_url: str) -> None:
    assert _fold_on(manage, mariadb_url) == EXPECTED_FOLD


def test_the_fold_on_sqlite_in_a_fresh_process(manage, tmp_path) -> None:
    assert _fold_on(manage, f"sqlite:///{tmp_path}/webmon.db") == EXPECTED_FOLD
