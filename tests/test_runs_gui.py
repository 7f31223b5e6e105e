"""Renaming, deleting and activating runs in the runs list of the real window."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QMessageBox

pytestmark = pytest.mark.gui


def _open_demo(qtbot, window) -> None:
    window.show()
    window.open_initial(None, demo=True)
    qtbot.waitUntil(lambda: window.project is not None, timeout=60_000)


def _train(qtbot, window) -> None:
    window.epochs.setValue(1)
    with qtbot.waitSignal(window.worker.finished, timeout=120_000):
        window.start_training()


def _row(window, run_id: str):
    for i in range(window.runs.count()):
        item = window.runs.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == run_id:
            return item
    raise AssertionError(f"no row for {run_id}")


def _bold_rows(window) -> list[str]:
    return [
        window.runs.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(window.runs.count())
        if window.runs.item(i).font().bold()
    ]


def _editor(window) -> QLineEdit | None:
    """The open in-place editor (closed ones linger until deleted, hidden)."""
    shown = [e for e in window.runs.findChildren(QLineEdit) if e.isVisible()]
    return shown[0] if shown else None


def _edit_name(qtbot, window, text: str) -> None:
    """Type into the open in-place editor and press Enter, as a user does."""
    qtbot.waitUntil(lambda: window.runs.state() == QAbstractItemView.State.EditingState)
    editor = _editor(window)
    assert editor is not None
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.runs.state() != QAbstractItemView.State.EditingState)


def test_rename_is_undoable_and_the_selected_run_is_the_current_one(make_main_window, qtbot) -> None:
    w = make_main_window()
    _open_demo(qtbot, w)
    _train(qtbot, w)
    _train(qtbot, w)
    first, second = (r.id for r in w.project.runs)
    assert w.project.active_run == second and _bold_rows(w) == [second]

    # F2 on the selected row edits the name only (the row also shows status and metric)
    w.runs.setFocus()
    w.runs.setCurrentItem(_row(w, first))
    qtbot.waitUntil(lambda: w.project.active_run == first)  # selecting it made it current
    qtbot.keyClick(w.runs, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: _editor(w) is not None)
    assert _editor(w).text() == "run 1"
    _edit_name(qtbot, w, "baseline")
    assert w.project.run(first).name == "baseline"
    assert _row(w, first).text().startswith("baseline — ")
    assert w.dirty
    w.undo_action.trigger()
    assert w.project.run(first).name == "run 1" and _row(w, first).text().startswith("run 1 — ")
    w.redo_action.trigger()
    assert w.project.run(first).name == "baseline"

    # double-click opens the same editor; a name already used is refused with a reason
    refused: list[str] = []
    w.run_list.edit_refused.connect(refused.append)
    steps = w.doc.undo_stack.count()
    rect = w.runs.visualItemRect(_row(w, second))
    # a real double-click is a press and release, then a double-click event
    qtbot.mouseClick(w.runs.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(w.runs.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    _edit_name(qtbot, w, "baseline")
    assert refused == ["Another run is already named 'baseline'; choose a different name."]
    assert w.project.run(second).name == "run 2" and w.doc.undo_stack.count() == steps
    assert "already named" in w.statusBar().currentMessage()
    assert not w.run_list.rename(second, "   ")
    assert refused[-1] == "A run name cannot be empty."

    # selecting a run makes it the current run: bold, named by the docks, not an undo step
    steps = w.doc.undo_stack.count()
    w.runs.clearSelection()
    _row(w, first).setSelected(True)
    qtbot.waitUntil(lambda: w.project.active_run == first)
    assert _bold_rows(w) == [first] and w.project.active().name == "baseline"
    assert w.doc.undo_stack.count() == steps
    for dock in (w.explain_dock, w.fairness_dock, w.look_inside_dock, w.plots_dock):
        assert dock.windowTitle().endswith(" — baseline"), dock.windowTitle()
    titles = [a.text() for a in w.run_list.context_menu(first).actions()]
    assert titles == ["Rename…", "Delete run…"]  # no second notion of "active"
    # Enter on a row makes it current too
    w.runs.setCurrentItem(_row(w, second))
    qtbot.keyClick(w.runs, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: w.project.active_run == second)
    assert w.explain_dock.windowTitle() == "Explanations — run 2"


def test_delete_asks_first_and_undo_brings_the_run_back(make_main_window, qtbot, monkeypatch) -> None:
    w = make_main_window()
    _open_demo(qtbot, w)
    _train(qtbot, w)
    run = w.project.runs[0]
    weights = {k: v.clone() for k, v in run.weights.items()}
    layers_before = set(w.project.graph.nodes)
    w.graph_view.select_node("fc1")  # Del in the runs list must not delete this layer

    answers = [QMessageBox.StandardButton.No]
    asked: list[str] = []

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return answers[0]

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    w.runs.setFocus()
    w.runs.setCurrentItem(_row(w, run.id))
    qtbot.keyClick(w.runs, Qt.Key.Key_Delete)
    assert asked and "run 1" in asked[0]
    assert [r.id for r in w.project.runs] == [run.id]  # answered No: kept

    answers[0] = QMessageBox.StandardButton.Yes
    qtbot.keyClick(w.runs, Qt.Key.Key_Delete)
    assert w.project.runs == [] and w.runs.count() == 0 and w.project.active_run is None
    assert set(w.project.graph.nodes) == layers_before
    w.undo_action.trigger()
    assert [r.id for r in w.project.runs] == [run.id] and w.project.active_run == run.id
    assert _bold_rows(w) == [run.id]
    restored = w.project.runs[0]
    assert all(torch.equal(restored.weights[k], v) for k, v in weights.items())

    # the context menu deletes too; several selected runs go in one step
    _train(qtbot, w)
    ids = [r.id for r in w.project.runs]
    w.runs.selectAll()
    menu = w.run_list.context_menu(ids[0])
    assert menu.actions()[1].text() == "Delete 2 runs…"
    steps = w.doc.undo_stack.index()
    menu.actions()[1].trigger()
    assert w.project.runs == [] and w.doc.undo_stack.index() == steps + 1
    w.undo_action.trigger()
    assert [r.id for r in w.project.runs] == ids  # back in their order
