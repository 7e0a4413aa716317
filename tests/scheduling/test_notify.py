"""Notices: a real local webhook receiver gets each down and recovery notice exactly once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.db import connection, connections
from django.test import override_settings

from tests.scheduling.schedule_world import (  # noqa: F401
    T0,
    admin_client_fixture,
    fresh_fixture,
    make_run,
    make_schedule,
    manager_fixture,
)
from webmon.scheduling import notify, states
from webmon.scheduling.models import Channel, Delivery, Schedule, ScheduledRun, ScheduleEvent

pytestmark = pytest.mark.usefixtures("fresh")


class Receiver:
    """A webhook receiver on 127.0.0.1: records each POST; answers `status` with `body`."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status, self.body = 200, b"ok"
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers["Content-Length"])
                receiver.posts.append(json.loads(self.rfile.read(length)))
                receiver.paths.append(self.path)
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def outbox() -> Iterator[list]:
    mail.outbox = []
    with override_settings(WEBMON_BASE_URL="https://mon.example.com"):
        yield mail.outbox


def schedule_with(*channels: Channel, state: str = Schedule.UP) -> Schedule:
    schedule = make_schedule(state=state)
    schedule.channels.set(channels)
    return schedule


def fail(schedule: Schedule, at=T0, reason: str = "exit code 30: a task failed: ConnectionError: refused"):
    run = make_run(schedule, at, ScheduledRun.FAILED, reason=reason)
    return run, states.record_outcome(schedule, run, at + timedelta(minutes=2))


def test_a_down_notice_reaches_the_webhook_exactly_once_then_a_recovery(receiver: Receiver) -> None:
    hook = Channel.objects.create(name="hook", kind="webhook", target=f"{receiver.url}/hook")
    schedule = schedule_with(hook)
    run, _ = fail(schedule)
    assert notify.send_pending(T0 + timedelta(minutes=3)) == 1
    assert notify.send_pending(T0 + timedelta(minutes=4)) == 0
    assert receiver.posts == [
        {
            "schedule": "demo-hourly",
            "task": "RunCrawl",
            "crawl": "demo",
            "state": "down",
            "reason": "failed",
            "detail": "exit code 30: a task failed: ConnectionError: refused",
            "run_url": f"https://mon.example.com/schedules/{schedule.pk}/runs/{run.pk}/",
            "at": (T0 + timedelta(minutes=2)).isoformat(),
        }
    ]
    fixed = make_run(schedule, T0 + timedelta(hours=1), ScheduledRun.SUCCESS)
    states.record_outcome(schedule, fixed, T0 + timedelta(hours=1, minutes=5))
    assert notify.send_pending(T0 + timedelta(hours=1, minutes=6)) == 1
    assert notify.send_pending(T0 + timedelta(hours=1, minutes=7)) == 0
    assert [(p["state"], p["reason"]) for p in receiver.posts] == [("down", "failed"), ("up", "recovered")]
    assert list(Delivery.objects.values_list("ok", "error")) == [(True, ""), (True, "")]


def test_late_pause_and_first_success_send_nothing(receiver: Receiver) -> None:
    schedule = schedule_with(
        Channel.objects.create(name="hook", kind="webhook", target=receiver.url + "/"), state=Schedule.NEW
    )
    states.record_outcome(schedule, make_run(schedule, T0), T0)  # new -> up: "success"
    states.mark_late(schedule, T0 + timedelta(hours=2))
    states.pause(schedule, T0 + timedelta(hours=3), "alice")
    assert ScheduleEvent.objects.count() == 3
    assert notify.send_pending(T0 + timedelta(hours=4)) == 0 and receiver.posts == []


def test_two_daemons_sending_at_once_deliver_one_notice(receiver: Receiver, tmp_path: Path) -> None:
    """Threads with their own connections to one SQLite file race for the claim."""
    db = connections["default"]
    original = db.settings_dict["NAME"]
    errors: list[BaseException] = []

    def in_thread(fn) -> threading.Thread:  # noqa: ANN001
        def body() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
            finally:
                connection.close()

        return threading.Thread(target=body)

    def setup() -> None:
        with connection.schema_editor() as editor:
            for model in (Channel, Schedule, ScheduledRun, ScheduleEvent, Delivery):
                editor.create_model(model)
        hook = Channel.objects.create(name="hook", kind="webhook", target=f"{receiver.url}/hook")
        fail(schedule_with(hook))

    counts: list[int] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        barrier.wait()
        counts.append(notify.send_pending(T0 + timedelta(minutes=3)))

    # New connections (only the threads' ones) open this file; the main thread's in-memory DB stays open.
    db.settings_dict["NAME"] = str(tmp_path / "race.db")
    try:
        first = in_thread(setup)
        first.start()
        first.join()
        racers = [in_thread(send), in_thread(send)]
        for t in racers:
            t.start()
        for t in racers:
            t.join(30)
    finally:
        db.settings_dict["NAME"] = original
    assert not errors, errors
    assert sorted(counts) == [0, 1]
    assert len(receiver.posts) == 1 and receiver.posts[0]["reason"] == "failed"


