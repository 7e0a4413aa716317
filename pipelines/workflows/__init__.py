"""Downstream Luigi tasks that require crawl ticks: exports, cross-crawl joins, the demo workflow.

Each is a plain Luigi task whose requires() names the crawl ticks it needs
(`RunCrawl(crawl, at)`), so one `python -m luigi --module pipelines.workflows.demo
ShopReport --at ...` runs the crawls first and then what is built on them.
docs/workflows.md explains how to write one of your own.

    ticks.py    a tick's items, as the downstream tasks read them
    files.py    atomic file outputs and where workflow outputs live
    tables.py   CSV and JSON-lines writing (spreadsheet-safe cells)
    export.py   ExportItems(crawl, at, format)
    compare.py  PriceComparison(left, right, at, key, price, fields)
    demo.py     ShopReport(at): the bundled demo's two shops, exported and compared
"""
