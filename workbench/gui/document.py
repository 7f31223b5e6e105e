"""The undoable project document: every edit of a project is a command on an undo stack.

:class:`ProjectDocument` wraps a :class:`~workbench.core.project.Project` and a ``QUndoStack``.
Views never change the project themselves: they call a method here, which builds a
command, checks it against the current project and only then pushes it. A refused edit
raises (``GraphError`` for the graph, ``ConfigError`` for training settings, ``KeyError`` /
``ValueError`` for runs) and leaves neither a change nor an undo entry.

Commands change the project only through its own edit methods (``Graph.add_node``,
``Project.remove_run``...) and remember what they need to undo when they are built, never
by reading graphics items, so the document can be saved and tested without a scene.

This module uses QtCore and QtGui (for ``QUndoStack``) but no widgets.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engines.catalog import get_layer
from engines.graph import Edge, Graph, GraphError, Node
from engines.shapes import Problem, ShapeReport, analyse
from workbench.core.project import Project, Run

__all__ = [
    "AddAnalysesCommand",
    "AddNodeCommand",
    "AddRunCommand",
    "ArrangeNodesCommand",
    "CompoundCommand",
    "ConnectCommand",
    "DisconnectCommand",
    "DocumentCommand",
    "Fix",
    "InsertNodeOnEdgeCommand",
    "MoveNodesCommand",
    "PasteCommand",
    "ProjectDocument",
    "RemoveNodesCommand",
    "RemoveRunCommand",
    "RenameRunCommand",
    "SetActiveRunCommand",
    "SetDataCommand",
    "SetParamCommand",
    "SetTrainConfigCommand",
]

Position = tuple[float, float]

# What a command changes, so the document emits only the signals that apply. LAYOUT is a
# graph change that cannot alter shapes (node positions), so the report is kept.
GRAPH, LAYOUT, RUNS, CONFIG = "graph", "layout", "runs", "config"
DATA = "data"  # the project's data choice (spec, fingerprint, embedded source)
ANALYSES = "analyses"  # explanations and fairness audits kept with the runs

# Command ids for QUndoCommand.id(): commands with the same id may merge.
_SET_PARAM_ID, _MOVE_ID, _RENAME_RUN_ID, _CONFIG_ID = 1001, 1002, 1003, 1004

PASTE_OFFSET: Position = (40.0, 40.0)

_C = TypeVar("_C", bound="DocumentCommand")


# ------------------------------------------------------------------------------ helpers
def _place_node(graph: Graph, node_id: str, index: int) -> None:
    """Move ``node_id`` to ``index`` in the graph's node order.

    ``Graph.add_node`` appends; undo must put a node back where it was, because node order
    decides ties in the topological order (and so the exported source and the file).
    """
    items = list(graph.nodes.items())
    pos = next(i for i, (nid, _) in enumerate(items) if nid == node_id)
    items.insert(index, items.pop(pos))
    graph.nodes.clear()  # same dict object: views may hold on to it
    graph.nodes.update(items)


def _place_edge(graph: Graph, edge: Edge, index: int) -> None:
    """Move ``edge`` to ``index`` in the edge list (``Graph.connect`` appends)."""
    graph.edges.remove(edge)
    graph.edges.insert(index, edge)


def _scratch(project: Project) -> Project:
    """A copy of ``project`` that a dry run may change without touching the original.

    Runs are copied one level deep (their weights are shared, never changed by commands).
    """
    return dataclasses.replace(
        project,
        graph=copy.deepcopy(project.graph),
        runs=[copy.copy(r) for r in project.runs],
        train_config=copy.deepcopy(project.train_config),
    )


def _check_param(node_id: str, type: str, name: str, value: Any) -> None:
    """Raise GraphError when ``value`` is not acceptable for parameter ``name``."""
    spec = get_layer(type)
    try:
        pspec = spec.param(name)
    except KeyError:
        raise GraphError(f"Layer type {type!r} has no parameter {name!r}.") from None
    problem = pspec.check(value)
    if problem:
        raise GraphError(f"Node {node_id!r} ({type}): {problem}.")


def _removal_text(node_ids: Sequence[str], edges: Sequence[Edge]) -> str:
    """The undo entry's text for removing these nodes and connections."""
    parts = []
    if len(node_ids) == 1:
        parts.append(node_ids[0])
    elif node_ids:
        parts.append(f"{len(node_ids)} nodes")
    if len(edges) == 1 and not node_ids:
        parts.append(f"connection {edges[0].src} -> {edges[0].dst}")
    elif edges:
        parts.append(f"{len(edges)} connection{'s' if len(edges) > 1 else ''}")
    return "Remove " + " and ".join(parts)


def _normalise(value: Any) -> Any:
    # A tuple of ints (a shape) is stored as a list, as it comes back from JSON, so that
    # an edit and its saved-and-loaded form compare equal.
    return list(value) if isinstance(value, tuple) else value


