"""Run records and log capture: every task attempt, what it did and why it failed.

    context.py   RunContext, luigi's [worker] task_process_context: record, heartbeat, capture, tracking URL
    deps.py      the task's direct requirements and CRAWLOPS_SCHEDULED_RUN, for crawl_run_deps
    records.py   create / beat / finish a run record; reads (log lines after N); the engine
    sweep.py     runs whose process died are marked killed (also `python -m pipelines.runs.sweep`)
    totals.py    pre-aggregated outcome totals for webmon's /metrics (`python -m pipelines.runs.totals --rebuild`)
    capture.py   the root log handler and the stdout/stderr tees of one run
    sink.py      numbering and batching of captured lines; the pipe to the writer process
    writer.py    the log writer process: masks, stores, writes the JSON lines
    logrows.py   fast inserts into crawl_run_logs
    masking.py   secrets out of lines before they are stored
    jsonlog.py   JSON lines for log shippers
    settings.py  the [runs] section of luigi.cfg
    models.py    the tables (run records, log lines, dependencies, totals)
"""
