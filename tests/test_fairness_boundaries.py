"""Fairness numbers at their boundaries, with answers worked out by hand.

Each threshold rule has one definition in ``engines.fairness``: the four-fifths rule (decided
exactly from counts), the favourable decision at the threshold (a score equal to it is not
favourable), the calibration bins (a score on an edge belongs to the lower bin, as
scikit-learn's ``calibration_curve``). The engine, the command line's JSON and the panel give
the same verdict. Intervals of differences: the signed difference of two groups has a
percentile interval that covers 0 when the groups are equal, and the permutation p-values are
uniform then — checked by simulation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn.calibration import calibration_curve

from engines.fairness import audit, prepare_outcomes, threshold_sweep
from engines.fairness.audit import _bias_corrected
from engines.fairness.counts import (
    calibration_bins,
    cell_counts,
    four_fifths_from_ratio,
    four_fifths_holds,
    metrics_from_counts,
)
from engines.fairness.permutation import permutation_pvalues, permuted_cells


def _decisions(groups: dict[str, tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, hard decisions and group of each row: ``{group: (selected, size)}``."""
    y, pred, sex = [], [], []
    for g, (selected, size) in groups.items():
        for i in range(size):
            pred.append(1 if i < selected else 0)
            y.append(i % 2)
            sex.append(g)
    return np.array(y), np.array(pred), np.array(sex)


# ------------------------------------------------------------------- the four-fifths rule
@pytest.mark.parametrize(
    ("female", "male", "ok"),
    [
        ((4, 10), (5, 10), True),  # 0.4 / 0.5 = 0.8 exactly: passes
        ((4, 6), (5, 6), True),  # (4/6) / (5/6) = 4/5, written 0.7999999999999999 in floats
        ((3, 10), (4, 10), False),  # 0.75
        ((79, 100), (100, 100), False),  # 0.79
        ((4001, 5000), (5000, 5000), True),  # 0.8002
        ((3999, 5000), (5000, 5000), False),  # 0.7998
        ((0, 10), (5, 10), False),  # 0
        ((5, 10), (5, 10), True),  # parity
    ],
)
def test_four_fifths_rule_at_its_boundary(female, male, ok) -> None:
    y, pred, sex = _decisions({"female": female, "male": male})
    report = audit(y, pred, {"sex": sex}, n_boot=0, kind="labels")
    entry = report.differences["sex"]["di_ratio"]
    assert entry["four_fifths_ok"] is ok
    assert four_fifths_holds([female[0], male[0]], [female[1], male[1]]) is ok


def test_the_float_ratio_of_four_sixths_to_five_sixths_is_below_point_eight_but_passes() -> None:
    y, pred, sex = _decisions({"female": (4, 6), "male": (5, 6)})
    report = audit(y, pred, {"sex": sex}, n_boot=0, kind="labels")
    ratio = report.differences["sex"]["di_ratio"]["value"]
    assert ratio < 0.8  # 0.7999999999999999: why the rule is not decided on the float
    assert report.differences["sex"]["di_ratio"]["four_fifths_ok"] is True
    assert four_fifths_from_ratio(ratio) is True


def test_four_fifths_from_counts_leaves_out_empty_groups_and_needs_two() -> None:
    assert four_fifths_holds([4, 5, 0], [6, 6, 0]) is True  # the empty group is left out
    assert four_fifths_holds([4], [6]) is None
    assert four_fifths_holds([0, 0], [6, 6]) is None  # 0/0
    assert four_fifths_holds([0, 1], [6, 6]) is False


