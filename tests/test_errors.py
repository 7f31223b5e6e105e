"""Unexpected errors in the window: logged with the traceback, shown with details, work kept."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

from workbench.core.project import recovery_path
from workbench.gui.errors import LOG_NAME, logger, setup_logging

pytestmark = [pytest.mark.gui, pytest.mark.qt_no_exception_capture]


@pytest.fixture
def log_dir(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "logs"
    monkeypatch.setenv("WORKBENCH_LOG_DIR", str(folder))
    yield folder
    for h in list(logger.handlers):  # do not keep writing into a deleted test folder
        logger.removeHandler(h)
        h.close()


def _open_demo(qtbot, window) -> None:
    window.open_initial(None, demo=True)
    qtbot.waitUntil(lambda: window.project is not None, timeout=60_000)


def _close_dialog(window) -> None:
    if window.errors.dialog is not None:
        window.errors.dialog.close()


def test_an_exception_in_a_slot_is_logged_shown_and_loses_nothing(
    make_main_window, qtbot, log_dir: Path
) -> None:
    w = make_main_window()
    w.show()
    _open_demo(qtbot, w)
    w.doc.set_param("fc1", "out_features", 24)  # unsaved work
    project = w.project
    w.errors.install_excepthook()
    try:
        def broken_slot() -> None:
            raise ValueError("the slot broke (42)")

        with qtbot.waitSignal(w.recovery.autosaved, timeout=30_000):
            QTimer.singleShot(0, broken_slot)
        qtbot.waitUntil(lambda: w.errors.dialog is not None and w.errors.dialog.isVisible())
    finally:
        w.errors.uninstall_excepthook()

    log = (log_dir / LOG_NAME).read_text("utf-8")
    assert "Traceback (most recent call last)" in log
    assert "in broken_slot" in log and "ValueError: the slot broke (42)" in log
    dialog = w.errors.dialog
    assert "unexpected error" in dialog.summary_label.text()
    assert dialog.message_label.text() == "ValueError: the slot broke (42)"
    assert str(log_dir / LOG_NAME) in dialog.log_label.text()
    assert "recovery file" in dialog.work_label.text()
    # the traceback is behind "Show details", and "Copy details" puts it on the clipboard
    assert not dialog.details_view.isVisible()
    dialog.details_button.click()
    assert dialog.details_view.isVisible() and "in broken_slot" in dialog.details_view.toPlainText()
    dialog.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert "ValueError: the slot broke (42)" in copied and "Model Workbench" in copied
    assert "in broken_slot" in copied
    # the window and its work are still there, and the work was autosaved
    assert w.isVisible() and w.project is project and w.dirty
    assert recovery_path(None).exists()
    assert "the slot broke" in w.log.toPlainText()

    # another error while the dialog is open is logged and counted, not a second dialog
    w.errors.report("Second failure.", "RuntimeError: again", "Traceback: again")
    assert w.errors.dialog is dialog and "1 more error" in dialog.repeat_label.text()
    assert "RuntimeError: again" in (log_dir / LOG_NAME).read_text("utf-8")
    _close_dialog(w)


def test_worker_and_thread_errors_are_reported_on_the_gui_thread(
    make_main_window, qtbot, log_dir: Path
) -> None:
    w = make_main_window()
    w.show()
    w.worker.failed.emit("RuntimeError: the trainer fell over", "Traceback: trainer details")
    qtbot.waitUntil(lambda: w.errors.dialog is not None)
    assert w.errors.dialog.summary_label.text() == "<b>Training failed.</b>"
    assert "trainer details" in w.errors.dialog.details
    assert "trainer details" in (log_dir / LOG_NAME).read_text("utf-8")
    _close_dialog(w)
    qtbot.waitUntil(lambda: w.errors.dialog is None)

    w.errors.install_excepthook()
    try:
        def work() -> None:
            raise OSError("disk on fire")

        t = threading.Thread(target=work, name="export-thread")
        t.start()
        t.join()
        qtbot.waitUntil(lambda: w.errors.dialog is not None)
    finally:
        w.errors.uninstall_excepthook()
    assert "export-thread" in w.errors.dialog.summary_label.text()
    assert "OSError: disk on fire" in w.errors.dialog.details
    assert "in work" in w.errors.dialog.details
    _close_dialog(w)


def test_open_log_folder_and_rotation(make_main_window, qtbot, log_dir: Path, monkeypatch) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))
    w = make_main_window()
    help_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Help")
    action = next(a for a in help_menu.actions() if "Log Folder" in a.text())
    action.trigger()
    assert [Path(u.toLocalFile()) for u in opened] == [log_dir] and log_dir.is_dir()

    path = setup_logging()
    big = "x" * 300_000
    for _ in range(8):  # 2.4 MB through a 1 MB log: it rotates and keeps the old files
        logger.log(logging.ERROR, big)
    assert path.stat().st_size <= 1_000_000
    assert (log_dir / f"{LOG_NAME}.1").exists() and (log_dir / f"{LOG_NAME}.2").exists()
