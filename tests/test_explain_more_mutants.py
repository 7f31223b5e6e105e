"""Hand-worked boundary tests for Shapley values, group comparisons and attribution checks.

Written against mutmut's one-line changes of ``engines/explain/shapley.py``, ``by_group.py``
and ``checks.py`` that the other explain tests would let through: comparisons on their
boundary, the ``+ 1`` of a count, a dropped keyword, a swapped key. Every expected number is
worked out in a comment (or by an independent computation written here: a KKT solve of the
constrained regression, ``math.exp`` for a softmax); none repeats the engine's own expression.
Models are ``nn.Linear`` with set weights or ``nn.Identity``, with one to four features (forty
where a sort must be stable). Headless: no Qt.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from engines.explain import (
    AttributionResult,
    Cancelled,
    ExplainError,
    FeatureGroups,
    GroupAttributionComparison,
    ShapleyValues,
    by_group,
    compare_groups,
    deletion_insertion,
    exact_shapley,
    holm,
    infidelity,
    make_explainer,
    paired_kernel_shap,
    randomisation_check,
    sensitivity_max,
)
from engines.explain.by_group import _decode, _encode
from engines.explain.checks import _randomise, _to_input_shape, _unit_scores, _units
from engines.explain.shapley import (
    _all_coalitions,
    _constrained_wls,
    _exact_weight_matrix,
    _paired_design,
    shapley_kernel_weights,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one thread


def linear(weights, bias: float = 0.0) -> nn.Linear:
    """``nn.Linear`` with the given weight rows (a flat list is one output)."""
    w = torch.tensor(weights, dtype=torch.float32)
    w = w[None] if w.ndim == 1 else w
    lin = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        lin.weight.copy_(w)
        lin.bias.fill_(bias)
    return lin.eval()


class Recorder(nn.Module):
    """A linear model that notes how many rows each forward pass gets."""

    def __init__(self, weights, bias: float = 0.0) -> None:
        super().__init__()
        self.lin = linear(weights, bias)
        self.sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(int(x.shape[0]))
        return self.lin(x)


def _result(**changes) -> AttributionResult:
    """An AttributionResult made by hand (the method name decides infidelity's perturbation)."""
    base = dict(method="ig", title="t", params={}, attributions=np.zeros((1, 2)), feature_names=None,
                targets=[0], outputs=np.zeros(1), reference=None, baseline="zeros", value_function=None,
                delta=None, seed=0, versions={"torch": "t"})
    base.update(changes)
    return AttributionResult(**base)


# ============================================================================ shapley.py
# ---------------------------------------------------------------------------- closed forms
def test_shapley_kernel_weights_by_hand() -> None:
    # w[s] = s! (G-s-1)! / G!   G = 3: 0!2!/6 = 1/3, 1!1!/6 = 1/6, 2!0!/6 = 1/3
    np.testing.assert_allclose(shapley_kernel_weights(3), [1 / 3, 1 / 6, 1 / 3], rtol=1e-12)
    # G = 4: 0!3!/24 = 1/4, 1!2!/24 = 1/12, 2!1!/24 = 1/12, 3!0!/24 = 1/4
    np.testing.assert_allclose(shapley_kernel_weights(4), [1 / 4, 1 / 12, 1 / 12, 1 / 4], rtol=1e-12)
    np.testing.assert_allclose(shapley_kernel_weights(1), [1.0], rtol=1e-12)


def test_all_coalitions_bit_order() -> None:
    # coalition k holds player j when bit j of k is set; 2**3 = 8 rows (not 2*3 = 6)
    got = _all_coalitions(3).astype(int).tolist()
    assert got == [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0],
                   [0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]]
    assert _all_coalitions(3).dtype == bool


def test_exact_weight_matrix_for_three_players() -> None:
    # w = (1/3, 1/6, 1/3). A coalition z of size s gives +w[s-1] to each player in it
    # (v(z) is the "with i" term) and -w[s] to each player outside it ("without i").
    a, b = 1 / 3, 1 / 6
    expected = [
        [-a, -a, -a],  # {}: without everyone, size 0 -> -w[0]
        [a, -b, -b],  # {0}: +w[0] for 0; -w[1] for 1, 2
        [-b, a, -b],  # {1}
        [b, b, -a],  # {0, 1}: +w[1]; -w[2] for 2
        [-b, -b, a],  # {2}
        [b, -a, b],  # {0, 2}
        [-a, b, b],  # {1, 2}
        [a, a, a],  # {0, 1, 2}: +w[2] for all
    ]
    np.testing.assert_allclose(_exact_weight_matrix(_all_coalitions(3)), expected, rtol=1e-12)


def test_gap_is_sum_minus_the_output_change() -> None:
    sv = ShapleyValues(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([10.0, 5.0]), np.array([4.0, 1.0]),
                       True, 4, "baseline")
    # (1 + 2) - (10 - 4) = -3;  (3 + 4) - (5 - 1) = 3
    np.testing.assert_allclose(sv.gap, [-3.0, 3.0])


def test_constrained_wls_by_hand() -> None:
    # Two players observed alone: y = (3, 5), weights (1, 3), and phi0 + phi1 must be 10.
    # Minimise (3 - a)^2 + 3 (5 - b)^2 with a = 10 - b: 2 (b - 7) - 6 (5 - b) = 0 -> b = 5.5,
    # a = 4.5. A second sample y = (1, 1) with total 2 already fits: (1, 1).
    z = np.array([[True, False], [False, True]])
    got = _constrained_wls(z, np.array([1.0, 3.0]), np.array([[3.0, 5.0], [1.0, 1.0]]), np.array([10.0, 2.0]))
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got, [[4.5, 5.5], [1.0, 1.0]], rtol=1e-12)
    # equal weights: the shortfall 10 - 8 = 2 is split evenly -> (4, 6)
    even = _constrained_wls(z, np.array([1.0, 1.0]), np.array([[3.0, 5.0]]), np.array([10.0]))
    np.testing.assert_allclose(even, [[4.0, 6.0]], rtol=1e-12)


def test_constrained_wls_singular_design_takes_the_least_squares_branch() -> None:
    # Only {0, 1} observed: Z'WZ = [[1, 1], [1, 1]] is singular. The minimum-norm solutions are
    # u = (2, 2) for y = 4 and u1 = (1/2, 1/2); with total 6, lambda = (4 - 6) / 1 = -2 and
    # phi = u - lambda u1 = (3, 3): the symmetric split.
    got = _constrained_wls(np.array([[True, True]]), np.array([1.0]), np.array([[4.0]]), np.array([6.0]))
    np.testing.assert_allclose(got, [[3.0, 3.0]], rtol=1e-9)


# ---------------------------------------------------------------------------- the game
def test_full_empty_and_flags_of_an_exact_result() -> None:
    # F(x) = 2 x0 - x1 + 0.5: x = (3, 1) -> 5.5, baseline (1, 2) -> 0.5; phi = w (x - b) = (4, 1)
    lin = linear([2.0, -1.0], 0.5)
    for baseline in (np.array([1.0, 2.0]), np.array([[1.0, 2.0]])):  # (F,) and (1, F)
        sv = exact_shapley(lin, np.array([[3.0, 1.0]], dtype=np.float32), baseline)
        np.testing.assert_allclose(sv.values, [[4.0, 1.0]], atol=1e-6)
        np.testing.assert_allclose(sv.full, [5.5], atol=1e-6)
        np.testing.assert_allclose(sv.empty, [0.5], atol=1e-6)
        assert sv.exact is True and sv.evaluations == 4 and sv.value_function == "baseline"


def test_integer_inputs_and_float64_baseline_are_used_as_the_model_dtype() -> None:
    lin = linear([2.0, -1.0], 0.5)
    sv = exact_shapley(lin, np.array([[3, 1]]), np.array([1.0, 2.0], dtype=np.float64))
    np.testing.assert_allclose(sv.values, [[4.0, 1.0]], atol=1e-6)


