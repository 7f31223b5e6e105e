"""The verification of a project: one row per stored number, verified, differs or cannot verify.

Plain data in (``VerificationReport.to_dict()``: ``{"ok", "counts", "items": [{"kind", "name",
"status", "expected", "actual", "reason"}]}``), the request to verify out. Rows that differ
come first, in red with both values; rows that cannot be verified say why. Reading never
raises: a malformed report shows what could be read and a sentence about the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from widgets.common.export import export_button, export_widget_png, export_widget_svg, write_csv

__all__ = ["STATUS_TEXT", "VerificationView"]

STATUS_TEXT = {"differs": "✘ differs", "cannot verify": "? cannot verify", "verified": "✔ verified"}
_ORDER = {"differs": 0, "cannot verify": 1, "verified": 2}
_COLOURS = {"differs": QColor("#b71c1c"), "cannot verify": QColor("#e65100"), "verified": QColor("#1b5e20")}
COLUMNS = ("Status", "Item", "Stored", "Recomputed", "Why")


def _short(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "…"


class VerificationView(QWidget):
    """A table of verified items, a summary line, Verify / Cancel and a progress bar."""

    verify_requested = Signal()  # the user pressed Verify
    cancel_requested = Signal()  # the user pressed Cancel while verifying

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.verify_button = QPushButton("Verify")
        self.verify_button.setToolTip(
            "Re-derive every stored number (data fingerprint, weights, metrics, explanations, "
            "fairness audits) and say which agree; nothing is written to the project"
        )
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        self.problems_only = QCheckBox("Only items that are not verified")
        self.problems_only.toggled.connect(lambda _on: self._fill())
        self.summary = QLabel("Not verified yet: press Verify.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.export = export_button(self, self.export_png, self.export_svg, self.export_csv,
                                    lambda m: self.summary.setText(m), name="verification")
        bar = QHBoxLayout()
        for w in (self.verify_button, self.cancel_button, self.progress):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.problems_only)
        bar.addWidget(self.export)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.verify_button.clicked.connect(self.verify_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.items: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ public API
    def set_report(self, report: Any) -> None:
        """Show a ``VerificationReport.to_dict()`` (None: not verified yet)."""
        self.items = []
        problems = 0
        raw = report.get("items") if isinstance(report, Mapping) else None
        if isinstance(raw, list):
            for entry in raw:
                if isinstance(entry, Mapping) and entry.get("status") in STATUS_TEXT:
                    self.items.append(dict(entry))
                else:
                    problems += 1
        self.items.sort(key=lambda i: _ORDER[i["status"]])
        if report is None:
            self.summary.setText("Not verified yet: press Verify.")
        elif not self.items:
            self.summary.setText("The verification holds no items that can be shown.")
        else:
            counts = {s: sum(1 for i in self.items if i["status"] == s) for s in STATUS_TEXT}
            verdict = ("Everything the file claims was re-derived and agrees."
                       if counts["differs"] == counts["cannot verify"] == 0 else
                       f"{counts['differs']} item(s) differ from what the file claims."
                       if counts["differs"] else "Nothing differs, but not everything could be checked.")
            self.summary.setText(f"{verdict}  {counts['verified']} verified, {counts['differs']} differ, "
                                 f"{counts['cannot verify']} cannot be verified."
                                 + (f" ({problems} unreadable entries left out.)" if problems else ""))
            colour = "#b71c1c" if counts["differs"] else "#e65100" if counts["cannot verify"] else "#1b5e20"
            self.summary.setStyleSheet(f"color: {colour};")
        self._fill()

    def set_busy(self, busy: bool) -> None:
        """While verifying: Verify off, Cancel on, progress shown."""
        self.verify_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setValue(0)
            self.summary.setText("Verifying: recomputing every stored number…")
            self.summary.setStyleSheet("")

    def set_progress(self, fraction: float) -> None:
        self.progress.setValue(int(round(100 * max(0.0, min(1.0, fraction)))))

    def shown_rows(self) -> list[tuple[str, str]]:
        """(status, item name) of each row as shown."""
        return [(self.table.item(r, 0).data(Qt.ItemDataRole.UserRole), self.table.item(r, 1).text())
                for r in range(self.table.rowCount())]

    # ------------------------------------------------------------------ filling
    def _fill(self) -> None:
        rows = [i for i in self.items if not self.problems_only.isChecked() or i["status"] != "verified"]
        self.table.setRowCount(len(rows))
        for r, item in enumerate(rows):
            status = item["status"]
            cells = (STATUS_TEXT[status], str(item.get("name", "")), _short(item.get("expected")),
                     _short(item.get("actual")), str(item.get("reason") or ""))
            for c, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip("\n".join(t for t in (str(item.get("name", "")), str(item.get("reason") or ""),
                                                      f"stored: {_short(item.get('expected'))}" if item.get("expected") is not None else "",
                                                      f"recomputed: {_short(item.get('actual'))}" if item.get("actual") is not None else "") if t))
                if c == 0:
                    cell.setData(Qt.ItemDataRole.UserRole, status)
                    cell.setForeground(_COLOURS[status])
                self.table.setItem(r, c, cell)
        self.table.resizeColumnToContents(0)

    # ------------------------------------------------------------------ export
    def export_png(self, path: str) -> None:
        export_widget_png(self.table, path)

    def export_svg(self, path: str) -> None:
        export_widget_svg(self.table, path, "verification")

    def export_csv(self, path: str) -> None:
        write_csv(path, ["status", "kind", "item", "stored", "recomputed", "reason"],
                  [[i["status"], i.get("kind", ""), i.get("name", ""), json.dumps(i.get("expected")),
                    json.dumps(i.get("actual")), i.get("reason", "")] for i in self.items])


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    view = VerificationView()
    view.set_report({"ok": False, "items": [
        {"kind": "data", "name": "data fingerprint", "status": "verified", "expected": "ab12", "actual": "ab12"},
        {"kind": "weights", "name": "weights of run 'run 1'", "status": "differs", "expected": "ab12…", "actual": "cd34…",
         "reason": "the weights are not those the run was trained to"},
        {"kind": "explanation", "name": "explanation ig (1a2b) at epoch 3 of run 'run 1'", "status": "cannot verify",
         "reason": "computed at epoch 3 during training; only the final weights are kept"},
    ]})
    view.resize(900, 300)
    view.show()
    app.exec()
