"""The layer catalog: every layer type's declaration, shape inference and behaviour."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from engines.build import build_model
from engines.catalog import LAYERS, get_layer
from engines.graph import Graph, GraphError
from engines.shapes import analyse

# (layer type, params, per-sample input shape(s), expected per-sample output shape)
CASES = [
    ("linear", {"out_features": 7}, [(5,)], (7,)),
    ("linear", {"out_features": 3}, [(4, 6)], (4, 3)),
    ("conv1d", {"out_channels": 4, "kernel_size": 3, "padding": 0}, [(2, 10)], (4, 8)),
    (
        "conv2d",
        {"out_channels": 5, "kernel_size": 3, "stride": 2, "padding": 1},
        [(3, 8, 8)],
        (5, 4, 4),
    ),
    ("dwsep_conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1}, [(3, 8, 8)], (6, 8, 8)),
    ("maxpool1d", {"kernel_size": 2}, [(3, 9)], (3, 4)),
    ("maxpool2d", {"kernel_size": 2}, [(3, 8, 6)], (3, 4, 3)),
    ("avgpool2d", {"kernel_size": 3, "stride": 1, "padding": 1}, [(2, 5, 5)], (2, 5, 5)),
    ("adaptive_avgpool2d", {"output_size": [2, 3]}, [(2, 8, 9)], (2, 2, 3)),
    ("global_avgpool", {}, [(4, 5, 5)], (4,)),
    ("batchnorm1d", {}, [(6,)], (6,)),
    ("batchnorm1d", {}, [(3, 7)], (3, 7)),
    ("batchnorm2d", {}, [(3, 4, 4)], (3, 4, 4)),
    ("layernorm", {}, [(5, 8)], (5, 8)),
    ("add", {}, [(3, 4), (3, 4)], (3, 4)),
    ("concat", {"dim": 0}, [(2, 4), (3, 4)], (5, 4)),
    ("concat", {"dim": -1}, [(2, 4), (2, 1)], (2, 5)),
    ("rnn", {"hidden_size": 8}, [(6, 3)], (8,)),
    ("lstm", {"hidden_size": 8, "return": "sequence"}, [(6, 3)], (6, 8)),
    (
        "gru",
        {"hidden_size": 8, "bidirectional": True, "num_layers": 2, "dropout": 0.1},
        [(6, 3)],
        (16,),
    ),
    ("self_attention", {"num_heads": 2}, [(5, 8)], (5, 8)),
    ("transformer_encoder", {"num_heads": 2, "ff_dim": 16}, [(5, 8)], (5, 8)),
    ("positional_encoding", {"kind": "sinusoidal"}, [(5, 7)], (5, 7)),
    ("positional_encoding", {"kind": "learned", "max_len": 5}, [(5, 8)], (5, 8)),
    ("patch_embedding", {"patch_size": 2, "embed_dim": 12}, [(3, 8, 4)], (8, 12)),
    ("sequence_pool", {"mode": "mean"}, [(5, 8)], (8,)),
    ("sequence_pool", {"mode": "max"}, [(5, 8)], (8,)),
    ("embedding", {"num_embeddings": 10, "embedding_dim": 4}, [(6,)], (6, 4)),
    ("dropout", {"p": 0.3}, [(5,)], (5,)),
    ("relu", {}, [(5,)], (5,)),
    ("leakyrelu", {"negative_slope": 0.2}, [(5,)], (5,)),
    ("elu", {"alpha": 0.5}, [(5,)], (5,)),
    ("gelu", {"approximate": "tanh"}, [(5,)], (5,)),
    ("silu", {}, [(5,)], (5,)),
    ("tanh", {}, [(5,)], (5,)),
    ("sigmoid", {}, [(5,)], (5,)),
    ("flatten", {}, [(2, 3, 4)], (24,)),
    ("reshape", {"shape": [3, -1]}, [(12,)], (3, 4)),
]


def single_layer_graph(layer: str, params: dict, in_shapes: list[tuple[int, ...]]) -> Graph:
    """input -> layer -> flatten -> output; two-input layers get two linear branches."""
    g = Graph()
    g.add_node(layer, params, id="node")
    if len(in_shapes) == 1:
        g.add_node("input", {"shape": list(in_shapes[0])}, id="inp")
        g.connect("inp", "node")
    else:
        g.add_node("input", {"shape": [4]}, id="inp")
        for i, (shape, port) in enumerate(zip(in_shapes, get_layer(layer).input_names)):
            g.add_node("linear", {"out_features": int(torch.tensor(shape).prod())}, id=f"branch{i}")
            g.add_node("reshape", {"shape": list(shape)}, id=f"shape{i}")
            g.connect("inp", f"branch{i}")
            g.connect(f"branch{i}", f"shape{i}")
            g.connect(f"shape{i}", "node", dst_port=port)
    g.add_node("flatten", id="flat")
    g.add_node("output", id="out")
    g.connect("node", "flat")
    g.connect("flat", "out")
    return g


def test_every_layer_type_is_covered_by_a_case():
    covered = {case[0] for case in CASES} | {"input", "output"}
    assert covered == set(LAYERS)


@pytest.mark.parametrize(
    "layer, params, in_shapes, expected", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_inferred_shape_matches_a_real_forward_pass(layer, params, in_shapes, expected):
    g = single_layer_graph(layer, params, in_shapes)
    report = analyse(g)
    assert report.ok, report.problems
    assert report.node_shapes["node"] == expected

    model = build_model(g, seed=0)
    seen = {}

    def record(module, inputs, output):
        seen["shape"] = tuple(output.shape)

    model.layers["node"].register_forward_hook(record)
    model(torch.rand(3, *report.node_shapes["inp"]))
    assert seen["shape"] == (3, *expected)
    assert report.param_counts["node"] == sum(p.numel() for p in model.layers["node"].parameters())


def test_catalog_entries_are_complete_and_defaults_are_valid():
    for spec in LAYERS.values():
        assert spec.id and spec.title and spec.category and spec.version >= 1
        assert "\n" not in spec.help and spec.help.endswith(".")
        assert spec.build is not None and spec.recipe is not None
        for p in spec.params:
            assert p.help and "\n" not in p.help
            assert p.check(p.default) is None, (spec.id, p.name)
            assert p.to_dict()["name"] == p.name
    assert [p.name for p in get_layer("add").inputs] == ["a", "b"]
    assert get_layer("input").inputs == () and get_layer("output").outputs == ()


def test_importing_the_catalog_does_not_import_torch():
    code = (
        "import sys; from engines.catalog import get_layer, LAYERS; "
        "get_layer('linear'); assert len(LAYERS) > 30; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_layer_type_is_a_graph_error():
    with pytest.raises(GraphError, match="not in the layer catalog"):
        get_layer("softmax")


def test_every_node_gets_its_own_module_instance():
    g = Graph()
    g.add_node("input", {"shape": [4]}, id="inp")
    for nid in ("r1", "r2", "r3"):
        g.add_node("relu", id=nid)
    g.add_node("output", id="out")
    for a, b in (("inp", "r1"), ("r1", "r2"), ("r2", "r3"), ("r3", "out")):
        g.connect(a, b)
    model = build_model(g)
    mods = [model.layers[k] for k in ("r1", "r2", "r3")]
    assert len({id(m) for m in mods}) == 3
    assert all(isinstance(m, torch.nn.ReLU) for m in mods)


def _run(layer: str, params: dict, *inputs: torch.Tensor) -> torch.Tensor:
    spec = get_layer(layer)
    full = {**spec.default_params(), **params}
    torch.manual_seed(0)
    module = spec.build(full, [tuple(x.shape[1:]) for x in inputs])
    module.eval()
    with torch.no_grad():
        return module(*inputs)


def test_merge_layers_compute_what_they_say():
    a, b = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    torch.testing.assert_close(_run("add", {}, a, b), a + b)
    torch.testing.assert_close(_run("concat", {"dim": 0}, a, b), torch.cat([a, b], dim=1))
    torch.testing.assert_close(_run("concat", {"dim": -1}, a, b), torch.cat([a, b], dim=2))


def test_recurrent_last_step_is_the_last_element_of_the_sequence():
    x = torch.randn(2, 5, 3)
    seq = _run("lstm", {"hidden_size": 4, "return": "sequence"}, x)
    last = _run("lstm", {"hidden_size": 4, "return": "last"}, x)
    torch.testing.assert_close(seq[:, -1], last)


def test_sequence_pool_and_global_pool_average():
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(_run("sequence_pool", {"mode": "mean"}, x), x.mean(dim=1))
    torch.testing.assert_close(_run("sequence_pool", {"mode": "max"}, x), x.max(dim=1).values)
    img = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(_run("global_avgpool", {}, img), img.mean(dim=(2, 3)))


def test_sinusoidal_positions_match_the_transformer_formula():
    x = torch.zeros(1, 6, 8)
    pe = _run("positional_encoding", {"kind": "sinusoidal"}, x)[0]
    pos, i = 3, 2  # dimension 2i uses sin(pos / 10000^(2i/d)), 2i+1 uses cos
    angle = pos / 10000 ** (2 * i / 8)
    assert pe[pos, 2 * i].item() == pytest.approx(torch.sin(torch.tensor(angle)).item(), abs=1e-5)
    assert pe[pos, 2 * i + 1].item() == pytest.approx(
        torch.cos(torch.tensor(angle)).item(), abs=1e-5
    )


def test_learned_positions_are_trainable_parameters():
    spec = get_layer("positional_encoding")
    module = spec.build({"kind": "learned", "max_len": 10}, [(4, 6)])
    assert sum(p.numel() for p in module.parameters()) == 60


def test_patch_embedding_makes_one_token_per_patch():
    out = _run("patch_embedding", {"patch_size": 4, "embed_dim": 5}, torch.randn(2, 3, 8, 12))
    assert tuple(out.shape) == (2, 6, 5)


def test_embedding_accepts_whole_numbers_stored_as_floats():
    ids = torch.tensor([[0.0, 3.0, 9.0]])
    out = _run("embedding", {"num_embeddings": 10, "embedding_dim": 2}, ids)
    assert tuple(out.shape) == (1, 3, 2)
    torch.testing.assert_close(
        out[0, 0], _run("embedding", {"num_embeddings": 10, "embedding_dim": 2}, ids[:, :1])[0, 0]
    )
