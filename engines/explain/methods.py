"""Attribution methods over captum, one shape for all: ``make_explainer(...).attribute(...)``.

Every method explains one output of the model per sample (the *target*): a class logit for a
classifier — for a one-logit binary model, that logit (evidence for class 1) — or one output
of a regression model. By default the target is the predicted class (regression: output 0).

Work is cut into batches from an element budget: a one-row probe counts the activations a
row creates, and batches are sized so that a forward (and backward) pass stays within
:data:`ELEMENT_BUDGET` floats. Batching changes no result of a deterministic method. Each
stochastic method draws its randomness per sample from a generator seeded by ``seed`` and the
sample's values, so the same seed gives the same result whatever else is in the batch.
"""

from __future__ import annotations

import difflib
import math
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from engines.explain.groups import FeatureGroups, image_patches, sequence_steps
from engines.explain.result import AttributionResult, Cancelled, ExplainError, library_versions
from engines.explain.shapley import EXACT_MAX_GROUPS, exact_shapley, paired_kernel_shap

__all__ = [
    "ELEMENT_BUDGET",
    "METHODS",
    "Explainer",
    "MethodInfo",
    "make_explainer",
]

ELEMENT_BUDGET = 2**24  # floats of activations per batch (64 MB in float32)
_MAX_ROWS = 16_384  # larger batches of a small model run slower (out of cache)
_KINDS = {1: "table", 2: "sequence", 3: "image"}
TASKS = ("classification", "regression")


@dataclass(frozen=True, eq=False)
class MethodInfo:
    """What a method is and needs.

    ``additive`` (an addition to the contract) marks methods whose attributions should add up
    to ``F(x) - reference``; only they get a completeness ``delta``.
    """

    id: str
    title: str
    kinds: tuple[str, ...]
    stochastic: bool
    needs_layer: bool
    needs_baseline: bool
    needs_background: bool
    defaults: dict[str, Any] = field(default_factory=dict)
    additive: bool = False
    help: str = ""


_ALL = ("table", "image", "sequence")
METHODS: dict[str, MethodInfo] = {
    m.id: m
    for m in (
        MethodInfo("saliency", "Saliency", _ALL, False, False, False, False, {"abs": True},
                   help="Gradient of the output with respect to each input (absolute value by default)."),
        MethodInfo("ixg", "Input × Gradient", _ALL, False, False, False, False, {},
                   help="Input times gradient; exact for a linear model with a zero baseline."),
        MethodInfo("ig", "Integrated Gradients", _ALL, False, False, True, False,
                   {"n_steps": 50, "integration": "gausslegendre"}, additive=True,
                   help="Gradients integrated along the straight path from the baseline to the input."),
        MethodInfo("smoothgrad", "SmoothGrad", _ALL, True, False, False, False,
                   {"base": "saliency", "nt_samples": 25, "noise": 0.15, "nt_type": "smoothgrad",
                    "n_steps": 20},
                   help="Saliency (or IG) averaged over noisy copies of the input; noise is a fraction of the input's range."),
        MethodInfo("deeplift", "DeepLIFT", _ALL, False, False, True, False, {}, additive=True,
                   help="Rescale rule back-propagated from the output difference to the baseline."),
        MethodInfo("deepliftshap", "DeepLIFT-SHAP", _ALL, False, False, False, True, {}, additive=True,
                   help="DeepLIFT averaged over background rows as baselines."),
        MethodInfo("gradshap", "GradientSHAP", _ALL, True, False, False, True,
                   {"n_samples": 50, "stdevs": 0.0}, additive=True,
                   help="Expected gradients between random background rows and the input (sums to the gap in expectation)."),
        MethodInfo("kernelshap", "KernelSHAP (captum)", _ALL, True, False, True, False,
                   {"n_samples": 1000, "patch": None}, additive=True,
                   help="captum's KernelSHAP: a weighted linear fit over random coalitions."),
        MethodInfo("shapley", "Shapley values", _ALL, True, False, True, False,
                   {"max_evals": 4096, "mode": "auto", "patch": None}, additive=True,
                   help=f"Exact Shapley values for up to {EXACT_MAX_GROUPS} groups, paired KernelSHAP above."),
        MethodInfo("lime", "LIME", _ALL, True, False, True, False, {"n_samples": 1000, "patch": None},
                   help="A sparse linear model fitted to random perturbations near the input."),
        MethodInfo("occlusion", "Occlusion", _ALL, False, False, True, False,
                   {"window": None, "stride": None},
                   help="Output change when a sliding window is replaced by the baseline."),
        MethodInfo("ablation", "Feature ablation", _ALL, False, False, True, False, {"patch": None},
                   help="Output change when one feature (group, patch) is replaced by the baseline."),
        MethodInfo("gradcam", "Grad-CAM", ("image",), False, True, False, False,
                   {"relu": True, "upsample": "bilinear"},
                   help="Channel-weighted activations of a convolutional layer, upsampled to the input."),
    )
}

