"""Whole-response deadlines for the HTTP downloader: a watchdog that cuts late sockets.

Why a watchdog: a socket read timeout restarts with every byte, and urllib3's
``read(n)`` loops until it has n bytes, so a server that drips a byte a second
(in the status line, the headers or the body) holds a fetch as long as it
likes, and a deadline checked between reads never gets to run. The one thing
that wakes a thread blocked in ``recv()`` is its socket: at the deadline the
watchdog calls ``shutdown(SHUT_RDWR)`` on the socket the fetch is using, the
``recv()`` returns, and the fetch, seeing its ticket fired, reports a timeout.

How a socket gets to its ticket: ``Watchdog.arm()`` makes the fetch's
`Ticket` the current thread's; the connection classes below (urllib3's, with
three hooks) hand every socket they connect or send a request on to
`watch()`, which files it on the current thread's ticket. `POOL_CLASSES`
puts them into a PoolManager or ProxyManager.

Cost per fetch: one small object, a lock taken twice, a set add and discard,
two thread-local stores, no thread. The watchdog thread (one per Watchdog,
started on first use, a daemon) sleeps until the earliest deadline in
flight, or one timeout ahead while fetches come and go; they end long before
their deadlines, so it wakes about once per timeout, and arm() wakes it only
after it went idle (a whole timeout without a fetch) or for a shorter timeout.

Limits: name resolution happens before there is a socket (it is bounded by
the resolver's own timeouts, not by this deadline), and a TLS handshake runs
on a socket object Python swaps during the wrap, so a handshake dripped past
the deadline is cut as soon as it completes rather than during it.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()   # .ticket: the Ticket of the fetch this thread runs, or None


class Ticket:
    """One fetch's deadline and the socket it is reading from."""

    __slots__ = ("deadline", "fired", "sock")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False                  # set once, by the watchdog, when the deadline passed
        self.sock: socket.socket | None = None

    def watch(self, sock: socket.socket) -> None:
        # No lock: the watchdog sets `fired` before it reads `sock`, so whichever way
        # this races with it, a late socket is cut (at worst twice, which is harmless).
        self.sock = sock
        if self.fired:
            _cut(sock)


class Watchdog:
    """Cuts the socket of every armed fetch still running at its deadline. Thread-safe."""

    def __init__(self, name: str = "http-deadlines") -> None:
        self.name = name
        self._lock = threading.Lock()      # taken directly on the hot path: Condition's own with is slower
        self._cond = threading.Condition(self._lock)
        self._armed: set[Ticket] = set()
        self._wake_at = math.inf           # when the thread will next look; inf: idle or not running
        self._shortest = math.inf          # the shortest timeout armed so far
        self._busy = False                 # armed since the thread last looked
        self._thread: threading.Thread | None = None   # the one that runs; a stopped one sees it is not

    def arm(self, seconds: float) -> Ticket:
        """Start a deadline `seconds` from now for the fetch this thread is about to run."""
        ticket = Ticket(time.monotonic() + seconds)
        with self._lock:
            self._armed.add(ticket)
            self._busy = True
            if seconds < self._shortest:
                self._shortest = seconds
            if ticket.deadline < self._wake_at:     # only when idle, or for a shorter timeout
                self._wake_at = ticket.deadline
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                    self._thread.start()
                self._cond.notify()
        _current.ticket = ticket
        return ticket

    def disarm(self, ticket: Ticket) -> bool:
        """End the deadline (idempotent); True if it had fired. After this its socket is never cut."""
        _current.ticket = None
        with self._lock:
            self._armed.discard(ticket)
            ticket.sock = None
        return ticket.fired

    def close(self) -> None:
        """Stop the thread (armed fetches are no longer cut); a later arm() starts a new one."""
        with self._cond:
            thread, self._thread = self._thread, None
            self._wake_at = math.inf
            self._cond.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)

    def _run(self) -> None:
        with self._cond:
            while self._thread is threading.current_thread():
                now = time.monotonic()
                wake = math.inf
                for ticket in [t for t in self._armed if t.deadline <= now]:
                    self._armed.discard(ticket)
                    ticket.fired = True
                    if ticket.sock is not None:
                        # Under the lock, so disarm() cannot hand the socket back to a pool meanwhile.
                        # Its fetch may close it at this very moment: CPython clears a socket's
                        # descriptor before closing it, so this sees a closed socket (EBADF), never
                        # another connection's -- short of the number being reused in the instant
                        # between shutdown() reading it and making the system call.
                        _cut(ticket.sock)
                for ticket in self._armed:
                    wake = min(wake, ticket.deadline)
                if wake == math.inf and self._busy:
                    # Nothing in flight between two quick fetches: look again one (shortest) timeout
                    # from now, which no later ticket's deadline precedes, instead of being woken by
                    # the next arm() -- which, fetch after fetch, would be a thread switch per fetch.
                    wake = now + self._shortest
                self._busy = False
                self._wake_at = wake
                self._cond.wait(None if wake == math.inf else wake - now)


def _cut(sock: socket.socket) -> None:
    """Wake whatever thread is blocked on `sock`; its next read sees EOF, its next write fails."""
    try:
        # The base-class method: for an SSLSocket too it shuts the descriptor down without
        # touching the TLS state the reading thread is using.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass        # already closed, or not connected


def watch(sock: socket.socket | None) -> None:
    """File `sock` on the current thread's ticket, if a fetch is armed on this thread."""
    ticket = getattr(_current, "ticket", None)
    if ticket is not None and sock is not None:
        ticket.watch(sock)


class WatchedHTTPConnection(HTTPConnection):
    """urllib3's connection, handing each socket it uses to the current fetch's ticket."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        watch(sock)             # before a proxy CONNECT tunnel or TLS handshake reads from it
        return sock

    def connect(self) -> None:
        super().connect()
        watch(self.sock)        # HTTPS: the wrapped socket that replaced the one above

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        watch(self.sock)        # a kept-alive connection: no connect() this time
        super().request(*args, **kwargs)


class WatchedHTTPSConnection(WatchedHTTPConnection, HTTPSConnection):
    pass


class WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


# For PoolManager.pool_classes_by_scheme (ProxyManager too: it builds its pools the same way).
POOL_CLASSES: dict[str, type[HTTPConnectionPool]] = {
    "http": WatchedHTTPConnectionPool,
    "https": WatchedHTTPSConnectionPool,
}
