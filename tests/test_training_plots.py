"""The live training plots: decimation, following the data, gradient norms, confusion matrix,
and the redraw throttle (offscreen Qt)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from widgets.training.plots import (
    MAX_DEFAULT_LAYERS,
    MAX_LABELLED_CLASSES,
    REDRAW_HZ,
    ConfusionHeatmap,
    GradNormPlot,
    PeakPyramid,
    TrainingPlots,
    _nice_range,
)

pytestmark = pytest.mark.gui


# ------------------------------------------------------------------ min/max pyramid (numpy)
def _pyramid_from_chunks(y: np.ndarray, cuts: list[int]) -> PeakPyramid:
    p = PeakPyramid()
    bounds = [0, *sorted(c % (len(y) + 1) for c in cuts), len(y)]
    for a, b in zip(bounds, bounds[1:]):
        p.extend(np.arange(a, b, dtype=float), y[a:b])
    return p


values = st.lists(
    st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(float("nan"))), min_size=1, max_size=700
)


@settings(max_examples=150, deadline=None)
@given(y=values, cuts=st.lists(st.integers(0, 700), max_size=6),
       window=st.tuples(st.integers(0, 700), st.integers(0, 700)), max_blocks=st.integers(1, 64))
def test_pyramid_blocks_are_the_min_and_max_of_their_points(y, cuts, window, max_blocks) -> None:
    y = np.asarray(y)
    n = len(y)
    p = _pyramid_from_chunks(y, cuts)  # appended in pieces, as live training does
    i0, i1 = sorted(w % (n + 1) for w in window)
    starts, sizes, lo, hi = p.blocks(i0, i1, max_blocks)
    if i1 <= i0:
        assert len(starts) == 0
        return
    # contiguous, in order, covering the requested points
    assert starts[0] <= i0 and starts[-1] + sizes[-1] >= i1
    assert np.array_equal(starts[1:], (starts + sizes)[:-1])
    assert all(int(s) & (int(s) - 1) == 0 for s in sizes)  # powers of two
    # few enough to draw: about max_blocks, plus a margin and the newest points' blocks
    assert len(starts) <= max_blocks + 3 + math.ceil(math.log2(n + 1))
    for s, size, a, b in zip(starts, sizes, lo, hi):
        block = y[s:s + size]
        assert np.array_equal(a, np.fmin.reduce(block), equal_nan=True)
        assert np.array_equal(b, np.fmax.reduce(block), equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(y=values, cuts=st.lists(st.integers(0, 700), max_size=6))
def test_pyramid_built_in_pieces_equals_built_at_once(y, cuts) -> None:
    y = np.asarray(y)
    whole = PeakPyramid()
    whole.extend(np.arange(len(y), dtype=float), y)
    pieces = _pyramid_from_chunks(y, cuts)
    for k in range(len(whole._lo)):
        assert np.array_equal(whole._lo[k].view(), pieces._lo[k].view(), equal_nan=True)
        assert np.array_equal(whole._hi[k].view(), pieces._hi[k].view(), equal_nan=True)
    finite = y[np.isfinite(y)]
    bounds = whole.bounds()
    if len(finite):
        assert bounds == ((0.0, float(len(y) - 1)), (finite.min(), finite.max()))


def test_display_keeps_the_peaks_of_a_long_history() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=200_000)
    y[123_457] = 50.0  # one spike among 200,000 points must still be drawn
    p = PeakPyramid()
    p.extend(np.arange(len(y), dtype=float), y)
    x_shown, y_shown = p.display(0, len(y), 500)
    assert len(y_shown) <= 2 * 520
    assert y_shown.max() == 50.0 and y_shown.min() == y.min()
    assert np.all(np.diff(x_shown) >= 0)


@settings(max_examples=200, deadline=None)
@given(lo=st.floats(-1e6, 1e6), span=st.floats(1e-6, 1e6), keep_lo=st.booleans())
def test_nice_range_contains_the_data_and_is_mostly_filled(lo, span, keep_lo) -> None:
    hi = lo + span
    a, b = _nice_range(lo, hi, keep_lo=keep_lo)
    tol = 1e-9 * max(1.0, abs(lo), abs(hi))
    assert a <= lo + tol and b >= hi - tol
    assert (hi - lo) >= 0.66 * (b - a) - tol


# ------------------------------------------------------------------ widgets
@pytest.fixture
def plots(qtbot) -> TrainingPlots:
    w = TrainingPlots()
    qtbot.addWidget(w)
    w.resize(1300, 500)
    w.show()
    return w


def test_step_plot_follows_the_data_until_the_user_zooms(plots, qtbot) -> None:
    n = 50_000
    plots.set_steps(np.linspace(2.0, 0.1, n), np.full(n, 1e-3))
    view = plots.step_plot.getViewBox()
    (x0, x1), (y0, y1) = view.viewRange()
    assert x0 <= 0 and x1 >= n - 1 and y0 <= 0.1 and y1 >= 2.0  # everything in view
    shown_x, shown_y = plots.step_curve.getData()
    assert len(shown_x) < 3000  # decimated to the plot's width
    assert shown_y.max() == 2.0 and shown_y.min() == pytest.approx(0.1)

    plots.append_steps(np.arange(n, 2 * n), np.full(n, 3.0), np.full(n, 1e-3))
    plots.flush()
    (x0, x1), (y0, y1) = view.viewRange()
    assert x1 >= 2 * n - 1 and y1 >= 3.0

    # a zoom with the mouse stops following; new points do not move the view
    view.setXRange(100, 200, padding=0)
    view.sigRangeChangedManually.emit([True, True])
    plots.append_steps(np.arange(2 * n, 3 * n), np.full(n, 9.0), np.full(n, 1e-3))
    plots.flush()
    assert view.viewRange()[0] == pytest.approx([100, 200])
    shown_x, _ = plots.step_curve.getData()
    assert shown_x.min() >= 98 and shown_x.max() <= 202  # only the zoomed part is drawn
    # the plot's "A" button follows the data again
    view.enableAutoRange()
    assert view.viewRange()[0][1] >= 3 * n - 1 and view.viewRange()[1][1] >= 9.0


def test_grad_norm_curves_receive_the_values_given(plots) -> None:
    epochs = [{"layers.fc1": 0.5, "layers.fc2": 0.02}, {"layers.fc1": 0.25, "layers.fc2": 0.01},
              {"layers.fc1": 0.125, "layers.fc2": 0.004}]
    for e in epochs:
        plots.append_epoch_details({k.removeprefix("layers."): v for k, v in e.items()}, None)
    plots.flush()
    grad = plots.grad_norms
    assert list(grad.curves) == ["fc1", "fc2"]
    for name in ("fc1", "fc2"):
        x, y = grad.curves[name].getOriginalDataset()
        assert list(x) == [1, 2, 3]
        assert list(y) == [e[f"layers.{name}"] for e in epochs]
    assert grad.plot.getPlotItem().ctrl.logYCheck.isChecked()  # a log axis


def test_a_layer_seen_late_starts_at_its_epoch(qtbot) -> None:
    grad = GradNormPlot()
    qtbot.addWidget(grad)
    grad.append({"a": 1.0})
    grad.append({"a": 0.5, "b": 2.0})
    grad.redraw()
    _, y = grad.curves["b"].getOriginalDataset()
    assert np.isnan(y[0]) and y[1] == 2.0


def test_the_largest_layers_are_shown_and_a_tick_toggles_a_curve(qtbot) -> None:
    grad = GradNormPlot()
    qtbot.addWidget(grad)
    norms = {f"layer{i}": 10.0 ** -i for i in range(12)}
    grad.set_history({k: [v * 2, v] for k, v in norms.items()})
    shown = grad.visible_layers()
    assert shown == [f"layer{i}" for i in range(MAX_DEFAULT_LAYERS)]  # the 8 largest
    assert not grad.curves["layer11"].isVisible()

    # unticking a layer in the list, as a click does, hides its curve and says so
    item = grad.layers.item(0)
    with qtbot.waitSignal(grad.layer_toggled) as blocker:
        item.setCheckState(Qt.CheckState.Unchecked)
    assert blocker.args == ["layer0", False]
    assert not grad.curves["layer0"].isVisible()
    grad.set_layer_visible("layer11", True)
    assert grad.curves["layer11"].isVisible() and "layer11" in grad.visible_layers()


def test_heatmap_shows_the_confusion_matrix_with_class_names(qtbot) -> None:
    heat = ConfusionHeatmap()
    qtbot.addWidget(heat)
    first = [[5, 1, 0], [2, 7, 1], [0, 3, 9]]
    latest = [[6, 0, 0], [1, 9, 0], [0, 1, 11]]
    heat.set_class_names(["cat", "dog", "eel"])
    heat.append(first)
    heat.append(latest)
    heat.redraw()
    assert np.array_equal(heat.image.image, np.array(latest))  # the latest epoch, rows = true
    assert [label.textItem.toPlainText() for label in heat.cell_labels] == [
        str(v) for row in latest for v in row
    ]
    ticks = heat.plot.getAxis("left")._tickLevels[0]
    assert [name for _, name in ticks] == ["cat", "dog", "eel"]
    assert [name for _, name in heat.plot.getAxis("bottom")._tickLevels[0]] == ["cat", "dog", "eel"]

    # looking back at epoch 1 stays there while new epochs arrive
    heat.epoch.setValue(1)
    assert np.array_equal(heat.image.image, np.array(first))
    heat.append(latest)
    heat.redraw()
    assert heat.epoch.value() == 1 and heat.epoch.maximum() == 3
    assert np.array_equal(heat.shown_matrix(), np.array(first))
    heat.epoch.setValue(3)  # back at the latest: it follows again
    heat.append(first)
    heat.redraw()
    assert heat.epoch.value() == 4 and np.array_equal(heat.image.image, np.array(first))


def test_many_classes_are_drawn_without_cell_labels(qtbot) -> None:
    heat = ConfusionHeatmap()
    qtbot.addWidget(heat)
    k = MAX_LABELLED_CLASSES + 3
    m = np.arange(k * k).reshape(k, k)
    heat.set_history([None, m])  # an epoch without a matrix is skipped
    assert np.array_equal(heat.image.image, m) and heat.cell_labels == []
    assert heat.epoch.maximum() == 1


def test_redraws_are_throttled_however_fast_points_arrive(plots, monkeypatch) -> None:
    calls, step_redraws = [], []
    original = plots._draw_pending
    monkeypatch.setattr(plots, "_draw_pending", lambda: (calls.append(1), original()))
    refresh = plots._step_view.refresh
    monkeypatch.setattr(plots._step_view, "refresh", lambda *a: (step_redraws.append(1), refresh(*a)))
    t0 = time.perf_counter()
    for i in range(1000):
        plots.append_steps([i], [1.0 / (i + 1)], [1e-3])
        if i % 10 == 0:
            plots.append_epoch_details({"fc1": 1.0 / (i + 1)}, [[i, 1], [2, i]])
        QApplication.processEvents()
    elapsed = time.perf_counter() - t0
    deadline = time.perf_counter() + 2.0
    while len(calls) == 0 or plots._redraw.isActive():  # the last tick still draws
        QApplication.processEvents()
        assert time.perf_counter() < deadline
    # ticks of the redraw timer (a third of the plots each), and redraws of the step plot
    assert 1 <= len(calls) <= 3 * elapsed * REDRAW_HZ + 3
    assert 1 <= len(step_redraws) <= elapsed * REDRAW_HZ + 2
    assert plots.point_counts()["steps"] == 1000
    assert plots.point_counts()["confusion_epochs"] == 100
    assert len(plots.grad_norms.curves["fc1"].getOriginalDataset()[1]) == 100


def test_clear_empties_every_plot(plots) -> None:
    plots.set_steps([1.0, 0.5], [1e-3, 1e-3])
    plots.set_epochs([1.0], [1.1], [0.5], "accuracy")
    plots.set_epoch_details({"fc1": [0.1]}, [[[1, 0], [0, 1]]])
    plots.clear()
    counts = plots.point_counts()
    assert counts == {"steps": 0, "train": 0, "val": 0, "metric": 0, "lr": 0,
                      "grad_norm_epochs": 0, "confusion_epochs": 0}
    assert plots.grad_norms.layers.count() == 0 and plots.confusion.shown_matrix() is None


def test_counts_hide_when_cells_are_too_small_and_return_when_there_is_room(qtbot) -> None:
    """Ten classes with counts up to 150 (three digits: 3 × 7 + 6 = 27 px wide, 14 px high):
    in a 260 × 220 plot a cell is about 20 px wide, so the counts hide; at 900 × 800 a cell is
    about 80 px and they show. The colours are drawn either way."""
    heat = ConfusionHeatmap()
    qtbot.addWidget(heat)
    k = 10
    m = np.zeros((k, k))
    np.fill_diagonal(m, 150)
    heat.resize(260, 220)
    heat.show()
    heat.set_history([m])
    qtbot.waitUntil(lambda: heat.plot.getViewBox().sceneBoundingRect().width() > 0)
    qtbot.wait(50)
    assert len(heat.cell_labels) == k * k and np.array_equal(heat.image.image, m)
    assert not heat.labels_fit()
    assert not any(label.isVisible() for label in heat.cell_labels)
    heat.resize(900, 800)
    qtbot.waitUntil(heat.labels_fit)
    qtbot.waitUntil(lambda: all(label.isVisible() for label in heat.cell_labels))
