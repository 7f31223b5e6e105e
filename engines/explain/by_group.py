"""Attributions compared across groups: per-group means with intervals, and permutation tests.

:func:`compare_groups` takes attributions that are already computed — ``(N, F)`` for a table
(one column per feature or feature group), ``(N, *map)`` for images and sequences — and the
group of each sample (``(N,)``, e.g. the values of a sensitive column), and answers "does the
model explain its outputs differently for different groups?":

- per group: its size, the mean attribution and the mean |attribution| of every feature, each
  with a percentile bootstrap interval (samples resampled with replacement within the group,
  so group sizes stay fixed; seeded);
- per feature: a permutation test of "no difference between groups". The group labels are
  shuffled over the samples (group sizes kept) ``n_perm`` times. The statistic is the largest
  difference between group means, ``max_g mean_g − min_g mean_g`` — for two groups that is
  ``|mean_a − mean_b|``, so the test is two-sided. The p-value is
  ``(1 + #{permuted statistic ≥ observed}) / (1 + n_perm)``: the observed labelling counts as
  one of the permutations, so p is never 0 and the test is valid (it rejects at most a
  fraction α of the time when there is no difference; Phipson & Smyth, 2010). Ties count as
  "≥", which makes identical groups give p = 1. The same test is run on the mean
  |attribution| (does the model *rely* on a feature more for one group?);
- across features: Holm–Bonferroni adjusted p-values (:func:`holm`), for the mean and the
  mean |attribution| separately, next to the raw ones.

Maps (images, sequences) get per-group mean maps and mean |maps| and one test of the whole
map (statistic: the largest Euclidean distance between two group mean maps), without
per-pixel intervals or tests.

Groups listed in ``group_order`` that have no samples are reported with size 0, NaN means and
a reason, and take no part in the tests. The bootstrap and the permutations draw from two
independent streams spawned from ``seed``, so changing ``n_boot`` leaves the p-values as they
were. Everything is numpy; nothing here calls a model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

import numpy as np

from engines.explain.result import Cancelled, ExplainError

__all__ = [
    "P_VALUE_RULE",
    "GroupAttributionComparison",
    "compare_groups",
    "holm",
]

P_VALUE_RULE = "(1 + #{permuted >= observed}) / (1 + n_perm)"
STATISTIC = "largest difference between group means (max - min; two groups: |a - b|, two-sided)"
MAP_STATISTIC = "largest Euclidean distance between two group mean maps"
CORRECTION = "holm"
CORRECTION_TEXT = "Holm–Bonferroni across features"
_CHUNK = 2_000_000  # elements per batch of resamples or permutations (memory bound)
_TIE = 1e-10  # relative: float noise between sums of the same numbers in another order

# array fields: stored as .npy with an analysis, nested lists in to_dict()
ARRAY_FIELDS = (
    "mean", "mean_abs", "mean_ci", "mean_abs_ci", "difference", "difference_abs", "between",
    "between_abs", "p_value", "p_holm", "p_value_abs", "p_holm_abs", "attributions", "group_index",
)


def _encode(value: Any) -> Any:
    """``value`` as JSON: arrays as nested lists, non-finite floats as "NaN" / "Infinity"."""
    if isinstance(value, np.ndarray):
        return _encode(value.tolist())
    if isinstance(value, np.generic):
        return _encode(value.item())
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


_DECODED = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value in _DECODED:
        return _DECODED[value]
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    return value


def holm(p_values: Any) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values, in the order given; NaN stays NaN.

    With the m finite p-values sorted, ``p(1) ≤ … ≤ p(m)``, the i-th adjusted value is
    ``max_{j ≤ i} min(1, (m − j + 1) · p(j))``: the running maximum keeps the adjusted values
    in the same order as the raw ones (the monotonicity step). Ties get the same value.
    Rejecting every hypothesis whose adjusted p is ≤ α keeps the family-wise error rate ≤ α.
    """
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


