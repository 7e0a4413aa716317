"""Fetching: the downloader, link extraction and the crawl loop of FetchPages."""
