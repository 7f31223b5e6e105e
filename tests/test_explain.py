"""Headless tests of the explainers (engines.explain): exactness, planted features,
completeness, batching, seeds, grouping, bad input, cancel and saving."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from captum.attr import FeatureAblation, IntegratedGradients, LayerAttribution, LayerGradCam
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from engines.build import build_model
from engines.data import builtin_spec, prepare
from engines.explain import (
    METHODS,
    AttributionResult,
    Cancelled,
    ExplainError,
    FeatureGroups,
    feature_groups,
    make_explainer,
    pick_samples,
)
from engines.templates import TEMPLATES, make_template
from engines.training import TrainConfig, Trainer

TABLE_METHODS = [m for m in METHODS if m != "gradcam"]
STOCHASTIC = [m for m, info in METHODS.items() if info.stochastic]
FAST = {"kernelshap": {"n_samples": 200}, "lime": {"n_samples": 200}, "smoothgrad": {"nt_samples": 10},
        "gradshap": {"n_samples": 20}}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one thread


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def planted() -> tuple[nn.Module, np.ndarray, np.ndarray, np.ndarray]:
    """An MLP trained on 8 features of which only 2 and 5 decide the label."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 8)).astype(np.float32)
    y = (1.5 * X[:, 2] - 1.2 * X[:, 5] > 0).astype(np.int64)
    model = build_model(make_template("mlp", (8,), 2), seed=0)
    cfg = TrainConfig(epochs=12, batch_size=64, lr=3e-3, device="cpu", seed=0)
    result = Trainer(model, train=(X[:1200], y[:1200]), val=(X[1200:], y[1200:]), config=cfg).fit()
    assert result.metrics["accuracy"] > 0.95, result.metrics
    model.eval()  # for the captum oracles; the explainers switch to eval mode themselves
    return model, X[1200:1224], X[:64], y[1200:1224]


@pytest.fixture(scope="module")
def lenet() -> nn.Module:
    return build_model(make_template("lenet5", (1, 12, 12), 4), seed=1).eval()


def images(n: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, 12, 12)).astype(np.float32)


def linear(features: int = 6, outputs: int = 3) -> nn.Linear:
    torch.manual_seed(3)
    return nn.Linear(features, outputs)


# ----------------------------------------------------------------------------- exact cases
def test_linear_model_attributions_are_weight_times_difference() -> None:
    lin = linear()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 6)).astype(np.float32)
    b = rng.normal(size=(6,)).astype(np.float32)
    bg = rng.normal(size=(9, 6)).astype(np.float32)
    w = lin.weight.detach().double().numpy()[2]
    expect = w * (x.astype(np.float64) - b)
    for method in ("ig", "deeplift", "shapley", "ablation", "occlusion", "kernelshap"):
        r = make_explainer(method, lin).attribute(x, target=2, baseline=b)
        np.testing.assert_allclose(r.attributions, expect, atol=2e-4 if method == "kernelshap" else 2e-5,
                                   err_msg=method)
    ixg = make_explainer("ixg", lin).attribute(x, target=2)
    np.testing.assert_allclose(ixg.attributions, w * x, atol=1e-5)
    on_bg = w * (x.astype(np.float64) - bg.astype(np.float64).mean(0))
    for method in ("deepliftshap", "shapley"):
        r = make_explainer(method, lin).attribute(x, target=2, background=bg)
        np.testing.assert_allclose(r.attributions, on_bg, atol=2e-5, err_msg=method)
        assert r.value_function == "background"
    # GradientSHAP with one background row and no noise: the gradient is w everywhere
    gs = make_explainer("gradshap", lin).attribute(x, target=2, background=b[None], stdevs=0.0)
    np.testing.assert_allclose(gs.attributions, expect, atol=1e-5)


def test_planted_features_rank_top_two_for_every_method(planted) -> None:
    model, x, bg, _y = planted
    for method in TABLE_METHODS:
        r = make_explainer(method, model).attribute(
            x, background=bg if METHODS[method].needs_background else None, **FAST.get(method, {})
        )
        top = set(np.argsort(-np.abs(r.attributions).mean(0))[:2].tolist())
        assert top == {2, 5}, f"{method}: top features {top}"


