"""Tabular attributions: per-sample waterfall and bar charts, global ranking and beeswarm.

- Waterfall: starts at the reference value (F(baseline), or the background mean), adds one
  bar per feature, largest |attribution| at the top, and ends at F(x); features beyond the
  top k are folded into one "other N features" bar.
- Bar: the same sample's attributions as bars from zero.
- Global ranking: mean |attribution| over all samples.
- Beeswarm: one row per feature, one point per sample at its attribution, coloured by the
  sample's value of that feature (low → high, scaled per feature).

Every chart is titled with the method, its parameters, the value function and the
completeness gap, and those titles go into the exported images too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from widgets.common.export import (
    export_button,
    export_widget_png,
    export_widget_svg,
    write_csv,
)
from widgets.common.scroll import scrolling
from widgets.explain.common import (
    FEATURE_VALUE,
    MISSING_VALUE,
    MUTED,
    NEGATIVE,
    POSITIVE,
    TEXT,
    WARNING,
    as_array,
    delta_text,
    gap_is_large,
    message_label,
    method_title,
    number,
    params_short,
    params_tooltip,
    reference_name,
    sample_title,
    show_message,
    value_function_text,
)

__all__ = [
    "MODES",
    "TabularAttributionView",
    "normalise_per_feature",
    "swarm_offsets",
    "top_k_order",
]

MODES = ("waterfall", "bar", "ranking", "beeswarm")
MODE_TITLES = {
    "waterfall": "Waterfall",
    "bar": "Bar",
    "ranking": "Global ranking",
    "beeswarm": "Beeswarm",
}
X_LABELS = {
    "waterfall": "model output",
    "bar": "attribution",
    "ranking": "mean |attribution|",
    "beeswarm": "attribution",
}
EMPTY = "No attributions to show yet: pick samples and methods, then press Explain."
RANKING_COLOUR = "#1e88e5"


def top_k_order(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``k`` largest ``|scores|`` (largest first) and of the rest.

    Ties keep the feature order; non-finite scores sort last.
    """
    key = np.where(np.isfinite(scores), -np.abs(scores), np.inf)
    order = np.argsort(key, kind="stable")
    return order[:k], order[k:]


def swarm_offsets(x: np.ndarray, spread: float = 0.4, n_bins: int = 100) -> np.ndarray:
    """Vertical offsets that fan out points sharing an x bin: dense bins grow widest.

    The layout of shap's beeswarm (bin x, then alternate points above and below the row),
    with ties broken by sample order instead of at random so the picture is reproducible.
    shap is not a dependency and draws with matplotlib, hence this small re-implementation.
    """
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return np.zeros(0)
    lo, hi = float(x.min()), float(x.max())
    with np.errstate(over="ignore", invalid="ignore"):  # extreme ranges: one bin
        bins = np.round(n_bins * (x - lo) / (hi - lo)) if hi > lo else np.zeros(x.size)
    bins = np.nan_to_num(bins, nan=0.0, posinf=0.0, neginf=0.0)
    order = np.argsort(bins, kind="stable")
    sorted_bins = bins[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_bins)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, x.size]))
    layer = np.arange(x.size) - first  # position of each point within its bin
    offsets = np.empty(x.size)
    offsets[order] = np.ceil(layer / 2) * np.where(layer % 2 == 1, 1.0, -1.0)
    biggest = np.abs(offsets).max()
    return offsets * (spread / biggest) if biggest > 0 else offsets


def normalise_per_feature(values: np.ndarray) -> np.ndarray:
    """Feature values scaled to [0, 1] per column, between its 5th and 95th percentiles.

    Percentiles rather than min and max (as shap does) so one outlier does not wash out the
    colours of everyone else. Constant columns map to 0.5; NaN stays NaN.
    """
    out = np.full(values.shape, np.nan)
    for j in range(values.shape[1]):
        col = values[:, j]
        finite = col[np.isfinite(col)]
        if finite.size == 0:
            continue
        lo, hi = np.percentile(finite, [5, 95])
        if hi <= lo:
            lo, hi = float(finite.min()), float(finite.max())
        if hi <= lo:
            out[:, j] = np.where(np.isfinite(col), 0.5, np.nan)
        else:
            out[:, j] = np.clip((col - lo) / (hi - lo), 0.0, 1.0)
    return out


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _value_text(v: float) -> str:
    """A feature value as a person writes it: 3, 14.1, 6432 (not 6.43e+03)."""
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


