"""Opening a project for audit: nothing in it can change, the auditor's work goes beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMessageBox

from engines.data import builtin_spec
from workbench.core.analysis import explain_run, explanation_analysis
from workbench.core.audit_file import audit_path_for, file_sha256, load_audit
from workbench.core.project import load_project, save_project
from workbench.core.session import create_project, train_run
from workbench.gui.audit_panel import READ_ONLY_REASON

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    project = create_project("mlp", builtin_spec("german_credit"), seed=0)
    train_run(project, overrides={"epochs": 1})
    path = tmp_path_factory.mktemp("audit") / "credit.wbproj"
    save_project(project, path)
    return path


@pytest.fixture
def project_path(trained: Path, tmp_path: Path) -> Path:
    path = tmp_path / "credit.wbproj"
    shutil.copy(trained, path)
    return path


def _open_for_audit(window, qtbot, path: Path) -> None:
    window.open_for_audit(path)
    qtbot.waitUntil(lambda: window.audit_session is not None and not window._loading, timeout=60_000)


def test_every_action_that_would_change_the_project_is_off_and_says_why(make_main_window, qtbot, project_path) -> None:
    w = make_main_window()
    w.show()
    _open_for_audit(w, qtbot, project_path)
    assert "(audit)" in w.windowTitle()
    assert not w.audit_dock.isHidden()
    for action in w._editing_actions():
        assert not action.isEnabled(), action
        assert action.toolTip() == READ_ONLY_REASON
    # walk every menu: each enabled action is one that cannot change the project
    allowed = {"&New…", "&Open…", "Open for &Audit…", "Open &Recent", "&Save Audit", "Export &Report…",
               "&Quit", "&Undo", "&Redo", "&Copy", "Select &All", "Zoom to &Fit", "Zoom &In", "Zoom &Out",
               "Open &Log Folder", "User &Guide", "&About Model Workbench"}
    for menu_action in w.menuBar().actions():
        if menu_action.text() in ("&View",):
            continue  # showing and hiding docks, themes
        for action in menu_action.menu().actions():
            if action.isSeparator() or not action.isEnabled() or action.menu() is not None:
                continue
            text = action.text()
            assert text in allowed or text.startswith(("Undo", "Redo")), f"{text!r} is enabled while auditing"
    assert w.canvas.read_only and not w.palette.isEnabled()
    # the runs cannot be renamed or deleted, and say why
    run_id = w.project.runs[0].id
    assert not w.run_list.rename(run_id, "renamed") and w.project.runs[0].name != "renamed"
    assert not w.run_list.delete([run_id], confirm=False) and len(w.project.runs) == 1
    menu = w.run_list.context_menu(run_id)
    rename = next(a for a in menu.actions() if a.text().startswith("Rename"))
    assert not rename.isEnabled() and rename.toolTip() == READ_ONLY_REASON
    # mitigations would add runs
    controls = w.fairness_panel.panel.controls
    assert not controls.reweigh_button.isEnabled()
    assert "open for audit" in controls.reweigh_button.toolTip()
    # the window's fields take the wheel only with the focus (see the wheel test below)
    assert controls.threshold_spin.property("_wheel_guarded")
    assert controls.threshold_spin.focusPolicy() == Qt.FocusPolicy.StrongFocus


def test_an_audit_session_leaves_the_project_file_byte_for_byte(make_main_window, qtbot, project_path) -> None:
    before = file_sha256(project_path)
    w = make_main_window()
    w.show()
    _open_for_audit(w, qtbot, project_path)
    run = w.project.active()
    # the auditor's own explanation (as the Explanations dock keeps one)
    outcome = explain_run(w.project, "ig", pick="first", n=2)
    w.doc.add_analyses(run.id, [explanation_analysis(outcome)], text="Explain")
    # a finding on the run, through the view as a user adds it
    view = w.audit_panel.findings
    view.target_combo.setCurrentIndex(next(i for i in range(view.target_combo.count())
                                           if view.target_combo.itemText(i).startswith("Run ")))
    view.severity_combo.setCurrentText("high")
    view.text_edit.setPlainText("The test split holds 44 women: too few for the intervals shown.")
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    assert [f["severity"] for f in w.audit_session.audit.findings] == ["high"]
    assert w.dirty and w.windowTitle().startswith("credit (audit)")
    w.doc.undo_stack.undo()
    assert w.audit_session.audit.findings == []
    w.doc.undo_stack.redo()
    assert view.rows()[0][0] == "high"
    # sign off; a bad date is refused with a message
    view.name_edit.setText("A. Auditor")
    view.role_edit.setText("independent model auditor")
    view.date_edit.setText("07/12/2026")
    qtbot.mouseClick(view.sign_button, Qt.MouseButton.LeftButton)
    assert w.audit_session.audit.signoff is None and "YYYY-MM-DD" in view.message.text()
    view.date_edit.setText("2026-12-07")
    qtbot.mouseClick(view.sign_button, Qt.MouseButton.LeftButton)
    assert w.audit_session.audit.signoff["name"] == "A. Auditor"

    assert w.save()  # Ctrl+S saves the audit file, never the project
    assert not w.dirty
    assert file_sha256(project_path) == before
    audit = load_audit(audit_path_for(project_path))
    assert audit.project_sha256 == before
    assert [a.kind for a in audit.analyses[run.id]] == ["explanation"]
    assert audit.findings[0]["target"] == {"kind": "run", "run": run.id}
    assert load_project(project_path).runs[0].analyses == []  # the project has none of it

    other = make_main_window()
    _open_for_audit(other, qtbot, project_path)
    assert other.audit_session.mismatch is None
    assert [a.kind for a in other.project.active().analyses] == ["explanation"]
    assert other.audit_panel.findings.rows()[0][2].startswith("The test split holds 44 women")
    assert "Signed off by A. Auditor" in other.audit_panel.findings.signoff_status.text()
    assert file_sha256(project_path) == before


def test_verify_in_the_window(make_main_window, qtbot, project_path) -> None:
    w = make_main_window()
    w.show()
    _open_for_audit(w, qtbot, project_path)
    with qtbot.waitSignal(w.audit_panel.verified, timeout=180_000) as blocker:
        qtbot.mouseClick(w.audit_panel.verification.verify_button, Qt.MouseButton.LeftButton)
    report = blocker.args[0]
    assert report["ok"] is True
    rows = w.audit_panel.verification.shown_rows()
    assert rows and all(status == "verified" for status, _ in rows)
    assert any(name == "weights of run 'run 1'" for _, name in rows)
    assert w.audit_session.audit.verification == report and w.dirty  # kept in the audit file


def test_an_audit_file_of_another_project_version_says_so(make_main_window, qtbot, project_path) -> None:
    w = make_main_window()
    _open_for_audit(w, qtbot, project_path)
    assert w.save_audit()
    w.dirty = False
    changed = load_project(project_path)
    changed.name = "changed after the audit"
    save_project(changed, project_path)
    other = make_main_window()
    _open_for_audit(other, qtbot, project_path)
    assert other.audit_session.mismatch is not None
    assert "another version of credit.wbproj" in other.audit_session.mismatch
    boxes = [b for b in QApplication.topLevelWidgets() if isinstance(b, QMessageBox) and b.isVisible()]
    assert [b.text() for b in boxes] == ["The audit file belongs to another version of this project."]
    for b in boxes:
        b.close()


def test_leaving_audit_mode_turns_editing_back_on(make_main_window, qtbot, project_path) -> None:
    w = make_main_window()
    _open_for_audit(w, qtbot, project_path)
    assert not w.audit_dock.isHidden()
    assert w.open_path(project_path)
    assert w.audit_session is None and "(audit)" not in w.windowTitle()
    assert w.audit_dock.isHidden()  # no Audit tab left over
    assert w.train_action.isEnabled() and not w.canvas.read_only
    assert w.train_action.toolTip() != READ_ONLY_REASON
    assert isinstance(w.save_action, QAction) and w.save_action.text() == "&Save"


def test_audit_flag_needs_a_project() -> None:
    from workbench.launcher import main

    with pytest.raises(SystemExit) as exc:
        main(["--audit"])
    assert exc.value.code == 2


def test_a_wheel_over_an_unfocused_field_scrolls_the_panel_not_the_value(qtbot) -> None:
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QDoubleSpinBox, QScrollArea, QVBoxLayout, QWidget

    from workbench.gui.wheel_guard import guard_fields

    area = QScrollArea()
    qtbot.addWidget(area)
    inner = QWidget()
    layout = QVBoxLayout(inner)
    spin = QDoubleSpinBox()
    spin.setValue(0.5)
    spin.setSingleStep(0.01)
    layout.addWidget(spin)
    for _ in range(40):
        layout.addWidget(QDoubleSpinBox())
    area.setWidget(inner)
    area.resize(200, 150)
    area.show()
    qtbot.waitExposed(area)
    assert guard_fields(area) == 41 and guard_fields(area) == 0  # each field once

    def wheel() -> None:
        pos = QPointF(spin.rect().center())
        event = QWheelEvent(pos, QPointF(spin.mapToGlobal(QPoint(5, 5))), QPoint(0, 0), QPoint(0, -120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(spin, event)

    assert spin.focusPolicy() == Qt.FocusPolicy.StrongFocus
    wheel()
    assert spin.value() == 0.5  # unchanged
    assert area.verticalScrollBar().value() > 0  # the panel scrolled instead
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    wheel()
    assert spin.value() == pytest.approx(0.49)  # a focused field takes the wheel, as a user expects


def test_export_report_from_the_audit_window(make_main_window, qtbot, project_path, tmp_path, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    before = file_sha256(project_path)
    w = make_main_window()
    _open_for_audit(w, qtbot, project_path)
    w.audit_panel.add_finding({"kind": "project"}, "The intended use is not written down.", "low")
    out = tmp_path / "report"
    out.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    w.export_report()  # saves the audit first (unsaved work), then writes the report off the GUI thread
    assert not w.dirty
    qtbot.waitUntil(lambda: (out / "manifest.json").exists(), timeout=180_000)
    qtbot.waitUntil(lambda: not w._report_runner.is_busy(), timeout=60_000)
    names = sorted(p.name for p in out.iterdir())
    assert {"report.json", "report.html", "report.pdf", "manifest.json"} <= set(names)
    assert "The intended use is not written down." in (out / "report.json").read_text(encoding="utf-8")
    assert file_sha256(project_path) == before
