"""Headless tests of the fairness engine (engines.fairness): fairlearn and scikit-learn are the oracles."""

from __future__ import annotations

import json
import math
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, precision_score

from engines.data import builtin_spec, prepare
from engines.data.generated import LENDING_RATES
from engines.fairness import (
    DIFFERENCES,
    METRICS,
    FairnessError,
    FairnessReport,
    audit,
    encode_sensitive,
    point_metrics,
    threshold_sweep,
)
from engines.fairness import bootstrap as boot_module

TOL = 1e-12


def _fl_metrics() -> dict:
    def tpr(y, p):
        return true_positive_rate(y, p, pos_label=1)

    def fpr(y, p):
        return false_positive_rate(y, p, pos_label=1)

    def fnr(y, p):
        return false_negative_rate(y, p, pos_label=1)

    def precision(y, p):
        return precision_score(y, p, zero_division=np.nan)

    return {
        "selection_rate": selection_rate,
        "accuracy": accuracy_score,
        "tpr": tpr,
        "fpr": fpr,
        "fnr": fnr,
        "precision": precision,
        "size": count,
    }


def _ece(y: np.ndarray, s: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error from scikit-learn's calibration curve (uniform bins)."""
    prob_true, prob_pred = calibration_curve(y, s, n_bins=bins, strategy="uniform", pos_label=1)
    edges = np.linspace(0, 1, bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], s), minlength=bins)
    counts = counts[counts > 0]
    return float(np.sum(counts / len(y) * np.abs(prob_pred - prob_true)))


# ----------------------------------------------------------------------------- large generated test
@pytest.fixture(scope="module")
def large():
    """50,000 rows, three sensitive columns (2 × 3 × 4 groups) with group-dependent rates."""
    rng = np.random.default_rng(1234)
    n = 50_000
    sex = rng.choice(np.array(["female", "male"], dtype=object), n, p=[0.4, 0.6])
    race = rng.choice(np.array(["p", "q", "r"], dtype=object), n, p=[0.5, 0.3, 0.2])
    region = rng.choice(np.array([1, 2, 3, 4]), n)
    base = 0.3 + 0.15 * (sex == "male") + 0.05 * (race == "q") - 0.04 * region / 4
    y = (rng.uniform(size=n) < base).astype(np.int64)
    score = np.clip(0.25 + 0.35 * y + 0.08 * (sex == "male") + rng.normal(0, 0.2, n), 0, 1)
    sens = {"sex": sex, "race": race, "region": region}
    report = audit(y, score, sens, n_boot=200, seed=3)
    return y, score, sens, report


def test_point_estimates_equal_fairlearn_large(large):
    y, score, sens, report = large
    pred = (score > 0.5).astype(np.int64)
    frame = pd.DataFrame(sens)
    metrics = _fl_metrics()
    overall = MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=frame["sex"]).overall
    for m in ("selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision", "size"):
        assert report.overall[m] == pytest.approx(overall[m], abs=TOL), m
    assert report.overall["calibration_error"] == pytest.approx(_ece(y, score), abs=TOL)

    for column in sens:
        mf = MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=frame[column])
        table = report.by_group[column]
        assert set(table) == {str(v) for v in mf.by_group.index}
        for level, row in mf.by_group.iterrows():
            ours = table[str(level)]
            for m in metrics:
                assert ours[m] == pytest.approx(row[m], abs=TOL), (column, level, m)
            rows = frame[column].to_numpy() == level
            assert ours["calibration_error"] == pytest.approx(_ece(y[rows], score[rows]), abs=TOL)
            assert report.sizes[column][str(level)] == rows.sum()
        d = report.differences[column]
        assert d["dp_difference"]["value"] == pytest.approx(mf.difference()["selection_rate"], abs=TOL)
        assert d["dp_ratio"]["value"] == pytest.approx(mf.ratio()["selection_rate"], abs=TOL)
        assert d["eop_difference"]["value"] == pytest.approx(mf.difference()["tpr"], abs=TOL)
        assert d["eo_difference"]["value"] == pytest.approx(max(mf.difference()[["tpr", "fpr"]]), abs=TOL)

    # the intersection of all three columns: 24 groups, against MetricFrame on all three
    name = "sex & race & region"
    assert report.intersections == [name]
    mf = MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=frame)
    assert len(report.by_group[name]) == 24 == len(mf.by_group)
    for idx, row in mf.by_group.iterrows():
        ours = report.by_group[name][" & ".join(str(v) for v in idx)]
        for m in metrics:
            assert ours[m] == pytest.approx(row[m], abs=TOL), (idx, m)
    # the named fairlearn functions, on the intersection (each builds its own MetricFrame:
    # fairlearn takes about a second per frame here, so the columns were checked above
    # through MetricFrame.difference / ratio instead)
    for key, sf in ((name, frame),):
        d = report.differences[key]
        assert d["dp_difference"]["value"] == pytest.approx(
            demographic_parity_difference(y, pred, sensitive_features=sf), abs=TOL)
        assert d["dp_ratio"]["value"] == pytest.approx(demographic_parity_ratio(y, pred, sensitive_features=sf), abs=TOL)
        assert d["eo_difference"]["value"] == pytest.approx(
            equalized_odds_difference(y, pred, sensitive_features=sf), abs=TOL)
        assert d["eop_difference"]["value"] == pytest.approx(
            equal_opportunity_difference(y, pred, sensitive_features=sf), abs=TOL)
        assert d["di_ratio"]["value"] == d["dp_ratio"]["value"]
        # the rule checked with whole numbers from the rows (pandas), not with the engine's ratio
        counts = pd.DataFrame(sf).assign(p=pred).groupby(list(pd.DataFrame(sf).columns))["p"].agg(["sum", "count"])
        rates = [Fraction(int(a), int(n)) for a, n in counts.itertuples(index=False)]
        assert d["di_ratio"]["four_fifths_ok"] == (5 * min(rates) >= 4 * max(rates))


