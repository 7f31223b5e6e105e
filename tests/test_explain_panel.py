"""The Explanations dock, driven through the real main window (offscreen Qt)."""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from widgets.explain.common import ERROR
from widgets.explain.image import display_map

pytestmark = pytest.mark.gui


# ------------------------------------------------------------------------------ headless
def test_source_values_undo_the_preprocessing_by_hand() -> None:
    from workbench.gui.explain_panel import source_values

    preprocessing = {
        "columns": [
            {"name": "age", "type": "numeric", "mean": 40.0, "std": 10.0},
            {"name": "housing", "type": "categorical", "categories": ["free", "own", "rent"]},
        ],
        "feature_names": ["age", "housing=free", "housing=own", "housing=rent"],
    }
    X = np.array([[-1.5, 0, 1, 0], [0.2, 0, 0, 1], [0.0, 0, 0, 0]], dtype=np.float32)
    got = source_values(preprocessing, X, ["housing", "age"])
    assert [row[0] for row in got] == ["own", "rent", "(unseen)"]
    assert [row[1] for row in got] == pytest.approx([25.0, 42.0, 40.0])
    # not grouped: one-hot columns stay model inputs, numeric ones go back to their units
    got = source_values(preprocessing, X, ["age", "housing=own"])
    assert got == [pytest.approx([25.0, 1.0]), pytest.approx([42.0, 0.0]),
                   pytest.approx([40.0, 0.0])]


# ------------------------------------------------------------------------------ fixtures
def _trained_file(folder: Path, template: str, dataset: str) -> Path:
    """A project with one short run (one epoch, large batches), saved once per module."""
    from engines.data import builtin_spec
    from workbench.core.project import save_project
    from workbench.core.session import create_project, train_run

    project = create_project(template, builtin_spec(dataset))
    train_run(project, overrides={"epochs": 1, "batch_size": 256})
    path = folder / f"{template}_{dataset}.wbproj"
    save_project(project, path)
    return path


@pytest.fixture(scope="module")
def digits_file(tmp_path_factory) -> Path:
    return _trained_file(tmp_path_factory.mktemp("digits"), "lenet5", "digits")


@pytest.fixture(scope="module")
def credit_file(tmp_path_factory) -> Path:
    return _trained_file(tmp_path_factory.mktemp("credit"), "mlp", "german_credit")


def _window(make_main_window, path: Path):
    from workbench.core.project import load_project

    w = make_main_window()
    w.set_project(load_project(path), path)
    return w, w.explain_panel


def _test_rows(project, n: int) -> list[int]:
    from workbench.core.session import load_data

    data = load_data(project)
    return [int(r) for r in data.row_ids[data.splits["test"]][:n]]


def _ask(panel, methods, ids, layer=None) -> None:
    """Tick methods, type row ids and press Explain, as a user does."""
    c = panel.controls
    c.set_checked_methods(methods)
    c.set_sample_choice("ids", ids=", ".join(str(i) for i in ids))
    if layer is not None:
        c.layer_combo.setCurrentText(layer)
    assert c.explain_button.isEnabled(), c.problem()
    c.explain_button.click()


def _is_red(panel) -> bool:
    label = panel.controls.message_label
    return label.isVisibleTo(panel.controls) and ERROR in label.styleSheet()


class _Spy:
    """Counts calls of workbench.core.analysis.explain_run (and sees cancellation)."""

    def __init__(self, monkeypatch) -> None:
        from workbench.core import analysis

        self.real = analysis.explain_run
        self.calls: list[str] = []
        self.cancelled: list[str] = []
        self.entered = threading.Event()
        monkeypatch.setattr(analysis, "explain_run", self)

    def __call__(self, project, method, **kwargs):
        self.calls.append(method)
        self.entered.set()
        try:
            return self.real(project, method, **kwargs)
        finally:
            cancel = kwargs.get("cancel")
            if cancel is not None and cancel():
                self.cancelled.append(method)


