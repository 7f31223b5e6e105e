"""Quality checks of attributions, each reported on its own (never folded into one score).

- :func:`infidelity` (captum): how well ``perturbation · attribution`` predicts the output
  change under random perturbations — lower is better.
- :func:`sensitivity_max` (captum): how much the explanation changes under small input
  noise — lower is steadier.
- :func:`deletion_insertion`: output as the most-attributed features are removed toward the
  baseline (deletion; a fast drop, low AUC, is good) or inserted into it (insertion; a fast
  rise, high AUC, is good).
- :func:`randomisation_check`: Adebayo et al.'s model-randomisation test — layers are
  re-initialised one by one from the output down; a map that stays rank-correlated with the
  trained model's map does not depend on what the model learned.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from engines.explain.groups import FeatureGroups
from engines.explain.methods import Explainer, _evaluating, _Forward, _model_dtype, make_explainer
from engines.explain.result import AttributionResult, ExplainError

__all__ = ["deletion_insertion", "infidelity", "randomisation_check", "sensitivity_max"]

_GRADIENT_MAPS = ("saliency", "smoothgrad", "gradcam")
_MAX_ROWS = 8192


# ----------------------------------------------------------------------------- helpers
def _tensor(a: Any, model: nn.Module) -> torch.Tensor:
    device, dtype = _model_dtype(model)
    arr = np.asarray(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ExplainError("The arrays given to a check contain missing or infinite values.")
    return torch.as_tensor(arr, dtype=dtype, device=device)


def _unpack(
    attributions: np.ndarray | AttributionResult,
    target: int | Sequence[int] | None,
    groups: FeatureGroups | None,
) -> tuple[np.ndarray, Any, FeatureGroups | None, str | None]:
    if isinstance(attributions, AttributionResult):
        r = attributions
        if groups is None and "groups" in r.params:
            groups = FeatureGroups.from_dict(r.params["groups"])
        return r.attributions, (r.targets if target is None else target), groups, r.method
    return np.asarray(attributions, dtype=np.float64), target, groups, None


def _targets(target: Any, logits: torch.Tensor) -> torch.Tensor:
    n, k = logits.shape
    if target is None:
        return logits.argmax(1) if k > 1 else torch.zeros(n, dtype=torch.long, device=logits.device)
    t = np.full(n, target) if isinstance(target, int | np.integer) else np.asarray(list(target))
    if t.shape != (n,) or t.dtype.kind not in "iu" or (t < 0).any() or (t >= k).any():
        raise ExplainError(f"Targets must be one output index in 0..{k - 1} for all samples or one per sample.")
    return torch.as_tensor(t.astype(np.int64), device=logits.device)


def _outputs(fwd: nn.Module, x: torch.Tensor, max_rows: int) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([fwd(x[i:i + max_rows]) for i in range(0, len(x), max_rows)])


def _baseline(baseline: Any, x: torch.Tensor, model: nn.Module) -> torch.Tensor:
    if baseline is None:
        return torch.zeros_like(x[:1])
    b = _tensor(baseline, model)
    if b.shape == x.shape[1:]:
        return b[None]
    if b.shape[1:] == x.shape[1:] and b.shape[0] in (1, len(x)):
        return b
    raise ExplainError(f"The baseline must have per-sample shape {tuple(x.shape[1:])} (or one per sample).")


def _to_input_shape(attr: np.ndarray, shape: tuple[int, ...], groups: FeatureGroups | None) -> np.ndarray:
    """Attributions laid out like the input; a group's (or pixel's) value is shared out.

    Spreading a group's value evenly over its columns (a Grad-CAM pixel's over the channels)
    keeps ``sum(perturbation * attribution)`` equal to the group-level product whenever the
    perturbation is the same on all of a group's columns.
    """
    s = attr.shape[0]
    if attr.shape[1:] == shape:
        return attr
    if groups is not None and attr.shape[1:] == (groups.n_groups,) and shape == (groups.n_features,):
        sizes = np.bincount(groups.index, minlength=groups.n_groups)
        return (attr / sizes)[:, groups.index]
    if len(shape) == 3 and attr.shape[1:] == shape[1:]:  # Grad-CAM (S, H, W)
        return np.broadcast_to(attr[:, None] / shape[0], (s, *shape)).copy()
    raise ExplainError(
        f"Attributions of shape {attr.shape[1:]} do not fit inputs of per-sample shape {shape}."
    )


def _units(shape: tuple[int, ...], groups: FeatureGroups | None) -> np.ndarray:
    """The unit (column, group, pixel or element) of each input element."""
    if len(shape) == 1:
        return groups.index if groups is not None else np.arange(shape[0])
    if len(shape) == 3:  # pixels: all channels together
        c, h, w = shape
        return np.broadcast_to(np.arange(h * w).reshape(h, w), (c, h, w)).reshape(-1)
    return np.arange(int(np.prod(shape)))


def _unit_scores(attr: np.ndarray, shape: tuple[int, ...], groups: FeatureGroups | None) -> np.ndarray:
    """``(S, U)``: each unit's attribution (summed over its elements, or the group's own)."""
    s = attr.shape[0]
    if groups is not None and attr.shape[1:] == (groups.n_groups,):
        return attr
    if len(shape) == 3 and attr.shape[1:] == shape[1:]:
        return attr.reshape(s, -1)
    full = _to_input_shape(attr, shape, groups).reshape(s, -1)
    units = _units(shape, groups)
    out = np.zeros((s, int(units.max()) + 1))
    np.add.at(out.T, units, full.T)
    return out


# ----------------------------------------------------------------------------- infidelity
def infidelity(
    model: nn.Module,
    inputs: Any,
    attributions: np.ndarray | AttributionResult,
    *,
    target: int | Sequence[int] | None = None,
    baseline: Any = None,
    groups: FeatureGroups | None = None,
    perturbation: str = "auto",
    n_perturb: int = 50,
    fraction: float = 0.3,
    noise: float = 0.1,
    normalize: bool = False,
    seed: int = 0,
    max_batch: int | None = None,
) -> np.ndarray:
    """captum's infidelity per sample: ``E[(I · attr - (F(x) - F(x - I)))^2]`` (lower is better).

    Parameters
    ----------
    perturbation : {"auto", "subset", "noise"}
        ``subset``: a random ``fraction`` of the units (columns or groups, pixels, elements)
        is set to the baseline and ``I`` is that 0/1 choice — the test that fits
        attributions measured against a baseline (IG, DeepLIFT, SHAP, occlusion...).
        ``noise``: Gaussian noise of ``noise`` × the input's standard deviation, ``I`` the
        noise itself — fits plain gradient maps. ``auto`` picks ``noise`` for saliency,
        SmoothGrad and Grad-CAM, ``subset`` otherwise.
    normalize : bool
        Rescale attributions by the best-fitting factor first (captum's ``normalize``);
        off by default so a wrong sign or scale counts against the attribution.
    """
    from captum.metrics import infidelity as captum_infidelity

    attr, target, groups, method = _unpack(attributions, target, groups)
    if perturbation not in ("auto", "subset", "noise"):
        raise ExplainError(f"The perturbation must be 'auto', 'subset' or 'noise', not {perturbation!r}.")
    if perturbation == "auto":
        perturbation = "noise" if method in _GRADIENT_MAPS else "subset"
    if not isinstance(n_perturb, int) or n_perturb < 1:
        raise ExplainError(f"'n_perturb' must be a whole number of at least 1, not {n_perturb!r}.")
    if not 0.0 < fraction < 1.0:
        raise ExplainError(f"'fraction' must lie between 0 and 1, not {fraction!r}.")
    fwd = _Forward(model)
    with _evaluating(model):
        x = _tensor(inputs, model)
        shape = tuple(x.shape[1:])
        targets = _targets(target, _outputs(fwd, x, _MAX_ROWS))
        a = _tensor(_to_input_shape(attr, shape, groups), model)
        if a.shape != x.shape:
            raise ExplainError(f"There are {len(x)} samples but {a.shape[0]} attributions.")
        base = _baseline(baseline, x, model)
        units = torch.as_tensor(np.array(_units(shape, groups)), device=x.device)  # a writable copy
        n_units = int(units.max()) + 1
        scale = float(x.std()) if float(x.std()) > 0 else 1.0

        def perturb(xs: torch.Tensor, bs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            if perturbation == "subset":
                z = (torch.rand(len(xs), n_units, device=xs.device) < fraction).to(xs.dtype)
                chosen = z[:, units].reshape(xs.shape)
                return chosen, xs + chosen * (bs - xs)
            eps = torch.randn_like(xs) * (noise * scale)
            return eps, xs - eps

        # captum wants whole examples per batch: between S and S * n_perturb rows
        rows = min(len(x) * n_perturb, max(len(x), min(_MAX_ROWS, max_batch or _MAX_ROWS)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            values = captum_infidelity(
                fwd, perturb, x, a, baselines=base if base.shape[0] == len(x) else base.expand_as(x),
                target=targets, n_perturb_samples=n_perturb, max_examples_per_batch=rows,
                normalize=normalize,
            )
    return values.double().cpu().numpy()


# ----------------------------------------------------------------------------- sensitivity
def sensitivity_max(
    explainer: Explainer,
    inputs: Any,
    *,
    radius: float = 0.02,
    n_perturb: int = 10,
    seed: int = 0,
    target: int | Sequence[int] | None = None,
    **attribute_kwargs: Any,
) -> np.ndarray:
    """captum's max-sensitivity per sample: the largest relative change of the explanation
    when each input value moves by uniform noise within ``±radius`` (lower is steadier).

    ``attribute_kwargs`` (baseline, background, groups, method options) go to
    ``explainer.attribute``; the targets stay those of the unperturbed samples.
    """
    from captum.metrics import sensitivity_max as captum_sensitivity

    if not isinstance(explainer, Explainer):
        raise ExplainError("sensitivity_max needs an explainer made by make_explainer().")
    if not radius > 0:
        raise ExplainError(f"The radius must be greater than 0, not {radius!r}.")
    if not isinstance(n_perturb, int) or n_perturb < 1:
        raise ExplainError(f"'n_perturb' must be a whole number of at least 1, not {n_perturb!r}.")
    attribute_kwargs.pop("progress", None)
    attribute_kwargs.pop("cancel", None)
    first = explainer.attribute(np.asarray(inputs), target=target, **attribute_kwargs)
    targets = np.asarray(first.targets, dtype=np.int64)
    x = _tensor(inputs, explainer.model)
    n = len(x)
    baseline = attribute_kwargs.pop("baseline", None)
    per_sample_baseline = baseline is not None and np.ndim(baseline) == x.ndim and np.shape(baseline)[0] == n > 1

    def explain(given: torch.Tensor | tuple[torch.Tensor, ...]) -> Any:
        # captum passes the unperturbed inputs as a tuple and expects a tuple back
        as_tuple = isinstance(given, tuple)
        xs = given[0] if isinstance(given, tuple) else given
        repeat = len(xs) // n
        kwargs = dict(attribute_kwargs)
        if baseline is not None:
            kwargs["baseline"] = np.repeat(baseline, repeat, axis=0) if per_sample_baseline else baseline
        r = explainer.attribute(xs.detach().cpu().numpy(), target=np.repeat(targets, repeat).tolist(), **kwargs)
        out = torch.as_tensor(r.attributions)
        return (out,) if as_tuple else out

    def perturb(xs: torch.Tensor) -> torch.Tensor:
        return xs + torch.empty_like(xs).uniform_(-radius, radius)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        values = captum_sensitivity(explain, x, perturb_func=perturb, n_perturb_samples=n_perturb)
    return values.double().cpu().numpy()


# ----------------------------------------------------------------------------- deletion / insertion
def deletion_insertion(
    model: nn.Module,
    inputs: Any,
    attributions: np.ndarray | AttributionResult,
    *,
    target: int | Sequence[int] | None = None,
    baseline: Any = None,
    groups: FeatureGroups | None = None,
    steps: int = 20,
    score: str = "auto",
    task: str = "classification",
    max_batch: int | None = None,
) -> dict[str, Any]:
    """Deletion and insertion curves and their areas, per sample.

    Units (table columns or groups, image pixels with all channels, sequence elements) are
    ranked by descending attribution. Deletion replaces the top ``k/steps`` of them by the
    baseline, insertion starts from the baseline and puts them back.

    Parameters
    ----------
    score : {"auto", "probability", "output"}
        What the curve follows: the target's probability (softmax, or sigmoid of a single
        logit) or the raw output; ``auto`` is probability for classification.

    Returns
    -------
    dict
        ``fractions`` (steps + 1,), ``curves`` {"deletion", "insertion": (S, steps + 1)},
        ``aucs`` {"deletion", "insertion": (S,)} (trapezoid over the fraction removed /
        inserted), ``score``.
    """
    attr, target, groups, _method = _unpack(attributions, target, groups)
    if not isinstance(steps, int) or steps < 1:
        raise ExplainError(f"'steps' must be a whole number of at least 1, not {steps!r}.")
    if score not in ("auto", "probability", "output"):
        raise ExplainError(f"The score must be 'auto', 'probability' or 'output', not {score!r}.")
    if score == "auto":
        score = "probability" if task == "classification" else "output"
    fwd = _Forward(model)
    rows = max(1, min(_MAX_ROWS, max_batch or _MAX_ROWS))
    with _evaluating(model):
        x = _tensor(inputs, model)
        n, shape = len(x), tuple(x.shape[1:])
        if attr.shape[0] != n:
            raise ExplainError(f"There are {n} samples but {attr.shape[0]} attributions.")
        logits = _outputs(fwd, x, rows)
        targets = _targets(target, logits)
        base = _baseline(baseline, x, model)
        unit_scores = _unit_scores(attr, shape, groups)
        units = _units(shape, groups)
        n_units = unit_scores.shape[1]
        counts = np.round(np.linspace(0, n_units, steps + 1)).astype(int)
        # rank[s, u]: position of unit u in sample s's descending order
        order = np.argsort(-unit_scores, axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(n_units)[None, :], axis=1)
        flat_x = x.reshape(n, -1)
        flat_b = base.reshape(base.shape[0], -1).expand(n, -1) if base.shape[0] == 1 else base.reshape(n, -1)
        curves = {"deletion": np.zeros((n, steps + 1)), "insertion": np.zeros((n, steps + 1))}
        counts_t = torch.as_tensor(counts, device=x.device)
        for s in range(n):
            elem_rank = torch.as_tensor(rank[s][units], device=x.device)
            top = (elem_rank[None, :] < counts_t[:, None]).to(x.dtype)  # (steps+1, D)
            xs, bs = flat_x[s][None], flat_b[s][None]
            deleted = xs + top * (bs - xs)
            inserted = bs + top * (xs - bs)
            batch = torch.cat([deleted, inserted]).reshape(-1, *shape)
            out = _outputs(fwd, batch, rows).double()
            if score == "probability":
                out = torch.sigmoid(out) if out.shape[1] == 1 else torch.softmax(out, dim=1)
            values = out[:, int(targets[s])].cpu().numpy()
            curves["deletion"][s] = values[: steps + 1]
            curves["insertion"][s] = values[steps + 1:]
    fractions = counts / n_units
    aucs = {k: np.trapezoid(v, fractions, axis=1) for k, v in curves.items()}
    return {"fractions": fractions, "curves": curves, "aucs": aucs, "score": score}


# ----------------------------------------------------------------------------- randomisation
def _parameter_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Layers with weights, from the output back to the input."""
    layers = getattr(model, "layers", None)
    steps = getattr(model, "steps", None)
    if isinstance(layers, nn.ModuleDict) and steps:
        ordered = [str(getattr(model, "input_id", ""))] + [str(nid) for nid, _src in steps]
        found = [(nid, layers[nid]) for nid in ordered if nid in layers]
    else:
        found = [(name, m) for name, m in model.named_modules()
                 if name and not list(m.children())]
    return [(name, m) for name, m in reversed(found) if any(True for _ in m.parameters())]


