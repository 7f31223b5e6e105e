"""Attributions compared across the groups of a sensitive column.

:class:`GroupComparisonView` shows one comparison (``GroupAttributionComparison.to_dict()``
keys, arrays as numpy arrays or nested lists, non-finite numbers possibly spelled "NaN"):

- **Bars**: features down the side (the largest difference between groups at the top), one
  bar per group side by side, the mean attribution — or the mean |attribution|, as toggled —
  with its bootstrap interval as whiskers;
- **Beeswarm**: the same features, one strip per group, one point per sample;
- beside them, a table of each feature's difference with its raw permutation p-value and its
  Holm–Bonferroni adjusted p-value (the correction is named under the table);
- images and sequences: one mean map per group, and the test of the whole map.

The header chooses the sensitive column and the method and asks for a comparison
(``compare_requested``); the view computes nothing itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from widgets.common.export import export_button, export_widget_png, export_widget_svg, write_csv
from widgets.explain.common import (
    DIVERGING,
    MUTED,
    TEXT,
    message_label,
    number,
    show_message,
    symmetric_limit,
)
from widgets.explain.tabular import swarm_offsets

__all__ = ["GroupComparisonView", "SHOWS", "sample_comparison"]

# colour-blind-safe (Okabe & Ito), one per group, in a fixed order
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
SHOWS = {"mean": "Mean attribution", "mean_abs": "Mean |attribution|"}
SIGNIFICANT = 0.05  # Holm p at or below this is printed in bold
EMPTY = ("Compare how the model explains its outputs for each group: choose a sensitive column "
         "and a method, then press Compare groups. Every sample of the split chosen on the left "
         "is explained.")
_INT_FIELDS = ("between", "between_abs", "group_index")


def _floats(value: Any, dtype: Any = float) -> np.ndarray | None:
    """An array from numpy or nested lists with "NaN" / "Infinity" spelled out, or None."""
    if value is None:
        return None
    if isinstance(value, list):
        spelled = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

        def decode(v: Any) -> Any:
            if isinstance(v, list):
                return [decode(x) for x in v]
            return spelled.get(v, v) if isinstance(v, str) else v

        value = decode(value)
    try:
        return np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float:
    arr = _floats(value)
    return float(arr) if arr is not None and arr.ndim == 0 else math.nan


def _p_text(p: float) -> str:
    if not math.isfinite(p):
        return "—"
    return f"{p:.3g}"


class _Comparison:
    """The dict read once into arrays (never raising: what cannot be read becomes a problem)."""

    def __init__(self, d: Mapping[str, Any]) -> None:
        self.problem = ""
        self.groups = [str(g) for g in d.get("groups") or []]
        self.sizes = [int(s) for s in d.get("sizes") or []]
        self.features = [str(f) for f in d.get("features") or []]
        self.map_shape = d.get("map_shape")
        self.n_perm = int(d.get("n_perm") or 0)
        self.n_boot = int(d.get("n_boot") or 0)
        self.confidence = _float(d.get("confidence", 0.95))
        self.p_rule = str(d.get("p_rule") or "")
        self.correction = str(d.get("correction") or "")
        self.notes = [str(n) for n in d.get("notes") or []]
        self.map_test = dict(d.get("map_test") or {})
        arrays = {}
        for key in ("mean", "mean_abs", "mean_ci", "mean_abs_ci", "difference", "difference_abs",
                    "between", "between_abs", "p_value", "p_holm", "p_value_abs", "p_holm_abs",
                    "attributions", "group_index"):
            arrays[key] = _floats(d.get(key), np.int64 if key in _INT_FIELDS else float)
        self.a = arrays
        g, f = len(self.groups), len(self.features)
        if len(self.sizes) != g:
            self.problem = f"{len(self.sizes)} group sizes for {g} groups."
        mean = arrays["mean"]
        if mean is None or mean.shape[:1] != (g,):
            self.problem = self.problem or "The comparison has no mean attributions per group."
        elif self.map_shape is None and mean.shape != (g, f):
            self.problem = f"Mean attributions of shape {mean.shape} for {g} groups × {f} features."

    @property
    def is_map(self) -> bool:
        return self.map_shape is not None

    def arr(self, key: str) -> np.ndarray | None:
        return self.a.get(key)

    def order(self, show: str) -> list[int]:
        d = self.arr("difference" if show == "mean" else "difference_abs")
        if d is None or d.shape != (len(self.features),):
            return list(range(len(self.features)))
        key = np.where(np.isfinite(d), -np.abs(d), np.inf)
        return [int(i) for i in np.argsort(key, kind="stable")]

    def two_groups(self) -> bool:
        return sum(1 for s in self.sizes if s > 0) == 2


class _Plot:
    """A white plot with a title line, features on the left axis, and a group legend."""

    def __init__(self) -> None:
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setBackground("w")
        self.widget.ci.setContentsMargins(6, 6, 10, 6)
        self.plot = pg.PlotItem()
        self.widget.ci.addItem(self.plot, 1, 0)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=False, alpha=0.2)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setTextPen(TEXT)
            axis.setPen("#90a4ae")
            axis.enableAutoSIPrefix(False)
        self.zero = pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#90a4ae", width=1))
        self.plot.addItem(self.zero)
        # above the plot, in one row, never over a bar
        self.legend = pg.LegendItem(labelTextColor=TEXT)
        self.legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.widget.ci.addItem(self.legend, 0, 0)
        self.widget.ci.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignRight)
        self._legend_samples: list[pg.ScatterPlotItem] = []
        self.tick_labels: list[str] = []  # bottom to top

    def set_rows(self, labels: list[str]) -> None:
        self.tick_labels = list(labels)
        self.plot.getAxis("left").setTicks([list(enumerate(labels)), []])
        self.plot.setYRange(-0.6, max(len(labels), 1) - 0.4, padding=0)

    def set_legend(self, groups: Sequence[str]) -> None:
        self.legend.clear()
        self.legend.setColumnCount(max(len(groups), 1))
        self._legend_samples = []
        for i, g in enumerate(groups):
            sample = pg.ScatterPlotItem(symbol="s", size=10, pen=None,
                                        brush=pg.mkBrush(PALETTE[i % len(PALETTE)]))
            self._legend_samples.append(sample)
            self.legend.addItem(sample, g)
        self.legend.setVisible(bool(groups))

    def set_x_range(self, lo: float, hi: float) -> None:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        span = hi - lo if hi > lo else 1.0
        if math.isfinite(lo) and math.isfinite(hi):
            self.plot.setXRange(lo - 0.05 * span, hi + 0.05 * span, padding=0)


class GroupComparisonView(QWidget):
    """One comparison of attributions across groups: bars, beeswarm, p-values, maps."""

    compare_requested = Signal(dict)  # the user asked for a comparison: {"sensitive", "method"}

    def __init__(self, parent: QWidget | None = None, *, top_k: int = 10) -> None:
        super().__init__(parent)
        self.column_combo = QComboBox()
        self.column_combo.setToolTip("The sensitive column whose groups are compared")
        self.method_combo = QComboBox()
        self.method_combo.setToolTip("The attribution method")
        self.compare_button = QPushButton("Compare groups")
        self.compare_button.setToolTip("Explain every sample of the split chosen on the left and "
                                       "compare the groups (kept with the run)")
        self.show_combo = QComboBox()
        for key, text in SHOWS.items():
            self.show_combo.addItem(text, key)
        self.show_combo.setToolTip("Bars and strips show the mean attribution (direction) or "
                                   "the mean |attribution| (how much the model relies on it)")
        self.top_k_spin = QSpinBox()
        self.top_k_spin.setRange(1, 200)
        self.top_k_spin.setValue(top_k)
        self.top_k_spin.setToolTip("Features drawn (largest difference first); the table lists all")
        self.export_button = export_button(self, self.export_png, self.export_svg, self.export_csv,
                                           self._export_failed, name="group_explanations")
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.message_label = message_label()

        self.bars = _Plot()
        self.bar_items: list[pg.BarGraphItem] = []
        self.error_items: list[pg.ErrorBarItem] = []
        self.swarm = _Plot()
        self.swarm_items: list[pg.ScatterPlotItem] = []
        self.tabs = QTabWidget()
        self.tabs.addTab(self.bars.widget, "Bars")
        self.tabs.addTab(self.swarm.widget, "Beeswarm")
        self.table = QTableWidget(0, 4)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in (1, 2, 3):
            self.table.horizontalHeader().setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.table_note = QLabel()
        self.table_note.setWordWrap(True)
        self.table_note.setStyleSheet(f"color: {MUTED};")
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.table, 1)
        side_layout.addWidget(self.table_note)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.tabs)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.maps = pg.GraphicsLayoutWidget()
        self.maps.setBackground("w")
        self.map_items: list[pg.ImageItem] = []
        self.body = QStackedWidget()
        self.body.addWidget(self.splitter)
        self.body.addWidget(self.maps)
        # what PNG / SVG export draws: the title, the charts and the p-values with their note
        self.figure = QWidget()
        self.figure.setStyleSheet("background: white;")
        fig_layout = QVBoxLayout(self.figure)
        fig_layout.setContentsMargins(4, 4, 4, 4)
        fig_layout.addWidget(self.title)
        fig_layout.addWidget(self.body, 1)

        # two rows: one row of every control is wider than a 1366-pixel screen leaves the dock
        header = QHBoxLayout()
        header.addWidget(QLabel("Compare groups of"))
        header.addWidget(self.column_combo, 1)
        header.addWidget(QLabel("with"))
        header.addWidget(self.method_combo, 1)
        header.addWidget(self.compare_button)
        view_row = QHBoxLayout()
        view_row.addWidget(QLabel("Show"))
        view_row.addWidget(self.show_combo)
        view_row.addWidget(QLabel("top"))
        view_row.addWidget(self.top_k_spin)
        view_row.addStretch(1)
        view_row.addWidget(self.export_button)
        for combo in (self.column_combo, self.method_combo, self.show_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addLayout(view_row)
        layout.addWidget(self.message_label)
        layout.addWidget(self.figure, 1)

        self._c: _Comparison | None = None
        self._context: dict[str, Any] = {}
        self.compare_button.clicked.connect(self._request)
        self.show_combo.currentIndexChanged.connect(lambda _i: self._redraw())
        self.top_k_spin.valueChanged.connect(lambda _k: self._redraw())
        self.column_combo.currentIndexChanged.connect(lambda _i: self._refresh_controls())
        self.set_columns([])
        self.set_comparison(None)

    # ------------------------------------------------------------------ public API
    def set_columns(self, columns: Sequence[str], current: str | None = None) -> None:
        """The sensitive columns to choose from (none: the Compare button says why)."""
        keep = current or self.column_combo.currentText()
        self.column_combo.blockSignals(True)
        self.column_combo.clear()
        self.column_combo.addItems([str(c) for c in columns])
        if keep in columns:
            self.column_combo.setCurrentText(keep)
        self.column_combo.blockSignals(False)
        self._refresh_controls()

    def set_methods(self, methods: Sequence[Mapping[str, Any]], current: str | None = None) -> None:
        """The methods to choose from: dicts with ``id`` and ``title``."""
        keep = current or self.method_combo.currentData()
        self.method_combo.blockSignals(True)
        self.method_combo.clear()
        for m in methods:
            self.method_combo.addItem(str(m.get("title") or m["id"]), str(m["id"]))
        index = self.method_combo.findData(keep)
        self.method_combo.setCurrentIndex(max(index, 0))
        self.method_combo.blockSignals(False)
        self._refresh_controls()

    def set_method(self, method: str) -> None:
        index = self.method_combo.findData(method)
        if index >= 0:
            self.method_combo.setCurrentIndex(index)

    def set_comparison(self, comparison: Mapping[str, Any] | None,
                       context: Mapping[str, Any] | None = None) -> None:
        """Show a comparison (``GroupAttributionComparison.to_dict()`` keys) or nothing.

        ``context`` says how it was made, for the title: ``title`` (method), ``sensitive``,
        ``split``, ``baseline``, ``explained_outputs`` (``{output name: samples}``).
        """
        self._context = dict(context or {})
        if not comparison:
            self._c = None
            self._clear()
            show_message(self.message_label, EMPTY)
            return
        c = _Comparison(comparison)
        if c.problem:
            self._c = None
            self._clear()
            show_message(self.message_label, f"This comparison cannot be shown: {c.problem}", error=True)
            return
        self._c = c
        show_message(self.message_label, " ".join(c.notes))
        self._redraw()

    def set_show(self, show: str) -> None:
        """``"mean"`` or ``"mean_abs"``."""
        index = self.show_combo.findData(show)
        if index >= 0:
            self.show_combo.setCurrentIndex(index)

    def current_show(self) -> str:
        return str(self.show_combo.currentData())

    def set_message(self, text: str, *, error: bool = False) -> None:
        show_message(self.message_label, text, error=error)

    def message(self) -> str:
        return self.message_label.text() if self.message_label.isVisibleTo(self) else ""

    def shown_features(self) -> list[str]:
        """The features of the bar chart, top to bottom."""
        return list(reversed(self.bars.tick_labels))

    def bar_values(self) -> dict[tuple[str, str], tuple[float, float, float]]:
        """``{(feature, group): (value, low, high)}`` as drawn (whiskers NaN when none)."""
        out = {}
        c = self._c
        if c is None or c.is_map:
            return out
        labels = self.bars.tick_labels
        for g, (bars, errors) in enumerate(zip(self.bar_items, self.error_items, strict=True)):
            y = np.atleast_1d(np.asarray(bars.opts["y"], dtype=float))
            w = np.atleast_1d(np.asarray(bars.opts["width"], dtype=float))
            ex = errors.opts
            lows = {round(float(yy), 6): float(xx - left) for xx, yy, left in
                    zip(np.atleast_1d(ex["x"]), np.atleast_1d(ex["y"]), np.atleast_1d(ex["left"]))}
            highs = {round(float(yy), 6): float(xx + right) for xx, yy, right in
                     zip(np.atleast_1d(ex["x"]), np.atleast_1d(ex["y"]), np.atleast_1d(ex["right"]))}
            for yy, ww in zip(y, w, strict=True):
                row = int(round(yy - self._offset(g, len(c.groups))))
                key = round(float(yy), 6)
                out[(labels[row], c.groups[g])] = (float(ww), lows.get(key, math.nan), highs.get(key, math.nan))
        return out

    def table_rows(self) -> list[list[str]]:
        """The p-value table as shown: feature, difference, p, Holm p."""
        return [[self.table.item(r, k).text() for k in range(4)] for r in range(self.table.rowCount())]

    def export_png(self, path: str | Path) -> None:
        """The title, the chart shown and the p-value table, as a PNG."""
        export_widget_png(self.figure, path)

    def export_svg(self, path: str | Path) -> None:
        export_widget_svg(self.figure, path, "attributions by group")

    def export_csv(self, path: str | Path) -> None:
        """One row per feature and group: size, means with intervals, the feature's differences
        and p-values (raw and Holm); maps: one row per group with its map's sums."""
        c = self._c
        if c is None:
            write_csv(path, ["feature", "group"], [])
            return
        if c.is_map:
            mean, mean_abs = c.arr("mean"), c.arr("mean_abs")
            rows = [[g, c.sizes[i], float(np.nansum(mean[i])), float(np.nansum(mean_abs[i]))]
                    for i, g in enumerate(c.groups)] if mean is not None and mean_abs is not None else []
            write_csv(path, ["group", "size", "sum_of_mean_map", "sum_of_mean_abs_map"], rows)
            return
        header = ["feature", "group", "size", "mean", "mean_low", "mean_high", "mean_abs",
                  "mean_abs_low", "mean_abs_high", "difference", "p_value", "p_holm",
                  "difference_abs", "p_value_abs", "p_holm_abs"]
        rows = []
        for j in c.order("mean"):
            for i, g in enumerate(c.groups):
                rows.append([c.features[j], g, c.sizes[i], *self._cells(c, i, j)])
        write_csv(path, header, rows)

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _cells(c: _Comparison, i: int, j: int) -> list[Any]:
        def at(key: str, *idx: int) -> float | None:
            a = c.arr(key)
            try:
                v = float(a[idx]) if a is not None else math.nan
            except IndexError:
                v = math.nan
            return v if math.isfinite(v) else None

        return [at("mean", i, j), at("mean_ci", i, j, 0), at("mean_ci", i, j, 1),
                at("mean_abs", i, j), at("mean_abs_ci", i, j, 0), at("mean_abs_ci", i, j, 1),
                at("difference", j), at("p_value", j), at("p_holm", j),
                at("difference_abs", j), at("p_value_abs", j), at("p_holm_abs", j)]

    def _request(self) -> None:
        column, method = self.column_combo.currentText(), self.method_combo.currentData()
        if column and method:
            self.compare_requested.emit({"sensitive": column, "method": str(method)})

    def _refresh_controls(self) -> None:
        why = ""
        if self.column_combo.count() == 0:
            why = ("This project's data has no sensitive columns: mark one (e.g. sex) as "
                   "sensitive when choosing the data.")
        elif self.method_combo.count() == 0:
            why = "No attribution method applies to this data."
        self.compare_button.setEnabled(not why)
        self.compare_button.setToolTip(why or "Explain every sample of the split chosen on the left "
                                              "and compare the groups (kept with the run)")

    def _export_failed(self, text: str) -> None:
        show_message(self.message_label, text, error=True)

    def _clear(self) -> None:
        self.title.setText("")
        for item in [*self.bar_items, *self.error_items]:
            self.bars.plot.removeItem(item)
        for item in self.swarm_items:
            self.swarm.plot.removeItem(item)
        self.bar_items, self.error_items, self.swarm_items = [], [], []
        for p in (self.bars, self.swarm):
            p.set_rows([])
            p.set_legend([])
        self.table.setRowCount(0)
        self.table_note.setText("")
        self.maps.clear()
        self.map_items = []
        self.body.setCurrentWidget(self.splitter)
        self.figure.setVisible(False)
        self.export_button.setEnabled(False)

    @staticmethod
    def _offset(g: int, n_groups: int) -> float:
        """Where group g's bar sits within a feature's row (first group on top)."""
        band = 0.8 / max(n_groups, 1)
        return 0.4 - band * (g + 0.5)

    def _title_html(self, c: _Comparison) -> str:
        ctx = self._context
        method = ctx.get("title") or "Attributions"
        column = ctx.get("sensitive")
        split = ctx.get("split")
        n = sum(c.sizes)
        head = f"<b>{method}</b> by group of <b>{column or 'a sensitive column'}</b>"
        if split:
            head += f" · {n} samples of the {split} split"
        sizes = ", ".join(f"{g} n={s}" for g, s in zip(c.groups, c.sizes, strict=True))
        line2 = f"groups: {sizes}" + ("" if c.is_map else " · largest difference between groups at the top")
        if ctx.get("baseline"):
            line2 += f" · baseline: {ctx['baseline']}"
        outputs = ctx.get("explained_outputs") or {}
        if len(outputs) == 1:
            line2 += f" · explained output: {next(iter(outputs))}"
        elif outputs:
            line2 += " · explained output: each sample's predicted class (" + ", ".join(
                f"{k} ×{v}" for k, v in outputs.items()) + ")"
        return f"<span style='color:{TEXT}'>{head}<br/><span style='color:{MUTED}'>{line2}</span></span>"

    def _redraw(self) -> None:
        c = self._c
        if c is None:
            return
        self._clear()
        self.figure.setVisible(True)
        self.export_button.setEnabled(True)
        self.title.setText(self._title_html(c))
        if c.is_map:
            self._draw_maps(c)
            return
        show = self.current_show()
        order = c.order(show)
        shown = order[: self.top_k_spin.value()]
        labels = [c.features[j] for j in reversed(shown)]  # bottom to top: largest at the top
        self._draw_bars(c, show, list(reversed(shown)), labels)
        self._draw_swarm(c, show, list(reversed(shown)), labels)
        self._fill_table(c, show, order)

    def _draw_bars(self, c: _Comparison, show: str, rows: list[int], labels: list[str]) -> None:
        mean = c.arr(show)
        ci = c.arr(f"{show}_ci")
        n_groups = len(c.groups)
        band = 0.8 / max(n_groups, 1)
        lo_all, hi_all = [0.0], [0.0]
        for g in range(n_groups):
            ys, widths, ex, ey, left, right = [], [], [], [], [], []
            for r, j in enumerate(rows):
                v = float(mean[g, j])
                if not math.isfinite(v):
                    continue
                y = r + self._offset(g, n_groups)
                ys.append(y)
                widths.append(v)
                lo_all.append(v)
                hi_all.append(v)
                if ci is not None and ci.shape[:2] == mean.shape and np.all(np.isfinite(ci[g, j])):
                    lo, hi = float(ci[g, j, 0]), float(ci[g, j, 1])
                    ex.append(v)
                    ey.append(y)
                    left.append(max(v - lo, 0.0))
                    right.append(max(hi - v, 0.0))
                    lo_all.append(lo)
                    hi_all.append(hi)
            colour = PALETTE[g % len(PALETTE)]
            bars = pg.BarGraphItem(x0=np.zeros(len(ys)), y=np.asarray(ys), width=np.asarray(widths),
                                   height=band * 0.9, brush=pg.mkBrush(colour), pen=pg.mkPen(None))
            errors = pg.ErrorBarItem(x=np.asarray(ex), y=np.asarray(ey), left=np.asarray(left),
                                     right=np.asarray(right), beam=band * 0.5,
                                     pen=pg.mkPen("#263238", width=1.2))
            self.bars.plot.addItem(bars)
            self.bars.plot.addItem(errors)
            self.bar_items.append(bars)
            self.error_items.append(errors)
        self.bars.set_rows(labels)
        self.bars.set_legend([f"{g} (n={s})" for g, s in zip(c.groups, c.sizes, strict=True)])
        what = SHOWS[show]
        interval = f"{c.confidence:.0%} bootstrap interval" if c.n_boot else "no intervals"
        self.bars.plot.setLabel("bottom", f"{what} (whiskers: {interval})", color=TEXT)
        self.bars.set_x_range(min(lo_all), max(hi_all))

    def _draw_swarm(self, c: _Comparison, show: str, rows: list[int], labels: list[str]) -> None:
        attr, codes = c.arr("attributions"), c.arr("group_index")
        n_groups = len(c.groups)
        band = 0.8 / max(n_groups, 1)
        self.swarm.set_rows(labels)
        self.swarm.set_legend([f"{g} (n={s})" for g, s in zip(c.groups, c.sizes, strict=True)])
        word = "|attribution|" if show == "mean_abs" else "attribution"
        self.swarm.plot.setLabel("bottom", f"{word} of each sample (one strip per group)", color=TEXT)
        if attr is None or codes is None or attr.ndim != 2 or codes.shape != (attr.shape[0],):
            self.swarm.plot.setTitle("The per-sample attributions were not kept.", color=MUTED, size="9pt")
            return
        self.swarm.plot.setTitle("")
        values = np.abs(attr) if show == "mean_abs" else attr
        lo, hi = 0.0, 0.0
        for g in range(n_groups):
            xs, ys = [], []
            members = codes == g
            for r, j in enumerate(rows):
                x = values[members, j]
                x = x[np.isfinite(x)]
                if x.size == 0:
                    continue
                xs.append(x)
                ys.append(r + self._offset(g, n_groups) + swarm_offsets(x, spread=band * 0.45))
                lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
            colour = QColor(PALETTE[g % len(PALETTE)])
            colour.setAlpha(170)
            item = pg.ScatterPlotItem(x=np.concatenate(xs) if xs else [], y=np.concatenate(ys) if ys else [],
                                      size=4, pen=None, brush=pg.mkBrush(colour))
            self.swarm.plot.addItem(item)
            self.swarm_items.append(item)
        self.swarm.set_x_range(lo, hi)

    def _fill_table(self, c: _Comparison, show: str, order: list[int]) -> None:
        suffix = "" if show == "mean" else "_abs"
        diff, p, p_holm = c.arr("difference" + suffix), c.arr("p_value" + suffix), c.arr("p_holm" + suffix)
        between = c.arr("between" + suffix)
        if c.two_groups() and between is not None and len(between):
            a, b = (c.groups[int(k)] for k in between[0])
            diff_head = f"{a} − {b}"
        else:
            diff_head = "max − min"
        self.table.setHorizontalHeaderLabels(["feature", diff_head, "p", "Holm p"])
        self.table.setRowCount(len(order))
        bold = QFont()
        bold.setBold(True)
        for r, j in enumerate(order):
            d = float(diff[j]) if diff is not None else math.nan
            d_text = number(d)
            if not c.two_groups() and between is not None and math.isfinite(d):
                d_text += f" ({c.groups[int(between[j, 0])]} − {c.groups[int(between[j, 1])]})"
            ph = float(p_holm[j]) if p_holm is not None else math.nan
            cells = [c.features[j], d_text, _p_text(float(p[j]) if p is not None else math.nan), _p_text(ph)]
            for k, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if k:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if math.isfinite(ph) and ph <= SIGNIFICANT:
                    item.setFont(bold)
                self.table.setItem(r, k, item)
        quantity = "mean |attribution|" if show == "mean_abs" else "mean attribution"
        if c.n_perm:
            self.table_note.setText(
                f"Difference of the {quantity} between groups. p: permutation test, {c.n_perm} "
                f"shuffles of the group labels, p = {c.p_rule}. Holm p: adjusted for "
                f"{len(order)} features ({c.correction}); bold where Holm p ≤ {SIGNIFICANT:g}.")
        else:
            self.table_note.setText(f"Difference of the {quantity} between groups; no permutation "
                                    "test was run (n_perm = 0).")

    def _draw_maps(self, c: _Comparison) -> None:
        self.body.setCurrentWidget(self.maps)
        show = self.current_show()
        mean = c.arr(show)
        if mean is None:
            return
        maps = [m.sum(axis=0) if m.ndim == 3 else (m if m.ndim == 2 else m.reshape(1, -1)) for m in mean]
        limit = symmetric_limit([m for m, s in zip(maps, c.sizes, strict=True) if s > 0])
        for i, (g, m) in enumerate(zip(c.groups, maps, strict=True)):
            view = self.maps.addViewBox(row=1, col=i, lockAspect=True, invertY=True, enableMouse=False,
                                        enableMenu=False)
            view.setBorder(pg.mkPen("#cfd8dc"))
            image = pg.ImageItem(np.nan_to_num(m), axisOrder="row-major")
            image.setLookupTable(DIVERGING.getLookupTable(nPts=256))
            image.setLevels((-limit, limit))  # one symmetric scale for every group
            view.addItem(image)
            self.map_items.append(image)
            self.maps.addLabel(f"{g} (n={c.sizes[i]})", row=0, col=i, color=TEXT)
        t = c.map_test
        what = "mean maps" if show == "mean" else "mean |maps|"
        key = "" if show == "mean" else "_abs"
        self.maps.addLabel(
            f"{t.get('statistic', 'distance between group maps')}: {number(_float(t.get('value' + key)))}, "
            f"p = {_p_text(_float(t.get('p_value' + key)))} ({c.n_perm} shuffles of the group labels; "
            f"{what}, red: positive, blue: negative)", row=2, col=0, colspan=max(len(c.groups), 1),
            color=MUTED, size="8pt")


