"""The fairness panels, driven with hand-made reports whose every number is known (offscreen Qt)."""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication

from widgets.fairness.controls import NO_COLUMN_HINT, NO_OUTCOME_HINT
from widgets.fairness.panel import (
    FairnessControls,
    FairnessPanel,
    GroupBars,
    GroupTable,
    LiveFairnessCurves,
    RunComparison,
    ThresholdExplorer,
)
from widgets.fairness.report import METRICS, read_report

gui = pytest.mark.gui

TPR_NOTE = "sex = female: TPR is undefined: the group has no positive labels."

# every number differs, none sits on a rounding boundary of the third decimal
REPORT: dict[str, Any] = {
    "overall": {
        "selection_rate": 0.5531,
        "accuracy": 0.7462,
        "tpr": 0.8127,
        "fpr": 0.2963,
        "fnr": 0.1873,
        "precision": 0.7019,
        "calibration_error": 0.0412,
    },
    "by_group": {
        "sex": {
            "female": {
                "selection_rate": 0.41234,
                "accuracy": 0.70118,
                "tpr": None,
                "fpr": 0.25331,
                "fnr": None,
                "precision": None,
                "calibration_error": 0.05127,
                "size": 12,
            },
            "male": {
                "selection_rate": 0.60071,
                "accuracy": 0.78342,
                "tpr": 0.85219,
                "fpr": 0.33187,
                "fnr": 0.14781,
                "precision": 0.72266,
                "calibration_error": 0.03391,
                "size": 88,
            },
        },
        "sex × age_band": {
            "female × 25-35": {"selection_rate": 0.38871, "accuracy": 0.69912, "size": 7},
            "male × 25-35": {"selection_rate": 0.62213, "accuracy": 0.80154, "size": 41},
        },
    },
    "intervals": {
        "sex": {
            "female": {
                "selection_rate": [0.38114, 0.44036],
                "accuracy": [0.61927, 0.78241],
                "fpr": [0.11872, 0.40219],
                "calibration_error": [0.02218, 0.08931],
            },
            "male": {
                "selection_rate": [0.55212, 0.64953],
                "accuracy": [0.74418, 0.82117],
                "tpr": [0.80126, 0.89872],
                "fpr": [0.27734, 0.38916],
                "fnr": [0.10128, 0.19874],
                "precision": [0.66172, 0.78119],
                "calibration_error": [0.01107, 0.05893],
            },
        },
        "sex × age_band": {
            "female × 25-35": {"selection_rate": [0.21913, 0.57128]},
            "male × 25-35": {"selection_rate": [0.52191, 0.71934]},
        },
    },
    "differences": {
        "sex": {
            "dp_difference": {"value": 0.18837, "ci": [0.07123, 0.30219], "reason": ""},
            "dp_ratio": {"value": 0.68642, "ci": [0.55117, 0.82291], "reason": ""},
            "eo_difference": {
                "value": None,
                "ci": None,
                "reason": "TPR is undefined for female, so the TPR gap is too.",
            },
            "eop_difference": {"value": None, "ci": None, "reason": "TPR is undefined for female."},
            "di_ratio": {"value": 0.79, "ci": [0.61277, 0.96113], "reason": ""},
        },
    },
    "four_fifths_ok": {"sex": False},
    "sizes": {"sex": {"female": 12, "male": 88}},
    "favourable": 1,
    "threshold": 0.5,
    "n_boot": 1000,
    "seed": 7,
    "band_edges": {"age_band": [25.0, 35.0]},
    "notes": [TPR_NOTE],
}


def _expected(value: float, interval: list[float] | None) -> str:
    """The cell text the brief asks for, written independently: ``0.412 [0.381, 0.440]``."""
    if interval is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


@pytest.fixture
def table(qtbot) -> GroupTable:
    w = GroupTable()
    qtbot.addWidget(w)
    w.set_report(REPORT)
    w.resize(1100, 600)
    w.show()
    return w


# ---------------------------------------------------------------- the group table
@gui
def test_every_cell_shows_the_given_number_and_interval(table: GroupTable) -> None:
    assert table.message() == ""
    table.set_feature("sex")
    checked = 0
    for group, metrics in REPORT["by_group"]["sex"].items():
        assert table.group_item(group, "size").text() == str(metrics["size"])
        for metric in METRICS:
            value = metrics[metric]
            interval = REPORT["intervals"]["sex"][group].get(metric)
            text = table.group_item(group, metric).text()
            if value is None:
                assert text == "—"
            else:
                assert text == _expected(value, interval)
                checked += 1
    assert checked == 11
    assert table.group_item("female", "selection_rate").text() == "0.412 [0.381, 0.440]"