# ------------------------------------------------------------------- the decision threshold
def test_a_score_equal_to_the_threshold_is_not_favourable() -> None:
    y = np.array([1, 1, 0, 0])
    scores = np.array([0.3, 0.30000000000000004, 0.5, 0.7])
    _, predicted, _, _ = prepare_outcomes(y, scores, threshold=0.3, kind="scores")
    assert predicted.tolist() == [False, True, True, True]
    _, predicted, _, _ = prepare_outcomes(y, scores, threshold=0.5, kind="scores")
    assert predicted.tolist() == [False, False, False, True]
    # the audit and the sweep decide the same way at the same threshold
    group = np.array(["a", "a", "b", "b"])
    report = audit(y, scores, {"g": group}, threshold=0.5, n_boot=0, kind="scores")
    assert report.by_group["g"]["a"]["selection_rate"] == 0.0
    assert report.by_group["g"]["b"]["selection_rate"] == 0.5
    sweep = threshold_sweep(y, scores, {"g": group}, thresholds=[0.5])
    assert sweep.by_group["g"]["b"]["selection_rate"][0] == 0.5
    assert sweep.by_group["g"]["a"]["selection_rate"][0] == 0.0


# ------------------------------------------------------------------- calibration bins
def test_scores_on_bin_edges_fall_in_the_lower_bin_as_scikit_learn_bins_them() -> None:
    scores = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.4, 0.5, 0.9, 1.0, 0.15, 0.45])
    assert calibration_bins(scores).tolist() == [0, 0, 1, 2, 3, 3, 4, 8, 9, 1, 4]
    # per-bin mean score and fraction favourable against calibration_curve (empty bins dropped)
    y = np.array([0, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1])
    prob_true, prob_pred = calibration_curve(y, scores, n_bins=10, strategy="uniform")
    counts, sums = cell_counts(np.zeros(len(y), dtype=np.int64), 1, y.astype(bool), scores > 0.5, scores)
    per_bin_n = counts[0].sum((0, 1))
    per_bin_pos = counts[0, 1].sum(0)
    per_bin_sum = sums[0].sum((0, 1))
    filled = per_bin_n > 0
    np.testing.assert_allclose(per_bin_sum[filled] / per_bin_n[filled], prob_pred, atol=1e-12)
    np.testing.assert_allclose(per_bin_pos[filled] / per_bin_n[filled], prob_true, atol=1e-12)


def test_calibration_error_of_scores_on_an_edge_by_hand() -> None:
    # 0.4 is in (0.3, 0.4]; 0.45 in (0.4, 0.5]. Bin 3: scores 0.4, 0.4 with outcomes 1, 0 →
    # |0.8 − 1| = 0.2; bin 4: score 0.45, outcome 1 → |0.45 − 1| = 0.55. ECE = (0.2 + 0.55) / 3.
    # (Were 0.4 put in the upper bin: |1.25 − 2| = 0.75 over 3 rows, the same total here — so
    # the bins are also checked directly above.)
    y = np.array([1, 0, 1])
    scores = np.array([0.4, 0.4, 0.45])
    counts, sums = cell_counts(np.zeros(3, dtype=np.int64), 1, y.astype(bool), scores > 0.5, scores)
    ece = metrics_from_counts(counts[0], sums[0])["calibration_error"]
    assert float(ece) == pytest.approx(0.75 / 3, abs=1e-12)
    # one score on the edge 0.4 and one just above it, outcomes 0 and 1: in separate bins
    # |0.4 − 0| + |0.41 − 1| = 0.99 → 0.495; together |0.81 − 1| = 0.19 → 0.095
    y = np.array([0, 1])
    scores = np.array([0.4, 0.41])
    counts, sums = cell_counts(np.zeros(2, dtype=np.int64), 1, y.astype(bool), scores > 0.5, scores)
    assert float(metrics_from_counts(counts[0], sums[0])["calibration_error"]) == pytest.approx(0.495)


# ------------------------------------------------------------------- signed differences
def test_two_groups_get_the_signed_difference_in_the_stated_order() -> None:
    y, pred, sex = _decisions({"female": (3, 10), "male": (6, 10)})
    report = audit(y, pred, {"sex": sex}, n_boot=200, seed=1, kind="labels")
    dp = report.differences["sex"]["dp_difference"]
    assert dp["signed"]["order"] == ["female", "male"]
    assert dp["signed"]["value"] == pytest.approx(0.3 - 0.6)
    assert dp["value"] == pytest.approx(0.3)  # the unsigned spread
    lo, hi = dp["signed"]["ci"]
    assert lo <= -0.3 <= hi
    # TPR: female rows 0..2 selected with y = 0,1,0 → TP 1 of 5 positives; male 0..5 → 3 of 5
    eop = report.differences["sex"]["eop_difference"]
    assert eop["signed"]["value"] == pytest.approx(1 / 5 - 3 / 5)
    # more than two groups: no signed difference, the largest pairwise one instead
    y3, pred3, g3 = _decisions({"a": (1, 10), "b": (5, 10), "c": (9, 10)})
    three = audit(y3, pred3, {"g": g3}, n_boot=200, seed=1, kind="labels")
    assert "signed" not in three.differences["g"]["dp_difference"]
    assert three.differences["g"]["dp_difference"]["value"] == pytest.approx(0.8)


