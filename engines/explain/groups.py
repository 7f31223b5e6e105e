"""Feature groups: which model-input columns (or pixels, or steps) act as one player.

For tables a group is usually one original column: its one-hot columns are switched on and
off together, and its attribution is reported under the column's name. For images and
sequences the perturbation methods use square pixel patches and time steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.explain.result import ExplainError

__all__ = ["FeatureGroups", "feature_groups", "image_patches", "sequence_steps"]


@dataclass(eq=False)
class FeatureGroups:
    """A partition of the input columns into named groups.

    Parameters
    ----------
    names : list of str
        One name per group.
    index : numpy.ndarray
        ``(F,)`` int, the group of each model-input column (every group used at least once).
    """

    names: list[str]
    index: np.ndarray

    def __post_init__(self) -> None:
        names = list(self.names) if isinstance(self.names, list | tuple) else None
        if not names or not all(isinstance(n, str) for n in names):
            raise ExplainError("Feature groups need a non-empty list of group names.")
        if len(set(names)) != len(names):
            raise ExplainError("Feature group names must be unique.")
        index = np.asarray(self.index)
        if index.ndim != 1 or index.size == 0 or index.dtype.kind not in "iu":
            raise ExplainError("Feature groups need a 1-d integer group number per input column.")
        if index.min() < 0 or index.max() >= len(names):
            raise ExplainError(
                f"Feature group numbers must lie in 0..{len(names) - 1}, one per group name."
            )
        used = np.bincount(index, minlength=len(names))
        if (used == 0).any():
            empty = names[int(np.flatnonzero(used == 0)[0])]
            raise ExplainError(f"Feature group {empty!r} has no input columns.")
        self.names = names
        self.index = index.astype(np.int64)

    @property
    def n_groups(self) -> int:
        return len(self.names)

    @property
    def n_features(self) -> int:
        return int(self.index.size)

    @classmethod
    def singletons(cls, names: Sequence[str]) -> FeatureGroups:
        """Every column its own group."""
        return cls(list(names), np.arange(len(names)))

    def matrix(self) -> np.ndarray:
        """``(F, G)`` 0/1 membership matrix."""
        m = np.zeros((self.n_features, self.n_groups))
        m[np.arange(self.n_features), self.index] = 1.0
        return m

    def sum(self, attributions: np.ndarray) -> np.ndarray:
        """Add column attributions ``(S, F)`` up per group: ``(S, G)``."""
        return np.asarray(attributions, dtype=np.float64) @ self.matrix()

    def members(self) -> list[list[int]]:
        """The columns of each group."""
        return [np.flatnonzero(self.index == g).tolist() for g in range(self.n_groups)]

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "index": self.index.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureGroups:
        if not isinstance(d, dict) or "names" not in d or "index" not in d:
            raise ExplainError("Saved feature groups need 'names' and 'index'.")
        return cls(list(d["names"]), np.asarray(d["index"], dtype=np.int64))


def feature_groups(preprocessing: dict[str, Any], feature_names: Sequence[str]) -> FeatureGroups:
    """Group one-hot columns back into the original column they came from.

    Parameters
    ----------
    preprocessing : dict
        ``PreparedData.preprocessing`` of a table (from :func:`engines.data.prepare`): a
        numeric column encodes to one input column named like the column, a categorical
        column ``c`` to one column ``"c=<category>"`` per category, in that order.
    feature_names : sequence of str
        The model's input column names (``PreparedData.feature_names``).

    Raises
    ------
    ExplainError
        If the description is not of a table, or a column name cannot be traced back.
    """
    if not isinstance(preprocessing, dict) or preprocessing.get("kind") != "table":
        raise ExplainError("Columns can only be grouped for table data, with its preprocessing description.")
    columns = preprocessing.get("columns")
    if not isinstance(columns, list) or not columns:
        raise ExplainError("The preprocessing description lists no input columns to group.")
    owner: dict[str, int] = {}
    names: list[str] = []
    for g, col in enumerate(columns):
        name = str(col.get("name"))
        names.append(name)
        if col.get("type") == "categorical":
            encoded = [f"{name}={cat}" for cat in col.get("categories", [])]
        else:
            encoded = [name]
        for e in encoded:
            owner[e] = g
    index = []
    for f in feature_names:
        group = owner.get(str(f))
        if group is None:
            raise ExplainError(
                f"Input column {f!r} does not come from any column of the preprocessing description."
            )
        index.append(group)
    present = sorted(set(index))
    if len(present) != len(names):  # a column that encodes to nothing (no categories) is dropped
        remap = {g: i for i, g in enumerate(present)}
        names = [names[g] for g in present]
        index = [remap[g] for g in index]
    return FeatureGroups(names, np.asarray(index, dtype=np.int64))


def default_patch(height: int, width: int) -> int:
    """The patch side that cuts an image into at most 8 x 8 patches."""
    return max(1, math.ceil(max(height, width) / 8))


def image_patches(shape: Sequence[int], patch: int | None = None) -> tuple[np.ndarray, list[str], int]:
    """Square pixel patches shared across channels: (element → group, names, patch side)."""
    c, h, w = (int(s) for s in shape)
    p = default_patch(h, w) if patch is None else int(patch)
    cols = math.ceil(w / p)
    rows_idx = np.arange(h) // p
    cols_idx = np.arange(w) // p
    grid = rows_idx[:, None] * cols + cols_idx[None, :]
    index = np.broadcast_to(grid, (c, h, w)).reshape(-1).astype(np.int64)
    names = [
        f"rows {r * p}-{min(h, (r + 1) * p) - 1}, cols {k * p}-{min(w, (k + 1) * p) - 1}"
        for r in range(math.ceil(h / p))
        for k in range(cols)
    ]
    return index, names, p


def sequence_steps(shape: Sequence[int]) -> tuple[np.ndarray, list[str]]:
    """One group per time step of a ``(T, F)`` sequence."""
    t, f = (int(s) for s in shape)
    index = np.repeat(np.arange(t), f).astype(np.int64)
    return index, [f"step {i}" for i in range(t)]
