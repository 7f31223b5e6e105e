"""Hand-computed answers at the edges of the training engine (engines.training).

Each test pins down behaviour that a one-line change to ``engines/training.py`` survived in a
mutation run (STYLE.md habit 12): the messages a user reads when a setting, the data or the
model is wrong; early stopping at ties and without a value; the warm-up and one-cycle
schedules; the weighted batch losses and the per-step metrics; stopping from a callback or by
the user at the last and the first step of an epoch; pauses left out of the timings (with a
scripted clock); seeding and shuffling; parameters that get no gradient in a step; where
tensors live and in which dtype; and how big the evaluation batches are.

Every expected number is worked out by hand (the working is in the comments) or computed
independently with plain torch or the standard library in the test; none repeats the engine's
own expression. Headless and fast: tiny models, a few rows, one or two epochs.
"""

from __future__ import annotations

import math
import random
import types

import numpy as np
import pytest
import torch
from torch import nn

import engines.training as training
from engines.training import (
    Callback,
    ConfigError,
    EarlyStopping,
    History,
    TrainConfig,
    Trainer,
    evaluate,
    layer_names,
    predict,
    predict_proba,
    resolve_device,
)


# ----------------------------------------------------------------------------- helpers
def cfg(**kw) -> TrainConfig:
    base = {"device": "cpu", "epochs": 1, "optimizer": "sgd", "lr": 0.01}
    base.update(kw)
    return TrainConfig(**base)


def linear(weight: list[list[float]], bias: list[float]) -> nn.Linear:
    """A Linear layer with the given weights (rows are outputs)."""
    w = torch.tensor(weight, dtype=torch.float32)
    lin = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        lin.weight.copy_(w)
        lin.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return lin


def f32(rows) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32)


class Log(Callback):
    """Keeps the step dicts and the weights after every step."""

    def __init__(self) -> None:
        self.steps: list[dict] = []
        self.weights: list[dict[str, torch.Tensor]] = []

    def on_step_end(self, trainer, step):
        self.steps.append(dict(step))
        self.weights.append({k: v.detach().clone() for k, v in trainer.model.state_dict().items()})


class Holder:
    """Stands in for a Trainer in EarlyStopping's hooks."""

    should_stop = False
    stop_reason = ""


def feed(es: EarlyStopping, values: list[float], key: str | None = None) -> Holder:
    t = Holder()
    for i, v in enumerate(values):
        es.on_epoch_end(t, {"epoch": i, key or es.metric: v})
    return t


# ============================================================================= settings
def test_a_float_setting_given_text_asks_for_a_number():
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({"lr": "0.1"})
    assert str(err.value) == "Setting 'lr' must be a number, not str ('0.1')."


def test_a_one_epoch_warm_up_needs_at_least_two_epochs():
    with pytest.raises(ConfigError) as err:
        TrainConfig(warmup_epochs=1, epochs=1)
    assert str(err.value) == "Setting 'warmup_epochs' (1) must be less than 'epochs' (1)."
    assert TrainConfig(warmup_epochs=1, epochs=2).warmup_epochs == 1


def test_an_unknown_setting_with_no_close_name_lists_every_setting():
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({"zzz": 1})
    assert str(err.value) == (
        "Unknown training setting 'zzz'; known settings are objective, optimizer, lr, momentum, nesterov, "
        "beta1, beta2, weight_decay, schedule, step_size, gamma, warmup_epochs, batch_size, epochs, "
        "grad_clip, early_stopping_patience, early_stopping_metric, seed, device."
    )


def test_history_keeps_each_epochs_confusion_matrix():
    h = History()
    h.on_epoch_end(None, {"epoch": 0, "confusion": [[2, 1], [0, 3]]})
    h.on_epoch_end(None, {"epoch": 1, "confusion": [[3, 0], [0, 3]]})
    assert h.data["epoch"]["confusion"] == [[[2, 1], [0, 3]], [[3, 0], [0, 3]]]
    assert h.data["epoch"]["epoch"] == [0, 1]


# ============================================================================= early stopping
def test_early_stopping_watches_val_loss_by_default():
    es = EarlyStopping(patience=1)
    t = feed(es, [3.0, 2.0, 1.0], key="val_loss")  # improves every epoch: never stops
    assert not t.should_stop and es.best_epoch == 2


def test_early_stopping_message_for_a_loss():
    # best 0.5 at epoch index 0, then 0.7 and 0.6 are no better: stop after the 3rd epoch
    es = EarlyStopping(patience=2, metric="val_loss")
    t = feed(es, [0.5, 0.7, 0.6])
    assert t.should_stop
    assert t.stop_reason == ("Stopped early after epoch 3: val_loss has not improved for 2 epochs "
                             "(best 0.5 at epoch 1).")


def test_early_stopping_message_for_a_score_where_higher_is_better():
    es = EarlyStopping(patience=1, metric="val_accuracy")
    t = feed(es, [0.75, 0.5])
    assert t.stop_reason == ("Stopped early after epoch 2: val_accuracy has not improved for 1 epochs "
                             "(best 0.75 at epoch 1).")


