"""The training settings of a project as a form: objective, optimizer, schedule, loop, device.

Plain data in (the settings as a dict, the devices present, the metrics each objective
reports), Qt signals out. Numbers are checked as they are typed against the ranges in
:data:`FIELDS`, which mirror the training engine's own checks; a value out of range is shown
in red with a one-line message under the form and is never emitted. Settings that depend on
each other (Nesterov needs SGD, the early-stopping metric must suit the objective) change
together in one emitted edit, so each user action is one undo step. The form never edits the
project itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

__all__ = ["FIELDS", "NumberEdit", "SettingField", "TrainSettings", "check_number"]

_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_RE = re.compile(r"[+-]?[0-9]+")
_MAX_DIGITS = 30  # int() refuses very long digit strings; no setting needs more than 19
_INVALID_BASE = QColor("#ffd7d7")
_INVALID_TEXT = QColor("#b71c1c")


@dataclass(frozen=True)
class SettingField:
    """One training setting as the form shows it.

    ``low``/``high`` bound a number; ``low_open``/``high_open`` make the bound exclusive.
    """

    name: str
    label: str
    kind: str  # "choice", "float", "int" or "bool"
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    optional: bool = False  # None turns the setting off (a check box beside the number)
    off_value: float | None = None  # the number shown while an optional setting is off
    toggle_text: str = "on"  # the check box beside an optional setting


# The names, kinds and ranges follow engines.training.TrainConfig (a test holds them to it).
FIELDS: tuple[SettingField, ...] = (
    SettingField(
        "objective",
        "Objective",
        "choice",
        "What the network learns: class labels, a number, or to reproduce its input. "
        "Usually fixed by the template.",
        choices=(
            ("classification", "Classification"),
            ("regression", "Regression"),
            ("reconstruction", "Reconstruction"),
        ),
    ),
    SettingField(
        "optimizer",
        "Optimizer",
        "choice",
        "The update rule for the weights.",
        choices=(
            ("sgd", "SGD"),
            ("adagrad", "AdaGrad"),
            ("rmsprop", "RMSProp"),
            ("adam", "Adam"),
            ("adamw", "AdamW"),
        ),
    ),
    SettingField(
        "lr", "Learning rate", "float", "Step size of the optimizer (the peak for one-cycle).",
        low=0.0, low_open=True,
    ),
    SettingField(
        "momentum", "Momentum", "float", "Fraction of the previous update kept (SGD, RMSProp).",
        low=0.0, high=1.0, high_open=True,
    ),
    SettingField(
        "nesterov", "Nesterov momentum", "bool",
        "Look ahead along the momentum before taking the gradient (SGD with momentum above 0).",
    ),
    SettingField(
        "beta1", "Beta 1", "float", "Decay rate of the gradient's running mean (Adam, AdamW).",
        low=0.0, high=1.0, high_open=True,
    ),
    SettingField(
        "beta2", "Beta 2", "float",
        "Decay rate of the squared gradient's running mean (Adam, AdamW).",
        low=0.0, high=1.0, high_open=True,
    ),
    SettingField(
        "weight_decay", "Weight decay", "float",
        "Pulls the weights towards zero (decoupled for AdamW).",
        low=0.0,
    ),
    SettingField(
        "schedule",
        "Schedule",
        "choice",
        "How the learning rate changes during training.",
        choices=(
            ("none", "Constant"),
            ("step", "Step decay"),
            ("cosine", "Cosine annealing"),
            ("onecycle", "One-cycle"),
        ),
    ),
    SettingField(
        "step_size", "Step every (epochs)", "int",
        "Epochs between two multiplications of the learning rate by gamma.",
        low=1,
    ),
    SettingField(
        "gamma", "Gamma", "float", "Factor applied to the learning rate at each step.",
        low=0.0, high=1.0, low_open=True,
    ),
    SettingField(
        "warmup_epochs", "Warm-up epochs", "int",
        "Epochs of linear ramp up to the learning rate before the schedule starts "
        "(for one-cycle: the length of its rising phase). Must be fewer than the epochs.",
        low=0,
    ),
    SettingField("batch_size", "Batch size", "int", "Samples per optimizer step.", low=1),
    SettingField("epochs", "Epochs", "int", "Passes over the training split.", low=1),
    SettingField(
        "grad_clip", "Gradient clipping", "float",
        "Scale the gradients down when their total norm exceeds this value.",
        low=0.0, low_open=True, optional=True, off_value=1.0, toggle_text="clip at norm",
    ),
    SettingField(
        "early_stopping_patience", "Early stopping", "int",
        "Stop when the watched metric has not improved for this many epochs.",
        low=1, optional=True, off_value=5, toggle_text="patience (epochs)",
    ),
    SettingField(
        "early_stopping_metric", "Watch metric", "choice",
        "The validation metric early stopping watches.",
    ),
    SettingField(
        "seed", "Seed", "int",
        "Same seed on the same CPU gives the same curves, bit for bit.",
        low=0, high=2**63, high_open=True,
    ),
    SettingField(
        "device", "Device", "choice",
        "Where the model trains; 'auto' picks a GPU when one is present.",
    ),
)
_BY_NAME = {f.name: f for f in FIELDS}
_GROUPS = (
    ("Task", ("objective",)),
    ("Optimizer", ("optimizer", "lr", "momentum", "nesterov", "beta1", "beta2", "weight_decay")),
    ("Learning-rate schedule", ("schedule", "step_size", "gamma", "warmup_epochs")),
    (
        "Training loop",
        (
            "batch_size",
            "epochs",
            "grad_clip",
            "early_stopping_patience",
            "early_stopping_metric",
            "seed",
            "device",
        ),
    ),
)
_METRIC_LABELS = {
    "val_loss": "validation loss",
    "train_loss": "training loss",
    "val_accuracy": "validation accuracy",
    "val_f1": "validation F1",
    "val_auc": "validation AUC",
    "val_mae": "validation MAE",
    "val_r2": "validation R²",
    "val_mse": "validation MSE",
}
_DEVICE_LABELS = {"auto": "Automatic", "cpu": "CPU", "cuda": "CUDA GPU", "mps": "Apple MPS"}


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _range_text(f: SettingField) -> str:
    parts = []
    if f.low is not None:
        parts.append(f"{'above' if f.low_open else 'at least'} {_fmt(f.low)}")
    if f.high is not None:
        high = "2**63" if f.high == 2**63 else _fmt(f.high)
        parts.append(f"{'below' if f.high_open else 'at most'} {high}")
    return " and ".join(parts)


def check_number(f: SettingField, value: float) -> str | None:
    """A one-line message when ``value`` is outside the range of setting ``f``, else None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{f.label} must be a finite number."
    too_low = f.low is not None and (value <= f.low if f.low_open else value < f.low)
    too_high = f.high is not None and (value >= f.high if f.high_open else value > f.high)
    if too_low or too_high:
        return f"{f.label} must be {_range_text(f)}, not {_fmt(value)}."
    return None


