"""The look inside the network: hook capture (headless), the view, and the window's controller."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.activations import ActivationError, capture_activations
from engines.build import build_model
from engines.templates import make_template


def _manual_outputs(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every node's output, by running the node modules one after another by hand."""
    with torch.no_grad():
        values = {model.input_id: model.layers[model.input_id](torch.as_tensor(x)[None])}
        for nid, sources in model.steps:
            values[nid] = model.layers[nid](*[values[s] for s in sources])
    return {k: v[0].numpy() for k, v in values.items()}


def _no_hooks(model) -> bool:
    return all(not m._forward_hooks for m in model.modules())


@pytest.fixture(scope="module")
def lenet():
    model = build_model(make_template("lenet5", (1, 8, 8), 10), seed=3)
    model.eval()
    return model


def test_outputs_equal_a_manual_forward_and_hooks_are_removed(lenet) -> None:
    x = np.random.default_rng(0).normal(size=(1, 8, 8)).astype(np.float32)
    ids = ["conv1", "relu1", "pool1", "conv2", "fc1", "output"]
    got = capture_activations(lenet, x, ids)
    expected = _manual_outputs(lenet, x)
    assert list(got) == ids
    assert got["conv1"].shape == (6, 8, 8) and got["pool1"].shape == (6, 4, 4)
    assert got["fc1"].shape == (120,) and got["output"].shape == (10,)
    for nid in ids:
        np.testing.assert_allclose(got[nid], expected[nid], rtol=1e-6, atol=1e-6)
    # relu really is max(0, conv): a hand-computed relation between two captured outputs
    np.testing.assert_array_equal(got["relu1"], np.maximum(got["conv1"], 0))
    # the output is what the whole model predicts for the sample
    with torch.no_grad():
        np.testing.assert_allclose(got["output"], lenet(torch.as_tensor(x)[None])[0].numpy(),
                                   rtol=1e-6, atol=1e-6)
    assert _no_hooks(lenet)


def test_hooks_are_removed_and_mode_restored_when_the_forward_fails(lenet) -> None:
    lenet.train()
    x = np.zeros((1, 8, 8), np.float32)
    original = lenet.layers["fc2"].forward

    def broken(*args):
        raise RuntimeError("boom")

    lenet.layers["fc2"].forward = broken
    try:
        with pytest.raises(RuntimeError, match="boom"):
            capture_activations(lenet, x, ["conv1", "fc2"])
    finally:
        lenet.layers["fc2"].forward = original
    assert _no_hooks(lenet)
    assert lenet.training  # put back as it was
    lenet.eval()


def test_dropout_is_off_while_capturing() -> None:
    graph = make_template("mlp", (20,), 3)
    model = build_model(graph, seed=0)
    model.train()
    x = np.ones(20, np.float32)
    drop = next(n for n in graph.nodes if graph.nodes[n].type == "dropout")
    a = capture_activations(model, x, [drop])[drop]
    b = capture_activations(model, x, [drop])[drop]
    np.testing.assert_array_equal(a, b)  # in training mode dropout would differ run to run
    assert model.training


def test_bad_requests_get_one_sentence_each(lenet) -> None:
    x = np.zeros((1, 8, 8), np.float32)
    with pytest.raises(ActivationError, match="no node 'nope'"):
        capture_activations(lenet, x, ["nope"])
    with pytest.raises(ActivationError, match=r"shape \(8, 8\).*expects \(1, 8, 8\)"):
        capture_activations(lenet, x[0], ["conv1"])
    graph = make_template("mlp", (4,), 2)
    first = next(iter(graph.outputs_of(graph.nodes_of_type("input")[0].id)))
    graph.add_node("relu", id="dangling")
    graph.connect(first.dst, "dangling")
    model = build_model(graph)
    with pytest.raises(ActivationError, match="'dangling' does not lead to the output"):
        capture_activations(model, np.zeros(4, np.float32), ["dangling"])
    assert _no_hooks(model)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(st.sampled_from(["input", "conv1", "relu1", "pool1", "conv2", "relu2", "pool2",
                                    "adapt", "flatten", "fc1", "relu3", "fc2", "output"]),
                   min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_any_choice_of_nodes_matches_the_manual_forward(lenet, picks, seed) -> None:
    x = np.random.default_rng(seed).normal(size=(1, 8, 8)).astype(np.float32)
    got = capture_activations(lenet, x, picks)
    expected = _manual_outputs(lenet, x)
    assert list(got) == list(dict.fromkeys(picks))
    for nid, value in got.items():
        np.testing.assert_allclose(value, expected[nid], rtol=1e-5, atol=1e-6)
    assert _no_hooks(lenet)


# ---------------------------------------------------------------------- the view
@pytest.mark.gui
def test_view_draws_feature_maps_vectors_and_sequences(qtbot) -> None:
    from widgets.activations.view import MAX_MAPS, ActivationView

    view = ActivationView()
    qtbot.addWidget(view)
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(10, 5, 7)) * np.arange(1, 11)[:, None, None]  # loud and quiet maps
    view.set_activation("conv1 (Conv 2D)", maps, caption="label 3")
    assert view.mode == "grid" and view.maps_shown == 10 and view.map_shape == (5, 7)
    assert "10×5×7" in view.title.text() and "conv1" in view.title.text()
    # 10 maps tile as 4 columns x 3 rows with a 1-pixel gap; each tile scaled to [0, 1] alone
    assert view.mosaic.shape == (3 * 6 - 1, 4 * 8 - 1)
    tile = view.mosaic[6:11, 8:15]  # map 5: row 1, column 1
    m = maps[5]
    np.testing.assert_allclose(tile, (m - m.min()) / (m.max() - m.min()))
    assert np.isnan(view.mosaic[5, :]).all()  # the gap between rows
    assert [t.toPlainText() for t in view._labels] == [str(i) for i in range(10)]

    view.set_activation("conv2 (Conv 2D)", rng.normal(size=(70, 4, 4)))
    assert view.maps_shown == MAX_MAPS and view.channels == 70
    view.set_activation("dead (ReLU)", np.zeros((3, 4, 4)))
    assert view.maps_shown == 3 and np.nanmax(view.mosaic) == 0  # constant maps do not divide by 0

    view.set_activation("fc1 (Linear)", np.array([0.5, -1.0, 2.0]), labels=["a", "b", "c"])
    assert view.mode == "bars"
    np.testing.assert_array_equal(view.bars.opts["height"], [0.5, -1.0, 2.0])
    view.set_activation("lstm (LSTM)", rng.normal(size=(12, 3)))
    assert view.mode == "image" and view.map_shape == (12, 3)
    assert view.image_item.image.shape[:2] == (3, 12)  # features down, steps across
    view.set_activation("odd", np.zeros((2, 2, 2, 2)))
    assert view.mode == "message" and "cannot be drawn" in view.message.text()


