"""A look inside the network: what one layer outputs for one sample.

Plain numpy in, Qt signals out. A ``(C, H, W)`` output is drawn as a grid of feature maps
(the first :data:`MAX_MAPS` channels, each normalised on its own so a quiet channel is as
readable as a loud one, labelled with its channel index); a vector as a bar chart; a
``(T, F)`` (or any two-dimensional) output as one image. The sample is chosen with an index
box or the "Random" button; the view only says which sample the user wants
(:attr:`ActivationView.sample_changed`), the application computes the output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

__all__ = ["MAX_MAPS", "ActivationView", "feature_map_mosaic"]

MAX_MAPS = 64
MAX_BARS_LABELLED = 30  # beyond this many bars, category names would overlap

PLACEHOLDER = "Select a layer on the canvas to see what it outputs for a sample."

_LIGHT = {
    "plot_background": "#ffffff",
    "plot_foreground": "#263238",
    "muted_text": "#5f6b73",
    "accent": "#1e88e5",
    "negative": "#e53935",
    "colormap": "viridis",
}


def _normalise(a: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant array (a dead channel) becomes all zeros."""
    a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if a.size == 0:
        return a
    lo, hi = float(a.min()), float(a.max())
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return np.zeros_like(a)
    return (a - lo) / (hi - lo)