@gui
def test_undefined_values_show_a_dash_with_the_reason_never_zero(table: GroupTable) -> None:
    table.set_feature("sex")
    tpr = table.group_item("female", "tpr")
    assert tpr.text() == "—" and tpr.toolTip() == TPR_NOTE  # the report's note names TPR
    # the note is about TPR only: FNR and precision get their own zero-denominator reason
    fnr = table.group_item("female", "fnr")
    assert fnr.text() == "—" and "FNR divides by 0" in fnr.toolTip()
    precision = table.group_item("female", "precision")
    assert "gives no one in the group the favourable outcome" in precision.toolTip()
    eo = table.difference_item("eo_difference")
    assert eo.text() == "—"
    assert eo.toolTip() == REPORT["differences"]["sex"]["eo_difference"]["reason"]
    assert "0.000" not in table.to_tsv().splitlines()[1]  # female's row: no fake zeros


def test_a_note_about_female_is_not_taken_for_male() -> None:
    report = copy.deepcopy(REPORT)
    report["by_group"]["sex"]["male"]["tpr"] = None
    data = read_report(report)
    male = next(r for r in data.groups["sex"] if r.group == "male")
    assert male.cells["tpr"].reason != TPR_NOTE  # "male" is not the word in "female"
    assert "TPR divides by 0" in male.cells["tpr"].reason


@gui
def test_a_value_that_is_not_a_number_is_shown_as_unreadable_not_undefined(qtbot) -> None:
    report = copy.deepcopy(REPORT)
    report["by_group"]["sex"]["male"]["accuracy"] = "high"
    report["intervals"] = [1, 2]
    w = GroupTable()
    qtbot.addWidget(w)
    w.set_report(report)
    w.set_feature("sex")
    item = w.group_item("male", "accuracy")
    assert item.text() == "—" and item.toolTip() == "The report's value 'high' is not a number."
    assert w.message() == (
        "Part of the data could not be shown: The intervals should be a dictionary but is "
        "[1, 2]. (and 1 more problem)"
    )
    assert w.message_label.toolTip().splitlines() == [
        "The intervals should be a dictionary but is [1, 2].",
        "Accuracy of sex = male should be a number but is 'high'.",
    ]
    # what could be read is still shown, without the unreadable intervals
    assert w.group_item("male", "selection_rate").text() == "0.601"


@gui
def test_small_groups_carry_a_warning(table: GroupTable) -> None:
    table.set_feature("sex")
    female, male = table.group_item("female", "group"), table.group_item("male", "group")
    assert not female.icon().isNull() and "Only 12 people" in female.toolTip()
    assert male.icon().isNull() and male.toolTip() == ""
    sizes = table.difference_item("dp_difference", 4)
    assert sizes.text() == "female 12 · male 88"
    assert "Fewer than 30 people in: female" in sizes.toolTip()


@gui
@pytest.mark.parametrize(
    ("ratio", "mark"),
    [(0.79, "✘ fail"), (0.81, "✔ pass"), (1.3, "✘ fail"), (1.2, "✔ pass"), (None, "—")],
)
def test_four_fifths_marker_follows_the_ratio(qtbot, ratio: float | None, mark: str) -> None:
    report = copy.deepcopy(REPORT)
    report["differences"]["sex"]["di_ratio"]["value"] = ratio
    report["differences"]["sex"]["di_ratio"]["reason"] = "" if ratio else "no one is selected"
    report["four_fifths_ok"] = {}
    w = GroupTable()
    qtbot.addWidget(w)
    w.set_report(report)
    w.set_feature("sex")
    assert w.difference_item("di_ratio", 3).text() == mark
    if ratio is not None:
        assert w.difference_item("di_ratio").text() == _expected(ratio, [0.61277, 0.96113])


@gui
def test_a_report_whose_four_fifths_flag_contradicts_its_ratio_is_flagged(qtbot) -> None:
    report = copy.deepcopy(REPORT)
    report["four_fifths_ok"] = {"sex": True}  # but the ratio is 0.79
    w = GroupTable()
    qtbot.addWidget(w)
    w.set_report(report)
    w.set_feature("sex")
    # the engine decides the rule from the counts, so its verdict is what is shown; the
    # contradiction is said in the message line
    assert w.difference_item("di_ratio", 3).text() == "✔ pass"
    assert "four-fifths" in w.message() and "0.79" in w.message()


@gui
def test_sorting_by_a_metric_orders_rows_and_puts_undefined_last(qtbot) -> None:
    report = copy.deepcopy(REPORT)
    report["by_group"]["sex"]["other"] = {"selection_rate": 0.5, "tpr": 0.9, "size": 40}
    w = GroupTable()
    qtbot.addWidget(w)
    w.set_report(report)
    w.set_feature("sex")
    groups = lambda: [w.groups_table.item(r, 0).text() for r in range(w.groups_table.rowCount())]  # noqa: E731
    assert groups() == ["female", "male", "other"]  # report order until a header is clicked
    col = GroupTable.COLUMNS.index("selection_rate")
    w.groups_table.sortItems(col, Qt.SortOrder.AscendingOrder)
    assert groups() == ["female", "other", "male"]  # 0.412 < 0.5 < 0.601
    w.groups_table.sortItems(GroupTable.COLUMNS.index("tpr"), Qt.SortOrder.AscendingOrder)
    assert groups() == ["male", "other", "female"]  # 0.852 < 0.9 < undefined
    w.groups_table.sortItems(GroupTable.COLUMNS.index("size"), Qt.SortOrder.DescendingOrder)
    assert groups() == ["male", "other", "female"]  # 88 > 40 > 12


