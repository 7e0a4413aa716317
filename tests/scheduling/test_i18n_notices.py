"""Notices in the channel's language (Channel.language), else WEBMON_NOTICE_LANGUAGE (issue 14)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.test import Client, override_settings

from tests.scheduling.schedule_world import T0, fresh_fixture, make_run, make_schedule, manager_fixture  # noqa: F401
from webmon.scheduling import notify, states
from webmon.scheduling.limits import LIMIT
from webmon.scheduling.models import Channel, ScheduledRun, ScheduleEvent
from webmon.scheduling.quality import DATA_QUALITY

pytestmark = pytest.mark.usefixtures("fresh")


class Posts(list):
    url = ""


@pytest.fixture
def posts() -> Iterator[Posts]:
    """A webhook receiver on 127.0.0.1; the list of what it was sent."""
    received = Posts()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def outbox() -> Iterator[list]:
    mail.outbox = []
    with override_settings(WEBMON_BASE_URL="https://mon.example.com"):
        yield mail.outbox


def go_down(*channels: Channel) -> None:
    schedule = make_schedule(state="up")
    schedule.channels.set(channels)
    run = make_run(schedule, T0, ScheduledRun.TIMED_OUT, reason="timed out after 600 s")
    states.record_outcome(schedule, run, T0 + timedelta(minutes=2))
    assert notify.send_pending(T0 + timedelta(minutes=3)) == 1


def test_each_channel_gets_the_notice_in_its_language(outbox: list, posts: Posts) -> None:
    go_down(
        Channel.objects.create(name="ops-tw", kind="email", target="ops@example.tw", language="zh-hant"),
        Channel.objects.create(name="ops-cn", kind="email", target="ops@example.cn", language="zh-hans"),
        Channel.objects.create(name="ops", kind="email", target="ops@example.com"),
        Channel.objects.create(name="chat-cn", kind="webhook", target=posts.url, payload_format="dingtalk",
                               language="zh-hans"),
        Channel.objects.create(name="hook", kind="webhook", target=posts.url, language="zh-hant"),
    )
    by_to = {m.to[0]: m for m in outbox}
    assert by_to["ops@example.tw"].subject == "[crawlops] demo-hourly 異常：逾時"
    assert "爬蟲：demo" in by_to["ops@example.tw"].body and "時間：2026-11-21 12:02:00 UTC" in by_to["ops@example.tw"].body
    assert "輪次：2026-11-21 12:00 UTC" in by_to["ops@example.tw"].body
    assert by_to["ops@example.cn"].subject == "[crawlops] demo-hourly 异常：超时"
    assert "运行：https://mon.example.com/schedules/" in by_to["ops@example.cn"].body
    assert by_to["ops@example.com"].subject == "[crawlops] demo-hourly is DOWN: timed out"  # the default: en
    dingtalk, plain = (posts[0], posts[1]) if "msgtype" in posts[0] else (posts[1], posts[0])
    assert dingtalk["markdown"]["title"] == "[crawlops] demo-hourly 异常：超时"
    assert "[打开这次运行](https://mon.example.com/schedules/" in dingtalk["markdown"]["text"]
    # The json payload is for programs: codes, not words, whatever the channel's language.
    assert (plain["state"], plain["reason"], plain["detail"]) == ("down", "timed_out", "timed out after 600 s")


@override_settings(WEBMON_NOTICE_LANGUAGE="zh-hant")
def test_a_channel_without_a_language_uses_the_default_from_settings(outbox: list) -> None:
    go_down(Channel.objects.create(name="ops", kind="email", target="ops@example.com"),
            Channel.objects.create(name="ops-en", kind="email", target="en@example.com", language="en"))
    by_to = {m.to[0]: m for m in outbox}
    assert by_to["ops@example.com"].subject == "[crawlops] demo-hourly 異常：逾時"
    assert by_to["en@example.com"].subject == "[crawlops] demo-hourly is DOWN: timed out"


VIOLATIONS = ["max_item_drop: 20 items, 50% fewer than the median of the last 1 ticks (40); at most 30% allowed",
              "coverage.description: 0% of the items have description, less than 95%"]


def quality_event(verdict: str, *channels: Channel) -> ScheduleEvent:
    """A data_quality event as webmon/scheduling/quality.py records it: the verdict, then the stored sentences."""
    schedule = make_schedule(state="up")
    schedule.channels.set(channels)
    run = make_run(schedule, T0, ScheduledRun.SUCCESS if verdict == "warn" else ScheduledRun.FAILED)
    return ScheduleEvent.objects.create(schedule=schedule, at=T0 + timedelta(minutes=2), old_state="up",
                                        new_state="up", reason=DATA_QUALITY, detail="\n".join([verdict, *VIOLATIONS]),
                                        run=run)


@pytest.mark.parametrize("verdict, hant, hans, english", [
    ("warn", "本輪完成，但有警告", "本轮完成，但有警告", "tick done with warnings"),
    ("fail", "本輪失敗", "本轮失败", "tick failed"),
])
def test_a_data_quality_notice_is_in_the_channels_language_with_the_stored_sentences(
        outbox: list, manager: Client, verdict: str, hant: str, hans: str, english: str) -> None:
    event = quality_event(
        verdict,
        Channel.objects.create(name="ops-tw", kind="email", target="ops@example.tw", language="zh-hant"),
        Channel.objects.create(name="ops-cn", kind="email", target="ops@example.cn", language="zh-hans"),
        Channel.objects.create(name="ops", kind="email", target="ops@example.com"),
    )
    assert notify.send_pending(T0 + timedelta(minutes=3)) == 1
    by_to = {m.to[0]: m for m in outbox}
    assert by_to["ops@example.tw"].subject == f"[crawlops] demo-hourly 資料品質：2 個監控項未通過（{hant}）"
    assert by_to["ops@example.cn"].subject == f"[crawlops] demo-hourly 数据质量：2 个监控项未通过（{hans}）"
    assert by_to["ops@example.com"].subject == f"[crawlops] demo-hourly: data quality, 2 monitors broken ({english})"
    # The violations are the worker's sentences, stored in the run's stats and the event: in English, as stored.
    for sentence in VIOLATIONS:
        assert f"未通過：{sentence}" in by_to["ops@example.tw"].body
        assert f"未通过：{sentence}" in by_to["ops@example.cn"].body
        assert f"Violation: {sentence}" in by_to["ops@example.com"].body
    # The schedule's page names the event's reason in the page's language.
    page = manager.get(f"/schedules/{event.schedule.pk}/", HTTP_ACCEPT_LANGUAGE="zh-TW").content.decode()
    assert f'data-reason="{DATA_QUALITY}"' in page and "<td>資料品質</td>" in page
    page = manager.get(f"/schedules/{event.schedule.pk}/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "<td>数据质量</td>" in page


LIMIT_SENTENCE = ("max_pages: the crawl reached its limit of 10,000 pages; 200 more URLs found were not fetched, "
                  "so the data may be incomplete")


def test_a_limit_notice_is_in_the_channels_language_and_its_webhook_lists_the_limits(
        outbox: list, manager: Client, posts: Posts) -> None:
    schedule = make_schedule(state="up")
    schedule.channels.set([
        Channel.objects.create(name="ops-tw", kind="email", target="ops@example.tw", language="zh-hant"),
        Channel.objects.create(name="ops-cn", kind="email", target="ops@example.cn", language="zh-hans"),
        Channel.objects.create(name="ops", kind="email", target="ops@example.com"),
        Channel.objects.create(name="hook", kind="webhook", target=posts.url),
    ])
    run = make_run(schedule, T0, ScheduledRun.SUCCESS)
    ScheduleEvent.objects.create(schedule=schedule, at=T0 + timedelta(minutes=2), old_state="up", new_state="up",
                                 reason=LIMIT, detail=f"warn\n{LIMIT_SENTENCE}", run=run)
    assert notify.send_pending(T0 + timedelta(minutes=3)) == 1
    by_to = {m.to[0]: m for m in outbox}
    assert by_to["ops@example.tw"].subject == "[crawlops] demo-hourly：抓取達到 1 個上限（本輪完成，但有警告）"
    assert by_to["ops@example.cn"].subject == "[crawlops] demo-hourly：抓取达到 1 个上限（本轮完成，但有警告）"
    assert by_to["ops@example.com"].subject == "[crawlops] demo-hourly: the crawl reached 1 limit (tick done with warnings)"
    assert f"上限：{LIMIT_SENTENCE}" in by_to["ops@example.tw"].body
    assert f"Limit: {LIMIT_SENTENCE}" in by_to["ops@example.com"].body
    (body,) = posts
    assert {k: body[k] for k in ("reason", "verdict", "limits", "detail")} == {
        "reason": "limit", "verdict": "warn", "limits": [LIMIT_SENTENCE], "detail": LIMIT_SENTENCE}
    page = manager.get(f"/schedules/{schedule.pk}/", HTTP_ACCEPT_LANGUAGE="zh-TW").content.decode()
    assert 'data-reason="limit"' in page and "<td>達到上限</td>" in page
