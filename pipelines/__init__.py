"""Crawl pipelines: crawl specs and the Luigi fetch -> parse -> store chain.

This package never imports Django: workers run it with only luigi.cfg.

Importing it puts the addresses of the stack `./scheduler.sh up` runs (or of
LUIGID_PORT, DEMO_SITE_PORT, WEBMON_BASE_URL / WEBMON_PORT) into luigi's
configuration: `python -m luigi --module pipelines...` imports this before its
worker connects to luigid (pipelines/stack.py says what wins over what). It
also has luigi build its workers as pipelines.worker.RejoiningWorker, which
schedules its tasks again when a restarted luigid has forgotten them.
"""

from pipelines.stack import apply as _apply_stack
from pipelines.worker import install as _install_worker

_apply_stack()
_install_worker()
