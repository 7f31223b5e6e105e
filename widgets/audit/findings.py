"""Findings attached to items of a project, and the auditor's sign-off.

Plain data in (the items a finding can be attached to, as ``(label, target dict)``; the
findings as dicts ``{"id", "target", "text", "severity", "author", "created"}``; the sign-off
as ``{"name", "role", "date", "statement"}`` or None), requests out: the view never keeps
the findings itself, the host does (undoably) and shows them back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

__all__ = ["DEFAULT_STATEMENT", "SEVERITIES", "FindingsView", "target_label"]

SEVERITIES = ("info", "low", "medium", "high")
_SEVERITY_COLOURS = {"info": "#37474f", "low": "#1565c0", "medium": "#e65100", "high": "#b71c1c"}
DEFAULT_STATEMENT = (
    "I have examined this model and the evidence in this report. The findings above are my "
    "assessment of it as of the date given."
)


def target_label(target: Any, labels: Mapping[str, str] | None = None) -> str:
    """A finding's target in words (from the labels the host gave, else from its fields)."""
    if not isinstance(target, Mapping):
        return "?"
    key = _key(target)
    if labels and key in labels:
        return labels[key]
    parts = [str(target.get(k)) for k in ("kind", "run", "analysis", "item") if target.get(k)]
    return " · ".join(parts) or "?"


def _key(target: Mapping[str, Any]) -> str:
    return "|".join(str(target.get(k) or "") for k in ("kind", "run", "analysis", "item"))


