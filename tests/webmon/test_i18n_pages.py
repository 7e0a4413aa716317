"""Every page in English, Traditional and Simplified Chinese; the user's language and time zone (issue 14).

The language comes from the browser's Accept-Language (zh-TW, zh-Hant -> zh-hant; zh-CN, zh-Hans ->
zh-hans), unless the signed-in user chose one on the Settings page: that choice wins. Times are shown
in the user's time zone (UTC by default), always with the zone, and with the UTC time as a title when
the zone is another.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.utils import timezone, translation
from history_seed import HistorySeed

from pipelines import quality
from tests.scheduling.schedule_world import fresh_fixture, make_run, make_schedule  # noqa: F401
from webmon.monitor.models import UserPreference
from webmon.scheduling.models import ScheduledRun

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HEADERS = {"en": "en-US,en;q=0.9", "zh-hant": "zh-TW,zh;q=0.9", "zh-hans": "zh-CN,zh;q=0.9"}


@pytest.fixture(autouse=True)
def luigid_down_and_english_after() -> Iterator[None]:
    """No luigid (its banner is one more translated sentence); the test thread back in English after."""
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        yield
    translation.activate("en")
    timezone.deactivate()


@pytest.fixture
def world(history: HistorySeed, fresh: None) -> dict[str, str]:
    """A crawl with a failed tick, a schedule with runs: the paths of every page."""
    now = timezone.now().replace(second=0, microsecond=0)
    ids = {}
    for hours in (3, 2, 1):
        ids = history.tick("shop", now - timedelta(hours=hours), statuses={"ParsePages": "failed"} if hours == 2 else None)
    history.luigi_task("FetchPages_shop_1a2b", "FetchPages", {"crawl": "shop"},
                       [("PENDING", now - timedelta(hours=1)), ("DONE", now - timedelta(minutes=59))])
    schedule = make_schedule("shop-hourly", crawl="shop")
    make_run(schedule, T0, ScheduledRun.FAILED, reason="exit code 30: boom", attempts=1)
    make_run(schedule, T0 + timedelta(hours=1), ScheduledRun.SUCCESS, attempts=1)
    return {
        "overview": "/",
        "crawl": "/crawl/?name=shop",
        "run": f"/runs/{ids['FetchPages']}/",
        "runs": "/runs/",
        "tasks": "/tasks/",
        "families": "/families/",
        "workers": "/workers/",
        "schedules": "/schedules/",
        "schedule": f"/schedules/{schedule.pk}/",
        "grid": f"/schedules/{schedule.pk}/grid/",
        "settings": "/settings/",
        "admin-schedules": "/admin/scheduling/schedule/",
    }


# A word of each page in each language: (English, Traditional, Simplified).
WORDS = {
    "overview": ("<h1>Overview</h1>", "<h1>總覽</h1>", "<h1>概览</h1>"),
    "crawl": ("Tick duration", "每輪耗時", "每轮耗时"),
    "run": ("<h2>Stats</h2>", "<h2>統計</h2>", "<h2>统计</h2>"),
    "runs": ("<h1>Runs</h1>", "<h1>執行紀錄</h1>", "<h1>运行记录</h1>"),
    "tasks": ("<h1>Tasks</h1>", "<h1>任務</h1>", "<h1>任务</h1>"),
    "families": ("<h1>Task families</h1>", "<h1>任務類別</h1>", "<h1>任务类别</h1>"),
    "workers": ("<h1>Workers</h1>", "<h1>工作程序</h1>", "<h1>工作进程</h1>"),
    "schedules": ("<h1>Schedules</h1>", "<h1>排程</h1>", "<h1>调度计划</h1>"),
    "schedule": ("Next five fire times", "接下來五次觸發時間", "接下来五次触发时间"),
    "grid": ("› grid</h1>", "› 格狀圖</h1>", "› 网格图</h1>"),
    "settings": ('<h1 id="settings-title">Settings</h1>', '<h1 id="settings-title">設定</h1>',
                 '<h1 id="settings-title">设置</h1>'),
    "admin-schedules": ("Select schedule to change", "選擇 排程 來修改", "选择 调度计划 来修改"),
}
# Words of the frame (navigation, footer) that must not stay English on a Chinese page.
NAV = ("Overview", "Task families", "Log out", "Times in")


def language_index(language: str) -> int:
    return {"en": 0, "zh-hant": 1, "zh-hans": 2}[language]


@pytest.fixture
def superuser(webmon_db: None) -> Client:
    user = User.objects.filter(username="i18n-root").first() or User.objects.create_superuser(
        "i18n-root", password="not-a-real-password-9")
    UserPreference.objects.filter(user=user).delete()
    c = Client()
    c.force_login(user)
    return c


@pytest.mark.parametrize("language", ["en", "zh-hant", "zh-hans"])
def test_every_page_renders_in_the_browsers_language(superuser: Client, world: dict[str, str], language: str) -> None:
    for page, path in world.items():
        response = superuser.get(path, HTTP_ACCEPT_LANGUAGE=HEADERS[language])
        assert response.status_code == 200, (page, response.status_code)
        body = response.content.decode()
        word = WORDS[page][language_index(language)]
        assert word in body, f"{page} in {language}: {word!r} not on the page"
        assert response["Content-Language"] == language, page
        if not page.startswith("admin"):
            assert f'<html lang="{language}">' in body, page
            for english in NAV:
                assert (english in body) == (language == "en"), f"{page} in {language}: {english!r}"
        others = [WORDS[page][i] for i in range(3) if i != language_index(language)]
        assert not any(other in body for other in others if other != word), f"{page} in {language}: mixed"


@pytest.mark.parametrize("header, language", [("zh-Hant", "zh-hant"), ("zh-HK", "zh-hant"), ("zh-Hans", "zh-hans"),
                                              ("zh-SG", "zh-hans"), ("fr-FR, zh-CN;q=0.5", "zh-hans"),
                                              ("de-DE", "en")])
def test_accept_language_variants(anonymous: Client, header: str, language: str) -> None:
    response = anonymous.get("/login/", HTTP_ACCEPT_LANGUAGE=header)
    assert response.status_code == 200
    assert f'<html lang="{language}">' in response.content.decode()
    assert "Accept-Language" in response["Vary"]


def test_the_login_page_and_its_error_are_translated(anonymous: Client) -> None:
    response = anonymous.post("/login/", {"username": "nobody", "password": "wrong"}, HTTP_ACCEPT_LANGUAGE="zh-TW")
    body = response.content.decode()
    assert "<h1>登入</h1>" in body and "使用者名稱與密碼不符，請再試一次。" in body


def test_the_users_choice_wins_over_accept_language_and_survives_logging_in_again(superuser: Client,
                                                                                 world: dict[str, str]) -> None:
    user = User.objects.get(username="i18n-root")
    UserPreference.objects.create(user=user, language="zh-hans", time_zone="UTC")
    browser = Client()
    browser.force_login(user)  # a new session: the choice is read at login
    body = browser.get("/runs/", HTTP_ACCEPT_LANGUAGE="zh-TW,zh;q=0.9").content.decode()
    assert "<h1>运行记录</h1>" in body and "執行紀錄" not in body
    body = browser.get("/runs/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "<h1>运行记录</h1>" in body


def csrf_of(body: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)


def test_the_settings_page_saves_language_and_time_zone_with_csrf(webmon_db: None, world: dict[str, str]) -> None:
    user = User.objects.filter(username="i18n-user").first() or User.objects.create_user(
        "i18n-user", password="not-a-real-password-8")
    UserPreference.objects.filter(user=user).delete()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    page = browser.get("/settings/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert '<option value="Asia/Taipei">' in page.content.decode()
    refused = browser.post("/settings/", {"language": "zh-hant", "time_zone": "Asia/Taipei"})
    assert refused.status_code == 403  # no CSRF token
    bad = browser.post("/settings/", {"language": "zh-hant", "time_zone": "Mars/Olympus",
                                      "csrfmiddlewaretoken": csrf_of(page.content.decode())})
    assert bad.status_code == 400 and 'id="settings-errors"' in bad.content.decode()
    saved = browser.post("/settings/", {"language": "zh-hant", "time_zone": "Asia/Taipei",
                                        "csrfmiddlewaretoken": csrf_of(page.content.decode())})
    assert saved.status_code == 302 and saved["Location"] == "/settings/"
    assert saved.cookies["django_language"].value == "zh-hant"
    assert UserPreference.objects.filter(user=user).values_list("language", "time_zone").get() == (
        "zh-hant", "Asia/Taipei")
    after = browser.get("/settings/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "已儲存：頁面使用繁體中文，時間以 Asia/Taipei 顯示。" in after
    assert "時間以 Asia/Taipei 顯示" in after  # the footer
    # Back to the browser's language: the cookie goes, Accept-Language decides again.
    back = browser.post("/settings/", {"language": "", "time_zone": "UTC", "csrfmiddlewaretoken": csrf_of(after)})
    assert back.cookies["django_language"].value == ""  # deleted
    assert "<h1>Runs</h1>" in browser.get("/runs/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_times_are_in_the_users_zone_with_utc_as_title(superuser: Client, fresh: None) -> None:
    schedule = make_schedule("tz-demo", cron="0 * * * *")
    make_run(schedule, T0, ScheduledRun.FAILED, started_at=T0 + timedelta(seconds=5), reason="boom")
    path = f"/schedules/{schedule.pk}/"
    in_utc = superuser.get(path).content.decode()
    assert "Times in UTC" in in_utc
    assert "Tick (UTC)" in in_utc
    assert '<time datetime="2026-11-21T12:00:00+00:00">2026-11-21 12:00</time>' in in_utc  # no title: it is UTC

    user = User.objects.get(username="i18n-root")
    UserPreference.objects.create(user=user, language="en", time_zone="Asia/Taipei")
    browser = Client()
    browser.force_login(user)
    body = browser.get(path).content.decode()
    assert "Times in Asia/Taipei" in body and "Tick (Asia/Taipei)" in body
    # The tick 12:00 UTC is 20:00 in Taipei; hovering shows it in UTC.
    assert '<time datetime="2026-11-21T12:00:00+00:00" title="2026-11-21 12:00 UTC">2026-11-21 20:00</time>' in body
    # A time with its zone in the text says the offset (not "CST", which names three zones).
    assert re.search(r'title="2026-11-21 12:00:05 UTC">2026-11-21 20:00:05</time>', body), "the started column"
    events = browser.get("/schedules/").content.decode()
    assert "Next run (Asia/Taipei)" in events


def test_a_time_with_its_zone_names_the_offset(superuser: Client, history: HistorySeed) -> None:
    ids = history.tick("shop", T0)
    user = User.objects.get(username="i18n-root")
    UserPreference.objects.create(user=user, language="zh-hans", time_zone="Europe/Berlin")
    browser = Client()
    browser.force_login(user)
    body = browser.get(f"/runs/{ids['FetchPages']}/").content.decode()
    # 12:00 UTC on 2026-11-21 is 13:00 in Berlin (winter time, UTC+01:00).
    assert '<time datetime="2026-11-21T12:00:00+00:00" title="2026-11-21 12:00:00 UTC">2026-11-21 13:00:00 UTC+01:00</time>' in body
    assert "时间以 Europe/Berlin 显示" in body


def test_the_runs_filter_reads_its_times_in_the_users_zone(superuser: Client, history: HistorySeed) -> None:
    early, late = history.tick("shop", T0), history.tick("shop", T0 + timedelta(hours=2))
    user = User.objects.get(username="i18n-root")
    UserPreference.objects.create(user=user, language="en", time_zone="Asia/Taipei")
    browser = Client()
    browser.force_login(user)
    # 21:00 in Taipei is 13:00 UTC: only the later tick (14:00 UTC) started after it.
    response = browser.get("/runs/", {"since": "2026-11-21T21:00", "family": "FetchPages"})
    assert [run.id for run in response.context["page"].runs] == [late["FetchPages"]]
    assert "From (Asia/Taipei)" in response.content.decode()
    assert early["FetchPages"] not in [run.id for run in response.context["page"].runs]


# -- data quality (the crawl page's charts, the run page's block, the overview's `warned`) ------------------
# Each language: words of the quality block that must be there, and English ones that must not be.
QUALITY_WORDS = {
    "zh-hant": {
        "crawl": ["<h2>資料品質", "（StoreItems，有報告的最新 2 輪）", "<h3>每輪資料項數</h3>", "<h3>每輪欄位覆蓋率</h3>",
                  'aria-label="每輪中具有各欄位的資料項比例"', "監控項皆通過", "完成，但有警告", "低於 50%",
                  "：20 個資料項，完成，但有警告：</p>", "description 0.0%</title>",
                  "與最近幾輪的中位數相比 -50%；2 個監控項未通過（完成，但有警告）</title>"],
        "run": ['data-verdict="warn">完成，但有警告</small>', "<dt>最近輪次</dt>", "最近 1 輪的中位數為 40，變化 -50%",
                "<dt>Schema 驗證</dt>", "20 個資料項中 5 個無效（25%）", "<th>欄位</th><th>覆蓋率</th><th>監控項</th>",
                "至少 95%：<strong>未通過</strong>", "至少 100%：通過", "<th>測得值</th><th>門檻</th>",
                "<strong>未通過</strong></td>"],
        "overview": ['class="status status-warned">有警告</span>'],
        "first-run": ["此輪之前沒有任何輪次", 'data-verdict="ok">所有監控項皆通過</small>'],
    },
    "zh-hans": {
        "crawl": ["<h2>数据质量", "（StoreItems，有报告的最新 2 轮）", "<h3>每轮数据项数</h3>", "<h3>每轮字段覆盖率</h3>",
                  'aria-label="每轮中具有各字段的数据项比例"', "监控项均通过", "完成，但有警告", "低于 50%",
                  "：20 个数据项，完成，但有警告：</p>", "description 0.0%</title>",
                  "与最近几轮的中位数相比 -50%；2 个监控项未通过（完成，但有警告）</title>"],
        "run": ['data-verdict="warn">完成，但有警告</small>', "<dt>最近轮次</dt>", "最近 1 轮的中位数为 40，变化 -50%",
                "<dt>Schema 校验</dt>", "20 个数据项中 5 个无效（25%）", "<th>字段</th><th>覆盖率</th><th>监控项</th>",
                "至少 95%：<strong>未通过</strong>", "至少 100%：通过", "<th>测量值</th><th>阈值</th>",
                "<strong>未通过</strong></td>"],
        "overview": ['class="status status-warned">有警告</span>'],
        "first-run": ["此轮之前没有任何轮次", 'data-verdict="ok">所有监控项均通过</small>'],
    },
    "en": {
        "crawl": ["<h2>Data quality", "(StoreItems, the newest 2 ticks with a report)", "<h3>Items per tick</h3>",
                  "<h3>Field coverage per tick</h3>", 'aria-label="share of items with each field, per tick"',
                  "monitors held", "done with warnings", "below 50%", ": 20 items, done with warnings:</p>",
                  ": description 0.0%</title>",
                  "-50% against the median of the last ticks; 2 monitors broken (done with warnings)</title>"],
        "run": ['data-verdict="warn">done with warnings</small>', "<dt>Recent ticks</dt>",
                "median 40 of the last 1, change -50%", "<dt>Schema</dt>", "5 of 20 items invalid (25%)",
                "<th>Field</th><th>Coverage</th><th>Monitor</th>", "at least 95%: <strong>broken</strong>",
                "at least 100%: held", "<th>Measured</th><th>Limit</th>", "<strong>broken</strong></td>"],
        "overview": ['class="status status-warned">warned</span>'],
        "first-run": ["none before this tick", 'data-verdict="ok">every monitor held</small>'],
    },
}
QUALITY_ENGLISH = ("Data quality", "Recent ticks", "median 40", "none before this tick", "Items per tick",
                   "Field coverage per tick", "monitors held", "done with warnings", "every monitor held",
                   "below 50%", "not measured", "at least", "held<", ">broken<", "items invalid", "<th>Field</th>",
                   "<th>Measured</th>", "<th>Limit</th>", "Newest tick", "against the median", ">warned<")


def quality_stats(items: int, described: int, invalid: int, recent: list[int]) -> dict:
    """A StoreItems run's stats as the worker writes them: pipelines.quality measures and judges the items."""
    measure = quality.Measure(["title", "description"], {"type": "object", "required": ["price"]})
    for n in range(items):
        fields = {"title": f"product {n}", "description": "words" if n < described else ""}
        measure.observe({"key": f"p{n}", "fields": fields if n < invalid else {**fields, "price": n}})
    monitors = quality.Monitors(min_items=10, max_item_drop=0.3, coverage=(("title", 1.0), ("description", 0.95)),
                                max_invalid_ratio=0.5, on_violation="warn")
    judged = quality.judged(measure.report(items, recent), monitors)
    return {"items": items, "new": 0, "changed": 0, "quality": judged,
            **({"warnings": judged["violations"]} if judged["violations"] else {})}


