"""The page-work process: its links and item lines are the in-process ones, and it dies with its worker."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

from pipelines.fetch.links import extract_links
from pipelines.fetch.pagework import FetchSideLines, PageReply, PageWork, PageWorker, PageWorkGone, Unsent
from pipelines.parse import Extractor, parse_page
from pipelines.spec import load_spec
from tests.conftest import DemoSite

ROOT = Path(__file__).resolve().parents[2]


def replies(work_queue: queue.SimpleQueue, n: int) -> dict[int, PageReply]:
    got = {}
    while len(got) < n:
        reply = work_queue.get(timeout=30)
        assert isinstance(reply, PageReply), reply
        got[reply.seq] = reply
    return got


def test_the_page_process_gives_what_an_in_process_parse_gives(demo_site: DemoSite) -> None:
    spec = load_spec(str(ROOT / "pipelines/crawls/demo.toml"), spec_dirs=[])
    site = demo_site.url.rstrip("/")
    urls = [demo_site.url, f"{site}/catalogue/page-2.html"]
    urls += [f"{site}/catalogue/product-{n}.html" for n in (1, 2, 3, 499, 100000)]  # the last one a 404
    pages = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=10) as served:
                pages.append((served.url, served.status, list(served.headers.items()), served.read()))
        except urllib.error.HTTPError as exc:
            pages.append((url, exc.code, list(exc.headers.items()), exc.read()))
    # an item page without its required title: an error line
    pages.append((f"{site}/catalogue/product-7.html", 200, [], pages[2][3].replace(b"<h1", b"<h2"), ))
    got: queue.SimpleQueue = queue.SimpleQueue()
    work = PageWork(spec, got.put)
    try:
        for seq, (url, status, headers, body) in enumerate(pages):
            work.submit(seq, 1, url, status, headers, body, "utf-8", True, spec.is_item_page(url))
        result = replies(got, len(pages))
    finally:
        work.close()
    extractor = Extractor(spec)
    kinds = set()
    sent: set[str] = set()
    for seq, (url, status, headers, body) in enumerate(pages):
        # each link once: the links a page shares with an earlier one are not sent again
        expected_links = [link for link in dict.fromkeys(extract_links(body, url, "utf-8")) if link not in sent]
        sent.update(expected_links)
        assert result[seq].links == expected_links, url
        if spec.is_item_page(url):
            expected = parse_page(spec, extractor, url, body, "utf-8", status, dict(headers))
            assert (result[seq].kind, result[seq].line) == expected, url
            kinds.add(expected[0])
        else:
            assert result[seq].kind is None
    assert kinds == {"item", "error"}
    assert work.proc.returncode == 0


def test_memoised_links_equal_extract_links_across_directories_bases_and_queries() -> None:
    spec = load_spec(str(ROOT / "pipelines/crawls/demo.toml"), spec_dirs=[])
    worker = PageWorker(spec)
    body = (b'<a href="x.html">x</a><a href="../up">u</a><a href="?page=2">q</a><a href=";p">p</a>'
            b'<a href="/abs">a</a><a href="//other.example/o">o</a><a href="#top">t</a>'
            b'<a href="mailto:a@b">m</a><a href="HTTP://Example.COM:80/Z">z</a><a href="">e</a>')
    based = b'<base href="http://b.example/base/dir/">' + body
    bases = ["http://s.example/a/b/page.html?x=1", "http://s.example/a/b/other.html", "http://s.example/a/c/page.html",
             "http://s.example", "http://s.example/a/b/", "https://s.example:8443/a/b/page.html"]
    for _ in range(2):  # the second round is answered from the memo
        for base in bases:
            for page in (body, based):
                links, kind, line, _ = worker.work(base, 200, [], page, "utf-8", True, False)
                assert links == extract_links(page, base, "utf-8"), (base, page[:20])
                assert kind is None and line is None


def test_a_link_is_sent_again_only_from_a_page_closer_to_the_start() -> None:
    unsent = Unsent()
    assert unsent(["a", "b", "a"], 3) == ["a", "b"]
    assert unsent(["a", "c"], 3) == ["c"]
    assert unsent(["a", "b"], 2) == ["a", "b"]  # max_depth may admit them from here
    assert unsent(["a", "b"], 4) == []


def test_a_parse_hook_beside_its_spec_runs_there_and_its_prints_do_not_break_replies(tmp_path: Path) -> None:
    (tmp_path / "myhook.py").write_text(textwrap.dedent("""
        def parse(page):
            print("hook output on stdout")
            return {"title": page.selector.css("title::text").get(), "status": page.status}
    """))
    (tmp_path / "hooked.toml").write_text('start_urls = ["http://s.example/"]\nallowed_domains = ["s.example"]\n'
                                          'parse_hook = "myhook:parse"\n')
    spec = load_spec(str(tmp_path / "hooked.toml"), spec_dirs=[])
    got: queue.SimpleQueue = queue.SimpleQueue()
    work = PageWork(spec, got.put)
    try:
        work.submit(7, 0, "http://s.example/p", 200, [], b"<title>Hi</title><a href='/n'>n</a>", "utf-8", True, True)
        reply = replies(got, 1)[7]
    finally:
        work.close()
    assert reply.links == ["http://s.example/n"]
    assert reply.kind == "item"
    assert reply.line == '{"key": "http://s.example/p", "url": "http://s.example/p", "fields": {"title": "Hi", "status": 200}}\n'


def test_a_dead_page_process_is_reported() -> None:
    spec = load_spec(str(ROOT / "pipelines/crawls/demo.toml"), spec_dirs=[])
    got: queue.SimpleQueue = queue.SimpleQueue()
    work = PageWork(spec, got.put)
    os.kill(work.proc.pid, signal.SIGKILL)
    gone = got.get(timeout=30)
    assert isinstance(gone, PageWorkGone) and gone.returncode == -signal.SIGKILL
    work.close()


PARENT = """
import sys, time
from pathlib import Path
from pipelines.fetch.pagework import PageWork
from pipelines.spec import load_spec
work = PageWork(load_spec(sys.argv[1], spec_dirs=[]), lambda reply: None)
print(work.proc.pid, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_page_process_dies_with_a_sigkilled_worker_and_shares_its_process_group() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(ROOT / "pipelines/crawls/demo.toml")],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        child = int(parent.stdout.readline())
        assert alive(child)
        assert os.getpgid(child) == os.getpgid(parent.pid) == parent.pid
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child), "the page process outlived its worker"
    finally:
        parent.kill()
        parent.wait()