def _randomise(module: nn.Module, seed: int) -> None:
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        done: set[int] = set()
        for sub in module.modules():
            reset = getattr(sub, "reset_parameters", None)
            if callable(reset):
                reset()
                done.update(id(p) for p in sub.parameters(recurse=False))
        for p in module.parameters():
            if id(p) not in done:
                p.normal_(0.0, 0.02)


def randomisation_check(
    model: nn.Module,
    inputs: Any,
    method: str | Callable[[nn.Module, np.ndarray, list[int]], np.ndarray] = "saliency",
    *,
    target: int | Sequence[int] | None = None,
    layers: Sequence[str] | None = None,
    layer: str | None = None,
    absolute: bool = True,
    seed: int = 0,
    **attribute_kwargs: Any,
) -> list[tuple[str, float]]:
    """Cascading model randomisation: Spearman correlation with the trained model's map.

    Layers are re-initialised cumulatively from the output down (or in the order given), in
    a copy of the model; after each, the map is recomputed for the same targets and compared
    with the trained model's map by Spearman rank correlation (of absolute values when
    ``absolute``), averaged over samples. Correlations that stay near 1 mean the map does not
    depend on the learned weights.

    Parameters
    ----------
    method : str or callable
        A method id (made with ``make_explainer(method, model, layer=layer)``) or a function
        ``(model, inputs, targets) -> attributions``.
    """
    from scipy.stats import spearmanr

    x = np.asarray(inputs)

    def explain(m: nn.Module, targets: Any) -> tuple[np.ndarray, list[int]]:
        if callable(method):
            t = targets if targets is not None else _targets(None, _outputs(_Forward(m), _tensor(x, m), _MAX_ROWS)).tolist()
            return np.asarray(method(m, x, list(t)), dtype=np.float64), list(t)
        r = make_explainer(method, m, layer=layer).attribute(x, target=targets, seed=seed, **attribute_kwargs)
        return r.attributions, [int(t) for t in r.targets if t is not None]

    trained, targets = explain(model, target)
    available = _parameter_layers(model)
    names = [n for n, _m in available]
    if layers is None:
        chosen = names
    else:
        chosen = list(layers)
        for name in chosen:
            if name not in names:
                raise ExplainError(f"Layer {name!r} has no weights to randomise; choose from {', '.join(names)}.")
    if not chosen:
        raise ExplainError("The model has no layers with weights to randomise.")
    randomised = copy.deepcopy(model)
    modules = dict(_parameter_layers(randomised))
    results: list[tuple[str, float]] = []
    for k, name in enumerate(chosen):
        _randomise(modules[name], seed + k + 1)
        attr, _t = explain(randomised, targets)
        rhos = []
        for a, b in zip(trained.reshape(len(x), -1), attr.reshape(len(x), -1)):
            if absolute:
                a, b = np.abs(a), np.abs(b)
            if np.ptp(a) == 0 or np.ptp(b) == 0:
                rhos.append(np.nan)  # a constant map has no ranking
                continue
            rhos.append(float(spearmanr(a, b).statistic))
        finite = [r for r in rhos if np.isfinite(r)]
        results.append((name, float(np.mean(finite)) if finite else float("nan")))
    return results
