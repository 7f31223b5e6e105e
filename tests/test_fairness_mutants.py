"""Boundary tests that pin down the fairness engines where a mutation run found them loose.

Guards the four-fifths reading of a ratio (``engines.fairness.counts``), the JSON round trip of
:class:`FairnessReport` (text fields stay text, numbers are decoded), reweighing's input checks
and exact closed form, the in-training penalty's stored settings, :class:`FairThresholds`
(operators at their thresholds, float32 scores, ties with the random draw, JSON checks),
:func:`threshold_optimizer`'s arguments (against fairlearn's own fit) and the live
:class:`FairnessTracker` (defaults, one-logit models, devices, batches, timing, series).

Every expected value is worked out by hand in a comment, or taken from fairlearn / numpy
independently; the data are a handful of hand-made rows so the file runs in about a second.
"""

from __future__ import annotations

import json
import math
import time
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from engines.fairness import (
    FairnessError,
    FairnessPenalty,
    FairnessReport,
    FairnessTracker,
    FairThresholds,
    reweighing_weights,
    threshold_optimizer,
)
from engines.fairness.counts import FOUR_FIFTHS, FOUR_FIFTHS_TOLERANCE, four_fifths_from_ratio

LN3 = math.log(3.0)  # sigmoid(ln 3) = 3 / (3 + 1) = 0.75; sigmoid(-ln 3) = 0.25


# ----------------------------------------------------------------------------- four-fifths from a ratio
@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        (None, None),  # undefined ratio
        (math.nan, None),  # 0/0 ratio
        (0.0, False),  # lowest rate 0: no reciprocal to take (1/0), fails outright
        (-math.inf, False),
        (math.inf, False),
        (1.0, True),
        (1.25, True),  # read as 1 / 1.25 = 0.8: exactly four fifths passes
        (2.0, False),  # read as 1 / 2 = 0.5 (not 2, not 2 / 2 = 1)
        (0.5, False),
        (FOUR_FIFTHS - FOUR_FIFTHS_TOLERANCE, True),  # the documented tolerance is inclusive
        (np.nextafter(FOUR_FIFTHS - FOUR_FIFTHS_TOLERANCE, 0.0), False),  # one ulp below (a numpy float): fails
    ],
)
def test_four_fifths_from_ratio_at_its_edges(ratio, expected):
    assert four_fifths_from_ratio(ratio) is expected


# ----------------------------------------------------------------------------- report JSON
def test_report_round_trip_keeps_text_fields_text_and_decodes_numbers():
    report = FairnessReport(
        overall={"accuracy": math.nan, "size": 2.0},
        by_group={"g": {"NaN": {"accuracy": math.inf, "size": 1.0}}},
        differences={},
        sizes={"g": {"NaN": 1}},
        favourable="NaN",  # a label that happens to read "NaN" is a label, not a number
        threshold=None,
        n_boot=0,
        confidence=0.95,
        seed=0,
        band_edges={},
        notes=["NaN"],
        columns=["g"],
    )
    text = json.dumps(report.to_dict(), allow_nan=False)  # strict JSON: no bare NaN
    back = FairnessReport.from_dict(json.loads(text))
    assert back.notes == ["NaN"] and back.favourable == "NaN"  # text fields: left as written
    assert math.isnan(back.overall["accuracy"]) and back.overall["size"] == 2.0  # decoded
    assert back.by_group["g"]["NaN"]["accuracy"] == math.inf


# ----------------------------------------------------------------------------- reweighing
def test_reweighing_is_the_exact_closed_form_when_no_cell_is_empty():
    g = np.array(["b", "a", "a", "b", "b", "a", "a"])
    y = np.array([1, 0, 1, 0, 1, 0, 1])
    # n = 7; a: 4 rows (2 of label 0, 2 of label 1); b: 3 rows (1 of 0, 2 of 1); n0 = 3, n1 = 4
    # w(a,0) = 4*3/(7*2) = 6/7, w(a,1) = 4*4/(7*2) = 8/7, w(b,0) = 3*3/(7*1) = 9/7,
    # w(b,1) = 3*4/(7*2) = 6/7; they sum to 7 exactly, so nothing may rescale them (in floating
    # point they add up to 6.999999999999998, and a rescale by 7 / that would move the last bits)
    w = reweighing_weights(y, {"g": g})
    assert w.tolist() == [6 / 7, 6 / 7, 8 / 7, 9 / 7, 6 / 7, 6 / 7, 8 / 7]