# --------------------------------------------------------------------------------- images
def test_digits_maps_in_the_grid_equal_explain_run(make_main_window, qtbot, digits_file, tmp_path) -> None:
    from workbench.core.analysis import explain_run

    w, panel = _window(make_main_window, digits_file)
    assert panel.kind == "image"
    ids = {panel.controls.method_list.item(i).data(256)
           for i in range(panel.controls.method_list.count())}
    assert "gradcam" in ids and "saliency" in ids
    assert [panel.controls.layer_combo.itemText(i)
            for i in range(panel.controls.layer_combo.count())] == ["conv1", "conv2"]
    assert w.explain_dock.toggleViewAction() in w.menuBar().actions()[2].menu().actions()
    rows = _test_rows(w.project, 2)
    with qtbot.waitSignal(panel.runner.finished, timeout=120_000):
        _ask(panel, ["saliency", "ig"], rows)
    assert not _is_red(panel)
    assert panel.stack.currentWidget() is panel.grid
    assert len(panel.grid.cells) == 2 and len(panel.grid.cells[0]) == 2
    for m, method in enumerate(["saliency", "ig"]):
        direct = explain_run(w.project, method, samples=rows, split="test")
        assert direct.row_ids == rows
        for s in range(2):
            shown = panel.grid.cells[m][s].heat.image
            np.testing.assert_allclose(shown, display_map(direct.result.attributions[s]),
                                       rtol=1e-6, atol=1e-9)
    # kept in the project as one undoable step, and the window knows it is unsaved
    run = w.project.active()
    assert [a.meta["method"] for a in run.analyses] == ["saliency", "ig"]
    assert all(a.epoch is None for a in run.analyses) and w.dirty
    # the dock's export reaches the view shown
    png, values = tmp_path / "maps.png", tmp_path / "maps.csv"
    panel.export_png(str(png))
    panel.export_csv(str(values))
    assert png.stat().st_size > 1000
    with open(values, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 2 * 2 * 8 * 8  # methods × samples × pixels


def test_checks_match_the_engine(make_main_window, qtbot, digits_file) -> None:
    from engines import explain as ex
    from workbench.core.session import load_data, model_for

    w, panel = _window(make_main_window, digits_file)
    rows = _test_rows(w.project, 3)
    with qtbot.waitSignal(panel.runner.finished, timeout=120_000):
        _ask(panel, ["saliency"], rows)
    for check in ("deletion", "infidelity", "randomisation"):
        with qtbot.waitSignal(panel.check_runner.finished, timeout=120_000):
            panel.run_check(check)
    shown = panel.shown_analyses()[0]
    result = ex.AttributionResult.from_dict(
        {**shown.meta, "attributions": shown.arrays["attributions"]})
    model = model_for(w.project, w.project.active())
    data = load_data(w.project)
    x = data.X[np.searchsorted(data.row_ids, rows)]
    found = ex.deletion_insertion(model, x, result, steps=20)
    assert panel.checks.score("saliency", "deletion_auc") == pytest.approx(
        float(found["aucs"]["deletion"].mean()))
    assert panel.checks.score("saliency", "insertion_auc") == pytest.approx(
        float(found["aucs"]["insertion"].mean()))
    infid = ex.infidelity(model, x, result, n_perturb=50, seed=0)
    assert panel.checks.score("saliency", "infidelity") == pytest.approx(float(infid.mean()))
    layers = panel.checks.results()[0]["randomisation"]["layers"]
    assert [name for name, _rho in layers] == ["head", "fc2", "fc1", "conv2", "conv1"]
    assert all(-1.0 <= rho <= 1.0 for _name, rho in layers if np.isfinite(rho))
    assert panel.checks.score("saliency", "sensitivity") is None  # not asked: not shown


# --------------------------------------------------------------------------------- tables
def test_credit_shapley_adds_up_to_the_output_change(make_main_window, qtbot, credit_file) -> None:
    import torch

    from workbench.core.session import load_data, model_for

    w, panel = _window(make_main_window, credit_file)
    assert panel.kind == "table"
    methods = {panel.controls.method_list.item(i).data(256)
               for i in range(panel.controls.method_list.count())}
    assert {"shapley", "kernelshap", "lime"} <= methods and "gradcam" not in methods
    rows = _test_rows(w.project, 3)
    with qtbot.waitSignal(panel.runner.finished, timeout=120_000):
        _ask(panel, ["shapley"], rows)
    assert panel.stack.currentWidget() is panel.table
    view = panel.table
    view.set_top_k(100)
    view.set_mode("bar")
    data = load_data(w.project)
    model = model_for(w.project, w.project.active())
    x = data.X[np.searchsorted(data.row_ids, rows)]
    baseline = data.X[data.splits["train"]].mean(axis=0, keepdims=True)
    with torch.no_grad():
        logits = model(torch.as_tensor(x)).double().numpy()
        reference = model(torch.as_tensor(baseline)).double().numpy()[0]
    for s in range(3):
        view.set_sample(s)
        bars = view.shown_bars("bar")
        names = [label.split(" = ")[0] for label, _a, _b in bars]
        assert sorted(names) == sorted(["job", "housing", "saving_accounts", "checking_account",
                                        "credit_amount", "duration", "purpose"])
        total = sum(end - start for _label, start, end in bars)
        target = int(np.argmax(logits[s]))
        assert total == pytest.approx(logits[s, target] - reference[target], abs=1e-5)
    # the beeswarm is coloured by the source values: numbers in their own units, text for
    # categories (credit amounts are in the hundreds or thousands, not standardised)
    values = panel.shown_analyses()[0].meta["feature_values"]
    names = panel.shown_analyses()[0].meta["feature_names"]
    amount = [row[names.index("credit_amount")] for row in values]
    assert all(a > 100 for a in amount)
    assert all(isinstance(row[names.index("housing")], str) for row in values)


# --------------------------------------------------------------------------------- errors
def test_errors_are_red_messages_and_nothing_is_kept(make_main_window, qtbot, digits_file) -> None:
    w, panel = _window(make_main_window, digits_file)
    run = w.project.active()
    panel.explain({"methods": ["gradcam"], "how": "first", "n": 2, "split": "test",
                   "layer": None})
    assert _is_red(panel) and "layer" in panel.controls.message()
    assert not panel.runner.is_busy()

    with qtbot.waitSignal(panel.runner.failed, timeout=120_000):
        _ask(panel, ["saliency"], [999_999])
    assert _is_red(panel) and "999999" in panel.controls.message()
    assert not panel.controls.cancel_button.isEnabled()

    with qtbot.waitSignal(panel.runner.failed, timeout=120_000):
        panel.explain({"methods": ["gradcam"], "how": "first", "n": 2, "split": "test",
                       "layer": "fc1"})
    assert _is_red(panel) and "fc1" in panel.controls.message()
    assert run.analyses == [] and not w.dirty


def test_a_newer_request_cancels_the_running_one(make_main_window, qtbot, digits_file,
                                                 monkeypatch) -> None:
    w, panel = _window(make_main_window, digits_file)
    spy = _Spy(monkeypatch)
    rows = _test_rows(w.project, 8)
    finished: list[object] = []
    panel.runner.finished.connect(finished.append)
    _ask(panel, ["kernelshap", "lime"], rows)  # slow: thousands of model calls per sample
    assert spy.entered.wait(60)
    with qtbot.waitSignal(panel.runner.finished, timeout=120_000):
        _ask(panel, ["saliency"], rows[:2])
    qtbot.waitUntil(lambda: "kernelshap" in spy.cancelled, timeout=60_000)
    qtbot.wait(100)
    assert len(finished) == 1
    assert "lime" not in spy.calls  # cancelled between methods too
    assert [a.meta["method"] for a in w.project.active().analyses] == ["saliency"]

    # Cancel stops a running request: nothing is kept, the message says so (not in red)
    spy.entered.clear()
    _ask(panel, ["kernelshap"], rows)
    assert spy.entered.wait(60) and panel.controls.cancel_button.isEnabled()
    with qtbot.waitSignal(panel.runner.cancelled, timeout=10_000):
        panel.controls.cancel_button.click()
    assert panel.controls.message() == "Cancelled." and not _is_red(panel)
    assert not panel.controls.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: spy.cancelled.count("kernelshap") == 2, timeout=60_000)
    assert len(finished) == 1 and len(w.project.active().analyses) == 1


