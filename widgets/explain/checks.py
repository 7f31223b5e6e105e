"""Quality checks of attributions, shown one by one beside the maps (never one score).

- a table with one row per method and one column per check (infidelity, max-sensitivity,
  deletion AUC, insertion AUC), each the mean over the samples with the per-sample values
  in its tooltip, and the direction that is better written in the column title;
- the deletion and insertion curves (mean over the samples) of each method, their AUCs in
  the legend;
- the model-randomisation check: Spearman rank correlation between the trained model's map
  and the map after re-initialising the layers from the output down, one line per method.

Plain data in (see :meth:`ExplanationChecks.set_results`), Qt signals out: the host runs
the checks and feeds the numbers back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from widgets.common.export import (
    export_button,
    export_widget_png,
    export_widget_svg,
    write_csv,
)
from widgets.explain.common import (
    MUTED,
    TEXT,
    as_array,
    message_label,
    number,
    show_message,
)

__all__ = ["CHECKS", "SCORE_COLUMNS", "ExplanationChecks", "sample_checks"]

# (id, menu text, what it tells): ids are what ``check_requested`` emits
CHECKS = (
    ("infidelity", "Infidelity",
     "How well perturbation × attribution predicts the output change (lower is better)."),
    ("sensitivity", "Max-sensitivity",
     "How much the map changes under small input noise (lower is steadier)."),
    ("deletion", "Deletion / insertion curves",
     "Output as the most-attributed features are removed or put back, with the areas under "
     "the curves."),
    ("randomisation", "Model randomisation",
     "Rank correlation with the trained model's map as layers are re-initialised from the "
     "output down (near 0 is good)."),
)
# (result key, column title, tooltip): the score table's columns
SCORE_COLUMNS = (
    ("infidelity", "infidelity\n↓", "captum infidelity, mean over the samples: lower is better"),
    ("sensitivity", "max-sens.\n↓", "captum sensitivity_max, mean over the samples: lower is "
     "steadier"),
    ("deletion_auc", "deletion\nAUC ↓", "area under the deletion curve, mean over the samples: "
     "a fast drop (low) is good"),
    ("insertion_auc", "insertion\nAUC ↑", "area under the insertion curve, mean over the "
     "samples: a fast rise (high) is good"),
)
EMPTY = "No checks yet: choose one from the Checks menu to test the maps shown."
# distinct, colour-blind-friendly line colours (Okabe & Ito)
LINE_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")


def _mean(values: Any) -> float | None:
    arr = as_array(values)
    if arr is None or arr.size == 0:
        return None
    finite = arr[np.isfinite(arr)]
    return float(finite.mean()) if finite.size else float("nan")


def _params_text(params: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (params or {}).items())


class ExplanationChecks(QWidget):
    """The checks of the maps shown: a score table and two small plots."""

    check_requested = Signal(str)  # the user asked for one check: an id from CHECKS
    cancel_requested = Signal()  # the user asked to stop the running check

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.check_button = QToolButton()
        self.check_button.setText("Checks")
        self.check_button.setToolTip("Test the maps shown: each check is reported on its own")
        self.check_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.check_button)
        self.check_actions: dict[str, QAction] = {}
        for check_id, text, tip in CHECKS:
            action = QAction(text, menu)
            action.setToolTip(tip)
            action.setStatusTip(tip)
            action.triggered.connect(lambda _=False, c=check_id: self.check_requested.emit(c))
            menu.addAction(action)
            self.check_actions[check_id] = action
        menu.setToolTipsVisible(True)
        self.check_button.setMenu(menu)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.status = QLabel()
        self.status.setStyleSheet(f"color: {MUTED};")
        self.export_button = export_button(
            self, self.export_png, self.export_svg, self.export_csv, self._export_failed,
            name="attribution_checks",
        )
        self.subject = QLabel()
        self.subject.setWordWrap(True)
        self.subject.setStyleSheet(f"color: {MUTED};")
        self.message_label = message_label()

        self.table = QTableWidget(0, len(SCORE_COLUMNS))
        self.table.setHorizontalHeaderLabels([c[1] for c in SCORE_COLUMNS])
        for j, (_key, _title, tip) in enumerate(SCORE_COLUMNS):
            self.table.horizontalHeaderItem(j).setToolTip(tip)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setMinimumWidth(220)

        # no legends over the curves: each method's colour is its name's colour in the table
        self.curves_plot = self._plot("fraction removed / inserted", "score")
        # short titles: a pyqtgraph title wider than the plot widens the scene past its view
        self.curves_plot.setTitle("solid: deletion, dashed: insertion", color=MUTED, size="8pt")
        self.curves_plot.setToolTip("The target's score as the most-attributed features are "
                                    "removed (solid) or put back (dashed), mean over the "
                                    "samples; colours as in the table")
        self.random_plot = self._plot("layers re-initialised (cumulative)", "Spearman ρ")
        self.random_plot.setTitle("vs. the trained model's map", color=MUTED, size="8pt")
        self.random_plot.setYRange(-1.05, 1.05, padding=0)
        self.random_plot.addItem(pg.InfiniteLine(0, angle=0, pen=pg.mkPen("#90a4ae", width=1)))
        self.plots = QTabWidget()
        self.plots.addTab(self.curves_plot, "Deletion / insertion")
        self.plots.addTab(self.random_plot, "Randomisation")
        self.plots.setMinimumWidth(220)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.check_button)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.status)
        bar.addWidget(self.subject, 1)
        bar.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.message_label)
        # the table above the plots in a narrow column, beside them in a wide, low one
        self.body = QSplitter(Qt.Orientation.Vertical)
        self.body.addWidget(self.table)
        self.body.addWidget(self.plots)
        self.body.setChildrenCollapsible(False)
        self.body.setStretchFactor(1, 1)
        self.body.setSizes([150, 400])
        layout.addWidget(self.body, 1)

        self._results: list[dict[str, Any]] = []
        self._available = True
        self.set_results([])

    @staticmethod
    def _plot(x_label: str, y_label: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(background="w")
        item = plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.showGrid(x=True, y=True, alpha=0.2)
        for name, label in (("bottom", x_label), ("left", y_label)):
            axis = item.getAxis(name)
            axis.setTextPen(TEXT)
            axis.setPen("#90a4ae")
            axis.enableAutoSIPrefix(False)
            item.setLabel(name, label, color=TEXT, size="8pt")
        plot.setMinimumHeight(90)
        plot.setMinimumWidth(200)
        return plot

    # ------------------------------------------------------------------ public API
    def set_results(self, results: Sequence[Mapping[str, Any]], subject: str = "") -> None:
        """Show the checks computed so far for the maps on screen.

        Parameters
        ----------
        results
            One dict per method: ``method``, ``title``, and any of ``infidelity`` /
            ``sensitivity`` ({"values": per sample, "params": {...}}), ``deletion``
            ({"fractions", "curves": {"deletion", "insertion": (S, K)}, "aucs":
            {"deletion", "insertion": (S,)}, "score", "params"}) and ``randomisation``
            ({"layers": [(layer, rho), ...], "params"}).
        subject
            What was checked, e.g. "epoch 3 · 4 samples of the test split".
        """
        self._results = [dict(r) for r in results]
        self.subject.setText(subject)
        self.subject.setVisible(bool(subject))
        self._fill_table()
        self._fit_body()
        self._draw_curves()
        self._draw_randomisation()
        self.export_button.setEnabled(bool(self._results))
        if not self._results:
            show_message(self.message_label, EMPTY)
        elif self.message_label.text() == EMPTY:
            show_message(self.message_label, "")

    def results(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._results]

    def set_busy(self, busy: bool, text: str = "") -> None:
        """Mark a check as running (Cancel on, the menu off) with a short status text."""
        self.cancel_button.setEnabled(busy)
        self.check_button.setEnabled(not busy and self._available)
        self.status.setText(text)

    def set_available(self, available: bool, reason: str = "") -> None:
        """Allow checks (True) or not, saying why not in the button's tooltip."""
        self._available = available
        self.check_button.setEnabled(available and not self.cancel_button.isEnabled())
        self.check_button.setToolTip(
            "Test the maps shown: each check is reported on its own" if available else reason
        )

    def set_orientation(self, orientation: Qt.Orientation) -> None:
        """Put the plots below the table (vertical) or to its right (horizontal)."""
        if orientation != self.body.orientation():
            self.body.setOrientation(orientation)
            self._fit_body()

    def _fit_body(self) -> None:
        """Give the table the room its numbers need, the plots the rest."""
        total = sum(self.body.sizes()) or 600
        if self.body.orientation() == Qt.Orientation.Horizontal:
            t = self.table
            t.resizeColumnsToContents()  # the header length is known only once sized
            need = (t.verticalHeader().sizeHint().width() + t.horizontalHeader().length()
                    + 2 * t.frameWidth() + t.verticalScrollBar().sizeHint().width())
            need = min(max(need, 220), int(total * 0.6))
            self.body.setSizes([need, total - need])
        else:
            self.body.setSizes([150, max(total - 150, 150)])

    def set_message(self, text: str, *, error: bool = True) -> None:
        """A one-line message above the table: errors in red, notes in grey."""
        show_message(self.message_label, text, error=error)

    def message(self) -> str:
        return self.message_label.text() if self.message_label.isVisibleTo(self) else ""

    def score(self, method: str, key: str) -> float | None:
        """The number shown in the table for one method and column key (None if empty)."""
        for r in self._results:
            if r.get("method") == method:
                return self._score(r, key)
        return None

    def export_png(self, path: str | Path) -> None:
        """Save the checks (table and the plot shown) as a PNG."""
        export_widget_png(self, path)

    def export_svg(self, path: str | Path) -> None:
        export_widget_svg(self, path, "attribution checks")

    def export_csv(self, path: str | Path) -> None:
        """Every number behind the checks: one row per method, check, sample or point."""
        def rows():
            for r in self._results:
                m = r.get("method", "")
                for key in ("infidelity", "sensitivity"):
                    entry = r.get(key) or {}
                    values = as_array(entry.get("values"))
                    for s, v in enumerate([] if values is None else values.ravel()):
                        yield (m, key, s, "", float(v), _params_text(entry.get("params")))
                entry = r.get("deletion") or {}
                fractions = as_array(entry.get("fractions"))
                for kind in ("deletion", "insertion"):
                    curves = as_array((entry.get("curves") or {}).get(kind))
                    aucs = as_array((entry.get("aucs") or {}).get(kind))
                    if curves is not None and fractions is not None:
                        for s, curve in enumerate(curves):
                            for f, v in zip(fractions, curve):
                                yield (m, f"{kind} curve", s, float(f), float(v), "")
                    if aucs is not None:
                        for s, v in enumerate(aucs):
                            yield (m, f"{kind} AUC", s, "", float(v), "")
                for layer, rho in (r.get("randomisation") or {}).get("layers", []):
                    yield (m, "randomisation spearman", "", layer, float(rho), "")

        write_csv(path, ["method", "check", "sample", "at", "value", "params"], rows())

    # ------------------------------------------------------------------ drawing
    @staticmethod
    def _score(r: Mapping[str, Any], key: str) -> float | None:
        if key in ("infidelity", "sensitivity"):
            return _mean((r.get(key) or {}).get("values"))
        kind = key.removesuffix("_auc")
        return _mean(((r.get("deletion") or {}).get("aucs") or {}).get(kind))

    def _fill_table(self) -> None:
        self.table.setRowCount(len(self._results))
        self.table.setVerticalHeaderLabels([str(r.get("title") or r.get("method"))
                                            for r in self._results])
        for i in range(len(self._results)):
            header = self.table.verticalHeaderItem(i)
            header.setForeground(QColor(LINE_COLOURS[i % len(LINE_COLOURS)]))
            header.setToolTip("The method's colour in the plots below")
        for i, r in enumerate(self._results):
            for j, (key, title, _tip) in enumerate(SCORE_COLUMNS):
                value = self._score(r, key)
                item = QTableWidgetItem("—" if value is None else number(value))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setToolTip(self._cell_tip(r, key, title))
                self.table.setItem(i, j, item)

    @staticmethod
    def _cell_tip(r: Mapping[str, Any], key: str, title: str) -> str:
        if key in ("infidelity", "sensitivity"):
            entry = r.get(key) or {}
            values = as_array(entry.get("values"))
        else:
            entry = r.get("deletion") or {}
            values = as_array((entry.get("aucs") or {}).get(key.removesuffix("_auc")))
        if values is None:
            return f"{title}: not computed yet (Checks menu)"
        per_sample = ", ".join(number(float(v)) for v in values.ravel()[:12])
        more = " …" if values.size > 12 else ""
        params = _params_text(entry.get("params"))
        return f"{title} per sample: {per_sample}{more}" + (f"\n{params}" if params else "")

    def _draw_curves(self) -> None:
        plot = self.curves_plot.getPlotItem()
        for item in list(plot.listDataItems()):
            plot.removeItem(item)
        score = ""
        for i, r in enumerate(self._results):
            entry = r.get("deletion")
            if not entry:
                continue
            fractions = as_array(entry.get("fractions"))
            colour = LINE_COLOURS[i % len(LINE_COLOURS)]
            score = str(entry.get("score") or score)
            for kind, style in (("deletion", Qt.PenStyle.SolidLine),
                                ("insertion", Qt.PenStyle.DashLine)):
                curves = as_array((entry.get("curves") or {}).get(kind))
                if curves is None or fractions is None or curves.ndim != 2:
                    continue
                mean = np.nanmean(curves, axis=0) if curves.size else curves
                auc = _mean((entry.get("aucs") or {}).get(kind))
                name = f"{r.get('title') or r.get('method')} {kind} (AUC {number(auc)})"
                plot.plot(fractions, mean, pen=pg.mkPen(colour, width=2, style=style), name=name)
        plot.setLabel("left", score or "score", color=TEXT, size="8pt")

    def _draw_randomisation(self) -> None:
        plot = self.random_plot.getPlotItem()
        for item in list(plot.listDataItems()):
            plot.removeItem(item)
        names: list[str] = []
        for i, r in enumerate(self._results):
            layers = (r.get("randomisation") or {}).get("layers") or []
            if not layers:
                continue
            if len(layers) > len(names):
                names = [str(layer) for layer, _rho in layers]
            rhos = np.array([float(rho) if rho is not None else math.nan for _l, rho in layers])
            colour = LINE_COLOURS[i % len(LINE_COLOURS)]
            plot.plot(np.arange(len(rhos)), rhos, pen=pg.mkPen(colour, width=2), symbol="o",
                      symbolSize=6, symbolBrush=colour, symbolPen=None,
                      name=str(r.get("title") or r.get("method")))
        # every layer named when they fit, else every second one (the tooltip has them all)
        step = 1 if len(names) <= 8 else 2
        plot.getAxis("bottom").setTicks([[(k, names[k]) for k in range(0, len(names), step)], []])
        if names:
            # room at both ends, so the first and last layer names are not clipped away
            plot.setXRange(-0.7, len(names) - 0.3, padding=0)
        self.random_plot.setToolTip(
            "Spearman rank correlation of |map| with the trained model's map, mean over the "
            "samples, as layers are re-initialised cumulatively"
            + (f" in this order: {' → '.join(names)}" if names else "")
            + ". Near 0: the map depends on what the model learned; near 1: it does not."
        )

    def _export_failed(self, text: str) -> None:
        show_message(self.message_label, text, error=True)