def demo_crawl_spec(site_url: str, parse_workers: int):
    import tomllib

    from pipelines.spec import parse_spec

    text = (ROOT / "pipelines/crawls/demo.toml").read_text().replace("http://127.0.0.1:${DEMO_SITE_PORT:-8090}/", site_url)
    text = text.replace("[fetch]\n", f"[fetch]\nparse_workers = {parse_workers}\n", 1)
    return parse_spec(tomllib.loads(text), ROOT / "pipelines/crawls/demo.toml")


def crawl_demo(spec, tmp_path: Path, kill_after: int | None = None) -> tuple[dict, FetchSideLines]:
    import io

    from pipelines.fetch.crawler import Crawler
    from pipelines.warc import PageWriter

    items, errors = io.StringIO(), io.StringIO()
    lines = FetchSideLines(items, errors)
    calls = []

    def progress(stats: dict) -> None:
        calls.append(stats)
        if kill_after is not None and len(calls) == kill_after and crawler.page_work:
            os.kill(crawler.page_work[0].proc.pid, signal.SIGKILL)

    with open(tmp_path / "pages.warc.gz", "wb") as fh:
        crawler = Crawler(spec, PageWriter(fh, {}), io.StringIO(), progress=progress, progress_every=0.0, lines=lines)
        stats = crawler.run()
    assert not crawler.page_work  # closed
    return stats, lines


def test_a_crawl_whose_page_process_dies_goes_on_and_leaves_the_parse_to_parse_pages(demo_site: DemoSite,
                                                                                     tmp_path: Path) -> None:
    whole, whole_lines = crawl_demo(demo_crawl_spec(demo_site.url, 1), tmp_path)
    assert whole_lines.complete and whole_lines.stats["items"] == demo_site.products
    cut, cut_lines = crawl_demo(demo_crawl_spec(demo_site.url, 1), tmp_path, kill_after=40)
    assert not cut_lines.complete  # so FetchPages offers no lines: ParsePages parses the WARC
    for key in ("discovered", "fetched", "failed", "skipped", "responses_by_status"):
        assert cut[key] == whole[key], key
    assert cut["fetched"] + cut["failed"] + cut["skipped"] == cut["discovered"]
