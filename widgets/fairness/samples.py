"""Sample fairness data for the views' previews: a German-credit-like table of 1,000 people.

Shaped as ``engines.fairness`` writes it (``FairnessReport.to_dict()`` and
``ThresholdSweep.to_dict()``: undefined values as "NaN", intersections joined with " & ").

Preview data only (the real numbers come from ``engines.fairness``): a small row bootstrap in
numpy is enough to make the intervals, sizes and undefined cells look like a real audit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["sample_history", "sample_report", "sample_runs", "sample_sweep"]

_AGE_EDGES = [25.0, 35.0, 50.0]
_AGE_BANDS = np.array(["≤25", "26-35", "36-50", ">50"])


def _encoded(value: Any) -> Any:
    """Undefined (None) numbers as the engine's JSON writes them: "NaN"."""
    if value is None:
        return "NaN"
    if isinstance(value, dict):
        return {
            k: v if k in ("favourable", "reasons", "notes") else _encoded(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_encoded(v) for v in value]
    return value


def _people(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    sex = np.where(rng.random(n) < 0.31, "female", "male")
    age = np.clip(19 + rng.gamma(2.2, 7.0, n), 19, 75)
    band = _AGE_BANDS[np.searchsorted(_AGE_EDGES, age, side="left")]
    p_good = 0.72 - 0.06 * (sex == "female") - 0.1 * (band == "≤25")
    y = (rng.random(n) < p_good).astype(int)
    y[(sex == "female") & (band == ">50")] = 1  # a group with no bad outcomes: FPR undefined
    return {"sex": sex, "age_band": band, "y": y, "noise": rng.normal(0, 1, n)}


def _scores(people: dict[str, np.ndarray], skill: float = 0.8, bias: float = 0.5) -> np.ndarray:
    z = skill * (2 * people["y"] - 1) + people["noise"] + 0.6
    z = z - bias * (people["sex"] == "female") - 0.4 * (people["age_band"] == "≤25")
    return 1 / (1 + np.exp(-z))


def _rates(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float | None]:
    pred = score >= threshold
    pos, neg, sel = y == 1, y == 0, pred.sum()

    def ratio(a: float, b: float) -> float | None:
        return float(a / b) if b else None

    return {
        "selection_rate": ratio(pred.sum(), len(y)),
        "accuracy": ratio((pred == pos).sum(), len(y)),
        "tpr": ratio((pred & pos).sum(), pos.sum()),
        "fpr": ratio((pred & neg).sum(), neg.sum()),
        "fnr": ratio((~pred & pos).sum(), pos.sum()),
        "precision": ratio((pred & pos).sum(), sel),
        "calibration_error": float(abs(score.mean() - y.mean())) if len(y) else None,
    }


def _gaps(by_group: dict[str, dict[str, float | None]]) -> dict[str, float | None]:
    def spread(metric: str) -> tuple[float, float] | None:
        values = [g[metric] for g in by_group.values() if g[metric] is not None]
        return (min(values), max(values)) if len(values) > 1 else None

    sel, tpr, fpr = spread("selection_rate"), spread("tpr"), spread("fpr")
    out: dict[str, float | None] = {
        "dp_difference": sel[1] - sel[0] if sel else None,
        "dp_ratio": sel[0] / sel[1] if sel and sel[1] else None,
        "eop_difference": tpr[1] - tpr[0] if tpr else None,
        "eo_difference": max(tpr[1] - tpr[0], fpr[1] - fpr[0]) if tpr and fpr else None,
    }
    out["di_ratio"] = out["dp_ratio"]
    return out


def _features(people: dict[str, np.ndarray], intersections: bool) -> dict[str, np.ndarray]:
    features = {"sex": people["sex"], "age_band": people["age_band"]}
    if intersections:
        features["sex & age_band"] = np.char.add(
            np.char.add(people["sex"].astype(str), " & "), people["age_band"].astype(str)
        )
    return features


def _order(values: np.ndarray) -> list[str]:
    order = {str(b): i for i, b in enumerate(_AGE_BANDS)}
    return sorted(set(values.tolist()), key=lambda g: [order.get(p, p) for p in g.split(" & ")])


def _point(
    people: dict[str, np.ndarray], score: np.ndarray, threshold: float, intersections: bool
) -> dict[str, Any]:
    y = people["y"]
    by_group: dict[str, dict[str, dict[str, Any]]] = {}
    differences: dict[str, dict[str, float | None]] = {}
    for feature, values in _features(people, intersections).items():
        groups = {g: _rates(y[values == g], score[values == g], threshold) for g in _order(values)}
        by_group[feature] = {g: {**m, "size": int((values == g).sum())} for g, m in groups.items()}
        differences[feature] = _gaps(groups)
    return {
        "overall": {"size": len(y), **_rates(y, score, threshold)},
        "by_group": by_group,
        "differences": differences,
    }


def sample_report(n_boot: int = 200, threshold: float = 0.5, seed: int = 0) -> dict[str, Any]:
    """A report shaped like ``FairnessReport.to_dict()``, with percentile bootstrap intervals."""
    people = _people(seed=seed)
    score = _scores(people)
    point = _point(people, score, threshold, intersections=True)
    rng = np.random.default_rng(seed + 1)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(score), len(score))
        boots.append(_point({k: v[idx] for k, v in people.items()}, score[idx], threshold, True))

    def interval(get: Any) -> list[float] | None:
        values = [v for v in (get(b) for b in boots) if v is not None]
        if len(values) < 2:
            return None
        lo, hi = np.percentile(values, [2.5, 97.5])
        return [float(lo), float(hi)]

    intervals: dict[str, Any] = {}
    for feature, groups in point["by_group"].items():
        intervals[feature] = {
            g: {
                m: interval(lambda b, f=feature, g=g, m=m: b["by_group"][f].get(g, {}).get(m))
                for m in metrics
                if m != "size" and metrics[m] is not None
            }
            for g, metrics in groups.items()
        }
    differences: dict[str, Any] = {}
    notes = []
    for feature, gaps in point["differences"].items():
        differences[feature] = {}
        for name, value in gaps.items():
            ci = interval(lambda b, f=feature, n=name: b["differences"][f][n])
            reason = "" if value is not None else "fewer than two groups have this rate defined"
            differences[feature][name] = {
                "value": value,
                "ci": ci if value is not None else None,
                "reason": reason,
                "left_out": [],
            }
        ratio = gaps["di_ratio"]
        differences[feature]["di_ratio"]["four_fifths_ok"] = None if ratio is None else ratio >= 0.8
        rates = {g: m["selection_rate"] for g, m in point["by_group"][feature].items()}
        differences[feature]["di_ratio"]["lowest"] = min(rates, key=lambda g: rates[g])
        differences[feature]["di_ratio"]["highest"] = max(rates, key=lambda g: rates[g])
    reasons: dict[str, dict[str, dict[str, str]]] = {}
    for feature, groups in point["by_group"].items():
        for g, metrics in groups.items():
            if metrics["fpr"] is None:
                why = "no row in the group has the unfavourable outcome"
                reasons.setdefault(feature, {})[g] = {"fpr": why}
                notes.append(f"{feature} = {g!r}: fpr undefined — {why}.")
    report = {
        "overall": point["overall"],
        "by_group": point["by_group"],
        "intervals": intervals,
        "differences": differences,
        "reasons": reasons,
        "sizes": {f: {g: m["size"] for g, m in gs.items()} for f, gs in point["by_group"].items()},
        "favourable": "good credit",
        "threshold": threshold,
        "n_boot": n_boot,
        "confidence": 0.95,
        "seed": seed,
        "band_edges": {"age_band": _AGE_EDGES},
        "notes": notes,
    }
    return _encoded(report)


def sample_sweep(seed: int = 0) -> dict[str, Any]:
    """Per-group selection rate, TPR, FPR and accuracy of sex and age band at 101 thresholds."""
    people = _people(seed=seed)
    score = _scores(people)
    thresholds = np.linspace(0.0, 1.0, 101)
    by_group: dict[str, dict[str, dict[str, list[float | None]]]] = {}
    for feature in ("sex", "age_band"):
        values = people[feature]
        by_group[feature] = {}
        for g in _order(values):
            rows = values == g
            curves: dict[str, list[float | None]] = {
                m: [] for m in ("selection_rate", "tpr", "fpr", "accuracy")
            }
            for t in thresholds:
                rates = _rates(people["y"][rows], score[rows], float(t))
                for m in curves:
                    curves[m].append(rates[m])
            by_group[feature][g] = curves
    return _encoded({"thresholds": thresholds.tolist(), "by_group": by_group})


def sample_history(epochs: int = 20, seed: int = 0) -> list[tuple[int, dict[str, Any]]]:
    """Point metrics per epoch while a model learns, and learns the bias with it."""
    people = _people(seed=seed)
    out = []
    for e in range(1, epochs + 1):
        progress = e / epochs
        score = _scores(people, skill=0.1 + 0.8 * progress, bias=0.1 + 0.7 * progress**2)
        out.append((e, _point(people, score, 0.5, intersections=False)))
    return out


def sample_runs() -> list[dict[str, Any]]:
    """A baseline and one run per mitigation, with intervals."""
    return [
        {
            "id": "run-1",
            "name": "baseline",
            "kind": "baseline",
            "accuracy": 0.762,
            "accuracy_ci": [0.735, 0.788],
            "disparity": 0.142,
            "disparity_ci": [0.078, 0.205],
        },
        {
            "id": "run-2",
            "name": "reweighing",
            "kind": "reweighing",
            "accuracy": 0.751,
            "accuracy_ci": [0.724, 0.778],
            "disparity": 0.081,
            "disparity_ci": [0.018, 0.147],
        },
        {
            "id": "run-3",
            "name": "penalty dp ×1",
            "kind": "penalty",
            "accuracy": 0.744,
            "accuracy_ci": [0.716, 0.771],
            "disparity": 0.058,
            "disparity_ci": [0.002, 0.121],
        },
        {
            "id": "run-4",
            "name": "penalty dp ×5",
            "kind": "penalty",
            "accuracy": 0.718,
            "accuracy_ci": [0.690, 0.746],
            "disparity": 0.024,
            "disparity_ci": [-0.035, 0.083],
        },
        {
            "id": "run-5",
            "name": "threshold optimizer",
            "kind": "threshold",
            "accuracy": 0.731,
            "accuracy_ci": [0.703, 0.759],
            "disparity": 0.016,
            "disparity_ci": [-0.041, 0.072],
        },
    ]
