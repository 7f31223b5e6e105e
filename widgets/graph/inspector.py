"""An inspector for one node: a form generated from its layer's parameter schema.

Plain data in (the node's parameter specs as dicts, as ``ParamSpec.to_dict()`` gives them,
and its current values), Qt signals out. The inspector validates as the user types, shows an
invalid value in red with a one-line message, and emits only valid, committed changes; it
never edits the document itself.
"""

from __future__ import annotations

import math
import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette, QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

__all__ = ["Inspector", "parse_float", "parse_ints"]

PLACEHOLDER = "Select a layer to edit its parameters"

_INT32_MIN, _INT32_MAX = -(2**31) + 1, 2**31 - 1
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_RE = re.compile(r"[+-]?[0-9]+")
_INVALID_BASE = QColor("#ffd7d7")
_INVALID_TEXT = QColor("#b71c1c")


def _number(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _range_problem(name: str, value: float, lo: float | None, hi: float | None) -> str | None:
    if lo is not None and value < lo:
        return f"{name}: {_number(value)} is below the minimum {_number(lo)}"
    if hi is not None and value > hi:
        return f"{name}: {_number(value)} is above the maximum {_number(hi)}"
    return None


def parse_float(text: str, spec: dict[str, Any]) -> tuple[float | None, str | None]:
    """Read a float field.

    Returns
    -------
    (value, problem)
        ``problem`` is a one-line message, or None when ``value`` is acceptable
        (``value`` is None for an empty optional field).
    """
    name = spec["name"]
    text = text.strip()
    if not text:
        return (None, None) if spec.get("optional") else (None, f"{name}: enter a number")
    if not _FLOAT_RE.fullmatch(text):
        return None, f"{name}: “{text[:20]}” is not a number (e.g. 0.5 or 1e-3)"
    value = float(text)
    if not math.isfinite(value):
        return None, f"{name}: {text[:20]} is too large"
    problem = _range_problem(name, value, spec.get("min"), spec.get("max"))
    return (None, problem) if problem else (value, None)


def parse_ints(text: str, spec: dict[str, Any]) -> tuple[list[int] | None, str | None]:
    """Read an ints field such as ``"3, 3"`` (commas or spaces between whole numbers).

    Returns
    -------
    (value, problem)
        As :func:`parse_float`; ``value`` is a list of ints.
    """
    name = spec["name"]
    text = text.strip()
    if not text:
        return (
            (None, None)
            if spec.get("optional")
            else (None, f"{name}: enter whole numbers separated by commas")
        )
    parts = [p for p in re.split(r"[,\s]+", text) if p]
    bad = next((p for p in parts if not _INT_RE.fullmatch(p)), None)
    if bad is not None or not parts:
        return None, f"{name}: “{(bad or text)[:20]}” is not a whole number"
    values = [int(p) for p in parts]
    for v in values:
        problem = _range_problem(name, v, spec.get("min"), spec.get("max"))
        if problem:
            return None, problem
    return values, None


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same kind: 1 never matches True, a tuple matches its list."""
    a = list(a) if isinstance(a, tuple) else a
    b = list(b) if isinstance(b, tuple) else b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b  # 2 and 2.0 are the same setting
    return type(a) is type(b) and a == b


def _mark(widget: QWidget, invalid: bool) -> None:
    """Colour an editor red while its text is not acceptable."""
    if invalid:
        palette = QPalette(widget.palette())
        palette.setColor(QPalette.ColorRole.Base, _INVALID_BASE)
        palette.setColor(QPalette.ColorRole.Text, _INVALID_TEXT)
        widget.setPalette(palette)
    else:
        widget.setPalette(QPalette())  # nothing set: inherit the usual colours again


class _OptionalSpinBox(QSpinBox):
    """A spin box whose lowest value means "auto" (None); an empty field means auto too."""

    def validate(self, text: str, pos: int) -> object:
        if not text.strip():
            return QValidator.State.Acceptable
        return super().validate(text, pos)

    def valueFromText(self, text: str) -> int:  # noqa: N802 (Qt override)
        if not text.strip() or text.strip() == self.specialValueText():
            return self.minimum()
        return super().valueFromText(text)


class _Field:
    """One parameter row: its editor, how to show a value and how to read one back."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.name = str(spec["name"])
        self.kind = str(spec["kind"])
        self.optional = bool(spec.get("optional"))
        self.invalid = False
        self.editor = self._make_editor()

    def _make_editor(self) -> QWidget:
        kind, spec = self.kind, self.spec
        if kind == "int":
            spin = _OptionalSpinBox() if self.optional else QSpinBox()
            lo = _INT32_MIN if spec.get("min") is None else max(_INT32_MIN, int(spec["min"]))
            hi = _INT32_MAX if spec.get("max") is None else min(_INT32_MAX, int(spec["max"]))
            if self.optional:
                lo -= 1  # the "auto" value sits just below the real range
                spin.setSpecialValueText("auto")
            spin.setRange(lo, hi)
            spin.setKeyboardTracking(False)  # valueChanged on commit, not per keystroke
            spin.setAccelerated(True)
            return spin
        if kind == "bool":
            box = QCheckBox()
            box.setTristate(self.optional)
            return box
        if kind == "choice":
            combo = QComboBox()
            if self.optional:
                combo.addItem("auto", None)
            for choice in spec.get("choices") or []:
                combo.addItem(str(choice), choice)
            return combo
        edit = QLineEdit()
        if self.optional:
            edit.setPlaceholderText("auto")
        elif kind == "ints":
            edit.setPlaceholderText("e.g. 3, 3")
        return edit

    def show(self, value: Any) -> None:
        """Put ``value`` in the editor (the caller blocks the editor's signals)."""
        editor = self.editor
        if isinstance(editor, QSpinBox):
            editor.setValue(editor.minimum() if value is None else int(value))
        elif isinstance(editor, QCheckBox):
            if value is None:
                editor.setCheckState(Qt.CheckState.PartiallyChecked)
            else:
                editor.setChecked(bool(value))
        elif isinstance(editor, QComboBox):
            index = next((i for i in range(editor.count()) if _same(editor.itemData(i), value)), -1)
            editor.setCurrentIndex(index)
        elif isinstance(editor, QLineEdit):
            if value is None:
                text = ""
            elif self.kind == "float":
                text = repr(float(value))  # repr round-trips exactly; %g would not
            elif self.kind == "ints":
                text = ", ".join(str(int(v)) for v in value)
            else:
                text = str(value)
            editor.setText(text)
            editor.setCursorPosition(0)

    def read(self) -> tuple[Any, str | None]:
        """Return ``(value, problem)`` for what the editor holds now."""
        editor = self.editor
        if isinstance(editor, QSpinBox):
            if not editor.hasAcceptableInput():
                lo = editor.minimum() + (1 if self.optional else 0)
                return None, f"{self.name}: enter a whole number from {lo} to {editor.maximum()}"
            value = editor.value()  # up to date when valueChanged fires (on commit)
            if self.optional and value == editor.minimum():
                return None, None
            return int(value), None
        if isinstance(editor, QCheckBox):
            state = editor.checkState()
            if state == Qt.CheckState.PartiallyChecked:
                return None, None
            return state == Qt.CheckState.Checked, None
        if isinstance(editor, QComboBox):
            if editor.currentIndex() < 0:
                return None, f"{self.name}: choose a value"
            return editor.currentData(), None
        assert isinstance(editor, QLineEdit)
        text = editor.text()
        if self.kind == "float":
            return parse_float(text, self.spec)
        if self.kind == "ints":
            return parse_ints(text, self.spec)
        if self.optional and not text:
            return None, None
        return text, None

    def tooltip(self) -> str:
        spec = self.spec
        lines = [str(spec.get("help") or self.name)]
        lo, hi = spec.get("min"), spec.get("max")
        if lo is not None or hi is not None:
            lo_text = "−∞" if lo is None else _number(lo)
            hi_text = "∞" if hi is None else _number(hi)
            lines.append(f"Range: {lo_text} to {hi_text}")
        if self.kind == "ints":
            lines.append("Whole numbers separated by commas, e.g. 3, 3")
        if self.optional:
            lines.append("Leave empty (auto) to let the layer decide.")
        lines.append(f"Default: {_value_text(spec.get('default'))}")
        return "\n".join(lines)


def _value_text(value: Any) -> str:
    if value is None:
        return "auto"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


class Inspector(QWidget):
    """The parameters of one node as a form; emits each valid, committed change."""

    param_changed = Signal(str, str, object)  # node id, parameter name, the new typed value

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title_label = QLabel()
        font = QFont(self.title_label.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title_label.setFont(font)
        self.title_label.setWordWrap(True)
        self.id_label = QLabel()
        self.id_label.setStyleSheet("color: #607d8b;")
        self.id_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(
            "color: #b71c1c; background: #ffebee; border: 1px solid #ef9a9a;"
            " border-radius: 3px; padding: 4px;"
        )
        self.problem_label.hide()
        self.placeholder = QLabel(PLACEHOLDER)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #78909c; padding: 24px;")
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.message_label = QLabel()  # the one-line message about an invalid value
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #b71c1c;")
        self.message_label.hide()
        self.read_only_label = QLabel("Parameters cannot change while the model trains.")
        self.read_only_label.setStyleSheet("color: #607d8b; font-style: italic;")
        self.read_only_label.setWordWrap(True)
        self.read_only_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.title_label)
        layout.addWidget(self.id_label)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.scroll, 1)
        self.node_id = ""
        self.fields: dict[str, _Field] = {}
        self._resets: dict[str, QToolButton] = {}
        self._values: dict[str, Any] = {}  # the last committed (or pushed) value of each field
        self._errors: dict[str, str] = {}
        self._schema: list[dict[str, Any]] = []
        self._read_only = False
        self._quiet = False  # True while we fill editors: nothing the user did
        self.clear()

    # ------------------------------------------------------------------ public API
    def set_node(
        self, node_id: str, title: str, params: list[dict[str, Any]], values: dict[str, Any]
    ) -> None:
        """Show one node's parameters.

        Parameters
        ----------
        node_id, title
            The node's id and the display title of its layer type.
        params
            Its layer's parameter specs, each as ``ParamSpec.to_dict()`` gives it.
        values
            The node's current values by name; missing ones show the default.
        """
        self.title_label.setText(title)
        self.id_label.setText(node_id)
        for w in (self.title_label, self.id_label, self.scroll):
            w.show()
        self.placeholder.hide()
        if node_id == self.node_id and params == self._schema:
            # the same node pushed back after an edit: keep the editors (and the focus)
            self.update_values({p["name"]: values.get(p["name"], p.get("default")) for p in params})
            return
        self.node_id = node_id
        self._schema = [dict(p) for p in params]
        self.set_problem(None)  # another node's problem must not linger
        self._build(values)

    def clear(self) -> None:
        """Show no node: only the "select a layer" hint."""
        self.node_id = ""
        self._schema = []
        self._build({})
        for w in (self.title_label, self.id_label, self.scroll, self.problem_label):
            w.hide()
        self.placeholder.show()

    def update_values(self, values: dict[str, Any]) -> None:
        """Show these values (from outside, e.g. undo) without emitting ``param_changed``."""
        self._quiet = True
        try:
            for name, value in values.items():
                field = self.fields.get(name)
                if field is None:
                    continue
                field.editor.blockSignals(True)
                try:
                    field.show(value)
                finally:
                    field.editor.blockSignals(False)
                self._values[name] = list(value) if isinstance(value, tuple) else value
                self._set_error(name, None)
                self._refresh_reset(name)
        finally:
            self._quiet = False

    def set_problem(self, text: str | None) -> None:
        """Show the node's problem (e.g. its shape error) at the top in red; None hides it.

        Call it after :meth:`set_node`, which clears the problem when the node changes.
        """
        self.problem_label.setText(text or "")
        self.problem_label.setVisible(bool(text) and bool(self.node_id))

    def set_read_only(self, read_only: bool) -> None:
        """Lock the editors (while training) or unlock them."""
        self._read_only = read_only
        for name, field in self.fields.items():
            field.editor.setEnabled(not read_only)
            self._refresh_reset(name)
        self.read_only_label.setVisible(read_only and bool(self.fields))

    def value(self, name: str) -> Any:
        """The last committed value of parameter ``name``."""
        return self._values[name]

    def message(self) -> str:
        """The message about an invalid value now shown under the form ("" if none)."""
        return self.message_label.text() if self.message_label.isVisibleTo(self) else ""

    # ------------------------------------------------------------------ building
    def _build(self, values: dict[str, Any]) -> None:
        self._quiet = True
        old = self.scroll.takeWidget()
        if old is not None:
            for field in self.fields.values():
                field.editor.blockSignals(True)
            # the message labels outlive the form they sit under
            self.message_label.setParent(None)
            self.read_only_label.setParent(None)
            old.hide()
            old.deleteLater()
        self.fields, self._resets, self._values, self._errors = {}, {}, {}, {}
        self.message_label.hide()
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 4, 0, 4)
        form = QFormLayout()
        column.addLayout(form)
        column.addWidget(self.message_label)
        column.addWidget(self.read_only_label)
        column.addStretch(1)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for spec in self._schema:
            field = _Field(spec)
            name = field.name
            tip = field.tooltip()
            label = QLabel(name.replace("_", " "))
            label.setToolTip(tip)
            field.editor.setToolTip(tip)
            field.editor.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            reset = QToolButton()
            reset.setText("↺")
            reset.setAutoRaise(True)
            reset.setToolTip(f"Reset to the default ({_value_text(spec.get('default'))})")
            reset.clicked.connect(lambda _=False, n=name: self._reset(n))
            row = QWidget()
            row_layout = QHBoxLayout(row)
            row_layout.setContentsMargins(0, 0, 0, 0)
            row_layout.setSpacing(2)
            row_layout.addWidget(field.editor, 1)
            row_layout.addWidget(reset)
            form.addRow(label, row)
            self.fields[name] = field
            self._resets[name] = reset
            value = values.get(name, spec.get("default"))
            field.show(value)
            self._values[name] = list(value) if isinstance(value, tuple) else value
            self._connect(field)
            field.editor.setEnabled(not self._read_only)
            self._refresh_reset(name)
        if not self._schema and self.node_id:
            none = QLabel("This layer has no parameters.")
            none.setStyleSheet("color: #78909c;")
            form.addRow(none)
        self.scroll.setWidget(content)
        self.read_only_label.setVisible(self._read_only and bool(self.fields))
        self._quiet = False

    def _connect(self, field: _Field) -> None:
        name, editor = field.name, field.editor
        if isinstance(editor, QSpinBox):
            editor.lineEdit().textChanged.connect(lambda _t, n=name: self._validate(n))
            editor.valueChanged.connect(lambda _v, n=name: self._commit(n))
            # Qt throws an out-of-range entry back on leaving: say so, never silently
            editor.editingFinished.connect(lambda n=name: self._finish_spin(n))
        elif isinstance(editor, QCheckBox):
            editor.stateChanged.connect(lambda _s, n=name: self._commit(n))
        elif isinstance(editor, QComboBox):
            editor.currentIndexChanged.connect(lambda _i, n=name: self._commit(n))
        elif isinstance(editor, QLineEdit):
            editor.textChanged.connect(lambda _t, n=name: self._validate(n))
            editor.editingFinished.connect(lambda n=name: self._commit(n))

    # ------------------------------------------------------------------ editing
    def _validate(self, name: str) -> None:
        field = self.fields.get(name)
        if field is None:
            return
        _, problem = field.read()
        self._set_error(name, problem)

    def _finish_spin(self, name: str) -> None:
        pending = self._errors.get(name)
        self._validate(name)  # the box shows its previous value again: valid
        field = self.fields.get(name)
        if pending is not None and field is not None and not self._errors:
            kept, _ = field.read()
            self.message_label.setText(f"{pending.rstrip('.')}; it stays {kept}.")
            self.message_label.show()

    def _commit(self, name: str) -> None:
        field = self.fields.get(name)
        if field is None or self._quiet or self._read_only:
            return
        value, problem = field.read()
        self._set_error(name, problem)
        if problem is not None or _same(value, self._values.get(name)):
            return
        self._values[name] = value
        self._refresh_reset(name)
        self.param_changed.emit(self.node_id, name, value)

    def _reset(self, name: str) -> None:
        field = self.fields[name]
        field.editor.blockSignals(True)
        try:
            field.show(field.spec.get("default"))
        finally:
            field.editor.blockSignals(False)
        self._commit(name)

    def _set_error(self, name: str, problem: str | None) -> None:
        field = self.fields[name]
        field.invalid = problem is not None
        target = field.editor
        _mark(target.lineEdit() if isinstance(target, QSpinBox) else target, field.invalid)
        if problem is None:
            self._errors.pop(name, None)
        else:
            # the newest message goes last, so it is the one shown
            self._errors.pop(name, None)
            self._errors[name] = problem
        if self._errors:
            self.message_label.setText(list(self._errors.values())[-1])
            self.message_label.show()
        else:
            self.message_label.clear()
            self.message_label.hide()
        self._refresh_reset(name)

    def _refresh_reset(self, name: str) -> None:
        field, reset = self.fields.get(name), self._resets.get(name)
        if field is None or reset is None:
            return
        at_default = not field.invalid and _same(self._values.get(name), field.spec.get("default"))
        reset.setEnabled(not self._read_only and not at_default)


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    inspector = Inspector()
    spec = [
        {
            "name": "out_features",
            "kind": "int",
            "default": 64,
            "help": "Number of output features.",
            "min": 1,
            "max": 65536,
            "choices": [],
            "optional": False,
        },
        {
            "name": "in_features",
            "kind": "int",
            "default": None,
            "help": "Input features; leave empty to infer from the input.",
            "min": 1,
            "max": 65536,
            "choices": [],
            "optional": True,
        },
        {
            "name": "dropout",
            "kind": "float",
            "default": 0.1,
            "help": "Probability of zeroing an activation while training.",
            "min": 0.0,
            "max": 1.0,
            "choices": [],
            "optional": False,
        },
        {
            "name": "kernel",
            "kind": "ints",
            "default": [3, 3],
            "help": "Window (height, width).",
            "min": 1,
            "max": 64,
            "choices": [],
            "optional": False,
        },
        {
            "name": "bias",
            "kind": "bool",
            "default": True,
            "help": "Learn an additive bias.",
            "min": None,
            "max": None,
            "choices": [],
            "optional": False,
        },
        {
            "name": "activation",
            "kind": "choice",
            "default": "relu",
            "help": "Activation of the feed-forward network.",
            "min": None,
            "max": None,
            "choices": ["relu", "gelu"],
            "optional": False,
        },
        {
            "name": "label",
            "kind": "str",
            "default": "",
            "help": "A note shown on the node.",
            "min": None,
            "max": None,
            "choices": [],
            "optional": False,
        },
    ]
    inspector.set_node("fc1", "Linear", spec, {"out_features": 128, "dropout": 0.25})
    inspector.set_problem("expects 64 input features but receives 32")
    inspector.param_changed.connect(lambda n, k, v: print("changed", n, k, repr(v)))
    inspector.resize(340, 420)
    inspector.show()
    app.exec()