def parse_setting(f: SettingField, text: str) -> tuple[float | int | None, str | None]:
    """Read the text of a number field: ``(value, None)`` or ``(None, message)``."""
    text = text.strip()
    if not text:
        return None, f"{f.label}: enter {'a whole number' if f.kind == 'int' else 'a number'}."
    if f.kind == "int":
        if not _INT_RE.fullmatch(text):
            shown = text[:20] + ("…" if len(text) > 20 else "")
            return None, f"{f.label}: “{shown}” is not a whole number."
        if len(text.lstrip("+-")) > _MAX_DIGITS:
            return None, f"{f.label} must be {_range_text(f)}; that number is far too large."
        value: float | int = int(text)
    else:
        if not _FLOAT_RE.fullmatch(text):
            shown = text[:20] + ("…" if len(text) > 20 else "")
            return None, f"{f.label}: “{shown}” is not a number (e.g. 0.001 or 1e-3)."
        value = float(text)
    problem = check_number(f, value)
    return (None, problem) if problem else (value, None)


def _number_text(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # round-trips exactly; %g would not
    return str(value)


def _mark(widget: QWidget, invalid: bool) -> None:
    if invalid:
        palette = QPalette(widget.palette())
        palette.setColor(QPalette.ColorRole.Base, _INVALID_BASE)
        palette.setColor(QPalette.ColorRole.Text, _INVALID_TEXT)
        widget.setPalette(palette)
    else:
        widget.setPalette(QPalette())


class NumberEdit(QLineEdit):
    """A text field holding one number; ``committed`` fires on Enter, focus loss or setValue."""

    committed = Signal()  # the user finished typing (or a script set a value)

    def __init__(self, field: SettingField, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        self.editingFinished.connect(self.committed)

    def value(self) -> float | int | None:
        """The number typed, or None when the text is not an acceptable value."""
        value, _ = parse_setting(self.field, self.text())
        return value

    def setValue(self, value: float) -> None:  # noqa: N802 (the QSpinBox name scripts expect)
        """Type ``value`` and commit it, as a user pressing Enter would."""
        self.setText(_number_text(value))
        self.committed.emit()


class TrainSettings(QWidget):
    """The training settings form; emits each valid change as a dict (one undo step)."""

    settings_changed = Signal(dict)  # the user changed settings: {name: new value}
    reset_requested = Signal()  # the user asked for the template's default settings
    validity_changed = Signal(bool)  # the invalid fields changed; True when none is left

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editors: dict[str, QWidget] = {}
        self.toggles: dict[str, QCheckBox] = {}  # optional settings: on/off
        self._forms: dict[str, QFormLayout] = {}
        self._labels: list[QLabel] = []
        self._values: dict[str, Any] = {}
        self._metrics: dict[str, list[str]] = {}
        self._devices: list[str] = ["auto", "cpu"]
        self._errors: dict[str, str] = {}
        self._read_only = False
        self._quiet = False

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(6)
        for title, names in _GROUPS:
            box = QGroupBox(title)
            box.setFlat(True)  # headings, not frames: the form stays compact in a dock
            form = QFormLayout(box)
            form.setContentsMargins(6, 4, 6, 2)
            form.setVerticalSpacing(4)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for name in names:
                self._add_row(form, _BY_NAME[name])
            column.addWidget(box)
        self.message_label = QLabel()  # the one-line message about a refused value
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #b71c1c;")
        self.message_label.hide()
        self.read_only_label = QLabel("Settings cannot change while the model trains.")
        self.read_only_label.setStyleSheet("color: #607d8b; font-style: italic;")
        self.read_only_label.setWordWrap(True)
        self.read_only_label.hide()
        self.reset_button = QPushButton("Reset to template defaults")
        self.reset_button.setToolTip("Set every training setting to the template's defaults")
        self.reset_button.clicked.connect(self._on_reset)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.reset_button)
        column.addLayout(row)
        column.addStretch(1)
        # all groups share one label width, so the editors line up down the form
        width = max(label.sizeHint().width() for label in self._labels)
        for label in self._labels:
            label.setMinimumWidth(width)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        scroll = QScrollArea()
        scroll.setMinimumHeight(220)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        # outside the scrolled form, so a refusal is seen wherever the form is scrolled to
        layout.addWidget(self.message_label)
        layout.addWidget(self.read_only_label)
        self.set_metric_choices({"classification": ["val_loss"]})
        self.set_devices(self._devices)
        self._update_visibility()

    # ------------------------------------------------------------------ building
    def _add_row(self, form: QFormLayout, f: SettingField) -> None:
        tip = f.help
        if f.kind in ("int", "float"):
            rng = _range_text(f)
            if rng:
                tip += f"\nRange: {rng}."
        editor: QWidget
        if f.kind == "choice":
            combo = QComboBox()
            for value, label in f.choices:
                combo.addItem(label, value)
            combo.currentIndexChanged.connect(lambda _i, n=f.name: self._on_choice(n))
            editor = combo
        elif f.kind == "bool":
            box = QCheckBox()
            box.toggled.connect(lambda on, n=f.name: self._emit({n: bool(on)}, n))
            editor = box
        else:
            edit = NumberEdit(f)
            edit.textChanged.connect(lambda _t, n=f.name: self._validate(n))
            edit.committed.connect(lambda n=f.name: self._on_number(n))
            editor = edit
        editor.setToolTip(tip)
        editor.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        editor.setObjectName(f.name)
        self.editors[f.name] = editor
        label = QLabel(f.label)
        label.setToolTip(tip)
        self._labels.append(label)
        if f.optional:
            toggle = QCheckBox(f.toggle_text)
            toggle.setToolTip(tip)
            toggle.toggled.connect(lambda on, n=f.name: self._on_toggle(n, on))
            self.toggles[f.name] = toggle
            holder = QWidget()
            h = QHBoxLayout(holder)
            h.setContentsMargins(0, 0, 0, 0)
            h.addWidget(toggle)
            h.addWidget(editor, 1)
            form.addRow(label, holder)
        else:
            form.addRow(label, editor)
        self._forms[f.name] = form

    # ------------------------------------------------------------------ public API
    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show these settings (from the project) without emitting; clears any message."""
        self._values = dict(values)
        self._quiet = True
        try:
            for f in FIELDS:
                if f.name in values:
                    self._show(f, values[f.name])
        finally:
            self._quiet = False
        self._errors.clear()
        for name in self.editors:
            self._mark(name, False)
        self._show_message()
        self._update_visibility()

    def values(self) -> dict[str, Any]:
        """The settings last given to :meth:`set_values`."""
        return dict(self._values)

    def set_devices(self, devices: Sequence[str]) -> None:
        """The devices present on this machine (e.g. ``["auto", "cpu", "cuda"]``)."""
        self._devices = list(devices)
        self._fill_devices()

    def set_metric_choices(self, metrics: Mapping[str, Sequence[str]]) -> None:
        """The metrics early stopping may watch, per objective."""
        self._metrics = {k: list(v) for k, v in metrics.items()}
        self._fill_metrics()

    def refuse(self, message: str, names: Sequence[str] = ()) -> None:
        """Show why an emitted change was refused; choices snap back, typed numbers stay red."""
        for name in names:
            editor = self.editors.get(name)
            if editor is None:
                continue
            if isinstance(editor, NumberEdit) and not (
                name in self.toggles and not self.toggles[name].isChecked()
            ):
                self._mark(name, True)
                self._errors[name] = message
            elif name in self._values:
                self._quiet = True
                try:
                    self._show(_BY_NAME[name], self._values[name])
                finally:
                    self._quiet = False
        self._errors["_refused"] = message
        self._show_message()
        self._update_visibility()

    def set_read_only(self, read_only: bool, why: str = "Settings cannot change while the model trains.") -> None:
        """Lock every setting (while training, or for an audit: ``why`` is shown) or unlock them."""
        self._read_only = read_only
        self.read_only_label.setText(why)
        for name, editor in self.editors.items():
            editor.setEnabled(not read_only and self._editor_active(name))
        for toggle in self.toggles.values():
            toggle.setEnabled(not read_only)
        self.reset_button.setEnabled(not read_only)
        self.read_only_label.setVisible(read_only)

    def editor(self, name: str) -> QWidget:
        """The editor of setting ``name`` (a NumberEdit, QComboBox or QCheckBox)."""
        return self.editors[name]

    def message(self) -> str:
        """The message now shown under the form ("" if none)."""
        return self.message_label.text() if not self.message_label.isHidden() else ""

    # ------------------------------------------------------------------ showing
    def _show(self, f: SettingField, value: Any) -> None:
        editor = self.editors[f.name]
        editor.blockSignals(True)
        try:
            if f.name == "objective":
                self._set_combo(editor, value)  # type: ignore[arg-type]
                self._fill_metrics()
            elif f.name == "device":
                self._fill_devices(value)
            elif f.name == "early_stopping_metric":
                self._fill_metrics(value)
            elif isinstance(editor, QComboBox):
                self._set_combo(editor, value)
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, NumberEdit):
                if f.optional:
                    toggle = self.toggles[f.name]
                    toggle.blockSignals(True)
                    toggle.setChecked(value is not None)
                    toggle.blockSignals(False)
                    if value is None:
                        # keep what the user last typed, so turning it back on restores it
                        if editor.value() is None:
                            editor.setText(_number_text(f.off_value))
                    else:
                        editor.setText(_number_text(value))
                else:
                    editor.setText(_number_text(value))
                editor.setCursorPosition(0)
        finally:
            editor.blockSignals(False)

    @staticmethod
    def _set_combo(combo: QComboBox, value: Any) -> None:
        index = combo.findData(value)
        if index < 0:
            combo.addItem(f"{value} (unknown)", value)
            index = combo.count() - 1
        combo.setCurrentIndex(index)

    def _fill_devices(self, current: Any = None) -> None:
        combo = self.editors["device"]
        assert isinstance(combo, QComboBox)
        current = current if current is not None else self._values.get("device", "auto")
        combo.blockSignals(True)
        combo.clear()
        for d in self._devices:
            combo.addItem(_DEVICE_LABELS.get(d, d), d)
        if current not in self._devices:
            # a project made on another machine: show its choice honestly
            combo.addItem(f"{_DEVICE_LABELS.get(current, current)} (not available here)", current)
        combo.setCurrentIndex(combo.findData(current))
        combo.blockSignals(False)

    def _metric_list(self, objective: Any = None) -> list[str]:
        objective = objective if objective is not None else self._objective()
        return self._metrics.get(str(objective), ["val_loss"])

    def _objective(self) -> str:
        combo = self.editors["objective"]
        assert isinstance(combo, QComboBox)
        return str(combo.currentData() or self._values.get("objective", "classification"))

    def _fill_metrics(self, current: Any = None) -> None:
        combo = self.editors["early_stopping_metric"]
        assert isinstance(combo, QComboBox)
        current = current if current is not None else self._values.get(
            "early_stopping_metric", "val_loss"
        )
        was = combo.signalsBlocked()
        combo.blockSignals(True)
        combo.clear()
        for m in self._metric_list():
            combo.addItem(_METRIC_LABELS.get(m, m), m)
        index = combo.findData(current)
        if index < 0:
            combo.addItem(f"{current} (does not apply)", current)
            index = combo.count() - 1
        combo.setCurrentIndex(index)
        combo.blockSignals(was)

    def _editor_active(self, name: str) -> bool:
        if name in self.toggles:
            return self.toggles[name].isChecked()
        if name == "early_stopping_metric":
            return self.toggles["early_stopping_patience"].isChecked()
        return True

    def _update_visibility(self) -> None:
        optimizer = self._values.get("optimizer", "adam")
        schedule = self._values.get("schedule", "none")
        visible = {
            "momentum": optimizer in ("sgd", "rmsprop"),
            "nesterov": optimizer == "sgd",
            "beta1": optimizer in ("adam", "adamw"),
            "beta2": optimizer in ("adam", "adamw"),
            "step_size": schedule == "step",
            "gamma": schedule == "step",
        }
        for name, form in self._forms.items():
            editor = self.editors[name]
            row_widget = editor.parentWidget() if name in self.toggles else editor
            form.setRowVisible(row_widget, visible.get(name, True))
            editor.setEnabled(not self._read_only and self._editor_active(name))

    # ------------------------------------------------------------------ editing
    def _field_text(self, name: str) -> tuple[Any, str | None]:
        editor = self.editors[name]
        assert isinstance(editor, NumberEdit)
        return parse_setting(_BY_NAME[name], editor.text())

    def _validate(self, name: str) -> None:
        if self._quiet:
            return
        _, problem = self._field_text(name)
        self._set_error(name, problem)

    def _on_number(self, name: str) -> None:
        if self._quiet or self._read_only:
            return
        if name in self.toggles and not self.toggles[name].isChecked():
            return
        value, problem = self._field_text(name)
        self._set_error(name, problem)
        if problem is None:
            self._emit({name: value}, name)

    def _on_toggle(self, name: str, on: bool) -> None:
        if self._quiet:
            return
        if not on:
            self._set_error(name, None)
            self._emit({name: None}, name)
            self._update_visibility()
            return
        value, problem = self._field_text(name)
        self._set_error(name, problem)
        if problem is None:
            self._emit({name: value}, name)
        self._update_visibility()

    def _on_choice(self, name: str) -> None:
        if self._quiet:
            return
        combo = self.editors[name]
        assert isinstance(combo, QComboBox)
        value = combo.currentData()
        changes: dict[str, Any] = {name: value}
        if name == "optimizer" and value != "sgd" and self._values.get("nesterov"):
            changes["nesterov"] = False  # Nesterov momentum exists only for SGD
        if name == "objective":
            self._fill_metrics()
            metric = self._values.get("early_stopping_metric", "val_loss")
            if metric not in self._metric_list(value):
                changes["early_stopping_metric"] = "val_loss"
        self._emit(changes, name)

    def _emit(self, changes: dict[str, Any], name: str) -> None:
        if self._quiet or self._read_only:
            return
        if all(self._same(self._values.get(k, _MISSING), v) for k, v in changes.items()):
            return
        self._errors.pop("_refused", None)
        self._show_message()
        self.settings_changed.emit(changes)

    @staticmethod
    def _same(a: Any, b: Any) -> bool:
        if isinstance(a, bool) or isinstance(b, bool):
            return type(a) is type(b) and a == b
        return a == b

    def _on_reset(self) -> None:
        if not self._read_only:
            self.reset_requested.emit()

    def _set_error(self, name: str, problem: str | None) -> None:
        self._mark(name, problem is not None)
        if problem is None:
            self._errors.pop(name, None)
        else:
            self._errors.pop(name, None)
            self._errors[name] = problem  # the newest message goes last and is shown
        self._show_message()

    def _mark(self, name: str, invalid: bool) -> None:
        editor = self.editors[name]
        if isinstance(editor, QLineEdit):
            _mark(editor, invalid)

    def problems(self) -> dict[str, str]:
        """Every field that holds an invalid value, with its reason (empty when all are valid)."""
        return dict(self._errors)

    def _show_message(self) -> None:
        if self._errors:
            # every invalid field, each with its reason: the action they feed waits for all
            self.message_label.setText("\n".join(self._errors.values()))
            self.message_label.show()
        else:
            self.message_label.clear()
            self.message_label.hide()
        if self._errors != getattr(self, "_shown_errors", {}):
            self._shown_errors = dict(self._errors)
            self.validity_changed.emit(not self._errors)


_MISSING = object()


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    form = TrainSettings()
    form.set_metric_choices(
        {
            "classification": ["val_loss", "train_loss", "val_accuracy", "val_f1", "val_auc"],
            "regression": ["val_loss", "train_loss", "val_mae", "val_r2"],
            "reconstruction": ["val_loss", "train_loss", "val_mse"],
        }
    )
    form.set_devices(["auto", "cpu"])
    settings = {
        "objective": "classification",
        "optimizer": "sgd",
        "lr": 0.01,
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 0.0001,
        "schedule": "step",
        "step_size": 10,
        "gamma": 0.5,
        "warmup_epochs": 1,
        "batch_size": 32,
        "epochs": 20,
        "grad_clip": None,
        "early_stopping_patience": 5,
        "early_stopping_metric": "val_accuracy",
        "seed": 0,
        "device": "auto",
    }
    form.set_values(settings)

    def accept(changes: dict[str, Any]) -> None:
        print("changed", changes)
        settings.update(changes)
        form.set_values(settings)

    form.settings_changed.connect(accept)
    form.reset_requested.connect(lambda: print("reset requested"))
    form.resize(360, 640)
    form.show()
    app.exec()
