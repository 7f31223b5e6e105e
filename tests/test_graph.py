"""Validation rules, building, and robustness of analyse/build against any edit sequence."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines import shapes
from engines.build import GraphModule, build_model
from engines.catalog import LAYERS, get_layer
from engines.graph import Edge, Graph, GraphError
from engines.shapes import PROBLEM_KINDS, analyse


def chain(*types_and_params, input_shape=(8,)) -> Graph:
    """input -> each (id, type, params) in turn -> output."""
    g = Graph()
    g.add_node("input", {"shape": list(input_shape)}, id="inp")
    last = "inp"
    for nid, type_, params in types_and_params:
        g.add_node(type_, params, id=nid)
        g.connect(last, nid)
        last = nid
    g.add_node("output", id="out")
    g.connect(last, "out")
    return g


def kinds(report) -> set[str]:
    return {p.kind for p in report.problems}


def only(report, kind):
    found = [p for p in report.problems if p.kind == kind]
    assert found, f"no {kind!r} problem in {report.problems}"
    return found


def test_a_valid_chain_has_shapes_params_and_no_problems():
    g = chain(("fc1", "linear", {"out_features": 4}), ("act", "relu", {}))
    report = analyse(g)
    assert report.ok and report.problems == []
    assert report.node_shapes == {"inp": (8,), "fc1": (4,), "act": (4,), "out": (4,)}
    assert report.param_counts["fc1"] == 8 * 4 + 4
    assert report.total_params == 36
    assert report.edge_shapes[Edge("fc1", "out", "act", "in")] == (4,)


def test_shape_mismatch_names_the_node_and_both_sizes():
    g = chain(
        ("fc1", "linear", {"out_features": 4}),
        ("fc2", "linear", {"out_features": 2, "in_features": 5}),
    )
    [problem] = only(analyse(g), "shape")
    assert problem.node_id == "fc2"
    assert problem.message == "Node 'fc2' (linear): expects 5 input features but receives 4."
    assert "fc1" in analyse(g).node_shapes and "fc2" not in analyse(g).node_shapes


def test_wrong_rank_is_explained_in_user_words():
    g = chain(("conv", "conv2d", {}), input_shape=(8,))
    [problem] = only(analyse(g), "shape")
    assert problem.message.startswith(
        "Node 'conv' (conv2d): expects a (channels, height, width) image input"
    )
    assert "(8)" in problem.message


def test_merge_of_different_shapes_is_a_shape_problem():
    g = Graph()
    g.add_node("input", {"shape": [4]}, id="inp")
    g.add_node("linear", {"out_features": 3}, id="left")
    g.add_node("add", id="merge")
    g.add_node("output", id="out")
    g.connect("inp", "left")
    g.connect("left", "merge", dst_port="a")
    g.connect("inp", "merge", dst_port="b")
    g.connect("merge", "out")
    [problem] = only(analyse(g), "shape")
    assert problem.node_id == "merge" and "(3) and (4)" in problem.message


def test_torch_errors_become_one_sentence_problems_for_the_node(monkeypatch):
    # Layers pre-check the usual mistakes; anything they miss surfaces as torch's own error,
    # which must still become one sentence attached to the node.
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError(
                "mat1 and mat2 shapes cannot be multiplied (2x8 and 5x3)\nmore detail"
            )

    spec = get_layer("relu")
    monkeypatch.setitem(LAYERS, "relu", dataclasses.replace(spec, build=lambda p, s: Broken()))
    monkeypatch.setattr(shapes, "_CACHE", {})
    g = chain(("act", "relu", {}), input_shape=(8,))
    [problem] = only(analyse(g), "shape")
    assert problem.node_id == "act"
    assert problem.message == (
        "Node 'act' (relu): cannot process input (8): mat1 and mat2 shapes cannot be multiplied (2x8 and 5x3)."
    )


def test_heads_that_do_not_divide_the_features_are_explained():
    g = chain(("heads", "self_attention", {"num_heads": 3}), input_shape=(5, 8))
    [problem] = only(analyse(g), "shape")
    assert (
        problem.message
        == "Node 'heads' (self_attention): its 8 features cannot be split evenly into 3 heads."
    )


def test_cycle_names_its_nodes():
    g = chain(
        ("a", "linear", {"out_features": 8}),
        ("b", "relu", {}),
        ("c", "linear", {"out_features": 8}),
    )
    g.add_node("add", id="m")
    g.disconnect(Edge("a", "out", "b", "in"))
    g.connect("a", "m", dst_port="a")
    g.connect("c", "m", dst_port="b")
    g.connect("m", "b")  # a -> m -> b -> c -> m: m, b, c form a cycle
    report = analyse(g)
    cycle = only(report, "cycle")
    assert {p.node_id for p in cycle} == {"m", "b", "c"}
    assert all(p.message.endswith("is part of a cycle: 'm' -> 'b' -> 'c' -> 'm'.") for p in cycle)
    assert not report.ok
    with pytest.raises(GraphError, match="cycle"):
        build_model(g)


def test_unconnected_input_port_names_the_port():
    g = chain(("fc", "linear", {"out_features": 8}))
    g.add_node("concat", id="cat")
    g.connect("fc", "cat", dst_port="a")
    [problem] = only(analyse(g), "unconnected")
    assert problem.node_id == "cat" and "'b'" in problem.message


def test_missing_input_and_output_nodes():
    g = Graph()
    g.add_node("relu", id="r")
    report = analyse(g)
    assert {"no_input", "no_output", "unconnected"} <= kinds(report)
    assert only(report, "no_input")[0].node_id is None


def test_second_input_and_output_nodes_are_named():
    g = chain(("fc", "linear", {"out_features": 2}))
    g.add_node("input", {"shape": [3]}, id="inp2")
    g.add_node("output", id="out2")
    g.connect("fc", "out2")
    report = analyse(g)
    assert only(report, "extra_input")[0].node_id == "inp2"
    assert only(report, "extra_output")[0].node_id == "out2"
    assert "'inp'" in only(report, "extra_input")[0].message


def test_wrong_arity_edges_added_behind_the_graph_s_back():
    g = chain(("fc", "linear", {"out_features": 2}))
    g.edges.append(Edge("inp", "out", "fc", "in"))  # a second feed into one port
    g.edges.append(Edge("inp", "out", "fc", "b"))  # a port linear does not have
    problems = only(analyse(g), "arity")
    assert len(problems) == 2 and all(p.node_id == "fc" for p in problems)
    assert any("more than one connection" in p.message for p in problems)
    assert any("no input 'b'" in p.message for p in problems)


def test_parameter_out_of_range_and_of_the_wrong_type():
    g = chain(("fc", "linear", {"out_features": 0}), ("drop", "dropout", {"p": "lots"}))
    report = analyse(g)
    messages = {p.node_id: p.message for p in only(report, "param")}
    assert (
        messages["fc"] == "Node 'fc' (linear): parameter 'out_features' is 0, below its minimum 1."
    )
    assert messages["drop"].startswith("Node 'drop' (dropout): parameter 'p' must be a number")


def test_parameter_problems_found_by_the_layer_itself():
    g = chain(("pool", "maxpool2d", {"kernel_size": 2, "padding": 2}), input_shape=(1, 8, 8))
    [problem] = only(analyse(g), "param")
    assert problem.node_id == "pool" and "half the window" in problem.message


def test_dead_end_and_unreached_nodes_are_warnings():
    g = chain(("fc", "linear", {"out_features": 2}))
    g.add_node("relu", id="dangling")
    g.connect("fc", "dangling")
    g.add_node("linear", id="lonely")
    g.add_node("relu", id="after_lonely")
    g.connect("lonely", "after_lonely")
    report = analyse(g)
    assert only(report, "unused")[0].node_id == "dangling"
    assert only(report, "unreachable")[0].node_id == "after_lonely"
    assert all(
        p.severity == "warning" for p in report.problems if p.kind in ("unused", "unreachable")
    )
    assert {p.kind for p in report.errors} == {"unconnected"}


def test_warnings_do_not_stop_building():
    g = chain(("fc", "linear", {"out_features": 2}))
    g.add_node("relu", id="dangling")
    g.connect("fc", "dangling")
    report = analyse(g)
    assert report.ok and report.warnings
    model = build_model(g)
    assert tuple(model(torch.zeros(3, 8)).shape) == (3, 2)


def test_unknown_layer_type_in_a_node_is_reported_not_raised():
    g = chain(("fc", "linear", {"out_features": 2}))
    g.nodes["fc"].type = "mystery"
    report = analyse(g)
    assert only(report, "param")[0].node_id == "fc"


def test_every_problem_kind_is_declared():
    g = chain(("fc", "linear", {"out_features": 0}))
    assert kinds(analyse(g)) <= set(PROBLEM_KINDS)


def test_too_many_parameters_is_refused_before_building():
    g = chain(
        ("huge", "linear", {"out_features": 65536}),
        ("huge2", "linear", {"out_features": 65536}),
        input_shape=(4,),
    )
    [problem] = only(analyse(g), "param")
    assert problem.node_id == "huge2" and "parameters" in problem.message


def test_build_model_keys_modules_by_node_id_and_runs():
    g = chain(
        ("fc1", "linear", {"out_features": 4}),
        ("act", "relu", {}),
        ("fc2", "linear", {"out_features": 3}),
    )
    model = build_model(g)
    assert isinstance(model, GraphModule)
    assert set(model.layers.keys()) == {"inp", "fc1", "act", "fc2", "out"}
    assert set(model.state_dict()) == {
        "layers.fc1.weight",
        "layers.fc1.bias",
        "layers.fc2.weight",
        "layers.fc2.bias",
    }
    x = torch.randn(5, 8)
    expected = model.layers["fc2"](torch.relu(model.layers["fc1"](x)))
    torch.testing.assert_close(model(x), expected)
    assert model.input_shape == (8,) and model.output_shape == (3,)


def test_build_model_lists_the_problems():
    g = chain(("fc", "linear", {"out_features": 0}))
    g.add_node("relu", id="alone")
    with pytest.raises(GraphError) as info:
        build_model(g)
    message = str(info.value)
    assert "'fc'" in message and "'alone'" in message


def test_seeded_builds_are_identical_and_leave_the_global_rng_alone():
    g = chain(("fc1", "linear", {"out_features": 16}), ("fc2", "linear", {"out_features": 3}))
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = build_model(g, seed=7).state_dict()
    assert torch.equal(torch.rand(1), expected_next)
    b = build_model(g, seed=7).state_dict()
    c = build_model(g, seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["layers.fc1.weight"], c["layers.fc1.weight"])


# ------------------------------------------------------------- hypothesis
LAYER_IDS = sorted(LAYERS)
SINGLE_INPUT_IDS = [k for k, spec in LAYERS.items() if len(spec.inputs) == 1 and spec.outputs]
NODE_IDS = [f"n{i}" for i in range(8)]
VALUES = st.one_of(
    st.integers(-3, 40),
    st.floats(-1.5, 2.5),
    st.just(float("nan")),
    st.booleans(),
    st.none(),
    st.sampled_from(
        ["", "mean", "max", "learned", "sinusoidal", "last", "sequence", "gelu", "tanh", "x"]
    ),
    st.lists(st.integers(-2, 12), min_size=0, max_size=4),
)


def apply_random_edit(g: Graph, data) -> None:
    op = data.draw(
        st.sampled_from(["insert"] * 4 + ["add", "connect", "set", "set", "remove", "disconnect"])
    )
    if op == "insert" and g.edges:
        # Splice a layer into an existing connection: the edit a user makes most, and the
        # one that keeps random graphs valid often enough to exercise building.
        edge = data.draw(st.sampled_from(g.edges))
        type_ = data.draw(st.sampled_from(SINGLE_INPUT_IDS))
        node = g.add_node(type_, id=g.fresh_id(type_))
        g.disconnect(edge)
        g.connect(edge.src, node.id)
        g.connect(node.id, edge.dst, dst_port=edge.dst_port)
    elif op in ("add", "insert"):
        g.add_node(data.draw(st.sampled_from(LAYER_IDS)), id=data.draw(st.sampled_from(NODE_IDS)))
    elif not g.nodes:
        return
    elif op == "connect":
        src = data.draw(st.sampled_from(list(g.nodes)))
        dst = data.draw(st.sampled_from(list(g.nodes)))
        ports = get_layer(g.nodes[dst].type).input_names or ["in"]
        g.connect(src, dst, dst_port=data.draw(st.sampled_from(ports)))
    elif op == "set":
        nid = data.draw(st.sampled_from(list(g.nodes)))
        names = list(g.nodes[nid].params)
        if names:
            g.set_param(nid, data.draw(st.sampled_from(names)), data.draw(VALUES))
    elif op == "remove":
        g.remove_node(data.draw(st.sampled_from(list(g.nodes))))
    elif op == "disconnect" and g.edges:
        g.disconnect(data.draw(st.sampled_from(g.edges)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    start=st.sampled_from([None, (8,), (3, 4), (2, 6, 6)]),
    n_edits=st.integers(1, 25),
)
def test_random_edit_sequences_never_raise_anything_but_graph_error(data, start, n_edits):
    g = (
        Graph()
        if start is None
        else chain(("n0", "linear", {"out_features": 4}), input_shape=start)
    )
    for _ in range(n_edits):
        try:
            apply_random_edit(g, data)
        except GraphError:
            pass  # the graph refused the edit, with a message: that is allowed
        report = analyse(g)
        assert all(p.kind in PROBLEM_KINDS and p.message.endswith(".") for p in report.problems)
        assert all(p.node_id is None or p.node_id in g.nodes for p in report.problems)
        try:
            model = build_model(g, seed=0, report=report)
        except GraphError:
            assert not report.ok
            continue
        assert report.ok
        if g.nodes_of_type("embedding"):
            continue  # random activations are not valid token ids; shapes were checked above
        # Inferred shapes are exact: a real forward pass agrees, node by node.
        seen = {}
        for nid, module in model.layers.items():
            module.register_forward_hook(
                lambda m, i, o, nid=nid, seen=seen: seen.__setitem__(nid, o.shape[1:])
            )
        with torch.no_grad():
            model(torch.rand(2, *model.input_shape))
        assert seen and all(tuple(shape) == report.node_shapes[nid] for nid, shape in seen.items())


def test_flops_of_dense_conv_and_recurrent_layers_by_hand() -> None:
    from engines.shapes import analyse
    from engines.templates import make_template

    g = Graph()
    g.add_node("input", {"shape": [3, 8, 8]}, id="x")
    g.add_node("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, id="c")
    g.add_node("dwsep_conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1}, id="d")
    g.add_node("relu", id="r")
    g.add_node("flatten", id="f")
    g.add_node("linear", {"out_features": 5}, id="fc")
    g.add_node("output", id="y")
    for a, b in [("x", "c"), ("c", "d"), ("d", "r"), ("r", "f"), ("f", "fc"), ("fc", "y")]:
        g.connect(a, b)
    rep = analyse(g)
    assert rep.ok, rep.problems
    assert rep.flops["c"] == 2 * (3 * 3 * 3) * (4 * 8 * 8)  # per output: C_in * k * k MACs
    assert rep.flops["d"] == 2 * 4 * 9 * 64 + 2 * 4 * 6 * 64  # depthwise + pointwise
    assert rep.flops["fc"] == 2 * (6 * 8 * 8) * 5
    assert "r" not in rep.flops and "f" not in rep.flops  # element-wise: not estimated
    assert rep.total_flops == rep.flops["c"] + rep.flops["d"] + rep.flops["fc"]

    lstm = analyse(make_template("lstm", (20, 4), 3))
    node = next(n for n in lstm.flops if n.startswith("lstm"))
    assert lstm.flops[node] == 2 * 20 * lstm.param_counts[node]
