"""Sensitive columns turned into integer group codes, with bands for continuous columns.

A sensitive column is categorical (its distinct values are the groups) unless it is numeric
with more than ``MAX_CATEGORIES`` distinct values, or ``bands`` names it: then it is cut into
bands at explicit edges. Default edges are quantiles of the column (``n_bands`` bands of
about equal size); they are returned as ``band_edges`` so a rerun (another split, another
epoch, another run) uses exactly the same bands by passing them back as ``bands``.

Groups of all columns are combined into one *joint* code (observed combinations only); every
column's groups and every intersection of columns are sums of joint cells, so counts are
taken once and the bootstrap resamples one set of cells for all of them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "INTERSECTION_JOIN",
    "MAX_CATEGORIES",
    "MISSING",
    "FairnessError",
    "SensitiveGroups",
    "encode_sensitive",
]

MAX_CATEGORIES = 10  # a numeric column with more distinct values is banded
MAX_LISTED_INTERSECTIONS = 1000  # above this, only observed combinations are listed
MISSING = "missing"  # the group of rows with no value (None / NaN)
INTERSECTION_JOIN = " & "  # "sex & age" for the column, "female & < 33" for its group


class FairnessError(ValueError):
    """A fairness input cannot be used; the message says which one and why."""


@dataclass
class SensitiveGroups:
    """Sensitive columns encoded as group codes, ready for counting.

    Attributes
    ----------
    n_rows : rows encoded.
    columns : the sensitive column names, in the order given.
    levels : ``{column: [group label, ...]}``; for intersections the labels are the
        column labels joined by ``INTERSECTION_JOIN``.
    joint : ``(n_rows,)`` int64 index of each row's observed combination of groups.
    joint_members : ``{column: (J,) int64}`` group index of each joint cell in each column
        (and intersection), so a column's counts are joint counts summed by this map.
    band_edges : ``{column: [edge, ...]}`` interior cut points of every banded column.
    intersections : names of the intersection "columns" (empty with one column).
    notes : sentences about choices made while encoding (for the report's notes).
    """

    n_rows: int
    columns: list[str]
    levels: dict[str, list[str]]
    joint: np.ndarray
    joint_members: dict[str, np.ndarray]
    band_edges: dict[str, list[float]] = field(default_factory=dict)
    intersections: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def n_joint(self) -> int:
        """Number of observed combinations of groups."""
        return int(len(next(iter(self.joint_members.values()))))

    @property
    def features(self) -> list[str]:
        """Columns then intersections: every key the report has a table for."""
        return [*self.columns, *self.intersections]


def _factorize_text(raw: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes (-1 for None / NaN) and sorted text labels of a column of objects or strings.

    ``pandas.factorize`` hashes instead of sorting 100,000 Python objects, which is what
    makes encoding a text column cheap; only the few distinct labels are sorted.
    """
    import pandas as pd

    codes, uniques = pd.factorize(raw)
    labels = [str(u) for u in uniques]
    order = sorted(range(len(labels)), key=labels.__getitem__)
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels))
    codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1) if len(labels) else codes
    return np.asarray(codes, dtype=np.int64), [labels[i] for i in order]


def _band_label(edges: Sequence[float], i: int) -> str:
    def fmt(x: float) -> str:
        return f"{x:g}"

    if not edges:
        return "all"
    if i == 0:
        return f"< {fmt(edges[0])}"
    if i == len(edges):
        return f">= {fmt(edges[-1])}"
    return f"[{fmt(edges[i - 1])}, {fmt(edges[i])})"


def _check_edges(name: str, edges: Any) -> list[float]:
    try:
        out = [float(e) for e in edges]
    except (TypeError, ValueError):
        raise FairnessError(f"Band edges for {name!r} must be a list of numbers, not {edges!r}.") from None
    if not all(math.isfinite(e) for e in out):
        raise FairnessError(f"Band edges for {name!r} must be finite numbers, got {out}.")
    if any(b <= a for a, b in itertools.pairwise(out)):
        raise FairnessError(f"Band edges for {name!r} must be strictly increasing, got {out}.")
    return out


def _encode_column(
    name: str, raw: np.ndarray, edges: list[float] | None, n_bands: int
) -> tuple[np.ndarray, list[str], list[float] | None]:
    """Group codes, group labels and (for a banded column) the interior band edges."""
    if raw.dtype.kind in "OUS":
        if edges is not None:
            raise FairnessError(f"Sensitive column {name!r} has bands but holds text, not numbers.")
        codes, labels = _factorize_text(raw)
        missing = codes < 0
    else:
        missing = np.isnan(raw) if raw.dtype.kind == "f" else np.zeros(len(raw), dtype=bool)
        numeric = raw.dtype.kind in "iuf"
        if edges is None and numeric:
            present = raw[~missing]
            if len(np.unique(present)) > MAX_CATEGORIES:
                # quantile cut points; ties collapse duplicates so no band is empty by design
                qs = np.quantile(present.astype(np.float64), np.linspace(0, 1, n_bands + 1)[1:-1])
                edges = [float(e) for e in np.unique(qs)]
        if edges is not None:
            if not numeric:
                raise FairnessError(f"Sensitive column {name!r} has bands but holds {raw.dtype} values, not numbers.")
            # band i holds edges[i-1] <= x < edges[i]: side="right" puts x == edge in the upper band
            codes = np.searchsorted(np.asarray(edges, dtype=np.float64), raw.astype(np.float64), side="right")
            labels = [_band_label(edges, i) for i in range(len(edges) + 1)]
        else:
            uniq, inverse = np.unique(raw[~missing], return_inverse=True)
            codes = np.full(len(raw), -1, dtype=np.int64)
            codes[~missing] = inverse.reshape(-1)
            labels = [str(u.item()) for u in uniq]
    codes = np.asarray(codes, dtype=np.int64)
    if missing.any():
        codes[missing] = len(labels)
        labels.append(MISSING)
    if len(set(labels)) != len(labels):
        raise FairnessError(
            f"Sensitive column {name!r} has values that read the same as text ({labels}); "
            "give them distinct names."
        )
    return codes, labels, edges


