"""Hand-computed answers at the edges of the engines, each written to kill a one-line mutation
that the rest of the suite let through (STYLE.md habit 12):

* the per-size design weights of paired KernelSHAP (engines.explain.shapley._paired_design);
* the default baseline of the attribution methods when only a background is given;
* weight decay in every optimizer the trainer offers, and a two-step plain SGD update;
* Conv1d FLOPs;
* a convolution or pooling window that exactly fits its padded input.

Every expected number below was worked out by hand (the working is in the comments) and is
written as a literal; none is recomputed with the engine's own expression.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from engines.explain import make_explainer
from engines.explain.shapley import _paired_design
from engines.graph import Graph
from engines.shapes import analyse
from engines.training import Callback, TrainConfig, Trainer


# ============================================================== 1. paired KernelSHAP weights
def _weight_by_size(z: np.ndarray, w: np.ndarray) -> dict[int, list[float]]:
    by_size: dict[int, list[float]] = {}
    for row, weight in zip(z, w):
        by_size.setdefault(int(row.sum()), []).append(float(weight))
    return by_size


def test_paired_design_weights_for_four_groups_are_the_normalised_shapley_kernel() -> None:
    # Shapley kernel for M = 4: pi(s) = (M-1) / (C(M,s) s (M-s)).
    #   pi(1) = pi(3) = 3 / (4*1*3) = 1/4,   pi(2) = 3 / (6*2*2) = 1/8.
    # The design pairs size s with size M-s, so sizes 1 and 3 together hold 8 coalitions and
    # size 2 (its own complement) holds 6. Total kernel mass: 8/4 + 6/8 = 11/4, so with the
    # weights normalised to sum to 1 every size-1 or size-3 coalition weighs (1/4)/(11/4) =
    # 1/11 and every size-2 coalition (1/8)/(11/4) = 1/22: twice as little, as the kernel says.
    # (Forgetting that sizes 1 and 3 are two sizes sampled together gives 1/14 for all.)
    z, w = _paired_design(4, 14, np.random.default_rng(0))  # budget 14 = all but empty and full
    by_size = _weight_by_size(z, w)
    assert sorted(by_size) == [1, 2, 3]
    assert [len(by_size[s]) for s in (1, 2, 3)] == [4, 6, 4]
    for s, expected in ((1, Fraction(1, 11)), (2, Fraction(1, 22)), (3, Fraction(1, 11))):
        np.testing.assert_allclose(by_size[s], float(expected), rtol=1e-12, err_msg=f"size {s}")
    assert float(w.sum()) == pytest.approx(1.0, rel=1e-12)


def test_paired_design_weights_for_six_groups_fully_enumerated() -> None:
    # M = 6: pi(1) = pi(5) = 5/(6*1*5) = 1/6; pi(2) = pi(4) = 5/(15*2*4) = 1/24;
    # pi(3) = 5/(20*3*3) = 1/36. Mass: 12/6 + 30/24 + 20/36 = 2 + 5/4 + 5/9 = 137/36.
    # Normalised: size 1/5 -> (1/6)(36/137) = 6/137, size 2/4 -> (1/24)(36/137) = 3/274,
    # size 3 -> (1/36)(36/137) = 1/137.
    z, w = _paired_design(6, 62, np.random.default_rng(0))  # 62 = 2**6 - 2
    by_size = _weight_by_size(z, w)
    assert [len(by_size[s]) for s in range(1, 6)] == [6, 15, 20, 15, 6]
    expected = {
        1: Fraction(6, 137),
        2: Fraction(3, 274),
        3: Fraction(1, 137),
        4: Fraction(3, 274),
        5: Fraction(6, 137),
    }
    for s, value in expected.items():
        np.testing.assert_allclose(by_size[s], float(value), rtol=1e-12, err_msg=f"size {s}")


def test_paired_design_gives_each_sampled_size_pair_its_kernel_mass() -> None:
    # M = 6 with a budget of 32 coalitions. Per size pair, the kernel mass is
    # C(6,s) pi(s) counted for s and 6-s:  sizes 1+5: 2*(5/5) = 2;  sizes 2+4: 2*(5/8) = 5/4;
    # size 3 (self-paired): 5/9. Sum 137/36, so the shares are 72/137, 45/137 and 20/137.
    # Sizes 1+5 (12 coalitions) fit: 32 * 72/137 / 12 = 1.40 >= 1, so they are enumerated,
    # each at 72/137 / 12 = 6/137. Sizes 2+4 do not (20 left * 45/65 / 30 < 1): the 10 pairs
    # left are sampled, and whatever coalitions are drawn, the weights of a size pair add up
    # to its share. Without the pairing factor they would be 72/157, 45/157 and 40/157.
    z, w = _paired_design(6, 32, np.random.default_rng(7))
    by_size = _weight_by_size(z, w)
    np.testing.assert_allclose(by_size[1] + by_size[5], 6 / 137, rtol=1e-12)
    assert len(by_size[1]) == len(by_size[5]) == 6
    assert sum(by_size[2]) + sum(by_size[4]) == pytest.approx(45 / 137, rel=1e-12)
    assert sum(by_size[3]) == pytest.approx(20 / 137, rel=1e-12)
    # antithetic: each sampled coalition's complement carries the same weight
    weight_of = {row.tobytes(): float(x) for row, x in zip(z, w)}
    for row, x in zip(z, w):
        assert weight_of[(~row).tobytes()] == pytest.approx(float(x), rel=1e-12)


# ============================================================== 2. the default baseline
def _linear_3() -> nn.Linear:
    lin = nn.Linear(3, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -2.0, 3.0]]))
        lin.bias.fill_(0.5)
    return lin


@pytest.mark.parametrize("method", ["ablation", "occlusion", "ig", "deeplift"])
def test_default_baseline_with_only_a_background_is_the_background_mean(method: str) -> None:
    # F(x) = x1 - 2 x2 + 3 x3 + 0.5. Background rows (1, 0, 4) and (3, 2, 0): their mean is
    # b = (2, 1, 2), F(b) = 2 - 2 + 6 + 0.5 = 6.5. (The first row alone would give 13.5.)
    # Attribution of a linear model: w_i (x_i - b_i).
    #   x = (5, 5, 5): (1*3, -2*4, 3*3) = (3, -8, 9), F(x) = 10.5 = 6.5 + 4
    #   x = (0, 1, 2): (1*-2, -2*0, 3*0) = (-2, 0, 0), F(x) = 4.5 = 6.5 - 2
    x = np.array([[5.0, 5.0, 5.0], [0.0, 1.0, 2.0]], dtype=np.float32)
    background = np.array([[1.0, 0.0, 4.0], [3.0, 2.0, 0.0]], dtype=np.float32)
    r = make_explainer(method, _linear_3(), task="regression").attribute(
        x, target=0, background=background
    )
    np.testing.assert_allclose(r.attributions, [[3.0, -8.0, 9.0], [-2.0, 0.0, 0.0]], atol=1e-5)
    np.testing.assert_allclose(r.reference, [6.5, 6.5], atol=1e-5)  # F(baseline) as reported
    np.testing.assert_allclose(r.outputs, [10.5, 4.5], atol=1e-5)
    assert r.baseline == "mean of the background (2 rows)"
    assert r.value_function == "baseline"


# ============================================================== 3. optimizers
class _Weights(Callback):
    """The model's parameters after every optimizer step."""

    def __init__(self) -> None:
        self.after: list[dict[str, list[float]]] = []
        self.losses: list[float] = []

    def on_step_end(self, trainer, step):
        self.losses.append(step["loss"])
        self.after.append(
            {k: v.detach().flatten().tolist() for k, v in trainer.model.state_dict().items()}
        )


