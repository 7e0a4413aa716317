"""A plain requests script run by crawlops as a task (PythonScript; docs/external-crawlers.md).

    python -m luigi --module pipelines.external PythonScript \
        --path examples/requests_script/fetch_books.py --args '["--pages", "2"]' --at 2026-11-21T0730

Reads the first listing pages of the demo site (DEMO_SITE_PORT, 8090, or
--site), writes one JSON line per product it lists into
$CRAWLOPS_OUTPUT_DIR/books.jsonl and its counts into $CRAWLOPS_STATS_FILE.
Run alone (no CRAWLOPS_OUTPUT_DIR), it writes into the current folder.
What it prints is the run's log; a failure exits non-zero.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
from pathlib import Path

import requests

_BOOK = re.compile(r'<h3><a href="(product-\d+\.html)" title="([^"]*)">')


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--site", default=f"http://127.0.0.1:{os.environ.get('DEMO_SITE_PORT', '8090')}/")
    parser.add_argument("--pages", type=int, default=2)
    args = parser.parse_args()
    out = Path(os.environ.get("CRAWLOPS_OUTPUT_DIR", "."))
    books = 0
    with requests.Session() as session, open(out / "books.jsonl", "w", encoding="utf-8") as fh:
        for page in range(1, args.pages + 1):
            url = f"{args.site.rstrip('/')}/catalogue/page-{page}.html"
            response = session.get(url, timeout=10)
            if response.status_code != 200:
                print(f"ERROR: {url} answered {response.status_code}", file=sys.stderr)
                return 1
            found = _BOOK.findall(response.text)
            for href, title in found:
                fh.write(json.dumps({"url": requests.compat.urljoin(url, href), "title": html.unescape(title)}) + "\n")
            books += len(found)
            print(f"page {page}: {len(found)} books")
    stats_file = os.environ.get("CRAWLOPS_STATS_FILE")
    if stats_file:
        Path(stats_file).write_text(json.dumps({"pages": args.pages, "books": books}), encoding="utf-8")
    print(f"done: {books} books from {args.pages} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
