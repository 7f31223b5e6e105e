"""The graph editor, driven as a user drives it: drops, port drags, boxes, keys, menus.

The main-window tests go through the same code paths as the real gestures: a palette drag's
MIME data dropped on the canvas with QDropEvents, ports connected by mouse events on the
canvas, shortcuts pressed as keys. View-level tests check the canvas on its own.
"""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QMouseEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication

from engines.graph import Edge
from widgets.graph.canvas import GraphView, ProblemsPanel
from widgets.graph.palette import LAYER_MIME_TYPE
from workbench.gui.canvas import GRAPH_MIME_TYPE

LEFT, NONE = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton


# ----------------------------------------------------------------------------- helpers
def _loaded(make_main_window, qtbot, project=None):
    w = make_main_window()
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    if project is None:
        w.open_initial(None, demo=True)
    else:
        w.set_project(project, None)
    qtbot.waitUntil(lambda: w.project is not None, timeout=60_000)
    w.graph_view.zoom_to_fit(readable=None)
    # shortcuts reach only the active window's focus widget
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5_000)
    return w


def _focus(qtbot, view: GraphView) -> None:
    view.setFocus()
    qtbot.waitUntil(view.hasFocus, timeout=5_000)


def _send_mouse(view: GraphView, kind: QEvent.Type, pos: QPoint, button, buttons,
                modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    vp = view.viewport()
    local = QPointF(pos)
    event = QMouseEvent(kind, local, QPointF(vp.mapToGlobal(pos)), button, buttons, modifiers)
    QApplication.sendEvent(vp, event)


def _drag(view: GraphView, start: QPoint, end: QPoint, steps: int = 6, finish: bool = True,
          button=LEFT, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """Press at ``start``, move to ``end`` in steps (button held), release unless not ``finish``."""
    _send_mouse(view, QEvent.Type.MouseButtonPress, start, button, button, modifiers)
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        _send_mouse(view, QEvent.Type.MouseMove, QPoint(round(p.x()), round(p.y())), NONE,
                    button, modifiers)
    if finish:
        _send_mouse(view, QEvent.Type.MouseButtonRelease, end, button, NONE, modifiers)


def _port_at(view: GraphView, node_id: str, name: str, is_input: bool) -> QPoint:
    port = view.port(node_id, name, is_input)
    assert port is not None, f"no port {node_id}.{name}"
    return view.mapFromScene(port.centre())


def _connect_by_drag(view: GraphView, src: str, dst: str, src_port="out", dst_port="in") -> None:
    _drag(view, _port_at(view, src, src_port, False), _port_at(view, dst, dst_port, True))


def _empty_spot(view: GraphView) -> QPoint:
    """A point of the canvas with no item under it."""
    vp = view.viewport().rect()
    for y in range(10, vp.height() - 10, 17):
        for x in range(10, vp.width() - 10, 23):
            if not view.items(QPoint(x, y)):
                return QPoint(x, y)
    raise AssertionError("no empty spot on the canvas")


def _drop_layer(view: GraphView, mime: QMimeData, pos: QPoint) -> bool:
    """Deliver a drag-enter, a drag-move and a drop, as a real drag from the palette does."""
    vp = view.viewport()
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos, actions, mime, LEFT, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(pos, actions, mime, LEFT, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, move)
    drop = QDropEvent(QPointF(pos), actions, mime, LEFT, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, drop)
    return drop.isAccepted()


def _palette_mime(window, layer_id: str) -> QMimeData:
    """The MIME data the palette puts on a drag of ``layer_id`` (its own mimeData())."""
    tree = window.palette.tree
    for i in range(tree.topLevelItemCount()):
        parent = tree.topLevelItem(i)
        for j in range(parent.childCount()):
            item = parent.child(j)
            if item.data(0, Qt.ItemDataRole.UserRole) == layer_id:
                return tree.mimeData([item])
    raise AssertionError(f"{layer_id} is not in the palette")


def _undo_all(w) -> None:
    while w.doc.undo_stack.canUndo():
        w.doc.undo()


def _edges(w) -> set[tuple[str, str, str, str]]:
    return {(e.src, e.src_port, e.dst, e.dst_port) for e in w.project.graph.edges}


def _no_overlap(view: GraphView) -> None:
    items = list(view.node_items.values())
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            ra, rb = a.mapRectToScene(a.shape().boundingRect()), b.mapRectToScene(b.shape().boundingRect())
            assert not ra.intersects(rb), f"{a.node_id} overlaps {b.node_id}"


# ------------------------------------------------------------------- main window tests
@pytest.mark.gui
def test_build_a_network_from_the_palette_by_drops_and_port_drags(make_main_window, qtbot) -> None:
    w = _loaded(make_main_window, qtbot)
    view = w.graph_view
    start = w.project.graph.to_dict()
    # clear the canvas the way a user does: select all, delete (input and output stay)
    view.setFocus()
    view.select_all_action.trigger()
    w.delete_action.trigger()
    assert set(w.project.graph.nodes) == {"input", "output"} and not w.project.graph.edges
    for layer_id, x in (("linear", 0.3), ("relu", 0.5), ("linear", 0.7)):
        vp = view.viewport().rect()
        spot = QPoint(int(vp.width() * x), int(vp.height() * 0.75))
        count = w.doc.undo_stack.count()
        assert _drop_layer(view, _palette_mime(w, layer_id), spot)
        assert w.doc.undo_stack.count() == count + 1  # one undo step per drop
        new = w._selected_nodes[0]  # the new node is selected (and shown in the inspector)
        assert w.project.graph.nodes[new].type == layer_id
        # it is centred where it was dropped
        assert view.node_items[new].sceneBoundingRect().contains(view.mapToScene(spot))
        assert w.inspector.node_id == new
    fc_a, act, fc_b = "linear1", "relu1", "linear2"
    assert {fc_a, act, fc_b} <= set(w.project.graph.nodes)
    view.zoom_to_fit(readable=None)  # everything in view, to drag between layers
    for src, dst in (("input", fc_a), (fc_a, act), (act, fc_b), (fc_b, "output")):
        _connect_by_drag(view, src, dst)
    assert _edges(w) == {("input", "out", fc_a, "in"), (fc_a, "out", act, "in"),
                         (act, "out", fc_b, "in"), (fc_b, "out", "output", "in")}
    report = w.doc.report()
    assert report.ok, report.summary()
    # shapes on every edge, parameter counts on the nodes and in total
    assert len(view.edge_labels) == 4
    n_in = w.doc.report().node_shapes["input"][0]
    width = w.project.graph.nodes[fc_a].params["out_features"]
    assert report.param_counts[fc_a] == n_in * width + width
    assert f"{report.total_params:,} parameters" in view.summary
    assert f"{report.param_counts[fc_a]:,} params" == view.node_items[fc_a].subtitle.text()
    # a port's tooltip names it and its shape
    tip = view.port(fc_a, "in", True).toolTip()
    assert "Input 'in'" in tip and f"shape: {n_in}" in tip
    _undo_all(w)
    assert w.project.graph.to_dict() == start


@pytest.mark.gui
def test_compatible_ports_highlight_and_bad_connections_are_refused(make_main_window, qtbot) -> None:
    w = _loaded(make_main_window, qtbot)
    view = w.graph_view
    messages: list[str] = []
    w.canvas.status_message.connect(messages.append)
    # two free layers below the chain, r1 -> r2
    vp = view.viewport().rect()
    for x in (0.35, 0.65):
        _drop_layer(view, _palette_mime(w, "relu"), QPoint(int(vp.width() * x), int(vp.height() * 0.8)))
    r1, r2 = "relu3", "relu4"
    view.zoom_to_fit(readable=None)  # everything in view, to drag between layers
    _connect_by_drag(view, r1, r2)
    assert (r1, "out", r2, "in") in _edges(w)
    before, count = w.project.graph.to_dict(), w.doc.undo_stack.count()

    # mid-drag out of r2: inputs already fed and r1 (a cycle) are not compatible; the free
    # input of a fresh layer is
    _drop_layer(view, _palette_mime(w, "gelu"), QPoint(int(vp.width() * 0.5), int(vp.height() * 0.9)))
    free = "gelu1"
    count += 1
    before = w.project.graph.to_dict()
    view.zoom_to_fit(readable=None)  # everything in view, to drag between layers
    _drag(view, _port_at(view, r2, "out", False), _port_at(view, r1, "in", True), finish=False)
    assert view.dragging_connection
    assert view.port(free, "in", True).state == "compatible"
    assert view.port("fc1", "in", True).state == "replace"  # occupied: a drop takes it over
    assert view.port(r1, "in", True).state == "incompatible"  # would close a cycle
    assert "cycle" in messages[-1]
    _send_mouse(view, QEvent.Type.MouseButtonRelease, _port_at(view, r1, "in", True), LEFT, NONE)
    assert not view.dragging_connection
    assert "cycle" in messages[-1] and r1 in messages[-1]
    assert w.project.graph.to_dict() == before and w.doc.undo_stack.count() == count
    assert all(p.state == "normal" for item in view.node_items.values() for p in item.ports())

    # output -> output is refused with the reason
    _drag(view, _port_at(view, "fc1", "out", False), _port_at(view, "relu1", "out", False))
    assert "is an output" in messages[-1]
    assert w.project.graph.to_dict() == before and w.doc.undo_stack.count() == count
    # dropping on nothing cancels
    _drag(view, _port_at(view, r2, "out", False), _empty_spot(view))
    assert messages[-1] == "Connection cancelled."
    assert w.project.graph.to_dict() == before and w.doc.undo_stack.count() == count
    # the same checks answer through the controller (a cycle, output to output)
    assert "cycle" in (w.canvas.can_connect(r2, "out", r1, "in") or "")
    assert "is an output" in (w.canvas.can_connect("fc1", "out", "relu1", "out") or "")
    assert w.canvas.can_connect(r2, "out", free, "in") is None
    assert not w.canvas.connect_ports(r2, "out", r1, "in")
    assert w.project.graph.to_dict() == before and w.doc.undo_stack.count() == count


@pytest.mark.gui
def test_a_new_connection_dropped_on_an_occupied_input_replaces_the_old_one(make_main_window, qtbot) -> None:
    """relu1's input is fed by fc1. Dragging from input's output onto it offers a replace
    (an orange port), and the drop swaps the feed in one undo step; an occupied input that
    would close a cycle is not offered."""
    w = _loaded(make_main_window, qtbot)
    view = w.graph_view
    view.zoom_to_fit(readable=None)
    start = w.project.graph.to_dict()
    messages: list[str] = []
    w.canvas.status_message.connect(messages.append)
    _drag(view, _port_at(view, "input", "out", False), _port_at(view, "relu1", "in", True),
          finish=False)
    assert view.port("relu1", "in", True).state == "hover"
    assert messages[-1].startswith("Release to replace fc1.out → relu1.in")
    assert view.port("fc1", "in", True).state == "incompatible"  # already fed by input
    # fc2's input is fed by dropout1; input → fc2 is fine once that goes: offered
    assert view.port("fc2", "in", True).state == "replace"
    _send_mouse(view, QEvent.Type.MouseButtonRelease, _port_at(view, "relu1", "in", True), LEFT, NONE)
    edges = _edges(w)
    assert ("input", "out", "relu1", "in") in edges and ("fc1", "out", "relu1", "in") not in edges
    assert w.doc.undo_stack.count() == 1
    assert messages[-1] == "Replaced fc1 → relu1.in with input."
    w.undo_action.trigger()
    assert w.project.graph.to_dict() == start
    # head → fc1 would make a cycle (fc1 feeds head): fc1's input is not offered
    assert w.canvas.replaceable("head", "out", "fc1", "in") is None
    assert w.canvas.replaceable("input", "out", "fc1", "in") is None  # already its feed
    assert w.canvas.replaceable("input", "out", "relu1", "in") == ("fc1", "out", "relu1", "in")


@pytest.mark.gui
def test_dragging_a_connection_off_an_input_moves_or_removes_it(make_main_window, qtbot) -> None:
    w = _loaded(make_main_window, qtbot)
    view = w.graph_view
    start = w.project.graph.to_dict()
    # off relu1's input onto nothing: disconnected, one undo step
    _drag(view, _port_at(view, "relu1", "in", True), _empty_spot(view))
    assert ("fc1", "out", "relu1", "in") not in _edges(w)
    assert w.doc.undo_stack.count() == 1
    assert ("fc1", "out", "relu1", "in") not in view.edge_items
    w.undo_action.trigger()
    assert w.project.graph.to_dict() == start
    # free an input elsewhere, then move fc1 -> relu1 there: one step for the move
    w.canvas.detach(("relu2", "out", "head", "in"))
    _drag(view, _port_at(view, "relu1", "in", True), _port_at(view, "head", "in", True))
    assert ("fc1", "out", "head", "in") in _edges(w)
    assert ("fc1", "out", "relu1", "in") not in _edges(w)
    assert w.doc.undo_stack.count() == 2
    w.undo_action.trigger()
    w.undo_action.trigger()
    assert w.project.graph.to_dict() == start
    # dropping it back where it was changes nothing
    _drag(view, _port_at(view, "relu1", "in", True), _port_at(view, "relu1", "in", True))
    assert w.project.graph.to_dict() == start and not w.doc.undo_stack.canUndo()


@pytest.mark.gui
def test_an_injected_shape_error_is_fixed_through_the_offered_fix(make_main_window, qtbot) -> None:
    from engines.templates import make_template
    from workbench.core.project import Project

    graph = make_template("lenet5", (1, 8, 8), 10)
    graph.set_param("fc1", "in_features", 64)  # so a missing Flatten is a shape error
    w = _loaded(make_main_window, qtbot, Project.new("lenet", graph))
    view = w.graph_view
    assert w.doc.report().ok
    # inject the error: delete the Flatten, wire the pooling straight into the Linear
    view.select_node("flatten")
    w.delete_action.trigger()
    _connect_by_drag(view, "adapt", "fc1")
    problems = [p for p in w.doc.report().problems if p.node_id == "fc1"]
    assert [p.kind for p in problems] == ["shape"]
    assert view.node_items["fc1"].problem == problems[0].message  # marked, with the reason
    assert problems[0].message in view.node_items["fc1"].toolTip()
    rows = w.problems_panel.rows()
    assert [r["node_id"] for r in rows] == ["fc1"]
    assert rows[0]["fix"] == "Insert a Flatten between 'adapt' and 'fc1'"
    # the node's context menu offers the same fix
    menu = view.node_menu("fc1")
    fix = [a for a in menu.actions() if a.text().startswith("Fix")]
    assert fix[0].text() == "Fix: Insert a Flatten between 'adapt' and 'fc1'" and fix[0].isEnabled()
    menu.deleteLater()
    # choosing the problem selects the node; Fix applies it as one step
    w.problems_panel.select_row(0)
    assert view.selected_node_ids() == ["fc1"] and w.inspector.node_id == "fc1"
    count = w.doc.undo_stack.count()
    assert w.problems_panel.fix_button.isEnabled()
    qtbot.mouseClick(w.problems_panel.fix_button, LEFT)
    assert w.doc.undo_stack.count() == count + 1
    assert w.doc.report().ok and w.problems_panel.rows() == []
    assert view.node_items["fc1"].problem is None
    flat = [n for n in w.project.graph.nodes.values() if n.type == "flatten"]
    assert len(flat) == 1 and flat[0].id in view.node_items
    assert _edges(w) >= {("adapt", "out", flat[0].id, "in"), (flat[0].id, "out", "fc1", "in")}
    # the in-size fix, from the node's context menu
    w.inspector.param_changed.emit("fc1", "in_features", 50)
    menu = view.node_menu("fc1")
    fix = [a for a in menu.actions() if a.text().startswith("Fix")][0]
    assert fix.text() == "Fix: Set in_features of 'fc1' to 64"
    fix.trigger()
    menu.deleteLater()
    assert w.project.graph.nodes["fc1"].params["in_features"] == 64 and w.doc.report().ok
    w.undo_action.trigger()
    assert w.project.graph.nodes["fc1"].params["in_features"] == 50


@pytest.mark.gui
def test_box_select_delete_and_undo_back_to_the_start(make_main_window, qtbot) -> None:
    w = _loaded(make_main_window, qtbot)
    view = w.graph_view
    start = w.project.graph.to_dict()
    # a box from above-left of relu1 to below-right of fc2 (no node under the press)
    a = view.node_items["relu1"].sceneBoundingRect()
    b = view.node_items["fc2"].sceneBoundingRect()
    top_left = view.mapFromScene(QPointF(a.left() - 5, a.top() - 40))
    bottom_right = view.mapFromScene(QPointF(b.right() + 10, b.bottom() + 40))
    assert not view.items(top_left)
    _drag(view, top_left, bottom_right, steps=10)
    assert view.selected_node_ids() == ["relu1", "dropout1", "fc2"]
    assert w._selected_nodes == ["relu1", "dropout1", "fc2"]
    assert ("relu1", "out", "dropout1", "in") in view.selected_edges()
    _focus(qtbot, view)
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert not {"relu1", "dropout1", "fc2"} & set(w.project.graph.nodes)
    assert not {"relu1", "dropout1", "fc2"} & set(view.node_items)
    assert w.doc.undo_stack.count() == 1  # one step for nodes and connections
    w.undo_action.trigger()
    assert w.project.graph.to_dict() == start
    assert set(view.node_items) == set(w.project.graph.nodes)
    assert len(view.edge_items) == len(w.project.graph.edges)
    # a selected connection alone is deleted too
    view.select_nodes([])
    view.edge_items[("relu1", "out", "dropout1", "in")].setSelected(True)
    w.delete_action.trigger()
    assert ("relu1", "out", "dropout1", "in") not in _edges(w)
    w.undo_action.trigger()
    assert w.project.graph.to_dict() == start
    # input and output stay when everything is deleted (Ctrl+A, Delete)
    _focus(qtbot, view)
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(view.selected_node_ids()) == len(start["nodes"])
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert set(w.project.graph.nodes) == {"input", "output"}
    w.undo_action.trigger()
    assert w.project.graph.to_dict() == start


@pytest.mark.gui
def test_copy_paste_and_duplicate(make_main_window, qtbot) -> None:
    w = _loaded(make_main_window, qtbot)
    view = w.graph_view
    graph = w.project.graph
    n_nodes, n_edges = len(graph.nodes), len(graph.edges)
    chosen = ["fc1", "relu1", "dropout1"]
    view.select_nodes(chosen)
    _focus(qtbot, view)
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.hasFormat(GRAPH_MIME_TYPE)
    fragment = json.loads(mime.text())
    assert [n["id"] for n in fragment["nodes"]] == chosen and len(fragment["edges"]) == 2
    qtbot.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert len(graph.nodes) == n_nodes + 3 and len(graph.edges) == n_edges + 2
    pasted = view.selected_node_ids()
    assert len(pasted) == 3 and not set(pasted) & set(chosen)
    assert graph.nodes[pasted[0]].position == (graph.nodes["fc1"].position[0] + 40,
                                                graph.nodes["fc1"].position[1] + 40)
    # a second paste steps further instead of landing on the first
    qtbot.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    second = view.selected_node_ids()
    assert graph.nodes[second[0]].position == (graph.nodes["fc1"].position[0] + 80,
                                                graph.nodes["fc1"].position[1] + 80)
    # duplicate the selection: three more, one undo step
    count = w.doc.undo_stack.count()
    qtbot.keyClick(view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(graph.nodes) == n_nodes + 9 and len(graph.edges) == n_edges + 6
    assert w.doc.undo_stack.count() == count + 1
    assert set(view.node_items) == set(graph.nodes)
    # the clipboard is JSON text: another window pastes it
    other = make_main_window()
    other.set_project(__import__("workbench.core.demo", fromlist=["demo_project"]).demo_project(), None)
    before = len(other.project.graph.nodes)
    assert len(other.canvas.paste()) == 3 and len(other.project.graph.nodes) == before + 3
    # text that is not layers pastes nothing and says so
    messages: list[str] = []
    w.canvas.status_message.connect(messages.append)
    QGuiApplication.clipboard().setText("not a graph")
    count = w.doc.undo_stack.count()
    assert w.canvas.paste() == [] and w.doc.undo_stack.count() == count
    assert messages[-1] == "The clipboard holds no layers to paste."
    QGuiApplication.clipboard().setText(json.dumps({"nodes": [{"id": "x", "type": "nope"}],
                                                    "edges": []}))
    assert w.canvas.paste() == [] and "Unknown layer type 'nope'" in messages[-1]
    _undo_all(w)
    assert len(graph.nodes) == n_nodes


@pytest.mark.gui
def test_a_drag_of_several_nodes_is_one_undo_step(make_main_window, qtbot) -> None:
    w = _loaded(make_main_window, qtbot)
    view = w.graph_view
    start = w.project.graph.to_dict()
    view.select_nodes(["fc1", "relu1"])
    grab = view.mapFromScene(view.node_items["fc1"].sceneBoundingRect().center() + QPointF(0, 20))
    _drag(view, grab, grab + QPoint(60, 90), steps=12)
    assert w.doc.undo_stack.count() == 1
    assert w.doc.undo_stack.text(0) == "Move 2 nodes"
    old = {n["id"]: n["position"] for n in start["nodes"]}
    zoom = view.zoom_level()
    for nid in ("fc1", "relu1"):
        x, y = w.project.graph.nodes[nid].position
        assert (x - old[nid][0], y - old[nid][1]) == pytest.approx((60 / zoom, 90 / zoom), abs=2 / zoom)
        item = view.node_items[nid]
        assert (item.x(), item.y()) == (x, y)
    assert w.project.graph.nodes["relu2"].position == tuple(old["relu2"])
    # the connections follow the nodes
    edge = view.edge_items[("input", "out", "fc1", "in")]
    assert edge.path().pointAtPercent(1.0) == view.port("fc1", "in", True).centre()
    w.undo_action.trigger()
    assert w.project.graph.to_dict() == start
    assert view.node_items["fc1"].pos() == QPointF(*old["fc1"])
    # a second drag is a second step, not merged into the first
    _drag(view, grab, grab + QPoint(30, 0))
    _drag(view, grab + QPoint(30, 0), grab + QPoint(60, 0))
    assert w.doc.undo_stack.count() == 2
    # arrow keys nudge the selection: a run of presses is one more step
    x, y = w.project.graph.nodes["fc1"].position
    _focus(qtbot, view)
    for _ in range(3):
        qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert w.project.graph.nodes["fc1"].position == (x + 30, y + 50)
    assert w.doc.undo_stack.count() == 3
    w.undo_action.trigger()
    assert w.project.graph.nodes["fc1"].position == (x, y)


@pytest.mark.gui
def test_arrange_nodes_is_one_step_without_overlaps(make_main_window, qtbot) -> None:
    from engines.templates import make_template
    from workbench.core.project import Project

    graph = make_template("resnet", (1, 8, 8), 10)
    w = _loaded(make_main_window, qtbot, Project.new("resnet", graph))
    view = w.graph_view
    # pile every node onto one spot
    w.doc.move_nodes({nid: (0.0, 0.0) for nid in w.project.graph.nodes}, merge=False)
    piled = w.project.graph.to_dict()
    w.arrange_action.trigger()
    assert w.doc.undo_stack.count() == 2 and w.doc.undo_stack.text(1) == "Arrange nodes"
    _no_overlap(view)
    for e in w.project.graph.edges:  # to the right, or on to the next band below
        src, dst = view.node_items[e.src], view.node_items[e.dst]
        assert src.x() < dst.x() or src.y() < dst.y()
    w.undo_action.trigger()
    assert w.project.graph.to_dict() == piled


def test_a_long_chain_arranges_into_bands_that_fit_at_a_readable_zoom(make_main_window, qtbot) -> None:
    """Twenty dense layers in a row are far wider than the canvas: Zoom to Fit stops at the
    readable zoom (showing the input side) instead of shrinking names to dots; Arrange Nodes
    wraps the chain into bands, and then all of it fits at a readable zoom."""
    from engines.graph import Graph
    from widgets.graph.canvas import READABLE_ZOOM
    from workbench.core.project import Project

    graph = Graph()
    graph.add_node("input", {"shape": [8]}, id="input")
    last = "input"
    for i in range(20):
        graph.add_node("linear", {"out_features": 8}, id=f"fc{i}")
        graph.connect(last, f"fc{i}")
        graph.move_node(f"fc{i}", (220.0 * (i + 1), 0.0))
        last = f"fc{i}"
    graph.add_node("output", {}, id="output")
    graph.connect(last, "output")
    graph.move_node("output", (220.0 * 21, 0.0))
    w = _loaded(make_main_window, qtbot, Project.new("long", graph))
    view = w.graph_view
    view.zoom_to_fit()
    assert view.transform().m11() >= READABLE_ZOOM - 1e-9
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert shown.contains(view.node_items["input"].sceneBoundingRect())
    assert not shown.contains(view.node_items["output"].sceneBoundingRect())
    assert w.canvas.arrange()
    assert view.transform().m11() >= READABLE_ZOOM - 1e-9
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    for nid, item in view.node_items.items():
        assert shown.contains(item.sceneBoundingRect()), f"{nid} is off-screen after Arrange"
    _no_overlap(view)
    assert len({round(item.y()) for item in view.node_items.values()}) > 1  # it wrapped


# the completer's list is a popup: the offscreen platform says it cannot raise or grab it
@pytest.mark.qt_log_ignore("This plugin does not support (raise|grabbing)")
@pytest.mark.gui
def test_double_click_on_the_canvas_searches_and_adds_a_layer(make_main_window, qtbot) -> None:
    w = _loaded(make_main_window, qtbot)
    view = w.graph_view
    spot = _empty_spot(view)
    _send_mouse(view, QEvent.Type.MouseButtonPress, spot, LEFT, LEFT)
    _send_mouse(view, QEvent.Type.MouseButtonRelease, spot, LEFT, NONE)
    _send_mouse(view, QEvent.Type.MouseButtonDblClick, spot, LEFT, LEFT)
    _send_mouse(view, QEvent.Type.MouseButtonRelease, spot, LEFT, NONE)
    box = view.quick_add
    assert box.isVisible()
    completions = box.completer().model().stringList()
    assert "GELU" in completions and "Linear" in completions and "Input" not in completions
    qtbot.keyClicks(box, "gel")
    assert box.completer().completionCount() == 1  # GELU only
    box.setText("GELU")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert not box.isVisible()
    gelu = [n for n in w.project.graph.nodes.values() if n.type == "gelu"]
    assert len(gelu) == 1 and w.doc.undo_stack.count() == 1
    assert view.node_items[gelu[0].id].sceneBoundingRect().contains(view.mapToScene(spot))
    # a name that is not a layer adds nothing and says so; Escape closes the box
    messages: list[str] = []
    w.canvas.status_message.connect(messages.append)
    view.open_quick_add(view.mapToScene(spot))
    box.setText("no such layer")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert box.isVisible() and w.doc.undo_stack.count() == 1
    assert "No layer is called" in messages[-1]
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    assert not box.isVisible()


@pytest.mark.gui
def test_context_menu_disconnect_all_and_duplicate(make_main_window, qtbot) -> None:
    w = _loaded(make_main_window, qtbot)
    view = w.graph_view
    start = w.project.graph.to_dict()
    menu = view.node_menu("relu1")
    by_text = {a.text(): a for a in menu.actions() if a.text()}
    assert {"Delete", "Duplicate", "Disconnect All"} <= set(by_text)
    assert not [a for t, a in by_text.items() if t.startswith("Fix")][0].isEnabled()
    by_text["Disconnect All"].trigger()
    menu.deleteLater()
    assert not [e for e in w.project.graph.edges if "relu1" in (e.src, e.dst)]
    assert w.doc.undo_stack.count() == 1
    w.undo_action.trigger()
    assert w.project.graph.to_dict() == start
    menu = view.node_menu("relu1")
    [a for a in menu.actions() if a.text() == "Duplicate"][0].trigger()
    menu.deleteLater()
    assert len(w.project.graph.nodes_of_type("relu")) == 3


@pytest.mark.gui
def test_canvas_is_read_only_while_training(make_main_window, qtbot) -> None:
    w = _loaded(make_main_window, qtbot)
    view = w.graph_view
    start = w.project.graph.to_dict()
    w.canvas.set_read_only(True)
    vp = view.viewport().rect()
    assert not view.drop_mime(_palette_mime(w, "relu"), view.mapToScene(vp.center()))
    _drag(view, _port_at(view, "relu1", "in", True), _empty_spot(view))
    assert not w.canvas.paste() and not w.canvas.arrange()
    assert w.project.graph.to_dict() == start and w.doc.undo_stack.count() == 0
    w.canvas.set_read_only(False)
    assert view.drop_mime(_palette_mime(w, "relu"), view.mapToScene(vp.center()))


# --------------------------------------------------------------------- view-level tests
def _chain(n: int) -> tuple[list[dict], list[dict]]:
    nodes = [{"id": f"n{i}", "type": "relu", "title": "ReLU", "category": "Activation",
              "position": (220.0 * i, 0.0), "inputs": ["in"], "outputs": ["out"],
              "params_count": i} for i in range(n)]
    edges = [{"src": f"n{i}", "dst": f"n{i + 1}", "label": str(i)} for i in range(n - 1)]
    return nodes, edges


@pytest.mark.gui
def test_refresh_updates_only_what_changed(qtbot) -> None:
    view = GraphView()
    qtbot.addWidget(view)
    nodes, edges = _chain(200)
    view.set_graph(nodes, edges)
    items = dict(view.node_items)
    edge_items = dict(view.edge_items)
    nodes[5] = {**nodes[5], "params_count": 999, "position": (1100.0, 300.0)}
    edges[3] = {**edges[3], "label": "changed"}
    t = time.perf_counter()
    view.set_graph(nodes, edges, {"n7": "a problem"})
    elapsed = time.perf_counter() - t
    assert all(view.node_items[k] is v for k, v in items.items())  # nothing rebuilt
    assert all(view.edge_items[k] is v for k, v in edge_items.items())
    assert view.node_items["n5"].subtitle.text() == "999 params"
    assert view.node_items["n5"].pos() == QPointF(1100, 300)
    # the edges into and out of the moved node follow it
    assert view.edge_items[("n4", "out", "n5", "in")].path().pointAtPercent(1) == \
        view.port("n5", "in", True).centre()
    assert view.edge_items[("n3", "out", "n4", "in")].label_text == "changed"
    assert view.node_items["n7"].problem == "a problem"
    assert elapsed < 1.0  # generous: the refresh of a 200-node chain takes milliseconds
    # removing nodes removes their items and edges
    view.set_graph(nodes[:100], edges[:99])
    assert len(view.node_items) == 100 and len(view.edge_items) == 99


@pytest.mark.gui
def test_wheel_zooms_round_the_cursor_and_middle_drag_pans(qtbot) -> None:
    view = GraphView()
    qtbot.addWidget(view)
    view.resize(800, 500)
    view.show()
    qtbot.waitExposed(view)
    view.set_graph(*_chain(8))
    view.resetTransform()
    cursor = QPoint(300, 200)
    under = view.mapToScene(cursor)
    vp = view.viewport()
    wheel = QWheelEvent(QPointF(cursor), QPointF(vp.mapToGlobal(cursor)), QPoint(0, 0),
                        QPoint(0, 120), NONE, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(vp, wheel)
    assert view.zoom_level() == pytest.approx(1.0015 ** 120)
    after = view.mapToScene(cursor)
    assert (after.x(), after.y()) == pytest.approx((under.x(), under.y()), abs=2.0)
    # middle-drag pans: the scene point under the cursor moves with it
    h, v = view.horizontalScrollBar().value(), view.verticalScrollBar().value()
    _drag(view, QPoint(400, 300), QPoint(300, 250), button=Qt.MouseButton.MiddleButton)
    assert (view.horizontalScrollBar().value(), view.verticalScrollBar().value()) == (h + 100, v + 50)
    assert view.selected_node_ids() == []  # panning selects nothing
    # zoom stays within limits
    for _ in range(40):
        view.zoom_by(0.5)
    assert view.zoom_level() == pytest.approx(0.1)


@pytest.mark.gui
def test_drop_emits_the_layer_and_a_centred_position(qtbot) -> None:
    view = GraphView()
    qtbot.addWidget(view)
    mime = QMimeData()
    mime.setData(LAYER_MIME_TYPE, b"conv2d")
    with qtbot.waitSignal(view.node_drop_requested) as blocker:
        assert view.drop_mime(mime, QPointF(500, 300))
    layer_id, pos = blocker.args
    assert layer_id == "conv2d" and (pos.x(), pos.y()) == (500 - 75, 300 - 32)
    other = QMimeData()
    other.setText("conv2d")
    with qtbot.assertNotEmitted(view.node_drop_requested):
        assert not view.drop_mime(other, QPointF(0, 0))


@pytest.mark.gui
def test_problems_panel_rows_and_fix_button(qtbot) -> None:
    panel = ProblemsPanel()
    qtbot.addWidget(panel)
    panel.set_problems([
        {"node_id": "fc", "message": "Node 'fc' is wrong.", "severity": "error", "fix": "Fix it"},
        {"node_id": "x", "message": "Node 'x' is unused.", "severity": "warning", "fix": ""},
    ])
    assert panel.summary.text() == "1 error, 1 warning; 1 with a fix offered"
    with qtbot.waitSignal(panel.problem_chosen) as chosen:
        panel.select_row(1)
    assert chosen.args == ["x"] and not panel.fix_button.isEnabled()
    panel.select_row(0)
    assert panel.fix_button.isEnabled() and panel.fix_button.text() == "Fix: Fix it"
    with qtbot.waitSignal(panel.fix_requested) as fixed:
        qtbot.mouseClick(panel.fix_button, LEFT)
    assert fixed.args == ["fc"]
    panel.set_problems([])
    assert panel.tree.topLevelItemCount() == 0 and "No problems" in panel.summary.text()


@pytest.mark.gui
def test_a_removed_connection_is_an_edge_of_the_document_not_of_the_scene(qtbot) -> None:
    # the controller reads the document, never the items: a view edited by hand is redrawn
    from workbench.core.demo import demo_project
    from workbench.gui.canvas import CanvasController
    from workbench.gui.document import ProjectDocument

    view = GraphView()
    qtbot.addWidget(view)
    doc = ProjectDocument(demo_project())
    controller = CanvasController(view)
    controller.set_document(doc)
    view.node_items["fc1"].setPos(5000, 5000)  # a graphics item moved without a request
    view.scene().removeItem(view.edge_items.pop(("input", "out", "fc1", "in")))
    doc.disconnect_edge(Edge("relu2", "out", "head", "in"))
    assert view.node_items["fc1"].pos() == QPointF(*doc.graph.nodes["fc1"].position)
    assert ("input", "out", "fc1", "in") in view.edge_items
    assert ("relu2", "out", "head", "in") not in view.edge_items


@pytest.mark.gui
def test_a_skip_connection_detours_round_the_layers_in_its_way(qtbot) -> None:
    from PySide6.QtGui import QPainterPathStroker

    view = GraphView()
    qtbot.addWidget(view)
    nodes, edges = _chain(4)
    edges.append({"src": "n0", "dst": "n3", "label": "skip"})
    view.set_graph(nodes, edges)
    stroker = QPainterPathStroker()
    stroker.setWidth(2)
    skip = view.edge_items[("n0", "out", "n3", "in")]
    outline = skip.mapToScene(stroker.createStroke(skip.path()))
    for nid in ("n1", "n2"):
        assert not outline.intersects(view.node_items[nid].sceneBoundingRect())
    # its label is readable: on no layer
    label = skip.label.sceneBoundingRect()
    assert not any(label.intersects(i.sceneBoundingRect()) for i in view.node_items.values())
    # a neighbour's connection stays a plain curve between its ports
    near = view.edge_items[("n0", "out", "n1", "in")]
    assert near.path().pointAtPercent(0) == view.port("n0", "out", False).centre()
    assert near.path().boundingRect().height() < 1
    # moving the middle layers out of the way straightens the skip connection
    moved = [dict(n, position=(n["position"][0], 400.0)) if n["id"] in ("n1", "n2") else n
             for n in nodes]
    view.set_graph(moved, edges)
    assert skip.path().boundingRect().height() < 1


# ------------------------------------------------------------- document commands (headless)
@settings(max_examples=40, deadline=None)
@given(st.data())
def test_removing_any_nodes_and_connections_undoes_to_the_same_order(data) -> None:
    from engines.templates import make_template
    from workbench.core.project import Project
    from workbench.gui.document import ProjectDocument

    doc = ProjectDocument(Project.new("t", make_template("resnet", (1, 8, 8), 10)))
    start = doc.graph.to_dict()
    nodes = data.draw(st.lists(st.sampled_from(list(doc.graph.nodes)), max_size=6))
    edges = data.draw(st.lists(st.sampled_from(list(doc.graph.edges)), max_size=6))
    if not nodes and not edges:
        return
    doc.remove_items(nodes, edges)
    gone = set(nodes)
    assert not gone & set(doc.graph.nodes)
    assert not set(edges) & set(doc.graph.edges)
    kept = [e for e in start["edges"] if e["src"] not in gone and e["dst"] not in gone
            and Edge(**e) not in edges]
    assert [e.to_dict() for e in doc.graph.edges] == kept  # the others keep their order
    assert doc.undo_stack.count() == 1
    doc.undo()
    assert doc.graph.to_dict() == start


def test_reconnect_disconnect_all_and_arrange_are_single_steps() -> None:
    from engines.templates import make_template
    from workbench.core.project import Project
    from workbench.gui.document import ProjectDocument

    doc = ProjectDocument(Project.new("t", make_template("mlp", (4,), 2)))
    start = doc.graph.to_dict()
    first = doc.graph.edges[1]
    doc.disconnect_edge(doc.graph.edges[3])
    freed = Edge(**start["edges"][3])
    doc.reconnect(first, first.src, freed.dst, first.src_port, freed.dst_port)
    assert Edge(first.src, first.src_port, freed.dst, freed.dst_port) in doc.graph.edges
    assert first not in doc.graph.edges and doc.undo_stack.count() == 2
    doc.undo()
    doc.undo()
    assert doc.graph.to_dict() == start
    assert doc.disconnect_all(first.dst) == 2 and doc.undo_stack.count() == 1
    doc.undo()
    assert doc.graph.to_dict() == start
    doc.move_nodes({nid: (5.0, 5.0) for nid in doc.graph.nodes}, merge=False)
    assert doc.arrange_nodes() and doc.undo_stack.text(doc.undo_stack.count() - 1) == "Arrange nodes"
    assert not doc.arrange_nodes()  # already arranged: no step
    # a drag after arranging is its own step, never merged into the arrangement
    doc.move_nodes({nid: (0.0, 0.0) for nid in doc.graph.nodes}, merge=True)
    doc.undo()
    assert len({n.position for n in doc.graph.nodes.values()}) == len(doc.graph.nodes)


def test_an_inserted_layer_makes_room_instead_of_covering_its_neighbours(make_main_window, qtbot) -> None:
    """The demo's layers stand 180 apart and a layer is 150 wide: a layer inserted after fc1
    goes 190 right of it, and relu1 and everything after it move right by 2 × 190 − 180 = 200,
    in the same undo step."""
    w = _loaded(make_main_window, qtbot)
    graph = w.project.graph
    before = {nid: n.position for nid, n in graph.nodes.items()}
    assert before["relu1"][0] - before["fc1"][0] == 180.0
    w.graph_view.select_node("fc1")
    qtbot.waitUntil(lambda: w._selected_nodes == ["fc1"])
    w.add_layer("batchnorm1d")
    new = w._selected_nodes[0] if w._selected_nodes else ""
    assert new.startswith("batchnorm1d")
    assert graph.node(new).position[0] == before["fc1"][0] + 190.0
    for nid in ("relu1", "dropout1", "fc2", "relu2", "head", "output"):
        assert graph.node(nid).position == (before[nid][0] + 200.0, before[nid][1])
    for nid in ("input", "fc1"):
        assert graph.node(nid).position == before[nid]
    _no_overlap(w.graph_view)
    w.undo_action.trigger()
    assert {nid: n.position for nid, n in graph.nodes.items()} == before


@pytest.mark.gui
def test_the_canvas_summary_wraps_in_a_narrow_canvas_instead_of_being_cut(qtbot) -> None:
    view = GraphView()
    qtbot.addWidget(view)
    text = "11 layers · 1,234,567 parameters · 98.7 MFLOPs per sample · 2 problems"
    view.set_summary(text)
    view.resize(900, 300)
    view.show()
    wide = view.summary_rect()
    assert wide.height() < 2 * view.fontMetrics().height() + 8  # one line
    assert wide.right() <= view.viewport().width()
    view.setMinimumSize(0, 0)
    view.resize(260, 300)
    qtbot.waitUntil(lambda: view.viewport().width() < 280)
    narrow = view.summary_rect()
    assert narrow.right() <= view.viewport().width()  # nothing drawn past the edge
    assert narrow.height() >= 2 * view.fontMetrics().height()  # wrapped onto more lines
