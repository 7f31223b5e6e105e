"""Which samples to explain: misclassified, most confident, random per class, or the first."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from engines.explain.result import ExplainError

__all__ = ["HOWS", "pick_samples"]

HOWS = ("misclassified", "confident", "random_per_class", "first")


def pick_samples(
    model: nn.Module,
    X: Any,
    y: Any,
    how: str,
    n: int,
    seed: int = 0,
    *,
    task: str | None = None,
) -> np.ndarray:
    """Positions into ``X`` of up to ``n`` samples worth explaining.

    Parameters
    ----------
    how : {"misclassified", "confident", "random_per_class", "first"}
        ``misclassified``: wrong predictions, the most confidently wrong first (regression:
        the largest absolute errors); ``confident``: the highest predicted probability first
        (regression: the smallest errors); ``random_per_class``: a seeded random pick taking
        classes in turn (regression: quartiles of ``y`` act as classes); ``first``: 0..n-1.
    task : {"classification", "regression"}, optional
        Default: classification when ``y`` holds integers.

    Returns
    -------
    numpy.ndarray
        int64 positions; fewer than ``n`` when there are not enough (e.g. few mistakes).
    """
    if how not in HOWS:
        raise ExplainError(f"Unknown way to pick samples {how!r}; use one of {', '.join(HOWS)}.")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ExplainError(f"The number of samples must be a whole number of at least 1, not {n!r}.")
    X = np.asarray(X)
    if X.ndim < 2 or len(X) == 0:
        raise ExplainError("There are no samples to pick from.")
    if how == "first":
        return np.arange(min(int(n), len(X)), dtype=np.int64)
    if y is None:
        raise ExplainError(f"Picking {how.replace('_', ' ')} samples needs the targets y.")
    y = np.asarray(y)
    if len(y) != len(X):
        raise ExplainError(f"There are {len(X)} samples but {len(y)} targets.")
    if task is None:
        task = "classification" if y.dtype.kind in "biu" else "regression"
    if task not in ("classification", "regression"):
        raise ExplainError(f"The task must be 'classification' or 'regression', not {task!r}.")
    rng = np.random.default_rng(seed)
    if how == "random_per_class":
        if task == "classification":
            labels = y
        else:
            edges = np.quantile(y.astype(np.float64), [0.25, 0.5, 0.75])
            labels = np.searchsorted(edges, y, side="right")
        pools = [rng.permutation(np.flatnonzero(labels == c)).tolist() for c in np.unique(labels)]
        picked: list[int] = []
        while len(picked) < n and any(pools):
            for pool in pools:
                if pool and len(picked) < n:
                    picked.append(pool.pop())
        return np.asarray(picked, dtype=np.int64)

    from engines.training import predict

    out = predict(model, X)
    out = out.reshape(len(X), -1)
    if task == "regression":
        err = np.abs(out[:, 0] - y.reshape(len(y), -1)[:, 0].astype(np.float64))
        order = np.argsort(-err if how == "misclassified" else err, kind="stable")
        return order[: int(n)].astype(np.int64)
    if out.shape[1] == 1:
        p1 = 1.0 / (1.0 + np.exp(-out[:, 0].astype(np.float64)))
        pred = (p1 > 0.5).astype(np.int64)
        conf = np.where(pred == 1, p1, 1.0 - p1)
    else:
        z = out.astype(np.float64)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        prob = z / z.sum(axis=1, keepdims=True)
        pred = prob.argmax(axis=1)
        conf = prob.max(axis=1)
    if how == "misclassified":
        wrong = np.flatnonzero(pred != y.astype(np.int64))
        order = wrong[np.argsort(-conf[wrong], kind="stable")]
    else:
        order = np.argsort(-conf, kind="stable")
    return order[: int(n)].astype(np.int64)
