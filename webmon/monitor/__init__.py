"""The monitor: webmon's pages over the history DB (overview, runs, run detail, crawls, task
families, /healthz), its middleware and the `ensure_admin` command."""
