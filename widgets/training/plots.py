"""Live training plots: loss per step and per epoch, the task metric, the learning rate,
the gradient norm of each layer and the confusion matrix of an epoch.

Items are created once and updated with ``setData`` / ``setImage`` (never re-created per
event). New points are buffered and drawn at most ``REDRAW_HZ`` times a second, however often
they arrive. The axes' text and grid dominate the cost of a redraw, so they are cached as
pixmaps and the views follow the data with round limits that rarely move
(:class:`_FollowView`) rather than with pyqtgraph's auto-range, which moves them with every
point. The per-step histories (loss, learning rate) can grow to millions of points: they keep
a min/max pyramid (:class:`PeakPyramid`) so that a redraw or a zoom slices only as many points
as the plot is wide.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from widgets.common.live import REDRAW_HZ

pg.setConfigOptions(antialias=False)

MAX_DEFAULT_LAYERS = 8  # gradient-norm curves shown by default when a network has many layers
MAX_LABELLED_CLASSES = 12  # counts are written in the heatmap's cells up to this many classes
MAX_SYMBOL_POINTS = 60  # per-epoch curves mark their points with dots up to this many epochs

_STEP_PEN = pg.mkPen("#90a4ae", width=1)
_TRAIN_PEN = pg.mkPen("#1e88e5", width=2)
_VAL_PEN = pg.mkPen("#e53935", width=2)
_METRIC_PEN = pg.mkPen("#43a047", width=2)
_LR_PEN = pg.mkPen("#8e24aa", width=2)
# a qualitative palette (matplotlib's tab10) so neighbouring layers stay distinguishable
_LAYER_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_TITLE = {"color": "#263238", "size": "10pt"}


class _UpdateSink(QObject):
    """Something connected to a scene's ``changed`` signal (see :func:`_plot`)."""

    ignored = Signal()  # re-emitted from the scene's changed(); nothing listens


class _LogAxis(pg.AxisItem):
    """A log axis that labels only 1, 2 and 5 of each decade (pyqtgraph labels every minor
    tick of a range of a decade or two, and the labels run into each other)."""

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        strings = super().logTickStrings(values, scale, spacing)
        keep = [round(10 ** (v - math.floor(v)), 3) in (1.0, 2.0, 5.0) for v in values]
        return [text if k else "" for text, k in zip(strings, keep)]


def _plot(title: str, x_label: str, *, downsample: bool = True, log_y: bool = False) -> pg.PlotWidget:
    w = pg.PlotWidget(background="w", axisItems={"left": _LogAxis("left")} if log_y else None)
    if log_y:
        w.setLogMode(y=True)
    # While nothing is connected to QGraphicsScene.changed, each scene that has new content
    # repaints the whole window on the spot (QGraphicsView dispatches the window's pending
    # update itself): six plots gave up to six window repaints per redraw. With a connection
    # the views schedule an ordinary update, and Qt paints all plots in one pass.
    w.update_sink = _UpdateSink(w)
    w.scene().changed.connect(w.update_sink.ignored)
    w.setTitle(title, **_TITLE)
    w.setLabel("bottom", x_label)
    w.showGrid(x=True, y=True, alpha=0.25)
    if downsample:
        # no clip-to-view: the follower reads the curves' bounds, which clipping would shrink
        w.setDownsampling(auto=True, mode="peak")
    for name in ("left", "bottom"):
        w.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return w


def _thin_symbols(curve: pg.PlotDataItem, points: int) -> None:
    """Dots mark epochs while there are few; beyond that they only cost time (every redraw
    rebuilds them) and hide the line."""
    symbol = "o" if points <= MAX_SYMBOL_POINTS else None
    if curve.opts["symbol"] != symbol:
        curve.setSymbol(symbol)


class _Series:
    """A growing float array with amortised O(1) appends (capacity doubles when full)."""

    def __init__(self) -> None:
        self._data = np.empty(1024)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.size + len(values)
        if need > len(self._data):
            grown = np.empty(max(need, 2 * len(self._data)))
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size:need] = values
        self.size = need

    def replace(self, values: np.ndarray) -> None:
        self.size = 0
        self.extend(values)

    def view(self) -> np.ndarray:
        return self._data[: self.size]


