"""The network graph: typed, JSON-round-trippable nodes and edges.

A graph holds nodes (a layer type id from the catalog, its parameters, a position on the
canvas) and edges (``src`` node's output port -> ``dst`` node's input port). It knows
nothing about torch; building, shape inference and validation live in other modules.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from engines.catalog import get_layer
from engines.errors import GraphError

__all__ = ["Edge", "Graph", "GraphError", "Node"]

_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass
class Node:
    """One layer on the canvas."""

    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    position: tuple[float, float] = (0.0, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "params": copy.deepcopy(self.params),
            "position": [float(self.position[0]), float(self.position[1])],
        }


@dataclass(frozen=True)
class Edge:
    """A connection from an output port to an input port."""

    src: str
    src_port: str
    dst: str
    dst_port: str

    def to_dict(self) -> dict[str, str]:
        return {"src": self.src, "src_port": self.src_port, "dst": self.dst, "dst_port": self.dst_port}


@dataclass
class Graph:
    """Nodes keyed by id (insertion-ordered) and a list of edges."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    # ----------------------------------------------------------------- edits
    def add_node(
        self,
        type: str,
        params: dict[str, Any] | None = None,
        *,
        id: str | None = None,
        position: tuple[float, float] = (0.0, 0.0),
    ) -> Node:
        """Add a node of a catalog layer type; missing parameters take their defaults."""
        spec = get_layer(type)  # raises GraphError for an unknown id
        node_id = id if id is not None else self.fresh_id(type)
        if not _ID_RE.match(node_id):
            raise GraphError(
                f"Node id {node_id!r} is not valid: use letters, digits and '_', "
                "starting with a letter, at most 64 characters."
            )
        if node_id in self.nodes:
            raise GraphError(f"A node with id {node_id!r} already exists.")
        full = spec.default_params()
        for key, value in (params or {}).items():
            if key not in full:
                raise GraphError(f"Layer type {type!r} has no parameter {key!r}.")
            full[key] = value
        node = Node(id=node_id, type=type, params=full, position=(float(position[0]), float(position[1])))
        self.nodes[node_id] = node
        return node

    def remove_node(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Remove a node and its edges; returns both so the edit can be undone."""
        node = self.node(node_id)
        removed = [e for e in self.edges if e.src == node_id or e.dst == node_id]
        self.edges = [e for e in self.edges if e not in removed]
        del self.nodes[node_id]
        return node, removed

    def connect(self, src: str, dst: str, src_port: str = "out", dst_port: str = "in") -> Edge:
        """Connect ``src.src_port`` to ``dst.dst_port``.

        Structural problems (unknown node or port, a port already fed, a self loop) are
        refused here; shape problems and cycles are reported by validation instead, so the
        user can finish an edit sequence that passes through an invalid state.
        """
        s, d = self.node(src), self.node(dst)
        if src == dst:
            raise GraphError(f"Node {src!r} cannot be connected to itself.")
        if src_port not in get_layer(s.type).output_names:
            raise GraphError(f"Node {src!r} ({s.type}) has no output port {src_port!r}.")
        in_names = get_layer(d.type).input_names
        if dst_port not in in_names:
            raise GraphError(
                f"Node {dst!r} ({d.type}) has no input port {dst_port!r}; "
                f"its inputs are {', '.join(in_names) or 'none'}."
            )
        for e in self.edges:
            if e.dst == dst and e.dst_port == dst_port:
                raise GraphError(f"Input {dst_port!r} of node {dst!r} is already connected to {e.src!r}.")
        edge = Edge(src, src_port, dst, dst_port)
        self.edges.append(edge)
        return edge

    def disconnect(self, edge: Edge) -> None:
        try:
            self.edges.remove(edge)
        except ValueError:
            raise GraphError(f"No connection {edge.src}.{edge.src_port} -> {edge.dst}.{edge.dst_port}.") from None

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        """Set one parameter and return its previous value. Range checks happen in validation."""
        node = self.node(node_id)
        if name not in node.params:
            raise GraphError(f"Layer type {node.type!r} has no parameter {name!r}.")
        old = node.params[name]
        node.params[name] = value
        return old

    def move_node(self, node_id: str, position: tuple[float, float]) -> tuple[float, float]:
        node = self.node(node_id)
        old = node.position
        node.position = (float(position[0]), float(position[1]))
        return old

    # --------------------------------------------------------------- queries
    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise GraphError(f"There is no node {node_id!r}.") from None

    def fresh_id(self, type: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", type) or "node"
        if not base[0].isalpha():
            base = "n_" + base
        i = 1
        while f"{base}{i}" in self.nodes:
            i += 1
        return f"{base}{i}"

    def inputs_of(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.dst == node_id]

    def outputs_of(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.src == node_id]

    def nodes_of_type(self, type: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.type == type]

    def copy(self) -> Graph:
        return Graph.from_dict(self.to_dict())

    # ---------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "edges": [e.to_dict() for e in self.edges],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Graph:
        """Rebuild a graph from :meth:`to_dict` output.

        Raises :class:`GraphError` with a specific message for JSON of the wrong shape, an
        unknown layer id, an unknown parameter, duplicate ids or an edge to a missing node.
        Layer types resolve only through the catalog registry: nothing is imported by name.
        """
        if not isinstance(data, dict):
            raise GraphError("The graph must be a JSON object with 'nodes' and 'edges'.")
        nodes, edges = data.get("nodes"), data.get("edges")
        if not isinstance(nodes, list) or not isinstance(edges, list):
            raise GraphError("The graph must have a 'nodes' list and an 'edges' list.")
        g = cls()
        for i, nd in enumerate(nodes):
            if not isinstance(nd, dict):
                raise GraphError(f"Graph node #{i} is not a JSON object.")
            nid, ntype = nd.get("id"), nd.get("type")
            if not isinstance(nid, str) or not isinstance(ntype, str):
                raise GraphError(f"Graph node #{i} needs a string 'id' and a string 'type'.")
            params = nd.get("params", {})
            if not isinstance(params, dict):
                raise GraphError(f"Node {nid!r}: 'params' must be a JSON object.")
            pos = nd.get("position", [0.0, 0.0])
            if (
                not isinstance(pos, list | tuple)
                or len(pos) != 2
                or not all(isinstance(p, int | float) and not isinstance(p, bool) for p in pos)
            ):
                raise GraphError(f"Node {nid!r}: 'position' must be two numbers.")
            spec = get_layer(ntype)
            unknown = set(params) - set(spec.default_params())
            if unknown:
                raise GraphError(
                    f"Node {nid!r} ({ntype}) has unknown parameter(s): {', '.join(sorted(unknown))}."
                )
            g.add_node(ntype, params, id=nid, position=(float(pos[0]), float(pos[1])))
        for i, ed in enumerate(edges):
            if not isinstance(ed, dict) or not all(
                isinstance(ed.get(k), str) for k in ("src", "src_port", "dst", "dst_port")
            ):
                raise GraphError(f"Graph edge #{i} needs string 'src', 'src_port', 'dst' and 'dst_port'.")
            if ed["src"] not in g.nodes or ed["dst"] not in g.nodes:
                raise GraphError(f"Graph edge #{i} refers to a node that does not exist.")
            g.connect(ed["src"], ed["dst"], ed["src_port"], ed["dst_port"])
        return g
