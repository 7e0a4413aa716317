"""webmon's Prometheus endpoint, /metrics (docs/metrics.md).

    views.py       GET /metrics: the token or allow-list check, then the text exposition
    access.py      who may read it: METRICS_TOKEN (bearer) or METRICS_ALLOW (client addresses)
    collector.py   the collector on its own registry: the parts below, luigid's tasks, build info, its own figures
    history.py     task and crawl metrics from the totals tables in the history DB (pipelines/runs/totals.py)
    schedules.py   schedule metrics from the webmon DB
    folding.py     counts of ended ScheduledRun rows, kept incrementally (a high-water mark on ids)
    http.py        webmon's own responses by status class (counted by RequestLogMiddleware)
    models.py      the tables folding.py keeps
"""