def test_report_json_round_trip_keeps_signed_and_p_values() -> None:
    y, pred, sex = _decisions({"female": (3, 10), "male": (6, 10)})
    report = audit(y, pred, {"sex": sex}, n_boot=100, seed=3, kind="labels")
    back = type(report).from_dict(json.loads(json.dumps(report.to_dict())))
    assert back.differences == report.differences
    assert back.n_perm == 100


def test_bias_corrected_interval_by_hand() -> None:
    # resamples symmetric about the estimate: z0 = 0, the plain percentile interval
    samples = np.arange(-500, 501, dtype=np.float64)  # 1,001 values
    lo, hi = _bias_corrected(samples, 0.0, 0.90)
    assert (lo, hi) == pytest.approx(tuple(np.quantile(samples, [0.05, 0.95])))
    # 84.13 % of the resamples below the estimate: z0 = Φ⁻¹(0.8413) = 1.0, so the 90 %
    # interval takes the quantiles Φ(2 − 1.645) = 0.6386 and Φ(2 + 1.645) = 0.99987
    samples = np.linspace(0.0, 1.0, 10_001)
    lo, hi = _bias_corrected(samples, 0.8413, 0.90)
    assert lo == pytest.approx(0.6386, abs=2e-4)
    assert hi == pytest.approx(0.99987, abs=2e-4)
    # every resample above a spread of 0.021 (a difference near zero): z0 is clipped at
    # Φ⁻¹(0.5/1000) = −3.29, which would put the interval at the 0th–0.0th quantiles, below
    # the estimate; it is widened to reach the estimate instead
    samples = np.linspace(0.03, 0.2, 1000)
    lo, hi = _bias_corrected(samples, 0.021, 0.95)
    assert lo == 0.021 and hi == pytest.approx(0.03, abs=1e-3)


# ------------------------------------------------------------------- permutation tests
def test_permuted_data_sets_keep_group_sizes_and_cell_totals() -> None:
    cells = np.array([[10, 3, 2, 5], [4, 6, 1, 9], [0, 0, 0, 0], [7, 7, 7, 7]])
    perm = permuted_cells(cells, 500, np.random.default_rng(0))
    assert (perm.sum(2) == cells.sum(1)).all()  # every group keeps its size
    assert (perm.sum(1) == cells.sum(0)).all()  # every cell keeps its total
    assert (perm >= 0).all()
    # shuffling labels: each group's expected count of a cell is size × cell share
    expected = cells.sum(1)[:, None] * cells.sum(0)[None, :] / cells.sum()
    np.testing.assert_allclose(perm.mean(0), expected, atol=0.6)


def test_identical_groups_get_a_large_p_value_and_separated_groups_a_small_one() -> None:
    same = np.array([[30, 20, 20, 30], [30, 20, 20, 30]])
    rng = np.random.default_rng(0)
    p = permutation_pvalues(same, {"dp_difference": 0.0, "dp_ratio": 1.0}, 999, rng)
    assert p["dp_difference"] > 0.5 and p["dp_ratio"] > 0.5
    apart = np.array([[50, 0, 50, 0], [0, 50, 0, 50]])  # one group never selected, one always
    p = permutation_pvalues(apart, {"dp_difference": 1.0, "di_ratio": 0.0}, 999, rng)
    assert p["dp_difference"] == pytest.approx(0.5 / 1000)  # none further, none tied, + ½
    assert p["di_ratio"] == pytest.approx(0.5 / 1000)