def test_intervals_cover_estimates_and_json_round_trip(large):
    _, _, _, report = large
    for feature, groups in report.intervals.items():
        for g, metrics in groups.items():
            for m, (lo, hi) in metrics.items():
                v = report.by_group[feature][g][m]
                assert lo <= hi and lo - 1e-9 <= v <= hi + 1e-9, (feature, g, m)
        for name in DIFFERENCES:
            lo, hi = report.differences[feature][name]["ci"]
            assert lo <= hi
    text = json.dumps(report.to_dict(), allow_nan=False)  # strict JSON: no NaN literals
    back = FairnessReport.from_dict(json.loads(text))
    assert back.by_group == report.by_group and back.intervals == report.intervals
    assert back.n_boot == 200 and back.seed == 3 and back.threshold == 0.5


# ----------------------------------------------------------------------------- small and degenerate cases
def _check_against_fairlearn(y: np.ndarray, pred: np.ndarray, sens: dict, report: FairnessReport) -> None:
    """Per group: fairlearn's value where the denominator is non-zero, else NaN with a reason."""
    groups = encode_sensitive(sens, bands=report.band_edges)
    fl = _fl_metrics()
    denominators = {
        "selection_rate": lambda yt, yp: len(yt),
        "accuracy": lambda yt, yp: len(yt),
        "tpr": lambda yt, yp: (yt == 1).sum(),
        "fnr": lambda yt, yp: (yt == 1).sum(),
        "fpr": lambda yt, yp: (yt == 0).sum(),
        "precision": lambda yt, yp: (yp == 1).sum(),
    }
    for feature in groups.features:
        members = groups.joint_members[feature][groups.joint]
        defined_values: dict[str, list[float]] = {m: [] for m in denominators}
        for i, label in enumerate(groups.levels[feature]):
            rows = members == i
            ours = report.by_group[feature][label]
            assert ours["size"] == rows.sum()
            for m, den in denominators.items():
                if den(y[rows], pred[rows]) > 0:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        expected = fl[m](y[rows], pred[rows])
                    assert ours[m] == pytest.approx(expected, abs=TOL), (feature, label, m)
                    defined_values[m].append(expected)
                else:
                    assert math.isnan(ours[m]), (feature, label, m)
                    assert report.reasons[feature][label][m]  # never a silent NaN either
            assert math.isnan(ours["calibration_error"])  # hard predictions
        # differences: over the groups where the metric is defined, NaN below two groups
        for name, metric in (("dp_difference", "selection_rate"), ("eop_difference", "tpr")):
            vals = defined_values[metric]
            value = report.differences[feature][name]["value"]
            if len(vals) >= 2:
                assert value == pytest.approx(max(vals) - min(vals), abs=TOL)
            else:
                assert math.isnan(value) and report.differences[feature][name]["reason"]
        sr = defined_values["selection_rate"]
        ratio = report.differences[feature]["dp_ratio"]
        if len(sr) >= 2 and max(sr) > 0:
            assert ratio["value"] == pytest.approx(min(sr) / max(sr), abs=TOL)
        else:
            assert math.isnan(ratio["value"]) and ratio["reason"]
        # where every group is defined, fairlearn's own difference functions agree
        n_groups = len(groups.levels[feature])
        if n_groups >= 2 and all(len(defined_values[m]) == n_groups for m in ("tpr", "fpr")):
            sf = np.asarray(groups.levels[feature], dtype=object)[members]  # bands, intersections
            assert report.differences[feature]["eo_difference"]["value"] == pytest.approx(
                equalized_odds_difference(y, pred, sensitive_features=sf), abs=TOL)
            assert report.differences[feature]["dp_difference"]["value"] == pytest.approx(
                demographic_parity_difference(y, pred, sensitive_features=sf), abs=TOL)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_small_cases_match_fairlearn_or_are_nan_with_reason(data):
    n = data.draw(st.integers(1, 24))
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    pred = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    colour = np.array(data.draw(st.lists(st.sampled_from(["red", "blue", "green"]), min_size=n, max_size=n)), dtype=object)
    # a numeric column banded at fixed edges: bands with no rows are reported as empty groups
    amount = np.array(data.draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)))
    sens = {"colour": colour, "amount": amount}
    report = audit(y, pred, sens, n_boot=0, bands={"amount": [10, 20]})
    assert report.band_edges == {"amount": [10.0, 20.0]}
    assert list(report.by_group["amount"]) == ["< 10", "[10, 20)", ">= 20"]
    _check_against_fairlearn(y, pred, sens, report)
    json.dumps(report.to_dict(), allow_nan=False)


