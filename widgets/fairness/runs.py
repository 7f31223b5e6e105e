"""Runs compared: accuracy against disparity, each with its intervals, by kind of mitigation.

Plain data in (one dict per run), the clicked run's id out. The baseline and each mitigation
(reweighing, fairness penalty, threshold optimizer) get their own symbol and legend entry, so
what a mitigation costs in accuracy and buys in parity reads off the plot.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from widgets.common.export import (
    export_plot_png,
    export_plot_svg,
    write_csv,
)
from widgets.fairness.common import (
    FairnessView,
    make_plot,
)
from widgets.fairness.report import (
    KIND_TITLES,
    KINDS,
    RunPoint,
    format_with_interval,
    read_runs,
)

__all__ = ["RunComparison"]

_KIND_STYLE = {  # colour, symbol
    "baseline": ("#000000", "s"),
    "reweighing": ("#0072b2", "o"),
    "penalty": ("#e69f00", "t"),
    "threshold": ("#009e73", "d"),
    "other": ("#cc79a7", "star"),
}
_ERROR_PEN = pg.mkPen("#78909c", width=1.2)
_SELECTED_PEN = pg.mkPen("#d50000", width=2.5)


class RunComparison(FairnessView):
    """A scatter of runs: disparity across, accuracy up; click a run to select it."""

    run_selected = Signal(str)  # the user clicked this run's point (its id)
    file_stem = "fairness-runs"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._finish_header()
        self.plot = make_plot("Accuracy against disparity", "", "accuracy")
        self.legend = self.plot.addLegend(offset=(-5, 5))
        self.x_errors = pg.ErrorBarItem(
            x=np.empty(0),
            y=np.empty(0),
            left=np.empty(0),
            right=np.empty(0),
            beam=0.0,
            pen=_ERROR_PEN,
        )
        self.y_errors = pg.ErrorBarItem(
            x=np.empty(0),
            y=np.empty(0),
            top=np.empty(0),
            bottom=np.empty(0),
            beam=0.0,
            pen=_ERROR_PEN,
        )
        self.plot.addItem(self.x_errors)
        self.plot.addItem(self.y_errors)
        self.scatters: dict[str, pg.ScatterPlotItem] = {}
        for kind in (*KINDS, "other"):
            colour, symbol = _KIND_STYLE[kind]
            scatter = pg.ScatterPlotItem(
                size=13,
                symbol=symbol,
                brush=pg.mkBrush(colour),
                pen=pg.mkPen("w", width=1),
                name=KIND_TITLES[kind],
                hoverable=True,
                hoverSize=16,
                tip=self._tip,
            )
            scatter.sigClicked.connect(self._on_clicked)
            self.plot.addItem(scatter)
            self.scatters[kind] = scatter
        self.selection = pg.ScatterPlotItem(size=24, symbol="o", brush=None, pen=_SELECTED_PEN)
        self.plot.addItem(self.selection)
        self._labels: list[pg.TextItem] = []  # run names, reused
        self.body.addWidget(self.plot, 1)
        self.runs: list[RunPoint] = []
        self._selected = ""
        self.set_runs([])

    # ------------------------------------------------------------------ public API
    def set_runs(self, runs: Any, disparity_label: str = "demographic parity difference") -> None:
        """Show runs: dicts with id, name, kind, accuracy, accuracy_ci, disparity, disparity_ci.

        ``disparity_label`` names the disparity measure on the horizontal axis.
        """
        self.runs, problems = read_runs(runs)
        for kind, scatter in self.scatters.items():
            mine = [r for r in self.runs if r.kind == kind]
            scatter.setData(
                x=[r.disparity for r in mine],
                y=[r.accuracy for r in mine],
                data=[r.id for r in mine],
            )
        self._set_errors()
        self._place_labels()
        self.legend.clear()
        kinds = {r.kind for r in self.runs}
        for kind, scatter in self.scatters.items():
            if kind in kinds:
                self.legend.addItem(scatter, KIND_TITLES[kind])
        self.plot.setLabel("bottom", f"disparity: {disparity_label} (closer to parity is fairer)")
        if self._selected not in {r.id for r in self.runs}:
            self._selected = ""
        self._show_selection()
        self.plot.enableAutoRange()
        empty = None if self.runs else "No runs to compare yet: audit a run, then try a mitigation."
        self._show_problems(problems, empty)

    def select_run(self, run_id: str) -> None:
        """Ring a run's point (without emitting :attr:`run_selected`); "" clears it."""
        self._selected = run_id if any(r.id == run_id for r in self.runs) else ""
        self._show_selection()

    def selected_run(self) -> str:
        return self._selected

    def point_position(self, run_id: str) -> tuple[float, float]:
        """Where a run is drawn: (disparity, accuracy)."""
        for scatter in self.scatters.values():
            for spot in scatter.points():
                if spot.data() == run_id:
                    pos = spot.pos()
                    return float(pos.x()), float(pos.y())
        raise KeyError(run_id)

    def error_bars(self, run_id: str) -> dict[str, tuple[float, float]]:
        """The whiskers drawn for a run: {"accuracy": (low, high), "disparity": (low, high)}."""
        x, y = self.point_position(run_id)
        out = {}
        for name, item, lo_key, hi_key, centre in (
            ("disparity", self.x_errors, "left", "right", x),
            ("accuracy", self.y_errors, "bottom", "top", y),
        ):
            opts = item.opts
            for xi, yi, lo, hi in zip(opts["x"], opts["y"], opts[lo_key], opts[hi_key]):
                if xi == x and yi == y:
                    out[name] = (float(centre - lo), float(centre + hi))
        return out

    def export_png(self, path: str | Path) -> None:
        export_plot_png(self.plot.getPlotItem(), path)

    def export_svg(self, path: str | Path) -> None:
        export_plot_svg(self.plot.getPlotItem(), path)

    def export_csv(self, path: str | Path) -> None:
        """One line per run: id, name, kind, accuracy with its interval, disparity with its interval."""
        rows = []
        for r in self.runs:
            alo, ahi = r.accuracy_ci or (None, None)
            dlo, dhi = r.disparity_ci or (None, None)
            rows.append([r.id, r.name, r.kind, r.accuracy, alo, ahi, r.disparity, dlo, dhi])
        write_csv(
            path,
            [
                "id",
                "name",
                "kind",
                "accuracy",
                "accuracy_low",
                "accuracy_high",
                "disparity",
                "disparity_low",
                "disparity_high",
            ],
            rows,
        )

    # ------------------------------------------------------------------ drawing
    def _set_errors(self) -> None:
        def whiskers(
            attr: str, ci_attr: str
        ) -> tuple[list[float], list[float], list[float], list[float]]:
            xs, ys, below, above = [], [], [], []
            for r in self.runs:
                ci = getattr(r, ci_attr)
                if ci is None or not all(v is not None and math.isfinite(v) for v in ci):
                    continue  # no whisker rather than one to infinity
                centre = getattr(r, attr)
                xs.append(r.disparity)
                ys.append(r.accuracy)
                below.append(centre - ci[0])
                above.append(ci[1] - centre)
            return xs, ys, below, above

        x, y, left, right = whiskers("disparity", "disparity_ci")
        self.x_errors.setData(
            x=np.asarray(x), y=np.asarray(y), left=np.asarray(left), right=np.asarray(right)
        )
        x, y, bottom, top = whiskers("accuracy", "accuracy_ci")
        self.y_errors.setData(
            x=np.asarray(x), y=np.asarray(y), bottom=np.asarray(bottom), top=np.asarray(top)
        )

    def _place_labels(self) -> None:
        while len(self._labels) < len(self.runs):
            label = pg.TextItem(color="#263238", anchor=(-0.08, 1.0))
            self.plot.addItem(label)
            self._labels.append(label)
        for i, label in enumerate(self._labels):
            if i < len(self.runs):
                run = self.runs[i]
                label.setText(run.name)
                label.setPos(run.disparity, run.accuracy)
                label.show()
            else:
                label.hide()

    def _show_selection(self) -> None:
        run = next((r for r in self.runs if r.id == self._selected), None)
        if run is None:
            self.selection.setData([], [])
        else:
            self.selection.setData([run.disparity], [run.accuracy])

    def _tip(self, x: float, y: float, data: Any) -> str:
        run = next((r for r in self.runs if r.id == data), None)
        if run is None:
            return ""
        return (
            f"{run.name} ({KIND_TITLES.get(run.kind, run.kind)})\n"
            f"accuracy {format_with_interval(run.accuracy, run.accuracy_ci)}\n"
            f"disparity {format_with_interval(run.disparity, run.disparity_ci)}"
        )

    def _on_clicked(self, _scatter: pg.ScatterPlotItem, points: Any, _event: Any = None) -> None:
        if points is None or len(points) == 0:
            return
        run_id = str(points[0].data())
        self._selected = run_id
        self._show_selection()
        self.run_selected.emit(run_id)


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    from widgets.fairness.samples import sample_runs

    app = QApplication([])
    w = RunComparison()
    w.set_runs(sample_runs())
    w.run_selected.connect(lambda run_id: print("selected", run_id))
    w.resize(900, 560)
    w.show()
    app.exec()
