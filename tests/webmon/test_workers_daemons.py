"""The Workers page's trigger daemons: each host's daemons, their state and slots, the scheduled runs they run now.

Heartbeat rows are made through the model (other hosts' daemons) and by a real
`Trigger.heartbeat`; the scheduled runs are rows in the running state, as a
daemon's claim leaves them. A real daemon process on PostgreSQL, stopped by
SIGTERM, is tests/scheduling/test_daemon_rows.py.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client, override_settings
from history_seed import HistorySeed

from tests.conftest import Luigid, free_port
from webmon.monitor.templatetags.monitor import host_anchor
from webmon.scheduling.daemon import Trigger
from webmon.scheduling.models import DaemonHeartbeat, Schedule, ScheduledRun, ScheduleEvent

NumQueries = Callable[..., AbstractContextManager[None]]


@pytest.fixture(autouse=True)
def _no_daemons(webmon_db: None) -> Iterator[None]:
    """The in-memory webmon DB is shared by the whole session: start and end without daemons or runs."""

    def empty() -> None:
        for model in (ScheduleEvent, ScheduledRun, Schedule, DaemonHeartbeat):
            model.objects.all().delete()

    empty()
    yield
    empty()


def luigid_down() -> AbstractContextManager[None]:
    return override_settings(LUIGID_URL=f"http://127.0.0.1:{free_port()}")


def section(body: str, host: str) -> str:
    start = body.index(f'<section class="host" id="{host_anchor(host)}"')
    return body[start:body.index("</section>", start)]


def daemon_row(html: str, name: str) -> str:
    start = html.index(f'<tr class="daemon" data-daemon="{name}">')
    return html[start:html.index("</tr>", start)]


def beat(name: str, seconds_ago: float, slots: int = 0, started_hours_ago: float = 1) -> DaemonHeartbeat:
    now = datetime.now(UTC)
    return DaemonHeartbeat.objects.create(name=name, started_at=now - timedelta(hours=started_hours_ago),
                                          beat_at=now - timedelta(seconds=seconds_ago), slots=slots)


def schedule(name: str) -> Schedule:
    return Schedule.objects.create(name=name, crawl="demo", cron="*/5 * * * *",
                                   start_at=datetime.now(UTC) - timedelta(days=1))


def running(s: Schedule, claimed_by: str, tick: datetime, minutes_ago: float = 3, pid: int = 4242) -> ScheduledRun:
    """A scheduled run as a daemon's claim and spawn leave it."""
    return ScheduledRun.objects.create(schedule=s, logical_time=tick, state=ScheduledRun.RUNNING, claimed_by=claimed_by,
                                       pid=pid, attempts=1, started_at=datetime.now(UTC) - timedelta(minutes=minutes_ago))


TICK = datetime(2026, 11, 30, 8, 15, tzinfo=UTC)


def test_each_hosts_daemons_their_state_slots_and_what_they_run(
    client: Client, history: HistorySeed, num_queries: NumQueries
) -> None:
    # host-a: a real daemon's heartbeat (3 slots), and an older daemon of it silent for a minute.
    Trigger(name="host-a:101", slots=3).heartbeat(datetime.now(UTC))
    beat("host-a:100", seconds_ago=60, slots=3, started_hours_ago=5)
    # host-b: its only daemon silent for 10 minutes (TRIGGER_HOST_LOST_S is 120): the host is lost.
    beat("host-b:7", seconds_ago=600, slots=1)
    nightly, hourly = schedule("nightly-shop"), schedule("hourly-news")
    run_a = running(nightly, "host-a:101", TICK)
    run_b = running(hourly, "host-b:7", TICK - timedelta(hours=1), minutes_ago=20, pid=999)
    with luigid_down(), num_queries(default=4, history=2):
        response = client.get("/workers/")
    assert response.status_code == 200
    body = response.content.decode()
    assert [h.name for h in response.context["hosts"]] == ["host-a", "host-b"]  # most recently seen first

    a = section(body, "host-a")
    assert '<p class="host-slots">Trigger daemons: runs 1 of 3 slots.</p>' in a
    assert "host-lost" not in a
    up = daemon_row(a, "host-a:101")
    assert '<td class="pid">101</td>' in up
    assert '<td class="state daemon-state-up">up</td>' in up
    assert '<td class="slots">runs 1 of 3 slots</td>' in up
    # The run it runs, linked to its schedule and to the run on the schedule's page.
    assert (f'<div class="daemon-run" data-scheduled-run="{run_a.pk}"><a class="daemon-schedule" '
            f'href="/schedules/{nightly.pk}/">nightly-shop</a>') in up
    assert f'<a class="daemon-tick" href="/schedules/{nightly.pk}/runs/{run_a.pk}/">2026-11-30 08:15:00 UTC</a>' in up
    assert "<small>started 3 min " in up and " ago · pid 4242</small>" in up
    silent = daemon_row(a, "host-a:100")
    assert '<td class="state daemon-state-silent">silent</td>' in silent
    assert '<td class="started">5 h 0' in silent
    assert '<td class="slots">runs 0 of 3 slots</td>' in silent and '<td class="running">—</td>' in silent

    b = section(body, "host-b")
    assert '<span class="host-lost daemon-state-lost">lost</span>' in b
    assert '<p class="host-slots">Trigger daemons: no daemon up.</p>' in b
    lost = daemon_row(b, "host-b:7")
    assert '<td class="state daemon-state-lost">lost</td>' in lost
    assert '<td class="last-beat">10 min ' in lost
    assert '<td class="slots">runs 1 of 1 slot</td>' in lost
    assert f'href="/schedules/{hourly.pk}/runs/{run_b.pk}/"' in lost and "pid 999" in lost

    # The schedule's link works: the run is shown on its schedule's page.
    assert client.get(f"/schedules/{nightly.pk}/runs/{run_a.pk}/", follow=True).status_code == 200


