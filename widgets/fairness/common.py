"""What the fairness views share: the house plot style, a header row, a message line and exporting.

Each view writes PNG, SVG and CSV. A plot's PNG goes through pyqtgraph's image exporter and
its SVG through Qt's SVG generator (the figure an auditor pastes into a report); tables are
rendered as they look on screen. The Export button
asks for a file name and reports a failure in the view's message line, never by raising.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from widgets.common.export import export_widget_png, export_widget_svg

__all__ = [
    "PALETTE",
    "FairnessView",
    "make_plot",
]

# colour-blind-safe (Okabe & Ito), one per group or run kind, in a fixed order
PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#000000",
)
_ERROR_STYLE = "color: #b71c1c;"
_INFO_STYLE = "color: #37474f;"


def make_plot(title: str, x_label: str, y_label: str = "") -> pg.PlotWidget:
    """A white plot in the house style (as the training plots)."""
    w = pg.PlotWidget(background="w")
    w.setTitle(title, color="#263238", size="10pt")
    w.setLabel("bottom", x_label)
    if y_label:
        w.setLabel("left", y_label)
    w.showGrid(x=True, y=True, alpha=0.25)
    w.setMenuEnabled(False)  # the view's Export button replaces pyqtgraph's own menu
    for name in ("left", "bottom"):
        axis = w.getAxis(name)
        axis.enableAutoSIPrefix(False)  # rates read as 0.25, never as 250 (×0.001)
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return w


class FairnessView(QWidget):
    """A view with a header row (its options, then an Export button) and a message line."""

    file_stem = "fairness"  # suggested file name in the export dialog

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QHBoxLayout()
        self.header.setContentsMargins(0, 0, 0, 0)
        self.header.setSpacing(6)
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setToolTip(
            "Save this view as a PNG or SVG picture, or its values as CSV"
        )
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        for kind, text in (
            ("png", "PNG picture…"),
            ("svg", "SVG picture…"),
            ("csv", "Values as CSV…"),
        ):
            menu.addAction(text, lambda k=kind: self._export_with_dialog(k))
        self.export_button.setMenu(menu)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.hide()
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(4, 4, 4, 4)
        self.body.setSpacing(4)
        self.body.addLayout(self.header)
        self.body.addWidget(self.message_label)

    def _finish_header(self) -> None:
        """Push the Export button to the right end of the header (call after adding options)."""
        self.header.addStretch(1)
        self.header.addWidget(self.export_button)

    def set_message(self, text: str | None, *, error: bool = True) -> None:
        """Show a sentence above the view (red for an error); None or "" hides it."""
        self.message_label.setText(text or "")
        self.message_label.setStyleSheet(_ERROR_STYLE if error else _INFO_STYLE)
        self.message_label.setVisible(bool(text))

    def message(self) -> str:
        """The sentence now shown above the view ("" if none)."""
        return self.message_label.text() if not self.message_label.isHidden() else ""

    def _show_problems(self, problems: Sequence[str], empty: str | None = None) -> None:
        """Show what could not be read (the first problem, and how many more), or ``empty``."""
        if problems:
            more = len(problems) - 1
            tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
            text = f"Part of the data could not be shown: {problems[0]}{tail}"
            self.set_message(text)
            self.message_label.setToolTip("\n".join(problems))
        elif empty:
            self.set_message(empty, error=False)
            self.message_label.setToolTip("")
        else:
            self.set_message(None)
            self.message_label.setToolTip("")

    # ------------------------------------------------------------------ export
    def export_png(self, path: str | Path) -> None:
        export_widget_png(self, path)

    def export_svg(self, path: str | Path) -> None:
        export_widget_svg(self, path)

    def export_csv(self, path: str | Path) -> None:  # pragma: no cover - every view overrides
        raise NotImplementedError

    def _export_with_dialog(self, kind: str) -> None:
        filters = {
            "png": "PNG picture (*.png)",
            "svg": "SVG picture (*.svg)",
            "csv": "Comma-separated values (*.csv)",
        }
        path, _ = QFileDialog.getSaveFileName(
            self, "Export", f"{self.file_stem}.{kind}", filters[kind]
        )
        if not path:
            return
        if not path.lower().endswith(f".{kind}"):
            path += f".{kind}"
        try:
            {"png": self.export_png, "svg": self.export_svg, "csv": self.export_csv}[kind](path)
        except (OSError, ValueError) as exc:
            self.set_message(f"Could not export to {path}: {exc}")
        else:
            self.set_message(f"Saved {path}.", error=False)
