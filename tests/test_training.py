"""Headless tests of the training engine (engines.training, engines.metrics)."""

from __future__ import annotations

import json
import math
import threading
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn import metrics as skm
from torch import nn

from engines.metrics import classification_metrics, regression_metrics
from engines.training import (
    Callback,
    ConfigError,
    EarlyStopping,
    TrainConfig,
    Trainer,
    evaluate,
    layer_names,
    predict,
    predict_proba,
    resolve_device,
)


# ----------------------------------------------------------------------------- fixtures
def blobs(n: int = 240, features: int = 4, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Linearly separable-ish classes: a learnable task in a few epochs."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(classes, features))
    y = rng.integers(0, classes, n)
    X = (centres[y] + rng.normal(size=(n, features))).astype(np.float32)
    return X, y


def mlp(features: int = 4, outputs: int = 3, hidden: int = 16, seed: int = 0, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Linear(features, hidden), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, outputs))
    return nn.Sequential(*layers)


def cfg(**kw) -> TrainConfig:
    base = {"epochs": 3, "batch_size": 32, "device": "cpu", "lr": 0.01}
    base.update(kw)
    return TrainConfig(**base)


class Recorder(Callback):
    """Keeps every step dict and a copy of the weights after each step."""

    def __init__(self, keep_weights: bool = False) -> None:
        self.steps: list[dict] = []
        self.weights: list[dict] = []
        self.keep_weights = keep_weights

    def on_step_end(self, trainer, step):
        self.steps.append(dict(step))
        if self.keep_weights:
            self.weights.append({k: v.detach().clone() for k, v in trainer.model.state_dict().items()})


# ----------------------------------------------------------------------------- config
def test_config_round_trips_through_json():
    c = cfg(optimizer="sgd", momentum=0.9, nesterov=True, schedule="cosine", grad_clip=1.0,
            early_stopping_patience=3, early_stopping_metric="val_f1", warmup_epochs=1)
    again = TrainConfig.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again == c
    assert TrainConfig.from_dict({}) == TrainConfig()
    assert TrainConfig.from_dict({"lr": 1}).lr == 1.0 and isinstance(TrainConfig.from_dict({"lr": 1}).lr, float)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"lrate": 0.1}, "Unknown training setting 'lrate'; did you mean 'lr'?"),
        ({"zzz": 1}, "Unknown training setting 'zzz'; known settings are"),
        ({"epochs": "10"}, "Setting 'epochs' must be an integer, not str ('10')."),
        ({"epochs": 2.0}, "Setting 'epochs' must be an integer, not float (2.0)."),
        ({"batch_size": True}, "Setting 'batch_size' must be an integer, not bool (True)."),
        ({"lr": -0.1}, "Setting 'lr' must be greater than 0, got -0.1."),
        ({"lr": float("nan")}, "Setting 'lr' must be a finite number, not nan."),
        ({"momentum": 1.0}, "Setting 'momentum' must be at least 0 and less than 1, got 1.0."),
        ({"gamma": 0}, "Setting 'gamma' must be greater than 0 and at most 1, got 0.0."),
        ({"grad_clip": 0}, "Setting 'grad_clip' must be greater than 0 (or None for no clipping), got 0.0."),
        ({"early_stopping_patience": 0}, "Setting 'early_stopping_patience' must be at least 1"),
        ({"optimizer": "adamx"}, "Setting 'optimizer' must be one of 'sgd', 'adagrad', 'rmsprop', 'adam', 'adamw', not 'adamx'."),
        ({"nesterov": 1}, "Setting 'nesterov' must be a boolean, not int (1)."),
        ({"optimizer": "sgd", "nesterov": True}, "Nesterov momentum needs 'momentum' greater than 0"),
        ({"optimizer": "adam", "nesterov": True, "momentum": 0.9}, "Nesterov momentum applies only to the 'sgd' optimizer, not 'adam'."),
        ({"warmup_epochs": 5, "epochs": 5}, "Setting 'warmup_epochs' (5) must be less than 'epochs' (5)."),
        ({"objective": "regression", "early_stopping_metric": "val_accuracy"},
         "Early stopping metric 'val_accuracy' does not apply to regression; use one of 'val_loss', 'train_loss', 'val_mae', 'val_r2'."),
        ({"seed": -1}, "Setting 'seed' must be between 0 and 2**63 - 1, got -1."),
    ],
)
def test_config_errors_say_what_is_wrong(settings, message):
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict(settings)
    assert str(err.value).startswith(message)