def test_one_baseline_for_three_samples_in_one_row_passes() -> None:
    # one baseline row serves every sample even when each pass holds a single row
    lin = linear([1.0, 1.0])
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=np.float32)
    sv = exact_shapley(lin, x, np.zeros((1, 2)), max_batch=1)
    np.testing.assert_allclose(sv.values, x, atol=1e-6)


def test_batches_rows_and_progress_with_a_background() -> None:
    # 3 samples, 2 groups (4 coalitions), 2 background rows: 3 * 4 * 2 = 24 model rows.
    # max_batch 5: reference block 2 rows, coalition block 5 // 2 = 2, sample block 5 // 4 = 1
    # -> 3 samples * 2 coalition blocks = 6 passes of 1 * 2 * 2 = 4 rows.
    model = Recorder([1.0, -2.0])
    x = np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 3.0]], dtype=np.float32)
    bg = np.array([[0.0, 0.0], [2.0, 2.0]], dtype=np.float32)  # mean (1, 1)
    seen: list[float] = []
    sv = exact_shapley(model, x, bg, value_function="background", max_batch=5, progress=seen.append)
    assert model.sizes == [4] * 6
    assert seen == pytest.approx([k / 6 for k in range(1, 7)])  # 4, 8, ..., 24 of 24 rows
    # linear: phi = w (x - mean(bg)) = (1 (x0 - 1), -2 (x1 - 1))
    np.testing.assert_allclose(sv.values, [[0.0, 0.0], [1.0, 2.0], [-1.0, -4.0]], atol=1e-6)
    np.testing.assert_allclose(sv.empty, [-1.0] * 3, atol=1e-6)  # mean of F(bg) = (0 + -2) / 2
    assert sv.value_function == "background"
    # one row per pass: the two background rows of a coalition come in two passes and add up
    model.sizes.clear()
    one = exact_shapley(model, x, bg, value_function="background", max_batch=1)
    assert model.sizes == [1] * 24
    np.testing.assert_allclose(one.values, sv.values, atol=1e-6)


def test_default_pass_size_is_16384_rows() -> None:
    # one group (2 coalitions) over a background of 16,385 rows: rows go in passes of at most
    # 16,384, so each coalition takes a full pass and a one-row pass
    model = Recorder([1.0])
    bg = np.zeros((16_385, 1), dtype=np.float32)
    bg[-1] = 16_385.0  # mean 1
    sv = exact_shapley(model, np.array([[3.0]], dtype=np.float32), bg, value_function="background")
    assert model.sizes == [16_384, 1, 16_384, 1]
    np.testing.assert_allclose(sv.values, [[2.0]], atol=1e-4)


def test_outputs_of_any_rank_and_target_forms() -> None:
    x = np.array([[1.0, 2.0]], dtype=np.float32)
    b = np.zeros(2)
    # (N,) outputs: F = x0 + 2 x1 -> phi (1, 4)
    flat = exact_shapley(lambda t: t[:, 0] + 2 * t[:, 1], x, b)
    np.testing.assert_allclose(flat.values, [[1.0, 4.0]], atol=1e-6)
    # (N, 1, 2) outputs are read as (N, 2); target 1 picks x1 * 3 -> phi (0, 6)
    cube = exact_shapley(lambda t: torch.stack([t[:, 0], 3 * t[:, 1]], 1)[:, None, :], x, b, target=1)
    np.testing.assert_allclose(cube.values, [[0.0, 6.0]], atol=1e-6)
    # numpy and torch integers name the same target
    for target in (np.int64(1), torch.tensor([1])):
        got = exact_shapley(linear([[1.0, 0.0], [0.0, 5.0]]), x, b, target=target)
        np.testing.assert_allclose(got.values, [[0.0, 10.0]], atol=1e-6)


def test_game_rejects_bad_batches_baselines_and_bool_targets() -> None:
    lin = linear([1.0, 1.0])
    with pytest.raises(ExplainError, match="at least one sample"):
        exact_shapley(lin, np.array([1.0, 2.0]), np.zeros(2))  # 1-d: no sample axis
    with pytest.raises(ExplainError, match="at least one sample"):
        exact_shapley(lin, np.zeros((0, 2)), np.zeros(2))
    with pytest.raises(ExplainError, match="per-sample shape"):
        exact_shapley(lin, np.ones((1, 2)), np.zeros((0, 2)), value_function="background")
    with pytest.raises(ExplainError, match="one baseline or one per sample"):
        exact_shapley(lin, np.ones((3, 2), np.float32), np.zeros((2, 2)))
    with pytest.raises(ExplainError, match="group number"):
        exact_shapley(lin, np.ones((1, 2), np.float32), np.zeros(2), index=np.array([-1, 0]))
    with pytest.raises(ExplainError, match="one target per sample"):
        exact_shapley(lin, np.ones((2, 2), np.float32), np.zeros(2), target=True)
    # a background may have any number of rows, unlike a baseline
    sv = exact_shapley(lin, np.ones((3, 2), np.float32), np.zeros((2, 2)), value_function="background")
    np.testing.assert_allclose(sv.values, np.ones((3, 2)), atol=1e-6)


# ---------------------------------------------------------------------------- paired KernelSHAP
def test_max_evals_boundaries() -> None:
    lin = linear([1.0, 2.0, 3.0, 4.0])
    x, b = np.ones((1, 4), dtype=np.float32), np.zeros(4)
    with pytest.raises(ExplainError, match="at least 6"):
        paired_kernel_shap(lin, x, b, max_evals=5)  # 4 groups need 4 + 2
    with pytest.raises(ExplainError, match="whole number"):
        paired_kernel_shap(lin, x, b, max_evals=100.0)
    # g + 2 = 6 is enough: a budget of 4 = 2 pairs, sampled. Sizes 1+3 and 2 hold kernel mass
    # 8/11 and 3/11, so the 2 pairs go 16/11 = 1.45 and 6/11 = 0.55 -> floors 1, 0, the leftover
    # to the larger remainder (0.55) -> one singleton pair and one size-2 pair: 4 coalitions
    # + empty + full.
    est = paired_kernel_shap(lin, x, b, max_evals=6)
    assert est.exact is False and est.evaluations == 6


def test_paired_result_fields_on_a_linear_model() -> None:
    # F = x0 + 2 x1 + 3 x2 + 4 x3 + 1 at x = 1, baseline 0: full 11, empty 1, phi = (1, 2, 3, 4).
    # max_evals 10 -> budget 8 = 4 pairs: sizes 1+3 get 3 pairs, size 2 one (see the design
    # test below), 8 distinct coalitions + empty + full = 10 evaluations.
    lin = linear([1.0, 2.0, 3.0, 4.0], 1.0)
    x = np.ones((1, 4), dtype=np.float32)
    est = paired_kernel_shap(lin, x, np.zeros(4), max_evals=10)
    assert est.exact is False and est.evaluations == 10 and est.value_function == "baseline"
    np.testing.assert_allclose(est.full, [11.0], atol=1e-6)
    np.testing.assert_allclose(est.empty, [1.0], atol=1e-6)
    np.testing.assert_allclose(est.values, [[1.0, 2.0, 3.0, 4.0]], atol=1e-6)
    # the default seed is 0
    np.testing.assert_array_equal(est.values, paired_kernel_shap(lin, x, np.zeros(4), max_evals=10, seed=0).values)
    # a background of rows 0 and 2: empty is the mean output (1 + 21) / 2 = 11, and x = 1 is the
    # background mean, so every phi is 0
    bg = np.array([[0.0] * 4, [2.0] * 4], dtype=np.float32)
    on_bg = paired_kernel_shap(lin, x, bg, value_function="background", max_evals=10)
    assert on_bg.value_function == "background" and on_bg.exact is False
    np.testing.assert_allclose(on_bg.empty, [11.0], atol=1e-5)
    np.testing.assert_allclose(on_bg.values, [[0.0, 0.0, 0.0, 0.0]], atol=1e-5)