@gui
def test_copy_puts_the_table_on_the_clipboard_as_tsv(table: GroupTable, qtbot) -> None:
    table.set_feature("sex")
    qtbot.mouseClick(table.copy_button, Qt.MouseButton.LeftButton)
    lines = QGuiApplication.clipboard().text().splitlines()
    assert lines[0].split("\t")[:3] == ["Group", "Size", "Selection rate"]
    female = lines[1].split("\t")
    assert female[:3] == ["female", "12", "0.412 [0.381, 0.440]"]
    assert female[4] == "—"  # TPR
    assert len(lines) == 3 and all(len(line.split("\t")) == 9 for line in lines)


@gui
def test_table_csv_round_trips(table: GroupTable, tmp_path: Path) -> None:
    path = tmp_path / "groups.csv"
    table.export_csv(path)
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    groups = {(r["feature"], r["group"], r["measure"]): r for r in rows if r["section"] == "group"}
    n = 0
    for feature, by_group in REPORT["by_group"].items():
        for group, metrics in by_group.items():
            for metric, value in metrics.items():
                if metric == "size":
                    continue
                row = groups[(feature, group, metric)]
                assert int(row["size"]) == metrics["size"]
                interval = REPORT["intervals"][feature][group].get(metric)
                if value is None:
                    assert row["value"] == "" and row["note"]  # empty with a reason, not 0
                else:
                    assert float(row["value"]) == value
                if interval is not None:
                    assert [float(row["low"]), float(row["high"])] == interval
                else:
                    assert row["low"] == row["high"] == ""
                n += 1
    assert n == len(groups) == 18
    diffs = {r["measure"]: r for r in rows if r["section"] == "difference"}
    for name, entry in REPORT["differences"]["sex"].items():
        assert diffs[name]["value"] == ("" if entry["value"] is None else repr(entry["value"]))
    assert diffs["di_ratio"]["note"] == "four-fifths rule: fail"
    overall = {r["measure"]: float(r["value"]) for r in rows if r["section"] == "overall"}
    assert overall == REPORT["overall"]


@gui
def test_png_and_svg_exports_are_real_pictures(qtbot, tmp_path: Path) -> None:
    from widgets.fairness.samples import sample_history, sample_runs, sample_sweep

    views = []
    for cls, fill in (
        (GroupTable, lambda w: w.set_report(REPORT)),
        (GroupBars, lambda w: w.set_report(REPORT)),
        (LiveFairnessCurves, lambda w: w.set_history(sample_history(5))),
        (ThresholdExplorer, lambda w: w.set_sweep(sample_sweep())),
        (RunComparison, lambda w: w.set_runs(sample_runs())),
    ):
        w = cls()
        qtbot.addWidget(w)
        fill(w)
        w.resize(800, 500)
        w.show()
        views.append(w)
    qtbot.wait(10)
    for w in views:
        png, svg = tmp_path / f"{w.file_stem}.png", tmp_path / f"{w.file_stem}.svg"
        w.export_png(png)
        w.export_svg(svg)
        image = QImage(str(png))
        assert image.width() > 100 and image.height() > 100, w
        # not a blank picture: it holds many colours
        colours = {
            image.pixel(x, y)
            for x in range(0, image.width(), 7)
            for y in range(0, image.height(), 7)
        }
        assert len(colours) > 5, w
        assert "<svg" in svg.read_text(encoding="utf-8")[:2000], w


# ---------------------------------------------------------------- bars by group
@gui
def test_bars_and_error_bars_equal_the_report(qtbot) -> None:
    w = GroupBars()
    qtbot.addWidget(w)
    w.set_report(REPORT)
    w.set_feature("sex")
    for metric in METRICS:
        w.set_metric(metric)
        groups = REPORT["by_group"]["sex"]
        assert w.bar_values() == {g: groups[g][metric] for g in groups}
        expected = {
            g: tuple(REPORT["intervals"]["sex"][g][metric])
            for g in groups
            if groups[g][metric] is not None and metric in REPORT["intervals"]["sex"][g]
        }
        drawn = w.error_bar_values()
        assert drawn.keys() == expected.keys(), metric
        for g, (lo, hi) in expected.items():
            assert drawn[g] == pytest.approx((lo, hi), abs=1e-12)
        assert w.overall_value() == pytest.approx(REPORT["overall"][metric])
    w.set_metric("tpr")
    label = w._labels[0]  # female: undefined, no bar, a dash with the reason
    assert label.textItem.toPlainText() == "— undefined" and TPR_NOTE in label.toolTip()