# ---------------------------------------------------------------------------- the project
def test_save_reopen_shows_them_without_recomputing_and_undo_removes(
        make_main_window, qtbot, digits_file, tmp_path, monkeypatch) -> None:
    w, panel = _window(make_main_window, digits_file)
    rows = _test_rows(w.project, 2)
    with qtbot.waitSignal(panel.runner.finished, timeout=120_000):
        _ask(panel, ["saliency", "gradcam"], rows, layer="conv2")
    before = [[c.heat.image.copy() for c in row] for row in panel.grid.cells]
    assert panel.shown_analyses()[1].meta["layer"] == "conv2"
    path = tmp_path / "explained.wbproj"
    assert w._save_to(path) and not w.dirty

    spy = _Spy(monkeypatch)
    other, again = _window(make_main_window, path)
    assert spy.calls == []
    assert again.stack.currentWidget() is again.grid
    after = [[c.heat.image for c in row] for row in again.grid.cells]
    for row_a, row_b in zip(before, after, strict=True):
        for a, b in zip(row_a, row_b, strict=True):
            np.testing.assert_array_equal(a, b)
    assert again.slot_label.text() == "after training"

    # one Explain is one undo step: undo takes both maps away, redo brings them back
    with qtbot.waitSignal(again.runner.finished, timeout=120_000):
        _ask(again, ["ig"], rows)
    run = other.project.active()
    assert len(run.analyses) == 3 and other.dirty
    other.undo_action.trigger()
    assert [a.meta["method"] for a in run.analyses] == ["saliency", "gradcam"]
    assert [a.meta["method"] for a in again.shown_analyses()] == ["saliency", "gradcam"]
    assert not other.dirty
    other.undo_action.trigger()  # nothing of this window's left to undo: the file as opened
    assert len(run.analyses) == 2
    other.redo_action.trigger()
    assert [a.meta["method"] for a in again.shown_analyses()] == ["ig"]


