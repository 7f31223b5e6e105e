"""Shared test fixtures."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if os.environ["QT_QPA_PLATFORM"] == "offscreen":
    # a 1920×1080 desktop (Qt's offscreen default is 800×800, smaller than the window)
    os.environ["QT_QPA_PLATFORM"] = (
        f"offscreen:configfile={Path(__file__).with_name('offscreen_screen.json')}"
    )
# Tests never write to the user's log or recovery folders (fixtures may point them elsewhere).
os.environ.setdefault("WORKBENCH_LOG_DIR", tempfile.mkdtemp(prefix="workbench-test-logs-"))
os.environ.setdefault("WORKBENCH_RECOVERY_DIR", tempfile.mkdtemp(prefix="workbench-test-recovery-"))


def _discard(window) -> None:
    window.left_running = window.worker.is_running()
    window.worker.shutdown()
    window.dirty = False


@pytest.fixture
def make_main_window(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Build the real main window; fail the test if it leaks a thread or a top-level widget."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from workbench.gui.app import MainWindow

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings")
    )
    monkeypatch.setenv("WORKBENCH_RECOVERY_DIR", str(tmp_path / "recovery"))
    monkeypatch.setenv("WORKBENCH_LOG_DIR", str(tmp_path / "logs"))
    before_threads = set(threading.enumerate())
    before_widgets = set(QApplication.topLevelWidgets())
    windows: list[MainWindow] = []

    def factory() -> MainWindow:
        w = MainWindow()
        # qtbot closes its widgets before this fixture's teardown: never let a
        # "save changes?" question block that close
        qtbot.addWidget(w, before_close_func=_discard)
        windows.append(w)
        return w

    yield factory
    for w in windows:
        assert not getattr(w, "left_running", False), "a training thread was left running"
        assert not w.worker.is_running(), "a training thread was left running"
        w.dirty = False
        w.worker.shutdown()
        w.close()
        w.deleteLater()
    QApplication.processEvents()
    leaked = [
        t
        for t in threading.enumerate()
        if t not in before_threads and t.is_alive() and not t.daemon
    ]
    assert not leaked, f"threads leaked: {leaked}"
    visible = [
        w
        for w in QApplication.topLevelWidgets()
        if w not in before_widgets and w.isVisible() and w not in windows
    ]
    assert not visible, f"widgets leaked: {visible}"


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run faster on one thread than on two contended ones; restored afterwards.
    A module asks for it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
