"""Bias mitigation before, during and after training.

- Before: :func:`reweighing_weights` — Kamiran & Calders (2012) sample weights that make the
  label statistically independent of the group in the weighted training data; pass them to
  ``Trainer(sample_weight=...)``.
- During: :class:`FairnessPenalty` — a differentiable gap between groups added to the loss
  (``Trainer(loss_terms=[penalty])``).
- After: :func:`threshold_optimizer` — fairlearn's ``ThresholdOptimizer`` on the model's
  scores, giving group-specific (randomised) thresholds; its fitted rule is stored as JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engines.fairness.audit import prepare_outcomes
from engines.fairness.groups import FairnessError, SensitiveGroups, _as_columns, encode_sensitive
from engines.fairness.report import decode_floats, encode_floats

if TYPE_CHECKING:
    import torch

__all__ = ["FairThresholds", "FairnessPenalty", "reweighing_weights", "threshold_optimizer"]


def _row_labels(groups: SensitiveGroups) -> np.ndarray:
    """The finest group of each row: the intersection of all columns (or the one column)."""
    feature = groups.intersections[0] if groups.intersections else groups.columns[0]
    labels = np.asarray(groups.levels[feature], dtype=object)
    return labels[groups.joint_members[feature][groups.joint]]


# --------------------------------------------------------------------------- reweighing
def reweighing_weights(
    y: Any, sensitive: Any, *, bands: Mapping[str, Sequence[float]] | None = None
) -> np.ndarray:
    """Kamiran & Calders reweighing: ``w(g, y) = P(g) P(y) / P(g, y)`` for every row.

    Groups ``g`` are the intersections of all sensitive columns; ``y`` is the label (any
    number of classes). Under the weights, group and label are independent, and the weights
    sum to the number of rows (the total weight is preserved). If some group has no row of
    some label, no weights can make them independent and the closed form sums to less than
    the number of rows; the weights are then scaled up to preserve the total. fairlearn has
    no reweighing; the closed form is three counts, so it is written here.

    Raises
    ------
    FairnessError
        If the lengths differ or a label is missing.
    """
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) == 0:
        raise FairnessError(f"y must be one label per row, got shape {labels.shape}.")
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        raise FairnessError("y has missing (NaN) values; drop those rows first.")
    groups = encode_sensitive(sensitive, bands=bands, intersections=False, n_rows=len(labels))
    _, label_code = np.unique(labels, return_inverse=True)
    label_code = label_code.reshape(-1)
    n_labels = int(label_code.max()) + 1
    n = len(labels)
    cell = groups.joint * n_labels + label_code
    n_gy = np.bincount(cell, minlength=groups.n_joint * n_labels).astype(np.float64)
    n_g = np.bincount(groups.joint, minlength=groups.n_joint).astype(np.float64)
    n_y = np.bincount(label_code, minlength=n_labels).astype(np.float64)
    # every row's own cell is non-empty, so n_gy > 0 wherever it is read
    w = n_g[groups.joint] * n_y[label_code] / (n * n_gy[cell])
    if (n_gy == 0).any():  # an empty (group, label) cell: keep the total at n
        w *= n / w.sum()
    return w


# --------------------------------------------------------------------------- in training
class FairnessPenalty:
    """A fairness gap added to the training loss, batch by batch.

    Called by the Trainer as ``penalty(out, target, idx)`` with the batch's model outputs
    (logits), class targets and training-row indices. With ``p`` the predicted probability
    of the favourable class, the gap per sensitive column is

    - ``kind="dp"`` (demographic parity): max − min over the batch's groups of mean ``p``;
    - ``kind="eo"`` (equalized odds): the same gap among rows whose true label is
      favourable plus the gap among the others.

    The term is ``strength × gap`` (``norm="abs"``) or ``strength × gap²`` (``"squared"``),
    summed over the sensitive columns. A batch with fewer than two groups adds 0.

    Parameters
    ----------
    sensitive : the training rows' sensitive columns (aligned with the training X).
    kind : "dp" or "eo". strength : ≥ 0. norm : "abs" or "squared".
    favourable : class index of the favourable outcome (one-logit models: 1 is the sigmoid).
    """

    def __init__(
        self,
        sensitive: Any,
        kind: str = "dp",
        strength: float = 1.0,
        *,
        norm: str = "abs",
        favourable: int = 1,
        bands: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        import torch

        if kind not in ("dp", "eo"):
            raise FairnessError(f"The penalty kind must be 'dp' (demographic parity) or 'eo' (equalized odds), not {kind!r}.")
        if isinstance(strength, bool) or not isinstance(strength, int | float) or not math.isfinite(strength) or strength < 0:
            raise FairnessError(f"The penalty strength must be a finite number of at least 0, not {strength!r}.")
        if norm not in ("abs", "squared"):
            raise FairnessError(f"The penalty norm must be 'abs' or 'squared', not {norm!r}.")
        if isinstance(favourable, bool) or not isinstance(favourable, int | np.integer) or favourable < 0:
            raise FairnessError(f"The favourable outcome must be a class index (0, 1, ...), not {favourable!r}.")
        groups = encode_sensitive(sensitive, bands=bands, intersections=False)
        self.kind, self.strength, self.norm, self.favourable = kind, float(strength), norm, int(favourable)
        self.columns = list(groups.columns)
        self.band_edges = dict(groups.band_edges)
        self.n_rows = groups.n_rows
        codes = [groups.joint_members[c][groups.joint] for c in self.columns]
        self._sizes = [len(groups.levels[c]) for c in self.columns]
        self._codes = [torch.from_numpy(np.ascontiguousarray(c)) for c in codes]
        self._checked = False

    def to_dict(self) -> dict[str, Any]:
        """The settings (not the rows) as JSON, for a run's record."""
        return {
            "kind": self.kind,
            "strength": self.strength,
            "norm": self.norm,
            "favourable": self.favourable,
            "columns": self.columns,
            "band_edges": self.band_edges,
        }

    def _probability(self, out: torch.Tensor) -> torch.Tensor:
        import torch

        if out.ndim != 2:
            raise FairnessError(f"The fairness penalty needs (batch, classes) logits, got shape {tuple(out.shape)}.")
        if out.shape[1] == 1:
            if self.favourable > 1:
                raise FairnessError(f"A one-logit model has classes 0 and 1, not {self.favourable}.")
            p = torch.sigmoid(out[:, 0])
            return p if self.favourable == 1 else 1 - p
        if self.favourable >= out.shape[1]:
            raise FairnessError(f"The model has {out.shape[1]} classes; the favourable class {self.favourable} is not one.")
        return torch.softmax(out, dim=1)[:, self.favourable]

    def _gap(self, p: torch.Tensor, codes: torch.Tensor, n_groups: int) -> torch.Tensor:
        import torch

        sums = torch.zeros(n_groups, dtype=p.dtype, device=p.device).index_add(0, codes, p)
        counts = torch.bincount(codes, minlength=n_groups)
        present = counts > 0
        if int(present.sum()) < 2:
            return p.new_zeros(())
        means = sums[present] / counts[present].to(p.dtype)
        return means.max() - means.min()

    def __call__(self, out: torch.Tensor, target: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        if not self._checked:
            top = int(idx.max()) if idx.numel() else -1
            if top >= self.n_rows:
                raise FairnessError(
                    f"The penalty has sensitive values for {self.n_rows} rows but training row {top} was asked for; "
                    "give it the training rows' sensitive columns."
                )
            self._codes = [c.to(idx.device) for c in self._codes]
            self._checked = True
        p = self._probability(out)
        total = p.new_zeros(())
        if self.kind == "eo":
            actual = (target.reshape(len(p), -1)[:, 0] == self.favourable).long()
        for codes, n_groups in zip(self._codes, self._sizes):
            c = codes[idx]
            if self.kind == "dp":
                gaps = [self._gap(p, c, n_groups)]
            else:
                gaps = [self._gap(p[actual == a], c[actual == a], n_groups) for a in (0, 1)]
            for gap in gaps:
                total = total + (gap if self.norm == "abs" else gap * gap)
        return self.strength * total


# --------------------------------------------------------------------------- after training
def _shim_estimator() -> Any:
    """A fitted scikit-learn estimator whose prediction is its input's first column (the score)."""
    from sklearn.base import BaseEstimator

    class ScoreColumn(BaseEstimator):  # type: ignore[misc]
        def fit(self, X: Any, y: Any = None) -> ScoreColumn:
            return self

        def predict(self, X: Any) -> np.ndarray:
            return np.asarray(X)[:, 0]

        def __sklearn_is_fitted__(self) -> bool:
            return True

    return ScoreColumn()


@dataclass
class FairThresholds:
    """Group-specific randomised thresholds fitted by fairlearn's ``ThresholdOptimizer``.

    ``groups[label]`` holds fairlearn's interpolation for that group: with probability
    ``p0`` apply ``score <operator0> threshold0``, with ``p1`` the second operation; if
    ``p_ignore`` is present, that result is replaced by ``prediction_constant`` with
    probability ``p_ignore``. The mix is P(favourable); a row is favourable when it is at
    least a uniform draw from ``numpy.random.RandomState(seed)`` — fairlearn's own
    ``predict(random_state=seed)``, reproduced exactly. ``to_dict`` / ``from_dict`` store
    all of it as JSON (no pickling).
    """

    constraint: str
    objective: str
    seed: int
    favourable: Any
    columns: list[str]
    groups: dict[str, dict[str, Any]]
    band_edges: dict[str, list[float]] = field(default_factory=dict)
    estimator: Any = field(default=None, repr=False, compare=False)  # fairlearn's, when fitted here

    def _labels(self, sensitive: Any, n: int) -> np.ndarray:
        names = list(_as_columns(sensitive))
        if names != self.columns:
            raise FairnessError(f"The thresholds were fitted on sensitive columns {self.columns}, not {names}.")
        groups = encode_sensitive(sensitive, bands=self.band_edges, intersections=True, n_rows=n)
        labels = _row_labels(groups)
        unknown = sorted(set(labels.tolist()) - set(self.groups))
        if unknown:
            raise FairnessError(
                f"No threshold was fitted for group(s) {', '.join(map(repr, unknown))}; "
                f"known groups are {', '.join(map(repr, self.groups))}."
            )
        return labels

    def probabilities(self, scores: Any, sensitive: Any) -> np.ndarray:
        """P(favourable) of each row under its group's randomised threshold."""
        s = np.asarray(scores, dtype=np.float64)
        if s.ndim != 1:
            raise FairnessError(f"Scores must be one value per row, got shape {s.shape}.")
        labels = self._labels(sensitive, len(s))
        probs = 0.0 * s
        for label, g in self.groups.items():
            # the same operations, in the same order, as fairlearn's InterpolatedThresholder
            op0 = s > g["threshold0"] if g["operator0"] == ">" else s < g["threshold0"]
            op1 = s > g["threshold1"] if g["operator1"] == ">" else s < g["threshold1"]
            mixed = g["p0"] * op0 + g["p1"] * op1
            if "p_ignore" in g:
                mixed = g["p_ignore"] * g["prediction_constant"] + (1 - g["p_ignore"]) * mixed
            rows = labels == label
            probs[rows] = mixed[rows]
        return probs

    def predict(self, scores: Any, sensitive: Any, seed: int | None = None) -> np.ndarray:
        """1 (favourable) or 0 per row; ``seed`` defaults to the stored one."""
        probs = self.probabilities(scores, sensitive)
        rng = np.random.RandomState(self.seed if seed is None else seed)
        return (probs >= rng.rand(len(probs))) * 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (infinite thresholds as "Infinity" / "-Infinity")."""
        return {
            "constraint": self.constraint,
            "objective": self.objective,
            "seed": self.seed,
            "favourable": self.favourable,
            "columns": list(self.columns),
            "groups": encode_floats(self.groups),
            "band_edges": self.band_edges,
        }

    @classmethod
    def from_dict(cls, d: Any) -> FairThresholds:
        """Rebuild from :meth:`to_dict` output; raises FairnessError if it is not one."""
        need = ("constraint", "objective", "seed", "favourable", "columns", "groups")
        if not isinstance(d, dict) or any(k not in d for k in need):
            raise FairnessError(f"Fitted thresholds must be a dict with {', '.join(need)}.")
        groups = decode_floats(d["groups"])
        if not isinstance(groups, dict) or not groups:
            raise FairnessError("Fitted thresholds must map each group to its thresholds.")
        keys = {"p0", "operator0", "threshold0", "p1", "operator1", "threshold1"}
        for label, g in groups.items():
            if not isinstance(g, dict) or not keys <= set(g):
                raise FairnessError(f"The thresholds of group {label!r} are incomplete.")
            if g["operator0"] not in ("<", ">") or g["operator1"] not in ("<", ">"):
                raise FairnessError(f"The thresholds of group {label!r} have an unknown operator.")
        return cls(
            constraint=d["constraint"],
            objective=d["objective"],
            seed=int(d["seed"]),
            favourable=d["favourable"],
            columns=list(d["columns"]),
            groups=groups,
            band_edges={k: list(v) for k, v in d.get("band_edges", {}).items()},
        )


_CONSTRAINTS = ("demographic_parity", "equalized_odds", "true_positive_rate_parity",
                "false_positive_rate_parity", "true_negative_rate_parity", "false_negative_rate_parity")


def threshold_optimizer(
    y_true: Any,
    scores: Any,
    sensitive: Any,
    *,
    constraint: str = "demographic_parity",
    favourable: Any = 1,
    seed: int = 0,
    objective: str = "accuracy_score",
    grid_size: int = 1000,
    bands: Mapping[str, Sequence[float]] | None = None,
    classes: Sequence[Any] | None = None,
) -> FairThresholds:
    """Fit fairlearn's ``ThresholdOptimizer`` on scores (e.g. of the validation split).

    The model is not refitted (``prefit=True``): a shim estimator hands fairlearn the
    scores. Several sensitive columns are fitted on their intersection. ``seed`` is stored
    and used by :meth:`FairThresholds.predict`, since the predictions are randomised.
    """
    import warnings

    from fairlearn.postprocessing import ThresholdOptimizer

    if constraint not in _CONSTRAINTS:
        raise FairnessError(f"Unknown constraint {constraint!r}; use one of {', '.join(_CONSTRAINTS)}.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise FairnessError(f"seed must be an integer from 0 to 2**32 - 1, not {seed!r}.")
    actual, _, s, _ = prepare_outcomes(y_true, scores, favourable=favourable, classes=classes, kind="scores")
    assert s is not None
    groups = encode_sensitive(sensitive, bands=bands, intersections=True, n_rows=len(actual))
    labels = _row_labels(groups).astype(str)
    if len(np.unique(actual)) < 2:
        raise FairnessError("ThresholdOptimizer needs both favourable and unfavourable true outcomes.")
    opt = ThresholdOptimizer(
        estimator=_shim_estimator(),
        constraints=constraint,
        objective=objective,
        grid_size=grid_size,
        prefit=True,
        predict_method="predict",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            opt.fit(s.reshape(-1, 1), actual.astype(int), sensitive_features=labels)
        except ValueError as exc:
            raise FairnessError(f"fairlearn's ThresholdOptimizer could not fit: {exc}") from None
    fitted: dict[str, dict[str, Any]] = {}
    for label, b in opt.interpolated_thresholder_.interpolation_dict.items():
        g = {
            "p0": float(b.p0),
            "operator0": b.operation0.operator,
            "threshold0": float(b.operation0.threshold),
            "p1": float(b.p1),
            "operator1": b.operation1.operator,
            "threshold1": float(b.operation1.threshold),
        }
        if "p_ignore" in b:
            g["p_ignore"] = float(b.p_ignore)
            g["prediction_constant"] = float(b.prediction_constant)
        fitted[str(label)] = g
    fav = favourable.item() if isinstance(favourable, np.generic) else favourable
    return FairThresholds(
        constraint=constraint,
        objective=objective,
        seed=int(seed),
        favourable=fav,
        columns=list(groups.columns),
        groups=fitted,
        band_edges={k: list(v) for k, v in groups.band_edges.items()},
        estimator=opt,
    )