def test_degenerate_groups_are_documented():
    # group b: only unfavourable true outcomes and no favourable predictions
    y = np.array([1, 0, 1, 0, 0, 0])
    pred = np.array([1, 1, 0, 0, 0, 0])
    g = np.array(["a", "a", "a", "a", "b", "b"])
    r = audit(y, pred, {"g": g}, n_boot=50)
    b = r.by_group["g"]["b"]
    assert b["size"] == 2 and b["selection_rate"] == 0.0 and b["fpr"] == 0.0
    assert math.isnan(b["tpr"]) and math.isnan(b["fnr"]) and math.isnan(b["precision"])
    assert "no actual favourable" in r.reasons["g"]["b"]["tpr"]
    assert "no predicted favourable" in r.reasons["g"]["b"]["precision"]
    assert all(math.isnan(v) for v in r.intervals["g"]["b"]["tpr"])
    # TPR is defined for one group only: no equal-opportunity or equalized-odds difference
    for name in ("eop_difference", "eo_difference"):
        assert math.isnan(r.differences["g"][name]["value"])
        assert "at least two groups" in r.differences["g"][name]["reason"]
    assert r.differences["g"]["dp_difference"]["value"] == pytest.approx(0.5)
    # fairlearn fills the undefined TPR with 0 (scikit-learn's nan_to_num): we do not
    assert true_positive_rate(y[g == "b"], pred[g == "b"], pos_label=1) == 0.0
    assert any("tpr" in note and "'b'" in note for note in r.notes)

    # nobody selected in any group: the ratio is 0/0, NaN (as fairlearn), never 0 or inf
    r = audit(y, np.zeros(6, int), {"g": g}, n_boot=0)
    assert r.differences["g"]["dp_difference"]["value"] == 0.0
    assert math.isnan(r.differences["g"]["dp_ratio"]["value"])
    assert math.isnan(demographic_parity_ratio(y, np.zeros(6, int), sensitive_features=g))
    assert "0/0" in r.differences["g"]["di_ratio"]["reason"]
    assert r.differences["g"]["di_ratio"]["four_fifths_ok"] is None

    # a single group: differences need two
    r = audit(y, pred, {"g": np.array(["a"] * 6)}, n_boot=0)
    assert all(math.isnan(r.differences["g"][d]["value"]) for d in DIFFERENCES)


def test_missing_sensitive_values_are_their_own_group():
    y = np.array([1, 0, 1, 0])
    r = audit(y, y, {"g": np.array(["a", None, "a", float("nan")], dtype=object)}, n_boot=0)
    assert r.sizes["g"] == {"a": 2, "missing": 2}


