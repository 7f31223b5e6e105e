"""Train any ``torch.nn.Module`` on numpy arrays, reporting progress through callbacks.

``Trainer.fit()`` runs synchronously in the calling thread; the application calls it from a
worker thread and pauses, resumes or stops it from the GUI thread. Everything the trainer
reports goes through :class:`Callback` hooks: a step dict after every optimizer step and an
epoch dict after every epoch (see :class:`Trainer` for their keys).

The hot loop is kept close to a hand-written PyTorch loop (``bench/train_overhead.py``
measures the difference): data lives on the device as tensors and batches are taken by
index, per-layer gradient norms are one ``torch._foreach_norm`` per step written into a
preallocated buffer, and the epoch metrics are computed once per epoch on the whole
validation set.

Indices in the step and epoch dicts (``step``, ``epoch``) count from 0; the sentences in
``TrainResult.message`` count from 1, as a person would.
"""

from __future__ import annotations

import difflib
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engines.metrics import classification_metrics, reconstruction_metrics, regression_metrics

__all__ = [
    "Callback",
    "ConfigError",
    "EarlyStopping",
    "History",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "evaluate",
    "layer_names",
    "predict",
    "predict_proba",
    "resolve_device",
]

OBJECTIVES = ("classification", "regression", "reconstruction")
OPTIMIZERS = ("sgd", "adagrad", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")

# Metrics an epoch reports per objective; early stopping may watch any of them.
EPOCH_METRICS = {
    "classification": ("val_loss", "train_loss", "val_accuracy", "val_f1", "val_auc"),
    "regression": ("val_loss", "train_loss", "val_mae", "val_r2"),
    "reconstruction": ("val_loss", "train_loss", "val_mse"),
}
_HIGHER_IS_BETTER = {"val_accuracy", "val_f1", "val_auc", "val_r2"}


class ConfigError(ValueError):
    """The training setup (settings, data or model) cannot be used; the message says why."""


# --------------------------------------------------------------------------- configuration
# name -> (kind, check, description of the allowed range); kinds: choice, float, int, bool
_RANGES: dict[str, tuple[str, Any, str]] = {
    "objective": ("choice", OBJECTIVES, ""),
    "optimizer": ("choice", OPTIMIZERS, ""),
    "lr": ("float", lambda v: v > 0, "greater than 0"),
    "momentum": ("float", lambda v: 0 <= v < 1, "at least 0 and less than 1"),
    "nesterov": ("bool", None, ""),
    "beta1": ("float", lambda v: 0 <= v < 1, "at least 0 and less than 1"),
    "beta2": ("float", lambda v: 0 <= v < 1, "at least 0 and less than 1"),
    "weight_decay": ("float", lambda v: v >= 0, "at least 0"),
    "schedule": ("choice", SCHEDULES, ""),
    "step_size": ("int", lambda v: v >= 1, "at least 1"),
    "gamma": ("float", lambda v: 0 < v <= 1, "greater than 0 and at most 1"),
    "warmup_epochs": ("int", lambda v: v >= 0, "at least 0"),
    "batch_size": ("int", lambda v: v >= 1, "at least 1"),
    "epochs": ("int", lambda v: v >= 1, "at least 1"),
    "grad_clip": ("float?", lambda v: v > 0, "greater than 0 (or None for no clipping)"),
    "early_stopping_patience": ("int?", lambda v: v >= 1, "at least 1 (or None to turn it off)"),
    "early_stopping_metric": ("str", None, ""),
    "seed": ("int", lambda v: 0 <= v < 2**63, "between 0 and 2**63 - 1"),
    "device": ("choice", DEVICES, ""),
}


def _check_setting(name: str, value: Any) -> Any:
    """Return ``value`` normalised for setting ``name`` or raise ConfigError saying why not."""
    kind, check, allowed = _RANGES[name]
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    if value is None and optional:
        return None
    got = f"{type(value).__name__} ({value!r})"
    if kind == "choice":
        if not isinstance(value, str) or value not in check:
            options = ", ".join(repr(c) for c in check)
            raise ConfigError(f"Setting {name!r} must be one of {options}, not {value!r}.")
        return value
    if kind in ("bool", "str"):
        if not isinstance(value, bool if kind == "bool" else str):
            raise ConfigError(f"Setting {name!r} must be a {'boolean' if kind == 'bool' else 'string'}, not {got}.")
        return value
    # bool is an int subclass; True as a learning rate is a mistake, not 1.0.
    if isinstance(value, bool) or not isinstance(value, int | float if kind == "float" else int):
        what = "a number" if kind == "float" else "an integer"
        raise ConfigError(f"Setting {name!r} must be {what}, not {got}.")
    if kind == "float":
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"Setting {name!r} must be a finite number, not {value!r}.")
    if not check(value):
        raise ConfigError(f"Setting {name!r} must be {allowed}, got {value!r}.")
    return value


