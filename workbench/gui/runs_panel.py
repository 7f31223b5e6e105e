"""Rename, delete and activate runs in the window's runs list, each an undoable step.

The list shows one row per run (built by the window); this controller adds what a user does
with a row: rename in place (F2, double-click, context menu), delete (Del, context menu,
after confirming), make it the active run (context menu, Enter) — the active run's weights
are what gets exported and looked inside, and it is shown in bold. Every change goes through
the project document, so Undo takes it back.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    Qt,
    Signal,
)
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

__all__ = ["NAME_ROLE", "RUN_ID_ROLE", "RunListController"]

RUN_ID_ROLE = Qt.ItemDataRole.UserRole
NAME_ROLE = Qt.ItemDataRole.UserRole + 1  # the bare run name, edited in place


class _NameDelegate(QStyledItemDelegate):
    """Edits only the run's name (the row also shows status and metric) and hands the new
    name to the controller instead of writing it into the row."""

    def __init__(self, controller: RunListController) -> None:
        super().__init__(controller.view)
        self.controller = controller

    def createEditor(  # noqa: N802 (Qt override)
        self, parent: QWidget, option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> QWidget:
        editor = QLineEdit(parent)
        editor.setMaxLength(100)
        return editor

    def setEditorData(  # noqa: N802 (Qt override)
        self, editor: QWidget, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        assert isinstance(editor, QLineEdit)
        editor.setText(str(index.data(NAME_ROLE) or ""))
        editor.selectAll()

    def setModelData(  # noqa: N802 (Qt override)
        self, editor: QWidget, model: QAbstractItemModel,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        assert isinstance(editor, QLineEdit)
        self.controller.rename(str(index.data(RUN_ID_ROLE)), editor.text())


class RunListController(QObject):
    """Run actions on a ``QListWidget`` whose items carry the run id (``RUN_ID_ROLE``).

    ``window`` provides ``project``, ``doc`` (the undoable document), ``worker`` and
    ``log_message(text)``; a refused edit is explained in the status bar and the log.
    """

    edit_refused = Signal(str)  # a rename/delete was refused: the one-sentence reason

    def __init__(self, window: Any, view: QListWidget) -> None:
        super().__init__(window)
        self.window = window
        self.view = view
        view.setItemDelegate(_NameDelegate(self))
        view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._context_menu)
        view.installEventFilter(self)
        tip = view.toolTip()
        view.setToolTip(
            (tip + "\n" if tip else "")
            + "The selected run (bold) is the current run: every dock works on it and names it. "
            "F2 renames, Del deletes; right-click for more."
        )

    # ------------------------------------------------------------------ rows
    def decorate(self, item: QListWidgetItem, run: Any, active: bool) -> None:
        """Make a freshly built row editable, remember the run's name, mark the active run."""
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        item.setData(NAME_ROLE, run.name)
        font = item.font()
        font.setBold(active)
        item.setFont(font)
        if active:
            item.setToolTip(f"{item.toolTip()}\nActive run: its weights are what gets exported.")

    def selected_ids(self) -> list[str]:
        return [str(i.data(RUN_ID_ROLE)) for i in self.view.selectedItems()]

    def current_id(self) -> str | None:
        item: QListWidgetItem | None = self.view.currentItem()
        if item is None or not item.isSelected():
            items = self.view.selectedItems()
            item = items[0] if items else None
        return None if item is None else str(item.data(RUN_ID_ROLE))

    def _item(self, run_id: str) -> QListWidgetItem | None:
        for i in range(self.view.count()):
            item = self.view.item(i)
            if item.data(RUN_ID_ROLE) == run_id:
                return item
        return None

    def _busy(self) -> bool:
        worker = getattr(self.window, "worker", None)
        return self.window.doc is None or (worker is not None and worker.is_running())

    def _refuse(self, message: str) -> None:
        self.window.log_message(message)
        self.window.statusBar().showMessage(message, 8000)
        self.edit_refused.emit(message)

    # --------------------------------------------------------------- actions
    def start_rename(self, run_id: str | None = None) -> None:
        """Open the in-place editor on a run's row."""
        run_id = run_id or self.current_id()
        item = self._item(run_id) if run_id else None
        if self.read_only_reason:
            self._refuse(self.read_only_reason)
            return
        if item is not None and not self._busy():
            self.view.setCurrentItem(item)
            self.view.editItem(item)

    #: why runs cannot be renamed or deleted now (the project is open for audit), or None
    read_only_reason: str | None = None

    def rename(self, run_id: str, name: str) -> bool:
        """Rename a run (one undo step); a refused name is explained, nothing changes."""
        if self.read_only_reason:
            self._refuse(self.read_only_reason)
            return False
        if self._busy():
            self._refuse("Runs cannot be renamed while a run is training.")
            return False
        try:
            old = self.window.project.run(run_id).name
            self.window.doc.rename_run(run_id, name)
        except (KeyError, ValueError) as exc:
            self._refuse(str(exc.args[0]) if exc.args else str(exc))
            return False
        new = self.window.project.run(run_id).name
        if new != old:
            self.window.log_message(f"Renamed run {old!r} to {new!r}")
        return True

    def delete(self, run_ids: list[str] | None = None, confirm: bool = True) -> bool:
        """Delete runs (the selected ones by default) as one undo step, after confirming."""
        if self.read_only_reason:
            self._refuse(self.read_only_reason)
            return False
        if self._busy():
            self._refuse("Runs cannot be deleted while a run is training.")
            return False
        ids = list(run_ids) if run_ids is not None else self.selected_ids()
        project = self.window.project
        names = [project.run(r).name for r in ids if any(x.id == r for x in project.runs)]
        if not names:
            return False
        if confirm:
            what = f"run {names[0]!r}" if len(names) == 1 else f"{len(names)} runs"
            answer = QMessageBox.question(
                self.window, "Delete runs",
                f"Delete {what}, with weights and curves? Undo (Ctrl+Z) brings it back.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
        try:
            self.window.doc.remove_runs(ids)
        except (KeyError, ValueError) as exc:
            self._refuse(str(exc.args[0]) if exc.args else str(exc))
            return False
        self.window.log_message(f"Deleted {', '.join(repr(n) for n in names)}")
        return True

    def set_active(self, run_id: str | None = None) -> bool:
        """Make a run (the row under the cursor by default) the current run: not an undo step."""
        if self._busy():
            self._refuse("The current run cannot change while a run is training.")
            return False
        run_id = run_id or self.current_id()
        if run_id is None:
            return False
        try:
            self.window.doc.set_active_run(run_id)
        except KeyError as exc:
            self._refuse(str(exc.args[0]) if exc.args else str(exc))
            return False
        self.window.log_message(f"Current run: {self.window.project.run(run_id).name}")
        return True

    # ------------------------------------------------------------ key, menu
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if watched is self.view and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            assert isinstance(event, QKeyEvent)
            key = event.key()
            mine = key in (Qt.Key.Key_Delete, Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                self.view.state() != QAbstractItemView.State.EditingState
            if mine and event.type() == QEvent.Type.ShortcutOverride:
                # Del here deletes runs, not the window's "Delete layers" shortcut
                event.accept()
                return True
            if mine:
                if key == Qt.Key.Key_Delete:
                    self.delete()
                else:
                    self.set_active()
                return True
        return super().eventFilter(watched, event)

    def _context_menu(self, pos: QPoint) -> None:
        item = self.view.itemAt(pos)
        if item is None:
            return
        if not item.isSelected():
            self.view.setCurrentItem(item)
        menu = self.context_menu(str(item.data(RUN_ID_ROLE)))
        menu.exec(self.view.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def context_menu(self, run_id: str) -> QMenu:
        """The menu for a run's row (built fresh, so it reflects the current state)."""
        menu = QMenu(self.view)
        busy = self._busy()
        a = menu.addAction("Rename…", lambda: self.start_rename(run_id))
        a.setShortcut("F2")
        a.setEnabled(not busy and not self.read_only_reason)
        if self.read_only_reason:
            a.setToolTip(self.read_only_reason)
        selected = self.selected_ids()
        ids = selected if run_id in selected else [run_id]
        a = menu.addAction(
            "Delete run…" if len(ids) == 1 else f"Delete {len(ids)} runs…", lambda: self.delete(ids)
        )
        a.setShortcut("Del")
        a.setEnabled(not busy and not self.read_only_reason)
        if self.read_only_reason:
            a.setToolTip(self.read_only_reason)
        menu.setToolTipsVisible(True)
        return menu
