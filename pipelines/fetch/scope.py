"""Which URLs are on-site: a spec's `allowed_domains` and `allowed_prefixes`.

- `host` (`shop.example`): the host and its subdomains, on any port and scheme
  (what allowed_domains always meant);
- `host:port` (`127.0.0.1:18090`, `[::1]:8080`): the host and its
  subdomains, on that port only (a URL without a port has its scheme's: 80 or 443);
- an allowed prefix (`http://127.0.0.1:18090/shop/`): URLs that begin with it
  once both are normalised (scheme and host lower case, default port dropped),
  for sites that share a host.

A URL is on-site when any entry of either list allows it. The crawler asks
for every new link and redirect target (`Scope.allows`), so the common case,
host names only, costs one host_of and a few string compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pipelines.fetch.links import _DEFAULT_PORTS, host_of, normalize


@dataclass(frozen=True)
class Scope:
    hosts: tuple[str, ...] = ()  # any port
    host_ports: tuple[tuple[str, int], ...] = ()
    prefixes: tuple[str, ...] = ()  # normalised

    def allows_host(self, host: str) -> bool:
        """Whether some entry allows `host` on some port (robots.txt, resources: host-level questions)."""
        host = host.lower()
        return (any(_under(host, d) for d in self.hosts) or any(_under(host, d) for d, _ in self.host_ports)
                or any(host_of(p) == host for p in self.prefixes))

    def allows(self, url: str) -> bool:
        """Whether the normalised absolute URL `url` is on-site."""
        host = host_of(url)
        if any(_under(host, d) for d in self.hosts):
            return True
        if self.host_ports:
            port = port_of(url)
            if any(port == p and _under(host, d) for d, p in self.host_ports):
                return True
        return bool(self.prefixes) and url.startswith(self.prefixes)


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def port_of(url: str) -> int | None:
    """The port a URL is fetched from: its own, else its scheme's default; None for a bad one."""
    try:
        parts = urlsplit(url)
        return parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None


def parse_domain(entry: str) -> tuple[str, int | None] | str:
    """(host, port or None) of an allowed_domains entry, or the sentence saying what is wrong with it."""
    text = entry.strip().lower()
    expected = f"expected a host name or host:port without scheme or path, got {entry!r}"
    if not text or "/" in text or "@" in text or "?" in text or "#" in text:
        return expected
    if text.startswith("["):  # an IPv6 address: [::1] or [::1]:8080
        host, sep, rest = text[1:].partition("]")
        if not sep or not host or (rest and not rest.startswith(":")):
            return expected
        port_text = rest[1:] if rest else None
    elif text.count(":") > 1:
        return f"expected an IPv6 address in brackets ([::1] or [::1]:8080), got {entry!r}"
    else:
        host, sep, port_text = text.partition(":")
        if not host:
            return expected
        port_text = port_text if sep else None
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        return f"expected a port from 1 to 65535 after the host, got {entry!r}"
    return host, int(port_text)


def parse_prefix(entry: str) -> str:
    """The normalised form of an allowed_prefixes entry; ValueError with the sentence when it is none."""
    parts = urlsplit(entry.strip())
    try:
        port = parts.port  # raises for a port out of range or not a number
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"expected a port from 1 to 65535, got {entry!r}")
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"expected absolute http(s) URL prefixes such as 'http://127.0.0.1:18090/shop/', got {entry!r}")
    if parts.query or parts.fragment or "?" in entry or "#" in entry:
        raise ValueError(f"expected a scheme, host, port and path, without a query or #fragment, got {entry!r}")
    if parts.username or parts.password:
        raise ValueError(f"expected no user name or password in a prefix, got {entry!r}")
    normal = normalize(entry.strip())
    if normal is None:
        raise ValueError(f"expected an absolute http(s) URL prefix, got {entry!r}")
    return normal


def make_scope(domains: list[str], prefixes: list[str]) -> tuple[Scope, list[tuple[str, str]]]:
    """The Scope of the entries, and (key, sentence) of each bad one (none when all are good)."""
    hosts, host_ports, normal, problems = [], [], [], []
    for entry in domains:
        parsed = parse_domain(entry)
        if isinstance(parsed, str):
            problems.append(("allowed_domains", parsed))
        elif parsed[1] is None:
            hosts.append(parsed[0])
        else:
            host_ports.append((parsed[0], parsed[1]))
    for entry in prefixes:
        try:
            normal.append(parse_prefix(entry))
        except ValueError as exc:
            problems.append(("allowed_prefixes", str(exc)))
    return Scope(tuple(hosts), tuple(host_ports), tuple(normal)), problems
