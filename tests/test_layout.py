"""Automatic layout: no overlaps, edges point right, crossings reduced (headless)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.layout import arrange_graph, crossings, layered_layout
from engines.templates import make_template

LAYER_GAP, NODE_GAP = 220.0, 110.0


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    """A random DAG: edges only from a lower to a higher index, in a shuffled node order."""
    n = draw(st.integers(1, 25))
    ids = [f"n{i}" for i in range(n)]
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=40, unique=True)) if pairs else []
    order = draw(st.permutations(ids))
    return list(order), [(ids[a], ids[b]) for a, b in chosen]


def _assert_no_overlap(pos: dict[str, tuple[float, float]]) -> None:
    for (a, pa), (b, pb) in itertools.combinations(pos.items(), 2):
        apart_x = abs(pa[0] - pb[0]) >= LAYER_GAP - 1e-6
        apart_y = abs(pa[1] - pb[1]) >= NODE_GAP - 1e-6
        assert apart_x or apart_y, f"{a} at {pa} overlaps {b} at {pb}"


@settings(max_examples=150, deadline=None)
@given(dags())
def test_random_dags_have_no_overlap_and_edges_point_right(
    dag: tuple[list[str], list[tuple[str, str]]],
) -> None:
    nodes, edges = dag
    pos = layered_layout(nodes, edges, layer_gap=LAYER_GAP, node_gap=NODE_GAP, origin=(10, 20))
    assert set(pos) == set(nodes)
    _assert_no_overlap(pos)
    for a, b in edges:
        assert pos[a][0] < pos[b][0], f"edge {a}->{b} does not point right"
    # x positions are whole layers from the origin, and the top-left is the origin
    assert min(p[0] for p in pos.values()) == 10
    assert min(p[1] for p in pos.values()) == pytest.approx(20)
    assert all(((p[0] - 10) / LAYER_GAP).is_integer() for p in pos.values())
    # deterministic: the same input gives the same drawing
    assert pos == layered_layout(nodes, edges, layer_gap=LAYER_GAP, node_gap=NODE_GAP,
                                 origin=(10, 20))


@settings(max_examples=60, deadline=None)
@given(dags(), st.data())
def test_cycles_are_laid_out_without_overlap(
    dag: tuple[list[str], list[tuple[str, str]]], data: st.DataObject
) -> None:
    nodes, edges = dag
    if len(nodes) > 1:  # add back edges: the layout must still finish and not overlap
        back = data.draw(st.lists(st.sampled_from(edges or [(nodes[0], nodes[1])]), max_size=5))
        edges = edges + [(b, a) for a, b in back]
    pos = layered_layout(nodes, edges + [(nodes[0], nodes[0])])
    assert set(pos) == set(nodes)
    _assert_no_overlap(pos)


def test_chain_is_a_straight_row() -> None:
    ids = [f"n{i}" for i in range(6)]
    pos = layered_layout(ids, list(zip(ids, ids[1:])), layer_gap=200, node_gap=100)
    assert pos == {nid: (200.0 * i, 0.0) for i, nid in enumerate(ids)}


def test_longest_path_decides_the_layer_and_sources_sit_by_their_consumer() -> None:
    # a -> b -> c -> d and a -> d: d is three layers right of a; s feeds only d
    edges = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d"), ("s", "d")]
    pos = layered_layout(["a", "b", "c", "d", "s"], edges, layer_gap=100, node_gap=50)
    assert [pos[k][0] for k in "abcd"] == [0, 100, 200, 300]
    assert pos["s"][0] == 200


def _drawn_crossings(pos: dict[str, tuple[float, float]], edges: list[tuple[str, str]]) -> int:
    layers: dict[float, list[str]] = {}
    for nid, (x, _y) in sorted(pos.items(), key=lambda kv: kv[1][1]):
        layers.setdefault(x, []).append(nid)
    xs = sorted(layers)
    return sum(crossings(layers[a], layers[b], edges) for a, b in zip(xs, xs[1:]))


def test_barycentre_ordering_removes_an_avoidable_crossing() -> None:
    # Discovery order puts n0's consumers n2, n3 in that order under n0, n1: the edges
    # n0->n3 and n1->n2 cross. n2's barycentre is 0.5 and n3's is 0, so one sweep swaps them.
    nodes = ["n2", "n3", "n0", "n1"]
    edges = [("n0", "n2"), ("n0", "n3"), ("n1", "n2")]
    assert _drawn_crossings(layered_layout(nodes, edges, sweeps=0), edges) == 1
    pos = layered_layout(nodes, edges)
    assert _drawn_crossings(pos, edges) == 0
    assert pos["n3"][1] < pos["n2"][1]


def test_crossings_counts_by_hand() -> None:
    # upper a b, lower x y: a->y and b->x cross once; adding a->x adds none
    assert crossings(["a", "b"], ["x", "y"], [("a", "y"), ("b", "x")]) == 1
    assert crossings(["a", "b"], ["x", "y"], [("a", "x"), ("b", "y")]) == 0
    assert crossings(["a", "b", "c"], ["x", "y", "z"], [("a", "z"), ("b", "y"), ("c", "x")]) == 3


@pytest.mark.parametrize("template", ["resnet", "mobilenet", "lenet5", "transformer"])
def test_templates_arrange_where_they_are(template: str) -> None:
    shape = {"transformer": (12, 8)}.get(template, (1, 28, 28))
    graph = make_template(template, shape, 10)
    left = min(n.position[0] for n in graph.nodes.values())
    top = min(n.position[1] for n in graph.nodes.values())
    pos = arrange_graph(graph, layer_gap=LAYER_GAP, node_gap=NODE_GAP)
    assert set(pos) == set(graph.nodes)
    _assert_no_overlap(pos)
    for e in graph.edges:
        assert pos[e.src][0] < pos[e.dst][0]
    assert min(p[0] for p in pos.values()) == left
    assert min(p[1] for p in pos.values()) == pytest.approx(top)
    # the input is first and the output last
    xs = sorted(p[0] for p in pos.values())
    assert pos["input"][0] == xs[0] and pos["output"][0] == xs[-1]


def test_a_long_chain_wraps_into_bands_like_lines_of_text() -> None:
    """Seven layers 100 apart in a width of 250: columns 0, 100, 200 fit (three columns span
    two gaps), so layers 0-2, 3-5 and 6 make three bands; a chain is 0 high, so a band is
    0 + node_gap = 50 high."""
    from engines.layout import wrap_layers

    chain = {f"n{i}": (10.0 + 100.0 * i, 20.0) for i in range(7)}
    got = wrap_layers(chain, layer_gap=100.0, node_gap=50.0, max_width=250.0)
    assert got == {
        "n0": (10.0, 20.0), "n1": (110.0, 20.0), "n2": (210.0, 20.0),
        "n3": (10.0, 70.0), "n4": (110.0, 70.0), "n5": (210.0, 70.0),
        "n6": (10.0, 120.0),
    }
    # exactly as wide as allowed (two gaps = 200): unchanged; no room for one gap: a column
    three = {k: chain[k] for k in ("n0", "n1", "n2")}
    assert wrap_layers(three, layer_gap=100.0, node_gap=50.0, max_width=200.0) == three
    assert [p for _, p in sorted(wrap_layers(three, layer_gap=100.0, node_gap=50.0,
                                             max_width=99.0).items())] == [
        (10.0, 20.0), (10.0, 70.0), (10.0, 120.0)]


@settings(max_examples=80, deadline=None)
@given(dags(), st.floats(min_value=0.0, max_value=3000.0))
def test_wrapped_layouts_never_overlap_and_fit_the_width(
    dag: tuple[list[str], list[tuple[str, str]]], width: float
) -> None:
    from engines.layout import wrap_layers

    nodes, edges = dag
    pos = layered_layout(nodes, edges, layer_gap=LAYER_GAP, node_gap=NODE_GAP, origin=(0, 0))
    wrapped = wrap_layers(pos, layer_gap=LAYER_GAP, node_gap=NODE_GAP, max_width=width)
    assert set(wrapped) == set(pos)
    _assert_no_overlap(wrapped)
    xs = [p[0] for p in wrapped.values()]
    # as wide as allowed, or one column when not even one gap fits
    assert max(xs) - min(xs) <= max(width, 0.0) or max(xs) == min(xs)
