"""Permutation tests of "no difference between groups", drawn from confusion counts.

Under the null hypothesis the group a row belongs to has nothing to do with its outcome, so
shuffling the group labels over the rows (group sizes kept) gives data sets as likely as the
one observed. Shuffling rows is the same, in distribution, as dealing each group its rows'
(actual, predicted) cells from the pooled counts without replacement: group after group, a
multivariate hypergeometric draw of its size from what is left. That costs a few vectorised
``Generator.hypergeometric`` calls per group, however many rows there are.

The p-value of a statistic is the mid-p value ``(#{permuted further} + ½·#{permuted tied}
+ ½) / (#permutations + 1)``: "further" is larger for a difference and smaller for a ratio (a
smaller ratio is further from "no difference"), and the observed data set counts as one of
the permutations, tied with itself, so the p-value is never 0 (Phipson & Smyth, 2010). Rates
of a few hundred rows take few distinct values, so ties are common; counting them as half
keeps the p-values uniform under "no difference" instead of too large (checked by
simulation in the tests).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from engines.fairness.counts import differences_from_metrics, metrics_from_counts

__all__ = ["LARGER_IS_FURTHER", "permutation_pvalues", "permuted_cells"]

# for each difference: True when a larger value is further from "no difference"
LARGER_IS_FURTHER = {
    "dp_difference": True,
    "dp_ratio": False,
    "eo_difference": True,
    "eop_difference": True,
    "di_ratio": False,
}
_TIE = 1e-12  # float noise in rates computed from the same whole numbers


def permuted_cells(group_cells: np.ndarray, n_perm: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_perm, G, 4)`` counts of data sets with the group labels shuffled over the rows.

    ``group_cells`` is ``(G, 4)`` whole-number counts (TN, FP, FN, TP) per group. Each
    permutation keeps every group's size and every cell's total.
    """
    cells = np.asarray(np.rint(group_cells), dtype=np.int64)
    n_groups = cells.shape[0]
    sizes = cells.sum(1)
    left = np.broadcast_to(cells.sum(0), (n_perm, 4)).copy()
    out = np.zeros((n_perm, n_groups, 4), dtype=np.int64)
    for g in range(n_groups - 1):
        need = np.full(n_perm, sizes[g], dtype=np.int64)
        for c in range(3):
            got = rng.hypergeometric(left[:, c], left[:, c + 1:].sum(1), need)
            out[:, g, c] = got
            left[:, c] -= got
            need -= got
        out[:, g, 3] = need
        left[:, 3] -= need
    out[:, n_groups - 1] = left
    return out


def permutation_pvalues(
    group_cells: np.ndarray, observed: Mapping[str, float], n_perm: int, rng: np.random.Generator
) -> dict[str, float]:
    """Permutation p-value of each difference in ``observed`` (NaN where it is undefined).

    ``group_cells`` is ``(G, 4)`` counts per group; ``observed`` the differences of
    :func:`~engines.fairness.counts.differences_from_metrics` on the data as it is.
    Permutations in which a difference is undefined (a group dealt no actual favourable rows,
    say) are left out of its count.
    """
    if n_perm <= 0:
        return {name: math.nan for name in observed}
    perm = permuted_cells(group_cells, n_perm, rng)
    shaped = perm.reshape(n_perm, perm.shape[1], 2, 2, 1)
    permuted = differences_from_metrics(metrics_from_counts(shaped, None))
    out: dict[str, float] = {}
    for name, value in observed.items():
        v = float(value)
        if math.isnan(v) or name not in LARGER_IS_FURTHER:
            out[name] = math.nan
            continue
        samples = permuted[name]
        valid = samples[~np.isnan(samples)]
        tied = int(np.count_nonzero(np.abs(valid - v) <= _TIE))
        if LARGER_IS_FURTHER[name]:
            further = int(np.count_nonzero(valid > v + _TIE))
        else:
            further = int(np.count_nonzero(valid < v - _TIE))
        out[name] = (further + 0.5 * tied + 0.5) / (len(valid) + 1)
    return out
