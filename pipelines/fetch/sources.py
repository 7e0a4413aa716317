"""Where a crawl finds the URLs it follows: a spec's [links] table applied to a fetched page.

`LinkFinder(spec).find(...)` returns a page's links: the hrefs of `<a>` and
`<area>` (unless `anchors = false`), of `<link rel="next">` and the other
relations of `rel`, the values of the extra `selectors` (XPath, or CSS
translated at load time as for fields), all resolved against the page's
`<base href>` and normalised, in that order; then what the link `hook`
returns for the page (any 2xx response, JSON too): URLs, or `Request`
objects with a method, headers, a body and a render mode.

`sitemap_links` reads a response the crawl asked for as a sitemap or as
robots.txt (`Request.meta["source"]`): a sitemap index's sitemaps and
robots.txt's `Sitemap:` lines come back as sitemap requests, a urlset's URLs
as plain links.

Every link found here is only a candidate: the crawler takes each through
the same rules (allowed_domains, follow, max_depth, budgets, max_pages, the
discovered set) and the middleware chain (robots.txt), and gives it an
outcome line. On one page a hook's Request takes the place of the same URL
found by the other sources (so its render, method and headers are used). The default (anchors alone) costs one XPath a page, as before
[links] existed.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode, urljoin

import parsel
from lxml import etree

from pipelines.fetch.http import Request, looks_html
from pipelines.fetch.keyset import Recent
from pipelines.fetch.links import ANCHORS_XPATH, normalize, page_base, resolve_hrefs
from pipelines.fetch.sitemaps import SitemapTooLarge, parse_sitemap, robots_sitemaps
from pipelines.parse import Page, make_selector
from pipelines.spec import CrawlSpec

Link = str | Request
_METHOD = re.compile(r"^[A-Z]{3,10}$")
_RENDER = (None, "http", "browser")
_UPPER, _LOWER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"


def rel_xpath(relation: str) -> str:
    """The hrefs of <link> elements whose rel (a space-separated, case-insensitive list) has `relation`."""
    return (f"//link[@href][contains(concat(' ', normalize-space(translate(@rel, '{_UPPER}', '{_LOWER}')), ' '), "
            f"' {relation} ')]/@href")


class LinkHookError(Exception):
    """The link hook raised, or returned something that is neither a URL nor a Request."""


class LinkFinder:
    """A spec's link sources, compiled once; used by the page process and by the fetch threads."""

    def __init__(self, spec: CrawlSpec) -> None:
        links = spec.links
        self.anchors = links.anchors
        self.hook = links.hook
        self.hook_name = links.hook_name
        self.only_anchors = links.only_anchors
        self._extra = [etree.XPath(rel_xpath(r)) for r in links.rel]
        self._extra += [etree.XPath(xpath) for _, xpath in links.selectors]
        self._anchors = etree.XPath(ANCHORS_XPATH)

    def wants(self, content_type: str, body: bytes) -> bool:
        """Whether a 2xx page of this type can have links: HTML, or anything when a hook looks at pages."""
        return self.hook is not None or looks_html(content_type, body)

    def find(self, url: str, status: int, headers: Iterable[tuple[str, str]] | dict[str, str], body: bytes,
             encoding: str, html: bool, selector: parsel.Selector | None = None,
             memo: Recent[tuple[str, str], str | None] | None = None) -> tuple[list[Link], str | None]:
        """(the page's links, a sentence when the hook failed on it); `selector`: the page already parsed."""
        links: list[Link] = []
        if html and body.strip():
            if selector is None:
                selector = make_selector(url, body, encoding)
            root = selector.root
            hrefs: list[Any] = self._anchors(root) if self.anchors else []
            for xpath in self._extra:
                hrefs.extend(_texts(xpath(root)))
            links.extend(resolve_hrefs(hrefs, page_base(root, url), memo))
        if self.hook is None:
            return links, None
        if selector is None:
            selector = make_selector(url, body or b"<html></html>", encoding)
        page = Page(url, status, dict(headers), body, encoding, selector)
        found = len(links)
        try:
            self._from_hook(page, links)
        except LinkHookError as exc:
            return _requests_win(links, found), f"{url}: {exc}"
        return _requests_win(links, found), None

    def _from_hook(self, page: Page, found: list[Link]) -> None:
        """Append the hook's links for `page` to `found` (what it gave before it failed stays)."""
        try:
            result = self.hook(page)  # type: ignore[misc]
            items = [result] if isinstance(result, (str, Request)) else (result or ())
            for item in items:  # a generator raises here, after what it yielded
                found.append(self._link(page.url, item))
        except LinkHookError:
            raise
        except Exception as exc:
            raise LinkHookError(f"link hook {self.hook_name} raised {type(exc).__name__}: {exc}") from exc

    def _link(self, base: str, item: Any) -> Link:
        if isinstance(item, str):
            url = _absolute(base, item)
            if url is None:
                raise LinkHookError(f"link hook {self.hook_name} gave {item!r}, which is not an http(s) URL")
            return url
        if not isinstance(item, Request):
            raise LinkHookError(f"link hook {self.hook_name} gave {type(item).__name__}; "
                                "expected URLs (strings) or pipelines.fetch.http.Request objects")
        return hook_request(base, item, self.hook_name or "link hook")