# ----------------------------------------------------------------------------- commands
class DocumentCommand(QUndoCommand):
    """Base of all document edits.

    Subclasses implement :meth:`apply` and :meth:`revert` on a project passed in, so the
    same code serves the real edit and the dry run that validates it before it is pushed.
    """

    #: What the edit changes: a subset of ``{"graph", "layout", "runs", "config"}``.
    changes: frozenset[str] = frozenset({GRAPH})
    #: Validate by running :meth:`apply` on a scratch copy (off for cheap, checked edits).
    dry_run: bool = True

    def __init__(self, doc: ProjectDocument, text: str) -> None:
        super().__init__(text)
        self.doc = doc

    def validate(self, project: Project) -> None:
        """Raise if the edit is not acceptable; must not change ``project``."""

    def apply(self, project: Project) -> None:
        raise NotImplementedError

    def revert(self, project: Project) -> None:
        raise NotImplementedError

    def redo(self) -> None:
        self.apply(self.doc.project)
        self.doc._changed(self.changes)

    def undo(self) -> None:
        self.revert(self.doc.project)
        self.doc._changed(self.changes)


class AddNodeCommand(DocumentCommand):
    """Add one node; its id is fixed when the command is built, so redo re-adds the same id."""

    def __init__(
        self,
        doc: ProjectDocument,
        type: str,
        params: Mapping[str, Any] | None = None,
        position: Position = (0.0, 0.0),
        id: str | None = None,
    ) -> None:
        get_layer(type)  # unknown types are refused here, with the catalog's message
        self.node_id = id if id is not None else doc.graph.fresh_id(type)
        super().__init__(doc, f"Add {self.node_id}")
        self.type = type
        self.params = {k: _normalise(v) for k, v in (params or {}).items()}
        self.position = (float(position[0]), float(position[1]))

    def validate(self, project: Project) -> None:
        for name, value in self.params.items():
            _check_param(self.node_id, self.type, name, value)

    def apply(self, project: Project) -> None:
        project.graph.add_node(
            self.type, copy.deepcopy(self.params), id=self.node_id, position=self.position
        )

    def revert(self, project: Project) -> None:
        project.graph.remove_node(self.node_id)


class RemoveNodesCommand(DocumentCommand):
    """Remove nodes and their edges, and optionally more edges (a canvas selection);
    undo restores all of them in their original order."""

    def __init__(
        self, doc: ProjectDocument, node_ids: Iterable[str], edges: Iterable[Edge] = ()
    ) -> None:
        graph = doc.graph
        ids = list(dict.fromkeys(node_ids))
        extra = list(dict.fromkeys(edges))
        if not ids and not extra:
            raise GraphError("No nodes to remove.")
        for nid in ids:
            graph.node(nid)  # raises GraphError for a missing node
        for e in extra:
            if e not in graph.edges:
                raise GraphError(
                    f"No connection {e.src}.{e.src_port} -> {e.dst}.{e.dst_port}."
                )
        super().__init__(doc, _removal_text(ids, extra))
        self.node_ids = ids
        gone = set(ids)
        # connections that go anyway with their nodes are not removed twice
        self.extra = [e for e in extra if e.src not in gone and e.dst not in gone]
        order = list(graph.nodes)
        # Ascending indices: re-inserting in this order rebuilds the original sequence.
        self.nodes: list[tuple[int, Node]] = sorted(
            (order.index(nid), copy.deepcopy(graph.nodes[nid])) for nid in ids
        )
        chosen = set(self.extra)
        self.edges: list[tuple[int, Edge]] = [
            (i, e)
            for i, e in enumerate(graph.edges)
            if e.src in gone or e.dst in gone or e in chosen
        ]

    def apply(self, project: Project) -> None:
        for e in self.extra:
            project.graph.disconnect(e)
        for nid in self.node_ids:
            project.graph.remove_node(nid)

    def revert(self, project: Project) -> None:
        graph = project.graph
        for index, node in self.nodes:
            graph.add_node(
                node.type, copy.deepcopy(node.params), id=node.id, position=node.position
            )
            _place_node(graph, node.id, index)
        for index, e in self.edges:
            graph.connect(e.src, e.dst, e.src_port, e.dst_port)
            _place_edge(graph, e, index)


class ConnectCommand(DocumentCommand):
    """Connect an output port to an input port."""

    def __init__(
        self, doc: ProjectDocument, src: str, dst: str, src_port: str = "out", dst_port: str = "in"
    ) -> None:
        super().__init__(doc, f"Connect {src} to {dst}")
        self.edge = Edge(src, src_port, dst, dst_port)

    def apply(self, project: Project) -> None:
        e = self.edge
        project.graph.connect(e.src, e.dst, e.src_port, e.dst_port)

    def revert(self, project: Project) -> None:
        project.graph.disconnect(self.edge)


class DisconnectCommand(DocumentCommand):
    """Remove one connection; undo puts it back at its place in the edge list."""

    def __init__(self, doc: ProjectDocument, edge: Edge) -> None:
        super().__init__(doc, f"Disconnect {edge.src} from {edge.dst}")
        if edge not in doc.graph.edges:
            raise GraphError(
                f"No connection {edge.src}.{edge.src_port} -> {edge.dst}.{edge.dst_port}."
            )
        self.edge = edge
        self.index = doc.graph.edges.index(edge)

    def apply(self, project: Project) -> None:
        project.graph.disconnect(self.edge)

    def revert(self, project: Project) -> None:
        e = self.edge
        project.graph.connect(e.src, e.dst, e.src_port, e.dst_port)
        _place_edge(project.graph, e, self.index)