def test_early_stopping_counts_nan_epochs_and_says_no_best_was_seen():
    es = EarlyStopping(patience=2, metric="val_loss")
    t = Holder()
    es.on_epoch_end(t, {"epoch": 0, "val_loss": math.nan})
    assert not t.should_stop and es.wait == 1  # one bad epoch of the two allowed
    es.on_epoch_end(t, {"epoch": 1, "val_loss": math.nan})
    assert t.should_stop
    # nothing was ever finite: best stays +inf and its epoch index -1 (shown as 0)
    assert t.stop_reason == ("Stopped early after epoch 2: val_loss has not improved for 2 epochs "
                             "(best inf at epoch 0).")


def test_early_stopping_treats_a_missing_metric_as_no_improvement():
    es = EarlyStopping(patience=1, metric="val_loss")
    t = Holder()
    es.on_epoch_end(t, {"epoch": 0, "train_loss": 1.0})
    assert t.should_stop


def test_an_improvement_of_exactly_min_delta_does_not_count():
    # best 1.0; with min_delta 0.1 a new value must be below 1.0 - 0.1 = 0.9
    t = feed(EarlyStopping(patience=1, metric="val_loss", min_delta=0.1), [1.0, 0.9])
    assert t.should_stop  # 0.9 is a tie with the bar, not an improvement
    t = feed(EarlyStopping(patience=1, metric="val_loss", min_delta=0.1), [1.0, 0.85])
    assert not t.should_stop


# ============================================================================= devices
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device() == torch.device("cuda")
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device() == torch.device("mps")
    assert resolve_device("mps") == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device() == torch.device("cpu")
    with pytest.raises(ConfigError, match="Apple's MPS is not available here"):
        resolve_device("mps")


# ============================================================================= layer names
def test_a_sequential_child_is_one_layer():
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), nn.Linear(2, 1))
    assert layer_names(model) == {"0.0.weight": "0", "0.0.bias": "0", "1.weight": "1", "1.bias": "1"}


def test_a_parameter_held_by_a_module_list_itself_belongs_to_that_list():
    class Scaled(nn.ModuleList):
        def __init__(self) -> None:
            super().__init__([nn.Linear(2, 2)])
            self.scale = nn.Parameter(torch.ones(1))

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = Scaled()

    assert layer_names(Net()) == {"blocks.scale": "blocks", "blocks.0.weight": "blocks.0",
                                  "blocks.0.bias": "blocks.0"}


# ============================================================================= tensors
def test_a_read_only_array_is_copied_not_shared():
    base = np.arange(4, dtype=np.float32).reshape(2, 2)
    view = base.view()
    view.flags.writeable = False
    t = training._to_tensor(view, torch.float32, torch.device("cpu"))
    base[0, 0] = 99.0  # the caller may still write through the writeable base
    assert t.tolist() == [[0.0, 1.0], [2.0, 3.0]]


def test_a_reversed_array_is_made_contiguous_first():
    x = np.arange(3, dtype=np.float32)[::-1]  # negative stride: torch.from_numpy refuses it
    t = training._to_tensor(x, torch.float32, torch.device("cpu"))
    assert t.tolist() == [2.0, 1.0, 0.0]


def test_arrays_and_tensors_are_cast_and_moved_to_the_requested_device():
    meta = torch.device("meta")
    for a in (np.arange(3), torch.arange(3)):  # int64 in both cases
        t = training._to_tensor(a, torch.float32, meta)
        assert t.device.type == "meta" and t.dtype == torch.float32


def test_predict_on_a_model_without_parameters_and_on_no_rows():
    x = f32([[1.0, 2.0], [3.0, 4.0]])
    assert predict(nn.Flatten(), x).tolist() == [[1.0, 2.0], [3.0, 4.0]]  # runs on the CPU
    assert predict(linear([[1.0, 1.0]], [0.0]), np.zeros((0, 2), np.float32)).size == 0


class DeviceSpy(nn.Module):
    """Weights on the meta device; records where and in which dtype its inputs arrive."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.empty(1, device="meta"))
        self.seen: list[tuple[str, torch.dtype]] = []

    def forward(self, x):
        self.seen.append((x.device.type, x.dtype))
        return torch.zeros(x.shape[0], 2)


def test_predict_sends_float32_inputs_to_the_models_device():
    x64 = np.ones((3, 2), dtype=np.float64)
    spy = DeviceSpy()
    assert predict(spy, x64).shape == (3, 2)
    assert predict_proba(spy, x64).tolist() == [[0.5, 0.5]] * 3  # softmax of equal logits
    assert spy.seen == [("meta", torch.float32)] * 2


class BatchSizes(nn.Module):
    """A one-feature regression / one-logit model recording the batch sizes of eval passes."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = linear([[0.0]], [0.0])
        self.sizes: list[int] = []

    def forward(self, x):
        if not self.training:
            self.sizes.append(len(x))
        return self.lin(x)