class PeakPyramid:
    """A growing series ``(x, y)`` with the min and max of ``y`` over blocks of 2, 4, 8… points.

    pyqtgraph's peak downsampling reduces the visible part of the data again on every redraw,
    which costs time in proportion to the history (about 20 ms for a million points). These
    levels are extended once per append (amortised O(1) per point), and a redraw only slices
    the level whose block count fits the plot's width, so its cost does not grow with the
    history. ``x`` must be non-decreasing (steps). NaNs are ignored unless a whole block is NaN.
    """

    def __init__(self) -> None:
        self.x = _Series()
        self.y = _Series()
        self._lo: list[_Series] = []  # _lo[k - 1]: minima of blocks of 2**k points
        self._hi: list[_Series] = []

    def __len__(self) -> int:
        return self.y.size

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x.extend(x)
        self.y.extend(y)
        lo = hi = self.y.view()
        level = 0
        while len(lo) >= 2:
            if level == len(self._lo):
                self._lo.append(_Series())
                self._hi.append(_Series())
            lo_k, hi_k = self._lo[level], self._hi[level]
            a, b = 2 * lo_k.size, 2 * (len(lo) // 2)
            if b > a:  # only the blocks completed by this append
                lo_k.extend(np.fmin(lo[a:b:2], lo[a + 1:b:2]))
                hi_k.extend(np.fmax(hi[a:b:2], hi[a + 1:b:2]))
            lo, hi = lo_k.view(), hi_k.view()
            level += 1

    def replace(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x.replace(np.empty(0))
        self.y.replace(np.empty(0))
        self._lo, self._hi = [], []
        self.extend(x, y)

    def bounds(self, *, log_y: bool = False) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """``((x_min, x_max), (y_min, y_max))`` of all points from a few top blocks (``log_y``:
        log10 of y, non-positive values left out), or None without finite values."""
        n = len(self)
        if n == 0:
            return None
        _, _, lo, hi = self.blocks(0, n, 4)
        y0, y1 = float(np.fmin.reduce(lo)), float(np.fmax.reduce(hi))
        if log_y:
            if not y1 > 0:
                return None
            y0, y1 = math.log10(y0 if y0 > 0 else y1 * 1e-3), math.log10(y1)
        x = self.x.view()
        return (float(x[0]), float(x[-1])), (y0, y1)

    def index_range(self, x0: float, x1: float) -> tuple[int, int]:
        """Positions ``[i0, i1)`` of the points with ``x0 <= x <= x1``."""
        x = self.x.view()
        return int(np.searchsorted(x, x0, "left")), int(np.searchsorted(x, x1, "right"))

    def blocks(self, i0: int, i1: int, max_blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Blocks covering points ``[i0, i1)`` (and one more on each side), at most about
        ``max_blocks`` of them: ``(start, size, min, max)`` per block, in order."""
        n = len(self)
        i0, i1 = max(0, min(i0, n)), max(0, min(i1, n))
        if i1 <= i0:
            empty = np.empty(0)
            return empty.astype(np.int64), empty.astype(np.int64), empty, empty
        level = 0
        while (i1 - i0) >> level > max_blocks:
            level += 1
        if level == 0:
            a, b = max(i0 - 1, 0), min(i1 + 1, n)
            y = self.y.view()[a:b]
            return np.arange(a, b), np.ones(b - a, dtype=np.int64), y, y
        full = n >> level  # complete blocks at this level
        j0, j1 = max((i0 >> level) - 1, 0), min(((i1 - 1) >> level) + 2, full)
        starts = [np.arange(j0, j1) << level]
        sizes = [np.full(j1 - j0, 1 << level)]
        lo = [self._lo[level - 1].view()[j0:j1]]
        hi = [self._hi[level - 1].view()[j0:j1]]
        if j1 == full and (i1 + (1 << level)) > full << level:
            # the newest points do not fill a block of this level: cover them with one block
            # of each smaller level (the binary digits of how many there are)
            s = full << level
            for k in range(level - 1, -1, -1):
                if s + (1 << k) <= n:
                    starts.append(np.array([s]))
                    sizes.append(np.array([1 << k]))
                    src_lo = self.y.view() if k == 0 else self._lo[k - 1].view()
                    src_hi = self.y.view() if k == 0 else self._hi[k - 1].view()
                    lo.append(src_lo[s >> k:(s >> k) + 1])
                    hi.append(src_hi[s >> k:(s >> k) + 1])
                    s += 1 << k
        return np.concatenate(starts), np.concatenate(sizes), np.concatenate(lo), np.concatenate(hi)

    def display(self, i0: int, i1: int, max_blocks: int) -> tuple[np.ndarray, np.ndarray]:
        """Points to draw for ``[i0, i1)``: each block as its max then its min at its first x."""
        starts, sizes, lo, hi = self.blocks(i0, i1, max_blocks)
        x = self.x.view()[starts]
        if len(starts) and sizes[0] == 1 and np.all(sizes == 1):
            return x.copy(), lo.copy()
        return np.repeat(x, 2), np.column_stack((hi, lo)).reshape(-1)


class _DecimatedCurve:
    """Feeds a curve only the pyramid blocks its view shows, again when the view changes."""

    def __init__(self, plot: pg.PlotWidget, curve: pg.PlotDataItem, data: PeakPyramid) -> None:
        self.view = plot.getViewBox()
        self.curve = curve
        self.data = data
        self._shown: tuple[int, int, int, int] | None = None
        self.view.sigXRangeChanged.connect(self.refresh)
        self.view.sigResized.connect(self.refresh)

    def refresh(self, *_: Any) -> None:
        n = len(self.data)
        (x0, x1), _y = self.view.viewRange()
        i0, i1 = self.data.index_range(x0, x1) if n else (0, 0)
        width = max(int(self.view.width()), 200)
        key = (n, i0, i1, width)
        if key == self._shown:
            return
        self._shown = key
        x, y = self.data.display(i0, i1, width)
        self.curve.setData(x, y)

    def reset(self) -> None:
        self._shown = None
        self.refresh()


def _nice_range(lo: float, hi: float, *, fill: float = 0.66, keep_lo: bool = False) -> tuple[float, float]:
    """``[lo, hi]`` widened to multiples of the largest 1-2-5 step that keeps the data filling at
    least ``fill`` of it (``keep_lo``: only ``hi`` is rounded)."""
    span = hi - lo
    if not span > 0:  # one value: a range around it
        pad = abs(hi) * 0.1 or 1.0
        return lo - pad, hi + pad
    k = math.ceil(math.log10(span)) + 1
    while 10.0**k > span * 1e-6:
        for m in (5.0, 2.0, 1.0):
            step = m * 10.0**k
            a = lo if keep_lo else math.floor(lo / step) * step
            b = math.ceil(hi / step) * step
            if b - a <= span / fill:
                return a, b
        k -= 1
    return lo, hi


class _FollowView:
    """Keeps a plot's view on all of its data, with round limits that change only now and then.

    pyqtgraph's auto-range moves both axes with every new point, and every move re-renders the
    axes' text and grid: about 30 ms for a plot on a busy machine against 1 ms for a repaint
    with unchanged axes, for six plots ten times a second. Round limits that move only when
    the data leaves them (or fills less than half of them) move a few dozen times over a whole
    run. Zooming or panning with the mouse stops following; the plot's "A" button resumes it.
    """

    def __init__(self, plot: pg.PlotWidget, bounds: Any = None, *, log_y: bool = False) -> None:
        self.view = plot.getViewBox()
        self.bounds = bounds or self._children_bounds
        self.log_y = log_y
        self.following = True
        self._range: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.view.disableAutoRange()
        self.view.sigRangeChangedManually.connect(self._stop)
        self.view.sigStateChanged.connect(self._on_state)

    def reset(self) -> None:
        self.following = True
        self._range = None

    def update(self) -> None:
        """Move the view if the data has left it (call after new data)."""
        if not self.following:
            return
        bounds = self.bounds()
        if bounds is None:
            return
        (x0, x1), (y0, y1) = bounds
        if not all(math.isfinite(v) for v in (x0, x1, y0, y1)):
            return
        old = self._range
        xr = old[0] if old is not None and self._fits(old[0], x0, x1) else _nice_range(x0, x1, keep_lo=True)
        if old is not None and self._fits(old[1], y0, y1):
            yr = old[1]
        elif self.log_y:  # whole decades: pyqtgraph labels every minor tick of a shorter range
            yr = (math.floor(y0), math.ceil(y1)) if math.ceil(y1) > math.floor(y0) else (y0 - 0.5, y1 + 0.5)
        else:
            yr = _nice_range(y0, y1)
        if (xr, yr) != old:
            self._range = (xr, yr)
            # a little padding, so points on a round limit are not cut in half by the frame
            self.view.setRange(xRange=xr, yRange=yr, padding=0.02)

    @staticmethod
    def _fits(current: tuple[float, float], lo: float, hi: float) -> bool:
        span = current[1] - current[0]
        return current[0] <= lo and hi <= current[1] and (hi - lo) >= 0.5 * span

    def _children_bounds(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The shown curves' data range. Not ``ViewBox.childrenBounds``: that adds the pens'
        and dots' pixel widths in data units, which change with the range and would move it
        at every redraw."""
        xs: list[float] = []
        ys: list[float] = []
        for item in self.view.addedItems:
            if not item.isVisible() or not hasattr(item, "dataBounds"):
                continue
            for axis, out in ((0, xs), (1, ys)):
                lo, hi = item.dataBounds(axis)
                if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
                    out += (lo, hi)
        if not xs or not ys:
            return None
        return (min(xs), max(xs)), (min(ys), max(ys))

    def _stop(self, *_: Any) -> None:
        self.following = False

    def _on_state(self, *_: Any) -> None:
        if any(self.view.autoRangeEnabled()):  # the "A" button: follow the data again
            self.view.disableAutoRange()
            self.following = True
            self._range = None
            self.update()


class GradNormPlot(QWidget):
    """Gradient norm of each layer per epoch (log scale), with a checkable list of layers."""

    layer_toggled = Signal(str, bool)  # the user showed (True) or hid (False) a layer's curve

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        # layers' gradients differ by orders of magnitude: a log axis
        self.plot = _plot("Gradient norm per layer", "epoch", log_y=True)
        self.follow = _FollowView(self.plot, log_y=True)
        self.layers = QListWidget()
        self.layers.setToolTip("Tick a layer to show its gradient-norm curve")
        self.layers.setMaximumWidth(110)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.layers)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._values: dict[str, list[float]] = {}
        self._items: dict[str, QListWidgetItem] = {}
        self._user_chose = False  # once the user ticks or unticks, their choice stays
        self._pending = False
        self.layers.itemChanged.connect(self._on_item_changed)

    def clear(self) -> None:
        self._values = {}
        self._pending = False
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.curves, self._items = {}, {}
        self.follow.reset()
        self._user_chose = False
        self.layers.clear()

    def append(self, norms: Mapping[str, float]) -> None:
        """Add one epoch's ``{layer: norm}``; drawn on the next :meth:`redraw`."""
        epochs = max((len(v) for v in self._values.values()), default=0)
        for name, value in norms.items():
            # a layer first seen late starts with gaps, so its points stay at their epochs
            series = self._values.setdefault(name, [float("nan")] * epochs)
            series.append(float(value))
        for series in self._values.values():
            if len(series) == epochs:
                series.append(float("nan"))
        self._add_layers()
        self._pending = True

    def set_history(self, norms: Mapping[str, Sequence[float]]) -> None:
        """Show a whole history ``{layer: [norm per epoch]}`` at once."""
        self.clear()
        self._values = {name: [float(v) for v in values] for name, values in norms.items()}
        self._add_layers()
        self._pending = True
        self.redraw()

    def redraw(self) -> None:
        if not self._pending:
            return
        self._pending = False
        for name, values in self._values.items():
            y = np.asarray(values, dtype=float)
            _thin_symbols(self.curves[name], len(y))
            self.curves[name].setData(np.arange(1, len(y) + 1, dtype=float), y)
        self.follow.update()

    def visible_layers(self) -> list[str]:
        return [name for name, item in self._items.items() if item.checkState() == Qt.CheckState.Checked]

    def set_layer_visible(self, name: str, visible: bool) -> None:
        """Show or hide one layer's curve, as ticking it in the list does."""
        self._items[name].setCheckState(Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked)

    def _add_layers(self) -> None:
        new = [name for name in self._values if name not in self.curves]
        if not new:
            return
        self.layers.blockSignals(True)
        for name in new:
            colour = _LAYER_COLOURS[len(self.curves) % len(_LAYER_COLOURS)]
            self.curves[name] = self.plot.plot(pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=4,
                                               symbolBrush=colour, symbolPen=None, name=name)
            item = QListWidgetItem(name)
            icon = QPixmap(10, 10)
            icon.fill(QColor(colour))
            item.setIcon(QIcon(icon))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.layers.addItem(item)
            self._items[name] = item
        if self._user_chose:
            shown = set(self.visible_layers()) | set(new)
            while len(shown) > MAX_DEFAULT_LAYERS and new:
                shown.discard(new.pop())
        else:
            shown = set(self._largest(MAX_DEFAULT_LAYERS))
        for name, item in self._items.items():
            item.setCheckState(Qt.CheckState.Checked if name in shown else Qt.CheckState.Unchecked)
            self.curves[name].setVisible(name in shown)
        self.layers.blockSignals(False)

    def _largest(self, count: int) -> list[str]:
        """The layers with the largest latest norm (NaN counts as smallest)."""
        def latest(name: str) -> float:
            finite = [v for v in self._values[name] if np.isfinite(v)]
            return finite[-1] if finite else -np.inf

        return sorted(self._values, key=latest, reverse=True)[:count]

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        name = item.text()
        visible = item.checkState() == Qt.CheckState.Checked
        if name in self.curves and self.curves[name].isVisible() != visible:
            self._user_chose = True
            self.curves[name].setVisible(visible)
            self.follow.update()  # the shown curves' range
            self.layer_toggled.emit(name, visible)


class ConfusionHeatmap(QWidget):
    """The validation confusion matrix of one epoch (rows: true class; columns: predicted)."""

    epoch_chosen = Signal(int)  # the user picked an epoch to look at (1-based)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        # a fixed title: changing it re-lays out the plot; the selector says which epoch
        self.plot = _plot("Validation confusion matrix", "predicted class", downsample=False)
        self.plot.setLabel("left", "true class")
        self.plot.showGrid(x=False, y=False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.invertY(True)  # the first class at the top, as a table reads
        self.image = pg.ImageItem(axisOrder="row-major")
        # viridis: perceptually uniform and readable in grey, as scikit-learn's display uses
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.plot.addItem(self.image)
        row = QHBoxLayout()
        row.addWidget(QLabel("Epoch"))
        self.epoch = QSpinBox()
        self.epoch.setRange(0, 0)
        self.epoch.setEnabled(False)
        self.epoch.setToolTip("Which epoch's confusion matrix to show; the latest is followed")
        row.addWidget(self.epoch)
        self.epoch_label = QLabel("of 0")
        row.addWidget(self.epoch_label)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.plot, 1)
        self.matrices: list[np.ndarray] = []
        self.class_names: list[str] = []
        self.cell_labels: list[pg.TextItem] = []
        self._shown: int | None = None  # epoch index on screen
        self._classes = 0  # size of the matrix on screen
        self._follow_latest = True  # show each new epoch, until the user picks an earlier one
        self._pending = False
        self._digits = 1  # digits of the largest count, for the label-fits test
        self.epoch.valueChanged.connect(self._on_epoch_changed)
        self.plot.getViewBox().sigResized.connect(lambda *_: self._fit_labels())
        self._show_empty()

    def _show_empty(self) -> None:
        self._set_ticks(0)
        self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)

    def clear(self) -> None:
        self.matrices = []
        self._pending = False
        self._shown = None
        self._classes = 0
        self._follow_latest = True
        self.image.clear()
        self._set_labels(0)
        self._set_epoch_range(0, 0)
        self._show_empty()

    def set_class_names(self, names: Sequence[str]) -> None:
        self.class_names = [str(n) for n in names]
        if self._classes:  # a matrix is shown: name its rows and columns now
            self._set_ticks(self._classes)
        self._pending = True

    def append(self, matrix: Sequence[Sequence[float]] | np.ndarray) -> None:
        """Add one epoch's matrix; the view follows it unless an earlier epoch is being looked
        at. Drawn (with the epoch selector) on the next :meth:`redraw`."""
        self.matrices.append(np.asarray(matrix, dtype=float))
        self._pending = True

    def set_history(self, matrices: Sequence[Any]) -> None:
        """Show a whole run's matrices (``None`` entries are epochs without one)."""
        self.clear()
        self.matrices = [np.asarray(m, dtype=float) for m in matrices if m is not None]
        self._pending = True
        self.redraw()

    def shown_matrix(self) -> np.ndarray | None:
        """The matrix the image currently shows."""
        return None if self._shown is None else self.matrices[self._shown]

    def redraw(self) -> None:
        if not self._pending:
            return
        self._pending = False
        count = len(self.matrices)
        if self.epoch.maximum() != count or self._follow_latest:
            self._set_epoch_range(count, count if self._follow_latest else self.epoch.value())
        index = self.epoch.value() - 1
        if not 0 <= index < count:
            return
        m = self.matrices[index]
        k = len(m)
        if k != self._classes:
            self._classes = k
            self._set_ticks(k)
            self.plot.setRange(xRange=(0, k), yRange=(0, k), padding=0)
        self._shown = index
        top = max(float(np.nanmax(m)) if m.size else 0.0, 1.0)
        self.image.setImage(m, levels=(0.0, top))
        self._set_labels(k if k <= MAX_LABELLED_CLASSES else 0)
        for (i, j), label in zip(np.ndindex(k, k), self.cell_labels):
            value = m[i, j]
            label.setText(f"{value:.0f}" if np.isfinite(value) else "")
            # dark cells get white text, bright (high) cells black
            label.setColor("#000000" if value / top > 0.6 else "#ffffff")
        self._digits = len(f"{top:.0f}")
        self._fit_labels()

    def labels_fit(self) -> bool:
        """Whether a count fits in a cell at the plot's current size (else the counts hide,
        the colours and the axes stay: a crowded matrix is still readable)."""
        if not self._classes:
            return False
        box = self.plot.getViewBox().sceneBoundingRect()
        cell_w, cell_h = box.width() / self._classes, box.height() / self._classes
        return cell_w >= 7 * self._digits + 6 and cell_h >= 14

    def _fit_labels(self) -> None:
        show = self.labels_fit()
        for label in self.cell_labels:
            label.setVisible(show)

    def _set_epoch_range(self, count: int, value: int) -> None:
        self.epoch.blockSignals(True)
        self.epoch.setRange(1 if count else 0, count)
        self.epoch.setValue(value)
        self.epoch.setEnabled(count > 1)
        self.epoch.blockSignals(False)
        self.epoch_label.setText(f"of {count}")

    def _set_ticks(self, k: int) -> None:
        names = self.class_names if len(self.class_names) == k else [str(i) for i in range(k)]
        ticks = [[(i + 0.5, name) for i, name in enumerate(names)]]
        self.plot.getAxis("bottom").setTicks(ticks)
        self.plot.getAxis("left").setTicks(ticks)

    def _set_labels(self, count: int) -> None:
        """Exactly ``count``² cell labels, created only when the number of classes changes."""
        if len(self.cell_labels) == count * count:
            return
        for label in self.cell_labels:
            self.plot.removeItem(label)
        self.cell_labels = []
        for i, j in np.ndindex(count, count):
            label = pg.TextItem(anchor=(0.5, 0.5))
            label.setPos(j + 0.5, i + 0.5)
            self.plot.addItem(label)
            self.cell_labels.append(label)

    def _on_epoch_changed(self, value: int) -> None:
        self._follow_latest = value == len(self.matrices)
        self._pending = True
        self.redraw()
        self.epoch_chosen.emit(value)


class TrainingPlots(QWidget):
    """Six plots of one run's history; another run can be overlaid for comparison."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # the step histories are decimated by their pyramids, not by pyqtgraph
        self.step_plot = _plot("Loss per step", "step", downsample=False)
        # few points per epoch curve: no auto-downsampling (its cached display set could lag
        # behind the data and draw a curve short)
        self.loss_plot = _plot("Loss per epoch", "epoch", downsample=False)
        self.metric_plot = _plot("Validation metric", "epoch", downsample=False)
        # learning rates span decades (warm-up, decay): a log axis shows them all
        self.lr_plot = _plot("Learning rate", "step", downsample=False, log_y=True)
        self.grad_norms = GradNormPlot()
        self.confusion = ConfusionHeatmap()
        for i, w in enumerate((self.step_plot, self.loss_plot, self.metric_plot,
                               self.lr_plot, self.grad_norms, self.confusion)):
            layout.addWidget(w, i // 3, i % 3)
        self.loss_plot.addLegend(offset=(-5, 5))
        self.metric_plot.addLegend(offset=(-5, -5))  # bottom right: metrics rise to the top
        self.step_curve = self.step_plot.plot(pen=_STEP_PEN)
        self.train_curve = self.loss_plot.plot(pen=_TRAIN_PEN, symbol="o", symbolSize=5, name="train")
        self.val_curve = self.loss_plot.plot(pen=_VAL_PEN, symbol="o", symbolSize=5, name="validation")
        self.metric_curve = self.metric_plot.plot(pen=_METRIC_PEN, symbol="o", symbolSize=5, name="this run")
        self.lr_curve = self.lr_plot.plot(pen=_LR_PEN)
        dash = pg.QtCore.Qt.PenStyle.DashLine
        # (curve, legend, label): added to the legend only while a comparison is shown
        self.compare_curves = [
            (self.loss_plot.plot(pen=pg.mkPen("#1e88e5", width=1.5, style=dash)),
             self.loss_plot.plotItem.legend, "compared: train"),
            (self.loss_plot.plot(pen=pg.mkPen("#e53935", width=1.5, style=dash)),
             self.loss_plot.plotItem.legend, "compared: validation"),
            (self.metric_plot.plot(pen=pg.mkPen("#43a047", width=1.5, style=dash)),
             self.metric_plot.plotItem.legend, "compared"),
        ]
        self._step_loss, self._lr = PeakPyramid(), PeakPyramid()
        self._step_view = _DecimatedCurve(self.step_plot, self.step_curve, self._step_loss)
        self._lr_view = _DecimatedCurve(self.lr_plot, self.lr_curve, self._lr)
        self._follows = {
            "steps": _FollowView(self.step_plot, self._step_loss.bounds),
            "lr": _FollowView(self.lr_plot, lambda: self._lr.bounds(log_y=True), log_y=True),
            "loss": _FollowView(self.loss_plot),
            "metric": _FollowView(self.metric_plot),
        }
        self._steps_pending = False
        self._epochs_pending: tuple[np.ndarray, np.ndarray, np.ndarray, str] | None = None
        self._metric_title = "Validation metric"
        # The plots are redrawn in three groups, one per tick, so that one turn of the event
        # loop draws and paints a third of them: each plot is still redrawn REDRAW_HZ times a
        # second, but the window is never busy with all six at once.
        self._groups = ("_draw_steps", "_draw_epochs", "_draw_details")
        self._next_group = 0
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(1000 // (REDRAW_HZ * len(self._groups)))
        # looked up at each tick (not bound once), so a test can count the redraws
        self._redraw.timeout.connect(lambda: self._draw_pending())

    def clear(self) -> None:
        self._redraw.stop()
        self._steps_pending = False
        self._epochs_pending = None
        for series in (self._step_loss, self._lr):
            series.replace(np.empty(0), np.empty(0))
        for follow in self._follows.values():
            follow.reset()
        self._step_view.reset()
        self._lr_view.reset()
        for c in (self.train_curve, self.val_curve, self.metric_curve):
            c.setData([], [])
        self.grad_norms.clear()
        self.confusion.clear()
        self.set_comparison(None)

    def append_steps(self, steps: Sequence[float], loss: Sequence[float], lr: Sequence[float]) -> None:
        """Add a batch of step points; they are drawn on the next redraw tick."""
        if not len(steps):
            return
        x = np.asarray(steps, dtype=float)
        self._step_loss.extend(x, np.asarray(loss, dtype=float))
        self._lr.extend(x, np.asarray(lr, dtype=float))
        self._steps_pending = True
        self._schedule()

    def append_epoch_details(
        self,
        grad_norm: Mapping[str, float] | None = None,
        confusion: Sequence[Sequence[float]] | np.ndarray | None = None,
    ) -> None:
        """Add one epoch's per-layer gradient norms and confusion matrix (either may be None)."""
        if grad_norm:
            self.grad_norms.append(grad_norm)
        if confusion is not None:
            self.confusion.append(confusion)
        self._schedule()

    def set_epoch_details(
        self,
        grad_norm: Mapping[str, Sequence[float]],
        confusions: Sequence[Any],
    ) -> None:
        """Show a saved run's gradient norms ``{layer: [per epoch]}`` and confusion matrices."""
        self.grad_norms.set_history(grad_norm)
        self.confusion.set_history(confusions)

    def set_class_names(self, names: Sequence[str]) -> None:
        """Label the confusion matrix's rows and columns."""
        self.confusion.set_class_names(names)
        self._schedule()

    def flush(self) -> None:
        """Draw buffered points now (e.g. when training ends)."""
        self._redraw.stop()
        for group in self._groups:
            getattr(self, group)()

    def _schedule(self) -> None:
        if not self._redraw.isActive():
            self._redraw.start()

    def _pending(self) -> bool:
        return (self._steps_pending or self._epochs_pending is not None
                or self.grad_norms._pending or self.confusion._pending)

    def _draw_pending(self) -> None:
        """One redraw tick: the next group of plots, and another tick while more is waiting."""
        getattr(self, self._groups[self._next_group])()
        self._next_group = (self._next_group + 1) % len(self._groups)
        if self._pending():
            self._redraw.start()

    def _draw_details(self) -> None:
        self.grad_norms.redraw()
        self.confusion.redraw()

    def _draw_steps(self) -> None:
        if not self._steps_pending:
            return
        self._steps_pending = False
        self._follows["steps"].update()  # first: a new range refreshes the curve by itself
        self._step_view.refresh()
        self._follows["lr"].update()
        self._lr_view.refresh()

    def set_steps(self, loss: Sequence[float] | np.ndarray, lr: Sequence[float] | np.ndarray) -> None:
        """Show a whole step history (a saved run): loss and learning rate per step."""
        n = len(loss)
        x = np.arange(n, dtype=float)
        self._step_loss.replace(x, np.asarray(loss, dtype=float))
        self._lr.replace(x, np.asarray(lr, dtype=float) if len(lr) == n else np.full(n, np.nan))
        self._steps_pending = True
        self.flush()

    def set_epochs(
        self,
        train_loss: Sequence[float],
        val_loss: Sequence[float],
        metric: Sequence[float],
        metric_name: str,
        *,
        live: bool = False,
    ) -> None:
        """Show per-epoch curves; with ``live=True`` they are drawn on the next redraw tick."""
        self._epochs_pending = (
            np.asarray(train_loss, dtype=float),
            np.asarray(val_loss, dtype=float),
            np.asarray(metric, dtype=float),
            metric_name,
        )
        if live:
            self._schedule()
        else:
            self._draw_epochs()

    def _draw_epochs(self) -> None:
        if self._epochs_pending is None:
            return
        train_loss, val_loss, metric, metric_name = self._epochs_pending
        self._epochs_pending = None
        x = np.arange(1, len(train_loss) + 1, dtype=float)
        for curve in (self.train_curve, self.val_curve, self.metric_curve):
            _thin_symbols(curve, len(x))
        self.train_curve.setData(x, train_loss)
        self.val_curve.setData(x[: len(val_loss)], val_loss)
        self.metric_curve.setData(x[: len(metric)], metric)
        self._follows["loss"].update()
        self._follows["metric"].update()
        title = f"Validation {metric_name}"
        if title != self._metric_title:  # a title change re-lays out the plot: only when needed
            self._metric_title = title
            self.metric_plot.setTitle(title, **_TITLE)

    def set_comparison(
        self,
        epochs: tuple[Sequence[float], Sequence[float], Sequence[float]] | None,
    ) -> None:
        """Overlay another run's train loss, validation loss and metric (dashed), or clear it."""
        for (curve, legend, label), values in zip(self.compare_curves, epochs or ([], [], [])):
            x = np.arange(1, len(values) + 1, dtype=float)
            curve.setData(x, np.asarray(values, dtype=float))
            legend.removeItem(curve)
            if epochs is not None:
                legend.addItem(curve, label)
        self._follows["loss"].update()
        self._follows["metric"].update()

    def point_counts(self) -> dict[str, int]:
        """How many points each history holds (for tests and diagnostics)."""
        def n(c: pg.PlotDataItem) -> int:
            x, _ = c.getOriginalDataset()
            return 0 if x is None else len(x)

        return {
            "steps": len(self._step_loss),
            "train": n(self.train_curve),
            "val": n(self.val_curve),
            "metric": n(self.metric_curve),
            "lr": len(self._lr),
            "grad_norm_epochs": max((len(v) for v in self.grad_norms._values.values()), default=0),
            "confusion_epochs": len(self.confusion.matrices),
        }


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    w = TrainingPlots()
    rng = np.random.default_rng(0)
    loss = np.exp(-np.linspace(0, 3, 2000)) + 0.05 * rng.random(2000)
    w.set_steps(loss, np.linspace(1e-3, 1e-4, 2000))
    w.set_epochs([1.0, 0.6, 0.4, 0.3], [1.1, 0.7, 0.5, 0.45], [0.6, 0.75, 0.8, 0.82], "accuracy")
    layers = [f"fc{i}" for i in range(1, 11)]
    w.set_epoch_details(
        {name: list(np.exp(-np.arange(4) / 3) * 10 ** rng.uniform(-3, 0)) for name in layers},
        [[[50 - 5 * e, 10 + 5 * e - 4], [12 - 2 * e, 40 + 2 * e]] for e in range(4)],
    )
    w.set_class_names(["good", "bad"])
    w.flush()
    w.resize(1300, 600)
    w.show()
    app.exec()
