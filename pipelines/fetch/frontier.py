"""One host's queue of requests to fetch, in memory up to a bound, then in a temp file: `HostQueue`.

The frontier of a crawl is as big as the site: a shop's listing pages are
fetched first and name every product, so on 100,000 products some 100,000
requests wait at once. As Request objects (~450 bytes with their dicts) that
grew the worker by ~45 MB between 10,000 and 100,000 products. A HostQueue
keeps its first MEMORY requests in a deque; past that, plain requests (a
link just discovered: no headers, no meta, first attempt) are appended to an
anonymous temp file as (url, depth, referer) and read back in batches when
the deque runs dry, so memory stays flat and the order stays first in,
first out. Requests that carry state (a redirect's target, a retry) always
stay in memory; they are few.

The file is unlinked from the start (`tempfile.TemporaryFile`), so it goes
when the crawl ends or dies. Nothing is kept across runs: FetchPages is
atomic and starts again from its start URLs.
"""

from __future__ import annotations

import os
import pickle
import struct
import tempfile
from collections import deque
from typing import IO

from pipelines.fetch.http import Request

_FRAME = struct.Struct("!I")


def _plain(request: Request) -> bool:
    return not request.headers and not request.meta and request.attempt == 1 and request.redirects == 0


class HostQueue:
    """First in, first out; `appendleft` puts a request (a retry) in front."""

    MEMORY = 2_000       # requests held in memory before plain ones go to the file
    READ_BYTES = 1 << 18  # read back about this much (~1,500 requests) at a time
    WRITE_BYTES = 1 << 16  # buffered before a write

    __slots__ = ("_mem", "_file", "_buffer", "_written", "_read", "_spilled")

    def __init__(self) -> None:
        self._mem: deque[Request] = deque()
        self._file: IO[bytes] | None = None
        self._buffer = bytearray()
        self._written = 0  # file offset where the next buffered bytes go
        self._read = 0     # file offset of the next request to read back
        self._spilled = 0  # requests in the file or its buffer

    def __len__(self) -> int:
        return len(self._mem) + self._spilled

    def __bool__(self) -> bool:
        return bool(self._mem) or self._spilled > 0

    @property
    def spilled(self) -> int:
        return self._spilled

    def append(self, request: Request) -> None:
        if (self._spilled or len(self._mem) >= self.MEMORY) and _plain(request):
            data = pickle.dumps((request.url, request.depth, request.referer), protocol=pickle.HIGHEST_PROTOCOL)
            self._buffer += _FRAME.pack(len(data)) + data
            self._spilled += 1
            if len(self._buffer) >= self.WRITE_BYTES:
                self._flush()
        else:
            self._mem.append(request)

    def appendleft(self, request: Request) -> None:
        self._mem.appendleft(request)

    def popleft(self) -> Request:
        if not self._mem and self._spilled:
            self._load()
        return self._mem.popleft()

    def _flush(self) -> None:
        if not self._buffer:
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="crawlops-frontier-")
        fd = self._file.fileno()
        view = memoryview(self._buffer)
        while view:
            done = os.pwrite(fd, view, self._written)
            self._written += done
            view = view[done:]
        view.release()
        self._buffer.clear()

    def _load(self) -> None:
        """Move the oldest spilled requests (at least one) into memory."""
        self._flush()
        assert self._file is not None
        fd = self._file.fileno()
        chunk = os.pread(fd, min(self.READ_BYTES, self._written - self._read), self._read)
        at = 0
        while at + _FRAME.size <= len(chunk):
            (size,) = _FRAME.unpack_from(chunk, at)
            if at + _FRAME.size + size > len(chunk):
                if at == 0:  # one frame longer than READ_BYTES (a very long URL): read it whole
                    chunk = os.pread(fd, _FRAME.size + size, self._read)
                    continue
                break
            url, depth, referer = pickle.loads(chunk[at + _FRAME.size:at + _FRAME.size + size])
            self._mem.append(Request(url, depth=depth, referer=referer))
            at += _FRAME.size + size
            self._spilled -= 1
        self._read += at
        if self._read == self._written:  # all read back: the file starts again from its beginning
            self._read = self._written = 0
            self._file.truncate(0)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._buffer.clear()
        self._spilled = 0
        self._mem.clear()