def test_evaluation_runs_in_batches_of_1024_rows():
    x, y = np.zeros((1025, 1), np.float32), np.zeros(1025, np.float32)  # 1025 = 1024 + 1
    m = BatchSizes()
    predict(m, x)
    predict_proba(m, x)
    evaluate(m, x, y, "regression")
    assert m.sizes == [1024, 1] * 3

    # in training: the 2-row probe, then each validation, and the final metrics after a stop
    class StopAtOnce(Callback):
        def on_step_end(self, trainer, step):
            trainer.stop()

    m = BatchSizes()
    Trainer(m, (x[:4], y[:4]), (x, y), cfg(objective="regression", batch_size=2)).fit()
    assert m.sizes == [2, 1024, 1]  # one epoch: validation reused as the final metrics
    m = BatchSizes()
    r = Trainer(m, (x[:4], y[:4]), (x, y), cfg(objective="regression", batch_size=2),
                callbacks=[StopAtOnce()]).fit()
    assert r.status == "stopped" and m.sizes == [2, 1024, 1]  # no validation: final metrics


# ============================================================================= evaluate
def test_evaluate_a_reconstruction_without_targets_compares_with_the_inputs():
    model = linear([[2.0, 0.0], [0.0, 2.0]], [0.0, 0.0])  # reconstructs 2x
    x = [[1.0, -1.0], [0.5, 2.0]]  # float64 lists: evaluate casts them to float32
    m = evaluate(model, x, None, "reconstruction")
    # errors are x itself: (1 + 1 + 0.25 + 4) / 4 = 1.5625
    assert m == {"loss": pytest.approx(1.5625), "mse": pytest.approx(1.5625)}
    with pytest.raises(ConfigError, match="Targets y are required to evaluate a regression model"):
        evaluate(model, x, None, "regression")


def test_evaluate_keeps_fractional_regression_targets():
    model = linear([[0.0]], [0.0])  # predicts 0
    m = evaluate(model, [[1.0], [2.0]], [0.5, 1.5], "regression")
    # loss (0.25 + 2.25) / 2 = 1.25; mae (0.5 + 1.5) / 2 = 1.0 (as whole numbers: 0.5 and 0.5)
    assert m["loss"] == pytest.approx(1.25) and m["mae"] == pytest.approx(1.0)


# ============================================================================= trainer set-up
def test_a_trainer_without_a_config_uses_the_defaults():
    t = Trainer(linear([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]), (f32([[0, 1], [1, 0]]), [1, 0]))
    assert t.config == TrainConfig()


def test_a_fresh_trainer_has_made_no_progress():
    t = Trainer(linear([[1.0]], [0.0]), (f32([[1.0]]), [1.0]), None, cfg(objective="regression"))
    assert (t.epoch, t.global_step, t.should_stop, t.stop_reason) == (0, 0, False, "")
    assert t.optimizer is None and t.scheduler is None and not t.is_paused


def test_model_data_and_weights_live_on_the_resolved_device_in_float32(monkeypatch):
    monkeypatch.setattr(training, "resolve_device", lambda name="auto": torch.device("meta"))
    x64 = np.arange(8, dtype=np.float64).reshape(4, 2)
    y64 = np.arange(4, dtype=np.float64)
    t = Trainer(nn.Linear(2, 1), (torch.from_numpy(x64), y64), (x64, y64), cfg(objective="regression"),
                sample_weight=[1.0, 2.0, 1.0, 1.0])
    assert t.device == torch.device("meta")
    held = {"weight": next(t.model.parameters()), "X": t.X, "Y": t.Y, "val X": t.val[0], "val Y": t.val[1],
            "sample weight": t.weight}
    assert {k: (v.device.type, v.dtype) for k, v in held.items()} == dict.fromkeys(held, ("meta", torch.float32))
    t = Trainer(nn.Linear(2, 2), (x64, x64 * 2), None, cfg(objective="reconstruction"))
    assert (t.Y.device.type, t.Y.dtype) == ("meta", torch.float32)


def test_data_messages_name_the_training_or_the_validation_set():
    x, y = f32([[1.0], [2.0], [3.0]]), np.array([1.0, 2.0, 3.0])
    model = linear([[1.0]], [0.0])
    with pytest.raises(ConfigError) as err:
        Trainer(model, 5, None, cfg(objective="regression"))
    assert str(err.value) == "The training data must be a pair (X, y)."
    with pytest.raises(ConfigError) as err:
        Trainer(model, (x, y), (x, y[:2]), cfg(objective="regression"))
    assert str(err.value) == "The validation inputs have 3 rows but the targets have 2."


def test_an_empty_training_set_is_refused_and_one_row_is_enough():
    with pytest.raises(ConfigError, match="^The training set is empty.$"):
        Trainer(linear([[1.0]], [0.0]), (np.zeros((0, 1), np.float32), np.zeros(0)), None, cfg(objective="regression"))
    # one row: the probe sees one output row (so nothing may read a second one)
    r = Trainer(linear([[1.0]], [0.0]), (f32([[2.0]]), [1.0]), None, cfg(objective="regression")).fit()
    assert r.status == "completed" and r.history["step"]["loss"] == [1.0]  # (2 - 1)^2


def test_one_row_with_the_wrong_number_of_outputs_gets_the_message():
    with pytest.raises(ConfigError) as err:
        Trainer(linear([[1.0], [1.0]], [0.0, 0.0]), (f32([[2.0]]), [1.0]), None, cfg(objective="regression"))
    assert str(err.value) == "The model outputs 2 value(s) per row but the targets have 1."


