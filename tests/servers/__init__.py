"""Hostile HTTP servers for crawler tests: a fault-injection site and a forward proxy."""

from tests.servers.faults import (
    BAD_GZIP_BODY,
    CHARSET_BOM_TEXT,
    CHARSET_HEADER_LIES_TEXT,
    CHARSET_NONE_TEXT,
    COOKIE_NAME,
    COOKIE_VALUE,
    DRIP_INTERVAL,
    MARKER_HTML,
    NOT_FOUND_PAGE_TEXT,
    ROBOTS_TXT,
    SOFT_ERROR_HTML,
    SOFT_ERROR_TEXT,
    TRUNCATE_DECLARED,
    TRUNCATE_SENT,
    FaultServer,
    Hit,
    ok_page,
)
from tests.servers.proxy import ForwardProxy, closed_port

__all__ = [
    "BAD_GZIP_BODY",
    "CHARSET_BOM_TEXT",
    "CHARSET_HEADER_LIES_TEXT",
    "CHARSET_NONE_TEXT",
    "COOKIE_NAME",
    "COOKIE_VALUE",
    "DRIP_INTERVAL",
    "MARKER_HTML",
    "NOT_FOUND_PAGE_TEXT",
    "ROBOTS_TXT",
    "SOFT_ERROR_HTML",
    "SOFT_ERROR_TEXT",
    "TRUNCATE_DECLARED",
    "TRUNCATE_SENT",
    "FaultServer",
    "ForwardProxy",
    "Hit",
    "closed_port",
    "ok_page",
]