def _requests_win(links: list[Link], found: int) -> list[Link]:
    """`links` without the URLs before `found` (anchors, rel, selectors) that a hook's GET Request after it names.

    The first of a URL's spellings the crawl discovers is the one it fetches:
    an <a href> to the page a hook asks for with render="browser" (or with
    headers) would otherwise be fetched plainly, and the hook's Request dropped.
    """
    requested = {link.url for link in links[found:] if isinstance(link, Request) and link.plain}
    if not requested:
        return links
    return [link for link in links[:found] if link not in requested] + links[found:]


def hook_request(base: str, item: Request, hook_name: str) -> Request:
    """A hook's Request made crawlable: absolute URL, method in capitals, body as bytes (a dict as a form)."""
    url = _absolute(base, item.url)
    if url is None:
        raise LinkHookError(f"link hook {hook_name} gave Request({item.url!r}), which is not an http(s) URL")
    method = (item.method or "GET").upper()
    if not _METHOD.match(method):
        raise LinkHookError(f"link hook {hook_name} gave method {item.method!r}; expected GET, POST, ...")
    if item.render not in _RENDER:
        raise LinkHookError(f"link hook {hook_name} gave render={item.render!r}; expected 'http' or 'browser'")
    headers = dict(item.headers)
    body: Any = item.body
    if isinstance(body, dict):
        body = urlencode(body, doseq=True)
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body is not None and not isinstance(body, bytes):
        raise LinkHookError(f"link hook {hook_name} gave a body of type {type(body).__name__}; "
                            "expected bytes, a string or a dict (a form)")
    return Request(url, headers=headers, meta=dict(item.meta), method=method, body=body or None,
                   render=item.render)


def sitemap_links(source: str, body: bytes, encoding: str | None, max_bytes: int) -> tuple[list[Link], str | None]:
    """The links of a response fetched as a "sitemap" or as "robots" (robots.txt for its Sitemap: lines)."""
    if source == "robots":
        return [_sitemap(u) for u in robots_sitemaps(body, encoding) if normalize(u)], None
    try:
        entries = parse_sitemap(body, max_bytes)
    except SitemapTooLarge as exc:
        return [], f"not a readable sitemap ({exc})"
    except zlib.error as exc:  # gzip magic, broken data
        return [], f"not a readable sitemap (gzip: {exc})"
    links: list[Link] = [_sitemap(u) for u in entries.sitemaps if normalize(u)]
    links.extend(u for u in (normalize(p) for p in entries.pages) if u is not None)
    return links, None


def _sitemap(url: str) -> Request:
    return Request(normalize(url) or url, meta={"source": "sitemap"})


def _absolute(base: str, url: str) -> str | None:
    try:
        return normalize(urljoin(base, url.strip()))
    except ValueError:
        return None


def _texts(found: Any) -> list[str]:
    """A selector's results as strings: attribute values and strings as they are, elements as their text."""
    values = found if isinstance(found, list) else [found]
    return [v if isinstance(v, str) else "".join(v.itertext()) if isinstance(v, etree._Element) else str(v)
            for v in values]