@gui
def test_bars_csv_round_trips(qtbot, tmp_path: Path) -> None:
    w = GroupBars()
    qtbot.addWidget(w)
    w.set_report(REPORT)
    w.set_feature("sex × age_band")
    w.set_metric("selection_rate")
    w.export_csv(tmp_path / "bars.csv")
    with (tmp_path / "bars.csv").open(encoding="utf-8", newline="") as f:
        rows = {r["group"]: r for r in csv.DictReader(f)}
    for group, metrics in REPORT["by_group"]["sex × age_band"].items():
        lo, hi = REPORT["intervals"]["sex × age_band"][group]["selection_rate"]
        row = rows[group]
        assert (float(row["value"]), float(row["low"]), float(row["high"]), int(row["size"])) == (
            metrics["selection_rate"],
            lo,
            hi,
            metrics["size"],
        )
    assert float(rows["overall"]["value"]) == REPORT["overall"]["selection_rate"]


# ---------------------------------------------------------------- threshold explorer
SWEEP = {
    "thresholds": [0.0, 0.25, 0.5, 0.75, 1.0],
    "groups": {
        "a": {"selection_rate": [1.0, 0.8, 0.6, 0.3, 0.0], "tpr": [1.0, 0.9, 0.7, None, 0.0]},
        "b": {"selection_rate": [1.0, 0.9, 0.7, 0.5, 0.1], "tpr": [1.0, 0.95, 0.8, 0.6, 0.2]},
    },
}


# the engine's ThresholdSweep.to_dict() shape: groups under each feature, NaN as "NaN"
SWEEP_BY_FEATURE = {
    "thresholds": SWEEP["thresholds"],
    "by_group": {"sex": SWEEP["groups"], "age": {"old": {"tpr": [1.0, "NaN", 0.5, 0.2, 0.0]}}},
}


@pytest.fixture
def explorer(qtbot) -> ThresholdExplorer:
    w = ThresholdExplorer()
    qtbot.addWidget(w)
    w.set_sweep(SWEEP)
    w.show()
    return w


@gui
def test_moving_the_threshold_line_emits_and_updates_the_readout(
    explorer: ThresholdExplorer, qtbot
) -> None:
    with qtbot.waitSignal(explorer.threshold_changed) as blocker:
        explorer.line.setValue(0.6)
    assert blocker.args == [pytest.approx(0.6)]
    # 0.6 is 40 % of the way from 0.5 to 0.75
    assert explorer.readout_text("a", "selection_rate") == "0.480"  # 0.6 + 0.4 × (0.3 − 0.6)
    assert explorer.readout_text("b", "selection_rate") == "0.620"  # 0.7 + 0.4 × (0.5 − 0.7)
    assert explorer.readout_text("Largest gap", "selection_rate") == "0.140"
    assert explorer.readout_text("a", "tpr") == "—"  # next to an undefined sweep point
    assert explorer.readout_text("b", "tpr") == "0.720"  # 0.8 + 0.4 × (0.6 − 0.8)
    assert explorer.readout_text("Largest gap", "tpr") == "—"  # only one group defined
    explorer.line.setValue(0.25)  # on a sweep point: looked up exactly
    assert explorer.readout_text("a", "tpr") == "0.900"
    assert explorer.readout_text("Largest gap", "tpr") == "0.050"


@gui
def test_threshold_stays_within_the_sweep_and_set_threshold_is_quiet(
    explorer: ThresholdExplorer, qtbot
) -> None:
    with qtbot.assertNotEmitted(explorer.threshold_changed):
        explorer.set_threshold(0.75)
    assert explorer.readout_text("a", "selection_rate") == "0.300"
    with qtbot.waitSignal(explorer.threshold_changed) as blocker:
        explorer.line.setValue(3.0)
    assert blocker.args == [1.0]
    assert explorer.readout_text("b", "selection_rate") == "0.100"


@gui
def test_dragging_the_line_with_the_mouse_moves_the_threshold(
    explorer: ThresholdExplorer, qtbot
) -> None:
    explorer.resize(700, 500)
    qtbot.waitExposed(explorer)
    explorer.set_threshold(0.5)
    vb = explorer.plot.getPlotItem().getViewBox()
    y = float(np.mean(vb.viewRange()[1]))
    start = explorer.plot.mapFromScene(vb.mapViewToScene(QPointF(0.5, y)))
    end = explorer.plot.mapFromScene(vb.mapViewToScene(QPointF(0.8, y)))
    viewport = explorer.plot.viewport()
    with qtbot.waitSignal(explorer.threshold_changed):
        qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
        for i in range(1, 6):
            qtbot.mouseMove(viewport, pos=start + (end - start) * i / 5)
        qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    assert explorer.threshold() == pytest.approx(0.8, abs=0.02)