def test_completeness(planted) -> None:
    model, x, bg, _y = planted
    coarse = make_explainer("ig", model).attribute(x, n_steps=4, integration="riemann_left")
    fine = make_explainer("ig", model).attribute(x, n_steps=300)
    # a ReLU network's path integral has kinks: 300 Gauss-Legendre steps reach ~0.1 % of F(x) - F(b)
    gap = fine.outputs - fine.reference
    assert np.abs(fine.delta / gap).max() < 5e-3, np.abs(fine.delta / gap).max()
    assert np.abs(fine.delta).mean() < np.abs(coarse.delta).mean() / 10
    # our delta is captum's convergence delta
    ig = IntegratedGradients(model)
    _a, captum_delta = ig.attribute(torch.from_numpy(x), target=torch.tensor(fine.targets), n_steps=300,
                                    return_convergence_delta=True)
    np.testing.assert_allclose(fine.delta, captum_delta.double().numpy(), atol=1e-5)
    assert np.abs(make_explainer("deeplift", model).attribute(x).delta).max() < 1e-5
    assert np.abs(make_explainer("deepliftshap", model).attribute(x, background=bg).delta).max() < 1e-5
    sv = make_explainer("shapley", model).attribute(x, background=bg[:16])
    assert sv.params["exact"] and np.abs(sv.delta).max() < 1e-5
    with torch.no_grad():
        out = model(torch.from_numpy(x)).double().numpy()[np.arange(len(x)), sv.targets]
        ref = model(torch.from_numpy(bg[:16])).double().numpy()[:, sv.targets].mean(0)
    np.testing.assert_allclose(sv.attributions.sum(1), out - ref, atol=1e-5)


_NO_DEEPLIFT = {
    "lstm": "nn.LSTM computes its sigmoid/tanh gates inside one module, where captum's DeepLift has no rule",
    "gru": "nn.GRU computes its sigmoid/tanh gates inside one module, where captum's DeepLift has no rule",
    "transformer": "softmax attention, GELU and LayerNorm run as functions inside the encoder block, "
                   "which captum's DeepLift cannot hook",
    "vit": "softmax attention, GELU and LayerNorm run as functions inside the encoder block, "
           "which captum's DeepLift cannot hook",
}
_SHAPES = {"table": (8,), "image": (1, 12, 12), "sequence": (6, 4)}
_TEMPLATE_CASES = [
    pytest.param(t, k, id=f"{t}-{k}",
                 marks=[pytest.mark.skip(reason=_NO_DEEPLIFT[t])] if t in _NO_DEEPLIFT else [])
    for t, info in TEMPLATES.items() for k in info.data_kinds
]


@pytest.mark.parametrize(("template", "kind"), _TEMPLATE_CASES)
def test_deeplift_delta_below_1e4_on_every_template(template: str, kind: str) -> None:
    shape = _SHAPES[kind]
    model = build_model(make_template(template, shape, 3), seed=2)
    rng = np.random.default_rng(4)
    x = rng.random((6, *shape)).astype(np.float32)
    target = 0 if template == "autoencoder" else None
    for baseline in (None, rng.random(shape).astype(np.float32)):
        r = make_explainer("deeplift", model).attribute(x, baseline=baseline, target=target)
        assert np.abs(r.delta).max() < 1e-4, (template, np.abs(r.delta).max())
    r = make_explainer("deepliftshap", model).attribute(x, background=rng.random((5, *shape)).astype(np.float32),
                                                        target=target)
    assert np.abs(r.delta).max() < 1e-4


