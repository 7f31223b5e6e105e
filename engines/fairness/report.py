"""The typed result of a fairness audit, and its JSON form.

JSON has no NaN or infinity, so ``to_dict`` writes a non-finite number as the string
``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` (the spellings Python's ``json`` module and
JavaScript use) and ``from_dict`` reads them back; every other value is a plain JSON value.
Why a value is NaN is said in ``reasons`` / ``overall_reasons`` / a difference's ``reason``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from engines.fairness.groups import FairnessError

__all__ = ["FairnessReport", "decode_floats", "encode_floats"]

_ENCODED = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# fields holding text only: a note or a label that reads "NaN" stays text
_TEXT_FIELDS = {"favourable", "notes", "reasons", "overall_reasons", "columns", "intersections"}


def encode_floats(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its string spelling (recursively)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {k: encode_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode_floats(v) for v in value]
    return value


def decode_floats(value: Any) -> Any:
    """Inverse of :func:`encode_floats`."""
    if isinstance(value, str) and value in _ENCODED:
        return _ENCODED[value]
    if isinstance(value, dict):
        return {k: decode_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_floats(v) for v in value]
    return value


@dataclass
class FairnessReport:
    """Fairness metrics of one set of predictions, by group, with bootstrap intervals.

    Attributes
    ----------
    overall : ``{metric: value}`` over all rows, with ``size``.
    by_group : ``{feature: {group: {metric: value, "size": n}}}``; features are the sensitive
        columns and their intersection (``"sex & age"``).
    intervals : ``{feature: {group: {metric: [lo, hi]}}}`` percentile bootstrap intervals
        (empty when ``n_boot`` is 0).
    overall_intervals : ``{metric: [lo, hi]}``.
    differences : ``{feature: {name: {"value", "ci": [lo, hi], "p_value", "reason",
        "left_out"}}}`` for ``dp_difference``, ``dp_ratio``, ``eo_difference``,
        ``eop_difference`` and ``di_ratio``. ``value`` is the largest pairwise difference
        (max − min) or the smallest ratio (min / max) of the group metric; ``ci`` its
        bias-corrected bootstrap interval; ``p_value`` a permutation test of "no difference
        between groups" (``n_perm`` shuffles of the group labels). With exactly two groups,
        ``dp_difference`` and ``eop_difference`` also have ``signed``: ``{"order": [a, b],
        "value": rate(a) − rate(b), "ci": [lo, hi]}`` (percentile interval, which contains 0
        when the groups do not differ). ``di_ratio`` also has ``four_fifths_ok`` (lowest rate ≥
        4/5 of the highest, decided exactly from the counts; None if undefined) and the
        ``lowest`` / ``highest`` group by selection rate.
    sizes : ``{feature: {group: n}}``.
    reasons : ``{feature: {group: {metric: why it is NaN}}}``; ``overall_reasons`` likewise.
    favourable, threshold : the favourable label and the score threshold used
        (favourable when score > threshold; None for hard predictions).
    n_boot, confidence, seed : the bootstrap settings; ``n_perm`` the permutations of each
        p-value (the same number as ``n_boot``, drawn from a stream of their own).
    band_edges : ``{column: interior edges}`` of banded continuous columns; pass back as
        ``bands`` to reproduce the groups.
    notes : sentences a reader should see (undefined values, bands, choices made).
    n_rows, columns, intersections, has_scores, elapsed (s).
    """

    overall: dict[str, float]
    by_group: dict[str, dict[str, dict[str, float]]]
    differences: dict[str, dict[str, dict[str, Any]]]
    sizes: dict[str, dict[str, int]]
    favourable: Any
    threshold: float | None
    n_boot: int
    confidence: float
    seed: int
    band_edges: dict[str, list[float]]
    notes: list[str]
    intervals: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    overall_intervals: dict[str, list[float]] = field(default_factory=dict)
    reasons: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    overall_reasons: dict[str, str] = field(default_factory=dict)
    n_rows: int = 0
    columns: list[str] = field(default_factory=list)
    intersections: list[str] = field(default_factory=list)
    has_scores: bool = False
    n_perm: int = 0
    elapsed: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite numbers as strings, see the module docstring)."""
        return {f.name: encode_floats(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: Any) -> FairnessReport:
        """Rebuild a report from :meth:`to_dict` output.

        Raises
        ------
        FairnessError
            If ``d`` is not such a dict.
        """
        if not isinstance(d, dict):
            raise FairnessError(f"A fairness report must be a dict, not {type(d).__name__}.")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise FairnessError(f"Unknown fairness report field(s): {', '.join(unknown)}.")
        try:
            return cls(**{k: v if k in _TEXT_FIELDS else decode_floats(v) for k, v in d.items()})
        except TypeError as exc:
            raise FairnessError(f"A fairness report is missing fields: {exc}.") from None
