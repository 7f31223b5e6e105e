"""The explanation panels: what they draw is computed from the data they are given."""

from __future__ import annotations

import csv
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from widgets.explain.common import DIVERGING, FEATURE_VALUE
from widgets.explain.panel import (
    EpochSlider,
    ExplainControls,
    ImageAttributionGrid,
    TabularAttributionView,
    parse_sample_ids,
)
from widgets.explain.tabular import swarm_offsets

pytestmark = pytest.mark.gui

RNG = np.random.default_rng(1234)


# ------------------------------------------------------------------------------ helpers
def _image_results(n_samples: int = 3, size: int = 8, channels: int = 1):
    rng = np.random.default_rng(7)
    images = rng.random((n_samples, channels, size, size))
    ig = rng.normal(size=(n_samples, channels, size, size))
    sal = 0.1 * rng.normal(size=(n_samples, channels, size, size))
    cam = rng.random((n_samples, size, size)) * 5.0  # Grad-CAM: (S, H, W)
    results = [
        {"method": "ig", "title": "Integrated Gradients",
         "params": {"n_steps": 50, "method": "gausslegendre"}, "attributions": ig,
         "delta": [1.2e-6, -3.5e-5, 0.0][:n_samples], "baseline": "zeros",
         "value_function": "baseline", "seed": 0},
        {"method": "saliency", "title": "Saliency", "params": {"abs": False},
         "attributions": sal.tolist(), "delta": None},  # nested lists, as from to_dict()
        {"method": "gradcam", "title": "Grad-CAM", "params": {}, "attributions": cam,
         "layer": "conv2", "delta": None},
    ]
    samples = [{"id": 10 + i, "label": str(i), "predicted": str((i + i % 2) % 3)}
               for i in range(n_samples)]
    return images, results, samples


def _shown_maps(results) -> list[list[np.ndarray]]:
    out = []
    for r in results:
        a = np.asarray(r["attributions"], dtype=float)
        out.append([a[s].sum(axis=0) if a.ndim == 4 else a[s] for s in range(a.shape[0])])
    return out


@pytest.fixture
def grid(qtbot) -> ImageAttributionGrid:
    w = ImageAttributionGrid(cell_size=60)
    qtbot.addWidget(w)
    w.show()
    return w


@pytest.fixture
def table(qtbot) -> TabularAttributionView:
    w = TabularAttributionView(top_k=4)
    qtbot.addWidget(w)
    w.resize(800, 500)
    w.show()
    return w


@pytest.fixture
def controls(qtbot) -> ExplainControls:
    w = ExplainControls()
    qtbot.addWidget(w)
    w.set_methods(
        [{"id": "ig", "title": "Integrated Gradients"},
         {"id": "saliency", "title": "Saliency"},
         {"id": "gradcam", "title": "Grad-CAM", "needs_layer": True}],
        checked=("ig",),
    )
    w.set_layers(["conv1", "conv2"])
    w.show()
    return w