@dataclass(eq=False)  # arrays inside: compare fields explicitly
class GroupAttributionComparison:
    """Attributions of the samples of each group, side by side, with tests of the differences.

    Attributes
    ----------
    features : a name per attribution column (tables); ``[]`` for maps.
    groups : group labels, in order; ``sizes`` the number of samples in each.
    mean, mean_abs : ``(G, F)`` (maps: ``(G, *map_shape)``) mean attribution and mean
        |attribution| per group; NaN for an empty group.
    mean_ci, mean_abs_ci : ``(G, F, 2)`` percentile bootstrap intervals ``[low, high]``
        (NaN when ``n_boot`` is 0 or the group is empty); None for maps.
    difference : ``(F,)`` with two non-empty groups the signed difference of means
        ``mean(first) − mean(second)`` (in the order of ``groups``); with more, the largest
        difference ``max − min`` (≥ 0). ``between`` ``(F, 2)``: indices into ``groups`` of
        the two groups it is between (two groups: first, second; more: highest, lowest).
        ``difference_abs`` / ``between_abs`` likewise for the mean |attribution|. Maps: the
        difference maps ``(*map_shape)``, ``between`` None.
    p_value, p_holm : ``(F,)`` permutation p-value of "no difference between the group means"
        (rule: ``p_rule``) and its Holm–Bonferroni adjustment across features (``correction``);
        ``p_value_abs`` / ``p_holm_abs`` for the mean |attribution|. None for maps.
    map_shape : the shape of one map (images, sequences), else None.
    map_test : for maps, ``{"statistic", "value", "p_value", "value_abs", "p_value_abs"}``.
    attributions : ``(N, F)`` the per-sample attributions compared (tables only; None for
        maps), ``group_index`` ``(N,)`` each sample's index into ``groups``.
    n_boot, n_perm, confidence, seed : the settings; bootstrap and permutations draw from two
        streams spawned from ``seed``.
    statistic, p_rule, correction : the test, the p-value rule and the correction, in words.
    reasons : ``{group: why its values are NaN}``; ``notes``: sentences a reader should see.
    """

    features: list[str]
    groups: list[str]
    sizes: list[int]
    mean: np.ndarray
    mean_abs: np.ndarray
    difference: np.ndarray
    difference_abs: np.ndarray
    n_boot: int
    n_perm: int
    confidence: float
    seed: int
    mean_ci: np.ndarray | None = None
    mean_abs_ci: np.ndarray | None = None
    between: np.ndarray | None = None
    between_abs: np.ndarray | None = None
    p_value: np.ndarray | None = None
    p_holm: np.ndarray | None = None
    p_value_abs: np.ndarray | None = None
    p_holm_abs: np.ndarray | None = None
    map_shape: list[int] | None = None
    map_test: dict[str, Any] | None = None
    attributions: np.ndarray | None = None
    group_index: np.ndarray | None = None
    statistic: str = STATISTIC
    p_rule: str = P_VALUE_RULE
    correction: str = CORRECTION_TEXT
    reasons: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def is_map(self) -> bool:
        return self.map_shape is not None

    def order(self, which: str = "mean") -> list[int]:
        """Feature indices, the largest |difference| first (ties and NaN: feature order, NaN last)."""
        d = np.asarray(self.difference if which == "mean" else self.difference_abs, dtype=float)
        if self.is_map:
            return []
        key = np.where(np.isfinite(d), -np.abs(d), np.inf)
        return [int(i) for i in np.argsort(key, kind="stable")]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (arrays as nested lists, non-finite numbers as "NaN" /
        "Infinity" / "-Infinity") that :meth:`from_dict` reads back."""
        out = {f.name: _encode(getattr(self, f.name)) for f in fields(self)}
        out["format"] = "model-workbench-group-attributions"
        return out

    @classmethod
    def from_dict(cls, d: Any) -> GroupAttributionComparison:
        """Rebuild a comparison from :meth:`to_dict` output (arrays may be numpy arrays).

        Raises
        ------
        ExplainError
            If ``d`` is not such a dict, or a field is missing or not numbers.
        """
        if not isinstance(d, dict) or d.get("format") != "model-workbench-group-attributions":
            raise ExplainError("This is not a saved comparison of attributions across groups.")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in d:
                if f.default is not MISSING or f.default_factory is not MISSING:
                    continue
                raise ExplainError(f"The saved group comparison has no {f.name!r} field.")
            value = d[f.name]
            if f.name in ARRAY_FIELDS and value is not None:
                try:
                    value = np.asarray(_decode(value) if isinstance(value, list) else value,
                                       dtype=np.int64 if f.name in ("between", "between_abs", "group_index")
                                       else np.float64)
                except (TypeError, ValueError):
                    raise ExplainError(
                        f"The saved group comparison field {f.name!r} is not an array of numbers."
                    ) from None
            elif f.name in ("map_test", "confidence", "elapsed"):
                value = _decode(value)
            kwargs[f.name] = value
        try:
            result = cls(**kwargs)
        except TypeError as exc:
            raise ExplainError(f"The saved group comparison cannot be read: {exc}.") from None
        g = len(result.groups)
        if len(result.sizes) != g or result.mean.shape[:1] != (g,) or result.mean_abs.shape != result.mean.shape:
            raise ExplainError("The saved group comparison has arrays of mismatched sizes.")
        return result



def _check_inputs(
    attributions: Any, groups: Any, feature_names: Sequence[str] | None,
    group_order: Sequence[Any] | None, n_boot: int, n_perm: int, confidence: float,
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    try:
        A = np.asarray(attributions, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExplainError("The attributions are not numbers.") from None
    if A.ndim < 2:
        raise ExplainError(
            f"Attributions must be (samples, features) or (samples, *map shape); got shape {A.shape}."
        )
    labels = np.asarray(groups, dtype=object).reshape(-1) if np.ndim(groups) else np.zeros(0, object)
    if len(labels) != A.shape[0]:
        raise ExplainError(f"{len(labels)} group labels for {A.shape[0]} samples.")
    bad = int(np.count_nonzero(~np.isfinite(A)))
    if bad:
        raise ExplainError(f"{bad} attribution value(s) are not finite (NaN or infinite); "
                           "groups cannot be compared on them.")
    for name, value in (("n_boot", n_boot), ("n_perm", n_perm)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ExplainError(f"{name} must be a whole number of at least 0, not {value!r}.")
    if not (isinstance(confidence, int | float) and 0.0 < float(confidence) < 1.0):
        raise ExplainError(f"confidence must be between 0 and 1 (exclusive), not {confidence!r}.")
    text = np.array(["missing" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                     for v in labels], dtype=object)
    if group_order is not None:
        names = [str(g) for g in group_order]
        if len(set(names)) != len(names):
            raise ExplainError(f"The group order names a group twice: {names}.")
        unknown = sorted(set(text.tolist()) - set(names))
        if unknown:
            raise ExplainError(f"Samples are in group(s) {unknown} that the group order does not list.")
    else:
        names = sorted(set(text.tolist()))
    index = {g: i for i, g in enumerate(names)}
    codes = np.array([index[t] for t in text], dtype=np.int64)
    if A.ndim == 2:
        features = [str(f) for f in feature_names] if feature_names is not None else \
            [f"feature {j}" for j in range(A.shape[1])]
        if len(features) != A.shape[1]:
            raise ExplainError(f"{len(features)} feature names for {A.shape[1]} attribution columns.")
    else:
        features = []
    return A, codes, names, features


def _spread(means: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``max − min`` over the present groups of ``means`` ``(..., G, F)``."""
    m = means[..., present, :]
    return m.max(axis=-2) - m.min(axis=-2)


