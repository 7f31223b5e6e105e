"""The undoable project document: every edit undoes and redoes exactly, refusals leave no trace.

Headless: QUndoStack and signals work without a QApplication, so no ``qtbot`` here.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.catalog import get_layer
from engines.graph import Edge, Graph, GraphError
from workbench.core.project import Project, Run
from workbench.gui.document import Fix, ProjectDocument


class Recorder:
    """Collects the arguments of every emission of the signals it is connected to."""

    def __init__(self, doc: ProjectDocument) -> None:
        self.calls: dict[str, list[tuple]] = {}
        for name in (
            "graph_changed",
            "runs_changed",
            "config_changed",
            "dirty_changed",
            "problems_changed",
        ):
            getattr(doc, name).connect(
                lambda *args, name=name: self.calls.setdefault(name, []).append(args)
            )

    def count(self, name: str) -> int:
        return len(self.calls.get(name, []))


def _doc(graph: Graph | None = None, **kwargs) -> ProjectDocument:
    return ProjectDocument(Project.new("test", graph or Graph(), **kwargs))


def _mlp() -> Graph:
    g = Graph()
    g.add_node("input", {"shape": [4]}, id="x", position=(0, 0))
    g.add_node("linear", {"out_features": 8}, id="fc1", position=(0, 100))
    g.add_node("relu", id="act", position=(0, 200))
    g.add_node("linear", {"out_features": 2}, id="fc2", position=(0, 300))
    g.add_node("output", id="y", position=(0, 400))
    for a, b in (("x", "fc1"), ("fc1", "act"), ("act", "fc2"), ("fc2", "y")):
        g.connect(a, b)
    return g


def _conv_to_linear(in_features: int | None) -> Graph:
    g = Graph()
    g.add_node("input", {"shape": [1, 12, 12]}, id="x", position=(0, 0))
    g.add_node("conv2d", {"out_channels": 4}, id="conv", position=(0, 100))
    g.add_node(
        "linear", {"out_features": 3, "in_features": in_features}, id="fc", position=(0, 300)
    )
    g.add_node("output", id="y", position=(0, 400))
    for a, b in (("x", "conv"), ("conv", "fc"), ("fc", "y")):
        g.connect(a, b)
    return g


def _undo_all(doc: ProjectDocument) -> None:
    while doc.undo_stack.canUndo():
        doc.undo()


def _redo_all(doc: ProjectDocument) -> None:
    while doc.undo_stack.canRedo():
        doc.redo()


# ------------------------------------------------------------------ random edit sequences
TYPES = ["input", "linear", "relu", "flatten", "conv2d", "dropout", "add", "output"]
# A few values per parameter, some of them refused by the catalog (0, -1, "x").
VALUES = [None, 0, 1, 3, 8, -1, 0.5, True, "x", [1, 6, 6], [4]]


def _random_edit(doc: ProjectDocument, data: st.DataObject) -> None:
    """One random edit; GraphError (a refusal) is the only exception allowed."""
    graph = doc.graph
    ids = list(graph.nodes)
    op = data.draw(
        st.sampled_from(
            [
                "add",
                "add",
                "remove",
                "connect",
                "connect",
                "disconnect",
                "param",
                "move",
                "paste",
                "insert",
                "fix",
            ]
        )
    )
    if op == "add" or not ids:
        doc.add_node(
            data.draw(st.sampled_from(TYPES)),
            position=(data.draw(st.integers(-50, 50)), data.draw(st.integers(-50, 50))),
        )
    elif op == "remove":
        doc.remove_nodes(data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3)))
    elif op == "connect":
        src, dst = data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids))
        # Mostly real port names; sometimes a wrong one, which must be refused.
        outs = get_layer(graph.nodes[src].type).output_names or ["out"]
        ins = get_layer(graph.nodes[dst].type).input_names or ["in"]
        doc.connect_nodes(
            src, dst, data.draw(st.sampled_from([*outs, "nope"])), data.draw(st.sampled_from(ins))
        )
    elif op == "disconnect":
        edges = graph.edges or [Edge("a", "out", "b", "in")]
        doc.disconnect_edge(data.draw(st.sampled_from(edges)))
    elif op == "param":
        nid = data.draw(st.sampled_from(ids))
        names = list(graph.nodes[nid].params) or ["missing"]
        doc.set_param(nid, data.draw(st.sampled_from(names)), data.draw(st.sampled_from(VALUES)))
    elif op == "move":
        chosen = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3))
        doc.move_nodes({nid: (data.draw(st.integers(-99, 99)), 7.0) for nid in chosen})
    elif op == "paste":
        doc.duplicate(data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3)))
    elif op == "insert":
        if graph.edges:
            doc.insert_node_on_edge(data.draw(st.sampled_from(graph.edges)), "dropout")
    else:
        for problem in doc.report().problems:
            if doc.fix(problem):
                break


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), start=st.sampled_from(["empty", "mlp"]))
def test_random_edits_undo_to_start_and_redo_to_end(data: st.DataObject, start: str) -> None:
    doc = _doc(_mlp() if start == "mlp" else Graph())
    first = doc.graph.to_dict()
    refused = 0
    for _ in range(data.draw(st.integers(1, 25))):
        before, count = doc.graph.to_dict(), doc.undo_stack.count()
        try:
            _random_edit(doc, data)
        except GraphError:
            refused += 1
            # A refusal changes nothing and leaves no undo entry.
            assert doc.graph.to_dict() == before
            assert doc.undo_stack.count() == count
    end = doc.graph.to_dict()
    _undo_all(doc)
    assert doc.graph.to_dict() == first
    _redo_all(doc)
    assert doc.graph.to_dict() == end
    # The cached report follows undo/redo: it matches a fresh analysis of the end state.
    assert (
        doc.report().problems
        == ProjectDocument(Project.new("t", Graph.from_dict(end))).report().problems
    )


def test_remove_nodes_restores_nodes_and_edges_in_original_order() -> None:
    doc = _doc(_mlp())
    start = doc.graph.to_dict()
    doc.remove_nodes(["act", "fc1"])
    assert list(doc.graph.nodes) == ["x", "fc2", "y"]
    assert doc.graph.edges == [Edge("fc2", "out", "y", "in")]
    doc.undo()
    assert doc.graph.to_dict() == start
    doc.redo()
    assert list(doc.graph.nodes) == ["x", "fc2", "y"]


def test_add_node_redo_reuses_the_same_id() -> None:
    doc = _doc(_mlp())
    nid = doc.add_node("dropout", {"p": 0.25}, position=(5, 6))
    doc.undo()
    assert nid not in doc.graph.nodes
    doc.redo()
    node = doc.graph.node(nid)
    assert (node.type, node.params["p"], node.position) == ("dropout", 0.25, (5.0, 6.0))


def test_paste_uses_fresh_ids_keeps_inner_edges_and_offsets() -> None:
    doc = _doc(_mlp())
    fragment = doc.copy_nodes(["fc1", "act", "fc2"])
    new = doc.paste(fragment, offset=(10, 20))
    assert len(new) == 3 and not set(new) & {"fc1", "act", "fc2"}
    inner = [e for e in doc.graph.edges if e.src in new or e.dst in new]
    assert inner == [Edge(new[0], "out", new[1], "in"), Edge(new[1], "out", new[2], "in")]
    assert doc.graph.node(new[0]).position == (10.0, 120.0)
    assert doc.undo_stack.count() == 1
    doc.undo()
    assert doc.graph.to_dict() == _mlp().to_dict()


def test_paste_refuses_a_broken_fragment_without_an_undo_entry() -> None:
    doc = _doc(_mlp())
    with pytest.raises(GraphError):
        doc.paste({"nodes": [{"id": "a", "type": "no_such_layer"}], "edges": []})
    assert doc.undo_stack.count() == 0


# ------------------------------------------------------------------------------- merging
def test_consecutive_param_edits_are_one_undo_step() -> None:
    doc = _doc(_mlp())
    for value in (1, 12, 128):  # typing "128"
        doc.set_param("fc1", "out_features", value)
    assert doc.undo_stack.count() == 1
    assert doc.graph.node("fc1").params["out_features"] == 128
    doc.undo()
    assert doc.graph.node("fc1").params["out_features"] == 8
    assert not doc.undo_stack.canUndo()


def test_param_edits_of_another_param_or_without_merge_are_separate_steps() -> None:
    doc = _doc(_mlp())
    doc.set_param("fc1", "out_features", 16)
    doc.set_param("fc2", "out_features", 3)
    doc.set_param("fc2", "out_features", 4, merge=False)
    assert doc.undo_stack.count() == 3
    doc.undo()
    assert doc.graph.node("fc2").params["out_features"] == 3


def test_param_edit_back_to_the_start_leaves_no_step() -> None:
    doc = _doc(_mlp())
    doc.set_param("fc1", "out_features", 16)
    doc.set_param("fc1", "out_features", 8)
    assert doc.undo_stack.count() == 0
    assert doc.graph.to_dict() == _mlp().to_dict()


def test_param_value_refused_by_the_catalog_is_not_pushed() -> None:
    doc = _doc(_mlp())
    with pytest.raises(GraphError, match="out_features"):
        doc.set_param("fc1", "out_features", 0)
    with pytest.raises(GraphError):
        doc.set_param("fc1", "no_such_param", 1)
    assert doc.undo_stack.count() == 0
    assert doc.graph.to_dict() == _mlp().to_dict()


def test_moves_of_the_same_selection_merge() -> None:
    doc = _doc(_mlp())
    for step in range(1, 5):  # a drag
        doc.move_nodes({"fc1": (step, step), "act": (step, 200 + step)})
    assert doc.undo_stack.count() == 1
    doc.move_nodes({"fc1": (50, 50)})  # another selection: a new step
    doc.move_nodes({"fc1": (60, 60)}, merge=False)  # a new drag: a new step
    assert doc.undo_stack.count() == 3
    _undo_all(doc)
    assert doc.graph.to_dict() == _mlp().to_dict()


def test_a_save_point_is_not_merged_into() -> None:
    doc = _doc(_mlp())
    doc.set_param("fc1", "out_features", 16)
    doc.mark_saved()
    doc.set_param("fc1", "out_features", 32)
    assert doc.undo_stack.count() == 2
    doc.undo()
    assert not doc.dirty and doc.graph.node("fc1").params["out_features"] == 16


# ------------------------------------------------------------------------------ refusals
def test_refused_connect_leaves_no_change_no_entry_no_signal() -> None:
    doc = _doc(_mlp())
    seen = Recorder(doc)
    for args in (("x", "fc2"), ("fc1", "fc1"), ("x", "nothing"), ("y", "fc1")):
        with pytest.raises(GraphError):
            doc.connect_nodes(*args)  # fc2 is fed already; self loop; no node; output has no output
    assert doc.undo_stack.count() == 0
    assert doc.graph.to_dict() == _mlp().to_dict()
    assert seen.calls == {}


def test_refused_remove_and_disconnect() -> None:
    doc = _doc(_mlp())
    with pytest.raises(GraphError):
        doc.remove_nodes(["fc1", "ghost"])
    with pytest.raises(GraphError):
        doc.disconnect_edge(Edge("x", "out", "y", "in"))
    assert doc.undo_stack.count() == 0
    assert doc.graph.to_dict() == _mlp().to_dict()


# --------------------------------------------------------------------------------- fixes
def test_flatten_fix_makes_conv_to_linear_valid_and_undoes_cleanly() -> None:
    doc = _doc(_conv_to_linear(in_features=4 * 12 * 12))
    start = doc.graph.to_dict()
    assert not doc.report().ok
    (problem,) = [p for p in doc.report().problems if p.node_id == "fc"]
    fix = doc.fix(problem)
    assert (
        fix is not None
        and fix.insert_flatten == Edge("conv", "out", "fc", "in")
        and fix.params == ()
    )
    assert doc.report().ok, doc.report().summary()
    (flat,) = doc.graph.nodes_of_type("flatten")
    assert [e.dst for e in doc.graph.outputs_of("conv")] == [flat.id]
    assert flat.position == (0.0, 200.0)  # halfway along the connection
    assert doc.undo_stack.count() == 1
    doc.undo()
    assert doc.graph.to_dict() == start
    assert not doc.report().ok
    doc.redo()
    assert doc.report().ok


def test_flatten_fix_also_corrects_a_wrong_in_features() -> None:
    doc = _doc(_conv_to_linear(in_features=100))
    (fix,) = doc.fixes()
    assert fix.params == (("in_features", 576),)
    doc.apply_fix(fix)
    assert doc.report().ok
    assert doc.graph.node("fc").params["in_features"] == 576
    assert doc.undo_stack.count() == 1  # insert and set: one step
    doc.undo()
    assert doc.graph.to_dict() == _conv_to_linear(in_features=100).to_dict()


def test_in_features_fix_for_a_flat_input() -> None:
    g = _mlp()
    g.set_param("fc2", "in_features", 5)
    doc = _doc(g)
    assert doc.fixes() == [
        Fix("Set in_features of 'fc2' to 8", "fc2", params=(("in_features", 8),))
    ]
    doc.fix(doc.report().problems[0])
    assert doc.report().ok


def test_no_fix_for_a_problem_without_an_obvious_one() -> None:
    g = _mlp()
    g.disconnect(Edge("act", "out", "fc2", "in"))
    doc = _doc(g)
    assert not doc.report().ok
    assert doc.fixes() == []
    assert all(doc.fix(p) is None for p in doc.report().problems)
    assert doc.undo_stack.count() == 0


# ---------------------------------------------------------------------- runs and config
def _with_runs() -> ProjectDocument:
    doc = _doc(_mlp())
    for rid in ("r1", "r2", "r3"):
        doc.project.add_run(Run(id=rid, name=f"run {rid}"))
    doc.project.active_run = "r2"
    return doc


def test_remove_run_undo_restores_place_and_active_run() -> None:
    doc = _with_runs()
    seen = Recorder(doc)
    before = copy.deepcopy(doc.project.runs)
    doc.remove_run("r2")
    assert [r.id for r in doc.project.runs] == ["r1", "r3"] and doc.project.active_run == "r3"
    doc.undo()
    assert doc.project.runs == before and doc.project.active_run == "r2"
    assert seen.count("runs_changed") == 2 and seen.count("graph_changed") == 0
    with pytest.raises(KeyError):
        doc.remove_run("ghost")
    assert doc.undo_stack.count() == 1


def test_rename_run_merges_and_undoes() -> None:
    doc = _with_runs()
    for name in ("b", "ba", "baseline"):
        doc.rename_run("r1", name)
    assert doc.undo_stack.count() == 1 and doc.project.run("r1").name == "baseline"
    doc.undo()
    assert doc.project.run("r1").name == "run r1"


def test_add_run_refuses_a_duplicate_id() -> None:
    doc = _with_runs()
    with pytest.raises(ValueError):
        doc.add_run(Run(id="r1", name="again"))
    assert doc.undo_stack.count() == 0 and len(doc.project.runs) == 3
    doc.add_run(Run(id="r4", name="new"))
    assert doc.project.active_run == "r4"
    # a trained run is a record, not an undo step: it stays, and the project is unsaved
    assert doc.undo_stack.count() == 0 and doc.dirty
    doc.undo()
    assert [r.id for r in doc.project.runs] == ["r1", "r2", "r3", "r4"]
    doc.mark_saved()
    assert not doc.dirty


def test_train_config_edits_validate_merge_and_undo() -> None:
    from engines.training import ConfigError

    doc = _doc(_mlp(), train_config={"epochs": 5})
    seen = Recorder(doc)
    doc.set_train_config({"lr": 0.1})
    doc.set_train_config({"lr": 0.01})
    assert doc.project.train_config == {"epochs": 5, "lr": 0.01}
    assert doc.undo_stack.count() == 1 and seen.count("config_changed") == 2
    with pytest.raises(ConfigError):
        doc.set_train_config({"lr": -1.0})
    with pytest.raises(ConfigError):
        doc.set_train_config({"epohcs": 3})
    assert doc.undo_stack.count() == 1 and doc.project.train_config["lr"] == 0.01
    doc.undo()
    assert doc.project.train_config == {"epochs": 5}


# ------------------------------------------------------------------------------- signals
def test_dirty_follows_clean_state() -> None:
    doc = _doc(_mlp())
    seen = Recorder(doc)
    assert not doc.dirty
    doc.set_param("fc1", "out_features", 16)
    assert doc.dirty
    doc.mark_saved()
    assert not doc.dirty
    doc.undo()
    assert doc.dirty
    doc.redo()
    assert not doc.dirty
    assert seen.calls["dirty_changed"] == [(True,), (False,), (True,), (False,)]


def test_save_marks_clean(tmp_path) -> None:
    doc = _doc(_mlp())
    doc.add_node("relu")
    doc.save(tmp_path / "p.wbproj")
    assert not doc.dirty and (tmp_path / "p.wbproj").exists()


def test_graph_signals_and_cached_report() -> None:
    doc = _doc(_mlp())
    seen = Recorder(doc)
    report = doc.report()
    assert report.ok and doc.report() is report  # cached
    doc.move_nodes({"fc1": (1, 2)})
    assert seen.count("graph_changed") == 1
    assert doc.report() is report  # a move cannot change shapes
    doc.disconnect_edge(Edge("act", "out", "fc2", "in"))
    assert seen.count("graph_changed") == 2
    assert doc.report() is not report and not doc.report().ok
    (problems,) = seen.calls["problems_changed"][-1]
    assert problems == doc.report().problems and any(p.kind == "unconnected" for p in problems)
    doc.undo()
    assert seen.count("graph_changed") == 3 and doc.report().ok
    assert seen.calls["problems_changed"][-1] == ([],)


def test_an_insert_on_a_short_downward_connection_pushes_the_rest_down() -> None:
    """x (0, 0) → a (0, 100) → y (0, 200): the a → y connection runs down and is 100 long,
    less than the 2 × 100 an insert needs; the new node goes 100 below a, at (0, 200), and y
    moves down by 100 + 200 − 200 = 100 to (0, 300). Undo puts y back."""
    g = Graph()
    g.add_node("input", {"shape": [4]}, id="x", position=(0, 0))
    g.add_node("linear", {"out_features": 3}, id="a", position=(0, 100))
    g.add_node("output", id="y", position=(0, 200))
    g.connect("x", "a")
    g.connect("a", "y")
    doc = _doc(g)
    new = doc.insert_node_on_edge(Edge("a", "out", "y", "in"), "relu")
    assert doc.graph.node(new).position == (0.0, 200.0)
    assert doc.graph.node("y").position == (0.0, 300.0)
    assert doc.graph.node("x").position == (0.0, 0.0) and doc.graph.node("a").position == (0.0, 100.0)
    doc.undo()
    assert doc.graph.node("y").position == (0.0, 200.0) and new not in doc.graph.nodes