def test_the_real_heartbeat_stores_the_daemons_slots_every_round(client: Client, history: HistorySeed) -> None:
    trigger = Trigger(name="host-s:1", slots=2)
    trigger.heartbeat(datetime.now(UTC) - timedelta(seconds=5))
    row = DaemonHeartbeat.objects.get(name="host-s:1")
    assert row.slots == 2
    trigger.slots = 0  # as a restart with --slots 0 would; the same row is updated
    trigger.heartbeat(datetime.now(UTC))
    assert DaemonHeartbeat.objects.get(name="host-s:1").slots == 0
    with luigid_down():
        body = client.get("/workers/").content.decode()
    assert '<td class="slots">runs 0, no slot limit</td>' in daemon_row(section(body, "host-s"), "host-s:1")


def test_a_host_is_one_section_for_its_daemons_luigid_workers_and_run_records(
    client: Client, luigid: Luigid, history: HistorySeed, num_queries: NumQueries
) -> None:
    beat("host-m:5", seconds_ago=2, slots=4)
    query = urllib.parse.urlencode({"data": json.dumps({"worker": "Worker(host-m)", "info": [["host", "host-m"],
                                                                                             ["pid", 55]]})})
    with urllib.request.urlopen(f"{luigid.url}/api/add_worker?{query}", timeout=5):
        pass
    history.run(host="host-m", status="done", started_at=datetime.now(UTC) - timedelta(minutes=30))
    with override_settings(LUIGID_URL=luigid.url), num_queries(default=4, history=2):
        response = client.get("/workers/")
    body = response.content.decode()
    assert [h.name for h in response.context["hosts"]].count("host-m") == 1
    host = section(body, "host-m")
    assert '<tr class="daemon" data-daemon="host-m:5">' in host
    assert 'data-worker-id="Worker(host-m)"' in host
    assert '<span class="count count-done">1 done</span>' in host


def test_hostile_host_daemon_and_schedule_names_are_escaped(client: Client, history: HistorySeed) -> None:
    host = '<script>alert("h")</script>'
    beat(f"{host}:9", seconds_ago=1)
    s = schedule('<img src=x onerror=alert(1)>"x')
    run = running(s, f"{host}:9", TICK)
    running(s, '<b>gone</b>:"1', TICK - timedelta(minutes=5))  # claimed by a daemon with no row
    with luigid_down():
        response = client.get("/workers/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<script>alert" not in body and "<img src=x" not in body and "<b>gone</b>" not in body
    html = section(body, host)
    assert '<h2 class="host-name">&lt;script&gt;alert(&quot;h&quot;)&lt;/script&gt; ' in html
    assert f'data-daemon="{host.replace("<", "&lt;").replace(">", "&gt;").replace(chr(34), "&quot;")}:9"' in html
    assert (f'href="/schedules/{s.pk}/">&lt;img src=x onerror=alert(1)&gt;&quot;x</a>') in html
    assert f'data-scheduled-run="{run.pk}"' in html
    gone = section(body, "<b>gone</b>")
    assert 'data-daemon="&lt;b&gt;gone&lt;/b&gt;:&quot;1"' in gone
    assert '<td class="pid">&quot;1</td>' in gone


def test_daemons_gone_for_a_day_leave_the_page_but_a_run_they_claimed_stays_shown(
    client: Client, history: HistorySeed
) -> None:
    beat("host-old:1", seconds_ago=2 * 86400)  # crashed two days ago, nothing of it running
    beat("host-old2:1", seconds_ago=3 * 86400)
    s = schedule("weekly")
    run = running(s, "host-old2:1", TICK, minutes_ago=3 * 1440)  # its run is still marked running
    with luigid_down():
        body = client.get("/workers/").content.decode()
    assert "host-old:1" not in body and 'data-host="host-old"' not in body
    row = daemon_row(section(body, "host-old2"), "host-old2:1")
    assert '<td class="last-beat">none in 24 h</td>' in row and '<td class="state daemon-state-lost">lost</td>' in row
    assert '<td class="started">—</td>' in row and '<td class="slots">runs 1</td>' in row
    assert f'data-scheduled-run="{run.pk}"' in row


@pytest.mark.parametrize("n", [1, 20])
def test_the_query_count_does_not_grow_with_daemons_and_runs(
    client: Client, history: HistorySeed, num_queries: NumQueries, n: int
) -> None:
    schedules = [schedule(f"s{i}") for i in range(n)]
    for i in range(n):
        beat(f"host-{i % 5}:{i}", seconds_ago=i, slots=2)
        running(schedules[i], f"host-{i % 5}:{i}", TICK)
    with luigid_down(), num_queries(default=4, history=2):  # session, user, daemons, their runs; two of runs
        body = client.get("/workers/").content.decode()
    assert body.count('<tr class="daemon" ') == n
    assert body.count('<div class="daemon-run" ') == n
    assert body.count('<section class="host" ') == min(n, 5)


def test_with_no_host_at_all_the_page_says_so(client: Client, history: HistorySeed) -> None:
    with luigid_down():
        body = client.get("/workers/").content.decode()
    assert 'id="workers-empty"' in body and "no trigger daemon beat in the last 24 hours" in body