def test_reweighing_rescales_when_a_cell_is_empty_even_with_no_single_row_cell():
    g = np.array(["a", "a", "a", "a", "b", "b"])
    y = np.array([1, 1, 0, 0, 0, 0])  # (b, 1) is empty; every other cell has two rows
    # n = 6, n1 = 2, n0 = 4: closed form w(a,1) = 4*2/(6*2) = 2/3, w(a,0) = 4*4/(6*2) = 4/3,
    # w(b,0) = 2*4/(6*2) = 2/3; sum = 2(2/3) + 2(4/3) + 2(2/3) = 16/3, so scale by 6/(16/3) = 9/8:
    # 3/4, 3/2, 3/4
    w = reweighing_weights(y, {"g": g})
    assert w == pytest.approx([0.75, 0.75, 1.5, 1.5, 0.75, 0.75], abs=1e-12)


def test_reweighing_uses_the_bands_it_is_given():
    age = np.array([20, 30, 40, 50, 60, 70])
    y = np.array([1, 0, 0, 1, 0, 0])
    # bands at 35: young = rows 0, 1 (labels 1, 0), old = rows 2..5 (labels 0, 1, 0, 0); n1 = 2, n0 = 4
    # w(young,1) = 2*2/(6*1) = 2/3, w(young,0) = 2*4/(6*1) = 4/3,
    # w(old,0) = 4*4/(6*3) = 8/9, w(old,1) = 4*2/(6*1) = 4/3   (sum 2/3 + 4/3 + 3*8/9 + 4/3 = 6)
    w = reweighing_weights(y, {"age": age}, bands={"age": [35]})
    assert w == pytest.approx([2 / 3, 4 / 3, 8 / 9, 4 / 3, 8 / 9, 8 / 9], abs=1e-12)


def test_reweighing_label_types_and_a_single_row():
    g = np.array(["a", "a", "b", "b", "b"])
    # a: labels 1, 0; b: 0, 0, 1. n = 5, n1 = 2, n0 = 3
    # w(a,1) = 2*2/(5*1) = 4/5, w(a,0) = 2*3/(5*1) = 6/5, w(b,0) = 3*3/(5*2) = 9/10, w(b,1) = 3*2/(5*1) = 6/5
    expected = [4 / 5, 6 / 5, 9 / 10, 9 / 10, 6 / 5]
    assert reweighing_weights(np.array([1, 0, 0, 0, 1]), {"g": g}) == pytest.approx(expected, abs=1e-12)
    assert reweighing_weights(np.array([1.0, 0.0, 0.0, 0.0, 1.0]), {"g": g}) == pytest.approx(expected, abs=1e-12)
    text = np.array(["yes", "no", "no", "no", "yes"])
    assert reweighing_weights(text, {"g": g}) == pytest.approx(expected, abs=1e-12)
    # one row: P(g) = P(y) = P(g, y) = 1, so its weight is 1
    assert reweighing_weights(np.array([1]), {"g": np.array(["a"])}).tolist() == [1.0]


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.array([], dtype=np.int64), "one label per row"),
        (np.array([[1], [0]]), "one label per row"),  # a column vector is not one label per row
        (np.array([1.0, math.nan]), r"missing \(NaN\)"),
    ],
)
def test_reweighing_refuses_bad_labels(y, message):
    with pytest.raises(FairnessError, match=message):
        reweighing_weights(y, {"g": np.array(["a", "b"])[: len(y)]})


# ----------------------------------------------------------------------------- the penalty's record
def test_penalty_to_dict_names_every_setting():
    pen = FairnessPenalty({"age": np.array([20, 30, 40, 50])}, "eo", 2.5, norm="squared", favourable=0,
                          bands={"age": [35]})
    assert pen.to_dict() == {
        "kind": "eo",
        "strength": 2.5,
        "norm": "squared",
        "favourable": 0,
        "columns": ["age"],
        "band_edges": {"age": [35.0]},
    }


# ----------------------------------------------------------------------------- FairThresholds
def _thresholds(groups: dict, **kw) -> FairThresholds:
    fields = {"constraint": "demographic_parity", "objective": "accuracy_score", "seed": 0, "favourable": 1,
              "columns": ["g"], "groups": groups}
    return FairThresholds(**{**fields, **kw})


def _rule(p0, op0, t0, p1, op1, t1) -> dict:
    return {"p0": p0, "operator0": op0, "threshold0": t0, "p1": p1, "operator1": op1, "threshold1": t1}


