"""The Fairness dock, driven through the real main window (offscreen Qt)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytestmark = pytest.mark.gui


# ------------------------------------------------------------------------------ fixtures
def _trained_file(folder: Path, dataset: str) -> Path:
    """An MLP project with one short run (one epoch, large batches), saved once per module."""
    from engines.data import builtin_spec
    from workbench.core.project import save_project
    from workbench.core.session import create_project, train_run

    project = create_project("mlp", builtin_spec(dataset), seed=0)
    train_run(project, overrides={"epochs": 1, "batch_size": 256}, name="baseline")
    path = folder / f"mlp_{dataset}.wbproj"
    save_project(project, path)
    return path


@pytest.fixture(scope="module")
def credit_file(tmp_path_factory) -> Path:
    return _trained_file(tmp_path_factory.mktemp("credit"), "german_credit")


@pytest.fixture(scope="module")
def iris_file(tmp_path_factory) -> Path:
    return _trained_file(tmp_path_factory.mktemp("iris"), "iris")


def _window(make_main_window, qtbot, path: Path):
    """The window on a saved project, once the dock has read the data's columns."""
    from workbench.core.project import load_project

    w = make_main_window()
    w.set_project(load_project(path), path)
    dock = w.fairness_panel
    qtbot.waitUntil(lambda: dock.facts is not None, timeout=60_000)
    return w, dock


def _tick(dock, columns, n_boot: int = 1000, split: str = "test") -> None:
    c = dock.panel.controls
    c.set_columns(dock.facts.sensitive, columns)
    c.boot_spin.setValue(n_boot)
    c.split_combo.setCurrentText(split)


def _audit(qtbot, dock) -> None:
    """Press Audit as a user does and wait for its result."""
    c = dock.panel.controls
    assert c.audit_button.isEnabled(), c.hint()
    with qtbot.waitSignal(dock.runner.finished, timeout=120_000):
        c.audit_button.click()


def _is_red(dock) -> bool:
    c = dock.panel.controls
    return bool(c.message()) and "b71c1c" in c.message_label.styleSheet()


def _audits(run) -> list:
    return [a for a in run.analyses if a.kind == "fairness" and a.epoch is None]


def _fmt(value: float, interval) -> str:
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


class _Spy:
    """Counts calls of workbench.core.analysis.audit_run."""

    def __init__(self, monkeypatch) -> None:
        from workbench.core import analysis

        self.real = analysis.audit_run
        self.calls = 0
        self.lock = threading.Lock()
        monkeypatch.setattr(analysis, "audit_run", self)

    def __call__(self, *args, **kwargs):
        with self.lock:
            self.calls += 1
        return self.real(*args, **kwargs)


