"""Every template on every built-in dataset it applies to: create, train, save, reopen, predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engines.data import builtin_spec, list_datasets
from engines.templates import TEMPLATES
from workbench.core.project import load_project, save_project
from workbench.core.session import (
    WorkbenchError,
    create_project,
    evaluate_run,
    load_data,
    model_for,
    predict_rows,
    train_run,
)

_DATASETS = {d.id: d for d in list_datasets()}
PAIRS = [
    (t.id, d.id)
    for t in TEMPLATES.values()
    for d in _DATASETS.values()
    if d.kind in t.data_kinds
]


def test_every_template_has_a_dataset() -> None:
    assert {t for t, _ in PAIRS} == set(TEMPLATES)


@pytest.mark.parametrize("template, dataset", PAIRS)
def test_pair_trains_saves_and_reopens(tmp_path: Path, template: str, dataset: str) -> None:
    project = create_project(template, builtin_spec(dataset))
    outcome = train_run(project, overrides={"epochs": 1, "batch_size": 128})
    assert outcome.status == "completed", outcome.message
    history = outcome.run.history
    assert len(history["epoch"]["train_loss"]) == 1
    assert np.isfinite(history["epoch"]["train_loss"][0])
    assert history["epoch"]["grad_norm"]  # per-layer gradient norms were streamed

    path = tmp_path / "p.wbproj"
    save_project(project, path)
    reopened = load_project(path)
    before = predict_rows(project)
    after = predict_rows(reopened)
    assert before.equals(after)  # same rows, same predictions, same probabilities
    for k, v in project.active().weights.items():
        assert torch.equal(v, reopened.active().weights[k])
    result = evaluate_run(reopened)
    assert result["n"] == len(after)
    assert np.isfinite(result["metrics"]["loss"])


def test_same_seed_same_curve_different_seed_different() -> None:
    project = create_project("mlp", builtin_spec("wine"))
    a = train_run(project, overrides={"epochs": 2, "seed": 3}).run.history["step"]["loss"]
    b = train_run(project, overrides={"epochs": 2, "seed": 3}).run.history["step"]["loss"]
    c = train_run(project, overrides={"epochs": 2, "seed": 4}).run.history["step"]["loss"]
    assert a == b
    assert a != c


def test_weights_of_another_graph_are_refused() -> None:
    project = create_project("mlp", builtin_spec("iris"))
    train_run(project, overrides={"epochs": 1})
    project.graph.set_param("fc1", "out_features", 17)
    with pytest.raises(WorkbenchError, match="different network"):
        model_for(project, project.active())


def test_changed_data_is_detected() -> None:
    project = create_project("mlp", builtin_spec("iris"))
    project.data_fingerprint = "0" * 64
    with pytest.raises(WorkbenchError, match="changed since the project was made"):
        load_data(project)


def test_an_empty_graph_project_has_the_datas_input_and_an_unconnected_output(tmp_path: Path) -> None:
    """New → Empty graph: input shaped like the data (German credit: 23 model inputs after
    one-hot encoding), an output, no layers or edges; training is refused with the reason,
    and the project saves and reopens as it is."""
    from engines.shapes import analyse

    project = create_project("empty", builtin_spec("german_credit"))
    graph = project.graph
    assert sorted(graph.nodes) == ["input", "output"]
    assert list(graph.edges) == []
    assert graph.node("input").params["shape"] == [23]
    assert project.train_config["epochs"] >= 1  # the MLP's defaults, ready once built
    problems = analyse(graph).errors
    assert problems and any(p.node_id == "output" for p in problems)
    with pytest.raises(WorkbenchError):
        train_run(project, overrides={"epochs": 1})
    path = tmp_path / "empty.wbproj"
    save_project(project, path)
    again = load_project(path)
    assert sorted(again.graph.nodes) == ["input", "output"] and list(again.graph.edges) == []


def test_an_unknown_start_is_refused_with_the_choices() -> None:
    with pytest.raises(WorkbenchError, match="choose one of: mlp"):
        create_project("blank", builtin_spec("iris"))