class SetParamCommand(DocumentCommand):
    """Set one parameter of one node.

    Consecutive edits of the same parameter merge, so typing a number is one undo step;
    an edit that returns the value to where it started disappears from the stack.
    """

    dry_run = False

    def __init__(self, doc: ProjectDocument, node_id: str, name: str, value: Any) -> None:
        super().__init__(doc, f"Set {node_id}.{name}")
        node = doc.graph.node(node_id)
        _check_param(node_id, node.type, name, value)
        self.node_id, self.name = node_id, name
        self.old = copy.deepcopy(node.params[name])
        self.new = _normalise(value)
        self.merge = True

    def apply(self, project: Project) -> None:
        project.graph.set_param(self.node_id, self.name, copy.deepcopy(self.new))

    def revert(self, project: Project) -> None:
        project.graph.set_param(self.node_id, self.name, copy.deepcopy(self.old))

    def id(self) -> int:
        return _SET_PARAM_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # Qt's name, hence camelCase
        if not isinstance(other, SetParamCommand) or not other.merge:
            return False
        if (other.node_id, other.name) != (self.node_id, self.name):
            return False
        self.new = other.new
        self.setObsolete(self.new == self.old)
        return True


class MoveNodesCommand(DocumentCommand):
    """Move nodes on the canvas; consecutive moves of the same selection merge."""

    changes = frozenset({LAYOUT})
    dry_run = False

    def __init__(self, doc: ProjectDocument, positions: Mapping[str, Position]) -> None:
        if not positions:
            raise GraphError("No nodes to move.")
        graph = doc.graph
        self.new = {nid: (float(p[0]), float(p[1])) for nid, p in positions.items()}
        self.old = {nid: graph.node(nid).position for nid in self.new}
        super().__init__(
            doc,
            f"Move {next(iter(self.new))}" if len(self.new) == 1 else f"Move {len(self.new)} nodes",
        )
        self.merge = True

    def apply(self, project: Project) -> None:
        for nid, pos in self.new.items():
            project.graph.move_node(nid, pos)

    def revert(self, project: Project) -> None:
        for nid, pos in self.old.items():
            project.graph.move_node(nid, pos)

    def id(self) -> int:
        return _MOVE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # Qt's name, hence camelCase
        if (
            not isinstance(other, MoveNodesCommand)
            or not other.merge
            or set(other.new) != set(self.new)
        ):
            return False
        self.new = dict(other.new)
        self.setObsolete(self.new == self.old)
        return True


class ArrangeNodesCommand(MoveNodesCommand):
    """Move every node to its place in an automatic layout; never merges with a drag."""

    def __init__(self, doc: ProjectDocument, positions: Mapping[str, Position]) -> None:
        super().__init__(doc, positions)
        self.setText("Arrange nodes")
        self.merge = False

    def id(self) -> int:
        return -1  # Qt: -1 means "never merge"


class PasteCommand(DocumentCommand):
    """Add a copied fragment (nodes and the edges among them) under fresh ids, offset."""

    def __init__(
        self, doc: ProjectDocument, fragment: Mapping[str, Any], offset: Position = PASTE_OFFSET
    ) -> None:
        part = Graph.from_dict(dict(fragment))  # checks the fragment, e.g. from the clipboard
        if not part.nodes:
            raise GraphError("There is nothing to paste.")
        # Choose ids with the graph's own rules on a throwaway copy of the id space.
        names = Graph(nodes=dict(doc.graph.nodes))
        self.id_map: dict[str, str] = {}
        self.nodes: list[Node] = []
        for node in part.nodes.values():
            pos = (node.position[0] + offset[0], node.position[1] + offset[1])
            added = names.add_node(node.type, copy.deepcopy(node.params), position=pos)
            self.id_map[node.id] = added.id
            self.nodes.append(added)
        self.edges = [
            Edge(self.id_map[e.src], e.src_port, self.id_map[e.dst], e.dst_port) for e in part.edges
        ]
        n = len(self.nodes)
        super().__init__(doc, f"Paste {self.nodes[0].id}" if n == 1 else f"Paste {n} nodes")

    @property
    def new_ids(self) -> list[str]:
        """Ids of the pasted nodes, in fragment order."""
        return [n.id for n in self.nodes]

    def apply(self, project: Project) -> None:
        graph = project.graph
        for node in self.nodes:
            graph.add_node(
                node.type, copy.deepcopy(node.params), id=node.id, position=node.position
            )
        for e in self.edges:
            graph.connect(e.src, e.dst, e.src_port, e.dst_port)

    def revert(self, project: Project) -> None:
        for node in reversed(self.nodes):
            project.graph.remove_node(node.id)  # takes the pasted edges with it


