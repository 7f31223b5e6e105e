"""Fairness plots: a metric by group with its intervals, and fairness per epoch while training.

Items are created once and updated with ``setData`` / ``setOpts``; live points are buffered
and drawn at most :data:`~widgets.common.live.REDRAW_HZ` times a second, as the training
plots are.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from widgets.common.export import (
    export_plot_png,
    export_plot_svg,
    write_csv,
)
from widgets.common.live import REDRAW_HZ
from widgets.fairness.common import (
    PALETTE,
    FairnessView,
    make_plot,
)
from widgets.fairness.report import (
    DIFFERENCE_HELP,
    DIFFERENCE_TITLES,
    DIFFERENCES,
    FOUR_FIFTHS,
    METRIC_HELP,
    METRIC_TITLES,
    SMALL_GROUP,
    UNDEFINED,
    EpochPoint,
    ReportData,
    format_number,
    read_history,
    read_point_metrics,
    read_report,
)

__all__ = ["GroupBars", "LiveFairnessCurves"]

_BAR_BRUSH = pg.mkBrush("#0072b2")
_SMALL_BAR_BRUSH = pg.mkBrush("#e69f00")
_ERROR_PEN = pg.mkPen("#263238", width=1.5)
_DASH = Qt.PenStyle.DashLine
_OVERALL_PEN = pg.mkPen("#37474f", width=1.5, style=_DASH)
_REFERENCE_PEN = pg.mkPen("#90a4ae", width=1, style=_DASH)
_FOUR_FIFTHS_PEN = pg.mkPen("#d55e00", width=1, style=Qt.PenStyle.DotLine)
_RATIOS = ("dp_ratio", "di_ratio")


def _lower(title: str) -> str:
    return title if title.isupper() else title.lower()


def _tick_label(group: str) -> str:
    # intersections stack their parts so long names do not run into each other
    return group.replace(" × ", " ×\n").replace(" & ", " &\n")


# ---------------------------------------------------------------- bars by group
class GroupBars(FairnessView):
    """One metric for every group of one feature: bars, interval whiskers, the overall value."""

    file_stem = "fairness-bars"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.feature_combo = QComboBox()
        self.feature_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.metric_combo = QComboBox()
        for metric, title in METRIC_TITLES.items():
            self.metric_combo.addItem(title, metric)
            self.metric_combo.setItemData(
                self.metric_combo.count() - 1, METRIC_HELP[metric], Qt.ItemDataRole.ToolTipRole
            )
        self.header.addWidget(QLabel("Sensitive feature"))
        self.header.addWidget(self.feature_combo)
        self.header.addWidget(QLabel("Metric"))
        self.header.addWidget(self.metric_combo)
        self._finish_header()
        self.plot = make_plot("", "group")
        self.plot.setMouseEnabled(x=False, y=True)
        self.bars = pg.BarGraphItem(x=np.empty(0), height=np.empty(0), width=0.6, brush=_BAR_BRUSH)
        self.error_bars = pg.ErrorBarItem(
            x=np.empty(0),
            y=np.empty(0),
            top=np.empty(0),
            bottom=np.empty(0),
            beam=0.18,
            pen=_ERROR_PEN,
        )
        # its value is written in the caption: a label on the line would cover a bar
        self.overall_line = pg.InfiniteLine(angle=0, movable=False, pen=_OVERALL_PEN)
        self.plot.addItem(self.bars)
        self.plot.addItem(self.error_bars)
        self.plot.addItem(self.overall_line)
        self.overall_line.hide()
        self.plot.getAxis("bottom").setStyle(autoExpandTextSpace=True)
        self._labels: list[pg.TextItem] = []  # value labels, reused across updates
        self.caption = QLabel()
        self.caption.setStyleSheet("color: #607d8b;")
        self.caption.setWordWrap(True)
        self.body.addWidget(self.plot, 1)
        self.body.addWidget(self.caption)
        self.data = ReportData()
        self._shown: list[
            tuple[str, float | None, tuple[float | None, float | None] | None, str]
        ] = []
        self.feature_combo.currentIndexChanged.connect(self._redraw)
        self.metric_combo.currentIndexChanged.connect(self._redraw)
        self._show_problems([], "No fairness report yet.")
        self._redraw()

    # ------------------------------------------------------------------ public API
    def set_report(self, report: Any) -> None:
        """Show a report (``FairnessReport.to_dict()``)."""
        self.data = read_report(report)
        current = self.feature_combo.currentText()
        self.feature_combo.blockSignals(True)
        self.feature_combo.clear()
        self.feature_combo.addItems(self.data.features)
        self.feature_combo.setCurrentText(self.data.feature_to_show(current))
        self.feature_combo.blockSignals(False)
        self._redraw()
        empty = None if any(self.data.groups.values()) else "The report has no groups to show."
        self._show_problems(self.data.problems, empty)

    def set_feature(self, feature: str) -> None:
        index = self.feature_combo.findText(feature)
        if index >= 0:
            self.feature_combo.setCurrentIndex(index)

    def set_metric(self, metric: str) -> None:
        """Show ``metric`` (a key such as "tpr")."""
        index = self.metric_combo.findData(metric)
        if index >= 0:
            self.metric_combo.setCurrentIndex(index)

    def current_metric(self) -> str:
        return str(self.metric_combo.currentData())

    def bar_values(self) -> dict[str, float | None]:
        """Each group's value as drawn (None: undefined, no bar)."""
        x, heights = self.bars.opts["x"], self.bars.opts["height"]
        drawn = {int(round(float(xi))): float(h) for xi, h in zip(x, heights)}
        return {group: drawn.get(i) for i, (group, *_rest) in enumerate(self._shown)}

    def error_bar_values(self) -> dict[str, tuple[float, float]]:
        """Each group's interval as the whiskers draw it: (value − bottom, value + top)."""
        opts = self.error_bars.opts
        out = {}
        for x, y, top, bottom in zip(opts["x"], opts["y"], opts["top"], opts["bottom"]):
            group = self._shown[int(round(float(x)))][0]
            out[group] = (float(y - bottom), float(y + top))
        return out

    def overall_value(self) -> float | None:
        """Where the dashed overall line is drawn (None when hidden)."""
        return float(self.overall_line.value()) if self.overall_line.isVisible() else None

    def export_png(self, path: str | Path) -> None:
        export_plot_png(self.plot.getPlotItem(), path)

    def export_svg(self, path: str | Path) -> None:
        export_plot_svg(self.plot.getPlotItem(), path)

    def export_csv(self, path: str | Path) -> None:
        """The groups shown: feature, group, metric, value, low, high, size."""
        feature, metric = self.feature_combo.currentText(), self.current_metric()
        sizes = self.data.group_sizes(feature)
        rows = []
        for group, value, interval, _reason in self._shown:
            lo, hi = interval or (None, None)
            rows.append([feature, group, metric, value, lo, hi, sizes.get(group)])
        overall = self.data.overall.get(metric)
        if overall is not None:
            rows.append(["", "overall", metric, overall.value, None, None, None])
        write_csv(path, ["feature", "group", "metric", "value", "low", "high", "size"], rows)

    # ------------------------------------------------------------------ drawing
    def _redraw(self, _index: int = 0) -> None:
        feature, metric = self.feature_combo.currentText(), self.current_metric()
        title = METRIC_TITLES.get(metric, metric)
        rows = self.data.groups.get(feature, [])
        self._shown = []
        xs, heights, brushes = [], [], []
        ex, ey, etop, ebottom = [], [], [], []
        small = []
        for i, row in enumerate(rows):
            cell = row.cells.get(metric)
            value = None if cell is None else cell.value
            interval = None if cell is None else cell.interval
            reason = "Not in the report." if cell is None else cell.reason
            self._shown.append((row.group, value, interval, reason))
            if value is None or not math.isfinite(value):
                continue
            xs.append(i)
            heights.append(value)
            brushes.append(_SMALL_BAR_BRUSH if row.small else _BAR_BRUSH)
            if row.small:
                small.append(row.group)
            if interval is not None and _finite(interval[0]) and _finite(interval[1]):
                ex.append(i)
                ey.append(value)
                etop.append(interval[1] - value)
                ebottom.append(value - interval[0])
        self.bars.setOpts(
            x=np.asarray(xs, dtype=float),
            height=np.asarray(heights, dtype=float),
            brushes=brushes or None,
            brush=_BAR_BRUSH,
        )
        self.error_bars.setData(
            x=np.asarray(ex, dtype=float),
            y=np.asarray(ey, dtype=float),
            top=np.asarray(etop, dtype=float),
            bottom=np.asarray(ebottom, dtype=float),
        )
        self._place_labels()
        overall = self.data.overall.get(metric)
        notes = []
        if overall is not None and overall.value is not None and math.isfinite(overall.value):
            self.overall_line.setValue(overall.value)
            self.overall_line.show()
            notes.append(f"Dashed line: overall {_lower(title)} {format_number(overall.value)}.")
        else:
            self.overall_line.hide()
        axis = self.plot.getAxis("bottom")
        axis.setTicks([[(i, _tick_label(g)) for i, (g, *_r) in enumerate(self._shown)]])
        self.plot.setTitle(
            f"{title} by {feature} ({self.data.interval_label()})" if feature else title,
            color="#263238",
            size="10pt",
        )
        self.plot.setLabel("left", title)
        n = max(len(self._shown), 1)
        self.plot.setXRange(-0.6, n - 0.4, padding=0)
        tops = [*heights, *(y + t for y, t in zip(ey, etop))]
        if overall is not None and overall.value is not None and math.isfinite(overall.value):
            tops.append(overall.value)
        top, bottom = max([*tops, 0.0]), min([0.0, *heights])
        # head room for the value labels; absurd values fall back to pyqtgraph's own range
        if math.isfinite(top * 1.12) and top > bottom:
            self.plot.setYRange(bottom, top * 1.12, padding=0)
        elif top <= bottom:
            self.plot.setYRange(bottom, bottom + 1.0, padding=0)
        else:
            self.plot.enableAutoRange(axis="y")
        if small:
            notes.append(
                f"Orange bars: fewer than {SMALL_GROUP} people ({', '.join(small)}); their "
                "intervals are wide."
            )
        undefined = [g for g, v, _i, _r in self._shown if v is None]
        if undefined:
            notes.append(
                f"{title} is undefined ({UNDEFINED}) for {', '.join(undefined)}: hover for why."
            )
        self.caption.setText(" ".join(notes))
        self.caption.setVisible(bool(notes))

    def _place_labels(self) -> None:
        while len(self._labels) < len(self._shown):
            label = pg.TextItem(color="#263238", anchor=(0.5, 1.1))
            self.plot.addItem(label)
            self._labels.append(label)
        for i, label in enumerate(self._labels):
            if i >= len(self._shown):
                label.hide()
                continue
            group, value, interval, reason = self._shown[i]
            if value is None or not math.isfinite(value):
                # no bar: the dash (or ∞) stands on the axis, saying why when hovered
                label.setText(f"{format_number(value)} undefined" if value is None else "∞")
                label.setColor("#78909c")
                label.setToolTip(f"{group}: {reason}")
                label.setPos(i, 0.0)
            else:
                top = interval[1] if interval and _finite(interval[1]) else value
                label.setText(format_number(value))
                label.setColor("#263238")
                label.setToolTip(f"{group}: {format_number(value)}")
                label.setPos(i, max(top, value))
            label.show()