class FindingsView(QWidget):
    """Findings in a table with a form to add one; the sign-off below."""

    finding_added = Signal(dict, str, str)  # target, text, severity: the user added a finding
    finding_removed = Signal(str)  # finding id: the user removed it
    signed_off = Signal(dict)  # {"name", "role", "date", "statement"}: the user signed off
    signoff_withdrawn = Signal()  # the user took the sign-off back

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._labels: dict[str, str] = {}
        self._targets: list[tuple[str, dict[str, Any]]] = []
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Severity", "About", "Finding"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected finding (Ctrl+Z brings it back)")
        self.remove_button.setEnabled(False)
        self.table.itemSelectionChanged.connect(
            lambda: self.remove_button.setEnabled(bool(self.table.selectedItems()) and self._editable))

        self.target_combo = QComboBox()
        self.target_combo.setToolTip("What the finding is about: the project, a run, a metric, a "
                                     "fairness figure, an explanation or one explained sample")
        self.severity_combo = QComboBox()
        self.severity_combo.addItems(SEVERITIES)
        self.severity_combo.setCurrentText("medium")
        self.text_edit = QPlainTextEdit()
        self.text_edit.setPlaceholderText("What you found, and why it matters")
        self.text_edit.setMaximumHeight(70)
        self.add_button = QPushButton("Add finding")
        self.add_button.setToolTip("Attach this finding to the chosen item")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b71c1c;")
        self.message.hide()
        form = QFormLayout()
        form.addRow("About", self.target_combo)
        form.addRow("Severity", self.severity_combo)
        form.addRow("Finding", self.text_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)

        self.signoff_box = QGroupBox("Sign-off")
        self.name_edit = QLineEdit()
        self.role_edit = QLineEdit()
        self.role_edit.setPlaceholderText("e.g. independent model auditor")
        self.date_edit = QLineEdit(dt.date.today().isoformat())
        self.date_edit.setToolTip("The date of the sign-off (YYYY-MM-DD)")
        self.statement_edit = QPlainTextEdit(DEFAULT_STATEMENT)
        self.statement_edit.setMaximumHeight(70)
        self.sign_button = QPushButton("Sign off")
        self.withdraw_button = QPushButton("Withdraw sign-off")
        self.signoff_status = QLabel("Not signed off.")
        self.signoff_status.setWordWrap(True)
        sform = QFormLayout(self.signoff_box)
        sform.addRow("Name", self.name_edit)
        sform.addRow("Role", self.role_edit)
        sform.addRow("Date", self.date_edit)
        sform.addRow("Statement", self.statement_edit)
        srow = QHBoxLayout()
        srow.addWidget(self.sign_button)
        srow.addWidget(self.withdraw_button)
        srow.addStretch(1)
        sform.addRow(srow)
        sform.addRow(self.signoff_status)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.signoff_box)
        self.add_button.clicked.connect(self._add)
        self.remove_button.clicked.connect(self._remove)
        self.sign_button.clicked.connect(self._sign)
        self.withdraw_button.clicked.connect(self.signoff_withdrawn)
        self._editable = True
        self._findings: list[dict[str, Any]] = []
        self.set_signoff(None)

    # ------------------------------------------------------------------ public API
    def set_targets(self, targets: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """The items a finding can be about, as (label, target) pairs."""
        current = self.target_combo.currentText()
        self._targets = [(str(label), dict(t)) for label, t in targets]
        self._labels = {_key(t): label for label, t in self._targets}
        self.target_combo.clear()
        self.target_combo.addItems([label for label, _ in self._targets])
        if current:
            self.target_combo.setCurrentText(current)
        self._fill()

    def set_findings(self, findings: Any) -> None:
        """Show the findings (a list of dicts); entries that are not dicts are left out."""
        self._findings = [dict(f) for f in findings if isinstance(f, Mapping)] if isinstance(findings, list) else []
        self._fill()

    def set_signoff(self, signoff: Any) -> None:
        """Show the sign-off (None: not signed off)."""
        if isinstance(signoff, Mapping) and signoff.get("name"):
            self.signoff_status.setText(
                f"Signed off by {signoff.get('name')}"
                + (f", {signoff.get('role')}" if signoff.get("role") else "")
                + f" on {signoff.get('date', '?')}.")
            self.signoff_status.setStyleSheet("color: #1b5e20;")
        else:
            self.signoff_status.setText("Not signed off.")
            self.signoff_status.setStyleSheet("color: #607d8b;")
        self.withdraw_button.setEnabled(self._editable and isinstance(signoff, Mapping) and bool(signoff.get("name")))

    def set_editable(self, editable: bool, why: str = "") -> None:
        """Allow or refuse adding findings and signing off (``why`` goes in the tooltips)."""
        self._editable = editable
        for w in (self.add_button, self.sign_button, self.text_edit, self.target_combo,
                  self.severity_combo, self.name_edit, self.role_edit, self.date_edit, self.statement_edit):
            w.setEnabled(editable)
            if why:
                w.setToolTip(why)
        self.remove_button.setEnabled(editable and bool(self.table.selectedItems()))

    def rows(self) -> list[tuple[str, str, str]]:
        """(severity, about, text) of each row as shown."""
        return [tuple(self.table.item(r, c).text() for c in range(3)) for r in range(self.table.rowCount())]  # type: ignore[misc]

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # ------------------------------------------------------------------ internals
    def _fill(self) -> None:
        order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
        rows = sorted(self._findings, key=lambda f: (order.get(str(f.get("severity")), 9), str(f.get("created", ""))))
        self.table.setRowCount(len(rows))
        for r, f in enumerate(rows):
            severity = str(f.get("severity", "?"))
            sev = QTableWidgetItem(severity)
            sev.setForeground(QColor(_SEVERITY_COLOURS.get(severity, "#37474f")))
            sev.setData(Qt.ItemDataRole.UserRole, str(f.get("id", "")))
            about = QTableWidgetItem(target_label(f.get("target"), self._labels))
            text = QTableWidgetItem(str(f.get("text", "")))
            text.setToolTip(f"{f.get('text', '')}\n— {f.get('author') or 'auditor'}, {f.get('created', '')}")
            for c, item in enumerate((sev, about, text)):
                self.table.setItem(r, c, item)
        self.table.resizeColumnToContents(0)
        self.table.resizeRowsToContents()

    def _add(self) -> None:
        i = self.target_combo.currentIndex()
        text = self.text_edit.toPlainText().strip()
        if i < 0 or i >= len(self._targets):
            self.show_message("Choose what the finding is about.")
            return
        if not text:
            self.show_message("Write the finding first.")
            return
        self.show_message("")
        self.finding_added.emit(dict(self._targets[i][1]), text, self.severity_combo.currentText())
        self.text_edit.clear()

    def _remove(self) -> None:
        rows = {i.row() for i in self.table.selectedItems()}
        for r in sorted(rows):
            fid = self.table.item(r, 0).data(Qt.ItemDataRole.UserRole)
            if fid:
                self.finding_removed.emit(str(fid))

    def _sign(self) -> None:
        name, date = self.name_edit.text().strip(), self.date_edit.text().strip()
        if not name:
            self.show_message("The sign-off needs your name.")
            return
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            self.show_message(f"The date {date!r} is not a date: write it as YYYY-MM-DD.")
            return
        self.show_message("")
        self.signed_off.emit({"name": name, "role": self.role_edit.text().strip(), "date": date,
                              "statement": self.statement_edit.toPlainText().strip()})


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    view = FindingsView()
    view.set_targets([("The project", {"kind": "project"}), ("run 1", {"kind": "run", "run": "r1"}),
                      ("accuracy of run 1", {"kind": "metric", "run": "r1", "item": "accuracy"})])
    view.set_findings([{"id": "a1", "target": {"kind": "metric", "run": "r1", "item": "accuracy"},
                        "text": "Accuracy is measured on 150 rows only.", "severity": "medium",
                        "created": "2026-12-07T10:00:00+00:00"}])
    view.resize(700, 600)
    view.show()
    app.exec()