# ----------------------------------------------------------------------------- batching and seeds
@pytest.mark.parametrize(
    "method", ["saliency", "ixg", "ig", "deeplift", "deepliftshap", "occlusion", "ablation", "shapley",
               "gradcam", "kernelshap", "gradshap", "lime"]
)
def test_chunked_and_unchunked_results_are_equal(lenet, method: str) -> None:
    x, bg = images(4), images(5, seed=9)
    opts = {"shapley": {"max_evals": 300}, "kernelshap": {"n_samples": 60}, "lime": {"n_samples": 60},
            "gradshap": {"n_samples": 8}}.get(method, {})
    kwargs = {"background": bg} if METHODS[method].needs_background else {}
    whole = make_explainer(method, lenet).attribute(x, seed=5, **kwargs, **opts)
    small = make_explainer(method, lenet).attribute(x, seed=5, max_batch=3, **kwargs, **opts)
    assert small.params["max_batch"] == 3 and whole.params["max_batch"] > 3
    np.testing.assert_allclose(small.attributions, whole.attributions, rtol=1e-4, atol=1e-6)


def test_a_sample_alone_gets_the_same_deeplift_as_in_a_batch(lenet) -> None:
    """No mixing of samples in a batch (captum 0.9's max-pool fallback used sample 0's gradient)."""
    x = images(5, seed=3)
    batch = make_explainer("deeplift", lenet).attribute(x)
    for i in range(5):
        alone = make_explainer("deeplift", lenet).attribute(x[i:i + 1])
        np.testing.assert_allclose(alone.attributions[0], batch.attributions[i], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("method", STOCHASTIC)
def test_same_seed_same_result(planted, method: str) -> None:
    model, x, bg, _y = planted
    opts = dict(FAST.get(method, {}))
    if method == "shapley":
        opts = {"mode": "sampled", "max_evals": 40}
    kwargs = {"background": bg} if METHODS[method].needs_background else {}
    e = make_explainer(method, model)
    a = e.attribute(x[:4], seed=11, **kwargs, **opts)
    b = e.attribute(x[:4], seed=11, **kwargs, **opts)
    c = e.attribute(x[:4], seed=12, **kwargs, **opts)
    np.testing.assert_array_equal(a.attributions, b.attributions)
    assert not np.array_equal(a.attributions, c.attributions)
    assert a.seed == 11 and c.seed == 12


# ----------------------------------------------------------------------------- groups
@pytest.fixture(scope="module")
def credit():
    data = prepare(builtin_spec("german_credit"))
    groups = feature_groups(data.preprocessing, data.feature_names)
    model = build_model(make_template("mlp", data.input_shape, 2), seed=0).eval()
    return data, groups, model


def test_feature_groups_put_one_hot_columns_back_together(credit) -> None:
    data, groups, _model = credit
    columns = [c["name"] for c in data.preprocessing["columns"]]
    assert groups.names == columns
    for name, members in zip(groups.names, groups.members()):
        encoded = [data.feature_names[i] for i in members]
        assert all(e == name or e.startswith(f"{name}=") for e in encoded)
    assert groups.n_features == len(data.feature_names)
    with pytest.raises(ExplainError, match="does not come from"):
        feature_groups(data.preprocessing, [*data.feature_names[:-1], "nonsense"])
    with pytest.raises(ExplainError, match="table"):
        feature_groups({"kind": "image"}, ["gray"])


def test_grouped_attributions(credit) -> None:
    data, groups, model = credit
    x, bg = data.X[:6], data.X[100:120]
    plain = make_explainer("ig", model).attribute(x)
    grouped = make_explainer("ig", model).attribute(x, groups=groups)
    assert grouped.attributions.shape == (6, groups.n_groups) and grouped.feature_names == groups.names
    np.testing.assert_allclose(grouped.attributions, plain.attributions @ groups.matrix(), atol=1e-10)
    np.testing.assert_allclose(grouped.delta, plain.delta, atol=1e-6)
    # perturbation methods switch a group's columns together: captum's FeatureAblation with a mask
    abl = make_explainer("ablation", model).attribute(x, groups=groups, target=1)
    oracle = FeatureAblation(model).attribute(
        torch.from_numpy(x), target=1, feature_mask=torch.from_numpy(groups.index)[None]
    ).double().numpy()
    first = [m[0] for m in groups.members()]
    np.testing.assert_allclose(abl.attributions, oracle[:, first], atol=1e-6)
    # Shapley values over groups: the subset formula, coalition by coalition
    sv = make_explainer("shapley", model).attribute(x[:2], groups=groups, background=bg, target=1)
    g = groups.n_groups
    for s in range(2):
        def v(members: tuple[int, ...], s: int = s) -> float:
            keep = np.isin(groups.index, members)
            rows = np.where(keep, x[s], bg)
            with torch.no_grad():
                return float(model(torch.from_numpy(rows.astype(np.float32)))[:, 1].double().mean())
        phi = np.zeros(g)
        for i in range(g):
            others = [j for j in range(g) if j != i]
            for k in range(g):
                w = math.factorial(k) * math.factorial(g - k - 1) / math.factorial(g)
                for c in itertools.combinations(others, k):
                    phi[i] += w * (v((*c, i)) - v(c))
        np.testing.assert_allclose(sv.attributions[s], phi, atol=1e-5)


# ----------------------------------------------------------------------------- images
def test_gradcam_matches_captum_and_defaults_to_the_last_convolution(lenet) -> None:
    x = images(3)
    r = make_explainer("gradcam", lenet, layer="conv1").attribute(x, target=2)
    raw = LayerGradCam(lenet, lenet.layers["conv1"]).attribute(torch.from_numpy(x), target=2,
                                                              relu_attributions=True)
    oracle = LayerAttribution.interpolate(raw, (12, 12), interpolate_mode="bilinear")[:, 0]
    assert r.attributions.shape == (3, 12, 12) and r.layer == "conv1"
    np.testing.assert_allclose(r.attributions, oracle.detach().double().numpy(), atol=1e-6)
    assert make_explainer("gradcam", lenet).attribute(x).layer == "conv2"


def test_image_perturbation_methods_use_patches(lenet) -> None:
    x = images(2)
    r = make_explainer("shapley", lenet).attribute(x, patch=4, mode="exact")
    assert r.attributions.shape == (2, 1, 12, 12)
    assert r.params["feature_mask"].startswith("4x4-pixel patches") and r.params["exact"]
    assert np.abs(r.delta).max() < 1e-5
    # each patch carries one value
    block = r.attributions[0, 0, :4, :4]
    np.testing.assert_allclose(block, block[0, 0])


def test_planted_patch_is_highlighted_on_images() -> None:
    """A LeNet-5 learns that a bright 3x3 patch means class 1; every method must point at it."""
    rng = np.random.default_rng(0)
    X = rng.random((1200, 1, 8, 8)).astype(np.float32) * 0.5
    y = rng.integers(0, 2, 1200)
    X[y == 1, 0, 1:4, 1:4] += 1.0
    model = build_model(make_template("lenet5", (1, 8, 8), 2), seed=0)
    cfg = TrainConfig(epochs=6, batch_size=64, lr=3e-3, device="cpu", seed=0)
    assert Trainer(model, train=(X[:1000], y[:1000]), val=(X[1000:], y[1000:]), config=cfg).fit().metrics["accuracy"] > 0.95
    x = X[1000:][y[1000:] == 1][:6]
    region = np.zeros((8, 8), dtype=bool)
    region[1:4, 1:4] = True
    for method, info in METHODS.items():
        # Grad-CAM on this tiny net localises only at full resolution (conv1); its 4x4 conv2
        # map is too coarse for an 8x8 image and points elsewhere.
        e = make_explainer(method, model, layer="conv1" if method == "gradcam" else None)
        r = e.attribute(x, target=1, background=X[:32] if info.needs_background else None,
                        **FAST.get(method, {}))
        a = np.abs(r.attributions)
        per_pixel = (a.sum(axis=1) if a.ndim == 4 else a).mean(axis=0)
        ratio = per_pixel[region].mean() / per_pixel[~region].mean()
        assert ratio > 2.5, f"{method}: planted patch only {ratio:.2f}x the rest"


# ----------------------------------------------------------------------------- targets and tasks
def test_default_targets_and_single_logit_models() -> None:
    lin = linear(outputs=3)
    x = np.random.default_rng(2).normal(size=(7, 6)).astype(np.float32)
    r = make_explainer("saliency", lin).attribute(x)
    with torch.no_grad():
        logits = lin(torch.from_numpy(x)).numpy()
    assert r.targets == logits.argmax(1).tolist()
    np.testing.assert_allclose(r.outputs, logits.max(1), atol=1e-6)
    assert make_explainer("saliency", lin, task="regression").attribute(x).targets == [0] * 7
    one = linear(outputs=1)
    r1 = make_explainer("ig", one).attribute(x)
    assert r1.targets == [0] * 7  # the logit, whatever the predicted class
    with pytest.raises(ExplainError, match="single output"):
        make_explainer("ig", one).attribute(x, target=1)


def test_model_mode_is_restored_and_dropout_is_off() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 2))
    model.train()
    x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    a = make_explainer("saliency", model).attribute(x)
    b = make_explainer("saliency", model).attribute(x)
    np.testing.assert_array_equal(a.attributions, b.attributions)
    assert model.training and all(m.training for m in model.modules())