# -------------------------------------------------------------------------------- audits
def test_audit_shows_what_audit_run_computes(make_main_window, qtbot, credit_file) -> None:
    from workbench.core.analysis import audit_run

    w, dock = _window(make_main_window, qtbot, credit_file)
    assert dock.facts.sensitive == ["sex", "age"]
    assert w.fairness_dock.toggleViewAction() in w.menuBar().actions()[2].menu().actions()
    assert w.fairness_dock in w.tabifiedDockWidgets(w.plots_dock)
    c = dock.panel.controls
    combo = c.favourable_combo
    assert [combo.itemData(i) for i in range(combo.count())] == ["0", "1"]
    # named as German credit's description says: risk 1 = good credit risk
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "0 — bad credit risk", "1 — good credit risk"]
    assert combo.currentData() == "1"  # favourable_label's choice
    _tick(dock, ["sex"])
    _audit(qtbot, dock)
    assert not _is_red(dock)

    run = w.project.active()
    (kept,) = _audits(run)
    direct = audit_run(w.project, ["sex"], split="test", favourable="1", n_boot=1000, seed=0)
    ours, theirs = dict(kept.meta["report"]), direct.report.to_dict()
    ours.pop("elapsed"), theirs.pop("elapsed")
    assert ours == theirs  # same seed: the same intervals, bit for bit
    table = dock.panel.table
    assert table.current_feature() == "sex"
    groups = direct.report.by_group["sex"]
    assert set(groups) == {"female", "male"}
    for group, values in groups.items():
        assert table.group_item(group, "size").text() == str(values["size"])
        for metric in ("selection_rate", "accuracy", "tpr", "fpr", "precision"):
            interval = direct.report.intervals["sex"][group][metric]
            assert table.group_item(group, metric).text() == _fmt(values[metric], interval)
    dp = direct.report.differences["sex"]["dp_difference"]
    # two groups: the signed difference in the report's stated order, with its interval
    signed = dp["signed"]
    assert signed["order"] == ["female", "male"]
    sign = "+" if signed["value"] > 0 else ""
    assert table.difference_item("dp_difference").text() == (
        f"female − male: {sign}{_fmt(signed['value'], signed['ci'])}"
    )

    # the threshold explorer has the sweep of the same scores: at the audit's threshold its
    # selection rates are the audit's
    explorer = dock.panel.threshold
    assert explorer.threshold() == pytest.approx(0.5)
    at = explorer.sweep.at(0.5)
    for group, values in groups.items():
        assert at[group]["selection_rate"] == pytest.approx(values["selection_rate"], abs=1e-12)
    # and the scatter has the audited run at its accuracy and DP difference
    assert dock.panel.runs.point_position(run.id) == pytest.approx(
        (dp["value"], direct.report.overall["accuracy"])
    )

    # one undo step takes the audit away, and the panel with it
    w.undo_action.trigger()
    assert _audits(run) == [] and dock.panel.runs.runs == []
    assert table.group_item("female", "size") is None


def test_bad_requests_are_messages(make_main_window, qtbot, iris_file, credit_file) -> None:
    w, dock = _window(make_main_window, qtbot, iris_file)
    c = dock.panel.controls
    assert dock.facts.sensitive == [] and c.columns_list.count() == 0
    assert "no sensitive columns" in c.message()
    assert not c.audit_button.isEnabled() and c.hint()
    # a request naming a column the data does not have is refused by the audit, in red
    options = {**c.options(), "sensitive": ["sex"], "favourable": "setosa"}
    with qtbot.waitSignal(dock.runner.failed, timeout=60_000):
        dock.audit(options)
    assert _is_red(dock) and "'sex' is not a sensitive column" in c.message()
    assert c.progress.isHidden() and not dock.runner.is_busy()
    assert _audits(w.project.active()) == []

    w2, dock2 = _window(make_main_window, qtbot, credit_file)
    c2 = dock2.panel.controls
    # settings the engine refuses come back as its sentence, in red
    with qtbot.waitSignal(dock2.runner.failed, timeout=60_000):
        dock2.audit({**c2.options(), "sensitive": ["sex"], "threshold": 2.0})
    assert _is_red(dock2) and "between 0 and 1" in c2.message()
    # settings that are not even numbers are refused before anything starts
    dock2.audit({**c2.options(), "sensitive": ["sex"], "n_boot": "many"})
    assert _is_red(dock2) and "could not be read" in c2.message()
    dock2.mitigate({**c2.options(), "sensitive": ["sex"], "kind": "magic"})
    assert _is_red(dock2) and "Unknown mitigation 'magic'" in c2.message()
    dock2.mitigate({**c2.options(), "sensitive": ["sex"], "kind": "penalty", "strength": "x"})
    assert _is_red(dock2) and "strength must be a number" in c2.message()
    assert len(w2.project.runs) == 1
    assert not dock2.runner.is_busy() and _audits(w2.project.active()) == []

    # no run to audit: said at once, nothing started
    w2.doc.remove_run(w2.project.runs[0].id)
    dock2.audit({**dock2.panel.controls.options(), "sensitive": ["sex"]})
    assert _is_red(dock2) and "Train a run first" in dock2.panel.controls.message()
    assert not dock2.runner.is_busy()