class InsertNodeOnEdgeCommand(DocumentCommand):
    """Put a new node (e.g. a Flatten) in the middle of an existing connection."""

    def __init__(
        self,
        doc: ProjectDocument,
        edge: Edge,
        type: str,
        params: Mapping[str, Any] | None = None,
        position: Position | None = None,
    ) -> None:
        graph = doc.graph
        if edge not in graph.edges:
            raise GraphError(
                f"No connection {edge.src}.{edge.src_port} -> {edge.dst}.{edge.dst_port}."
            )
        spec = get_layer(type)
        if not spec.inputs or not spec.outputs:
            raise GraphError(f"A {spec.title} node cannot be inserted into a connection.")
        self.edge, self.index = edge, graph.edges.index(edge)
        self.type = type
        self.params = {k: _normalise(v) for k, v in (params or {}).items()}
        self.node_id = graph.fresh_id(type)
        # nodes pushed right to make room for the new one: {id: (old, new)}
        self.moves: dict[str, tuple[Position, Position]] = {}
        if position is None:
            a, b = graph.node(edge.src).position, graph.node(edge.dst).position
            dx, dy = b[0] - a[0], b[1] - a[1]
            down = abs(dy) > abs(dx)  # the connection runs down rather than right
            roomy = (abs(dx) >= 2 * INSERT_GAP or abs(dy) >= 2 * INSERT_GAP_Y
                     or (dy if down else dx) < 0)  # room, or a layout running up or left
            if roomy:  # the middle of the connection
                position = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
            else:  # make room: the destination and everything after it move on
                if down:
                    position = ((a[0] + b[0]) / 2, a[1] + INSERT_GAP_Y)
                    step = (0.0, a[1] + 2 * INSERT_GAP_Y - b[1])
                else:
                    position = (a[0] + INSERT_GAP, (a[1] + b[1]) / 2)
                    step = (a[0] + 2 * INSERT_GAP - b[0], 0.0)
                for nid in _downstream(graph, edge.dst):
                    x, y = graph.node(nid).position
                    self.moves[nid] = ((x, y), (x + step[0], y + step[1]))
        self.position = (float(position[0]), float(position[1]))
        self.in_port, self.out_port = spec.input_names[0], spec.output_names[0]
        if self.moves:
            self.changes = frozenset({GRAPH, LAYOUT})
        super().__init__(doc, f"Insert {self.node_id} before {edge.dst}")

    def validate(self, project: Project) -> None:
        for name, value in self.params.items():
            _check_param(self.node_id, self.type, name, value)

    def apply(self, project: Project) -> None:
        graph, e = project.graph, self.edge
        graph.disconnect(e)
        graph.add_node(
            self.type, copy.deepcopy(self.params), id=self.node_id, position=self.position
        )
        first = graph.connect(e.src, self.node_id, e.src_port, self.in_port)
        second = graph.connect(self.node_id, e.dst, self.out_port, e.dst_port)
        _place_edge(graph, first, self.index)
        _place_edge(graph, second, self.index + 1)
        for nid, (_old, new) in self.moves.items():
            graph.move_node(nid, new)

    def revert(self, project: Project) -> None:
        graph, e = project.graph, self.edge
        for nid, (old, _new) in self.moves.items():
            graph.move_node(nid, old)
        graph.remove_node(self.node_id)
        graph.connect(e.src, e.dst, e.src_port, e.dst_port)
        _place_edge(graph, e, self.index)


INSERT_GAP = 190.0  # scene units from a node to the next when an insert makes room (150 wide)
INSERT_GAP_Y = 100.0  # the same, for a connection that runs down (nodes are 64 high)


def _downstream(graph: Any, start: str) -> list[str]:
    """``start`` and every node reachable from it along connections, each once."""
    seen, todo = {start}, [start]
    while todo:
        for e in graph.outputs_of(todo.pop()):
            if e.dst not in seen:
                seen.add(e.dst)
                todo.append(e.dst)
    return sorted(seen)


class CompoundCommand(DocumentCommand):
    """Several commands as one undo step; validated together, in order, before pushing."""

    dry_run = False

    def __init__(
        self, doc: ProjectDocument, text: str, commands: Sequence[DocumentCommand]
    ) -> None:
        super().__init__(doc, text)
        self.commands = list(commands)
        self.changes = frozenset().union(*(c.changes for c in self.commands))

    def validate(self, project: Project) -> None:
        scratch = _scratch(project)
        for c in self.commands:
            c.validate(scratch)
            c.apply(scratch)

    def apply(self, project: Project) -> None:
        for c in self.commands:
            c.apply(project)

    def revert(self, project: Project) -> None:
        for c in reversed(self.commands):
            c.revert(project)


class RenameRunCommand(DocumentCommand):
    """Rename a run; consecutive renames of the same run merge (typing a name)."""

    changes = frozenset({RUNS})
    dry_run = False

    def __init__(self, doc: ProjectDocument, run_id: str, name: str) -> None:
        super().__init__(doc, "Rename run")
        self.run_id = run_id
        self.old = doc.project.run(run_id).name  # KeyError for an unknown run
        self.new = name

    def apply(self, project: Project) -> None:
        project.rename_run(self.run_id, self.new)

    def revert(self, project: Project) -> None:
        project.rename_run(self.run_id, self.old)

    def id(self) -> int:
        return _RENAME_RUN_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # Qt's name, hence camelCase
        if not isinstance(other, RenameRunCommand) or other.run_id != self.run_id:
            return False
        self.new = other.new
        self.setObsolete(self.new == self.old)
        return True


class RemoveRunCommand(DocumentCommand):
    """Remove a run; undo puts it back at its place and restores the active run."""

    changes = frozenset({RUNS})
    dry_run = False

    def __init__(self, doc: ProjectDocument, run_id: str) -> None:
        project = doc.project
        self.run = project.run(run_id)  # KeyError for an unknown run
        super().__init__(doc, f"Remove run {self.run.name}")
        self.index = project.runs.index(self.run)
        self.active = project.active_run

    def apply(self, project: Project) -> None:
        project.remove_run(self.run.id)

    def revert(self, project: Project) -> None:
        project.add_run(self.run, index=self.index)
        project.active_run = self.active


