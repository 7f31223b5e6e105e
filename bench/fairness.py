"""Fairness engine speed: a full audit with 1,000 bootstrap resamples against fairlearn.

Data: 100,000 rows, two sensitive columns (sex: 2 groups; age: continuous, banded into 4
quantile bands — 8 intersections), a binary label and a score. Ours is ``engines.fairness.
audit`` with every metric (selection rate, accuracy, TPR, FPR, FNR, precision, calibration
error; by column and by intersection; differences and ratios) and 1,000 resamples (budget
≤ 1 s). fairlearn is ``MetricFrame`` with six of those metrics on the intersection of the two
columns only (less work than ours): point estimates, then ``n_boot=20`` (resampling rows),
extrapolated to 1,000 resamples from its cost per resample. Both run in this process, one
after the other; their point estimates are compared as a check that they do the same work.

Live use: one per-epoch update of ``FairnessTracker`` (model forward over 5,000 validation
rows in eval mode + point metrics) on a small MLP (budget ≤ 20 ms, median of 30).

Run: ``.venv/bin/python bench/fairness.py [--fairlearn-boot 20] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engines.fairness import FairnessTracker, audit, encode_sensitive  # noqa: E402

ROWS, N_BOOT, SEED = 100_000, 1000, 0
AUDIT_BUDGET_S, LIVE_BUDGET_S = 1.0, 0.020


def make_data(n: int = ROWS) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(SEED)
    sex = rng.choice(np.array(["female", "male"], dtype=object), n, p=[0.35, 0.65])
    age = rng.integers(19, 76, n)
    base = 0.25 + 0.2 * (sex == "male") + 0.004 * (age - 19)
    y = (rng.uniform(size=n) < base).astype(np.int64)
    score = np.clip(0.3 + 0.3 * y + 0.05 * (sex == "male") + rng.normal(0, 0.2, n), 0, 1)
    return y, score, {"sex": sex, "age": age}


def fairlearn_frame(y: np.ndarray, pred: np.ndarray, sf: pd.DataFrame, n_boot: int | None) -> tuple[float, object]:
    from fairlearn.metrics import (
        MetricFrame,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    metrics = {
        "selection_rate": selection_rate,
        "accuracy": accuracy_score,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "precision": precision_score,
    }
    boot = {} if n_boot is None else {"n_boot": n_boot, "ci_quantiles": [0.025, 0.975], "random_state": SEED}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=sf, **boot)
    return time.perf_counter() - t0, mf


def live_update(repeats: int = 30) -> tuple[float, float]:
    """(median seconds of a tracker update, median seconds of its point metrics alone)."""
    torch.set_num_threads(1)  # as in train_overhead.py: steadier on small shared machines
    y, score, sens = make_data(5_000)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5_000, 20)).astype(np.float32)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    tracker = FairnessTracker(X, y, sens)
    tracker.update(model, -1)  # first call moves X to the device and warms up
    times = []
    for epoch in range(repeats):
        t0 = time.perf_counter()
        tracker.update(model, epoch)
        times.append(time.perf_counter() - t0)
    from engines.fairness import point_metrics

    groups = encode_sensitive(sens)
    pm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        point_metrics(y, score, groups)
        pm.append(time.perf_counter() - t0)
    return statistics.median(times), statistics.median(pm)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fairlearn-boot", type=int, default=20, help="fairlearn resamples to time (extrapolated)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    y, score, sens = make_data()
    print(f"{ROWS:,} rows, sensitive: sex (2 groups) x age (4 quantile bands); numpy {np.__version__}, "
          f"torch {torch.__version__}")

    ours = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        report = audit(y, score, sens, n_boot=N_BOOT, seed=SEED)
        ours.append(time.perf_counter() - t0)
    point = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        audit(y, score, sens, n_boot=0)
        point.append(time.perf_counter() - t0)
    print(f"ours, point estimates            : {min(point):8.3f} s (best of {args.repeats})")
    print(f"ours, all metrics + {N_BOOT} resamples: {min(ours):8.3f} s (best of {args.repeats})   budget <= {AUDIT_BUDGET_S} s")

    # fairlearn on the same bands and predictions (score > threshold, as ours)
    edges = report.band_edges["age"]
    groups = encode_sensitive(sens, bands=report.band_edges)
    age_band = np.asarray(groups.levels["age"], dtype=object)[groups.joint_members["age"][groups.joint]]
    sf = pd.DataFrame({"sex": sens["sex"], "age": age_band})
    pred = (score > report.threshold).astype(np.int64)
    fl_point, mf = fairlearn_frame(y, pred, sf, None)
    worst = 0.0
    for (sex, band), row in mf.by_group.iterrows():  # type: ignore[attr-defined]
        mine = report.by_group["sex & age"][f"{sex} & {band}"]
        worst = max(worst, max(abs(mine[m] - row[m]) for m in row.index))
    print(f"fairlearn MetricFrame, point     : {fl_point:8.3f} s   (6 metrics, intersection only; "
          f"largest difference from ours {worst:.1e})")
    fl_boot, _ = fairlearn_frame(y, pred, sf, args.fairlearn_boot)
    per_resample = max(fl_boot - fl_point, 0.0) / args.fairlearn_boot
    fl_1000 = fl_point + N_BOOT * per_resample
    print(f"fairlearn MetricFrame, n_boot={args.fairlearn_boot:<3d}: {fl_boot:8.3f} s   "
          f"({per_resample:.3f} s per resample)")
    print(f"fairlearn, extrapolated to {N_BOOT}  : {fl_1000:8.1f} s")
    print(f"speed-up, {N_BOOT} resamples          : {fl_1000 / min(ours):8.0f} x   "
          f"(point estimates: {fl_point / min(point):.0f} x)")

    live, pm = live_update()
    print(f"live per-epoch update (5,000 rows, MLP forward + point metrics): {live * 1e3:.1f} ms median "
          f"(point metrics alone {pm * 1e3:.1f} ms)   budget <= {LIVE_BUDGET_S * 1e3:.0f} ms")
    ok_audit, ok_live, agree = min(ours) <= AUDIT_BUDGET_S, live <= LIVE_BUDGET_S, worst <= 1e-12
    print(f"audit: {'PASS' if ok_audit else 'FAIL'}   live update: {'PASS' if ok_live else 'FAIL'}   "
          f"point estimates equal fairlearn's: {'PASS' if agree else 'FAIL'}   (band edges for age: {edges})")
    return 0 if ok_audit and ok_live and agree else 1


if __name__ == "__main__":
    sys.exit(main())