# ----------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_explain_error(lenet, credit) -> None:
    x = images(2)
    with pytest.raises(ExplainError, match="did you mean 'deeplift'"):
        make_explainer("deeplfit", lenet)
    with pytest.raises(ExplainError, match="Unknown attribution method"):
        make_explainer("xyz", lenet)
    with pytest.raises(ExplainError, match=r"per-sample shape \(1, 10, 10\) but the model expects \(1, 12, 12\)"):
        make_explainer("ig", lenet).attribute(np.zeros((2, 1, 10, 10), np.float32))
    with pytest.raises(ExplainError, match="leading sample axis"):
        make_explainer("ig", lenet).attribute(x[0])
    with pytest.raises(ExplainError, match="missing or infinite"):
        make_explainer("ig", lenet).attribute(np.full((1, 1, 12, 12), np.nan, np.float32))
    with pytest.raises(ExplainError, match="Grad-CAM needs a convolutional layer.*'fc1'.*Linear.*outputs \\(120\\)"):
        make_explainer("gradcam", lenet, layer="fc1").attribute(x)
    with pytest.raises(ExplainError, match="no layer 'conv9'; did you mean"):
        make_explainer("gradcam", lenet, layer="conv9")
    with pytest.raises(ExplainError, match="only Grad-CAM"):
        make_explainer("ig", lenet, layer="conv1")
    with pytest.raises(ExplainError, match=r"Target 4 is out of range: the model has 4 outputs \(0-3\)"):
        make_explainer("saliency", lenet).attribute(x, target=4)
    with pytest.raises(ExplainError, match="one target per sample"):
        make_explainer("saliency", lenet).attribute(x, target=[0, 1, 2])
    with pytest.raises(ExplainError, match="has no option 'nsteps'; did you mean 'n_steps'"):
        make_explainer("ig", lenet).attribute(x, nsteps=10)
    with pytest.raises(ExplainError, match="'n_steps' must be between 1"):
        make_explainer("ig", lenet).attribute(x, n_steps=0)
    with pytest.raises(ExplainError, match="must be a whole number"):
        make_explainer("ig", lenet).attribute(x, n_steps=2.5)
    with pytest.raises(ExplainError, match="baseline must have per-sample shape"):
        make_explainer("ig", lenet).attribute(x, baseline=np.zeros((3, 3)))
    with pytest.raises(ExplainError, match="background must be rows"):
        make_explainer("deepliftshap", lenet).attribute(x, background=np.zeros((1, 12, 12)))
    with pytest.raises(ExplainError, match="max_batch"):
        make_explainer("ig", lenet).attribute(x, max_batch=0)
    with pytest.raises(ExplainError, match="seed"):
        make_explainer("ig", lenet).attribute(x, seed=-1)
    with pytest.raises(ExplainError, match="Feature groups apply to table data"):
        make_explainer("ig", lenet).attribute(x, groups=FeatureGroups.singletons(["a"]))
    data, groups, model = credit
    with pytest.raises(ExplainError, match="Grad-CAM applies to image data"):
        make_explainer("gradcam", model).attribute(data.X[:2])
    with pytest.raises(ExplainError, match="cover 3 columns"):
        make_explainer("ig", model).attribute(data.X[:2], groups=FeatureGroups(["a", "b"], np.array([0, 1, 1])))
    with pytest.raises(ExplainError, match="cannot run on inputs"):
        make_explainer("ig", nn.Linear(5, 2)).attribute(np.zeros((2, 4), np.float32))
    with pytest.raises(ExplainError, match="no input columns"):
        FeatureGroups(["a", "b"], np.array([0, 0]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.one_of(st.none(), st.integers(-3, 6), st.booleans(), st.floats(allow_nan=True), st.text(max_size=3),
                     st.lists(st.integers(-1, 4), max_size=4)),
    max_batch=st.one_of(st.none(), st.integers(-2, 5), st.floats(0, 3)),
    option=st.sampled_from([{}, {"n_steps": 3}, {"n_steps": -1}, {"integration": "simpson"}, {"abs": 1}]),
)
def test_generated_arguments_either_work_or_say_why(target, max_batch, option) -> None:
    lin = linear(outputs=3)
    x = np.random.default_rng(0).normal(size=(3, 6)).astype(np.float32)
    try:
        r = make_explainer("ig", lin).attribute(x, target=target, max_batch=max_batch, **option)
    except ExplainError as exc:
        message = str(exc)
        assert message.endswith((".", "?")) and "\n" not in message
    else:
        assert r.attributions.shape == (3, 6) and np.isfinite(r.attributions).all()


# ----------------------------------------------------------------------------- cancel, progress, saving
def test_cancel_raises_and_leaves_the_model_clean(lenet) -> None:
    x = images(4)
    calls: list[int] = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    for method in ("deeplift", "ig", "shapley", "kernelshap"):
        calls.clear()
        with pytest.raises(Cancelled):
            make_explainer(method, lenet).attribute(x, max_batch=2, cancel=cancel, n_steps=20) if method == "ig" \
                else make_explainer(method, lenet).attribute(x, max_batch=2, cancel=cancel)
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in lenet.modules())
    assert hooks == 0
    # and still explains correctly afterwards
    assert np.abs(make_explainer("deeplift", lenet).attribute(x).delta).max() < 1e-4