def test_from_dict_rejects_a_non_mapping():
    with pytest.raises(ConfigError, match="must be a mapping of names to values, not list"):
        TrainConfig.from_dict([("lr", 0.1)])


def test_device_auto_picks_cpu_without_accelerators_and_refuses_a_missing_one():
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("an accelerator is present")
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match="no CUDA GPU is available"):
        resolve_device("cuda")


# ----------------------------------------------------------------------------- metrics
def test_classification_metrics_equal_sklearn():
    rng = np.random.default_rng(3)
    for classes in (2, 3, 6):
        y = rng.integers(0, classes, 400)
        logits = rng.normal(size=(400, classes)) + 1.5 * np.eye(classes)[y]
        logits[:40] = np.round(logits[:40])  # some tied scores
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        m = classification_metrics(y, p)
        pred = p.argmax(axis=1)
        assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
        assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
        ref_auc = (skm.roc_auc_score(y, p[:, 1]) if classes == 2
                   else skm.roc_auc_score(y, p, multi_class="ovr", average="macro"))
        assert m["auc"] == pytest.approx(ref_auc, rel=1e-10)
        assert m["confusion"] == skm.confusion_matrix(y, pred, labels=range(classes)).tolist()


def test_auc_is_nan_when_a_class_is_missing_and_f1_matches_sklearn_labels():
    y = np.array([0, 0, 2, 2, 0])  # class 1 never occurs
    p = np.array([[.8, .1, .1], [.2, .7, .1], [.1, .1, .8], [.5, .1, .4], [.3, .3, .4]])
    m = classification_metrics(y, p)
    assert math.isnan(m["auc"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert m["f1"] == pytest.approx(skm.f1_score(y, p.argmax(1), average="macro"))
    assert m["confusion"][1] == [0, 0, 0]


def test_regression_metrics_equal_sklearn():
    rng = np.random.default_rng(4)
    y = rng.normal(size=(50, 2))
    pred = y + rng.normal(scale=0.3, size=(50, 2))
    m = regression_metrics(y, pred)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert m["r2"] == pytest.approx(skm.r2_score(y, pred))
    const = np.ones(10)
    assert regression_metrics(const, const + 0.1)["r2"] == skm.r2_score(const, const + 0.1)


def test_evaluate_and_predict_match_sklearn_on_the_models_outputs():
    X, y = blobs()
    model = mlp()
    logits = predict(model, X, batch_size=50)  # batching must not change the answer
    with torch.no_grad():
        direct = model(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(logits, direct, rtol=1e-5, atol=1e-6)
    proba = predict_proba(model, X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    m = evaluate(model, X, y, "classification", batch_size=64)
    p64 = proba.astype(np.float64)
    assert m["loss"] == pytest.approx(skm.log_loss(y, p64 / p64.sum(axis=1, keepdims=True)), rel=1e-4)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, proba.argmax(1)))
    assert m["auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert m["confusion"] == skm.confusion_matrix(y, proba.argmax(1)).tolist()


# ----------------------------------------------------------------------------- optimizers & LR
@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "rmsprop", "adam", "adamw"])
def test_each_optimizer_learns(optimizer):
    X, y = blobs()
    extra = {"momentum": 0.9, "nesterov": True} if optimizer == "sgd" else {}
    r = Trainer(mlp(), (X, y), (X, y), cfg(optimizer=optimizer, lr=0.05, epochs=4, **extra)).fit()
    assert r.status == "completed", r.message
    losses = r.history["epoch"]["val_loss"]
    assert losses[-1] < 0.7 * losses[0]
    assert r.metrics["accuracy"] > 0.8
    assert set(r.history["step"]["lr"]) == {0.05}


def run_lrs(**kw) -> tuple[list[float], int]:
    X, y = blobs(n=100)
    r = Trainer(mlp(), (X, y), None, cfg(lr=0.1, batch_size=25, **kw)).fit()  # 4 steps per epoch
    return r.history["step"]["lr"], 4


def test_step_schedule():
    lrs, spe = run_lrs(schedule="step", step_size=2, gamma=0.5, epochs=5)
    expected = [0.1 * 0.5 ** (k // (2 * spe)) for k in range(5 * spe)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_cosine_schedule():
    lrs, spe = run_lrs(schedule="cosine", epochs=5)
    total = 5 * spe
    expected = [0.1 * (1 + math.cos(math.pi * k / total)) / 2 for k in range(total)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-9, atol=1e-15)


def test_warmup_then_cosine():
    lrs, spe = run_lrs(schedule="cosine", epochs=5, warmup_epochs=2)
    warm, total = 2 * spe, 5 * spe
    expected = [0.1 * (k + 1) / warm for k in range(warm)]
    expected += [0.1 * (1 + math.cos(math.pi * k / (total - warm))) / 2 for k in range(total - warm)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-9)


def test_warmup_alone_ramps_then_holds():
    lrs, spe = run_lrs(epochs=3, warmup_epochs=1)
    np.testing.assert_allclose(lrs, [0.025, 0.05, 0.075] + [0.1] * (3 * spe - 3), rtol=1e-12)


def test_onecycle_rises_to_lr_then_anneals():
    lrs, spe = run_lrs(schedule="onecycle", epochs=5, warmup_epochs=1)
    peak = int(np.argmax(lrs))
    assert lrs[0] == pytest.approx(0.1 / 25)  # OneCycle's default div_factor
    assert max(lrs) == pytest.approx(0.1)
    assert peak == spe - 1  # the warm-up sets the length of the rising phase
    assert all(a <= b for a, b in zip(lrs[:peak], lrs[1:peak + 1]))
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:]))
    assert lrs[-1] < 1e-4