# ------------------------------------------------------------------------------ live / pin
def _payloads(project, rows, epoch_scale):
    from workbench.core.analysis import explain_run

    out = []
    for method in ("saliency", "ig"):
        o = explain_run(project, method, samples=rows, split="test")
        result = o.result.to_dict()
        result["attributions"] = (np.asarray(result["attributions"]) * epoch_scale).tolist()
        out.append({"method": method, "result": result, "row_ids": o.row_ids,
                    "inputs": o.inputs.tolist()})
    return out


def test_live_analyses_append_epochs_and_the_slider_follows(make_main_window, qtbot,
                                                            digits_file) -> None:
    w, panel = _window(make_main_window, digits_file)
    run = w.project.active()
    rows = _test_rows(w.project, 2)
    for epoch in (1, 2, 3):
        for payload in _payloads(w.project, rows, epoch):
            panel.on_live_analysis("explanation", epoch, payload)
        assert panel.epochs() == list(range(1, epoch + 1))
        assert panel.slider.epoch() == epoch  # following the newest epoch
    assert [a.epoch for a in run.analyses] == [1, 1, 2, 2, 3, 3] and w.dirty
    ig_epoch_3 = np.asarray(run.analyses[5].arrays["attributions"])
    np.testing.assert_allclose(panel.grid.cells[1][0].heat.image, display_map(ig_epoch_3[0]))
    panel.slider.set_epoch(1)  # scrubbing back shows that epoch's maps
    np.testing.assert_allclose(panel.grid.cells[1][0].heat.image, ig_epoch_3[0].sum(0) / 3)
    assert panel.slot_label.text() == "after epoch 1"
    panel.on_live_analysis("fairness", 4, {})  # another panel's kind: not for this one
    assert panel.epochs() == [1, 2, 3]
    panel.on_live_analysis("explanation", 4, {"method": "ig", "result": {}, "row_ids": []})
    assert _is_red(panel) and panel.epochs() == [1, 2, 3]
    panel.on_live_analysis("explanation", 4, {"method": "gradcam", "error": "No conv layer."})
    assert _is_red(panel) and "gradcam at epoch 4 failed: No conv layer." in panel.controls.message()
    assert panel.epochs() == [1, 2, 3]


def test_pinned_run_gets_its_live_explanations_in_one_step(make_main_window, qtbot,
                                                           digits_file) -> None:
    w, panel = _window(make_main_window, digits_file)
    rows = _test_rows(w.project, 2)
    assert panel.pinned_spec() is None
    panel.controls.set_checked_methods(["saliency", "ig"])
    panel.controls.set_sample_choice("ids", ids=", ".join(map(str, rows)))
    panel.controls.pin_box.setChecked(True)
    assert panel.pinned_spec() == {"kind": "explanation", "methods": ["saliency", "ig"],
                                   "row_ids": rows, "split": "test", "layer": None, "seed": 0}
    old = w.project.active()
    w.worker.started.emit({"total_steps": 10, "class_names": []})  # as the training process
    for epoch in (1, 2):
        for payload in _payloads(w.project, rows, epoch):
            panel.on_live_analysis("explanation", epoch, payload)
    assert old.analyses == []  # kept for the run in training, not for the active one
    assert panel.epochs() == [1, 2] and panel.slot_label.text() == "live · after epoch 2"
    new = SimpleNamespace(**{f: getattr(old, f) for f in ("config", "history", "metrics",
                                                          "weights", "data_fingerprint")})
    from workbench.core.project import Run
    from workbench.core.session import TrainOutcome

    trained = Run(id=Run.new_id(), name="run 2", **vars(new))
    w.worker.finished.emit(TrainOutcome(run=trained, status="completed", message=""))
    assert w.project.active() is trained
    assert [a.epoch for a in trained.analyses] == [1, 1, 2, 2]
    assert panel.epochs() == [1, 2] and panel.slot_label.text() == "after epoch 2"
    # the run and its live explanations go together: deleting the run (explicit, undoable)
    assert w.run_list.delete([trained.id], confirm=False)
    assert trained not in w.project.runs and panel.shown_analyses() == []
    w.undo_action.trigger()
    assert w.project.run(trained.id).analyses == trained.analyses
