"""Fairness: group metrics from confusion counts, bootstrap intervals, and mitigation.

fairlearn is the reference (the tests check every point estimate against its metric
functions and ``MetricFrame``), but ``MetricFrame`` recomputes each metric per group from the
rows, and its bootstrap resamples rows — far too slow for intervals on 100,000 rows or for
live per-epoch use. Every metric here comes from per-group confusion counts taken once with
``np.bincount``; the bootstrap resamples the counts (see :mod:`engines.fairness.bootstrap`).

- :func:`audit` → :class:`FairnessReport` (overall, by group and intersection, differences
  and ratios, intervals, sizes, the favourable label, threshold, seed and band edges used).
- :func:`point_metrics` (no bootstrap, for live use), :func:`threshold_sweep`.
- :func:`reweighing_weights`, :class:`FairnessPenalty`, :func:`threshold_optimizer`.
- :class:`FairnessTracker`, a training callback (imports torch when first used).

Bad input raises :class:`FairnessError` (a ``ValueError``) with one sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engines.fairness.audit import (
    ThresholdSweep,
    audit,
    point_metrics,
    prepare_outcomes,
    threshold_sweep,
)
from engines.fairness.counts import CALIBRATION_BINS, DIFFERENCES, FOUR_FIFTHS, METRICS
from engines.fairness.groups import FairnessError, SensitiveGroups, encode_sensitive
from engines.fairness.mitigation import (
    FairnessPenalty,
    FairThresholds,
    reweighing_weights,
    threshold_optimizer,
)
from engines.fairness.report import FairnessReport

if TYPE_CHECKING:
    from engines.fairness.tracker import FairnessTracker

__all__ = [
    "CALIBRATION_BINS",
    "DIFFERENCES",
    "FOUR_FIFTHS",
    "METRICS",
    "FairThresholds",
    "FairnessError",
    "FairnessPenalty",
    "FairnessReport",
    "FairnessTracker",
    "SensitiveGroups",
    "ThresholdSweep",
    "audit",
    "encode_sensitive",
    "point_metrics",
    "prepare_outcomes",
    "reweighing_weights",
    "threshold_optimizer",
    "threshold_sweep",
]


def __getattr__(name: str) -> Any:
    # the tracker needs torch and the trainer; audits alone (e.g. the CLI) do not
    if name == "FairnessTracker":
        from engines.fairness.tracker import FairnessTracker

        return FairnessTracker
    raise AttributeError(f"module 'engines.fairness' has no attribute {name!r}")
