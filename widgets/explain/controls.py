"""What to explain and how the work goes: methods, samples, split, layer, progress, cancel.

Also the epoch slider that scrubs through the explanations saved at each epoch end.
Plain data in (method ids and titles, layer names, split names), Qt signals out; problems
with what the user typed are shown in red in the panel, never in a dialog.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from widgets.common.scroll import scrolling
from widgets.explain.common import ERROR, MUTED, message_label, show_message

__all__ = ["SAMPLE_CHOICES", "EpochSlider", "ExplainControls", "parse_sample_ids"]

# (how, shown text): ``how`` is what ``engines.explain.pick_samples`` takes, plus "ids"
SAMPLE_CHOICES = (
    ("misclassified", "Misclassified"),
    ("confident", "Most confident"),
    ("random_per_class", "Random per class"),
    ("first", "First"),
    ("ids", "Row ids…"),
)
MAX_SAMPLES = 10_000
_TOKEN_RE = re.compile(r"([0-9]+)(?:-([0-9]+))?")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _count(n: int) -> str:
    return f"{n:,}"


def parse_sample_ids(
    text: str, *, n_rows: int | None = None, max_count: int = MAX_SAMPLES
) -> tuple[list[int] | None, str | None]:
    """Read row ids such as ``"0-9, 15"`` (ranges inclusive; commas or spaces between).

    Returns
    -------
    (ids, problem)
        ``ids`` in the order written, each once, and ``problem`` None; or ``ids`` None and
        a one-sentence ``problem``.
    """
    # one spelling for ranges: "3 - 7", "3–7" and "3—7" all mean 3-7
    cleaned = re.sub(r"\s*[-–—]\s*", "-", str(text).strip())
    if not cleaned:
        return None, "Enter row ids, e.g. 0-9, 15."
    tokens = [t for t in re.split(r"[,;\s]+", cleaned) if t]
    if not tokens:
        return None, "Enter row ids, e.g. 0-9, 15."
    spans: list[tuple[int, int]] = []
    total = 0
    for token in tokens:
        match = _TOKEN_RE.fullmatch(token)
        if match is None:
            shown = token if len(token) <= 20 else token[:19] + "…"
            return None, f"“{shown}” is not a row id or a range like 0-9."
        # int() of a huge digit string is slow and never a real row id: refuse it early
        if len(match.group(1)) > 15 or len(match.group(2) or "") > 15:
            return None, f"“{token[:19]}…” is too large to be a row id."
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) is not None else lo
        if hi < lo:
            return None, f"The range {lo}-{hi} runs backwards; write {hi}-{lo}."
        if n_rows is not None and hi >= n_rows:
            return None, (
                f"Row {hi} does not exist: the data has {_count(n_rows)} rows "
                f"(0-{n_rows - 1})."
            )
        total += hi - lo + 1
        if total > max_count:
            return None, f"That is more than {_count(max_count)} samples; pick fewer."
        spans.append((lo, hi))
    seen: set[int] = set()
    ids: list[int] = []
    for lo, hi in spans:
        for i in range(lo, hi + 1):
            if i not in seen:
                seen.add(i)
                ids.append(i)
    return ids, None


class ExplainControls(QWidget):
    """Choose methods and samples, then Explain; shows progress and takes a Cancel."""

    explain_requested = Signal(dict)  # the user asked for explanations with these choices
    cancel_requested = Signal()  # the user asked to stop the running explanation

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.method_list = QListWidget()
        self.method_list.setToolTip("Tick the attribution methods to run")
        self.method_list.setMinimumHeight(80)
        self.how_combo = QComboBox()
        for how, text in SAMPLE_CHOICES:
            self.how_combo.addItem(text, how)
        self.how_combo.setToolTip("Which samples to explain")
        self.count_spin = QSpinBox()
        self.count_spin.setRange(1, 1000)
        self.count_spin.setValue(8)
        self.count_spin.setToolTip("How many samples (per class for “Random per class”)")
        self.ids_edit = QLineEdit()
        self.ids_edit.setPlaceholderText("e.g. 0-9, 15")
        self.ids_edit.setToolTip(
            "Row ids of the source dataset (as in predict): single ids and ranges, "
            "separated by commas"
        )
        self.ids_message = QLabel()
        self.ids_message.setWordWrap(True)
        self.ids_message.setStyleSheet(f"color: {ERROR};")
        self.ids_message.hide()
        self.split_combo = QComboBox()
        self.split_combo.setToolTip("Which split the samples come from")
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("The convolution layer Grad-CAM looks at")
        self.pin_box = QCheckBox("Pin to run (recompute at each epoch end)")
        self.pin_box.setToolTip(
            "Keep these samples and methods with the run and explain them again after every "
            "epoch, so the epoch slider can show how the explanations changed"
        )
        self.explain_button = QPushButton("Explain")
        self.explain_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("%p %")
        self.progress.setTextVisible(True)
        self.message_label = message_label()

        samples_row = QHBoxLayout()
        samples_row.setContentsMargins(0, 0, 0, 0)
        samples_row.addWidget(self.how_combo, 1)
        samples_row.addWidget(self.count_spin)
        samples_row.addWidget(self.ids_edit, 2)
        samples_box = QVBoxLayout()
        samples_box.setContentsMargins(0, 0, 0, 0)
        samples_box.setSpacing(2)
        samples_box.addLayout(samples_row)
        samples_box.addWidget(self.ids_message)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Methods", self.method_list)
        form.addRow("Samples", samples_box)
        form.addRow("Split", self.split_combo)
        form.addRow("Layer", self.layer_combo)
        form.addRow("", self.pin_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.explain_button)
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.cancel_button)
        # the choices scroll when the dock is short; Explain and its messages stay in view
        self.settings_area = scrolling(form)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.settings_area, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message_label)

        self._needs_layer: dict[str, bool] = {}
        self._n_rows: int | None = None
        self._busy = False
        self._clock = time.monotonic  # replaceable in tests
        self._started = 0.0
        self.method_list.itemChanged.connect(lambda _item: self._refresh())
        self.how_combo.currentIndexChanged.connect(lambda _i: self._refresh())
        self.ids_edit.textChanged.connect(lambda _t: self._refresh())
        self.ids_edit.returnPressed.connect(self._request)
        self.explain_button.clicked.connect(self._request)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.set_splits(["train", "val", "test"], current="test")
        self._refresh()

    # ------------------------------------------------------------------ public API
    def set_methods(
        self, methods: Sequence[Mapping[str, Any]], checked: Sequence[str] = ()
    ) -> None:
        """List the methods to choose from.

        Parameters
        ----------
        methods
            Dicts with ``id`` and ``title``, optionally ``needs_layer`` (Grad-CAM) and
            ``help`` (a tooltip), as ``MethodInfo`` gives them.
        checked
            Ids ticked at first.
        """
        self.method_list.blockSignals(True)
        self.method_list.clear()
        self._needs_layer = {}
        for method in methods:
            method_id = str(method["id"])
            item = QListWidgetItem(str(method.get("title") or method_id))
            item.setData(Qt.ItemDataRole.UserRole, method_id)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if method_id in checked else Qt.CheckState.Unchecked
            )
            item.setToolTip(f"{method.get('help') or item.text()} ({method_id})")
            self.method_list.addItem(item)
            self._needs_layer[method_id] = bool(
                method.get("needs_layer", method_id == "gradcam")
            )
        self.method_list.blockSignals(False)
        self._refresh()

    def set_checked_methods(self, ids: Sequence[str]) -> None:
        for i in range(self.method_list.count()):
            item = self.method_list.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in ids
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def checked_methods(self) -> list[str]:
        return [
            str(self.method_list.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.method_list.count())
            if self.method_list.item(i).checkState() == Qt.CheckState.Checked
        ]

    def set_layers(self, layers: Sequence[str]) -> None:
        """The layers Grad-CAM can use (convolution layers), by name."""
        current = self.layer_combo.currentText()
        self.layer_combo.clear()
        self.layer_combo.addItems([str(n) for n in layers])
        if current in layers:
            self.layer_combo.setCurrentText(current)
        self._refresh()

    def set_splits(self, splits: Sequence[str], current: str | None = None) -> None:
        self.split_combo.clear()
        self.split_combo.addItems([str(s) for s in splits])
        if current in splits:
            self.split_combo.setCurrentText(str(current))

    def set_row_count(self, n_rows: int | None) -> None:
        """How many rows the source dataset has (row ids beyond it are refused)."""
        self._n_rows = n_rows
        self._refresh()

    def set_sample_choice(self, how: str, *, count: int | None = None, ids: str = "") -> None:
        """Preset the sample picker: ``how`` from ``SAMPLE_CHOICES``, a count or ids text."""
        index = self.how_combo.findData(how)
        if index >= 0:
            self.how_combo.setCurrentIndex(index)
        if count is not None:
            self.count_spin.setValue(count)
        if ids:
            self.ids_edit.setText(ids)

    def choices(self) -> dict[str, Any] | None:
        """What Explain would request now, or None while something is missing or invalid."""
        if self.problem():
            return None
        how = str(self.how_combo.currentData())
        ids: list[int] = []
        if how == "ids":
            ids = parse_sample_ids(self.ids_edit.text(), n_rows=self._n_rows)[0] or []
        methods = self.checked_methods()
        return {
            "methods": methods,
            "how": how,
            "n": len(ids) if how == "ids" else self.count_spin.value(),
            "ids": ids,
            "split": self.split_combo.currentText(),
            "layer": self.layer_combo.currentText() if self._layer_needed() else None,
            "pin": self.pin_box.isChecked(),
        }

    def problem(self) -> str:
        """Why Explain is not possible now ("" when it is)."""
        if self._ids_problem():
            return self._ids_problem() or ""
        if not self.checked_methods():
            return "Tick at least one method."
        if self._layer_needed() and self.layer_combo.count() == 0:
            return "Grad-CAM needs a convolution layer, and this model has none."
        return ""

    def set_progress(self, fraction: float) -> None:
        """Show how far the running explanation is, from 0 to 1."""
        try:
            value = float(fraction)
        except (TypeError, ValueError):
            return
        if not math.isfinite(value):
            return
        value = min(max(value, 0.0), 1.0)
        self.progress.setValue(round(1000 * value))
        elapsed = self._clock() - self._started
        if self._busy and 0.02 <= value < 1.0 and elapsed >= 1.0:
            left = elapsed * (1.0 - value) / value
            self.progress.setFormat(f"%p % · about {_duration(left)} left")
        else:
            self.progress.setFormat("%p %")

    def set_busy(self, busy: bool) -> None:
        """Mark an explanation as running (Cancel on) or finished (Cancel off).

        Explain stays available while busy: a newer request replaces the running one.
        """
        self._busy = busy
        self.cancel_button.setEnabled(busy)
        self.progress.setFormat("%p %")
        if busy:
            self._started = self._clock()
            self.progress.setValue(0)
            show_message(self.message_label, "")

    def set_message(self, text: str, *, error: bool = True) -> None:
        """Show a message under the controls: errors in red, notes in grey; "" hides it."""
        show_message(self.message_label, text, error=error)

    def message(self) -> str:
        return self.message_label.text() if self.message_label.isVisibleTo(self) else ""

    # ------------------------------------------------------------------ internals
    def _layer_needed(self) -> bool:
        return any(self._needs_layer.get(m, False) for m in self.checked_methods())

    def _ids_problem(self) -> str | None:
        if self.how_combo.currentData() != "ids":
            return None
        return parse_sample_ids(self.ids_edit.text(), n_rows=self._n_rows)[1]

    def _refresh(self) -> None:
        explicit = self.how_combo.currentData() == "ids"
        self.ids_edit.setVisible(explicit)
        self.count_spin.setVisible(not explicit)
        ids_problem = self._ids_problem()
        # an empty field is not an error yet: just nothing to explain
        show_text = ids_problem if ids_problem and self.ids_edit.text().strip() else ""
        self.ids_message.setText(show_text or "")
        self.ids_message.setVisible(bool(show_text))
        self.layer_combo.setEnabled(self._layer_needed())
        problem = self.problem()
        self.explain_button.setEnabled(not problem)
        self.explain_button.setToolTip(problem or "Explain the chosen samples")

    def _request(self) -> None:
        choices = self.choices()
        if choices is not None:
            self.explain_requested.emit(choices)


class EpochSlider(QWidget):
    """A slider over the epochs that have explanations, labelled "epoch 3 / 10"."""

    epoch_changed = Signal(int)  # the user (or a new epoch at the end) changed the shown epoch

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.label = QLabel()
        self.label.setMinimumWidth(90)
        self.label.setStyleSheet(f"color: {MUTED};")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Epoch"))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self._epochs: list[int] = []
        self.slider.valueChanged.connect(self._on_value)
        self.set_epochs([])

    def set_epochs(self, epochs: Sequence[int]) -> None:
        """The epochs that have explanations (ascending epoch numbers).

        If the slider was on the newest epoch (or nothing), it moves to the new newest one
        (following training live); an earlier epoch the user picked stays picked.
        ``epoch_changed`` is emitted when the shown epoch changes.
        """
        before = self.epoch()
        at_end = before is None or (bool(self._epochs) and before == self._epochs[-1])
        self._epochs = sorted({int(e) for e in epochs})
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(self._epochs) - 1, 0))
        if self._epochs:
            if at_end or before not in self._epochs:
                index = len(self._epochs) - 1
            else:
                index = self._epochs.index(before)
            self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(self._epochs) > 1)
        self._show_label()
        after = self.epoch()
        if after is not None and after != before:
            self.epoch_changed.emit(after)

    def set_epoch(self, epoch: int) -> None:
        """Show ``epoch`` (ignored if it has no explanations)."""
        if epoch in self._epochs:
            self.slider.setValue(self._epochs.index(epoch))

    def epoch(self) -> int | None:
        """The epoch shown, or None when there is none."""
        return self._epochs[self.slider.value()] if self._epochs else None

    def _show_label(self) -> None:
        e = self.epoch()
        self.label.setText("no epochs yet" if e is None else f"epoch {e} / {self._epochs[-1]}")

    def _on_value(self, _index: int) -> None:
        self._show_label()
        e = self.epoch()
        if e is not None:
            self.epoch_changed.emit(e)


PREVIEW_METHODS = [
    {"id": "saliency", "title": "Saliency"},
    {"id": "ixg", "title": "Input × Gradient"},
    {"id": "ig", "title": "Integrated Gradients"},
    {"id": "smoothgrad", "title": "SmoothGrad"},
    {"id": "deeplift", "title": "DeepLIFT"},
    {"id": "gradshap", "title": "GradientSHAP"},
    {"id": "shapley", "title": "Shapley values (exact / paired)"},
    {"id": "occlusion", "title": "Occlusion"},
    {"id": "gradcam", "title": "Grad-CAM", "needs_layer": True},
]


def preview_controls() -> QWidget:
    """The controls and an epoch slider with sample data (for previews)."""
    box = QWidget()
    controls = ExplainControls()
    controls.set_methods(PREVIEW_METHODS, checked=("ig", "gradcam"))
    controls.set_layers(["conv1", "conv2"])
    controls.set_row_count(1797)
    controls.set_sample_choice("ids", ids="0-9, 15, 2000")
    controls.set_busy(True)
    controls.set_progress(0.42)
    slider = EpochSlider()
    slider.set_epochs(range(1, 11))
    slider.set_epoch(3)
    layout = QVBoxLayout(box)
    layout.addWidget(controls)
    layout.addWidget(slider)
    controls.explain_requested.connect(print)
    controls.cancel_requested.connect(lambda: controls.set_busy(False))
    slider.epoch_changed.connect(lambda e: controls.set_message(f"showing epoch {e}", error=False))
    box.resize(460, 420)
    return box


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    preview = preview_controls()
    preview.show()
    app.exec()