# ---------------------------------------------------------------- live per epoch
class LiveFairnessCurves(FairnessView):
    """A chosen difference per feature, and each group's selection rate, epoch by epoch."""

    file_stem = "fairness-live"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.difference_combo = QComboBox()
        for name in DIFFERENCES:
            self.difference_combo.addItem(DIFFERENCE_TITLES[name], name)
            self.difference_combo.setItemData(
                self.difference_combo.count() - 1,
                DIFFERENCE_HELP[name],
                Qt.ItemDataRole.ToolTipRole,
            )
        self.feature_combo = QComboBox()
        self.feature_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.feature_combo.setToolTip("Whose groups' selection rates are drawn on the right")
        self.header.addWidget(QLabel("Difference"))
        self.header.addWidget(self.difference_combo)
        self.header.addWidget(QLabel("Groups of"))
        self.header.addWidget(self.feature_combo)
        self._finish_header()
        self.difference_plot = make_plot("", "epoch")
        self.rate_plot = make_plot("Selection rate per group", "epoch", "selection rate")
        for plot in (self.difference_plot, self.rate_plot):
            plot.setClipToView(True)
            plot.addLegend(offset=(-5, 5))
        self.parity_line = pg.InfiniteLine(angle=0, pos=0.0, movable=False, pen=_REFERENCE_PEN)
        self.four_fifths_line = pg.InfiniteLine(
            angle=0,
            pos=FOUR_FIFTHS,
            movable=False,
            pen=_FOUR_FIFTHS_PEN,
            label="four fifths",
            labelOpts={"position": 0.05, "color": "#d55e00", "anchors": [(0, 1), (0, 1)]},
        )
        self.difference_plot.addItem(self.parity_line, ignoreBounds=True)
        self.difference_plot.addItem(self.four_fifths_line, ignoreBounds=True)
        self.overall_curve = self.rate_plot.plot(pen=_OVERALL_PEN, name="overall", connect="finite")
        plots = pg.QtWidgets.QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.difference_plot)
        plots.addWidget(self.rate_plot)
        self.body.addWidget(plots, 1)
        self._epochs: list[float] = []
        self._differences: dict[tuple[str, str], list[float]] = {}
        self._rates: dict[tuple[str, str], list[float]] = {}
        self._overall: list[float] = []
        self._difference_curves: dict[str, pg.PlotDataItem] = {}
        self._rate_curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._legend_keys: tuple[tuple[str, ...], str, tuple[str, ...]] = ((), "", ())
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(1000 // REDRAW_HZ)
        self._redraw.timeout.connect(self._draw)
        self.difference_combo.currentIndexChanged.connect(self.flush)
        self.feature_combo.currentIndexChanged.connect(self.flush)
        self.clear()

    # ------------------------------------------------------------------ public API
    def clear(self) -> None:
        """Forget every epoch."""
        self._redraw.stop()
        self._epochs.clear()
        self._differences.clear()
        self._rates.clear()
        self._overall.clear()
        self._show_problems(
            [], "Curves appear here at each epoch end while fairness is tracked during training."
        )
        self._draw()

    def append_epoch(self, epoch: int, point_metrics: Any) -> None:
        """Add one epoch's point metrics; drawn on the next redraw tick."""
        point = read_point_metrics(epoch, point_metrics)
        if math.isnan(point.epoch):
            self._show_problems(point.problems or ["The epoch number is missing."])
            return
        self._add(point)
        self._show_problems(point.problems)
        if not self._redraw.isActive():
            self._redraw.start()

    def set_history(self, history: Any) -> None:
        """Show a whole history: ``(epoch, point_metrics)`` pairs or dicts with an "epoch" key."""
        self._redraw.stop()
        self._epochs.clear()
        self._differences.clear()
        self._rates.clear()
        self._overall.clear()
        points, problems = read_history(history)
        for point in points:
            self._add(point)
        empty = None if points else "No epochs to show."
        self._show_problems(problems, empty)
        self._draw()

    def flush(self, _index: int = 0) -> None:
        """Draw buffered epochs now (e.g. when training ends)."""
        self._redraw.stop()
        self._draw()

    def set_difference(self, name: str) -> None:
        index = self.difference_combo.findData(name)
        if index >= 0:
            self.difference_combo.setCurrentIndex(index)

    def set_feature(self, feature: str) -> None:
        index = self.feature_combo.findText(feature)
        if index >= 0:
            self.feature_combo.setCurrentIndex(index)

    def epochs(self) -> list[float]:
        return list(self._epochs)

    def difference_curve(self, feature: str) -> tuple[np.ndarray, np.ndarray]:
        """The (epochs, values) drawn for ``feature``'s chosen difference."""
        return _dataset(self._difference_curves.get(feature))

    def group_curve(self, feature: str, group: str) -> tuple[np.ndarray, np.ndarray]:
        """The (epochs, selection rates) drawn for one group."""
        return _dataset(self._rate_curves.get((feature, group)))

    def export_png(self, path: str | Path) -> None:
        # both plots side by side, as shown
        super().export_png(path)

    def export_csv(self, path: str | Path) -> None:
        """Every epoch's values: epoch, feature, group, measure, value."""
        rows: list[list[Any]] = []
        for i, epoch in enumerate(self._epochs):
            for (feature, name), values in self._differences.items():
                rows.append([epoch, feature, "", name, _nan_to_none(values[i])])
            for (feature, group), values in self._rates.items():
                rows.append([epoch, feature, group, "selection_rate", _nan_to_none(values[i])])
            rows.append([epoch, "", "overall", "selection_rate", _nan_to_none(self._overall[i])])
        write_csv(path, ["epoch", "feature", "group", "measure", "value"], rows)

    # ------------------------------------------------------------------ storing
    def _add(self, point: EpochPoint) -> None:
        if self._epochs and point.epoch <= self._epochs[-1]:
            # an epoch seen again (training restarted or resumed earlier): drop what follows
            keep = int(np.searchsorted(np.asarray(self._epochs), point.epoch, side="left"))
            del self._epochs[keep:]
            del self._overall[keep:]
            for series in (*self._differences.values(), *self._rates.values()):
                del series[keep:]
        n = len(self._epochs)
        self._epochs.append(point.epoch)
        self._overall.append(_none_to_nan(point.overall_rate))
        for store, values in ((self._differences, point.differences), (self._rates, point.rates)):
            for key, value in values.items():
                store.setdefault(key, [math.nan] * n).append(_none_to_nan(value))
            for series in store.values():
                if len(series) == n:
                    series.append(math.nan)

    # ------------------------------------------------------------------ drawing
    def _features(self) -> list[str]:
        seen: dict[str, None] = {}
        for feature, _ in (*self._differences, *self._rates):
            seen[feature] = None
        return list(seen)

    def _draw(self) -> None:
        features = self._features()
        self._sync_feature_combo(features)
        name = str(self.difference_combo.currentData())
        x = np.asarray(self._epochs, dtype=float)
        for i, feature in enumerate(features):
            curve = self._difference_curves.get(feature)
            if curve is None:
                colour = PALETTE[i % len(PALETTE)]
                curve = self.difference_plot.plot(
                    pen=pg.mkPen(colour, width=2),
                    symbol="o",
                    symbolSize=5,
                    symbolBrush=colour,
                    symbolPen=None,
                    connect="finite",
                )
                self._difference_curves[feature] = curve
            values = self._differences.get((feature, name))
            _set_curve(curve, x, values)
        chosen = self.feature_combo.currentText()
        groups = [g for f, g in self._rates if f == chosen]
        for i, group in enumerate(groups):
            curve = self._rate_curves.get((chosen, group))
            if curve is None:
                colour = PALETTE[i % len(PALETTE)]
                curve = self.rate_plot.plot(
                    pen=pg.mkPen(colour, width=2),
                    symbol="o",
                    symbolSize=5,
                    symbolBrush=colour,
                    symbolPen=None,
                    connect="finite",
                )
                self._rate_curves[(chosen, group)] = curve
            _set_curve(curve, x, self._rates[(chosen, group)])
        for (feature, group), curve in self._rate_curves.items():
            curve.setVisible(feature == chosen and group in groups)
        _set_curve(self.overall_curve, x, self._overall)
        legend_keys = (tuple(features), chosen, tuple(groups))
        if legend_keys != self._legend_keys:  # re-laying out a legend is slow: only on change
            self._legend_keys = legend_keys
            legend = self.difference_plot.plotItem.legend
            legend.clear()
            for feature in features:
                legend.addItem(self._difference_curves[feature], feature)
            legend = self.rate_plot.plotItem.legend
            legend.clear()
            for group in groups:
                legend.addItem(self._rate_curves[(chosen, group)], group)
            legend.addItem(self.overall_curve, "overall")
        ratio = name in _RATIOS
        self.parity_line.setValue(1.0 if ratio else 0.0)
        self.four_fifths_line.setVisible(ratio)
        title = DIFFERENCE_TITLES.get(name, name)
        self.difference_plot.setTitle(f"{title} per epoch", color="#263238", size="10pt")
        self.difference_plot.setLabel("left", title.lower())
        self.rate_plot.setTitle(
            f"Selection rate per group of {chosen}" if chosen else "Selection rate per group",
            color="#263238",
            size="10pt",
        )

    def _sync_feature_combo(self, features: list[str]) -> None:
        have = [self.feature_combo.itemText(i) for i in range(self.feature_combo.count())]
        if have == features:
            return
        current = self.feature_combo.currentText()
        self.feature_combo.blockSignals(True)
        self.feature_combo.clear()
        self.feature_combo.addItems(features)
        if current in features:
            self.feature_combo.setCurrentText(current)
        self.feature_combo.blockSignals(False)


def _set_curve(curve: pg.PlotDataItem, x: np.ndarray, values: list[float] | None) -> None:
    y = np.asarray(values if values is not None else [], dtype=float)
    if not len(y) or np.isnan(y).all():
        curve.setData([], [])  # nothing defined yet: an empty curve, not one of NaNs
    else:
        curve.setData(x, y)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _none_to_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else value


def _dataset(curve: pg.PlotDataItem | None) -> tuple[np.ndarray, np.ndarray]:
    if curve is None or not curve.isVisible():
        return np.empty(0), np.empty(0)
    x, y = curve.getOriginalDataset()
    if x is None:
        return np.empty(0), np.empty(0)
    return np.asarray(x), np.asarray(y)


if __name__ == "__main__":
    import sys

    from PySide6.QtWidgets import QApplication, QTabWidget

    from widgets.fairness.samples import sample_history, sample_report

    app = QApplication(sys.argv)
    tabs = QTabWidget()
    bars = GroupBars()
    bars.set_report(sample_report())
    bars.set_feature("sex × age_band")
    live = LiveFairnessCurves()
    history = sample_history()
    live.set_history(history[:5])
    # the rest arrives as a live run would send it, one epoch every 200 ms
    pending = list(history[5:])
    feed = QTimer()
    feed.timeout.connect(lambda: live.append_epoch(*pending.pop(0)) if pending else feed.stop())
    feed.start(200)
    tabs.addTab(bars, "By group")
    tabs.addTab(live, "Live")
    tabs.resize(1000, 560)
    tabs.show()
    app.exec()
