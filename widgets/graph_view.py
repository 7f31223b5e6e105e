"""A view of a network graph: nodes as boxes with their ports, edges labelled with shapes.

Plain data in (dicts of nodes, edges, shapes and problems), Qt signals out. The view never
holds the graph itself: the application pushes a fresh description after every change.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

NODE_W, NODE_H = 150.0, 62.0

_CATEGORY_COLOURS = {
    "io": "#6b7a8f",
    "dense": "#3d7ab8",
    "convolution": "#2e8b57",
    "pooling": "#5f9e6e",
    "recurrent": "#a0522d",
    "attention": "#8a4baf",
    "normalisation": "#b8860b",
    "activation": "#c0504d",
    "merge": "#4682b4",
    "shape": "#708090",
    "regularisation": "#808000",
    "embedding": "#9b59b6",
}


class NodeItem(QGraphicsRectItem):
    """One node box: title, type and parameter count; red outline when it has a problem."""

    def __init__(self, node: dict[str, Any], subtitle: str, problem: str | None) -> None:
        super().__init__(0, 0, NODE_W, NODE_H)
        self.node_id = str(node["id"])
        colour = QColor(_CATEGORY_COLOURS.get(str(node.get("category", "")), "#607d8b"))
        self.setBrush(QBrush(colour.lighter(170)))
        pen = QPen(QColor("#d32f2f") if problem else colour.darker(130), 3 if problem else 1.5)
        self.setPen(pen)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setPos(QPointF(*node.get("position", (0.0, 0.0))))
        title = QGraphicsSimpleTextItem(str(node.get("title", node["type"])), self)
        f = QFont()
        f.setBold(True)
        title.setFont(f)
        title.setPos(8, 6)
        ident = QGraphicsSimpleTextItem(self.node_id, self)
        ident.setBrush(QBrush(QColor("#37474f")))
        ident.setPos(8, 24)
        sub = QGraphicsSimpleTextItem(subtitle, self)
        sub.setBrush(QBrush(QColor("#455a64")))
        sub.setPos(8, 41)
        tip = f"{node.get('title', node['type'])} ({self.node_id})"
        if node.get("help"):
            tip += f"\n{node['help']}"
        if problem:
            tip += f"\n\nProblem: {problem}"
        self.setToolTip(tip)


class GraphView(QGraphicsView):
    """Shows a graph; zoom with Ctrl+wheel, pan by dragging the background."""

    node_selected = Signal(str)  # the user selected the node with this id ("" for none)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.scene().selectionChanged.connect(self._on_selection)
        self.node_items: dict[str, NodeItem] = {}
        self.edge_labels: list[str] = []

    def set_graph(
        self,
        nodes: list[dict[str, Any]],
        edges: list[dict[str, Any]],
        problems: dict[str, str] | None = None,
    ) -> None:
        """Replace the drawing.

        ``nodes``: dicts with id, type, title, category, position, params_count, help.
        ``edges``: dicts with src, dst and an optional ``label`` (the tensor shape).
        ``problems``: node id -> one-sentence reason.
        """
        problems = problems or {}
        scene = self.scene()
        scene.clear()
        self.node_items = {}
        self.edge_labels = []
        for node in nodes:
            count = int(node.get("params_count", 0) or 0)
            subtitle = f"{count:,} params" if count else str(node.get("shape_text", ""))
            item = NodeItem(node, subtitle, problems.get(str(node["id"])))
            scene.addItem(item)
            self.node_items[item.node_id] = item
        pen = QPen(QColor("#546e7a"), 1.6)
        for edge in edges:
            a, b = self.node_items.get(str(edge["src"])), self.node_items.get(str(edge["dst"]))
            if a is None or b is None:
                continue
            start = a.pos() + QPointF(NODE_W, NODE_H / 2)
            end = b.pos() + QPointF(0, NODE_H / 2)
            path = QPainterPath(start)
            dx = max(40.0, abs(end.x() - start.x()) / 2)
            path.cubicTo(start + QPointF(dx, 0), end - QPointF(dx, 0), end)
            item = QGraphicsPathItem(path)
            item.setPen(pen)
            item.setZValue(-1)
            scene.addItem(item)
            label = str(edge.get("label", ""))
            if label:
                text = QGraphicsSimpleTextItem(label)
                text.setBrush(QBrush(QColor("#263238")))
                mid = path.pointAtPercent(0.5)
                text.setPos(mid + QPointF(-text.boundingRect().width() / 2, -18))
                scene.addItem(text)
                self.edge_labels.append(label)
        self.zoom_to_fit()

    def select_node(self, node_id: str) -> None:
        """Select one node (e.g. again after a redraw), without emitting for others."""
        item = self.node_items.get(node_id)
        if item is not None:
            self.scene().clearSelection()
            item.setSelected(True)

    def zoom_to_fit(self) -> None:
        rect = self.scene().itemsBoundingRect()
        if rect.isEmpty():
            return
        self.fitInView(rect.adjusted(-30, -30, 30, 30), Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > 1.4:  # don't blow a small graph up to giant boxes
            self.resetTransform()
            self.centerOn(rect.center())

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt override)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
            self.scale(factor, factor)
        else:
            super().wheelEvent(event)

    def _on_selection(self) -> None:
        selected = [i for i in self.scene().selectedItems() if isinstance(i, NodeItem)]
        self.node_selected.emit(selected[0].node_id if selected else "")

    def scene_rect(self) -> QRectF:
        return self.scene().itemsBoundingRect()


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    view = GraphView()
    view.set_graph(
        [
            {"id": "input", "type": "input", "title": "Input", "category": "io", "position": (0, 0)},
            {"id": "fc1", "type": "linear", "title": "Linear", "category": "dense",
             "position": (200, 0), "params_count": 8320},
            {"id": "output", "type": "output", "title": "Output", "category": "io", "position": (400, 0)},
        ],
        [{"src": "input", "dst": "fc1", "label": "64"}, {"src": "fc1", "dst": "output", "label": "10"}],
        {"output": "example problem"},
    )
    view.resize(700, 300)
    view.show()
    app.exec()
