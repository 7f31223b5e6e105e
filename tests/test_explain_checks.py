"""Headless tests of the attribution quality checks (engines.explain.checks).

Each check is shown to give the hand-computable answer where there is one, and to look
worse for a deliberately corrupted attribution (negated, shuffled, model-independent), so
the checks can fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from engines.build import build_model
from engines.explain import (
    ExplainError,
    FeatureGroups,
    deletion_insertion,
    infidelity,
    make_explainer,
    randomisation_check,
    sensitivity_max,
)
from engines.templates import make_template
from engines.training import TrainConfig, Trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one thread


@pytest.fixture(scope="module")
def planted() -> tuple[nn.Module, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 8)).astype(np.float32)
    y = (1.5 * X[:, 2] - 1.2 * X[:, 5] > 0).astype(np.int64)
    model = build_model(make_template("mlp", (8,), 2), seed=0)
    Trainer(model, train=(X[:1200], y[:1200]), config=TrainConfig(epochs=12, batch_size=64, lr=3e-3,
                                                                  device="cpu")).fit()
    return model.eval(), X[1200:1220]


def linear(weights: list[float], bias: float = 0.3) -> nn.Linear:
    lin = nn.Linear(len(weights), 1)
    with torch.no_grad():
        lin.weight[:] = torch.tensor([weights])
        lin.bias[:] = bias
    return lin


def shuffled(a: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([row[rng.permutation(len(row))] for row in a])


# ----------------------------------------------------------------------------- infidelity
def test_infidelity_is_zero_for_exact_attributions_of_a_linear_model() -> None:
    lin = linear([1.0, -2.0, 0.5, 3.0])
    x = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    sv = make_explainer("shapley", lin).attribute(x)
    assert np.abs(infidelity(lin, x, sv)).max() < 1e-8
    assert infidelity(lin, x, -sv.attributions, target=0).min() > 1e-2
    # gradients of a linear model under noise: exact without abs, wrong signs with abs
    grad = make_explainer("saliency", lin).attribute(x, abs=False)
    absolute = make_explainer("saliency", lin).attribute(x)
    assert np.abs(infidelity(lin, x, grad)).max() < 1e-8
    assert infidelity(lin, x, absolute).min() > 1e-3


def test_infidelity_with_groups_perturbs_whole_groups() -> None:
    lin = linear([1.0, -1.0, 2.0, 0.5, -0.7])
    groups = FeatureGroups(["a", "b", "c"], np.array([0, 0, 1, 2, 2]))
    x = np.random.default_rng(2).normal(size=(4, 5)).astype(np.float32)
    sv = make_explainer("shapley", lin).attribute(x, groups=groups)
    assert sv.attributions.shape == (4, 3)
    assert np.abs(infidelity(lin, x, sv)).max() < 1e-8
    assert infidelity(lin, x, shuffled(sv.attributions), groups=groups, target=0).mean() > 1e-3


def test_infidelity_worse_for_corrupted_attributions(planted) -> None:
    model, x = planted
    ig = make_explainer("ig", model).attribute(x)
    good = infidelity(model, x, ig).mean()
    negated = infidelity(model, x, -ig.attributions, target=ig.targets).mean()
    mixed = infidelity(model, x, shuffled(ig.attributions), target=ig.targets).mean()
    assert good < negated / 4 and good < mixed / 2, (good, negated, mixed)
    # seeded: the same seed draws the same perturbations
    np.testing.assert_array_equal(infidelity(model, x, ig, seed=3), infidelity(model, x, ig, seed=3))


# ----------------------------------------------------------------------------- sensitivity
def test_sensitivity_of_linear_models_by_hand() -> None:
    w = np.array([1.0, -2.0, 0.5])
    lin = linear(w.tolist())
    x = np.random.default_rng(3).normal(size=(5, 3)).astype(np.float32)
    sal = make_explainer("saliency", lin)
    assert np.abs(sensitivity_max(sal, x, abs=False)).max() < 1e-7  # constant gradient
    radius = 0.05
    s = sensitivity_max(make_explainer("ixg", lin), x, radius=radius, n_perturb=20)
    # x*w moves by w*delta with |delta| <= radius: relative change at most radius*|w| / |w*x|
    bound = radius * np.linalg.norm(w) / np.linalg.norm(w * x, axis=1)
    assert (s > 0).all() and (s <= bound + 1e-6).all()


def test_sensitivity_flags_a_noisy_explainer(planted) -> None:
    model, x = planted
    exact = sensitivity_max(make_explainer("shapley", model), x[:6], n_perturb=4)
    noisy = sensitivity_max(make_explainer("kernelshap", model), x[:6], n_perturb=4, n_samples=25)
    assert noisy.mean() > 3 * exact.mean(), (noisy.mean(), exact.mean())


# ----------------------------------------------------------------------------- deletion / insertion
def test_deletion_and_insertion_curves_by_hand() -> None:
    lin = linear([3.0, -1.0, 2.0], bias=0.0)
    x = np.array([[1.0, 1.0, 1.0]], dtype=np.float32)
    attr = np.array([[3.0, -1.0, 2.0]])  # order: feature 0, 2, 1
    out = deletion_insertion(lin, x, attr, target=0, steps=3, score="output")
    np.testing.assert_allclose(out["fractions"], [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(out["curves"]["deletion"][0], [4.0, 1.0, -1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(out["curves"]["insertion"][0], [0.0, 3.0, 5.0, 4.0], atol=1e-6)
    np.testing.assert_allclose(out["aucs"]["deletion"][0], np.trapezoid([4, 1, -1, 0], dx=1 / 3))
    np.testing.assert_allclose(out["aucs"]["insertion"][0], np.trapezoid([0, 3, 5, 4], dx=1 / 3))


def test_deletion_and_insertion_worse_for_corrupted_attributions(planted) -> None:
    model, x = planted
    r = make_explainer("shapley", model).attribute(x)
    good = deletion_insertion(model, x, r)
    bad = deletion_insertion(model, x, -r.attributions, target=r.targets)
    mixed = deletion_insertion(model, x, shuffled(r.attributions, 1), target=r.targets)
    assert good["score"] == "probability"
    assert good["aucs"]["deletion"].mean() < bad["aucs"]["deletion"].mean() - 0.2
    assert good["aucs"]["insertion"].mean() > bad["aucs"]["insertion"].mean() + 0.2
    assert good["aucs"]["deletion"].mean() < mixed["aucs"]["deletion"].mean()
    assert good["aucs"]["insertion"].mean() > mixed["aucs"]["insertion"].mean()


def test_deletion_on_images_and_gradcam_maps() -> None:
    model = build_model(make_template("lenet5", (1, 12, 12), 3), seed=0)
    x = np.random.default_rng(0).random((2, 1, 12, 12)).astype(np.float32)
    for method in ("saliency", "gradcam"):
        r = make_explainer(method, model).attribute(x)
        out = deletion_insertion(model, x, r, steps=6)
        assert out["curves"]["deletion"].shape == (2, 7) and out["aucs"]["insertion"].shape == (2,)
        # removing everything gives the baseline's score, inserting everything the input's
        np.testing.assert_allclose(out["curves"]["deletion"][:, -1], out["curves"]["insertion"][:, 0], atol=1e-6)
        np.testing.assert_allclose(out["curves"]["deletion"][:, 0], out["curves"]["insertion"][:, -1], atol=1e-6)


# ----------------------------------------------------------------------------- randomisation
def test_randomisation_check_separates_model_dependent_maps(planted) -> None:
    model, x = planted
    before = {k: v.clone() for k, v in model.state_dict().items()}
    saliency = randomisation_check(model, x, "saliency", abs=False)
    assert [name for name, _rho in saliency] == ["head", "fc2", "fc1"]
    assert saliency[-1][1] < 0.5, saliency

    def edges(_m: nn.Module, inputs: np.ndarray, _t: list[int]) -> np.ndarray:
        return np.abs(inputs)  # ignores the model entirely: a corrupted "explanation"

    constant = randomisation_check(model, x, edges)
    assert all(rho == pytest.approx(1.0) for _name, rho in constant)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # the check works on a copy
    only = randomisation_check(model, x, "ig", layers=["fc1"])
    assert [n for n, _ in only] == ["fc1"]
    with pytest.raises(ExplainError, match="no weights to randomise"):
        randomisation_check(model, x, "ig", layers=["relu1"])


def test_check_arguments_are_validated(planted) -> None:
    model, x = planted
    r = make_explainer("ig", model).attribute(x)
    with pytest.raises(ExplainError, match="perturbation"):
        infidelity(model, x, r, perturbation="blur")
    with pytest.raises(ExplainError, match="do not fit"):
        infidelity(model, x, np.zeros((len(x), 3)))
    with pytest.raises(ExplainError, match="steps"):
        deletion_insertion(model, x, r, steps=0)
    with pytest.raises(ExplainError, match="samples but"):
        deletion_insertion(model, x, r.attributions[:3])
    with pytest.raises(ExplainError, match="radius"):
        sensitivity_max(make_explainer("ig", model), x, radius=0)
