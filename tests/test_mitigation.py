"""Headless tests of fairness mitigation (reweighing, in-training penalty, ThresholdOptimizer)
and of the live fairness tracker, on the generated lending table with its injected bias."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator
from torch import nn

from engines.data import builtin_spec, prepare
from engines.data.generated import lending_frame
from engines.fairness import (
    FairnessError,
    FairnessPenalty,
    FairnessTracker,
    FairThresholds,
    point_metrics,
    reweighing_weights,
    threshold_optimizer,
)
from engines.training import Callback, ConfigError, TrainConfig, Trainer, predict_proba

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one thread


# ----------------------------------------------------------------------------- reweighing
def test_reweighing_matches_the_closed_form_and_preserves_the_total():
    g = np.array(["a", "a", "a", "b", "b", "b", "b", "b"])
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0])
    w = reweighing_weights(y, {"g": g})
    # P(g) P(y) / P(g, y) by hand: n = 8, P(a) = 3/8, P(b) = 5/8, P(1) = 3/8, P(0) = 5/8
    expected = {("a", 1): (3 / 8 * 3 / 8) / (2 / 8), ("a", 0): (3 / 8 * 5 / 8) / (1 / 8),
                ("b", 1): (5 / 8 * 3 / 8) / (1 / 8), ("b", 0): (5 / 8 * 5 / 8) / (4 / 8)}
    assert w == pytest.approx([expected[(gi, yi)] for gi, yi in zip(g, y)], abs=1e-15)
    assert w.sum() == pytest.approx(len(y), abs=1e-12)


def test_reweighing_makes_label_independent_of_group_on_lending():
    frame = lending_frame()
    y = frame["approved"].to_numpy()
    sens = {"group": frame["group"].to_numpy(), "region": frame["region"].to_numpy()}
    w = reweighing_weights(y, sens)
    assert w.sum() == pytest.approx(len(y), rel=1e-12)
    overall = np.average(y, weights=w)
    assert overall == pytest.approx(y.mean(), abs=1e-12)  # the label's margin is kept
    for a in np.unique(sens["group"]):
        for r in np.unique(sens["region"]):
            rows = (sens["group"] == a) & (sens["region"] == r)
            assert np.average(y[rows], weights=w[rows]) == pytest.approx(y.mean(), abs=1e-12)


def test_reweighing_with_an_empty_group_label_cell_still_preserves_the_total():
    g = np.array(["a", "a", "a", "b"])
    y = np.array([1, 0, 1, 0])  # no b with label 1
    w = reweighing_weights(y, {"g": g})
    closed = np.array([3 / 4 * 1 / 2 / (2 / 4), 3 / 4 * 1 / 2 / (1 / 4), 3 / 4 * 1 / 2 / (2 / 4), 1 / 4 * 1 / 2 / (1 / 4)])
    assert w.sum() == pytest.approx(4, abs=1e-12)
    assert w == pytest.approx(closed * 4 / closed.sum(), abs=1e-12)
    with pytest.raises(FairnessError, match="3 values but there are 4 rows"):
        reweighing_weights(y, {"g": g[:3]})


# ----------------------------------------------------------------------------- the penalty
def test_penalty_values_by_hand():
    logits = torch.tensor([[0.0, 2.0], [0.0, -1.0], [0.0, 0.5], [0.0, 0.0], [1.0, 0.0]], requires_grad=True)
    target = torch.tensor([1, 0, 1, 0, 1])
    groups = np.array(["a", "a", "b", "b", "b", "x"])  # row 5 is never in the batch
    idx = torch.tensor([0, 1, 2, 3, 4])
    p = torch.softmax(logits.detach(), 1)[:, 1].numpy()
    gap = abs(p[:2].mean() - p[2:].mean())
    dp = FairnessPenalty({"g": groups}, "dp", strength=2.0)
    assert float(dp(logits, target, idx).detach()) == pytest.approx(2.0 * gap, rel=1e-6)
    sq = FairnessPenalty({"g": groups}, "dp", strength=2.0, norm="squared")
    assert float(sq(logits, target, idx).detach()) == pytest.approx(2.0 * gap**2, rel=1e-6)
    # equalized odds: the gap among true favourable rows (0 vs 2, 4) plus among the others (1 vs 3)
    eo = FairnessPenalty({"g": groups}, "eo", strength=1.0)
    expected = abs(p[0] - p[[2, 4]].mean()) + abs(p[1] - p[3])
    assert float(eo(logits, target, idx).detach()) == pytest.approx(expected, rel=1e-6)
    # differentiable: the gradient pushes the groups' means together
    dp(logits, target, idx).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    # one group in the batch: nothing to compare, nothing added
    assert float(dp(logits[:2], target[:2], idx[:2])) == 0.0
    # a one-logit model: sigmoid of the logit is P(favourable = 1)
    one = torch.tensor([[2.0], [-1.0], [0.5], [0.0], [-1.0]])
    q = torch.sigmoid(one[:, 0]).numpy()
    assert float(dp(one, target, idx)) == pytest.approx(2.0 * abs(q[:2].mean() - q[2:].mean()), rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"kind": "parity"}, "kind"), ({"strength": -1.0}, "strength"), ({"strength": math.nan}, "strength"),
     ({"norm": "l3"}, "norm"), ({"favourable": "yes"}, "class index")],
)
def test_penalty_bad_settings(kwargs, message):
    with pytest.raises(FairnessError, match=message):
        FairnessPenalty({"g": np.array(["a", "b"])}, **kwargs)


def test_penalty_refuses_rows_it_has_no_groups_for():
    pen = FairnessPenalty({"g": np.array(["a", "b"])})
    with pytest.raises(FairnessError, match="sensitive values for 2 rows"):
        pen(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), torch.tensor([0, 1, 2]))


# ----------------------------------------------------------------------------- the trainer hook
def _mlp(features: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(features, 16), nn.ReLU(), nn.Linear(16, 2))


def test_trainer_loss_terms_get_batches_and_add_to_the_loss():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    seen: list[torch.Tensor] = []

    def record(out, target, idx):
        assert out.shape == (len(idx), 2)
        assert torch.equal(target, torch.from_numpy(y)[idx])  # class indices of these rows
        seen.append(idx.clone())
        return out.new_tensor(0.25)  # a constant: same gradients, loss shifted by 0.25

    cfg = TrainConfig(epochs=2, batch_size=32, device="cpu", seed=3)
    plain = Trainer(_mlp(4), (X, y), config=cfg).fit()
    shifted = Trainer(_mlp(4), (X, y), config=TrainConfig(**cfg.to_dict()), loss_terms=[record]).fit()
    assert len(seen) == 8  # 4 batches per epoch
    for epoch in range(2):
        rows = torch.cat(seen[4 * epoch: 4 * epoch + 4])
        assert sorted(rows.tolist()) == list(range(100))  # every training row once per epoch
    a, b = np.array(plain.history["step"]["loss"]), np.array(shifted.history["step"]["loss"])
    assert b - a == pytest.approx(np.full(len(a), 0.25), abs=1e-6)
    for k in plain.state_dict:
        assert torch.equal(plain.state_dict[k], shifted.state_dict[k])
    with pytest.raises(ConfigError, match="loss term must be callable"):
        Trainer(_mlp(4), (X, y), config=cfg, loss_terms=[1.0])  # type: ignore[list-item]


# ----------------------------------------------------------------------------- mitigation on lending
@pytest.fixture(scope="module")
def lending():
    spec = builtin_spec("lending")
    spec.sensitive_as_features = True  # the model sees the group, and learns the injected bias
    p = prepare(spec)
    fav = p.class_names.index("1")
    tr, held = p.splits["train"], np.concatenate([p.splits["val"], p.splits["test"]])
    group = p.sensitive["group"]
    return p, fav, tr, held, group


def _train(lending, **kw) -> nn.Module:
    p, _, tr, _, _ = lending
    torch.set_num_threads(1)
    model = _mlp(p.X.shape[1])
    Trainer(model, (p.X[tr], p.y[tr]), config=TrainConfig(epochs=8, lr=0.01, device="cpu", seed=0), **kw).fit()
    return model


@pytest.fixture(scope="module")
def baseline(lending):
    before = torch.get_num_threads()
    model = _train(lending)
    torch.set_num_threads(before)
    return model


def _held_report(lending, model=None, predictions=None):
    p, fav, _, held, group = lending
    if predictions is None:
        predictions = predict_proba(model, p.X[held])[:, fav]
    return point_metrics(p.y[held], predictions, {"group": group[held]}, favourable=fav)


def test_baseline_model_is_biased(lending, baseline):
    r = _held_report(lending, baseline)
    assert r.differences["group"]["dp_difference"]["value"] > 0.15
    assert r.differences["group"]["di_ratio"]["lowest"] == "B"


def test_reweighing_reduces_the_dp_difference(lending, baseline):
    p, _, tr, _, group = lending
    base = _held_report(lending, baseline)
    model = _train(lending, sample_weight=reweighing_weights(p.y[tr], {"group": group[tr]}))
    r = _held_report(lending, model)
    assert r.differences["group"]["dp_difference"]["value"] < 0.5 * base.differences["group"]["dp_difference"]["value"]
    assert r.overall["accuracy"] > base.overall["accuracy"] - 0.05  # at a small cost, if any


@pytest.mark.parametrize("kind", ["dp", "eo"])
def test_penalty_reduces_the_disparity(lending, baseline, kind):
    p, fav, tr, _, group = lending
    base = _held_report(lending, baseline)
    model = _train(lending, loss_terms=[FairnessPenalty({"group": group[tr]}, kind, strength=1.0, favourable=fav)])
    r = _held_report(lending, model)
    diff, base_diff = r.differences["group"], base.differences["group"]
    assert diff["dp_difference"]["value"] < 0.6 * base_diff["dp_difference"]["value"]
    if kind == "eo":  # TPR/FPR gaps on 600 held-out rows are noisy: only "smaller" is asserted
        assert diff["eo_difference"]["value"] < base_diff["eo_difference"]["value"]
    assert r.overall["accuracy"] > base.overall["accuracy"] - 0.05


@pytest.mark.parametrize(("constraint", "difference"), [("demographic_parity", "dp_difference"),
                                                        ("equalized_odds", "eo_difference")])
def test_threshold_optimizer_reduces_the_disparity(lending, baseline, constraint, difference):
    p, fav, tr, held, group = lending
    fitted = threshold_optimizer(
        p.y[tr], predict_proba(baseline, p.X[tr])[:, fav], {"group": group[tr]},
        constraint=constraint, favourable=fav, seed=11,
    )
    base = _held_report(lending, baseline)
    after = fitted.predict(predict_proba(baseline, p.X[held])[:, fav], {"group": group[held]})
    r = _held_report(lending, predictions=after)
    assert r.differences["group"][difference]["value"] < 0.5 * base.differences["group"][difference]["value"]
    assert fitted.seed == 11 and fitted.to_dict()["seed"] == 11


# ----------------------------------------------------------------------------- ThresholdOptimizer: stored, reproduced
def test_threshold_optimizer_round_trips_and_reproduces_fairlearn():
    rng = np.random.default_rng(8)
    n = 1500
    sex = rng.choice(np.array(["f", "m"]), n)
    band = rng.integers(18, 70, n)  # banded into quartiles, intersected with sex
    s = rng.uniform(size=n)
    y = (rng.uniform(size=n) < s * np.where(sex == "f", 0.7, 1.0)).astype(int)
    sens = {"sex": sex, "age": band}
    fitted = threshold_optimizer(y, s, sens, constraint="equalized_odds", seed=5)
    assert fitted.columns == ["sex", "age"] and len(fitted.groups) == 8 and fitted.band_edges["age"]

    # fairlearn's own predictions, with the same seed, on new rows: identical
    new_s = rng.uniform(size=700)
    new_sens = {"sex": rng.choice(np.array(["f", "m"]), 700), "age": rng.integers(18, 70, 700)}
    labels = [f"{a} & {b}" for a, b in zip(new_sens["sex"], _bands(new_sens["age"], fitted.band_edges["age"]))]
    theirs = fitted.estimator.predict(new_s.reshape(-1, 1), sensitive_features=np.array(labels), random_state=5)
    ours = fitted.predict(new_s, new_sens)
    assert np.array_equal(ours, theirs)
    pmf = fitted.estimator._pmf_predict(new_s.reshape(-1, 1), sensitive_features=np.array(labels))[:, 1]
    assert np.array_equal(fitted.probabilities(new_s, new_sens), pmf)

    # stored as JSON (no pickle), reloaded: the same predictions without fairlearn's object
    back = FairThresholds.from_dict(json.loads(json.dumps(fitted.to_dict(), allow_nan=False)))
    assert back.estimator is None
    assert np.array_equal(back.predict(new_s, new_sens), theirs)
    assert not np.array_equal(back.predict(new_s, new_sens, seed=6), theirs)  # the seed matters

    with pytest.raises(FairnessError, match="No threshold was fitted for group"):
        fitted.predict(np.array([0.5]), {"sex": np.array(["x"]), "age": np.array([30])})
    with pytest.raises(FairnessError, match="fitted on sensitive columns"):
        fitted.predict(np.array([0.5]), {"sex": np.array(["f"])})
    with pytest.raises(FairnessError, match="Unknown constraint"):
        threshold_optimizer(y, s, sens, constraint="fair")
    with pytest.raises(FairnessError, match="incomplete"):
        FairThresholds.from_dict({**fitted.to_dict(), "groups": {"f": {"p0": 1.0}}})


def _bands(values: np.ndarray, edges: list[float]) -> list[str]:
    labels = [f"< {edges[0]:g}"] + [f"[{a:g}, {b:g})" for a, b in zip(edges, edges[1:])] + [f">= {edges[-1]:g}"]
    return [labels[i] for i in np.searchsorted(edges, values, side="right")]


def test_threshold_optimizer_interpolation_matches_fairlearn_fit():
    # the wrapper fits exactly what fairlearn fits on the same scores (the shim is transparent)
    rng = np.random.default_rng(3)
    n = 800
    g = rng.choice(np.array(["a", "b", "c"]), n)
    s = rng.uniform(size=n)
    y = (rng.uniform(size=n) < s).astype(int)
    fitted = threshold_optimizer(y, s, {"g": g}, seed=0)

    class Scores(BaseEstimator):
        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.asarray(X)[:, 0]

        def __sklearn_is_fitted__(self):
            return True

    ref = ThresholdOptimizer(estimator=Scores(), prefit=True, predict_method="predict").fit(
        s.reshape(-1, 1), y, sensitive_features=g)
    for label, b in ref.interpolated_thresholder_.interpolation_dict.items():
        mine = fitted.groups[label]
        assert (mine["p0"], mine["threshold0"], mine["p1"], mine["threshold1"]) == (
            b.p0, b.operation0.threshold, b.p1, b.operation1.threshold)


# ----------------------------------------------------------------------------- live tracking
def test_tracker_records_every_epoch_and_matches_point_metrics(lending):
    p, fav, tr, held, group = lending
    vX, vy, vg = p.X[held], p.y[held], {"group": group[held]}
    updates: list[int] = []
    modes: list[bool] = []

    class Mode(Callback):
        def on_epoch_end(self, trainer, epoch):
            modes.append(trainer.model.training)

    tracker = FairnessTracker(vX, vy, vg, favourable=fav, on_update=lambda e, r: updates.append(e))
    model = _mlp(p.X.shape[1])
    Trainer(model, (p.X[tr], p.y[tr]), config=TrainConfig(epochs=4, lr=0.01, device="cpu", seed=0),
            callbacks=[tracker, Mode()]).fit()
    assert updates == tracker.epochs == [0, 1, 2, 3]
    assert modes == [True] * 4  # the tracker evaluated in eval mode and put train mode back
    last = point_metrics(vy, predict_proba(model, vX)[:, fav], vg, favourable=fav)
    assert _same(tracker.reports[-1].by_group, last.by_group)
    series = tracker.series()
    assert len(series["group/dp_difference"]) == 4
    assert series["group/dp_difference"][-1] == pytest.approx(last.differences["group"]["dp_difference"]["value"], abs=1e-6)
    model.eval()
    tracker.update(model, 99)
    assert not model.training  # eval stays eval
    with pytest.raises(FairnessError, match="rows but its targets"):
        FairnessTracker(vX, vy[:-1], vg)
    with pytest.raises(FairnessError, match="threshold must be between 0 and 1"):
        FairnessTracker(vX, vy, vg, threshold=2.0)
    with pytest.raises(FairnessError, match="favourable label 7 does not occur"):
        FairnessTracker(vX, vy, vg, favourable=7)


def _same(a: dict, b: dict) -> bool:
    """Nested dicts equal to float32 precision (the tracker and predict_proba may round alike or not)."""
    for k, v in a.items():
        if isinstance(v, dict):
            if not _same(v, b[k]):
                return False
        elif not (v == pytest.approx(b[k], abs=1e-6) or (math.isnan(v) and math.isnan(b[k]))):
            return False
    return True
