"""The dependency graph's walk and layout (webmon/monitor/dag.py): pure functions, no database."""

from __future__ import annotations

from webmon.monitor.dag import NodeState, Skeleton, columns, crossings, draw, order, walk


def graph(requires: dict[str, list[str]]):  # noqa: ANN201
    def requires_of(task_id: str) -> list[tuple[str, str]] | None:
        return [(t, t) for t in requires[task_id]] if task_id in requires else None

    return requires_of


def test_a_task_goes_one_column_left_of_the_furthest_task_needing_it() -> None:
    # A needs B and D directly; B needs C, C needs D: D is drawn left of C, not next to A.
    skeleton = walk("A", "A", graph({"A": ["B", "D"], "B": ["C"], "C": ["D"], "D": []}))
    assert columns(skeleton) == {"A": 3, "B": 2, "C": 1, "D": 0}


def test_the_tasks_that_require_the_root_go_to_its_right_by_their_longest_path() -> None:
    # A and Z require B; Top requires A and B: Top goes right of A, not next to it.
    above = {"B": [("A", "A"), ("Z", "Z"), ("Top", "Top")], "A": [("Top", "Top")]}
    skeleton = walk("B", "B", graph({"B": ["D"], "D": []}), lambda t: above.get(t, []))
    assert skeleton.upstream == ["A", "Z", "Top"]
    assert columns(skeleton) == {"D": 0, "B": 1, "A": 2, "Z": 2, "Top": 3}
    assert {("A", "B"), ("Z", "B"), ("Top", "B"), ("Top", "A")} <= set(skeleton.edges)


def test_ordering_within_columns_removes_the_crossing_of_discovery_order() -> None:
    # Discovered in the order Y2, Y1 although X1 needs Y1 and X2 needs Y2: drawn as found, the edges cross.
    skeleton = Skeleton(
        root="R",
        families={t: t for t in ("R", "X1", "X2", "Y2", "Y1")},
        edges=[("R", "X1"), ("R", "X2"), ("X1", "Y1"), ("X2", "Y2")],
        walked={"R", "X1", "X2", "Y1", "Y2"},
    )
    cols = columns(skeleton)
    as_found = [[t for t in skeleton.families if cols[t] == c] for c in range(3)]
    assert crossings(as_found, skeleton.edges) == 1
    assert crossings(order(skeleton, cols), skeleton.edges) == 0


def test_a_cycle_in_a_bad_history_is_drawn_not_looped() -> None:
    skeleton = walk("A", "A", graph({"A": ["B"], "B": ["A"]}))
    dag = draw(skeleton, {}, "history")
    assert sorted(n.task_id for n in dag.nodes) == ["A", "B"]
    assert all(n.status == "not-run" for n in dag.nodes)


def test_unknown_requirements_are_marked_and_the_limit_counts_the_rest() -> None:
    requires = {"R": [f"L{i}" for i in range(5)]}
    skeleton = walk("R", "R", graph(requires), limit=3)
    assert (list(skeleton.families), skeleton.more) == (["R", "L0", "L1"], 3)
    dag = draw(skeleton, {"R": NodeState("done", "done", 7)}, "history")
    assert dag.unwalked == 2  # L0 and L1: their own requirements are not known
    root = next(n for n in dag.nodes if n.task_id == "R")
    assert (root.current, root.run_id, root.status) == (True, 7, "done")


def test_boxes_never_overlap_and_edges_run_from_requirement_to_requirer() -> None:
    skeleton = walk("A", "A", graph({"A": ["B", "C"], "B": ["D"], "C": ["D"], "D": []}))
    dag = draw(skeleton, {}, "history")
    spots = {(n.x, n.y) for n in dag.nodes}
    assert len(spots) == 4
    b, c = (next(n for n in dag.nodes if n.task_id == t) for t in "BC")
    assert b.x == c.x and abs(b.y - c.y) >= dag.node_h
    assert all(n.x + dag.node_w <= dag.width and n.y + dag.node_h <= dag.height for n in dag.nodes)
    edge = next(e for e in dag.edges if (e.source, e.target) == ("D", "B"))
    d = next(n for n in dag.nodes if n.task_id == "D")
    assert edge.path.startswith(f"M{d.x + dag.node_w},{d.y + dag.node_h // 2} ")


def test_boxes_of_one_tick_leave_the_shared_tick_out_so_the_crawls_tell_them_apart() -> None:
    # Luigi's task ids of one ShopReport tick: the tick leads every parameter summary.
    families = {"ShopReport_2026_11_21T0730_demo_demo_b_8454f2c7f1": "ShopReport",
                "FetchPages_2026_11_21T0730_demo_c0ffee1234": "FetchPages",
                "FetchPages_2026_11_21T0730_demo_b_deadbeef12": "FetchPages"}
    root = next(iter(families))
    skeleton = Skeleton(root=root, families=families, edges=[(root, t) for t in list(families)[1:]],
                        walked=set(families))
    tails = {n.task_id: n.tail for n in draw(skeleton, {}, "history").nodes}
    assert list(tails.values()) == ["demo_demo_b_8454f2c7f1", "demo_c0ffee1234", "demo_b_deadbeef12"]
    # Boxes of different ticks (or one box alone) keep theirs: there it tells them apart.
    families["FetchPages_2026_11_20T0730_demo_0123456789"] = "FetchPages"
    skeleton = Skeleton(root=root, families=families, edges=[(root, t) for t in list(families)[1:]],
                        walked=set(families))
    assert {n.tail for n in draw(skeleton, {}, "history").nodes} >= {"2026_11_20T0730_demo_…"}
