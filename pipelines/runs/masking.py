"""Masking of secrets in log lines and error text, before they are stored.

What is masked (the value becomes `***`, the key stays so the line still
reads):

- credentials in URLs: `scheme://user:pass@host` -> `scheme://user:***@host`;
- `Authorization` / `Proxy-Authorization` values (the scheme word stays:
  `Bearer ***`), `Cookie` / `Set-Cookie` values (cookie names and attributes
  stay), requests' `<Cookie name=value for ...>`;
- `key=value`, `key: value` and `"key": "value"` when the key contains
  password, passwd, token, secret, api_key or apikey;
- literal values of environment variables named like that, and any other
  literal the caller knows (a crawl's proxy passwords).

Most lines hold none of these: a lower-case copy and a few substring tests
decide (0.4 us a line here; one case-insensitive regex search costs 3 us).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

MASK = "***"
_NAMES = r"(?:password|passwd|token|secret|api[_-]?key|apikey)"
SENSITIVE_NAME = re.compile(_NAMES, re.IGNORECASE)
# Shorter env values ("1", "true", a 4-digit port) would mask ordinary words everywhere.
MIN_LITERAL = 6

_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s/]+@", re.IGNORECASE)
# The value runs to the closing quote when quoted, else to the end of the line.
_AUTH = re.compile(
    r"""(\b(?:proxy-)?authorization["']?\s*[:=]\s*)(?P<q>["'])?"""
    r"""((?:basic|bearer|digest|token|negotiate|ntlm|aws4-hmac-sha256)\s+)?"""
    r"""(?(q)[^"'\r\n]+|[^\r\n]+)""",
    re.IGNORECASE,
)
_COOKIE = re.compile(r"""(\b(?:set-)?cookie["']?\s*[:=]\s*)(?P<q>["'])?((?(q)[^"'\r\n]+|[^\r\n]+))""", re.IGNORECASE)
_COOKIE_PAIR = re.compile(r"([^=;,\s]+)=([^;]*)")
_COOKIE_ATTRS = {"path", "domain", "expires", "max-age", "samesite", "secure", "httponly", "priority", "partitioned"}
_COOKIE_REPR = re.compile(r"(<Cookie [^=\s]+=)\S*( for )")
_KEY_VALUE = re.compile(
    r"""((?P<q>["']?)\b[\w.-]*?""" + _NAMES + r"""[\w.-]*(?P=q)\s*[:=]\s*)"""
    r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&)}\]"']+)""",
    re.IGNORECASE,
)


def _may_hold_secret(text: str) -> bool:
    # A superset of what the patterns below need ("api" for api_key/apikey, "pass" for passwd/password).
    low = text.lower()
    return ("://" in low or "auth" in low or "cookie" in low or "pass" in low or "token" in low
            or "secret" in low or "api" in low)


def _auth(match: re.Match[str]) -> str:
    return match.group(1) + (match.group("q") or "") + (match.group(3) or "") + MASK


def _cookie_pairs(match: re.Match[str]) -> str:
    def pair(m: re.Match[str]) -> str:
        name = m.group(1)
        return m.group(0) if name.lower() in _COOKIE_ATTRS else f"{name}={MASK}"

    value = match.group(3)
    masked = _COOKIE_PAIR.sub(pair, value) if "=" in value else MASK
    return match.group(1) + (match.group("q") or "") + masked


def _key_value(match: re.Match[str]) -> str:
    value = match.group(3)
    quote = value[0] if value[0] in "\"'" else ""
    return match.group(1) + quote + MASK + quote


class Masker:
    """Masks secrets in text; build once per run, call per line.

    `literals` are exact strings to hide wherever they appear (env secrets,
    proxy passwords); strings shorter than MIN_LITERAL are ignored.
    """

    def __init__(self, literals: Iterable[str] = ()) -> None:
        self.literals = sorted({s for s in literals if s and len(s) >= MIN_LITERAL}, key=len, reverse=True)
        self._literal = re.compile("|".join(re.escape(s) for s in self.literals)) if self.literals else None

    def __call__(self, text: str) -> str:
        if not _may_hold_secret(text) and not any(s in text for s in self.literals):
            return text
        if self._literal is not None:
            text = self._literal.sub(MASK, text)
        if "://" in text:
            text = _URL_CREDENTIALS.sub(lambda m: m.group(1) + MASK + "@", text)
        text = _AUTH.sub(_auth, text)
        text = _COOKIE.sub(_cookie_pairs, text)
        text = _COOKIE_REPR.sub(lambda m: m.group(1) + MASK + m.group(2), text)
        return _KEY_VALUE.sub(_key_value, text)

    def many(self, texts: list[str]) -> list[str]:
        """`texts`, masked; one pre-check over the whole batch spares the per-line one when none can hold a secret."""
        joined = "\n".join(texts)
        if not _may_hold_secret(joined) and not any(s in joined for s in self.literals):
            return texts
        return [self(t) for t in texts]

    def mask_mapping(self, values: Mapping[str, str]) -> dict[str, str]:
        """A copy of `values` with sensitive keys' values masked and the others passed through __call__."""
        return {k: MASK if SENSITIVE_NAME.search(k) else self(v) for k, v in values.items()}


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look secret (DB_PASSWORD, GITHUB_TOKEN, ...)."""
    env = os.environ if environ is None else environ
    return [v for k, v in env.items() if SENSITIVE_NAME.search(k) and len(v) >= MIN_LITERAL]


def url_passwords(urls: Iterable[str]) -> list[str]:
    """Passwords in URLs (proxy URLs of a crawl), raw and percent-decoded, to mask wherever they show up."""
    found: list[str] = []
    for url in urls:
        try:
            password = urlsplit(url).password
        except ValueError:
            continue
        if password:
            found += [password, unquote(password)]
    return found