def test_paired_with_every_coalition_affordable_is_exact() -> None:
    # 3 groups, max_evals = 2**3 = 8 exactly: enumeration, not the 6-coalition design
    lin = linear([1.0, -1.0, 2.0], 0.5)
    est = paired_kernel_shap(lin, np.array([[2.0, 2.0, 2.0]], dtype=np.float32), np.zeros(3), max_evals=8)
    assert est.exact is True and est.evaluations == 8
    np.testing.assert_allclose(est.values, [[2.0, -2.0, 4.0]], atol=1e-6)
    np.testing.assert_allclose(est.full, [4.5], atol=1e-6)  # 2 - 2 + 4 + 0.5
    np.testing.assert_allclose(est.empty, [0.5], atol=1e-6)


class Cubic(nn.Module):
    """F(x) = x0 x1 x2 x3 + 2 x0 x1 x2 + x3: interactions of order 3 and 4."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.double()
        return (x.prod(1) + 2 * x[:, :3].prod(1) + x[:, 3])[:, None]


def test_paired_estimate_is_the_constrained_weighted_fit_of_its_design() -> None:
    """The estimate solves the KKT system of the weighted fit, on the design it was given.

    Oracle: v(S) evaluated coalition by coalition, then [[2 Z'WZ, 1], [1', 0]] [phi, mu] =
    [2 Z'W y, v(all) - v(none)] solved directly (not through the engine's Lagrangian)."""
    x, b = np.array([[1.0, 2.0, 1.0, 3.0]]), np.zeros((1, 4))
    model = Cubic()
    est = paired_kernel_shap(model, torch.from_numpy(x), torch.from_numpy(b), max_evals=10, seed=5)
    z, w = _paired_design(4, 8, np.random.default_rng(5))

    def v(keep: np.ndarray) -> float:
        row = np.where(keep, x[0], b[0])
        return float(row.prod() + 2 * row[:3].prod() + row[3])

    y = np.array([v(row) for row in z]) - v(np.zeros(4, bool))
    total = v(np.ones(4, bool)) - v(np.zeros(4, bool))  # 6 + 4 + 3 = 13
    assert total == 13.0
    zf = z.astype(float)
    kkt = np.zeros((5, 5))
    kkt[:4, :4] = 2 * zf.T @ (w[:, None] * zf)
    kkt[:4, 4] = kkt[4, :4] = 1.0
    rhs = np.append(2 * zf.T @ (w * y), total)
    expected = np.linalg.solve(kkt, rhs)[:4]
    np.testing.assert_allclose(est.values[0], expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(est.full, [13.0])
    np.testing.assert_allclose(est.empty, [0.0])


# ---------------------------------------------------------------------------- the design
def _by_size(z: np.ndarray, w: np.ndarray) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for row, weight in zip(z, w):
        out.setdefault(int(row.sum()), []).append(float(weight))
    return out


def _draws(weights: list[float], unit: float) -> list[int]:
    """How many draws of weight ``unit`` each coalition's weight is (must be whole)."""
    counts = [x / unit for x in weights]
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    return [int(round(c)) for c in counts]


def test_design_for_four_groups_and_budget_eight() -> None:
    # Mass: sizes 1+3: 2 * 3/(1*3) = 2; size 2: 3/(2*2) = 3/4 -> shares 8/11, 3/11.
    # Sizes 1+3 (8 coalitions) need 8 * 8/11 / 8 < 1 -> not enumerated. 4 pairs: 32/11 = 2.91
    # and 12/11 = 1.09 -> floors 2, 1; the leftover pair to the larger remainder (0.91) -> 3, 1.
    # A draw of size 1 weighs (8/11) / (2 * 3) = 4/33 (and its complement as much), a draw of
    # size 2 (3/11) / 2 = 3/22. Three singletons come from one permutation: all different.
    z, w = _paired_design(4, 8, np.random.default_rng(0))
    by = _by_size(z, w)
    assert sorted(by) == [1, 2, 3]
    np.testing.assert_allclose(by[1], [4 / 33] * 3, rtol=1e-12)
    np.testing.assert_allclose(by[3], [4 / 33] * 3, rtol=1e-12)
    np.testing.assert_allclose(by[2], [3 / 22] * 2, rtol=1e-12)
    assert z.dtype == bool and len(z) == 8


def test_design_renormalises_the_mass_left_after_an_enumerated_size() -> None:
    # G = 6, budget 56. Shares: sizes 1+5 72/137, 2+4 45/137, 3 20/137. Sizes 1+5 (12
    # coalitions): 56 * 72/137 / 12 = 2.45 -> enumerated, 44 left. The mass left is
    # renormalised: 2+4 now hold 45/65, so 44 * 45/65 / 30 = 1.015 -> enumerated too (without
    # renormalising, 44 * 45/137 / 30 = 0.48 would sample them). 14 left -> 7 pairs of size 3.
    z, w = _paired_design(6, 56, np.random.default_rng(3))
    by = _by_size(z, w)
    assert [len(by[s]) for s in (1, 2, 4, 5)] == [6, 15, 15, 6]
    np.testing.assert_allclose(by[1] + by[5], [6 / 137] * 12, rtol=1e-12)
    np.testing.assert_allclose(by[2] + by[4], [3 / 274] * 30, rtol=1e-12)
    # size 3 is its own complement: a draw adds (20/137) / (2 * 7) = 10/959 to z and to ~z
    assert sum(_draws(by[3], 10 / 959)) == 14


def test_design_gives_the_leftover_pair_to_the_largest_remainder() -> None:
    # G = 6, budget 30: sizes 1+5 enumerated (30 * 72/137 / 12 = 1.31), 18 left = 9 pairs.
    # Shares of 2+4 and 3: 45/65 * 9 = 6.23 and 20/65 * 9 = 2.77 -> floors 6, 2; the leftover
    # pair goes to size 3 (remainder 0.77 > 0.23) -> 6 and 3 draws. A size-2 draw weighs
    # (45/137) / 12 = 15/548 (on z and on its size-4 complement), a size-3 draw
    # (20/137) / 6 = 10/411 (on z and on ~z, also of size 3).
    z, w = _paired_design(6, 30, np.random.default_rng(11))
    by = _by_size(z, w)
    assert sum(_draws(by[2], 15 / 548)) == 6 and sum(_draws(by[4], 15 / 548)) == 6
    assert sum(_draws(by[3], 10 / 411)) == 6


def test_design_passes_the_mass_of_a_size_left_without_draws_on() -> None:
    # G = 6, budget 6 = 3 pairs, nothing enumerated. Shares * 3: 72/137*3 = 1.58,
    # 45/137*3 = 0.99, 20/137*3 = 0.44 -> floors 1, 0, 0; the 2 leftover pairs go to the
    # remainders 0.99 and 0.58 -> draws 2, 1, 0. Size 3 gets no draw, so the others share its
    # mass: used = 117/137; a size-1 draw weighs (72/117) / (2 * 2) = 2/13, a size-2 draw
    # (45/117) / 2 = 5/26. The weights still add up to 1.
    z, w = _paired_design(6, 6, np.random.default_rng(1))
    by = _by_size(z, w)
    assert sorted(by) == [1, 2, 4, 5]
    assert sum(_draws(by[1], 2 / 13)) == 2 and sum(_draws(by[5], 2 / 13)) == 2
    assert _draws(by[2], 5 / 26) == [1] and _draws(by[4], 5 / 26) == [1]
    assert float(w.sum()) == pytest.approx(1.0, rel=1e-12)