# ----------------------------------------------------------------------------- mitigation
def test_threshold_optimizer_makes_a_run_compared_with_the_baseline(
    make_main_window, qtbot, credit_file
) -> None:
    from workbench.core.analysis import audit_run

    w, dock = _window(make_main_window, qtbot, credit_file)
    base = w.project.active()
    _tick(dock, ["sex"], n_boot=200)
    c = dock.panel.controls
    c.constraint_combo.setCurrentIndex(c.constraint_combo.findData("demographic_parity"))
    # no audit yet: the base run is audited with the same settings in the same task
    with qtbot.waitSignal(dock.runner.finished, timeout=120_000):
        c.threshold_button.click()
    assert not _is_red(dock), c.message()
    assert len(w.project.runs) == 2
    made = w.project.active()
    assert made.id != base.id and made.config["mitigation"]["kind"] == "threshold"
    assert made.name == "baseline + threshold optimizer"
    assert len(_audits(made)) == 1 and len(_audits(base)) == 1
    scatter = dock.panel.runs
    assert {p.id: p.kind for p in scatter.runs} == {base.id: "baseline", made.id: "threshold"}
    assert scatter.selected_run() == made.id
    for run in (base, made):
        direct = audit_run(w.project, ["sex"], run_id=run.id, n_boot=200, seed=0).report
        dp = direct.differences["sex"]["dp_difference"]
        assert scatter.point_position(run.id) == pytest.approx(
            (dp["value"], direct.overall["accuracy"])
        )
        assert scatter.error_bars(run.id)["disparity"] == pytest.approx(tuple(dp["ci"]))
    # the randomised per-group rule has no single threshold to explore
    assert "threshold per group" in dock.panel.threshold.message()

    # clicking the baseline's point makes it the current run (not an undo step)
    scatter.run_selected.emit(base.id)
    assert w.project.active_run == base.id and scatter.selected_run() == base.id
    # the mitigated run is a record: it is not an undo step; deleting it is explicit (its
    # audit goes with it) and undoable
    assert made.name not in w.undo_action.toolTip()  # Undo would not throw it away
    assert w.run_list.delete([made.id], confirm=False)
    assert [r.id for r in w.project.runs] == [base.id]
    assert [p.id for p in scatter.runs] == [base.id]
    w.undo_action.trigger()
    assert [r.id for r in w.project.runs] == [base.id, made.id] and len(_audits(made)) == 1


def test_training_mitigation_reports_progress_and_can_be_cancelled(
    make_main_window, qtbot, credit_file, monkeypatch
) -> None:
    from workbench.gui import fairness_panel

    w, dock = _window(make_main_window, qtbot, credit_file)
    # a mitigation trains with its base run's settings: make that run long enough to cancel
    w.project.active().config["epochs"] = 400
    monkeypatch.setattr(fairness_panel, "PROGRESS_EVERY_S", 0.0)
    _tick(dock, ["sex"], n_boot=0)
    c = dock.panel.controls
    seen: list[float] = []
    dock.runner.progressed.connect(seen.append)
    c.reweigh_button.click()
    assert not c.progress.isHidden() and c.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: len(seen) > 3, timeout=60_000)
    assert all(0 < f < 1 for f in seen) and seen == sorted(seen)
    assert c.progress.maximum() == dock._total["steps"] > 0  # steps of the run
    with qtbot.waitSignal(dock.runner.cancelled, timeout=10_000):
        c.cancel_button.click()
    assert "Cancelled" in c.message() and c.progress.isHidden()
    t0 = time.monotonic()
    dock.runner.shutdown()  # the trainer stops within a step
    assert time.monotonic() - t0 < 5
    assert len(w.project.runs) == 1

    # a short penalty run goes to the end: added, audited, compared with the baseline
    base = w.project.active()
    base.config["epochs"] = 2
    c.penalty_kind_combo.setCurrentIndex(c.penalty_kind_combo.findData("eo"))
    c.penalty_strength_spin.setValue(2.0)
    with qtbot.waitSignal(dock.runner.finished, timeout=120_000):
        c.penalty_button.click()
    assert not _is_red(dock), c.message()
    made = w.project.active()
    assert made.name == "baseline + fairness penalty (eo, 2)"
    assert made.config["mitigation"] == {
        "kind": "penalty",
        "sensitive": "sex",
        "favourable": "1",
        "seed": 0,
        "constraint": "equalized_odds",
        "strength": 2.0,
        "band_edges": {},  # 'sex' is not banded
    }
    assert len(made.history["epoch"]["train_loss"]) == 2
    assert {p.id: p.kind for p in dock.panel.runs.runs} == {base.id: "baseline", made.id: "penalty"}