ROW_PX = 13  # the least height of one bar row, enough for its 9-point label
AXIS_PX = 56  # the bottom axis with its label, and the margins


class _Chart:
    """One page: a title (exported with the chart), a plot, and for the beeswarm a colour bar."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setBackground("w")
        ci = self.widget.ci
        ci.setContentsMargins(6, 6, 10, 6)
        self.title = pg.LabelItem("", size="9pt", color=TEXT, justify="left")
        ci.addItem(self.title, 0, 0, colspan=2)
        self.plot = pg.PlotItem()
        ci.addItem(self.plot, 1, 0)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=False, alpha=0.2)
        self.plot.setLabel("bottom", X_LABELS[mode], color=TEXT)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setTextPen(TEXT)
            axis.setPen("#90a4ae")
            axis.enableAutoSIPrefix(False)  # "(x0.001)" beside attributions reads as a unit
        self.bars = pg.BarGraphItem(
            x0=np.zeros(0), width=np.zeros(0), y=np.zeros(0), height=0.7, pen=pg.mkPen(None)
        )
        self.scatter = pg.ScatterPlotItem(size=6, pen=None)
        self.zero = pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#90a4ae", width=1))
        self.reference_line = self._line(0.03)
        self.output_line = self._line(0.97)
        self.color_bar: pg.ColorBarItem | None = None
        if mode == "beeswarm":
            self.plot.addItem(self.zero)
            self.plot.addItem(self.scatter)
            self.color_bar = pg.ColorBarItem(
                values=(0, 1),
                colorMap=FEATURE_VALUE,
                label="feature value",
                interactive=False,
                colorMapMenu=False,
                width=12,
            )
            self.color_bar.axis.setTicks([[(0, "low"), (1, "high")], []])
            self.color_bar.getAxis("left").setTextPen(TEXT)
            self.color_bar.axis.setTextPen(TEXT)
            ci.addItem(self.color_bar, 1, 1)
        else:
            self.plot.addItem(self.zero)
            self.plot.addItem(self.bars)
            if mode == "waterfall":
                self.zero.hide()
                self.plot.addItem(self.reference_line)
                self.plot.addItem(self.output_line)
        self._row_span = 0.0  # rows shown, plus the free bands above and below
        self.value_labels: list[pg.TextItem] = []  # a pool, grown when needed, never rebuilt
        self.tick_labels: list[str] = []  # bottom to top, as on the left axis

    def set_title(self, html: str) -> None:
        """The title, wrapped to the chart's width (method parameters are never cut off)."""
        self.title.setText(html)
        self.wrap_title()
        self._fit_height()  # the same width can wrap a new title to more lines

    def wrap_title(self) -> None:
        width = max(120, self.widget.width() - 24)
        if self.title.item.textWidth() != width:
            self.title.item.setTextWidth(width)
            self.title.updateMin()
            self._fit_height()

    def _fit_height(self) -> None:
        """Rows never overlap: the chart asks for its rows, its title (however many lines it
        wrapped to) and its axis; a short dock scrolls instead (the chart sits in a scroll
        area)."""
        title = self.title.item.boundingRect().height() if self.title.text else 0.0
        self.widget.setMinimumHeight(int(ROW_PX * self._row_span + title) + AXIS_PX)

    @staticmethod
    def _line(position: float) -> pg.InfiniteLine:
        return pg.InfiniteLine(
            0,
            angle=90,
            pen=pg.mkPen("#455a64", width=1, style=Qt.PenStyle.DashLine),
            label="",
            labelOpts={"position": position, "color": TEXT, "fill": (255, 255, 255, 220)},
        )

    def set_rows(self, labels: list[str]) -> None:
        self.tick_labels = list(labels)
        self.plot.getAxis("left").setTicks([list(enumerate(labels)), []])
        # the waterfall keeps a free band above and below the bars for its line labels
        margin = 1.2 if self.mode == "waterfall" else 0.6
        self.plot.setYRange(-margin, max(len(labels), 1) - 1 + margin, padding=0)
        self._row_span = len(labels) + 2 * margin
        self._fit_height()

    def set_value_labels(self, items: list[tuple[float, float, str, bool]]) -> None:
        """Show a text per bar: (x, y, text, right_of_x)."""
        while len(self.value_labels) < len(items):
            label = pg.TextItem("", color=TEXT)
            self.plot.addItem(label)
            self.value_labels.append(label)
        for label, (x, y, text, right) in zip(self.value_labels, items):
            label.setText(text)
            label.setAnchor((0, 0.5) if right else (1, 0.5))
            label.setPos(x, y)
            label.show()
        for label in self.value_labels[len(items):]:
            label.hide()

    def set_x_range(self, lo: float, hi: float, *, from_zero: bool = False) -> None:
        with np.errstate(over="ignore", invalid="ignore"):
            span = hi - lo if hi > lo else max(abs(hi), 1.0)
            # room for the value texts beside the bars
            # (a quarter of the span: "+0.0082" beside a bar at the edge stays in view)
            low = lo if from_zero else lo - 0.25 * span
            high = hi + 0.25 * span
        self.set_x_limits(low, high)

    def set_x_limits(self, low: float, high: float) -> None:
        # values near the float limits have no finite padded range: keep the last one
        if np.isfinite(low) and np.isfinite(high) and np.isfinite(high - low) and high > low:
            self.plot.setXRange(low, high, padding=0)

    def clear(self) -> None:
        self.bars.setOpts(x0=np.zeros(0), width=np.zeros(0), y=np.zeros(0), brushes=[])
        self.scatter.setData(x=[], y=[])
        self.set_value_labels([])
        self.set_rows([])
        self.title.setText("")
        for line in (self.reference_line, self.output_line):
            line.hide()


