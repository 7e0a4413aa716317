"""A host's queue of requests spills to a temp file past its memory bound (pipelines/fetch/frontier.py)."""

from __future__ import annotations

import pytest

from pipelines.fetch.frontier import HostQueue
from pipelines.fetch.http import Request


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> HostQueue:
    monkeypatch.setattr(HostQueue, "MEMORY", 5)
    monkeypatch.setattr(HostQueue, "READ_BYTES", 200)
    monkeypatch.setattr(HostQueue, "WRITE_BYTES", 100)
    return HostQueue()


def drain(queue: HostQueue) -> list[Request]:
    out = []
    while queue:
        out.append(queue.popleft())
    return out


def test_requests_come_back_first_in_first_out_with_their_depth_and_referer(small: HostQueue) -> None:
    sent = [Request(f"http://s.example/p/{i}.html", depth=i % 4, referer=f"http://s.example/l/{i // 10}")
            for i in range(1_000)]
    for request in sent[:600]:
        small.append(request)
    assert len(small) == 600 and small.spilled == 595
    got = [small.popleft() for _ in range(300)]
    for request in sent[600:]:  # appended while the file is being read back
        small.append(request)
    got += drain(small)
    assert [(r.url, r.depth, r.referer) for r in got] == [(r.url, r.depth, r.referer) for r in sent]
    assert len(small) == 0 and not small


def test_requests_with_state_stay_in_memory_and_retries_go_first(small: HostQueue) -> None:
    for i in range(10):
        small.append(Request(f"http://s.example/{i}"))
    redirect = Request("http://s.example/target", meta={"redirect_urls": ["http://s.example/r"]}, redirects=1)
    small.append(redirect)
    retry = Request("http://s.example/again", attempt=2)
    small.appendleft(retry)
    got = drain(small)
    assert got[0] is retry
    assert redirect in got  # the same object, its meta intact
    assert sorted(r.url for r in got if r is not retry and r is not redirect) == sorted(
        f"http://s.example/{i}" for i in range(10))


def test_a_url_longer_than_a_read_comes_back_whole(small: HostQueue) -> None:
    urls = [f"http://s.example/{i}" for i in range(6)] + ["http://s.example/?q=" + "x" * 5_000, "http://s.example/end"]
    for url in urls:
        small.append(Request(url))
    assert [r.url for r in drain(small)] == urls


def test_the_file_is_reused_once_read_back_and_closed_with_the_queue(small: HostQueue) -> None:
    for i in range(50):
        small.append(Request(f"http://s.example/{i}"))
    drain(small)
    spill = small._file
    assert spill is not None and spill.seek(0, 2) == 0  # truncated when everything was read back
    small.append(Request("http://s.example/x"))
    small.close()
    assert spill.closed and len(small) == 0
