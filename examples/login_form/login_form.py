"""A downloader middleware that logs in through a site's login form (docs/crawl-specs.md, "Login form").

The crawl's own downloader only GETs pages, so the login goes through `requests`: GET the form
(its hidden inputs, such as a CSRF token, are sent back), POST the user name and password, keep
the session's cookies and send them with every request of the crawl. A page that answers with a
redirect to the login form (the session expired) logs in again, once per request, and is fetched
again. The credentials come from the environment, never from the spec: SHOP_USER and SHOP_PASSWORD.

Enable it in the spec (this file next to the spec, or importable):

    [middlewares]
    "login_form.FormLogin" = 650      # before cookies (700): it owns the Cookie header
"""

from __future__ import annotations

import logging
import os
import threading
from urllib.parse import urljoin, urlsplit

import parsel
import requests

from pipelines.exceptions import IgnoreRequest, SpecError
from pipelines.fetch.http import Request, Response
from pipelines.fetch.middleware import CrawlContext, DownloaderMiddleware

log = logging.getLogger("pipelines.fetch")


class FormLogin(DownloaderMiddleware):
    name = "formlogin"
    login_path = "/account/login"              # the form's page, on the first start URL's site
    fields = ("username", "password")          # the form's input names for the user and the password

    def __init__(self, context: CrawlContext) -> None:
        super().__init__(context)
        self.user, self.password = os.environ.get("SHOP_USER"), os.environ.get("SHOP_PASSWORD")
        if not self.user or not self.password:
            raise SpecError(context.spec.path, "middlewares", "login_form.FormLogin needs SHOP_USER and "
                                                              "SHOP_PASSWORD in the environment")
        self.login_url = urljoin(context.spec.start_urls[0], self.login_path)
        self.timeout = self.settings.timeout
        self.lock = threading.Lock()
        self.cookie: str | None = None
        self.logins = 0

    def login(self, stale: str | None) -> str:
        """The session's Cookie header; logs in when there is none yet or `stale` is the current one."""
        with self.lock:  # one login for every thread that found the session gone
            if self.cookie is None or self.cookie == stale:
                session = requests.Session()
                session.headers["User-Agent"] = self.settings.user_agent
                form = session.get(self.login_url, timeout=self.timeout)
                data = {i.attrib["name"]: i.attrib.get("value", "")
                        for i in parsel.Selector(form.text).css("form input[type=hidden][name]")}
                data.update(zip(self.fields, (self.user, self.password), strict=True))
                answer = session.post(self.login_url, data=data, timeout=self.timeout, allow_redirects=False)
                if answer.status_code >= 400 or not session.cookies:
                    # The user or password is wrong, or the form changed: no page would be worth fetching.
                    raise IgnoreRequest("login_failed", outcome="failed")
                self.cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
                self.logins += 1
                self.context.stats.inc("formlogin/logins")
                log.info("logged in at %s as %s (login %d)", self.login_url, self.user, self.logins)
            return self.cookie

    def process_request(self, request: Request) -> None:
        request.headers["Cookie"] = self.login(None)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        location = response.header("Location") or ""
        to_login = 300 <= response.status < 400 and urlsplit(urljoin(response.url, location)).path == self.login_path
        if not to_login or request.meta.get("formlogin_again"):
            return response
        self.login(request.headers.get("Cookie"))  # the session expired: a new one, then this page again
        again = request.replace()
        again.meta["formlogin_again"] = True
        return again
