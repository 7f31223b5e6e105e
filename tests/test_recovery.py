"""Autosave of unsaved work and its recovery after a crash, through the real window."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
import torch
from PySide6.QtWidgets import QMessageBox

from workbench.core.project import list_recoveries, recovery_path

pytestmark = pytest.mark.gui


def _open_demo(qtbot, window) -> None:
    window.open_initial(None, demo=True)
    qtbot.waitUntil(lambda: window.project is not None, timeout=60_000)
    qtbot.wait(50)  # recoveries are offered right after the project is shown


def _train(qtbot, window, epochs: int = 1) -> None:
    window.epochs.setValue(epochs)
    with qtbot.waitSignal(window.worker.finished, timeout=120_000):
        window.start_training()


def _autosave(qtbot, window) -> Path:
    with qtbot.waitSignal(window.recovery.autosaved, timeout=30_000) as saved:
        assert window.recovery.autosave_now()
    return Path(saved.args[0])


def test_autosave_crash_and_restore_bring_graph_and_runs_back(
    make_main_window, qtbot, monkeypatch
) -> None:
    import workbench.gui.recovery as recovery

    writers: list[threading.Thread] = []
    real_autosave = recovery.autosave

    def spy(project, path):
        writers.append(threading.current_thread())
        return real_autosave(project, path)

    monkeypatch.setattr(recovery, "autosave", spy)

    w = make_main_window()
    _open_demo(qtbot, w)
    w.doc.set_param("fc1", "out_features", 24)
    _train(qtbot, w)
    assert w.dirty and len(w.project.runs) == 1
    written = _autosave(qtbot, w)
    assert written == recovery_path(None) and written.exists()
    assert writers and writers[0] is not threading.main_thread()  # written off the GUI thread
    assert not w.recovery.autosave_now()  # nothing new since: no second write
    expected_graph = w.project.graph.to_dict()
    expected_run = w.project.runs[0]

    # the "crash": the first window never closes, its recovery file stays; a new one starts
    other = make_main_window()
    _open_demo(qtbot, other)
    dialog = other.recovery.dialog
    assert dialog is not None and dialog.isVisible()
    rows = dialog.recoveries()
    assert [r.path for r in rows] == [written]
    item = dialog.table.topLevelItem(0)
    assert item.text(0) == w.project.name and item.text(1) == "(never saved)"
    assert item.text(2)  # when it was autosaved
    dialog.restore_button.click()
    assert other.recovery.dialog is None or not other.recovery.dialog.isVisible()

    assert other.project.graph.to_dict() == expected_graph
    assert other.project.graph.nodes["fc1"].params["out_features"] == 24
    assert [r.id for r in other.project.runs] == [expected_run.id]
    restored = other.project.runs[0]
    assert restored.history == expected_run.history
    assert all(torch.equal(restored.weights[k], v) for k, v in expected_run.weights.items())
    assert other.runs.count() == 1
    assert other.dirty and other.path is None  # unsaved; Save asks where
    assert other.windowTitle().endswith("— Model Workbench") and other.isWindowModified()


def test_restore_targets_the_original_file(make_main_window, qtbot, tmp_path: Path) -> None:
    w = make_main_window()
    _open_demo(qtbot, w)
    path = tmp_path / "credit.wbproj"
    assert w._save_to(path)
    w.doc.set_param("fc1", "out_features", 48)
    written = _autosave(qtbot, w)
    assert written == recovery_path(path)
    assert json.loads(written.with_suffix(".json").read_text())["original"] == str(path.resolve())

    other = make_main_window()
    _open_demo(qtbot, other)
    dialog = other.recovery.dialog
    assert dialog.table.topLevelItem(0).text(1) == str(path.resolve())
    dialog.restore_button.click()
    assert other.project.graph.nodes["fc1"].params["out_features"] == 48
    assert other.path == path.resolve() and other.dirty
    assert other.windowTitle().startswith("credit")
    # Save writes to the original file and the recovery file goes
    assert other.save()
    assert not other.dirty and not written.exists()
    from workbench.core.project import load_project

    assert load_project(path).graph.nodes["fc1"].params["out_features"] == 48


def test_save_and_clean_close_discard_the_autosave(
    make_main_window, qtbot, tmp_path, monkeypatch
) -> None:
    w = make_main_window()
    _open_demo(qtbot, w)
    assert not w.recovery.autosave_now()  # nothing unsaved: nothing written
    assert list_recoveries() == []
    w.doc.set_param("fc1", "out_features", 24)
    written = _autosave(qtbot, w)
    assert w._save_to(tmp_path / "a.wbproj")
    assert not written.exists() and list_recoveries() == []

    w.undo_action.trigger()
    written = _autosave(qtbot, w)
    assert written.exists()
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard))
    assert w.close()  # the user answers "Discard": the autosave is not wanted either
    assert list_recoveries() == []


def test_edits_and_the_timer_trigger_autosaves(make_main_window, qtbot) -> None:
    w = make_main_window()
    _open_demo(qtbot, w)
    w.recovery.edits_per_autosave = 3
    with qtbot.waitSignal(w.recovery.autosaved, timeout=30_000):
        for value in (40, 41, 42):  # merging edits of one parameter still count one by one
            w.doc.set_param("fc1", "out_features", value, merge=False)
    assert list_recoveries()[0].path == recovery_path(None)
    w.doc.set_param("fc1", "out_features", 43, merge=False)
    w.recovery._timer.setInterval(50)
    with qtbot.waitSignal(w.recovery.autosaved, timeout=30_000):
        pass
    from workbench.core.project import load_project

    assert load_project(recovery_path(None)).graph.nodes["fc1"].params["out_features"] == 43


def test_damaged_recovery_shows_the_loader_message_and_is_kept(
    make_main_window, qtbot, monkeypatch
) -> None:
    folder = Path(os.environ["WORKBENCH_RECOVERY_DIR"])
    folder.mkdir(parents=True)
    bad = folder / "broken-0123456789abcdef.wbproj"
    bad.write_bytes(b"PK\x03\x04 this is not a whole zip archive")
    bad.with_suffix(".json").write_text(json.dumps(
        {"original": "/somewhere/broken.wbproj", "saved": "2024-05-01T10:00:00+00:00",
         "name": "Broken"}))
    w = make_main_window()
    _open_demo(qtbot, w)
    before = w.project
    dialog = w.recovery.dialog
    assert dialog.table.topLevelItem(0).text(0) == "Broken"
    dialog.restore_button.click()
    assert dialog.isVisible() and dialog.message.isVisible()
    text = dialog.message.text()
    assert "Could not restore Broken" in text and "zip" in text and str(bad) in text
    assert bad.exists() and w.project is before

    # Later keeps it for the next start; Discard (confirmed) deletes it
    dialog.later_button.click()
    assert bad.exists()
    dialog = w.recovery.offer()
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    dialog.discard_button.click()
    assert not bad.exists() and not bad.with_suffix(".json").exists()
    assert w.recovery.offer() is None
