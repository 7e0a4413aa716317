"""The dependency graph of a run's task: which tasks, which edges, and where each box goes.

Pure functions, no I/O: the run page (views/run.py) hands in what luigid or
the history said, and the template draws the result as SVG (monitor/_dag.html).

- `Skeleton`: the tasks below the run's task (its requirements, theirs, ...),
  walked breadth-first up to MAX_NODES, plus the tasks known to require it
  (and those requiring them).
- `layout`: a layered drawing, flowing left to right in the order tasks run:
  a task's column is its longest path from the run's task (so every
  requirement is left of every task needing it), the tasks that require it
  one column to the right; within a column the boxes are ordered by the mean
  position of their neighbours (barycenter sweeps), which removes most edge
  crossings.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

MAX_NODES = 200  # boxes drawn; the rest of the graph is counted in a note
NODE_W, NODE_H = 200, 46
COL_GAP, ROW_GAP, PAD = 64, 14, 4
SWEEPS = 4
LABEL_CHARS = 26
TAIL_CHARS = 22
# Luigi's task id starts its parameter summary with the first parameter's value, and `at` / `date` sort
# first for most tasks: a tick (2026_11_21T0730_) that every box shares says nothing and hides the rest.
_TICK_PREFIX = re.compile(r"\d{4}_\d{2}_\d{2}(?:T\d{2,6})?_")

# luigid's statuses -> the css status keys the page uses (monitor.css stage-*, dag.css)
LUIGID_STATUS = {
    "PENDING": "pending",
    "RUNNING": "running",
    "BATCH_RUNNING": "running",
    "DONE": "done",
    "FAILED": "failed",
    "DISABLED": "failed",
    "UNKNOWN": "not-run",
}


@dataclass
class Skeleton:
    """The graph before layout: task_id -> family, and (requirer, requirement) edges."""

    root: str
    families: dict[str, str]
    edges: list[tuple[str, str]]
    walked: set[str]  # tasks whose requirements are known (and drawn)
    upstream: list[str] = field(default_factory=list)  # tasks that require the root
    more: int = 0  # tasks known to be in the graph but not drawn (over MAX_NODES)

    @property
    def task_ids(self) -> list[str]:
        return list(self.families)


def walk(
    root: str,
    root_family: str,
    requires_of: Callable[[str], Sequence[tuple[str, str]] | None],
    required_by: Callable[[str], Sequence[tuple[str, str]]] | None = None,
    limit: int = MAX_NODES,
) -> Skeleton:
    """Breadth-first down from `root`, then up through the tasks requiring it, at most `limit` tasks.

    requires_of(task_id) is [(task_id, family)], or None when unknown;
    required_by(task_id) is the [(task_id, family)] known to require it.
    """
    families = {root: root_family}
    edges: list[tuple[str, str]] = []
    walked: set[str] = set()
    unseen: set[str] = set()  # found but over the limit
    queue = deque([root])
    while queue:
        task_id = queue.popleft()
        below = requires_of(task_id)
        if below is None:
            continue
        walked.add(task_id)
        for dep_id, family in below:
            if dep_id not in families:
                if len(families) >= limit:
                    unseen.add(dep_id)
                    continue
                families[dep_id] = family
                queue.append(dep_id)
            edges.append((task_id, dep_id))
    upstream: list[str] = []
    queue = deque([root] if required_by is not None else [])
    while queue:
        task_id = queue.popleft()
        for above_id, family in required_by(task_id):  # type: ignore[misc]
            if above_id not in families:
                if len(families) >= limit:
                    unseen.add(above_id)
                    continue
                families[above_id] = family
                upstream.append(above_id)
                queue.append(above_id)
            if above_id in upstream:  # never an edge that would close a cycle through the root's graph
                edges.append((above_id, task_id))
    return Skeleton(root, families, list(dict.fromkeys(edges)), walked, upstream, len(unseen))


def alone(task_id: str, family: str) -> Skeleton:
    """The task by itself: nothing recorded about its requirements."""
    return Skeleton(task_id, {task_id: family}, [], set())


# -- layout ------------------------------------------------------------------------------


def columns(skeleton: Skeleton) -> dict[str, int]:
    """Column of each task, 0 at the left: longest path from the root, mirrored; requirers right of the root."""
    upstream = set(skeleton.upstream)
    below = [(a, b) for a, b in skeleton.edges if a not in upstream]
    depth = _longest(skeleton.root, [t for t in skeleton.families if t not in upstream], below)
    deepest = max(depth.values(), default=0)
    for task_id in skeleton.families:  # in a cycle (a history no worker should write): one column further
        if task_id not in depth and task_id not in upstream:
            depth[task_id] = deepest + 1
    deepest = max(depth.values(), default=0)
    cols = {task_id: deepest - d for task_id, d in depth.items()}
    # Upwards the same way: a requirer goes one column right of the furthest task it requires.
    above = [(b, a) for a, b in skeleton.edges if a in upstream]
    height = _longest(skeleton.root, [skeleton.root, *skeleton.upstream], above)
    for task_id in skeleton.upstream:
        cols[task_id] = cols[skeleton.root] + height.get(task_id, 1)
    return cols


def _longest(start: str, nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest path from `start` to each node along `edges` (Kahn's order); nodes on a cycle are left out."""
    indegree = dict.fromkeys(nodes, 0)
    children: dict[str, list[str]] = {t: [] for t in nodes}
    for a, b in edges:
        if a in children and b in indegree:
            children[a].append(b)
            indegree[b] += 1
    depth = {start: 0}
    ready = deque(t for t in nodes if indegree[t] == 0)
    while ready:
        task_id = ready.popleft()
        for child in children[task_id]:
            depth[child] = max(depth.get(child, 0), depth.get(task_id, 0) + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return depth


def order(skeleton: Skeleton, cols: Mapping[str, int]) -> list[list[str]]:
    """The tasks of each column, top to bottom, after barycenter sweeps."""
    width = max(cols.values(), default=0) + 1
    layers: list[list[str]] = [[] for _ in range(width)]
    for task_id in skeleton.families:  # discovery order first: requires() order, breadth-first
        layers[cols[task_id]].append(task_id)
    neighbours: dict[str, list[str]] = {t: [] for t in skeleton.families}
    for a, b in skeleton.edges:
        neighbours[a].append(b)
        neighbours[b].append(a)

    def place(index: int, side: int) -> None:
        where = {t: (i + 0.5) / len(layer) for layer in layers for i, t in enumerate(layer)}
        layer = layers[index]

        def key(item: tuple[int, str]) -> tuple[float, int]:
            i, task_id = item
            near = [where[n] for n in neighbours[task_id] if (cols[n] - index) * side > 0]
            return (sum(near) / len(near) if near else where[task_id], i)

        layers[index] = [t for _, t in sorted(enumerate(layer), key=key)]

    for sweep in range(SWEEPS):
        if sweep % 2 == 0:  # from the root's side towards the first tasks to run
            for index in range(width - 2, -1, -1):
                place(index, +1)
        else:
            for index in range(1, width):
                place(index, -1)
    return layers


def crossings(layers: Sequence[Sequence[str]], edges: Iterable[tuple[str, str]]) -> int:
    """Edge crossings between neighbouring columns (what the ordering tries to keep low)."""
    where = {t: (c, i) for c, layer in enumerate(layers) for i, t in enumerate(layer)}
    spans: dict[int, list[tuple[int, int]]] = {}
    for a, b in edges:
        (ca, ia), (cb, ib) = where[a], where[b]
        if abs(ca - cb) == 1:
            left, right = (ia, ib) if ca < cb else (ib, ia)
            spans.setdefault(min(ca, cb), []).append((left, right))
    total = 0
    for pairs in spans.values():
        for i, (l1, r1) in enumerate(pairs):
            total += sum(1 for l2, r2 in pairs[i + 1 :] if (l1 - l2) * (r1 - r2) < 0)
    return total


# -- what the template draws ---------------------------------------------------------------


@dataclass(frozen=True)
class NodeState:
    """How a task looks: its css status key, the word shown, and the run page it links to."""

    status: str
    text: str
    run_id: int | None = None


@dataclass(frozen=True)
class DagNode:
    task_id: str
    family: str
    label: str
    tail: str
    status: str
    text: str
    run_id: int | None
    x: int
    y: int
    current: bool
    walked: bool
    upstream: bool
    href: str | None = None  # the run page of `run_id`

    # Strings made here, not in the template: 200 boxes of template tags cost more than the queries.
    @property
    def css(self) -> str:
        flags = [(self.current, "stage-current"), (not self.walked, "dag-unwalked"), (self.upstream, "dag-upstream")]
        return " ".join(["stage", "dag-node", f"stage-{self.status}", *(name for on, name in flags if on)])

    @property
    def title(self) -> str:
        if self.walked:
            return f"{self.task_id}: {self.text}"
        return _("%(task)s: %(status)s (its requirements are not known here)") % {"task": self.task_id,
                                                                                 "status": self.text}

    @property
    def info(self) -> str:
        return f"{self.text} · {self.tail}"

    @property
    def text_x(self) -> int:
        return self.x + 10

    @property
    def name_y(self) -> int:
        return self.y + 19

    @property
    def info_y(self) -> int:
        return self.y + 37


@dataclass(frozen=True)
class DagEdge:
    source: str  # the requirement (runs first)
    target: str  # the task that requires it
    path: str


@dataclass(frozen=True)
class Dag:
    nodes: list[DagNode]
    edges: list[DagEdge]
    width: int
    height: int
    more: int
    source: str  # "luigid", "history" or "alone"
    unwalked: int  # drawn tasks whose own requirements are not known

    @property
    def node_w(self) -> int:
        return NODE_W

    @property
    def node_h(self) -> int:
        return NODE_H


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def tail_of(task_id: str, family: str, shared: str = "") -> str:
    """The task_id after its family (Luigi's parameter summary and hash), to tell same-family boxes apart.

    `shared`: a leading part every box has (the tick, see `shared_tick`), left out.
    """
    tail = task_id[len(family) + 1 :] if task_id.startswith(f"{family}_") else task_id
    if shared and tail.startswith(shared) and len(tail) > len(shared):
        tail = tail[len(shared) :]
    return _cut(tail, TAIL_CHARS)


def shared_tick(families: Mapping[str, str]) -> str:
    """The tick every box's parameter summary starts with ("2026_11_21T0730_"), or "" when they differ.

    Two FetchPages of one ShopReport tick are then "demo_{}_1a2b…" and "demo_b_{}_3c4d…"
    instead of two "2026_11_21T0730_demo_…".
    """
    found = set()
    for task_id, family in families.items():
        tail = task_id[len(family) + 1 :] if task_id.startswith(f"{family}_") else task_id
        match = _TICK_PREFIX.match(tail)
        found.add(match.group(0) if match else "")
    return found.pop() if len(families) > 1 and len(found) == 1 else ""


def draw(
    skeleton: Skeleton,
    states: Mapping[str, NodeState],
    source: str,
    link: Callable[[int], str] = lambda run_id: f"/runs/{run_id}/",
) -> Dag:
    """Boxes and edges with coordinates; `states` says each task's status (missing: not run), `link` a run's URL."""
    cols = columns(skeleton)
    layers = order(skeleton, cols)
    tallest = max((len(layer) for layer in layers), default=1)
    step_x, step_y = NODE_W + COL_GAP, NODE_H + ROW_GAP
    spot: dict[str, tuple[int, int]] = {}
    for c, layer in enumerate(layers):
        offset = (tallest - len(layer)) * step_y // 2
        for i, task_id in enumerate(layer):
            spot[task_id] = (PAD + c * step_x, PAD + offset + i * step_y)
    nodes = []
    shared = shared_tick(skeleton.families)
    for task_id, family in skeleton.families.items():
        state = states.get(task_id) or NodeState("not-run", _("no run record"))
        x, y = spot[task_id]
        nodes.append(
            DagNode(
                task_id=task_id,
                family=family,
                label=_cut(family or task_id, LABEL_CHARS),
                tail=tail_of(task_id, family, shared),
                status=state.status,
                text=state.text,
                run_id=state.run_id,
                x=x,
                y=y,
                current=task_id == skeleton.root,
                walked=task_id in skeleton.walked or task_id in skeleton.upstream,
                upstream=task_id in skeleton.upstream,
                href=link(state.run_id) if state.run_id is not None else None,
            )
        )
    edges = []
    for requirer, dep in skeleton.edges:
        (dx, dy), (rx, ry) = spot[dep], spot[requirer]
        x1, y1, x2, y2 = dx + NODE_W, dy + NODE_H // 2, rx, ry + NODE_H // 2
        mid = (x1 + x2) / 2
        edges.append(DagEdge(dep, requirer, f"M{x1},{y1} C{mid:.0f},{y1} {mid:.0f},{y2} {x2 - 2},{y2}"))
    width = PAD * 2 + len(layers) * step_x - COL_GAP
    height = PAD * 2 + tallest * step_y - ROW_GAP
    unwalked = sum(1 for n in nodes if not n.walked)
    return Dag(nodes, edges, width, height, skeleton.more, source, unwalked if source != "alone" else 0)