@pytest.fixture
def quality_world(history: HistorySeed) -> dict[str, object]:
    """Two ticks of crawl shop-q: 40 items, then 20 without descriptions (a redesign): done with warnings."""
    now = timezone.now().replace(second=0, microsecond=0)
    runs, violations = {}, []
    for hours, stats in ((2, quality_stats(40, 40, 0, [])), (1, quality_stats(20, 0, 5, [40]))):
        ids = history.tick("shop-q", now - timedelta(hours=hours))
        history.execute("UPDATE crawl_runs SET stats = :stats WHERE id = :id",
                        {"stats": json.dumps(stats), "id": ids["StoreItems"]})
        runs[hours], violations = ids["StoreItems"], stats["quality"]["violations"]
    assert len(violations) == 2  # max_item_drop and coverage.description; the schema monitor holds at 25%
    return {"crawl": "/crawl/?name=shop-q", "run": f"/runs/{runs[1]}/", "first-run": f"/runs/{runs[2]}/",
            "overview": "/", "violations": violations}


@pytest.mark.parametrize("language", ["zh-hant", "zh-hans", "en"])
def test_the_quality_blocks_are_in_the_pages_language(superuser: Client, quality_world: dict, language: str) -> None:
    for page, words in QUALITY_WORDS[language].items():
        body = superuser.get(quality_world[page], HTTP_ACCEPT_LANGUAGE=HEADERS[language]).content.decode()
        quality_part = body[body.find('id="quality-section"'):] if page != "overview" else body
        for word in words:
            assert word in quality_part, f"{page} in {language}: {word!r} not on the page"
        if language != "en":
            english = [word for word in QUALITY_ENGLISH if word in quality_part.split("</section>")[0]]
            assert english == [], f"{page} in {language}: still English: {english}"
        if page in ("crawl", "run"):
            # The violations' sentences are the worker's, stored in the run's stats: shown as stored, in English.
            for sentence in quality_world["violations"]:
                assert html.escape(sentence) in quality_part, f"{page} in {language}: {sentence!r}"


