"""Crawl pipelines: crawl specs and the Luigi fetch -> parse -> store chain.

This package never imports Django: workers run it with only luigi.cfg.
"""