def _pair_distance(means: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Largest Euclidean distance between two present groups' rows of ``means`` ``(..., G, P)``."""
    m = means[..., present, :]
    k = m.shape[-2]
    best = np.zeros(m.shape[:-2])
    for a in range(k):
        for b in range(a + 1, k):
            best = np.maximum(best, np.sqrt(((m[..., a, :] - m[..., b, :]) ** 2).sum(-1)))
    return best


def compare_groups(
    attributions: Any,
    groups: Any,
    *,
    feature_names: Sequence[str] | None = None,
    group_order: Sequence[Any] | None = None,
    n_boot: int = 1000,
    n_perm: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> GroupAttributionComparison:
    """Compare attributions across groups (see the module docstring for the statistics).

    Parameters
    ----------
    attributions : ``(N, F)`` per-sample attributions of a table, or ``(N, *map)`` maps.
    groups : ``(N,)`` each sample's group (any values; compared as text, None/NaN are
        "missing").
    feature_names : a name per column of a table (default "feature j").
    group_order : every group to report, in this order, including groups with no samples
        (default: the groups present, sorted as text).
    n_boot : bootstrap resamples per group (0: no intervals).
    n_perm : shuffles of the group labels per test (0: no p-values).
    confidence : of the percentile intervals.
    seed : bootstrap and permutation streams are spawned from it.
    progress, cancel : ``progress(fraction)``; ``cancel()`` returning True raises
        :class:`Cancelled` between batches.

    Raises
    ------
    ExplainError
        Bad shapes, non-finite attributions, fewer than two groups with samples.
    """
    started = time.perf_counter()
    A, codes, names, features = _check_inputs(
        attributions, groups, feature_names, group_order, n_boot, n_perm, confidence)
    n = A.shape[0]
    if n == 0:
        raise ExplainError("There are no samples to compare.")
    map_shape = list(A.shape[1:]) if A.ndim > 2 else None
    flat = A.reshape(n, -1)
    width = flat.shape[1]
    n_groups = len(names)
    sizes = np.bincount(codes, minlength=n_groups).astype(np.int64)
    present = np.flatnonzero(sizes > 0)
    if len(present) < 2:
        raise ExplainError(
            f"All {n} samples are in one group ({names[int(present[0])]!r}); comparing groups "
            "needs samples from at least two."
        )
    reasons = {names[g]: "no samples in this group" for g in range(n_groups) if sizes[g] == 0}
    notes: list[str] = []
    if reasons:
        notes.append(f"Group(s) {', '.join(repr(g) for g in reasons)} have no samples: their values are "
                     "NaN and they take no part in the tests.")
    single = [names[g] for g in present if sizes[g] == 1]
    if single:
        notes.append(f"Group(s) {', '.join(repr(g) for g in single)} have one sample: the mean is that "
                     "sample's attribution and its interval is a single point.")

    magnitude = np.abs(flat)
    both = np.concatenate([flat, magnitude], axis=1)  # (N, 2P): mean and mean |a| in one pass
    onehot = np.zeros((n_groups, n))
    onehot[codes, np.arange(n)] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = (onehot @ both) / sizes[:, None]
    observed[sizes == 0] = np.nan
    mean, mean_abs = observed[:, :width], observed[:, width:]

    boot_stream, perm_stream = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    per_boot = max(1, _CHUNK // max(1, n + 2 * width))
    per_perm = max(1, _CHUNK // max(1, n_groups * n + n_groups * 2 * width))
    total = (math.ceil(n_boot / per_boot) * len(present) if map_shape is None else 0) + math.ceil(n_perm / per_perm)
    done = 0

    def step() -> None:
        nonlocal done
        if cancel is not None and cancel():
            raise Cancelled("The group comparison was cancelled.")
        done += 1
        if progress is not None and total:
            progress(min(done / total, 1.0))

    # ---------------------------------------------------------------- bootstrap intervals
    mean_ci = mean_abs_ci = None
    if map_shape is None:
        alpha = (1.0 - float(confidence)) / 2.0
        ci = np.full((n_groups, 2 * width, 2), np.nan)
        if n_boot > 0:
            for g in present:
                rows = both[codes == g]
                k = len(rows)
                draws = []
                left = n_boot
                while left > 0:
                    b = min(per_boot, left)
                    counts = boot_stream.multinomial(k, np.full(k, 1.0 / k), size=b)
                    draws.append(counts @ rows / k)
                    left -= b
                    step()
                boots = np.concatenate(draws)
                ci[g, :, 0], ci[g, :, 1] = np.quantile(boots, [alpha, 1.0 - alpha], axis=0)
        else:
            notes.append("No bootstrap resamples (n_boot = 0): no intervals.")
        mean_ci, mean_abs_ci = ci[:, :width], ci[:, width:]

    # ------------------------------------------------------------------- differences
    def signed(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(present) == 2:
            a, b = int(present[0]), int(present[1])
            return values[a] - values[b], np.tile([a, b], (values.shape[1], 1))
        sub = values[present]
        hi, lo = present[np.argmax(sub, axis=0)], present[np.argmin(sub, axis=0)]
        return sub.max(axis=0) - sub.min(axis=0), np.stack([hi, lo], axis=1)

    difference, between = signed(mean)
    difference_abs, between_abs = signed(mean_abs)

    # ------------------------------------------------------------------ permutation tests
    if map_shape is None:
        stat_obs = _spread(observed[None], present)[0]  # (2P,)
    else:
        stat_obs = np.array([_pair_distance(mean[None], present)[0],
                             _pair_distance(mean_abs[None], present)[0]])
    scale = np.abs(both).max(axis=0)
    if map_shape is not None:
        scale = np.array([np.sqrt((scale[:width] ** 2).sum()), np.sqrt((scale[width:] ** 2).sum())])
    tol = _TIE * np.maximum(scale, np.finfo(float).tiny)
    at_least = np.zeros(stat_obs.shape, dtype=np.int64)
    left = n_perm
    while left > 0:
        b = min(per_perm, left)
        shuffled = perm_stream.permuted(np.broadcast_to(codes, (b, n)), axis=1)
        hot = np.zeros((b, n_groups, n))
        hot[np.arange(b)[:, None], shuffled, np.arange(n)[None, :]] = 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            means = (hot @ both) / sizes[None, :, None]
        if map_shape is None:
            stat = _spread(means, present)
        else:
            stat = np.stack([_pair_distance(means[..., :width], present),
                             _pair_distance(means[..., width:], present)], axis=1)
        at_least += np.count_nonzero(stat >= stat_obs - tol, axis=0)
        left -= b
        step()
    p_all = (1.0 + at_least) / (1.0 + n_perm) if n_perm > 0 else np.full(stat_obs.shape, np.nan)
    if n_perm == 0:
        notes.append("No permutations (n_perm = 0): no p-values.")

    shape = (n_groups, *map_shape) if map_shape is not None else (n_groups, width)
    result = GroupAttributionComparison(
        features=features, groups=names, sizes=[int(s) for s in sizes],
        mean=mean.reshape(shape), mean_abs=mean_abs.reshape(shape),
        difference=difference if map_shape is None else difference.reshape(map_shape),
        difference_abs=difference_abs if map_shape is None else difference_abs.reshape(map_shape),
        n_boot=int(n_boot), n_perm=int(n_perm), confidence=float(confidence), seed=int(seed),
        reasons=reasons, notes=notes,
    )
    if map_shape is None:
        result.mean_ci, result.mean_abs_ci = mean_ci, mean_abs_ci
        result.between, result.between_abs = between, between_abs
        result.p_value, result.p_value_abs = p_all[:width], p_all[width:]
        result.p_holm, result.p_holm_abs = holm(result.p_value), holm(result.p_value_abs)
        result.attributions, result.group_index = flat.copy(), codes
    else:
        result.map_shape = map_shape
        result.statistic = MAP_STATISTIC
        result.correction = "none (one test of the whole map per statistic)"
        result.map_test = {"statistic": MAP_STATISTIC, "value": float(stat_obs[0]),
                           "p_value": float(p_all[0]), "value_abs": float(stat_obs[1]),
                           "p_value_abs": float(p_all[1])}
        result.group_index = codes
    result.elapsed = time.perf_counter() - started
    return result
