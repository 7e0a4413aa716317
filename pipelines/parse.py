"""Item extraction: one HTML page in, one item (or an error) out.

Pure functions, no I/O: `Extractor(spec).extract(url, body, encoding)` returns
the item's fields or raises `PageError` with a sentence saying which field
failed and why. `parse_page` is the whole per-page rule (which pages are item
pages, the item line or the error line) shared by ParsePages and the page-work
process of FetchPages (pipelines/fetch/pagework.py), so both write the same
lines; `parse_fingerprint` says whether lines written at fetch time still hold
for the spec ParsePages runs with.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import parsel
from dateutil import parser as dateparser
from lxml import etree

from pipelines.spec import CrawlSpec, FieldSpec

_WS = re.compile(r"\s+")
_NUMBER = re.compile(r"[-+]?(?:\d[\d,.\u00a0' ]*\d|\d)")


class FieldError(ValueError):
    """A value cannot be converted to its field type."""


class PageError(Exception):
    """A page yields no valid item; the message names the field and the reason."""


def _clean(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _number_text(text: str) -> str:
    """Normalise '1,234.50', '1.234,50', "1'234.50" and '1 234,5' to '1234.50'."""
    s = text.replace("\u00a0", "").replace(" ", "").replace("'", "")
    dot, comma = s.rfind("."), s.rfind(",")
    if dot >= 0 and comma >= 0:
        decimal = "." if dot > comma else ","
    elif comma >= 0:
        # '1,234' and '1,234,567' group thousands; '12,5' and '12,50' are decimals.
        decimal = "" if s.count(",") > 1 or len(s) - comma - 1 == 3 else ","
    elif dot >= 0 and s.count(".") > 1:
        decimal = ""  # '1.234.567' groups thousands
    else:
        decimal = "."
    thousands = {".", ","} - {decimal}
    for sep in thousands:
        s = s.replace(sep, "")
    return s.replace(",", ".") if decimal == "," else s


def convert(text: str, ftype: str) -> Any:
    """Convert extracted text to a field type; FieldError when it cannot."""
    if ftype == "str":
        return _clean(text)
    if ftype == "int":
        m = _NUMBER.search(text)
        if not m:
            raise FieldError(f"no whole number in {text[:80]!r}")
        return int(_number_text(m.group().strip()).split(".")[0])
    if ftype in ("float", "price"):
        m = _NUMBER.search(text)
        if not m:
            raise FieldError(f"no number in {text[:80]!r}")
        return round(float(_number_text(m.group().strip())), 10)
    if ftype == "datetime":
        try:
            value = dateparser.parse(text.strip())
        except (ValueError, OverflowError) as exc:
            raise FieldError(f"no date and time in {text[:80]!r} ({exc})") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    raise FieldError(f"unknown type {ftype!r}")


@dataclass
class Page:
    """What a parse hook receives."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    encoding: str
    selector: parsel.Selector

    @property
    def text(self) -> str:
        return self.selector.get()

    def json(self) -> Any:
        """The body parsed as JSON (an API response); ValueError when it is not JSON."""
        return json.loads(self.body.decode(self.encoding or "utf-8"))


