"""The fairness panels: controls, group table, bars by group, live curves, threshold explorer,
runs compared — and :class:`FairnessPanel`, which puts them side by side.

Widgets take plain dicts, lists and numpy arrays (the report as ``FairnessReport.to_dict()``
gives it, see docs/CONTRACTS.md "engines.fairness") and emit Qt signals; they never compute.
How a report is read lives in :mod:`widgets.fairness.report` alone.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from widgets.common.scroll import scrolling
from widgets.fairness.controls import CONSTRAINTS, PENALTY_KINDS, FairnessControls
from widgets.fairness.plots import GroupBars, LiveFairnessCurves
from widgets.fairness.report import read_report
from widgets.fairness.runs import RunComparison
from widgets.fairness.table import GroupTable
from widgets.fairness.threshold import ThresholdExplorer

__all__ = [
    "CONSTRAINTS",
    "PENALTY_KINDS",
    "FairnessControls",
    "FairnessPanel",
    "GroupBars",
    "GroupTable",
    "LiveFairnessCurves",
    "RunComparison",
    "ThresholdExplorer",
    "read_report",
]


class FairnessPanel(QWidget):
    """The controls on the left; the group table, bars, live curves, threshold explorer and
    runs compared as tabs on the right. Signals are those of :attr:`controls`,
    :attr:`threshold` and :attr:`runs`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controls = FairnessControls()
        self.table = GroupTable()
        self.bars = GroupBars()
        self.live = LiveFairnessCurves()
        self.threshold = ThresholdExplorer()
        self.runs = RunComparison()
        self.tabs = QTabWidget()
        for widget, title in (
            # the group and difference tables show every row: they scroll inside their tab
            (scrolling(self.table, horizontal=True), "Groups"),
            (self.bars, "By group"),
            (self.live, "During training"),
            (self.threshold, "Threshold"),
            (self.runs, "Runs compared"),
        ):
            self.tabs.addTab(widget, title)
        # the controls scroll their own settings and keep Audit in view
        self.controls.setMinimumWidth(300)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.controls)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([320, 1080])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def set_report(self, report: Any) -> None:
        """Show an audit's report in the group table and the bars."""
        self.table.set_report(report)
        self.bars.set_report(report)


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    from widgets.fairness.samples import sample_history, sample_report, sample_runs, sample_sweep

    app = QApplication([])
    panel = FairnessPanel()
    panel.controls.set_columns(
        ["status", "duration", "credit_history", "purpose", "amount", "sex", "age_band"],
        ["sex", "age_band"],
    )
    panel.controls.set_outcomes(["good credit", "bad credit"], "good credit")
    panel.set_report(sample_report())
    panel.live.set_history(sample_history())
    panel.threshold.set_sweep(sample_sweep())
    panel.runs.set_runs(sample_runs())
    panel.controls.audit_requested.connect(lambda o: print("audit", o))
    panel.controls.mitigation_requested.connect(lambda o: print("mitigation", o))
    panel.threshold.threshold_changed.connect(lambda t: print(f"threshold {t:.3f}"))
    panel.runs.run_selected.connect(lambda run_id: print("run", run_id))
    panel.resize(1400, 760)
    panel.show()
    app.exec()
