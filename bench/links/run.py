"""Per-link cost of discovery: URL cleaning, the canonical dedupe key, the discovered set.

Usage (from the repository root)::

    .venv/bin/python bench/links/run.py [--pages 2000] [--runs 5] [--spec-extra 'canonical_dedupe = false']

To measure another tree (e.g. the code before a change), put it first on the path::

    mkdir -p /tmp/old && git archive HEAD pipelines | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old .venv/bin/python bench/links/run.py

Method
------
* No network: pages are rendered in memory. Timed separately: (a)
  ``extract_links`` on every page (lxml parse, urljoin, ``normalize``), what
  a worker does per page; (b) ``Crawler.discover`` for every link of every
  page, in page order, on a fresh Crawler each run (outcomes to a StringIO,
  requests only queued), what the coordinator does for each link a worker
  returns. Both are reported per link.
* Two corpora: ``demo``, the bundled demo site (about 22 links a page, no
  query strings), and ``shop``, a synthetic shop page of 120 links: 60 nav
  links shared by every page, 30 product links (a third with ``?ref=..&pos=``),
  20 facet links whose query arguments come in a random order, and 10
  ``utm_*``-tagged promo links. Deterministic (seeded).
* Per-link time = CPU time (``time.process_time``) / links. The corpus is
  timed in chunks of 20 pages; each chunk does the same work in every run
  (a fresh Crawler each run), so the best of ``--runs`` runs is taken per
  chunk and summed: a chunk the scheduler interrupted in one run counts with
  its time from another. That keeps the figures steady on a busy machine;
  still compare trees in one sitting, interleaved. Also printed: the share
  of links that were new (distinct dedupe keys / links).
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.append(str(ROOT))  # appended: a PYTHONPATH tree (the old code) wins

from pipelines.demo.site import build_site  # noqa: E402
from pipelines.fetch.crawler import Crawler  # noqa: E402
from pipelines.fetch.links import extract_links  # noqa: E402
from pipelines.spec import parse_spec  # noqa: E402
from pipelines.warc import PageWriter  # noqa: E402

BASE = "http://shop.example"


def demo_pages(pages: int) -> list[tuple[str, bytes]]:
    site = build_site(max(1, pages - 60))
    return [(BASE + path, site.get(path).body) for path in list(site.ok_paths())[:pages]]


def shop_page(rng: random.Random, n: int) -> bytes:
    links = [f"/c/{c}/" for c in ("books", "shoes", "toys", "garden", "tools", "music")] * 10  # nav: 60
    for i in range(30):
        pid = rng.randrange(50_000)
        links.append(f"/p/item-{pid}.html" + (f"?ref=list&pos={i}" if i % 3 == 0 else ""))
    for _ in range(20):
        args = [f"color={rng.choice(['red', 'blue', 'green'])}", f"size={rng.randrange(36, 46)}",
                f"sort={rng.choice(['price', 'name'])}"]
        rng.shuffle(args)
        links.append(f"/c/shoes/?{'&'.join(args)}")
    for _ in range(10):
        links.append(f"/promo/{rng.randrange(200)}?utm_source=news&utm_medium=email&utm_campaign=c{n % 7}")
    return ("<html><body>" + "".join(f'<a href="{h}">x</a>' for h in links) + "</body></html>").encode()


def shop_pages(pages: int) -> list[tuple[str, bytes]]:
    rng = random.Random(7)
    return [(f"{BASE}/c/shoes/?page={n}", shop_page(rng, n)) for n in range(pages)]


def make_spec(extra: str):
    text = f"""
start_urls = ["{BASE}/"]
allowed_domains = ["shop.example"]
max_pages = 10000000
{extra}
[fetch]
obey_robots = false
[fields.title]
css = "title::text"
"""
    return parse_spec(tomllib.loads(text), Path("bench.toml"))


CHUNK = 20  # pages


def measure(pages: list[tuple[str, bytes]], spec, runs: int) -> tuple[int, float, float, float]:
    """Links, extraction µs/link, discovery µs/link, share of new links."""
    chunks = [pages[i:i + CHUNK] for i in range(0, len(pages), CHUNK)]
    extract = [float("inf")] * len(chunks)
    discover = [float("inf")] * len(chunks)
    corpus: list[list[tuple[str, list[str]]]] = []
    for _ in range(runs):
        corpus = []
        for i, chunk in enumerate(chunks):
            started = time.process_time()
            corpus.append([(url, extract_links(body, url)) for url, body in chunk])
            extract[i] = min(extract[i], time.process_time() - started)
        crawler = Crawler(spec, PageWriter(io.BytesIO(), {"crawl": "bench"}), io.StringIO())
        for i, found_in_chunk in enumerate(corpus):
            started = time.process_time()
            for referer, found in found_in_chunk:
                for link in found:
                    crawler.discover(link, 1, referer)
            discover[i] = min(discover[i], time.process_time() - started)
    links = sum(len(found) for chunk in corpus for _, found in chunk)
    new = len(crawler.discovered) / links
    return links, sum(extract) / links * 1e6, sum(discover) / links * 1e6, new


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spec-extra", default="", help="top-level spec lines, e.g. 'canonical_dedupe = false'")
    args = parser.parse_args()
    spec = make_spec(args.spec_extra)
    import pipelines

    print(f"code: {Path(pipelines.__file__).parent}  spec extra: {args.spec_extra or '(none)'}")
    for name, pages in (("demo", demo_pages(args.pages)), ("shop", shop_pages(args.pages))):
        links, extract, discover, new = measure(pages, spec, args.runs)
        print(f"{name}: {links:,} links on {len(pages):,} pages, {new:.1%} new; per link: "
              f"extract_links {extract:.2f} µs, discover {discover:.2f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
