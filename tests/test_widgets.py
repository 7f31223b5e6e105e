"""The layer palette and the parameter inspector, driven as a user drives them (offscreen Qt)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from engines.catalog import ParamSpec
from widgets.graph.inspector import PLACEHOLDER, Inspector
from widgets.graph.palette import LAYER_MIME_TYPE, LayerPalette

pytestmark = pytest.mark.gui

LAYERS = [
    {"id": "input", "title": "Input", "category": "Input/Output", "help": "Where samples enter."},
    {"id": "linear", "title": "Linear", "category": "Dense", "help": "Fully connected layer."},
    {"id": "conv2d", "title": "Conv 2D", "category": "Convolution", "help": "2-D convolution."},
    {
        "id": "dwsep_conv2d",
        "title": "Depthwise-separable conv 2D",
        "category": "Convolution",
        "help": "Per-channel then 1x1 MIXING.",
    },
    {"id": "relu", "title": "ReLU", "category": "Activation", "help": "max(0, x)."},
    {"id": "gelu", "title": "GELU", "category": "Activation", "help": "Gaussian error unit."},
]

SPECS = [
    ParamSpec("units", "int", 64, "Number of units.", min=1, max=1024),
    ParamSpec("in_features", "int", None, "Inferred when empty.", min=1, max=4096, optional=True),
    ParamSpec("dropout", "float", 0.1, "Drop probability.", min=0.0, max=1.0),
    ParamSpec("eps", "float", 1e-5, "Numerical safety.", min=1e-12, max=1.0),
    ParamSpec("kernel", "ints", (3, 3), "Window (height, width).", min=1, max=64),
    ParamSpec("bias", "bool", True, "Learn a bias."),
    ParamSpec("mode", "choice", "mean", "Pooling mode.", choices=("mean", "max")),
    ParamSpec("name", "str", "", "A note."),
]
PARAMS = [s.to_dict() for s in SPECS]
BY_NAME = {s.name: s for s in SPECS}


# ---------------------------------------------------------------- palette
@pytest.fixture
def palette(qtbot) -> LayerPalette:
    w = LayerPalette()
    qtbot.addWidget(w)
    w.set_layers(LAYERS)
    w.show()
    return w


def _item(palette: LayerPalette, layer_id: str):
    tree = palette.tree
    for i in range(tree.topLevelItemCount()):
        parent = tree.topLevelItem(i)
        for j in range(parent.childCount()):
            if parent.child(j).data(0, Qt.ItemDataRole.UserRole) == layer_id:
                return parent.child(j)
    raise KeyError(layer_id)


def test_palette_groups_by_category_in_order(palette: LayerPalette) -> None:
    assert palette.visible_categories() == ["Input/Output", "Dense", "Convolution", "Activation"]
    assert palette.visible_layer_ids() == [layer["id"] for layer in LAYERS]
    assert "Fully connected layer." in _item(palette, "linear").toolTip(0)


@pytest.mark.parametrize(
    ("text", "ids", "categories"),
    [
        ("conv", ["conv2d", "dwsep_conv2d"], ["Convolution"]),  # title, any case
        ("GELU", ["gelu"], ["Activation"]),
        ("dwsep", ["dwsep_conv2d"], ["Convolution"]),  # id
        ("mixing", ["dwsep_conv2d"], ["Convolution"]),  # help, case-insensitive
        ("  relu ", ["relu"], ["Activation"]),
        ("nothing like it", [], []),
    ],
)
def test_palette_search_filters_and_keeps_matching_categories(
    palette: LayerPalette, qtbot, text: str, ids: list[str], categories: list[str]
) -> None:
    qtbot.keyClicks(palette.search, text)
    assert palette.visible_layer_ids() == ids
    assert palette.visible_categories() == categories
    assert palette.empty_label.isVisible() == (not ids)
    palette.search.clear()
    assert palette.visible_layer_ids() == [layer["id"] for layer in LAYERS]
    assert not palette.empty_label.isVisible()


def test_enter_in_search_requests_the_first_match(palette: LayerPalette, qtbot) -> None:
    qtbot.keyClicks(palette.search, "conv")
    with qtbot.waitSignal(palette.layer_requested) as blocker:
        qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert blocker.args == ["conv2d"]


def test_enter_in_search_with_no_match_requests_nothing(palette: LayerPalette, qtbot) -> None:
    qtbot.keyClicks(palette.search, "zzz")
    with qtbot.assertNotEmitted(palette.layer_requested):
        qtbot.keyClick(palette.search, Qt.Key.Key_Return)


def test_double_click_and_enter_on_a_layer_request_it(palette: LayerPalette, qtbot) -> None:
    tree = palette.tree
    item = _item(palette, "relu")
    rect = tree.visualItemRect(item)
    # QTest's double-click event alone lacks the press an item view pairs it with
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(palette.layer_requested) as blocker:
        qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == ["relu"]
    tree.setCurrentItem(_item(palette, "linear"))
    with qtbot.waitSignal(palette.layer_requested) as blocker:
        qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert blocker.args == ["linear"]


def test_category_rows_request_nothing(palette: LayerPalette, qtbot) -> None:
    tree = palette.tree
    category = tree.topLevelItem(1)
    tree.setCurrentItem(category)
    with qtbot.assertNotEmitted(palette.layer_requested):
        qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert not category.isExpanded()  # Enter folds a category instead


def test_drag_carries_the_layer_id(palette: LayerPalette) -> None:
    tree = palette.tree
    item = _item(palette, "conv2d")
    assert item.flags() & Qt.ItemFlag.ItemIsDragEnabled
    assert not tree.topLevelItem(0).flags() & Qt.ItemFlag.ItemIsDragEnabled
    index = tree.indexFromItem(item)
    data = tree.model().mimeData([index])  # what QAbstractItemView.startDrag asks for
    assert data.formats() == [LAYER_MIME_TYPE]
    assert bytes(data.data(LAYER_MIME_TYPE)).decode() == "conv2d"
    assert tree.model().mimeTypes() == [LAYER_MIME_TYPE]


# ---------------------------------------------------------------- inspector
@pytest.fixture
def inspector(qtbot) -> Inspector:
    w = Inspector()
    qtbot.addWidget(w)
    w.set_node("n1", "Test layer", PARAMS, {"units": 32, "kernel": (5, 5)})
    w.show()
    return w


def _type_and_commit(qtbot, editor: QLineEdit, text: str) -> None:
    editor.setFocus()
    editor.selectAll()
    editor.del_()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)


def _recorder(inspector: Inspector) -> list[tuple[str, str, object]]:
    seen: list[tuple[str, str, object]] = []
    inspector.param_changed.connect(lambda *args: seen.append(args))
    return seen


def test_clear_shows_the_hint(qtbot) -> None:
    w = Inspector()
    qtbot.addWidget(w)
    w.show()
    assert w.placeholder.isVisible() and w.placeholder.text() == PLACEHOLDER
    assert not w.fields
    w.set_node("n1", "Test", PARAMS, {})
    assert not w.placeholder.isVisible()
    w.clear()
    assert w.placeholder.isVisible() and not w.fields and not w.scroll.isVisible()


def test_one_editor_per_kind(inspector: Inspector) -> None:
    editors = {name: type(f.editor) for name, f in inspector.fields.items()}
    assert issubclass(editors["units"], QSpinBox)
    assert issubclass(editors["in_features"], QSpinBox)
    assert editors["dropout"] is QLineEdit and editors["eps"] is QLineEdit
    assert editors["kernel"] is QLineEdit and editors["name"] is QLineEdit
    assert editors["bias"] is QCheckBox and editors["mode"] is QComboBox
    units = inspector.fields["units"].editor
    assert (units.minimum(), units.maximum(), units.value()) == (1, 1024, 32)
    assert inspector.fields["in_features"].editor.text() == "auto"
    assert inspector.fields["kernel"].editor.text() == "5, 5"
    assert inspector.fields["eps"].editor.text() == "1e-05"
    combo = inspector.fields["mode"].editor
    assert [combo.itemText(i) for i in range(combo.count())] == ["mean", "max"]
    assert "Drop probability." in inspector.fields["dropout"].editor.toolTip()
    assert "Range: 0 to 1" in inspector.fields["dropout"].editor.toolTip()


def test_valid_changes_emit_once_with_typed_values(inspector: Inspector, qtbot) -> None:
    seen = _recorder(inspector)
    units = inspector.fields["units"].editor
    units.lineEdit().selectAll()
    qtbot.keyClicks(units, "128")
    assert seen == []  # nothing while typing
    qtbot.keyClick(units, Qt.Key.Key_Return)
    _type_and_commit(qtbot, inspector.fields["dropout"].editor, "2.5e-1")
    _type_and_commit(qtbot, inspector.fields["kernel"].editor, "7 ,3")
    inspector.fields["bias"].editor.click()
    inspector.fields["mode"].editor.setCurrentIndex(1)
    _type_and_commit(qtbot, inspector.fields["name"].editor, "hello")
    assert seen == [
        ("n1", "units", 128),
        ("n1", "dropout", 0.25),
        ("n1", "kernel", [7, 3]),
        ("n1", "bias", False),
        ("n1", "mode", "max"),
        ("n1", "name", "hello"),
    ]
    assert type(seen[0][2]) is int and type(seen[1][2]) is float
    assert all(type(v) is int for v in seen[2][2])
    # committing again without a change, or a float written differently, emits nothing
    qtbot.keyClick(inspector.fields["dropout"].editor, Qt.Key.Key_Return)
    _type_and_commit(qtbot, inspector.fields["dropout"].editor, "0.250")
    inspector.fields["dropout"].editor.editingFinished.emit()  # focus loss after Enter
    assert len(seen) == 6
    for _, name, value in seen:
        assert BY_NAME[name].check(value) is None


def test_a_float_field_takes_an_int_as_a_float(inspector: Inspector, qtbot) -> None:
    seen = _recorder(inspector)
    _type_and_commit(qtbot, inspector.fields["dropout"].editor, "1")
    assert seen == [("n1", "dropout", 1.0)] and type(seen[0][2]) is float


def test_optional_fields_take_auto(inspector: Inspector, qtbot) -> None:
    seen = _recorder(inspector)
    spin = inspector.fields["in_features"].editor
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "12")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    spin.lineEdit().selectAll()
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Delete)
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert seen == [("n1", "in_features", 12), ("n1", "in_features", None)]
    assert spin.text() == "auto"


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("dropout", "1.5", "above the maximum 1"),
        ("dropout", "-0.1", "below the minimum 0"),
        ("dropout", "abc", "not a number"),
        ("dropout", "nan", "not a number"),
        ("dropout", "1e999", "too large"),
        ("dropout", "", "enter a number"),
        ("eps", "0", "below the minimum 1e-12"),
        ("kernel", "3, x", "not a whole number"),
        ("kernel", "3.5", "not a whole number"),
        ("kernel", "3, 65", "above the maximum 64"),
        ("kernel", "0", "below the minimum 1"),
        ("kernel", "", "enter whole numbers"),
    ],
)
def test_invalid_text_is_refused_with_a_message(
    inspector: Inspector, qtbot, name: str, text: str, fragment: str
) -> None:
    seen = _recorder(inspector)
    field = inspector.fields[name]
    _type_and_commit(qtbot, field.editor, text)
    assert seen == []
    assert field.invalid
    assert fragment in inspector.message() and name in inspector.message()
    assert field.editor.palette().base().color().name() == "#ffd7d7"
    # fixing it clears the message and emits the fixed value
    _type_and_commit(qtbot, field.editor, "2" if name == "kernel" else "0.5")
    assert not field.invalid and inspector.message() == ""
    assert len(seen) == 1 and seen[0][1] == name


def test_int_out_of_range_shows_a_message_and_emits_nothing(inspector: Inspector, qtbot) -> None:
    seen = _recorder(inspector)
    spin = inspector.fields["units"].editor
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "0")
    assert inspector.fields["units"].invalid
    assert "units" in inspector.message() and "1 to 1024" in inspector.message()
    qtbot.keyClick(spin, Qt.Key.Key_Return)  # the spin box throws the entry back
    assert seen == [] and spin.value() == 32
    # ... and says so: nothing reverts silently
    assert "1 to 1024" in inspector.message() and inspector.message().endswith("it stays 32.")
    assert not inspector.fields["units"].invalid


def test_update_values_emits_nothing(inspector: Inspector, qtbot) -> None:
    seen = _recorder(inspector)
    _type_and_commit(qtbot, inspector.fields["dropout"].editor, "garbage")
    inspector.update_values(
        {
            "units": 7,
            "in_features": 3,
            "dropout": 0.75,
            "kernel": (2, 4),
            "bias": False,
            "mode": "max",
            "name": "x",
            "unknown": 1,
        }
    )
    assert seen == []
    assert inspector.fields["units"].editor.value() == 7
    assert inspector.fields["in_features"].editor.value() == 3
    assert inspector.fields["dropout"].editor.text() == "0.75"
    assert inspector.fields["kernel"].editor.text() == "2, 4"
    assert not inspector.fields["bias"].editor.isChecked()
    assert inspector.fields["mode"].editor.currentText() == "max"
    assert inspector.message() == "" and not inspector.fields["dropout"].invalid
    # the pushed values are the new baseline: committing them unchanged emits nothing
    qtbot.keyClick(inspector.fields["dropout"].editor, Qt.Key.Key_Return)
    assert seen == []
    # pushing the same node back (as a controller does after an edit) keeps the editors
    editor = inspector.fields["units"].editor
    inspector.set_node("n1", "Test layer", PARAMS, {"units": 9})
    assert inspector.fields["units"].editor is editor and editor.value() == 9
    assert seen == []


def test_reset_to_default_emits_the_default(inspector: Inspector, qtbot) -> None:
    seen = _recorder(inspector)
    assert inspector._resets["units"].isEnabled()  # 32 is not the default
    assert not inspector._resets["dropout"].isEnabled()  # already at its default
    inspector._resets["units"].click()
    inspector._resets["kernel"].click()
    assert seen == [("n1", "units", 64), ("n1", "kernel", [3, 3])]
    assert not inspector._resets["units"].isEnabled()
    _type_and_commit(qtbot, inspector.fields["dropout"].editor, "oops")
    assert inspector._resets["dropout"].isEnabled()  # reset also repairs garbage
    inspector._resets["dropout"].click()
    assert len(seen) == 2  # the committed value was the default all along
    assert inspector.message() == "" and inspector.fields["dropout"].editor.text() == "0.1"


def test_problem_and_read_only(inspector: Inspector, qtbot) -> None:
    inspector.set_problem("expects 64 input features but receives 32")
    assert inspector.problem_label.isVisible()
    assert "receives 32" in inspector.problem_label.text()
    inspector.set_problem(None)
    assert not inspector.problem_label.isVisible()
    inspector.set_problem("a problem")
    inspector.set_node("n2", "Other", PARAMS, {})
    assert not inspector.problem_label.isVisible()  # it belonged to n1

    seen = _recorder(inspector)
    inspector.set_read_only(True)
    assert all(not f.editor.isEnabled() for f in inspector.fields.values())
    assert not any(b.isEnabled() for b in inspector._resets.values())
    assert inspector.read_only_label.isVisible()
    inspector.fields["bias"].editor.setChecked(False)  # even a programmatic poke
    assert seen == []
    inspector.set_read_only(False)
    assert all(f.editor.isEnabled() for f in inspector.fields.values())
    inspector.set_node("n3", "Other", PARAMS, {})
    inspector.fields["bias"].editor.click()
    assert seen == [("n3", "bias", False)]


def test_switching_nodes_never_emits_for_the_old_one(inspector: Inspector, qtbot) -> None:
    seen = _recorder(inspector)
    editor = inspector.fields["dropout"].editor
    editor.setFocus()
    qtbot.keyClicks(editor, "9")  # typed, not committed
    inspector.set_node("n2", "Other", PARAMS, {})
    inspector.clear()
    assert seen == []


# -------------------------------------------------- generated input (hypothesis)
_NUMBERISH = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="0123456789+-.eE, _", max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.lists(st.integers(-100, 100), max_size=4).map(lambda v: ", ".join(map(str, v))),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(["dropout", "eps", "kernel"]), text=_NUMBERISH)
def test_random_text_emits_only_valid_values(
    inspector: Inspector, qtbot, name: str, text: str
) -> None:
    inspector.set_node("fresh", "Test layer", PARAMS, {})  # a new node: every field at default
    seen = _recorder(inspector)
    field = inspector.fields[name]
    field.editor.setText(text)
    qtbot.keyClick(field.editor, Qt.Key.Key_Return)
    field.editor.editingFinished.emit()
    assert len(seen) <= 1
    for node_id, got_name, value in seen:
        assert (node_id, got_name) == ("fresh", name)
        assert BY_NAME[name].check(value) is None, value
        assert value is not None and value != BY_NAME[name].to_dict()["default"]
        if name == "kernel":
            assert type(value) is list and all(type(v) is int for v in value)
        else:
            assert type(value) is float and math.isfinite(value)
    if not seen:
        # either refused with a message, or the same as the default
        assert field.invalid == bool(inspector.message())


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.floats(min_value=0.0, max_value=1.0))
def test_any_in_range_float_comes_back_exactly(inspector: Inspector, qtbot, value: float) -> None:
    inspector.set_node("fresh", "Test layer", PARAMS, {"dropout": 0.5})
    seen = _recorder(inspector)
    _type_and_commit(qtbot, inspector.fields["dropout"].editor, repr(value))
    assert seen == ([] if value == 0.5 else [("fresh", "dropout", value)])


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(st.integers(1, 64), min_size=1, max_size=4),
    sep=st.sampled_from([",", ", ", " ", " , "]),
)
def test_any_in_range_ints_come_back_exactly(
    inspector: Inspector, qtbot, values: list[int], sep: str
) -> None:
    inspector.set_node("fresh", "Test layer", PARAMS, {"kernel": [99]})
    seen = _recorder(inspector)
    _type_and_commit(qtbot, inspector.fields["kernel"].editor, sep.join(map(str, values)))
    assert seen == [("fresh", "kernel", values)]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.floats(min_value=1e-12, max_value=1.0))
def test_a_shown_float_recommits_as_no_change(inspector: Inspector, qtbot, value: float) -> None:
    # the field must show a pushed value exactly, or Enter would "change" it by rounding
    inspector.update_values({"eps": value})
    seen = _recorder(inspector)
    editor = inspector.fields["eps"].editor
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert seen == [] and not inspector.fields["eps"].invalid