# ---------------------------------------------------------------------------- through the explainer
def test_exact_up_to_fifteen_groups_sampled_from_sixteen() -> None:
    # EXACT_MAX_GROUPS = 15: 15 columns are enumerated (2**15 coalitions), 16 are sampled.
    w15 = [float(i + 1) for i in range(15)]
    r = make_explainer("shapley", linear(w15), task="regression").attribute(np.ones((1, 15), np.float32))
    assert r.params["exact"] is True and r.params["estimator"] == "exact enumeration"
    assert r.params["coalitions_per_sample"] == 32_768 and r.params["mode"] == "auto"
    np.testing.assert_allclose(r.attributions, [w15], atol=1e-4)
    # 16 columns, max_evals 18 = G + 2 -> 8 pairs. Size masses 30/(s (16 - s)) (doubled below
    # 8): 2, 1.07, 0.77, 0.63, 0.55, 0.5, 0.48, 0.23 -> 8 pairs share 2.57, 1.38, 0.99, 0.80,
    # 0.70, 0.64, 0.61, 0.30 -> floors 2, 1, 0, ... and the 5 leftovers to sizes 3..7: every
    # draw a different size, so 16 distinct coalitions + empty + full = 18.
    w16 = [float(i + 1) for i in range(16)]
    s = make_explainer("shapley", linear(w16), task="regression").attribute(
        np.ones((1, 16), np.float32), max_evals=18)
    assert s.params["exact"] is False and s.params["estimator"] == "paired KernelSHAP"
    assert s.params["coalitions_per_sample"] == 18 and s.params["max_evals"] == 18
    np.testing.assert_allclose(s.attributions.sum(), sum(w16), rtol=1e-5)  # efficiency, enforced


# ============================================================================ by_group.py
# ---------------------------------------------------------------------------- JSON helpers
def test_encode_and_decode_non_finite_numbers() -> None:
    value = {1: np.array([np.nan, np.inf, -np.inf, 1.5]), "t": (np.float32(2.0), np.int64(3), np.float32(np.nan))}
    got = _encode(value)
    assert got == {"1": ["NaN", "Infinity", "-Infinity", 1.5], "t": [2.0, 3, "NaN"]}
    assert [type(v) for v in got["t"]] == [float, int, str]  # numpy scalars as plain Python
    json.dumps(got, allow_nan=False)
    back = _decode(["NaN", ["Infinity"], {"a": "-Infinity"}, "text", 2])
    assert math.isnan(back[0]) and back[1] == [math.inf] and back[2] == {"a": -math.inf}
    assert back[3:] == ["text", 2]


# ---------------------------------------------------------------------------- holm
def test_holm_on_three_p_values_by_hand() -> None:
    # sorted 0.01, 0.02, 0.04 (m = 3): 3 * 0.01 = 0.03, 2 * 0.02 = 0.04, 1 * 0.04 = 0.04
    np.testing.assert_allclose(holm([0.02, 0.01, 0.04]), [0.04, 0.03, 0.04], rtol=1e-12)
    # infinite is not a p-value: left out like NaN (m = 1, so 0.2 stays 0.2); 2-d is flattened
    out = holm([[np.inf], [0.2]])
    assert out.shape == (2,) and math.isnan(out[0]) and out[1] == pytest.approx(0.2)


# ---------------------------------------------------------------------------- order
def _comparison(**changes) -> GroupAttributionComparison:
    base = dict(features=["f"], groups=["a", "b"], sizes=[1, 1], mean=np.zeros((2, 1)),
                mean_abs=np.zeros((2, 1)), difference=np.zeros(1), difference_abs=np.zeros(1),
                n_boot=0, n_perm=0, confidence=0.95, seed=0)
    base.update(changes)
    return GroupAttributionComparison(**base)


def test_order_by_largest_difference_nan_last_ties_in_feature_order() -> None:
    c = _comparison(difference=np.array([1.0, -3.0, np.nan, 2.0]),
                    difference_abs=np.array([5.0, 0.0, 1.0, np.nan]))
    assert c.order() == [1, 3, 0, 2]  # |-3|, |2|, |1|, NaN
    assert c.order("abs") == [0, 2, 1, 3]  # 5, 1, 0, NaN
    # 40 features, 20 at 0 then 20 at -1: ties keep feature order (beyond the 16-element
    # insertion sort, where an unstable sort shows)
    tied = _comparison(difference=np.array([0.0] * 20 + [-1.0] * 20))
    assert tied.order() == list(range(20, 40)) + list(range(20))
    assert _comparison(map_shape=[1, 2]).order() == []


# ---------------------------------------------------------------------------- saving
def _two_groups() -> GroupAttributionComparison:
    A = np.array([[1.0, 0.0], [3.0, 2.0], [-2.0, 1.0], [0.0, 1.0], [-1.0, 1.0]])
    return compare_groups(A, ["a", "a", "b", "b", "b"], feature_names=["x", "y"], n_boot=20, n_perm=9)


def test_to_dict_format_and_integer_index_fields() -> None:
    c = _two_groups()
    d = json.loads(json.dumps(c.to_dict(), allow_nan=False))
    assert d["format"] == "model-workbench-group-attributions"
    back = GroupAttributionComparison.from_dict(d)
    for name in ("between", "between_abs", "group_index"):
        assert getattr(back, name).dtype == np.int64, name
    assert back.group_index.tolist() == [0, 0, 1, 1, 1]
    assert back.mean.dtype == np.float64 and back.mean_ci.dtype == np.float64
    np.testing.assert_array_equal(back.mean, [[2.0, 1.0], [-1.0, 1.0]])  # 2.0, not truncated ints
    np.testing.assert_array_equal(back.mean_ci, c.mean_ci)
    np.testing.assert_array_equal(back.attributions, c.attributions)
    for name in ("features", "groups", "sizes", "n_boot", "n_perm", "confidence", "seed", "statistic",
                 "p_rule", "correction", "reasons", "notes", "elapsed", "map_shape", "map_test"):
        assert getattr(back, name) == getattr(c, name), name


def test_from_dict_fills_left_out_optional_fields_and_reads_the_rest() -> None:
    d = _two_groups().to_dict()
    d["notes"] = ["kept"]
    d["elapsed"] = "Infinity"  # non-finite scalars come back as floats
    d["confidence"] = 0.5
    for name in ("mean_ci", "p_value", "reasons"):  # a default, a default, a default factory
        del d[name]
    back = GroupAttributionComparison.from_dict(d)
    assert back.mean_ci is None and back.p_value is None and back.reasons == {}
    assert back.notes == ["kept"] and back.elapsed == math.inf and back.confidence == 0.5
    assert back.p_holm is not None  # read although earlier optional fields were missing
    del d["mean"]
    with pytest.raises(ExplainError, match="no 'mean' field"):
        GroupAttributionComparison.from_dict(d)
    with pytest.raises(ExplainError, match="not a saved comparison"):
        GroupAttributionComparison.from_dict([1, 2])


@pytest.mark.parametrize("field, value", [
    ("sizes", [2]),  # two groups, one size
    ("mean", [[1.0, 2.0]]),  # one row of means for two groups
    ("mean_abs", [[1.0], [2.0]]),  # shape (2, 1), mean is (2, 2)
])
def test_from_dict_rejects_each_mismatch_on_its_own(field: str, value) -> None:
    d = _two_groups().to_dict()
    d[field] = value
    with pytest.raises(ExplainError, match="mismatched sizes"):
        GroupAttributionComparison.from_dict(d)