class AddRunCommand(DocumentCommand):
    """Add a finished run (optionally making it the active one)."""

    changes = frozenset({RUNS})

    def __init__(self, doc: ProjectDocument, run: Run, activate: bool = True) -> None:
        super().__init__(doc, f"Add run {run.name}")
        self.run, self.activate = run, activate
        self.active = doc.project.active_run

    def apply(self, project: Project) -> None:
        project.add_run(self.run)  # ValueError for a bad or duplicate id
        if self.activate:
            project.active_run = self.run.id

    def revert(self, project: Project) -> None:
        project.remove_run(self.run.id)
        project.active_run = self.active


class SetActiveRunCommand(DocumentCommand):
    """Make a run the active one (its weights are what gets exported and inspected)."""

    changes = frozenset({RUNS})
    dry_run = False

    def __init__(self, doc: ProjectDocument, run_id: str) -> None:
        run = doc.project.run(run_id)  # KeyError for an unknown run
        super().__init__(doc, f"Make {run.name} the active run")
        self.run_id = run_id
        self.old = doc.project.active_run

    def apply(self, project: Project) -> None:
        project.active_run = self.run_id

    def revert(self, project: Project) -> None:
        project.active_run = self.old


class AddAnalysesCommand(DocumentCommand):
    """Keep analyses (explanations, fairness audits) with a run, as one undo step."""

    changes = frozenset({ANALYSES})
    dry_run = False

    def __init__(self, doc: ProjectDocument, run_id: str, analyses: Sequence[Any],
                 text: str = "") -> None:
        doc.project.run(run_id)  # KeyError for an unknown run
        if not analyses:
            raise ValueError("There are no analyses to add.")
        super().__init__(doc, text or f"Add {len(analyses)} analyses")
        self.run_id, self.analyses = run_id, list(analyses)

    def validate(self, project: Project) -> None:
        ids = [a.id for a in self.analyses]
        taken = {a.id for a in project.run(self.run_id).analyses}
        if len(set(ids)) != len(ids) or taken & set(ids):
            raise ValueError(f"Run {self.run_id!r} already has an analysis with one of these ids.")

    def apply(self, project: Project) -> None:
        run = project.run(self.run_id)
        for a in self.analyses:
            run.add_analysis(a)  # ValueError for a bad id or kind

    def revert(self, project: Project) -> None:
        gone = {id(a) for a in self.analyses}
        run = project.run(self.run_id)
        run.analyses[:] = [a for a in run.analyses if id(a) not in gone]


MAX_RUN_NAME = 100


def check_run_name(project: Project, run_id: str, name: str) -> str:
    """The name a run may be given (trimmed); ValueError saying why not."""
    project.run(run_id)  # KeyError for an unknown run
    name = str(name).strip()
    if not name:
        raise ValueError("A run name cannot be empty.")
    if len(name) > MAX_RUN_NAME:
        raise ValueError(f"A run name can have at most {MAX_RUN_NAME} characters.")
    if any(r.name == name and r.id != run_id for r in project.runs):
        raise ValueError(f"Another run is already named {name!r}; choose a different name.")
    return name


class SetTrainConfigCommand(DocumentCommand):
    """Change training settings; consecutive edits of the same settings merge."""

    changes = frozenset({CONFIG})
    dry_run = False

    def __init__(
        self, doc: ProjectDocument, changes: Mapping[str, Any], replace: bool = False
    ) -> None:
        super().__init__(doc, "Change training settings")
        self.keys = frozenset(changes)
        self.old = copy.deepcopy(doc.project.train_config)
        self.new = dict(changes) if replace else {**self.old, **changes}
        self.replace = replace

    def validate(self, project: Project) -> None:
        from engines.training import TrainConfig  # torch: only when settings are edited

        TrainConfig.from_dict(self.new)  # ConfigError says what is wrong

    def _set(self, project: Project, values: Mapping[str, Any]) -> None:
        project.train_config.clear()  # same dict object: views may hold on to it
        project.train_config.update(copy.deepcopy(dict(values)))

    def apply(self, project: Project) -> None:
        self._set(project, self.new)

    def revert(self, project: Project) -> None:
        self._set(project, self.old)

    def id(self) -> int:
        return _CONFIG_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # Qt's name, hence camelCase
        if not isinstance(other, SetTrainConfigCommand) or other.replace or other.keys != self.keys:
            return False
        self.new = other.new
        self.setObsolete(self.new == self.old)
        return True