# -- the items browser: the items page, an item, a tick, the crawl page's link to them ---------------------
ITEMS_WORDS = {
    "zh-hant": {
        "items": ['<h1 id="items-title">爬蟲 <span class="crawl-name">shop</span> 的資料項</h1>',
                  ">2026-01-01 08:00:00 UTC</time>：5 個資料項，新增 1，變更 1，未變更 3。</p>", "<label>搜尋鍵、網址與欄位",
                  '<option value="gone_in">在該輪消失（上一輪還在）', ">2026-01-01 07:30 UTC（4 個資料項）</option>",
                  '<option value="key">依鍵排序</option>', "<th>鍵</th><th>網址</th><th>首次出現（UTC）</th>",
                  "<th>最後出現（UTC）</th><th>最後變更（UTC）</th><th>欄位</th>", 'aria-label="資料項分頁"',
                  'id="items-next" href="', "下一頁 ›</a>", "匯出這些資料項（所有頁面，最新變更在前）：",
                  '>JSON Lines</a>', ">該輪的變化</a>", ">爬蟲頁面</a>"],
        "items-page-2": ["« 第一頁</a>"],
        "items-older": ['<p id="items-inexact" class="note">', "資料項資料庫只保存每個資料項的最新狀態",
                        "該輪的頁面會比對它自己的檔案，列出確切的清單。"],
        "items-bad": ["<li>顯示：不是可選的值；顯示所有資料項。</li>", "<li>排序：不是可選的值；改為最新變更在前。</li>",
                      "<li>輪次：不是像 2026-11-21T07:30（UTC）這樣的時間；改用最新一輪。</li>"],
        "item": ['<h1 id="item-title">資料項 <span class="item-key">a</span></h1>', ">shop 的所有資料項</a>",
                 "<dt>爬蟲</dt>", "<dt>鍵</dt>", "<dt>網址</dt>", "<dt>首次出現</dt>", "<dt>最後出現</dt>",
                 "<dt>最後變更</dt>", "<dt>最新一輪</dt>", "在最新一輪未變更（<a id=\"item-tick-link\"", "<dt>內容雜湊</dt>",
                 "資料項資料庫保存此資料項最後一次儲存的欄位（最後變更於 2026-01-01 07:00:00 UTC）。",
                 "<h2>欄位</h2>", "<h2>JSON 格式</h2>"],
        "tick": ['<h1 id="tick-title">爬蟲 <span class="crawl-name">shop</span> 的輪次 <time', ">在資料項瀏覽器中查看這一輪的資料項</a>",
                 "‹ 上一輪</a>", ">最新一輪 »</a>", "<dt>儲存時間</dt>", "<dt>未變更</dt>", "<dt>消失</dt>",
                 'id="tick-gone">至少 0<', "<dt>上一輪</dt>", "（4 個資料項）</dd>", "StoreItems 寫入這一輪的資料項時",
                 "這不是最新一輪：", "更下方由這一輪自己的檔案列出確切的清單。", "匯出這一輪的資料項：",
                 "（取自這一輪的 parse/items.jsonl，即當時解析的內容）", "（在這一輪首次出現，最新 1 個）",
                 "（在這一輪變更，之後未再變更）", "（出現在上一輪，不在這一輪，之後也沒有）", "<h2>取自這一輪的檔案",
                 "這一輪的檔案有 4 個資料項：1 個不在上一輪（新增，或中斷後再次出現），1 個變更，1 個消失。",
                 "<h3>不在上一輪</h3>", "<th>首次出現（UTC）</th>", 'id="tick-gone-items-empty" class="empty">無。</p>'],
        "crawl": ['id="crawl-items-link" href="/crawl/items/?name=shop">此爬蟲的資料項</a>'],
    },
    "zh-hans": {
        "items": ['<h1 id="items-title">爬虫 <span class="crawl-name">shop</span> 的数据项</h1>',
                  ">2026-01-01 08:00:00 UTC</time>：5 个数据项，新增 1，变更 1，未变更 3。</p>", "<label>搜索键、网址和字段",
                  '<option value="gone_in">在该轮消失（上一轮还在）', ">2026-01-01 07:30 UTC（4 个数据项）</option>",
                  '<option value="key">按键名排序</option>', "<th>键</th><th>网址</th><th>首次出现（UTC）</th>",
                  "<th>最后出现（UTC）</th><th>最后变更（UTC）</th><th>字段</th>", 'aria-label="数据项分页"',
                  'id="items-next" href="', "下一页 ›</a>", "导出这些数据项（所有页面，最新变更在前）：",
                  '>JSON Lines</a>', ">该轮的变化</a>", ">爬虫页面</a>"],
        "items-page-2": ["« 第一页</a>"],
        "items-older": ['<p id="items-inexact" class="note">', "数据项数据库只保存每个数据项的最新状态",
                        "该轮的页面会比对它自己的文件，列出确切的列表。"],
        "items-bad": ["<li>显示：不是可选的值；显示所有数据项。</li>", "<li>排序：不是可选的值；改为最新变更在前。</li>",
                      "<li>轮次：不是像 2026-11-21T07:30（UTC）这样的时间；改用最新一轮。</li>"],
        "item": ['<h1 id="item-title">数据项 <span class="item-key">a</span></h1>', ">shop 的所有数据项</a>",
                 "<dt>爬虫</dt>", "<dt>键</dt>", "<dt>网址</dt>", "<dt>首次出现</dt>", "<dt>最后出现</dt>",
                 "<dt>最后变更</dt>", "<dt>最新一轮</dt>", "在最新一轮未变更（<a id=\"item-tick-link\"", "<dt>内容哈希</dt>",
                 "数据项数据库保存此数据项最后一次存储的字段（最后变更于 2026-01-01 07:00:00 UTC）。",
                 "<h2>字段</h2>", "<h2>JSON 格式</h2>"],
        "tick": ['<h1 id="tick-title">爬虫 <span class="crawl-name">shop</span> 的轮次 <time', ">在数据项浏览器中查看这一轮的数据项</a>",
                 "‹ 上一轮</a>", ">最新一轮 »</a>", "<dt>存储时间</dt>", "<dt>未变更</dt>", "<dt>消失</dt>",
                 'id="tick-gone">至少 0<', "<dt>上一轮</dt>", "（4 个数据项）</dd>", "StoreItems 写入这一轮的数据项时",
                 "这不是最新一轮：", "更下方由这一轮自己的文件列出确切的列表。", "导出这一轮的数据项：",
                 "（取自这一轮的 parse/items.jsonl，即当时解析的内容）", "（在这一轮首次出现，最新 1 个）",
                 "（在这一轮变更，之后未再变更）", "（出现在上一轮，不在这一轮，之后也没有）", "<h2>取自这一轮的文件",
                 "这一轮的文件有 4 个数据项：1 个不在上一轮（新增，或中断后再次出现），1 个变更，1 个消失。",
                 "<h3>不在上一轮</h3>", "<th>首次出现（UTC）</th>", 'id="tick-gone-items-empty" class="empty">无。</p>'],
        "crawl": ['id="crawl-items-link" href="/crawl/items/?name=shop">此爬虫的数据项</a>'],
    },
}
# English of those pages (headings, labels, notes, filter names, links) that must not stay on a Chinese one.
ITEMS_ENGLISH = ("Items of", "Item of", "Tick of", "crawl page", "what changed", "Latest tick", "items,", " new,",
                 "Search key", "Show <", "Order <", "Filter<", "Reset<", "the latest", "all items", "in the tick",
                 "newest change first", "by key", "<th>Key", "<th>URL", "First seen", "Last seen", "Last changed",
                 "Fields", "First<", "Next", "Export", "JSON lines", "The items DB", "so for a tick",
                 "not one of the choices", "Content hash", "As JSON", "Stored<", "Tick before", "the tick before",
                 "Gone", "at least", "Unchanged", "Not in the tick before", "From the tick's files", "this tick",
                 "None.", "its items", "all of them", "(from the", "in this tick's file", "exact lists", "counts StoreItems")