def test_weight_decay_shrinks_weights():
    X, y = blobs()
    norms = []
    for wd in (0.0, 0.5):
        r = Trainer(mlp(), (X, y), None, cfg(optimizer="sgd", lr=0.05, weight_decay=wd)).fit()
        norms.append(sum(float(v.norm() ** 2) for k, v in r.state_dict.items() if k.endswith("weight")))
    assert norms[1] < 0.8 * norms[0]


def test_grad_clip_bounds_each_update_and_reports_raw_norms():
    X, y = blobs(n=64)
    y = (y + 1) % 3  # wrong on purpose: large gradients
    rec = Recorder(keep_weights=True)
    model = mlp()
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    r = Trainer(model, (X * 50, y), None, cfg(optimizer="sgd", lr=1.0, grad_clip=0.1, batch_size=64, epochs=1),
                callbacks=[rec]).fit()
    delta = torch.sqrt(sum(((rec.weights[0][k] - before[k]) ** 2).sum() for k in before))
    assert float(delta) == pytest.approx(0.1, rel=1e-3)  # SGD step = lr * clipped gradient
    raw = math.sqrt(sum(v[0] ** 2 for v in r.history["epoch"]["grad_norm"].values()))
    assert raw > 1.0  # the history shows the gradient before clipping


def test_grad_norms_per_layer_equal_a_manual_backward():
    X, y = blobs(n=50)
    model = mlp()
    manual = mlp()
    F.cross_entropy(manual(torch.from_numpy(X)), torch.from_numpy(y)).backward()
    expected = {
        "0": math.sqrt(float(manual[0].weight.grad.norm() ** 2 + manual[0].bias.grad.norm() ** 2)),
        "2": math.sqrt(float(manual[2].weight.grad.norm() ** 2 + manual[2].bias.grad.norm() ** 2)),
    }
    r = Trainer(model, (X, y), None, cfg(batch_size=50, epochs=1)).fit()
    got = {k: v[0] for k, v in r.history["epoch"]["grad_norm"].items()}
    assert got.keys() == expected.keys()
    for k in expected:
        assert got[k] == pytest.approx(expected[k], rel=1e-5)