def test_progress_reaches_one(lenet) -> None:
    seen: list[float] = []
    make_explainer("ig", lenet).attribute(images(5), max_batch=2, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 3


def test_result_round_trips_through_json(planted) -> None:
    model, x, bg, _y = planted
    names = [f"f{i}" for i in range(8)]
    for method, kwargs in (("ig", {}), ("shapley", {"background": bg[:8]}), ("saliency", {})):
        r = make_explainer(method, model).attribute(x[:3], feature_names=names, baseline_label="mean of the training split",
                                                    **kwargs)
        back = AttributionResult.from_dict(json.loads(json.dumps(r.to_dict())))
        for field in ("method", "title", "params", "feature_names", "targets", "baseline", "value_function",
                      "seed", "layer", "versions", "elapsed"):
            assert getattr(back, field) == getattr(r, field), field
        for field in ("attributions", "outputs", "reference", "delta"):
            a, b = getattr(r, field), getattr(back, field)
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b)
    assert r.versions["captum"] and r.versions["torch"] and r.feature_names == names
    assert AttributionResult.from_dict(json.loads(json.dumps(r.to_dict()))).summary().startswith("Saliency")
    with pytest.raises(ExplainError, match="not a saved attribution"):
        AttributionResult.from_dict({"method": "ig"})