@gui
def test_threshold_sweep_csv_round_trips(explorer: ThresholdExplorer, tmp_path: Path) -> None:
    explorer.export_csv(tmp_path / "sweep.csv")
    with (tmp_path / "sweep.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    back: dict[tuple[str, str], list[float | None]] = {}
    for r in rows:
        back.setdefault((r["group"], r["metric"]), []).append(
            None if r["value"] == "" else float(r["value"])
        )
    assert back == {(g, m): v for g, c in SWEEP["groups"].items() for m, v in c.items()}


@gui
def test_a_sweep_with_mismatched_lengths_says_so(explorer: ThresholdExplorer) -> None:
    explorer.set_sweep({"thresholds": [0.0, 0.5, 1.0], "groups": {"a": {"tpr": [1.0, 0.5]}}})
    assert "has 2 values for 3 thresholds" in explorer.message()


# ---------------------------------------------------------------- live curves
def _point(dp: dict[str, float | None], rates: dict[str, float | None]) -> dict[str, Any]:
    return {
        "overall": {"selection_rate": 0.5},
        "by_group": {"sex": {g: {"selection_rate": r, "size": 50} for g, r in rates.items()}},
        "differences": {"sex": {"dp_difference": {"value": dp["sex"], "ci": None, "reason": ""}}},
    }


@gui
def test_live_curves_are_throttled_and_show_the_given_values(qtbot) -> None:
    w = LiveFairnessCurves()
    qtbot.addWidget(w)
    w.show()
    w.append_epoch(1, _point({"sex": 0.05}, {"female": 0.48, "male": 0.53}))
    w.append_epoch(2, _point({"sex": 0.12}, {"female": 0.41, "male": 0.53}))
    assert len(w.difference_curve("sex")[0]) == 0  # nothing drawn before the redraw tick
    qtbot.waitUntil(lambda: len(w.difference_curve("sex")[0]) == 2, timeout=2000)
    x, y = w.difference_curve("sex")
    assert x.tolist() == [1.0, 2.0] and y.tolist() == [0.05, 0.12]
    assert w.group_curve("sex", "female")[1].tolist() == [0.48, 0.41]
    # an undefined value is a gap (NaN), never 0
    w.append_epoch(3, _point({"sex": None}, {"female": None, "male": 0.55}))
    w.flush()
    assert np.isnan(w.difference_curve("sex")[1][2])
    assert np.isnan(w.group_curve("sex", "female")[1][2])
    # training restarted from epoch 2: what followed is dropped
    w.append_epoch(2, _point({"sex": 0.2}, {"female": 0.4, "male": 0.6}))
    w.flush()
    assert w.epochs() == [1.0, 2.0] and w.difference_curve("sex")[1].tolist() == [0.05, 0.2]


@gui
def test_live_history_and_its_csv(qtbot, tmp_path: Path) -> None:
    w = LiveFairnessCurves()
    qtbot.addWidget(w)
    history = [
        {"epoch": 1, **_point({"sex": 0.1}, {"female": 0.4, "male": 0.5})},
        (2, _point({"sex": 0.2}, {"female": 0.3, "male": 0.5})),
    ]
    w.set_history(history)
    assert w.difference_curve("sex")[1].tolist() == [0.1, 0.2]
    w.export_csv(tmp_path / "live.csv")
    with (tmp_path / "live.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    dp = [float(r["value"]) for r in rows if r["measure"] == "dp_difference"]
    female = [float(r["value"]) for r in rows if r["group"] == "female"]
    assert dp == [0.1, 0.2] and female == [0.4, 0.3]
    w.append_epoch(3, "not a dict")
    assert "should be a dictionary" in w.message()


# ---------------------------------------------------------------- runs compared
@gui
def test_runs_show_both_intervals_and_a_click_selects(qtbot) -> None:
    from widgets.fairness.samples import sample_runs

    runs = sample_runs()
    w = RunComparison()
    qtbot.addWidget(w)
    w.set_runs(runs)
    w.resize(800, 500)
    w.show()
    qtbot.waitExposed(w)
    for run in runs:
        assert w.point_position(run["id"]) == (run["disparity"], run["accuracy"])
        bars = w.error_bars(run["id"])
        assert bars["accuracy"] == pytest.approx(tuple(run["accuracy_ci"]), abs=1e-12)
        assert bars["disparity"] == pytest.approx(tuple(run["disparity_ci"]), abs=1e-12)
    legend = [label.text for _sample, label in w.legend.items]
    assert legend == ["Baseline", "Reweighing", "Fairness penalty", "Threshold optimizer"]
    target = runs[2]
    vb = w.plot.getPlotItem().getViewBox()
    scene = vb.mapViewToScene(QPointF(target["disparity"], target["accuracy"]))
    pos = w.plot.mapFromScene(scene)
    with qtbot.waitSignal(w.run_selected) as blocker:
        qtbot.mouseClick(w.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == [target["id"]]
    assert w.selected_run() == target["id"]


@gui
def test_runs_that_cannot_be_placed_are_named(qtbot, tmp_path: Path) -> None:
    w = RunComparison()
    qtbot.addWidget(w)
    w.set_runs(
        [
            {"id": "r1", "name": "base", "kind": "baseline", "accuracy": 0.7, "disparity": 0.1},
            {"id": "r2", "name": "broken", "kind": "penalty", "accuracy": None, "disparity": 0.1},
            {"id": "r3", "name": "odd", "kind": "magic", "accuracy": 0.6, "disparity": 0.05},
        ]
    )
    assert "'broken' has no finite accuracy and disparity" in w.message()
    assert [r.id for r in w.runs] == ["r1", "r3"]
    assert w.error_bars("r1") == {}  # no interval given: no whiskers
    w.export_csv(tmp_path / "runs.csv")
    with (tmp_path / "runs.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["id"], r["kind"], float(r["accuracy"])) for r in rows] == [
        ("r1", "baseline", 0.7),
        ("r3", "other", 0.6),
    ]


# ---------------------------------------------------------------- controls
@pytest.fixture
def controls(qtbot) -> FairnessControls:
    w = FairnessControls()
    qtbot.addWidget(w)
    w.set_columns(["status", "sex", "age_band"])
    w.set_outcomes(["good", "bad"], "good")
    w.show()
    return w


def _tick(w: FairnessControls, name: str, on: bool = True) -> None:
    item = w.columns_list.findItems(name, Qt.MatchFlag.MatchExactly)[0]
    item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)


@gui
def test_audit_is_disabled_with_a_hint_until_a_column_is_ticked(
    controls: FairnessControls, qtbot
) -> None:
    assert not controls.audit_button.isEnabled()
    assert controls.hint() == NO_COLUMN_HINT and controls.audit_button.toolTip() == NO_COLUMN_HINT
    assert not controls.reweigh_button.isEnabled()
    with qtbot.assertNotEmitted(controls.audit_requested):
        qtbot.mouseClick(controls.audit_button, Qt.MouseButton.LeftButton)
    _tick(controls, "sex")
    assert controls.audit_button.isEnabled() and controls.hint() == ""
    _tick(controls, "sex", False)
    assert not controls.audit_button.isEnabled()
    controls.set_outcomes([])
    _tick(controls, "sex")
    assert controls.hint() == NO_OUTCOME_HINT and not controls.audit_button.isEnabled()


@gui
def test_audit_sends_the_chosen_options(controls: FairnessControls, qtbot) -> None:
    _tick(controls, "sex")
    controls.favourable_combo.setCurrentIndex(1)
    controls.threshold_spin.setValue(0.35)
    controls.split_combo.setCurrentText("validation")
    controls.boot_spin.setValue(200)
    controls.live_check.setChecked(True)
    with qtbot.waitSignal(controls.audit_requested) as blocker:
        qtbot.mouseClick(controls.audit_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [
        {
            "sensitive": ["sex"],
            "favourable": "bad",
            "threshold": 0.35,
            "split": "validation",
            "n_boot": 200,
            "intersections": False,
            "track_live": True,
        }
    ]  # one column has no intersections
    _tick(controls, "age_band")
    with qtbot.waitSignal(controls.audit_requested) as blocker:
        qtbot.mouseClick(controls.audit_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0]["sensitive"] == ["sex", "age_band"]
    assert blocker.args[0]["intersections"] is True


@gui
def test_mitigations_send_their_settings(controls: FairnessControls, qtbot) -> None:
    _tick(controls, "sex")
    controls.penalty_kind_combo.setCurrentIndex(controls.penalty_kind_combo.findData("eo"))
    controls.penalty_strength_spin.setValue(2.5)
    with qtbot.waitSignal(controls.mitigation_requested) as blocker:
        qtbot.mouseClick(controls.penalty_button, Qt.MouseButton.LeftButton)
    request = blocker.args[0]
    assert (request["kind"], request["penalty"], request["strength"]) == ("penalty", "eo", 2.5)
    assert request["sensitive"] == ["sex"]
    controls.constraint_combo.setCurrentIndex(controls.constraint_combo.findData("equalized_odds"))
    with qtbot.waitSignal(controls.mitigation_requested) as blocker:
        qtbot.mouseClick(controls.threshold_button, Qt.MouseButton.LeftButton)
    assert (blocker.args[0]["kind"], blocker.args[0]["constraint"]) == (
        "threshold",
        "equalized_odds",
    )
    with qtbot.waitSignal(controls.mitigation_requested) as blocker:
        qtbot.mouseClick(controls.reweigh_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0]["kind"] == "reweighing"


@gui
def test_busy_controls_show_progress_and_cancel(controls: FairnessControls, qtbot) -> None:
    _tick(controls, "sex")
    controls.set_busy(True)
    assert not controls.audit_button.isEnabled() and controls.cancel_button.isEnabled()
    assert not controls.columns_list.isEnabled() and controls.progress.isVisible()
    controls.set_progress(250, 1000, eta_seconds=4.2)
    assert controls.progress.text() == "250 / 1000 — about 4 s left"
    with qtbot.waitSignal(controls.cancel_requested):
        qtbot.mouseClick(controls.cancel_button, Qt.MouseButton.LeftButton)
    controls.set_busy(False)
    controls.set_message("The audit failed: the test split has no rows.")
    assert controls.message() == "The audit failed: the test split has no rows."
    assert "#b71c1c" in controls.message_label.styleSheet()  # red
    assert controls.audit_button.isEnabled() and not controls.cancel_button.isEnabled()


@gui
def test_the_panel_routes_a_report_and_leaves_no_window(qtbot) -> None:
    before = set(QApplication.topLevelWidgets())
    panel = FairnessPanel()
    qtbot.addWidget(panel)
    panel.set_report(REPORT)
    assert panel.table.current_feature() == "sex"
    assert panel.bars.bar_values()["male"] == REPORT["by_group"]["sex"]["male"]["selection_rate"]
    panel.close()
    assert not [w for w in QApplication.topLevelWidgets() if w not in before and w.isVisible()]


# ---------------------------------------------------------------- malformed input
_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-3, 2000)
    | st.text(max_size=4)
    | st.floats(allow_nan=True, allow_infinity=True)
)
_json = st.recursive(
    _leaf,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["value", "ci", "size", "female", "sex", "tpr", "x"]),
            children,
            max_size=3,
        )
    ),
    max_leaves=12,
)


