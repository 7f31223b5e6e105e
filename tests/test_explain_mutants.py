"""Hand-worked boundary tests for engines.explain that kill mutants a mutmut run left alive.

Guards ``pick_samples`` (sigmoid / softmax confidence, regression errors, quartile classes,
round-robin picks, ties kept in data order), ``AttributionResult`` saving, loading and its
summary line, ``FeatureGroups`` loading and the image / sequence groupings, Grad-CAM's default
layer (the last convolution in *execution* order), ``Explainer.__repr__`` and the map
distance used by ``compare_groups``. Every expected value is worked out by hand in a comment;
the models are ``nn.Identity`` (outputs = inputs) or tiny convolutional nets, so each test is
fast. Headless: no Qt.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from engines.build import GraphModule
from engines.explain import (
    AttributionResult,
    ExplainError,
    FeatureGroups,
    feature_groups,
    make_explainer,
)
from engines.explain.by_group import _pair_distance
from engines.explain.groups import default_patch, image_patches, sequence_steps
from engines.explain.samples import pick_samples

IDENTITY = nn.Identity()  # no parameters: its outputs are its inputs, so X holds the logits


def col(*values: float) -> np.ndarray:
    """One input column (one logit / one output per row) as float32."""
    return np.asarray(values, dtype=np.float32)[:, None]


# ============================================================================ pick_samples
# ---------------------------------------------------------------------------- arguments
def test_n_of_exactly_one_is_accepted_and_true_is_not() -> None:
    x = np.zeros((3, 2), dtype=np.float32)
    assert pick_samples(IDENTITY, x, None, "first", 1).tolist() == [0]  # n = 1 is the minimum
    for bad in (True, 2.0, 0, -1):  # bool is an int in Python but not a count
        with pytest.raises(ExplainError, match="at least 1"):
            pick_samples(IDENTITY, x, None, "first", bad)


def test_one_sample_is_enough_and_none_or_flat_is_not() -> None:
    assert pick_samples(IDENTITY, np.zeros((1, 2)), None, "first", 3).tolist() == [0]  # min(3, 1) = 1
    with pytest.raises(ExplainError, match="no samples"):
        pick_samples(IDENTITY, np.zeros((0, 2)), None, "first", 3)
    with pytest.raises(ExplainError, match="no samples"):  # 1-d: no sample axis, although 4 long
        pick_samples(IDENTITY, np.zeros(4), None, "first", 3)


def test_first_returns_int64_positions() -> None:
    got = pick_samples(IDENTITY, np.zeros((5, 1)), None, "first", 3)
    assert got.dtype == np.int64 and got.tolist() == [0, 1, 2]


# ---------------------------------------------------------------------------- one logit (sigmoid)
# logits 3, -2, 0, 1, -4 -> p1 = sigmoid = .9526, .1192, .5, .7311, .0180
# pred = p1 > .5 -> 1, 0, 0, 1, 0  (p1 = .5 exactly is class 0)
# conf = p1 if pred == 1 else 1 - p1 -> .9526, .8808, .5, .7311, .9820
ONE_LOGIT = col(3.0, -2.0, 0.0, 1.0, -4.0)


def test_one_logit_confident_orders_by_sigmoid_confidence() -> None:
    y = np.array([1, 0, 0, 1, 0])
    got = pick_samples(IDENTITY, ONE_LOGIT, y, "confident", 5)
    # conf descending: .9820 (4), .9526 (0), .8808 (1), .7311 (3), .5 (2)
    assert got.tolist() == [4, 0, 1, 3, 2]
    assert got.dtype == np.int64
    assert pick_samples(IDENTITY, ONE_LOGIT, y, "confident", 2).tolist() == [4, 0]  # cut at n


def test_one_logit_misclassified_and_the_half_probability_boundary() -> None:
    # pred 1, 0, 0, 1, 0 against y 0, 0, 1, 1, 0: wrong are 0 (conf .9526) and 2 (conf .5)
    y = np.array([0, 0, 1, 1, 0])
    assert pick_samples(IDENTITY, ONE_LOGIT, y, "misclassified", 5).tolist() == [0, 2]
    # logit 0 gives p1 = .5, which is not > .5: class 0, so y = 0 there is right, y = 1 wrong
    assert pick_samples(IDENTITY, col(0.0), np.array([0]), "misclassified", 1).tolist() == []
    assert pick_samples(IDENTITY, col(0.0), np.array([1]), "misclassified", 1).tolist() == [0]


# ---------------------------------------------------------------------------- softmax
# rows of logits:
#   0: [0, 0, 0]     -> probs 1/3 each, pred 0 (first of a tie), conf .3333
#   1: [1000, 0, 0]  -> conf 1.0 (exp(-1000) = 0), pred 0; needs the per-row max shift
#   2: [0, 2, 0]     -> conf e^2 / (e^2 + 2) = 7.389 / 9.389 = .787, pred 1
#   3: [0, 0, 1]     -> conf e / (e + 2) = 2.718 / 4.718 = .576, pred 2
SOFTMAX = np.array([[0, 0, 0], [1000, 0, 0], [0, 2, 0], [0, 0, 1]], dtype=np.float32)


def test_softmax_confident_is_stable_for_huge_logits() -> None:
    got = pick_samples(IDENTITY, SOFTMAX, np.array([0, 0, 1, 2]), "confident", 4)
    assert got.tolist() == [1, 2, 3, 0]  # 1.0, .787, .576, .333


def test_softmax_misclassified_most_confidently_wrong_first() -> None:
    # pred 0, 0, 1, 2 against y 1, 0, 1, 0: wrong are 0 (conf .333) and 3 (conf .576)
    got = pick_samples(IDENTITY, SOFTMAX, np.array([1, 0, 1, 0]), "misclassified", 4)
    assert got.tolist() == [3, 0]


def test_ties_keep_the_data_order_beyond_insertion_sort_size() -> None:
    # 40 rows (more than numpy's 16-element insertion sort, so an unstable sort shows):
    # rows 0..19 logits [0, 0, 0] -> conf 1/3, pred 0; rows 20..39 [0, 1, 0] -> conf .576, pred 1.
    # y = 2 everywhere: every row is wrong. Higher confidence first, ties in row order.
    x = np.zeros((40, 3), dtype=np.float32)
    x[20:, 1] = 1.0
    y = np.full(40, 2)
    expected = list(range(20, 40)) + list(range(20))
    assert pick_samples(IDENTITY, x, y, "confident", 40).tolist() == expected
    assert pick_samples(IDENTITY, x, y, "misclassified", 40).tolist() == expected


# ---------------------------------------------------------------------------- regression
def test_regression_errors_rank_both_ways_and_float_targets_mean_regression() -> None:
    # outputs 1, 2, 3, 4; y 1, 0, 5, 4.5 -> |error| 0, 2, 2, 0.5 (float y: regression by default)
    x = col(1.0, 2.0, 3.0, 4.0)
    y = np.array([1.0, 0.0, 5.0, 4.5])
    worst = pick_samples(IDENTITY, x, y, "misclassified", 4)
    assert worst.tolist() == [1, 2, 3, 0]  # 2, 2 (tie: row order), 0.5, 0
    assert worst.dtype == np.int64
    assert pick_samples(IDENTITY, x, y, "confident", 4).tolist() == [0, 3, 1, 2]  # 0, .5, 2, 2
    assert pick_samples(IDENTITY, x, y, "misclassified", 2).tolist() == [1, 2]


def test_regression_ties_keep_the_data_order() -> None:
    # 40 rows: |error| 1 for rows 0..19 and 3 for rows 20..39 (outputs 0, y 1 or 3)
    y = np.array([1.0] * 20 + [3.0] * 20)
    x = np.zeros((40, 1), dtype=np.float32)
    assert pick_samples(IDENTITY, x, y, "misclassified", 40).tolist() == list(range(20, 40)) + list(range(20))
    assert pick_samples(IDENTITY, x, y, "confident", 40).tolist() == list(range(40))


def test_regression_with_several_outputs_uses_the_first() -> None:
    # outputs column 0: 1, 2, 3 against y column 0: 1, 0, 3.5 -> |error| 0, 2, .5
    # (column 1 would give |100 - 0|, |-50 - 0|, |0 - 0| = 100, 50, 0: a different order)
    x = np.array([[1, 100], [2, -50], [3, 0]], dtype=np.float32)
    y = np.array([[1.0, 0.0], [0.0, 0.0], [3.5, 0.0]])
    assert pick_samples(IDENTITY, x, y, "misclassified", 3).tolist() == [1, 2, 0]


# ---------------------------------------------------------------------------- random per class
def test_random_per_class_takes_classes_in_turn_and_stops_at_n() -> None:
    # eight integer classes 0..7, one sample each: n = 4 takes classes 0, 1, 2, 3 -> rows 0..3
    y = np.arange(8)
    x = col(*range(1, 9))  # the prediction path would rank by these logits (7, 6, 5, 4 first)
    got = pick_samples(IDENTITY, x, y, "random_per_class", 4)
    assert got.tolist() == [0, 1, 2, 3]
    assert got.dtype == np.int64


def test_random_per_class_round_robin_and_running_out() -> None:
    # class 0: rows 0, 1; class 1: row 2. Turns: class 0, class 1, class 0 -> row 2 is second
    y = np.array([0, 0, 1])
    x = np.zeros((3, 1), dtype=np.float32)
    got = pick_samples(IDENTITY, x, y, "random_per_class", 10)  # asks for more than there are
    assert got[1] == 2 and sorted(got.tolist()) == [0, 1, 2]


def test_random_per_class_regression_uses_quartiles_with_ties_to_the_upper_class() -> None:
    # y = 0..4: quartile edges 1, 2, 3 (linear quantile, positions 1, 2, 3 of 0..4);
    # a value on an edge goes up: classes 0 | 1 | 2 | 3, 4 -> n = 3 gives rows 0, 1, 2 in turn
    y = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    x = np.zeros((5, 1), dtype=np.float32)
    assert pick_samples(IDENTITY, x, y, "random_per_class", 3).tolist() == [0, 1, 2]


def test_random_per_class_float_targets_are_binned_not_taken_as_classes() -> None:
    # y = 0.0..7.0: edges 1.75, 3.5, 5.25 -> classes {0, 1}, {2, 3}, {4, 5}, {6, 7};
    # n = 4 takes one row from each pair (as classes, the 8 values would give rows 0..3)
    y = np.arange(8, dtype=np.float64)
    x = np.zeros((8, 1), dtype=np.float32)
    got = pick_samples(IDENTITY, x, y, "random_per_class", 4)
    assert sorted(r // 2 for r in got.tolist()) == [0, 1, 2, 3]
    # the same values as integers are eight classes: rows 0, 1, 2, 3
    assert pick_samples(IDENTITY, x, y.astype(np.int64), "random_per_class", 4).tolist() == [0, 1, 2, 3]


def test_random_per_class_default_seed_is_zero() -> None:
    y = np.array([0] * 10 + [1] * 10)
    x = np.zeros((20, 1), dtype=np.float32)
    default = pick_samples(IDENTITY, x, y, "random_per_class", 2)
    assert default.tolist() == pick_samples(IDENTITY, x, y, "random_per_class", 2, seed=0).tolist()
    # the check means something: another seed picks other rows here
    assert default.tolist() != pick_samples(IDENTITY, x, y, "random_per_class", 2, seed=1).tolist()
    assert y[default].tolist() == [0, 1]


# ============================================================================ AttributionResult
def _result(**changes) -> AttributionResult:
    base = dict(method="saliency", title="Saliency", params={}, attributions=np.array([[1.0, 2.0], [3.0, 4.0]]),
                feature_names=["a", "b"], targets=[0, 1], outputs=np.array([0.5, 0.25]), reference=None,
                baseline="zeros", value_function=None, delta=None, seed=0, versions={"torch": "t"})
    base.update(changes)
    return AttributionResult(**base)


def test_to_dict_writes_floats_and_plain_ints() -> None:
    r = _result(attributions=np.array([[1, 2], [3, 4]]), targets=[np.int64(1), None])
    d = r.to_dict()
    assert d["attributions"] == [[1.0, 2.0], [3.0, 4.0]]
    assert all(type(v) is float for row in d["attributions"] for v in row)  # int arrays saved as floats
    assert d["targets"] == [1, None] and type(d["targets"][0]) is int  # numpy int -> JSON-ready int
    assert d["reference"] is None
    assert json.loads(json.dumps(d))["targets"] == [1, None]


def test_from_dict_fills_missing_optional_fields_and_reads_the_rest() -> None:
    d = _result().to_dict()
    del d["layer"], d["versions"], d["elapsed"]
    back = AttributionResult.from_dict(d)
    assert back.layer is None and back.elapsed == 0.0
    assert set(back.versions) == {"torch", "captum", "numpy"}  # the running libraries
    # a missing 'layer' does not stop 'versions' and 'elapsed' being read
    d = _result(versions={"torch": "1.0"}, elapsed=2.5).to_dict()
    del d["layer"]
    back = AttributionResult.from_dict(d)
    assert back.versions == {"torch": "1.0"} and back.elapsed == 2.5 and back.layer is None
    d = _result().to_dict()
    del d["seed"]
    with pytest.raises(ExplainError, match="no 'seed' field"):
        AttributionResult.from_dict(d)


def test_from_dict_reads_numbers_as_float64_and_rejects_text() -> None:
    d = _result().to_dict()
    d["attributions"] = [[1, 2], [3, 4]]  # JSON integers
    back = AttributionResult.from_dict(d)
    assert back.attributions.dtype == np.float64 and back.outputs.dtype == np.float64
    d["attributions"] = [["a", "b"], ["c", "d"]]
    with pytest.raises(ExplainError, match="field 'attributions' is not an array of numbers"):
        AttributionResult.from_dict(d)


def test_from_dict_rejects_flat_or_mismatched_arrays() -> None:
    d = _result().to_dict()
    d["attributions"] = [1.0, 2.0]  # 1-d, although as long as outputs (2)
    with pytest.raises(ExplainError, match="mismatched"):
        AttributionResult.from_dict(d)
    d["attributions"] = [[1.0, 2.0]]  # 2-d, one row for two outputs
    with pytest.raises(ExplainError, match="mismatched"):
        AttributionResult.from_dict(d)


def test_summary_line() -> None:
    assert _result().summary() == "Saliency on 2 sample(s), baseline: zeros."
    assert _result(delta=np.array([])).summary() == "Saliency on 2 sample(s), baseline: zeros."
    # largest |delta| of 0.01 and -0.0456789 is 0.0456789 -> 3 significant digits 0.0457
    r = _result(delta=np.array([0.01, -0.0456789]))
    assert r.summary() == "Saliency on 2 sample(s), baseline: zeros, largest completeness gap 0.0457."
    assert _result(delta=np.array([0.1, math.nan])).summary() == "Saliency on 2 sample(s), baseline: zeros."


# ============================================================================ groups
def test_feature_groups_from_dict() -> None:
    g = FeatureGroups.from_dict({"names": ["a", "b"], "index": [0.0, 1.0, 1.0]})  # whole floats
    assert g.index.dtype == np.int64 and g.index.tolist() == [0, 1, 1] and g.names == ["a", "b"]
    for bad in ({"names": ["a"]}, {"index": [0]}, None, ["names", "index"]):
        with pytest.raises(ExplainError, match="need 'names' and 'index'"):
            FeatureGroups.from_dict(bad)


def test_feature_groups_sum_matrix_members() -> None:
    g = FeatureGroups(("a", "b"), np.array([1, 0, 1], dtype=np.int32))
    assert g.names == ["a", "b"] and g.index.dtype == np.int64
    assert g.n_groups == 2 and g.n_features == 3
    assert g.matrix().tolist() == [[0, 1], [1, 0], [0, 1]]
    assert g.members() == [[1], [0, 2]]
    assert g.sum(np.array([[1, 2, 3]])).tolist() == [[2.0, 4.0]]  # a: column 1 = 2; b: 1 + 3 = 4
    assert FeatureGroups.from_dict(g.to_dict()).index.tolist() == [1, 0, 1]


@pytest.mark.parametrize("names, index, message", [
    ([], [0], "non-empty list"),
    (["a", 1], [0, 1], "non-empty list"),
    (["a", "a"], [0, 1], "unique"),
    (["a"], [[0]], "1-d integer"),
    (["a"], [], "1-d integer"),
    (["a"], [0.0], "1-d integer"),
    (["a", "b"], [-1, 1], r"0\.\.1"),
    (["a", "b"], [0, 2], r"0\.\.1"),
    (["a", "b", "c"], [0, 2], "'b' has no input columns"),
])
def test_feature_groups_rejects(names, index, message) -> None:
    with pytest.raises(ExplainError, match=message):
        FeatureGroups(names, np.asarray(index))


def test_feature_groups_drops_a_column_that_encodes_to_nothing() -> None:
    pre = {"kind": "table", "columns": [
        {"name": "age", "type": "numeric"},
        {"name": "job", "type": "categorical", "categories": ["a", "b"]},
        {"name": "empty", "type": "categorical", "categories": []},
        {"name": "x", "type": "numeric"},
    ]}
    g = feature_groups(pre, ["age", "job=a", "job=b", "x"])
    assert g.names == ["age", "job", "x"] and g.index.tolist() == [0, 1, 1, 2]
    # input columns in another order keep the description's group order
    g = feature_groups(pre, ["x", "age"])
    assert g.names == ["age", "x"] and g.index.tolist() == [1, 0]


def test_sequence_steps() -> None:
    index, names = sequence_steps((3, 2))  # 3 steps of 2 features, row-major
    assert index.dtype == np.int64 and index.tolist() == [0, 0, 1, 1, 2, 2]
    assert names == ["step 0", "step 1", "step 2"]


def test_default_patch_cuts_into_at_most_eight_per_side() -> None:
    # ceil(max(h, w) / 8): 8 -> 1, 9 -> 2, 16 -> 2, 17 -> 3; never below 1
    assert [default_patch(8, 8), default_patch(9, 3), default_patch(3, 16), default_patch(17, 1),
            default_patch(1, 1)] == [1, 2, 2, 3, 1]


def test_image_patches_at_ragged_edges() -> None:
    # 5 x 3 pixels, patch 2: rows 0-1, 2-3, 4-4 and cols 0-1, 2-2 -> 3 x 2 = 6 patches
    index, names, p = image_patches((2, 5, 3), patch=2)
    grid = [[0, 0, 1], [0, 0, 1], [2, 2, 3], [2, 2, 3], [4, 4, 5]]
    assert p == 2 and index.dtype == np.int64
    assert index.reshape(2, 5, 3).tolist() == [grid, grid]  # the same patches in every channel
    assert names == ["rows 0-1, cols 0-1", "rows 0-1, cols 2-2", "rows 2-3, cols 0-1",
                     "rows 2-3, cols 2-2", "rows 4-4, cols 0-1", "rows 4-4, cols 2-2"]
    assert image_patches((1, 9, 9))[2] == 2  # default side ceil(9 / 8) = 2


# ============================================================================ Grad-CAM default layer, repr
def _graph_with_convs_out_of_order() -> GraphModule:
    """Runs z_conv then a_conv, but lists a_conv first and sorts z_conv last by name."""
    torch.manual_seed(0)
    layers = {"in": nn.Identity(), "a_conv": nn.Conv2d(2, 2, 3, padding=1), "z_conv": nn.Conv2d(1, 2, 3, padding=1),
              "flat": nn.Flatten(), "fc": nn.Linear(2 * 4 * 4, 2)}
    steps = [("z_conv", ["in"]), ("a_conv", ["z_conv"]), ("flat", ["a_conv"]), ("fc", ["flat"])]
    return GraphModule(layers, steps, "in", "fc", (1, 4, 4), (2,)).eval()


class _StepsNet(nn.Module):
    """A plain torch model whose convolution block happens to be called ``steps``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.steps = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.steps(x))