def _linear_result(n: int = 6, f: int = 9, seed: int = 0):
    """A linear model's exact Shapley values w·(x − baseline) with F(x) = F(b) + Σ attr."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=f)
    x = rng.normal(size=(n, f))
    baseline = np.zeros(f)
    bias = 0.25
    attr = w * (x - baseline)
    reference = np.full(n, bias + w @ baseline)
    outputs = x @ w + bias
    result = {
        "method": "shapley", "title": "Shapley values (exact)",
        "params": {"groups": f}, "attributions": attr,
        "feature_names": [f"f{j}" for j in range(f)],
        "outputs": outputs, "reference": reference, "baseline": "100 training rows",
        "value_function": "background", "delta": attr.sum(1) - (outputs - reference),
        "seed": 3,
    }
    samples = [{"id": 100 + i, "label": "good", "predicted": "bad"} for i in range(n)]
    return result, x, samples


def _svg_text(path: Path) -> str:
    """Parse an SVG file (it must be well-formed) and join its text runs in order."""
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return "".join(el.text or "" for el in root.iter("{http://www.w3.org/2000/svg}text"))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------------------ image grid
def test_shared_levels_are_the_largest_absolute_value_over_all_maps(grid) -> None:
    images, results, samples = _image_results()
    grid.set_attributions(images, results, samples)
    maps = _shown_maps(results)
    expected = max(np.abs(m).max() for row in maps for m in row)
    for m, row in enumerate(grid.cells):
        assert grid.levels(m) == pytest.approx((-expected, expected))
        for cell in row:
            assert tuple(cell.heat.getLevels()) == pytest.approx((-expected, expected))
    assert len(grid.color_bars) == 1
    assert grid.color_bars[0].levels() == pytest.approx((-expected, expected))


def test_per_method_levels_use_each_methods_own_maximum(grid) -> None:
    images, results, samples = _image_results()
    grid.set_attributions(images, results, samples)
    grid.set_scale_per_method(True)
    maps = _shown_maps(results)
    assert len(grid.color_bars) == len(results)
    for m, row in enumerate(grid.cells):
        own = max(np.abs(x).max() for x in maps[m])
        for cell in row:
            assert tuple(cell.heat.getLevels()) == pytest.approx((-own, own))
    grid.set_scale_per_method(False)
    shared = max(np.abs(x).max() for row in maps for x in row)
    assert tuple(grid.cells[1][0].heat.getLevels()) == pytest.approx((-shared, shared))


def test_maps_are_drawn_with_the_diverging_scale_and_the_values_given(grid) -> None:
    images, results, samples = _image_results(channels=3)
    grid.set_attributions(images, results, samples)
    maps = _shown_maps(results)
    for m, row in enumerate(grid.cells):
        for s, cell in enumerate(row):
            np.testing.assert_array_equal(cell.heat.image, maps[m][s])
            # RGB inputs are shown in colour, (H, W, 3)
            assert cell.image.image.shape == (8, 8, 3)
    lut = grid.cells[0][0].heat.lut
    np.testing.assert_array_equal(lut, DIVERGING.getLookupTable(nPts=256, alpha=True))


def test_opacity_slider_changes_every_overlay(grid, qtbot) -> None:
    images, results, samples = _image_results()
    grid.set_attributions(images, results, samples)
    grid.opacity_slider.setValue(25)
    assert [c.heat.opacity() for row in grid.cells for c in row] == pytest.approx([0.25] * 9)
    assert grid.opacity_label.text() == "25 %"
    grid.set_opacity(1.0)
    assert grid.cells[2][1].heat.opacity() == pytest.approx(1.0)
    assert grid.cells[0][0].image.opacity() == pytest.approx(1.0)  # the input is untouched


def test_headers_gaps_and_tooltips_say_how_each_map_was_made(grid) -> None:
    images, results, samples = _image_results()
    grid.set_attributions(images, results, samples)
    ig_header = grid.row_headers[0].text
    assert "Integrated Gradients" in ig_header and "n_steps=50" in ig_header
    assert "baseline: zeros" in ig_header
    assert "layer: conv2" in grid.row_headers[2].text
    column = grid.column_headers[1].text
    assert "#11" in column and "true 1" in column and "pred 2" in column
    assert grid.cells[0][0].gap.text == "Δ = 1.2e-06"
    assert grid.cells[0][1].gap.text == "Δ = -3.5e-05"
    assert grid.cells[1][0].gap.text == ""  # saliency has no completeness gap
    tip = grid.cells[0][1].heat.toolTip()
    assert "n_steps = 50" in tip and "method = gausslegendre" in tip and "#11" in tip


def test_gradcam_maps_at_layer_resolution_cover_the_whole_image(grid) -> None:
    images, results, samples = _image_results(size=16)
    results[2]["attributions"] = np.random.default_rng(0).random((3, 4, 4))
    grid.set_attributions(images, results, samples)
    heat = grid.cells[2][0].heat
    rect = heat.mapRectToParent(heat.boundingRect())
    assert (rect.width(), rect.height()) == pytest.approx((16, 16))


def test_a_new_epoch_updates_the_same_items(grid) -> None:
    images, results, samples = _image_results()
    grid.set_attributions(images, results, samples)
    cells = [c for row in grid.cells for c in row]
    heats = [c.heat for c in cells]
    later = [{**r, "attributions": 2 * np.asarray(r["attributions"], dtype=float)}
             for r in results]
    grid.set_attributions(images, later, samples)
    assert [c.heat for row in grid.cells for c in row] == heats
    maps = _shown_maps(later)
    np.testing.assert_array_equal(grid.cells[0][2].heat.image, maps[0][2])
    expected = max(np.abs(m).max() for row in maps for m in row)
    assert grid.levels(0) == pytest.approx((-expected, expected))


@pytest.mark.parametrize(
    ("images", "results", "expected"),
    [
        (np.zeros((0, 1, 4, 4)), [], "No attributions to show yet"),
        (np.zeros((2, 1, 4, 4)), [], "No attributions to show yet"),
        (np.zeros(5), [{"title": "IG", "attributions": np.zeros(5)}], "got shape (5,)"),
        (np.zeros((2, 4, 4)), [{"title": "IG", "attributions": np.zeros((3, 4, 4))}],
         "“IG” needs one map per sample (2"),
        (np.zeros((2, 4, 4)), [{"title": "IG", "attributions": [["a", "b"]]}], "no numbers"),
    ],
)
def test_bad_input_shows_a_message(grid, images, results, expected) -> None:
    grid.set_attributions(images, results, None)
    assert expected in grid.message()
    assert grid.cells == []


def test_nan_maps_are_left_blank_with_a_message(grid) -> None:
    images, results, samples = _image_results()
    results[0]["attributions"] = np.full((3, 1, 8, 8), np.nan)
    results[1]["attributions"] = np.asarray(results[1]["attributions"])
    results[1]["attributions"][0, 0, 0, 0] = np.inf
    grid.set_attributions(images, results, samples)
    assert "3 map(s) have no finite values" in grid.message()
    assert grid.cells[0][0].gap.text == "no finite values"
    finite = [m for row in _shown_maps(results) for m in row if np.isfinite(m).any()]
    expected = max(np.abs(m[np.isfinite(m)]).max() for m in finite)
    assert grid.levels(0) == pytest.approx((-expected, expected))


def test_grid_csv_round_trips_every_value(grid, tmp_path: Path) -> None:
    images, results, samples = _image_results(n_samples=2, size=5, channels=3)
    grid.set_attributions(images, results, samples)
    path = tmp_path / "maps.csv"
    grid.export_csv(path)
    rows = _read_csv(path)
    maps = _shown_maps(results)
    assert len(rows) == 3 * 2 * 5 * 5
    methods = [r["method"] for r in results]
    for row in rows:
        m = methods.index(row["method"])
        s = [x["id"] for x in samples].index(int(row["sample"]))
        assert float(row["attribution"]) == maps[m][s][int(row["row"]), int(row["column"])]


def test_grid_png_and_svg_export(grid, tmp_path: Path) -> None:
    images, results, samples = _image_results()
    grid.set_attributions(images, results, samples)
    png = tmp_path / "grid.png"
    grid.export_png(png)
    image = QImage(str(png))
    ratio = grid.graphics.devicePixelRatioF()
    assert not image.isNull()
    assert (image.width(), image.height()) == (
        round(grid.graphics.width() * ratio), round(grid.graphics.height() * ratio))
    # not a blank picture: the maps put many colours in it
    sample = {image.pixel(x, y) for x in range(0, image.width(), 7)
              for y in range(0, image.height(), 7)}
    assert len(sample) > 20
    svg = tmp_path / "grid.svg"
    grid.export_svg(svg)
    text = _svg_text(svg)
    assert "Integrated Gradients" in text and "Δ = 1.2e-06" in text


def test_export_to_an_unwritable_place_raises_a_clear_oserror(grid, tmp_path: Path) -> None:
    images, results, samples = _image_results()
    grid.set_attributions(images, results, samples)
    missing = tmp_path / "no_such_folder" / "x.csv"
    with pytest.raises(OSError, match="Could not write"):
        grid.export_csv(missing)
    with pytest.raises(OSError, match="Could not write"):
        grid.export_png(tmp_path / "no_such_folder" / "x.png")


# ------------------------------------------------------------------------------ tabular
def test_waterfall_starts_at_the_reference_and_ends_at_f_of_x(table) -> None:
    result, x, samples = _linear_result()
    table.set_result(result, feature_values=x, samples=samples)
    for s in range(3):
        table.set_sample(s)
        bars = table.shown_bars("waterfall")  # top to bottom
        attr = result["attributions"][s]
        order = np.argsort(-np.abs(attr), kind="stable")
        top, rest = order[:4], order[4:]
        # bottom bar is "other 5 features" and starts at the reference
        assert bars[-1][0] == "other 5 features"
        assert bars[-1][1] == pytest.approx(result["reference"][s])
        assert bars[-1][2] - bars[-1][1] == pytest.approx(attr[rest].sum())
        # each bar starts where the one below ends
        for upper, lower in zip(bars[:-1], bars[1:]):
            assert upper[1] == pytest.approx(lower[2])
        assert bars[0][2] == pytest.approx(result["outputs"][s], abs=1e-12)
        # largest |attribution| at the top, each labelled with its name and value
        assert [b[0].split(" = ")[0] for b in bars[:-1]] == [f"f{j}" for j in top]
        assert [b[2] - b[1] for b in bars[:-1]] == pytest.approx(attr[top])
        assert bars[0][0] == f"f{top[0]} = {x[s, top[0]]:.4g}"
        chart = table.charts["waterfall"]
        assert chart.reference_line.value() == pytest.approx(result["reference"][s])
        assert chart.output_line.value() == pytest.approx(result["outputs"][s])
        assert "F(x) = " in chart.output_line.label.toPlainText()
        assert "background mean = 0.25" in chart.reference_line.label.toPlainText()


def test_waterfall_without_folding_when_all_features_fit(table) -> None:
    result, x, samples = _linear_result(f=3)
    table.set_result(result, feature_values=x, samples=samples)
    bars = table.shown_bars("waterfall")
    assert len(bars) == 3 and not any(b[0].startswith("other") for b in bars)
    assert bars[-1][1] == pytest.approx(result["reference"][0])
    assert bars[0][2] == pytest.approx(result["outputs"][0])


def test_bar_chart_draws_each_attribution_from_zero(table) -> None:
    result, x, samples = _linear_result()
    table.set_result(result, feature_values=x, samples=samples)
    table.set_sample(2)
    bars = table.shown_bars("bar")
    attr = result["attributions"][2]
    order = np.argsort(-np.abs(attr), kind="stable")
    assert [b[1] for b in bars] == [0.0] * 5
    assert [b[2] for b in bars] == pytest.approx([*attr[order[:4]], attr[order[4:]].sum()])


def test_global_ranking_follows_mean_absolute_attribution(table) -> None:
    result, x, samples = _linear_result(n=40, f=9, seed=5)
    table.set_top_k(9)
    table.set_result(result, feature_values=x, samples=samples)
    mean_abs = np.abs(result["attributions"]).mean(axis=0)
    expected = [f"f{j}" for j in np.argsort(-mean_abs)]
    assert table.shown_features("ranking") == expected
    widths = [b[2] for b in table.shown_bars("ranking")]
    assert widths == pytest.approx(np.sort(mean_abs)[::-1])


def test_beeswarm_places_every_sample_on_its_features_row(table) -> None:
    result, x, samples = _linear_result(n=50, f=6, seed=2)
    table.set_top_k(6)
    table.set_result(result, feature_values=x, samples=samples)
    attr = result["attributions"]
    rows = table.charts["beeswarm"].tick_labels  # bottom to top
    assert list(reversed(rows)) == table.shown_features("ranking")
    px, py = table.charts["beeswarm"].scatter.getData()
    brushes = table.charts["beeswarm"].scatter.data["brush"]
    for i, name in enumerate(rows):
        j = int(name[1:])
        on_row = np.abs(py - i) < 0.5
        assert np.all(np.abs(py[on_row] - i) <= 0.4 + 1e-12)
        np.testing.assert_array_equal(np.sort(px[on_row]), np.sort(attr[:, j]))
        # colour: the feature's values from low (blue end) to high (red end), in order
        sample_of = [int(np.flatnonzero(attr[:, j] == v)[0]) for v in px[on_row]]
        colours = [b.color() for b in brushes[on_row]]
        by_value = np.argsort(x[sample_of, j], kind="stable")
        reds = np.array([colours[k].red() for k in by_value])
        blues = np.array([colours[k].blue() for k in by_value])
        assert np.all(np.diff(reds) >= 0) and np.all(np.diff(blues) <= 0)
        assert colours[by_value[0]] == FEATURE_VALUE.map(0.0, mode="qcolor")
        assert colours[by_value[-1]] == FEATURE_VALUE.map(1.0, mode="qcolor")
    # deterministic: the same data gives the same picture
    table.set_result(result, feature_values=x, samples=samples)
    np.testing.assert_array_equal(table.charts["beeswarm"].scatter.getData()[1], py)


def test_swarm_offsets_spread_dense_bins_and_stay_within_the_row() -> None:
    x = np.r_[np.zeros(9), 1.0]
    y = swarm_offsets(x, spread=0.4)
    assert np.abs(y).max() == pytest.approx(0.4)
    assert y[9] == 0.0  # alone in its bin
    assert len(set(np.round(y[:9], 12))) == 9  # nine points at zero, none on top of another
    np.testing.assert_array_equal(swarm_offsets(x), swarm_offsets(x))


def test_titles_state_method_parameters_value_function_and_gap(table) -> None:
    result, x, samples = _linear_result()
    table.set_result(result, feature_values=x, samples=samples)
    title = table.charts["waterfall"].title.text
    assert "Shapley values (exact)" in title and "groups=9" in title and "seed 3" in title
    assert "background: 100 training rows" in title
    assert f"Δ = {result['delta'][0]:.1e}" in title
    assert "#100" in title
    ranking = table.charts["ranking"].title.text
    assert "6 samples" in ranking and "background: 100 training rows" in ranking


def test_sample_picker_is_only_for_per_sample_charts(table) -> None:
    result, x, samples = _linear_result()
    table.set_result(result, feature_values=x, samples=samples)
    table.set_mode("bar")
    assert table.sample_combo.isEnabled()
    table.set_mode("beeswarm")
    assert not table.sample_combo.isEnabled()


def test_tabular_csv_round_trips(table, tmp_path: Path) -> None:
    result, x, samples = _linear_result()
    table.set_result(result, feature_values=x, samples=samples)
    table.set_sample(1)
    path = tmp_path / "one.csv"
    table.export_csv(path)
    rows = _read_csv(path)
    assert len(rows) == 9
    for row in rows:
        j = int(row["feature"][1:])
        assert float(row["attribution"]) == result["attributions"][1, j]
        assert float(row["feature_value"]) == x[1, j]
        assert float(row["output"]) == result["outputs"][1]
        assert row["sample"] == "101"
    table.set_mode("beeswarm")
    table.export_csv(path)
    rows = _read_csv(path)
    got = np.array([float(r["attribution"]) for r in rows]).reshape(6, 9)
    np.testing.assert_array_equal(got, result["attributions"])
    table.set_mode("ranking")
    table.export_csv(path)
    ranking = {r["feature"]: float(r["mean_abs_attribution"]) for r in _read_csv(path)}
    mean_abs = np.abs(result["attributions"]).mean(axis=0)
    assert ranking == {f"f{j}": pytest.approx(mean_abs[j]) for j in range(9)}


def test_tabular_png_and_svg_export(table, tmp_path: Path) -> None:
    result, x, samples = _linear_result()
    table.set_result(result, feature_values=x, samples=samples)
    for mode in ("waterfall", "beeswarm"):
        table.set_mode(mode)
        png = tmp_path / f"{mode}.png"
        table.export_png(png)
        image = QImage(str(png))
        widget = table.charts[mode].widget
        ratio = widget.devicePixelRatioF()
        assert (image.width(), image.height()) == (
            round(widget.width() * ratio), round(widget.height() * ratio))
        assert image.width() > 300
        svg = tmp_path / f"{mode}.svg"
        table.export_svg(svg)
        text = _svg_text(svg)
        assert "Shapley values (exact)" in text and "background: 100 training rows" in text


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (None, "No attributions to show yet"),
        ({"attributions": []}, "No attributions to show yet"),
        ({"attributions": np.zeros((2, 3, 4))}, "must be (samples, features)"),
        ({"attributions": [["a", "b"]]}, "not numbers"),
    ],
)
def test_tabular_bad_input_shows_a_message(table, result, expected) -> None:
    table.set_result(result)
    assert expected in table.message()
    assert table.shown_bars("waterfall") == []


def test_tabular_nan_values_are_reported_not_drawn(table) -> None:
    result, x, samples = _linear_result()
    result["attributions"] = result["attributions"].copy()
    result["attributions"][0, 2] = np.nan
    table.set_result(result, feature_values=x, samples=samples)
    assert "1 attribution value(s) are not finite" in table.message()
    assert table.shown_bars("waterfall") == []  # sample 0 cannot be summed
    table.set_sample(1)
    assert len(table.shown_bars("waterfall")) == 5
    mean_abs = np.nanmean(np.abs(result["attributions"]), axis=0)
    assert table.shown_features("ranking")[0] == f"f{int(np.argmax(mean_abs))}"


def test_mismatched_names_and_values_are_noted(table) -> None:
    result, x, samples = _linear_result()
    result["feature_names"] = ["only", "two"]
    table.set_result(result, feature_values=x[:, :3], samples=samples)
    assert "2 feature names for 9 features" in table.message()
    assert "do not match" in table.message()
    assert all(label.startswith(("feature ", "other")) for label in table.shown_features())


_ANY_FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    attr=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                    elements=_ANY_FLOATS),
    top_k=st.integers(1, 8),
)
def test_tabular_view_takes_any_numbers_without_raising(table, attr, top_k) -> None:
    table.set_top_k(top_k)
    reference = np.zeros(attr.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        outputs = attr.sum(axis=1)
    table.set_result(
        {"title": "T", "attributions": attr, "reference": reference,
         "outputs": outputs, "value_function": "baseline", "baseline": "zeros"},
        feature_values=attr,
    )
    for mode in ("waterfall", "bar", "ranking", "beeswarm"):
        table.set_mode(mode)
    bars = table.shown_bars("waterfall")
    if np.isfinite(attr[0]).all():
        assert bars[-1][1] == 0.0  # starts at the reference
        with np.errstate(all="ignore"):
            scale = float(np.abs(attr[0]).sum())
        if np.isfinite(scale):  # ends at the sum, up to rounding of the running total
            assert bars[0][2] == pytest.approx(math.fsum(attr[0]), abs=1e-12 * scale + 1e-300)
    else:
        assert bars == [] and "not finite" in table.message()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(maps=hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 5),
                                               st.integers(1, 5)), elements=_ANY_FLOATS))
def test_image_grid_takes_any_numbers_without_raising(grid, maps) -> None:
    images = np.abs(np.nan_to_num(maps))
    grid.set_attributions(images, [{"title": "M", "attributions": maps}])
    finite = np.abs(maps[np.isfinite(maps)])
    limit = min(finite.max(), 1e300) if finite.size and finite.max() > 0 else 1.0  # capped: 2x must stay finite
    assert grid.levels(0) == pytest.approx((-limit, limit))


# ------------------------------------------------------------------------------ controls
@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("0-9, 15", [*range(10), 15]),
        ("  3 - 5  7,,8 ", [3, 4, 5, 7, 8]),
        ("5, 1-3, 2", [5, 1, 2, 3]),
        ("4–6", [4, 5, 6]),
        ("007", [7]),
    ],
)
def test_parse_sample_ids_reads_ranges_and_lists(text, ids) -> None:
    assert parse_sample_ids(text) == (ids, None)


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        ("", {}, "Enter row ids"),
        ("9-3", {}, "runs backwards; write 3-9"),
        ("1, x", {}, "“x” is not a row id"),
        ("-4", {}, "is not a row id"),
        ("1-2-3", {}, "is not a row id"),
        ("0-20000", {}, "more than 10,000 samples"),
        ("5, 1797", {"n_rows": 1797}, "Row 1797 does not exist: the data has 1,797 rows"),
        ("9" * 40, {}, "too large"),
    ],
)
def test_parse_sample_ids_explains_bad_text(text, kwargs, expected) -> None:
    ids, problem = parse_sample_ids(text, **kwargs)
    assert ids is None and expected in problem


@given(st.text())
def test_parse_sample_ids_never_raises(text: str) -> None:
    ids, problem = parse_sample_ids(text, n_rows=1000)
    assert (ids is None) != (problem is None)
    if ids is not None:
        assert len(ids) == len(set(ids)) and all(0 <= i < 1000 for i in ids)
    else:
        assert problem.endswith(".") and "\n" not in problem


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 20)), min_size=1, max_size=8))
def test_parse_sample_ids_round_trips_written_ranges(spans) -> None:
    text = ", ".join(f"{a}-{a + n}" if n else str(a) for a, n in spans)
    expected: list[int] = []
    for a, n in spans:
        expected += [i for i in range(a, a + n + 1) if i not in expected]
    assert parse_sample_ids(text) == (expected, None)


def test_controls_emit_the_parsed_choices(controls, qtbot) -> None:
    controls.set_sample_choice("ids")
    qtbot.keyClicks(controls.ids_edit, "0-3, 15")
    controls.pin_box.setChecked(True)
    with qtbot.waitSignal(controls.explain_requested) as blocker:
        qtbot.mouseClick(controls.explain_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == {
        "methods": ["ig"], "how": "ids", "n": 5, "ids": [0, 1, 2, 3, 15],
        "split": "test", "layer": None, "pin": True,
    }


def test_controls_pick_samples_by_rule(controls, qtbot) -> None:
    controls.set_sample_choice("random_per_class", count=4)
    controls.set_checked_methods(["saliency", "gradcam"])
    controls.layer_combo.setCurrentText("conv2")
    with qtbot.waitSignal(controls.explain_requested) as blocker:
        qtbot.mouseClick(controls.explain_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0]["how"] == "random_per_class"
    assert blocker.args[0]["n"] == 4 and blocker.args[0]["ids"] == []
    assert blocker.args[0]["methods"] == ["saliency", "gradcam"]
    assert blocker.args[0]["layer"] == "conv2"


def test_bad_ids_show_a_message_and_disable_explain(controls, qtbot) -> None:
    controls.set_row_count(100)
    controls.set_sample_choice("ids")
    qtbot.keyClicks(controls.ids_edit, "5-2")
    assert not controls.explain_button.isEnabled()
    assert controls.ids_message.isVisible()
    assert "runs backwards" in controls.ids_message.text()
    with qtbot.assertNotEmitted(controls.explain_requested):
        qtbot.keyClick(controls.ids_edit, Qt.Key.Key_Return)
    controls.ids_edit.setText("2-5, 120")
    assert "Row 120 does not exist" in controls.ids_message.text()
    controls.ids_edit.setText("2-5")
    assert controls.explain_button.isEnabled() and not controls.ids_message.isVisible()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40))
def test_controls_take_any_text_without_raising(controls, text: str) -> None:
    controls.set_sample_choice("ids")
    controls.ids_edit.setText(text)
    ids, problem = parse_sample_ids(text)
    assert controls.explain_button.isEnabled() == (problem is None)
    assert (controls.choices() is None) == (problem is not None)
    if ids is not None:
        assert controls.choices()["ids"] == ids


def test_layer_choice_only_with_a_gradcam_method(controls) -> None:
    assert not controls.layer_combo.isEnabled()
    controls.set_checked_methods(["ig", "gradcam"])
    assert controls.layer_combo.isEnabled()
    controls.set_layers([])
    assert not controls.explain_button.isEnabled()
    assert "needs a convolution layer" in controls.problem()
    controls.set_checked_methods([])
    assert controls.problem() == "Tick at least one method."


def test_progress_busy_cancel_and_messages(controls, qtbot) -> None:
    now = [100.0]
    controls._clock = lambda: now[0]
    controls.set_busy(True)
    now[0] = 130.0
    controls.set_progress(0.25)  # 30 s for a quarter: 90 s to go
    assert controls.progress.value() == 250
    assert controls.progress.format() == "%p % · about 2 min left"
    now[0] = 140.0
    controls.set_progress(0.8)  # 40 s for 80 %: 10 s to go
    assert controls.progress.format() == "%p % · about 10 s left"
    controls.set_progress(0.42)
    assert controls.progress.value() == 420
    controls.set_progress(float("nan"))
    controls.set_progress(7)
    assert controls.progress.value() == 1000
    assert controls.explain_button.isEnabled()  # a newer request replaces the running one
    with qtbot.waitSignal(controls.cancel_requested):
        qtbot.mouseClick(controls.cancel_button, Qt.MouseButton.LeftButton)
    controls.set_busy(False)
    assert not controls.cancel_button.isEnabled()
    controls.set_message("The model has no layer named 'conv9'.")
    assert controls.message() == "The model has no layer named 'conv9'."
    assert "#b71c1c" in controls.message_label.styleSheet()


# ------------------------------------------------------------------------------ epochs
def test_epoch_slider_labels_and_emits_epochs(qtbot) -> None:
    slider = EpochSlider()
    qtbot.addWidget(slider)
    assert slider.epoch() is None and slider.label.text() == "no epochs yet"
    with qtbot.waitSignal(slider.epoch_changed) as blocker:
        slider.set_epochs(range(1, 11))
    assert blocker.args == [10]
    with qtbot.waitSignal(slider.epoch_changed) as blocker:
        slider.slider.setValue(2)
    assert blocker.args == [3]
    assert slider.label.text() == "epoch 3 / 10"
    # a new epoch arriving keeps the epoch the user is looking at
    with qtbot.assertNotEmitted(slider.epoch_changed):
        slider.set_epochs(range(1, 12))
    assert slider.label.text() == "epoch 3 / 11"
    # ... but follows training when the user was on the newest
    slider.set_epoch(11)
    with qtbot.waitSignal(slider.epoch_changed) as blocker:
        slider.set_epochs(range(1, 13))
    assert blocker.args == [12]


def test_the_colour_scale_stays_in_view_however_many_samples(grid, qtbot) -> None:
    """Twelve samples make the grid wider than its scroll area; the scale is drawn between
    the method names and the first map, so it is on screen before any sideways scrolling."""
    images, results, samples = _image_results(n_samples=12)
    grid.resize(700, 500)
    grid.show()
    grid.set_attributions(images, results, samples)
    qtbot.wait(50)
    assert grid.graphics.width() > grid.scroll.viewport().width()  # it does scroll sideways
    bar_right = grid.color_bars[0].sceneBoundingRect().right()
    first_map_left = min(row[0].heat.sceneBoundingRect().left() for row in grid.cells)
    assert bar_right <= first_map_left
    assert bar_right <= grid.scroll.viewport().width()  # visible at scroll position 0


def test_a_long_title_wraps_to_the_chart_width_instead_of_being_cut(table, qtbot) -> None:
    result, x, samples = _linear_result()
    result = dict(result, params={f"parameter_{i}": 1000 + i for i in range(8)})
    table.set_result(result, feature_values=x, samples=samples)
    chart = table.charts["waterfall"]
    line = table.fontMetrics().height()
    table.resize(900, 500)
    qtbot.waitUntil(lambda: chart.title.item.textWidth() == max(120, chart.widget.width() - 24))
    table.resize(360, 500)
    qtbot.waitUntil(lambda: chart.title.item.textWidth() == max(120, chart.widget.width() - 24))
    title = chart.title.item
    assert title.boundingRect().width() <= chart.widget.width()  # nothing past the edge
    assert title.boundingRect().height() >= 4 * line  # method, parameters, values, sample
    assert "parameter_0" in title.toPlainText()


def test_waterfall_rows_keep_their_height_under_a_wrapped_title(table, qtbot) -> None:
    """A narrow, short view with a title that wraps to several lines: the chart asks for
    13 px per row on top of the title, so the bars' rows never overlap (the chart scrolls in
    its tab instead)."""
    result, x, samples = _linear_result()
    result = dict(result, params={f"parameter_{i}": 1000 + i for i in range(8)})
    table.set_top_k(9)
    table.set_result(result, feature_values=x, samples=samples)
    table.resize(360, 260)
    chart = table.charts["waterfall"]
    qtbot.waitUntil(lambda: chart.title.item.textWidth() == max(120, chart.widget.width() - 24))
    qtbot.wait(50)
    rows = len(chart.tick_labels)
    box = chart.plot.getViewBox().sceneBoundingRect()
    assert rows >= 9 and box.height() / (rows + 2.4) >= 12.5  # about 13 px a row, no overlap