def test_early_stopping_on_train_loss_without_validation():
    with pytest.raises(ConfigError) as err:
        Trainer(linear([[1.0]], [0.0]), (f32([[1.0]]), [1.0]), None,
                cfg(objective="regression", early_stopping_patience=1))
    assert str(err.value) == ("Early stopping on 'val_loss' needs a validation set; "
                              "provide one or watch 'train_loss'.")
    # full-batch gradient descent on f(x) = w x with a small step: the loss falls every epoch,
    # so watching train_loss never stops (watching the absent val_loss would stop at once)
    r = Trainer(linear([[0.0]], [0.0]), (f32([[1.0], [2.0]]), [1.0, 2.0]), None,
                cfg(objective="regression", epochs=3, batch_size=2, lr=0.05,
                    early_stopping_patience=1, early_stopping_metric="train_loss")).fit()
    assert r.status == "completed" and r.epochs_completed == 3


# ============================================================================= targets
def test_whole_float_class_targets_are_accepted_as_indices():
    t = Trainer(linear([[1.0], [-1.0]], [0.0, 0.0]), (f32([[1], [2], [3], [4]]), np.array([0.0, 1.0, 1.0, 0.0])),
                None, cfg())
    assert t.Y.dtype == torch.int64 and t.Y.tolist() == [0, 1, 1, 0]


@pytest.mark.parametrize("y", [np.array([0.0, 0.5, 1.0]), np.array([0.0, np.inf, 1.0]), np.array(["a", "b", "a"])])
def test_class_targets_that_are_not_whole_numbers_are_refused(y):
    with pytest.raises(ConfigError, match="Classification targets must be whole class indices"):
        Trainer(linear([[1.0], [-1.0]], [0.0, 0.0]), (f32([[1], [2], [3]]), y), None, cfg())


@pytest.mark.parametrize("y", [np.array([0.0, np.inf, 1.0]), np.array(["a", "b", "a"])])
def test_regression_targets_must_be_finite_numbers(y):
    with pytest.raises(ConfigError) as err:
        Trainer(linear([[1.0]], [0.0]), (f32([[1], [2], [3]]), y), None, cfg(objective="regression"))
    assert str(err.value) == "Regression targets must be finite numbers (training set)."


def test_targets_may_be_a_tensor_that_requires_grad():
    y = torch.tensor([1.0, 2.0], requires_grad=True)
    t = Trainer(linear([[1.0]], [0.0]), (f32([[1.0], [2.0]]), y), None, cfg(objective="regression"))
    assert t.Y.tolist() == [1.0, 2.0] and not t.Y.requires_grad


def test_float64_inputs_are_trained_as_float32():
    x = np.array([[1.0], [2.0]])  # float64
    r = Trainer(linear([[1.0]], [0.0]), (x, [1.0, 1.0]), None, cfg(objective="regression", batch_size=2)).fit()
    assert r.history["step"]["loss"] == [0.5]  # ((1-1)^2 + (2-1)^2) / 2


def test_reconstruction_targets_replace_the_inputs_when_given():
    # a denoising set-up: the identity model is compared with the clean targets (zeros), not X
    x = f32([[1.0, -1.0], [2.0, 0.0]])
    r = Trainer(linear([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]), (x, np.zeros((2, 2))), None,
                cfg(objective="reconstruction", batch_size=2)).fit()
    assert r.history["step"]["loss"] == [pytest.approx(1.5)]  # (1 + 1 + 4 + 0) / 4


# ============================================================================= sample weights
@pytest.mark.parametrize(
    "w",
    [[1.0, None, 1.0, 1.0], [1.0, math.nan, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0], [-1.0, 3.0, 1.0, 1.0]],
    ids=["missing", "nan", "all-zero", "one-negative"],
)
def test_bad_sample_weights_are_refused(w):
    with pytest.raises(ConfigError) as err:
        Trainer(linear([[1.0]], [0.0]), (f32([[1], [2], [3], [4]]), [1.0, 2.0, 3.0, 4.0]), None,
                cfg(objective="regression"), sample_weight=w)
    assert str(err.value) == "sample_weight must be finite, non-negative and not all zero."


@pytest.mark.parametrize("w", [[0.0, 1.0, 1.0, 1.0], [0.25, 0.25, 0.25, 0.25]], ids=["one-zero", "sum-exactly-1"])
def test_some_zero_weights_and_a_total_of_one_are_fine(w):
    t = Trainer(linear([[1.0]], [0.0]), (f32([[1], [2], [3], [4]]), [1.0, 2.0, 3.0, 4.0]), None,
                cfg(objective="regression"), sample_weight=w)
    assert t.weight.tolist() == w