# ----------------------------------------------------------------------------- bootstrap
def test_intervals_agree_with_fairlearn_bootstrap():
    rng = np.random.default_rng(5)
    n = 400
    g = rng.choice(np.array(["a", "b"]), n)
    y = rng.integers(0, 2, n)
    pred = (rng.uniform(size=n) < np.where(g == "a", 0.55, 0.4)).astype(int)
    q = [0.05, 0.95]
    mf = MetricFrame(
        metrics={"selection_rate": selection_rate, "tpr": _fl_metrics()["tpr"]},
        y_true=y, y_pred=pred, sensitive_features=g, n_boot=200, ci_quantiles=q, random_state=0,
    )
    r = audit(y, pred, {"g": g}, n_boot=4000, confidence=0.90, seed=0)
    # fairlearn resamples rows, we resample counts: equal in distribution, not draw for draw.
    # With 200 resamples a 5 % quantile has a Monte Carlo standard error of about 0.15 σ
    # (sqrt(q(1 − q) / B) / φ(1.645)), where σ is the statistic's bootstrap SD; ours, with
    # 4,000 resamples, adds about a fifth of that. Allowing a quarter of the interval width
    # (≈ 0.8 σ, more than 5 standard errors) passes for any seed yet fails an interval of
    # the wrong width or centre: e.g. intervals from half or double the rows differ by
    # about 0.3 to 0.5 of the width.
    for metric in ("selection_rate", "tpr"):
        for level in ("a", "b"):
            lo, hi = r.intervals["g"][level][metric]
            width = hi - lo
            assert lo == pytest.approx(mf.by_group_ci[0].loc[level, metric], abs=0.25 * width)
            assert hi == pytest.approx(mf.by_group_ci[1].loc[level, metric], abs=0.25 * width)
    lo, hi = r.differences["g"]["dp_difference"]["ci"]
    assert lo == pytest.approx(mf.difference_ci()[0]["selection_rate"], abs=0.25 * (hi - lo))
    assert hi == pytest.approx(mf.difference_ci()[1]["selection_rate"], abs=0.25 * (hi - lo))
    # and the selection-rate interval has the binomial width: 2 × 1.645 × sqrt(p (1 − p) / n_g)
    for level in ("a", "b"):
        p, size = r.by_group["g"][level]["selection_rate"], r.sizes["g"][level]
        lo, hi = r.intervals["g"][level]["selection_rate"]
        assert hi - lo == pytest.approx(2 * 1.645 * math.sqrt(p * (1 - p) / size), rel=0.08)


def test_bootstrap_is_seeded_and_independent_of_chunking(monkeypatch):
    rng = np.random.default_rng(0)
    n = 3000
    y = rng.integers(0, 2, n)
    s = rng.uniform(size=n)
    sens = {"a": rng.choice(["x", "y", "z"], n), "b": rng.choice(["u", "v"], n)}
    r1 = audit(y, s, sens, n_boot=300, seed=9)
    r2 = audit(y, s, sens, n_boot=300, seed=9)
    r3 = audit(y, s, sens, n_boot=300, seed=10)
    assert r1.intervals == r2.intervals and r1.intervals != r3.intervals
    monkeypatch.setattr(boot_module, "CHUNK_CELLS", 500)  # many small chunks, same draws
    r4 = audit(y, s, sens, n_boot=300, seed=9)
    assert r4.intervals == r1.intervals
    assert r1.overall_intervals["calibration_error"][0] <= r1.overall["calibration_error"]


# ----------------------------------------------------------------------------- lending: the injected bias
@pytest.fixture(scope="module")
def lending():
    spec = builtin_spec("lending")
    spec.sensitive_as_features = True  # a model that sees the group can learn the bias
    return prepare(spec)


def test_labels_show_the_injected_bias(lending):
    p = lending
    fav = p.class_names.index("1")
    r = audit(p.y, p.y, {"group": p.sensitive["group"]}, favourable=fav, n_boot=1000, seed=0)
    a, b = r.by_group["group"]["A"], r.by_group["group"]["B"]
    assert a["selection_rate"] == pytest.approx(LENDING_RATES["A"], abs=TOL)
    assert b["selection_rate"] == pytest.approx(LENDING_RATES["B"], abs=TOL)
    d = r.differences["group"]
    assert d["dp_difference"]["value"] == pytest.approx(LENDING_RATES["A"] - LENDING_RATES["B"], abs=TOL)
    assert d["dp_difference"]["ci"][0] > 0.15  # clearly biased, against B
    assert d["di_ratio"]["value"] == pytest.approx(0.275 / 0.499, abs=TOL)
    assert d["di_ratio"]["lowest"] == "B" and d["di_ratio"]["highest"] == "A"
    assert d["di_ratio"]["four_fifths_ok"] is False
    # labels as predictions are perfect: no error-rate gap
    assert d["eo_difference"]["value"] == 0.0 and a["accuracy"] == 1.0


