"""A crawl spec's [fetch] and [middlewares] tables: what the fetch layer reads.

docs/crawl-specs.md documents every key; each middleware module's docstring
says which of them it reads.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipelines.exceptions import SpecError
from pipelines.specreader import Table, describe

DEFAULT_USER_AGENT = "crawlops/0.1 (+http://127.0.0.1/; crawl operations)"
DEFAULT_RETRY_CODES = (408, 429, 500, 502, 503, 504, 522, 524)
# A redirect whose target looks like an error page is a failure, not a page.
DEFAULT_ERROR_REDIRECTS = (r"(?i)/(404|50\d|error|errors|not[-_]?found)(\.(html?|php|aspx?))?/?(\?|$)",)


@dataclass(frozen=True)
class FetchSettings:
    concurrency: int = 16
    per_domain_concurrency: int = 0  # 0: the same as concurrency
    delay: float = 0.0
    randomize_delay: bool = True
    autothrottle: bool = False
    autothrottle_target_concurrency: float = 1.0
    autothrottle_start_delay: float = 1.0
    autothrottle_max_delay: float = 60.0
    timeout: float = 30.0
    retries: int = 2
    retry_http_codes: tuple[int, ...] = DEFAULT_RETRY_CODES
    retry_backoff: float = 0.5
    retry_max_delay: float = 60.0
    retry_on_body: tuple[str, ...] = ()
    error_redirects: tuple[re.Pattern[str], ...] = tuple(re.compile(p) for p in DEFAULT_ERROR_REDIRECTS)
    obey_robots: bool = True
    user_agent: str = DEFAULT_USER_AGENT
    user_agents: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    proxies: tuple[str, ...] = ()
    proxy_max_failures: int = 3
    cookies_file: Path | None = None
    max_redirects: int = 10
    max_bytes: int = 10 * 1024 * 1024
    httpcache: bool = False
    httpcache_dir: Path = Path("var/httpcache")
    httpcache_expiration: float = 0.0
    browser_pool: int = 2
    wait_for: str | None = None
    script_timeout: float = 10.0
    # Page-work processes (pipelines/fetch/pagework.py) parsing fetched pages
    # beside the fetch; 0 parses in the fetch threads and leaves items to ParsePages.
    parse_workers: int = 1

    @property
    def domain_concurrency(self) -> int:
        return self.per_domain_concurrency or self.concurrency


def _lines_of(t: Table, key: str, path: Path, base: Path) -> list[str]:
    """Non-empty, non-comment lines of the file named by key `key`."""
    name = t.string(key)
    if name is None:
        return []
    file = (base / name) if not Path(name).is_absolute() else Path(name)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise t.error(key, f"expected a readable file, {str(file)!r} cannot be read ({exc.strerror})") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _proxy_ok(t: Table, key: str, proxy: str) -> str:
    parts = urlsplit(proxy)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # never echo the value: it may hold a password
        raise t.error(key, f"expected proxy URLs like http://user:pass@host:port, got one with scheme {parts.scheme!r}")
    return proxy


def parse_fetch(path: Path, data: dict[str, Any]) -> FetchSettings:
    t = Table(path, data, "fetch.")
    base = path.parent
    headers = t.table("headers")
    for hname, hvalue in headers.items():
        if not isinstance(hvalue, str):
            raise t.error(f"headers.{hname}", f"expected a string, got {describe(hvalue)}")
    codes = t.get("retry_http_codes", (list,), "a list of HTTP status codes", list(DEFAULT_RETRY_CODES))
    for code in codes:
        if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 599:
            raise t.error("retry_http_codes", f"expected HTTP status codes (100-599), got {describe(code)}")
    error_redirects = []
    for pattern in t.strings("error_redirects", default=list(DEFAULT_ERROR_REDIRECTS)):
        try:
            error_redirects.append(re.compile(pattern))
        except re.error as exc:
            raise t.error("error_redirects", f"expected regular expressions, {pattern!r} does not compile ({exc})") from None
    user_agents = t.strings("user_agents", default=[]) + _lines_of(t, "user_agents_file", path, base)
    proxies = [_proxy_ok(t, "proxies", p) for p in t.strings("proxies", default=[])]
    proxies += [_proxy_ok(t, "proxies_file", p) for p in _lines_of(t, "proxies_file", path, base)]
    cookies_name = t.string("cookies_file")
    cookies_file = None
    if cookies_name is not None:
        cookies_file = base / cookies_name if not Path(cookies_name).is_absolute() else Path(cookies_name)
        if not cookies_file.is_file():
            raise t.error("cookies_file", f"expected a cookies file (cookies.txt or JSON), {str(cookies_file)!r} does not exist")
    wait_for = t.string("wait_for")
    if wait_for is not None:
        from parsel.csstranslator import HTMLTranslator

        try:
            HTMLTranslator().css_to_xpath(wait_for)
        except Exception as exc:  # cssselect raises several types
            raise t.error("wait_for", f"expected a CSS selector, {wait_for!r} does not parse ({exc})") from None
    settings = FetchSettings(
        concurrency=t.number("concurrency", 16, 1, integer=True),
        per_domain_concurrency=t.number("per_domain_concurrency", 0, 0, integer=True),
        delay=float(t.number("delay", 0.0, 0)),
        randomize_delay=t.boolean("randomize_delay", True),
        autothrottle=t.boolean("autothrottle", False),
        autothrottle_target_concurrency=float(t.number("autothrottle_target_concurrency", 1.0, 0.01)),
        autothrottle_start_delay=float(t.number("autothrottle_start_delay", 1.0, 0)),
        autothrottle_max_delay=float(t.number("autothrottle_max_delay", 60.0, 0)),
        timeout=float(t.number("timeout", 30.0, 0.001)),
        retries=t.number("retries", 2, 0, integer=True),
        retry_http_codes=tuple(codes),
        retry_backoff=float(t.number("retry_backoff", 0.5, 0)),
        retry_max_delay=float(t.number("retry_max_delay", 60.0, 0)),
        retry_on_body=tuple(t.strings("retry_on_body", default=[])),
        error_redirects=tuple(error_redirects),
        obey_robots=t.boolean("obey_robots", True),
        user_agent=t.string("user_agent", default=DEFAULT_USER_AGENT),
        user_agents=tuple(user_agents),
        headers=dict(headers),
        proxies=tuple(proxies),
        proxy_max_failures=t.number("proxy_max_failures", 3, 1, integer=True),
        cookies_file=cookies_file,
        max_redirects=t.number("max_redirects", 10, 0, integer=True),
        max_bytes=t.number("max_bytes", 10 * 1024 * 1024, 1, integer=True),
        httpcache=t.boolean("httpcache", False),
        httpcache_dir=Path(t.string("httpcache_dir", default="var/httpcache")),
        httpcache_expiration=float(t.number("httpcache_expiration", 0.0, 0)),
        browser_pool=t.number("browser_pool", 2, 1, integer=True),
        wait_for=wait_for,
        script_timeout=float(t.number("script_timeout", 10.0, 0.001)),
        parse_workers=t.number("parse_workers", 1, 0, integer=True),
    )
    t.finish()
    return settings


def parse_middlewares(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """[middlewares]: name or import path = order number, or "none" to disable."""
    from pipelines.fetch.middleware import SHORT_NAMES

    result: dict[str, Any] = {}
    for name, value in data.items():
        key = f"middlewares.{name}"
        if isinstance(value, str) and value.lower() == "none":
            value = None
        elif not isinstance(value, int) or isinstance(value, bool):
            raise SpecError(path, key, f'expected an order number or "none", got {describe(value)}')
        if name not in SHORT_NAMES:
            if "." not in name:
                raise SpecError(path, key, f"unknown middleware; built-ins are {', '.join(sorted(SHORT_NAMES))}, "
                                           "others are given by import path (package.module.Class)")
            module = name.rpartition(".")[0]
            folder = str(path.resolve().parent)  # custom middlewares may live next to the spec
            if folder not in sys.path:
                sys.path.append(folder)
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                raise SpecError(path, key, f"module {module!r} cannot be found")
        result[name] = value
    return result
