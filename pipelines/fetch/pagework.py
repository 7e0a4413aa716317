"""The page-work process: one HTML parse per fetched page, on the second core.

lxml holds the GIL while it parses, so parsing in the crawl's worker threads
competes with the coordinator for one core. FetchPages instead hands each
fetched HTML page to this child process (`PageWork`), which parses it once
and returns its links (when the crawl follows them) and, for an item page,
the item line or the error line that ParsePages would write
(pipelines.parse.parse_page, the same function), so ParsePages can reuse them
instead of parsing the WARC a second time.

The child is a fresh interpreter (`python -c _BOOT`, not a fork, so it does
not share the worker's memory), in the worker's process group. It dies with the worker: it exits at end of stdin, and the kernel
SIGKILLs it when its parent dies (PR_SET_PDEATHSIG), SIGKILL included.

Wire protocol: length-prefixed pickles both ways. First the parent's
sys.path (so a parse hook next to its spec imports) and the pickled spec,
then one job per page, `(seq, depth, url, status, headers, body, encoding,
want_links, want_item)`; each reply is `(seq, links, kind, line, link_error)`,
kind as parse_page returns it, or "crash" with a sentence when the page raised
something else (the caller then works that page in-process); link_error is the
sentence of a link hook that failed on the page (pipelines.fetch.sources). The
links are URLs, and the Requests a link hook gave (never filtered). The links of a
reply are only those this process has not sent before from a page as close
to the start (`Unsent`): the crawl's discovered set only grows, so a repeat
would be thrown away by the coordinator, after costing it a pickle and a
lookup per link (a shop page repeats ~95 % of its ~170 links).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

from pipelines.fetch.http import looks_html
from pipelines.fetch.keyset import Recent
from pipelines.fetch.links import LINK_MEMO_SIZE
from pipelines.fetch.sources import Link, LinkFinder
from pipelines.parse import Extractor, make_selector, parse_page
from pipelines.spec import CrawlSpec

log = logging.getLogger("pipelines.fetch")

_FRAME = struct.Struct("!I")

# The child's start: `pipelines` as a bare package, so its __init__ (which
# imports luigi to apply the stack's config: 1.5 s and ~25 MB) does not run;
# the child imports only lxml, parsel, dateutil and the modules it uses.
_BOOT = (
    "import sys, types; pkg = types.ModuleType('pipelines'); pkg.__path__ = [sys.argv[2]]; "
    "sys.modules['pipelines'] = pkg; from pipelines.fetch.pagework import main; sys.exit(main(sys.argv[1:2]))"
)
_PR_SET_PDEATHSIG = 1


def write_frame(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next object, or None at end of stream (a cut frame is an end too)."""
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (size,) = _FRAME.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


class PageWorker:
    """What the child does with one page; usable in-process too (and by tests)."""

    def __init__(self, spec: CrawlSpec) -> None:
        self.spec = spec
        self.extractor = Extractor(spec)
        self.finder = LinkFinder(spec)
        self._memo: Recent[tuple[str, str], str | None] = Recent(LINK_MEMO_SIZE)

    def work(self, url: str, status: int, headers: list[tuple[str, str]], body: bytes, encoding: str,
             want_links: bool, want_item: bool) -> tuple[list[Link] | None, str | None, str | None, str | None]:
        """(links or None, parse_page's kind or None, its line, the link hook's error): one parse for all."""
        selector = make_selector(url, body, encoding)
        links: list[Link] | None = None
        link_error = None
        if want_links:
            ctype = next((v for k, v in headers if k.lower() == "content-type"), "").split(";")[0].strip().lower()
            links, link_error = self.finder.find(url, status, headers, body, encoding, looks_html(ctype, body),
                                                 selector, self._memo)
        if not want_item:
            return links, None, None, link_error
        kind, line = parse_page(self.spec, self.extractor, url, body, encoding, status, dict(headers), selector)
        return links, kind, line, link_error


class Unsent:
    """Filters out links already sent from a page at the same or a smaller depth.

    What was sent is a `Recent` map (link -> depth): a link not seen for a
    generation is forgotten and, when it turns up again, sent again (the
    coordinator drops the repeat), so memory stays flat however many pages
    the crawl has.
    """

    GENERATION = 20_000

    def __init__(self) -> None:
        self._sent: Recent[str, int] = Recent(self.GENERATION)

    def __call__(self, links: list[Link], depth: int) -> list[Link]:
        sent = self._sent
        new: list[Link] = []
        for link in links:
            if not isinstance(link, str):  # a hook's Request: few, and its key is not its URL alone
                new.append(link)
                continue
            known = sent.get(link)
            if known is None or depth < known:  # closer to the start: max_depth may now admit it
                sent.put(link, depth)
                new.append(link)
        return new


