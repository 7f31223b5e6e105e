"""Boundary tests of the fairness audit where mutation testing found it loose.

Guards :mod:`engines.fairness.audit` (reading predictions as labels or scores, the checks of
every argument, the report's fields and notes, the bootstrap intervals and bias-corrected
interval, the permutation p-values it stores, and :func:`threshold_sweep` with its
:class:`ThresholdSweep` JSON form), :mod:`engines.fairness.groups` (text, numeric, banded and
missing groups, intersections and the listing limit), :mod:`engines.fairness.bootstrap`
(multinomial resamples of the counts, chunking) and :mod:`engines.fairness.permutation`
(the mid-p value, its direction per statistic, undefined permutations left out).

Every expected value is worked out by hand in a comment, or taken from scipy / numpy
independently; the data are a handful of hand-made rows so the file runs in a few seconds.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engines.fairness import (
    FairnessError,
    SensitiveGroups,
    ThresholdSweep,
    audit,
    encode_sensitive,
    point_metrics,
    prepare_outcomes,
    threshold_sweep,
)
from engines.fairness import bootstrap as boot_module
from engines.fairness.audit import _bias_corrected
from engines.fairness.bootstrap import resampled_cells
from engines.fairness.permutation import _TIE, permutation_pvalues, permuted_cells

NO_SCORES = "no scores were given, only hard predictions"
HARD_NOTE = "Hard predictions were given: calibration_error needs scores and is undefined."
NO_POS = "the group has no actual favourable outcomes (TP + FN = 0)"
NO_NEG = "the group has no actual unfavourable outcomes (FP + TN = 0)"
NO_PRED = "the group has no predicted favourable outcomes (TP + FP = 0)"
EMPTY = "the group is empty"


def _raises(message: str):
    """``pytest.raises`` for a FairnessError whose whole message is ``message``."""
    return pytest.raises(FairnessError, match="^" + re.escape(message) + "$")


def _nan_pair(pair) -> bool:
    return len(pair) == 2 and all(math.isnan(v) for v in pair)


# Two groups of four rows, hard predictions.
#   a: y 1 1 0 0, pred 1 0 1 0 -> TP 1, FN 1, FP 1, TN 1: selection 2/4, accuracy 2/4,
#      TPR 1/2, FPR 1/2, FNR 1/2, precision 1/2
#   b: y 1 1 0 0, pred 1 1 1 0 -> TP 2, FN 0, FP 1, TN 1: selection 3/4, accuracy 3/4,
#      TPR 1, FPR 1/2, FNR 0, precision 2/3
#   overall: TP 3, FN 1, FP 2, TN 2: selection 5/8, accuracy 5/8, TPR 3/4, FPR 1/2,
#      FNR 1/4, precision 3/5
Y8 = np.array([1, 1, 0, 0, 1, 1, 0, 0])
P8 = np.array([1, 0, 1, 0, 1, 1, 1, 0])
G8 = np.array(["a"] * 4 + ["b"] * 4)
A_METRICS = {"size": 4, "selection_rate": 0.5, "accuracy": 0.5, "tpr": 0.5, "fpr": 0.5, "fnr": 0.5,
             "precision": 0.5}
B_METRICS = {"size": 4, "selection_rate": 0.75, "accuracy": 0.75, "tpr": 1.0, "fpr": 0.5, "fnr": 0.0,
             "precision": 2 / 3}


def _same_metrics(got: dict, expected: dict) -> None:
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, abs=1e-12), k


# ============================================================================= prepare_outcomes
@pytest.mark.parametrize(
    ("threshold", "predicted"),
    [
        (0.0, [False, True, True, True]),  # 0 is allowed; only a score of exactly 0 is not above it
        (1.0, [False, False, False, False]),  # 1 is allowed; no score is above it
        (0, [False, True, True, True]),  # a Python int
        (np.float32(0.25), [False, False, True, True]),  # numpy floats: 0.25 is not above 0.25
        (np.int64(1), [False, False, False, False]),
    ],
)
def test_threshold_accepts_numbers_from_0_to_1_inclusive(threshold, predicted):
    _, got, scores, _ = prepare_outcomes([1, 0, 1, 0], [0.0, 0.25, 0.75, 1.0], threshold=threshold,
                                         kind="scores")
    assert got.tolist() == predicted
    assert scores.tolist() == [0.0, 0.25, 0.75, 1.0]


@pytest.mark.parametrize("threshold", [True, False, "0.5", None, 1.0000001, -1e-9])
def test_threshold_refuses_booleans_text_and_values_outside_0_1(threshold):
    with pytest.raises(FairnessError, match="threshold must be"):
        prepare_outcomes([1, 0], [0.2, 0.7], threshold=threshold)


def test_y_true_shape_rows_and_missing_values_are_checked():
    with _raises("y_true must be one label per row, got shape ()."):
        prepare_outcomes(1, [1])
    with _raises("y_true has missing (NaN) values; drop those rows first."):
        prepare_outcomes([1.0, math.nan], [1, 0])
    with _raises("There are no rows to audit."):
        prepare_outcomes([], [])
    with _raises("y_true has 2 values but the predictions have a single value."):
        prepare_outcomes([1, 0], 0.5)
    with _raises("y_true has 3 values but the predictions have 2."):
        prepare_outcomes([1, 0, 1], [1, 0])
    with _raises("kind must be 'auto', 'scores' or 'labels', not 'proba'."):
        prepare_outcomes([1, 0], [1, 0], kind="proba")
    # one row is enough
    actual, predicted, _, notes = prepare_outcomes([1], [1])
    assert actual.tolist() == [True] and predicted.tolist() == [True] and notes == []


def test_float_predictions_that_are_labels_are_read_as_labels():
    # 0.0 / 1.0 on a 0/1 target: labels. Favourable 0 shows it: as labels, pred == 0 is
    # favourable ([T, F, F, T]); read as scores it would be score > 0.5 ([F, T, T, F])
    actual, predicted, scores, _ = prepare_outcomes([0, 1, 0, 1], np.array([0.0, 1.0, 1.0, 0.0]), favourable=0)
    assert scores is None
    assert actual.tolist() == [True, False, True, False]
    assert predicted.tolist() == [True, False, False, True]
    # a single distinct value is also a label
    _, predicted, scores, _ = prepare_outcomes([0, 1], np.array([0.0, 0.0]), favourable=0)
    assert scores is None and predicted.tolist() == [True, True]
    # a boolean target, favourable False: 1.0 is True, not favourable; 0.0 is
    _, predicted, scores, _ = prepare_outcomes(np.array([True, False]), np.array([1.0, 0.0]), favourable=False)
    assert scores is None and predicted.tolist() == [False, True]


def test_float_predictions_with_a_value_that_is_not_a_label_are_scores():
    # 0.7 is not a label of y: scores, favourable when above 0.5
    _, predicted, scores, _ = prepare_outcomes([0, 1], np.array([0.0, 0.7]))
    assert scores.tolist() == [0.0, 0.7] and predicted.tolist() == [False, True]
    # three distinct values, all labels of a three-class target: not two labels, so scores,
    # and 2.0 is not a probability
    with _raises("Scores must be probabilities in [0, 1], got values from 0 to 2; "
                 "apply a sigmoid or softmax to logits first."):
        prepare_outcomes([0, 1, 2], np.array([0.0, 1.0, 2.0]))
    with _raises("Scores must be probabilities in [0, 1], got values from -0.5 to 1.5; "
                 "apply a sigmoid or softmax to logits first."):
        prepare_outcomes([0, 1, 0], np.array([-0.5, 1.5, 0.2]), kind="scores")


def test_kind_scores_takes_whole_numbers_and_refuses_text_and_booleans():
    # integer scores 0 and 1 are probabilities 0 and 1 (favourable when above 0.5)
    _, predicted, scores, _ = prepare_outcomes([1, 0, 1], np.array([0, 1, 1]), kind="scores", favourable=0)
    assert scores.dtype == np.float64 and scores.tolist() == [0.0, 1.0, 1.0]
    assert predicted.tolist() == [False, True, True]
    with _raises("Scores must be numbers, not bool values."):
        prepare_outcomes([1, 0], np.array([True, False]), kind="scores")
    with _raises("Scores must be numbers, not <U3 values."):
        prepare_outcomes([1, 0], np.array(["0.1", "0.9"]), kind="scores")
    with _raises("The scores have missing or infinite values."):
        prepare_outcomes([1, 0], np.array([0.1, math.inf]), kind="scores")


def test_hard_predictions_with_nan_are_refused():
    # a NaN among 0/1 floats: the rest are labels, and the NaN row cannot be decided
    with _raises("The predictions have missing (NaN) values; drop those rows first."):
        prepare_outcomes([1, 0], np.array([1.0, math.nan]))


def test_probability_columns_are_found_by_class_name_or_index():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5], [0.4, 0.6, 0.0]])
    # "yes" is the first of three classes: column 0 (0.9, 0.2, 0.4), favourable above 0.3
    _, predicted, scores, _ = prepare_outcomes(["yes", "no", "maybe"], probs, favourable="yes",
                                               classes=["yes", "no", "maybe"], threshold=0.3)
    assert scores.tolist() == [0.9, 0.2, 0.4] and predicted.tolist() == [True, False, True]
    # an integer favourable label is the column index: 2 -> (0.0, 0.5, 0.0)
    _, predicted, scores, _ = prepare_outcomes([2, 0, 1], probs, favourable=np.int64(2))
    assert scores.tolist() == [0.0, 0.5, 0.0] and predicted.tolist() == [False, False, False]
    # the last column is inside; one past it, a negative index and a boolean are not
    prepare_outcomes([0, 1], np.array([[0.5, 0.5], [0.1, 0.9]]), favourable=1)
    with _raises("The favourable class index 2 is outside the 2 probability columns."):
        prepare_outcomes([0, 2], np.array([[0.5, 0.5], [0.1, 0.9]]), favourable=2)
    with _raises("The favourable class index -1 is outside the 2 probability columns."):
        prepare_outcomes([0, 1], np.array([[0.5, 0.5], [0.1, 0.9]]), favourable=-1)
    with _raises("Class probabilities need the class names (classes=...) to find the column "
                 "of the favourable label True."):
        prepare_outcomes([True, False], np.array([[0.5, 0.5], [0.1, 0.9]]), favourable=True)
    with _raises("Class probabilities need the class names (classes=...) to find the column "
                 "of the favourable label 'yes'."):
        prepare_outcomes(["yes", "no"], np.array([[0.5, 0.5], [0.1, 0.9]]), favourable="yes")
    with _raises("The favourable label 'ok' is not one of the classes ['no', 'yes']."):
        prepare_outcomes(["yes", "no"], np.array([[0.5, 0.5], [0.1, 0.9]]), favourable="ok",
                         classes=["no", "yes"])
    # classes are compared as the values they are, not as text: 1 is the class 1, not "1"
    _, predicted, scores, _ = prepare_outcomes(np.array(["no", "no"]), np.array([[0.2, 0.8], [0.7, 0.3]]),
                                               favourable=1, classes=["no", 1])
    assert scores.tolist() == [0.8, 0.3] and predicted.tolist() == [True, False]


def test_two_dimensional_predictions_read_as_labels_are_refused():
    with _raises("Predictions must be one value per row or (rows, classes) probabilities, got shape (2, 2)."):
        prepare_outcomes([0, 1], np.array([[0.5, 0.5], [0.1, 0.9]]), kind="labels")
    with _raises("Predictions must be one value per row or (rows, classes) probabilities, got shape (2, 1, 2)."):
        prepare_outcomes([0, 1], np.zeros((2, 1, 2)))


def test_a_favourable_label_must_occur_or_be_a_known_class():
    # 0/1 target where no row is favourable: still a known outcome
    actual, predicted, _, _ = prepare_outcomes([0, 0], [0, 0], favourable=1)
    assert actual.tolist() == [False, False] and predicted.tolist() == [False, False]
    # favourable only among the hard predictions
    actual, predicted, _, _ = prepare_outcomes(["b", "b"], ["a", "b"], favourable="a")
    assert actual.tolist() == [False, False] and predicted.tolist() == [True, False]
    # a class of `classes` that no row has, with 1-D scores
    actual, predicted, _, _ = prepare_outcomes(["no", "no"], [0.2, 0.7], favourable="yes", classes=["no", "yes"])
    assert actual.tolist() == [False, False] and predicted.tolist() == [False, True]
    actual, predicted, _, _ = prepare_outcomes(["no", "no"], [0.2, 0.7], favourable=1, classes=["no", 1])
    assert actual.tolist() == [False, False] and predicted.tolist() == [False, True]
    # 0 of a 0/1 target that only has 1s
    actual, predicted, _, _ = prepare_outcomes([1, 1], [1, 1], favourable=0)
    assert actual.tolist() == [False, False] and predicted.tolist() == [False, False]
    # not a 0/1 target: 1 occurs nowhere (a score of 1.0 is not a label)
    with _raises("The favourable label 1 does not occur in y_true (its labels: 0, 2)."):
        prepare_outcomes([0, 2], [0, 2], favourable=1)
    with _raises("The favourable label 1 does not occur in y_true (its labels: 2)."):
        prepare_outcomes([2, 2], [0.3, 1.0], favourable=1, kind="scores")
    with _raises("The favourable label 2 does not occur in y_true (its labels: 0, 1)."):
        prepare_outcomes([0, 1], [0, 1], favourable=2)
    with _raises("The favourable label 1 does not occur in y_true (its labels: 'a', 'b')."):
        prepare_outcomes(["a", "b"], ["a", "b"], favourable=1)
    with _raises("The favourable label 'yes' does not occur in y_true (its labels: 'no')."):
        prepare_outcomes(["no", "no"], [0.2, 0.7], favourable="yes")
    # a list cannot be compared with the labels: refused with a sentence, not a numpy error
    with _raises("The favourable label [1, 2, 3] does not occur in y_true (its labels: 0, 1)."):
        prepare_outcomes([0, 1], [0, 1], favourable=[1, 2, 3])
    # at most ten labels are listed, as Python numbers
    with _raises("The favourable label 99 does not occur in y_true (its labels: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)."):
        prepare_outcomes(np.arange(12), np.arange(12), favourable=99)


def test_a_note_says_when_more_than_two_labels_are_read_as_favourable_against_the_rest():
    *_, notes = prepare_outcomes([0, 1, 1], [0, 1, 1])
    assert notes == []
    *_, notes = prepare_outcomes([0, 1, 2], [0, 1, 2])
    assert notes == ["y_true has 3 labels; outcomes are read as 1 (favourable) against all others."]
    *_, notes = prepare_outcomes(["x", "y", "z"], ["x", "y", "z"], favourable="y")
    assert notes == ["y_true has 3 labels; outcomes are read as 'y' (favourable) against all others."]


# ============================================================================= the point report
def test_point_report_of_two_groups_by_hand():
    r = point_metrics(Y8, P8, {"g": G8})
    _same_metrics(r.by_group["g"]["a"], A_METRICS)
    _same_metrics(r.by_group["g"]["b"], B_METRICS)
    _same_metrics(r.overall, {"size": 8, "selection_rate": 5 / 8, "accuracy": 5 / 8, "tpr": 0.75, "fpr": 0.5,
                              "fnr": 0.25, "precision": 0.6})
    assert type(r.overall["size"]) is int and type(r.by_group["g"]["a"]["size"]) is int
    assert math.isnan(r.overall["calibration_error"]) and math.isnan(r.by_group["g"]["b"]["calibration_error"])
    assert r.sizes == {"g": {"a": 4, "b": 4}}
    # every field of a report without a bootstrap
    assert (r.n_boot, r.confidence, r.seed, r.n_perm) == (0, 0.0, 0, 0)
    assert r.intervals == {} and r.overall_intervals == {}
    assert r.threshold is None and r.has_scores is False  # hard predictions: no threshold
    assert r.favourable == 1 and r.band_edges == {}
    assert (r.n_rows, r.columns, r.intersections) == (8, ["g"], [])
    assert r.notes == [HARD_NOTE]
    assert r.overall_reasons == {"calibration_error": NO_SCORES}
    assert r.reasons == {"g": {"a": {"calibration_error": NO_SCORES}, "b": {"calibration_error": NO_SCORES}}}
    d = r.differences["g"]
    # selection 0.5 vs 0.75; TPR 0.5 vs 1; FPR 0.5 vs 0.5
    expected = {"dp_difference": 0.25, "dp_ratio": 2 / 3, "eo_difference": 0.5, "eop_difference": 0.5,
                "di_ratio": 2 / 3}
    for name, value in expected.items():
        entry = d[name]
        assert entry["value"] == pytest.approx(value, abs=1e-12), name
        assert _nan_pair(entry["ci"]) and math.isnan(entry["p_value"])
        assert entry["reason"] == "" and entry["left_out"] == []
    # 2/3 < 4/5; a is lowest
    assert d["di_ratio"]["four_fifths_ok"] is False
    assert (d["di_ratio"]["lowest"], d["di_ratio"]["highest"]) == ("a", "b")
    # two groups: signed differences a − b, with no interval yet
    assert d["dp_difference"]["signed"]["order"] == ["a", "b"]
    assert d["dp_difference"]["signed"]["value"] == pytest.approx(-0.25, abs=1e-12)
    assert d["eop_difference"]["signed"]["value"] == pytest.approx(-0.5, abs=1e-12)
    assert _nan_pair(d["eop_difference"]["signed"]["ci"])
    assert all("signed" not in d[n] for n in ("dp_ratio", "eo_difference", "di_ratio"))
    json.dumps(r.to_dict(), allow_nan=False)


def test_one_group_has_no_signed_difference_and_no_lowest_or_highest():
    r = point_metrics(Y8, P8, {"g": np.array(["a"] * 8)})
    d = r.differences["g"]
    assert all("signed" not in d[n] for n in d)
    assert d["di_ratio"]["lowest"] is None and d["di_ratio"]["highest"] is None
    assert d["di_ratio"]["four_fifths_ok"] is None
    # and the notes say each difference is undefined, with why
    why = "needs at least two groups with a defined selection rate; 1 of 1 have one"
    assert f"g: dp_difference is undefined — {why}." in r.notes


def test_notes_and_reasons_of_empty_and_degenerate_groups():
    # x banded at 0 and 2.5: "< 0" has no rows; "[0, 2.5)" holds x = 1, 2 (y 1 1, pred 1 0: no
    # actual unfavourable rows, so no FPR); ">= 2.5" holds x = 3, 4 (y 0 0, pred 0 0: no TPR,
    # FNR or precision). Selection rates: NaN, 1/2, 0 -> dp 1/2, ratio 0; TPR and FPR are
    # defined for one group each, so eo and eop are undefined.
    r = point_metrics([1, 1, 0, 0], [1, 0, 0, 0], {"x": np.array([1, 2, 3, 4])}, bands={"x": [0, 2.5]})
    assert list(r.by_group["x"]) == ["< 0", "[0, 2.5)", ">= 2.5"]
    assert r.sizes["x"] == {"< 0": 0, "[0, 2.5)": 2, ">= 2.5": 2}
    assert r.notes == [
        "x = '< 0' has no rows; its metrics are undefined.",
        f"x = '[0, 2.5)': fpr undefined — {NO_NEG}.",
        f"x = '>= 2.5': tpr, fnr undefined — {NO_POS}.",
        f"x = '>= 2.5': precision undefined — {NO_PRED}.",
        "x: eo_difference is undefined — TPR needs at least two groups with a defined true positive "
        "rate; 1 of 3 have one; FPR needs at least two groups with a defined false positive rate; 1 of 3 have one.",
        "x: eop_difference is undefined — needs at least two groups with a defined true positive rate; "
        "1 of 3 have one.",
        "'x' is split into 3 bands at 0, 2.5; the same edges are used by every audit of this project.",
        HARD_NOTE,
    ]
    assert r.reasons["x"]["[0, 2.5)"] == {"fpr": NO_NEG, "calibration_error": NO_SCORES}
    assert r.reasons["x"]["< 0"]["selection_rate"] == EMPTY
    di = r.differences["x"]["di_ratio"]
    assert di["value"] == 0.0 and di["four_fifths_ok"] is False  # 0 of 2 against 1 of 2
    # the empty band (first, NaN) is skipped when naming the lowest and highest group
    assert (di["lowest"], di["highest"]) == (">= 2.5", "[0, 2.5)")
    assert r.band_edges == {"x": [0.0, 2.5]}


def test_with_scores_only_undefined_metrics_have_reasons_and_the_threshold_is_kept():
    # same groups as above, with scores: 0.9, 0.2 above / below 0.3; 0.1, 0.25 below
    r = point_metrics([1, 1, 0, 0], [0.9, 0.2, 0.1, 0.25], {"x": np.array([1, 2, 3, 4])},
                      bands={"x": [0, 2.5]}, threshold=0.3)
    assert r.threshold == 0.3 and r.has_scores is True
    assert r.reasons["x"]["[0, 2.5)"] == {"fpr": NO_NEG}  # no calibration reason: it has scores
    assert r.reasons["x"]["< 0"]["calibration_error"] == EMPTY
    assert r.overall_reasons == {}
    assert HARD_NOTE not in r.notes
    assert r.notes[:2] == ["x = '< 0' has no rows; its metrics are undefined.",
                           f"x = '[0, 2.5)': fpr undefined — {NO_NEG}."]
    # calibration error, by hand (bins of 0.1, the edge in the lower bin): 0.9 in bin 8 with
    # y = 1: |0.9 − 1| = 0.1; 0.2 in bin 1 with y = 1: |0.2 − 1| = 0.8 -> (0.1 + 0.8) / 2 = 0.45
    assert r.by_group["x"]["[0, 2.5)"]["calibration_error"] == pytest.approx(0.45, abs=1e-12)
    # ">= 2.5": 0.1 in bin 0, 0.25 in bin 2, both y = 0 -> (0.1 + 0.25) / 2 = 0.175
    assert r.by_group["x"][">= 2.5"]["calibration_error"] == pytest.approx(0.175, abs=1e-12)
    # a fully defined group has no entry in the reasons at all
    r = point_metrics(Y8, [0.9, 0.2, 0.7, 0.1, 0.8, 0.6, 0.7, 0.3], {"g": G8})
    assert r.reasons == {"g": {}} and r.notes == []


def test_a_group_without_notes_does_not_end_the_notes_of_the_next():
    # with scores, a (y 1 0, scores 0.9 0.2) is fully defined and has no note; b (y 1 1) has no
    # actual unfavourable rows (no FPR); c (y 2 2, scores 0.1: none favourable) has no actual
    # or predicted favourable rows. TPR (a, b) and FPR (a, c) have two groups each, so every
    # difference is defined.
    r = point_metrics([1, 0, 1, 1, 2, 2], [0.9, 0.2, 0.8, 0.3, 0.1, 0.1], {"g": ["a", "a", "b", "b", "c", "c"]})
    assert r.notes == [
        "y_true has 3 labels; outcomes are read as 1 (favourable) against all others.",
        f"g = 'b': fpr undefined — {NO_NEG}.",
        f"g = 'c': tpr, fnr undefined — {NO_POS}.",
        f"g = 'c': precision undefined — {NO_PRED}.",
    ]
    assert r.reasons == {"g": {"b": {"fpr": NO_NEG}, "c": {"tpr": NO_POS, "fnr": NO_POS, "precision": NO_PRED}}}


def test_notes_from_the_groups_are_passed_on():
    n = 143  # 7 × 143 = 1,001 possible combinations, above the listing limit of 1,000
    a = np.array([f"a{i % 7}" for i in range(n)])
    b = np.array([f"b{i:03d}" for i in range(n)])
    y = np.arange(n) % 2
    r = point_metrics(y, y, {"a": a, "b": b})
    assert r.notes[-2:] == [
        "The intersection 'a & b' has 1,001 possible combinations; only the 143 that occur are listed.",
        HARD_NOTE,
    ]


def test_report_fields_keep_json_types_and_the_given_settings():
    r = audit(Y8, P8, {"g": G8}, n_boot=np.int64(20), confidence=0.8, seed=np.int64(3),
              favourable=np.int64(1))
    assert (r.n_boot, r.confidence, r.seed, r.n_perm) == (20, 0.8, 3, 20)
    assert type(r.n_boot) is int and type(r.seed) is int and type(r.favourable) is int
    assert 0.0 <= r.elapsed < 5.0
    r = point_metrics(Y8, [0.9, 0.2, 0.7, 0.1, 0.8, 0.6, 0.7, 0.3], {"g": G8}, threshold=np.float32(0.25))
    assert type(r.threshold) is float and r.threshold == 0.25
    json.dumps(r.to_dict(), allow_nan=False)


def test_audit_checks_that_the_groups_cover_every_row():
    with _raises("Sensitive column 'g' has 7 values but there are 8 rows."):
        audit(Y8, P8, {"g": G8[:7]}, n_boot=0)
    with _raises("The sensitive groups cover 7 rows but the labels have 8."):
        point_metrics(Y8, P8, encode_sensitive({"g": G8[:7]}))
    # an encoding done once is reused as it is
    r = point_metrics(Y8, P8, encode_sensitive({"g": G8}))
    _same_metrics(r.by_group["g"]["b"], B_METRICS)


def test_audit_defaults():
    # x: 12 distinct numbers, so it is banded at its quartiles: of 1..12 (linear
    # interpolation) 1 + 11·0.25 = 3.75, 6.5, 9.25
    y = np.array([1, 0] * 6)
    scores = np.linspace(0.05, 0.95, 12)
    sens = {"g": np.array(["a", "b"] * 6), "x": np.arange(1, 13)}
    r = audit(y, scores, sens)
    assert (r.n_boot, r.confidence, r.seed, r.n_perm) == (1000, 0.95, 0, 1000)
    assert r.threshold == 0.5 and r.favourable == 1
    assert r.intersections == ["g & x"] and "g & x" in r.by_group
    assert r.band_edges == {"x": [3.75, 6.5, 9.25]}
    # scores 0.05 + 0.9·i/11 above 0.5 for i = 6..11: six of twelve
    assert r.overall["selection_rate"] == 0.5
    p = point_metrics(y, scores, sens)
    assert p.intersections == ["g & x"] and p.band_edges == {"x": [3.75, 6.5, 9.25]}
    assert p.threshold == 0.5 and p.n_boot == 0


def test_audit_and_point_metrics_pass_every_setting_on():
    # classes name the probability columns: [1, 0] puts P(0) in column 1, so favourable 0
    # reads column 1
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    y = np.array([1, 0, 0, 0])
    sens = {"g": np.array(["a", "a", "b", "b"]), "x": np.array([1.0, 5.0, 2.0, 6.0])}
    for fn, extra in ((point_metrics, {}), (audit, {"n_boot": 5})):
        r = fn(y, probs, sens, favourable=0, classes=[1, 0], threshold=0.35, intersections=False,
               bands={"x": [3]}, **extra)
        # P(0) = 0.2, 0.7, 0.4, 0.9 > 0.35 -> F, T, T, T; actual (y == 0): F, T, T, T
        assert r.overall["selection_rate"] == 0.75 and r.overall["accuracy"] == 1.0
        assert r.threshold == 0.35 and r.favourable == 0
        assert r.intersections == [] and r.band_edges == {"x": [3.0]}
        assert r.sizes["x"] == {"< 3": 2, ">= 3": 2}
    # n_bands: 12 distinct values (0..10 and 12) cut in two at their median (5 + 6) / 2 = 5.5
    x = np.r_[np.arange(11), 12]
    y = np.array([1, 0] * 6)
    for fn, extra in ((point_metrics, {}), (audit, {"n_boot": 5})):
        r = fn(y, y, {"x": x}, n_bands=2, **extra)
        assert r.band_edges == {"x": [5.5]}
    # kind: scores of exactly 0 and 1 are labels unless told otherwise; with favourable 0 the
    # labels reading selects y == 0 predictions, the scores reading selects score > 0.5
    y = np.array([0, 1, 0, 1])
    s = np.array([0.0, 1.0, 1.0, 0.0])
    for fn, extra in ((point_metrics, {}), (audit, {"n_boot": 5})):
        as_labels = fn(y, s, {"g": G8[:4]}, favourable=0, **extra)
        as_scores = fn(y, s, {"g": G8[:4]}, favourable=0, kind="scores", **extra)
        assert as_labels.has_scores is False and as_scores.has_scores is True
        # labels: predicted favourable (== 0) rows 0, 3, actual favourable rows 0, 2 -> accuracy 2/4
        # scores: predicted favourable (> 0.5) rows 1, 2 -> accuracy 2/4, TPR 1/2 (row 2 of 0, 2)
        assert as_labels.overall["tpr"] == 0.5 and as_scores.overall["tpr"] == 0.5
        assert as_labels.overall["precision"] == 0.5 and as_scores.overall["precision"] == 0.5
        assert as_labels.overall["fpr"] == 0.5 and as_scores.overall["fpr"] == 0.5
        assert math.isnan(as_labels.overall["calibration_error"])
        # scores: 0 in bin 0 (rows 0, 3: y == 0 for row 0 only -> 1 favourable of 2, mean 0):
        # |0 − 1| = 1; 1 in bin 9 (rows 1, 2: row 2 favourable, mean score 1): |2 − 1| = 1 -> 2/4
        assert as_scores.overall["calibration_error"] == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_boot": True}, "n_boot must be"),
        ({"n_boot": 2.0}, "n_boot must be"),
        ({"n_boot": -1}, "n_boot must be"),
        ({"confidence": 0.0}, "confidence must be"),
        ({"confidence": 1}, "confidence must be"),
        ({"confidence": "0.9"}, "confidence must be"),
        ({"seed": True}, "seed must be"),
        ({"seed": -1}, "seed must be"),
        ({"seed": 1.5}, "seed must be"),
    ],
)
def test_bootstrap_settings_are_checked(kwargs, message):
    with pytest.raises(FairnessError, match=message):
        audit(Y8, P8, {"g": G8}, **kwargs)


def test_bootstrap_settings_at_their_boundaries_are_accepted():
    assert audit(Y8, P8, {"g": G8}, n_boot=0).intervals == {}
    r = audit(Y8, P8, {"g": G8}, n_boot=np.int64(1), seed=0, confidence=np.float64(0.5))
    assert r.n_boot == 1 and r.seed == 0 and r.confidence == 0.5 and r.intervals != {}


# ============================================================================= intervals
def _rows(selected: int, size: int, group: str) -> tuple[list[int], list[int], list[str]]:
    """``selected`` of ``size`` rows predicted favourable; labels alternate 1, 0."""
    return [i % 2 for i in range(size)], [int(i < selected) for i in range(size)], [group] * size


def test_the_selection_rate_interval_is_the_binomial_percentile_interval():
    # one group of 1,000 rows, 400 selected: a resample's selected count is Binomial(1000, 0.4)
    # (SD 15.5 rows), so the percentile interval is its quantiles (scipy). With 4,000
    # resamples a sample quantile is within about 0.5 row (at 5 %) or 0.35 row (at 25 %) of
    # them; 1.5 rows allows for that, yet fails the 3.3 % or 16.7 % quantile (3 or 5 rows off)
    y, pred, g = _rows(400, 1000, "a")
    for confidence in (0.9, 0.5):
        r = audit(y, pred, {"g": g}, n_boot=4000, confidence=confidence, seed=1)
        q = [(1 - confidence) / 2, (1 + confidence) / 2]  # 5 % / 95 %, 25 % / 75 %
        expected = stats.binom.ppf(q, 1000, 0.4) / 1000  # about 0.4 ∓ 0.0255 and 0.4 ∓ 0.0105
        for lo_hi in (r.overall_intervals["selection_rate"], r.intervals["g"]["a"]["selection_rate"]):
            assert lo_hi[0] == pytest.approx(expected[0], abs=1.5 / 1000)
            assert lo_hi[1] == pytest.approx(expected[1], abs=1.5 / 1000)
    # undefined metrics get no interval: hard predictions have no calibration error
    assert _nan_pair(r.overall_intervals["calibration_error"])
    assert _nan_pair(r.intervals["g"]["a"]["calibration_error"])


def test_calibration_error_has_bootstrap_intervals_overall_and_by_group():
    # 40 rows, every score 0.3 (one bin), 12 actually favourable: calibration error
    # |0.3·40 − 12| / 40 = 0. A resample has B ~ Binomial(40, 0.3) favourable rows and the
    # same scores: error |12 − B| / 40. Its 5 % and 95 % quantiles (scipy): |12 − B| <= 0
    # has probability 0.137 >= 5 %, and 6 is the least m with P(|12 − B| <= m) >= 95 %
    y = [1] * 12 + [0] * 28
    scores = [0.3] * 40
    k = np.arange(41)
    pmf = stats.binom.pmf(k, 40, 0.3)
    assert pmf[k == 12].sum() >= 0.05
    assert pmf[np.abs(12 - k) <= 5].sum() < 0.95 <= pmf[np.abs(12 - k) <= 6].sum()
    r = audit(y, scores, {"g": ["a"] * 40}, n_boot=2000, confidence=0.9, seed=4)
    assert r.overall["calibration_error"] == pytest.approx(0.0, abs=1e-12)
    for lo_hi in (r.overall_intervals["calibration_error"], r.intervals["g"]["a"]["calibration_error"]):
        assert lo_hi == pytest.approx([0.0, 6 / 40], abs=1.01 / 40)
    # same seed, same intervals; another seed, others (few resamples, so that the quantiles
    # fall between draws and show the seed)
    first, again, other = (audit(y, scores, {"g": ["a"] * 40}, n_boot=15, seed=seed).to_dict()["intervals"]
                           for seed in (4, 4, 5))
    assert json.dumps(again) == json.dumps(first) and json.dumps(other) != json.dumps(first)


@pytest.mark.filterwarnings("error")
def test_intervals_of_two_groups_and_of_their_difference():
    # a: 30 of 50 selected (0.6), b: 10 of 50 (0.2); signed a − b = 0.4 with bootstrap SD
    # sqrt(0.6·0.4/50 + 0.2·0.8/50) = sqrt(0.008) = 0.0894, so the 90 % interval is about
    # 0.4 ± 1.645·0.0894 = [0.253, 0.547]; far from "no difference", so BC barely moves it
    ya, pa, ga = _rows(30, 50, "a")
    yb, pb, gb = _rows(10, 50, "b")
    r = audit(ya + yb, pa + pb, {"g": ga + gb}, n_boot=1000, confidence=0.9, seed=2)
    dp = r.differences["g"]["dp_difference"]
    assert dp["signed"]["ci"] == pytest.approx([0.253, 0.547], abs=0.03)
    assert dp["ci"] == pytest.approx([0.253, 0.547], abs=0.03)
    # each group: 0.6 ± 1.645·sqrt(0.24/50) = [0.486, 0.714]; 0.2 ± 1.645·sqrt(0.16/50) = [0.107, 0.293]
    assert r.intervals["g"]["a"]["selection_rate"] == pytest.approx([0.486, 0.714], abs=0.03)
    assert r.intervals["g"]["b"]["selection_rate"] == pytest.approx([0.107, 0.293], abs=0.03)
    # a difference of 4 SDs under "no difference": hardly any of 1,000 permutations reaches it
    assert dp["p_value"] < 0.005
    assert r.differences["g"]["di_ratio"]["p_value"] < 0.005


@pytest.mark.filterwarnings("error")
def test_undefined_metrics_keep_nan_intervals_without_warnings():
    # b has no actual favourable rows: its TPR is NaN in every resample (an all-NaN quantile,
    # which must not warn), and the TPR differences are undefined
    y = [1, 0, 1, 0, 0, 0]
    pred = [1, 0, 0, 1, 1, 0]
    g = ["a"] * 3 + ["b"] * 3
    r = audit(y, pred, {"g": g}, n_boot=30, seed=0)
    assert _nan_pair(r.intervals["g"]["b"]["tpr"])
    lo, hi = r.intervals["g"]["a"]["tpr"]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0  # a: TPR 1/2
    eop = r.differences["g"]["eop_difference"]
    assert math.isnan(eop["value"]) and _nan_pair(eop["ci"]) and math.isnan(eop["p_value"])
    assert math.isnan(eop["signed"]["value"]) and _nan_pair(eop["signed"]["ci"])
    # the selection rates are defined: a 1/3, b 2/3 -> the difference has its interval and p
    dp = r.differences["g"]["dp_difference"]
    assert dp["value"] == pytest.approx(1 / 3, abs=1e-12)
    assert dp["ci"][0] <= dp["value"] <= dp["ci"][1]
    assert 0.0 < dp["p_value"] <= 1.0
    assert dp["signed"]["ci"][0] <= -1 / 3 <= dp["signed"]["ci"][1]


def test_p_values_are_seeded_and_stored_for_every_difference():
    ya, pa, ga = _rows(6, 12, "a")
    yb, pb, gb = _rows(4, 12, "b")
    args = (ya + yb, pa + pb, {"g": ga + gb})
    first = audit(*args, n_boot=40, seed=5)
    again = audit(*args, n_boot=40, seed=5, confidence=0.8)  # other quantiles, same draws
    other = audit(*args, n_boot=40, seed=6)
    p = {n: e["p_value"] for n, e in first.differences["g"].items()}
    assert p == {n: e["p_value"] for n, e in again.differences["g"].items()}
    assert p != {n: e["p_value"] for n, e in other.differences["g"].items()}
    # a mid-p value of 40 permutations: a multiple of 1/2 over 41
    for value in p.values():
        assert 0 < value < 1 and (value * 41 * 2) == pytest.approx(round(value * 41 * 2), abs=1e-9)


def test_groups_that_never_differ_get_p_value_one_half():
    # every row selected in both groups: every permutation ties with the data (dp 0, ratio 1),
    # so p = (0 + ½·n + ½) / (n + 1) = ½ exactly
    r = audit([1, 0, 1, 0], [1, 1, 1, 1], {"g": ["a", "a", "b", "b"]}, n_boot=25, seed=0)
    for name in ("dp_difference", "dp_ratio", "di_ratio"):
        assert r.differences["g"][name]["p_value"] == pytest.approx(0.5, abs=1e-12), name


# ============================================================================= bias-corrected interval
def test_bias_corrected_interval_counts_ties_as_half():
    # 3 of 9 below 3 and 3 tied: share (3 + 1.5) / 9 = ½, z0 = 0: the plain 80 % percentile
    # interval, quantiles 0.1 and 0.9: positions 0.8 and 7.2 -> 0 + 0.8·1 = 0.8, 5 + 0.2·1 = 5.2
    samples = np.array([0, 1, 2, 3, 3, 3, 4, 5, 6], dtype=np.float64)
    assert _bias_corrected(samples, 3.0, 0.8) == pytest.approx((0.8, 5.2), abs=1e-9)


def test_bias_corrected_interval_clips_the_share_at_half_a_resample():
    s = np.array([1.0, 2.0, 3.0, 4.0])
    z = stats.norm.ppf(0.75)  # 50 % interval
    # every resample above the estimate: share clipped to 0.5 / 4 = 0.125
    z0 = stats.norm.ppf(0.125)
    hi_q = stats.norm.cdf(2 * z0 + z)  # ≈ 0.052 -> position 3·q on [1, 2, 3, 4]
    lo, hi = _bias_corrected(s, 0.0, 0.5)
    assert lo == 0.0  # widened to the estimate
    assert hi == pytest.approx(1 + 3 * hi_q, abs=1e-9)
    # a NaN resample is left out, not counted among the four
    assert _bias_corrected(np.r_[s, math.nan], 0.0, 0.5) == pytest.approx((0.0, 1 + 3 * hi_q), abs=1e-9)
    # every resample below: share clipped to 1 − 0.125
    z0 = stats.norm.ppf(0.875)
    lo_q = stats.norm.cdf(2 * z0 - z)  # ≈ 0.948
    lo, hi = _bias_corrected(s, 5.0, 0.5)
    assert lo == pytest.approx(1 + 3 * lo_q, abs=1e-9)
    assert hi == 5.0  # widened to the estimate
    # nothing to go on: NaN
    lo, hi = _bias_corrected(np.array([math.nan, math.nan]), 0.5, 0.95)
    assert math.isnan(lo) and math.isnan(hi)


# ============================================================================= threshold sweep
# y 1 0 1 | 0 1 0, scores 0.2 0.2 0.6 | 0.6 0.9 0.4, groups a a a | b b b
SY = np.array([1, 0, 1, 0, 1, 0])
SS = np.array([0.2, 0.2, 0.6, 0.6, 0.9, 0.4])
SG = np.array(["a", "a", "a", "b", "b", "b"])


def test_sweep_by_hand_at_thresholds_given_out_of_order():
    sweep = threshold_sweep(SY, SS, {"g": SG}, [0.6, 0.2])
    assert sweep.thresholds == [0.6, 0.2]
    nan = math.nan
    # t = 0.6: favourable 0.9 only. a: y 1 0 1, pred 0 0 0 (TN 1, FN 2); b: y 0 1 0, pred 0 1 0
    # t = 0.2: favourable 0.6 0.6 0.9 0.4. a: pred 0 0 1 (TP 1, FN 1, TN 1); b: pred 1 1 1 (TP 1, FP 2)
    expected_a = {"selection_rate": [0, 1 / 3], "accuracy": [1 / 3, 2 / 3], "tpr": [0, 0.5], "fpr": [0, 0],
                  "fnr": [1, 0.5], "precision": [nan, 1]}
    expected_b = {"selection_rate": [1 / 3, 1], "accuracy": [1, 1 / 3], "tpr": [1, 1], "fpr": [0, 1],
                  "fnr": [0, 0], "precision": [1, 1 / 3]}
    expected_overall = {"selection_rate": [1 / 6, 2 / 3], "accuracy": [2 / 3, 0.5], "tpr": [1 / 3, 2 / 3],
                        "fpr": [0, 2 / 3], "fnr": [2 / 3, 1 / 3], "precision": [1, 0.5]}
    for got, expected in ((sweep.by_group["g"]["a"], expected_a), (sweep.by_group["g"]["b"], expected_b),
                          (sweep.overall, expected_overall)):
        assert set(got) == set(expected)
        for k, values in expected.items():
            assert got[k] == pytest.approx(values, abs=1e-12, nan_ok=True), k
    # differences: dp 1/3 and 2/3; ratio 0 and 1/3; eop |0 − 1| = 1 and |½ − 1| = ½;
    # eo max(1, 0) = 1 and max(½, 1) = 1
    expected = {"dp_difference": [1 / 3, 2 / 3], "dp_ratio": [0, 1 / 3], "eo_difference": [1, 1],
                "eop_difference": [1, 0.5], "di_ratio": [0, 1 / 3]}
    assert set(sweep.differences["g"]) == set(expected)
    for k, values in expected.items():
        assert sweep.differences["g"][k] == pytest.approx(values, abs=1e-12), k
    assert sweep.sizes == {"g": {"a": 3, "b": 3}}
    assert sweep.favourable == 1 and sweep.band_edges == {}


def test_sweep_of_one_threshold_and_of_tied_thresholds():
    sweep = threshold_sweep(SY, SS, {"g": SG}, [0.6])
    assert sweep.sizes == {"g": {"a": 3, "b": 3}}
    assert sweep.by_group["g"]["b"]["selection_rate"] == [pytest.approx(1 / 3)]
    # the same threshold twice, and 0 and 1 themselves: both ends allowed
    sweep = threshold_sweep(SY, SS, {"g": SG}, [1.0, 0.6, 0.0, 0.6])
    assert sweep.overall["selection_rate"] == pytest.approx([0, 1 / 6, 1, 1 / 6], abs=1e-12)


def test_sweep_default_thresholds_are_0_to_1_in_steps_of_a_hundredth():
    sweep = threshold_sweep(SY, SS, {"g": SG})
    assert len(sweep.thresholds) == 101
    assert sweep.thresholds[0] == 0.0 and sweep.thresholds[-1] == 1.0
    assert sweep.thresholds == pytest.approx([i / 100 for i in range(101)], abs=1e-12)
    sel = sweep.overall["selection_rate"]
    # every score is above 0, none above 1; above 0.5 (index 50): 0.6, 0.6, 0.9
    assert (sel[0], sel[50], sel[100]) == (1.0, 0.5, 0.0)


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ([], "thresholds must be a non-empty list of numbers between 0 and 1."),
        ([[0.5]], "thresholds must be a non-empty list of numbers between 0 and 1."),
        (0.5, "thresholds must be a non-empty list of numbers between 0 and 1."),
        ([-0.1, 0.5], "Every threshold must be between 0 and 1."),
        ([0.5, 1.5], "Every threshold must be between 0 and 1."),
        ([0.5, 1.0000001], "Every threshold must be between 0 and 1."),
        ([math.nan], "Every threshold must be between 0 and 1."),
        ([0.5, None], "Every threshold must be between 0 and 1."),  # a missing value is NaN
    ],
)
def test_sweep_refuses_bad_thresholds(thresholds, message):
    with _raises(message):
        threshold_sweep(SY, SS, {"g": SG}, thresholds)


def test_sweep_reads_its_input_as_scores_with_the_settings_given():
    # scores of exactly 0 and 1 are scores here, never labels
    sweep = threshold_sweep([0, 1, 0, 1], np.array([0.0, 1.0, 1.0, 0.0]), {"g": SG[:4]}, [0.5])
    assert sweep.overall["selection_rate"] == [0.5]
    # favourable 0: actual favourable are y == 0 (rows 1, 3, 5); at 0.2 a predicts row 2
    # only, so a's TPR (row 1 of its favourable rows) is 0, not ½ as for favourable 1
    sweep = threshold_sweep(SY, SS, {"g": SG}, [0.2], favourable=0)
    assert sweep.by_group["g"]["a"]["tpr"] == [0.0] and sweep.favourable == 0
    assert type(threshold_sweep(SY, SS, {"g": SG}, [0.2], favourable=np.int64(1)).favourable) is int
    # probabilities with named classes: "yes" is column 0
    probs = np.column_stack([SS, 1 - SS])
    names = np.where(SY == 1, "yes", "no")
    sweep = threshold_sweep(names, probs, {"g": SG}, [0.2, 0.6], favourable="yes", classes=["yes", "no"])
    assert sweep.favourable == "yes"
    assert sweep.by_group["g"]["a"]["tpr"] == pytest.approx([0.5, 0.0], abs=1e-12)
    # hard predictions are refused
    with _raises("Scores must be numbers, not <U3 values."):
        threshold_sweep(names, names, {"g": SG})


def test_sweep_groups_bands_and_intersections():
    x = np.arange(12)  # 12 distinct values: banded
    y = np.array([1, 0] * 6)
    s = np.linspace(0.0, 1.0, 12)
    g = np.array(["a", "b"] * 6)
    # default: intersections of the two columns, quartile bands of 0..11: 2.75, 5.5, 8.25
    sweep = threshold_sweep(y, s, {"g": g, "x": x}, [0.5])
    assert list(sweep.by_group) == ["g", "x", "g & x"]
    assert sweep.band_edges == {"x": [2.75, 5.5, 8.25]}
    assert sweep.sizes["x"] == {"< 2.75": 3, "[2.75, 5.5)": 3, "[5.5, 8.25)": 3, ">= 8.25": 3}
    sweep = threshold_sweep(y, s, {"g": g, "x": x}, [0.5], intersections=False, n_bands=2)
    assert list(sweep.by_group) == ["g", "x"] and sweep.band_edges == {"x": [5.5]}
    sweep = threshold_sweep(y, s, {"g": g, "x": x}, [0.5], bands={"x": [3]})
    assert sweep.band_edges == {"x": [3.0]} and sweep.sizes["x"] == {"< 3": 3, ">= 3": 9}
    # the sensitive column must cover every row
    with _raises("Sensitive column 'g' has 11 values but there are 12 rows."):
        threshold_sweep(y, s, {"g": g[:11]}, [0.5])


def test_sweep_json_round_trip_keeps_a_favourable_label_that_reads_nan():
    sweep = ThresholdSweep(thresholds=[0.5], overall={"precision": [math.nan]},
                           by_group={"g": {"a": {"precision": [math.inf]}}},
                           differences={"g": {"dp_difference": [math.nan]}}, sizes={"g": {"a": 2}},
                           favourable="NaN", band_edges={"x": [1.5]})
    d = sweep.to_dict()
    assert d == {"thresholds": [0.5], "overall": {"precision": ["NaN"]},
                 "by_group": {"g": {"a": {"precision": ["Infinity"]}}},
                 "differences": {"g": {"dp_difference": ["NaN"]}}, "sizes": {"g": {"a": 2}},
                 "favourable": "NaN", "band_edges": {"x": [1.5]}}
    back = ThresholdSweep.from_dict(json.loads(json.dumps(d, allow_nan=False)))
    assert back.favourable == "NaN"  # a label, not a number
    assert math.isnan(back.overall["precision"][0]) and back.by_group["g"]["a"]["precision"] == [math.inf]
    assert back.sizes == {"g": {"a": 2}} and back.band_edges == {"x": [1.5]}
    with _raises("A threshold sweep must be a dict, not list."):
        ThresholdSweep.from_dict([])
    with pytest.raises(FairnessError, match="^A threshold sweep has wrong fields: "):
        ThresholdSweep.from_dict({**d, "bogus": 1})


# ============================================================================= groups
def test_text_groups_are_sorted_and_missing_values_are_their_own_group():
    g = encode_sensitive({"c": np.array(["b", "a", "c", "a", None], dtype=object)})
    assert g.levels == {"c": ["a", "b", "c", "missing"]}
    assert g.joint_members["c"][g.joint].tolist() == [1, 0, 2, 0, 3]
    assert g.n_rows == 5 and g.n_joint == 4 and g.features == ["c"] and g.intersections == []
    g = encode_sensitive({"c": np.array([None, None], dtype=object)})
    assert g.levels == {"c": ["missing"]} and g.joint_members["c"][g.joint].tolist() == [0, 0]
    with _raises("Sensitive column 'c' has values that read the same as text (['1', '1']); give them distinct names."):
        encode_sensitive({"c": np.array([1, "1"], dtype=object)})
    with _raises("Sensitive column 'c' has values that read the same as text (['missing', 'missing']); "
                 "give them distinct names."):
        encode_sensitive({"c": np.array(["missing", None], dtype=object)})


def test_numbers_are_categories_up_to_ten_distinct_values_then_bands():
    g = encode_sensitive({"n": np.arange(10)})
    assert g.levels["n"] == [str(i) for i in range(10)] and g.band_edges == {}
    # 0..10: quartiles 2.5, 5, 7.5
    g = encode_sensitive({"n": np.arange(11)})
    assert g.band_edges == {"n": [2.5, 5.0, 7.5]}
    assert g.levels["n"] == ["< 2.5", "[2.5, 5)", "[5, 7.5)", ">= 7.5"]
    assert np.bincount(g.joint_members["n"][g.joint]).tolist() == [3, 2, 3, 3]
    # five bands of 0..10: 2, 4, 6, 8 (6 is 6.000000000000001: 0.6 is not a binary fraction)
    g = encode_sensitive({"n": np.arange(11)}, n_bands=5)
    assert g.band_edges["n"] == pytest.approx([2.0, 4.0, 6.0, 8.0], abs=1e-12)
    assert len(g.levels["n"]) == 5
    # missing numbers: NaN is its own group, banded or not
    g = encode_sensitive({"n": np.array([1.0, math.nan, 3.0])}, bands={"n": [2]})
    assert g.levels["n"] == ["< 2", ">= 2", "missing"]
    assert g.joint_members["n"][g.joint].tolist() == [0, 2, 1]
    g = encode_sensitive({"n": np.array([1.0, math.nan, 1.0])})
    assert g.levels["n"] == ["1.0", "missing"]


@pytest.mark.parametrize("n_bands", [1, 0, True, 2.0, "4"])
def test_n_bands_must_be_a_whole_number_of_at_least_two(n_bands):
    with pytest.raises(FairnessError, match="n_bands must be an integer of at least 2"):
        encode_sensitive({"n": np.arange(11)}, n_bands=n_bands)


def test_two_bands_is_the_median():
    assert encode_sensitive({"n": np.arange(11)}, n_bands=2).band_edges == {"n": [5.0]}


def test_band_edges_and_labels():
    g = encode_sensitive({"n": np.array([0.5, 1, 2, 3, 4, 5])}, bands={"n": [1, 2.5, 4]})
    assert g.levels["n"] == ["< 1", "[1, 2.5)", "[2.5, 4)", ">= 4"]
    assert g.joint_members["n"][g.joint].tolist() == [0, 1, 1, 2, 3, 3]
    g = encode_sensitive({"n": np.array([1, 2])}, bands={"n": []})
    assert g.levels["n"] == ["all"] and g.joint.tolist() == [0, 0]
    with _raises("Band edges for 'n' must be strictly increasing, got [1.0, 1.0]."):
        encode_sensitive({"n": np.arange(3)}, bands={"n": [1, 1]})
    with _raises("Band edges for 'n' must be finite numbers, got [1.0, inf]."):
        encode_sensitive({"n": np.arange(3)}, bands={"n": [1, math.inf]})
    with _raises("Band edges for 'n' must be a list of numbers, not 3."):
        encode_sensitive({"n": np.arange(3)}, bands={"n": 3})
    with _raises("Band edges for 'n' must be a list of numbers, not ['x']."):
        encode_sensitive({"n": np.arange(3)}, bands={"n": ["x"]})
    with _raises("Sensitive column 't' has bands but holds text, not numbers."):
        encode_sensitive({"t": np.array(["a", "b"])}, bands={"t": [1]})
    with _raises("Sensitive column 'b' has bands but holds bool values, not numbers."):
        encode_sensitive({"b": np.array([True, False])}, bands={"b": [0.5]})
    g = encode_sensitive({"b": np.array([True, False, True])})
    assert g.levels["b"] == ["False", "True"] and g.joint_members["b"][g.joint].tolist() == [1, 0, 1]


def test_sensitive_columns_in_every_form():
    values = ["x", "y"]
    assert encode_sensitive(pd.Series(values, name="sex")).columns == ["sex"]
    assert encode_sensitive(pd.Series(values)).columns == ["sensitive"]
    assert encode_sensitive(values).columns == ["sensitive"]
    assert encode_sensitive(pd.DataFrame({"a": values, "b": [1, 2]})).columns == ["a", "b"]
    assert encode_sensitive({7: values}).columns == ["7"]
    assert encode_sensitive(pd.array(values)).columns == ["sensitive"]  # has to_numpy but no name
    with _raises("Sensitive column 'a' must be one value per row, got shape (2, 1)."):
        encode_sensitive({"a": [[1], [2]]})
    with _raises("Sensitive column 'b' has 3 values but there are 2 rows."):
        encode_sensitive({"a": values, "b": ["x", "y", "z"]})
    with _raises("Sensitive column 'a' has 2 values but there are 3 rows."):
        encode_sensitive({"a": values}, n_rows=3)
    # an encoding is reused as it is, if it covers the rows
    g = encode_sensitive({"a": values})
    assert encode_sensitive(g, n_rows=2) is g and encode_sensitive(g) is g
    with _raises("The sensitive groups cover 2 rows but the labels have 3."):
        encode_sensitive(g, n_rows=3)
    assert isinstance(g, SensitiveGroups)


def test_a_column_with_no_rows_has_no_groups():
    g = encode_sensitive({"g": np.array([])})
    assert g.n_rows == 0 and g.levels == {"g": []} and g.joint.tolist() == []
    assert g.joint.dtype == np.int64 and g.joint_members["g"].tolist() == []


def test_intersections_list_every_combination_in_order():
    g = encode_sensitive({"s": ["f", "m", "m"], "r": ["p", "p", "q"]})
    name = "s & r"
    assert g.intersections == [name] and g.features == ["s", "r", name]
    # (f, q) is not observed but listed, with no rows
    assert g.levels[name] == ["f & p", "f & q", "m & p", "m & q"]
    assert g.n_joint == 3
    assert g.joint_members[name][g.joint].tolist() == [0, 2, 3]
    assert encode_sensitive({"s": ["f", "m"], "r": ["p", "q"]}, intersections=False).features == ["s", "r"]


def test_intersections_are_listed_up_to_a_thousand_combinations():
    # 40 × 25 = 1,000 combinations: all listed, 40 of them with a row
    a = np.array([f"a{i:02d}" for i in range(40)])
    b = np.array([f"b{i % 25:02d}" for i in range(40)])
    g = encode_sensitive({"a": a, "b": b})
    assert len(g.levels["a & b"]) == 1000 and g.notes == []
    assert g.levels["a & b"][:2] == ["a00 & b00", "a00 & b01"]
    # 7 × 143 = 1,001: only the 143 observed are listed, in code order
    n = 143
    a = np.array([f"a{i % 7}" for i in range(n)])
    b = np.array([f"b{i:03d}" for i in range(n)])
    g = encode_sensitive({"a": a, "b": b})
    levels = g.levels["a & b"]
    assert len(levels) == 143 and levels[:2] == ["a0 & b000", "a0 & b007"]
    assert g.joint_members["a & b"].tolist() == list(range(143))
    assert sorted(levels[j] for j in g.joint_members["a & b"][g.joint]) == sorted(
        f"{x} & {y}" for x, y in zip(a, b))
    assert g.notes == ["The intersection 'a & b' has 1,001 possible combinations; only the 143 that occur are listed."]


# ============================================================================= bootstrap
def test_resamples_are_multinomial_draws_of_the_observed_cells():
    counts = np.array([[3, 1], [0, 4]])  # n = 8, p = 3/8, 1/8, 0, 4/8
    draws = np.concatenate([c for c, _ in resampled_cells(counts, None, 4000, 0)])
    assert draws.shape == (4000, 2, 2)
    assert (draws.sum((1, 2)) == 8).all()
    assert (draws[:, 1, 0] == 0).all()  # an empty cell stays empty
    # mean n·p = 3, 1, 4; variance n·p·(1 − p) = 1.875, 0.875, 2
    assert draws.mean(0)[[0, 0, 1], [0, 1, 1]] == pytest.approx([3, 1, 4], abs=0.1)
    assert draws.var(0)[[0, 0, 1], [0, 1, 1]] == pytest.approx([1.875, 0.875, 2.0], rel=0.1)
    again = np.concatenate([c for c, _ in resampled_cells(counts, None, 4000, 0)])
    other = np.concatenate([c for c, _ in resampled_cells(counts, None, 4000, 1)])
    assert (again == draws).all() and not (other == draws).all()
    assert list(resampled_cells(counts, None, 0, 0)) == []


def test_resampled_score_sums_are_counts_times_the_cells_mean_score():
    counts = np.array([[2, 0], [1, 1]])
    sums = np.array([[0.5, 0.0], [0.9, 0.6]])  # cell means 0.25, -, 0.9, 0.6
    (c, s), = list(resampled_cells(counts, sums, 50, 3))
    assert s.shape == c.shape == (50, 2, 2)
    assert (s[:, 0, 1] == 0).all()
    assert np.allclose(s[:, 0, 0], 0.25 * c[:, 0, 0])
    assert np.allclose(s[:, 1, 0], 0.9 * c[:, 1, 0])
    assert np.allclose(s[:, 1, 1], 0.6 * c[:, 1, 1])
    assert all(sm is None for _, sm in resampled_cells(counts, None, 5, 3))


def test_resamples_come_in_chunks_of_about_chunk_cells_with_the_same_draws(monkeypatch):
    counts = np.array([[3, 1], [2, 4]])  # 4 cells
    whole = np.concatenate([c for c, _ in resampled_cells(counts, None, 7, 2)])
    monkeypatch.setattr(boot_module, "CHUNK_CELLS", 12)  # 12 // 4 = 3 resamples a chunk
    chunks = [c for c, _ in resampled_cells(counts, None, 7, 2)]
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert (np.concatenate(chunks) == whole).all()
    monkeypatch.setattr(boot_module, "CHUNK_CELLS", 1)  # fewer cells than one resample: 1 a chunk
    assert [len(c) for c, _ in resampled_cells(counts, None, 3, 2)] == [1, 1, 1]
    monkeypatch.setattr(boot_module, "CHUNK_CELLS", 3)  # one cell: 3 // 1 = 3 a chunk
    assert [len(c) for c, _ in resampled_cells(np.array([5]), None, 4, 2)] == [3, 1]


# ============================================================================= permutation p-values
def test_p_value_directions_per_statistic():
    # a: TN 10, FP 0, FN 0, TP 10; b: TN 0, FP 10, FN 10, TP 0. Selection rates are equal (½),
    # so dp 0 and ratio 1 sit at "no difference": most permutations are further (p near
    # 0.875). TPR 1 vs 0 and FPR 0 vs 1 are as far apart as can be: p near 0.5 / 1,000
    cells = np.array([[10, 0, 0, 10], [0, 10, 10, 0]])
    observed = {"dp_difference": 0.0, "dp_ratio": 1.0, "eo_difference": 1.0, "eop_difference": 1.0,
                "di_ratio": 1.0}
    p = permutation_pvalues(cells, observed, 999, np.random.default_rng(0))
    for name in ("dp_difference", "dp_ratio", "di_ratio"):
        assert p[name] > 0.7, name
    for name in ("eo_difference", "eop_difference"):
        assert p[name] < 0.01, name


def test_p_value_is_the_mid_p_value_of_the_permutations():
    cells = np.array([[10, 0, 0, 10], [0, 10, 10, 0]])
    n = 200
    # an observed value beyond every permutation (a difference below 0, a ratio above 1): all
    # n are further, none tied -> (n + ½) / (n + 1)
    p = permutation_pvalues(cells, {"dp_difference": -1.0, "dp_ratio": 2.0}, n, np.random.default_rng(0))
    assert p == pytest.approx({"dp_difference": (n + 0.5) / (n + 1), "dp_ratio": (n + 0.5) / (n + 1)}, abs=1e-12)
    # NaN, or a statistic the test does not know: no p-value
    p = permutation_pvalues(cells, {"dp_difference": math.nan, "auc_gap": 0.1}, n, np.random.default_rng(0))
    assert math.isnan(p["dp_difference"]) and math.isnan(p["auc_gap"])
    # no permutations: no p-values
    p = permutation_pvalues(cells, {"dp_difference": 0.0}, 0, np.random.default_rng(0))
    assert math.isnan(p["dp_difference"])


def test_p_value_ties_within_float_noise_and_a_single_permutation():
    # every row selected in both groups: every permutation has dp 0 and ratio 1 exactly
    cells = np.array([[0, 2, 0, 2], [0, 2, 0, 2]])
    n = 50
    perm = permuted_cells(cells, n, np.random.default_rng(0))
    assert perm.dtype.kind == "i"  # whole-number counts
    assert (perm[..., 1] + perm[..., 3] == 4).all()  # FP + TP: every row still selected

    def p(name, value, n_perm=n):
        return permutation_pvalues(cells, {name: value}, n_perm, np.random.default_rng(0))[name]

    # within the 1e-12 tolerance either side: tied, p = (½·n + ½) / (n + 1) = ½
    assert p("dp_difference", _TIE) == pytest.approx(0.5, abs=1e-12)
    assert p("dp_difference", -_TIE) == pytest.approx(0.5, abs=1e-12)
    # a ratio observed at 1 + 1e-12 (stored as 1 + 1.00009e-12, just beyond the tolerance):
    # not tied, and 1 is not below it by more than the tolerance, so not further either
    assert (1.0 + _TIE) - _TIE == 1.0 and abs(1.0 - (1.0 + _TIE)) > _TIE
    assert p("dp_ratio", 1.0 + _TIE) == pytest.approx(0.5 / (n + 1), abs=1e-12)
    # one permutation is a test too: observed below it, so it is further: (1 + ½) / 2
    assert p("dp_difference", -1.0, n_perm=1) == pytest.approx(0.75, abs=1e-12)


def test_permutations_where_the_statistic_is_undefined_are_left_out():
    # a: TN 2, TP 1; b: TN 2, FN 1 (sizes 3 and 3, two actual favourable rows in all). A
    # permutation that deals both favourable rows to one group leaves the other without a TPR:
    # left out. Every other one splits them, TPR 1 vs 0: tied with the data's 1. So
    # p = (0 + ½·v + ½) / (v + 1) = ½ for any number v of valid permutations.
    cells = np.array([[2, 0, 0, 1], [2, 0, 1, 0]])
    p = permutation_pvalues(cells, {"eop_difference": 1.0}, 300, np.random.default_rng(0))
    assert p["eop_difference"] == pytest.approx(0.5, abs=1e-12)