class Extractor:
    """Extracts a crawl spec's fields from pages; XPath compiled once."""

    def __init__(self, spec: CrawlSpec) -> None:
        self.spec = spec
        # Fields with the same selector (a value and a count from one text)
        # share one compiled XPath, evaluated once a page: each is a walk of the tree.
        compiled: dict[str, etree.XPath] = {}
        for f in spec.fields:
            if f.xpath not in compiled:
                compiled[f.xpath] = etree.XPath(f.xpath)
        self._compiled = [(f, compiled[f.xpath]) for f in spec.fields]

    def extract(self, url: str, body: bytes, encoding: str = "utf-8", status: int = 200,
                headers: dict[str, str] | None = None) -> dict[str, Any] | None:
        """The item of one page as {field: value}, or None when a hook says no item."""
        return self.extract_selector(make_selector(url, body, encoding), url, body, encoding, status, headers)

    def extract_selector(self, selector: parsel.Selector, url: str, body: bytes, encoding: str = "utf-8",
                         status: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any] | None:
        """`extract` from a page already parsed by `make_selector` (one parse serves links and fields)."""
        if self.spec.parse_hook is not None:
            return self._from_hook(Page(url, status, headers or {}, body, encoding, selector))
        item: dict[str, Any] = {}
        root = selector.root
        found: dict[etree.XPath, Any] = {}
        for fspec, xpath in self._compiled:
            if xpath not in found:
                found[xpath] = xpath(root)
            item[fspec.name] = self._field(fspec, found[xpath])
        return item

    def _field(self, fspec: FieldSpec, found: Any) -> Any:
        texts = [_text(v) for v in (found if isinstance(found, list) else [found])]
        if fspec.regex is not None:
            matched = []
            for t in texts:
                m = fspec.regex.search(t)
                if m:
                    matched.append(m.group(1) if m.groups() else m.group())
            texts = matched
        texts = [t for t in texts if t.strip()]
        if not texts:
            if fspec.required:
                raise PageError(f"required field {fspec.name!r} not found ({fspec.selector})")
            return fspec.default if fspec.default is not None or not fspec.many else []
        try:
            if fspec.many:
                return [convert(t, fspec.type) for t in texts]
            return convert(texts[0], fspec.type)
        except FieldError as exc:
            raise PageError(f"field {fspec.name!r} is not a {fspec.type}: {exc}") from None

    def _from_hook(self, page: Page) -> dict[str, Any] | None:
        try:
            result = self.spec.parse_hook(page)  # type: ignore[misc]
        except PageError:
            raise
        except Exception as exc:
            raise PageError(f"parse_hook {self.spec.parse_hook_name} raised {type(exc).__name__}: {exc}") from exc
        if result is None:
            return None
        if not isinstance(result, dict):
            raise PageError(
                f"parse_hook {self.spec.parse_hook_name} returned {type(result).__name__}; expected a dict or None"
            )
        return result


def make_selector(url: str, body: bytes, encoding: str) -> parsel.Selector:
    """The page's parsed tree, built the one way every extraction path builds it."""
    return parsel.Selector(body=body, encoding=encoding, type="html", base_url=url)


def parse_page(spec: CrawlSpec, extractor: Extractor, url: str, body: bytes, encoding: str, status: int,
               headers: dict[str, str], selector: parsel.Selector | None = None) -> tuple[str, str | None]:
    """One item page's result: ("item", JSON line), ("error", JSON line) or ("no_item", None).

    The caller has checked the page is an item page with a 2xx status.
    """
    try:
        if selector is None:
            selector = make_selector(url, body, encoding)
        fields = extractor.extract_selector(selector, url, body, encoding, status, headers)
        if fields is None:
            return "no_item", None
        key = item_key(spec, url, fields)
    except PageError as exc:
        return "error", json.dumps({"url": url, "error": str(exc)}, ensure_ascii=False) + "\n"
    return "item", json.dumps({"key": key, "url": url, "fields": fields}, ensure_ascii=False) + "\n"


def parse_fingerprint(spec: CrawlSpec) -> str:
    """A digest of everything in `spec` that changes a page's item or error line.

    The fields, item_pages, key and parse_hook, with the source bytes of the
    hook's module: fixing any of them makes ParsePages parse the WARC again.
    This module's own source is in it too, so a fix of the extraction code
    deployed between the fetch and the parse takes effect.
    """
    parts: list[Any] = [
        hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        [repr(f) for f in spec.fields],
        spec.item_pages.pattern if spec.item_pages is not None else None,
        spec.item_pages.flags if spec.item_pages is not None else None,
        spec.key, spec.parse_hook_name,
    ]
    if spec.parse_hook is not None:
        try:
            source = inspect.getsourcefile(spec.parse_hook)
            parts.append(hashlib.sha256(Path(source).read_bytes()).hexdigest() if source else None)
        except (TypeError, OSError):  # no source to read: never trust old lines
            parts.append(object().__repr__())
    return hashlib.sha256(json.dumps(parts, default=repr).encode("utf-8")).hexdigest()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, etree._Element):
        return "".join(value.itertext())
    return str(value)


def item_key(spec: CrawlSpec, url: str, fields: dict[str, Any]) -> str:
    """The item's identity in the items DB; PageError when the key field is empty."""
    if spec.key == "url":
        return url
    value = fields.get(spec.key)
    if value is None or value == "" or value == []:
        raise PageError(f"key field {spec.key!r} is empty")
    return str(value)
