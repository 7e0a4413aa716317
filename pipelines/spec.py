"""Crawl specs: TOML files that say what to crawl and what to extract.

`load_spec(name_or_path)` finds `<name>.toml` in `[crawl] spec_dirs` (or takes
a path to a .toml file), validates every key and returns a `CrawlSpec`. Any
problem raises `SpecError` with one sentence naming the file, the key and what
was expected. docs/crawl-specs.md documents the keys.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from parsel.csstranslator import HTMLTranslator

from pipelines.exceptions import SpecError
from pipelines.fetch.links import DEFAULT_STRIP_PARAMS, normalize
from pipelines.fetch.scope import Scope, make_scope
from pipelines.fetch.settings import FetchSettings, parse_fetch, parse_middlewares
from pipelines.limits import parse_on_limit
from pipelines.quality import Monitors, load_schema, parse_monitors
from pipelines.specreader import EnvValue, Table, describe, from_environment

FIELD_TYPES = ("str", "int", "float", "price", "datetime")
RENDER_MODES = ("http", "browser")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

_css_translator = HTMLTranslator()


@dataclass(frozen=True)
class FieldSpec:
    """How one item field is extracted and typed."""

    name: str
    xpath: str  # CSS selectors are translated to XPath once, at load time
    selector: str  # as written in the spec, for messages
    type: str = "str"
    many: bool = False
    required: bool = False
    default: Any = None
    regex: re.Pattern[str] | None = None


@dataclass(frozen=True)
class CrawlSpec:
    name: str
    path: Path
    start_urls: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    follow: tuple[re.Pattern[str], ...]
    item_pages: re.Pattern[str] | None
    fields: tuple[FieldSpec, ...]
    key: str = "url"
    max_pages: int = 10_000
    max_depth: int | None = None
    # URL regex -> most URLs matching it that are requested (crawler traps)
    budgets: tuple[tuple[re.Pattern[str], int], ...] = ()
    strip_query_params: tuple[str, ...] = DEFAULT_STRIP_PARAMS
    canonical_dedupe: bool = True
    render: str = "http"
    fetch: FetchSettings = field(default_factory=FetchSettings)
    parse_hook: Callable[..., Any] | None = None
    parse_hook_name: str | None = None
    max_error_ratio: float | None = None
    middlewares: dict[str, Any] = field(default_factory=dict)
    # Data quality (pipelines/quality.py): the JSON Schema items are validated against, and [monitors].
    schema_path: str | None = None
    schema: Any = field(default=None, repr=False)
    monitors: Monitors = field(default_factory=Monitors)
    links: LinkSettings = field(default_factory=lambda: LinkSettings())
    # What is on-site: allowed_domains (hosts, host:port) and allowed_prefixes (pipelines/fetch/scope.py).
    allowed_prefixes: tuple[str, ...] = ()
    scope: Scope = field(default_factory=Scope)
    # What reaching each limit does: warn, fail or ignore (pipelines/limits.py).
    on_limit: dict[str, str] = field(default_factory=lambda: parse_on_limit(Path(), None))

    def is_item_page(self, url: str) -> bool:
        return self.item_pages is None or self.item_pages.search(url) is not None

    def allows_domain(self, host: str) -> bool:
        """Whether some allowed_domains or allowed_prefixes entry allows `host`, on some port."""
        return self.scope.allows_host(host)

    def allows_url(self, url: str) -> bool:
        """Whether the normalised URL is on-site (its host, port and path); offsite URLs are skipped."""
        return self.scope.allows(url)


def find_spec(name_or_path: str, spec_dirs: list[Path]) -> Path:
    """The file a crawl name or path refers to; SpecError when there is none."""
    candidate = Path(name_or_path)
    if name_or_path.endswith(".toml"):
        if not candidate.is_file():
            raise SpecError(candidate, None, "no such crawl spec file")
        return candidate
    if not NAME_RE.match(name_or_path):
        raise SpecError(name_or_path, None, "is neither a crawl name (letters, digits, _ . -) nor a path to a .toml file")
    for folder in spec_dirs:
        path = folder / f"{name_or_path}.toml"
        if path.is_file():
            return path
    known = sorted(p.stem for d in spec_dirs if d.is_dir() for p in d.glob("*.toml"))
    where = ", ".join(str(d) for d in spec_dirs) or "(no spec_dirs)"
    raise SpecError(
        name_or_path, None,
        f"no crawl spec named {name_or_path!r} in {where}; known crawls: {', '.join(known) or 'none'}",
    )


def available_specs(spec_dirs: list[Path]) -> list[Path]:
    return sorted(p for d in spec_dirs if d.is_dir() for p in d.glob("*.toml"))


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """`data` with `overrides` applied: {"max_pages": 5, "fetch.delay": 1.0} (dotted = a table's key).

    Schedules and manual runs pass these; the result is validated like the file.
    """
    for key, value in (overrides or {}).items():
        table, _, name = str(key).rpartition(".")
        target = data
        if table:
            target = data.setdefault(table, {})
            if not isinstance(target, dict):
                raise SpecError("overrides", key, f"{table!r} is not a table in the spec")
        target[name] = value
    return data


def load_spec(name_or_path: str, spec_dirs: list[Path] | None = None,
              overrides: dict[str, Any] | None = None) -> CrawlSpec:
    """Load and validate a crawl spec by name (searched in spec_dirs) or path, with optional overrides."""
    if spec_dirs is None:
        from pipelines.config import crawl

        spec_dirs = crawl().spec_folders()
    path = find_spec(name_or_path, spec_dirs)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecError(path, None, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(path, None, f"is not valid TOML: {exc}") from None
    return parse_spec(apply_overrides(data, overrides), path)


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
SHOWN_BELOW = 4  # environment values shorter than this are not hidden in error sentences: "16", "yes"


def _interpolate(value: Any, path: Path, key: str, used: list[tuple[str, str]] | None = None) -> Any:
    """Replace ${NAME} and ${NAME:-default} in strings with environment values.

    Secrets (proxy passwords, login cookies) and ports stay out of the spec file.
    A string that is one reference and nothing else becomes an EnvValue, which
    keys that take a number or a boolean convert (pipelines/specreader.py).
    `used` collects (NAME, value) of what the environment gave, for `_redacted`.
    """
    if isinstance(value, dict):
        return {k: _interpolate(v, path, f"{key}.{k}" if key else k, used) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, path, key, used) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            if used is not None:
                used.append((name, os.environ[name]))
            return os.environ[name]
        if default is not None:
            return default
        raise SpecError(path, key, f"uses ${{{name}}}, which is not set in the environment (or give ${{{name}:-default}})")

    whole = _ENV_REF.fullmatch(value)
    text = _ENV_REF.sub(substitute, value)
    if whole is not None:
        return EnvValue(text, value, whole.group(1), whole.group(1) in os.environ)
    return text


def _redacted(error: SpecError, used: list[tuple[str, str]]) -> SpecError:
    """`error` with each value the environment gave replaced by ${NAME} inside its quoted parts.

    Error sentences reach logs, run records, webmon and notices: a password interpolated into a
    proxy URL or a header must not travel with them. Quoted parts are where sentences show values.
    """
    secrets = sorted({(v, n) for n, v in used if len(v) >= SHOWN_BELOW}, key=lambda vn: -len(vn[0]))
    if not secrets:
        return error

    def hide(match: re.Match[str]) -> str:
        text = match.group(0)
        for value, name in secrets:
            text = text.replace(value, f"${{{name}}}")
        return text

    problem = _QUOTED.sub(hide, error.problem)
    return error if problem == error.problem else SpecError(error.path, error.key, problem)


def parse_spec(data: dict[str, Any], path: Path) -> CrawlSpec:
    """The checked CrawlSpec of a spec file's data; SpecError with one sentence (no secret in it) if it is bad."""
    used: list[tuple[str, str]] = []
    data = _interpolate(data, path, "", used)
    try:
        return _parse_spec(data, path)
    except SpecError as exc:
        raise _redacted(exc, used) from None


def _parse_spec(data: dict[str, Any], path: Path) -> CrawlSpec:
    top = Table(path, data)
    name = top.string("name", default=path.stem)
    if not NAME_RE.match(name):
        raise top.error("name", f"expected letters, digits, '_', '.' or '-' (at most 100), got {name!r}")
    allowed, prefixes, scope = _scope(top)
    start_urls = top.strings("start_urls", required=True)
    if not start_urls:
        raise top.error("start_urls", "expected at least one URL, got an empty list")
    for url in start_urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise top.error("start_urls", f"expected absolute http(s) URLs, got {url!r}")
        if not scope.allows(normalize(url) or url):
            raise top.error("start_urls", f"{url!r} is outside {_scope_text(allowed, prefixes)}")
    follow = tuple(_regex(top, "follow", p) for p in top.strings("follow", default=[]))
    item_src = top.string("item_pages")
    item_pages = _regex(top, "item_pages", item_src) if item_src is not None else None
    max_pages = top.number("max_pages", 10_000, 1, integer=True)
    max_depth = top.get("max_depth", (int,), "a whole number >= 0", None)
    if max_depth is not None and max_depth < 0:
        raise top.error("max_depth", f"expected a whole number >= 0, got {max_depth!r}")
    budgets = _budgets(path, top.table("budgets"))
    strip_params = top.strings("strip_query_params", default=list(DEFAULT_STRIP_PARAMS))
    for pattern in strip_params:
        if any(c in pattern for c in "=&?#/ "):
            raise top.error("strip_query_params",
                            f"expected query parameter names or glob patterns such as 'utm_*', got {pattern!r}")
    canonical_dedupe = top.boolean("canonical_dedupe", True)
    render = top.string("render", default="http")
    if render not in RENDER_MODES:
        raise top.error("render", f"expected one of {', '.join(RENDER_MODES)}, got {render!r}")
    ratio = top.get("max_error_ratio", (int, float), "a number from 0 to 1", None)
    if ratio is not None and not 0 <= ratio <= 1:
        raise top.error("max_error_ratio", f"expected a number from 0 to 1, got {ratio!r}")

    fields = _fields(path, top.table("fields"))
    hook_name = top.string("parse_hook")
    hook = _hook(top, hook_name, path) if hook_name else None
    if not fields and hook is None:
        raise top.error("fields", "expected at least one field (or a parse_hook)")
    key = top.string("key", default="url")
    names = {f.name for f in fields}
    if key != "url" and key not in names and hook is None:
        raise top.error("key", f"expected 'url' or one of the fields ({', '.join(sorted(names))}), got {key!r}")
    if key in names:
        key_field = next(f for f in fields if f.name == key)
        if key_field.many:
            raise top.error("key", f"field {key!r} has many = true; an item key must be a single value")

    fetch = parse_fetch(path, top.table("fetch"))
    middlewares = parse_middlewares(path, top.table("middlewares"))
    schema_value = top.get("schema", (str,), "a path to a JSON Schema file (.json)", None)
    schema_path, schema = load_schema(path, schema_value) if schema_value is not None else (None, None)
    monitors = parse_monitors(path, top.table("monitors"), [f.name for f in fields], schema is not None)
    links = _links(path, top.table("links"))
    on_limit = parse_on_limit(path, top.get("on_limit", (str, dict), "warn, fail, ignore or a table", None))
    top.finish()
    return CrawlSpec(
        name=name, path=path, start_urls=tuple(start_urls), allowed_domains=tuple(allowed),
        follow=follow, item_pages=item_pages, fields=tuple(fields), key=key,
        max_pages=max_pages, max_depth=max_depth, budgets=budgets, strip_query_params=tuple(strip_params),
        canonical_dedupe=canonical_dedupe, render=render, fetch=fetch,
        parse_hook=hook, parse_hook_name=hook_name, max_error_ratio=ratio, middlewares=middlewares,
        schema_path=schema_path, schema=schema, monitors=monitors, links=links,
        allowed_prefixes=tuple(prefixes), scope=scope, on_limit=on_limit,
    )


def _scope(top: Table) -> tuple[list[str], list[str], Scope]:
    """allowed_domains (host or host:port) and allowed_prefixes: at least one entry in all; each checked."""
    allowed = [d.lower() for d in top.strings("allowed_domains", default=[])]
    prefixes = top.strings("allowed_prefixes", default=[])
    if not allowed and not prefixes:
        raise top.error("allowed_domains", "is missing; expected a list of host names or host:port "
                                           "(or give allowed_prefixes)")
    scope, problems = make_scope(allowed, prefixes)
    if problems:
        raise top.error(*problems[0])
    return allowed, prefixes, scope


def _scope_text(allowed: list[str], prefixes: list[str]) -> str:
    parts = []
    if allowed:
        parts.append(f"allowed_domains ({', '.join(allowed)})")
    if prefixes:
        parts.append(f"allowed_prefixes ({', '.join(prefixes)})")
    return " and ".join(parts)


def _regex(table: Table, name: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise table.error(name, f"expected a regular expression, {pattern!r} does not compile ({exc})") from None


def _budgets(path: Path, data: dict[str, Any]) -> tuple[tuple[re.Pattern[str], int], ...]:
    """[budgets]: URL regex = the most URLs matching it that the crawl requests."""
    budgets = []
    for pattern, limit in data.items():
        key = f"budgets.{pattern}"
        try:
            limit = from_environment(limit, (int,), "a whole number >= 0 (pages)")
        except ValueError as exc:
            raise SpecError(path, key, str(exc)) from None
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise SpecError(path, key, f"expected a whole number >= 0 (pages), got {describe(limit)}")
        try:
            budgets.append((re.compile(pattern), limit))
        except re.error as exc:
            raise SpecError(path, key,
                            f"expected a regular expression as the key, {pattern!r} does not compile ({exc})") from None
    return tuple(budgets)


def _fields(path: Path, data: dict[str, Any]) -> list[FieldSpec]:
    fields = []
    for name, raw in data.items():
        prefix = f"fields.{name}."
        if not isinstance(raw, dict):
            raise SpecError(path, f"fields.{name}", f"expected a table with css or xpath, got {describe(raw)}")
        t = Table(path, raw, prefix)
        css = t.string("css")
        xpath = t.string("xpath")
        if (css is None) == (xpath is None):
            raise t.error(None, "expected exactly one of css or xpath")
        if css is not None:
            try:
                xpath = _css_translator.css_to_xpath(css)
            except Exception as exc:  # cssselect raises several types
                raise t.error("css", f"expected a CSS selector, {css!r} does not parse ({exc})") from None
        try:
            etree.XPath(xpath)
        except etree.XPathSyntaxError as exc:
            raise t.error("xpath", f"expected an XPath expression, {xpath!r} does not compile ({exc})") from None
        ftype = t.string("type", default="str")
        if ftype not in FIELD_TYPES:
            raise t.error("type", f"expected one of {', '.join(FIELD_TYPES)}, got {ftype!r}")
        regex_src = t.string("re")
        regex = _regex(t, "re", regex_src) if regex_src is not None else None
        many = t.boolean("many", False)
        required = t.boolean("required", False)
        default = t.get("default", (str, int, float, list), "a string, number or list", None)
        if default is not None:
            from pipelines.parse import FieldError, convert

            values = default if isinstance(default, list) else [default]
            if isinstance(default, list) and not many:
                raise t.error("default", "expected a single value (a list needs many = true)")
            for value in values:
                try:
                    convert(str(value), ftype)
                except FieldError as exc:
                    raise t.error("default", f"expected a value of type {ftype}: {exc}") from None
        t.finish()
        fields.append(FieldSpec(name, xpath, css or xpath, ftype, many, required, default, regex))
    return fields


def _hook(table: Table, spec: str, path: Path, key: str = "parse_hook") -> Callable[..., Any]:
    module_name, sep, func_name = spec.partition(":")
    if not sep or not module_name or not func_name:
        raise table.error(key, f"expected 'module:function', got {spec!r}")
    # Hooks may live next to the spec file.
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.append(folder)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise table.error(key, f"module {module_name!r} cannot be found (looked in sys.path and {folder})") from None
        raise table.error(key, f"module {module_name!r} failed to import: {exc}") from None
    except Exception as exc:
        raise table.error(key, f"module {module_name!r} failed to import: {type(exc).__name__}: {exc}") from None
    func = getattr(module, func_name, None)
    if func is None:
        raise table.error(key, f"module {module_name!r} has no function {func_name!r}")
    if not callable(func):
        raise table.error(key, f"{spec!r} is not callable")
    return func


# -- [links]: where the crawl finds the URLs it follows ----------------------------------------

LINK_REL_RE = re.compile(r"^[a-z][a-z0-9.-]*$")


@dataclass(frozen=True)
class LinkSettings:
    """A spec's [links] table (docs/crawl-specs.md); pipelines.fetch.sources applies it."""

    anchors: bool = True  # <a href> and <area href>
    rel: tuple[str, ...] = ()  # <link rel="..."> relations followed, lower case ("next", "prev")
    # Extra selectors as (as written, XPath): CSS is translated once, at load time, as for fields.
    selectors: tuple[tuple[str, str], ...] = ()
    sitemaps: tuple[str, ...] = ()  # sitemap URLs crawled from the start
    robots_sitemaps: bool = False  # the Sitemap: lines of the start URLs' robots.txt
    hook: Callable[..., Any] | None = None
    hook_name: str | None = None

    @property
    def only_anchors(self) -> bool:
        """The default: links are <a>/<area> hrefs alone (the fast path of link extraction)."""
        return self.anchors and not self.rel and not self.selectors and self.hook is None


def _links(path: Path, data: dict[str, Any]) -> LinkSettings:
    t = Table(path, data, "links.")
    anchors = t.boolean("anchors", True)
    rel = [r.strip().lower() for r in t.strings("rel", default=[])]
    for name in rel:
        if not LINK_REL_RE.match(name):
            raise t.error("rel", f"expected link relations such as 'next' or 'prev', got {name!r}")
    selectors = tuple((s, _link_selector(t, s)) for s in t.strings("selectors", default=[]))
    sitemaps = t.strings("sitemaps", default=[])
    for url in sitemaps:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise t.error("sitemaps", f"expected absolute http(s) URLs of sitemaps, got {url!r}")
    robots_sitemaps = t.boolean("robots_sitemaps", False)
    hook_name = t.string("hook")
    hook = _hook(t, hook_name, path, "hook") if hook_name else None
    t.finish()
    return LinkSettings(anchors, tuple(dict.fromkeys(rel)), selectors, tuple(sitemaps), robots_sitemaps,
                        hook, hook_name)


def _link_selector(table: Table, text: str) -> str:
    """The XPath of a [links] selector: XPath when it starts with '/', '(' or '.', else CSS (parsel's)."""
    if text.lstrip().startswith(("/", "(", ".")):
        xpath = text
    else:
        try:
            xpath = _css_translator.css_to_xpath(text)
        except Exception as exc:  # cssselect raises several types
            raise table.error("selectors", f"expected a CSS selector or an XPath expression, {text!r} "
                                           f"does not parse as CSS ({exc})") from None
    try:
        etree.XPath(xpath)
    except etree.XPathSyntaxError as exc:
        raise table.error("selectors", f"expected a CSS selector or an XPath expression, {text!r} "
                                       f"does not compile as XPath ({exc})") from None
    return xpath