# ============================================================================= model checks
class Sizes(nn.Module):
    """Records the batch size of every forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = linear([[1.0]], [0.0])
        self.sizes: list[int] = []

    def forward(self, x):
        self.sizes.append(len(x))
        return self.lin(x)


def test_the_probe_runs_two_rows():
    m = Sizes()
    Trainer(m, (f32([[1], [2], [3], [4], [5]]), [1.0, 2, 3, 4, 5]), None, cfg(objective="regression"))
    assert m.sizes == [2]


def test_a_model_that_cannot_run_reports_the_input_shape_and_torchs_reason():
    with pytest.raises(ConfigError) as err:
        Trainer(nn.Linear(7, 2), (f32([[1, 2, 3, 4]] * 3), [0, 1, 0]), None, cfg())
    assert str(err.value).startswith("The model cannot run on inputs of shape (4,): mat1 and mat2 shapes "
                                     "cannot be multiplied")


@pytest.mark.parametrize(
    "outputs, top, ok",
    [(1, 1, True), (1, 2, False), (2, 1, True), (2, 2, False), (3, 2, True), (3, 3, False)],
)
def test_targets_must_fit_the_number_of_logits(outputs, top, ok):
    # one logit: classes 0 and 1 (sigmoid); n > 1 logits: classes 0 .. n-1
    x, y = f32([[1.0], [2.0]]), np.array([0, top])
    model = nn.Linear(1, outputs)
    if ok:
        assert Trainer(model, (x, y), None, cfg()).n_outputs == outputs
    else:
        with pytest.raises(ConfigError) as err:
            Trainer(model, (x, y), None, cfg())
        assert str(err.value) == f"The model outputs {outputs} logit(s) but the targets contain class {top}."


def test_a_reconstruction_model_must_output_the_input_shape():
    x = np.zeros((3, 6), np.float32)
    with pytest.raises(ConfigError) as err:
        Trainer(nn.Linear(6, 5), (x, None), None, cfg(objective="reconstruction"))
    assert str(err.value) == "A reconstruction model must output the input shape (6,), got (5,)."


def test_a_regression_model_must_output_one_value_per_target():
    with pytest.raises(ConfigError) as err:
        Trainer(nn.Linear(2, 2), (np.zeros((3, 2), np.float32), np.zeros(3)), None, cfg(objective="regression"))
    assert str(err.value) == "The model outputs 2 value(s) per row but the targets have 1."


# ============================================================================= schedules
def lrs_of(**kw) -> list[float]:
    """Step LRs of a run with one step per epoch (batch = all 4 rows), lr 0.1."""
    x, y = f32([[1.0], [2.0], [3.0], [4.0]]), np.zeros(4)
    settings = {"objective": "regression", "lr": 0.1, "batch_size": 4}
    settings.update(kw)
    return Trainer(linear([[0.0]], [0.0]), (x, y), None, cfg(**settings)).fit().history["step"]["lr"]


def test_onecycle_without_warm_up_rises_over_30_percent_of_the_steps():
    lrs = lrs_of(schedule="onecycle", epochs=10)
    # OneCycleLR (cos): start 0.1/25 = 0.004, peak 0.1 at step 0.3*10 - 1 = 2, end 0.004/1e4.
    # step 1 is half way up: 0.004 + (0.1 - 0.004) / 2 = 0.052.
    # step 3 is 1/7 of the way down from step 2 to step 9: 4e-7 + (0.1 - 4e-7)(1 + cos(pi/7))/2
    down = 4e-7 + (0.1 - 4e-7) * (1 + math.cos(math.pi / 7)) / 2
    assert lrs[:4] == pytest.approx([0.004, 0.052, 0.1, down], rel=1e-9)


def test_a_two_step_warm_up_ramps_by_halves():
    # warm = 2 steps: factor (k + 1) / 2 -> 0.05, 0.1; then the constant LR
    assert lrs_of(epochs=3, warmup_epochs=2) == pytest.approx([0.05, 0.1, 0.1], rel=1e-12)


def test_a_one_step_warm_up_runs_before_the_schedule_starts():
    # warm = 1 step at the full LR (factor 1/1), then the schedule from its start over the
    # 3 remaining steps. Cosine, T_max = 3: 0.1 (1 + cos(k pi / 3)) / 2 = 0.1, 0.075, 0.025.
    assert lrs_of(epochs=4, warmup_epochs=1, schedule="cosine") == pytest.approx(
        [0.1, 0.1, 0.075, 0.025], rel=1e-9)
    # step, halving every epoch once the warm-up is over: 0.1, then 0.1, 0.05, 0.025
    assert lrs_of(epochs=4, warmup_epochs=1, schedule="step", step_size=1, gamma=0.5) == pytest.approx(
        [0.1, 0.1, 0.05, 0.025], rel=1e-12)


# ============================================================================= objectives
def one_step(model: nn.Module, x, y, **kw) -> tuple[dict, Log]:
    """Train one full-batch step; returns the step dict (outputs are the pre-step ones)."""
    log = Log()
    sw = kw.pop("sample_weight", None)
    Trainer(model, (f32(x), y), None, cfg(batch_size=len(x), lr=1e-6, **kw), callbacks=[log],
            sample_weight=sw).fit()
    return log.steps[0], log


def softplus(z: float) -> float:
    return math.log1p(math.exp(z))


def test_one_logit_accuracy_cuts_at_logit_zero_and_weighted_bce():
    # logits = x: -1, 0, 0.5, 2; predicted class 1 only where the logit is > 0 (0 is class 0)
    x, y = [[-1.0], [0.0], [0.5], [2.0]], np.array([0, 0, 1, 1])
    step, _ = one_step(linear([[1.0]], [0.0]), x, y)
    assert step["accuracy"] == 1.0  # 4 of 4
    # BCE with logits per row: softplus(z) - t z; weights 0.1, 0.2, 0, 0.2 (sum 0.5 < 1)
    w = [0.1, 0.2, 0.0, 0.2]
    per = [softplus(-1.0), softplus(0.0), softplus(0.5) - 0.5, softplus(2.0) - 2.0]
    expected = sum(a * b for a, b in zip(w, per)) / 0.5  # = 0.195342 / 0.5 = 0.390685
    step, _ = one_step(linear([[1.0]], [0.0]), x, y, sample_weight=w)
    assert step["loss"] == pytest.approx(expected, rel=1e-6)


def test_multiclass_accuracy_and_weighted_cross_entropy():
    # logits = W x with W rows (1, 0), (0, 1), (-1, -1):
    #   (2, 0) -> (2, 0, -2) class 0;  (0, 2) -> (0, 2, -2) class 1;
    #   (-1, -1) -> (-1, -1, 2) class 2;  (1, 0) -> (1, 0, -1) class 0 (target 1: wrong)
    W = [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]
    x, y = [[2.0, 0.0], [0.0, 2.0], [-1.0, -1.0], [1.0, 0.0]], np.array([0, 1, 2, 1])
    step, _ = one_step(linear(W, [0.0, 0.0, 0.0]), x, y)
    assert step["accuracy"] == 0.75  # 3 of 4
    # cross-entropy = log(sum exp(logits)) - logit of the target
    ce = [math.log(math.exp(2) + 1 + math.exp(-2)) - 2, math.log(1 + math.exp(2) + math.exp(-2)) - 2,
          math.log(2 * math.exp(-1) + math.exp(2)) - 2, math.log(math.e + 1 + math.exp(-1)) - 0]
    w = [0.1, 0.3, 0.1, 0.0]  # sum 0.5
    step, _ = one_step(linear(W, [0.0, 0.0, 0.0]), x, y, sample_weight=w)
    assert step["loss"] == pytest.approx(sum(a * b for a, b in zip(w, ce)) / 0.5, rel=1e-6)


def test_regression_weighted_loss_is_a_mean_over_outputs_then_rows_and_step_mae():
    # outputs are always (1, -1); targets (1, 1), (3, -1), (1, -1)
    # per-row mean squared error: (0 + 4)/2 = 2, (4 + 0)/2 = 2, 0
    model = linear([[0.0], [0.0]], [1.0, -1.0])
    x, y = [[1.0], [2.0], [3.0]], np.array([[1.0, 1.0], [3.0, -1.0], [1.0, -1.0]])
    step, _ = one_step(model, x, y, objective="regression", sample_weight=[0.1, 0.3, 0.1])
    assert step["loss"] == pytest.approx((0.1 * 2 + 0.3 * 2 + 0.1 * 0) / 0.5, rel=1e-6)  # 1.6
    # |errors|: 0, 2, 2, 0, 0, 0 -> mae 4 / 6
    assert step["mae"] == pytest.approx(4 / 6, rel=1e-6)


def test_a_reconstruction_step_reports_no_batch_metric():
    step, _ = one_step(linear([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]), [[1.0, 2.0], [3.0, 4.0]], None,
                       objective="reconstruction")
    assert set(step) == {"step", "epoch", "loss", "lr"}


# ============================================================================= the loop
def test_loss_terms_get_outputs_targets_and_row_indices_and_add_to_the_loss():
    x, y = f32([[1.0], [2.0], [3.0]]), np.array([1.0, 0.0, 2.0])
    model = linear([[1.0]], [0.0])
    seen = []

    def term(out, t, idx):
        seen.append((out.detach().clone(), t.clone(), idx.clone()))
        return 0.5 + 0.0 * out.sum()

    log = Log()
    Trainer(model, (x, y), None, cfg(objective="regression", batch_size=3), callbacks=[log],
            loss_terms=[term]).fit()
    out, t, idx = seen[0]
    assert sorted(idx.tolist()) == [0, 1, 2]
    assert t.tolist() == y[idx.numpy()].tolist()
    assert out.squeeze(1).tolist() == x[idx.numpy(), 0].tolist()  # the identity model's outputs
    # mse of outputs (1, 2, 3) against (1, 0, 2): (0 + 4 + 1) / 3 = 5/3; plus the term's 0.5
    assert log.steps[0]["loss"] == pytest.approx(5 / 3 + 0.5, rel=1e-6)
    with pytest.raises(ConfigError, match="must be callable"):
        Trainer(model, (x, y), None, cfg(objective="regression"), loss_terms=[0.5])


def test_train_loss_weights_the_short_last_batch_by_its_rows():
    log = Log()
    r = Trainer(linear([[1.0]], [0.0]), (f32([[1.0], [2.0], [3.0]]), [0.0, 1.0, 5.0]), None,
                cfg(objective="regression", batch_size=2), callbacks=[log]).fit()
    l0, l1 = (s["loss"] for s in log.steps)  # a batch of 2 rows, then one of 1 row
    assert r.history["epoch"]["train_loss"] == [pytest.approx((2 * l0 + 1 * l1) / 3, rel=1e-12)]
    assert r.history["epoch"]["lr"] == [0.01]


class StopAt(Callback):
    """Raises should_stop (optionally with a reason) after global step ``at``."""

    def __init__(self, at: int, reason: str = "") -> None:
        self.at, self.reason = at, reason

    def on_step_end(self, trainer, step):
        if step["step"] == self.at:
            trainer.should_stop = True
            if self.reason:
                trainer.stop_reason = self.reason


def four_rows(**kw) -> Trainer:
    """Regression on 4 rows in batches of 2: two steps per epoch."""
    callbacks = kw.pop("callbacks", [])
    settings = {"objective": "regression", "batch_size": 2, "epochs": 3}
    settings.update(kw)
    return Trainer(linear([[1.0, 0.0]], [0.0]), (f32([[1, 2], [3, 4], [5, 6], [7, 8]]), [1.0, 2, 3, 4]), None,
                   cfg(**settings), callbacks=callbacks)


def test_a_callback_stop_at_the_first_step_ends_the_epoch_there():
    r = four_rows(callbacks=[StopAt(0)]).fit()
    assert (r.status, r.message, r.epochs_completed) == ("early_stopped", "Stopped by a callback during epoch 1.", 0)
    assert r.history["step"]["step"] == [0]
    r = four_rows(callbacks=[StopAt(0, "halt")]).fit()
    assert (r.status, r.message) == ("early_stopped", "halt")


def test_a_callback_stop_at_the_last_step_lets_the_epoch_finish():
    r = four_rows(callbacks=[StopAt(1)]).fit()  # step 1 is the last of epoch 1's two steps
    assert (r.status, r.message, r.epochs_completed) == ("early_stopped", "Stopped by a callback after epoch 1.", 1)


def test_a_user_stop_names_the_epoch_and_the_steps_taken():
    class UserStop(Callback):
        def on_step_end(self, trainer, step):
            if step["step"] == 2:  # first step of the second epoch
                trainer.stop()

    t = four_rows(callbacks=[UserStop()])
    r = t.fit()
    assert (r.status, r.message) == ("stopped", "Stopped by the user during epoch 2, after step 3.")
    assert t.global_step == 3 and r.epochs_completed == 1


def test_completed_message_says_epoch_or_epochs():
    assert four_rows(epochs=1).fit().message == "Completed 1 epoch."
    assert four_rows(epochs=2).fit().message == "Completed 2 epochs."


def test_callbacks_see_the_trainer_its_epoch_and_the_result():
    seen = {}

    class Watch(Callback):
        def on_train_start(self, trainer):
            seen["start"] = (trainer, trainer.epoch)

        def on_step_end(self, trainer, step):
            seen.setdefault("epochs", []).append(trainer.epoch)

        def on_train_end(self, trainer, result):
            seen["end"] = (trainer, result)

    t = four_rows(epochs=2, callbacks=[Watch()])
    r = t.fit()
    assert seen["start"] == (t, 0)
    assert seen["epochs"] == [0, 0, 1, 1]
    assert seen["end"][0] is t and seen["end"][1] is r


def test_the_result_weights_are_a_copy():
    t = four_rows(epochs=1)
    r = t.fit()
    before = r.state_dict["weight"].clone()
    with torch.no_grad():
        t.model.weight.add_(1.0)
    assert torch.equal(r.state_dict["weight"], before)


def test_every_random_source_is_seeded_and_shuffling_has_its_own_generator():
    seed = 2**32 + 5  # numpy takes seeds below 2**32: it gets seed % 2**32 = 5
    draws = {}

    class Draw(Callback):
        def on_train_start(self, trainer):
            draws["np"], draws["py"], draws["torch"] = np.random.random(), random.random(), torch.rand(1).item()

    idx_seen = []

    def record(out, t, idx):
        idx_seen.append(idx.tolist())
        return 0.0 * out.sum()

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), nn.Linear(8, 1))  # dropout draws from torch's RNG
    x = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    Trainer(model, (x, np.zeros(8)), None, cfg(objective="regression", batch_size=8, epochs=2, seed=seed),
            callbacks=[Draw()], loss_terms=[record]).fit()
    assert draws["np"] == np.random.RandomState(5).random_sample()
    assert draws["py"] == random.Random(seed).random()
    assert draws["torch"] == torch.rand(1, generator=torch.Generator().manual_seed(seed)).item()
    g = torch.Generator().manual_seed(seed)
    assert idx_seen == [torch.randperm(8, generator=g).tolist(), torch.randperm(8, generator=g).tolist()]


# ============================================================================= timing
def test_epoch_time_and_throughput_leave_pauses_out(monkeypatch):
    # Scripted clock: each epoch reads t0, [pause start, pause end], end of training, end of
    # epoch. The run pauses after global steps 0 and 2 (mid-epoch 1 and 2) and the clock
    # resumes it when read, so no thread is needed. 4 rows per epoch.
    #   epoch 1: 0, [1, 2], 3, 4    pause 1:  train 3-0-1 = 2 s -> 4/2 = 2 rows/s; epoch 4-0-1 = 3 s
    #   epoch 2: 10, [11, 13], 13, 14  pause 2: train 13-10-2 = 1 s -> 4 rows/s; epoch 14-10-2 = 2 s
    #   epoch 3: 20, 20, 21         no pause: train 0 s -> rate undefined (NaN); epoch 1 s
    readings = iter([0.0, 1.0, 2.0, 3.0, 4.0, 10.0, 11.0, 13.0, 13.0, 14.0, 20.0, 20.0, 21.0])
    box: dict[str, Trainer] = {}

    def clock() -> float:
        box["t"].resume()
        return next(readings)

    class PauseAt(Callback):
        def on_step_end(self, trainer, step):
            if step["step"] in (0, 2):
                trainer.pause()

    monkeypatch.setattr(training, "time", types.SimpleNamespace(perf_counter=clock))
    box["t"] = four_rows(callbacks=[PauseAt()])
    r = box["t"].fit()
    assert r.status == "completed"
    assert r.history["epoch"]["epoch_time"] == [3.0, 2.0, 1.0]
    rates = r.history["epoch"]["samples_per_sec"]
    assert rates[:2] == [2.0, 4.0] and math.isnan(rates[2])
    assert next(readings, None) is None  # every reading was used


# ============================================================================= gradients
class PartlyUsed(nn.Module):
    """f(x) = w x + b, plus ``extra`` only in batches of two rows."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = linear([[0.5]], [0.0])
        self.extra = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        out = self.lin(x)
        return out + self.extra if len(x) == 2 else out