# ---------------------------------------------------------------------------- preview
def sample_comparison(n_groups: int = 2, seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """A comparison dict and its context for previews and tests: a model that leans on
    ``group`` and its proxy ``region`` differently for each group (values made up)."""
    rng = np.random.default_rng(seed)
    features = ["group", "region", "income", "debt_ratio", "years_employed", "loan_amount",
                "previous_defaults", "employment"]
    groups = ["A", "B", "C"][:n_groups]
    sizes = [140, 160, 60][:n_groups]
    shift = np.zeros((n_groups, len(features)))
    shift[:, 0] = np.linspace(-0.3, 0.3, n_groups)
    shift[:, 1] = np.linspace(-0.08, 0.08, n_groups)
    spread = np.array([0.12, 0.08, 0.3, 0.3, 0.05, 0.2, 0.35, 0.06])
    attributions, codes = [], []
    for g, n in enumerate(sizes):
        attributions.append(shift[g] + rng.normal(0, 1, (n, len(features))) * spread)
        codes += [g] * n
    A = np.concatenate(attributions)
    index = np.asarray(codes)
    mean = np.stack([A[index == g].mean(0) for g in range(n_groups)])
    mean_abs = np.stack([np.abs(A[index == g]).mean(0) for g in range(n_groups)])
    se = np.stack([A[index == g].std(0) / np.sqrt(sizes[g]) for g in range(n_groups)])
    se_abs = np.stack([np.abs(A[index == g]).std(0) / np.sqrt(sizes[g]) for g in range(n_groups)])
    ci = np.stack([mean - 1.96 * se, mean + 1.96 * se], axis=-1)
    ci_abs = np.stack([mean_abs - 1.96 * se_abs, mean_abs + 1.96 * se_abs], axis=-1)
    if n_groups == 2:
        diff, diff_abs = mean[0] - mean[1], mean_abs[0] - mean_abs[1]
        between = np.tile([0, 1], (len(features), 1))
        between_abs = between
    else:
        diff, diff_abs = mean.max(0) - mean.min(0), mean_abs.max(0) - mean_abs.min(0)
        between = np.stack([mean.argmax(0), mean.argmin(0)], axis=1)
        between_abs = np.stack([mean_abs.argmax(0), mean_abs.argmin(0)], axis=1)
    p = np.array([0.001, 0.002, 0.41, 0.63, 0.052, 0.27, 0.88, 0.33])
    p_abs = np.array([0.001, 0.004, 0.52, 0.19, 0.71, 0.44, 0.35, 0.9])

    def holm(pv: np.ndarray) -> np.ndarray:  # the preview's own, so it needs no engine
        order = np.argsort(pv, kind="stable")
        out = np.empty_like(pv)
        out[order] = np.maximum.accumulate(np.minimum(1.0, (len(pv) - np.arange(len(pv))) * pv[order]))
        return out

    d = {
        "features": features, "groups": groups, "sizes": sizes, "mean": mean, "mean_abs": mean_abs,
        "mean_ci": ci, "mean_abs_ci": ci_abs, "difference": diff, "difference_abs": diff_abs,
        "between": between, "between_abs": between_abs, "p_value": p, "p_holm": holm(p),
        "p_value_abs": p_abs, "p_holm_abs": holm(p_abs), "attributions": A, "group_index": index,
        "n_boot": 1000, "n_perm": 1000, "confidence": 0.95, "seed": 0, "map_shape": None,
        "p_rule": "(1 + #{permuted >= observed}) / (1 + n_perm)",
        "correction": "Holm–Bonferroni across features", "notes": [], "reasons": {},
    }
    context = {"title": "Shapley values", "sensitive": "group", "split": "test",
               "baseline": "mean of the training split", "explained_outputs": {"approved": sum(sizes)}}
    return d, context


def preview() -> GroupComparisonView:
    view = GroupComparisonView()
    view.set_columns(["group", "age"])
    view.set_methods([{"id": "shapley", "title": "Shapley values"}, {"id": "ig", "title": "Integrated Gradients"}])
    view.set_comparison(*sample_comparison())
    view.compare_requested.connect(lambda r: view.set_message(f"requested: {r}"))
    view.resize(1200, 620)
    return view


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    window = preview()
    window.show()
    app.exec()