def sample_checks() -> list[dict[str, Any]]:
    """Plausible check results of two methods on four samples, for previews."""
    rng = np.random.default_rng(1)
    fractions = np.linspace(0, 1, 21)
    out = []
    for method, title, sharp in (("ig", "Integrated Gradients", 6.0), ("saliency", "Saliency", 2.5)):
        deletion = np.exp(-sharp * fractions)[None] * (0.9 + 0.1 * rng.random((4, 1)))
        insertion = 1 - np.exp(-sharp * fractions)[None] * (0.9 + 0.1 * rng.random((4, 1)))
        out.append({
            "method": method, "title": title,
            "infidelity": {"values": rng.random(4) * 0.1, "params": {"n_perturb": 50}},
            "sensitivity": {"values": rng.random(4) * 0.3, "params": {"radius": 0.02}},
            "deletion": {
                "fractions": fractions,
                "curves": {"deletion": deletion, "insertion": insertion},
                "aucs": {"deletion": np.trapezoid(deletion, fractions, axis=1),
                         "insertion": np.trapezoid(insertion, fractions, axis=1)},
                "score": "probability", "params": {"steps": 20},
            },
            "randomisation": {"layers": [("head", 0.8 / sharp), ("fc2", 0.5 / sharp),
                                         ("fc1", 0.2 / sharp), ("conv2", 0.1), ("conv1", 0.05)],
                              "params": {"absolute": True}},
        })
    return out


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    view = ExplanationChecks()
    view.set_results(sample_checks(), "after training · 4 samples of the test split")
    view.check_requested.connect(lambda c: view.set_message(f"requested: {c}", error=False))
    view.resize(420, 560)
    view.show()
    app.exec()
