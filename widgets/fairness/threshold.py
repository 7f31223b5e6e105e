"""The threshold explorer: how each group's metrics move with the decision threshold.

Plain data in (a threshold sweep: ``{"thresholds": [...], "groups": {group: {metric: [...]}}}``),
the chosen threshold out. Drag the vertical line; the table below reads every group's values
at that threshold (interpolated between the sweep's points) and the largest gap between groups.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from widgets.common.export import (
    export_plot_png,
    export_plot_svg,
    write_csv,
)
from widgets.fairness.common import (
    PALETTE,
    FairnessView,
    make_plot,
)
from widgets.fairness.report import (
    METRIC_HELP,
    METRIC_TITLES,
    UNDEFINED,
    SweepData,
    format_number,
    read_sweep,
)

__all__ = ["ThresholdExplorer"]

_LINE_PEN = pg.mkPen("#d50000", width=2)
_LINE_HOVER_PEN = pg.mkPen("#ff5252", width=3)
_GAP_ROW = "Largest gap"


class ThresholdExplorer(FairnessView):
    """Per-group curves of one metric against the threshold, with a draggable threshold."""

    threshold_changed = Signal(float)  # the threshold line was moved to this value
    file_stem = "fairness-threshold"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.feature_combo = QComboBox()
        self.feature_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.feature_label = QLabel("Sensitive feature")
        self.header.addWidget(self.feature_label)
        self.header.addWidget(self.feature_combo)
        self.metric_combo = QComboBox()
        self.header.addWidget(QLabel("Metric"))
        self.header.addWidget(self.metric_combo)
        self.threshold_label = QLabel()
        self.header.addWidget(self.threshold_label)
        self._finish_header()
        self.plot = make_plot("", "decision threshold")
        self.plot.addLegend(offset=(-5, 5))
        self.plot.setMouseEnabled(x=False, y=False)
        self.line = pg.InfiniteLine(
            pos=0.5,
            angle=90,
            movable=True,
            pen=_LINE_PEN,
            hoverPen=_LINE_HOVER_PEN,
            label="{value:.3f}",
            labelOpts={"position": 0.04, "color": "#d50000", "fill": (255, 255, 255, 220)},
        )
        self.line.setToolTip("Drag to move the decision threshold")
        self.plot.addItem(self.line, ignoreBounds=True)
        self.curves: dict[str, pg.PlotDataItem] = {}  # by group, reused across sweeps
        self.readout = QTableWidget(0, 1)
        self.readout.verticalHeader().hide()
        self.readout.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.readout.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.readout.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.plot)
        splitter.addWidget(self.readout)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        self.body.addWidget(splitter, 1)
        self.sweep = SweepData(np.empty(0), {}, [])
        self._raw: Any = None  # the sweep as given: another feature is read from it
        self._quiet = False  # True while the line is moved by us, not the user
        self.metric_combo.currentIndexChanged.connect(self._draw_curves)
        self.feature_combo.currentIndexChanged.connect(self._on_feature_chosen)
        self.line.sigPositionChanged.connect(self._on_line_moved)
        self.set_sweep({"thresholds": [], "groups": {}})

    # ------------------------------------------------------------------ public API
    def set_sweep(self, sweep: Any, feature: str | None = None) -> None:
        """Show a sweep (``ThresholdSweep.to_dict()``, or one feature's ``{"thresholds",
        "groups"}``); the line moves to its ``"threshold"`` if given, else stays (clipped)."""
        self._raw = sweep
        # new bounds may move the line: that is not the user choosing a threshold
        self._quiet = True
        try:
            self._show(read_sweep(sweep, feature or self.feature_combo.currentText() or None))
        finally:
            self._quiet = False
        start = sweep.get("threshold") if isinstance(sweep, dict) else None
        if isinstance(start, int | float) and not isinstance(start, bool) and math.isfinite(start):
            self.set_threshold(float(start))
        else:
            self.set_threshold(self.threshold())

    def set_feature(self, feature: str) -> None:
        """Show the groups of ``feature`` (when the sweep has several)."""
        index = self.feature_combo.findText(feature)
        if index >= 0:
            self.feature_combo.setCurrentIndex(index)

    def _on_feature_chosen(self, _index: int) -> None:
        self._quiet = True
        try:
            self._show(read_sweep(self._raw, self.feature_combo.currentText()))
        finally:
            self._quiet = False
        self.set_threshold(self.threshold())

    def _show(self, data: SweepData) -> None:
        self.sweep = data
        self.feature_combo.blockSignals(True)
        self.feature_combo.clear()
        self.feature_combo.addItems(data.features)
        self.feature_combo.setCurrentText(data.feature)
        self.feature_combo.blockSignals(False)
        for w in (self.feature_label, self.feature_combo):
            w.setVisible(len(data.features) > 1)
        metrics = self.sweep.metrics()
        current = self.current_metric()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        for metric in metrics:
            self.metric_combo.addItem(METRIC_TITLES.get(metric, metric), metric)
            self.metric_combo.setItemData(
                self.metric_combo.count() - 1,
                METRIC_HELP.get(metric, ""),
                Qt.ItemDataRole.ToolTipRole,
            )
        index = self.metric_combo.findData(current)
        self.metric_combo.setCurrentIndex(max(index, 0))
        self.metric_combo.blockSignals(False)
        xs = self.sweep.thresholds
        if len(xs):
            self.line.setBounds((float(xs[0]), float(xs[-1])))
            self.plot.setXRange(float(xs[0]), float(xs[-1]), padding=0.02)
        else:
            self.line.setBounds((None, None))
        self._setup_readout(metrics)
        self._draw_curves()
        empty = None if self.sweep.groups else "No threshold sweep to show."
        self._show_problems(self.sweep.problems, empty)

    def set_threshold(self, threshold: float) -> None:
        """Move the line (clipped to the sweep) without emitting :attr:`threshold_changed`."""
        self._quiet = True
        try:
            self.line.setValue(float(threshold))
        finally:
            self._quiet = False
        self._update_readout()

    def threshold(self) -> float:
        return float(self.line.value())

    def set_metric(self, metric: str) -> None:
        index = self.metric_combo.findData(metric)
        if index >= 0:
            self.metric_combo.setCurrentIndex(index)

    def current_metric(self) -> str:
        data = self.metric_combo.currentData()
        return "" if data is None else str(data)

    def readout_text(self, group: str, metric: str) -> str:
        """The readout cell of ``group`` (or "Largest gap") for ``metric``, as shown."""
        metrics = [
            self.readout.horizontalHeaderItem(c).data(Qt.ItemDataRole.UserRole)
            for c in range(1, self.readout.columnCount())
        ]
        for r in range(self.readout.rowCount()):
            if self.readout.item(r, 0).text() == group and metric in metrics:
                return self.readout.item(r, 1 + metrics.index(metric)).text()
        raise KeyError((group, metric))

    def export_png(self, path: str | Path) -> None:
        export_plot_png(self.plot.getPlotItem(), path)

    def export_svg(self, path: str | Path) -> None:
        export_plot_svg(self.plot.getPlotItem(), path)

    def export_csv(self, path: str | Path) -> None:
        """The sweep: threshold, group, metric, value (one line each)."""
        rows: list[list[Any]] = []
        for i, t in enumerate(self.sweep.thresholds):
            for group, curves in self.sweep.groups.items():
                for metric, values in curves.items():
                    v = float(values[i])
                    rows.append([float(t), group, metric, None if math.isnan(v) else v])
        write_csv(path, ["threshold", "group", "metric", "value"], rows)

    # ------------------------------------------------------------------ drawing
    def _draw_curves(self, _index: int = 0) -> None:
        metric = self.current_metric()
        legend = self.plot.plotItem.legend
        legend.clear()
        for i, (group, curves) in enumerate(self.sweep.groups.items()):
            curve = self.curves.get(group)
            if curve is None:
                curve = self.plot.plot(connect="finite")
                self.curves[group] = curve
            curve.setPen(pg.mkPen(PALETTE[i % len(PALETTE)], width=2))
            values = curves.get(metric)
            if values is None:
                curve.setData([], [])
                curve.hide()
                continue
            curve.setData(self.sweep.thresholds, values)
            curve.show()
            legend.addItem(curve, group)
        for group, curve in self.curves.items():
            if group not in self.sweep.groups:
                curve.setData([], [])
                curve.hide()
        title = METRIC_TITLES.get(metric, metric)
        self.plot.setTitle(
            f"{title} by group against the threshold" if metric else "",
            color="#263238",
            size="10pt",
        )
        self.plot.setLabel("left", title)
        self._mark_current_column()

    def _setup_readout(self, metrics: list[str]) -> None:
        table = self.readout
        table.setColumnCount(1 + len(metrics))
        header = QTableWidgetItem("Group")
        table.setHorizontalHeaderItem(0, header)
        for c, metric in enumerate(metrics, start=1):
            item = QTableWidgetItem(METRIC_TITLES.get(metric, metric))
            item.setData(Qt.ItemDataRole.UserRole, metric)
            item.setToolTip(METRIC_HELP.get(metric, ""))
            table.setHorizontalHeaderItem(c, item)
        groups = list(self.sweep.groups)
        rows = groups + ([_GAP_ROW] if len(groups) > 1 else [])
        table.setRowCount(len(rows))
        bold = QFont(table.font())
        bold.setBold(True)
        for r, group in enumerate(rows):
            name = QTableWidgetItem(group)
            if group == _GAP_ROW:
                name.setFont(bold)
                name.setToolTip("Largest minus smallest value across the groups at this threshold")
            else:
                name.setForeground(pg.mkColor(PALETTE[r % len(PALETTE)]))
            table.setItem(r, 0, name)
            for c in range(1, table.columnCount()):
                item = QTableWidgetItem(UNDEFINED)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if group == _GAP_ROW:
                    item.setFont(bold)
                table.setItem(r, c, item)
        # tall enough for every row (up to ten) without a scroll bar
        shown = min(len(rows), 10)
        height = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
        height += shown * table.verticalHeader().defaultSectionSize()
        table.setMinimumHeight(height + 2)

    def _mark_current_column(self) -> None:
        metric = self.current_metric()
        for c in range(1, self.readout.columnCount()):
            header = self.readout.horizontalHeaderItem(c)
            font = QFont(self.readout.font())
            font.setBold(header.data(Qt.ItemDataRole.UserRole) == metric)
            header.setFont(font)

    def _on_line_moved(self) -> None:
        self._update_readout()
        if not self._quiet:
            self.threshold_changed.emit(self.threshold())

    def _update_readout(self) -> None:
        t = self.threshold()
        self.threshold_label.setText(f"threshold {t:.3f}")
        if not len(self.sweep.thresholds):
            return
        values = self.sweep.at(t)
        table = self.readout
        metrics = [
            table.horizontalHeaderItem(c).data(Qt.ItemDataRole.UserRole)
            for c in range(1, table.columnCount())
        ]
        groups = list(self.sweep.groups)
        for r, group in enumerate(groups):
            for c, metric in enumerate(metrics, start=1):
                v = values[group].get(metric)
                item = table.item(r, c)
                item.setText(format_number(v))
                item.setToolTip(
                    f"{METRIC_TITLES.get(metric, metric)} of {group} at threshold {t:.3f}"
                    if v is not None
                    else f"Undefined at this threshold for {group} (a zero denominator in the sweep)."
                )
        if len(groups) > 1:
            r = len(groups)
            for c, metric in enumerate(metrics, start=1):
                defined = [values[g][metric] for g in groups if values[g].get(metric) is not None]
                gap = max(defined) - min(defined) if len(defined) > 1 else None
                table.item(r, c).setText(format_number(gap))


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    from widgets.fairness.samples import sample_sweep

    app = QApplication([])
    w = ThresholdExplorer()
    w.set_sweep(sample_sweep())
    w.threshold_changed.connect(lambda t: print(f"threshold {t:.3f}"))
    w.resize(900, 600)
    w.show()
    app.exec()
