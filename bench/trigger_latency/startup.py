"""The start-up of `python -m luigi --module pipelines.tasks RunCrawl ...`, up to complete(), timed.

run.py starts it as `python startup.py SPAWN_TIME AT` (SPAWN_TIME: time.time()
just before Popen) with the benchmark's environment, so the crawl's luigi.cfg,
spec dir and items DB are used. It does what the luigi CLI does before its
first scheduling RPC, except the worker set-up: imports, the command-line
parse (`CmdlineParser`, which builds the parser of every registered task and
config), then `RunCrawl.complete()` of a tick that is not stored (the items
DB's engine, `create_all`, the marker query). Prints one JSON line of real
times.
"""

from __future__ import annotations

import time

t_main = time.time()

import json  # noqa: E402
import sys  # noqa: E402

t_spawn, at = float(sys.argv[1]), sys.argv[2]
import luigi.cmdline  # noqa: E402, F401

t_luigi = time.time()
import pipelines.tasks  # noqa: E402, F401

t_tasks = time.time()
from luigi.cmdline_parser import CmdlineParser  # noqa: E402

with CmdlineParser.global_instance(["--module", "pipelines.tasks", "RunCrawl", "--crawl", "bench", "--at", at]) as cp:
    task = cp.get_task_obj()
    t_parsed = time.time()
    done = task.complete()
t_complete = time.time()
print(json.dumps({"interpreter_s": t_main - t_spawn, "import_luigi_s": t_luigi - t_main,
                  "import_tasks_s": t_tasks - t_luigi, "parse_s": t_parsed - t_tasks,
                  "complete_s": t_complete - t_parsed, "total_s": t_complete - t_spawn, "complete": done}))