def test_layer_names_group_by_node_for_built_graphs():
    class GraphLike(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleDict({"fc1": nn.Linear(2, 3), "block": nn.Sequential(nn.Linear(3, 3))})
            self.scale = nn.Parameter(torch.ones(1))

    names = layer_names(GraphLike())
    assert names == {"scale": "scale", "layers.fc1.weight": "layers.fc1", "layers.fc1.bias": "layers.fc1",
                     "layers.block.0.weight": "layers.block", "layers.block.0.bias": "layers.block"}


# ----------------------------------------------------------------------------- stopping
def test_early_stopping_stops_when_validation_gets_worse():
    X, y = blobs()
    y_val = (y + 1) % 3  # learning the training labels makes these steadily worse
    r = Trainer(mlp(), (X, y), (X, y_val), cfg(epochs=30, lr=0.05, early_stopping_patience=2)).fit()
    assert r.status == "early_stopped"
    assert r.epochs_completed == 3  # best at epoch 1, then two epochs without improvement
    assert r.message.startswith("Stopped early after epoch 3: val_loss has not improved for 2 epochs")


def test_early_stopping_callback_modes():
    class T:
        should_stop = False
        stop_reason = ""

    es, t = EarlyStopping(patience=2, metric="val_accuracy"), T()
    for i, acc in enumerate([0.5, 0.7, 0.69, 0.7]):
        es.on_epoch_end(t, {"epoch": i, "val_accuracy": acc})
    assert t.should_stop and es.best_epoch == 1
    with pytest.raises(ConfigError, match="needs a validation set"):
        X, y = blobs()
        Trainer(mlp(), (X, y), None, cfg(early_stopping_patience=2))


def run_in_thread(trainer):
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("r", trainer.fit()))
    th.start()
    return th, out


def test_pause_resume_and_stop_from_another_thread_take_effect_within_one_step():
    X, y = blobs(n=400)
    reached, go_on = threading.Event(), threading.Event()

    class Gate(Callback):
        """At step 5, let the test act, then continue; counts every step."""

        count = 0

        def on_step_end(self, trainer, step):
            self.count += 1
            if self.count == 5:
                reached.set()
                go_on.wait(5)

    gate = Gate()
    trainer = Trainer(mlp(), (X, y), None, cfg(epochs=50, batch_size=4), callbacks=[gate])
    th, out = run_in_thread(trainer)
    assert reached.wait(5)
    trainer.pause()
    go_on.set()
    # the step in progress may finish; none after it until resumed
    for _ in range(20):
        threading.Event().wait(0.01)
        assert gate.count == 5 and trainer.is_paused
    trainer.resume()
    deadline = threading.Event()
    while gate.count < 15 and not deadline.wait(0.001):
        pass
    trainer.pause()
    paused_at = gate.count
    threading.Event().wait(0.1)
    assert gate.count <= paused_at + 1
    trainer.stop()  # honoured while paused
    th.join(5)
    assert not th.is_alive()
    r = out["r"]
    assert r.status == "stopped" and gate.count <= paused_at + 1
    assert r.message.startswith("Stopped by the user during epoch")
    assert len(r.history["step"]["loss"]) == gate.count


def test_stop_from_a_callback_step_is_honoured_before_the_next_step():
    X, y = blobs()

    class StopAt3(Callback):
        def on_step_end(self, trainer, step):
            if step["step"] == 2:
                trainer.stop()

    r = Trainer(mlp(), (X, y), (X, y), cfg(), callbacks=[StopAt3()]).fit()
    assert r.status == "stopped" and len(r.history["step"]["loss"]) == 3
    assert r.epochs_completed == 0 and set(r.metrics) == {"loss", "accuracy", "f1", "auc", "confusion"}


# ----------------------------------------------------------------------------- divergence
def test_nan_loss_ends_the_run_and_keeps_the_last_good_weights():
    X, y = blobs(n=64)
    X[37] = np.nan  # poisons whichever batch holds row 37
    rec = Recorder(keep_weights=True)
    r = Trainer(mlp(), (X, y), (X[:10], y[:10]), cfg(batch_size=8, epochs=2), callbacks=[rec]).fit()
    assert r.status == "diverged"
    bad_step = len(rec.steps)  # steps are counted from 0, so this is the failing step's index
    assert bad_step < 8  # within the first epoch
    assert r.message == (f"Loss became NaN at epoch 1, step {bad_step + 1}; the weights from the last good "
                         "step are kept. Try a lower learning rate.")
    last_good = rec.weights[-1]
    assert r.state_dict.keys() == last_good.keys()
    for k in last_good:
        assert torch.equal(r.state_dict[k], last_good[k])
    assert r.epochs_completed == 0
    assert all(math.isfinite(v) for v in r.history["step"]["loss"])