@dataclass
class TrainConfig:
    """Everything that decides how a model is trained; JSON round-trips via to/from_dict.

    ``momentum`` is used by sgd and rmsprop; ``nesterov`` needs sgd with momentum > 0;
    ``beta1`` / ``beta2`` are Adam's and AdamW's decay rates of the gradient's moments.
    Schedules act per optimizer step: ``step`` multiplies the LR by ``gamma`` every
    ``step_size`` epochs, ``cosine`` anneals to 0 over the run, ``onecycle`` is
    ``torch.optim.lr_scheduler.OneCycleLR`` (peak ``lr``). ``warmup_epochs`` ramps the LR
    linearly from ``lr / warmup_steps`` to ``lr`` first, then the schedule starts (for
    onecycle the warm-up becomes its rising phase). ``early_stopping_metric`` is a key of the
    epoch dict, e.g. ``val_loss`` or ``val_accuracy`` (see ``EPOCH_METRICS``).
    """

    objective: str = "classification"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9  # Adam / AdamW moment decay rates
    beta2: float = 0.999
    weight_decay: float = 0.0
    schedule: str = "none"
    step_size: int = 10
    gamma: float = 0.1
    warmup_epochs: int = 0
    batch_size: int = 64
    epochs: int = 10
    grad_clip: float | None = None
    early_stopping_patience: int | None = None
    early_stopping_metric: str = "val_loss"
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every setting and their combinations; raise ConfigError on the first problem."""
        for f in fields(self):
            setattr(self, f.name, _check_setting(f.name, getattr(self, f.name)))
        if self.nesterov and self.optimizer != "sgd":
            raise ConfigError(f"Nesterov momentum applies only to the 'sgd' optimizer, not {self.optimizer!r}.")
        if self.nesterov and self.momentum == 0:
            raise ConfigError("Nesterov momentum needs 'momentum' greater than 0 (e.g. 0.9), or turn 'nesterov' off.")
        if self.warmup_epochs >= self.epochs and self.warmup_epochs > 0:
            raise ConfigError(
                f"Setting 'warmup_epochs' ({self.warmup_epochs}) must be less than 'epochs' ({self.epochs})."
            )
        allowed = EPOCH_METRICS[self.objective]
        if self.early_stopping_metric not in allowed:
            raise ConfigError(
                f"Early stopping metric {self.early_stopping_metric!r} does not apply to "
                f"{self.objective}; use one of {', '.join(repr(m) for m in allowed)}."
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every setting."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """Build a config from a (possibly partial) dict; missing settings take their defaults.

        Raises
        ------
        ConfigError
            For an unknown key, a value of the wrong type or out of range, or a bad combination.
        """
        if not isinstance(d, Mapping):
            raise ConfigError(f"Training settings must be a mapping of names to values, not {type(d).__name__}.")
        known = [f.name for f in fields(cls)]
        for key in d:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.5)
                hint = f"did you mean {close[0]!r}?" if close else f"known settings are {', '.join(known)}."
                raise ConfigError(f"Unknown training setting {key!r}; {hint}")
        return cls(**dict(d))


# --------------------------------------------------------------------------- callbacks
class Callback:
    """Base class for training callbacks; every hook does nothing unless overridden.

    Hooks run in the training thread, between steps: keep them quick (hand heavy work to
    another thread through a queue). A callback stops training by setting
    ``trainer.should_stop = True`` (and optionally ``trainer.stop_reason``).
    """

    def on_train_start(self, trainer: Trainer) -> None:
        """Called once before the first step."""

    def on_step_end(self, trainer: Trainer, step: dict[str, Any]) -> None:
        """Called after every optimizer step with the step dict."""

    def on_epoch_end(self, trainer: Trainer, epoch: dict[str, Any]) -> None:
        """Called after every completed epoch (and its validation) with the epoch dict."""

    def on_train_end(self, trainer: Trainer, result: TrainResult) -> None:
        """Called once with the result, however the run ended."""


class History(Callback):
    """Collects the step and epoch dicts into JSON-ready lists (installed by every Trainer).

    ``data`` is ``{"step": {name: [...]}, "epoch": {name: [...], "grad_norm": {layer: [...]},
    "confusion": [...]}}``.
    """

    def __init__(self) -> None:
        self.data: dict[str, Any] = {"step": {}, "epoch": {"grad_norm": {}, "confusion": []}}

    def on_step_end(self, trainer: Trainer, step: dict[str, Any]) -> None:
        steps = self.data["step"]
        for key, value in step.items():
            column = steps.get(key)
            if column is None:
                column = steps[key] = []
            column.append(value)

    def on_epoch_end(self, trainer: Trainer, epoch: dict[str, Any]) -> None:
        epochs = self.data["epoch"]
        for key, value in epoch.items():
            if key == "grad_norm":
                for layer, norm in value.items():
                    epochs["grad_norm"].setdefault(layer, []).append(norm)
            elif key == "confusion":
                epochs["confusion"].append(value)
            else:
                epochs.setdefault(key, []).append(value)


class EarlyStopping(Callback):
    """Stop when ``metric`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    patience : epochs without improvement before stopping.
    metric : a key of the epoch dict; higher is better for accuracy, F1, AUC and R²,
        lower for losses and errors.
    min_delta : an improvement must be larger than this.
    """

    def __init__(self, patience: int, metric: str = "val_loss", min_delta: float = 0.0) -> None:
        self.patience = patience
        self.metric = metric
        self.min_delta = min_delta
        self.sign = -1.0 if metric in _HIGHER_IS_BETTER else 1.0  # compare as "lower is better"
        self.best = math.inf
        self.best_epoch = -1
        self.wait = 0

    def on_epoch_end(self, trainer: Trainer, epoch: dict[str, Any]) -> None:
        value = epoch.get(self.metric, math.nan)
        if math.isfinite(value) and self.sign * value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = self.sign * value, epoch["epoch"], 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.should_stop = True
            trainer.stop_reason = (
                f"Stopped early after epoch {epoch['epoch'] + 1}: {self.metric} has not improved "
                f"for {self.patience} epochs (best {self.sign * self.best:.6g} at epoch {self.best_epoch + 1})."
            )


# --------------------------------------------------------------------------- results
@dataclass
class TrainResult:
    """How a run ended and what it produced.

    Attributes
    ----------
    status : 'completed', 'stopped' (by the user), 'early_stopped' or 'diverged'.
    message : one or two sentences for a person.
    epochs_completed : epochs that ran to the end, validation included.
    history : the :class:`History` data (JSON-ready).
    metrics : validation metrics of the returned weights (as :func:`evaluate` gives them),
        or ``{}`` without a validation set.
    state_dict : the final weights as CPU tensors (for 'diverged': the last good ones).
    """

    status: str
    message: str
    epochs_completed: int
    history: dict[str, Any]
    metrics: dict[str, Any]
    state_dict: dict[str, torch.Tensor] = field(repr=False)


# --------------------------------------------------------------------------- helpers
def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for a config's ``device``: 'auto' picks CUDA, then MPS, then CPU."""
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise ConfigError("Device 'cuda' was requested but no CUDA GPU is available here; use 'auto' or 'cpu'.")
    if name == "mps" and not mps:
        raise ConfigError("Device 'mps' was requested but Apple's MPS is not available here; use 'auto' or 'cpu'.")
    if name not in DEVICES:
        raise ConfigError(f"Unknown device {name!r}; use one of {', '.join(DEVICES)}.")
    return torch.device(name)


def layer_names(model: nn.Module) -> dict[str, str]:
    """Map each parameter name to the layer it is reported under in ``grad_norm``.

    A layer is a direct child of the model, or a child of a direct ``ModuleDict`` /
    ``ModuleList`` (so a built graph's ``layers.<node_id>.weight`` belongs to
    ``layers.<node_id>``). Parameters held by the model itself are their own layer.
    """
    children = dict(model.named_children())
    out = {}
    for name, _ in model.named_parameters():
        parts = name.split(".")
        child = children.get(parts[0])
        if child is None or len(parts) == 1:
            out[name] = name
        elif isinstance(child, nn.ModuleDict | nn.ModuleList) and len(parts) > 2:
            out[name] = ".".join(parts[:2])
        else:
            out[name] = parts[0]
    return out


def _to_tensor(a: Any, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach().to(device=device, dtype=dtype)
    arr = np.asarray(a)
    if not arr.flags.writeable or not arr.flags.c_contiguous:
        arr = np.array(arr, copy=True, order="C")  # torch.from_numpy warns on read-only arrays
    return torch.from_numpy(arr).to(device=device, dtype=dtype)


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _outputs(model: nn.Module, X: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The model's outputs on all of X, in eval mode and without autograd."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            parts = [model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
    finally:
        model.train(was_training)
    if not parts:
        return torch.empty(0)
    return torch.cat(parts)


def _proba(out: torch.Tensor) -> torch.Tensor:
    """Class probabilities from logits; one logit means a binary sigmoid model."""
    if out.shape[1] == 1:
        p = torch.sigmoid(out)
        return torch.cat([1 - p, p], dim=1)
    return torch.softmax(out, dim=1)


def _loss_and_metrics(objective: str, out: torch.Tensor, target: torch.Tensor) -> dict[str, Any]:
    """Unweighted mean loss plus the task metrics, computed on whole sets at epoch ends."""
    out = out.float()
    if objective == "classification":
        if out.shape[1] == 1:
            loss = F.binary_cross_entropy_with_logits(out, target.float().reshape(-1, 1))
        else:
            loss = F.cross_entropy(out, target.long())
        metrics = classification_metrics(target.cpu().numpy(), _proba(out).cpu().numpy())
    else:
        target = target.float().reshape(out.shape)
        loss = F.mse_loss(out, target)
        t, o = target.cpu().numpy(), out.cpu().numpy()
        metrics = regression_metrics(t, o) if objective == "regression" else reconstruction_metrics(t, o)
    return {"loss": float(loss), **metrics}


def _check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise ConfigError(f"Unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}.")


def predict(model: nn.Module, X: Any, batch_size: int = 1024) -> np.ndarray:
    """The model's raw outputs (logits for classification) on X, as a float32 numpy array.

    Runs in eval mode on the model's device, in batches; use :func:`predict_proba` for
    class probabilities.
    """
    device = _model_device(model)
    out = _outputs(model, _to_tensor(X, torch.float32, device), batch_size)
    return out.float().cpu().numpy()


def predict_proba(model: nn.Module, X: Any, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities ``(N, C)`` of a classifier: softmax of its logits.

    A model with a single output is read as a binary sigmoid classifier and gets two columns.
    """
    out = _outputs(model, _to_tensor(X, torch.float32, _model_device(model)), batch_size)
    return _proba(out.float()).cpu().numpy()


def evaluate(model: nn.Module, X: Any, y: Any, objective: str, batch_size: int = 1024) -> dict[str, Any]:
    """Loss and task metrics of ``model`` on ``(X, y)``.

    Returns
    -------
    dict
        classification: ``loss`` (cross-entropy), ``accuracy``, ``f1`` (macro), ``auc``
        (binary, or one-vs-rest macro; NaN if a class is missing), ``confusion`` (nested
        lists, rows are true classes); regression: ``loss`` (MSE), ``mae``, ``r2``;
        reconstruction (``y`` may be None, meaning X): ``loss``, ``mse``.
    """
    _check_objective(objective)
    device = _model_device(model)
    Xt = _to_tensor(X, torch.float32, device)
    if y is None:
        if objective != "reconstruction":
            raise ConfigError(f"Targets y are required to evaluate a {objective} model.")
        yt = Xt
    else:
        yt = _to_tensor(y, torch.int64 if objective == "classification" else torch.float32, device)
    return _loss_and_metrics(objective, _outputs(model, Xt, batch_size), yt)


# --------------------------------------------------------------------------- the trainer
class Trainer:
    """Trains ``model`` on ``train = (X, y)`` and reports through callbacks.

    Parameters
    ----------
    model : any ``nn.Module``; it is moved to the config's device and trained in place.
    train, val : ``(X, y)`` numpy arrays (or tensors). Classification ``y`` holds class
        indices and the model outputs one logit per class (one logit: binary, sigmoid).
        Regression ``y`` is ``(N,)`` or ``(N, k)``. Reconstruction ignores ``y`` (None is
        fine) and reconstructs X.
    config : a :class:`TrainConfig`.
    callbacks : extra :class:`Callback` objects, run after the built-in History (and
        EarlyStopping when the config asks for it).
    sample_weight : optional ``(N,)`` non-negative weight per training row; each batch loss
        is the weighted mean ``sum(w * loss) / sum(w)``.
    loss_terms : extra differentiable terms added to every batch loss, each called as
        ``term(out, target, idx)`` with the batch's model outputs, its targets (class
        indices for classification) and the training-row indices of the batch (a tensor on
        the device); e.g. a fairness penalty. The step ``loss`` and ``train_loss`` include them.

    Notes
    -----
    Step dict: ``step`` (global index), ``epoch``, ``loss``, ``lr`` (used by this step) and
    the batch ``accuracy`` (classification) or ``mae`` (regression).
    Epoch dict: ``epoch``, ``train_loss`` (mean of step losses weighted by batch size),
    ``val_loss`` and ``val_accuracy`` / ``val_f1`` / ``val_auc``, or ``val_mae`` / ``val_r2``,
    or ``val_mse`` (NaN without a validation set), ``lr``, ``epoch_time`` (s, pauses
    excluded), ``samples_per_sec`` (training steps only), ``grad_norm`` (``{layer: mean over
    the epoch's steps of the layer's gradient L2 norm, before clipping}``) and, for
    classification, ``confusion`` (validation, rows are true classes; None without one).
    """

    def __init__(
        self,
        model: nn.Module,
        train: tuple[Any, Any],
        val: tuple[Any, Any] | None = None,
        config: TrainConfig | None = None,
        callbacks: Sequence[Callback] = (),
        sample_weight: Any = None,
        loss_terms: Sequence[Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = (),
    ) -> None:
        self.config = config = config if config is not None else TrainConfig()
        config.validate()
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.objective = config.objective

        self.X, self.Y = self._tensors(train, "training")
        self.val = self._tensors(val, "validation") if val is not None else None
        if len(self.X) == 0:
            raise ConfigError("The training set is empty.")
        self.weight = self._weights(sample_weight)
        self.loss_terms = tuple(loss_terms)
        for term in self.loss_terms:
            if not callable(term):
                raise ConfigError(f"A loss term must be callable as term(out, target, idx), not {type(term).__name__}.")
        self.n_outputs = self._probe()

        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ConfigError("The model has no trainable parameters.")
        self.steps_per_epoch = math.ceil(len(self.X) / config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs

        self.history = History()
        self.callbacks: list[Callback] = [self.history]
        if config.early_stopping_patience is not None:
            if self.val is None and config.early_stopping_metric.startswith("val_"):
                raise ConfigError(
                    f"Early stopping on {config.early_stopping_metric!r} needs a validation set; "
                    "provide one or watch 'train_loss'."
                )
            self.callbacks.append(EarlyStopping(config.early_stopping_patience, config.early_stopping_metric))
        self.callbacks.extend(callbacks)

        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.epoch = 0  # index of the epoch in progress
        self.global_step = 0  # optimizer steps taken
        self.should_stop = False
        self.stop_reason = ""
        self._stop_event = threading.Event()
        self._run_event = threading.Event()  # set = running, clear = paused
        self._run_event.set()
        self._paused_seconds = 0.0
        self._started = False

    # -- control (thread-safe; take effect before the next step) --------------------------
    def stop(self) -> None:
        """Ask the run to stop after the current step (also while paused)."""
        self._stop_event.set()
        self._run_event.set()  # wake a paused loop so it can see the stop

    def pause(self) -> None:
        """Ask the run to wait after the current step until :meth:`resume` or :meth:`stop`."""
        if not self._stop_event.is_set():
            self._run_event.clear()

    def resume(self) -> None:
        """Let a paused run continue."""
        self._run_event.set()

    @property
    def is_paused(self) -> bool:
        """Whether a pause has been requested and not yet lifted."""
        return not self._run_event.is_set()

    # -- set-up ---------------------------------------------------------------------------
    def _tensors(self, pair: Any, what: str) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            X, y = pair
        except (TypeError, ValueError):
            raise ConfigError(f"The {what} data must be a pair (X, y).") from None
        Xt = _to_tensor(X, torch.float32, self.device)
        if Xt.ndim < 2:
            raise ConfigError(f"The {what} inputs must have a row dimension and features, got shape {tuple(Xt.shape)}.")
        if self.objective == "reconstruction":
            return Xt, (Xt if y is None else _to_tensor(y, torch.float32, self.device))
        if y is None:
            raise ConfigError(f"The {what} targets y are missing; {self.objective} needs them.")
        y_np = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
        if len(y_np) != len(Xt):
            raise ConfigError(f"The {what} inputs have {len(Xt)} rows but the targets have {len(y_np)}.")
        if self.objective == "classification":
            if y_np.ndim != 1:
                raise ConfigError(f"Classification targets must be one class index per row, got shape {y_np.shape}.")
            if y_np.dtype.kind not in "iub":
                if y_np.dtype.kind != "f" or not np.all(np.isfinite(y_np)) or np.any(y_np != np.round(y_np)):
                    raise ConfigError(f"Classification targets must be whole class indices, got {y_np.dtype} values.")
            if len(y_np) and y_np.min() < 0:
                raise ConfigError(f"Classification targets must be class indices from 0, got {y_np.min()}.")
            return Xt, _to_tensor(y_np.astype(np.int64), torch.int64, self.device)
        if y_np.dtype.kind not in "iuf" or not np.all(np.isfinite(y_np)):
            raise ConfigError(f"Regression targets must be finite numbers ({what} set).")
        return Xt, _to_tensor(y_np, torch.float32, self.device)

    def _weights(self, sample_weight: Any) -> torch.Tensor | None:
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (len(self.X),):
            raise ConfigError(f"sample_weight must have one value per training row ({len(self.X)}), got shape {w.shape}.")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ConfigError("sample_weight must be finite, non-negative and not all zero.")
        return _to_tensor(w, torch.float32, self.device)

    def _probe(self) -> int:
        """Run two rows through the model to check it fits the data before training starts."""
        try:
            out = _outputs(self.model, self.X[:2], 2)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise ConfigError(f"The model cannot run on inputs of shape {tuple(self.X.shape[1:])}: {first}") from None
        self._out_shape = tuple(out.shape[1:])
        if self.objective == "classification":
            if out.ndim != 2:
                raise ConfigError(f"A classifier must output (batch, classes) logits, got per-sample shape {tuple(out.shape[1:])}.")
            n = out.shape[1]
            top = int(self.Y.max()) if len(self.Y) else 0
            if self.val is not None and len(self.val[1]):
                top = max(top, int(self.val[1].max()))
            if (n == 1 and top > 1) or (n > 1 and top >= n):
                raise ConfigError(f"The model outputs {n} logit(s) but the targets contain class {top}.")
            return n
        target_shape = self.Y.shape[1:] if self.objective == "reconstruction" else None
        if target_shape is not None and out.shape[1:] != target_shape:
            raise ConfigError(
                f"A reconstruction model must output the input shape {tuple(target_shape)}, got {tuple(out.shape[1:])}."
            )
        if self.objective == "regression" and out[0].numel() != self.Y[0].numel():
            raise ConfigError(
                f"The model outputs {out[0].numel()} value(s) per row but the targets have {self.Y[0].numel()}."
            )
        return out[0].numel()

    def _make_optimizer(self) -> torch.optim.Optimizer:
        c, p = self.config, self.params
        if c.optimizer == "sgd":
            return torch.optim.SGD(p, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov, weight_decay=c.weight_decay)
        if c.optimizer == "adagrad":
            return torch.optim.Adagrad(p, lr=c.lr, weight_decay=c.weight_decay)
        if c.optimizer == "rmsprop":
            return torch.optim.RMSprop(p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
        if c.optimizer == "adam":
            return torch.optim.Adam(p, lr=c.lr, betas=(c.beta1, c.beta2), weight_decay=c.weight_decay)
        return torch.optim.AdamW(p, lr=c.lr, betas=(c.beta1, c.beta2), weight_decay=c.weight_decay)

    def _make_scheduler(self, opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler | None:
        """A per-step scheduler (epochs converted to steps), or None for a constant LR."""
        from torch.optim import lr_scheduler as S

        c, spe, total = self.config, self.steps_per_epoch, self.total_steps
        warm = c.warmup_epochs * spe
        if c.schedule == "onecycle":
            # OneCycle has its own warm-up; ours sets the length of its rising phase.
            pct = warm / total if warm else 0.3
            return S.OneCycleLR(opt, max_lr=c.lr, total_steps=total, pct_start=pct)
        if c.schedule == "step":
            main: S.LRScheduler | None = S.StepLR(opt, step_size=c.step_size * spe, gamma=c.gamma)
        elif c.schedule == "cosine":
            main = S.CosineAnnealingLR(opt, T_max=max(total - warm, 1))
        else:
            main = None
        if warm == 0:  # a one-step warm-up still runs first (at the full LR), then the schedule
            return main
        # factor (k + 1) / warm at step k, reaching the full LR on the last warm-up step
        ramp = S.LinearLR(opt, start_factor=1.0 / warm, end_factor=1.0, total_iters=warm - 1)
        if main is None:
            return ramp
        return S.SequentialLR(opt, [ramp, main], milestones=[warm])

    def _make_objective(self) -> tuple[Callable[..., torch.Tensor], Callable[..., float] | None, str]:
        """The batch loss ``f(out, target[, weight])`` and the batch metric summed over the batch's rows."""
        if self.objective == "classification":
            if self.n_outputs == 1:
                self.Y_loss = self.Y.float().unsqueeze(1)

                def loss(out: torch.Tensor, t: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
                    if w is None:
                        return F.binary_cross_entropy_with_logits(out, t)
                    per = F.binary_cross_entropy_with_logits(out, t, reduction="none").squeeze(1)
                    return (per * w).sum() / w.sum().clamp_min(1e-12)

                def metric(out: torch.Tensor, t: torch.Tensor) -> float:
                    return ((out > 0) == (t > 0.5)).sum().item()
            else:
                self.Y_loss = self.Y

                def loss(out: torch.Tensor, t: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
                    if w is None:
                        return F.cross_entropy(out, t)
                    # an all-zero-weight batch contributes nothing rather than 0/0 = NaN
                    return (F.cross_entropy(out, t, reduction="none") * w).sum() / w.sum().clamp_min(1e-12)

                def metric(out: torch.Tensor, t: torch.Tensor) -> float:
                    return (out.argmax(1) == t).sum().item()

            return loss, metric, "accuracy"

        self.Y_loss = self.Y.reshape(len(self.Y), *self._out_shape)

        def mse(out: torch.Tensor, t: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
            if w is None:
                return F.mse_loss(out, t)
            per = F.mse_loss(out, t, reduction="none").flatten(1).mean(1)
            return (per * w).sum() / w.sum().clamp_min(1e-12)

        if self.objective == "reconstruction":
            return mse, None, ""

        def mae(out: torch.Tensor, t: torch.Tensor) -> float:
            return (out.detach() - t).abs().mean().item() * t.shape[0]  # the loop divides by rows

        return mse, mae, "mae"

    # -- the run ----------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        """Train until the epochs are done, a callback or the user stops, or the loss diverges."""
        if self._started:
            raise RuntimeError("A Trainer runs once; create a new Trainer to train again.")
        self._started = True
        c = self.config
        torch.manual_seed(c.seed)
        np.random.seed(c.seed % 2**32)
        random.seed(c.seed)
        self.generator = torch.Generator().manual_seed(c.seed)  # shuffling only: unaffected by dropout
        self.optimizer = self._make_optimizer()
        self.scheduler = self._make_scheduler(self.optimizer)
        self.loss_fn, self.metric_fn, self.metric_name = self._make_objective()

        names = dict((id(p), n) for n, p in self.model.named_parameters())
        by_param = layer_names(self.model)
        param_layers = [by_param[names[id(p)]] for p in self.params]
        self.layers = list(dict.fromkeys(param_layers))
        # (P, L) 0/1 matrix: squared parameter norms summed into squared layer norms in one matmul
        self._layer_matrix = torch.zeros(len(self.params), len(self.layers), device=self.device)
        for i, layer in enumerate(param_layers):
            self._layer_matrix[i, self.layers.index(layer)] = 1.0
        self._norms = torch.zeros(self.steps_per_epoch, len(self.params), device=self.device)
        self._buffers = [b for b in self.model.buffers()]
        self._saved_buffers = [b.clone() for b in self._buffers]

        was_training = self.model.training
        self.model.train()
        status, message = "completed", f"Completed {c.epochs} epoch{'s' if c.epochs != 1 else ''}."
        self._last_val: dict[str, Any] | None = None
        try:
            for cb in self.callbacks:
                cb.on_train_start(self)
            for epoch in range(c.epochs):
                self.epoch = epoch
                outcome = self._run_epoch(epoch)
                if outcome is not None:
                    status, message = outcome
                    break
                if self.should_stop:
                    status = "early_stopped"
                    message = self.stop_reason or f"Stopped by a callback after epoch {epoch + 1}."
                    break
        finally:
            self.model.train(was_training)
        epochs_done = len(self.history.data["epoch"].get("train_loss", []))
        metrics = self._final_metrics()
        state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        result = TrainResult(status, message, epochs_done, self.history.data, metrics, state)
        for cb in self.callbacks:
            cb.on_train_end(self, result)
        return result

    def _final_metrics(self) -> dict[str, Any]:
        if self.val is None:
            return {}
        if self._last_val is not None:  # no step since the last validation: reuse it
            return self._last_val
        return _loss_and_metrics(self.objective, _outputs(self.model, self.val[0], 1024), self.val[1])

    def _wait_if_paused(self) -> None:
        if not self._run_event.is_set():
            t = time.perf_counter()
            self._run_event.wait()
            self._paused_seconds += time.perf_counter() - t

    def _run_epoch(self, epoch: int) -> tuple[str, str] | None:
        """One pass over the training set and the validation; (status, message) if the run ends."""
        model, opt, sched = self.model, self.optimizer, self.scheduler
        assert opt is not None
        X, Y, W = self.X, self.Y_loss, self.weight
        terms, targets = self.loss_terms, self.Y
        loss_fn, metric_fn, metric_name = self.loss_fn, self.metric_fn, self.metric_name
        callbacks, params, norms = self.callbacks, self.params, self._norms
        buffers, saved = self._buffers, self._saved_buffers
        clip = self.config.grad_clip
        bs, n = self.config.batch_size, len(X)
        group = opt.param_groups[0]
        stop_event, run_event = self._stop_event, self._run_event

        self._last_val = None  # the weights are about to change
        paused_before = self._paused_seconds
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=self.generator).to(self.device)
        norm_rows = norms.unbind(0)  # one view per step, made once rather than per step
        loss_sum, lr, global_step = 0.0, group["lr"], self.global_step
        for i, start in enumerate(range(0, n, bs)):
            if not run_event.is_set():
                self._wait_if_paused()
            if stop_event.is_set():
                self.global_step = global_step
                return "stopped", f"Stopped by the user during epoch {epoch + 1}, after step {global_step}."
            idx = perm[start:start + bs]
            xb, yb = X[idx], Y[idx]
            if buffers:  # forward passes update BatchNorm statistics even when the loss is NaN
                torch._foreach_copy_(saved, buffers)
            out = model(xb)
            loss = loss_fn(out, yb) if W is None else loss_fn(out, yb, W[idx])
            if terms:  # an empty tuple: one falsy check per step, nothing else
                t = targets[idx]
                for term in terms:
                    loss = loss + term(out, t, idx)
            loss_value = loss.item()
            # Checked before backward/step, so the weights never see a bad step: no copy needed.
            if not math.isfinite(loss_value):
                self.global_step = global_step
                return self._diverged("Loss", loss_value, epoch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            row = norm_rows[i]
            try:
                torch.stack(torch._foreach_norm([p.grad for p in params]), out=row)  # type: ignore[misc]
            except TypeError:  # some parameter got no gradient from this forward
                torch.stack([torch.zeros((), device=p.device) if p.grad is None else p.grad.norm()
                             for p in params], out=row)
            if clip is not None:
                total = torch.linalg.vector_norm(row)
                torch.nn.utils.clip_grads_with_norm_(params, clip, total)
                grad_total = total.item()
            else:
                grad_total = sum(row.tolist())  # cheaper than row.sum().item() for a few values
            if not math.isfinite(grad_total):
                self.global_step = global_step
                return self._diverged("Gradient", grad_total, epoch, row)
            lr = group["lr"]
            opt.step()
            if sched is not None:
                sched.step()
            m = n - start if start + bs > n else bs
            loss_sum += loss_value * m
            step = {"step": global_step, "epoch": epoch, "loss": loss_value, "lr": lr}
            if metric_fn is not None:
                step[metric_name] = metric_fn(out, yb) / m
            global_step += 1
            self.global_step = global_step
            for cb in callbacks:
                cb.on_step_end(self, step)
            if self.should_stop and i + 1 < self.steps_per_epoch:
                return "early_stopped", self.stop_reason or f"Stopped by a callback during epoch {epoch + 1}."
        rows = n
        train_seconds = time.perf_counter() - t0 - (self._paused_seconds - paused_before)

        layer_norms = (norms[: i + 1].square() @ self._layer_matrix).sqrt().mean(0).tolist()
        record: dict[str, Any] = {"epoch": epoch, "train_loss": loss_sum / rows}
        record.update(self._validate())
        record["lr"] = lr
        record["epoch_time"] = time.perf_counter() - t0 - (self._paused_seconds - paused_before)
        record["samples_per_sec"] = rows / train_seconds if train_seconds > 0 else math.nan
        record["grad_norm"] = dict(zip(self.layers, layer_norms))
        if self.objective == "classification":
            record["confusion"] = self._last_val["confusion"] if self._last_val else None
        for cb in callbacks:
            cb.on_epoch_end(self, record)
        return None

    def _validate(self) -> dict[str, Any]:
        """Validation loss and metrics as ``val_*`` keys (NaN without a validation set)."""
        keys = [k for k in EPOCH_METRICS[self.objective] if k != "train_loss"]
        if self.val is None:
            self._last_val = None
            return {k: math.nan for k in keys}
        self._last_val = _loss_and_metrics(self.objective, _outputs(self.model, self.val[0], 1024), self.val[1])
        return {k: self._last_val[k.removeprefix("val_")] for k in keys}

    def _diverged(self, what: str, value: float, epoch: int, row: torch.Tensor | None = None) -> tuple[str, str]:
        if self._buffers:
            torch._foreach_copy_(self._buffers, self._saved_buffers)
        kind = "NaN" if math.isnan(value) else "infinite"
        where = ""
        if row is not None:
            # which layer: only computed once the run is over, so it costs nothing per step
            layer_sq = (row.square() @ self._layer_matrix).tolist()
            bad = [name for name, v in zip(self.layers, layer_sq) if not math.isfinite(v)]
            where = f" in layer {bad[0]!r}" if bad else ""
        return "diverged", (
            f"{what} became {kind}{where} at epoch {epoch + 1}, step {self.global_step + 1}; "
            "the weights from the last good step are kept. Try a lower learning rate."
        )
