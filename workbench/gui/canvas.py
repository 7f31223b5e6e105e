"""The graph editor's controller: canvas requests become document commands.

:class:`CanvasController` sits between a :class:`~widgets.graph.canvas.GraphView` (and its
:class:`~widgets.graph.canvas.ProblemsPanel`) and a
:class:`~workbench.gui.document.ProjectDocument`. The view only asks ("connect these ports",
"these nodes were dragged here"); the controller checks the request, pushes one undoable
command, and after every change of the document pushes a fresh description of the graph
back to the view. Nothing is ever read back out of the graphics items to be saved.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QMimeData, QObject, QPointF, Signal
from PySide6.QtGui import QGuiApplication

from engines.catalog import LAYERS, get_layer
from engines.graph import Edge, GraphError
from widgets.graph.canvas import NODE_H, NODE_W, READABLE_ZOOM, EdgeKey, GraphView, ProblemsPanel
from workbench.gui.document import PASTE_OFFSET, ProjectDocument

__all__ = ["GRAPH_MIME_TYPE", "CanvasController"]

#: Copied layers on the clipboard: a JSON fragment ``{"nodes": [...], "edges": [...]}``.
GRAPH_MIME_TYPE = "application/x-workbench-graph"

# The special layers a network has exactly one of; the last one of each is kept on delete.
_KEEP_ONE = ("input", "output")


def _flops_text(flops: int) -> str:
    """``1.2 MFLOPs``: the multiply-add count of the layers whose cost is known."""
    for unit, size in (("GFLOPs", 1e9), ("MFLOPs", 1e6), ("kFLOPs", 1e3)):
        if flops >= size:
            return f"{flops / size:.3g} {unit}"
    return f"{flops} FLOPs"


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return "×".join(map(str, shape)) if shape else ""


class CanvasController(QObject):
    """Turns a graph view's requests into commands on a project document.

    Parameters
    ----------
    view
        The canvas.
    problems
        The problems list, or None.
    """

    status_message = Signal(str)  # a hint, a result or the reason an edit was refused
    nodes_added = Signal(list)  # ids of nodes the user just added, pasted or duplicated

    def __init__(
        self,
        view: GraphView,
        problems: ProblemsPanel | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.view = view
        self.problems = problems
        self.doc: ProjectDocument | None = None
        self.read_only = False
        self._revision = 0  # counts graph changes, for the reachability cache
        self._ancestors: dict[tuple[int, str, EdgeKey | None], set[str]] = {}
        self._pastes = 0
        self._last_clip = ""
        self._choices_set = False
        self._last_nudge: tuple[frozenset[str], int] | None = None
        view.set_connection_check(self.can_connect)
        view.node_drop_requested.connect(self.add_node_at)
        view.node_add_requested.connect(self.add_node_at)
        view.connection_requested.connect(self.connect_ports)
        view.edge_reconnected.connect(self.reconnect)
        view.set_replace_check(self.replaceable)
        view.edge_replaced.connect(self.replace)
        view.edge_detached.connect(self.detach)
        view.nodes_moved.connect(lambda positions: self.move(positions, merge=False))
        view.nodes_nudged.connect(self.nudge)
        view.delete_requested.connect(self.delete)
        view.copy_requested.connect(self.copy)
        view.paste_requested.connect(self.paste)
        view.duplicate_requested.connect(self.duplicate)
        view.fix_requested.connect(self.fix_node)
        view.disconnect_all_requested.connect(self.disconnect_all)
        view.status_message.connect(self.status_message)
        if problems is not None:
            problems.problem_chosen.connect(self.show_node)
            problems.fix_requested.connect(self.fix_node)

    # ---------------------------------------------------------------- document
    def set_document(self, doc: ProjectDocument | None) -> None:
        """Edit ``doc`` from now on (None: show nothing); the view starts afresh."""
        if self.doc is not None:
            self.doc.graph_changed.disconnect(self._on_graph_changed)
        self.doc = doc
        self._pastes = 0
        self.view.clear()
        if doc is not None and not self._choices_set:
            get_layer("input")  # loads the catalog (after the window is painted)
            self.view.set_layer_choices(
                [(s.id, s.title) for s in LAYERS.values() if s.id not in _KEEP_ONE]
            )
            self._choices_set = True
        if doc is not None:
            doc.graph_changed.connect(self._on_graph_changed)
        self._on_graph_changed()

    def show_preview(self, graph: Any, note: str) -> None:
        """Draw ``graph`` before its project exists (no shapes, no editing), with ``note`` in
        the corner; the next :meth:`set_document` replaces it."""
        if self.doc is not None:
            self.doc.graph_changed.disconnect(self._on_graph_changed)
            self.doc = None
        self.view.clear()
        nodes = []
        for n in graph.nodes.values():
            spec = get_layer(n.type)
            nodes.append({
                "id": n.id, "type": n.type, "title": spec.title, "category": spec.category,
                "help": spec.help, "position": n.position, "params_count": 0, "shape_text": "",
                "inputs": [{"name": p.name, "help": p.help, "shape": ""} for p in spec.inputs],
                "outputs": [{"name": p.name, "help": p.help, "shape": ""} for p in spec.outputs],
                "fix": "",
            })
        edges = [{"src": e.src, "src_port": e.src_port, "dst": e.dst, "dst_port": e.dst_port,
                  "label": ""} for e in graph.edges]
        self.view.set_graph(nodes, edges)
        self.view.set_summary(note)
        self.view.zoom_to_fit()

    def set_read_only(self, read_only: bool) -> None:
        """Refuse edits (while a run trains: its graph must stay as it started)."""
        self.read_only = read_only
        self.view.set_read_only(read_only)

    def _on_graph_changed(self) -> None:
        self._revision += 1
        self._ancestors.clear()
        self.refresh()

    def refresh(self) -> None:
        """Push the document's graph, shapes, parameter counts and problems to the view."""
        doc = self.doc
        if doc is None:
            self.view.set_graph([], [])
            self.view.set_summary("")
            if self.problems is not None:
                self.problems.set_problems([])
            return
        graph = doc.graph
        report = doc.report()  # cached by the document, recomputed only after an edit
        fixes = {}
        for fix in doc.fixes():
            fixes.setdefault(fix.node_id, fix.title)
        in_shapes = {(e.dst, e.dst_port): report.edge_shapes.get(e) for e in graph.edges}
        nodes = []
        for n in graph.nodes.values():
            spec = get_layer(n.type)
            shape = report.node_shapes.get(n.id)
            nodes.append({
                "id": n.id,
                "type": n.type,
                "title": spec.title,
                "category": spec.category,
                "help": spec.help,
                "position": n.position,
                "params_count": report.param_counts.get(n.id, 0),
                "flops": report.flops.get(n.id),
                "shape_text": _shape_text(shape),
                "inputs": [
                    {"name": p.name, "help": p.help,
                     "shape": _shape_text(in_shapes.get((n.id, p.name)))}
                    for p in spec.inputs
                ],
                "outputs": [
                    {"name": p.name, "help": p.help, "shape": _shape_text(shape)}
                    for p in spec.outputs
                ],
                "fix": fixes.get(n.id, ""),
            })
        edges = [
            {"src": e.src, "src_port": e.src_port, "dst": e.dst, "dst_port": e.dst_port,
             "label": _shape_text(report.edge_shapes.get(e) or report.node_shapes.get(e.src))}
            for e in graph.edges
        ]
        problems: dict[str, str] = {}
        warnings: dict[str, str] = {}
        for p in report.problems:
            if p.node_id:
                into = problems if p.severity == "error" else warnings
                into[p.node_id] = f"{into[p.node_id]} {p.message}" if p.node_id in into else p.message
        self.view.set_graph(nodes, edges, problems, warnings)
        errors = len(report.errors)
        summary = f"{len(nodes)} layers · {report.total_params:,} parameters"
        if report.flops:
            summary += f" · {_flops_text(report.total_flops)} per sample"
        if errors:
            summary += f" · {errors} problem{'s' * (errors != 1)}"
        self.view.set_summary(summary)
        if self.problems is not None:
            self.problems.set_problems([
                {"node_id": p.node_id, "message": p.message, "severity": p.severity,
                 "fix": (f.title if (f := doc.suggest_fix(p)) is not None else "")}
                for p in report.problems
            ])

    # ------------------------------------------------------------- checking
    def can_connect(
        self,
        src: str,
        src_port: str,
        dst: str,
        dst_port: str,
        ignoring: EdgeKey | None = None,
    ) -> str | None:
        """None if ``src.src_port -> dst.dst_port`` may be added, else the reason.

        ``ignoring`` is a connection that is being moved (treated as already gone).
        """
        if self.doc is None:
            return "No project is open."
        graph = self.doc.graph
        for nid in (src, dst):
            if nid not in graph.nodes:
                return f"There is no layer '{nid}'."
        if src == dst:
            return "A layer cannot be connected to itself."
        s_spec, d_spec = get_layer(graph.nodes[src].type), get_layer(graph.nodes[dst].type)
        if src_port not in s_spec.output_names:
            if src_port in s_spec.input_names:
                return (f"'{src}.{src_port}' is an input: a connection starts at an output "
                        "(the ports on a layer's right side).")
            return f"'{src}' ({s_spec.title}) has no output '{src_port}'."
        if dst_port not in d_spec.input_names:
            if dst_port in d_spec.output_names:
                return (f"'{dst}.{dst_port}' is an output: connect an output to an input "
                        "(the ports on a layer's left side).")
            if not d_spec.inputs:
                return f"'{dst}' ({d_spec.title}) takes no input."
            return (f"'{dst}' ({d_spec.title}) has no input '{dst_port}'; its inputs are "
                    f"{', '.join(d_spec.input_names)}.")
        for e in graph.edges:
            if e.dst == dst and e.dst_port == dst_port and _key(e) != ignoring:
                return (f"Input '{dst_port}' of '{dst}' is already connected to '{e.src}'; "
                        "drop a new connection on it to replace that one.")
        if dst in self._feeding(src, ignoring):
            return f"Connecting '{src}' to '{dst}' would make a cycle: '{dst}' already feeds '{src}'."
        return None

    def _feeding(self, node_id: str, ignoring: EdgeKey | None) -> set[str]:
        """Every node with a path to ``node_id`` (cached: a drag asks once per input port)."""
        key = (self._revision, node_id, ignoring)
        found = self._ancestors.get(key)
        if found is None:
            assert self.doc is not None
            preds: dict[str, list[str]] = {}
            for e in self.doc.graph.edges:
                if _key(e) != ignoring:
                    preds.setdefault(e.dst, []).append(e.src)
            found, todo = set(), [node_id]
            while todo:
                for p in preds.get(todo.pop(), ()):
                    if p not in found:
                        found.add(p)
                        todo.append(p)
            self._ancestors[key] = found
        return found

    def _editable(self) -> ProjectDocument | None:
        if self.doc is None:
            return None
        if self.read_only:
            self.status_message.emit("The network cannot change while a run trains.")
            return None
        return self.doc

    def _refused(self, what: str, exc: Exception) -> None:
        self.status_message.emit(f"{what}: {exc}")

    # ---------------------------------------------------------------- edits
    def add_node_at(self, layer_id: str, position: QPointF) -> str | None:
        """Add a layer with its top-left at ``position`` (a drop or the search box)."""
        doc = self._editable()
        if doc is None:
            return None
        try:
            node_id = doc.add_node(layer_id, position=(position.x(), position.y()))
        except GraphError as exc:
            self._refused("The layer could not be added", exc)
            return None
        self.view.select_node(node_id)
        self.status_message.emit(f"Added {node_id}.")
        self.nodes_added.emit([node_id])
        return node_id

    def connect_ports(self, src: str, src_port: str, dst: str, dst_port: str) -> bool:
        """Connect two ports (one undo step); a refusal says why on the status line."""
        doc = self._editable()
        if doc is None:
            return False
        reason = self.can_connect(src, src_port, dst, dst_port)
        if reason is None:
            try:
                doc.connect_nodes(src, dst, src_port, dst_port)
            except GraphError as exc:
                reason = str(exc)
        if reason is not None:
            self.status_message.emit(f"Not connected: {reason}")
            return False
        self.status_message.emit(f"Connected {src}.{src_port} → {dst}.{dst_port}.")
        return True

    def replaceable(self, src: str, src_port: str, dst: str, dst_port: str) -> EdgeKey | None:
        """The connection feeding ``dst.dst_port`` if ``src.src_port`` may take its place
        (acceptable once that one is gone: no cycle, the right kind of ports), else None."""
        if self.doc is None or self.read_only:
            return None
        occupant = next((e for e in self.doc.graph.edges
                         if e.dst == dst and e.dst_port == dst_port), None)
        if occupant is None or (occupant.src, occupant.src_port) == (src, src_port):
            return None
        key = _key(occupant)
        return key if self.can_connect(src, src_port, dst, dst_port, ignoring=key) is None else None

    def replace(self, old: EdgeKey, new: EdgeKey) -> bool:
        """A new connection takes an occupied input: the old one goes (one undo step)."""
        return self.reconnect(old, new, replacing=True)

    def reconnect(self, old: EdgeKey, new: EdgeKey, *, replacing: bool = False) -> bool:
        """Move a connection to another input, or (``replacing``) give an input a new
        source (one undo step either way)."""
        doc = self._editable()
        if doc is None:
            return False
        reason = self.can_connect(*new, ignoring=old)
        if reason is None:
            try:
                doc.reconnect(_edge(old), new[0], new[2], new[1], new[3])
            except GraphError as exc:
                reason = str(exc)
        if reason is not None:
            self.status_message.emit(f"Not {'replaced' if replacing else 'reconnected'}: {reason}")
            return False
        self.status_message.emit(
            f"Replaced {old[0]} → {new[2]}.{new[3]} with {new[0]}." if replacing
            else f"Reconnected {new[0]} → {new[2]}.{new[3]}.")
        return True

    def detach(self, key: EdgeKey) -> bool:
        """Remove a connection dragged off its input and dropped on nothing."""
        doc = self._editable()
        if doc is None:
            return False
        try:
            doc.disconnect_edge(_edge(key))
        except GraphError as exc:
            self._refused("Not disconnected", exc)
            return False
        self.status_message.emit(f"Disconnected {key[0]} → {key[2]}.")
        return True

    def move(self, positions: dict[str, tuple[float, float]], merge: bool = False) -> None:
        """Move nodes; one undo step per drag (``merge`` joins keyboard nudges)."""
        doc = self._editable()
        if doc is None:
            self.refresh()  # put the dragged items back where the document has them
            return
        known = {k: v for k, v in positions.items() if k in doc.graph.nodes}
        if known:
            try:
                doc.move_nodes(known, merge=merge)
            except GraphError as exc:
                self._refused("Not moved", exc)
                self.refresh()

    def nudge(self, positions: dict[str, tuple[float, float]]) -> None:
        """Move nodes by a key press; a run of presses on the same nodes is one undo step."""
        doc = self.doc
        if doc is None:
            return
        run = (frozenset(positions), doc.undo_stack.index())
        self.move(positions, merge=run == self._last_nudge)
        self._last_nudge = (frozenset(positions), doc.undo_stack.index())

    def delete(self, node_ids: Iterable[str], edges: Iterable[EdgeKey] = ()) -> list[str]:
        """Delete nodes (with their connections) and connections as one undo step.

        The last input and the last output layer are kept. Returns the deleted node ids.
        """
        doc = self._editable()
        if doc is None:
            return []
        graph = doc.graph
        ids = [n for n in dict.fromkeys(node_ids) if n in graph.nodes]
        kept = []
        for special in _KEEP_ONE:
            chosen = [n for n in ids if graph.nodes[n].type == special]
            if chosen and len(graph.nodes_of_type(special)) == len(chosen):
                kept.append(chosen[0])
                ids.remove(chosen[0])
        gone = [e for e in map(_edge, edges) if e in graph.edges]
        if not ids and not gone:
            if kept:
                self.status_message.emit(
                    f"'{kept[0]}' stays: a network needs its input and output layers."
                )
            return []
        try:
            doc.remove_items(ids, gone)
        except GraphError as exc:
            self._refused("Not deleted", exc)
            return []
        what = ", ".join(ids) if ids else f"{len(gone)} connection(s)"
        note = f" ('{kept[0]}' stays: a network needs its input and output)" if kept else ""
        self.status_message.emit(f"Deleted {what}.{note}")
        return ids

    def disconnect_all(self, node_id: str) -> int:
        doc = self._editable()
        if doc is None:
            return 0
        try:
            count = doc.disconnect_all(node_id)
        except GraphError as exc:
            self._refused("Not disconnected", exc)
            return 0
        self.status_message.emit(f"Removed {count} connection(s) of {node_id}.")
        return count

    # -------------------------------------------------------- clipboard
    def copy(self, node_ids: Iterable[str]) -> bool:
        """Put the nodes and the connections among them on the clipboard (JSON)."""
        if self.doc is None:
            return False
        ids = [n for n in node_ids if n in self.doc.graph.nodes]
        if not ids:
            return False
        text = json.dumps(self.doc.copy_nodes(ids), indent=1)
        mime = QMimeData()
        mime.setData(GRAPH_MIME_TYPE, text.encode("utf-8"))
        mime.setText(text)  # readable, and pastable into another window or a text file
        QGuiApplication.clipboard().setMimeData(mime)
        self._pastes = 0
        self._last_clip = text
        self.status_message.emit(f"Copied {len(ids)} layer(s).")
        return True

    def paste(self, at: QPointF | None = None) -> list[str]:
        """Paste copied layers: at ``at`` (top-left), or offset from where they were copied."""
        doc = self._editable()
        if doc is None:
            return []
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and mime.hasFormat(GRAPH_MIME_TYPE):
            text = bytes(mime.data(GRAPH_MIME_TYPE).data()).decode("utf-8", "replace")
        else:
            text = mime.text() if mime is not None else ""
        try:
            fragment = json.loads(text)
        except ValueError:
            fragment = None
        if not isinstance(fragment, dict) or not fragment.get("nodes"):
            self.status_message.emit("The clipboard holds no layers to paste.")
            return []
        if at is not None:
            try:
                left = min(float(n["position"][0]) for n in fragment["nodes"])
                top = min(float(n["position"][1]) for n in fragment["nodes"])
            except (KeyError, TypeError, ValueError, IndexError):
                left = top = 0.0
            offset = (at.x() - left, at.y() - top)
        else:
            # pasting the same layers again steps further, so copies do not pile up
            self._pastes = self._pastes + 1 if text == self._last_clip else 1
            self._last_clip = text
            offset = (PASTE_OFFSET[0] * self._pastes, PASTE_OFFSET[1] * self._pastes)
        try:
            new = doc.paste(fragment, offset)
        except GraphError as exc:
            self._refused("Nothing pasted", exc)
            return []
        self._added(new, "Pasted")
        return new

    def duplicate(self, node_ids: Iterable[str]) -> list[str]:
        """Copy and paste in one undo step, next to the originals."""
        doc = self._editable()
        if doc is None:
            return []
        ids = [n for n in node_ids if n in doc.graph.nodes]
        if not ids:
            return []
        try:
            new = doc.duplicate(ids)
        except GraphError as exc:
            self._refused("Not duplicated", exc)
            return []
        self._added(new, "Duplicated")
        return new

    def _added(self, new: list[str], verb: str) -> None:
        self.view.select_nodes(new)
        self.status_message.emit(f"{verb} {len(new)} layer(s).")
        self.nodes_added.emit(list(new))

    # ------------------------------------------------------ fixes, layout
    def fix_node(self, node_id: str) -> bool:
        """Apply the fix offered for a problem of ``node_id`` (one undo step)."""
        doc = self._editable()
        if doc is None:
            return False
        fix = next((f for f in doc.fixes() if f.node_id == node_id), None)
        if fix is None:
            self.status_message.emit(f"No fix is offered for '{node_id}'.")
            return False
        try:
            doc.apply_fix(fix)
        except GraphError as exc:
            self._refused("The fix could not be applied", exc)
            return False
        self.status_message.emit(f"Fixed: {fix.title}.")
        return True

    def arrange(self) -> bool:
        """Lay the graph out in layers, left to right (one undo step), and fit it in view."""
        doc = self._editable()
        if doc is None:
            return False
        tallest = max(
            [NODE_H]
            + [item.boundingRect().height() - 6 for item in self.view.node_items.values()]
        )
        # as wide as the canvas shows at a readable zoom: a long chain wraps into bands
        width = self.view.viewport().width() / READABLE_ZOOM - NODE_W - 80
        try:
            moved = doc.arrange_nodes(layer_gap=NODE_W + 90, node_gap=tallest + 46,
                                      max_width=max(width, NODE_W + 90))
        except GraphError as exc:
            self._refused("Not arranged", exc)
            return False
        self.view.zoom_to_fit()
        self.status_message.emit("Arranged the layers." if moved else "Already arranged.")
        return moved

    def show_node(self, node_id: str) -> None:
        """Select a node and bring it into view (e.g. from the problems list)."""
        if node_id in self.view.node_items:
            self.view.select_node(node_id)
            self.view.centre_on_node(node_id)


def _key(e: Edge) -> EdgeKey:
    return (e.src, e.src_port, e.dst, e.dst_port)


def _edge(key: Any) -> Edge:
    src, src_port, dst, dst_port = key
    return Edge(str(src), str(src_port), str(dst), str(dst_port))


if __name__ == "__main__":
    # a preview: the canvas on the demo project, with its problems list
    from PySide6.QtWidgets import QApplication, QSplitter

    from workbench.core.demo import demo_project

    app = QApplication([])
    view, panel = GraphView(), ProblemsPanel()
    doc = ProjectDocument(demo_project())
    controller = CanvasController(view, panel)
    controller.set_document(doc)
    controller.status_message.connect(print)
    splitter = QSplitter()
    splitter.addWidget(view)
    splitter.addWidget(panel)
    splitter.resize(1200, 500)
    splitter.show()
    app.exec()
