"""The main window, driven as a user drives it (offscreen Qt)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui


def _wait_loaded(qtbot, window) -> None:
    window.open_initial(None, demo=True)
    qtbot.waitUntil(lambda: window.project is not None, timeout=60_000)


def test_demo_opens_and_shows_the_graph(make_main_window, qtbot) -> None:
    w = make_main_window()
    w.show()
    _wait_loaded(qtbot, w)
    assert "Model Workbench" in w.windowTitle()
    assert set(w.graph_view.node_items) == set(w.project.graph.nodes)
    # shapes are written on the edges
    assert len(w.graph_view.edge_labels) == len(w.project.graph.edges)
    assert w.train_button.isEnabled() and not w.stop_button.isEnabled()


def test_train_live_then_save_and_reopen(make_main_window, qtbot, tmp_path: Path) -> None:
    w = make_main_window()
    w.show()
    _wait_loaded(qtbot, w)
    w.epochs.setValue(2)
    w.start_training()
    assert w.worker.is_running()
    assert not w.train_button.isEnabled() and w.stop_button.isEnabled()
    with qtbot.waitSignal(w.worker.finished, timeout=120_000):
        pass
    counts = w.plots.point_counts()
    assert counts["steps"] > 10 and counts["train"] == 2 and counts["val"] == 2
    assert len(w.project.runs) == 1 and w.dirty
    assert w.windowTitle().startswith(w.windowTitle().split("[")[0])
    path = tmp_path / "demo.wbproj"
    assert w._save_to(path)
    assert not w.dirty

    other = make_main_window()
    assert other.open_path(path)
    assert [r.id for r in other.project.runs] == [r.id for r in w.project.runs]
    assert other.plots.point_counts()["train"] == 2
    assert other.windowTitle().startswith("demo")


def test_stop_takes_effect_and_keeps_a_run(make_main_window, qtbot) -> None:
    w = make_main_window()
    _wait_loaded(qtbot, w)
    w.epochs.setValue(500)
    w.start_training()
    qtbot.waitUntil(lambda: w.plots.point_counts()["steps"] > 0, timeout=60_000)
    w.toggle_pause()
    assert w.worker.paused
    w.toggle_pause()
    with qtbot.waitSignal(w.worker.finished, timeout=60_000) as blocker:
        w.stop_training()
    assert blocker.args[0].status == "stopped"
    assert len(w.project.runs) == 1


def test_bad_file_keeps_current_project(make_main_window, qtbot, tmp_path: Path) -> None:
    w = make_main_window()
    _wait_loaded(qtbot, w)
    before = w.project
    bad = tmp_path / "bad.wbproj"
    bad.write_bytes(b"PK\x03\x04 truncated")
    assert not w.open_path(bad)
    assert w.project is before
    assert "bad.wbproj" in w.log.toPlainText()
    for box in w.findChildren(
        __import__("PySide6.QtWidgets", fromlist=["QMessageBox"]).QMessageBox
    ):
        box.close()


def test_delete_undo_redo_and_a_trained_run_is_not_undone(make_main_window, qtbot) -> None:
    w = make_main_window()
    _wait_loaded(qtbot, w)
    start = w.project.graph.to_dict()
    assert not w.dirty
    w._on_node_selected("dropout1")
    w.delete_selected()
    assert "dropout1" not in w.project.graph.nodes and w.dirty
    assert "dropout1" not in w.graph_view.node_items
    # removing the dropout leaves relu1 -> fc2 unconnected: the problem is shown on the node
    assert w.doc.problems()
    w.undo_action.trigger()
    assert w.project.graph.to_dict() == start and not w.dirty
    assert "dropout1" in w.graph_view.node_items
    w.redo_action.trigger()
    assert "dropout1" not in w.project.graph.nodes
    w.undo_action.trigger()

    w.epochs.setValue(1)
    w.start_training()
    assert not w.undo_action.isEnabled()  # no undo while training
    with qtbot.waitSignal(w.worker.finished, timeout=120_000):
        pass
    assert len(w.project.runs) == 1 and w.runs.count() == 1 and w.dirty
    # a trained run is a record, not an undo step: Undo never throws a trained model away
    assert w.undo_action.toolTip() == "Undo Change training settings"  # the epochs set above
    w.undo_action.trigger()
    assert len(w.project.runs) == 1 and w.runs.count() == 1


def test_palette_inserts_after_selection_and_inspector_edits(make_main_window, qtbot) -> None:
    w = make_main_window()
    _wait_loaded(qtbot, w)
    start = w.project.graph.to_dict()
    assert "relu" in w.palette.visible_layer_ids()
    w.graph_view.select_node("fc1")
    assert w.inspector.node_id == "fc1"
    w.palette.layer_requested.emit("gelu")  # what a double-click on the palette emits
    added = [n for n in w.project.graph.nodes.values() if n.type == "gelu"]
    assert len(added) == 1
    gelu = added[0].id
    assert [e.dst for e in w.project.graph.outputs_of("fc1")] == [gelu]
    assert w.doc.report().ok  # inserted into the chain: still a valid network
    assert w.inspector.node_id == gelu  # the new layer is selected

    w.graph_view.select_node("fc1")
    w.inspector.param_changed.emit("fc1", "out_features", 32)
    assert w.project.graph.nodes["fc1"].params["out_features"] == 32
    assert w.doc.report().node_shapes["fc1"] == (32,)
    # an out-of-range value is refused with the reason, nothing changes
    w.inspector.param_changed.emit("fc1", "out_features", -5)
    assert w.project.graph.nodes["fc1"].params["out_features"] == 32
    while w.undo_action.isEnabled():
        w.undo_action.trigger()
    assert w.project.graph.to_dict() == start


def test_the_demo_loads_while_the_window_stays_responsive(make_main_window, qtbot, monkeypatch) -> None:
    import time

    from PySide6.QtCore import QTimer

    import workbench.core.demo

    build = workbench.core.demo.demo_project

    def slow_build():  # as slow as a first start, when torch and scikit-learn are imported
        time.sleep(0.5)
        return build()

    monkeypatch.setattr(workbench.core.demo, "demo_project", slow_build)
    w = make_main_window()
    w.show()
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(w.project is None))
    timer.start(10)
    w.open_initial(None, demo=True)
    assert w.project is None  # built on a worker thread, not here
    assert w.statusBar().currentMessage() == "Loading demo project…"
    assert w._loading_bar.isVisible() and w._loading_bar.maximum() == 0  # busy
    assert not w.train_action.isEnabled() and not w.open_action.isEnabled()
    qtbot.waitUntil(lambda: w.project is not None, timeout=60_000)
    timer.stop()
    assert ticks.count(True) > 0  # the event loop kept turning while the demo was built
    assert not w._loading_bar.isVisible() and w.train_action.isEnabled()


def test_opening_a_bad_file_in_the_background_keeps_the_project(make_main_window, qtbot, tmp_path: Path) -> None:
    w = make_main_window()
    _wait_loaded(qtbot, w)
    before = w.project
    bad = tmp_path / "broken.wbproj"
    bad.write_bytes(b"not a zip at all")
    w.open_in_background(bad)
    qtbot.waitUntil(lambda: not w._loading, timeout=30_000)
    assert w.project is before and w.train_action.isEnabled()
    assert "Could not open broken.wbproj." in w.log.toPlainText()
    assert not w.statusBar().currentMessage().startswith("Opening")  # no stale status
    for box in w.findChildren(__import__("PySide6.QtWidgets", fromlist=["QMessageBox"]).QMessageBox):
        box.close()


def test_training_feeds_gradient_norms_and_confusion_matrices(make_main_window, qtbot) -> None:
    w = make_main_window()
    w.show()
    _wait_loaded(qtbot, w)
    w.epochs.setValue(2)
    with qtbot.waitSignal(w.worker.finished, timeout=120_000) as blocker:
        w.start_training()
    history = blocker.args[0].run.history["epoch"]
    grad = w.plots.grad_norms
    expected = {k.removeprefix("layers."): v for k, v in history["grad_norm"].items()}
    assert set(grad.curves) == set(expected) and "fc1" in expected
    for name, values in expected.items():
        assert list(grad.curves[name].getOriginalDataset()[1]) == values
    heat = w.plots.confusion
    assert [m.tolist() for m in heat.matrices] == history["confusion"]
    assert heat.image.image.tolist() == history["confusion"][-1]
    assert heat.class_names and len(heat.class_names) == len(history["confusion"][-1])

    # a saved run shown again (history replay) gives the same curves and matrices
    w.plots.clear()
    w._show_selected_runs()
    for name, values in expected.items():
        assert list(grad.curves[name].getOriginalDataset()[1]) == values
    assert heat.image.image.tolist() == history["confusion"][-1]


def test_no_state_of_a_previous_run_or_project_is_left_behind(make_main_window, qtbot) -> None:
    w = make_main_window()
    _wait_loaded(qtbot, w)
    w.epochs.setValue(1)
    with qtbot.waitSignal(w.worker.finished, timeout=120_000):
        w.start_training()
    first = w.project.active_run
    assert w.progress.value() == w.progress.maximum()  # a completed run: 100 %
    # a second run, stopped as soon as it starts: it keeps the share it did, not 100 %
    w.epochs.setValue(50)
    w.start_training()
    qtbot.waitUntil(lambda: w._steps_done > 0, timeout=60_000)
    with qtbot.waitSignal(w.worker.finished, timeout=120_000):
        w.stop_training()
    second = w.project.active_run
    assert second != first and "stopped" in w.progress_label.text()
    assert w.progress.value() < w.progress.maximum()
    # the run just trained is the one selected and shown, not the one selected before
    selected = [i.data(Qt.ItemDataRole.UserRole) for i in w.runs.selectedItems()]
    assert selected == [second]
    # a new project shows nothing of the old one's training
    w.dirty = False
    w.set_project(__import__("workbench.core.demo", fromlist=["demo_project"]).demo_project(), None)
    assert w.progress.value() == 0 and w.progress_label.text() == "Idle"


def test_the_toolbar_does_not_move_when_there_is_something_to_undo(make_main_window, qtbot) -> None:
    w = make_main_window()
    w.show()
    _wait_loaded(qtbot, w)
    bar = w.findChild(__import__("PySide6.QtWidgets", fromlist=["QToolBar"]).QToolBar, "main_toolbar")
    train_x = bar.widgetForAction(w.train_action).x()
    assert not w.undo_action.isEnabled() and w.undo_action.toolTip() == "Nothing to undo"
    w.doc.set_train_config({"epochs": 7})
    assert w.undo_action.isEnabled() and w.undo_action.text() == "&Undo"
    assert w.undo_action.toolTip().startswith("Undo ") and len(w.undo_action.toolTip()) > len("Undo ")
    qtbot.wait(50)
    assert bar.widgetForAction(w.train_action).x() == train_x
    w.undo_action.trigger()
    assert w.project.train_config["epochs"] != 7 and w.redo_action.isEnabled()