def test_a_parameter_without_gradient_in_a_step_is_left_alone_and_counts_zero():
    x, y = f32([[1.0], [2.0], [3.0]]), np.array([1.0, 0.0, 2.0])
    log = Log()
    r = Trainer(PartlyUsed(), (x, y), None, cfg(objective="regression", batch_size=2, lr=0.1, momentum=0.9),
                callbacks=[log]).fit()
    # the same two steps in plain torch: SGD with momentum 0.9 (buffer = gradient at first)
    perm = torch.randperm(3, generator=torch.Generator().manual_seed(0))
    w, b, e = torch.tensor(0.5), torch.tensor(0.0), torch.tensor(0.0)
    xt, yt = torch.from_numpy(x[:, 0]), torch.from_numpy(y).float()
    lin_norms, buf = [], {}
    (w, b, e), grads = _sgd_step([w, b, e], xt[perm[:2]], yt[perm[:2]], True, buf)
    lin_norms.append(math.hypot(grads[0], grads[1]))
    extra_norm = abs(grads[2])
    (w, b, e), grads = _sgd_step([w, b, e], xt[perm[2:]], yt[perm[2:]], False, buf)
    lin_norms.append(math.hypot(grads[0], grads[1]))
    # extra took no part in step 2: no gradient, so momentum must not move it
    assert torch.equal(log.weights[1]["extra"], log.weights[0]["extra"])
    assert float(log.weights[0]["extra"]) == pytest.approx(float(e), rel=1e-6) and float(e) != 0.0
    assert float(r.state_dict["lin.weight"]) == pytest.approx(float(w), rel=1e-6)
    assert float(r.state_dict["lin.bias"]) == pytest.approx(float(b), rel=1e-6, abs=1e-7)
    # grad_norm is the mean over the epoch's two steps; extra counts 0 in the second
    norms = r.history["epoch"]["grad_norm"]
    assert norms["lin"] == [pytest.approx(sum(lin_norms) / 2, rel=1e-5)]
    assert norms["extra"] == [pytest.approx(extra_norm / 2, rel=1e-5)]