class TabularAttributionView(QWidget):
    """Attributions of one method over table rows: waterfall, bar, ranking and beeswarm.

    Parameters
    ----------
    top_k
        How many features the charts show before folding the rest into "other N features".
    """

    def __init__(self, parent: QWidget | None = None, *, top_k: int = 10) -> None:
        super().__init__(parent)
        self.tabs = QTabWidget()
        self.charts: dict[str, _Chart] = {}
        for mode in MODES:
            chart = _Chart(mode)
            self.charts[mode] = chart
            # a chart taller than its tab (many rows, a short dock) scrolls inside the tab
            self.tabs.addTab(scrolling(chart.widget), MODE_TITLES[mode])
        self.sample_combo = QComboBox()
        self.sample_combo.setMinimumContentsLength(12)
        self.sample_combo.setToolTip("The sample the waterfall and bar charts explain")
        self.top_k_spin = QSpinBox()
        self.top_k_spin.setRange(1, 100)
        self.top_k_spin.setValue(top_k)
        self.top_k_spin.setToolTip("Features shown; the rest are folded into one bar")
        self.export_button = export_button(
            self, self.export_png, self.export_svg, self.export_csv, self._export_failed,
            name="tabular_attributions",
        )
        self.message_label = message_label()
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Sample"))
        bar.addWidget(self.sample_combo)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Show top"))
        bar.addWidget(self.top_k_spin)
        bar.addWidget(QLabel("features"))
        bar.addStretch(1)
        bar.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.message_label)
        layout.addWidget(self.tabs, 1)
        layout.addStretch(0)  # keeps a lone message at the top while the charts are hidden

        self._result: Mapping[str, Any] = {}
        self._attr = np.zeros((0, 0))
        self._names: list[str] = []
        self._values: np.ndarray | None = None  # (S, F) floats, NaN where not numeric
        self._value_text: np.ndarray | None = None  # (S, F) as given, for labels
        self._samples: list[Mapping[str, Any]] = []
        self._notes: list[str] = []
        self.sample_combo.currentIndexChanged.connect(self._on_sample)
        self.top_k_spin.valueChanged.connect(lambda _k: self._redraw())
        self.tabs.currentChanged.connect(lambda _i: self._refresh_controls())
        self.set_result(None)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        for chart in self.charts.values():  # titles re-wrap to the new width
            chart.wrap_title()

    # ------------------------------------------------------------------ public API
    def set_result(
        self,
        result: Mapping[str, Any] | None,
        *,
        feature_values: Any = None,
        samples: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Show one method's attributions (of one epoch).

        Parameters
        ----------
        result
            A dict with ``AttributionResult.to_dict()`` keys; ``attributions`` is (S, F)
            (features, or feature groups when one-hot columns are grouped back).
        feature_values
            (S, F) values of the explained rows, for labels and the beeswarm colours;
            numbers, or text for categorical groups (not coloured).
        samples
            One dict per row with ``id`` (row id), ``label`` and ``predicted``.
        """
        self._notes = []
        attr = as_array(result.get("attributions")) if result else None
        if attr is None or attr.size == 0:
            self._show_empty(EMPTY if not result or attr is not None
                             else "The attributions are not numbers.", error=bool(result))
            return
        if attr.ndim == 1:
            attr = attr[None, :]
        if attr.ndim != 2:
            self._show_empty(
                f"Tabular attributions must be (samples, features); got shape {attr.shape}.",
                error=True,
            )
            return
        n_samples, n_features = attr.shape
        names = list(result.get("feature_names") or [])
        if len(names) != n_features:
            if names:
                self._notes.append(
                    f"{len(names)} feature names for {n_features} features: numbered instead."
                )
            names = [f"feature {j}" for j in range(n_features)]
        self._values = self._value_text = None
        if feature_values is not None:
            raw = np.asarray(feature_values, dtype=object)
            if raw.ndim == 1:
                raw = raw[None, :]
            if raw.shape == attr.shape:
                self._value_text = raw
                self._values = np.vectorize(_to_float, otypes=[float])(raw)
            else:
                self._notes.append(
                    f"Feature values of shape {raw.shape} do not match the attributions "
                    f"{attr.shape}; they are not shown."
                )
        bad = int((~np.isfinite(attr)).sum())
        if bad:
            self._notes.append(
                f"{bad} attribution value(s) are not finite (NaN or ∞) and are left out."
            )
        self._result = dict(result)
        self._attr = attr
        self._names = [str(n) for n in names]
        self._samples = [dict(s) for s in (samples or [])][:n_samples]
        self._samples += [{} for _ in range(n_samples - len(self._samples))]
        keep = min(max(self.sample_combo.currentIndex(), 0), n_samples - 1)
        self.sample_combo.blockSignals(True)
        self.sample_combo.clear()
        for s in range(n_samples):
            sid, labels = sample_title(self._samples[s], s)
            self.sample_combo.addItem(f"{sid}  {labels}".strip())
        self.sample_combo.setCurrentIndex(keep)
        self.sample_combo.blockSignals(False)
        self.tabs.show()
        self._redraw()

    def set_sample(self, index: int) -> None:
        """Explain sample ``index`` (position in the result) in the waterfall and bar charts."""
        if 0 <= index < self.sample_combo.count():
            self.sample_combo.setCurrentIndex(index)

    def set_mode(self, mode: str) -> None:
        """Show one of ``MODES``: waterfall, bar, ranking, beeswarm."""
        self.tabs.setCurrentIndex(MODES.index(mode))

    def mode(self) -> str:
        return MODES[self.tabs.currentIndex()]

    def set_top_k(self, k: int) -> None:
        self.top_k_spin.setValue(k)

    def shown_features(self, mode: str | None = None) -> list[str]:
        """The row labels of a chart, top to bottom."""
        return list(reversed(self.charts[mode or self.mode()].tick_labels))

    def shown_bars(self, mode: str | None = None) -> list[tuple[str, float, float]]:
        """(label, start, end) of each bar as drawn, top to bottom."""
        chart = self.charts[mode or self.mode()]
        x0 = np.atleast_1d(np.asarray(chart.bars.opts["x0"], dtype=float))
        width = np.atleast_1d(np.asarray(chart.bars.opts["width"], dtype=float))
        y = np.atleast_1d(np.asarray(chart.bars.opts["y"], dtype=float)).astype(int)
        order = np.argsort(-y, kind="stable")
        return [(chart.tick_labels[y[k]], float(x0[k]), float(x0[k] + width[k])) for k in order]

    def message(self) -> str:
        """The message shown above the charts ("" if none)."""
        return self.message_label.text() if self.message_label.isVisibleTo(self) else ""

    def export_png(self, path: str | Path) -> None:
        """Save the chart now shown (with its title) as a PNG."""
        export_widget_png(self.charts[self.mode()].widget, path)

    def export_svg(self, path: str | Path) -> None:
        """Save the chart now shown as SVG."""
        export_widget_svg(self.charts[self.mode()].widget, path, "attributions")

    def export_csv(self, path: str | Path) -> None:
        """Save the values behind the chart now shown.

        Waterfall and bar: every feature of the current sample (largest |attribution|
        first) with the reference, F(x) and Δ; ranking: mean |attribution| per feature;
        beeswarm: every sample × feature.
        """
        mode = self.mode()
        if mode == "ranking":
            scores = self._mean_abs()
            top, rest = top_k_order(scores, scores.size)
            write_csv(
                path,
                ["feature", "mean_abs_attribution"],
                ((self._names[j], float(scores[j])) for j in top),
            )
            return
        header = ["sample", "feature", "feature_value", "attribution"]
        if mode == "beeswarm":
            rows = (
                (self._sample_id(s), self._names[j], self._value_cell(s, j),
                 float(self._attr[s, j]))
                for s in range(self._attr.shape[0])
                for j in range(self._attr.shape[1])
            )
            write_csv(path, header, rows)
            return
        s = self._sample()
        if s is None:
            write_csv(path, header, [])
            return
        extra = [self._scalar("reference", s), self._scalar("outputs", s),
                 self._scalar("delta", s)]
        order, _ = top_k_order(self._attr[s], self._attr.shape[1])
        write_csv(
            path,
            [*header, "reference", "output", "delta"],
            ((self._sample_id(s), self._names[j], self._value_cell(s, j),
              float(self._attr[s, j]), *extra) for j in order),
        )

    # ------------------------------------------------------------------ drawing
    def _show_empty(self, text: str, *, error: bool) -> None:
        self._result, self._attr, self._names, self._samples = {}, np.zeros((0, 0)), [], []
        self._values = self._value_text = None
        self.sample_combo.blockSignals(True)
        self.sample_combo.clear()
        self.sample_combo.blockSignals(False)
        for chart in self.charts.values():
            chart.clear()
        self.tabs.hide()
        show_message(self.message_label, text, error=error)
        self._refresh_controls()

    def _redraw(self) -> None:
        if not self._result:
            return
        notes = list(self._notes)
        tip = params_tooltip(self._result)
        for chart in self.charts.values():
            chart.widget.setToolTip(tip)
        # sums of values near the float limits overflow to ∞; those bars are simply not drawn
        with np.errstate(over="ignore", invalid="ignore"):
            note = self._draw_waterfall()
            self._draw_bar()
            self._draw_ranking()
            self._draw_beeswarm()
        if note:
            notes.append(note)
        show_message(self.message_label, " ".join(notes), error=bool(notes))
        self._refresh_controls()

    def _refresh_controls(self) -> None:
        per_sample = self.mode() in ("waterfall", "bar")
        self.sample_combo.setEnabled(per_sample and self.sample_combo.count() > 0)
        self.export_button.setEnabled(bool(self._result))

    def _on_sample(self, _index: int) -> None:
        self._redraw()

    def _sample(self) -> int | None:
        s = self.sample_combo.currentIndex()
        return s if 0 <= s < self._attr.shape[0] else None

    def _sample_id(self, s: int) -> Any:
        return self._samples[s].get("id", s)

    def _scalar(self, key: str, s: int) -> float | None:
        arr = as_array(self._result.get(key))
        if arr is None or arr.ndim != 1 or s >= arr.shape[0]:
            return None
        return float(arr[s])

    def _value_cell(self, s: int, j: int) -> Any:
        if self._value_text is None:
            return None
        v = self._values[s, j] if self._values is not None else np.nan
        return float(v) if np.isfinite(v) else str(self._value_text[s, j])

    def _row_label(self, s: int | None, j: int) -> str:
        name = self._names[j]
        if s is None or self._value_text is None:
            return name
        v = self._values[s, j] if self._values is not None else np.nan
        text = _value_text(float(v)) if np.isfinite(v) else str(self._value_text[s, j])[:16]
        return f"{name} = {text}"

    def _header(self, s: int | None) -> str:
        r = self._result
        line1 = f"<b>{method_title(r)}</b>"
        short = params_short(r.get("params"), 70)
        if short:
            line1 += f" · {short}"
        if r.get("seed") is not None:
            line1 += f" · seed {r['seed']}"
        how = value_function_text(r) or "no reference value"
        if s is None:
            n = self._attr.shape[0]
            delta = as_array(r.get("delta"))
            line2 = f"{how} · {_plural(n, 'sample')}"
            if delta is not None and delta.size and np.isfinite(delta).any():
                line2 += f" · largest |Δ| = {np.nanmax(np.abs(delta)):.1e}"
            return f"{line1}<br><span style='color:{MUTED}'>{line2}</span>"
        sid, labels = sample_title(self._samples[s], s)
        ref, out, d = (self._scalar(k, s) for k in ("reference", "outputs", "delta"))
        parts = [how]
        if ref is not None:
            parts.append(f"{reference_name(r)} = {number(ref)}")
        if out is not None:
            parts.append(f"F(x) = {number(out)}")
        gap = delta_text(d)
        if gap:
            colour = WARNING if gap_is_large(d, out, ref) else MUTED
            parts.append(f"<span style='color:{colour}'>{gap}</span>")
        line2 = " · ".join(parts)
        return (f"{line1}<br><span style='color:{MUTED}'>{line2}</span>"
                f"<br>sample <b>{sid}</b> {labels}")

    def _folded(self, s: int) -> tuple[list[str], np.ndarray] | None:
        """Labels and values bottom to top: "other N features" first, the largest last."""
        values = self._attr[s]
        if not np.isfinite(values).all():
            return None
        top, rest = top_k_order(values, self.top_k_spin.value())
        labels = [self._row_label(s, j) for j in top[::-1]]
        shown = values[top[::-1]]
        if rest.size:
            labels.insert(0, f"other {_plural(rest.size, 'feature')}")
            shown = np.r_[values[rest].sum(), shown]
        return labels, shown

    def _draw_waterfall(self) -> str:
        chart = self.charts["waterfall"]
        s = self._sample()
        folded = None if s is None else self._folded(s)
        if s is None or folded is None:
            chart.clear()
            return "" if s is None else (
                f"Sample {self._sample_id(s)} has non-finite attributions; "
                "the waterfall and bar charts are empty."
            )
        labels, values = folded
        reference = self._scalar("reference", s)
        output = self._scalar("outputs", s)
        start = reference if reference is not None and np.isfinite(reference) else 0.0
        ends = start + np.cumsum(values)
        starts = np.r_[start, ends[:-1]]
        chart.set_rows(labels)
        chart.bars.setOpts(
            x0=starts,
            width=values,
            y=np.arange(len(values), dtype=float),
            height=0.7,
            brushes=[POSITIVE if v >= 0 else NEGATIVE for v in values],
        )
        chart.set_value_labels(
            [(e, i, f"{v:+.3g}", v >= 0) for i, (e, v) in enumerate(zip(ends, values))]
        )
        name = reference_name(self._result) if reference is not None else "start (no reference)"
        end = output if output is not None and np.isfinite(output) else float(ends[-1])
        for line, value, text in (
            (chart.reference_line, start, f"{name} = {number(start)}"),
            (chart.output_line, end, f"F(x) = {number(end)}"),
        ):
            line.show()  # a hidden line's label ignores new text: show it first
            line.setValue(value)
            line.label.setFormat(text)
        xs = np.r_[starts, ends, end]
        chart.set_x_range(float(xs.min()), float(xs.max()))
        chart.set_title(self._header(s))
        return ""

    def _draw_bar(self) -> str:
        chart = self.charts["bar"]
        s = self._sample()
        folded = None if s is None else self._folded(s)
        if s is None or folded is None:
            chart.clear()
            return ""
        labels, values = folded
        chart.set_rows(labels)
        chart.bars.setOpts(
            x0=np.zeros(len(values)),
            width=values,
            y=np.arange(len(values), dtype=float),
            height=0.7,
            brushes=[POSITIVE if v >= 0 else NEGATIVE for v in values],
        )
        chart.set_value_labels(
            [(v, i, f"{v:+.3g}", v >= 0) for i, v in enumerate(values)]
        )
        chart.set_x_range(min(0.0, float(values.min())), max(0.0, float(values.max())))
        chart.set_title(self._header(s))
        return ""

    def _mean_abs(self) -> np.ndarray:
        a = np.abs(self._attr)
        finite = np.isfinite(a)
        counts = finite.sum(axis=0)
        sums = np.where(finite, a, 0.0).sum(axis=0)
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def _draw_ranking(self) -> None:
        chart = self.charts["ranking"]
        scores = self._mean_abs()
        top, rest = top_k_order(scores, self.top_k_spin.value())
        top = np.array([j for j in top if np.isfinite(scores[j])], dtype=int)
        labels = [self._names[j] for j in top[::-1]]
        values = scores[top[::-1]]
        if rest.size:
            labels.insert(0, f"other {_plural(rest.size, 'feature')}")
            values = np.r_[np.nansum(scores[rest]), values]
        chart.set_rows(labels)
        chart.bars.setOpts(
            x0=np.zeros(len(values)),
            width=values,
            y=np.arange(len(values), dtype=float),
            height=0.7,
            brushes=[RANKING_COLOUR] * len(values),
        )
        chart.set_value_labels([(v, i, f"{v:.3g}", True) for i, v in enumerate(values)])
        chart.set_x_range(0.0, float(values.max()) if values.size else 1.0, from_zero=True)
        chart.set_title(self._header(None))

    def _draw_beeswarm(self) -> None:
        chart = self.charts["beeswarm"]
        scores = self._mean_abs()
        top, _rest = top_k_order(scores, self.top_k_spin.value())
        rows = top[::-1]  # bottom to top
        chart.set_rows([self._names[j] for j in rows])
        colour = normalise_per_feature(self._values) if self._values is not None else None
        xs, ys, brushes = [], [], []
        for i, j in enumerate(rows):
            x = self._attr[:, j]
            keep = np.isfinite(x)
            xs.append(x[keep])
            ys.append(i + swarm_offsets(x[keep]))
            if colour is None:
                brushes += [pg.mkBrush("#7c46c9")] * int(keep.sum())
            else:
                c = colour[keep, j]
                rgba = FEATURE_VALUE.map(np.nan_to_num(c, nan=0.5), mode="byte")
                brushes += [
                    pg.mkBrush(*(MISSING_VALUE if not np.isfinite(v) else tuple(col)))
                    for v, col in zip(c, rgba)
                ]
        x_all = np.concatenate(xs) if xs else np.zeros(0)
        y_all = np.concatenate(ys) if ys else np.zeros(0)
        chart.scatter.setData(x=x_all, y=y_all, brush=brushes)
        if chart.color_bar is not None:
            chart.color_bar.setVisible(colour is not None)
        span = float(np.abs(x_all).max()) if x_all.size else 1.0
        span = span if span > 0 else 1.0
        with np.errstate(over="ignore"):
            chart.set_x_limits(-1.05 * span, 1.05 * span)
        title = self._header(None)
        if colour is None:
            title += f"<br><span style='color:{MUTED}'>no feature values: points not coloured</span>"
        chart.set_title(title)

    def _export_failed(self, text: str) -> None:
        show_message(self.message_label, text, error=True)


# German-credit-like columns, for previews
_PREVIEW_FEATURES = [
    "checking_status", "duration", "credit_history", "purpose", "credit_amount",
    "savings_status", "employment", "age", "housing",
]


def sample_table(n: int = 120, seed: int = 0) -> tuple[dict[str, Any], np.ndarray, list[dict]]:
    """A plausible SHAP-style result on a 9-feature table, for previews."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([
        rng.integers(0, 4, n), rng.gamma(3, 7, n), rng.integers(0, 5, n), rng.integers(0, 10, n),
        rng.lognormal(7.8, 0.7, n), rng.integers(0, 5, n), rng.integers(0, 5, n),
        rng.normal(36, 11, n).clip(19, 75), rng.integers(0, 3, n),
    ]).astype(float)
    z = (X - X.mean(0)) / X.std(0)
    weights = np.array([0.9, -0.55, 0.4, 0.08, -0.3, 0.22, 0.12, 0.18, 0.05])
    attr = z * weights + 0.03 * rng.normal(size=z.shape)
    reference = np.full(n, 0.31)
    outputs = reference + attr.sum(1) + 1e-7 * rng.normal(size=n)
    result = {
        "method": "shapley", "title": "Shapley values (exact)",
        "params": {"groups": 9, "coalitions": 512},
        "attributions": attr, "feature_names": _PREVIEW_FEATURES,
        "outputs": outputs, "reference": reference,
        "baseline": "100 training rows", "value_function": "background",
        "delta": attr.sum(1) - (outputs - reference), "seed": 0,
        "versions": {"torch": "2.13.0", "captum": "0.8.0", "numpy": np.__version__},
    }
    samples = [{"id": int(i), "label": ["good", "bad"][i % 2],
                "predicted": ["good", "bad"][int(outputs[k] > 0.31)]}
               for k, i in enumerate(rng.choice(1000, n, replace=False))]
    return result, X, samples


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    view = TabularAttributionView()
    result, X, samples = sample_table()
    view.set_result(result, feature_values=X, samples=samples)
    view.resize(900, 560)
    view.show()
    app.exec()
