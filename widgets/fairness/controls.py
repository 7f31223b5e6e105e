"""What to audit and how, and which mitigation to try: the fairness panel's controls.

Plain data in (the column names, the outcome labels, the split names), Qt signals out: the
controls never start an audit themselves. Audit stays disabled, with a one-line hint, until a
sensitive column and a favourable outcome are chosen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from widgets.common.scroll import scrolling

__all__ = ["CONSTRAINTS", "FairnessControls", "PENALTY_KINDS"]

PENALTY_KINDS = {"dp": "Demographic parity", "eo": "Equalized odds"}
# fairlearn ThresholdOptimizer constraints
CONSTRAINTS = {
    "demographic_parity": "Demographic parity",
    "equalized_odds": "Equalized odds",
    "true_positive_rate_parity": "Equal opportunity (TPR parity)",
    "false_positive_rate_parity": "FPR parity",
}
NO_COLUMN_HINT = "Tick at least one sensitive column to audit."
NO_OUTCOME_HINT = "Choose the favourable outcome to audit."
_ERROR_STYLE = "color: #b71c1c;"
_INFO_STYLE = "color: #37474f;"
_HINT_STYLE = "color: #607d8b; font-style: italic;"


def _eta_text(seconds: float) -> str:
    if seconds < 60:
        return f"about {max(round(seconds), 1)} s left"
    return f"about {round(seconds / 60)} min left"


class FairnessControls(QWidget):
    """Sensitive columns, favourable outcome, threshold, split, resamples; Audit; mitigations."""

    audit_requested = Signal(dict)  # Audit pressed: the chosen options (see :meth:`options`)
    mitigation_requested = Signal(dict)  # a mitigation button pressed: its options
    cancel_requested = Signal()  # Cancel pressed while an audit or mitigation runs
    live_tracking_toggled = Signal(bool)  # "Track live during training" ticked or unticked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns_list = QListWidget()
        self.columns_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.columns_list.setToolTip("Tick the columns whose groups should be compared")
        self.columns_list.setMinimumHeight(90)
        self.favourable_combo = QComboBox()
        self.favourable_combo.setToolTip("The outcome people want (e.g. the loan granted)")
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 1.0)
        self.threshold_spin.setDecimals(3)
        self.threshold_spin.setSingleStep(0.01)
        self.threshold_spin.setValue(0.5)
        self.threshold_spin.setToolTip(
            "Scores above this threshold get the favourable outcome"
        )
        self.split_combo = QComboBox()
        self.split_combo.setToolTip("The data the audit runs on (test by default)")
        self.boot_spin = QSpinBox()
        self.boot_spin.setRange(0, 100_000)
        self.boot_spin.setSingleStep(100)
        self.boot_spin.setValue(1000)
        self.boot_spin.setSpecialValueText("none (no intervals)")
        self.boot_spin.setToolTip("Bootstrap resamples for the confidence intervals")
        self.intersections_check = QCheckBox("Intersections of groups")
        self.intersections_check.setChecked(True)
        self.live_check = QCheckBox("Track live during training")
        self.live_check.setToolTip("Recompute the point metrics at each epoch end while training")

        self.audit_button = QPushButton("Audit")
        self.audit_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.hint_label = QLabel()
        self.hint_label.setWordWrap(True)
        self.hint_label.setStyleSheet(_HINT_STYLE)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.hide()

        self.reweigh_button = QPushButton("Reweighing")
        self.reweigh_button.setToolTip(
            "Retrain with Kamiran & Calders weights that balance groups and outcomes"
            " (before training)"
        )
        self.penalty_button = QPushButton("Fairness penalty")
        self.penalty_button.setToolTip(
            "Retrain with a fairness term added to the loss (during training)"
        )
        self.penalty_kind_combo = QComboBox()
        for key, title in PENALTY_KINDS.items():
            self.penalty_kind_combo.addItem(title, key)
        self.penalty_strength_spin = QDoubleSpinBox()
        self.penalty_strength_spin.setRange(0.0, 1000.0)
        self.penalty_strength_spin.setDecimals(2)
        self.penalty_strength_spin.setSingleStep(0.5)
        self.penalty_strength_spin.setValue(1.0)
        self.penalty_strength_spin.setToolTip("How much the fairness term weighs against the loss")
        self.threshold_button = QPushButton("Threshold optimizer")
        self.threshold_button.setToolTip(
            "Choose a threshold per group for the trained model (after training; fairlearn"
            " ThresholdOptimizer)"
        )
        self.constraint_combo = QComboBox()
        for key, title in CONSTRAINTS.items():
            self.constraint_combo.addItem(title, key)
        self._tips = (self.reweigh_button.toolTip(), self.penalty_button.toolTip(),
                      self.threshold_button.toolTip())

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Favourable outcome", self.favourable_combo)
        form.addRow("Threshold", self.threshold_spin)
        form.addRow("Split", self.split_combo)
        form.addRow("Bootstrap resamples", self.boot_spin)
        audit_row = QHBoxLayout()
        audit_row.addWidget(self.audit_button, 1)
        audit_row.addWidget(self.cancel_button)
        mitigation = QGroupBox("Mitigation (each makes a run)")
        grid = QGridLayout(mitigation)
        right = Qt.AlignmentFlag.AlignRight
        grid.addWidget(self.reweigh_button, 0, 0, 1, 2)
        grid.addWidget(self.penalty_button, 1, 0, 1, 2)
        grid.addWidget(QLabel("parity"), 2, 0, right)
        grid.addWidget(self.penalty_kind_combo, 2, 1)
        grid.addWidget(QLabel("strength"), 3, 0, right)
        grid.addWidget(self.penalty_strength_spin, 3, 1)
        grid.addWidget(self.threshold_button, 4, 0, 1, 2)
        grid.addWidget(QLabel("constraint"), 5, 0, right)
        grid.addWidget(self.constraint_combo, 5, 1)
        grid.setColumnStretch(1, 1)
        # long item texts must not force the panel wide: combos may shrink and elide
        for combo in (
            self.favourable_combo,
            self.split_combo,
            self.penalty_kind_combo,
            self.constraint_combo,
        ):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(8)
        # the settings scroll when the dock is short; Audit and its messages stay in view
        settings = QVBoxLayout()
        settings.setContentsMargins(0, 0, 0, 0)
        settings.addWidget(QLabel("Sensitive columns"))
        settings.addWidget(self.columns_list, 1)
        settings.addLayout(form)
        settings.addWidget(self.intersections_check)
        settings.addWidget(self.live_check)
        settings.addWidget(mitigation)
        self.settings_area = scrolling(settings)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.settings_area, 1)
        layout.addLayout(audit_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.hint_label)
        layout.addWidget(self.message_label)

        self._busy = False
        self._mitigation_refused = ""  # why mitigations are off (the project is open for audit)
        self.columns_list.itemChanged.connect(self._refresh)
        self.favourable_combo.currentIndexChanged.connect(self._refresh)
        self.audit_button.clicked.connect(self._on_audit)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.reweigh_button.clicked.connect(lambda: self._on_mitigation("reweighing"))
        self.penalty_button.clicked.connect(lambda: self._on_mitigation("penalty"))
        self.threshold_button.clicked.connect(lambda: self._on_mitigation("threshold"))
        self.live_check.toggled.connect(self.live_tracking_toggled)
        self.set_splits(["test", "validation", "train"])
        self._refresh()

    # ------------------------------------------------------------------ data in
    def set_columns(self, names: Sequence[str], checked: Sequence[str] = ()) -> None:
        """Offer these columns as sensitive; tick those in ``checked``."""
        self.columns_list.blockSignals(True)
        self.columns_list.clear()
        for name in dict.fromkeys(str(n) for n in names):
            item = QListWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if name in checked else Qt.CheckState.Unchecked
            )
            self.columns_list.addItem(item)
        self.columns_list.blockSignals(False)
        self._refresh()

    def set_outcomes(self, labels: Sequence[Any], favourable: Any = None,
                     meanings: Mapping[str, str] | None = None) -> None:
        """Offer these outcome labels; choose ``favourable`` (else keep the choice, else the
        first). ``meanings`` says what a label stands for: shown as "1 — good credit risk"."""
        current = self.favourable_combo.currentData() if favourable is None else favourable
        meanings = meanings or {}
        self.favourable_combo.blockSignals(True)
        self.favourable_combo.clear()
        for label in labels:
            meaning = meanings.get(str(label))
            self.favourable_combo.addItem(f"{label} — {meaning}" if meaning else str(label), label)
        index = next((i for i, label in enumerate(labels) if label == current), 0)
        self.favourable_combo.setCurrentIndex(index if labels else -1)
        self.favourable_combo.blockSignals(False)
        self._refresh()

    def set_splits(self, names: Sequence[str], current: str = "test") -> None:
        self.split_combo.clear()
        self.split_combo.addItems(list(names))
        index = self.split_combo.findText(current)
        self.split_combo.setCurrentIndex(max(index, 0))

    def set_live_tracking(self, on: bool) -> None:
        """Tick or untick "Track live during training" without emitting a signal."""
        self.live_check.blockSignals(True)
        self.live_check.setChecked(on)
        self.live_check.blockSignals(False)

    # ------------------------------------------------------------------ state
    def set_mitigations_refused(self, reason: str) -> None:
        """Turn the mitigation buttons off, saying why in their tooltips ("" turns them back on)."""
        if not reason and self._mitigation_refused:
            self.reweigh_button.setToolTip(self._tips[0])
            self.penalty_button.setToolTip(self._tips[1])
            self.threshold_button.setToolTip(self._tips[2])
        self._mitigation_refused = reason
        self._refresh()

    def set_busy(self, busy: bool) -> None:
        """While an audit or mitigation runs: inputs locked, progress shown, Cancel enabled."""
        self._busy = busy
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)  # "working" until the first progress report
            self.set_message(None)
        self.cancel_button.setEnabled(busy)
        self._refresh()

    def set_progress(self, done: int, total: int, eta_seconds: float | None = None) -> None:
        """Show ``done`` of ``total`` steps (e.g. bootstrap resamples) and the time left."""
        if total <= 0:
            self.progress.setRange(0, 0)
            return
        self.progress.setRange(0, int(total))
        self.progress.setValue(max(0, min(int(done), int(total))))
        text = f"%v / %m — {_eta_text(eta_seconds)}" if eta_seconds is not None else "%v / %m"
        self.progress.setFormat(text)

    def set_message(self, text: str | None, *, error: bool = True) -> None:
        """Show a sentence under the buttons (red for an error); None or "" hides it."""
        self.message_label.setText(text or "")
        self.message_label.setStyleSheet(_ERROR_STYLE if error else _INFO_STYLE)
        self.message_label.setVisible(bool(text))

    def message(self) -> str:
        return self.message_label.text() if not self.message_label.isHidden() else ""

    def hint(self) -> str:
        """Why Audit is disabled ("" when it is enabled)."""
        return self.hint_label.text() if not self.hint_label.isHidden() else ""

    def sensitive_columns(self) -> list[str]:
        """The ticked columns, in list order."""
        items = (self.columns_list.item(i) for i in range(self.columns_list.count()))
        return [i.text() for i in items if i.checkState() == Qt.CheckState.Checked]

    def options(self) -> dict[str, Any]:
        """What Audit sends: sensitive, favourable, threshold, split, n_boot, intersections, track_live."""
        sensitive = self.sensitive_columns()
        return {
            "sensitive": sensitive,
            "favourable": self.favourable_combo.currentData(),
            "threshold": float(self.threshold_spin.value()),
            "split": self.split_combo.currentText(),
            "n_boot": int(self.boot_spin.value()),
            # one column has no intersections, whatever the box says
            "intersections": self.intersections_check.isChecked() and len(sensitive) > 1,
            "track_live": self.live_check.isChecked(),
        }

    # ------------------------------------------------------------------ signals out
    def _problem(self) -> str:
        if not self.sensitive_columns():
            return NO_COLUMN_HINT
        if self.favourable_combo.currentIndex() < 0:
            return NO_OUTCOME_HINT
        return ""

    def _refresh(self, *_args: Any) -> None:
        problem = self._problem()
        ready = not problem and not self._busy
        for button in (
            self.audit_button,
            self.reweigh_button,
            self.penalty_button,
            self.threshold_button,
        ):
            button.setEnabled(ready)
        for button in (self.reweigh_button, self.penalty_button, self.threshold_button):
            if self._mitigation_refused:
                button.setEnabled(False)
                button.setToolTip(self._mitigation_refused)
        self.audit_button.setToolTip(problem or "Compute the fairness metrics with intervals")
        self.hint_label.setText(problem)
        self.hint_label.setVisible(bool(problem))
        for w in (
            self.columns_list,
            self.favourable_combo,
            self.threshold_spin,
            self.split_combo,
            self.boot_spin,
            self.intersections_check,
            self.penalty_kind_combo,
            self.penalty_strength_spin,
            self.constraint_combo,
        ):
            w.setEnabled(not self._busy)
        several = len(self.sensitive_columns()) > 1
        self.intersections_check.setEnabled(several and not self._busy)
        self.intersections_check.setToolTip(
            "Also compare groups formed by combining the ticked columns (e.g. female × 25-35)"
            if several
            else "Tick two or more columns to compare their intersections"
        )

    def _on_audit(self) -> None:
        if self._problem() or self._busy:
            return
        self.audit_requested.emit(self.options())

    def _on_mitigation(self, kind: str) -> None:
        if self._problem() or self._busy:
            return
        request: dict[str, Any] = {"kind": kind, **self.options()}
        if kind == "penalty":
            request["penalty"] = str(self.penalty_kind_combo.currentData())
            request["strength"] = float(self.penalty_strength_spin.value())
        elif kind == "threshold":
            request["constraint"] = str(self.constraint_combo.currentData())
        self.mitigation_requested.emit(request)


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    w = FairnessControls()
    w.set_columns(
        [
            "status",
            "duration",
            "credit_history",
            "purpose",
            "amount",
            "sex",
            "age",
            "age_band",
            "foreign_worker",
        ],
        ["sex", "age_band"],
    )
    w.set_outcomes(["good credit", "bad credit"], "good credit")
    w.audit_requested.connect(lambda o: print("audit", o))
    w.mitigation_requested.connect(lambda o: print("mitigation", o))
    w.resize(340, 640)
    w.show()
    app.exec()
