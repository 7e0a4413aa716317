"""Built-in downloader middlewares, one per module; order and defaults in pipelines.fetch.middleware."""
