"""The group-comparison view draws what the comparison dict says, and never raises on it."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from widgets.explain.common import ERROR
from widgets.explain.groups import GroupComparisonView, sample_comparison

pytestmark = pytest.mark.gui


def _comparison(**changes):
    """Two groups, three features, numbers written by hand (as GroupAttributionComparison
    .to_dict() would hold them)."""
    d = {
        "format": "model-workbench-group-attributions",
        "features": ["x", "y", "z"], "groups": ["a", "b"], "sizes": [2, 3],
        "mean": [[2.0, 1.0, 0.5], [-1.0, 1.0, 0.4]],
        "mean_abs": [[2.0, 1.0, 0.5], [1.0, 1.0, 0.6]],
        "mean_ci": [[[1.0, 3.0], [1.0, 1.0], [0.2, 0.8]], [[-2.0, 0.0], [1.0, 1.0], [0.1, 0.7]]],
        "mean_abs_ci": [[[1.0, 3.0], [1.0, 1.0], [0.2, 0.8]], [[0.5, 1.5], [1.0, 1.0], [0.3, 0.9]]],
        "difference": [3.0, 0.0, 0.1], "difference_abs": [1.0, 0.0, -0.1],
        "between": [[0, 1]] * 3, "between_abs": [[0, 1]] * 3,
        "p_value": [0.1, 1.0, 0.02], "p_holm": [0.2, 1.0, 0.06],
        "p_value_abs": [0.01, 1.0, 0.5], "p_holm_abs": [0.03, 1.0, 1.0],
        "attributions": [[1, 0, 0.5], [3, 2, 0.5], [-2, 1, 0.4], [0, 1, 0.4], [-1, 1, 0.4]],
        "group_index": [0, 0, 1, 1, 1],
        "n_boot": 1000, "n_perm": 999, "confidence": 0.95, "seed": 0, "map_shape": None,
        "map_test": None, "p_rule": "(1 + #{permuted >= observed}) / (1 + n_perm)",
        "correction": "Holm–Bonferroni across features", "reasons": {}, "notes": [],
    }
    d.update(changes)
    return d


CONTEXT = {"title": "Shapley values", "sensitive": "sex", "split": "test",
           "baseline": "mean of the training split"}


@pytest.fixture
def view(qtbot):
    v = GroupComparisonView()
    qtbot.addWidget(v)
    v.resize(1100, 600)
    v.show()
    return v


def test_bars_are_the_group_means_with_their_intervals(view) -> None:
    view.set_comparison(_comparison(), CONTEXT)
    assert view.shown_features() == ["x", "z", "y"]  # largest |difference| at the top
    bars = view.bar_values()
    assert bars[("x", "a")] == pytest.approx((2.0, 1.0, 3.0))
    assert bars[("x", "b")] == pytest.approx((-1.0, -2.0, 0.0))
    assert bars[("z", "b")] == pytest.approx((0.4, 0.1, 0.7))
    assert len(bars) == 6
    title = view.title.text()
    assert "Shapley values" in title and "sex" in title and "a n=2, b n=3" in title
    # the table: every feature, largest difference first, raw and Holm p; the correction named
    assert view.table.horizontalHeaderItem(1).text() == "a − b"
    assert view.table_rows() == [["x", "3", "0.1", "0.2"], ["z", "0.1", "0.02", "0.06"],
                                 ["y", "0", "1", "1"]]
    note = view.table_note.text()
    assert "999 shuffles" in note and "Holm–Bonferroni" in note and "3 features" in note
    assert not view.table.item(0, 3).font().bold()

    view.set_show("mean_abs")
    assert view.shown_features() == ["x", "z", "y"]
    assert view.bar_values()[("x", "b")] == pytest.approx((1.0, 0.5, 1.5))
    assert view.table_rows()[0] == ["x", "1", "0.01", "0.03"]
    assert view.table.item(0, 3).font().bold()  # Holm p ≤ 0.05
    assert "mean |attribution|" in view.table_note.text()


def test_top_k_and_beeswarm_strips(view) -> None:
    view.set_comparison(_comparison(), CONTEXT)
    view.top_k_spin.setValue(2)
    assert view.shown_features() == ["x", "z"]
    assert len(view.table_rows()) == 3  # the table keeps every feature
    # one strip per group: a's points are its 2 samples × 2 features, b's 3 × 2
    assert [len(item.data) for item in view.swarm_items] == [4, 6]
    xs = sorted(float(x) for x in view.swarm_items[0].data["x"])
    assert xs == [0.5, 0.5, 1.0, 3.0]


def test_nan_spelled_out_and_an_empty_group(view) -> None:
    d = _comparison(groups=["a", "b", "c"], sizes=[2, 3, 0],
                    mean=[[2.0, 1.0, 0.5], [-1.0, 1.0, 0.4], ["NaN", "NaN", "NaN"]],
                    mean_abs=[[2.0, 1.0, 0.5], [1.0, 1.0, 0.6], ["NaN", "NaN", "NaN"]],
                    mean_ci=[[[1.0, 3.0], [1.0, 1.0], [0.2, 0.8]], [[-2.0, 0.0], [1.0, 1.0], [0.1, 0.7]],
                             [["NaN", "NaN"]] * 3],
                    notes=["Group(s) 'c' have no samples."])
    view.set_comparison(d, CONTEXT)
    bars = view.bar_values()
    assert ("x", "c") not in bars and bars[("x", "a")] == pytest.approx((2.0, 1.0, 3.0))
    assert "no samples" in view.message()


def test_a_comparison_that_cannot_be_read_is_a_message(view) -> None:
    view.set_comparison(_comparison(mean=[[1.0]]), CONTEXT)
    assert ERROR in view.message_label.styleSheet() and "cannot be shown" in view.message()
    assert view.bar_values() == {} and not view.export_button.isEnabled()
    view.set_comparison(None)
    assert "Compare groups" in view.message()


def test_compare_is_requested_with_the_column_and_method(view, qtbot) -> None:
    assert not view.compare_button.isEnabled()
    assert "no sensitive columns" in view.compare_button.toolTip()
    view.set_columns(["sex", "age"], current="age")
    view.set_methods([{"id": "shapley", "title": "Shapley values"}, {"id": "ig", "title": "IG"}],
                     current="ig")
    assert view.compare_button.isEnabled()
    with qtbot.waitSignal(view.compare_requested) as got:
        view.compare_button.click()
    assert got.args == [{"sensitive": "age", "method": "ig"}]


def test_export_png_svg_csv(view, tmp_path: Path) -> None:
    view.set_comparison(_comparison(), CONTEXT)
    view.export_png(tmp_path / "g.png")
    view.export_svg(tmp_path / "g.svg")
    assert (tmp_path / "g.png").stat().st_size > 1000
    assert "Holm" in (tmp_path / "g.svg").read_text(encoding="utf-8")
    view.export_csv(tmp_path / "g.csv")
    with open(tmp_path / "g.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["feature"], r["group"]) for r in rows] == [
        ("x", "a"), ("x", "b"), ("z", "a"), ("z", "b"), ("y", "a"), ("y", "b")]
    first = rows[1]
    assert float(first["mean"]) == -1.0 and float(first["mean_low"]) == -2.0
    assert float(first["p_value"]) == 0.1 and float(first["p_holm"]) == 0.2
    assert float(first["size"]) == 3


def test_maps_show_one_mean_map_per_group(view, tmp_path: Path) -> None:
    mean = np.zeros((2, 1, 3, 3))
    mean[1, 0, 1, 1] = 2.0
    d = {"features": [], "groups": ["A", "B"], "sizes": [5, 4], "mean": mean, "mean_abs": np.abs(mean),
         "difference": mean[0] - mean[1], "difference_abs": np.zeros((1, 3, 3)), "map_shape": [1, 3, 3],
         "map_test": {"statistic": "largest Euclidean distance between two group mean maps", "value": 2.0,
                      "p_value": 0.004, "value_abs": 2.0, "p_value_abs": 0.004},
         "n_perm": 999, "n_boot": 0, "confidence": 0.95, "notes": []}
    view.set_comparison(d, CONTEXT)
    assert view.body.currentWidget() is view.maps
    assert len(view.map_items) == 2
    np.testing.assert_array_equal(view.map_items[1].image, mean[1, 0])
    view.export_csv(tmp_path / "m.csv")
    text = (tmp_path / "m.csv").read_text()
    assert "B,4,2.0,2.0" in text


def test_the_preview_data_reads() -> None:
    d, context = sample_comparison(3)
    assert len(d["groups"]) == 3 and context["sensitive"] == "group"
    assert math.isclose(float(np.min(d["p_holm"])), 0.008)