def test_nan_gradient_with_a_finite_loss_is_caught_before_the_step():
    class SqrtAbs(nn.Module):
        def forward(self, x):
            return x.abs().sqrt()  # gradient is infinite at 0

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), SqrtAbs(), nn.Linear(3, 3))
    X = np.ones((16, 3), dtype=np.float32)
    X[5] = 0.0
    with torch.no_grad():
        model[0].bias.zero_()  # a zero row makes the first layer output exactly 0
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rec = Recorder(keep_weights=True)
    # one batch, so the very first step meets the zero row (a step would move the bias off 0)
    r = Trainer(model, (X, X), None, cfg(objective="reconstruction", batch_size=16, epochs=2, optimizer="sgd"),
                callbacks=[rec]).fit()
    assert r.status == "diverged" and rec.steps == []
    assert r.message == ("Gradient became NaN in layer '0' at epoch 1, step 1; the weights from the last good "
                         "step are kept. Try a lower learning rate.")
    for k in before:
        assert torch.equal(r.state_dict[k], before[k])


def test_batchnorm_statistics_are_restored_when_the_loss_diverges():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    X, y = blobs(n=32)
    X[20:] = np.inf
    rec = Recorder(keep_weights=True)
    r = Trainer(model, (X, y), None, cfg(batch_size=32, epochs=3), callbacks=[rec]).fit()
    assert r.status == "diverged" and rec.steps == []
    assert torch.isfinite(r.state_dict["1.running_mean"]).all()
    assert int(r.state_dict["1.num_batches_tracked"]) == 0


# ----------------------------------------------------------------------------- reproducibility
def test_same_seed_same_curve_bit_for_bit_and_other_seed_differs():
    X, y = blobs()

    def curve(seed):
        r = Trainer(mlp(dropout=0.3), (X, y), (X, y), cfg(seed=seed)).fit()
        return r.history["step"]["loss"], r.history["epoch"]["val_loss"]

    a, b, c = curve(7), curve(7), curve(8)
    assert a == b
    assert a[0] != c[0]


# ----------------------------------------------------------------------------- sample weights
def test_sample_weight_makes_the_loss_a_weighted_mean():
    X, y = blobs(n=40)
    w = np.random.default_rng(0).uniform(0.0, 3.0, 40)
    model = mlp()
    with torch.no_grad():
        per_row = F.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y), reduction="none").numpy()
    r = Trainer(model, (X, y), None, cfg(batch_size=40, epochs=1), sample_weight=w).fit()
    expected = float((per_row * w).sum() / w.sum())
    assert r.history["step"]["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert abs(expected - per_row.mean()) > 1e-3  # the weights really changed the loss


def test_integer_weights_train_like_duplicated_rows():
    X, y = blobs(n=20)
    w = np.array([1, 2] * 10)
    Xd, yd = np.repeat(X, w, axis=0), np.repeat(y, w)
    a = Trainer(mlp(), (X, y), None, cfg(batch_size=20, epochs=1, optimizer="sgd"), sample_weight=w).fit()
    b = Trainer(mlp(), (Xd, yd), None, cfg(batch_size=30, epochs=1, optimizer="sgd")).fit()
    for k in a.state_dict:
        torch.testing.assert_close(a.state_dict[k], b.state_dict[k], rtol=1e-5, atol=1e-6)


def test_bad_sample_weight_is_refused():
    X, y = blobs(n=20)
    with pytest.raises(ConfigError, match="one value per training row"):
        Trainer(mlp(), (X, y), None, cfg(), sample_weight=np.ones(3))
    with pytest.raises(ConfigError, match="non-negative"):
        Trainer(mlp(), (X, y), None, cfg(), sample_weight=-np.ones(20))


# ----------------------------------------------------------------------------- objectives
def test_regression_objective_and_metrics():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=200)
    model = mlp(features=3, outputs=1)
    r = Trainer(model, (X, y), (X, y), cfg(objective="regression", epochs=15, lr=0.02,
                                           early_stopping_metric="val_r2")).fit()
    assert r.status == "completed"
    assert r.history["epoch"]["val_r2"][-1] > 0.9
    assert "mae" in r.history["step"]
    pred = predict(model, X).ravel()
    assert r.metrics["r2"] == pytest.approx(skm.r2_score(y, pred), rel=1e-4)
    assert r.metrics["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-4)
    assert r.history["epoch"]["confusion"] == []


def test_reconstruction_objective():
    rng = np.random.default_rng(2)
    X = (rng.normal(size=(200, 2)) @ rng.normal(size=(2, 6))).astype(np.float32)  # rank-2 data
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 2), nn.Linear(2, 6))
    r = Trainer(model, (X, None), (X, None), cfg(objective="reconstruction", epochs=20, lr=0.02)).fit()
    mse = r.history["epoch"]["val_mse"]
    assert mse[-1] < 0.2 * mse[0]
    assert r.metrics["mse"] == pytest.approx(float(((predict(model, X) - X) ** 2).mean()), rel=1e-4)