def test_trained_model_shows_the_bias(lending):
    import torch
    from torch import nn

    from engines.training import TrainConfig, Trainer, predict_proba

    p = lending
    fav = p.class_names.index("1")
    X, y = p.X[p.splits["train"]], p.y[p.splits["train"]]
    held = np.concatenate([p.splits["val"], p.splits["test"]])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on a shared two-core machine: erratic and slow
    try:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(X.shape[1], 16), nn.ReLU(), nn.Linear(16, 2))
        Trainer(model, (X, y), config=TrainConfig(epochs=8, lr=0.01, device="cpu", seed=0)).fit()
    finally:
        torch.set_num_threads(threads)
    scores = predict_proba(model, p.X[held])[:, fav]
    sens = {"group": p.sensitive["group"][held]}
    r = audit(p.y[held], scores, sens, favourable=fav, n_boot=500)
    labels = audit(p.y[held], p.y[held], sens, favourable=fav, n_boot=0)
    gap, label_gap = r.differences["group"]["dp_difference"]["value"], labels.differences["group"]["dp_difference"]["value"]
    assert r.by_group["group"]["A"]["selection_rate"] > r.by_group["group"]["B"]["selection_rate"]
    assert r.differences["group"]["dp_difference"]["ci"][0] > 0.05  # the bias is found, with confidence
    assert abs(gap - label_gap) < 0.1  # of the size the labels carry
    assert r.differences["group"]["di_ratio"]["four_fifths_ok"] is False
    assert r.has_scores and 0 <= r.overall["calibration_error"] < 0.2


# ----------------------------------------------------------------------------- bands
def test_age_is_banded_with_saved_edges():
    p = prepare(builtin_spec("german_credit"))
    age = p.sensitive["age"]
    y = p.y
    fav = p.class_names.index("1")
    r = point_metrics(y, y, {"sex": p.sensitive["sex"], "age": age}, favourable=fav)
    edges = r.band_edges["age"]
    assert edges == [float(e) for e in np.unique(np.quantile(age, [0.25, 0.5, 0.75]))]
    labels = list(r.by_group["age"])
    assert labels[0] == f"< {edges[0]:g}" and labels[-1] == f">= {edges[-1]:g}"
    expected = np.bincount(np.searchsorted(edges, age, side="right"), minlength=len(edges) + 1)
    assert [r.sizes["age"][g] for g in labels] == expected.tolist()
    assert sum(r.sizes["age"].values()) == len(age)
    # said in words, with the edges (never as Python code)
    said = f"'age' is split into 4 bands at {', '.join(f'{e:g}' for e in edges)}"
    assert any(n.startswith(said) for n in r.notes) and not any("bands={" in n for n in r.notes)
    assert "sex & age" in r.by_group
    # a rerun on other rows with the saved edges uses the same bands, even where the
    # quantiles of those rows differ
    old = age > 40
    again = point_metrics(y[old], y[old], {"age": age[old]}, favourable=fav, bands=r.band_edges)
    assert list(again.by_group["age"]) == labels and again.band_edges == r.band_edges
    assert [again.sizes["age"][g] for g in labels] == np.bincount(
        np.searchsorted(edges, age[old], side="right"), minlength=len(edges) + 1).tolist()
    # a value on an edge belongs to the band that starts there
    g = encode_sensitive({"x": np.array([1.0, 2.0, 3.0])}, bands={"x": [2.0]})
    assert g.levels["x"] == ["< 2", ">= 2"] and g.joint_members["x"][g.joint].tolist() == [0, 1, 1]


# ----------------------------------------------------------------------------- threshold sweep
def test_threshold_sweep_equals_audits_at_each_threshold():
    rng = np.random.default_rng(2)
    n = 2000
    y = rng.integers(0, 2, n)
    s = np.round(rng.uniform(size=n), 2)  # ties on the thresholds themselves
    sens = {"g": rng.choice(["a", "b", "c"], n)}
    thresholds = [0.9, 0.0, 0.25, 0.5, 0.5, 1.0, 0.73]
    sweep = threshold_sweep(y, s, sens, thresholds)
    assert sweep.thresholds == thresholds
    for i, t in enumerate(thresholds):
        pred = (s > t).astype(int)
        assert sweep.overall["selection_rate"][i] == pytest.approx(selection_rate(y, pred), abs=TOL)
        ref = point_metrics(y, pred, sens)
        for g in ("a", "b", "c"):
            for m in ("selection_rate", "accuracy", "tpr", "fpr"):
                a, b = sweep.by_group["g"][g][m][i], ref.by_group["g"][g][m]
                assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=TOL)
        assert sweep.differences["g"]["dp_difference"][i] == pytest.approx(
            demographic_parity_difference(y, pred, sensitive_features=sens["g"]), abs=TOL)
    back = type(sweep).from_dict(json.loads(json.dumps(sweep.to_dict(), allow_nan=False)))
    assert back.by_group["g"]["a"]["precision"][5] != back.by_group["g"]["a"]["precision"][5]  # NaN kept