def _train(model: nn.Module, X, y, **settings) -> _Weights:
    rec = _Weights()
    config = TrainConfig(objective="regression", batch_size=1, device="cpu", seed=0, **settings)
    result = Trainer(
        model, (np.asarray(X, np.float32), np.asarray(y, np.float32)), None, config, [rec]
    ).fit()
    assert result.status == "completed", result.message
    return rec


# One weight w, no bias, starting at w0 = 3, on the single row x = 0, y = 0: the MSE loss
# (w*0 - 0)^2 has gradient exactly 0, so weight decay alone moves w. lr = 0.1, wd = 0.5,
# two steps (two epochs of one row). "d" is the gradient with the L2 term, wd * w.
#   sgd:            w1 = 3 - 0.1*(0.5*3) = 2.85;  w2 = 2.85 - 0.1*(0.5*2.85) = 2.7075
#   sgd momentum .9: buf1 = 1.5, w1 = 2.85; d2 = 1.425, buf2 = 0.9*1.5 + 1.425 = 2.775,
#                   w2 = 2.85 - 0.2775 = 2.5725
#   nesterov .9:    buf1 = 1.5, step 1.5 + 0.9*1.5 = 2.85, w1 = 2.715; d2 = 1.3575,
#                   buf2 = 1.35 + 1.3575 = 2.7075, step 1.3575 + 0.9*2.7075 = 3.79425,
#                   w2 = 2.715 - 0.379425 = 2.335575
#   adagrad:        sum1 = 1.5^2, w1 = 3 - 0.1*1.5/1.5 = 2.9; d2 = 1.45, sum2 = 2.25 + 2.1025
#                   = 4.3525, w2 = 2.9 - 0.1*1.45/sqrt(4.3525) = 2.9 - 0.0695022 = 2.8304978
#   rmsprop (a=.99): v1 = 0.01*2.25 = 0.0225, w1 = 3 - 0.1*1.5/0.15 = 2.0; d2 = 1.0,
#                   v2 = 0.99*0.0225 + 0.01*1 = 0.032275, w2 = 2 - 0.1/sqrt(0.032275) = 1.4433697
#   rmsprop mom .9: buf1 = 1.5/0.15 = 10, w1 = 2.0; buf2 = 0.9*10 + 1/sqrt(0.032275)
#                   = 14.5663034, w2 = 2 - 1.45663034 = 0.5433697
#   adam (L2 in the gradient, b1 .9, b2 .999): m1/(1-.9) = 1.5 = sqrt(v1/(1-.999)), so
#                   w1 = 3 - 0.1 = 2.9; d2 = 1.45, m2 = 0.135 + 0.145 = 0.28,
#                   v2 = 0.999*0.00225 + 0.001*2.1025 = 0.00435025,
#                   w2 = 2.9 - 0.1*(0.28/0.19)/sqrt(0.00435025/0.001999) = 2.8001027
#   adamw (decoupled): w <- w*(1 - 0.1*0.5) and the Adam step of a zero gradient is 0:
#                   w1 = 2.85, w2 = 2.7075
WEIGHT_DECAY_CASES = {
    "sgd": ({"optimizer": "sgd"}, 2.85, 2.7075),
    "sgd_momentum": ({"optimizer": "sgd", "momentum": 0.9}, 2.85, 2.5725),
    "sgd_nesterov": ({"optimizer": "sgd", "momentum": 0.9, "nesterov": True}, 2.715, 2.335575),
    "adagrad": ({"optimizer": "adagrad"}, 2.9, 2.8304978),
    "rmsprop": ({"optimizer": "rmsprop"}, 2.0, 1.4433697),
    "rmsprop_momentum": ({"optimizer": "rmsprop", "momentum": 0.9}, 2.0, 0.5433697),
    "adam": ({"optimizer": "adam"}, 2.9, 2.8001027),
    "adamw": ({"optimizer": "adamw"}, 2.85, 2.7075),
}


