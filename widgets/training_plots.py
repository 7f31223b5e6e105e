"""Live training plots: loss per step and per epoch, the task metric, the learning rate.

Items are created once and updated with ``setData`` (never re-created per event); long step
histories stay smooth through pyqtgraph's peak downsampling and clip-to-view.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGridLayout, QWidget

pg.setConfigOptions(antialias=False)

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
    return w


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
        self._steps = np.empty(0)
        self._step_loss = np.empty(0)
        self._lr = np.empty(0)

    def clear(self) -> None:
        self._steps = np.empty(0)
        self._step_loss = np.empty(0)
        self._lr = np.empty(0)
        for c in (self.step_curve, self.train_curve, self.val_curve, self.metric_curve, self.lr_curve):
            c.setData([], [])
        self.set_comparison(None)

    def append_steps(self, steps: Sequence[float], loss: Sequence[float], lr: Sequence[float]) -> None:
        """Add a batch of step points (called at most ~30 times a second)."""
        if not len(steps):
            return
        self._steps = np.concatenate([self._steps, np.asarray(steps, dtype=float)])
        self._step_loss = np.concatenate([self._step_loss, np.asarray(loss, dtype=float)])
        self._lr = np.concatenate([self._lr, np.asarray(lr, dtype=float)])
        self.step_curve.setData(self._steps, self._step_loss)
        self.lr_curve.setData(self._steps, self._lr)

    def set_steps(self, loss: Sequence[float], lr: Sequence[float]) -> None:
        self._steps = np.arange(len(loss), dtype=float)
        self._step_loss = np.asarray(loss, dtype=float)
        self._lr = np.asarray(lr, dtype=float) if len(lr) == len(loss) else np.full(len(loss), np.nan)
        self.step_curve.setData(self._steps, self._step_loss)
        self.lr_curve.setData(self._steps, self._lr)

    def set_epochs(
        self,
        train_loss: Sequence[float],
        val_loss: Sequence[float],
        metric: Sequence[float],
        metric_name: str,
    ) -> None:
        x = np.arange(1, len(train_loss) + 1, dtype=float)
        self.train_curve.setData(x, np.asarray(train_loss, dtype=float))
        self.val_curve.setData(x[: len(val_loss)], np.asarray(val_loss, dtype=float))
        self.metric_curve.setData(x[: len(metric)], np.asarray(metric, dtype=float))
        self.metric_plot.setTitle(f"Validation {metric_name}", color="#263238", size="10pt")

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
        """How many points each curve holds (for tests and diagnostics)."""
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