@st.composite
def _mutated(draw: st.DrawFn, tree: Any, depth: int = 0) -> Any:
    """The report with parts dropped, replaced by junk or left alone, at every level."""
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            action = draw(st.sampled_from(["keep", "keep", "recurse", "recurse", "drop", "junk"]))
            if action == "keep":
                out[key] = value
            elif action == "recurse":
                out[key] = draw(_mutated(value, depth + 1))
            elif action == "junk":
                out[key] = draw(_json)
        return out
    if isinstance(tree, list):
        return draw(st.sampled_from([tree, tree[:1], [*tree, draw(_leaf)], draw(_json)]))
    return draw(st.one_of(st.just(tree), _leaf))


@pytest.fixture
def report_views(qtbot) -> tuple[GroupTable, GroupBars, LiveFairnessCurves]:
    # built once per test and reused by every hypothesis example, as a user reuses a panel
    views = (GroupTable(), GroupBars(), LiveFairnessCurves())
    for w in views:
        qtbot.addWidget(w)
    return views


@pytest.fixture
def other_views(qtbot) -> tuple[ThresholdExplorer, RunComparison]:
    views = (ThresholdExplorer(), RunComparison())
    for w in views:
        qtbot.addWidget(w)
    return views


@gui
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(report=st.one_of(_mutated(REPORT), _json))
def test_any_report_is_shown_or_explained_never_raises(report_views, report: Any) -> None:
    table, bars, live = report_views
    table.set_report(report)
    bars.set_report(report)
    live.append_epoch(1, report)
    live.flush()
    shown = table.groups_table.rowCount() + table.differences_table.rowCount()
    assert shown > 0 or table.message(), report
    if read_report(report).problems:
        assert table.message().startswith("Part of the data could not be shown"), report
    for row in range(table.groups_table.rowCount()):
        for col in range(2, table.groups_table.columnCount()):
            item = table.groups_table.item(row, col)
            if item.text() == "—":
                assert item.toolTip(), report  # an undefined value always says why


