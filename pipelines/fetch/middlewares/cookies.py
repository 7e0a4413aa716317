"""Cookies: one jar per crawl, like a browser session.

Reads [fetch] cookies_file: a Netscape cookies.txt (as browsers and curl
export) or a JSON list of {"name", "value", "domain", "path", "secure",
"expires"} objects, for crawls that need a logged-in session. Cookie values
are never logged. http.cookiejar does the RFC work and is thread-safe.
"""

from __future__ import annotations

import email.message
import http.cookiejar
import json
import urllib.request
from pathlib import Path

from pipelines.exceptions import SpecError
from pipelines.fetch.http import Request, Response
from pipelines.fetch.middleware import CrawlContext, DownloaderMiddleware


class _ResponseAdapter:
    """What CookieJar.extract_cookies wants from a response: info().get_all()."""

    def __init__(self, response: Response) -> None:
        self._message = email.message.Message()
        for name, value in response.headers:
            if name.lower() in ("set-cookie", "set-cookie2"):
                self._message[name] = value

    def info(self) -> email.message.Message:
        return self._message


def load_cookies(path: Path) -> http.cookiejar.CookieJar:
    """A jar with the cookies of a cookies.txt or JSON file."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith(("[", "{")):
        jar = http.cookiejar.CookieJar()
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(path, None, f"is not valid JSON cookies ({exc})") from None
        for entry in entries if isinstance(entries, list) else [entries]:
            try:
                domain = entry["domain"]
                jar.set_cookie(http.cookiejar.Cookie(
                    0, entry["name"], entry["value"], None, False, domain, True, domain.startswith("."),
                    entry.get("path", "/"), True, bool(entry.get("secure", False)), entry.get("expires"),
                    entry.get("expires") is None, None, None, {},
                ))
            except (KeyError, TypeError, AttributeError):
                raise SpecError(path, None, "expected cookies with name, value and domain") from None
        return jar
    jar = http.cookiejar.MozillaCookieJar()
    try:
        jar.load(str(path), ignore_discard=True, ignore_expires=True)
    except (http.cookiejar.LoadError, OSError) as exc:
        raise SpecError(path, None, f"is neither a cookies.txt nor JSON cookies ({exc})") from None
    for cookie in jar:
        if cookie.expires == 0:  # curl and browser exports write session cookies with expiry 0
            cookie.expires = None
            cookie.discard = True
    return jar


class CookiesMiddleware(DownloaderMiddleware):
    name = "cookies"

    def __init__(self, context: CrawlContext) -> None:
        super().__init__(context)
        file = self.settings.cookies_file
        self.jar = load_cookies(file) if file else http.cookiejar.CookieJar()

    def process_request(self, request: Request) -> Request | Response | None:
        if "Cookie" in request.headers or not len(self.jar):
            return None  # set explicitly, or nothing to send (most crawls: skip the jar's cost)
        probe = urllib.request.Request(request.url)
        self.jar.add_cookie_header(probe)
        cookie = probe.get_header("Cookie")
        if cookie:
            request.headers["Cookie"] = cookie
        return None

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if any(name.lower().startswith("set-cookie") for name, _ in response.headers):
            self.jar.extract_cookies(_ResponseAdapter(response), urllib.request.Request(response.url))  # type: ignore[arg-type]
            self.context.stats.inc("cookies/set")
        return response

    def cookie_count(self) -> int:
        self.jar.clear_expired_cookies()
        return len(self.jar)