@pytest.fixture
def items_world(items_db, tmp_path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:  # noqa: ANN001
    """The items tests' three ticks of crawl shop, with the first two ticks' files on this host (the tick page
    of T2 compares them): the paths of the pages."""
    from items_seed import T1, T2, rec, three_ticks, tick

    from webmon.items.models import CrawlItem

    three_ticks(items_db)
    data = tmp_path / "data"
    monkeypatch.setenv("CRAWL_DATA_DIR", str(data))
    items_db.write_file(data, "shop", T1, [rec("a", p=1), rec("b", p=2), rec("c", p=3), rec("d", p=4)])
    items_db.write_file(data, "shop", T2, [rec("a", p=1), rec("b", p=20), rec("c", p=3), rec("e", p=5)])
    a = CrawlItem.objects.get(crawl="shop", item_key="a")
    return {"items": "/crawl/items/?name=shop", "items-older": f"/crawl/items/?name=shop&show=changed&tick={tick(T2)}",
            "items-bad": "/crawl/items/?name=shop&show=bogus&tick=yesterday&sort=up",
            "item": f"/crawl/items/{a.pk}/", "tick": f"/crawl/tick/?name=shop&at={tick(T2)}", "crawl": "/crawl/?name=shop"}


@pytest.mark.parametrize("language", ["zh-hant", "zh-hans"])
def test_the_items_browser_is_in_the_pages_language(superuser: Client, history: HistorySeed,
                                                   items_world: dict[str, str], language: str) -> None:
    with override_settings(WEBMON_PAGE_SIZE=4):  # 6 items: a next page
        bodies = {page: superuser.get(path, HTTP_ACCEPT_LANGUAGE=HEADERS[language]) for page, path in items_world.items()}
        second = superuser.get("/crawl/items/?" + bodies["items"].context["next_query"],
                               HTTP_ACCEPT_LANGUAGE=HEADERS[language])
    bodies["items-page-2"] = second
    for page, response in bodies.items():
        assert response.status_code == 200, page
        body = response.content.decode()
        for word in ITEMS_WORDS[language][page]:
            assert word in body, f"{page} in {language}: {word!r} not on the page"
        if page != "crawl":
            english = [word for word in ITEMS_ENGLISH if word in body]
            assert english == [], f"{page} in {language}: still English: {english}"
    # Query parameters stay English codes, ticks in UTC.
    items = bodies["items"].content.decode()
    assert '<option value="changed" selected>' in items and 'href="/crawl/tick/?name=shop&amp;at=2026-01-01T08%3A00"' in items


@pytest.mark.parametrize("language", ["zh-hant", "zh-hans"])
def test_the_items_exports_say_why_in_the_language_but_their_files_stay_data(
    superuser: Client, items_world: dict[str, str], language: str, tmp_path, items_at,  # noqa: ANN001
) -> None:
    from items_seed import T1, tick

    header = HEADERS[language]
    bad = superuser.get("/crawl/items/export.csv?name=shop&show=bogus&tick=yesterday", HTTP_ACCEPT_LANGUAGE=header)
    assert bad.status_code == 400
    assert bad.content.decode() == {"zh-hant": "無法理解的篩選值：show, tick", "zh-hans": "无法理解的筛选值：show, tick"}[language]
    (tmp_path / "data" / "shop" / "20260101T0700Z" / "parse" / "items.jsonl").unlink()
    gone = superuser.get(f"/crawl/tick/export.csv?name=shop&at={tick(T1)}", HTTP_ACCEPT_LANGUAGE=header)
    assert gone.status_code == 404
    assert gone.content.decode().startswith({"zh-hant": "這一輪不是最新一輪，", "zh-hans": "这一轮不是最新一轮，"}[language])
    # The files are data for programs: the CSV header and the JSON keys are the same in every language.
    csv_text = b"".join(superuser.get("/crawl/items/export.csv?name=shop", HTTP_ACCEPT_LANGUAGE=header)).decode()
    assert csv_text.startswith("item_key,url,first_seen,last_seen,last_changed,")
    line = b"".join(superuser.get("/crawl/items/export.jsonl?name=shop", HTTP_ACCEPT_LANGUAGE=header)).splitlines()[0]
    assert list(json.loads(line)) == ["key", "url", "first_seen", "last_seen", "last_changed", "fields"]
    assert json.loads(line)["last_changed"] == "2026-01-01T08:00:00Z"
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    with items_at(str(broken)):
        down = superuser.get("/crawl/items/export.csv?name=shop", HTTP_ACCEPT_LANGUAGE=header)
        page = superuser.get("/crawl/items/?name=shop", HTTP_ACCEPT_LANGUAGE=header).content.decode()
    sentence = {"zh-hant": "無法讀取資料項資料庫：", "zh-hans": "无法读取数据项数据库："}[language]
    assert down.status_code == 503 and down.content.decode().startswith(sentence)
    assert 'id="banner-items"' in page and sentence in page


def test_the_items_browser_shows_times_in_the_users_zone(superuser: Client, items_world: dict[str, str]) -> None:
    user = User.objects.get(username="i18n-root")
    UserPreference.objects.create(user=user, language="zh-hant", time_zone="Asia/Taipei")
    browser = Client()
    browser.force_login(user)
    items = browser.get(items_world["items"]).content.decode()
    # T3, 08:00 UTC, is 16:00 in Taipei; the columns name the zone, each time has the UTC one as its title.
    assert "<th>首次出現（Asia/Taipei）</th><th>最後出現（Asia/Taipei）</th><th>最後變更（Asia/Taipei）</th>" in items
    assert ('<td class="last-changed"><time datetime="2026-01-01T08:00:00+00:00" title="2026-01-01 08:00 UTC">'
            "2026-01-01 16:00</time></td>") in items
    assert '<time datetime="2026-01-01T08:00:00+00:00" title="2026-01-01 08:00:00 UTC">2026-01-01 16:00:00 UTC+08:00</time>：5 個資料項' in items
    # The tick list: each tick in the zone, its value the UTC code the URL takes.
    assert '<option value="2026-01-01T07:30">2026-01-01 15:30 UTC+08:00（4 個資料項）</option>' in items
    item = browser.get(items_world["item"]).content.decode()
    assert ('id="item-first-seen"><time datetime="2026-01-01T07:00:00+00:00" title="2026-01-01 07:00:00 UTC">'
            "2026-01-01 15:00:00 UTC+08:00</time>") in item
    tick_page = browser.get(items_world["tick"]).content.decode()
    assert ('的輪次 <time datetime="2026-01-01T07:30:00+00:00" title="2026-01-01 07:30:00 UTC">'
            "2026-01-01 15:30:00 UTC+08:00</time></h1>") in tick_page
    assert 'href="/crawl/tick/?name=shop&amp;at=2026-01-01T07%3A00"' in tick_page  # the tick before, in UTC