def test_slack_payload(receiver: Receiver) -> None:
    schedule = schedule_with(
        Channel.objects.create(
            name="slack", kind="webhook", payload_format="slack", target=f"{receiver.url}/services/T0/B0/XYZ"
        )
    )
    run, _ = fail(schedule, reason="exit code 30: a task failed: KeyError: <price> & more")
    notify.send_pending(T0 + timedelta(minutes=3))
    (body,) = receiver.posts
    assert body["text"] == "[crawlops] demo-hourly is DOWN: failed"
    (block,) = body["blocks"]
    assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
    text = block["text"]["text"]
    assert text.startswith("*demo-hourly is DOWN: failed*\nCrawl: demo\nTick: 2026-11-21 12:00 UTC\n")
    assert "Error: exit code 30: a task failed: KeyError: &lt;price&gt; &amp; more" in text
    assert text.endswith(f"<https://mon.example.com/schedules/{schedule.pk}/runs/{run.pk}/|Open the run>")


def test_dingtalk_payload(receiver: Receiver) -> None:
    schedule = schedule_with(
        Channel.objects.create(
            name="ding",
            kind="webhook",
            payload_format="dingtalk",
            target=f"{receiver.url}/robot/send?access_token=abcdef123",
        )
    )
    run, _ = fail(schedule)
    notify.send_pending(T0 + timedelta(minutes=3))
    (body,) = receiver.posts
    assert receiver.paths == ["/robot/send?access_token=abcdef123"]
    assert body["msgtype"] == "markdown" and set(body) == {"msgtype", "markdown"}
    assert body["markdown"]["title"] == "[crawlops] demo-hourly is DOWN: failed"
    text = body["markdown"]["text"]
    assert text.startswith("### [crawlops] demo-hourly is DOWN: failed\n\nCrawl: demo\n\n")
    assert "Error: exit code 30: a task failed: ConnectionError: refused" in text
    assert text.endswith(f"[Open the run](https://mon.example.com/schedules/{schedule.pk}/runs/{run.pk}/)")


def test_email_names_the_error_line_and_links_to_the_run(outbox: list) -> None:
    schedule = schedule_with(Channel.objects.create(name="ops", kind="email", target="ops@example.com, b@example.com"))
    run, _ = fail(schedule)
    assert notify.send_pending(T0 + timedelta(minutes=3)) == 1
    (message,) = mail.outbox
    assert message.subject == "[crawlops] demo-hourly is DOWN: failed"
    assert message.to == ["ops@example.com", "b@example.com"]
    assert "Error: exit code 30: a task failed: ConnectionError: refused" in message.body
    assert f"Run: https://mon.example.com/schedules/{schedule.pk}/runs/{run.pk}/" in message.body


def test_a_failing_webhook_records_its_error_without_the_secret_and_still_mails(receiver: Receiver) -> None:
    receiver.status, receiver.body = 403, b'{"errcode":310000,"errmsg":"token s3cr3t-token-value rejected"}'
    hook = Channel.objects.create(
        name="ding",
        kind="webhook",
        payload_format="dingtalk",
        target=f"{receiver.url}/robot/send?access_token=s3cr3t-token-value",
    )
    dead = Channel.objects.create(name="dead", kind="webhook", target="http://127.0.0.1:9/hook/s3cr3t-path-value")
    email = Channel.objects.create(name="ops", kind="email", target="ops@example.com")
    schedule = schedule_with(hook, dead, email)
    fail(schedule)
    assert notify.send_pending(T0 + timedelta(minutes=3)) == 1
    deliveries = {d.channel.name: d for d in Delivery.objects.select_related("channel")}
    assert not deliveries["ding"].ok and deliveries["ding"].error.startswith(
        f"HTTP 403 from 127.0.0.1:{receiver.url.rsplit(':', 1)[1]}"
    )
    assert not deliveries["dead"].ok and deliveries["dead"].error == "could not connect to 127.0.0.1:9"
    assert deliveries["ops"].ok and len(mail.outbox) == 1
    assert all("s3cr3t" not in d.error for d in deliveries.values())


def test_a_notice_of_a_missed_tick_links_to_its_run() -> None:
    schedule = make_schedule(state=Schedule.UP)
    schedule.channels.set([Channel.objects.create(name="ops", kind="email", target="ops@example.com")])
    run = make_run(schedule, T0, ScheduledRun.SKIPPED, reason="missed")
    states.record_outcome(schedule, run, T0)
    notify.send_pending(T0)
    (message,) = mail.outbox
    assert message.subject == "[crawlops] demo-hourly is DOWN: missed"
