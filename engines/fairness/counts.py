"""Confusion counts per group, and every metric, difference and ratio computed from them.

Every classification metric of the fairness panel is a function of a group's confusion counts
(TN, FP, FN, TP) — plus, for the calibration error, per-bin sums of the scores. So the counts
are taken once with one ``np.bincount`` over (joint group × actual × predicted × score bin),
and all functions here work on count arrays with any leading axes: the same code gives the
point estimates (no leading axis) and the bootstrap distributions (a leading resample axis).

Undefined values are NaN, never 0: a rate whose denominator is zero, and a difference or ratio
with fewer than two groups where the metric is defined. ``metric_reasons`` and
``difference_reasons`` say why in a sentence. A ratio is ``min / max`` of non-negative rates,
so its denominator is zero only when every rate is zero; that is 0/0, NaN (as fairlearn's
``MetricFrame.ratio`` gives), never infinity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = [
    "CALIBRATION_BINS",
    "DIFFERENCES",
    "FOUR_FIFTHS",
    "FOUR_FIFTHS_TOLERANCE",
    "four_fifths_from_ratio",
    "four_fifths_holds",
    "METRICS",
    "aggregate",
    "calibration_bins",
    "cell_counts",
    "difference_reasons",
    "differences_from_metrics",
    "metric_reasons",
    "metrics_from_counts",
]

METRICS = ("selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision", "calibration_error")
DIFFERENCES = ("dp_difference", "dp_ratio", "eo_difference", "eop_difference", "di_ratio")
CALIBRATION_BINS = 10
FOUR_FIFTHS = 0.8
# Used only where a verdict must be read off a floating-point ratio alone (the counts are not
# at hand): 4/6 over 5/6 is 0.7999999999999999 in floating point, and passes. With counts the
# rule is decided exactly (:func:`four_fifths_holds`).
FOUR_FIFTHS_TOLERANCE = 1e-9

# metric -> (numerator cells, denominator cells, why the denominator is zero);
# cells index the flattened (actual, predicted) pair: 0 TN, 1 FP, 2 FN, 3 TP
_RATES: dict[str, tuple[tuple[int, ...], tuple[int, ...], str]] = {
    "selection_rate": ((1, 3), (0, 1, 2, 3), "the group is empty"),
    "accuracy": ((0, 3), (0, 1, 2, 3), "the group is empty"),
    "tpr": ((3,), (2, 3), "the group has no actual favourable outcomes (TP + FN = 0)"),
    "fnr": ((2,), (2, 3), "the group has no actual favourable outcomes (TP + FN = 0)"),
    "fpr": ((1,), (0, 1), "the group has no actual unfavourable outcomes (FP + TN = 0)"),
    "precision": ((3,), (1, 3), "the group has no predicted favourable outcomes (TP + FP = 0)"),
}


def four_fifths_holds(selected: Sequence[int], sizes: Sequence[int]) -> bool | None:
    """The four-fifths rule, decided exactly from counts.

    ``selected[g]`` of ``sizes[g]`` rows of group ``g`` got the favourable decision. The rule
    holds when the lowest selection rate is at least 4/5 of the highest, compared as
    fractions of whole numbers (``5·a·m ≥ 4·b·n`` for rates a/n and b/m), so a ratio of exactly
    0.8 passes however it is written in floating point. Groups with no rows are left out;
    None when fewer than two groups are left or every rate is 0 (the ratio is 0/0).
    """
    rates = [Fraction(int(a), int(n)) for a, n in zip(selected, sizes) if int(n) > 0]
    if len(rates) < 2 or max(rates) == 0:
        return None
    return min(rates) * 5 >= max(rates) * 4


def four_fifths_from_ratio(ratio: float | None) -> bool | None:
    """The four-fifths rule read off a ratio of selection rates (lowest / highest).

    For when only the ratio is known: within :data:`FOUR_FIFTHS_TOLERANCE` of 0.8 passes, which
    agrees with :func:`four_fifths_holds` for every ratio of counts below 10**4 rows per group.
    A ratio above 1 is read as its reciprocal. None when the ratio is undefined.
    """
    if ratio is None or math.isnan(ratio):
        return None
    if ratio <= 0 or math.isinf(ratio):
        return False
    # bool(): a numpy float (a ratio read off an array) would give numpy.bool_, which is not
    # `True`/`False` and not JSON-serializable
    return bool(min(ratio, 1.0 / ratio) >= FOUR_FIFTHS - FOUR_FIFTHS_TOLERANCE)


def calibration_bins(scores: np.ndarray, n_bins: int = CALIBRATION_BINS) -> np.ndarray:
    """Bin index of each score in ``n_bins`` equal-width bins on [0, 1].

    Bin ``i`` holds ``(i/n, (i+1)/n]`` and the first also holds 0 — the binning of
    ``sklearn.calibration.calibration_curve(strategy="uniform")``.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], scores).astype(np.int64)