# --------------------------------------------------------------------------- save, reopen
def test_saved_audit_comes_back_without_recomputing(
    make_main_window, qtbot, credit_file, tmp_path, monkeypatch
) -> None:
    w, dock = _window(make_main_window, qtbot, credit_file)
    _tick(dock, ["sex", "age"], n_boot=300)
    _audit(qtbot, dock)
    table = dock.panel.table
    features = [table.feature_combo.itemText(i) for i in range(table.feature_combo.count())]
    assert features == ["sex", "age", "sex & age"]
    shown = {g: table.group_item(g, "selection_rate").text() for g in ("female", "male")}
    path = tmp_path / "audited.wbproj"
    assert w._save_to(path)

    spy = _Spy(monkeypatch)
    other, dock2 = _window(make_main_window, qtbot, path)
    assert spy.calls == 0
    c = dock2.panel.controls
    assert c.sensitive_columns() == ["sex", "age"]  # ticked as they were audited
    table2 = dock2.panel.table
    assert {g: table2.group_item(g, "selection_rate").text() for g in ("female", "male")} == shown
    assert [p.id for p in dock2.panel.runs.runs] == [other.project.active_run]
    assert len(dock2.panel.threshold.sweep.thresholds) == 101
    assert "300 resamples" in dock2.shown_label.text()


# ------------------------------------------------------------------------------ live
def _point_metrics(seed: int, data, threshold: float = 0.5) -> dict:
    from engines.fairness import point_metrics

    val = data.splits["val"]
    rng = np.random.default_rng(seed)
    scores = rng.uniform(size=len(val))
    report = point_metrics(
        data.y[val],
        scores,
        {"sex": data.sensitive["sex"][val]},
        favourable=1,
        threshold=threshold,
        kind="scores",
    )
    return report.to_dict()


