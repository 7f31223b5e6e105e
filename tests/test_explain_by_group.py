"""Attributions compared across groups: the engine by hand, the core operation, the command.

The planted difference: on the generated ``lending`` data the model sees ``group`` (and its
proxy ``region``) and learns the injected penalty for group B, so the attributions of
``group`` differ between A and B. Where there is no difference (synthetic attributions
independent of the groups), the permutation p-values are uniform.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from engines.data import builtin_spec
from engines.explain import (
    ExplainError,
    GroupAttributionComparison,
    compare_groups,
    holm,
)
from workbench.cli import main
from workbench.core.analysis import (
    explain_by_group,
    group_comparison,
    group_explanation_analysis,
)
from workbench.core.project import load_project, save_project
from workbench.core.session import WorkbenchError, create_project, load_data, train_run

# two groups, worked out by hand: x is 1, 3 in group a and -2, 0, -1 in group b; y is 0, 2 and
# 1, 1, 1
A = np.array([[1.0, 0.0], [3.0, 2.0], [-2.0, 1.0], [0.0, 1.0], [-1.0, 1.0]])
G = ["a", "a", "b", "b", "b"]


# ------------------------------------------------------------------------------- engine
def test_two_groups_by_hand() -> None:
    c = compare_groups(A, G, feature_names=["x", "y"], n_boot=2000, n_perm=20_000, seed=0)
    assert c.groups == ["a", "b"] and c.sizes == [2, 3] and c.features == ["x", "y"]
    np.testing.assert_allclose(c.mean, [[2.0, 1.0], [-1.0, 1.0]])
    np.testing.assert_allclose(c.mean_abs, [[2.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(c.difference, [3.0, 0.0])  # a − b
    np.testing.assert_allclose(c.difference_abs, [1.0, 0.0])
    assert c.between.tolist() == [[0, 1], [0, 1]]
    # Of the 10 ways to deal 2 of the 5 x values to a, only {1, 3} (the observed one) gives a
    # difference of means of 3 or more: the exact p-value is 1/10.
    assert c.p_value[0] == pytest.approx(0.1, abs=0.006)
    # y: the observed difference is 0, and every shuffle gives ≥ 0: p = 1 exactly
    assert c.p_value[1] == 1.0
    np.testing.assert_allclose(c.p_holm, [min(1.0, 2 * c.p_value[0]), 1.0])
    # bootstrap of a's x (1 and 3): resampled means 1, 2, 3 with probabilities ¼, ½, ¼, so the
    # 2.5 % and 97.5 % points are 1 and 3; b's x (-2, 0, -1): the all-(-2) and all-0 resamples
    # each have probability 1/27 > 2.5 %, so the interval is [-2, 0]
    np.testing.assert_allclose(c.mean_ci[0, 0], [1.0, 3.0])
    np.testing.assert_allclose(c.mean_ci[1, 0], [-2.0, 0.0])
    np.testing.assert_allclose(c.mean_ci[1, 1], [1.0, 1.0])  # b's y is always 1
    assert c.order() == [0, 1]
    assert c.n_boot == 2000 and c.n_perm == 20_000 and c.reasons == {} and c.notes == []


def test_holm_by_hand_with_ties_and_the_monotonicity_step() -> None:
    p = [0.01, 0.04, 0.03, 0.01, 0.5, math.nan]
    # sorted: 0.01, 0.01, 0.03, 0.04, 0.5 (m = 5, NaN left out) → 5·0.01 = 0.05, 4·0.01 = 0.04,
    # 3·0.03 = 0.09, 2·0.04 = 0.08, 1·0.5 = 0.5; the running maximum lifts 0.04 to 0.05 and
    # 0.08 to 0.09, and the tied 0.01s get the same value
    out = holm(p)
    np.testing.assert_allclose(out[:5], [0.05, 0.09, 0.09, 0.05, 0.5])
    assert math.isnan(out[5])
    np.testing.assert_allclose(holm([0.3, 0.6]), [0.6, 0.6])  # capped monotone: 2·0.3, max(0.6, 0.6)
    np.testing.assert_allclose(holm([0.9, 0.8]), [1.0, 1.0])  # capped at 1
    assert holm([]).size == 0


def test_a_group_of_one_sample() -> None:
    c = compare_groups([[5.0], [1.0], [2.0], [3.0]], ["solo", "many", "many", "many"], n_boot=50, n_perm=99)
    assert c.groups == ["many", "solo"] and c.sizes == [3, 1]
    np.testing.assert_allclose(c.mean[:, 0], [2.0, 5.0])
    np.testing.assert_allclose(c.mean_ci[1, 0], [5.0, 5.0])  # one sample: a point
    assert c.difference[0] == pytest.approx(-3.0)
    # solo's 5 is the largest of the four: it is further out than any other deal, p = 1/4 exactly
    assert c.p_value[0] == pytest.approx(0.25, abs=0.1)
    assert any("one sample" in n for n in c.notes)


def test_an_empty_group_is_reported_and_left_out_of_the_tests() -> None:
    c = compare_groups(A, G, feature_names=["x", "y"], group_order=["a", "b", "c"], n_boot=100, n_perm=500)
    assert c.sizes == [2, 3, 0] and c.reasons == {"c": "no samples in this group"}
    assert np.isnan(c.mean[2]).all() and np.isnan(c.mean_ci[2]).all()
    np.testing.assert_allclose(c.difference, [3.0, 0.0])  # two non-empty groups: signed a − b
    assert c.p_value[1] == 1.0
    text = json.dumps(c.to_dict(), allow_nan=False)  # NaN spelled out, valid JSON
    back = GroupAttributionComparison.from_dict(json.loads(text))
    assert np.isnan(back.mean[2]).all()
    np.testing.assert_allclose(back.mean[:2], c.mean[:2])
    np.testing.assert_array_equal(back.p_value, c.p_value)
    assert back.between.dtype == np.int64 and back.groups == c.groups


def test_identical_groups_give_p_of_one() -> None:
    rng = np.random.default_rng(3)
    half = rng.normal(size=(30, 4))
    c = compare_groups(np.concatenate([half, half[::-1]]), ["a"] * 30 + ["b"] * 30, n_boot=0, n_perm=200)
    np.testing.assert_array_equal(c.p_value, 1.0)
    np.testing.assert_array_equal(c.p_value_abs, 1.0)
    np.testing.assert_array_equal(c.p_holm, 1.0)
    np.testing.assert_allclose(c.difference, 0.0, atol=1e-12)
    assert np.isnan(c.mean_ci).all() and any("n_boot = 0" in n for n in c.notes)


def test_three_groups_largest_difference() -> None:
    X = np.array([[0.0], [2.0], [10.0], [12.0], [5.0], [5.0]])
    c = compare_groups(X, ["p", "p", "q", "q", "r", "r"], n_boot=0, n_perm=5000, seed=1)
    np.testing.assert_allclose(c.mean[:, 0], [1.0, 11.0, 5.0])
    assert c.difference[0] == pytest.approx(10.0)  # max − min = q − p
    assert c.between.tolist() == [[1, 0]]
    # of the 6!/(2!·2!·2!) = 90 labellings, a spread of 10 needs {0, 2} and {10, 12} in two
    # groups and {5, 5} in the third: 3! = 6 of them, so the exact p-value is 6/90
    assert c.p_value[0] == pytest.approx(6 / 90, abs=0.01)


def test_seeded_and_streams_independent() -> None:
    rng = np.random.default_rng(0)
    X, g = rng.normal(size=(80, 3)), rng.integers(0, 2, 80)
    one = compare_groups(X, g, n_boot=100, n_perm=300, seed=5)
    two = compare_groups(X, g, n_boot=100, n_perm=300, seed=5)
    np.testing.assert_array_equal(one.mean_ci, two.mean_ci)
    np.testing.assert_array_equal(one.p_value, two.p_value)
    other = compare_groups(X, g, n_boot=400, n_perm=300, seed=5)  # more resamples, same p-values
    np.testing.assert_array_equal(one.p_value, other.p_value)


def test_bad_input_is_one_sentence() -> None:
    for args, kwargs, words in (
        (([[1.0], [2.0]], ["a", "a"]), {}, "one group"),
        (([[1.0], [2.0]], ["a"]), {}, "1 group labels for 2 samples"),
        (([1.0, 2.0], ["a", "b"]), {}, "must be (samples, features)"),
        (([[1.0], [math.nan]], ["a", "b"]), {}, "not finite"),
        (([[1.0], [2.0]], ["a", "b"]), {"feature_names": ["x", "y"]}, "2 feature names for 1"),
        (([[1.0], [2.0]], ["a", "b"]), {"n_boot": -1}, "n_boot"),
        (([[1.0], [2.0]], ["a", "b"]), {"group_order": ["a"]}, "does not list"),
        ((np.zeros((0, 2)), []), {}, "no samples"),
    ):
        with pytest.raises(ExplainError, match=words.replace("(", r"\(").replace(")", r"\)")):
            compare_groups(*args, **kwargs)
    with pytest.raises(ExplainError, match="not a saved comparison"):
        GroupAttributionComparison.from_dict({"format": "other"})


def test_maps_are_compared_as_per_group_mean_maps() -> None:
    rng = np.random.default_rng(2)
    maps = rng.normal(0, 0.1, size=(40, 1, 3, 3))
    groups = np.array(["A", "B"] * 20)
    maps[groups == "B", 0, 1, 1] += 1.0  # group B's centre pixel matters more
    c = compare_groups(maps, groups, n_perm=500)
    assert c.is_map and c.map_shape == [1, 3, 3] and c.mean.shape == (2, 1, 3, 3)
    np.testing.assert_allclose(c.mean[1], maps[groups == "B"].mean(0))
    assert c.map_test["p_value"] == pytest.approx(1 / 501)
    assert c.p_value is None and c.mean_ci is None and c.attributions is None
    # two groups of identical maps: the distance is 0 and every shuffle reaches it
    same = compare_groups(np.concatenate([maps[:20], maps[:20]]), ["A"] * 20 + ["B"] * 20, n_perm=100)
    assert same.map_test["value"] == pytest.approx(0.0, abs=1e-12) and same.map_test["p_value"] == 1.0
    back = GroupAttributionComparison.from_dict(json.loads(json.dumps(c.to_dict(), allow_nan=False)))
    assert back.map_shape == [1, 3, 3] and back.map_test == pytest.approx(c.map_test)


def test_p_values_are_uniform_when_the_groups_do_not_differ() -> None:
    """300 data sets whose attributions have nothing to do with the group: the p-values of
    both statistics are uniform (KS test), and about 5 % fall below 0.05."""
    p, p_abs = [], []
    for seed in range(300):
        rng = np.random.default_rng(1000 + seed)
        n = int(rng.integers(20, 60))
        X = rng.standard_t(4, size=(n, 1)) + 0.3  # skewed enough that |x| is not symmetric
        groups = rng.choice(["A", "B", "C"][: 2 + seed % 2], size=n)
        if len(set(groups)) < 2:
            continue
        c = compare_groups(X, groups, n_boot=0, n_perm=199, seed=seed)
        p.append(float(c.p_value[0]))
        p_abs.append(float(c.p_value_abs[0]))
    for values in (p, p_abs):
        ks = stats.kstest(values, "uniform")
        assert ks.pvalue > 0.01, ks
        below = sum(v <= 0.05 for v in values)
        lo, hi = stats.binom.ppf([0.001, 0.999], len(values), 0.05)
        assert lo <= below <= hi, below


# --------------------------------------------------------------------- core and command
@pytest.fixture(scope="module")
def lending(tmp_path_factory):
    spec = builtin_spec("lending")
    spec.sensitive_as_features = True  # the model sees the group, and learns the injected bias
    project = create_project("mlp", spec, seed=0)
    train_run(project, overrides={"epochs": 4}, name="baseline")
    path = tmp_path_factory.mktemp("lending") / "lending.wbproj"
    save_project(project, path)
    return project, load_data(project), path


def test_the_planted_group_difference_is_found(lending, tmp_path: Path) -> None:
    project, data, _path = lending
    o = explain_by_group(project, "shapley", "group", data=data, n_boot=200, n_perm=999, seed=0)
    c = o.comparison
    test_rows = sorted(int(r) for r in data.row_ids[data.splits["test"]])
    assert sorted(o.explanation.row_ids) == test_rows and sum(c.sizes) == len(test_rows)
    assert c.groups == ["A", "B"]
    j = c.features.index("group")
    assert c.order()[0] == j  # the largest difference of all features
    assert c.p_value[j] == pytest.approx(1 / 1000) and c.p_holm[j] <= 8 / 1000
    assert c.p_holm_abs[j] <= 0.01
    # the mean per group is the mean of the explained rows of that group
    attr = o.explanation.result.attributions[:, j]
    where = {int(r): p for p, r in enumerate(data.row_ids)}
    in_b = np.array([data.sensitive["group"][where[r]] == "B" for r in o.explanation.row_ids])
    assert c.mean[1, j] == pytest.approx(attr[in_b].mean())

    assert any("predicted class" in n for n in c.notes)  # outputs differ between samples: said so
    # explaining one output for all (approval, class 1): the model has learnt the penalty, so
    # group B's own value pushes approval down and A's pushes it up
    approval = explain_by_group(project, "shapley", "group", data=data, target=1, n_boot=0, n_perm=199).comparison
    assert approval.mean[1, j] < 0 < approval.mean[0, j] and approval.p_holm[j] <= 8 / 200
    assert not any("predicted class" in n for n in approval.notes)

    a = group_explanation_analysis(o)
    assert a.kind == "group_explanation"
    meta = a.meta
    for key in ("method", "params", "baseline", "value_function", "seed", "split", "row_ids", "sensitive",
                "n_boot", "n_perm", "versions", "request", "comparison"):
        assert key in meta, key
    assert meta["method"] == "shapley" and meta["sensitive"] == "group" and meta["n_perm"] == 999
    assert meta["baseline"] == "mean of the training split" and set(meta["versions"]) >= {"torch", "numpy"}
    json.dumps(meta, allow_nan=False)
    o.run.add_analysis(a)
    path = tmp_path / "kept.wbproj"
    save_project(project, path)
    o.run.analyses.remove(a)
    again = load_project(path).run(o.run.id)
    kept = group_comparison(next(x for x in again.analyses if x.kind == "group_explanation"))
    np.testing.assert_array_equal(kept.mean, c.mean)
    np.testing.assert_array_equal(kept.p_holm, c.p_holm)
    np.testing.assert_array_equal(kept.attributions, c.attributions)
    assert kept.features == c.features and kept.sizes == c.sizes


def test_core_bad_input_and_empty_group(lending) -> None:
    project, data, _path = lending
    with pytest.raises(WorkbenchError, match="not a sensitive column"):
        explain_by_group(project, "ig", "income", data=data, n_boot=0, n_perm=0)
    with pytest.raises(WorkbenchError, match="explains image data"):
        explain_by_group(project, "gradcam", "group", data=data)
    one = dataclasses.replace(data, sensitive={"group": np.full(len(data.row_ids), "A", dtype=object)})
    with pytest.raises(WorkbenchError, match="only one group"):
        explain_by_group(project, "ig", "group", data=one)
    # a group that only occurs in the training split is listed with size 0 on the test split
    sens = np.asarray(data.sensitive["group"], dtype=object).copy()
    sens[data.splits["train"][:5]] = "C"
    o = explain_by_group(project, "ig", "group", data=dataclasses.replace(data, sensitive={"group": sens}),
                         n_boot=20, n_perm=50)
    assert o.comparison.groups == ["A", "B", "C"] and o.comparison.sizes[2] == 0
    assert o.comparison.reasons == {"C": "no samples in this group"}


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_by_group(lending, tmp_path: Path, capsys) -> None:
    _project, _data, source = lending
    path = tmp_path / "cli.wbproj"
    path.write_bytes(source.read_bytes())
    code, out, err = _cli(capsys, "explain", str(path), "--method", "ig", "--by-group", "group", "--json",
                          "--n-boot", "100", "--n-perm", "199", "--save")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["sensitive"] == "group" and doc["groups"] == ["A", "B"] and doc["n_perm"] == 199
    assert doc["correction"].startswith("Holm") and doc["p_rule"].startswith("(1 + #")
    first = doc["features"][0]
    assert first["feature"] == "group" and first["between"] == ["A", "B"]
    assert first["p_value"] == pytest.approx(1 / 200) and first["p_holm"] <= 8 / 200
    assert set(first["by_group"]["A"]) == {"mean", "mean_ci", "mean_abs", "mean_abs_ci"}
    diffs = [abs(f["difference"]) for f in doc["features"]]
    assert diffs == sorted(diffs, reverse=True)
    kinds = [a.kind for a in load_project(path).active().analyses]
    assert kinds == ["group_explanation"]

    code, out, err = _cli(capsys, "explain", str(path), "--method", "ig", "--by-group", "group",
                          "--n-boot", "50", "--n-perm", "99", "--top", "2")
    assert code == 0, err
    assert "\ngroup\n" in out and "A (n=" in out and "Holm p" in out and "Holm–Bonferroni" in out
    assert "more feature(s)" in out

    for argv, words in (
        (["--by-group", "income"], "not a sensitive column"),
        (["--by-group", "group", "--method", "gradcam"], "explains image data"),
        (["--by-group", "group", "--samples", "1-3"], "leave out --samples"),
        (["--by-group", "group", "--n-perm", "-1"], "must be 0 or more"),
    ):
        args = ["explain", str(path), "--method", "ig", *argv]
        code, out, err = _cli(capsys, *args)
        assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error:"), (argv, err)
        assert words in err


def test_cli_one_group_is_bad_input(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(0)
    rows = ["x1,x2,site,y"] + [f"{a:.3f},{b:.3f},north,{int(a + b > 0)}"
                                for a, b in rng.normal(size=(80, 2))]
    csv = tmp_path / "one.csv"
    csv.write_text("\n".join(rows) + "\n")
    proj = tmp_path / "one.wbproj"
    assert _cli(capsys, "new", "--template", "mlp", "--data", str(csv), "--target", "y",
                "--sensitive", "site", "-o", str(proj))[0] == 0
    assert _cli(capsys, "train", str(proj), "--epochs", "1", "--quiet")[0] == 0
    code, out, err = _cli(capsys, "explain", str(proj), "--method", "ig", "--by-group", "site")
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1
    assert "only one group ('north')" in err