def _one_weight(w0: float) -> nn.Linear:
    lin = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(w0)
    return lin


def test_every_optimizer_the_trainer_offers_has_a_weight_decay_case() -> None:
    from engines.training import OPTIMIZERS

    assert {s["optimizer"] for s, _w1, _w2 in WEIGHT_DECAY_CASES.values()} == set(OPTIMIZERS)


@pytest.mark.parametrize("case", list(WEIGHT_DECAY_CASES))
def test_weight_decay_alone_moves_the_weight_by_hand_computed_steps(case: str) -> None:
    settings, w1, w2 = WEIGHT_DECAY_CASES[case]
    rec = _train(_one_weight(3.0), [[0.0]], [0.0], lr=0.1, weight_decay=0.5, epochs=2, **settings)
    assert rec.losses == [0.0, 0.0]
    assert [a["weight"][0] for a in rec.after] == pytest.approx([w1, w2], abs=1e-6)


@pytest.mark.parametrize("case", list(WEIGHT_DECAY_CASES))
def test_without_weight_decay_a_zero_gradient_leaves_the_weight_alone(case: str) -> None:
    settings, _w1, _w2 = WEIGHT_DECAY_CASES[case]
    rec = _train(_one_weight(3.0), [[0.0]], [0.0], lr=0.1, weight_decay=0.0, epochs=2, **settings)
    assert [a["weight"] for a in rec.after] == [[3.0], [3.0]]


