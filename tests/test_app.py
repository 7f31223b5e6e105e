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
    # German credit's classes, named as its description says (risk 1 = good credit risk)
    assert heat.class_names == ["0: bad credit risk", "1: good credit risk"]

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
    for action in (w.new_action, w.open_action, w.save_action, w.undo_action, w.redo_action,
                   w.train_action, w.pause_action, w.stop_action):
        assert not action.icon().isNull(), f"{action.text()} has no icon"
    assert not w.undo_action.isEnabled() and w.undo_action.toolTip() == "Nothing to undo"
    w.doc.set_train_config({"epochs": 7})
    assert w.undo_action.isEnabled() and w.undo_action.text() == "&Undo"
    assert w.undo_action.toolTip().startswith("Undo ") and len(w.undo_action.toolTip()) > len("Undo ")
    qtbot.wait(50)
    assert bar.widgetForAction(w.train_action).x() == train_x
    w.undo_action.trigger()
    assert w.project.train_config["epochs"] != 7 and w.redo_action.isEnabled()


def _in_view(widget, container) -> bool:
    """Whether ``widget`` is drawn wholly inside ``container``'s visible area (not scrolled off)."""
    from PySide6.QtCore import QRect

    if not widget.isVisible():
        return False
    top_left = widget.mapTo(container, widget.rect().topLeft())
    shown = QRect(top_left, widget.size())
    # clipped by every scroll area between them: the visible region is what a user sees
    return not widget.visibleRegion().isEmpty() and container.rect().contains(shown) and \
        widget.visibleRegion().boundingRect().size() == widget.size()


def test_a_laptop_screen_keeps_its_size_and_the_primary_buttons_in_view(make_main_window, qtbot) -> None:
    """At 1366×768 the built analysis panels never widen the window past the screen, and the
    Explain and Audit buttons sit inside their docks without scrolling."""
    w = make_main_window()
    w.resize(1366, 768)
    w.show()
    _wait_loaded(qtbot, w)
    explain, fairness = w._analysis_panels()
    qtbot.wait(200)
    assert (w.width(), w.height()) == (1366, 768)
    assert w.minimumSizeHint().width() <= 1366 and w.minimumSizeHint().height() <= 768
    w.explain_dock.raise_()
    qtbot.wait(100)
    assert _in_view(explain.controls.explain_button, w.explain_dock)
    w.fairness_dock.raise_()
    qtbot.wait(100)
    assert _in_view(fairness.panel.controls.audit_button, w.fairness_dock)
    assert (w.width(), w.height()) == (1366, 768)


def test_new_offers_an_empty_graph_and_says_where_own_data_goes(qtbot) -> None:
    from workbench.gui.app import NewProjectDialog

    dlg = NewProjectDialog([("mlp", "MLP", "Two hidden dense layers."),
                            ("lenet5", "LeNet-5", "Convolutions.")],
                           [("german_credit", "German credit")])
    qtbot.addWidget(dlg)
    assert dlg.windowTitle() == "New project"
    items = [dlg.template.itemData(i) for i in range(dlg.template.count())]
    assert items == ["empty", "mlp", "lenet5"]
    assert dlg.template.currentData() == "mlp"  # a template is the default start
    assert dlg.description.text() == "Two hidden dense layers."
    dlg.template.setCurrentIndex(0)
    assert "input and the output" in dlg.description.text()
    assert any("Import in the Data dock" in label.text()
               for label in dlg.findChildren(__import__("PySide6.QtWidgets", fromlist=["QLabel"]).QLabel))


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen Qt cannot raise
def test_f1_opens_the_offline_user_guide_once(make_main_window, qtbot, tmp_path: Path) -> None:
    from PySide6.QtGui import QKeySequence

    from workbench.gui.help import GuideDialog, guide_text

    w = make_main_window()
    w.show()
    assert w.guide_action.shortcut() == QKeySequence("F1")
    w.guide_action.trigger()
    guide = w.findChild(GuideDialog, "user_guide")
    assert guide is not None and guide.isVisible()
    text = guide.browser.toPlainText()
    assert "Model Workbench — user guide" in text and "Open for Audit" in text
    w.guide_action.trigger()  # again: the same window, raised, not a second one
    assert len(w.findChildren(GuideDialog)) == 1
    guide.close()
    # a missing guide says where it should be instead of showing nothing
    missing = guide_text(tmp_path / "nope.md")
    assert missing.startswith("# User guide not found") and str(tmp_path / "nope.md") in missing