# ---------------------------------------------------------------------------- inputs
def test_labels_names_and_settings_are_checked() -> None:
    A = [[1.0], [2.0], [3.0]]
    # None and NaN are the group "missing"; other floats are their text
    c = compare_groups(A, [1.5, None, math.nan], n_boot=0, n_perm=0)
    assert c.groups == ["1.5", "missing"] and c.sizes == [1, 2] and c.features == ["feature 0"]
    with pytest.raises(ExplainError, match="0 group labels for 3 samples"):
        compare_groups(A, "a")  # a single label is not one per sample
    with pytest.raises(ExplainError, match="twice"):
        compare_groups(A, ["a", "b", "a"], group_order=["a", "b", "a"])
    for bad in ({"n_perm": True}, {"n_boot": 2.0}, {"n_perm": -1}, {"confidence": 0.0}, {"confidence": 1.0},
                {"confidence": 1.5}):
        with pytest.raises(ExplainError, match="n_perm|n_boot|confidence"):
            compare_groups(A, ["a", "b", "a"], **bad)


def test_defaults_are_recorded() -> None:
    c = compare_groups([[1.0], [2.0], [3.0]], ["a", "b", "a"])
    assert (c.n_boot, c.n_perm, c.confidence, c.seed) == (1000, 1000, 0.95, 0)
    assert 0.0 <= c.elapsed < 5.0
    assert c.statistic.startswith("largest difference") and c.correction.startswith("Holm")
    assert c.p_rule == "(1 + #{permuted >= observed}) / (1 + n_perm)"


# ---------------------------------------------------------------------------- exact p-values
# 40 samples: a = the first 20, b = the last 20.
#   f0: a = 100..119, b = 0..19 -> means 109.5 and 9.5, difference 100 (|a| the same).
#   f1: 1 everywhere -> difference 0; every shuffle ties it: p = (1 + B) / (1 + B) = 1.
#   f2: a = +5 x 10, -5 x 10; b = +1 x 10, -1 x 10 -> means 0 and 0 (p = 1), mean |.| 5 and 1.
# Only the observed split (or its mirror) reaches 100 on f0 or 4 on |f2|: 2 of C(40, 20) =
# 1.4e11 labellings, never drawn, so p = (1 + 0) / (1 + B) exactly.
def _planted() -> tuple[np.ndarray, list[str]]:
    i = np.arange(20, dtype=float)
    f0 = np.concatenate([100 + i, i])
    f1 = np.ones(40)
    f2 = np.concatenate([np.repeat([5.0, -5.0], 10), np.repeat([1.0, -1.0], 10)])
    return np.stack([f0, f1, f2], axis=1), ["a"] * 20 + ["b"] * 20