@gui
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sweep=st.one_of(_mutated(SWEEP), _mutated(SWEEP_BY_FEATURE), _json),
    runs=st.one_of(st.lists(_json, max_size=3), _json),
    threshold=st.floats(allow_nan=False, allow_infinity=False, min_value=-5, max_value=5),
)
def test_any_sweep_or_run_list_never_raises(
    other_views, sweep: Any, runs: Any, threshold: float
) -> None:
    explorer, comparison = other_views
    explorer.set_sweep(sweep)
    explorer.line.setValue(threshold)
    assert explorer.sweep.groups or explorer.message(), sweep
    if explorer.sweep.problems:
        assert explorer.message().startswith("Part of the data could not be shown"), sweep
    assert explorer.readout.rowCount() == len(explorer.sweep.groups) + (
        len(explorer.sweep.groups) > 1
    )
    comparison.set_runs(runs)
    assert comparison.runs or comparison.message()


def test_formatting_and_four_fifths_are_read_in_one_place() -> None:
    from widgets.fairness.report import format_with_interval, four_fifths_passes

    assert format_with_interval(0.41234, (0.38114, 0.44036)) == "0.412 [0.381, 0.440]"
    assert format_with_interval(None, (0.1, 0.2)) == "—"
    assert format_with_interval(math.inf, None) == "∞"
    assert [four_fifths_passes(v) for v in (0.79, 0.8, 0.81, 1.25, 1.26, 0.0, None, math.nan)] == [
        False,
        True,
        True,
        True,
        False,
        False,
        None,
        None,
    ]
    assert four_fifths_passes(0.24 / 0.3) is True  # 0.7999999999999999 is four fifths


@gui
def test_the_export_menu_asks_for_a_file_and_reports_failure(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QFileDialog

    w = GroupBars()
    qtbot.addWidget(w)
    w.set_report(REPORT)
    w.resize(600, 400)
    w.show()
    answers = iter([str(tmp_path / "bars"), str(tmp_path / "missing" / "bars.csv")])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (next(answers), ""))
    actions = {a.text(): a for a in w.export_button.menu().actions()}
    actions["Values as CSV…"].trigger()
    assert (tmp_path / "bars.csv").is_file()  # the suffix is added
    assert w.message() == f"Saved {tmp_path / 'bars.csv'}."
    actions["Values as CSV…"].trigger()
    assert w.message().startswith(f"Could not export to {tmp_path / 'missing' / 'bars.csv'}")
    assert "#b71c1c" in w.message_label.styleSheet()


