"""Live training plots: loss per step and per epoch, the task metric, the learning rate.

Items are created once and updated with ``setData`` (never re-created per event); long step
histories stay smooth through pyqtgraph's peak downsampling and clip-to-view. New points are
buffered and drawn at most ``REDRAW_HZ`` times a second, however often they arrive, and the
axes are cached as pixmaps because their text dominates the cost of a redraw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGraphicsItem, QGridLayout, QWidget

pg.setConfigOptions(antialias=False)

REDRAW_HZ = 10

_STEP_PEN = pg.mkPen("#90a4ae", width=1)
_TRAIN_PEN = pg.mkPen("#1e88e5", width=2)
_VAL_PEN = pg.mkPen("#e53935", width=2)
_METRIC_PEN = pg.mkPen("#43a047", width=2)
_LR_PEN = pg.mkPen("#8e24aa", width=2)


def _plot(title: str, x_label: str) -> pg.PlotWidget:
    w = pg.PlotWidget(background="w")
    w.setTitle(title, color="#263238", size="10pt")
    w.setLabel("bottom", x_label)
    w.showGrid(x=True, y=True, alpha=0.25)
    w.setClipToView(True)
    w.setDownsampling(auto=True, mode="peak")
    for name in ("left", "bottom"):
        w.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return w


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


class TrainingPlots(QWidget):
    """Four plots of one run's history; another run can be overlaid for comparison."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.step_plot = _plot("Loss per step", "step")
        self.loss_plot = _plot("Loss per epoch", "epoch")
        self.metric_plot = _plot("Validation metric", "epoch")
        self.lr_plot = _plot("Learning rate", "step")
        for i, w in enumerate((self.step_plot, self.loss_plot, self.metric_plot, self.lr_plot)):
            layout.addWidget(w, i // 2, i % 2)
        self.loss_plot.addLegend(offset=(-5, 5))
        self.metric_plot.addLegend(offset=(-5, 5))
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
        # learning rates span decades (warm-up, decay): a log axis shows them all
        self.lr_plot.setLogMode(y=True)
        self._steps, self._step_loss, self._lr = _Series(), _Series(), _Series()
        self._steps_pending = False
        self._epochs_pending: tuple[np.ndarray, np.ndarray, np.ndarray, str] | None = None
        self._metric_title = "Validation metric"
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(1000 // REDRAW_HZ)
        self._redraw.timeout.connect(self._draw_pending)

    def clear(self) -> None:
        self._redraw.stop()
        self._steps_pending = False
        self._epochs_pending = None
        for series in (self._steps, self._step_loss, self._lr):
            series.replace(np.empty(0))
        for c in (self.step_curve, self.train_curve, self.val_curve, self.metric_curve, self.lr_curve):
            c.setData([], [])
        self.set_comparison(None)

    def append_steps(self, steps: Sequence[float], loss: Sequence[float], lr: Sequence[float]) -> None:
        """Add a batch of step points; they are drawn on the next redraw tick."""
        if not len(steps):
            return
        self._steps.extend(np.asarray(steps, dtype=float))
        self._step_loss.extend(np.asarray(loss, dtype=float))
        self._lr.extend(np.asarray(lr, dtype=float))
        self._steps_pending = True
        if not self._redraw.isActive():
            self._redraw.start()

    def flush(self) -> None:
        """Draw buffered points now (e.g. when training ends)."""
        self._redraw.stop()
        self._draw_pending()

    def _draw_pending(self) -> None:
        self._draw_steps()
        self._draw_epochs()

    def _draw_steps(self) -> None:
        if not self._steps_pending:
            return
        self._steps_pending = False
        x = self._steps.view()
        self.step_curve.setData(x, self._step_loss.view())
        self.lr_curve.setData(x, self._lr.view())

    def set_steps(self, loss: Sequence[float], lr: Sequence[float]) -> None:
        n = len(loss)
        self._steps.replace(np.arange(n, dtype=float))
        self._step_loss.replace(np.asarray(loss, dtype=float))
        self._lr.replace(np.asarray(lr, dtype=float) if len(lr) == n else np.full(n, np.nan))
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
            if not self._redraw.isActive():
                self._redraw.start()
        else:
            self._draw_epochs()

    def _draw_epochs(self) -> None:
        if self._epochs_pending is None:
            return
        train_loss, val_loss, metric, metric_name = self._epochs_pending
        self._epochs_pending = None
        x = np.arange(1, len(train_loss) + 1, dtype=float)
        self.train_curve.setData(x, train_loss)
        self.val_curve.setData(x[: len(val_loss)], val_loss)
        self.metric_curve.setData(x[: len(metric)], metric)
        title = f"Validation {metric_name}"
        if title != self._metric_title:  # a title change re-lays out the plot: only when needed
            self._metric_title = title
            self.metric_plot.setTitle(title, color="#263238", size="10pt")

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

    def point_counts(self) -> dict[str, int]:
        """How many points each curve shows (for tests and diagnostics)."""
        def n(c: pg.PlotDataItem) -> int:
            x, _ = c.getOriginalDataset()
            return 0 if x is None else len(x)

        return {
            "steps": n(self.step_curve),
            "train": n(self.train_curve),
            "val": n(self.val_curve),
            "metric": n(self.metric_curve),
            "lr": n(self.lr_curve),
        }


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    w = TrainingPlots()
    rng = np.random.default_rng(0)
    loss = np.exp(-np.linspace(0, 3, 2000)) + 0.05 * rng.random(2000)
    w.set_steps(loss, np.linspace(1e-3, 1e-4, 2000))
    w.set_epochs([1.0, 0.6, 0.4, 0.3], [1.1, 0.7, 0.5, 0.45], [0.6, 0.75, 0.8, 0.82], "accuracy")
    w.resize(900, 600)
    w.show()
    app.exec()