def _as_columns(sensitive: Any) -> dict[str, np.ndarray]:
    if isinstance(sensitive, Mapping):
        cols = {str(k): v for k, v in sensitive.items()}
    elif hasattr(sensitive, "columns") and hasattr(sensitive, "to_numpy"):  # a DataFrame
        cols = {str(c): sensitive[c].to_numpy() for c in sensitive.columns}
    elif hasattr(sensitive, "to_numpy"):  # a Series
        cols = {str(getattr(sensitive, "name", None) or "sensitive"): sensitive.to_numpy()}
    elif sensitive is None:
        cols = {}
    else:
        cols = {"sensitive": sensitive}
    if not cols:
        raise FairnessError("No sensitive column was given; mark at least one column as sensitive.")
    out = {}
    for k, v in cols.items():
        arr = np.asarray(v)
        if arr.ndim != 1:
            raise FairnessError(f"Sensitive column {k!r} must be one value per row, got shape {arr.shape}.")
        out[k] = arr
    return out


def encode_sensitive(
    sensitive: Any,
    *,
    bands: Mapping[str, Sequence[float]] | None = None,
    n_bands: int = 4,
    intersections: bool = True,
    n_rows: int | None = None,
) -> SensitiveGroups:
    """Encode sensitive columns into group codes.

    Parameters
    ----------
    sensitive : ``{name: values}``, a DataFrame, a Series or one array (named "sensitive").
    bands : ``{name: interior edges}`` for columns to band at these edges (e.g. the
        ``band_edges`` of an earlier report); other continuous columns get quantile edges.
    n_bands : number of quantile bands for a continuous column without edges.
    intersections : also make the intersection of all columns (with two or more columns).
    n_rows : expected number of rows (checked when given).

    Raises
    ------
    FairnessError
        No column, columns of different lengths, bad band edges.
    """
    if isinstance(sensitive, SensitiveGroups):
        if n_rows is not None and sensitive.n_rows != n_rows:
            raise FairnessError(
                f"The sensitive groups cover {sensitive.n_rows} rows but the labels have {n_rows}."
            )
        return sensitive
    if isinstance(n_bands, bool) or not isinstance(n_bands, int) or n_bands < 2:
        raise FairnessError(f"n_bands must be an integer of at least 2, not {n_bands!r}.")
    cols = _as_columns(sensitive)
    bands = dict(bands or {})
    for k in bands:
        if k not in cols:
            raise FairnessError(
                f"Band edges are given for {k!r}, which is not a sensitive column ({', '.join(cols)})."
            )
    lengths = {k: len(v) for k, v in cols.items()}
    n = n_rows if n_rows is not None else next(iter(lengths.values()))
    for k, m in lengths.items():
        if m != n:
            raise FairnessError(f"Sensitive column {k!r} has {m} values but there are {n} rows.")

    codes, levels, band_edges = {}, {}, {}
    for k, v in cols.items():
        edges = _check_edges(k, bands[k]) if k in bands else None
        codes[k], levels[k], used = _encode_column(k, v, edges, n_bands)
        if used is not None:
            band_edges[k] = used

    names = list(cols)
    dims = tuple(len(levels[k]) for k in names)
    flat = np.ravel_multi_index(tuple(codes[k] for k in names), dims) if n else np.zeros(0, np.int64)
    observed, joint = np.unique(flat, return_inverse=True)
    per_col = np.unravel_index(observed, dims)
    members = {k: np.asarray(per_col[i], dtype=np.int64) for i, k in enumerate(names)}

    inter: list[str] = []
    notes: list[str] = []
    if intersections and len(names) > 1:
        name = INTERSECTION_JOIN.join(names)
        if name in cols:
            raise FairnessError(f"A sensitive column is named {name!r}, which is kept for their intersection.")
        inter.append(name)
        if math.prod(dims) <= MAX_LISTED_INTERSECTIONS:
            # every combination, observed or not, as fairlearn's MetricFrame lists them:
            # an empty combination is reported (size 0) rather than hidden
            levels[name] = [INTERSECTION_JOIN.join(c) for c in itertools.product(*(levels[k] for k in names))]
            members[name] = np.asarray(observed, dtype=np.int64)
        else:
            levels[name] = [
                INTERSECTION_JOIN.join(levels[k][int(per_col[i][j])] for i, k in enumerate(names))
                for j in range(len(observed))
            ]
            members[name] = np.arange(len(observed), dtype=np.int64)
            notes.append(
                f"The intersection {name!r} has {math.prod(dims):,} possible combinations; only the "
                f"{len(observed):,} that occur are listed."
            )
    return SensitiveGroups(
        n_rows=int(n),
        columns=names,
        levels=levels,
        joint=np.asarray(joint, dtype=np.int64).reshape(-1),
        joint_members=members,
        band_edges=band_edges,
        intersections=inter,
        notes=notes,
    )