# ----------------------------------------------------------------------------- inputs
def test_scores_probabilities_and_labels_are_read_alike():
    rng = np.random.default_rng(4)
    n = 500
    y = rng.integers(0, 2, n)
    s = rng.uniform(size=n)
    sens = {"g": rng.choice(["a", "b"], n)}
    from_scores = point_metrics(y, s, sens)
    from_proba = point_metrics(y, np.stack([1 - s, s], 1), sens)
    from_labels = point_metrics(y, (s > 0.5).astype(int), sens)
    assert from_scores.by_group == from_proba.by_group
    for g in ("a", "b"):
        for m in METRICS[:-1]:
            assert from_scores.by_group["g"][g][m] == from_labels.by_group["g"][g][m]
    # the favourable label chosen by the user: 0 here, so its probability is 1 - s
    flipped = point_metrics(y, np.stack([1 - s, s], 1), sens, favourable=0)
    pred_labels = np.where(1 - s > 0.5, 0, 1)
    assert flipped.overall["selection_rate"] == pytest.approx(selection_rate(y, pred_labels, pos_label=0), abs=TOL)
    assert flipped.overall["tpr"] == pytest.approx(true_positive_rate(y, pred_labels, pos_label=0), abs=TOL)
    text = point_metrics(np.where(y == 1, "good", "bad"), np.where(s > 0.5, "good", "bad"), sens, favourable="good")
    assert text.by_group["g"] == {g: {**v, "calibration_error": text.by_group["g"][g]["calibration_error"]}
                                  for g, v in from_labels.by_group["g"].items()}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_score_or_pred": np.zeros(9)}, "10 values but the predictions have 9"),
        ({"sensitive": {}}, "No sensitive column"),
        ({"sensitive": None}, "No sensitive column"),
        ({"sensitive": {"g": np.array(["a"] * 9)}}, "has 9 values but there are 10 rows"),
        ({"favourable": "yes"}, "favourable label 'yes' does not occur"),
        ({"threshold": 1.5}, "threshold must be between 0 and 1"),
        ({"threshold": -0.1}, "threshold must be between 0 and 1"),
        ({"threshold": "high"}, "threshold must be a number"),
        ({"y_score_or_pred": np.linspace(-1, 2, 10)}, "probabilities in [0, 1]"),
        ({"y_score_or_pred": np.r_[np.linspace(0, 1, 9), np.nan]}, "missing or infinite"),
        ({"y_score_or_pred": np.full(10, np.nan)}, "missing (NaN)"),
        ({"n_boot": -1}, "n_boot"),
        ({"confidence": 1.0}, "confidence"),
        ({"bands": {"h": [1, 2]}}, "not a sensitive column"),
        ({"bands": {"g": [2, 1]}}, "strictly increasing"),
        ({"y_true": np.zeros((10, 2))}, "one label per row"),
    ],
)
def test_bad_input_is_refused_with_a_sentence(kwargs, message):
    args = {
        "y_true": np.array([0, 1] * 5),
        "y_score_or_pred": np.linspace(0, 1, 10),
        "sensitive": {"g": np.array(["a", "b"] * 5)},
    }
    for k in ("y_true", "y_score_or_pred", "sensitive"):
        if k in kwargs:
            args[k] = kwargs.pop(k)
    with pytest.raises(FairnessError, match=None) as info:
        audit(args["y_true"], args["y_score_or_pred"], args["sensitive"], n_boot=kwargs.pop("n_boot", 0), **kwargs)
    assert isinstance(info.value, ValueError)
    assert message in str(info.value)
    assert str(info.value).endswith(".") and "\n" not in str(info.value)


def test_bad_report_dict_is_refused():
    with pytest.raises(FairnessError, match="must be a dict"):
        FairnessReport.from_dict([1, 2])
    with pytest.raises(FairnessError, match="Unknown fairness report field"):
        FairnessReport.from_dict({"bogus": 1})