@pytest.mark.slow
def test_by_simulation_intervals_cover_no_difference_and_p_values_are_uniform() -> None:
    # 1,000 data sets of two truly equal groups (400 rows each, selection rate 0.3)
    rng = np.random.default_rng(12345)
    n, sets = 400, 1000
    group = np.array(["a"] * n + ["b"] * n)
    covered, p_values = 0, []
    for i in range(sets):
        pred = (rng.random(2 * n) < 0.3).astype(np.int64)
        y = rng.integers(0, 2, 2 * n)
        report = audit(y, pred, {"g": group}, n_boot=1000, seed=i, intersections=False, kind="labels")
        dp = report.differences["g"]["dp_difference"]
        lo, hi = dp["signed"]["ci"]
        covered += lo <= 0 <= hi
        p_values.append(dp["p_value"])
    coverage = covered / sets
    assert 0.93 <= coverage <= 0.97, coverage
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    # a planted difference (0.4 against 0.3) is found by both
    found_ci = found_p = 0
    for i in range(100):
        pred = np.concatenate([rng.random(n) < 0.4, rng.random(n) < 0.3]).astype(np.int64)
        y = rng.integers(0, 2, 2 * n)
        report = audit(y, pred, {"g": group}, n_boot=1000, seed=i, intersections=False, kind="labels")
        dp = report.differences["g"]["dp_difference"]
        found_ci += dp["signed"]["ci"][0] > 0
        found_p += dp["p_value"] < 0.05
    assert found_ci >= 80 and found_p >= 80, (found_ci, found_p)


# ------------------------------------------------------------------- one verdict everywhere
def _project_with_decisions(tmp_path: Path, groups: dict[str, tuple[int, int]]) -> Path:
    """A saved project whose one run selects exactly ``selected`` of ``size`` rows per group.

    The run is a single linear layer with hand-set weights: class 1 wins by a wide margin
    when the (standardised) column ``x`` is positive, so the decisions are fixed by the data.
    """
    import torch

    from engines.data import DataSpec
    from engines.graph import Graph
    from workbench.core.project import Run, save_project
    from workbench.core.session import create_project

    rows = ["x,sex,label"]
    for g, (selected, size) in groups.items():
        for i in range(size):
            rows.append(f"{10.0 if i < selected else -10.0},{g},{i % 2}")
    csv = tmp_path / "decisions.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = DataSpec(source="csv", path=str(csv), roles={"sex": "sensitive"}, target="label")
    project = create_project("mlp", spec, seed=0)
    graph = Graph()
    graph.add_node("input", {"shape": [1]}, id="input")
    graph.add_node("linear", {"out_features": 2}, id="fc")
    graph.add_node("output", {}, id="output")
    graph.connect("input", "fc")
    graph.connect("fc", "output")
    project.graph = graph
    weights = {"layers.fc.weight": torch.tensor([[-50.0], [50.0]]), "layers.fc.bias": torch.zeros(2)}
    run = Run(id="r1", name="fixed", weights=weights, data_fingerprint=project.data_fingerprint)
    project.runs.append(run)
    project.active_run = run.id
    path = tmp_path / "decisions.wbproj"
    save_project(project, path)
    return path


@pytest.fixture(scope="module")
def four_sixths(tmp_path_factory) -> Path:
    return _project_with_decisions(tmp_path_factory.mktemp("ff"), {"female": (4, 6), "male": (5, 6)})


def test_the_command_line_json_gives_the_engines_verdict(four_sixths: Path, capsys) -> None:
    from workbench.cli import main

    code = main(["fairness", str(four_sixths), "--sensitive", "sex", "--split", "all",
                 "--n-boot", "50", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["by_group"]["sex"]["female"]["selection_rate"] == pytest.approx(4 / 6)
    assert doc["by_group"]["sex"]["male"]["selection_rate"] == pytest.approx(5 / 6)
    assert doc["differences"]["sex"]["di_ratio"]["four_fifths_ok"] is True
    code = main(["fairness", str(four_sixths), "--sensitive", "sex", "--split", "all", "--n-boot", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "four-fifths rule: met" in out
