"""Validate a graph and infer every node's output shape exactly.

Each node's module is built on the meta device and run on a meta tensor with a batch of two,
in topological order, so shapes come from torch itself at no memory or compute cost. Every
failure becomes a :class:`Problem` attached to the node that causes it, in one sentence the
user can act on; :func:`analyse` raises nothing for any graph.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engines.catalog import LayerProblem, LayerSpec, get_layer
from engines.graph import Edge, Graph, GraphError, Node
from engines.layers import shape_text

__all__ = ["MAX_PARAMS", "PROBLEM_KINDS", "Problem", "ShapeReport", "analyse", "topological_order"]

#: Problem kinds. ``unused`` and ``unreachable`` are warnings; the rest are errors.
PROBLEM_KINDS = (
    "shape",
    "cycle",
    "unconnected",
    "no_output",
    "no_input",
    "extra_output",
    "extra_input",
    "arity",
    "param",
    "unused",
    "unreachable",
)

#: Larger models would exhaust memory when built; refuse them with a message instead.
MAX_PARAMS = 500_000_000

_BATCH = 2  # two samples, so layers that need more than one (batch norm) behave as in training


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a graph, attached to a node when one node is the cause."""

    node_id: str | None
    kind: str
    message: str
    severity: str = "error"  # "error" blocks training; "warning" does not


