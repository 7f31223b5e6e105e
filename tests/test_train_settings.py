"""The training settings form: alone, and in the real main window (offscreen Qt)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox

from engines.training import EPOCH_METRICS, ConfigError, TrainConfig
from widgets.training.settings import FIELDS, NumberEdit, TrainSettings, check_number, parse_setting

pytestmark = pytest.mark.gui

NUMERIC = [f for f in FIELDS if f.kind in ("int", "float")]
BY_NAME = {f.name: f for f in FIELDS}


def _engine_accepts(name: str, value: float) -> bool:
    """The oracle: does the training engine accept this value for this one setting?"""
    extra = {"epochs": 10**30} if name == "warmup_epochs" else {}  # warm-up must be < epochs
    try:
        TrainConfig(**{name: value}, **extra)
    except ConfigError:
        return False
    return True


@pytest.fixture
def form(qtbot) -> TrainSettings:
    w = TrainSettings()
    qtbot.addWidget(w)
    w.set_metric_choices({k: list(v) for k, v in EPOCH_METRICS.items()})
    w.set_devices(["auto", "cpu"])
    w.set_values(TrainConfig().to_dict())
    w.show()
    return w


def _choose(combo: QComboBox, value: str) -> None:
    combo.setCurrentIndex(combo.findData(value))


def _recorder(form: TrainSettings) -> list[dict]:
    got: list[dict] = []
    form.settings_changed.connect(got.append)
    return got


# ------------------------------------------------------------------ the form's schema
def test_fields_name_every_train_config_setting_with_its_kind() -> None:
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    assert sorted(f.name for f in FIELDS) == sorted(names)
    defaults = TrainConfig().to_dict()
    for f in NUMERIC:
        default = defaults[f.name]
        if default is not None:
            assert check_number(f, default) is None, f.name  # every default is in range
            assert isinstance(default, int if f.kind == "int" else float)


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(NUMERIC),
    value=st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=10),
        st.sampled_from([0.0, 1.0, -0.0, 1e-12, 0.999999, 1.000001, 2.0**63, 2.0**63 - 1024]),
        st.integers(min_value=-5, max_value=2**64),
        st.sampled_from([0, 1, 2**63 - 1, 2**63]),
    ),
)
def test_form_ranges_agree_with_the_engine(field, value) -> None:
    if field.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                return
            value = int(value)
    else:
        value = float(value)
    assert (check_number(field, value) is None) == _engine_accepts(field.name, value), (
        field.name,
        value,
    )


# ------------------------------------------------------------------ typing
def test_typed_number_is_emitted_and_bad_text_is_explained(form, qtbot) -> None:
    got = _recorder(form)
    lr = form.editor("lr")
    assert isinstance(lr, NumberEdit)
    lr.setValue(0.01)
    assert got == [{"lr": 0.01}]
    lr.setText("fast")
    assert "is not a number" in form.message()
    lr.committed.emit()
    assert got == [{"lr": 0.01}]  # nothing emitted for bad text
    lr.setText("-1")
    lr.committed.emit()
    assert form.message() == "Learning rate must be above 0, not -1."
    assert got == [{"lr": 0.01}]
    epochs = form.editor("epochs")
    epochs.setText("2.5")
    assert "not a whole number" in form.message()
    epochs.setText("12")
    epochs.committed.emit()
    assert got[-1] == {"epochs": 12} and isinstance(got[-1]["epochs"], int)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(field=st.sampled_from(NUMERIC), text=st.text(max_size=40))
def test_arbitrary_text_in_number_fields_never_raises(form, field, text) -> None:
    form.set_values(TrainConfig(grad_clip=1.0, early_stopping_patience=3).to_dict())
    got = _recorder(form)
    editor = form.editor(field.name)
    editor.setText(text)
    editor.committed.emit()
    value, problem = parse_setting(field, text)
    if problem is None:
        assert _engine_accepts(field.name, value)
        current = form.values()[field.name]
        assert got == ([] if value == current else [{field.name: value}])
        assert form.message() == ""
    else:
        assert got == []
        assert form.message().endswith(problem)
        assert form.message().endswith(".")
    form.settings_changed.disconnect()


# ------------------------------------------------------------------ dependent settings
def test_rows_follow_the_optimizer_and_schedule(form) -> None:
    def shown(name: str) -> bool:
        return form.editor(name).isVisibleTo(form)

    values = TrainConfig().to_dict()
    assert not shown("momentum") and not shown("nesterov") and not shown("gamma")
    form.set_values({**values, "optimizer": "sgd", "schedule": "step"})
    assert shown("momentum") and shown("nesterov") and shown("step_size") and shown("gamma")
    form.set_values({**values, "optimizer": "rmsprop"})
    assert shown("momentum") and not shown("nesterov") and not shown("step_size")


def test_leaving_sgd_turns_nesterov_off_in_the_same_edit(form) -> None:
    start = TrainConfig(optimizer="sgd", momentum=0.9, nesterov=True).to_dict()
    form.set_values(start)
    got = _recorder(form)
    _choose(form.editor("optimizer"), "adam")
    assert got == [{"optimizer": "adam", "nesterov": False}]
    TrainConfig.from_dict({**start, **got[0]})  # the engine accepts the combined edit


def test_objective_change_brings_a_metric_that_applies(form) -> None:
    start = TrainConfig(early_stopping_patience=3, early_stopping_metric="val_accuracy").to_dict()
    form.set_values(start)
    got = _recorder(form)
    _choose(form.editor("objective"), "regression")
    assert got == [{"objective": "regression", "early_stopping_metric": "val_loss"}]
    form.set_values(TrainConfig.from_dict({**start, **got[0]}).to_dict())  # as the document does
    metrics = form.editor("early_stopping_metric")
    assert [metrics.itemData(i) for i in range(metrics.count())] == list(EPOCH_METRICS["regression"])


def test_optional_settings_toggle_between_off_and_a_value(form) -> None:
    got = _recorder(form)
    toggle = form.toggles["early_stopping_patience"]
    patience = form.editor("early_stopping_patience")
    assert not toggle.isChecked() and not patience.isEnabled()
    assert not form.editor("early_stopping_metric").isEnabled()
    toggle.setChecked(True)
    assert got == [{"early_stopping_patience": 5}]
    form.set_values({**form.values(), "early_stopping_patience": 5})
    assert patience.isEnabled() and form.editor("early_stopping_metric").isEnabled()
    patience.setValue(2)
    assert got[-1] == {"early_stopping_patience": 2}
    form.set_values({**form.values(), "early_stopping_patience": 2})
    toggle.setChecked(False)
    assert got[-1] == {"early_stopping_patience": None}
    clip = form.toggles["grad_clip"]
    clip.setChecked(True)
    assert got[-1] == {"grad_clip": 1.0}


def test_refused_edit_keeps_typed_text_red_and_choices_snap_back(form) -> None:
    form.set_values(TrainConfig(epochs=5).to_dict())
    warmup = form.editor("warmup_epochs")
    warmup.setText("7")
    form.refuse("Setting 'warmup_epochs' (7) must be less than 'epochs' (5).", ["warmup_epochs"])
    assert warmup.text() == "7" and "less than 'epochs'" in form.message()
    optimizer = form.editor("optimizer")
    _choose(optimizer, "sgd")
    form.refuse("Refused.", ["optimizer"])
    # every problem is listed, the newest last
    assert optimizer.currentData() == "adam" and form.message().endswith("Refused.")
    assert "less than 'epochs'" in form.message()
    form.set_values(form.values())  # an accepted edit from the document clears the message
    assert form.message() == "" and warmup.text() == "0"


def test_read_only_locks_every_setting(form) -> None:
    got = _recorder(form)
    form.set_read_only(True)
    assert not form.editor("lr").isEnabled() and not form.reset_button.isEnabled()
    assert not form.toggles["grad_clip"].isEnabled()
    form.editor("epochs").setValue(3)
    assert got == []
    form.set_read_only(False)
    assert form.editor("lr").isEnabled()
    assert not form.editor("grad_clip").isEnabled()  # still off


def test_unknown_device_is_shown_as_not_available(form) -> None:
    form.set_values({**TrainConfig().to_dict(), "device": "cuda"})
    combo = form.editor("device")
    assert combo.currentData() == "cuda" and "not available" in combo.currentText()


# ------------------------------------------------------------------ in the main window
def _open_demo(make_main_window, qtbot):
    w = make_main_window()
    w.open_initial(None, demo=True)
    qtbot.waitUntil(lambda: w.project is not None, timeout=60_000)
    qtbot.waitUntil(lambda: not w.data_controller.busy, timeout=60_000)
    return w


def test_schedule_and_early_stopping_reach_the_run(make_main_window, qtbot) -> None:
    w = _open_demo(make_main_window, qtbot)
    form = w.train_settings
    stack = w.doc.undo_stack
    _choose(form.editor("schedule"), "cosine")
    assert w.project.train_config["schedule"] == "cosine"
    form.toggles["early_stopping_patience"].setChecked(True)
    form.editor("early_stopping_patience").setValue(2)
    assert w.project.train_config["early_stopping_patience"] == 2
    _choose(form.editor("early_stopping_metric"), "val_accuracy")
    form.editor("epochs").setValue(3)
    assert w.project.train_config["epochs"] == 3
    w.undo_action.trigger()
    assert w.project.train_config["epochs"] == 10
    assert form.editor("epochs").text() == "10"
    w.redo_action.trigger()
    assert form.editor("epochs").text() == "3"
    count = stack.count()

    w.start_training()
    assert not form.editor("lr").isEnabled()  # read-only while training
    with qtbot.waitSignal(w.worker.finished, timeout=120_000) as blocker:
        pass
    run = blocker.args[0].run
    assert run.config["schedule"] == "cosine"
    assert run.config["early_stopping_patience"] == 2
    assert run.config["early_stopping_metric"] == "val_accuracy"
    assert run.config["epochs"] == 3
    lr = np.asarray(run.history["step"]["lr"])
    # cosine annealing over the run: falls from the learning rate towards 0, never rises
    assert lr[0] == pytest.approx(w.project.train_config["lr"], rel=1e-3)
    assert np.all(np.diff(lr) <= 1e-12) and lr[-1] < 0.1 * lr[0]
    assert form.editor("lr").isEnabled()
    assert stack.count() == count and w.dirty  # a kept run, not an undo step; unsaved


def test_undo_of_a_setting_and_reset_to_template(make_main_window, qtbot) -> None:
    from workbench.core.session import default_train_config

    w = _open_demo(make_main_window, qtbot)
    form = w.train_settings
    start = dict(w.project.train_config)
    _choose(form.editor("optimizer"), "sgd")
    form.editor("momentum").setValue(0.9)
    nesterov = form.editor("nesterov")
    assert isinstance(nesterov, QCheckBox)
    nesterov.setChecked(True)
    assert w.project.train_config["nesterov"] is True
    w.undo_action.trigger()
    assert w.project.train_config["nesterov"] is False and not nesterov.isChecked()
    assert w.project.train_config["momentum"] == 0.9

    # a combination the engine refuses is explained and changes nothing
    form.editor("warmup_epochs").setValue(10)
    assert "must be less than 'epochs'" in form.message()
    assert w.project.train_config["warmup_epochs"] == 0

    form.reset_button.click()
    expected = default_train_config("mlp", "classification", 1000)
    assert w.project.train_config == expected
    assert form.editor("optimizer").currentData() == expected["optimizer"]
    assert form.message() == ""
    w.undo_action.trigger()  # the reset is one step
    assert w.project.train_config["optimizer"] == "sgd"
    while w.undo_action.isEnabled():
        w.undo_action.trigger()
    assert w.project.train_config == start


def test_arbitrary_text_in_the_window_never_raises(make_main_window, qtbot) -> None:
    w = _open_demo(make_main_window, qtbot)
    form = w.train_settings

    @settings(max_examples=60, deadline=None)
    @given(field=st.sampled_from(NUMERIC), text=st.text(max_size=30))
    def type_into(field, text) -> None:
        if field.name in form.toggles:
            form.toggles[field.name].setChecked(True)
        before = dict(w.project.train_config)
        editor = form.editor(field.name)
        editor.setText(text)
        editor.committed.emit()
        cfg = w.project.train_config
        TrainConfig.from_dict(cfg)  # whatever happened, the project's settings are usable
        value, problem = parse_setting(field, text)
        if problem is not None:
            # every invalid field is listed, this one last
            assert cfg == before and form.message().endswith(problem)
        elif cfg == before:
            # unchanged, or refused as a combination (warm-up not below epochs): explained
            assert before[field.name] == value or "must be less than" in form.message()
        else:
            assert cfg[field.name] == value
            assert isinstance(value, int) or math.isclose(cfg[field.name], value)

    type_into()


def test_any_invalid_setting_blocks_train_and_every_one_is_listed(make_main_window, qtbot) -> None:
    w = make_main_window()
    w.show()
    w.open_initial(None, demo=True)
    qtbot.waitUntil(lambda: w.project is not None and not w._loading, timeout=60_000)
    assert w.train_action.isEnabled()
    form = w.train_settings
    lr, batch = form.editor("lr"), form.editor("batch_size")
    lr.setFocus()
    qtbot.keyClicks(lr, "abc")  # appended to the value: not a number
    batch.selectAll()
    qtbot.keyClicks(batch, "0")
    qtbot.keyClick(batch, Qt.Key.Key_Tab)
    problems = form.problems()
    assert set(problems) == {"lr", "batch_size"}, problems
    assert not w.train_action.isEnabled() and not w.train_button.isEnabled()
    assert all(reason in w.train_button.toolTip() for reason in problems.values())
    assert all(reason in form.message() for reason in problems.values())  # one place lists both
    runs = len(w.project.runs)
    w.start_training()  # F5 anyway: nothing trains, the status bar says why
    assert not w.worker.is_running() and len(w.project.runs) == runs
    assert "Fix the training settings first" in w.statusBar().currentMessage()
    lr.selectAll()
    qtbot.keyClicks(lr, "0.01")
    qtbot.keyClick(lr, Qt.Key.Key_Tab)
    batch.selectAll()
    qtbot.keyClicks(batch, "16")
    qtbot.keyClick(batch, Qt.Key.Key_Tab)
    assert form.problems() == {} and w.train_action.isEnabled()
