"""Explanations, fairness audits and mitigations of a run, headless and from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.data import builtin_spec
from workbench.cli import main
from workbench.core.analysis import (
    audit_run,
    explain_run,
    explanation_analysis,
    fairness_analysis,
    favourable_label,
    mitigate_run,
    parse_samples,
)
from workbench.core.project import load_project, save_project
from workbench.core.session import (
    WorkbenchError,
    create_project,
    load_data,
    predict_rows,
    train_run,
)


@pytest.fixture(scope="module")
def credit():
    project = create_project("mlp", builtin_spec("german_credit"), seed=0)
    train_run(project, overrides={"epochs": 3})
    return project, load_data(project)


@pytest.fixture(scope="module")
def lending():
    spec = builtin_spec("lending")
    spec.sensitive_as_features = True  # the model sees the group, and learns the injected bias
    project = create_project("mlp", spec, seed=0)
    train_run(project, overrides={"epochs": 8}, name="baseline")
    return project, load_data(project)


# ------------------------------------------------------------------------------ samples
def test_parse_samples_ranges_and_lists() -> None:
    assert parse_samples("0-3, 7,5 , 2") == [0, 1, 2, 3, 7, 5]
    assert parse_samples("12") == [12]
    for bad, words in (("", "No samples"), ("a-b", "Cannot read"), ("5-2", "goes backwards"),
                       ("0-99999999", "Too many"), ("-3", "Cannot read")):
        with pytest.raises(WorkbenchError, match=words):
            parse_samples(bad)


@given(st.text(max_size=30))
def test_parse_samples_never_fails_badly(text: str) -> None:
    try:
        rows = parse_samples(text)
    except WorkbenchError as exc:
        assert str(exc).endswith(".") and "\n" not in str(exc)
    else:
        assert rows and all(isinstance(r, int) and r >= 0 for r in rows)
        assert len(set(rows)) == len(rows)


def test_favourable_label() -> None:
    assert favourable_label(["bad", "good"]) == 1
    assert favourable_label(["approved", "denied"]) == 0
    assert favourable_label(["x", "y", "z"]) == 1
    assert favourable_label(["x", "y"], "x") == 0
    with pytest.raises(WorkbenchError, match="no class 'maybe'"):
        favourable_label(["x", "y"], "maybe")


# ------------------------------------------------------------------------------ explain
def test_shapley_rows_are_source_rows_and_efficient(credit) -> None:
    project, data = credit
    test_rows = [int(r) for r in data.row_ids[data.splits["test"]][:3]]
    out = explain_run(project, "shapley", samples=test_rows, data=data)
    assert out.row_ids == test_rows
    pos = [int(np.flatnonzero(data.row_ids == r)[0]) for r in test_rows]
    np.testing.assert_array_equal(out.inputs, data.X[pos])
    r = out.result
    # one value per source column (one-hot columns grouped back), summing to F(x) - F(baseline)
    assert r.feature_names == ["job", "housing", "saving_accounts", "checking_account",
                               "credit_amount", "duration", "purpose"]
    np.testing.assert_allclose(r.attributions.sum(axis=1), r.outputs - r.reference, atol=1e-5)
    assert r.value_function == "baseline" and "training" in r.baseline


def test_background_value_function_and_ungrouped(credit) -> None:
    project, data = credit
    row = int(data.row_ids[data.splits["test"][0]])
    out = explain_run(project, "shapley", samples=[row], background=20, group=False, data=data)
    assert out.result.value_function == "background"
    assert out.result.attributions.shape == (1, data.X.shape[1])
    np.testing.assert_allclose(out.result.attributions.sum(axis=1),
                               out.result.outputs - out.result.reference, atol=1e-5)


def test_explain_errors_are_sentences(credit) -> None:
    project, data = credit
    train_row = int(data.row_ids[data.splits["train"][0]])
    with pytest.raises(WorkbenchError, match=f"Row {train_row} is in the train split, not test"):
        explain_run(project, "ig", samples=[train_row], data=data)
    with pytest.raises(WorkbenchError, match="no row 999999"):
        explain_run(project, "ig", samples=[999999], split="all", data=data)
    with pytest.raises(WorkbenchError, match="Unknown method 'magic'"):
        explain_run(project, "magic", data=data)
    with pytest.raises(WorkbenchError):
        explain_run(project, "gradcam", pick="first", n=2, data=data)


def test_explanations_are_kept_in_the_project(credit, tmp_path: Path) -> None:
    project, data = credit
    out = explain_run(project, "ig", pick="misclassified", n=4, data=data)
    out.run.add_analysis(explanation_analysis(out, epoch=2))
    path = tmp_path / "p.wbproj"
    save_project(project, path)
    back = load_project(path).run(out.run.id).analyses[-1]
    assert back.kind == "explanation" and back.epoch == 2
    assert back.meta["row_ids"] == out.row_ids and back.meta["method"] == "ig"
    np.testing.assert_array_equal(back.arrays["attributions"], out.result.attributions)
    out.run.analyses.pop()


# ------------------------------------------------------------------------------ fairness
def test_audit_uses_the_predictions_predict_gives(credit) -> None:
    from fairlearn.metrics import MetricFrame, selection_rate

    project, data = credit
    outcome = audit_run(project, ["sex"], n_boot=50, data=data)
    frame = predict_rows(project)
    idx = np.sort(data.splits["test"])
    sex = data.sensitive["sex"][idx]
    fav = outcome.favourable
    mf = MetricFrame(metrics=selection_rate, y_true=(frame["true_label"] == fav).astype(int),
                     y_pred=(frame["predicted_label"] == fav).astype(int), sensitive_features=sex)
    report = outcome.report.to_dict()
    for group, value in mf.by_group.items():
        assert report["by_group"]["sex"][str(group)]["selection_rate"] == pytest.approx(value, abs=1e-12)
        assert report["by_group"]["sex"][str(group)]["size"] == int((sex == group).sum())


def test_audit_errors(credit) -> None:
    project, data = credit
    with pytest.raises(WorkbenchError, match="not a sensitive column"):
        audit_run(project, ["job"], data=data)
    with pytest.raises(WorkbenchError, match="at least one sensitive column"):
        audit_run(project, [], data=data)


def test_each_mitigation_is_a_run_that_reduces_the_injected_bias(lending, tmp_path: Path) -> None:
    project, data = lending
    base = project.runs[0]

    def dp(run_id: str) -> float:
        rep = audit_run(project, ["group"], run_id=run_id, n_boot=0, data=data).report
        return abs(rep.to_dict()["differences"]["group"]["dp_difference"]["value"])

    before = dp(base.id)
    assert before > 0.1  # the generated table's documented bias is learned
    for kind in ("reweighing", "penalty", "threshold"):
        run = mitigate_run(project, kind, "group", run_id=base.id, strength=2.0, data=data)
        assert run.config["mitigation"]["kind"] == kind
        if kind != "threshold":
            assert run.config["epochs"] == base.config["epochs"]  # only the mitigation differs
        after = dp(run.id)
        assert after < before, (kind, before, after)
    # the threshold run's decisions are what predict shows, and they survive a reopen
    frame = predict_rows(project)
    rep = audit_run(project, ["group"], n_boot=0, data=data).report.to_dict()
    idx = np.sort(data.splits["test"])
    chosen = (frame["predicted_label"] == "1").to_numpy()
    for g in ("A", "B"):
        assert rep["by_group"]["group"][g]["selection_rate"] == pytest.approx(
            chosen[data.sensitive["group"][idx] == g].mean(), abs=1e-12)
    path = tmp_path / "l.wbproj"
    outcome = audit_run(project, ["group"], n_boot=20, data=data)
    outcome.run.add_analysis(fairness_analysis(outcome))
    save_project(project, path)
    back = load_project(path)
    assert predict_rows(back).equals(frame)
    assert back.active().analyses[-1].meta["report"] == json.loads(json.dumps(outcome.report.to_dict()))


# ----------------------------------------------------------------------------------- CLI
def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_explain_fairness_mitigate(tmp_path: Path, capsys) -> None:
    proj = tmp_path / "c.wbproj"
    assert _cli(capsys, "new", "--template", "mlp", "--dataset", "german_credit", "-o", str(proj))[0] == 0
    assert _cli(capsys, "train", str(proj), "--epochs", "2", "--quiet")[0] == 0

    code, out, err = _cli(capsys, "explain", str(proj), "--method", "shapley", "--pick", "first",
                          "-n", "3", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["method"] == "shapley" and doc["value_function"] == "baseline"
    assert set(doc["versions"]) >= {"torch", "captum", "numpy"}
    for s in doc["samples"]:
        assert sum(s["attributions"].values()) == pytest.approx(s["output"] - s["reference"], abs=1e-5)
        assert abs(s["delta"]) < 1e-5

    code, out, err = _cli(capsys, "explain", str(proj), "--method", "ig", "--samples", "0-2",
                          "--split", "all", "-o", str(tmp_path / "ig"), "--save")
    assert code == 0, err
    saved = json.loads((tmp_path / "ig" / "explanation.json").read_text())
    assert [s["row_id"] for s in saved["samples"]] == [0, 1, 2]
    assert np.load(tmp_path / "ig" / "attributions.npy", allow_pickle=False).shape == (3, 7)
    assert load_project(proj).active().analyses[-1].meta["row_ids"] == [0, 1, 2]

    code, out, err = _cli(capsys, "fairness", str(proj), "--sensitive", "sex", "--n-boot", "100", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["split"] == "test" and set(doc["by_group"]["sex"]) == {"female", "male"}
    assert doc["n_boot"] == 100
    lo, hi = doc["intervals"]["sex"]["female"]["selection_rate"]
    assert lo <= doc["by_group"]["sex"]["female"]["selection_rate"] <= hi

    code, out, err = _cli(capsys, "fairness", str(proj), "--sensitive", "sex")
    assert code == 0 and "female" in out and "dp_difference" in out and "four-fifths rule" in out

    # undefined values (no intervals; precision with nobody chosen) print as a dash, not a crash
    code, out, err = _cli(capsys, "fairness", str(proj), "--sensitive", "sex", "--sensitive", "age",
                          "--n-boot", "0", "--threshold", "0.99")
    assert code == 0, err
    assert "no intervals" in out and "—" in out and "group sizes" in out

    code, out, err = _cli(capsys, "fairness", str(proj), "--sensitive", "sex", "--favourable", "0",
                          "--n-boot", "0", "--json")
    assert code == 0, err
    assert json.loads(out)["favourable"] == "0"

    code, out, err = _cli(capsys, "mitigate", str(proj), "--kind", "threshold", "--sensitive", "sex", "--json")
    assert code == 0, err
    assert json.loads(out)["mitigation"]["constraint"] == "demographic_parity"
    assert len(load_project(proj).runs) == 2
    # the per-group run is audited on any column: it decides with its own ('sex')
    code, out, err = _cli(capsys, "fairness", str(proj), "--sensitive", "age", "--n-boot", "0", "--json")
    assert code == 0, err
    doc = json.loads(out)
    # the age bands are fitted on the training split, whichever split is audited
    from workbench.core.analysis import band_edges

    assert doc["band_edges"]["age"] == band_edges(load_data(load_project(proj)), ["age"])["age"]

    for argv, words in (
        (["explain", str(proj), "--method", "ig", "--samples", "5-1"], "goes backwards"),
        (["explain", str(proj), "--method", "wizard"], "invalid choice"),
        (["fairness", str(proj), "--sensitive", "purpose"], "not a sensitive column"),
        (["fairness", str(proj), "--sensitive", "sex", "--threshold", "2"], "between 0 and 1"),
        (["fairness", str(proj), "--sensitive", "sex", "--favourable", "maybe"], "no class 'maybe'"),
    ):
        code, out, err = _cli(capsys, *argv)
        assert code == 2 and err.startswith("error: ") and words in err, (argv, err)
        assert len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------- live, per epoch
def test_live_callbacks_explain_and_measure_every_epoch(credit) -> None:
    from engines.fairness import point_metrics
    from workbench.core.analysis import live_callbacks
    from workbench.core.session import model_for

    project, data = credit
    rows = [int(r) for r in data.row_ids[data.splits["test"][:2]]]
    spec = [
        {"kind": "explanation", "methods": ["ig", "shapley"], "row_ids": rows, "split": "test", "seed": 0},
        {"kind": "fairness", "sensitive": ["sex"], "favourable": 1, "threshold": 0.5, "split": "val"},
    ]
    got: list[tuple[str, int, dict]] = []
    callbacks = live_callbacks(data, spec, lambda kind, epoch, payload: got.append((kind, epoch, payload)))
    outcome = train_run(project, overrides={"epochs": 2}, callbacks=callbacks, data=data, add_to_project=False)
    kinds = [(k, e, p.get("method")) for k, e, p in got]
    assert kinds == [("explanation", 1, "ig"), ("explanation", 1, "shapley"), ("fairness", 1, None),
                     ("explanation", 2, "ig"), ("explanation", 2, "shapley"), ("fairness", 2, None)]
    assert got[0][2]["row_ids"] == rows and np.asarray(got[0][2]["inputs"]).shape == (2, data.X.shape[1])
    # the last epoch's live values are those of the final weights
    final = model_for(project, outcome.run)
    direct = explain_run(project, "shapley", samples=rows, data=data, model=final)
    live = got[4][2]["result"]
    np.testing.assert_allclose(live["attributions"], direct.result.attributions, atol=1e-6)
    va = data.splits["val"]
    from engines.training import predict_proba

    expected = point_metrics(data.y[va], predict_proba(final, data.X[va])[:, 1], {"sex": data.sensitive["sex"][va]},
                             favourable=1, kind="scores", intersections=False).to_dict()
    assert got[5][2]["point_metrics"]["by_group"] == expected["by_group"]


def test_live_explanation_failure_is_reported_once_and_training_goes_on(credit) -> None:
    from workbench.core.analysis import live_callbacks

    project, data = credit
    rows = [int(data.row_ids[data.splits["test"][0]])]
    got: list[tuple[str, int, dict]] = []
    spec = [{"kind": "explanation", "methods": ["gradcam"], "row_ids": rows, "split": "test", "layer": "nope"}]
    outcome = train_run(project, overrides={"epochs": 2}, data=data, add_to_project=False,
                        callbacks=live_callbacks(data, spec, lambda *a: got.append(a)))
    assert outcome.status == "completed"
    assert len(got) == 1 and got[0][0] == "explanation" and "stopped" in got[0][2]["error"]


def test_pinning_a_stochastic_method_does_not_change_the_training(credit) -> None:
    from workbench.core.analysis import live_callbacks

    project, data = credit
    rows = [int(r) for r in data.row_ids[data.splits["test"][:2]]]
    got: list[tuple] = []
    spec = [{"kind": "explanation", "methods": ["smoothgrad", "gradshap"], "row_ids": rows, "split": "test"}]
    pinned = train_run(project, overrides={"epochs": 2}, data=data,
                       add_to_project=False, callbacks=live_callbacks(data, spec, lambda *a: got.append(a)))
    assert [g[2]["method"] for g in got] == ["smoothgrad", "gradshap"] * 2
    plain = train_run(project, overrides={"epochs": 2}, data=data, add_to_project=False)
    for k, v in plain.run.weights.items():
        assert np.array_equal(v.numpy(), pinned.run.weights[k].numpy()), k