def test_p_values_and_holm_exactly_with_19_permutations() -> None:
    A, g = _planted()
    c = compare_groups(A, g, n_boot=0, n_perm=19, seed=2)
    np.testing.assert_allclose(c.difference, [100.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(c.difference_abs, [100.0, 0.0, 4.0], atol=1e-9)
    assert c.between.tolist() == [[0, 1]] * 3 and c.between_abs.tolist() == [[0, 1]] * 3
    np.testing.assert_array_equal(c.p_value, [1 / 20, 1.0, 1.0])  # (1 + 0) / (1 + 19)
    np.testing.assert_array_equal(c.p_value_abs, [1 / 20, 1.0, 1 / 20])
    # Holm, m = 3: p sorted 0.05, 1, 1 -> 0.15, min(1, 2) = 1, 1
    np.testing.assert_allclose(c.p_holm, [0.15, 1.0, 1.0])
    # |.|: 0.05, 0.05, 1 -> 3 * 0.05 = 0.15, max(0.15, 2 * 0.05) = 0.15, 1
    np.testing.assert_allclose(c.p_holm_abs, [0.15, 1.0, 0.15])
    np.testing.assert_array_equal(c.attributions, A)
    assert c.group_index.tolist() == [0] * 20 + [1] * 20


def test_chunked_permutations_and_resamples_add_up(monkeypatch) -> None:
    # _CHUNK = 138 elements: 138 // (2 * 40 + 2 * 2 * 3) = 138 // 92 = 1 permutation per batch,
    # and 138 // (40 + 2 * 3) = 138 // 46 = 3 resamples per batch -> ceil(5 / 3) = 2 batches per
    # group. Progress: 2 groups * 2 + 19 = 23 steps.
    A, g = _planted()
    seen: list[float] = []
    monkeypatch.setattr(by_group, "_CHUNK", 138)
    c = compare_groups(A, g, n_boot=5, n_perm=19, seed=2, progress=seen.append)
    assert seen == pytest.approx([k / 23 for k in range(1, 24)])
    np.testing.assert_array_equal(c.p_value, [1 / 20, 1.0, 1.0])  # counts added over 19 batches
    np.testing.assert_array_equal(c.p_value_abs, [1 / 20, 1.0, 1 / 20])
    np.testing.assert_array_equal(c.mean_ci[:, 1], [[1.0, 1.0], [1.0, 1.0]])  # f1 is always 1


def test_progress_without_chunking_and_cancel() -> None:
    # tiny data: one bootstrap batch per group and one permutation batch -> 1/3, 2/3, 1
    A = np.array([[1.0], [3.0], [-2.0], [0.0]])
    seen: list[float] = []
    compare_groups(A, ["a", "a", "b", "b"], n_boot=10, n_perm=10, progress=seen.append)
    assert seen == pytest.approx([1 / 3, 2 / 3, 1.0])
    with pytest.raises(Cancelled):
        compare_groups(A, ["a", "a", "b", "b"], n_boot=10, n_perm=10, cancel=lambda: True)


def test_no_permutations_no_p_values_and_the_notes_say_so() -> None:
    A = np.array([[1.0], [3.0], [-2.0]])
    c = compare_groups(A, ["a", "a", "b"], group_order=["a", "b", "c"], n_boot=0, n_perm=0)
    assert np.isnan(c.p_value).all() and np.isnan(c.p_holm).all() and np.isnan(c.p_value_abs).all()
    assert c.notes == [
        "Group(s) 'c' have no samples: their values are NaN and they take no part in the tests.",
        "Group(s) 'b' have one sample: the mean is that sample's attribution and its interval is a "
        "single point.",
        "No bootstrap resamples (n_boot = 0): no intervals.",
        "No permutations (n_perm = 0): no p-values.",
    ]


# ---------------------------------------------------------------------------- intervals
def test_bootstrap_interval_follows_the_confidence() -> None:
    # group a = {0, 1}: a resampled mean is 0 (prob 1/4), 0.5 (1/2) or 1 (1/4).
    # confidence 0.6 -> the 20 % and 80 % points fall inside the 0s and the 1s: [0, 1];
    # confidence 0.4 -> the 30 % and 70 % points both fall among the 0.5s: [0.5, 0.5].
    A = np.array([[0.0], [1.0], [5.0], [5.0]])
    g = ["a", "a", "b", "b"]
    wide = compare_groups(A, g, n_boot=2000, n_perm=0, confidence=0.6, seed=1)
    narrow = compare_groups(A, g, n_boot=2000, n_perm=0, confidence=0.4, seed=1)
    np.testing.assert_array_equal(wide.mean_ci[0, 0], [0.0, 1.0])
    np.testing.assert_array_equal(narrow.mean_ci[0, 0], [0.5, 0.5])
    np.testing.assert_array_equal(narrow.mean_ci[1, 0], [5.0, 5.0])
    # one resample is already an interval (a point)
    one = compare_groups(A, g, n_boot=1, n_perm=0)
    lo, hi = one.mean_ci[0, 0]
    assert lo == hi and lo in (0.0, 0.5, 1.0)


# ---------------------------------------------------------------------------- several groups
def test_an_empty_group_between_the_present_ones() -> None:
    # order a, c, b with c empty: the two present groups are 0 and 2, signed a - b
    A = np.array([[4.0], [0.0]])
    c = compare_groups(A, ["a", "b"], group_order=["a", "c", "b"], n_boot=0, n_perm=0)
    assert c.between.tolist() == [[0, 2]] and c.difference.tolist() == [4.0]
    # three present groups and an empty one listed first: highest q (index 2), lowest p (1)
    X = np.array([[0.0], [2.0], [10.0], [12.0], [5.0], [5.0]])
    c3 = compare_groups(X, ["p", "p", "q", "q", "r", "r"], group_order=["z", "p", "q", "r"], n_boot=0, n_perm=0)
    assert c3.between.tolist() == [[2, 1]] and c3.difference.tolist() == [10.0]


# ---------------------------------------------------------------------------- maps
def test_map_test_by_hand() -> None:
    # maps of shape (1, 2). a: 10 x (3, 0) and 10 x (-3, 0) -> mean (0, 0), mean |.| (3, 0);
    # b: 20 x (0, 4) -> mean and mean |.| (0, 4). Distances: signed |(0, -4)| = 4,
    # |.| |(3, -4)| = 5. A shuffle with j of a's rows in b reaches at most
    # sqrt((0.3 j)^2 + (4 - 0.4 j)^2) < 4 for 0 < j <= 10 (and the |.| maps likewise), so only the
    # observed split or its mirror reach the observed values: p = 1 / (1 + 9).
    a = np.array([[[3.0, 0.0]], [[-3.0, 0.0]]] * 10)
    b = np.array([[[0.0, 4.0]]] * 20)
    seen: list[float] = []
    c = compare_groups(np.concatenate([a, b]), ["a"] * 20 + ["b"] * 20, n_perm=9, progress=seen.append)
    assert c.map_test == pytest.approx({"statistic": c.statistic, "value": 4.0, "p_value": 0.1,
                                        "value_abs": 5.0, "p_value_abs": 0.1})
    assert c.statistic == "largest Euclidean distance between two group mean maps"
    assert c.correction == "none (one test of the whole map per statistic)"
    assert c.difference.shape == (1, 2) and c.difference.tolist() == [[0.0, -4.0]]
    assert c.difference_abs.tolist() == [[3.0, -4.0]]
    assert c.between is None and c.group_index.tolist() == [0] * 20 + [1] * 20
    assert seen == [1.0]  # no bootstrap for maps: one permutation batch is all the work
    # no permutations: NaN p-values survive a JSON round trip
    none = compare_groups(np.concatenate([a, b]), ["a"] * 20 + ["b"] * 20, n_perm=0)
    back = GroupAttributionComparison.from_dict(json.loads(json.dumps(none.to_dict(), allow_nan=False)))
    assert math.isnan(back.map_test["p_value"]) and back.map_test["value"] == pytest.approx(4.0)


# ============================================================================ checks.py
# ---------------------------------------------------------------------------- layout helpers
def test_units_of_tables_images_and_sequences() -> None:
    groups = FeatureGroups(["a", "b"], np.array([1, 0, 1]))
    assert _units((3,), None).tolist() == [0, 1, 2]
    assert _units((3,), groups).tolist() == [1, 0, 1]
    # (C, H, W) = (2, 2, 3): pixel h * 3 + w, the same in both channels
    assert _units((2, 2, 3), None).tolist() == [0, 1, 2, 3, 4, 5] * 2
    assert _units((2, 3), None).tolist() == [0, 1, 2, 3, 4, 5]  # a sequence: every element


def test_unit_scores_add_up_per_unit() -> None:
    # image (2, 1, 2): channels [[1, 2]] and [[10, 20]] -> pixels 11, 22
    attr = np.array([[[[1.0, 2.0]], [[10.0, 20.0]]]])
    assert _unit_scores(attr, (2, 1, 2), None).tolist() == [[11.0, 22.0]]
    # columns 0 and 2 in group 1: 1 + 3; column 1 in group 0: 2
    groups = FeatureGroups(["a", "b"], np.array([1, 0, 1]))
    assert _unit_scores(np.array([[1.0, 2.0, 3.0]]), (3,), groups).tolist() == [[2.0, 4.0]]
    assert _unit_scores(np.array([[5.0, 6.0]]), (3,), groups).tolist() == [[5.0, 6.0]]  # group values
    assert _unit_scores(np.array([[[1.0, 2.0]]]), (3, 1, 2), None).tolist() == [[1.0, 2.0]]  # Grad-CAM


def test_to_input_shape_shares_values_out() -> None:
    groups = FeatureGroups(["a", "b"], np.array([0, 0, 1]))
    # group a (2 columns) 4 -> 2 each; group b (1 column) 3
    np.testing.assert_allclose(_to_input_shape(np.array([[4.0, 3.0]]), (3,), groups), [[2.0, 2.0, 3.0]])
    # Grad-CAM pixel value over 3 channels: 6 -> 2 per channel
    got = _to_input_shape(np.array([[[6.0, 3.0]]]), (3, 1, 2), None)
    np.testing.assert_allclose(got, np.full((1, 3, 1, 2), 1.0) * np.array([2.0, 1.0]))
    with pytest.raises(ExplainError, match="do not fit"):
        _to_input_shape(np.array([[1.0, 2.0]]), (3,), None)


# ---------------------------------------------------------------------------- infidelity
def test_infidelity_noise_scale_is_noise_times_the_inputs_std() -> None:
    # F = x0 + x1. Attributions (2, 2) are twice the gradient, so the error of a perturbation
    # eps is 2 eps.w - eps.w = eps0 + eps1, and infidelity = E[(eps0 + eps1)^2] = 2 sigma^2.
    # x = (0, 1): the (unbiased) std is sqrt(0.5), sigma = 0.1 sqrt(0.5), 2 sigma^2 = 0.01.
    lin = linear([1.0, 1.0])
    attr = np.array([[2.0, 2.0]])
    got = infidelity(lin, np.array([[0.0, 1.0]]), attr, perturbation="noise", n_perturb=4000)
    assert got[0] == pytest.approx(0.01, rel=0.1)
    # constant input (std 0): the noise is 0.1 itself -> 2 * 0.01 = 0.02
    flat = infidelity(lin, np.array([[1.0, 1.0]]), attr, perturbation="noise", n_perturb=4000)
    assert flat[0] == pytest.approx(0.02, rel=0.1)
    # normalize: the best factor (1/2) makes the attributions exact
    assert infidelity(lin, np.array([[0.0, 1.0]]), attr, perturbation="noise", normalize=True)[0] < 1e-10


def test_infidelity_subset_by_hand() -> None:
    # F = x0 + x1, x = (1, 1), baseline 0: exact attributions (1, 1). Doubled, (2, 2), the error
    # of a subset I is I0 + I1, with I_j ~ Bernoulli(p): E[(I0 + I1)^2] = 2 p (1 - p) + 4 p^2.
    # default fraction 0.3: 0.42 + 0.36 = 0.78; fraction 0.5: 0.5 + 1 = 1.5
    lin = linear([1.0, 1.0])
    x, attr = np.ones((1, 2)), np.array([[2.0, 2.0]])
    assert infidelity(lin, x, attr, n_perturb=4000)[0] == pytest.approx(0.78, rel=0.08)
    assert infidelity(lin, x, attr, n_perturb=4000, fraction=0.5)[0] == pytest.approx(1.5, rel=0.08)
    assert infidelity(lin, x, attr / 2, n_perturb=1)[0] < 1e-12  # exact; one perturbation is allowed
    # the default seed is 0
    np.testing.assert_array_equal(infidelity(lin, x, attr), infidelity(lin, x, attr, seed=0))
    for fraction in (0.0, 1.0):
        with pytest.raises(ExplainError, match="fraction"):
            infidelity(lin, x, attr, fraction=fraction)
    with pytest.raises(ExplainError, match="n_perturb"):
        infidelity(lin, x, attr, n_perturb=0)


@pytest.mark.parametrize("method, expect_noise", [
    ("saliency", True), ("smoothgrad", True), ("gradcam", True), ("ig", False),
])
def test_infidelity_auto_picks_noise_for_gradient_maps(method: str, expect_noise: bool) -> None:
    # F = x0 + 2 x1 on a 1 x 1 x 2 "image"; attributions = the gradient (1, 2). Under noise
    # they are exact (0); under subset (I.w against I.w.x with x = (1, 3)) they are not.
    model = nn.Sequential(nn.Flatten(), linear([1.0, 2.0]))
    x = np.array([[[[1.0, 3.0]]]])
    grads = np.array([[[1.0, 2.0]]]) if method == "gradcam" else np.array([[[[1.0, 2.0]]]])
    got = infidelity(model, x, _result(method=method, attributions=grads), n_perturb=20)[0]
    assert (got < 1e-10) == expect_noise, got


def test_infidelity_targets_and_bad_input() -> None:
    # two outputs: out0 = x0 + x1, out1 = 3 x0 - x1. Exact attributions of out1 at x = (1, 1),
    # baseline 0: (3, -1) -> 0 for target 1, not for target 0
    lin = linear([[1.0, 1.0], [3.0, -1.0]])
    x, attr = np.ones((1, 2)), np.array([[3.0, -1.0]])
    assert infidelity(lin, x, attr, target=1)[0] < 1e-10
    assert infidelity(lin, x, attr, target=[1])[0] < 1e-10
    assert infidelity(lin, x, attr, target=0)[0] > 1e-2
    # the result's own targets are used unless a target is given
    r = _result(attributions=attr, targets=[1])
    assert infidelity(lin, x, r)[0] < 1e-10
    assert infidelity(lin, x, r, target=0)[0] > 1e-2
    for bad in (2, -1, [0.0]):
        with pytest.raises(ExplainError, match="Targets must be"):
            infidelity(lin, x, attr, target=bad)
    with pytest.raises(ExplainError, match="samples but"):
        infidelity(lin, np.ones((2, 2)), attr, target=1)
    with pytest.raises(ExplainError, match="missing or infinite"):
        infidelity(lin, np.array([[np.nan, 1.0]]), attr, target=1)


# ---------------------------------------------------------------------------- sensitivity
def test_sensitivity_default_radius_on_input_times_gradient() -> None:
    # ixg of F = 2 x at x = 0.5 is 1; at x + d it is 1 + 2 d. Relative change |d| / 0.5, and
    # the largest of 200 draws of d in [-0.02, 0.02] is close to the radius: just under 0.04.
    ixg = make_explainer("ixg", linear([2.0]), task="regression")
    s = sensitivity_max(ixg, np.array([[0.5]], np.float32), n_perturb=200)
    assert 0.97 * 0.04 <= s[0] <= 0.04 * (1 + 1e-5)
    np.testing.assert_array_equal(s, sensitivity_max(ixg, np.array([[0.5]], np.float32), n_perturb=200, seed=0))
    # one draw is allowed; progress and cancel of the explainer are not passed on. The draw is
    # uniform inside [-r, r] (seed 0 lands near the middle), not a shift by r itself, which would
    # give the bound 0.04 exactly.
    calls: list[float] = []
    one = sensitivity_max(ixg, np.array([[0.5]], np.float32), n_perturb=1, progress=calls.append,
                          cancel=lambda: True)
    assert calls == [] and 0.0 < one[0] < 0.02
    with pytest.raises(ExplainError, match="n_perturb"):
        sensitivity_max(ixg, np.array([[0.5]], np.float32), n_perturb=0)


def test_sensitivity_keeps_each_samples_own_baseline() -> None:
    # IG of F = x is x - b (exact with any step count). Sample 0: x = 1, b = 0.5 -> a draw d
    # changes it by |d| / 0.5; sample 1: x = 2, b = 0 -> |d| / 2. The largest of 100 draws in
    # [-r, r] is close to r: just under 2 r and r / 2.
    ig = make_explainer("ig", linear([1.0]), task="regression")
    x = np.array([[1.0], [2.0]], np.float32)
    r = 0.05
    s = sensitivity_max(ig, x, radius=r, n_perturb=100, baseline=np.array([[0.5], [0.0]], np.float32), n_steps=2)
    assert 0.95 * 2 * r <= s[0] <= 2 * r * (1 + 1e-4)
    assert 0.95 * r / 2 <= s[1] <= r / 2 * (1 + 1e-4)
    # one baseline for both: |x - b| = 1 and 2 -> just under r and r / 2
    single = sensitivity_max(ig, x, radius=r, n_perturb=100, baseline=np.zeros(1, np.float32), n_steps=2)
    assert 0.95 * r <= single[0] <= r * (1 + 1e-4)
    assert 0.95 * r / 2 <= single[1] <= r / 2 * (1 + 1e-4)


# ---------------------------------------------------------------------------- deletion / insertion
def test_one_step_is_the_input_and_the_baseline() -> None:
    # F = 2 x0 - x1 + 1; x = (1, 1) -> 2, baseline (0, 0) -> 1. One step: all or nothing.
    lin = linear([2.0, -1.0], 1.0)
    out = deletion_insertion(lin, np.ones((1, 2)), np.array([[2.0, -1.0]]), steps=1, task="regression")
    assert out["score"] == "output"  # regression: the raw output by default
    np.testing.assert_array_equal(out["fractions"], [0.0, 1.0])
    np.testing.assert_allclose(out["curves"]["deletion"], [[2.0, 1.0]], atol=1e-6)
    np.testing.assert_allclose(out["curves"]["insertion"], [[1.0, 2.0]], atol=1e-6)
    np.testing.assert_allclose(out["aucs"]["deletion"], [1.5], atol=1e-6)  # (2 + 1) / 2
    np.testing.assert_allclose(out["aucs"]["insertion"], [1.5], atol=1e-6)


def test_more_steps_than_units() -> None:
    # 2 units, 4 steps: counts round(0, 0.5, 1, 1.5, 2) = 0, 0, 1, 2, 2 (halves to even), so the
    # fractions are 0, 0, 0.5, 1, 1. F = 3 x0 + x1 at x = (1, 1), baseline 0, order x0, x1:
    # deletion 4, 4, 1, 0, 0 -> AUC 0.5 * (4 + 1) / 2 + 0.5 * (1 + 0) / 2 = 1.5
    # insertion 0, 0, 3, 4, 4 -> AUC 0.5 * 3 / 2 + 0.5 * 7 / 2 = 2.5
    out = deletion_insertion(linear([3.0, 1.0]), np.ones((1, 2)), np.array([[3.0, 1.0]]), steps=4,
                             score="output")
    np.testing.assert_array_equal(out["fractions"], [0.0, 0.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(out["curves"]["deletion"], [[4.0, 4.0, 1.0, 0.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(out["curves"]["insertion"], [[0.0, 0.0, 3.0, 4.0, 4.0]], atol=1e-6)
    np.testing.assert_allclose(out["aucs"]["deletion"], [1.5], atol=1e-6)
    np.testing.assert_allclose(out["aucs"]["insertion"], [2.5], atol=1e-6)


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def test_probability_of_one_logit_is_its_sigmoid() -> None:
    # F = 2 x0 - x1 at x = (1, 1); order x0, x1. Deletion logits 1, -1, 0; insertion 0, 2, 1.
    out = deletion_insertion(linear([2.0, -1.0]), np.ones((1, 2)), np.array([[2.0, -1.0]]), steps=2)
    assert out["score"] == "probability"
    np.testing.assert_allclose(out["curves"]["deletion"][0], [_sigmoid(1), _sigmoid(-1), 0.5], atol=1e-6)
    np.testing.assert_allclose(out["curves"]["insertion"][0], [0.5, _sigmoid(2), _sigmoid(1)], atol=1e-6)


def test_softmax_and_each_samples_predicted_class() -> None:
    # nn.Identity: the logits are the inputs. Sample 0 (2, 0): predicted class 0, p0 of logits
    # (a, b) is e^a / (e^a + e^b). Attributions rank unit 0 first. Deletion: (2, 0), (0, 0), (0, 0)
    # -> e^2/(e^2+1), 1/2, 1/2. Sample 1 (0, 3): class 1, unit 1 first: (0, 3), (0, 0), (0, 0).
    x = np.array([[2.0, 0.0], [0.0, 3.0]], np.float32)
    attr = np.array([[1.0, 0.5], [0.2, 1.0]])
    out = deletion_insertion(nn.Identity(), x, attr, steps=2, max_batch=1)
    p2, p3 = math.exp(2) / (math.exp(2) + 1), math.exp(3) / (math.exp(3) + 1)
    np.testing.assert_allclose(out["curves"]["deletion"], [[p2, 0.5, 0.5], [p3, 0.5, 0.5]], atol=1e-6)
    np.testing.assert_allclose(out["curves"]["insertion"], [[0.5, p2, p2], [0.5, p3, p3]], atol=1e-6)
    # the result's targets (class 1 for both) unless a target is given
    r = _result(attributions=attr, targets=[1, 1])
    got = deletion_insertion(nn.Identity(), x, r, steps=2)
    np.testing.assert_allclose(got["curves"]["deletion"][0], [1 - p2, 0.5, 0.5], atol=1e-6)
    over = deletion_insertion(nn.Identity(), x, r, steps=2, target=0)
    np.testing.assert_allclose(over["curves"]["deletion"][0], [p2, 0.5, 0.5], atol=1e-6)


def test_baselines_of_every_accepted_shape() -> None:
    # F = x0 + x1; x = (1, 1) and (2, 2). Deleting everything gives F(baseline).
    lin = linear([1.0, 1.0])
    x, attr = np.array([[1.0, 1.0], [2.0, 2.0]]), np.ones((2, 2))
    for baseline, ends in ((np.array([0.5, 0.5]), [1.0, 1.0]), (np.array([[0.5, 0.5]]), [1.0, 1.0]),
                           (np.array([[0.5, 0.5], [1.0, 0.0]]), [1.0, 1.0]),
                           (np.array([[0.0, 0.0], [1.0, 2.0]]), [0.0, 3.0])):
        out = deletion_insertion(lin, x, attr, baseline=baseline, steps=1, score="output")
        np.testing.assert_allclose(out["curves"]["deletion"][:, -1], ends, atol=1e-6)
        np.testing.assert_allclose(out["curves"]["insertion"][:, 0], ends, atol=1e-6)
    with pytest.raises(ExplainError, match="baseline"):
        deletion_insertion(lin, x, attr, baseline=np.zeros((3, 2)), steps=1)


def test_ties_are_removed_in_column_order_beyond_sixteen_units() -> None:
    # 40 columns with weight j + 1, x = 1, baseline 0. Attributions 1 for even columns, 0 for
    # odd ones: the order is 0, 2, ..., 38, then 1, 3, ..., 39 (stable on ties).
    n = 40
    lin = linear([float(j + 1) for j in range(n)])
    attr = np.array([[1.0, 0.0] * (n // 2)])
    out = deletion_insertion(lin, np.ones((1, n)), attr, steps=n, score="output")
    order = list(range(0, n, 2)) + list(range(1, n, 2))
    total = n * (n + 1) / 2
    expected = [total - sum(j + 1 for j in order[:k]) for k in range(n + 1)]
    np.testing.assert_allclose(out["curves"]["deletion"][0], expected, atol=1e-3)


def test_rows_per_model_pass() -> None:
    # 1 sample, steps 5000 -> 2 * 5001 = 10,002 curve rows, in passes of at most 8,192
    model = Recorder([1.0])
    deletion_insertion(model, np.ones((1, 1)), np.ones((1, 1)), steps=5000, score="output")
    assert model.sizes == [1, 8192, 1810]
    model.sizes.clear()
    deletion_insertion(model, np.ones((2, 1)), np.ones((2, 1)), steps=2, score="output", max_batch=1)
    assert model.sizes == [1] * (2 + 2 * 6)  # the logits, then 6 curve rows per sample


# ---------------------------------------------------------------------------- randomisation
class _StepsNet(nn.Module):
    """A plain model with a block called ``steps`` (not a graph's step list)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.steps = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
        self.head = nn.Sequential(nn.Linear(4, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.steps(x))


def _scripted(maps: list[np.ndarray]):
    """An "explanation" that returns the next map of a script, whatever the model."""
    calls = iter(maps)

    def method(_m: nn.Module, _x: np.ndarray, _t: list[int]) -> np.ndarray:
        return next(calls)

    return method


def test_randomisation_layers_of_plain_models() -> None:
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    x = np.random.default_rng(0).normal(size=(3, 3)).astype(np.float32)
    got = randomisation_check(seq, x)  # default method: saliency
    assert [name for name, _ in got] == ["2", "0"]  # leaves with weights, output first
    assert [name for name, _ in randomisation_check(_StepsNet().eval(), x)] == ["head.0", "steps.0"]
    with pytest.raises(ExplainError, match="no layers with weights"):
        randomisation_check(seq, x, layers=[])


def test_randomisation_correlation_by_hand() -> None:
    model = nn.Sequential(linear([1.0, 1.0, 1.0, 1.0]))  # one layer with weights: "0"
    x = np.zeros((2, 4), np.float32)
    trained = np.array([[1.0, -2.0, 3.0, -4.0], [0.0, 1.0, 0.5, 0.25]])  # sample 1 spans exactly 1
    after = np.array([[-1.0, 2.0, -3.0, 4.0], [0.0, 1.0, 0.5, 0.25]])
    # |maps| (the default): both samples rank the same (rho 1 and 1) -> mean 1
    assert randomisation_check(model, x, _scripted([trained, after])) == [("0", pytest.approx(1.0))]
    # signed: sample 0 reversed (rho -1), sample 1 the same (1) -> mean 0
    signed = randomisation_check(model, x, _scripted([trained, after]), absolute=False)
    assert signed == [("0", pytest.approx(0.0))]
    # a constant map has no ranking: left out of the mean (sample 1 alone gives 1)
    flat = np.array([[2.0, 2.0, 2.0, 2.0], [0.0, 1.0, 0.5, 0.25]])
    assert randomisation_check(model, x, _scripted([flat, after])) == [("0", pytest.approx(1.0))]
    only_flat = np.full((2, 4), 3.0)
    assert math.isnan(randomisation_check(model, x, _scripted([only_flat, only_flat]))[0][1])


def test_randomise_resets_layers_and_draws_the_rest_small() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.raw = nn.Parameter(torch.ones(20_000))  # no reset_parameters of its own

    net = Net()
    with torch.no_grad():
        net.lin.weight.fill_(7.0)
    _randomise(net, seed=3)
    raw = net.raw.detach().double()
    assert abs(raw.mean().item()) < 0.001 and raw.std().item() == pytest.approx(0.02, rel=0.05)
    # nn.Linear(2, 2).reset_parameters draws from U(-1/sqrt(2), 1/sqrt(2)): not N(0, 0.02), not 7
    w = net.lin.weight.detach()
    assert (w.abs() <= 1 / math.sqrt(2)).all() and w.abs().max() > 0.1
    # seeded
    other = Net()
    _randomise(other, seed=3)
    assert torch.equal(other.raw, net.raw)