def test_gradcam_defaults_to_the_last_convolution_run() -> None:
    x = np.ones((1, 1, 4, 4), dtype=np.float32)
    # execution order z_conv -> a_conv: the last convolution run is a_conv (neither the last
    # listed, z_conv, nor the last by name, z_conv)
    assert make_explainer("gradcam", _graph_with_convs_out_of_order()).attribute(x, target=0).layer == "a_conv"
    # a plain model: its module names; the only convolution is steps.0
    assert make_explainer("gradcam", _StepsNet().eval()).attribute(x, target=0).layer == "steps.0"
    # a plain model with neither 'layers' nor 'steps': convolutions 0 and 2, the last is "2"
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1), nn.Flatten(),
                        nn.Linear(2 * 4 * 4, 2)).eval()
    assert make_explainer("gradcam", seq).attribute(x, target=0).layer == "2"


def test_explainer_repr() -> None:
    model = _graph_with_convs_out_of_order()
    assert repr(make_explainer("saliency", model)) == "Explainer('saliency')"
    assert repr(make_explainer("gradcam", model, layer="z_conv")) == "Explainer('gradcam', layer='z_conv')"


# ============================================================================ map distance (compare_groups)
def test_pair_distance_for_any_leading_axes() -> None:
    # groups at (0, 0), (3, 4), (6, 8): pair distances 5, 5, 10 -> largest 10
    g = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    assert _pair_distance(g, np.array([0, 1, 2])).tolist() == 10.0  # (G, P): no leading axis
    assert _pair_distance(g, np.array([0, 1])).tolist() == 5.0  # group 2 not present
    # (A, B, G, P) with A = 2, B = 3: the same groups scaled by 1..6 -> 10, 20, ..., 60
    scale = np.arange(1, 7, dtype=np.float64).reshape(2, 3, 1, 1)
    got = _pair_distance(g[None, None] * scale, np.array([0, 1, 2]))
    assert got.shape == (2, 3) and got.tolist() == [[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]]