def _w_and_b(w0: float, b0: float) -> nn.Linear:
    lin = nn.Linear(1, 1)
    with torch.no_grad():
        lin.weight.fill_(w0)
        lin.bias.fill_(b0)
    return lin


# Plain SGD on f(x) = w x + b, w0 = 1, b0 = 0, lr = 0.1, rows (x=1, y=3) and (x=2, y=1) as
# two batches of one. Seed 0 takes row 0 first; the step losses below pin the order down
# (the other order would give losses 1 and 6.76). Loss (f - y)^2: dw = 2 r x, db = 2 r.
#   step 1, (1, 3): r = 1 - 3 = -2, loss 4, dw = -4, db = -4 -> w = 1.4, b = 0.4
#   step 2, (2, 1): r = 2.8 + 0.4 - 1 = 2.2, loss 4.84, dw = 8.8, db = 4.4
#                   -> w = 1.4 - 0.88 = 0.52, b = 0.4 - 0.44 = -0.04
# With weight decay 0.5 (also on the bias, as torch does): w - lr (g + 0.5 w)
#   step 1: dw = -4 + 0.5 = -3.5, db = -4 + 0 -> w = 1.35, b = 0.4
#   step 2: r = 2.7 + 0.4 - 1 = 2.1, loss 4.41, dw = 8.4 + 0.675 = 9.075,
#           db = 4.2 + 0.2 = 4.4 -> w = 1.35 - 0.9075 = 0.4425, b = 0.4 - 0.44 = -0.04
@pytest.mark.parametrize(
    "wd, losses, after",
    [
        (0.0, [4.0, 4.84], [(1.4, 0.4), (0.52, -0.04)]),
        (0.5, [4.0, 4.41], [(1.35, 0.4), (0.4425, -0.04)]),
    ],
)
def test_two_plain_sgd_steps_on_two_fixed_batches(wd: float, losses, after) -> None:
    rec = _train(
        _w_and_b(1.0, 0.0),
        [[1.0], [2.0]],
        [3.0, 1.0],
        optimizer="sgd",
        lr=0.1,
        weight_decay=wd,
        epochs=1,
    )
    assert rec.losses == pytest.approx(losses, abs=1e-5)
    got = [[a["weight"][0], a["bias"][0]] for a in rec.after]
    assert got[0] == pytest.approx(list(after[0]), abs=1e-6)  # (w, b) after step 1
    assert got[1] == pytest.approx(list(after[1]), abs=1e-6)  # (w, b) after step 2


# ============================================================== 4. Conv1d FLOPs
def _chain(input_shape: list[int], *layers: tuple[str, str, dict]) -> Graph:
    g = Graph()
    g.add_node("input", {"shape": input_shape}, id="inp")
    last = "inp"
    for nid, type_, params in layers:
        g.add_node(type_, params, id=nid)
        g.connect(last, nid)
        last = nid
    g.add_node("flatten", id="flat")
    g.add_node("output", id="out")
    g.connect(last, "flat")
    g.connect("flat", "out")
    return g


@pytest.mark.parametrize(
    "params, out_shape, flops",
    [
        # 2 channels of length 10, 3 filters of width 3, no padding: output (3, 8). Each of the
        # 3*8 = 24 outputs is 2 channels * 3 taps = 6 multiply-accumulates, 2 FLOPs each (as
        # in _flops' docstring and the conv2d test; the bias is not counted): 2*6*24 = 288.
        ({"out_channels": 3, "kernel_size": 3, "padding": 0, "stride": 1}, (3, 8), 288),
        # padding 1, stride 2: (10 + 2 - 3) // 2 + 1 = 5 positions, 15 outputs: 2*6*15 = 180.
        ({"out_channels": 3, "kernel_size": 3, "padding": 1, "stride": 2}, (3, 5), 180),
    ],
)
def test_conv1d_flops_by_hand(params: dict, out_shape: tuple[int, int], flops: int) -> None:
    report = analyse(_chain([2, 10], ("c", "conv1d", params)))
    assert report.ok, report.problems
    assert report.node_shapes["c"] == out_shape
    assert report.flops["c"] == flops