def cell_counts(
    joint: np.ndarray,
    n_joint: int,
    actual: np.ndarray,
    predicted: np.ndarray,
    scores: np.ndarray | None = None,
    n_bins: int = CALIBRATION_BINS,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Counts per cell ``(J, 2 actual, 2 predicted, bins)`` and the score sum of each cell.

    ``actual`` and ``predicted`` are booleans (favourable or not); without scores there is
    one bin and no sums.
    """
    nb = n_bins if scores is not None else 1
    code = ((joint * 2 + actual) * 2 + predicted) * nb
    if scores is not None:
        code = code + calibration_bins(scores, n_bins)
    size = n_joint * 4 * nb
    counts = np.bincount(code, minlength=size).reshape(n_joint, 2, 2, nb)
    sums = None
    if scores is not None:
        sums = np.bincount(code, weights=scores, minlength=size).reshape(n_joint, 2, 2, nb)
    return counts, sums


def aggregate(cells: np.ndarray, members: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum joint cells ``(..., J, 2, 2, bins)`` into groups ``(..., G, 2, 2, bins)``.

    ``members[j]`` is the group of joint cell ``j``. A 0/1 matrix product does the sums in one
    BLAS call; integer counts stay exact in float64 up to 2**53.
    """
    onehot = np.zeros((len(members), n_groups))
    onehot[np.arange(len(members)), members] = 1.0
    moved = np.moveaxis(np.asarray(cells, dtype=np.float64), -4, -1)  # (..., 2, 2, bins, J)
    return np.moveaxis(moved @ onehot, -1, -4)


def metrics_from_counts(counts: np.ndarray, score_sums: np.ndarray | None) -> dict[str, np.ndarray]:
    """Every metric of :data:`METRICS` plus ``size`` from counts ``(..., 2, 2, bins)``.

    ``calibration_error`` is the expected calibration error: the size-weighted mean over
    score bins of |mean score − fraction actually favourable|; NaN without scores.
    """
    counts = np.asarray(counts, dtype=np.float64)
    flat = counts.sum(-1).reshape(*counts.shape[:-3], 4)
    out: dict[str, np.ndarray] = {"size": flat.sum(-1)}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, (num, den, _) in _RATES.items():
            d = flat[..., list(den)].sum(-1)
            n = flat[..., list(num)].sum(-1)
            out[name] = np.where(d > 0, n / np.where(d > 0, d, 1.0), np.nan)
        if score_sums is None:
            out["calibration_error"] = np.full(out["size"].shape, np.nan)
        else:
            positives = counts[..., 1, :, :].sum(-2)  # (..., bins)
            sums = np.asarray(score_sums, dtype=np.float64).sum((-3, -2))
            size = out["size"]
            gap = np.abs(sums - positives).sum(-1)
            out["calibration_error"] = np.where(size > 0, gap / np.where(size > 0, size, 1.0), np.nan)
    return out


def metric_reasons(counts: np.ndarray, has_scores: bool) -> list[dict[str, str]]:
    """For each group of ``counts (G, 2, 2, bins)``: ``{metric: why it is undefined}``."""
    flat = np.asarray(counts).sum(-1).reshape(-1, 4)
    out = []
    for row in flat:
        reasons = {}
        for name, (_, den, why) in _RATES.items():
            if row[list(den)].sum() == 0:
                reasons[name] = why
        if not has_scores:
            reasons["calibration_error"] = "no scores were given, only hard predictions"
        elif row.sum() == 0:
            reasons["calibration_error"] = "the group is empty"
        out.append(reasons)
    return out


def _spread(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(max − min, min / max, groups defined) over the last axis, ignoring NaN groups."""
    defined = ~np.isnan(values)
    k = defined.sum(-1)
    hi = np.where(defined, values, -np.inf).max(-1, initial=-np.inf)
    lo = np.where(defined, values, np.inf).min(-1, initial=np.inf)
    ok = k >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = np.where(ok, hi - lo, np.nan)
        ratio = np.where(ok & (hi > 0), lo / np.where(hi > 0, hi, 1.0), np.nan)
    return diff, ratio, k


def differences_from_metrics(by_group: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Differences and ratios between groups from metrics ``{metric: (..., G)}``.

    ``dp_difference`` / ``dp_ratio``: max − min and min / max of the selection rates
    (fairlearn's ``demographic_parity_difference`` / ``_ratio``); ``eo_difference``: the larger
    of the TPR and FPR differences (fairlearn's ``equalized_odds_difference``);
    ``eop_difference``: the TPR difference; ``di_ratio``: lowest / highest selection rate,
    the disparate-impact ratio the four-fifths rule compares with 0.8.
    """
    dp, dp_ratio, _ = _spread(by_group["selection_rate"])
    tpr, _, _ = _spread(by_group["tpr"])
    fpr, _, _ = _spread(by_group["fpr"])
    eo = np.where(np.isnan(tpr) | np.isnan(fpr), np.nan, np.maximum(tpr, fpr))
    return {
        "dp_difference": dp,
        "dp_ratio": dp_ratio,
        "eo_difference": eo,
        "eop_difference": tpr,
        "di_ratio": dp_ratio.copy(),
    }


def difference_reasons(by_group: dict[str, np.ndarray], groups: list[str]) -> dict[str, dict[str, Any]]:
    """Per difference: ``reason`` (why it is NaN, or which groups are left out, else "").

    ``by_group`` holds point estimates ``{metric: (G,)}``; ``groups`` their labels.
    """

    def about(metric: str, label: str) -> tuple[str, list[str]]:
        values = by_group[metric]
        left_out = [g for g, v in zip(groups, values) if np.isnan(v)]
        defined = len(groups) - len(left_out)
        if defined < 2:
            return (
                f"needs at least two groups with a defined {label}; "
                f"{defined} of {len(groups)} have one", left_out,
            )
        return "", left_out

    out: dict[str, dict[str, Any]] = {}
    sr_why, sr_out = about("selection_rate", "selection rate")
    tpr_why, tpr_out = about("tpr", "true positive rate")
    fpr_why, fpr_out = about("fpr", "false positive rate")
    sel = by_group["selection_rate"]
    all_zero = not sr_why and np.nanmax(sel) == 0
    ratio_why = sr_why or ("every group's selection rate is 0, so the ratio is 0/0" if all_zero else "")
    eo_why = "; ".join(w for w in (tpr_why and f"TPR {tpr_why}", fpr_why and f"FPR {fpr_why}") if w)
    for name, why, left in (
        ("dp_difference", sr_why, sr_out),
        ("dp_ratio", ratio_why, sr_out),
        ("eo_difference", eo_why, sorted(set(tpr_out) | set(fpr_out), key=groups.index)),
        ("eop_difference", tpr_why, tpr_out),
        ("di_ratio", ratio_why, sr_out),
    ):
        if not why and left:
            why = f"groups left out (metric undefined): {', '.join(left)}"
        out[name] = {"reason": why, "left_out": left}
    return out
