"""Autosave of unsaved work to a recovery file, and the offer to restore it at the next start.

:class:`RecoveryController` belongs to the main window. Every :data:`AUTOSAVE_INTERVAL_MS`,
and after every :data:`EDITS_PER_AUTOSAVE` edits, it writes unsaved work to the recovery
file of the project (:func:`workbench.core.project.autosave`). The snapshot is taken on the GUI
thread (it copies the graph and settings and shares the runs' weights, well under a
millisecond) and written on a background thread, because serialising weights can take
tens of milliseconds or more. A successful Save, or a close the user agreed to, discards it.

At start-up :meth:`RecoveryController.offer` lists what earlier sessions left behind in a
:class:`RecoveryDialog` (Restore / Discard / Later). A restored project opens with unsaved
changes and its original file as the save target; a damaged recovery file shows the
loader's message and is kept for inspection.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.project import (
    Recovery,
    autosave,
    discard_recovery,
    list_recoveries,
    load_project,
    recovery_path,
)
from workbench.gui.workers import BackgroundTask

__all__ = ["AUTOSAVE_INTERVAL_MS", "EDITS_PER_AUTOSAVE", "RecoveryController", "RecoveryDialog"]

AUTOSAVE_INTERVAL_MS = 60_000
EDITS_PER_AUTOSAVE = 20


def snapshot(project: Any) -> Any:
    """A copy of ``project`` that later edits on the GUI thread cannot change.

    The graph, settings and GUI state are copied; runs are copied one level (a rename makes
    a new name, never changes a history or weights in place), so weights are shared.
    """
    return dataclasses.replace(
        project,
        graph=copy.deepcopy(project.graph),
        runs=[copy.copy(r) for r in project.runs],
        train_config=copy.deepcopy(project.train_config),
        data=copy.deepcopy(project.data),
        ui=copy.deepcopy(project.ui),
        embedded=dict(project.embedded),
    )


def _when(saved: str) -> str:
    try:
        return datetime.fromisoformat(saved).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return saved or "unknown"


class RecoveryDialog(QDialog):
    """The recovery files left by earlier sessions: Restore one, Discard some, or decide Later."""

    restore_requested = Signal(object)  # the user chose to restore this Recovery

    def __init__(self, recoveries: list[Recovery], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Recover unsaved work")
        self.setObjectName("recovery_dialog")
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Model Workbench did not close normally last time. These projects had unsaved "
            "changes that were autosaved:"
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTreeWidget()
        self.table.setHeaderLabels(["Project", "Original file", "Autosaved"])
        self.table.setRootIsDecorated(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setMinimumWidth(620)
        layout.addWidget(self.table)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet("color: #e53935")  # readable on light and dark
        self.message.hide()
        layout.addWidget(self.message)
        buttons = QDialogButtonBox()
        self.restore_button: QPushButton = buttons.addButton(
            "Restore", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.restore_button.setToolTip("Open the selected project as it was autosaved")
        self.discard_button: QPushButton = buttons.addButton(
            "Discard", QDialogButtonBox.ButtonRole.DestructiveRole
        )
        self.discard_button.setToolTip("Delete the selected recovery files")
        self.later_button: QPushButton = buttons.addButton(
            "Later", QDialogButtonBox.ButtonRole.RejectRole
        )
        self.later_button.setToolTip("Keep the recovery files and ask again at the next start")
        self.restore_button.clicked.connect(self._restore)
        self.discard_button.clicked.connect(self._discard)
        self.later_button.clicked.connect(self.reject)
        layout.addWidget(buttons)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda *_: self._restore())
        self.set_recoveries(recoveries)

    def set_recoveries(self, recoveries: list[Recovery]) -> None:
        self.table.clear()
        for rec in recoveries:
            item = QTreeWidgetItem([
                rec.name,
                str(rec.original) if rec.original is not None else "(never saved)",
                _when(rec.saved),
            ])
            item.setToolTip(0, str(rec.path))
            item.setData(0, Qt.ItemDataRole.UserRole, rec)
            self.table.addTopLevelItem(item)
        for col in range(3):
            self.table.resizeColumnToContents(col)
        first = self.table.topLevelItem(0)
        if first is not None:
            first.setSelected(True)
        self._update_buttons()

    def recoveries(self) -> list[Recovery]:
        items = (self.table.topLevelItem(i) for i in range(self.table.topLevelItemCount()))
        return [item.data(0, Qt.ItemDataRole.UserRole) for item in items if item is not None]

    def selected(self) -> list[Recovery]:
        return [item.data(0, Qt.ItemDataRole.UserRole) for item in self.table.selectedItems()]

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _update_buttons(self) -> None:
        n = len(self.table.selectedItems())
        self.restore_button.setEnabled(n == 1)
        self.discard_button.setEnabled(n > 0)

    def _restore(self) -> None:
        chosen = self.selected()
        if len(chosen) == 1:
            self.restore_requested.emit(chosen[0])

    def _discard(self) -> None:
        chosen = self.selected()
        if not chosen:
            return
        names = ", ".join(r.name for r in chosen)
        answer = QMessageBox.question(
            self, "Discard recovered work",
            f"Delete the autosaved copy of {names}? This cannot be undone.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        for rec in chosen:
            discard_recovery(rec)
        left = [r for r in self.recoveries() if r not in chosen]
        if not left:
            self.accept()
            return
        self.set_recoveries(left)
        self.show_message("")


class RecoveryController(QObject):
    """Autosaves the window's unsaved project and offers recoveries at start-up.

    ``window`` provides ``project``, ``path``, ``dirty``, ``doc`` (with ``undo_stack``),
    ``set_project(project, path)``, ``log_message(text)`` and ``show_error(summary, exc)``.
    """

    autosaved = Signal(str)  # a recovery file was written: its path
    autosave_failed = Signal(str)  # writing the recovery file failed: the reason

    def __init__(
        self,
        window: Any,
        interval_ms: int = AUTOSAVE_INTERVAL_MS,
        edits_per_autosave: int = EDITS_PER_AUTOSAVE,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.edits_per_autosave = edits_per_autosave
        self.dialog: RecoveryDialog | None = None
        self._task: BackgroundTask | None = None  # the write in progress: one at a time
        self._again = False  # asked to autosave while a write was in progress
        self._edits = 0
        self._last_state: tuple[int, int, bool] | None = None
        self._written: set[Path] = set()  # recovery files this window wrote
        self._adopted: Recovery | None = None  # the file the open project was restored from
        self.last_duration = 0.0  # seconds the last write took (off the GUI thread)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.autosave_now)
        self._timer.start()
        self._attached: Any = None

    # --------------------------------------------------------------- autosave
    def attach(self, doc: Any) -> None:
        """A new document is open: count its edits; what the old one left is no longer needed.

        The window only replaces a project after the user saved it or chose to discard it.
        """
        self.wait()
        self._discard_written()
        self._adopted = None
        self._edits = 0
        self._last_state = None
        if self._attached is not None:
            try:
                self._attached.undo_stack.indexChanged.disconnect(self._on_edit)
            except (RuntimeError, TypeError):
                pass
        self._attached = doc
        if doc is not None:
            doc.undo_stack.indexChanged.connect(self._on_edit)

    def _on_edit(self, _index: int) -> None:
        self._edits += 1
        if self._edits >= self.edits_per_autosave:
            self.autosave_now()

    def _state(self) -> tuple[int, int, bool]:
        doc = self.window.doc
        index = doc.undo_stack.index() if doc is not None else -1
        return (id(self.window.project), index, bool(self.window.dirty))

    def target(self) -> Path:
        """Where this window's project is autosaved."""
        return recovery_path(self.window.path)

    def autosave_now(self) -> bool:
        """Write unsaved work to the recovery file in the background.

        Returns True when a write was started (False: nothing unsaved, or nothing new since
        the last autosave).
        """
        project = self.window.project
        if project is None or not self.window.dirty:
            return False
        if self._task is not None:
            self._again = True  # written as soon as the current write is done
            return True
        state = self._state()
        target = self.target()
        if state == self._last_state and target in self._written and target.exists():
            return False
        if target not in self._written:
            _move_aside(target)  # an older session's file under the same name (pid reuse)
        snap = snapshot(project)
        path = self.window.path
        self._edits = 0
        self._last_state = state
        self._written.add(target)

        def write() -> str:
            started = time.perf_counter()
            written = autosave(snap, path)
            self.last_duration = time.perf_counter() - started
            return str(written)

        task = BackgroundTask(write, self)
        task.succeeded.connect(self._on_written)
        task.failed.connect(self._on_write_failed)
        self._task = task
        task.start()
        return True

    def _finish_task(self) -> None:
        if self._task is not None:
            self._task.deleteLater()
            self._task = None

    @Slot(object)
    def _on_written(self, path: str) -> None:
        self._finish_task()
        if self._adopted is not None and self._adopted.path != Path(path):
            # the restored work now lives in this session's recovery file
            discard_recovery(self._adopted)
            self._adopted = None
        self.autosaved.emit(path)
        if self._again:
            self._again = False
            self.autosave_now()

    @Slot(str, str)
    def _on_write_failed(self, message: str, _details: str) -> None:
        self._finish_task()
        self._again = False
        self._last_state = None
        self.window.log_message(f"Autosave failed: {message}")
        self.autosave_failed.emit(message)

    def wait(self, timeout_s: float = 30.0) -> None:
        """Wait for a write in progress (before discarding, saving or closing)."""
        task = self._task
        if task is None:
            return
        self._again = False
        task.wait(timeout_s)
        # deliver its queued report now, so the bookkeeping is up to date
        QCoreApplication.sendPostedEvents(task)

    def _discard_written(self) -> None:
        for p in self._written:
            discard_recovery(Recovery(path=p, original=None, saved="", name=p.stem))
        self._written.clear()

    def saved(self) -> None:
        """The project was saved: its recovery files are no longer needed."""
        self.wait()
        self._discard_written()
        if self._adopted is not None:
            discard_recovery(self._adopted)
            self._adopted = None
        self._last_state = None
        self._edits = 0

    def closed(self) -> None:
        """The window closes with the user's consent: stop and remove the recovery files."""
        self._timer.stop()
        self.saved()

    # ---------------------------------------------------------------- restore
    def pending(self) -> list[Recovery]:
        """Recovery files from other sessions (not the ones this window is writing)."""
        mine = {p.resolve() for p in self._written}
        return [r for r in list_recoveries() if r.path.resolve() not in mine]

    def offer(self) -> RecoveryDialog | None:
        """Show the recovery dialog if earlier sessions left recovery files; else None."""
        found = self.pending()
        if not found:
            return None
        dialog = RecoveryDialog(found, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.restore_requested.connect(self._restore_from_dialog)
        dialog.destroyed.connect(self._forget_dialog)
        self.dialog = dialog
        dialog.open()  # not exec(): start-up continues, tests drive it
        return dialog

    def _forget_dialog(self) -> None:
        self.dialog = None

    def _restore_from_dialog(self, rec: Recovery) -> None:
        dialog = self.dialog
        error = self.restore(rec)
        if dialog is None:
            return
        if error:
            dialog.show_message(error)
        else:
            dialog.accept()

    def restore(self, rec: Recovery) -> str | None:
        """Open a recovery file; returns None, or the reason it could not be opened.

        The project opens with unsaved changes and its original file as the save target.
        A file that cannot be loaded is kept for inspection.
        """
        worker = getattr(self.window, "worker", None)
        if worker is not None and worker.is_running():
            return "Stop training before restoring another project."
        confirm = getattr(self.window, "_confirm_discard", None)
        if self.window.dirty and confirm is not None and not confirm():
            return "Nothing was restored: the open project keeps its unsaved changes."
        try:
            project = load_project(rec.path)
        except Exception as exc:
            message = (
                f"Could not restore {rec.name}: {exc} The recovery file is kept at {rec.path}."
            )
            self.window.log_message(message)
            return message
        original = rec.original
        self.window.set_project(project, original)  # calls attach(): a fresh start
        self.window.dirty = True  # the restored work is not in its file yet
        self._adopted = rec
        where = str(original) if original is not None else "a new file (Save As)"
        self.window.log_message(f"Restored {rec.name} from its autosave; Save writes it to {where}.")
        return None


def _move_aside(target: Path) -> None:
    """Rename an existing recovery file (and its sidecar) so a new autosave cannot overwrite it."""
    if not target.exists():
        return
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(100):
        new = target.with_name(f"{target.stem}-{stamp}{'-' + str(n) if n else ''}{target.suffix}")
        if not new.exists():
            break
    try:
        # the sidecar beside a recovery file shares its stem (workbench.core.project.autosave)
        side = target.with_suffix(".json")
        os.replace(target, new)
        if side.exists():
            os.replace(side, new.with_suffix(".json"))
    except OSError:
        pass