# ============================================================== 5. windows that exactly fit
# kernel == size + 2*padding: (size + 2p - k) // stride + 1 = 0 + 1 = 1 output position.
FITS = [
    ("conv1d", [2, 4], {"out_channels": 3, "kernel_size": 6, "padding": 1}, (3, 1)),
    ("conv1d", [2, 5], {"out_channels": 3, "kernel_size": 5, "padding": 0}, (3, 1)),
    ("conv2d", [1, 4, 4], {"out_channels": 3, "kernel_size": 6, "padding": 1}, (3, 1, 1)),
    ("conv2d", [1, 5, 5], {"out_channels": 3, "kernel_size": 5, "padding": 0}, (3, 1, 1)),
    ("dwsep_conv2d", [2, 4, 4], {"out_channels": 3, "kernel_size": 6, "padding": 1}, (3, 1, 1)),
    ("maxpool1d", [2, 3], {"kernel_size": 5, "padding": 1}, (2, 1)),
    ("maxpool1d", [2, 4], {"kernel_size": 4, "padding": 0}, (2, 1)),
    ("maxpool2d", [2, 3, 3], {"kernel_size": 5, "padding": 1}, (2, 1, 1)),
    ("maxpool2d", [2, 4, 4], {"kernel_size": 4, "padding": 0}, (2, 1, 1)),
    ("avgpool2d", [2, 3, 3], {"kernel_size": 5, "padding": 1}, (2, 1, 1)),
    ("avgpool2d", [2, 4, 4], {"kernel_size": 4, "padding": 0}, (2, 1, 1)),
]


@pytest.mark.parametrize(
    "layer, input_shape, params, out_shape",
    FITS,
    ids=[f"{f[0]}-{f[1]}-k{f[2]['kernel_size']}" for f in FITS],
)
def test_a_window_that_exactly_fits_the_padded_input_gives_one_position(
    layer: str, input_shape: list[int], params: dict, out_shape: tuple[int, ...]
) -> None:
    report = analyse(_chain(input_shape, ("w", layer, params)))
    assert [p.message for p in report.problems] == []
    assert report.node_shapes["w"] == out_shape


# kernel == size + 2*padding + 1: one too wide, refused on the node with a shape problem.
TOO_WIDE = [
    (
        "conv1d",
        [2, 4],
        {"out_channels": 3, "kernel_size": 7, "padding": 1},
        "Node 'w' (conv1d): its kernel of 7 does not fit an input of size 4 (with padding 1).",
    ),
    (
        "conv2d",
        [1, 5, 5],
        {"out_channels": 3, "kernel_size": 6, "padding": 0},
        "Node 'w' (conv2d): its kernel of 6 does not fit an input of size 5.",
    ),
    (
        "dwsep_conv2d",
        [2, 4, 4],
        {"out_channels": 3, "kernel_size": 7, "padding": 1},
        "Node 'w' (dwsep_conv2d): its kernel of 7 does not fit an input of size 4 (with padding 1).",
    ),
    (
        "maxpool1d",
        [2, 3],
        {"kernel_size": 6, "padding": 1},
        "Node 'w' (maxpool1d): its window of 6 does not fit an input of size 3 (with padding 1).",
    ),
    (
        "maxpool2d",
        [2, 3, 3],
        {"kernel_size": 6, "padding": 1},
        "Node 'w' (maxpool2d): its window of 6 does not fit an input of size 3 (with padding 1).",
    ),
    (
        "avgpool2d",
        [2, 4, 4],
        {"kernel_size": 5, "padding": 0},
        "Node 'w' (avgpool2d): its window of 5 does not fit an input of size 4.",
    ),
]


@pytest.mark.parametrize(
    "layer, input_shape, params, message",
    TOO_WIDE,
    ids=[f"{t[0]}-{t[1]}-k{t[2]['kernel_size']}" for t in TOO_WIDE],
)
def test_a_window_one_wider_than_the_padded_input_is_a_shape_problem_on_the_node(
    layer: str, input_shape: list[int], params: dict, message: str
) -> None:
    report = analyse(_chain(input_shape, ("w", layer, params)))
    assert not report.ok
    assert [(p.node_id, p.kind, p.message) for p in report.errors] == [("w", "shape", message)]
    assert "w" not in report.node_shapes
