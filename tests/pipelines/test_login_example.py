"""The worked example "Login form" of docs/crawl-specs.md, as shipped in examples/login_form/.

A local shop whose order pages need a session from a login form with a CSRF token; sessions
expire after a few pages. The example's spec and middleware are copied next to each other into
the luigid's spec folder and run through the luigi CLI, with the credentials in the environment.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

import pytest
import sqlalchemy as sa

from tests.conftest import PYTHON, ROOT, Luigid
from tests.servers.faults import BackgroundServer, QuietHandler

ORDERS = 5
VIEWS_PER_SESSION = 3
USER, PASSWORD = "ops", "hunter2-s3cret"


class _Shop(QuietHandler):
    def cookies(self) -> dict[str, str]:
        jar = SimpleCookie(self.headers.get("Cookie", ""))
        return {name: morsel.value for name, morsel in jar.items()}

    def answer(self, status: int, body: str = "", headers: tuple[tuple[str, str], ...] = ()) -> None:
        data = body.encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        shop: Shop = self.server.owner  # type: ignore[assignment]
        if self.path == "/account/login":
            token = secrets.token_hex(8)
            return self.answer(200, f'<form method="post"><input type="hidden" name="csrf" value="{token}">'
                                    '<input name="username"><input name="password" type="password"></form>',
                               (("Set-Cookie", f"csrftoken={token}; Path=/"),))
        session = self.cookies().get("session")
        if shop.sessions.get(session or "", 0) <= 0:
            return self.answer(302, headers=(("Location", f"/account/login?next={self.path}"),))
        shop.sessions[session] -= 1
        if self.path == "/orders/":
            return self.answer(200, "".join(f'<a href="{n}.html">order {n}</a>' for n in range(1, ORDERS + 1)))
        number = self.path.removeprefix("/orders/").removesuffix(".html")
        if number.isdigit() and 1 <= int(number) <= ORDERS:
            return self.answer(200, f'<h1>order {number}</h1><p class="total">£{number}2.50</p>')
        return self.answer(404, "<h1>not found</h1>")

    def do_POST(self) -> None:  # noqa: N802
        shop: Shop = self.server.owner  # type: ignore[assignment]
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
        given = {name: values[0] for name, values in form.items()}
        token = self.cookies().get("csrftoken")
        if self.path != "/account/login" or not token or given.get("csrf") != token or \
                (given.get("username"), given.get("password")) != (USER, PASSWORD):
            return self.answer(403, "<h1>wrong user name or password</h1>")
        session = secrets.token_hex(8)
        shop.sessions[session] = VIEWS_PER_SESSION
        shop.logins += 1
        self.answer(302, headers=(("Location", "/orders/"), ("Set-Cookie", f"session={session}; Path=/; HttpOnly")))


class Shop(BackgroundServer):
    handler_class = _Shop

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, int] = {}
        self.logins = 0


@pytest.fixture
def shop() -> Iterator[Shop]:
    with Shop() as server:
        yield server


def run(luigid: Luigid, shop: Shop, password: str, at: str) -> subprocess.CompletedProcess:
    for name in ("orders.toml", "login_form.py"):
        shutil.copy(ROOT / "examples/login_form" / name, luigid.spec_dir / name)
    env = luigid.env(SHOP_URL=shop.url, SHOP_USER=USER, SHOP_PASSWORD=password)
    return subprocess.run([PYTHON, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl", "--crawl", "orders",
                           "--at", at], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_login_form_example_logs_in_and_again_when_the_session_expires(luigid: Luigid, shop: Shop) -> None:
    result = run(luigid, shop, PASSWORD, "2026-11-21T0700")
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = [json.loads(line) for line in
                (luigid.data_dir / "orders" / "20261121T0700Z" / "fetch" / "urls.jsonl").read_text().splitlines()]
    assert sorted((o["url"].removeprefix(shop.url), o["outcome"], o["status"]) for o in outcomes) == sorted(
        [("/orders/", "fetched", 200)] + [(f"/orders/{n}.html", "fetched", 200) for n in range(1, ORDERS + 1)])
    # 6 pages and 3 views a session: logged in again when the session expired.
    assert shop.logins == 2
    engine = sa.create_engine(luigid.items_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT item_key, data FROM crawl_items WHERE crawl = 'orders' "
                                    "ORDER BY item_key")).all()
    engine.dispose()
    assert [(key, json.loads(data)["total"]) for key, data in rows] == [
        (f"order {n}", float(f"{n}2.5")) for n in range(1, ORDERS + 1)]
    assert PASSWORD not in result.stderr


def test_a_wrong_password_fails_the_tick_without_showing_the_password(luigid: Luigid, shop: Shop) -> None:
    result = run(luigid, shop, "wrong-password", "2026-11-21T0800")
    assert result.returncode == 30, result.stderr[-3000:]
    assert "no page of orders could be fetched; failures: {'login_failed': 1}" in result.stderr
    assert "wrong-password" not in result.stderr and shop.logins == 0