def _gap(h: int, w: int) -> int:
    return max(1, min(h, w) // 8)


def feature_map_mosaic(maps: np.ndarray, gap: int | None = None) -> tuple[np.ndarray, int, int]:
    """Tile ``(N, H, W)`` maps, each normalised to [0, 1], into one array; gaps are NaN.

    Returns the mosaic ``(rows*(H+gap)-gap, cols*(W+gap)-gap)``, and the rows and columns.
    """
    n, h, w = maps.shape
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    gap = _gap(h, w) if gap is None else gap
    mosaic = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (h + gap), c * (w + gap)
        mosaic[y : y + h, x : x + w] = _normalise(maps[i])
    return mosaic, rows, cols


def _to_pixmap(image: np.ndarray, size: int) -> QPixmap:
    """A greyscale ``(H, W)`` or colour ``(H, W, 3)`` array as a pixmap ``size`` pixels high."""
    if image.ndim == 3:
        rgb = np.stack([_normalise(image[..., i]) for i in range(3)], axis=-1)
        data = np.ascontiguousarray((rgb * 255).astype(np.uint8))
        qimage = QImage(data.data, data.shape[1], data.shape[0], data.strides[0],
                        QImage.Format.Format_RGB888).copy()
    else:
        data = np.ascontiguousarray((_normalise(image) * 255).astype(np.uint8))
        qimage = QImage(data.data, data.shape[1], data.shape[0], data.strides[0],
                        QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(qimage).scaledToHeight(size, Qt.TransformationMode.FastTransformation)


class ActivationView(QWidget):
    """Shows one node's output for one sample, with a sample chooser."""

    sample_changed = Signal(int)  # the user chose another sample: its index

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._theme = dict(_LIGHT)
        self._rng = np.random.default_rng()
        self.mode = "message"  # "grid" | "bars" | "image" | "message"
        self.maps_shown = 0
        self.channels = 0
        self.map_shape: tuple[int, ...] = ()
        self.values: np.ndarray | None = None
        self.mosaic: np.ndarray | None = None
        self._labels: list[pg.TextItem] = []
        self._last: tuple[str, str, np.ndarray | None, Sequence[str] | None] = ("", "", None, None)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        layout.addWidget(self.title)

        row = QHBoxLayout()
        row.addWidget(QLabel("Sample"))
        self.sample = QSpinBox()
        self.sample.setRange(0, 0)
        self.sample.setToolTip("Which sample of the validation split to run through the network")
        self.sample.setKeyboardTracking(False)  # typing "123" asks once, not three times
        row.addWidget(self.sample)
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("Pick another sample at random")
        row.addWidget(self.random_button)
        self.caption = QLabel()
        row.addWidget(self.caption, 1)
        self.busy = QLabel("Computing…")
        self.busy.setVisible(False)
        row.addWidget(self.busy)
        layout.addLayout(row)

        body = QHBoxLayout()
        self.input_box = QWidget()
        column = QVBoxLayout(self.input_box)
        column.setContentsMargins(0, 0, 0, 0)
        self.input_preview = QLabel()
        self.input_preview.setToolTip("The sample as the network sees it")
        self.input_preview.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.input_preview)
        self.input_caption = QLabel("input")
        self.input_caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.input_caption)
        column.addStretch(1)
        self.input_box.setVisible(False)
        body.addWidget(self.input_box)
        self.stack = QStackedWidget()
        self.message = QLabel(PLACEHOLDER)
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_plot = pg.PlotWidget()
        self.image_plot.setMenuEnabled(False)
        self.image_plot.getPlotItem().hideButtons()
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_plot.addItem(self.image_item)
        self.bar_plot = pg.PlotWidget()
        self.bar_plot.setMenuEnabled(False)
        self.bar_plot.getPlotItem().hideButtons()
        self.bar_plot.showGrid(y=True, alpha=0.25)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8)
        self.bar_plot.addItem(self.bars)
        for w in (self.message, self.image_plot, self.bar_plot):
            self.stack.addWidget(w)
        body.addWidget(self.stack, 1)
        layout.addLayout(body, 1)

        self.sample.valueChanged.connect(self.sample_changed.emit)
        self.random_button.clicked.connect(self.pick_random)
        self.set_theme(self._theme)
        self.set_sample_count(0)

    # ------------------------------------------------------------- samples
    def set_sample_count(self, n: int, index: int | None = None) -> None:
        """How many samples there are to choose from (0: none); sets the index quietly."""
        self.sample.blockSignals(True)
        self.sample.setRange(0, max(0, n - 1))
        if index is not None:
            self.sample.setValue(min(max(0, index), max(0, n - 1)))
        self.sample.blockSignals(False)
        self.sample.setEnabled(n > 0)
        self.random_button.setEnabled(n > 1)

    def sample_index(self) -> int:
        return int(self.sample.value())

    def pick_random(self) -> None:
        """Choose a different sample at random (emits :attr:`sample_changed`)."""
        n = self.sample.maximum() + 1
        if n < 2:
            return
        choice = int(self._rng.integers(0, n - 1))
        if choice >= self.sample.value():
            choice += 1  # never the sample already shown
        self.sample.setValue(choice)

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)

    # -------------------------------------------------------------- content
    def set_message(self, text: str, title: str = "") -> None:
        """Show a sentence instead of an output (nothing selected, no trained run...)."""
        self.mode = "message"
        self.maps_shown = 0
        self.channels = 0
        self.map_shape = ()
        self.values = None
        self.mosaic = None
        self.title.setText(title)
        self.message.setText(text)
        self.caption.clear()
        self.input_box.setVisible(False)
        self.stack.setCurrentWidget(self.message)

    def set_activation(
        self,
        title: str,
        values: np.ndarray,
        *,
        caption: str = "",
        input_image: np.ndarray | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        """Show one output.

        Parameters
        ----------
        title
            The node's name and layer type, e.g. ``"conv1 (Conv2d)"``; the shape is added.
        values
            The output for one sample, batch dimension removed.
        caption
            What the sample is, e.g. ``"label: 7"``.
        input_image
            The sample as an ``(H, W)`` or ``(H, W, 3)`` image, shown beside the output.
        labels
            Names of a vector's entries (e.g. class names), used as bar labels.
        """
        values = np.asarray(values, dtype=np.float64)
        self.values = values
        self._last = (title, caption, input_image, labels)
        shape = "×".join(str(d) for d in values.shape) or "scalar"
        self.title.setText(f"<b>{_escape(title)}</b> — output {shape}")
        self.caption.setText(caption)
        if input_image is not None and input_image.ndim in (2, 3) and min(input_image.shape[:2]) > 0:
            self.input_preview.setPixmap(_to_pixmap(input_image, 96))
            self.input_box.setVisible(True)
        else:
            self.input_box.setVisible(False)
        if values.ndim == 3:
            self._show_grid(values)
        elif values.ndim <= 1:
            self._show_bars(values.reshape(-1), labels)
        elif values.ndim == 2:
            self._show_image(values)
        else:
            self.set_message(f"An output of shape {shape} cannot be drawn as an image or bars.",
                             self.title.text())

    def _clear_labels(self) -> None:
        for item in self._labels:
            self.image_plot.removeItem(item)
        self._labels = []

    def _rgba(self, values: np.ndarray) -> np.ndarray:
        cmap = pg.colormap.get(self._theme.get("colormap", "viridis"))
        rgba = cmap.map(np.nan_to_num(values, nan=0.0), mode="byte")
        gap = QColor(self._theme["plot_background"])
        rgba[np.isnan(values)] = (gap.red(), gap.green(), gap.blue(), 255)
        return rgba

    def _show_grid(self, values: np.ndarray) -> None:
        c, h, w = values.shape
        maps = values[:MAX_MAPS]
        gap = _gap(h, w)
        mosaic, rows, cols = feature_map_mosaic(maps, gap)
        self.mode = "grid"
        self.channels = c
        self.maps_shown = len(maps)
        self.map_shape = (h, w)
        self.mosaic = mosaic
        self._clear_labels()
        self.image_item.setImage(self._rgba(mosaic), autoLevels=False)
        self.image_item.setRect(0, 0, mosaic.shape[1], mosaic.shape[0])
        plot = self.image_plot.getPlotItem()
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.invertY(True)
        plot.setAspectLocked(True)
        for i in range(len(maps)):
            r, col = divmod(i, cols)
            label = pg.TextItem(str(i), color=self._theme["plot_foreground"], anchor=(0, 1))
            label.setPos(col * (w + gap), r * (h + gap))
            self.image_plot.addItem(label)
            self._labels.append(label)
        more = f"; the first {MAX_MAPS} of {c} channels" if c > MAX_MAPS else ""
        self.image_plot.setToolTip(f"{c} feature maps of {h}×{w}, each scaled to its own range{more}")
        self.stack.setCurrentWidget(self.image_plot)
        plot.autoRange(padding=0.06)

    def _show_image(self, values: np.ndarray) -> None:
        t, f = values.shape
        self.mode = "image"
        self.channels = 0
        self.maps_shown = 0
        self.map_shape = (t, f)
        self.mosaic = None
        self._clear_labels()
        # steps run left to right, features top to bottom, as in a spectrogram
        image = _normalise(values).T
        self.image_item.setImage(self._rgba(image), autoLevels=False)
        self.image_item.setRect(0, 0, t, f)
        plot = self.image_plot.getPlotItem()
        plot.showAxis("left")
        plot.showAxis("bottom")
        plot.setLabel("bottom", "step (first axis)")
        plot.setLabel("left", "feature (second axis)")
        plot.invertY(True)
        plot.setAspectLocked(False)
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        self.image_plot.setToolTip(f"{t}×{f} output, colours from {lo:.3g} to {hi:.3g}")
        self.stack.setCurrentWidget(self.image_plot)
        plot.autoRange(padding=0.02)

    def _show_bars(self, values: np.ndarray, labels: Sequence[str] | None) -> None:
        self.mode = "bars"
        self.channels = 0
        self.maps_shown = 0
        self.map_shape = values.shape
        self.mosaic = None
        x = np.arange(len(values))
        positive = pg.mkBrush(self._theme["accent"])
        negative = pg.mkBrush(self._theme["negative"])
        self.bars.setOpts(x=x, height=values, width=0.8,
                          brushes=[positive if v >= 0 else negative for v in values],
                          pen=pg.mkPen(None))
        axis = self.bar_plot.getAxis("bottom")
        if labels is not None and len(labels) == len(values) and len(values) <= MAX_BARS_LABELLED:
            axis.setTicks([[(i, str(s)) for i, s in enumerate(labels)]])
        else:
            axis.setTicks(None)
        self.bar_plot.setToolTip(f"{len(values)} values, from {values.min(initial=0):.3g} "
                                 f"to {values.max(initial=0):.3g}")
        self.stack.setCurrentWidget(self.bar_plot)
        self.bar_plot.getPlotItem().autoRange()

    # ----------------------------------------------------------------- look
    def set_theme(self, theme: dict[str, str]) -> None:
        """Follow the application's colours (keys as in ``workbench.gui.theme.LIGHT``)."""
        self._theme = {**_LIGHT, **{k: v for k, v in theme.items() if k in _LIGHT}}
        fg = self._theme["plot_foreground"]
        for plot in (self.image_plot, self.bar_plot):
            plot.setBackground(self._theme["plot_background"])
            for name in ("left", "bottom"):
                plot.getAxis(name).setPen(pg.mkPen(fg))
                plot.getAxis(name).setTextPen(pg.mkPen(fg))
        for label in (self.caption, self.input_caption):
            label.setStyleSheet(f"color: {self._theme['muted_text']}")
        if self.values is not None and self.mode != "message":  # redraw in the new colours
            title, caption, input_image, labels = self._last
            self.set_activation(title, self.values, caption=caption, input_image=input_image,
                                labels=labels)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication, QTabWidget

    app = QApplication([])
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:12, 0:12]
    maps = np.stack([np.sin(xx / (1 + i % 4) + i) * np.cos(yy / (1 + i // 4)) for i in range(16)])
    tabs = QTabWidget()
    grid = ActivationView()
    grid.set_sample_count(360, 3)
    grid.set_activation("conv1 (Conv2d)", maps, caption="label: 7", input_image=rng.random((12, 12)))
    bars = ActivationView()
    bars.set_sample_count(360, 3)
    bars.set_activation("output (Output)", rng.normal(size=10), caption="label: 7",
                        labels=[str(i) for i in range(10)])
    seq = ActivationView()
    seq.set_sample_count(100)
    seq.set_activation("lstm1 (LSTM)", rng.normal(size=(40, 16)), caption="label: 1")
    for view, name in ((grid, "feature maps"), (bars, "vector"), (seq, "sequence")):
        tabs.addTab(view, name)
    tabs.resize(700, 500)
    tabs.show()
    app.exec()