# option -> (kind, allowed): int/float ranges are inclusive; "?" allows None
_RULES: dict[str, tuple[str, Any]] = {
    "abs": ("bool", None),
    "n_steps": ("int", (1, 100_000)),
    "integration": ("choice", ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle")),
    "base": ("choice", ("saliency", "ig")),
    "nt_samples": ("int", (1, 100_000)),
    "noise": ("float", (0.0, 10.0)),
    "nt_type": ("choice", ("smoothgrad", "smoothgrad_sq", "vargrad")),
    "n_samples": ("int", (1, 10_000_000)),
    "stdevs": ("float", (0.0, 1e6)),
    "max_evals": ("int", (3, 100_000_000)),
    "mode": ("choice", ("auto", "exact", "sampled")),
    "patch": ("int?", (1, 100_000)),
    "window": ("int?", (1, 100_000)),
    "stride": ("int?", (1, 100_000)),
    "relu": ("bool", None),
    "upsample": ("choice", ("bilinear", "nearest")),
}


def _check_options(info: MethodInfo, options: dict[str, Any]) -> dict[str, Any]:
    out = dict(info.defaults)
    for name, value in options.items():
        if name not in info.defaults:
            known = list(info.defaults)
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
            if close:
                hint = f"did you mean {close[0]!r}?"
            elif known:
                hint = f"its options are {', '.join(known)}."
            else:
                hint = "it takes no options."
            raise ExplainError(f"Method {info.id!r} has no option {name!r}; {hint}")
        kind, allowed = _RULES[name]
        if kind.endswith("?") and value is None:
            out[name] = None
            continue
        kind = kind.rstrip("?")
        if kind == "bool":
            if not isinstance(value, bool):
                raise ExplainError(f"Option {name!r} must be true or false, not {value!r}.")
        elif kind == "choice":
            if value not in allowed:
                raise ExplainError(f"Option {name!r} must be one of {', '.join(map(repr, allowed))}, not {value!r}.")
        else:
            numeric = isinstance(value, int | np.integer) or (
                kind == "float" and isinstance(value, float | np.floating)
            )
            if isinstance(value, bool) or not numeric:
                what = "a whole number" if kind == "int" else "a number"
                raise ExplainError(f"Option {name!r} must be {what}, not {value!r}.")
            lo, hi = allowed
            if not (math.isfinite(float(value)) and lo <= value <= hi):
                raise ExplainError(f"Option {name!r} must be between {lo:g} and {hi:g}, not {value!r}.")
            value = int(value) if kind == "int" else float(value)
        out[name] = value
    return out


# ----------------------------------------------------------------------------- helpers
class _Forward(nn.Module):
    """The model as captum sees it: (N, K) outputs, a row count, and a cancel check per call."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.rows = 0
        self.cancel: Callable[[], bool] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cancel is not None and self.cancel():
            raise Cancelled("The explanation was cancelled.")
        self.rows += int(x.shape[0])
        y = self.model(x)
        return y if y.ndim == 2 else y.reshape(y.shape[0], -1)


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode (no dropout, frozen BatchNorm statistics); every module's flag is restored."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, was in flags:
            m.training = was


@contextmanager
def _quiet_captum() -> Iterator[None]:
    # DeepLift announces its (always removed) hooks on every call.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*Setting forward, backward hooks")
        # captum's note that it switched on requires_grad for the inputs it differentiates
        warnings.filterwarnings("ignore", message="Input Tensor .* did not already require gradients")
        yield


def _sample_seed(seed: int, row: torch.Tensor) -> int:
    """A per-sample seed from the run's seed and the sample's values."""
    digest = zlib.crc32(row.detach().cpu().numpy().tobytes())
    return int(np.random.SeedSequence([seed, digest]).generate_state(1)[0])


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's and numpy's global generators (captum draws from both), then restore them."""
    devices = [device] if device.type == "cuda" else []
    state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            yield
    finally:
        np.random.set_state(state)


def _chunks(n: int, size: int) -> Iterator[slice]:
    size = max(1, size)
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _kind(shape: tuple[int, ...]) -> str:
    return _KINDS.get(len(shape), "other")


def _model_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, (p.dtype if p.is_floating_point() else torch.float32)
    return torch.device("cpu"), torch.float32


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


# ----------------------------------------------------------------------------- a run
class _Run:
    """Everything one ``attribute`` call works with, validated."""

    def __init__(self, explainer: Explainer, inputs: Any, max_batch: int | None,
                 progress: Callable[[float], None] | None, cancel: Callable[[], bool] | None,
                 seed: int) -> None:
        self.info = explainer.info
        self.model = explainer.model
        self.fwd = explainer.forward
        self.device, self.dtype = _model_dtype(self.model)
        self.progress = progress
        self.cancel = cancel
        self.seed = seed
        self.params: dict[str, Any] = {}
        self.x = self._inputs(inputs)
        self.n = int(self.x.shape[0])
        self.shape = tuple(int(s) for s in self.x.shape[1:])
        self.kind = _kind(self.shape)
        if self.kind not in self.info.kinds:
            raise ExplainError(
                f"{self.info.title} applies to {' or '.join(self.info.kinds)} data, not to samples "
                f"of shape {_shape_text(self.shape)}."
            )
        self.layer_shapes: dict[int, tuple[int, ...]] = {}
        self.layer_module: nn.Module | None = explainer.layer_module
        self.n_outputs = 1
        self.per_row = self._probe()
        factor = 1 if self.info.id in ("shapley", "kernelshap", "lime", "occlusion", "ablation") else 3
        auto = max(1, min(_MAX_ROWS, ELEMENT_BUDGET // max(1, self.per_row * factor)))
        if max_batch is None:
            self.max_batch = auto
        elif isinstance(max_batch, bool) or not isinstance(max_batch, int | np.integer) or max_batch < 1:
            raise ExplainError(f"'max_batch' must be a whole number of at least 1, not {max_batch!r}.")
        else:
            self.max_batch = int(max_batch)
        # filled in by Explainer._attribute once validated
        self.targets = torch.zeros(0, dtype=torch.long)
        self.groups: FeatureGroups | None = None
        self.base = torch.zeros(0)
        self.bg: torch.Tensor | None = None

    # -- validation ---------------------------------------------------------------------------
    def _inputs(self, inputs: Any) -> torch.Tensor:
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().cpu().numpy()
        try:
            arr = np.asarray(inputs)
        except (TypeError, ValueError):
            raise ExplainError("Inputs must be an array of numbers.") from None
        if arr.dtype.kind not in "biuf":
            raise ExplainError(f"Inputs must be numbers, not {arr.dtype}.")
        expected = getattr(self.model, "input_shape", None)
        if expected is not None:
            expected = tuple(int(s) for s in expected)
            if arr.shape == expected:
                raise ExplainError(
                    f"Inputs need a leading sample axis: give shape (S, {', '.join(map(str, expected))}), "
                    f"e.g. inputs[None] for one sample."
                )
            if arr.ndim < 1 or tuple(arr.shape[1:]) != expected:
                raise ExplainError(
                    f"Inputs have per-sample shape {_shape_text(arr.shape[1:])} but the model expects "
                    f"{_shape_text(expected)}."
                )
        if arr.ndim < 2:
            raise ExplainError(
                f"Inputs must be a batch of samples (S, ...) with at least 2 dimensions, not shape {_shape_text(arr.shape)}."
            )
        if arr.shape[0] == 0:
            raise ExplainError("There are no samples to explain.")
        if not np.isfinite(arr).all():
            raise ExplainError("Inputs contain missing or infinite values.")
        return torch.as_tensor(np.ascontiguousarray(arr), dtype=self.dtype, device=self.device)

    def _probe(self) -> int:
        """Run one row, recording each leaf module's output size; returns floats per row."""
        sizes: list[int] = []
        handles = []

        def hook(module: nn.Module, _inp: Any, out: Any) -> None:
            if isinstance(out, torch.Tensor):
                sizes.append(out[0].numel())
                self.layer_shapes[id(module)] = tuple(out.shape[1:])
            elif isinstance(out, tuple) and out and isinstance(out[0], torch.Tensor):
                sizes.append(out[0][0].numel())

        nodes = _node_modules(self.model)
        if self.layer_module is not None:
            nodes.add(self.layer_module)
        for m in self.model.modules():
            if not list(m.children()) or m in nodes:
                handles.append(m.register_forward_hook(hook))
        try:
            with torch.inference_mode():
                y = self.model(self.x[:1])
        except Cancelled:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExplainError(
                f"The model cannot run on inputs of shape {_shape_text(self.shape)}: {first}"
            ) from None
        finally:
            for h in handles:
                h.remove()
        if not isinstance(y, torch.Tensor) or y.ndim < 1:
            raise ExplainError("The model must return a tensor of outputs per sample.")
        self.n_outputs = int(y[0].numel()) if y.ndim > 1 else 1
        return int(self.x[0].numel() + sum(sizes))

    # -- progress -----------------------------------------------------------------------------
    def tick(self, fraction: float) -> None:
        """Report progress (a fraction of the whole call) and honour cancel between batches."""
        if self.cancel is not None and self.cancel():
            raise Cancelled("The explanation was cancelled.")
        if self.progress is not None:
            self.progress(min(1.0, max(0.0, fraction)))

    # -- forward helpers ----------------------------------------------------------------------
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """All outputs ``(N, K)`` without autograd, in batches."""
        with torch.inference_mode():
            return torch.cat([self.fwd(x[sl]) for sl in _chunks(len(x), self.max_batch)])

    def picked(self, out: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
        return out.gather(1, targets[:, None])[:, 0].double().cpu().numpy()


def _node_modules(model: nn.Module) -> set[nn.Module]:
    layers = getattr(model, "layers", None)
    return set(layers.values()) if isinstance(layers, nn.ModuleDict) else set()


# ----------------------------------------------------------------------------- explainer
class Explainer:
    """One attribution method bound to a model; see :func:`make_explainer`.

    ``attribute`` may be called many times (e.g. at every epoch end) but not from two threads
    at once.
    """

    def __init__(self, info: MethodInfo, model: nn.Module, layer: str | None, task: str) -> None:
        self.info = info
        self.model = model
        self.layer = layer
        self.task = task
        self.forward = _Forward(model)
        self.layer_module: nn.Module | None = None
        if layer is not None:
            self.layer_module = _find_layer(model, layer)

    def __repr__(self) -> str:
        return f"Explainer({self.info.id!r}{', layer=' + repr(self.layer) if self.layer else ''})"

    def attribute(
        self,
        inputs: np.ndarray,
        *,
        target: int | Sequence[int] | None = None,
        baseline: np.ndarray | float | None = None,
        background: np.ndarray | None = None,
        groups: FeatureGroups | None = None,
        feature_names: Sequence[str] | None = None,
        baseline_label: str | None = None,
        background_label: str | None = None,
        seed: int = 0,
        max_batch: int | None = None,
        progress: Callable[[float], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        **options: Any,
    ) -> AttributionResult:
        """Attribute the target output of each sample to its inputs.

        Parameters
        ----------
        inputs : numpy.ndarray
            ``(S, *input_shape)`` samples.
        target : int or sequence of int, optional
            Output index to explain, for all samples or one per sample; default the predicted
            class (regression: output 0; a one-logit model: its logit).
        baseline : array or float, optional
            The "absent" input, ``input_shape`` or one per sample ``(S, *input_shape)``;
            default zeros, or the background mean when only a background is given.
        background : numpy.ndarray, optional
            ``(B, *input_shape)`` reference rows (DeepLIFT-SHAP, GradientSHAP, and the
            background value function of ``shapley``).
        groups : FeatureGroups, optional
            Tables only: report one attribution per group (e.g. one-hot columns of one
            original column). Gradient methods add their column attributions up per group;
            perturbation methods switch a group's columns together.
        feature_names : sequence of str, optional
            Names of the table's columns (used when there are no groups).
        baseline_label, background_label : str, optional
            Say what the baseline or background is (e.g. "mean of the training split").
        seed : int
            Seed of every random draw.
        max_batch : int, optional
            Most model rows per forward pass; default chosen from :data:`ELEMENT_BUDGET`.
        progress : callable, optional
            Called with the fraction done, between batches.
        cancel : callable, optional
            Polled before every model call; returning True raises :class:`Cancelled`.
        **options
            Method options; see ``METHODS[method].defaults``.

        Raises
        ------
        ExplainError
            With one sentence, for any input the method cannot use.
        Cancelled
            When ``cancel()`` returns True.
        """
        t0 = time.perf_counter()
        opts = _check_options(self.info, options)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**63:
            raise ExplainError(f"The seed must be a whole number from 0 to 2**63-1, not {seed!r}.")
        seed = int(seed)
        self.forward.cancel = cancel
        self.forward.rows = 0
        try:
            with _evaluating(self.model), torch.inference_mode(False), torch.enable_grad():
                run = _Run(self, inputs, max_batch, progress, cancel, seed)
                return self._attribute(run, opts, t0, target, baseline, background, groups,
                                       feature_names, baseline_label, background_label)
        finally:
            self.forward.cancel = None

    # -- the common part ----------------------------------------------------------------------
    def _attribute(self, run: _Run, opts: dict[str, Any], t0: float, target: Any, baseline: Any,
                   background: Any, groups: FeatureGroups | None, feature_names: Any,
                   baseline_label: str | None, background_label: str | None) -> AttributionResult:
        info = self.info
        logits = run.logits(run.x)
        if not torch.isfinite(logits).all():
            raise ExplainError("The model's outputs are missing or infinite for some samples, so they cannot be explained.")
        targets = self._targets(target, logits, run)
        outputs = run.picked(logits, targets)
        run.targets = targets
        run.groups = self._groups(groups, run)
        names = self._names(feature_names, run)
        bg, bg_desc = self._background(background, background_label, run)
        base, base_desc = self._baseline(baseline, baseline_label, bg, run)
        run.base, run.bg = base, bg

        reference: np.ndarray | None = None
        value_function: str | None = None
        desc = "none (gradients at the input)"
        uses_background = info.id in ("deepliftshap", "gradshap") or (info.id == "shapley" and bg is not None)
        if uses_background:
            assert bg is not None or info.id in ("deepliftshap", "gradshap")
            rows = bg if bg is not None else base[:1]
            ref_out = run.logits(rows)  # (B, K)
            reference = ref_out.double().mean(0)[targets].cpu().numpy()
            desc = bg_desc if bg is not None else f"the baseline ({base_desc}) as a one-row background"
            value_function = "background"
        elif info.needs_baseline:
            expanded = base.expand(run.n, *run.shape) if base.shape[0] == 1 else base
            reference = run.picked(run.logits(expanded), targets)
            desc = base_desc
            value_function = "baseline"
        elif info.id == "ixg":
            desc = "zeros (implicit: input × gradient)"
        elif info.id == "smoothgrad" and opts["base"] == "ig":
            expanded = base.expand(run.n, *run.shape) if base.shape[0] == 1 else base
            reference = run.picked(run.logits(expanded), targets)
            desc, value_function = base_desc, "baseline"

        if info.id == "gradcam":
            self._gradcam_layer(run)
            desc = f"none (gradients at layer {self.layer!r})"
        runner = _RUNNERS[info.id]
        with _quiet_captum():
            attr, group_values, extra = runner(run, opts)
        if extra.get("outputs") is not None:  # Shapley: F(x) and reference from the same batches
            outputs, reference = extra.pop("outputs"), extra.pop("reference")

        delta = None
        if info.additive and reference is not None:
            total = (group_values if group_values is not None else attr).reshape(run.n, -1).sum(axis=1)
            delta = total - (outputs - reference)
        # the options as given come last, so feeding params back as options reproduces the call
        params = {**run.params, **extra, "max_batch": run.max_batch,
                  "model_rows": int(self.forward.rows), **opts}
        if run.groups is not None:
            params["groups"] = run.groups.to_dict()
        run.tick(1.0)
        return AttributionResult(
            method=info.id,
            title=info.title,
            params=params,
            attributions=np.ascontiguousarray(attr, dtype=np.float64),
            feature_names=names,
            targets=[int(t) for t in targets.tolist()],
            outputs=outputs,
            reference=reference,
            baseline=desc,
            value_function=value_function,
            delta=delta,
            seed=run.seed,
            layer=self.layer if info.id == "gradcam" else None,
            versions=library_versions(),
            elapsed=time.perf_counter() - t0,
        )

    def _targets(self, target: Any, logits: torch.Tensor, run: _Run) -> torch.Tensor:
        k = logits.shape[1]
        if target is None:
            if self.task == "classification" and k > 1:
                return logits.argmax(dim=1)
            return torch.zeros(run.n, dtype=torch.long, device=logits.device)
        values = [target] * run.n if isinstance(target, int | np.integer) and not isinstance(target, bool) else target
        try:
            values = list(values)
        except TypeError:
            raise ExplainError(f"The target must be an output index or one index per sample, not {target!r}.") from None
        if len(values) != run.n:
            raise ExplainError(f"Give one target per sample ({run.n}), not {len(values)}.")
        for t in values:
            if isinstance(t, bool) or not isinstance(t, int | np.integer):
                raise ExplainError(f"Targets must be whole numbers (output indices), not {t!r}.")
            if not 0 <= t < k:
                if k == 1:
                    raise ExplainError(
                        f"Target {t} is out of range: the model has a single output (for a binary "
                        "classifier, its logit for class 1), so the target is 0."
                    )
                raise ExplainError(f"Target {t} is out of range: the model has {k} outputs (0-{k - 1}).")
        return torch.as_tensor(np.asarray(values, dtype=np.int64), device=logits.device)

    def _groups(self, groups: FeatureGroups | None, run: _Run) -> FeatureGroups | None:
        if groups is None:
            return None
        if not isinstance(groups, FeatureGroups):
            raise ExplainError(f"'groups' must be FeatureGroups (see feature_groups()), not {type(groups).__name__}.")
        if run.kind != "table":
            raise ExplainError(f"Feature groups apply to table data, not to samples of shape {_shape_text(run.shape)}.")
        if self.info.id == "gradcam":
            raise ExplainError("Grad-CAM maps images; it does not take feature groups.")
        if groups.n_features != run.shape[0]:
            raise ExplainError(
                f"The feature groups cover {groups.n_features} columns but the inputs have {run.shape[0]}."
            )
        return groups

    def _names(self, feature_names: Any, run: _Run) -> list[str] | None:
        if run.groups is not None:
            return list(run.groups.names)
        if feature_names is None or run.kind != "table":
            return None
        names = [str(n) for n in feature_names]
        if len(names) != run.shape[0]:
            raise ExplainError(f"Give one feature name per input column ({run.shape[0]}), not {len(names)}.")
        return names

    def _reference_array(self, value: Any, what: str, run: _Run) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ExplainError(f"The {what} must be an array of numbers.") from None
        if not np.isfinite(arr).all():
            raise ExplainError(f"The {what} contains missing or infinite values.")
        return torch.as_tensor(arr, dtype=run.dtype, device=run.device)

    def _background(self, background: Any, label: str | None,
                    run: _Run) -> tuple[torch.Tensor | None, str]:
        if background is None:
            return None, ""
        bg = self._reference_array(background, "background", run)
        if bg.ndim != len(run.shape) + 1 or tuple(bg.shape[1:]) != run.shape or bg.shape[0] == 0:
            raise ExplainError(
                f"The background must be rows of per-sample shape {_shape_text(run.shape)}: "
                f"(B, {', '.join(map(str, run.shape))}), not {_shape_text(bg.shape)}."
            )
        return bg, label or f"a background of {bg.shape[0]} row(s)"

    def _baseline(self, baseline: Any, label: str | None, bg: torch.Tensor | None,
                  run: _Run) -> tuple[torch.Tensor, str]:
        if baseline is None:
            if bg is not None and self.info.needs_baseline:
                return bg.mean(0, keepdim=True), f"mean of the background ({label or f'{bg.shape[0]} rows'})"
            return torch.zeros(1, *run.shape, dtype=run.dtype, device=run.device), label or "zeros"
        if isinstance(baseline, int | float) and not isinstance(baseline, bool):
            return torch.full((1, *run.shape), float(baseline), dtype=run.dtype, device=run.device), (
                label or f"every input {float(baseline):g}"
            )
        base = self._reference_array(baseline, "baseline", run)
        if tuple(base.shape) == run.shape:
            return base.unsqueeze(0), label or "the given baseline"
        if base.ndim == len(run.shape) + 1 and tuple(base.shape[1:]) == run.shape and base.shape[0] in (1, run.n):
            return base, label or ("the given baseline" if base.shape[0] == 1 else "one baseline per sample")
        raise ExplainError(
            f"The baseline must have per-sample shape {_shape_text(run.shape)} (or one per sample), "
            f"not {_shape_text(base.shape)}."
        )

    def _gradcam_layer(self, run: _Run) -> None:
        if self.layer_module is None:
            convs = _conv_like_layers(self.model, run)
            if not convs:
                raise ExplainError("Grad-CAM needs a layer with (channels, height, width) output, and this model has none.")
            self.layer, self.layer_module = convs[-1]
        run.layer_module = self.layer_module
        shape = run.layer_shapes.get(id(self.layer_module))
        if shape is None or len(shape) != 3:
            raise ExplainError(
                f"Grad-CAM needs a convolutional layer with (channels, height, width) output; layer "
                f"{self.layer!r} ({type(self.layer_module).__name__}) outputs "
                f"{_shape_text(shape) if shape is not None else 'nothing on the path to the output'}."
            )


def _find_layer(model: nn.Module, layer: str) -> nn.Module:
    if not isinstance(layer, str) or not layer:
        raise ExplainError(f"The layer must be a node id (text), not {layer!r}.")
    layers = getattr(model, "layers", None)
    if isinstance(layers, nn.ModuleDict) and layer in layers:
        return layers[layer]
    named = dict(model.named_modules())
    if layer in named and layer != "":
        return named[layer]
    known = list(layers.keys()) if isinstance(layers, nn.ModuleDict) else [n for n in named if n]
    close = difflib.get_close_matches(layer, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"layers are {', '.join(known[:12])}{'...' if len(known) > 12 else ''}."
    raise ExplainError(f"The model has no layer {layer!r}; {hint}")


def _conv_like_layers(model: nn.Module, run: _Run) -> list[tuple[str, nn.Module]]:
    layers = getattr(model, "layers", None)
    named = list(layers.items()) if isinstance(layers, nn.ModuleDict) else list(model.named_modules())
    steps = getattr(model, "steps", None)
    if isinstance(layers, nn.ModuleDict) and steps:
        order = {nid: i for i, (nid, _src) in enumerate(steps)}
        named = sorted((p for p in named if p[0] in order), key=lambda p: order[p[0]])
    return [(n, m) for n, m in named if n and len(run.layer_shapes.get(id(m), ())) == 3
            and any(isinstance(sub, nn.Conv2d) for sub in m.modules())]


def make_explainer(method_id: str, model: nn.Module, *, layer: str | None = None,
                   task: str = "classification") -> Explainer:
    """Bind an attribution method to a model.

    Parameters
    ----------
    method_id : str
        A key of :data:`METHODS`.
    model : torch.nn.Module
        Outputs ``(N, K)`` (logits for a classifier) or any shape, read flattened.
    layer : str, optional
        Grad-CAM's layer: a node id of a built graph (or a module name) with (channels,
        height, width) output; default the last convolution.
    task : {"classification", "regression"}
        Decides the default target (predicted class, or output 0).

    Raises
    ------
    ExplainError
        For an unknown method, a layer the model does not have, or a bad task.
    """
    info = METHODS.get(method_id) if isinstance(method_id, str) else None
    if info is None:
        close = difflib.get_close_matches(str(method_id), list(METHODS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"choose one of {', '.join(METHODS)}."
        raise ExplainError(f"Unknown attribution method {method_id!r}; {hint}")
    if not isinstance(model, nn.Module):
        raise ExplainError(f"The model must be a torch.nn.Module, not {type(model).__name__}.")
    if task not in TASKS:
        raise ExplainError(f"The task must be 'classification' or 'regression', not {task!r}.")
    if layer is not None and not info.needs_layer:
        raise ExplainError(f"{info.title} does not take a layer; only Grad-CAM does.")
    return Explainer(info, model, layer, task)


# ----------------------------------------------------------------------------- runners
# Each returns (attributions, group values or None, extra params). ``group values`` is given
# when the attributions repeat a group's value over its elements (patches, steps).
Runner = Callable[[_Run, dict[str, Any]], tuple[np.ndarray, np.ndarray | None, dict[str, Any]]]


def _finish_columns(run: _Run, attr: torch.Tensor | np.ndarray) -> np.ndarray:
    """float64 numpy; tables with groups: column attributions added up per group."""
    a = attr.detach().double().cpu().numpy() if isinstance(attr, torch.Tensor) else np.asarray(attr, np.float64)
    if run.groups is not None:
        return run.groups.sum(a)
    return a


def _batched(run: _Run, rows_per_sample: int, fn: Callable[[slice], torch.Tensor]) -> torch.Tensor:
    """Apply ``fn`` to chunks of samples so each call runs at most ``max_batch`` rows."""
    size = max(1, run.max_batch // max(1, rows_per_sample))
    parts = []
    for sl in _chunks(run.n, size):
        parts.append(fn(sl).detach())
        run.tick(sl.stop / run.n)
    return torch.cat(parts)


def _base_rows(run: _Run, sl: slice) -> torch.Tensor:
    return run.base if run.base.shape[0] == 1 else run.base[sl]


def _saliency(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, None, dict[str, Any]]:
    from captum.attr import Saliency

    method = Saliency(run.fwd)
    attr = _batched(run, 1, lambda sl: method.attribute(run.x[sl], target=run.targets[sl], abs=o["abs"]))
    return _finish_columns(run, attr), None, {}


def _ixg(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, None, dict[str, Any]]:
    from captum.attr import InputXGradient

    method = InputXGradient(run.fwd)
    attr = _batched(run, 1, lambda sl: method.attribute(run.x[sl], target=run.targets[sl]))
    return _finish_columns(run, attr), None, {}


def _ig(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, None, dict[str, Any]]:
    from captum.attr import IntegratedGradients

    method = IntegratedGradients(run.fwd)
    n_steps = o["n_steps"]
    per_call = min(run.n, run.max_batch)
    internal = run.max_batch if n_steps * per_call > run.max_batch else None

    def one(sl: slice) -> torch.Tensor:
        return method.attribute(run.x[sl], baselines=_base_rows(run, sl), target=run.targets[sl],
                                n_steps=n_steps, method=o["integration"], internal_batch_size=internal)

    attr = _batched(run, 1, one)
    return _finish_columns(run, attr), None, {"internal_batch_size": internal}


def _smoothgrad(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, None, dict[str, Any]]:
    from captum.attr import IntegratedGradients, NoiseTunnel, Saliency

    use_ig = o["base"] == "ig"
    tunnel = NoiseTunnel(IntegratedGradients(run.fwd) if use_ig else Saliency(run.fwd))
    rows_per_noise = o["n_steps"] if use_ig else 1
    nt_batch = max(1, min(o["nt_samples"], run.max_batch // rows_per_noise))
    parts, stdevs = [], []
    for i in range(run.n):
        xi = run.x[i:i + 1]
        span = float(xi.max() - xi.min())
        sd = o["noise"] * (span if span > 0 else 1.0)
        stdevs.append(sd)
        kwargs: dict[str, Any] = {"target": run.targets[i:i + 1]}
        if use_ig:
            kwargs.update(baselines=_base_rows(run, slice(i, i + 1)), n_steps=o["n_steps"])
        else:
            kwargs["abs"] = True
        with _seeded(_sample_seed(run.seed, xi), run.device):
            a = tunnel.attribute(xi, nt_type=o["nt_type"], nt_samples=o["nt_samples"],
                                 nt_samples_batch_size=nt_batch, stdevs=sd, **kwargs)
        parts.append(a.detach())
        run.tick((i + 1) / run.n)
    extra = {"nt_samples_batch_size": nt_batch, "noise_stdevs": stdevs}
    return _finish_columns(run, torch.cat(parts)), None, extra


def _deeplift(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, None, dict[str, Any]]:
    from engines.explain.deeplift import DeepLift

    method = DeepLift(run.fwd)
    attr = _batched(run, 2, lambda sl: method.attribute(run.x[sl], baselines=_base_rows(run, sl),
                                                         target=run.targets[sl]))
    return _finish_columns(run, attr), None, {"rule": "rescale"}


def _deepliftshap(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, None, dict[str, Any]]:
    from engines.explain.deeplift import DeepLift, DeepLiftShap

    bg = run.bg if run.bg is not None else run.base[:1]
    n_bg = bg.shape[0]
    # DeepLIFT-SHAP is the mean over background rows of DeepLIFT: cut both samples and
    # background into blocks and average, weighted by block size.
    b_block = max(1, min(n_bg, run.max_batch // 2))
    s_block = max(1, run.max_batch // (2 * b_block))
    total = torch.zeros_like(run.x, dtype=torch.float64)
    steps = math.ceil(run.n / s_block) * math.ceil(n_bg / b_block)
    k = 0
    for bsl in _chunks(n_bg, b_block):
        rows = bg[bsl]
        method = DeepLiftShap(run.fwd) if rows.shape[0] > 1 else DeepLift(run.fwd)
        for sl in _chunks(run.n, s_block):
            a = method.attribute(run.x[sl], baselines=rows, target=run.targets[sl])
            total[sl] += a.detach().double() * rows.shape[0]
            k += 1
            run.tick(k / steps)
    return _finish_columns(run, total / n_bg), None, {"background_rows": int(n_bg)}


def _gradshap(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, None, dict[str, Any]]:
    from captum.attr import GradientShap

    bg = run.bg if run.bg is not None else run.base[:1]
    method = GradientShap(run.fwd)
    parts = []
    for i in range(run.n):
        xi = run.x[i:i + 1]
        with _seeded(_sample_seed(run.seed, xi), run.device):
            a = method.attribute(xi, baselines=bg, target=run.targets[i:i + 1],
                                 n_samples=o["n_samples"], stdevs=o["stdevs"])
        parts.append(a.detach())
        run.tick((i + 1) / run.n)
    return _finish_columns(run, torch.cat(parts)), None, {"background_rows": int(bg.shape[0])}


def _feature_mask(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, list[str], str]:
    """Group of each input element for perturbation methods, the group names, a description."""
    if run.kind == "table":
        if run.groups is not None:
            return run.groups.index, list(run.groups.names), f"{run.groups.n_groups} feature groups"
        return np.arange(run.shape[0]), [f"column {i}" for i in range(run.shape[0])], "each column"
    if run.kind == "image":
        index, names, p = image_patches(run.shape, o.get("patch"))
        return index, names, f"{p}x{p}-pixel patches shared across channels ({len(names)} patches)"
    index, names = sequence_steps(run.shape)
    return index, names, f"each time step ({len(names)} steps)"


def _group_values(attr: np.ndarray, index: np.ndarray, n_groups: int) -> np.ndarray:
    """``(S, G)`` from attributions that repeat each group's value over its elements."""
    flat = attr.reshape(attr.shape[0], -1)
    first = np.array([np.flatnonzero(index == g)[0] for g in range(n_groups)])
    return flat[:, first]


def _per_sample_captum(run: _Run, o: dict[str, Any], cls: Any) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    index, names, mask_desc = _feature_mask(run, o)
    mask = torch.as_tensor(index.reshape(run.shape), device=run.device)[None]
    method = cls(run.fwd)
    per_eval = max(1, min(o["n_samples"], run.max_batch))
    parts = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*interpretable.*")
        for i in range(run.n):
            xi = run.x[i:i + 1]
            with _seeded(_sample_seed(run.seed, xi), run.device):
                a = method.attribute(xi, baselines=_base_rows(run, slice(i, i + 1)), target=run.targets[i:i + 1],
                                     feature_mask=mask, n_samples=o["n_samples"], perturbations_per_eval=per_eval)
            parts.append(a.detach().double().cpu().numpy())
            run.tick((i + 1) / run.n)
    attr = np.concatenate(parts)
    return _grouped_output(run, attr, index, names, {"feature_mask": mask_desc, "perturbations_per_eval": per_eval})


def _grouped_output(run: _Run, attr: np.ndarray, index: np.ndarray, names: list[str],
                    extra: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    values = _group_values(attr, index, len(names))
    if run.kind == "table":
        return values, None, extra  # one value per column or group
    return _spread(values, index, run), values, extra


def _spread(values: np.ndarray, index: np.ndarray, run: _Run) -> np.ndarray:
    """Per-element map of per-group values, each group's value shared evenly by its elements.

    So the map sums to the same total as the group values and the completeness gap holds for
    the map as shown (a patch's value repeated on each of its pixels would count it k times).
    """
    flat = np.asarray(index).reshape(-1)
    sizes = np.bincount(flat, minlength=values.shape[1]).astype(np.float64)
    sizes[sizes == 0] = 1.0
    return (values / sizes)[:, flat].reshape(run.n, *run.shape)


def _kernelshap(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    from captum.attr import KernelShap

    return _per_sample_captum(run, o, KernelShap)


def _lime(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    from captum.attr import Lime

    return _per_sample_captum(run, o, Lime)


def _ablation(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    from captum.attr import FeatureAblation

    index, names, mask_desc = _feature_mask(run, o)
    mask = torch.as_tensor(index.reshape(run.shape), device=run.device)[None]
    method = FeatureAblation(run.fwd)
    block = min(run.n, run.max_batch)
    per_eval = max(1, run.max_batch // block)

    def one(sl: slice) -> torch.Tensor:
        return method.attribute(run.x[sl], baselines=_base_rows(run, sl), target=run.targets[sl],
                                feature_mask=mask, perturbations_per_eval=per_eval)

    attr = _batched(run, run.max_batch // block, one).double().cpu().numpy()
    return _grouped_output(run, attr, index, names, {"feature_mask": mask_desc, "perturbations_per_eval": per_eval})


def _occlusion(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, None, dict[str, Any]]:
    from captum.attr import Occlusion

    if run.kind == "table":
        w = o["window"] or 1
        window: tuple[int, ...] = (min(w, run.shape[0]),)
        strides: tuple[int, ...] = (o["stride"] or 1,)
    elif run.kind == "image":
        c, h, wd = run.shape
        w = min(o["window"] or max(2, math.ceil(max(h, wd) / 7)), h, wd)
        window = (c, w, w)
        s = o["stride"] or max(1, w // 2)
        strides = (c, s, s)
    else:
        t, f = run.shape
        w = min(o["window"] or 1, t)
        window, strides = (w, f), (o["stride"] or 1, f)
    method = Occlusion(run.fwd)
    block = min(run.n, run.max_batch)
    per_eval = max(1, run.max_batch // block)

    def one(sl: slice) -> torch.Tensor:
        return method.attribute(run.x[sl], sliding_window_shapes=window, strides=strides,
                                baselines=_base_rows(run, sl), target=run.targets[sl],
                                perturbations_per_eval=per_eval)

    attr = _batched(run, run.max_batch // block, one)
    extra = {"window_shape": list(window), "strides": list(strides), "perturbations_per_eval": per_eval}
    return _finish_columns(run, attr), None, extra


def _shapley(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    index, names, mask_desc = _feature_mask(run, o)
    n_groups = len(names)
    background = run.bg is not None
    reference = run.bg if background else run.base
    value_function = "background" if background else "baseline"
    exact = o["mode"] == "exact" or (o["mode"] == "auto" and n_groups <= EXACT_MAX_GROUPS)

    def progress(f: float) -> None:
        run.tick(f)

    if exact:
        sv = exact_shapley(run.fwd, run.x, reference, run.targets, index, value_function=value_function,
                           max_batch=run.max_batch, progress=progress, cancel=run.cancel)
    else:
        sv = paired_kernel_shap(run.fwd, run.x, reference, run.targets, index, value_function=value_function,
                                max_evals=o["max_evals"], seed=run.seed, max_batch=run.max_batch,
                                progress=progress, cancel=run.cancel)
    extra: dict[str, Any] = {
        "feature_mask": mask_desc,
        "exact": bool(sv.exact),
        "estimator": "exact enumeration" if sv.exact else "paired KernelSHAP",
        "coalitions_per_sample": int(sv.evaluations),
        "outputs": sv.full,
        "reference": sv.empty,
    }
    if run.kind == "table":
        return sv.values, None, extra
    return _spread(sv.values, index, run), sv.values, extra


def _gradcam(run: _Run, o: dict[str, Any]) -> tuple[np.ndarray, None, dict[str, Any]]:
    from captum.attr import LayerAttribution, LayerGradCam

    assert run.layer_module is not None
    method = LayerGradCam(run.fwd, run.layer_module)
    h, w = run.shape[1], run.shape[2]

    def one(sl: slice) -> torch.Tensor:
        a = method.attribute(run.x[sl], target=run.targets[sl], relu_attributions=o["relu"])
        return LayerAttribution.interpolate(a.detach(), (h, w), interpolate_mode=o["upsample"])[:, 0]

    attr = _batched(run, 1, one)
    return attr.double().cpu().numpy(), None, {}


_RUNNERS: dict[str, Runner] = {
    "saliency": _saliency,
    "ixg": _ixg,
    "ig": _ig,
    "smoothgrad": _smoothgrad,
    "deeplift": _deeplift,
    "deepliftshap": _deepliftshap,
    "gradshap": _gradshap,
    "kernelshap": _kernelshap,
    "shapley": _shapley,
    "lime": _lime,
    "occlusion": _occlusion,
    "ablation": _ablation,
    "gradcam": _gradcam,
}