# a: 0.25·[s > 0.4] + 0.75·[s < 0.6];  b: 0.25·[s < 0.3] + 0.75·[s > 0.7]
RULES = {"a": _rule(0.25, ">", 0.4, 0.75, "<", 0.6), "b": _rule(0.25, "<", 0.3, 0.75, ">", 0.7)}


def test_probabilities_apply_each_operator_strictly_at_its_threshold():
    fitted = _thresholds(RULES)
    s = np.array([0.4, 0.5, 0.6, 0.1, 0.9, 0.3, 0.7, 0.1, 0.9])
    g = np.array(["a", "a", "a", "a", "a", "b", "b", "b", "b"])
    expected = [
        0.75,  # a, 0.4: not > 0.4 (0), < 0.6 (0.75)
        1.0,  # a, 0.5: > 0.4 (0.25) and < 0.6 (0.75)
        0.25,  # a, 0.6: > 0.4 (0.25), not < 0.6
        0.75,  # a, 0.1: < 0.6 only
        0.25,  # a, 0.9: > 0.4 only
        0.0,  # b, 0.3: not < 0.3, not > 0.7
        0.0,  # b, 0.7: not < 0.3, not > 0.7
        0.25,  # b, 0.1: < 0.3 only
        0.75,  # b, 0.9: > 0.7 only
    ]
    assert fitted.probabilities(s, {"g": g}).tolist() == expected


def test_probabilities_read_float32_scores_as_their_exact_values():
    # a model's float32 score 0.4 is 0.4000000059604645, above a threshold of 0.4 (float64):
    # group a gives 0.25 + 0.75 = 1.0, not 0.75; and 0.25 stays 0.25 (not float32's 0.25 ± ulp)
    fitted = _thresholds(RULES)
    s = np.array([0.4, 0.1], dtype=np.float32)
    p = fitted.probabilities(s, {"g": np.array(["a", "b"])})
    assert p.dtype == np.float64 and p.tolist() == [1.0, 0.25]
    fitted = _thresholds({"a": _rule(0.3, ">", 0.0, 0.7, "<", 0.0)})
    # 0.3 is not a float32 value: a float64 result keeps it exactly
    assert fitted.probabilities(np.array([0.5], dtype=np.float32), {"g": np.array(["a"])}).tolist() == [0.3]


@pytest.mark.filterwarnings("error")
def test_probabilities_of_a_zero_score_raise_no_numpy_warning():
    fitted = _thresholds(RULES)
    # b, 0.0: < 0.3 only -> 0.25; a, 0.0: < 0.6 only -> 0.75
    assert fitted.probabilities(np.array([0.0, 0.0]), {"g": np.array(["b", "a"])}).tolist() == [0.25, 0.75]


def test_probabilities_check_rows_and_groups():
    fitted = _thresholds(RULES)
    with pytest.raises(FairnessError, match="2 values but there are 3 rows"):
        fitted.probabilities(np.array([0.1, 0.2, 0.3]), {"g": np.array(["a", "b"])})
    with pytest.raises(FairnessError, match=r"group\(s\) 'c', 'd'; known groups are 'a', 'b'\."):
        fitted.probabilities(np.array([0.1, 0.2]), {"g": np.array(["c", "d"])})


def test_predict_ties_with_the_draw_are_favourable_and_predictions_are_integers():
    # fairlearn's InterpolatedThresholder.predict: (probs >= RandomState(seed).rand(n)) * 1
    u = np.random.RandomState(7).rand(2)
    below = float(np.nextafter(u[1], 0.0))
    fitted = _thresholds({
        "a": _rule(float(u[0]), ">", -math.inf, 0.0, ">", math.inf),  # P = u0 exactly: a tie, favourable
        "b": _rule(below, ">", -math.inf, 0.0, ">", math.inf),  # P one ulp below u1: not favourable
    }, seed=7)
    sens = {"g": np.array(["a", "b"])}
    assert fitted.probabilities(np.array([0.5, 0.5]), sens).tolist() == [u[0], below]
    pred = fitted.predict(np.array([0.5, 0.5]), sens)
    assert pred.tolist() == [1, 0]
    assert pred.dtype.kind == "i"  # 1 or 0, not 1.0 or 0.0


