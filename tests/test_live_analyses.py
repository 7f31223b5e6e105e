"""Pinned explanations and live fairness, end to end: the real window, the training process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def credit_file(tmp_path_factory) -> Path:
    from engines.data import builtin_spec
    from workbench.core.project import save_project
    from workbench.core.session import create_project, train_run

    project = create_project("mlp", builtin_spec("german_credit"), seed=0)
    train_run(project, overrides={"epochs": 1, "batch_size": 256}, name="baseline")
    path = tmp_path_factory.mktemp("live") / "credit.wbproj"
    save_project(project, path)
    return path


def test_training_sends_pinned_explanations_and_fairness_each_epoch(make_main_window, qtbot,
                                                                    credit_file) -> None:
    from workbench.core.analysis import explain_run
    from workbench.core.project import load_project
    from workbench.core.session import load_data, model_for

    w = make_main_window()
    w.set_project(load_project(credit_file), credit_file)
    fair, explain = w.fairness_panel, w.explain_panel
    qtbot.waitUntil(lambda: fair.facts is not None, timeout=60_000)
    data = load_data(w.project)
    rows = [int(r) for r in data.row_ids[data.splits["test"]][:2]]

    # as a user: tick the methods, type the rows, pin; tick "track live" for sex
    explain.controls.set_checked_methods(["shapley", "ig"])
    explain.controls.set_sample_choice("ids", ids=", ".join(map(str, rows)))
    explain.controls.pin_box.setChecked(True)
    fair.panel.controls.set_columns(fair.facts.sensitive, ["sex"])
    fair.panel.controls.live_check.setChecked(True)
    assert explain.pinned_spec() and fair.live_spec()

    arrived: list[tuple[str, int]] = []
    w.worker.analysis_arrived.connect(lambda kind, epoch, payload: arrived.append((kind, epoch)))
    w.doc.set_train_config({"epochs": 3, "batch_size": 128})
    with qtbot.waitSignal(w.worker.finished, timeout=240_000):
        w.start_training()
    assert arrived == [("explanation", 1), ("explanation", 1), ("fairness", 1),
                       ("explanation", 2), ("explanation", 2), ("fairness", 2),
                       ("explanation", 3), ("explanation", 3), ("fairness", 3)]
    run = w.project.active()
    assert run.name != "baseline"
    kept = sorted((a.kind, a.epoch) for a in run.analyses)
    assert kept.count(("explanation", 3)) == 2 and kept.count(("fairness", 3)) == 1
    assert explain.epochs() == [1, 2, 3]
    # the last epoch's live maps are those of the trained weights
    last = [a for a in run.analyses if a.kind == "explanation" and a.epoch == 3 and a.meta["method"] == "shapley"][0]
    direct = explain_run(w.project, "shapley", samples=rows, data=data, model=model_for(w.project, run))
    np.testing.assert_allclose(last.arrays["attributions"], direct.result.attributions, atol=1e-5)
