"""Bundled demo site: a deterministic generated book catalogue and a fast local server.

``pipelines.demo.site`` renders the pages (and exposes the expected values the
crawls must extract); ``pipelines.demo.server`` serves them over HTTP/1.1 on
127.0.0.1 so crawls, tests and benchmarks never need the internet.
"""