# ---------------------------------------------------------------- with the engine's own output
def _engine_text(value: float, interval: list[float] | None) -> str:
    ends = [] if interval is None else [x for x in interval if not math.isnan(x)]
    if not ends:
        return f"{value:.3f}"
    return "{:.3f} [{}, {}]".format(
        value, *("—" if math.isnan(x) else f"{x:.3f}" for x in interval)
    )


@gui
def test_an_engine_report_reopened_from_json_shows_the_engines_numbers(qtbot) -> None:
    import json

    from engines.fairness import audit, threshold_sweep

    rng = np.random.default_rng(3)
    n = 600
    sex = np.where(rng.random(n) < 0.35, "female", "male")
    age = rng.choice(["young", "old"], n)
    y = (rng.random(n) < 0.6).astype(int)
    y[(sex == "female") & (age == "old")] = 1  # no unfavourable outcome there: FPR undefined
    score = np.clip(0.35 * y + 0.5 * rng.random(n) + 0.1 * (sex == "male"), 0, 1)
    report = audit(y, score, {"sex": sex, "age": age}, n_boot=200, seed=0)
    w = GroupTable()
    qtbot.addWidget(w)
    w.set_report(json.loads(json.dumps(report.to_dict())))  # as a project file gives it back
    assert w.message() == ""
    undefined = 0
    for feature, groups in report.by_group.items():
        w.set_feature(feature)
        for group, metrics in groups.items():
            assert w.group_item(group, "size").text() == str(metrics["size"])
            for metric in METRICS:
                value, item = metrics[metric], w.group_item(group, metric)
                if math.isnan(value):
                    undefined += 1
                    assert item.text() == "—"
                    why = report.reasons[feature][group][metric]
                    assert why.rstrip(".") in item.toolTip()
                else:
                    interval = report.intervals[feature][group].get(metric)
                    assert item.text() == _engine_text(value, interval), (feature, group, metric)
        ok = report.differences[feature]["di_ratio"]["four_fifths_ok"]
        assert w.difference_item("di_ratio", 3).text() == {True: "✔ pass", False: "✘ fail"}[ok]
    assert undefined >= 1  # the FPR of female & old

    sweep = threshold_sweep(y, score, {"sex": sex, "age": age})
    explorer = ThresholdExplorer()
    qtbot.addWidget(explorer)
    explorer.set_sweep(json.loads(json.dumps(sweep.to_dict())))
    explorer.set_feature("age")
    explorer.set_threshold(0.5)
    i = sweep.thresholds.index(0.5)
    for group, curves in sweep.by_group["age"].items():
        assert explorer.readout_text(group, "tpr") == f"{curves['tpr'][i]:.3f}"


@gui
def test_a_sweep_of_several_features_offers_each(explorer: ThresholdExplorer, qtbot) -> None:
    explorer.set_sweep(SWEEP_BY_FEATURE)
    assert not explorer.feature_combo.isHidden()
    assert [explorer.feature_combo.itemText(i) for i in range(2)] == ["sex", "age"]
    explorer.set_threshold(0.6)
    assert explorer.readout_text("a", "selection_rate") == "0.480"
    with qtbot.assertNotEmitted(explorer.threshold_changed):
        explorer.set_feature("age")
    assert explorer.readout_text("old", "tpr") == "0.380"  # 0.5 + 0.4 × (0.2 − 0.5)
    explorer.set_threshold(0.1)
    assert explorer.readout_text("old", "tpr") == "—"  # next to "NaN"


def test_outcomes_are_named_as_the_data_describes_them(qtbot) -> None:
    """German credit says risk 1 = good credit risk: the favourable choice reads so, and the
    value behind it stays the class label; data that says nothing shows the bare labels."""
    from engines.data import outcome_meanings
    from widgets.fairness.controls import FairnessControls

    meanings = outcome_meanings({"source": "builtin", "name": "german_credit"})
    assert meanings == {"1": "good credit risk", "0": "bad credit risk"}
    assert outcome_meanings({"source": "csv", "path": "x.csv"}) == {}
    assert outcome_meanings({"source": "builtin", "name": "iris"}) == {}
    c = FairnessControls()
    qtbot.addWidget(c)
    c.set_outcomes(["0", "1"], "1", meanings=meanings)
    combo = c.favourable_combo
    assert [combo.itemText(i) for i in range(2)] == ["0 — bad credit risk", "1 — good credit risk"]
    assert combo.currentData() == "1"
    c.set_outcomes(["setosa", "virginica"], "setosa")
    assert [combo.itemText(i) for i in range(2)] == ["setosa", "virginica"]