def test_without_a_project_the_start_page_offers_every_way_to_begin(make_main_window, qtbot,
                                                                     tmp_path: Path) -> None:
    """``workbench`` with no file and no --demo: the start page, with recent projects; the
    demo button opens the demo and the graph takes the start page's place."""
    from workbench.core.demo import demo_project
    from workbench.core.project import save_project

    saved = tmp_path / "credit.wbproj"
    save_project(demo_project(), saved)
    w = make_main_window()
    w.settings.setValue("files/recent", [str(saved), str(tmp_path / "gone.wbproj")])
    w.show()
    w.open_initial(None, demo=False)
    page = w.start_page
    assert w.central.currentWidget() is page and w.project is None
    assert not w.train_dock.isVisible() and not w.plots_dock.isVisible()  # the page alone
    assert set(page.buttons) == {"new", "empty", "import", "demo", "open"}
    rows = [page.recent.item(i).text() for i in range(page.recent.count())]
    assert rows[0].startswith("credit.wbproj") and "(not found)" not in rows[0]
    assert rows[1].startswith("gone.wbproj") and rows[1].endswith("(not found)")
    # a recent project opens with a double-click (Enter)
    page.recent.itemActivated.emit(page.recent.item(0))
    qtbot.waitUntil(lambda: w.project is not None and w.path == saved, timeout=60_000)
    assert w.central.currentWidget() is w.graph_view
    assert w.train_dock.isVisible() and w.plots_dock.isVisible()  # the docks are back


def test_the_start_pages_demo_and_import_buttons(make_main_window, qtbot, tmp_path: Path,
                                                 monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    w = make_main_window()
    w.show()
    w.open_initial(None, demo=False)
    w.start_page.buttons["demo"].click()
    qtbot.waitUntil(lambda: w.project is not None, timeout=60_000)
    assert w.central.currentWidget() is w.graph_view
    assert "German credit" in w.project.name or "credit" in w.project.name.lower()

    # Import data: a project to hold the data, then the Data dock's file chooser
    w.dirty = False
    csv = tmp_path / "mine.csv"
    csv.write_text("a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n", encoding="utf-8")
    asked: list[str] = []

    def choose(*_args, **_kw):
        asked.append("file")
        return str(csv), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(choose))
    w.show_start_page()
    w.start_page.buttons["import"].click()
    qtbot.waitUntil(lambda: asked == ["file"], timeout=60_000)
    assert w.central.currentWidget() is w.graph_view and w.data_dock.isVisible()


def test_the_demos_network_is_drawn_before_its_data_and_shapes_are_ready(make_main_window, qtbot,
                                                                         monkeypatch) -> None:
    """The preview is the demo's own graph (same layers, connections and places), drawn at
    once with a note; the real project replaces it. A failed build leaves the start page."""
    import threading

    from workbench.core import demo
    from workbench.core.demo import demo_graph, demo_project

    assert demo_graph().to_dict() == demo_project().graph.to_dict()  # never drifts apart
    release = threading.Event()
    real = demo.demo_project

    def slow() -> object:
        release.wait(30)
        return real()

    monkeypatch.setattr(demo, "demo_project", slow)
    w = make_main_window()
    w.show()
    w.open_initial(None, demo=True)
    view = w.graph_view
    assert set(view.node_items) == set(demo_graph().nodes) and w.project is None
    assert view.summary.startswith("Loading the demo")
    release.set()
    qtbot.waitUntil(lambda: w.project is not None, timeout=60_000)
    assert "parameters" in view.summary and set(view.node_items) == set(w.project.graph.nodes)

    def broken() -> object:
        raise OSError("disk on fire")

    monkeypatch.setattr(demo, "demo_project", broken)
    w2 = make_main_window()
    w2.show()
    w2.open_initial(None, demo=True)
    qtbot.waitUntil(lambda: w2.central.currentWidget() is w2.start_page, timeout=30_000)
    assert w2.graph_view.node_items == {} and w2.project is None
    boxes = w2.findChildren(__import__("PySide6.QtWidgets", fromlist=["QMessageBox"]).QMessageBox)
    assert any("disk on fire" in (b.informativeText() + b.text()) for b in boxes)
    for box in boxes:
        box.close()