@dataclass
class ShapeReport:
    """The result of :func:`analyse`: per-sample shapes, parameter counts and problems."""

    node_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    edge_shapes: dict[Edge, tuple[int, ...]] = field(default_factory=dict)
    param_counts: dict[str, int] = field(default_factory=dict)
    total_params: int = 0
    problems: list[Problem] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # topological order of the acyclic nodes
    # floating-point operations per sample of the layers whose cost is known (see _flops)
    flops: dict[str, int] = field(default_factory=dict)

    @property
    def total_flops(self) -> int:
        """FLOPs per sample of the layers whose cost is known (a lower bound of the total)."""
        return sum(self.flops.values())

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings allow building and training)."""
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def problems_for(self, node_id: str) -> list[Problem]:
        return [p for p in self.problems if p.node_id == node_id]

    def summary(self) -> str:
        """All error messages, one per line (for GraphError and the command line)."""
        return "\n".join(p.message for p in self.errors)


def _label(node: Node) -> str:
    return f"Node '{node.id}' ({node.type})"


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text + "."


# ------------------------------------------------------------------ graph structure
def _valid_edges(graph: Graph, problems: list[Problem]) -> list[Edge]:
    """Edges that join existing ports, one per input port; the rest are arity problems.

    ``Graph.connect`` refuses such edges, but edges can still arrive by direct list edits or
    from a layer whose ports changed between versions, so they are checked here too.
    """
    fed: set[tuple[str, str]] = set()
    good: list[Edge] = []
    for e in graph.edges:
        src, dst = graph.nodes.get(e.src), graph.nodes.get(e.dst)
        if src is None or dst is None:
            missing = e.src if src is None else e.dst
            owner = dst if src is None else src
            problems.append(
                Problem(
                    owner.id if owner else None,
                    "arity",
                    f"A connection refers to node '{missing}', which does not exist.",
                )
            )
            continue
        try:
            src_spec, dst_spec = get_layer(src.type), get_layer(dst.type)
        except GraphError:
            continue  # reported once per node as a param problem
        if e.src_port not in src_spec.output_names:
            problems.append(
                Problem(
                    src.id, "arity", f"{_label(src)} has no output '{e.src_port}' to connect from."
                )
            )
        elif e.dst_port not in dst_spec.input_names:
            problems.append(
                Problem(
                    dst.id,
                    "arity",
                    f"{_label(dst)} has {len(dst_spec.inputs)} input(s) and no input '{e.dst_port}' for '{src.id}'.",
                )
            )
        elif (e.dst, e.dst_port) in fed:
            problems.append(
                Problem(
                    dst.id,
                    "arity",
                    f"{_label(dst)} has more than one connection into input '{e.dst_port}'.",
                )
            )
        else:
            fed.add((e.dst, e.dst_port))
            good.append(e)
    return good


def _cycles(nodes: Iterable[str], succ: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(succ[w])))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(comp[::-1])
    return found


def _cycle_path(component: list[str], succ: dict[str, list[str]]) -> list[str]:
    """A closed path through the first node of a strongly connected component (BFS)."""
    start, members = component[0], set(component)
    parent: dict[str, str] = {}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in succ[v]:
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if w in members and w not in parent:
                parent[w] = v
                todo.append(w)
    return [*component, start]  # not reached: every component node lies on a cycle


def topological_order(graph: Graph, edges: list[Edge] | None = None) -> list[str]:
    """Node ids in an order where every node follows its inputs; nodes on cycles are left out.

    Among nodes that are ready at the same time, the one added to the graph first comes
    first, so the order reads like the graph was built (and export source reads well).
    """
    edges = graph.edges if edges is None else edges
    rank = {nid: i for i, nid in enumerate(graph.nodes)}
    indegree = dict.fromkeys(graph.nodes, 0)
    succ: dict[str, list[str]] = {nid: [] for nid in graph.nodes}
    for e in edges:
        if e.src in succ and e.dst in indegree:
            succ[e.src].append(e.dst)
            indegree[e.dst] += 1
    ready = [(rank[nid], nid) for nid, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, nid = heapq.heappop(ready)
        order.append(nid)
        for nxt in succ[nid]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, (rank[nxt], nxt))
    return order


# ------------------------------------------------------------- per-node inference
# Inference results keyed by (layer type, version, params, input shapes): after an edit only
# the changed node and those downstream of it are built again. A cached problem is stored
# without the node's label, so it can be re-addressed to any node with the same settings.
_Inferred = tuple[tuple[int, ...] | None, int, tuple[str, str] | None]
_CACHE: dict[tuple[Any, ...], _Inferred] = {}
_CACHE_LIMIT = 4096


def _cache_key(
    node: Node, spec: LayerSpec, in_shapes: list[tuple[int, ...]]
) -> tuple[Any, ...] | None:
    try:
        params = repr(sorted(node.params.items()))
    except Exception:  # unsortable or unrepresentable values: just skip the cache
        return None
    return (node.type, spec.version, params, tuple(in_shapes))


def _flops(node: Node, in_shapes: list[tuple[int, ...]], shape: tuple[int, ...], n_params: int) -> int | None:
    """Multiply-add FLOPs (2 per multiply-accumulate) of one sample through ``node``.

    Known for the layers that dominate the cost: dense, convolution (incl. depthwise
    separable), patch embedding and recurrent layers; None for the rest (element-wise and
    pooling layers cost little; attention's cost is left unestimated).
    """
    p = node.params
    out = math.prod(shape)
    if node.type == "linear":
        return 2 * int(p.get("in_features") or in_shapes[0][-1]) * out
    if node.type in ("conv1d", "conv2d"):
        k = int(p.get("kernel_size", 1)) ** (1 if node.type == "conv1d" else 2)
        return 2 * in_shapes[0][0] * k * out
    if node.type == "dwsep_conv2d":
        c_in, spatial = in_shapes[0][0], math.prod(shape[1:])
        k = int(p.get("kernel_size", 1)) ** 2
        return 2 * c_in * k * spatial + 2 * c_in * shape[0] * spatial
    if node.type == "patch_embedding":
        c, patch = in_shapes[0][0], int(p.get("patch_size", 1))
        return 2 * c * patch * patch * out
    if node.type in ("rnn", "lstm", "gru"):
        # every weight is used once per time step (biases are a rounding error)
        return 2 * in_shapes[0][0] * n_params
    return None


def _infer(
    node: Node, spec: LayerSpec, in_shapes: list[tuple[int, ...]]
) -> tuple[tuple[int, ...] | None, int, Problem | None]:
    """Build ``node`` on the meta device and run it; returns (shape, n_params, problem)."""
    key = _cache_key(node, spec, in_shapes)
    result = _CACHE.get(key) if key is not None else None
    if result is None:
        result = _infer_uncached(node, spec, in_shapes)
        if key is not None:
            if len(_CACHE) >= _CACHE_LIMIT:
                _CACHE.clear()
            _CACHE[key] = result
    shape, count, issue = result
    if issue is None:
        return shape, count, None
    kind, text = issue
    return None, count, Problem(node.id, kind, _sentence(f"{_label(node)}: {text}"))


def _infer_uncached(node: Node, spec: LayerSpec, in_shapes: list[tuple[int, ...]]) -> _Inferred:
    import torch

    params = {p.name: node.params.get(p.name, p.default) for p in spec.params}
    try:
        assert spec.build is not None
        with torch.device("meta"):
            module = spec.build(params, in_shapes)
        count = sum(p.numel() for p in module.parameters())
        if node.type == "input":
            return tuple(int(d) for d in params["shape"]), count, None
        if count > MAX_PARAMS:
            return (
                None,
                count,
                (
                    "param",
                    f"it would have {count:,} parameters, more than the {MAX_PARAMS:,} the workbench can build",
                ),
            )
        if spec.output_shape is not None:
            return tuple(int(d) for d in spec.output_shape(params, in_shapes)), count, None
        with torch.no_grad():
            inputs = [torch.empty((_BATCH, *s), device="meta") for s in in_shapes]
            out = module(*inputs)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"it returns {type(out).__name__} rather than a tensor")
        if out.dim() == 0 or out.shape[0] != _BATCH:
            raise ValueError("it does not keep the batch dimension")
        shape = tuple(int(d) for d in out.shape[1:])
        if 0 in shape:
            raise ValueError(f"its output shape {shape_text(shape)} is empty")
        return shape, count, None
    except LayerProblem as exc:
        return None, 0, (exc.kind, str(exc))
    except Exception as exc:  # torch's own complaint, reworded as little as possible
        return None, 0, ("shape", _torch_words(exc, in_shapes))


def _torch_words(exc: Exception, in_shapes: list[tuple[int, ...]]) -> str:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if len(first) > 160:
        first = first[:157] + "..."
    received = " and ".join(shape_text(s) for s in in_shapes)
    prefix = f"cannot process input {received}: " if received else ""
    return prefix + first


# ----------------------------------------------------------------------- analyse
def analyse(graph: Graph) -> ShapeReport:
    """Validate ``graph`` and infer the per-sample output shape of every node it can.

    Never raises: every problem, including unexpected ones, is returned in
    :attr:`ShapeReport.problems`.
    """
    try:
        return _analyse(graph)
    except Exception as exc:  # a defect here must not take the editor down with it
        return ShapeReport(
            problems=[Problem(None, "shape", _sentence(f"The graph could not be checked: {exc}"))]
        )


def _analyse(graph: Graph) -> ShapeReport:
    report = ShapeReport()
    problems = report.problems
    specs: dict[str, LayerSpec] = {}
    bad_params: set[str] = set()

    # Parameters first: a node with a bad parameter is not built.
    for node in graph.nodes.values():
        try:
            spec = get_layer(node.type)
        except GraphError as exc:
            problems.append(Problem(node.id, "param", _sentence(f"{_label(node)}: {exc}")))
            bad_params.add(node.id)
            continue
        specs[node.id] = spec
        for ps in spec.params:
            issue = ps.check(node.params.get(ps.name, ps.default))
            if issue:
                problems.append(Problem(node.id, "param", _sentence(f"{_label(node)}: {issue}")))
                bad_params.add(node.id)
        for name in node.params:
            if name not in {p.name for p in spec.params}:
                problems.append(
                    Problem(node.id, "param", f"{_label(node)} has no parameter '{name}'.")
                )
                bad_params.add(node.id)

    # Exactly one input and one output.
    for kind, missing, extra, word in (
        ("input", "no_input", "extra_input", "where data enters"),
        ("output", "no_output", "extra_output", "where the prediction leaves"),
    ):
        found = [n for n in graph.nodes.values() if n.type == kind]
        if not found:
            problems.append(
                Problem(None, missing, f"The graph has no {kind} node; add one {word}.")
            )
        for n in found[1:]:
            problems.append(
                Problem(
                    n.id,
                    extra,
                    f"Node '{n.id}' is a second {kind} node; a graph has exactly one (the first is '{found[0].id}').",
                )
            )

    edges = _valid_edges(graph, problems)
    feeding: dict[str, dict[str, Edge]] = {nid: {} for nid in graph.nodes}
    succ: dict[str, list[str]] = {nid: [] for nid in graph.nodes}
    for e in edges:
        feeding[e.dst][e.dst_port] = e
        succ[e.src].append(e.dst)

    # Every input port connected.
    for nid, spec in specs.items():
        for port in spec.input_names:
            if port not in feeding[nid]:
                what = "its input" if len(spec.inputs) == 1 else f"its input '{port}'"
                problems.append(
                    Problem(
                        nid, "unconnected", f"{_label(graph.nodes[nid])}: {what} is not connected."
                    )
                )

    # Cycles.
    for component in _cycles(graph.nodes, succ):
        path = " -> ".join(f"'{c}'" for c in _cycle_path(component, succ))
        for nid in component:
            problems.append(
                Problem(nid, "cycle", f"{_label(graph.nodes[nid])} is part of a cycle: {path}.")
            )

    # Shapes, in topological order.
    order = topological_order(graph, edges)
    report.order = order
    shapes = report.node_shapes
    for nid in order:
        if nid in bad_params or nid not in specs:
            continue
        spec = specs[nid]
        ports = [feeding[nid].get(p) for p in spec.input_names]
        if any(e is None or e.src not in shapes for e in ports):
            continue  # an upstream problem is already reported; do not pile on
        in_shapes = [shapes[e.src] for e in ports if e is not None]
        shape, count, problem = _infer(graph.nodes[nid], spec, in_shapes)
        if problem is not None:
            problems.append(problem)
            continue
        assert shape is not None
        shapes[nid] = shape
        report.param_counts[nid] = count
        flops = _flops(graph.nodes[nid], in_shapes, shape, count)
        if flops is not None:
            report.flops[nid] = flops
    report.total_params = sum(report.param_counts.values())
    if report.total_params > MAX_PARAMS and not any(p.kind == "param" for p in problems):
        biggest = max(report.param_counts, key=lambda k: report.param_counts[k])
        problems.append(
            Problem(
                biggest,
                "param",
                f"The network would have {report.total_params:,} parameters, more than the "
                f"{MAX_PARAMS:,} the workbench can build; '{biggest}' is the largest layer.",
            )
        )
    for e in edges:
        if e.src in shapes:
            report.edge_shapes[e] = shapes[e.src]

    _reachability(graph, succ, problems)
    return report


def _reachability(graph: Graph, succ: dict[str, list[str]], problems: list[Problem]) -> None:
    """Warn about nodes the data never reaches and nodes whose result is never used."""
    inputs = [n.id for n in graph.nodes.values() if n.type == "input"]
    outputs = [n.id for n in graph.nodes.values() if n.type == "output"]
    pred: dict[str, list[str]] = {nid: [] for nid in graph.nodes}
    for src, dsts in succ.items():
        for d in dsts:
            pred[d].append(src)
    forward = _closure(inputs, succ)
    backward = _closure(outputs, pred)
    flagged = {p.node_id for p in problems if p.severity == "error"}
    for nid, node in graph.nodes.items():
        if nid in flagged:
            continue
        if inputs and nid not in forward:
            problems.append(
                Problem(
                    nid,
                    "unreachable",
                    f"{_label(node)} is not reached from the input node.",
                    severity="warning",
                )
            )
        elif outputs and nid not in backward:
            problems.append(
                Problem(
                    nid,
                    "unused",
                    f"{_label(node)}: its result does not reach the output node.",
                    severity="warning",
                )
            )


def _closure(start: list[str], step: dict[str, list[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in step[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
