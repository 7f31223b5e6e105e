"""Build a trainable ``nn.Module`` from a valid graph."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engines.catalog import get_layer
from engines.graph import Graph, GraphError
from engines.shapes import ShapeReport, analyse

__all__ = ["GraphModule", "build_model"]


class GraphModule(nn.Module):
    """A graph as a module: one module per node in ``layers``, run in topological order.

    Attributes
    ----------
    layers : nn.ModuleDict
        The module of each node, keyed by node id (``state_dict`` keys are
        ``layers.<node_id>.<param>``).
    input_shape, output_shape : tuple of int
        Per-sample shapes, batch excluded.
    """

    def __init__(
        self,
        layers: dict[str, nn.Module],
        steps: list[tuple[str, list[str]]],
        input_id: str,
        output_id: str,
        input_shape: tuple[int, ...],
        output_shape: tuple[int, ...],
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleDict(layers)
        # (node id, ids feeding its input ports in port order); only nodes that lead to the
        # output are run, so a dangling branch costs nothing.
        self.steps = steps
        self.input_id = input_id
        self.output_id = output_id
        self.input_shape = input_shape
        self.output_shape = output_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {self.input_id: self.layers[self.input_id](x)}
        for node_id, sources in self.steps:
            values[node_id] = self.layers[node_id](*[values[s] for s in sources])
        return values[self.output_id]


def build_model(
    graph: Graph, seed: int | None = None, report: ShapeReport | None = None
) -> GraphModule:
    """Build ``graph`` into a :class:`GraphModule`.

    Parameters
    ----------
    graph : Graph
        The network to build.
    seed : int, optional
        Seed for weight initialisation; the same seed gives the same weights. The global
        random state is left as it was.
    report : ShapeReport, optional
        A fresh :func:`analyse` result for ``graph``, to avoid analysing it twice.

    Raises
    ------
    GraphError
        If the graph has problems; the message lists them, one per line.
    """
    report = analyse(graph) if report is None else report
    if not report.ok:
        raise GraphError("The network cannot be built:\n" + report.summary())
    try:
        if seed is None:
            return _build(graph, report)
        # fork_rng restores the global generator afterwards, so seeding here does not
        # disturb e.g. a data shuffle seeded elsewhere.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return _build(graph, report)
    except GraphError:
        raise
    except Exception as exc:  # e.g. out of memory: say so rather than crash the caller
        raise GraphError(f"The network cannot be built: {exc}") from exc


def wiring(graph: Graph, report: ShapeReport) -> tuple[dict[str, list[str]], set[str]]:
    """Each node's source nodes in input-port order, and the nodes the output depends on.

    Shared by building and by source export, so both run exactly the same nodes.
    """
    output_id = graph.nodes_of_type("output")[0].id
    sources: dict[str, list[str]] = {}
    for nid in report.order:
        spec = get_layer(graph.nodes[nid].type)
        by_port = {e.dst_port: e.src for e in graph.inputs_of(nid)}
        sources[nid] = [by_port[p] for p in spec.input_names]
    needed = {output_id}
    for nid in reversed(report.order):
        if nid in needed:
            needed.update(sources[nid])
    return sources, needed


def _build(graph: Graph, report: ShapeReport) -> GraphModule:
    input_id = graph.nodes_of_type("input")[0].id
    output_id = graph.nodes_of_type("output")[0].id
    sources, needed = wiring(graph, report)

    layers: dict[str, nn.Module] = {}
    for nid in report.order:  # construct in topological order so seeded weights follow data flow
        node = graph.nodes[nid]
        spec = get_layer(node.type)
        params: dict[str, Any] = {p.name: node.params.get(p.name, p.default) for p in spec.params}
        assert spec.build is not None
        layers[nid] = spec.build(params, [report.node_shapes[s] for s in sources[nid]])
    steps = [(nid, sources[nid]) for nid in report.order if nid in needed and nid != input_id]
    return GraphModule(
        layers,
        steps,
        input_id,
        output_id,
        report.node_shapes[input_id],
        report.node_shapes[output_id],
    )