def _die_with_parent(parent: int) -> None:
    # PDEATHSIG fires when the thread that spawned us ends, not only the
    # process: Crawler.run spawns and closes its page processes in one thread.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: end of stdin still ends the process
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def main(argv: list[str]) -> int:
    _die_with_parent(int(argv[0]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the worker's to handle
    stdin = sys.stdin.buffer
    # Replies get their own descriptor; fd 1 becomes stderr so a hook's print() cannot corrupt them.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    paths = read_frame(stdin)
    if paths is None:
        return 0
    sys.path[:] = paths
    spec = read_frame(stdin)
    if spec is None:
        return 0
    worker = PageWorker(spec)
    unsent = Unsent()
    while True:
        job = read_frame(stdin)
        if job is None:
            return 0
        seq, depth, *args = job
        try:
            links, kind, line, link_error = worker.work(*args)
        except Exception as exc:  # the caller redoes this page in-process, where it fails as it always did
            write_frame(replies, (seq, None, "crash", f"{type(exc).__name__}: {exc}", None))
            continue
        write_frame(replies, (seq, None if links is None else unsent(links, depth), kind, line, link_error))


# In the fetch directory beside items.jsonl and errors.jsonl: the lines' parse
# fingerprint and ParsePages' stats for them (pipelines.tasks.ParsePages).
PARSE_STATE = "parse.json"


class FetchSideLines:
    """The item and error lines of the page processes, written in WARC record order.

    Replies of several processes arrive in any order; a line waits until the
    lines of every earlier record are written, so the files are what
    ParsePages would write from the WARC. `complete` turns false when a page
    was not parsed by a page process (it crashed there, or the process died):
    the lines are then not offered to ParsePages.
    """

    def __init__(self, items: TextIO, errors: TextIO) -> None:
        self.items = items
        self.errors = errors
        self.stats = {"pages": 0, "item_pages": 0, "items": 0, "no_item": 0, "errors": 0}
        self.samples: list[str] = []
        self.complete = True
        self._reserved = 0
        self._next = 0
        self._held: dict[int, tuple[str | None, str | None]] = {}

    def reserve(self) -> int:
        """The place of the next item page's lines."""
        self._reserved += 1
        self.stats["item_pages"] += 1
        return self._reserved - 1

    def put(self, place: int, kind: str | None, line: str | None) -> None:
        self._held[place] = (kind, line)
        while self._next in self._held:
            self._write(*self._held.pop(self._next))
            self._next += 1

    def _write(self, kind: str | None, line: str | None) -> None:
        if kind == "item" and line is not None:
            self.items.write(line)
            self.stats["items"] += 1
        elif kind == "error" and line is not None:
            self.errors.write(line)
            self.stats["errors"] += 1
            if len(self.samples) < 5:
                parsed = json.loads(line)
                self.samples.append(f"{parsed['url']}: {parsed['error']}")
        elif kind == "no_item":
            self.stats["no_item"] += 1
        else:  # not parsed by a page process
            self.complete = False


@dataclass
class PageReply:
    seq: int
    links: list[Link] | None
    kind: str | None  # "item", "error", "no_item", "crash" or None (links only)
    line: str | None
    link_error: str | None = None


@dataclass
class PageWorkGone:
    """The child ended before it was closed."""

    returncode: int | None


class PageWork:
    """The parent's end: `submit` pages, replies arrive through `deliver` from a reader thread."""

    def __init__(self, spec: CrawlSpec, deliver: Callable[[PageReply | PageWorkGone], None]) -> None:
        payload = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)  # fails early for an unpicklable hook
        self._deliver = deliver
        self._closing = False
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(os.getpid()), str(Path(__file__).resolve().parents[1])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
        )
        assert self.proc.stdin is not None
        self._stdin = self.proc.stdin
        write_frame(self._stdin, list(sys.path))
        self._stdin.write(_FRAME.pack(len(payload)) + payload)
        self._stdin.flush()
        self._reader = threading.Thread(target=self._read, name="pagework-reader", daemon=True)
        self._reader.start()

    def submit(self, seq: int, depth: int, url: str, status: int, headers: list[tuple[str, str]], body: bytes,
               encoding: str, want_links: bool, want_item: bool) -> None:
        """Queue one page (depth: the page's crawl depth); OSError (BrokenPipeError) when the child is gone."""
        write_frame(self._stdin, (seq, depth, url, status, headers, body, encoding, want_links, want_item))

    def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        while True:
            reply = read_frame(stdout)
            if reply is None:
                break
            self._deliver(PageReply(*reply))
        if not self._closing:
            self._deliver(PageWorkGone(self.proc.wait()))

    def close(self) -> None:
        """End the child: end of stdin, then SIGKILL if it has not exited within 10 s."""
        self._closing = True
        try:
            self._stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=10)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
