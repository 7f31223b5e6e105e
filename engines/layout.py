"""Automatic layout of a network graph: layers left to right, few crossings, no overlaps.

A layered ("Sugiyama") layout in four steps: cycles are broken by reversing the back edges a
depth-first search finds; every node gets a layer by the longest path from a source (sources
are then pulled right next to their first consumer); edges that span several layers get
invisible waypoints, so long skip connections keep a lane free; the order inside each layer
is improved by barycentre sweeps, keeping the order with the fewest crossings; finally each
node is placed as close as it can to the mean of its neighbours while keeping the gaps
(an isotonic regression, solved by scipy).

Pure Python on plain data: it knows nothing about Qt or node sizes; callers pass the gaps.
No graph-drawing library is a dependency of the workbench (networkx has no crossing
reduction, grandalf and graphviz are not installed), so the few steps are written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy.optimize import isotonic_regression

from engines.graph import Graph

__all__ = ["arrange_graph", "crossings", "layered_layout"]

Position = tuple[float, float]

# A waypoint needs less room than a node: the gap between two neighbours in a layer is the
# mean of their sizes, in units of ``node_gap``.
_WAYPOINT_SIZE = 0.4


def _break_cycles(n: int, succ: list[list[int]]) -> list[tuple[int, int]]:
    """Edges of an acyclic version of the graph: back edges of a DFS are reversed."""
    state = [0] * n  # 0 unseen, 1 on the stack, 2 done
    kept: set[tuple[int, int]] = set()
    for root in range(n):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            v, it = stack[-1]
            for w in it:
                if state[w] == 1:  # back edge: v -> w closes a cycle
                    kept.add((w, v))
                elif state[w] == 0:
                    kept.add((v, w))
                    state[w] = 1
                    stack.append((w, iter(succ[w])))
                    break
                else:
                    kept.add((v, w))
            else:
                state[v] = 2
                stack.pop()
    return sorted((a, b) for a, b in kept if a != b)


def _layers(n: int, edges: list[tuple[int, int]]) -> list[int]:
    """Longest-path layering of a DAG, with sources moved next to their nearest consumer."""
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    indegree = [0] * n
    for a, b in edges:
        preds[b].append(a)
        succs[a].append(b)
        indegree[b] += 1
    layer = [0] * n
    ready = [v for v in range(n) if indegree[v] == 0]
    order: list[int] = []
    while ready:
        v = ready.pop()
        order.append(v)
        for w in succs[v]:
            layer[w] = max(layer[w], layer[v] + 1)
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    for v in range(n):
        if not preds[v] and succs[v]:
            layer[v] = min(layer[w] for w in succs[v]) - 1
    return layer


def crossings(
    upper: Sequence[int], lower: Sequence[int], edges: Iterable[tuple[int, int]]
) -> int:
    """How many of ``edges`` (upper item -> lower item) cross, given the two orders."""
    pos_u = {v: i for i, v in enumerate(upper)}
    pos_l = {v: i for i, v in enumerate(lower)}
    pairs = sorted((pos_u[a], pos_l[b]) for a, b in edges if a in pos_u and b in pos_l)
    count = 0
    for i, (a1, b1) in enumerate(pairs):
        for a2, b2 in pairs[i + 1 :]:
            if a2 > a1 and b2 < b1:
                count += 1
    return count


def _place(desired: list[float], sizes: list[float], weights: list[float]) -> list[float]:
    """Positions in the given order, each gap at least the mean of the two sizes, as close
    as possible (least squares) to ``desired``."""
    offsets = np.concatenate([[0.0], np.cumsum([(a + b) / 2 for a, b in zip(sizes, sizes[1:])])])
    fitted = isotonic_regression(np.asarray(desired) - offsets, weights=np.asarray(weights)).x
    placed = list(fitted + offsets)
    for i in range(1, len(placed)):  # guard against rounding in the solver
        placed[i] = max(placed[i], placed[i - 1] + (sizes[i] + sizes[i - 1]) / 2)
    return placed


def layered_layout(
    nodes: Sequence[str],
    edges: Iterable[tuple[str, str]],
    *,
    layer_gap: float = 220.0,
    node_gap: float = 110.0,
    origin: Position = (0.0, 0.0),
    sweeps: int = 8,
) -> dict[str, Position]:
    """Positions for ``nodes`` with data flowing left to right along ``edges``.

    Parameters
    ----------
    nodes
        Node ids; their order breaks ties, so the result is deterministic.
    edges
        ``(src, dst)`` pairs; unknown ids and self loops are ignored, cycles are allowed.
    layer_gap, node_gap
        Horizontal distance between layers and least vertical distance between two nodes
        of one layer (so nodes smaller than the gaps never overlap).
    origin
        Where the top-left node position goes.
    sweeps
        Rounds of barycentre ordering (each one down and one up).

    Returns
    -------
    dict
        ``node id -> (x, y)``. For an acyclic graph every edge goes strictly to the right.
    """
    ids = list(dict.fromkeys(nodes))
    if not ids:
        return {}
    index = {nid: i for i, nid in enumerate(ids)}
    n = len(ids)
    succ: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        if a in index and b in index and a != b and index[b] not in succ[index[a]]:
            succ[index[a]].append(index[b])
    dag = _break_cycles(n, succ)
    layer = _layers(n, dag)

    # Waypoints on edges that span several layers, so they take part in the ordering.
    layer_of = list(layer)
    links: list[tuple[int, int]] = []
    for tail, head in dag:
        prev = tail
        for k in range(layer[tail] + 1, layer[head]):
            layer_of.append(k)
            links.append((prev, len(layer_of) - 1))
            prev = len(layer_of) - 1
        links.append((prev, head))
    total = len(layer_of)
    up: list[list[int]] = [[] for _ in range(total)]
    down: list[list[int]] = [[] for _ in range(total)]
    for tail, head in links:
        down[tail].append(head)
        up[head].append(tail)

    # First order: depth-first discovery from the sources, in node order.
    rank: dict[int, int] = {}
    for root in [v for v in range(n) if not up[v]] + list(range(total)):
        stack = [root]
        while stack:
            v = stack.pop()
            if v in rank:
                continue
            rank[v] = len(rank)
            stack.extend(reversed(down[v]))
    depth = max(layer_of) + 1
    rows: list[list[int]] = [[] for _ in range(depth)]
    for v in sorted(range(total), key=rank.__getitem__):
        rows[layer_of[v]].append(v)

    def count(rs: list[list[int]]) -> int:
        return sum(crossings(rs[k], rs[k + 1], links) for k in range(depth - 1))

    def reorder(rs: list[list[int]], k: int, neighbours: list[list[int]], ref: int) -> None:
        at = {v: i for i, v in enumerate(rs[ref])}
        current = {v: i for i, v in enumerate(rs[k])}

        def key(v: int) -> float:
            near = [at[w] for w in neighbours[v] if w in at]
            # nodes with no neighbour on that side keep their place
            return sum(near) / len(near) if near else float(current[v])

        rs[k].sort(key=key)

    best, best_count = [list(r) for r in rows], count(rows)
    for _ in range(sweeps):
        if best_count == 0:
            break
        for k in range(1, depth):
            reorder(rows, k, up, k - 1)
        for k in range(depth - 2, -1, -1):
            reorder(rows, k, down, k + 1)
        c = count(rows)
        if c < best_count:
            best, best_count = [list(r) for r in rows], c
    rows = best

    # Coordinates across the layers: alternately pull each node towards the mean of its
    # neighbours before and after, keeping the order and the gaps.
    size = [1.0 if v < n else _WAYPOINT_SIZE for v in range(total)]
    weight = [1.0 if v < n else 0.5 for v in range(total)]
    y = [0.0] * total
    for row in rows:
        for v, p in zip(row, _place([0.0] * len(row), [size[v] for v in row], [1.0] * len(row))):
            y[v] = p
    for rnd in range(6):
        order = range(1, depth) if rnd % 2 == 0 else range(depth - 2, -1, -1)
        neighbours = up if rnd % 2 == 0 else down
        for k in order:
            row = rows[k]
            desired = [
                sum(y[w] for w in neighbours[v]) / len(neighbours[v]) if neighbours[v] else y[v]
                for v in row
            ]
            for v, p in zip(row, _place(desired, [size[v] for v in row], [weight[v] for v in row])):
                y[v] = p

    top = min(y[v] for v in range(n))
    left = min(layer[v] for v in range(n))
    return {
        ids[v]: (
            float(origin[0] + (layer[v] - left) * layer_gap),
            float(origin[1] + (y[v] - top) * node_gap),
        )
        for v in range(n)
    }


def wrap_layers(
    positions: dict[str, Position],
    *,
    layer_gap: float,
    node_gap: float,
    max_width: float,
) -> dict[str, Position]:
    """Fold a layout wider than ``max_width`` into bands, as text wraps into lines.

    Layers (columns ``layer_gap`` apart) ``0 … k-1`` stay in the first band; layers
    ``k … 2k-1`` start again at the left, one band lower, and so on, with ``k`` as many
    layers as fit in ``max_width`` (at least one). A band is as tall as the tallest column
    plus ``node_gap``. Positions are unchanged when the layout already fits.
    """
    if not positions:
        return {}
    left = min(p[0] for p in positions.values())
    top = min(p[1] for p in positions.values())
    columns = {v: round((p[0] - left) / layer_gap) for v, p in positions.items()}
    per_band = max(1, int(max(max_width, 0.0) // layer_gap) + 1)  # k columns: k - 1 gaps
    if max(columns.values()) < per_band:
        return dict(positions)
    band_height = max(p[1] for p in positions.values()) - top + node_gap
    return {
        v: (left + (columns[v] % per_band) * layer_gap,
            p[1] + (columns[v] // per_band) * band_height)
        for v, p in positions.items()
    }


def arrange_graph(
    graph: Graph,
    *,
    layer_gap: float = 220.0,
    node_gap: float = 110.0,
    origin: Position | None = None,
    max_width: float | None = None,
) -> dict[str, Position]:
    """:func:`layered_layout` of a :class:`~engines.graph.Graph`.

    ``origin`` defaults to the top-left of the current positions, so arranging tidies the
    graph where it is instead of moving it away. With ``max_width``, a layout wider than
    that wraps into bands (:func:`wrap_layers`): a long chain reads left to right, line by line.
    """
    if not graph.nodes:
        return {}
    if origin is None:
        origin = (
            min(n.position[0] for n in graph.nodes.values()),
            min(n.position[1] for n in graph.nodes.values()),
        )
    positions = layered_layout(
        list(graph.nodes),
        [(e.src, e.dst) for e in graph.edges],
        layer_gap=layer_gap,
        node_gap=node_gap,
        origin=origin,
    )
    if max_width is None:
        return positions
    return wrap_layers(positions, layer_gap=layer_gap, node_gap=node_gap, max_width=max_width)