def test_live_metrics_append_to_the_curves_and_are_kept(
    make_main_window, qtbot, credit_file
) -> None:
    from workbench.core.project import Run
    from workbench.core.session import load_data

    w, dock = _window(make_main_window, qtbot, credit_file)
    data = load_data(w.project)
    c = dock.panel.controls
    _tick(dock, ["sex"])
    assert dock.live_spec() is None  # not ticked
    c.live_check.setChecked(True)
    # the window's worker connects its per-epoch results when it has them; until then the
    # panel says so rather than promise curves
    assert dock.live_supported == hasattr(w.worker, "analysis_arrived")
    assert (
        "will be computed at each epoch end" if dock.live_supported else "does not send"
    ) in c.message()
    assert dock.live_spec() == {
        "kind": "fairness",
        "sensitive": ["sex"],
        "favourable": 1,
        "favourable_label": "1",
        "threshold": 0.5,
        "split": "val",
        "intersections": False,
    }
    payloads = [_point_metrics(seed, data) for seed in range(3)]

    # while a run trains, the epochs are drawn and buffered for that run
    base = w.project.active()
    dock.training_started({"total_steps": 10})
    for epoch, pm in enumerate(payloads):
        dock.on_live_analysis("fairness", epoch, {"point_metrics": pm})
    dock.on_live_analysis("explanation", 9, {})  # another panel's: ignored
    dock.panel.live.flush()
    assert dock.panel.live.epochs() == [0.0, 1.0, 2.0]
    x, y = dock.panel.live.difference_curve("sex")
    assert list(x) == [0.0, 1.0, 2.0]
    want = [pm["differences"]["sex"]["dp_difference"]["value"] for pm in payloads]
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-12)
    x, y = dock.panel.live.group_curve("sex", "female")
    np.testing.assert_allclose(
        y, [pm["by_group"]["sex"]["female"]["selection_rate"] for pm in payloads]
    )
    assert all(a.meta.get("live") is None for a in base.analyses)  # nothing kept yet

    # the run's end hands them to the new run before the window adds it: one undo step
    new = Run(
        id=Run.new_id(),
        name="tracked",
        config=dict(base.config),
        weights=base.weights,
        history=base.history,
        metrics=dict(base.metrics),
    )
    w.worker.finished.emit(SimpleNamespace(run=new, status="completed", message=""))
    assert w.project.active_run == new.id
    kept = [a for a in new.analyses if a.kind == "fairness"]
    assert [a.epoch for a in kept] == [0, 1, 2] and all(a.meta["live"] for a in kept)
    assert kept[1].meta["report"] == payloads[1] and kept[0].meta["split"] == "val"
    assert dock.panel.live.epochs() == [0.0, 1.0, 2.0]
    # the baseline has no live history: its curves are empty, the tracked run's come back
    w.doc.set_active_run(base.id)
    assert dock.panel.live.epochs() == []
    w.doc.set_active_run(new.id)
    assert dock.panel.live.epochs() == [0.0, 1.0, 2.0]

    # outside a training session an epoch goes to the active run as an undoable step
    dock.on_live_analysis("fairness", 3, {"point_metrics": _point_metrics(7, data)})
    assert [a.epoch for a in new.analyses] == [0, 1, 2, 3]
    assert dock.panel.live.epochs() == [0.0, 1.0, 2.0, 3.0]
    w.undo_action.trigger()
    assert [a.epoch for a in new.analyses] == [0, 1, 2]

    # a payload that is not point metrics is a red message, not a crash
    dock.on_live_analysis("fairness", 4, {"point_metrics": "nonsense"})
    assert _is_red(dock) and "could not be read" in c.message()
    dock.on_live_analysis("fairness", 4, {})
    assert _is_red(dock)


def test_runs_are_compared_like_for_like(make_main_window, qtbot, credit_file) -> None:
    from workbench.gui.fairness_panel import audit_settings, run_points

    w, dock = _window(make_main_window, qtbot, credit_file)
    base = w.project.active()
    _tick(dock, ["sex"], n_boot=100)
    c = dock.panel.controls
    c.threshold_spin.setValue(0.5)
    _audit(qtbot, dock)
    # the threshold explorer moves the field; the mitigation then audits both runs at 0.709
    c.threshold_spin.setValue(0.709)
    with qtbot.waitSignal(dock.runner.finished, timeout=180_000):
        c.reweigh_button.click()
    made = w.project.active()
    assert made.id != base.id
    at = {a.meta["report"]["threshold"] for a in _audits(base)}
    assert at == {0.5, 0.709}  # the baseline was audited again, exactly like the new run
    assert audit_settings(_audits(made)[-1])["threshold"] == 0.709
    points = {p["id"]: p for p in run_points(w.project.runs, "sex", "test", audit_settings(_audits(made)[-1]))}
    assert points[base.id]["name"] == base.name  # like for like: nothing to mark
    # a run audited only under other settings is still shown, marked in place
    like_05 = audit_settings(_audits(base)[0])
    marked = {p["id"]: p["name"] for p in run_points(w.project.runs, "sex", "test", like_05)}
    assert marked[base.id] == base.name
    assert "threshold 0.709" in marked[made.id] and "not like for like" in marked[made.id]
    # the controls show the settings of the audit beside them
    w.doc.set_active_run(base.id)
    assert c.threshold_spin.value() == pytest.approx(0.709)  # the base's newest audit