class SetDataCommand(DocumentCommand):
    """Choose the project's data: its spec, fingerprint and embedded source, as one step.

    The same step may fit the network to the data (``params``: ``(node_id, name, value)``,
    e.g. the input's shape and the head's size) and the training settings to its task
    (``config``: settings to change, e.g. the objective).
    """

    changes = frozenset({DATA, GRAPH, CONFIG})
    dry_run = False

    def __init__(
        self,
        doc: ProjectDocument,
        data: Mapping[str, Any],
        fingerprint: str,
        source: tuple[str, bytes] | None = None,
        params: Sequence[tuple[str, str, Any]] = (),
        config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(doc, "Choose data")
        project = doc.project
        self.params: list[tuple[str, str, Any, Any]] = []
        for node_id, name, value in params:
            node = doc.graph.node(node_id)  # GraphError for a missing node
            _check_param(node_id, node.type, name, value)
            old = copy.deepcopy(node.params.get(name))
            self.params.append((node_id, name, old, _normalise(value)))
        self.old_data, self.new_data = copy.deepcopy(project.data), copy.deepcopy(dict(data))
        self.old_fingerprint, self.new_fingerprint = project.data_fingerprint, fingerprint
        # the source entries that session.load_data reads (data/source.csv, ...)
        self.old_sources = {
            k: v for k, v in project.embedded.items() if k.startswith("data/source")
        }
        self.new_sources = {source[0]: source[1]} if source is not None else {}
        self.old_config = copy.deepcopy(project.train_config)
        self.new_config = {**self.old_config, **dict(config or {})}

    def validate(self, project: Project) -> None:
        if self.new_config != self.old_config:
            from engines.training import TrainConfig

            TrainConfig.from_dict(self.new_config)  # ConfigError says what is wrong

    def _set(self, project: Project, new: bool) -> None:
        data = self.new_data if new else self.old_data
        project.data.clear()  # same dict objects: views may hold on to them
        project.data.update(copy.deepcopy(data))
        project.data_fingerprint = self.new_fingerprint if new else self.old_fingerprint
        for name in [k for k in project.embedded if k.startswith("data/source")]:
            del project.embedded[name]
        project.embedded.update(self.new_sources if new else self.old_sources)
        config = self.new_config if new else self.old_config
        project.train_config.clear()
        project.train_config.update(copy.deepcopy(config))
        for node_id, name, old, value in self.params:
            project.graph.set_param(node_id, name, copy.deepcopy(value if new else old))

    def apply(self, project: Project) -> None:
        self._set(project, True)

    def revert(self, project: Project) -> None:
        self._set(project, False)


# -------------------------------------------------------------------------------- fixes
@dataclass(frozen=True)
class Fix:
    """An obvious repair for one problem in the shape report.

    ``insert_flatten`` is the connection into ``node_id`` to put a Flatten on (or None);
    ``params`` are then set on ``node_id``.
    """

    title: str
    node_id: str
    insert_flatten: Edge | None = None
    params: tuple[tuple[str, Any], ...] = ()


def _in_size_param(node: Node) -> str | None:
    # Layers that can be told their input size; today only Linear has one.
    return "in_features" if "in_features" in node.params else None


# ----------------------------------------------------------------------------- document
class ProjectDocument(QObject):
    """A project with an undo stack; all edits go through its methods.

    Parameters
    ----------
    project
        The project to edit. Its graph, runs and config objects are changed in place.
    """

    graph_changed = Signal()  # the graph was edited (or an edit undone); redraw and re-check
    runs_changed = Signal()  # a run was added, removed or renamed
    config_changed = Signal()  # the training settings changed
    data_changed = Signal()  # the project's data choice changed
    analyses_changed = Signal()  # analyses were added to (or removed from) a run
    dirty_changed = Signal(
        bool
    )  # the project now differs (True) or not (False) from the saved file
    problems_changed = Signal(list)  # the shape report's problems changed; list[Problem]

    def __init__(self, project: Project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self._records_unsaved = False  # runs kept since the last save (not undo steps)
        self._stack = QUndoStack(self)
        self._stack.cleanChanged.connect(self._on_clean_changed)
        self._report: ShapeReport | None = None
        self._problems: list[Problem] | None = None

    # ------------------------------------------------------------------ state
    @property
    def graph(self) -> Graph:
        return self.project.graph

    @property
    def undo_stack(self) -> QUndoStack:
        """The stack, for undo/redo actions and a history view."""
        return self._stack

    @property
    def dirty(self) -> bool:
        """True when the project has edits or new runs that are not saved."""
        return not self._stack.isClean() or self._records_unsaved

    def report(self) -> ShapeReport:
        """The shape report of the current graph (cached until the graph changes)."""
        if self._report is None:
            self._report = analyse(self.graph)
        return self._report

    def problems(self) -> list[Problem]:
        return list(self.report().problems)

    def mark_saved(self) -> None:
        """Record that the project as it is now is what the file holds."""
        self._records_unsaved = False
        self._stack.setClean()

    def save(self, path: Any) -> None:
        """Save the project to ``path`` (atomic) and mark the document clean."""
        from workbench.core.project import save_project

        save_project(self.project, path)
        self.mark_saved()

    def undo(self) -> None:
        self._stack.undo()

    def redo(self) -> None:
        self._stack.redo()

    # ------------------------------------------------------------------- push
    def push(self, command: _C) -> _C:
        """Validate ``command`` against the project, then push (and so apply) it.

        Raises whatever the edit would raise, before anything is pushed or changed.
        """
        command.validate(self.project)
        if command.dry_run:
            command.apply(_scratch(self.project))
        self._stack.push(command)
        return command

    def _changed(self, what: frozenset[str]) -> None:
        # Called by commands after each redo and undo.
        if GRAPH in what:
            self._report = None
        if GRAPH in what or LAYOUT in what:
            self.graph_changed.emit()
        if RUNS in what:
            self.runs_changed.emit()
        if CONFIG in what:
            self.config_changed.emit()
        if DATA in what:
            self.data_changed.emit()
        if ANALYSES in what:
            self.analyses_changed.emit()
        if GRAPH in what:
            problems = self.problems()
            if problems != self._problems:
                self._problems = problems
                self.problems_changed.emit(list(problems))

    def _on_clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(not clean or self._records_unsaved)

    # ------------------------------------------------------------ graph edits
    def add_node(
        self,
        type: str,
        params: Mapping[str, Any] | None = None,
        position: Position = (0.0, 0.0),
        id: str | None = None,
    ) -> str:
        """Add a node of layer ``type``; returns its id."""
        return self.push(AddNodeCommand(self, type, params, position, id)).node_id

    def remove_nodes(self, node_ids: Iterable[str]) -> None:
        """Remove nodes and every connection to them, as one undo step."""
        self.push(RemoveNodesCommand(self, node_ids))

    # Not named connect/disconnect: those would hide QObject's signal methods.
    def connect_nodes(
        self, src: str, dst: str, src_port: str = "out", dst_port: str = "in"
    ) -> Edge:
        """Connect ``src.src_port`` to ``dst.dst_port``; GraphError when refused."""
        return self.push(ConnectCommand(self, src, dst, src_port, dst_port)).edge

    def disconnect_edge(self, edge: Edge) -> None:
        """Remove one connection; GraphError if there is no such connection."""
        self.push(DisconnectCommand(self, edge))

    def remove_items(self, node_ids: Iterable[str], edges: Iterable[Edge] = ()) -> None:
        """Remove nodes (with their connections) and more connections, as one undo step."""
        self.push(RemoveNodesCommand(self, node_ids, edges))

    def disconnect_all(self, node_id: str) -> int:
        """Remove every connection into and out of a node as one step; returns how many."""
        self.graph.node(node_id)  # GraphError for a missing node
        edges = [e for e in self.graph.edges if node_id in (e.src, e.dst)]
        if edges:
            command = RemoveNodesCommand(self, (), edges)
            command.setText(f"Disconnect {node_id}")
            self.push(command)
        return len(edges)

    def reconnect(
        self, old: Edge, src: str, dst: str, src_port: str = "out", dst_port: str = "in"
    ) -> Edge:
        """Replace connection ``old`` by ``src.src_port -> dst.dst_port`` in one step."""
        new = Edge(src, src_port, dst, dst_port)
        if new == old:
            return old
        commands: list[DocumentCommand] = [
            DisconnectCommand(self, old),
            ConnectCommand(self, src, dst, src_port, dst_port),
        ]
        self.push(CompoundCommand(self, f"Reconnect {old.src} to {dst}", commands))
        return new

    def set_param(self, node_id: str, name: str, value: Any, merge: bool = True) -> None:
        """Set a parameter; consecutive edits of it merge unless ``merge`` is False.

        A value the layer's :class:`~engines.catalog.ParamSpec` refuses raises GraphError.
        """
        command = SetParamCommand(self, node_id, name, value)
        if command.new == command.old:
            return  # nothing to undo
        command.merge = merge
        self.push(command)

    def move_nodes(self, positions: Mapping[str, Position], merge: bool = True) -> None:
        """Move nodes to new positions.

        Consecutive moves of the same set of nodes merge into one undo step (a drag); pass
        ``merge=False`` on the first move of a new drag to start a new step.
        """
        command = MoveNodesCommand(self, positions)
        if command.new == command.old:
            return
        command.merge = merge
        self.push(command)

    def copy_nodes(self, node_ids: Iterable[str]) -> dict[str, Any]:
        """A JSON-able fragment of the nodes and the connections among them (a clipboard)."""
        ids = list(dict.fromkeys(node_ids))
        chosen = set(ids)
        return {
            "nodes": [self.graph.node(nid).to_dict() for nid in ids],
            "edges": [e.to_dict() for e in self.graph.edges if e.src in chosen and e.dst in chosen],
        }

    def paste(self, fragment: Mapping[str, Any], offset: Position = PASTE_OFFSET) -> list[str]:
        """Paste a :meth:`copy_nodes` fragment under fresh ids; returns the new ids."""
        return self.push(PasteCommand(self, fragment, offset)).new_ids

    def duplicate(self, node_ids: Iterable[str], offset: Position = PASTE_OFFSET) -> list[str]:
        """Copy and paste in one step; returns the new ids."""
        return self.paste(self.copy_nodes(node_ids), offset)

    def insert_node_on_edge(
        self, edge: Edge, type: str, params: Mapping[str, Any] | None = None
    ) -> str:
        """Put a new node of ``type`` into ``edge``; returns its id."""
        return self.push(InsertNodeOnEdgeCommand(self, edge, type, params)).node_id

    def arrange_nodes(self, layer_gap: float = 220.0, node_gap: float = 110.0,
                      max_width: float | None = None) -> bool:
        """Lay the graph out in layers, left to right, as one undo step; wider than
        ``max_width`` (scene units), it wraps into bands.

        Returns False when every node already stands where the layout puts it.
        """
        from engines.layout import arrange_graph  # scipy: only when arranging

        positions = arrange_graph(self.graph, layer_gap=layer_gap, node_gap=node_gap,
                                  max_width=max_width)
        if not positions:
            return False
        command = ArrangeNodesCommand(self, positions)
        if command.new == command.old:
            return False
        self.push(command)
        return True

    # ------------------------------------------------------------- run edits
    def add_run(self, run: Run, activate: bool = True) -> None:
        """Keep a finished run (ValueError for a bad or repeated id).

        A trained run is a record, not an edit: it is not an undo step (Ctrl+Z never throws a
        trained model away; deleting a run is explicit, confirmed and undoable). It marks the
        project unsaved until the next save.
        """
        command = AddRunCommand(self, run, activate)
        command.validate(self.project)
        command.redo()
        if not self._records_unsaved:
            self._records_unsaved = True
            self.dirty_changed.emit(True)

    def rename_run(self, run_id: str, name: str) -> None:
        """Rename a run (KeyError for an unknown one; ValueError for an empty, too long or
        already used name)."""
        command = RenameRunCommand(self, run_id, check_run_name(self.project, run_id, name))
        if command.new != command.old:
            self.push(command)

    def remove_run(self, run_id: str) -> None:
        """Remove a run (KeyError for an unknown one)."""
        self.push(RemoveRunCommand(self, run_id))

    def remove_runs(self, run_ids: Iterable[str]) -> None:
        """Remove several runs as one undo step (KeyError for an unknown one)."""
        ids = list(dict.fromkeys(run_ids))
        if len(ids) == 1:
            self.remove_run(ids[0])
            return
        order = {r.id: i for i, r in enumerate(self.project.runs)}
        for rid in ids:
            self.project.run(rid)  # KeyError before anything changes
        # highest index first: undo then re-inserts each run where it was
        ids.sort(key=lambda rid: order[rid], reverse=True)
        commands: list[DocumentCommand] = [RemoveRunCommand(self, rid) for rid in ids]
        if commands:
            self.push(CompoundCommand(self, f"Remove {len(commands)} runs", commands))

    def add_analyses(self, run_id: str, analyses: Sequence[Any], text: str = "") -> None:
        """Keep analyses with a run as one undo step (KeyError for an unknown run,
        ValueError for a bad or repeated id)."""
        self.push(AddAnalysesCommand(self, run_id, analyses, text))

    def set_active_run(self, run_id: str) -> None:
        """Make a run the current one (KeyError for an unknown one).

        Which run is current is what the user looks at, not an edit of the project: it is not
        an undo step (Ctrl+Z never jumps to another run), and every dock follows it.
        """
        command = SetActiveRunCommand(self, run_id)
        if command.old != run_id:
            command.redo()

    def set_train_config(self, changes: Mapping[str, Any], replace: bool = False) -> None:
        """Change training settings (all of them if ``replace``); ConfigError when invalid."""
        command = SetTrainConfigCommand(self, changes, replace)
        if command.new != command.old:
            self.push(command)

    # ------------------------------------------------------------ data edits
    def set_data(
        self,
        data: Mapping[str, Any],
        fingerprint: str,
        source: tuple[str, bytes] | None = None,
        params: Sequence[tuple[str, str, Any]] = (),
        config: Mapping[str, Any] | None = None,
    ) -> None:
        """Make ``data`` (a ``DataSpec.to_dict()``) the project's data, as one undo step.

        ``source`` is the ``(archive name under data/, bytes)`` to embed (None for a
        built-in); ``params`` and ``config`` fit the network and the training settings to
        the data in the same step (see :class:`SetDataCommand`). GraphError or ConfigError
        when they are refused; nothing changes then.
        """
        self.push(SetDataCommand(self, data, fingerprint, source, params, config))

    # ------------------------------------------------------------------- fixes
    def suggest_fix(self, problem: Problem) -> Fix | None:
        """The obvious repair for ``problem``, or None when there is none.

        A Linear fed a multi-dimensional tensor (say a convolution's ``(C, H, W)``) while
        expecting a flat vector gets a Flatten in front of it; a Linear told the wrong input
        size gets the size it receives.
        """
        if problem.kind != "shape" or problem.node_id not in self.graph.nodes:
            return None
        node = self.graph.nodes[problem.node_id]
        param = _in_size_param(node)
        feeds = self.graph.inputs_of(node.id)
        if param is None or len(feeds) != 1:
            return None
        edge = feeds[0]
        shape = self.report().node_shapes.get(edge.src)
        if not shape:
            return None
        wanted = node.params[param]
        if len(shape) > 1:
            size = math.prod(shape)
            params = () if wanted in (None, size) else ((param, size),)
            return Fix(
                f"Insert a Flatten between '{edge.src}' and '{node.id}'",
                node.id,
                insert_flatten=edge,
                params=params,
            )
        if wanted is not None and wanted != shape[0]:
            return Fix(
                f"Set {param} of '{node.id}' to {shape[0]}", node.id, params=((param, shape[0]),)
            )
        return None

    def fixes(self) -> list[Fix]:
        """Suggested repairs for the current problems, one per problem that has one."""
        found = (self.suggest_fix(p) for p in self.report().problems)
        return [f for f in found if f is not None]

    def apply_fix(self, fix: Fix) -> None:
        """Apply a :class:`Fix` as one undo step."""
        commands: list[DocumentCommand] = []
        if fix.insert_flatten is not None:
            commands.append(InsertNodeOnEdgeCommand(self, fix.insert_flatten, "flatten"))
        commands += [SetParamCommand(self, fix.node_id, k, v) for k, v in fix.params]
        self.push(CompoundCommand(self, fix.title, commands))

    def fix(self, problem: Problem) -> Fix | None:
        """Apply the obvious repair for ``problem``; returns it, or None when there is none."""
        found = self.suggest_fix(problem)
        if found is not None:
            self.apply_fix(found)
        return found
