"""The run page's dependency graph: from luigid while the run is live, from the history afterwards.

History (crawl_run_deps, webmon/history/deps.py): the run's own row, then the
rows of its tick (or of its luigi invocation), walked down from the run's task
in memory; the tasks of that group that required it (and those that required
them) are drawn to its right.
A requirement that did not run in the group (it was complete already, luigi
did not look below it) is drawn without its own requirements.

luigid (/api/dep_graph and /api/inverse_dep_graph), only while the run is
running: luigid knows the whole pending graph, also the tasks that have not
run yet, and their statuses there.

Node colours: luigid's status while live; otherwise the newest run record of
each task_id (the run's own record for its own box). Every box links to the
newest run of its task. Three history queries whatever the graph's size: the
run's row, its group, the newest runs of the drawn tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.urls import reverse

from webmon.history.deps import DepsRow, group_of, latest_runs
from webmon.history.deps import deps_of as read_deps
from webmon.monitor import luigid
from webmon.monitor.clock import Clock
from webmon.monitor.dag import LUIGID_STATUS, Dag, NodeState, Skeleton, alone, draw, walk
from webmon.monitor.sources import Sources
from webmon.monitor.templatetags.monitor import status_label


def history_skeleton(row: DepsRow, group: list[DepsRow]) -> Skeleton:
    """The graph below the run's task from recorded rows: the run's own row first, then the newest of each task."""
    known: dict[str, DepsRow] = {}
    for r in (row, *group):
        known.setdefault(r.task_id, r)

    def requires_of(task_id: str) -> list[tuple[str, str]] | None:
        found = known.get(task_id)
        return None if found is None else [(q.task_id, q.family) for q in found.requires]

    above: dict[str, list[tuple[str, str]]] = {}
    for r in known.values():
        for q in r.requires:
            above.setdefault(q.task_id, []).append((r.task_id, r.family))
    return walk(row.task_id, row.family, requires_of, lambda task_id: above.get(task_id, []))


def luigid_skeleton(task_id: str, family: str) -> tuple[Skeleton, dict[str, str]] | None:
    """luigid's graph of the task and its statuses there, or None when luigid does not know the task."""
    graph = luigid.dep_graph(task_id)
    if task_id not in graph:
        return None

    def requires_of(node_id: str) -> list[tuple[str, str]] | None:
        node = graph.get(node_id)
        return None if node is None else [(d, graph[d].family if d in graph else "") for d in node.deps]

    inverse = luigid.dep_graph(task_id, inverse=True)

    def required_by(node_id: str) -> list[tuple[str, str]]:
        # In the inverse graph a node's "deps" are the tasks that require it.
        node = inverse.get(node_id)
        return [] if node is None else [(t, inverse[t].family if t in inverse else "") for t in node.deps]

    skeleton = walk(task_id, graph[task_id].family or family, requires_of, required_by)
    statuses = {t: n.status for t, n in {**inverse, **graph}.items()}
    return skeleton, statuses


def run_graph(run: Any, sources: Sources, clock: Clock) -> Dag | None:
    """The graph of the run's task, or None when nothing is recorded and luigid does not know it."""
    row = sources.history(lambda: read_deps(run.id), None)
    history = None
    if row is not None:
        group = sources.history(lambda: group_of(row), [])
        history = history_skeleton(row, group)
    live = sources.luigid(lambda: luigid_skeleton(run.task_id, run.family), None) if run.is_running else None
    skeleton = live[0] if live else history
    if skeleton is None:
        return None
    latest = sources.history(lambda: latest_runs(skeleton.task_ids), {})
    if live:
        return draw(skeleton, luigid_states(live[1], latest, run), "luigid", run_link())
    return draw(skeleton, history_states(latest, run, clock), "history", run_link())


def lone_graph(run: Any, clock: Clock) -> Dag:
    """The run's task alone (no requirements recorded: an older history, or a worker without our context)."""
    return draw(alone(run.task_id, run.family), history_states({}, run, clock), "alone", run_link())


def run_link() -> Callable[[int], str]:
    """The run page's URL for a run id, with the URL resolved once (not once per box)."""
    prefix = reverse("monitor:run", args=[1]).removesuffix("1/")
    return lambda run_id: f"{prefix}{run_id}/"


def history_states(latest: Mapping[str, Any], run: Any, clock: Clock) -> dict[str, NodeState]:
    states = {}
    for task_id, found in {**latest, run.task_id: run}.items():
        status = found.display_status(clock.now, clock.stale_after)
        states[task_id] = NodeState(status, status_label(status), found.id)
    return states


def luigid_states(statuses: Mapping[str, str], latest: Mapping[str, Any], run: Any) -> dict[str, NodeState]:
    states = {}
    for task_id, status in statuses.items():
        found = run if task_id == run.task_id else latest.get(task_id)
        states[task_id] = NodeState(LUIGID_STATUS.get(status, "not-run"), status.lower(), found.id if found else None)
    return states