@pytest.mark.gui
def test_sample_chooser_and_random_button(qtbot) -> None:
    from widgets.activations.view import ActivationView

    view = ActivationView()
    qtbot.addWidget(view)
    view.set_sample_count(50, 7)
    assert view.sample_index() == 7
    seen = []
    view.sample_changed.connect(seen.append)
    for _ in range(20):
        before = view.sample_index()
        view.random_button.click()
        assert view.sample_index() != before and 0 <= view.sample_index() < 50
    assert seen and seen[-1] == view.sample_index()
    view.set_sample_count(1)
    assert not view.random_button.isEnabled()


# ------------------------------------------------------------------- the window
@pytest.mark.gui
def test_selecting_a_conv_node_of_a_trained_lenet_shows_its_maps(make_main_window, qtbot) -> None:
    from engines.data import builtin_spec
    from workbench.core.session import create_project, load_data, model_for

    w = make_main_window()
    w.show()
    project = create_project("lenet5", builtin_spec("digits"))
    w.set_project(project, None)
    w.dirty = True
    w.look_inside_dock.raise_()
    w.graph_view.select_node("conv1")
    qtbot.waitUntil(lambda: "Train a run" in w.look_inside.message.text(), timeout=5000)

    w.epochs.setValue(1)
    with qtbot.waitSignal(w.worker.finished, timeout=120_000):
        w.start_training()
    run = w.project.active()
    assert run is not None and run.weights is not None

    ctl = w.look_inside_controller
    with qtbot.waitSignal(ctl.look_shown, timeout=60_000) as shown:
        w.look_inside_dock.raise_()  # training brought the plots to the front
        w.graph_view.select_node("conv1")
    assert shown.args == ["conv1"]
    view = w.look_inside
    assert view.mode == "grid" and view.maps_shown == 6 and view.map_shape == (8, 8)
    assert "sample 0" in view.caption.text() and "label" in view.caption.text()
    # what is drawn is the conv layer's output for that validation sample
    data = load_data(w.project)
    x = data.X[data.splits["val"][0]]
    oracle = capture_activations(model_for(w.project, run), x, ["conv1"])["conv1"]
    np.testing.assert_allclose(view.values, oracle, rtol=1e-5, atol=1e-6)

    # a new request makes older ones stale: only the latest choice is shown
    with qtbot.waitSignal(ctl.look_shown, timeout=60_000) as shown:
        w.graph_view.select_node("relu1")
        w.graph_view.select_node("fc1")
    qtbot.wait(200)
    assert shown.args == ["fc1"] and view.mode == "bars" and view.map_shape == (120,)

    with qtbot.waitSignal(ctl.look_shown, timeout=60_000):
        view.sample.setValue(5)
    assert "sample 5" in view.caption.text()
    x5 = data.X[data.splits["val"][5]]
    oracle = capture_activations(model_for(w.project, run), x5, ["fc1"])["fc1"]
    np.testing.assert_allclose(view.values, oracle, rtol=1e-5, atol=1e-6)

    # the output node shows the class scores, labelled with the class names
    with qtbot.waitSignal(ctl.look_shown, timeout=60_000):
        w.graph_view.select_node("output")
    assert view.mode == "bars" and view.map_shape == (10,)
    w.undo_action.trigger()  # take the run back: nothing to look inside any more
    assert "Train a run" in view.message.text()