def test_result_states_how_it_was_made(planted) -> None:
    model, x, bg, _y = planted
    r = make_explainer("ig", model).attribute(x[:2], background=bg)
    assert r.baseline == "mean of the background (64 rows)" and r.value_function == "baseline"
    assert r.params["n_steps"] == 50 and r.params["integration"] == "gausslegendre"
    s = make_explainer("shapley", model).attribute(x[:2], background=bg[:10], background_label="10 training rows")
    assert s.baseline == "10 training rows" and s.value_function == "background"
    assert s.params["estimator"] == "exact enumeration" and s.params["coalitions_per_sample"] == 256
    sal = make_explainer("saliency", model).attribute(x[:2])
    assert sal.delta is None and sal.reference is None and sal.value_function is None


# ----------------------------------------------------------------------------- picking samples
def test_pick_samples(planted) -> None:
    model, x, _bg, y = planted
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).double().numpy()
    prob = np.exp(logits - logits.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    pred = prob.argmax(1)
    y_bad = y.copy()
    y_bad[[3, 7, 11]] = 1 - y_bad[[3, 7, 11]]  # three certain mistakes
    wrong = pick_samples(model, x, y_bad, "misclassified", 10)
    assert set(wrong.tolist()) == set(np.flatnonzero(pred != y_bad).tolist())
    assert np.all(np.diff(prob.max(1)[wrong]) <= 1e-12)
    confident = pick_samples(model, x, y, "confident", 5)
    np.testing.assert_array_equal(confident, np.argsort(-prob.max(1), kind="stable")[:5])
    per_class = pick_samples(model, x, y, "random_per_class", 6, seed=1)
    assert len(set(per_class.tolist())) == 6 and np.bincount(y[per_class], minlength=2).tolist() == [3, 3]
    np.testing.assert_array_equal(per_class, pick_samples(model, x, y, "random_per_class", 6, seed=1))
    assert pick_samples(model, x, None, "first", 3).tolist() == [0, 1, 2]
    reg = pick_samples(model, x, y.astype(np.float32) * 10, "misclassified", 2, task="regression")
    assert len(reg) == 2
    with pytest.raises(ExplainError, match="Unknown way"):
        pick_samples(model, x, y, "worst", 3)
    with pytest.raises(ExplainError, match="at least 1"):
        pick_samples(model, x, y, "first", 0)
    with pytest.raises(ExplainError, match="24 samples but 3 targets"):
        pick_samples(model, x, y[:3], "confident", 3)


def test_options_in_params_reproduce_the_call(lenet) -> None:
    """Feeding a result's options back in gives the same result (as the checks panel does)."""
    x = images(2)
    for method in ("occlusion", "smoothgrad", "ig", "shapley"):
        first = make_explainer(method, lenet).attribute(x, seed=4, **({"max_evals": 200} if method == "shapley" else {}))
        again_opts = {k: v for k, v in first.params.items() if k in METHODS[method].defaults}
        again = make_explainer(method, lenet).attribute(x, seed=first.seed, **again_opts)
        np.testing.assert_allclose(again.attributions, first.attributions, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("method", ["shapley", "ablation"])
def test_patch_maps_add_up_to_what_their_gap_says(method: str) -> None:
    """On images with multi-pixel patches, the map as shown sums to the patch values."""
    from engines.build import build_model
    from engines.templates import make_template

    model = build_model(make_template("lenet5", (1, 16, 16), 3), seed=0).eval()
    x = np.random.default_rng(0).normal(size=(2, 1, 16, 16)).astype(np.float32)
    r = make_explainer(method, model).attribute(x, target=1)
    groups = r.params["groups"] if "groups" in r.params else None
    assert groups is None or len(groups["names"]) < 16 * 16  # patches, not pixels
    total = r.attributions.reshape(2, -1).sum(axis=1)
    if r.delta is not None:
        np.testing.assert_allclose(total - (r.outputs - r.reference), r.delta, atol=1e-6)
    if method == "shapley":
        np.testing.assert_allclose(total, r.outputs - r.reference, atol=1e-5)
