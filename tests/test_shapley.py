"""Headless tests of the exact and paired-KernelSHAP Shapley paths (engines.explain.shapley).

Oracles: captum's ``ShapleyValues`` (exact, by enumerating permutations one forward at a
time), closed forms for linear and quadratic models, and the efficiency identity.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from captum.attr import ShapleyValues
from torch import nn

from engines.explain import Cancelled, ExplainError, exact_shapley, paired_kernel_shap

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one thread


def mlp(features: int, outputs: int = 3, seed: int = 0, act: type[nn.Module] = nn.Tanh) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(features, 16), act(), nn.Linear(16, 16), act(), nn.Linear(16, outputs)).eval()


def rows(n: int, features: int, seed: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).normal(size=(n, features)).astype(np.float32))


class Quadratic(nn.Module):
    """f(x) = w.x + x' A x (A strictly upper triangular): only pairwise interactions."""

    def __init__(self, features: int, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w = torch.from_numpy(rng.normal(size=features))
        self.a = torch.from_numpy(np.triu(rng.normal(size=(features, features)), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.double()
        return (x @ self.w + torch.einsum("ni,ij,nj->n", x, self.a, x))[:, None]

    def shapley(self, x: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Closed form: each pairwise term's change is split equally between its two players."""
        w, a = self.w.numpy(), self.a.numpy()
        d = x - b
        # v(S) - v(0) for the pair (i, j): a_ij (x_i x_j - b_i b_j) when both present, etc.
        phi = w * d
        for i, j in zip(*np.nonzero(a)):
            both, only_i, only_j = x[i] * x[j], x[i] * b[j], b[i] * x[j]
            none = b[i] * b[j]
            # Shapley value of i in the 2-player game on (i, j)
            phi[i] += a[i, j] * 0.5 * ((only_i - none) + (both - only_j))
            phi[j] += a[i, j] * 0.5 * ((only_j - none) + (both - only_i))
        return phi


def brute_force(f, x: np.ndarray, ref: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Shapley values from the subset formula, one coalition at a time (float64)."""
    g = int(groups.max()) + 1
    phi = np.zeros(g)

    def v(members: set[int]) -> float:
        keep = np.isin(groups, list(members))
        row = np.where(keep, x, ref)[None]
        with torch.no_grad():
            return float(f(torch.from_numpy(row)).double()[0, 0])

    for i in range(g):
        others = [j for j in range(g) if j != i]
        for size in range(g):
            w = math.factorial(size) * math.factorial(g - size - 1) / math.factorial(g)
            for s in itertools.combinations(others, size):
                phi[i] += w * (v(set(s) | {i}) - v(set(s)))
    return phi


# ----------------------------------------------------------------------------- exact path
def test_exact_matches_captum_permutation_enumeration() -> None:
    model = mlp(6)
    x, b = rows(4, 6, 1), rows(1, 6, 2)
    targets = [0, 1, 2, 1]
    ours = exact_shapley(model, x, b, targets)
    oracle = ShapleyValues(model).attribute(x, baselines=b, target=torch.tensor(targets))
    np.testing.assert_allclose(ours.values, oracle.double().numpy(), atol=2e-6)
    assert ours.exact and ours.evaluations == 64 and ours.value_function == "baseline"


def test_exact_background_is_the_mean_over_background_rows() -> None:
    model = mlp(5)
    x, bg = rows(3, 5, 3), rows(7, 5, 4)
    ours = exact_shapley(model, x, bg, 2, value_function="background")
    oracle = sum(
        ShapleyValues(model).attribute(x, baselines=bg[i:i + 1], target=2).double() for i in range(len(bg))
    ) / len(bg)
    np.testing.assert_allclose(ours.values, oracle.numpy(), atol=2e-6)
    with torch.no_grad():
        ref = model(bg)[:, 2].double().mean().item()
        out = model(x)[:, 2].double().numpy()
    np.testing.assert_allclose(ours.empty, ref, atol=1e-6)
    np.testing.assert_allclose(ours.full, out, atol=1e-6)


def test_exact_per_sample_baselines_and_groups_against_brute_force() -> None:
    model = mlp(7, outputs=1, seed=3)
    x, b = rows(2, 7, 5), rows(2, 7, 6)
    groups = np.array([0, 0, 1, 2, 2, 2, 3])
    ours = exact_shapley(model, x, b, 0, groups)
    assert ours.values.shape == (2, 4)
    for s in range(2):
        expected = brute_force(model, x[s].numpy(), b[s].numpy(), groups)
        np.testing.assert_allclose(ours.values[s], expected, atol=2e-6)


def test_linear_model_exact_values_are_weight_times_difference() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(9, 2)
    x, b, bg = rows(5, 9, 7), rows(1, 9, 8), rows(11, 9, 9)
    w = lin.weight.detach().double().numpy()[1]
    ours = exact_shapley(lin, x, b, 1)
    np.testing.assert_allclose(ours.values, w * (x.double().numpy() - b.double().numpy()), atol=1e-5)
    on_bg = exact_shapley(lin, x, bg, 1, value_function="background")
    np.testing.assert_allclose(on_bg.values, w * (x.double().numpy() - bg.double().numpy().mean(0)), atol=1e-5)


@pytest.mark.parametrize("groups", [12, 15])
def test_efficiency_holds_to_1e5(groups: int) -> None:
    model = mlp(groups, act=nn.ReLU, seed=groups)
    x, b = rows(3, groups, 10), rows(1, groups, 11)
    sv = exact_shapley(model, x, b, [0, 1, 2])
    assert np.abs(sv.gap).max() < 1e-5
    with torch.no_grad():
        fx = model(x).double().numpy()[[0, 1, 2], [0, 1, 2]]
        fb = model(b).double().numpy()[0, [0, 1, 2]]
    # the sum also matches an independent forward pass of x and the baseline (float32 noise)
    np.testing.assert_allclose(sv.values.sum(1), fx - fb, atol=1e-5)


def test_chunking_does_not_change_exact_values() -> None:
    model = mlp(8)
    x, bg = rows(5, 8, 12), rows(6, 8, 13)
    whole = exact_shapley(model, x, bg, 1, value_function="background")
    for max_batch in (1, 5, 37, 1000):
        part = exact_shapley(model, x, bg, 1, value_function="background", max_batch=max_batch)
        np.testing.assert_allclose(part.values, whole.values, rtol=1e-6, atol=1e-7)


def test_progress_and_cancel() -> None:
    model = mlp(6)
    x, b = rows(4, 6, 14), rows(1, 6, 15)
    seen: list[float] = []
    exact_shapley(model, x, b, 0, max_batch=16, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) > 4
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        exact_shapley(model, x, b, 0, max_batch=16, cancel=cancel)


# ----------------------------------------------------------------------------- paired KernelSHAP
def test_paired_kernel_shap_is_exact_for_pairwise_games() -> None:
    """Paired sampling cancels every interaction of order <= 2: a quadratic game comes out exact."""
    model = Quadratic(16)
    x = np.random.default_rng(1).normal(size=(3, 16))
    b = np.random.default_rng(2).normal(size=(1, 16))
    est = paired_kernel_shap(model, torch.from_numpy(x), torch.from_numpy(b), 0, max_evals=600, seed=0)
    assert not est.exact and est.evaluations <= 600
    for s in range(3):
        np.testing.assert_allclose(est.values[s], model.shapley(x[s], b[0]), atol=1e-8)
    # and the closed form itself agrees with exact enumeration
    ex = exact_shapley(model, torch.from_numpy(x[:1]), torch.from_numpy(b), 0)
    np.testing.assert_allclose(ex.values[0], model.shapley(x[0], b[0]), atol=1e-8)


def test_paired_agrees_with_exact_on_a_network() -> None:
    model = mlp(14, act=nn.Tanh, seed=4)
    x, b = rows(8, 14, 16), rows(1, 14, 17)
    exact = exact_shapley(model, x, b, 1)
    est = paired_kernel_shap(model, x, b, 1, max_evals=2048, seed=0)
    assert est.evaluations <= 2048 and not est.exact
    rel = np.linalg.norm(est.values - exact.values, axis=1) / np.linalg.norm(exact.values, axis=1)
    assert rel.max() < 0.05, rel
    assert np.abs(est.gap).max() < 1e-9  # efficiency is a constraint, not a hope


def test_paired_error_shrinks_with_budget() -> None:
    model = mlp(14, act=nn.ReLU, seed=5)
    x, b = rows(10, 14, 18), rows(1, 14, 19)
    exact = exact_shapley(model, x, b, 0).values
    errs = []
    for budget in (128, 4096):
        est = paired_kernel_shap(model, x, b, 0, max_evals=budget, seed=1).values
        errs.append(np.linalg.norm(est - exact) / np.linalg.norm(exact))
    assert errs[1] < errs[0] / 2, errs


def test_paired_seed_reproduces_and_batch_does_not_matter() -> None:
    model = mlp(20, seed=6)
    x, b = rows(4, 20, 20), rows(1, 20, 21)
    a = paired_kernel_shap(model, x, b, 0, max_evals=500, seed=3)
    again = paired_kernel_shap(model, x, b, 0, max_evals=500, seed=3, max_batch=77)
    other = paired_kernel_shap(model, x, b, 0, max_evals=500, seed=4)
    np.testing.assert_allclose(a.values, again.values, rtol=1e-9, atol=1e-9)
    assert not np.allclose(a.values, other.values)
    # a sample's values do not depend on which other samples share the call
    alone = paired_kernel_shap(model, x[2:3], b, 0, max_evals=500, seed=3)
    np.testing.assert_allclose(alone.values[0], a.values[2], rtol=1e-9, atol=1e-9)


def test_paired_with_a_budget_covering_every_coalition_is_exact() -> None:
    model = mlp(6)
    x, b = rows(2, 6, 22), rows(1, 6, 23)
    est = paired_kernel_shap(model, x, b, 0, max_evals=64)
    assert est.exact
    np.testing.assert_allclose(est.values, exact_shapley(model, x, b, 0).values, atol=1e-12)


# ----------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_explain_error() -> None:
    model = mlp(5)
    x, b = rows(2, 5, 0), rows(1, 5, 1)
    with pytest.raises(ExplainError, match="paired KernelSHAP"):
        exact_shapley(lambda t: t[:, :1], torch.zeros(1, 23), torch.zeros(1, 23))
    with pytest.raises(ExplainError, match="value function"):
        exact_shapley(model, x, b, value_function="mean")
    with pytest.raises(ExplainError, match="max_evals"):
        paired_kernel_shap(model, x, b, max_evals=4)
    with pytest.raises(ExplainError, match="per-sample shape"):
        exact_shapley(model, x, torch.zeros(1, 4))
    with pytest.raises(ExplainError, match="one baseline or one per sample"):
        exact_shapley(model, x, torch.zeros(3, 5))
    with pytest.raises(ExplainError, match="group number"):
        exact_shapley(model, x, b, index=np.array([0, 1, 2]))
    with pytest.raises(ExplainError, match="Every group number"):
        exact_shapley(model, x, b, index=np.array([0, 0, 2, 2, 3]))
    with pytest.raises(ExplainError, match="one target per sample"):
        exact_shapley(model, x, b, [0, 1, 2])