def test_binary_classifier_with_one_logit():
    X, y = blobs(classes=2)
    r = Trainer(mlp(outputs=1), (X, y), (X, y), cfg(epochs=5, lr=0.05)).fit()
    assert r.metrics["accuracy"] > 0.9 and len(r.metrics["confusion"]) == 2
    proba = predict_proba(mlp(outputs=1), X)
    assert proba.shape == (len(X), 2)


# ----------------------------------------------------------------------------- the streams
def test_history_is_json_ready_and_epoch_dicts_are_complete():
    X, y = blobs()
    seen = []

    class Epochs(Callback):
        def on_epoch_end(self, trainer, epoch):
            seen.append(epoch)

    r = Trainer(mlp(), (X, y), (X[:60], y[:60]), cfg(), callbacks=[Epochs()]).fit()
    text = json.dumps(r.history)  # NaN is allowed; tensors are not
    assert json.loads(text)["epoch"]["train_loss"] == r.history["epoch"]["train_loss"]
    assert [e["epoch"] for e in seen] == [0, 1, 2]
    assert set(seen[0]) == {"epoch", "train_loss", "val_loss", "val_accuracy", "val_f1", "val_auc", "lr",
                            "epoch_time", "samples_per_sec", "grad_norm", "confusion"}
    assert sum(map(sum, seen[-1]["confusion"])) == 60
    assert r.history["step"]["step"] == list(range(3 * 8))
    assert set(r.history["step"]) == {"step", "epoch", "loss", "lr", "accuracy"}
    assert seen[-1]["val_loss"] == r.metrics["loss"]  # no step after the last validation
    assert r.state_dict["0.weight"].device.type == "cpu"


def test_data_problems_are_reported_before_training():
    X, y = blobs()
    with pytest.raises(ConfigError, match="outputs 3 logit"):
        Trainer(mlp(), (X, y + 5), None, cfg())
    with pytest.raises(ConfigError, match="have 240 rows but the targets have 239"):
        Trainer(mlp(), (X, y[:-1]), None, cfg())
    with pytest.raises(ConfigError, match="cannot run on inputs of shape"):
        Trainer(mlp(features=7), (X, y), None, cfg())
    with pytest.raises(RuntimeError, match="runs once"):
        t = Trainer(mlp(), (X, y), None, cfg(epochs=1))
        t.fit()
        t.fit()


def test_adam_betas_reach_the_optimizer_and_are_checked() -> None:
    import torch

    from engines.training import ConfigError, TrainConfig, Trainer

    X = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    for opt in ("adam", "adamw"):
        cfg = TrainConfig(optimizer=opt, beta1=0.8, beta2=0.95, epochs=1)
        trainer = Trainer(torch.nn.Linear(3, 2), train=(X, y), config=cfg)
        trainer.fit()
        assert trainer.optimizer.param_groups[0]["betas"] == (0.8, 0.95)
    with pytest.raises(ConfigError, match="'beta2' must be at least 0 and less than 1, got 1.0"):
        TrainConfig(beta2=1.0)
    assert TrainConfig.from_dict({"optimizer": "adam"}).beta1 == 0.9  # older configs: defaults
