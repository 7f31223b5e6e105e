"""Templates: every one validates, matches a real forward pass, trains and round-trips."""

from __future__ import annotations

import json
import time

import pytest
import torch

from engines import shapes
from engines.build import build_model
from engines.graph import Graph, GraphError
from engines.shapes import analyse
from engines.templates import TEMPLATES, X_SPACING, make_template

SHAPES = {
    "table": [(4,), (30,)],
    "image": [(1, 8, 8), (1, 28, 28), (3, 32, 32)],
    "sequence": [(12, 3), (30, 1)],
}
CASES = [
    (tid, shape)
    for tid, info in TEMPLATES.items()
    for kind in info.data_kinds
    for shape in SHAPES[kind]
]


def expected_output(tid: str, shape: tuple[int, ...], n_out: int) -> tuple[int, ...]:
    return shape if TEMPLATES[tid].objective == "reconstruction" else (n_out,)


def test_the_contract_s_templates_exist_with_their_metadata():
    assert set(TEMPLATES) == {
        "mlp",
        "lenet5",
        "resnet",
        "lstm",
        "gru",
        "transformer",
        "vit",
        "autoencoder",
        "mobilenet",
    }
    for tid, info in TEMPLATES.items():
        assert info.id == tid and info.title and info.description.endswith(".")
        assert info.data_kinds and set(info.data_kinds) <= {"table", "image", "sequence"}
        assert info.objective in {"classification", "reconstruction"}
        assert json.loads(json.dumps(info.to_dict()))["id"] == tid
    assert TEMPLATES["autoencoder"].objective == "reconstruction"
    assert TEMPLATES["lstm"].data_kinds == ("sequence",)


@pytest.mark.parametrize("tid, shape", CASES)
def test_template_validates_and_inferred_shapes_match_a_real_forward_pass(tid, shape):
    g = make_template(tid, shape, 3)
    report = analyse(g)
    assert report.problems == []
    assert report.node_shapes["output"] == expected_output(tid, shape, 3)

    model = build_model(g, seed=0)
    seen: dict[str, tuple[int, ...]] = {}
    for nid, module in model.layers.items():
        module.register_forward_hook(lambda m, i, o, nid=nid: seen.__setitem__(nid, tuple(o.shape)))
    model(torch.randn(4, *shape))
    assert set(seen) == set(g.nodes)
    for nid, got in seen.items():
        assert got == (4, *report.node_shapes[nid]), nid
    assert report.total_params == sum(p.numel() for p in model.parameters())


def ancestors(g: Graph, nid: str) -> set[str]:
    found, todo = set(), [nid]
    while todo:
        for e in g.inputs_of(todo.pop()):
            if e.src not in found:
                found.add(e.src)
                todo.append(e.src)
    return found


def test_resnet_has_real_skip_connections():
    g = make_template("resnet", (1, 8, 8), 3)
    adds = g.nodes_of_type("add")
    assert len(adds) == 3
    identity = 0
    for node in adds:
        src = {e.dst_port: e.src for e in g.inputs_of(node.id)}
        main, skip = src["a"], src["b"]
        assert main != skip and main not in ancestors(g, skip)
        if skip in ancestors(g, main):
            identity += 1  # the block's input itself, added to the block's output
        else:  # a projection branch that splits off where the main path starts
            fork = ancestors(g, main) & ancestors(g, skip)
            assert any(len(g.outputs_of(f)) >= 2 for f in fork)
    assert identity == 2


def test_vit_patch_size_divides_the_image():
    for shape, tokens in (((1, 8, 8), 16), ((1, 28, 28), 49), ((3, 32, 32), 64)):
        report = analyse(make_template("vit", shape, 10))
        assert report.node_shapes["patches"] == (tokens, 32)


def test_mobilenet_uses_depthwise_separable_blocks():
    g = make_template("mobilenet", (1, 8, 8), 10)
    assert len(g.nodes_of_type("dwsep_conv2d")) >= 2


@pytest.mark.parametrize("tid", list(TEMPLATES))
def test_template_trains_a_few_steps(tid):
    kind = TEMPLATES[tid].data_kinds[0]
    shape = SHAPES[kind][0]
    model = build_model(make_template(tid, shape, 3), seed=0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, *shape, generator=g)
    if TEMPLATES[tid].objective == "reconstruction":
        target, loss_fn = x, torch.nn.functional.mse_loss
    else:
        target, loss_fn = torch.randint(0, 3, (16,), generator=g), torch.nn.functional.cross_entropy
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        torch.manual_seed(1)  # same dropout masks each time, so losses are comparable
        return loss_fn(model(x), target)

    with torch.no_grad():
        before = loss().item()
    for _ in range(20):
        optimiser.zero_grad()
        loss().backward()
        optimiser.step()
    with torch.no_grad():
        after = loss().item()
    assert after < before * 0.9, (before, after)


@pytest.mark.parametrize("tid, shape", CASES)
def test_template_round_trips_through_json_with_identical_analysis(tid, shape):
    g = make_template(tid, shape, 5)
    again = Graph.from_dict(json.loads(json.dumps(g.to_dict())))
    assert again.to_dict() == g.to_dict()
    a, b = analyse(g), analyse(again)
    assert a.node_shapes == b.node_shapes
    assert a.edge_shapes == b.edge_shapes
    assert a.param_counts == b.param_counts and a.total_params == b.total_params
    assert a.problems == b.problems == []


@pytest.mark.parametrize("tid", list(TEMPLATES))
def test_template_lays_out_left_to_right(tid):
    shape = SHAPES[TEMPLATES[tid].data_kinds[0]][0]
    g = make_template(tid, shape, 2)
    positions = {nid: n.position for nid, n in g.nodes.items()}
    assert len(set(positions.values())) == len(positions), "two nodes share a position"
    assert positions["input"][0] == 0
    assert positions["output"][0] == max(x for x, _ in positions.values())
    for e in g.edges:
        assert positions[e.dst][0] >= positions[e.src][0] + X_SPACING
    assert all(x % X_SPACING == 0 for x, _ in positions.values())


def test_analyse_is_fast_enough_to_run_after_every_edit():
    graphs = [
        make_template(tid, SHAPES[info.data_kinds[0]][-1], 10) for tid, info in TEMPLATES.items()
    ]
    for g in graphs:
        analyse(g)  # warm up torch's lazy initialisation
    for g in graphs:
        best = float("inf")
        for _ in range(3):
            shapes._CACHE.clear()  # time the real work, not the cache
            start = time.perf_counter()
            analyse(g)
            best = min(best, time.perf_counter() - start)
        assert best < 0.05, f"{best * 1000:.0f} ms"


def test_bad_template_requests_are_graph_errors():
    with pytest.raises(GraphError, match="Unknown template"):
        make_template("alexnet", (1, 8, 8), 3)
    with pytest.raises(GraphError, match="applies to image data"):
        make_template("lenet5", (30,), 3)
    with pytest.raises(GraphError, match="applies to sequence data"):
        make_template("lstm", (1, 8, 8), 3)
    with pytest.raises(GraphError, match="positive whole number"):
        make_template("mlp", (4,), 0)
    with pytest.raises(GraphError, match="whole numbers"):
        make_template("mlp", ("a",), 2)