def test_from_dict_accepts_a_complete_rule_without_band_edges():
    d = {"constraint": "equalized_odds", "objective": "balanced_accuracy_score", "seed": 3, "favourable": "yes",
         "columns": ["g"], "groups": {"a": _rule(1.0, "<", 0.5, 0.0, "<", 0.5), "b": _rule(0.5, ">", 0.2, 0.5, "<", 0.9)}}
    back = FairThresholds.from_dict(json.loads(json.dumps(d)))
    assert (back.constraint, back.objective, back.seed, back.favourable) == (
        "equalized_odds", "balanced_accuracy_score", 3, "yes")
    assert back.columns == ["g"] and back.band_edges == {} and back.groups == d["groups"]
    # a: 1.0·[0.1 < 0.5] = 1; b: 0.5·[0.1 > 0.2] + 0.5·[0.1 < 0.9] = 0.5
    assert back.probabilities(np.array([0.1, 0.1]), {"g": np.array(["a", "b"])}).tolist() == [1.0, 0.5]


@pytest.mark.parametrize(
    "broken",
    [
        {"constraint": "demographic_parity"},  # a dict missing most keys
        {"groups": {}},  # no group at all
        {"groups": {"a": {**_rule(1.0, ">", 0.5, 0.0, ">", 0.5), "operator0": ">="}}},  # bad first operator only
        {"groups": {"a": {**_rule(1.0, ">", 0.5, 0.0, ">", 0.5), "operator1": "="}}},  # bad second operator only
    ],
)
def test_from_dict_refuses_incomplete_or_unknown_rules(broken):
    d = {"constraint": "demographic_parity", "objective": "accuracy_score", "seed": 0, "favourable": 1,
         "columns": ["g"], "groups": {"a": _rule(1.0, ">", 0.5, 0.0, ">", 0.5)}}
    d = broken if "constraint" in broken else {**d, **broken}
    with pytest.raises(FairnessError):
        FairThresholds.from_dict(d)


# ----------------------------------------------------------------------------- threshold_optimizer vs fairlearn
def _fairlearn_rules(scores: np.ndarray, actual: np.ndarray, groups: np.ndarray) -> dict:
    """fairlearn's own ThresholdOptimizer fit on the same scores (the independent reference)."""
    from fairlearn.postprocessing import ThresholdOptimizer
    from sklearn.base import BaseEstimator

    class Scores(BaseEstimator):
        def fit(self, X, y=None):
            return self

        def predict(self, X):
            return np.asarray(X)[:, 0]

        def __sklearn_is_fitted__(self):
            return True

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref = ThresholdOptimizer(estimator=Scores(), prefit=True, predict_method="predict").fit(
            scores.reshape(-1, 1), actual.astype(int), sensitive_features=groups)
    return {str(k): _rule(b.p0, b.operation0.operator, b.operation0.threshold, b.p1, b.operation1.operator,
                          b.operation1.threshold) for k, b in ref.interpolated_thresholder_.interpolation_dict.items()}


def _same_rules(mine: dict, ref: dict) -> bool:
    keys = ("p0", "operator0", "threshold0", "p1", "operator1", "threshold1")
    return set(mine) == set(ref) and all(mine[g][k] == ref[g][k] for g in ref for k in keys)


