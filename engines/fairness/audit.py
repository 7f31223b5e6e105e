"""Fairness audits: metrics by group from confusion counts, with bootstrap intervals.

``audit`` is the full report (point estimates and intervals); ``point_metrics`` the same
without the bootstrap, fast enough for every epoch of a training run; ``threshold_sweep``
the metrics by group at many decision thresholds at once.

Outcomes are binary: a row is *favourable* when its label equals ``favourable`` (any other
label is "not favourable", so a multi-class target is read as favourable-vs-rest). A
prediction is either a hard label or a score — the probability of the favourable outcome —
which is favourable when ``score > threshold`` (with 0.5, the same as taking the more likely
of two classes, as ``workbench predict`` does).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from statistics import NormalDist
from typing import Any

import numpy as np

from engines.fairness.bootstrap import resampled_cells
from engines.fairness.counts import (
    DIFFERENCES,
    METRICS,
    aggregate,
    cell_counts,
    difference_reasons,
    differences_from_metrics,
    four_fifths_holds,
    metric_reasons,
    metrics_from_counts,
)
from engines.fairness.groups import FairnessError, SensitiveGroups, encode_sensitive
from engines.fairness.permutation import permutation_pvalues
from engines.fairness.report import FairnessReport, decode_floats, encode_floats

__all__ = ["ThresholdSweep", "audit", "point_metrics", "prepare_outcomes", "threshold_sweep"]

_SWEEP_METRICS = ("selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision")


# --------------------------------------------------------------------------- inputs
def _python(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value


def _check_threshold(threshold: Any) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.integer | np.floating):
        raise FairnessError(f"The threshold must be a number between 0 and 1, not {threshold!r}.")
    t = float(threshold)
    if not (0.0 <= t <= 1.0):
        raise FairnessError(f"The threshold must be between 0 and 1, got {t:g}.")
    return t


def _labels_1d(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise FairnessError(f"{what} must be one label per row, got shape {arr.shape}.")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise FairnessError(f"{what} has missing (NaN) values; drop those rows first.")
    return arr


def _contains(labels: np.ndarray, value: Any) -> bool:
    try:
        return bool(np.any(labels == value))
    except (TypeError, ValueError):
        return False


def prepare_outcomes(
    y_true: Any,
    y_score_or_pred: Any,
    *,
    favourable: Any = 1,
    threshold: float = 0.5,
    classes: Sequence[Any] | None = None,
    kind: str = "auto",
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[str]]:
    """``(actual, predicted, scores or None, notes)``: favourable outcomes as booleans.

    ``y_score_or_pred`` is read as scores when it is 2-D (class probabilities; the column of
    the favourable class is taken: ``classes.index(favourable)``, or ``favourable`` itself
    when it is a class index) or 1-D floating point with values other than the labels of
    ``y_true``; otherwise as hard predicted labels. ``kind="scores"`` or ``"labels"`` says
    which it is instead of guessing (scores of exactly 0 and 1 look like labels).

    Raises
    ------
    FairnessError
        Length mismatch, no rows, a favourable label that occurs nowhere, scores outside
        [0, 1] or not finite, a threshold outside [0, 1].
    """
    t = _check_threshold(threshold)
    if kind not in ("auto", "scores", "labels"):
        raise FairnessError(f"kind must be 'auto', 'scores' or 'labels', not {kind!r}.")
    truth = _labels_1d(y_true, "y_true")
    pred = np.asarray(y_score_or_pred)
    if len(truth) == 0:
        raise FairnessError("There are no rows to audit.")
    if pred.ndim == 0 or len(pred) != len(truth):
        got = "a single value" if pred.ndim == 0 else f"{len(pred)}"
        raise FairnessError(f"y_true has {len(truth)} values but the predictions have {got}.")
    notes: list[str] = []
    scores: np.ndarray | None = None
    if pred.ndim == 2 and kind != "labels":
        if classes is not None:
            if not _contains(np.asarray(list(classes), dtype=object), favourable):
                raise FairnessError(f"The favourable label {favourable!r} is not one of the classes {list(classes)}.")
            col = list(classes).index(favourable)
        elif isinstance(favourable, int | np.integer) and not isinstance(favourable, bool):
            col = int(favourable)
        else:
            raise FairnessError(
                f"Class probabilities need the class names (classes=...) to find the column "
                f"of the favourable label {favourable!r}."
            )
        if not 0 <= col < pred.shape[1]:
            raise FairnessError(
                f"The favourable class index {col} is outside the {pred.shape[1]} probability columns."
            )
        scores = pred[:, col]
    elif pred.ndim == 1 and kind == "scores":
        if pred.dtype.kind not in "iuf":
            raise FairnessError(f"Scores must be numbers, not {pred.dtype} values.")
        scores = pred
    elif pred.ndim == 1 and pred.dtype.kind == "f" and kind == "auto":
        uniq = np.unique(pred[~np.isnan(pred)])
        is_labels = len(uniq) <= 2 and truth.dtype.kind in "iufb" and np.isin(uniq, truth).all()
        if not is_labels:
            scores = pred
    elif pred.ndim != 1:
        raise FairnessError(f"Predictions must be one value per row or (rows, classes) probabilities, got shape {pred.shape}.")

    # known: it occurs, or it is a class (of `classes`, or 0/1 of a 0/1 target) no row has
    binary = truth.dtype.kind in "iub" and np.isin(truth, (0, 1)).all() and _contains(np.array([0, 1]), favourable)
    listed = classes is not None and _contains(np.asarray(list(classes), dtype=object), favourable)
    seen_anywhere = _contains(truth, favourable) or (scores is None and _contains(pred, favourable))
    if not (seen_anywhere or binary or listed):
        seen = ", ".join(repr(_python(v)) for v in np.unique(truth)[:10])
        raise FairnessError(f"The favourable label {favourable!r} does not occur in y_true (its labels: {seen}).")
    actual = truth == favourable
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64)
        if not np.isfinite(scores).all():
            raise FairnessError("The scores have missing or infinite values.")
        lo, hi = float(scores.min()), float(scores.max())
        if lo < 0 or hi > 1:
            raise FairnessError(
                f"Scores must be probabilities in [0, 1], got values from {lo:g} to {hi:g}; "
                "apply a sigmoid or softmax to logits first."
            )
        predicted = scores > t
    else:
        if pred.dtype.kind == "f" and np.isnan(pred).any():
            raise FairnessError("The predictions have missing (NaN) values; drop those rows first.")
        predicted = pred == favourable
    if len(np.unique(truth)) > 2:
        notes.append(
            f"y_true has {len(np.unique(truth))} labels; outcomes are read as {favourable!r} "
            "(favourable) against all others."
        )
    return np.asarray(actual, dtype=bool), np.asarray(predicted, dtype=bool), scores, notes


# --------------------------------------------------------------------------- the report
def _floats(a: np.ndarray) -> list[float]:
    return [float(x) for x in np.asarray(a).reshape(-1)]


def _group_notes(feature: str, labels: list[str], reasons: list[dict[str, str]], has_scores: bool) -> list[str]:
    out = []
    for label, why in zip(labels, reasons):
        if not has_scores:
            why = {k: v for k, v in why.items() if k != "calibration_error"}
        if not why:
            continue
        if why.get("selection_rate") == "the group is empty":
            out.append(f"{feature} = {label!r} has no rows; its metrics are undefined.")
            continue
        by_reason: dict[str, list[str]] = {}
        for metric, reason in why.items():
            by_reason.setdefault(reason, []).append(metric)
        for reason, metrics in by_reason.items():
            out.append(f"{feature} = {label!r}: {', '.join(metrics)} undefined — {reason}.")
    return out


# the differences that get a signed value when a feature has exactly two groups, and the
# group metric each is the difference of
SIGNED = {"dp_difference": "selection_rate", "eop_difference": "tpr"}


def _group_counts(gc: np.ndarray) -> np.ndarray:
    """``(G, 4)`` whole-number counts (TN, FP, FN, TP) per group from ``(G, 2, 2, bins)``."""
    return np.rint(np.asarray(gc, dtype=np.float64).sum(-1).reshape(gc.shape[0], 4)).astype(np.int64)


def _differences_entry(
    values: dict[str, np.ndarray],
    reasons: dict[str, dict[str, Any]],
    labels: list[str],
    metrics: dict[str, np.ndarray],
    counts: np.ndarray,
) -> dict[str, dict[str, Any]]:
    sel = metrics["selection_rate"]
    out: dict[str, dict[str, Any]] = {}
    for name in DIFFERENCES:
        v = float(values[name])
        entry: dict[str, Any] = {"value": v, "ci": [math.nan, math.nan], "p_value": math.nan,
                                 **reasons[name]}
        if name == "di_ratio":
            # decided from the counts, exactly: a ratio of exactly 0.8 passes
            selected = counts[:, 1] + counts[:, 3]
            entry["four_fifths_ok"] = None if math.isnan(v) else four_fifths_holds(selected, counts.sum(1))
            defined = ~np.isnan(sel)
            if defined.sum() >= 2:
                idx = np.flatnonzero(defined)
                entry["lowest"] = labels[int(idx[np.argmin(sel[idx])])]
                entry["highest"] = labels[int(idx[np.argmax(sel[idx])])]
            else:
                entry["lowest"] = entry["highest"] = None
        if name in SIGNED and len(labels) == 2:
            rates = metrics[SIGNED[name]]
            signed = float(rates[0] - rates[1])  # NaN when either group's rate is undefined
            entry["signed"] = {"order": list(labels), "value": signed, "ci": [math.nan, math.nan]}
        out[name] = entry
    return out


def _point_report(
    groups: SensitiveGroups,
    cells: np.ndarray,
    sums: np.ndarray | None,
    *,
    favourable: Any,
    threshold: float | None,
    notes: list[str],
) -> tuple[FairnessReport, dict[str, tuple[int, np.ndarray]]]:
    has_scores = sums is not None
    total = cells.sum(0)
    overall_m = metrics_from_counts(total, None if sums is None else sums.sum(0))
    overall = {"size": int(overall_m["size"])} | {m: float(overall_m[m]) for m in METRICS}
    overall_reasons = metric_reasons(total[None], has_scores)[0]
    by_group: dict[str, dict[str, dict[str, float]]] = {}
    sizes: dict[str, dict[str, int]] = {}
    reasons: dict[str, dict[str, dict[str, str]]] = {}
    differences: dict[str, dict[str, dict[str, Any]]] = {}
    layout: dict[str, tuple[int, np.ndarray]] = {}
    out_notes = list(notes)
    for feature in groups.features:
        labels = groups.levels[feature]
        members = groups.joint_members[feature]
        layout[feature] = (len(labels), members)
        gc = aggregate(cells, members, len(labels))
        gs = None if sums is None else aggregate(sums, members, len(labels))
        m = metrics_from_counts(gc, gs)
        why = metric_reasons(gc, has_scores)
        by_group[feature] = {
            g: {"size": int(m["size"][i])} | {k: float(m[k][i]) for k in METRICS} for i, g in enumerate(labels)
        }
        sizes[feature] = {g: int(m["size"][i]) for i, g in enumerate(labels)}
        reasons[feature] = {g: why[i] for i, g in enumerate(labels) if why[i]}
        out_notes += _group_notes(feature, labels, why, has_scores)
        d = differences_from_metrics(m)
        dr = difference_reasons(m, labels)
        differences[feature] = _differences_entry(d, dr, labels, m, _group_counts(gc))
        for name, entry in differences[feature].items():
            if math.isnan(entry["value"]):
                out_notes.append(f"{feature}: {name} is undefined — {entry['reason']}.")
    for col, edges in groups.band_edges.items():
        out_notes.append(
            f"{col!r} is split into {len(edges) + 1} bands at {', '.join(f'{e:g}' for e in edges)}; "
            "the same edges are used by every audit of this project."
        )
    out_notes += groups.notes
    if not has_scores:
        out_notes.append("Hard predictions were given: calibration_error needs scores and is undefined.")
    report = FairnessReport(
        overall=overall,
        by_group=by_group,
        differences=differences,
        sizes=sizes,
        favourable=_python(favourable),
        threshold=threshold if has_scores else None,
        n_boot=0,
        confidence=0.0,
        seed=0,
        band_edges={k: list(v) for k, v in groups.band_edges.items()},
        notes=out_notes,
        reasons=reasons,
        overall_reasons=overall_reasons,
        n_rows=groups.n_rows,
        columns=list(groups.columns),
        intersections=list(groups.intersections),
        has_scores=has_scores,
    )
    return report, layout


def _nan_quantiles(samples: np.ndarray, q: list[float]) -> np.ndarray:
    """Quantiles over axis 0 ignoring NaN (as fairlearn's bootstrap does); NaN if all are."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, as wanted
        return np.nanquantile(samples, q, axis=0)


def _add_intervals(
    report: FairnessReport,
    layout: dict[str, tuple[int, np.ndarray]],
    cells: np.ndarray,
    sums: np.ndarray | None,
    n_boot: int,
    confidence: float,
    seed: int,
) -> None:
    overall_s: list[dict[str, np.ndarray]] = []
    group_s: dict[str, list[dict[str, np.ndarray]]] = {f: [] for f in layout}
    diff_s: dict[str, list[dict[str, np.ndarray]]] = {f: [] for f in layout}
    for rc, rs in resampled_cells(cells, sums, n_boot, seed):
        overall_s.append(metrics_from_counts(rc.sum(1), None if rs is None else rs.sum(1)))
        for feature, (n_groups, members) in layout.items():
            m = metrics_from_counts(
                aggregate(rc, members, n_groups), None if rs is None else aggregate(rs, members, n_groups)
            )
            group_s[feature].append(m)
            diff_s[feature].append(differences_from_metrics(m))

    q = [(1 - confidence) / 2, (1 + confidence) / 2]

    def stack(parts: list[dict[str, np.ndarray]], key: str) -> np.ndarray:
        return np.concatenate([p[key] for p in parts], axis=0)

    report.overall_intervals = {}
    for metric in METRICS:
        lo, hi = _nan_quantiles(stack(overall_s, metric), q)
        if math.isnan(report.overall[metric]):
            lo = hi = math.nan
        report.overall_intervals[metric] = [float(lo), float(hi)]
    report.intervals = {}
    for feature, (_, _) in layout.items():
        bounds = {m: _nan_quantiles(stack(group_s[feature], m), q) for m in METRICS}
        table = report.intervals[feature] = {}
        for i, g in enumerate(report.by_group[feature]):
            table[g] = {}
            for metric in METRICS:
                defined = not math.isnan(report.by_group[feature][g][metric])
                lo, hi = (float(bounds[metric][0][i]), float(bounds[metric][1][i])) if defined else (math.nan, math.nan)
                table[g][metric] = [lo, hi]
        for name, entry in report.differences[feature].items():
            if not math.isnan(entry["value"]):
                lo, hi = _bias_corrected(stack(diff_s[feature], name), entry["value"], confidence)
                entry["ci"] = [lo, hi]
            signed = entry.get("signed")
            if signed is not None and not math.isnan(signed["value"]):
                rates = stack(group_s[feature], SIGNED[name])
                lo, hi = _nan_quantiles(rates[:, 0] - rates[:, 1], q)
                signed["ci"] = [float(lo), float(hi)]
    # "no difference between groups": the group labels shuffled over the rows, seeded apart
    # from the bootstrap so that adding one never changes the other
    rng = np.random.default_rng([seed, 1])
    for feature, (n_groups, members) in layout.items():
        counts = _group_counts(aggregate(cells, members, n_groups))
        entries = report.differences[feature]
        found = permutation_pvalues(counts, {n: e["value"] for n, e in entries.items()}, n_boot, rng)
        for name, entry in entries.items():
            entry["p_value"] = found[name]
    report.n_boot, report.confidence, report.seed = n_boot, confidence, seed
    report.n_perm = n_boot


def _bias_corrected(samples: np.ndarray, estimate: float, confidence: float) -> tuple[float, float]:
    """Bias-corrected percentile interval (Efron's BC) of a bootstrap distribution.

    A spread between groups (max − min, min / max) is biased away from "no difference": its
    resamples sit mostly on one side of the estimate. BC moves the percentiles by
    ``z0 = Φ⁻¹(share of resamples below the estimate)`` — ties counted half — so the interval
    is centred on the estimate's own bias. With no bias (``z0 = 0``) it is the percentile
    interval. It always contains the estimate (widened to it when the correction overshoots).
    """
    s = np.asarray(samples, dtype=np.float64)
    s = s[~np.isnan(s)]
    if len(s) == 0:
        return math.nan, math.nan
    share = float(np.count_nonzero(s < estimate) + 0.5 * np.count_nonzero(s == estimate)) / len(s)
    below = min(max(share, 0.5 / len(s)), 1 - 0.5 / len(s))
    normal = NormalDist()
    z0 = normal.inv_cdf(below)
    z = normal.inv_cdf((1 + confidence) / 2)
    lo, hi = np.quantile(s, [normal.cdf(2 * z0 - z), normal.cdf(2 * z0 + z)])
    # A spread near 0 has nearly every resample above it, and the correction can then move the
    # whole interval below the estimate; an interval is never shown without its own estimate,
    # so it is widened to reach it (more cautious, never less).
    return float(min(lo, estimate)), float(max(hi, estimate))


def _check_boot(n_boot: Any, confidence: Any, seed: Any) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise FairnessError(f"n_boot must be a whole number of resamples (0 for none), not {n_boot!r}.")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise FairnessError(f"confidence must be a number between 0 and 1 (e.g. 0.95), not {confidence!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise FairnessError(f"seed must be a non-negative integer, not {seed!r}.")


def audit(
    y_true: Any,
    y_score_or_pred: Any,
    sensitive: Any,
    *,
    favourable: Any = 1,
    threshold: float = 0.5,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    intersections: bool = True,
    bands: Mapping[str, Sequence[float]] | None = None,
    n_bands: int = 4,
    classes: Sequence[Any] | None = None,
    kind: str = "auto",
) -> FairnessReport:
    """Fairness metrics by group with percentile bootstrap intervals.

    Parameters
    ----------
    y_true : true labels, one per row.
    y_score_or_pred : hard predicted labels, scores (probability of the favourable
        outcome), or ``(rows, classes)`` probabilities (see :func:`prepare_outcomes`).
    sensitive : ``{column: values}`` (or a DataFrame / one array), or a
        :class:`SensitiveGroups` from :func:`encode_sensitive` to reuse an encoding.
    favourable : the label of the favourable outcome (for binary labels: the positive one).
    threshold : a score is favourable when it is greater than this.
    n_boot : bootstrap resamples (0: no intervals); ``confidence`` their coverage, ``seed``
        the resampling seed (same seed, same intervals).
    intersections : also report the intersection of all sensitive columns.
    bands, n_bands : band edges for continuous columns, or how many quantile bands.
    classes : class labels of the probability columns, when probabilities are 2-D.
    kind : "auto", "scores" or "labels": how to read ``y_score_or_pred``.

    Raises
    ------
    FairnessError
        With a one-sentence message for unusable input.
    """
    t0 = time.perf_counter()
    _check_boot(n_boot, confidence, seed)
    actual, predicted, scores, notes = prepare_outcomes(
        y_true, y_score_or_pred, favourable=favourable, threshold=threshold, classes=classes, kind=kind
    )
    groups = encode_sensitive(sensitive, bands=bands, n_bands=n_bands, intersections=intersections, n_rows=len(actual))
    cells, sums = cell_counts(groups.joint, groups.n_joint, actual, predicted, scores)
    report, layout = _point_report(
        groups, cells, sums, favourable=favourable, threshold=float(threshold), notes=notes
    )
    if n_boot:
        _add_intervals(report, layout, cells, sums, int(n_boot), float(confidence), int(seed))
    report.elapsed = time.perf_counter() - t0
    return report


def point_metrics(
    y_true: Any,
    y_score_or_pred: Any,
    sensitive: Any,
    *,
    favourable: Any = 1,
    threshold: float = 0.5,
    intersections: bool = True,
    bands: Mapping[str, Sequence[float]] | None = None,
    n_bands: int = 4,
    classes: Sequence[Any] | None = None,
    kind: str = "auto",
) -> FairnessReport:
    """Point estimates only (no bootstrap): :func:`audit` with ``n_boot=0``, for live use.

    Pass ``sensitive`` as a :class:`SensitiveGroups` (:func:`encode_sensitive`, done once)
    to skip re-encoding the groups at every call.
    """
    return audit(
        y_true,
        y_score_or_pred,
        sensitive,
        favourable=favourable,
        threshold=threshold,
        n_boot=0,
        intersections=intersections,
        bands=bands,
        n_bands=n_bands,
        classes=classes,
        kind=kind,
    )


# --------------------------------------------------------------------------- threshold sweep
@dataclass
class ThresholdSweep:
    """Metrics by group at each decision threshold (favourable when score > threshold).

    ``overall`` is ``{metric: [value per threshold]}``; ``by_group`` ``{feature: {group:
    {metric: [...]}}}``; ``differences`` ``{feature: {name: [...]}}``; metrics are
    selection_rate, accuracy, tpr, fpr, fnr and precision (NaN where undefined).
    """

    thresholds: list[float]
    overall: dict[str, list[float]]
    by_group: dict[str, dict[str, dict[str, list[float]]]]
    differences: dict[str, dict[str, list[float]]]
    sizes: dict[str, dict[str, int]]
    favourable: Any
    band_edges: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN as "NaN", as in :class:`FairnessReport`)."""
        return {f.name: encode_floats(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: Any) -> ThresholdSweep:
        """Rebuild from :meth:`to_dict` output."""
        if not isinstance(d, dict):
            raise FairnessError(f"A threshold sweep must be a dict, not {type(d).__name__}.")
        try:
            return cls(**{k: v if k == "favourable" else decode_floats(v) for k, v in d.items()})
        except TypeError as exc:
            raise FairnessError(f"A threshold sweep has wrong fields: {exc}.") from None


def threshold_sweep(
    y_true: Any,
    scores: Any,
    sensitive: Any,
    thresholds: Any = None,
    *,
    favourable: Any = 1,
    intersections: bool = True,
    bands: Mapping[str, Sequence[float]] | None = None,
    n_bands: int = 4,
    classes: Sequence[Any] | None = None,
) -> ThresholdSweep:
    """Metrics by group at every threshold (default 0, 0.01, ..., 1) in one pass.

    Each row's count of thresholds below its score is binned once per (joint group, actual
    outcome); suffix sums then give every threshold's confusion counts, so the cost is one
    sort of the thresholds and one ``bincount``, not one audit per threshold.
    """
    thr = np.linspace(0.0, 1.0, 101) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if thr.ndim != 1 or len(thr) == 0:
        raise FairnessError("thresholds must be a non-empty list of numbers between 0 and 1.")
    if not np.isfinite(thr).all() or thr.min() < 0 or thr.max() > 1:
        raise FairnessError("Every threshold must be between 0 and 1.")
    actual, _, sc, _ = prepare_outcomes(
        y_true, scores, favourable=favourable, threshold=0.5, classes=classes, kind="scores"
    )
    if sc is None:
        raise FairnessError("A threshold sweep needs scores (probabilities), not hard predictions.")
    groups = encode_sensitive(sensitive, bands=bands, n_bands=n_bands, intersections=intersections, n_rows=len(actual))
    order = np.argsort(thr, kind="stable")
    sorted_thr = thr[order]
    n_thr = len(thr)
    below = np.searchsorted(sorted_thr, sc, side="left")  # thresholds t with t < score
    J = groups.n_joint
    code = (groups.joint * 2 + actual) * (n_thr + 1) + below
    hist = np.bincount(code, minlength=J * 2 * (n_thr + 1)).reshape(J, 2, n_thr + 1)
    # favourable at sorted threshold i when below > i: suffix sums over below = i+1 .. n_thr
    suffix = np.cumsum(hist[..., ::-1], axis=-1)[..., ::-1]
    pos = suffix[..., 1:]  # (J, 2, T)
    totals = hist.sum(-1, keepdims=True)
    cells = np.stack([totals - pos, pos], axis=2)  # (J, actual, predicted, T)
    cells = np.moveaxis(cells, -1, 0)[..., None]  # (T, J, 2, 2, 1)
    inverse = np.empty(n_thr, dtype=np.int64)
    inverse[order] = np.arange(n_thr)

    def per_threshold(m: dict[str, np.ndarray], key: str) -> np.ndarray:
        return np.moveaxis(m[key], 0, -1)[..., inverse]  # threshold last, in the given order

    om = metrics_from_counts(cells.sum(1), None)
    overall = {k: _floats(om[k][inverse]) for k in _SWEEP_METRICS}
    by_group: dict[str, dict[str, dict[str, list[float]]]] = {}
    differences: dict[str, dict[str, list[float]]] = {}
    sizes: dict[str, dict[str, int]] = {}
    for feature in groups.features:
        labels = groups.levels[feature]
        m = metrics_from_counts(aggregate(cells, groups.joint_members[feature], len(labels)), None)
        d = differences_from_metrics(m)
        by_group[feature] = {
            g: {k: _floats(per_threshold(m, k)[i]) for k in _SWEEP_METRICS} for i, g in enumerate(labels)
        }
        differences[feature] = {k: _floats(v[inverse]) for k, v in d.items()}
        sizes[feature] = {g: int(m["size"][0][i]) for i, g in enumerate(labels)}
    return ThresholdSweep(
        thresholds=_floats(thr),
        overall=overall,
        by_group=by_group,
        differences=differences,
        sizes=sizes,
        favourable=_python(favourable),
        band_edges={k: list(v) for k, v in groups.band_edges.items()},
    )