def _sgd_step(params, xb, yb, with_extra, buf, lr=0.1, momentum=0.9):
    """One hand-written SGD-with-momentum step on mean((w x + b [+ e] - y)^2)."""
    leaves = [p.clone().requires_grad_(True) for p in params]
    w, b, e = leaves
    out = w * xb + b + (e if with_extra else 0.0)
    ((out - yb) ** 2).mean().backward()
    grads, new = [], []
    for i, p in enumerate(leaves):
        if p.grad is None:  # torch's SGD skips a parameter without gradient
            grads.append(0.0)
            new.append(p.detach())
            continue
        g = p.grad.detach()
        buf[i] = g.clone() if i not in buf else momentum * buf[i] + g
        grads.append(float(g))
        new.append(p.detach() - lr * buf[i])
    return new, grads


# ============================================================================= divergence
def test_an_infinite_loss_is_called_infinite():
    r = Trainer(linear([[1.0]], [0.0]), (f32([[np.inf]]), [0.0]), None, cfg(objective="regression")).fit()
    assert (r.status, r.message) == ("diverged", "Loss became infinite at epoch 1, step 1; the weights from the "
                                                 "last good step are kept. Try a lower learning rate.")


def test_a_total_gradient_norm_overflow_names_no_layer():
    # Two one-number layers with gradient 1.5e19 each: each squared norm (2.25e38) fits in
    # float32 (max 3.4e38), their sum 4.5e38 does not, so the clipped total norm is inf
    # while no single layer is.
    class TwoScalars(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Parameter(torch.zeros(1))
            self.b = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return x * (self.a + self.b)

    model = TwoScalars()
    r = Trainer(model, (f32([[1.0]]), [0.0]), None, cfg(objective="regression", grad_clip=1.0),
                loss_terms=[lambda out, t, idx: 1.5e19 * (model.a + model.b).sum()]).fit()
    assert (r.status, r.message) == ("diverged", "Gradient became infinite at epoch 1, step 1; the weights from "
                                                 "the last good step are kept. Try a lower learning rate.")

