"""Who may read /metrics: a bearer token, or a client address on the allow-list.

Settings (environment, read in settings.py):

    METRICS_TOKEN   `Authorization: Bearer <token>` opens /metrics. Empty: no token works.
    METRICS_ALLOW   Comma-separated IPs and CIDRs whose requests need no token.
                    Default 127.0.0.1,::1; `none` allows no address.

The rules, in order:
1. A request with an Authorization header is let in only when the header is
   `Bearer <METRICS_TOKEN>` (compared in constant time); otherwise 401.
2. Without one, it is let in when REMOTE_ADDR is on the allow-list and the
   request came straight to webmon: one carrying X-Forwarded-For, Forwarded or
   X-Real-IP came through a proxy, whose own address says nothing about the
   client, so it needs the token.
3. Otherwise 401 with `WWW-Authenticate: Bearer` when a token is configured
   (the client could send it), else 403.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
REALM = 'Bearer realm="crawlops metrics"'


def allow_list(items: Iterable[str], name: str = "METRICS_ALLOW") -> tuple[Network, ...]:
    """IPs and CIDRs as networks; `none` alone is the empty list. A bad item stops the start with a sentence."""
    items = list(items)
    if [item.lower() for item in items] == ["none"]:
        return ()
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or CIDR (e.g. 10.0.0.0/8, ::1), nor `none`") from None
    return tuple(networks)


def decide(meta: Mapping[str, Any], token: str, allowed: Iterable[Network]) -> tuple[int, str | None]:
    """(status, WWW-Authenticate value or None) for a request's META: 200, 401 or 403."""
    header = meta.get("HTTP_AUTHORIZATION")
    if header is not None:
        scheme, _, presented = str(header).strip().partition(" ")
        if token and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
            return 200, None
        return 401, f'{REALM}, error="invalid_token"'
    if not any(meta.get(h) for h in PROXY_HEADERS) and _address_in(meta.get("REMOTE_ADDR"), allowed):
        return 200, None
    return (401, REALM) if token else (403, None)


def _address_in(address: Any, allowed: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(str(address or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 from a dual-stack socket is 127.0.0.1
    return any(ip in network for network in allowed)
