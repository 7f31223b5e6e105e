"""The palette and the inspector on their own: plain data in, signals out."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLineEdit, QSpinBox

from widgets.inspector import Inspector
from widgets.palette import LayerPalette

pytestmark = pytest.mark.gui

LAYERS = [
    {"id": "linear", "title": "Linear", "category": "dense", "help": "Fully connected layer"},
    {"id": "conv2d", "title": "Conv 2D", "category": "convolution", "help": "2-D convolution"},
    {"id": "relu", "title": "ReLU", "category": "activation", "help": "max(0, x)"},
]

PARAMS = [
    {"name": "units", "kind": "int", "default": 64, "help": "width", "min": 1, "max": 4096,
     "choices": [], "optional": False},
    {"name": "rate", "kind": "float", "default": 0.5, "help": "p", "min": 0.0, "max": 1.0,
     "choices": [], "optional": False},
    {"name": "kernel", "kind": "ints", "default": [3, 3], "help": "k", "min": 1, "max": 15,
     "choices": [], "optional": False},
]


def test_palette_filters_and_requests(qtbot) -> None:
    palette = LayerPalette()
    qtbot.addWidget(palette)
    palette.set_layers(LAYERS)
    assert set(palette.visible_layer_ids()) == {"linear", "conv2d", "relu"}
    palette.search.setText("CONV")
    assert palette.visible_layer_ids() == ["conv2d"]
    with qtbot.waitSignal(palette.layer_requested) as blocker:
        palette.search.returnPressed.emit()
    assert blocker.args == ["conv2d"]
    palette.search.setText("zzz-no-such-layer")
    assert palette.visible_layer_ids() == []


def test_inspector_emits_typed_values_once_and_refuses_bad_ones(qtbot) -> None:
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.set_node("fc1", "Linear", PARAMS, {"units": 64, "rate": 0.5, "kernel": [3, 3]})
    seen: list[tuple] = []
    inspector.param_changed.connect(lambda *a: seen.append(a))

    inspector.update_values({"units": 10, "rate": 0.25, "kernel": [5, 5]})  # from outside
    assert seen == []

    spin = inspector.fields["units"].editor
    assert isinstance(spin, QSpinBox)
    spin.setValue(128)
    assert seen == [("fc1", "units", 128)] and isinstance(seen[0][2], int)

    rate = inspector.fields["rate"].editor
    assert isinstance(rate, QLineEdit)
    rate.setText("2.5")  # above the maximum
    rate.editingFinished.emit()
    assert len(seen) == 1 and inspector.message()
    rate.setText("1e-1")
    rate.editingFinished.emit()
    assert seen[-1] == ("fc1", "rate", 0.1)

    kernel = inspector.fields["kernel"].editor
    kernel.setText("3, x")
    kernel.editingFinished.emit()
    assert len(seen) == 2
    kernel.setText("7, 7")
    kernel.editingFinished.emit()
    assert seen[-1] == ("fc1", "kernel", [7, 7])