def _toy(n: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    g = np.repeat(np.array(["a", "b"]), n // 2)
    s = rng.uniform(size=n)
    y = (rng.uniform(size=n) < s * np.where(g == "a", 1.0, 0.6)).astype(int)
    return g, s, y


def test_threshold_optimizer_takes_scores_of_exactly_0_and_1_as_scores():
    g, s, y = _toy()
    hard = (s > 0.5).astype(np.float64)  # scores that look like labels: still scores
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = threshold_optimizer(y, hard, {"g": g})
    # the score shim counts as a fitted estimator: no "estimator not fitted" warning from fairlearn
    assert [str(w.message) for w in caught] == []
    assert fitted.seed == 0  # the default seed is stored
    assert _same_rules(fitted.groups, _fairlearn_rules(hard, y == 1, g))


def test_threshold_optimizer_finds_a_named_favourable_class_among_probability_columns():
    g, s, y = _toy()
    names = np.where(y == 1, "yes", "no")
    probs = np.column_stack([1.0 - s, s])  # columns in the order of `classes`
    fitted = threshold_optimizer(names, probs, {"g": g}, favourable="yes", classes=["no", "yes"])
    assert fitted.favourable == "yes"
    assert _same_rules(fitted.groups, _fairlearn_rules(s, names == "yes", g))


@pytest.mark.parametrize("seed", [-1, 2**32, True, 1.5])
def test_threshold_optimizer_refuses_seeds_numpy_cannot_use(seed):
    g, s, y = _toy()
    with pytest.raises(FairnessError, match="seed must be an integer"):
        threshold_optimizer(y, s, {"g": g}, seed=seed)


def test_threshold_optimizer_accepts_the_largest_numpy_seed():
    g, s, y = _toy()
    fitted = threshold_optimizer(y, s, {"g": g}, seed=2**32 - 1)  # RandomState's largest seed
    assert fitted.seed == 2**32 - 1
    probs = fitted.probabilities(s, {"g": g})
    expected = (probs >= np.random.RandomState(2**32 - 1).rand(len(s))) * 1
    assert fitted.predict(s, {"g": g}).tolist() == expected.tolist()


# ----------------------------------------------------------------------------- the tracker
class Logits(nn.Module):
    """Hands its input on as the logits, through a float32 identity layer."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.layer = nn.Linear(k, k, bias=False)
        with torch.no_grad():
            self.layer.weight.copy_(torch.eye(k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


class Recorder(nn.Module):
    """Two zero logits (P = 0.5) per row; records the device and size of every batch it sees."""

    def __init__(self, device: str = "cpu") -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1, device=device))
        self.devices: list[str] = []
        self.sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.devices.append(x.device.type)
        self.sizes.append(len(x))
        return torch.zeros(len(x), 2)


# rows: P(class 1) = 0.75, 0.75, 0.25, 0.25 (logits [0, ±ln 3]); labels 1, 0, 1, 0
X4 = np.array([[0.0, LN3], [0.0, LN3], [0.0, -LN3], [0.0, -LN3]])  # float64, as numpy makes it
Y4 = np.array([1, 0, 1, 0])
SENS4 = {"a": np.array(["x", "x", "y", "y"]), "b": np.array(["u", "v", "u", "v"])}


def test_tracker_defaults_records_and_series():
    seen: list[tuple[int, FairnessReport]] = []
    tracker = FairnessTracker(X4, Y4, SENS4, on_update=lambda e, r: seen.append((e, r)))
    model = Logits(2)
    before = time.perf_counter()
    first = tracker.update(model, 0)
    after = time.perf_counter()
    second = tracker.update(model, 1)
    # favourable 1 at threshold 0.5: predicted 1, 1, 0, 0
    # overall: selection 2/4 = 0.5; correct rows 0 and 3: accuracy 0.5; TPR 1/2; FPR 1/2
    assert first.overall["selection_rate"] == 0.5 and first.overall["accuracy"] == 0.5
    assert first.overall["tpr"] == 0.5 and first.overall["fpr"] == 0.5
    # the intersection is made by default: x&u 1, x&v 1, y&u 0, y&v 0 -> difference 1
    assert set(first.by_group) == {"a", "b", "a & b"}
    assert seen == [(0, first), (1, second)] and seen[0][1] is first
    assert 0.0 <= first.elapsed <= after - before
    assert tracker.seconds == [first.elapsed, second.elapsed]
    assert tracker.epochs == [0, 1] and tracker.reports == [first, second]
    series = tracker.series()
    assert series["epoch"] == [0.0, 1.0]
    assert series["overall/selection_rate"] == [0.5, 0.5]
    assert series["a/dp_difference"] == [1.0, 1.0]  # x: 2/2 = 1, y: 0/2 = 0
    assert series["b/dp_difference"] == [0.0, 0.0]  # u: 1/2, v: 1/2
    assert series["a & b/dp_difference"] == [1.0, 1.0]
    assert series["a/di_ratio"] == [0.0, 0.0]  # 0 / 1


def test_tracker_uses_its_favourable_class_and_threshold():
    # P(class 0) = 0.75, 0.6, 0.25, 0.8 (logits [ln(p/(1-p)), 0]); favourable class 0 at threshold 0.7
    p0 = np.array([0.75, 0.6, 0.25, 0.8])
    X = np.column_stack([np.log(p0 / (1 - p0)), np.zeros(4)])
    y = np.array([0, 0, 0, 1])  # actually favourable: 1, 1, 1, 0
    tracker = FairnessTracker(X, y, {"g": np.array(["a", "a", "b", "b"])}, favourable=0, threshold=0.7)
    assert tracker.scores(Logits(2)) == pytest.approx(p0, abs=1e-6)
    r = tracker.update(Logits(2), 0)
    # predicted favourable (P > 0.7): 1, 0, 0, 1 -> selection 2/4
    # TP row 0, FN rows 1 and 2, FP row 3: accuracy 1/4, TPR 1/3, FPR 1/1
    assert r.overall["selection_rate"] == 0.5
    assert r.overall["accuracy"] == 0.25
    assert r.overall["tpr"] == pytest.approx(1 / 3, abs=1e-15) and r.overall["fpr"] == 1.0


def test_tracker_reads_confident_scores_of_exactly_0_and_1_as_scores():
    # logits ±100: softmax gives exactly 1.0 and 0.0 in float32; they are still scores, so the
    # calibration error is defined: each score equals its row's outcome, |1 - 1| + |0 - 0| = 0
    tracker = FairnessTracker(np.array([[-100.0, 100.0], [100.0, -100.0]]), np.array([1, 0]),
                              {"g": np.array(["a", "b"])})
    r = tracker.update(Logits(2), 0)
    assert r.has_scores and r.overall["calibration_error"] == 0.0


def test_tracker_one_logit_models():
    X = np.array([[LN3], [-LN3]])
    # favourable 1: sigmoid = 0.75, 0.25; favourable 0: 1 - sigmoid = 0.25, 0.75
    one = FairnessTracker(X, np.array([1, 0]), {"g": np.array(["a", "b"])}, favourable=1)
    assert one.scores(Logits(1)) == pytest.approx([0.75, 0.25], abs=1e-6)
    zero = FairnessTracker(X, np.array([1, 0]), {"g": np.array(["a", "b"])}, favourable=0)
    assert zero.scores(Logits(1)) == pytest.approx([0.25, 0.75], abs=1e-6)
    two = FairnessTracker(X, np.array([2, 0]), {"g": np.array(["a", "b"])}, favourable=2)
    with pytest.raises(FairnessError, match="one-logit model has classes 0 and 1, not 2"):
        two.scores(Logits(1))


def test_tracker_refuses_a_favourable_class_the_model_does_not_have():
    # two logits are classes 0 and 1: class 2 is one past the last
    tracker = FairnessTracker(np.zeros((3, 2)), np.array([0, 1, 2]), {"g": np.array(["a", "b", "a"])}, favourable=2)
    with pytest.raises(FairnessError, match="has 2 classes"):
        tracker.scores(Logits(2))


def test_tracker_works_with_a_model_without_parameters():
    tracker = FairnessTracker(X4, Y4, SENS4)
    assert tracker.scores(nn.Identity()) == pytest.approx([0.75, 0.75, 0.25, 0.25], abs=1e-6)


def test_tracker_moves_its_inputs_to_the_models_device():
    # "meta" stands in for a GPU on a CPU-only machine
    tracker = FairnessTracker(X4, Y4, SENS4)
    cpu, meta = Recorder("cpu"), Recorder("meta")
    assert tracker.scores(cpu).tolist() == [0.5] * 4
    tracker.scores(meta)
    tracker.scores(cpu)
    assert cpu.devices == ["cpu", "cpu"] and meta.devices == ["meta"]


def test_tracker_scores_in_batches_of_4096_by_default():
    n = 4097  # one row more than a batch
    tracker = FairnessTracker(np.zeros((n, 2)), np.arange(n) % 2, {"g": np.arange(n) % 2})
    model = Recorder()
    tracker.scores(model)
    assert model.sizes == [4096, 1]


def test_tracker_settings_bands_and_intersections():
    age = {"age": np.array([20, 30, 40, 50])}
    r = FairnessTracker(X4, Y4, age, bands={"age": [35]}).update(Logits(2), 0)
    assert list(r.by_group["age"]) == ["< 35", ">= 35"]
    r = FairnessTracker(X4, Y4, SENS4, intersections=False).update(Logits(2), 0)
    assert set(r.by_group) == {"a", "b"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"favourable": -1}, "class index"),
        ({"favourable": True}, "class index"),
        ({"favourable": "1"}, "class index"),
        ({"y": np.array([1, 2, 1, 2]), "favourable": 0}, "favourable label 0 does not occur"),
        ({"sensitive": {"g": np.array(["a", "b", "a"])}}, "3 values but there are 4 rows"),
    ],
)
def test_tracker_refuses_bad_settings_when_made(kwargs, message):
    args = {"X": X4, "y": Y4, "sensitive": {"g": np.array(["a", "b", "a", "b"])}, **kwargs}
    with pytest.raises(FairnessError, match=message):
        FairnessTracker(args.pop("X"), args.pop("y"), args.pop("sensitive"), **args)
