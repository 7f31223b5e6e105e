"""The graph editor canvas: nodes with named ports, edges labelled with tensor shapes.

Plain data in (dicts of nodes, edges, shapes and problems), Qt signals out. The view never
holds the graph itself and never changes it: every edit a user makes (dropping a layer,
dragging a connection, moving or deleting nodes...) is emitted as a request; the application
applies it to its document and pushes the new description back with :meth:`GraphView.set_graph`,
which updates only the items that changed.

Also here: :class:`ProblemsPanel`, the list of the graph's problems with their offered fixes.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QPointF, QRectF, QStringListModel, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QContextMenuEvent,
    QCursor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFocusEvent,
    QFont,
    QFontMetricsF,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QCompleter,
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSceneHoverEvent,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QStyle,
    QStyleOptionGraphicsItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from widgets.graph.palette import LAYER_MIME_TYPE

__all__ = ["READABLE_ZOOM", "EdgeKey", "GraphView", "NodeItem", "ProblemsPanel"]

#: One connection as the view names it: (source node, output port, target node, input port).
EdgeKey = tuple[str, str, str, str]
#: ``check(src, src_port, dst, dst_port, ignoring=EdgeKey | None) -> reason or None``.
ConnectionCheck = Callable[..., "str | None"]

NODE_W, NODE_H = 150.0, 64.0
PORT_R = 6.0
_PORT_STEP = 22.0  # vertical room per port when a side has more than two
_SNAP = 18.0  # how near (in view pixels) a dragged wire snaps to a port
_MIN_ZOOM, _MAX_ZOOM = 0.1, 4.0
READABLE_ZOOM = 0.4  # the least zoom at which layer names (13 px at 100 %) can still be read

_CATEGORY_COLOURS = {
    "io": "#6b7a8f",
    "input/output": "#6b7a8f",
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
_ERROR, _WARNING = QColor("#d32f2f"), QColor("#ef8f00")
_OK_PORT, _BAD_PORT = QColor("#2e9d4f"), QColor("#9e9e9e")
_REPLACE_PORT = QColor("#ef6c00")  # an occupied input a drop would take over


def _category_colour(category: str) -> QColor:
    return QColor(_CATEGORY_COLOURS.get(category.casefold(), "#607d8b"))


def _pastel(colour: QColor, amount: float = 0.24) -> QColor:
    """``colour`` mixed into white: a calm card colour that dark text reads well on."""
    return QColor.fromRgbF(
        *(1 - amount + amount * c for c in (colour.redF(), colour.greenF(), colour.blueF()))
    )


def _ports(raw: Iterable[Any]) -> list[dict[str, str]]:
    """Port descriptions as dicts; plain names are accepted too."""
    out = []
    for p in raw:
        if isinstance(p, str):
            out.append({"name": p, "shape": "", "help": ""})
        else:
            out.append({"name": str(p["name"]), "shape": str(p.get("shape") or ""),
                        "help": str(p.get("help") or "")})
    return out


# -------------------------------------------------------------------------------- items
class PortItem(QGraphicsEllipseItem):
    """A small circle on a node's side: an input (left) or an output (right)."""

    def __init__(self, node: NodeItem, name: str, is_input: bool) -> None:
        super().__init__(-PORT_R, -PORT_R, 2 * PORT_R, 2 * PORT_R, node)
        self.node = node
        self.name = name
        self.is_input = is_input
        self.connected = False
        self.state = "normal"
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(2)
        self.label: QGraphicsSimpleTextItem | None = None
        self._paint()

    @property
    def node_id(self) -> str:
        return self.node.node_id

    def describe(self, shape: str, help_text: str) -> None:
        side = "Input" if self.is_input else "Output"
        tip = f"{side} '{self.name}' of {self.node_id}"
        tip += f"\nshape: {shape}" if shape else "\nshape: not known yet"
        if help_text:
            tip += f"\n{help_text}"
        tip += ("\nDrag an output here to connect; drag away to disconnect."
                if self.is_input else "\nDrag to an input port to connect.")
        self.setToolTip(tip)

    def centre(self) -> QPointF:
        return self.scenePos()

    def set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self._paint()

    def set_state(self, state: str) -> None:
        """``normal``, ``source``, ``compatible``, ``replace`` (occupied: a drop replaces its
        connection), ``incompatible`` or ``hover``."""
        if state != self.state:
            self.state = state
            self._paint()

    def _paint(self) -> None:
        colour = _category_colour(self.node.category).darker(140)
        r = PORT_R
        fill = QColor(colour) if self.connected else QColor("#ffffff")
        pen = QPen(colour, 1.5)
        if self.state == "compatible":
            fill, pen, r = QColor(_OK_PORT).lighter(150), QPen(_OK_PORT, 2.5), PORT_R + 2
        elif self.state == "hover":
            fill, pen, r = QColor(_OK_PORT), QPen(_OK_PORT.darker(130), 2.5), PORT_R + 3
        elif self.state == "replace":
            fill, pen, r = QColor(_REPLACE_PORT).lighter(160), QPen(_REPLACE_PORT, 2.5), PORT_R + 2
        elif self.state == "incompatible":
            fill, pen = QColor("#e0e0e0"), QPen(_BAD_PORT, 1.0)
        elif self.state == "source":
            fill, pen, r = QColor(_OK_PORT), QPen(_OK_PORT.darker(130), 2.0), PORT_R + 2
        self.setRect(-r, -r, 2 * r, 2 * r)
        self.setBrush(QBrush(fill))
        self.setPen(pen)
        self.setOpacity(0.45 if self.state == "incompatible" else 1.0)

    def shape(self) -> QPainterPath:
        # a larger target than the circle drawn: ports are small
        path = QPainterPath()
        path.addEllipse(QPointF(0, 0), PORT_R + 5, PORT_R + 5)
        return path

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:  # noqa: N802 (Qt override)
        if self.state == "normal":
            self.setRect(-PORT_R - 2, -PORT_R - 2, 2 * PORT_R + 4, 2 * PORT_R + 4)
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:  # noqa: N802 (Qt override)
        if self.state == "normal":
            self.setRect(-PORT_R, -PORT_R, 2 * PORT_R, 2 * PORT_R)
        super().hoverLeaveEvent(event)


class NodeItem(QGraphicsItem):
    """One node: a card with its title, id and parameter count, ports on its sides.

    A red outline and a "!" badge mark a node with a problem (orange for a warning); the
    tooltip says why.
    """

    def __init__(self, view: GraphView, data: dict[str, Any]) -> None:
        super().__init__()
        self.view = view
        self.node_id = str(data["id"])
        self.category = str(data.get("category", ""))
        self.problem: str | None = None
        self.severity = "error"
        self._fingerprint: Any = None
        self._height = NODE_H
        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges, True)
        self.setAcceptHoverEvents(True)
        self.title = QGraphicsSimpleTextItem(self)
        bold = QFont()
        bold.setBold(True)
        self.title.setFont(bold)
        self.title.setPos(14, 6)
        self.ident = QGraphicsSimpleTextItem(self)
        self.ident.setBrush(QBrush(QColor("#37474f")))
        self.ident.setPos(14, 24)
        self.subtitle = QGraphicsSimpleTextItem(self)
        self.subtitle.setBrush(QBrush(QColor("#455a64")))
        self.subtitle.setPos(14, 42)
        self.fix_title = ""

    # ---------------------------------------------------------------- data
    def apply(self, data: dict[str, Any], problem: str | None, severity: str) -> None:
        """Show ``data`` (a node dict of :meth:`GraphView.set_graph`); cheap when unchanged."""
        pos = data.get("position", (0.0, 0.0))
        fingerprint = (
            {k: v for k, v in data.items() if k != "position"}, problem, severity
        )
        if fingerprint != self._fingerprint:
            self._fingerprint = fingerprint
            self._show(data, problem, severity)
        point = QPointF(float(pos[0]), float(pos[1]))
        if self.pos() != point:
            self.setPos(point)

    def _show(self, data: dict[str, Any], problem: str | None, severity: str) -> None:
        self.category = str(data.get("category", ""))
        self.problem, self.severity = problem, severity
        self.fix_title = str(data.get("fix") or "")
        title = str(data.get("title") or data.get("type") or self.node_id)
        self.title.setText(self._elide(title, bold=True))
        self.ident.setText(self._elide(self.node_id))
        count = int(data.get("params_count", 0) or 0)
        subtitle = f"{count:,} params" if count else str(data.get("shape_text", "") or "")
        flops = data.get("flops")
        self.subtitle.setText(self._elide(subtitle))
        self._set_ports(_ports(data.get("inputs", ())), _ports(data.get("outputs", ())))
        tip = f"{title} ({self.node_id})"
        if data.get("help"):
            tip += f"\n{data['help']}"
        if count:
            tip += f"\n{count:,} parameters"
        if flops:  # the node is too narrow for it: the tooltip and the canvas total say it
            tip += f"\n{_si(float(flops))}FLOPs per sample"
        if data.get("shape_text"):
            tip += f"\noutput shape: {data['shape_text']}"
        if problem:
            tip += f"\n\n{'Problem' if severity == 'error' else 'Warning'}: {problem}"
            if self.fix_title:
                tip += f"\nFix offered (right-click): {self.fix_title}"
        self.setToolTip(tip)
        self.update()

    def _elide(self, text: str, bold: bool = False) -> str:
        font = QFont()
        font.setBold(bold)
        return QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, NODE_W - 24)

    def _set_ports(self, inputs: list[dict[str, str]], outputs: list[dict[str, str]]) -> None:
        most = max(len(inputs), len(outputs), 1)
        height = max(NODE_H, _PORT_STEP * (most + 1))
        if height != self._height:
            self.prepareGeometryChange()
            self._height = height
        for ports, specs, is_input in ((self.inputs, inputs, True), (self.outputs, outputs, False)):
            names = [p["name"] for p in specs]
            for name in list(ports):
                if name not in names:
                    self.scene_remove(ports.pop(name))
            for i, spec in enumerate(specs):
                port = ports.get(spec["name"])
                if port is None:
                    port = ports[spec["name"]] = PortItem(self, spec["name"], is_input)
                port.setPos(0.0 if is_input else NODE_W, height * (i + 1) / (len(specs) + 1))
                port.describe(spec["shape"], spec["help"])
                # names are drawn only where they tell something ("a" and "b" of a merge)
                show = len(specs) > 1 or spec["name"] not in ("in", "out")
                if show and port.label is None:
                    port.label = QGraphicsSimpleTextItem(spec["name"], self)
                    small = QFont()
                    small.setPointSizeF(max(6.0, small.pointSizeF() * 0.8))
                    port.label.setFont(small)
                    port.label.setBrush(QBrush(QColor("#37474f")))
                if port.label is not None:
                    port.label.setVisible(show)
                    w = port.label.boundingRect().width()
                    x = -w - PORT_R - 2 if is_input else NODE_W + PORT_R + 2
                    port.label.setPos(x, port.pos().y() - 16)

    def scene_remove(self, item: QGraphicsItem) -> None:
        if isinstance(item, PortItem) and item.label is not None:
            item.label.setParentItem(None)
            if item.label.scene() is not None:
                item.label.scene().removeItem(item.label)
        item.setParentItem(None)
        if item.scene() is not None:
            item.scene().removeItem(item)

    def ports(self) -> list[PortItem]:
        return [*self.inputs.values(), *self.outputs.values()]

    # ------------------------------------------------------------- drawing
    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return QRectF(-3, -3, NODE_W + 6, self._height + 6)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, NODE_W, self._height), 7, 7)
        return path

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        colour = _category_colour(self.category)
        rect = QRectF(0, 0, NODE_W, self._height)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QBrush(_pastel(colour)))
        if self.problem:
            pen = QPen(_ERROR if self.severity == "error" else _WARNING, 2.6)
        else:
            pen = QPen(colour.darker(130), 1.3)
        painter.setPen(pen)
        painter.drawRoundedRect(rect, 7, 7)
        band = QPainterPath()
        band.addRoundedRect(QRectF(0, 0, 8, self._height), 4, 4)
        painter.fillPath(band, colour)
        if self.isSelected():
            highlight = self.view.palette().highlight().color()
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(highlight, 2.2, Qt.PenStyle.DashLine))
            painter.drawRoundedRect(rect.adjusted(-3, -3, 3, 3), 9, 9)
        if self.problem:
            badge = QRectF(NODE_W - 20, 4, 16, 16)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(_ERROR if self.severity == "error" else _WARNING)
            painter.drawEllipse(badge)
            painter.setPen(QPen(QColor("white")))
            f = QFont()
            f.setBold(True)
            painter.setFont(f)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "!")

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self.view._node_position_changed(self)
        elif change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.update()
        return super().itemChange(change, value)


def _si(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} "


class _EdgeLabel(QGraphicsSimpleTextItem):
    """A shape written on an edge, on a faint background so crossing lines stay readable."""

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        back = QColor(self.data(0) or "#ffffff")
        back.setAlpha(215)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(back)
        painter.drawRoundedRect(self.boundingRect().adjusted(-3, -1, 3, 1), 3, 3)
        super().paint(painter, option, widget)


class EdgeItem(QGraphicsPathItem):
    """A connection from an output port to an input port, with the tensor shape it carries."""

    def __init__(self, view: GraphView, key: EdgeKey) -> None:
        super().__init__()
        self.view = view
        self.key = key
        self.label_text = ""
        self.setZValue(-1)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)
        self.label = _EdgeLabel(self)
        self.ends: tuple[float, float, float, float] | None = None  # where it was routed
        self._hover = False
        self._style()

    def set_label(self, text: str) -> None:
        """Write ``text`` (the tensor shape) on the connection and in its tooltip."""
        if text == self.label_text and self.toolTip():
            return
        self.label_text = text
        self.label.setText(text)
        self.label.setVisible(bool(text))
        self._place_label()
        src, sp, dst, dp = self.key
        self.setToolTip(f"{src}.{sp} → {dst}.{dp}" + (f"\nshape: {text}" if text else "")
                        + "\nRight-click or select and press Delete to disconnect.")

    def set_route(self, path: QPainterPath) -> None:
        """Draw the connection along ``path`` (its label goes to the middle)."""
        self.setPath(path)
        self._place_label()

    def _place_label(self) -> None:
        if not self.label_text:
            return
        mid = self.path().pointAtPercent(0.5)
        r = self.label.boundingRect()
        above = QPointF(mid.x() - r.width() / 2, mid.y() - r.height() - 3)
        self.label.setPos(above)

        # A label under a layer cannot be read: try below the line, then clear of the
        # layers beside a short connection (above them, else below them).
        def blocking(at: QPointF) -> list[QRectF]:
            return self.view._blockers(QRectF(at, r.size()))

        hits = blocking(above)
        if not hits:
            return
        below = QPointF(above.x(), mid.y() + 3)
        if not blocking(below):
            self.label.setPos(below)
            return
        for at in (QPointF(above.x(), min(h.top() for h in hits) - r.height() - 1),
                   QPointF(above.x(), max(h.bottom() for h in hits) + 1)):
            if not blocking(at):
                self.label.setPos(at)
                return

    def _style(self) -> None:
        text = self.view.palette().text().color()
        colour = QColor(text)
        colour.setAlpha(150)
        width = 1.8
        if self.isSelected():
            colour, width = self.view.palette().highlight().color(), 3.0
        elif self._hover:
            colour.setAlpha(230)
            width = 2.4
        self.setPen(QPen(colour, width))
        self.label.setBrush(QBrush(text))
        self.label.setData(0, self.view.palette().base().color().name())

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(12)  # easier to click than a 2-pixel line
        return stroker.createStroke(self.path())

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self._style()
        return super().itemChange(change, value)

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:  # noqa: N802 (Qt override)
        self._hover = True
        self._style()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:  # noqa: N802 (Qt override)
        self._hover = False
        self._style()
        super().hoverLeaveEvent(event)


def _wire(start: QPointF, end: QPointF) -> QPainterPath:
    """A smooth curve leaving ``start`` to the right and entering ``end`` from the left."""
    path = QPainterPath(start)
    dx = max(40.0, abs(end.x() - start.x()) / 2)
    if end.x() < start.x():  # a connection going backwards loops round
        dx = max(dx, 80.0)
    path.cubicTo(start + QPointF(dx, 0), end - QPointF(dx, 0), end)
    return path


_LANE_TURN = 60.0  # horizontal room a detour takes to reach its lane
_LANE_GAP = 22.0  # a detour's lane keeps this far from the layers it passes (room for a label)


def _lane_wire(start: QPointF, end: QPointF, lane: float) -> QPainterPath:
    """A connection that leaves ``start``, runs along the horizontal line ``y = lane`` past
    the layers in the way, and comes back to ``end``."""
    t = _LANE_TURN
    a, b = QPointF(start.x() + t, lane), QPointF(end.x() - t, lane)
    path = QPainterPath(start)
    path.cubicTo(start + QPointF(t / 2, 0), a - QPointF(t / 2, 0), a)
    path.lineTo(b)
    path.cubicTo(b + QPointF(t / 2, 0), end - QPointF(t / 2, 0), end)
    return path


class _QuickAdd(QLineEdit):
    """A small search box over the canvas: type a layer's name, Enter adds it there."""

    chosen = Signal(str)  # the text the user accepted

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Add layer… (type a name, Enter)")
        self.setToolTip("Type part of a layer's name; Enter adds it here, Escape cancels")
        self.setMinimumWidth(240)
        self.model = QStringListModel(self)
        completer = QCompleter(self.model, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        completer.setMaxVisibleItems(12)
        self.setCompleter(completer)
        completer.activated.connect(self._accept_text)
        self.returnPressed.connect(lambda: self._accept_text(self.text()))
        self.hide()

    def _accept_text(self, text: str) -> None:
        if self.isVisible():
            self.chosen.emit(text)

    def close_box(self) -> None:
        popup = self.completer().popup()
        if popup.isVisible():
            popup.hide()
        self.hide()
        self.clear()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if event.key() == Qt.Key.Key_Escape:
            self.close_box()
            self.parentWidget().setFocus()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 (Qt override)
        super().focusOutEvent(event)
        # the completer's list takes the focus for a moment: that is not leaving
        if event.reason() != Qt.FocusReason.PopupFocusReason and not self.completer().popup().isVisible():
            self.close_box()


class _WireDrag:
    """The state of a connection being dragged out of a port."""

    def __init__(self, source: PortItem, detached: EdgeKey | None, path: QGraphicsPathItem) -> None:
        self.source = source
        self.detached = detached
        self.path = path
        self.reasons: dict[PortItem, str | None] = {}
        self.replaces: dict[PortItem, EdgeKey] = {}  # occupied inputs a drop takes over
        self.target: PortItem | None = None


# --------------------------------------------------------------------------------- view
class GraphView(QGraphicsView):
    """The graph editor canvas.

    Mouse: drag a layer from the palette to add it; double-click the background to search
    for one; drag from an output port to an input port to connect (compatible inputs turn
    green), drag a connection off an input to move or remove it; click, Ctrl-click or drag a
    box to select; drag nodes to move them; wheel zooms round the cursor; middle-drag or
    Space+drag pans; right-click for the node's menu. Keys: Delete, Ctrl+A, Ctrl+C, Ctrl+V,
    Ctrl+D, arrows nudge the selection, Ctrl+Shift+A searches for a layer to add.
    """

    node_selected = Signal(str)  # the first selected node's id ("" for none); on every change
    selection_changed = Signal(list)  # ids of all selected nodes
    node_drop_requested = Signal(str, QPointF)  # layer id dropped; the new node's top-left
    node_add_requested = Signal(str, QPointF)  # layer id picked in the search box; top-left
    connection_requested = Signal(str, str, str, str)  # src, src_port, dst, dst_port
    edge_reconnected = Signal(object, object)  # an EdgeKey dragged to a new input: old, new
    edge_replaced = Signal(object, object)  # a new connection takes an occupied input: old, new
    edge_detached = Signal(object)  # an EdgeKey dragged off its input and dropped on nothing
    nodes_moved = Signal(dict)  # a finished drag: node id -> new (x, y)
    nodes_nudged = Signal(dict)  # an arrow key moved the selection: node id -> new (x, y)
    delete_requested = Signal(list, list)  # node ids, EdgeKeys
    copy_requested = Signal(list)  # node ids to copy
    paste_requested = Signal(object)  # scene point to paste at (QPointF), or None: offset
    duplicate_requested = Signal(list)  # node ids
    fix_requested = Signal(str)  # apply the fix offered for this node
    disconnect_all_requested = Signal(str)  # node id
    status_message = Signal(str)  # a hint or the reason an action was refused

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        # zooming keeps the point under the cursor in place itself (see zoom_by)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        # a dock growing (say the inspector filling in) must not shift what is under the mouse
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(360, 260)  # the editor is the centre of the window: docks give way
        self.setToolTip("")
        self.scene().selectionChanged.connect(self._on_selection)
        self.node_items: dict[str, NodeItem] = {}
        self.edge_items: dict[EdgeKey, EdgeItem] = {}
        self._edges_at: dict[str, set[EdgeKey]] = {}
        self._index: list[tuple[float, float, float, float, str]] | None = None
        self._lefts: list[float] = []
        self._check: ConnectionCheck | None = None
        self._replace_check: Any = None
        self._wire: _WireDrag | None = None
        self._pan_from: QPoint | None = None
        self._space = False
        self._press_positions: dict[str, QPointF] = {}
        self._quiet = False  # True while set_graph rebuilds: selection signals wait
        self._last_selection: list[str] = []
        self._read_only = False
        self._summary = ""
        self._layer_ids: dict[str, str] = {}  # quick-add text (casefolded) -> layer id
        self._quick_at = QPointF()
        self.quick_add = _QuickAdd(self.viewport())
        self.quick_add.chosen.connect(self._quick_add_chosen)
        self._build_actions()

    # ------------------------------------------------------------- actions
    def _build_actions(self) -> None:
        def act(text: str, shortcut: Any, slot: Callable[[], None], tip: str) -> QAction:
            a = QAction(text, self)
            a.setShortcut(QKeySequence(shortcut))
            # only while the canvas has the focus: Ctrl+C in a text field copies text
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.setToolTip(tip)
            a.setStatusTip(tip)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        S = QKeySequence.StandardKey
        self.select_all_action = act("Select &All", S.SelectAll, self.select_all,
                                     "Select every layer and connection")
        self.copy_action = act("&Copy", S.Copy, self._copy, "Copy the selected layers")
        self.paste_action = act("&Paste", S.Paste, lambda: self.paste_requested.emit(None),
                                "Paste copied layers (with their connections)")
        self.duplicate_action = act("D&uplicate", "Ctrl+D", self._duplicate,
                                    "Duplicate the selected layers")
        self.quick_add_action = act("Add &Layer…", "Ctrl+Shift+A", self._quick_add_here,
                                    "Search for a layer to add at the centre of the canvas")
        self.zoom_in_action = act("Zoom &In", S.ZoomIn, lambda: self.zoom_by(1.25),
                                  "Zoom in")
        self.zoom_out_action = act("Zoom &Out", S.ZoomOut, lambda: self.zoom_by(0.8),
                                   "Zoom out")

    # ---------------------------------------------------------------- data
    def set_connection_check(self, check: ConnectionCheck | None) -> None:
        """Who decides whether a port may be connected to another.

        ``check(src, src_port, dst, dst_port, ignoring=None)`` returns None when the
        connection is acceptable, otherwise the one-sentence reason; ``ignoring`` is the
        EdgeKey being dragged off its input (it will go away if the drop succeeds).
        """
        self._check = check

    def set_replace_check(self, check: Any) -> None:
        """Who says whether an occupied input may be taken over by a new connection.

        ``check(src, src_port, dst, dst_port)`` returns the EdgeKey now feeding that input
        when the new connection may replace it (it would be accepted once that one is gone),
        else None.
        """
        self._replace_check = check

    def set_layer_choices(self, layers: Sequence[tuple[str, str]]) -> None:
        """The layer types the search box offers, as ``(layer id, title)`` pairs."""
        titles = [t for _, t in layers]
        self._layer_ids = {}
        shown = []
        for layer_id, title in layers:
            text = title if titles.count(title) == 1 else f"{title} ({layer_id})"
            shown.append(text)
            self._layer_ids[text.casefold()] = layer_id
            self._layer_ids.setdefault(layer_id.casefold(), layer_id)
        self.quick_add.model.setStringList(shown)

    def set_read_only(self, read_only: bool) -> None:
        """Allow looking and selecting only (while a run trains), or editing again."""
        self._read_only = read_only
        for item in self.node_items.values():
            item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, not read_only)
        for a in (self.paste_action, self.duplicate_action, self.quick_add_action):
            a.setEnabled(not read_only)
        if read_only:
            self._cancel_wire()
            self.quick_add.close_box()

    def clear(self) -> None:
        """Forget the drawing; the next :meth:`set_graph` starts afresh and fits the view."""
        self._cancel_wire()
        self._quiet = True
        try:
            self.scene().clear()
        finally:
            self._quiet = False
        self.node_items, self.edge_items, self._edges_at = {}, {}, {}
        self._index = None
        self._emit_selection()

    def set_graph(
        self,
        nodes: list[dict[str, Any]],
        edges: list[dict[str, Any]],
        problems: dict[str, str] | None = None,
        warnings: dict[str, str] | None = None,
    ) -> None:
        """Show this graph, changing only the items that differ from what is drawn.

        ``nodes``: dicts with id, type, title, category, position, params_count, shape_text,
        help, ``inputs`` / ``outputs`` (port names, or dicts with name, shape, help),
        ``fix`` (the title of an offered fix) and optionally ``flops``.
        ``edges``: dicts with src, dst, src_port, dst_port and ``label`` (the tensor shape).
        ``problems`` / ``warnings``: node id -> one-sentence reason.
        """
        problems, warnings = problems or {}, warnings or {}
        first = not self.node_items
        self._quiet = True
        scene = self.scene()
        try:
            seen: set[str] = set()
            # where layers moved, came or went: connections near there may need a new route
            changed: list[QRectF] = []
            for data in nodes:
                nid = str(data["id"])
                seen.add(nid)
                problem = problems.get(nid) or warnings.get(nid)
                severity = "error" if nid in problems else "warning"
                item = self.node_items.get(nid)
                if item is None:
                    item = NodeItem(self, data)
                    item.apply(data, problem, severity)
                    item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, not self._read_only)
                    scene.addItem(item)
                    self.node_items[nid] = item
                    changed.append(item.sceneBoundingRect())
                else:
                    before = item.sceneBoundingRect()
                    item.apply(data, problem, severity)
                    after = item.sceneBoundingRect()
                    if after != before:
                        changed += [before, after]
            for nid in [n for n in self.node_items if n not in seen]:
                gone = self.node_items.pop(nid)
                changed.append(gone.sceneBoundingRect())
                scene.removeItem(gone)
            self._index = None
            wanted: dict[EdgeKey, str] = {}
            for e in edges:
                key = (str(e["src"]), str(e.get("src_port", "out")),
                       str(e["dst"]), str(e.get("dst_port", "in")))
                if key[0] in self.node_items and key[2] in self.node_items:
                    wanted[key] = str(e.get("label", "") or "")
            for key in [k for k in self.edge_items if k not in wanted]:
                scene.removeItem(self.edge_items.pop(key))
            self._edges_at = {}
            for key, label in wanted.items():
                edge = self.edge_items.get(key)
                if edge is None:
                    edge = self.edge_items[key] = EdgeItem(self, key)
                    scene.addItem(edge)
                edge.set_label(label)
                self._edges_at.setdefault(key[0], set()).add(key)
                self._edges_at.setdefault(key[2], set()).add(key)
            connected = {(k[2], k[3]) for k in wanted} | {(k[0], k[1]) for k in wanted}
            for item in self.node_items.values():
                for port in item.inputs.values():
                    port.set_connected((item.node_id, port.name) in connected)
                for port in item.outputs.values():
                    port.set_connected((item.node_id, port.name) in connected)
            near = None if len(changed) > 40 else changed  # many changes: route them all
            for key in wanted:
                self._route(self.edge_items[key], near)
        finally:
            self._quiet = False
        self._update_scene_rect()
        self._emit_selection()
        if first and nodes:
            self.zoom_to_fit()

    def set_summary(self, text: str) -> None:
        """A line drawn in the canvas corner, e.g. the layer and parameter totals."""
        if text != self._summary:
            self._summary = text
            self.viewport().update()

    @property
    def summary(self) -> str:
        return self._summary

    @property
    def edge_labels(self) -> list[str]:
        """The shapes written on the edges (those that have one)."""
        return [e.label_text for e in self.edge_items.values() if e.label_text]

    # ----------------------------------------------------------- selection
    def select_node(self, node_id: str) -> None:
        """Select one node (e.g. again after a redraw), without emitting for others."""
        if node_id in self.node_items:
            self.select_nodes([node_id])

    def select_nodes(self, node_ids: Iterable[str]) -> None:
        """Select exactly these nodes (unknown ids are ignored)."""
        self._quiet = True
        try:
            self.scene().clearSelection()
            for nid in node_ids:
                item = self.node_items.get(nid)
                if item is not None:
                    item.setSelected(True)
        finally:
            self._quiet = False
        self._emit_selection()

    def select_all(self) -> None:
        self._quiet = True
        try:
            for item in [*self.node_items.values(), *self.edge_items.values()]:
                item.setSelected(True)
        finally:
            self._quiet = False
        self._emit_selection()

    def selected_node_ids(self) -> list[str]:
        """Selected nodes, in drawing order."""
        return [nid for nid, item in self.node_items.items() if item.isSelected()]

    def selected_edges(self) -> list[EdgeKey]:
        return [key for key, item in self.edge_items.items() if item.isSelected()]

    def centre_on_node(self, node_id: str) -> None:
        item = self.node_items.get(node_id)
        if item is not None:
            self.centerOn(item.sceneBoundingRect().center())

    def _on_selection(self) -> None:
        if not self._quiet:
            self._emit_selection()

    def _emit_selection(self) -> None:
        ids = self.selected_node_ids()
        if ids != self._last_selection:
            self._last_selection = ids
            self.selection_changed.emit(list(ids))
            self.node_selected.emit(ids[0] if ids else "")

    # ---------------------------------------------------------------- zoom
    def zoom_to_fit(self, readable: float | None = READABLE_ZOOM) -> None:
        """Show the whole graph.

        Never zoom out further than ``readable`` (a zoom level; by default one where a
        layer's name is still about 5 px high): a network too long for that shows its start
        (the input side), and Arrange Nodes wraps it into bands that fit. ``None``: fit
        whatever the size of the text.
        """
        rect = QRectF()
        for item in self.node_items.values():
            rect = rect.united(item.sceneBoundingRect())
        if rect.isEmpty():
            return
        self.fitInView(rect.adjusted(-40, -40, 40, 40), Qt.AspectRatioMode.KeepAspectRatio)
        floor = max(_MIN_ZOOM, readable or _MIN_ZOOM)
        if self.transform().m11() > 1.4:  # don't blow a small graph up to giant boxes
            self.resetTransform()
            self.centerOn(rect.center())
        elif self.transform().m11() < floor:
            self.resetTransform()
            self.scale(floor, floor)
            if readable:
                width = self.viewport().width() / floor
                self.centerOn(QPointF(rect.left() - 40 + width / 2, rect.center().y()))
            else:
                self.centerOn(rect.center())

    def zoom_by(self, factor: float, around: QPoint | None = None) -> None:
        """Zoom by ``factor`` within limits, keeping the scene point at ``around`` (a viewport
        position; by default the cursor when it is over the canvas, else the centre) in place."""
        now = self.transform().m11()
        new = min(_MAX_ZOOM, max(_MIN_ZOOM, now * factor))
        if new == now:
            return
        if around is None:
            cursor = self.viewport().mapFromGlobal(QCursor.pos())
            inside = self.viewport().rect().contains(cursor)
            around = cursor if inside else self.viewport().rect().center()
        fixed = self.mapToScene(around)
        self.scale(new / now, new / now)
        drift = self.mapFromScene(fixed) - around
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + drift.x())
        v.setValue(v.value() + drift.y())

    def zoom_level(self) -> float:
        return float(self.transform().m11())

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt override)
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_by(1.0015 ** delta, event.position().toPoint())  # a notch (120): ~20 %
        event.accept()

    def _update_scene_rect(self) -> None:
        # room round the drawing, so the canvas can be panned past its edges
        rect = QRectF()
        for item in self.node_items.values():
            rect = rect.united(item.sceneBoundingRect())
        self.setSceneRect(rect.adjusted(-2500, -2500, 2500, 2500))

    def scene_rect(self) -> QRectF:
        return self.scene().itemsBoundingRect()

    # -------------------------------------------------------------- wiring
    def _route(self, edge: EdgeItem, near: list[QRectF] | None = None) -> None:
        """Draw ``edge`` between its ports; with ``near`` (the places where layers changed),
        only if its ends moved or it passes near one of them."""
        src, sp, dst, dp = edge.key
        a, b = self.node_items.get(src), self.node_items.get(dst)
        if a is None or b is None:
            return
        pa, pb = a.outputs.get(sp), b.inputs.get(dp)
        start = pa.centre() if pa else a.scenePos() + QPointF(NODE_W, NODE_H / 2)
        end = pb.centre() if pb else b.scenePos() + QPointF(0, NODE_H / 2)
        ends = (start.x(), start.y(), end.x(), end.y())
        if near is not None and ends == edge.ends:
            drawn = edge.mapRectToScene(edge.boundingRect() | edge.childrenBoundingRect())
            if not any(drawn.intersects(r) for r in near):
                return
        edge.ends = ends
        edge.set_route(self._path_between(start, end, {src, dst}))

    def _node_rects(self) -> list[tuple[float, float, float, float, str]]:
        """(left, right, top, bottom, id) of every node, sorted by left (built when needed)."""
        if self._index is None:
            rects = ((i.sceneBoundingRect(), nid) for nid, i in self.node_items.items())
            self._index = sorted((r.left(), r.right(), r.top(), r.bottom(), nid) for r, nid in rects)
            self._lefts = [t[0] for t in self._index]
        return self._index

    def _blockers(self, area: QRectF, ends: set[str] | None = None) -> list[QRectF]:
        """Rectangles of the nodes (other than ``ends``) that overlap ``area``."""
        # A sorted list and bisection: every node has the same width, so only those whose
        # left side lies within a node's width of the area can overlap it. (The scene's own
        # index scanned every node here.)
        index = self._node_rects()
        lo = bisect.bisect_left(self._lefts, area.left() - NODE_W - 6)
        hi = bisect.bisect_right(self._lefts, area.right())
        return [
            QRectF(left, top, right - left, bottom - top)
            for left, right, top, bottom, nid in index[lo:hi]
            if right >= area.left() and bottom >= area.top() and top <= area.bottom()
            and not (ends and nid in ends)
        ]

    def _path_between(self, start: QPointF, end: QPointF, ends: set[str]) -> QPainterPath:
        """A curve from ``start`` to ``end``; one that would pass under other layers (a skip
        connection, say) takes a detour along a free horizontal lane above or below them."""
        path = _wire(start, end)
        if end.x() - start.x() < 2 * _LANE_TURN + 20:
            return path
        blockers = self._blockers(path.boundingRect().adjusted(-2, -2, 2, 2), ends)
        if not blockers:
            return path
        stroker = QPainterPathStroker()
        stroker.setWidth(4)
        outline = stroker.createStroke(path)
        hits = [r for r in blockers if outline.intersects(r)]
        if not hits:
            return path
        middle = (start.y() + end.y()) / 2
        below = max(r.bottom() for r in hits) + _LANE_GAP
        above = min(r.top() for r in hits) - _LANE_GAP
        lane = below if abs(below - middle) <= abs(above - middle) else above
        for _ in range(8):  # the lane must be clear all along too
            strip = QRectF(start.x() + _LANE_TURN, lane - _LANE_GAP / 2,
                           end.x() - start.x() - 2 * _LANE_TURN, _LANE_GAP)
            more = self._blockers(strip, ends)
            if not more:
                break
            if lane >= middle:
                lane = max(r.bottom() for r in more) + _LANE_GAP
            else:
                lane = min(r.top() for r in more) - _LANE_GAP
        return _lane_wire(start, end, lane)

    def _node_position_changed(self, item: NodeItem) -> None:
        self._index = None
        if self._quiet:
            return  # set_graph routes what needs it once every node is in place
        for key in self._edges_at.get(item.node_id, ()):
            edge = self.edge_items.get(key)
            if edge is not None:
                self._route(edge)

    def port(self, node_id: str, name: str, is_input: bool) -> PortItem | None:
        """The port item of ``node_id`` called ``name`` (for tests and keyboard use)."""
        item = self.node_items.get(node_id)
        if item is None:
            return None
        return (item.inputs if is_input else item.outputs).get(name)

    def _port_near(self, view_pos: QPoint) -> PortItem | None:
        """The port nearest to ``view_pos`` within the snapping distance."""
        scene_pos = self.mapToScene(view_pos)
        radius = _SNAP / max(self.transform().m11(), 1e-6)
        area = QRectF(scene_pos.x() - radius, scene_pos.y() - radius, 2 * radius, 2 * radius)
        best: tuple[float, PortItem] | None = None
        for item in self.scene().items(area):
            if isinstance(item, PortItem) and item.isVisible():
                d = math.dist((item.centre().x(), item.centre().y()), (scene_pos.x(), scene_pos.y()))
                if d <= radius and (best is None or d < best[0]):
                    best = (d, item)
        return best[1] if best else None

    def _begin_wire(self, port: PortItem) -> bool:
        """Start dragging a connection out of ``port``; False if there is none to drag."""
        detached: EdgeKey | None = None
        source = port
        if port.is_input:
            fed = [k for k in self.edge_items if k[2] == port.node_id and k[3] == port.name]
            if not fed:
                self.status_message.emit(
                    "Drag from an output port (on a layer's right side) to an input port to connect."
                )
                return False
            detached = fed[0]
            found = self.port(detached[0], detached[1], is_input=False)
            if found is None:
                return False
            source = found
            self.edge_items[detached].hide()
        path = QGraphicsPathItem()
        pen = QPen(_OK_PORT.darker(120), 2.2, Qt.PenStyle.DashLine)
        path.setPen(pen)
        path.setZValue(10)
        self.scene().addItem(path)
        wire = _WireDrag(source, detached, path)
        for item in self.node_items.values():
            for target in item.inputs.values():
                if detached is not None and (target.node_id, target.name) == (detached[2], detached[3]):
                    reason = None  # dropping it back where it was is always fine
                elif target.node_id == source.node_id:
                    reason = "A layer cannot be connected to itself."
                elif self._check is not None:
                    reason = self._check(source.node_id, source.name, target.node_id,
                                         target.name, ignoring=detached)
                else:
                    reason = None
                wire.reasons[target] = reason
                old = None
                if reason is not None and detached is None and self._replace_check is not None:
                    old = self._replace_check(source.node_id, source.name, target.node_id,
                                              target.name)
                if old is not None:
                    wire.replaces[target] = old
                target.set_state(self._offer(wire, target))
            for out in item.outputs.values():
                if out is not source:
                    out.set_state("incompatible")
        source.set_state("source")
        self._wire = wire
        ok = sum(r is None for r in wire.reasons.values())
        self.status_message.emit(
            f"Connecting {source.node_id}.{source.name}: {ok} compatible input(s) highlighted; "
            "drop on nothing to cancel."
            if detached is None
            else f"Moving the connection {detached[0]} → {detached[2]}: drop on an input, "
            "or on nothing to disconnect."
        )
        return True

    def _drag_wire(self, view_pos: QPoint) -> None:
        wire = self._wire
        assert wire is not None
        end = self.mapToScene(view_pos)
        target = self._port_near(view_pos)
        if wire.target is not None and wire.target is not target:
            wire.target.set_state(self._offer(wire, wire.target))
            wire.target = None
        if target is not None and target is not wire.source:
            old = wire.replaces.get(target)
            if target.is_input and (old is not None or wire.reasons.get(target, "x") is None):
                target.set_state("hover")
                wire.target = target
                end = target.centre()
                source = f"{wire.source.node_id}.{wire.source.name}"
                self.status_message.emit(
                    f"Release to replace {old[0]}.{old[1]} → {target.node_id}.{target.name} "
                    f"with {source}" if old is not None
                    else f"Release to connect {source} → {target.node_id}.{target.name}"
                )
            else:
                wire.target = target
                self.status_message.emit(self._refusal(wire, target))
        wire.path.setPath(_wire(wire.source.centre(), end))

    @staticmethod
    def _offer(wire: _WireDrag, target: PortItem) -> str:
        """A target's state while a wire is dragged: what a drop on it would do."""
        if wire.reasons.get(target, "x") is None:
            return "compatible"
        return "replace" if target in wire.replaces else "incompatible"

    def _refusal(self, wire: _WireDrag, target: PortItem) -> str:
        if not target.is_input:
            return (f"'{target.node_id}.{target.name}' is an output: connect an output to an "
                    "input (the ports on a layer's left side).")
        return wire.reasons.get(target) or "This port cannot take the connection."

    def _end_wire(self, view_pos: QPoint) -> None:
        wire = self._wire
        assert wire is not None
        target = self._port_near(view_pos)
        self._finish_wire()
        src = wire.source
        if target is None or target is src:
            if wire.detached is not None:
                self.edge_detached.emit(wire.detached)
            else:
                self.status_message.emit("Connection cancelled.")
            return
        new: EdgeKey = (src.node_id, src.name, target.node_id, target.name)
        old = wire.replaces.get(target) if target.is_input else None
        if old is not None:
            self.edge_replaced.emit(old, new)
            return
        reason = None if (target.is_input and wire.reasons.get(target, "x") is None) else (
            self._refusal(wire, target)
        )
        if reason is not None:
            self.status_message.emit(reason)
            return
        if wire.detached is None:
            self.connection_requested.emit(*new)
        elif new != wire.detached:
            self.edge_reconnected.emit(wire.detached, new)

    def _finish_wire(self) -> None:
        wire, self._wire = self._wire, None
        if wire is None:
            return
        if wire.path.scene() is not None:
            self.scene().removeItem(wire.path)
        if wire.detached is not None and wire.detached in self.edge_items:
            self.edge_items[wire.detached].show()
        for item in self.node_items.values():
            for port in item.ports():
                port.set_state("normal")

    def _cancel_wire(self) -> None:
        if self._wire is not None:
            self._finish_wire()
            self.status_message.emit("Connection cancelled.")

    @property
    def dragging_connection(self) -> bool:
        return self._wire is not None

    # --------------------------------------------------------------- mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        pos = event.position().toPoint()
        if event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space
        ):
            self._pan_from = pos
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and not self._read_only:
            port = self._port_near(pos)
            if port is not None and self._begin_wire(port):
                event.accept()
                return
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_positions = {
                nid: QPointF(item.pos()) for nid, item in self.node_items.items()
                if item.isSelected()
            }

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        pos = event.position().toPoint()
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - delta.x())
            v.setValue(v.value() - delta.y())
            event.accept()
            return
        if self._wire is not None:
            self._drag_wire(pos)
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        pos = event.position().toPoint()
        if self._pan_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton
        ):
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor
            )
            event.accept()
            return
        if self._wire is not None and event.button() == Qt.MouseButton.LeftButton:
            self._end_wire(pos)
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self._press_positions:
            moved = {
                nid: (item.pos().x(), item.pos().y())
                for nid, start in self._press_positions.items()
                if (item := self.node_items.get(nid)) is not None and item.pos() != start
            }
            self._press_positions = {}
            if moved and not self._read_only:
                self.nodes_moved.emit(moved)  # one request per drag, on release

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        pos = event.position().toPoint()
        if event.button() == Qt.MouseButton.LeftButton and self._item_at(pos) is None:
            self.open_quick_add(self.mapToScene(pos))
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def _item_at(self, pos: QPoint) -> NodeItem | EdgeItem | None:
        item = self.itemAt(pos)
        while item is not None and not isinstance(item, NodeItem | EdgeItem):
            item = item.parentItem()
        return item if isinstance(item, NodeItem | EdgeItem) else None

    # ------------------------------------------------------------ keyboard
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        key = event.key()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if key == Qt.Key.Key_Escape:
            if self._wire is not None:
                self._cancel_wire()
            else:
                self.scene().clearSelection()
            event.accept()
            return
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self._delete_selection()
            event.accept()
            return
        steps = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0),
                 Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}
        if key in steps and self.selected_node_ids() and not self._read_only:
            size = 50.0 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 10.0
            dx, dy = steps[Qt.Key(key)]
            self.nodes_nudged.emit({
                nid: (self.node_items[nid].x() + dx * size, self.node_items[nid].y() + dy * size)
                for nid in self.selected_node_ids()
            })
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 (Qt override)
        self._space = False  # the key release goes elsewhere
        super().focusOutEvent(event)

    def _delete_selection(self) -> None:
        nodes, edges = self.selected_node_ids(), self.selected_edges()
        if (nodes or edges) and not self._read_only:
            self.delete_requested.emit(nodes, edges)

    def _copy(self) -> None:
        ids = self.selected_node_ids()
        if ids:
            self.copy_requested.emit(ids)
        else:
            self.status_message.emit("Select the layers to copy first.")

    def _duplicate(self) -> None:
        ids = self.selected_node_ids()
        if ids:
            self.duplicate_requested.emit(ids)
        else:
            self.status_message.emit("Select the layers to duplicate first.")

    # --------------------------------------------------------- quick add
    def open_quick_add(self, scene_pos: QPointF) -> None:
        """Show the layer search box at ``scene_pos``; the layer chosen is added there."""
        if self._read_only:
            return
        self._quick_at = QPointF(scene_pos)
        at = self.mapFromScene(scene_pos)
        box = self.quick_add
        box.clear()
        box.adjustSize()
        x = min(max(0, at.x()), max(0, self.viewport().width() - box.width()))
        y = min(max(0, at.y()), max(0, self.viewport().height() - box.height()))
        box.move(x, y)
        box.show()
        box.raise_()
        box.setFocus(Qt.FocusReason.PopupFocusReason)

    def _quick_add_here(self) -> None:
        self.open_quick_add(self.mapToScene(self.viewport().rect().center()))

    def _quick_add_chosen(self, text: str) -> None:
        needle = text.strip().casefold()
        layer_id = self._layer_ids.get(needle)
        if layer_id is None and needle:
            matches = [lid for t, lid in self._layer_ids.items() if needle in t]
            layer_id = matches[0] if len(set(matches)) == 1 else None
        if layer_id is None:
            self.status_message.emit(
                f"No layer is called “{text.strip()}”; pick one from the list."
                if needle else "Type part of a layer's name."
            )
            return
        self.quick_add.close_box()
        self.setFocus()
        self.node_add_requested.emit(layer_id, self._centred(self._quick_at))

    @staticmethod
    def _centred(scene_pos: QPointF) -> QPointF:
        # the node's top-left, so that the new node appears centred where the user pointed
        return QPointF(round(scene_pos.x() - NODE_W / 2), round(scene_pos.y() - NODE_H / 2))

    # ----------------------------------------------------------- drag & drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasFormat(LAYER_MIME_TYPE) and not self._read_only:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasFormat(LAYER_MIME_TYPE) and not self._read_only:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        scene_pos = self.mapToScene(event.position().toPoint())
        if self.drop_mime(event.mimeData(), scene_pos):
            event.acceptProposedAction()
        else:
            event.ignore()

    def drop_mime(self, mime: QMimeData, scene_pos: QPointF) -> bool:
        """Handle a drop of ``mime`` at ``scene_pos``: a palette layer becomes a request."""
        if self._read_only or not mime.hasFormat(LAYER_MIME_TYPE):
            return False
        layer_id = bytes(mime.data(LAYER_MIME_TYPE).data()).decode("utf-8", "replace").strip()
        if not layer_id:
            return False
        self.node_drop_requested.emit(layer_id, self._centred(scene_pos))
        return True

    # ------------------------------------------------------------ menus
    def node_menu(self, node_id: str) -> QMenu:
        """The context menu of a node (acting on the selection when the node is in it)."""
        item = self.node_items[node_id]
        if not item.isSelected():
            self.select_nodes([node_id])
        ids = self.selected_node_ids()
        many = len(ids) > 1
        menu = QMenu(self)
        delete = menu.addAction(f"Delete {len(ids)} layers" if many else "Delete")
        delete.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        delete.triggered.connect(lambda: self.delete_requested.emit(ids, []))
        duplicate = menu.addAction(f"Duplicate {len(ids)} layers" if many else "Duplicate")
        duplicate.setShortcut(QKeySequence("Ctrl+D"))
        duplicate.triggered.connect(lambda: self.duplicate_requested.emit(ids))
        copy = menu.addAction("Copy")
        copy.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        copy.triggered.connect(lambda: self.copy_requested.emit(ids))
        menu.addSeparator()
        fix = menu.addAction(f"Fix: {item.fix_title}" if item.fix_title else "Fix (none offered)")
        fix.setEnabled(bool(item.fix_title))
        fix.setToolTip(item.problem or "")
        fix.triggered.connect(lambda: self.fix_requested.emit(node_id))
        disconnect = menu.addAction("Disconnect All")
        disconnect.setEnabled(bool(self._edges_at.get(node_id)))
        disconnect.triggered.connect(lambda: self.disconnect_all_requested.emit(node_id))
        if self._read_only:
            for a in (delete, duplicate, fix, disconnect):
                a.setEnabled(False)
        return menu

    def edge_menu(self, key: EdgeKey) -> QMenu:
        menu = QMenu(self)
        a = menu.addAction(f"Disconnect {key[0]} → {key[2]}")
        a.setEnabled(not self._read_only)
        a.triggered.connect(lambda: self.delete_requested.emit([], [key]))
        return menu

    def canvas_menu(self, scene_pos: QPointF) -> QMenu:
        menu = QMenu(self)
        add = menu.addAction("Add Layer Here…")
        add.setEnabled(not self._read_only)
        add.triggered.connect(lambda: self.open_quick_add(scene_pos))
        paste = menu.addAction("Paste Here")
        paste.setEnabled(not self._read_only)
        paste.triggered.connect(lambda: self.paste_requested.emit(QPointF(scene_pos)))
        menu.addSeparator()
        menu.addAction(self.select_all_action)
        fit = menu.addAction("Zoom to Fit")
        fit.triggered.connect(lambda: self.zoom_to_fit())
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 (Qt override)
        if self._wire is not None:
            return
        item = self._item_at(event.pos())
        if isinstance(item, NodeItem):
            menu = self.node_menu(item.node_id)
        elif isinstance(item, EdgeItem):
            menu = self.edge_menu(item.key)
        else:
            menu = self.canvas_menu(self.mapToScene(event.pos()))
        menu.exec(event.globalPos())
        menu.deleteLater()

    # ---------------------------------------------------------- painting
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 (Qt override)
        base = self.palette().base().color()
        painter.fillRect(rect, base)
        step = 25.0 if self.transform().m11() >= 0.5 else 100.0
        line = QColor(base.darker(106) if base.lightness() > 128 else base.lighter(125))
        painter.setPen(QPen(line, 0))
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        x = left
        while x < rect.right():
            painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            x += step
        y = top
        while y < rect.bottom():
            painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            y += step

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 (Qt override)
        if not self._summary:
            return
        painter.save()
        painter.resetTransform()
        f = QFont(self.font())
        painter.setFont(f)
        box = self.summary_rect(painter.fontMetrics())
        back = QColor(self.palette().window().color())
        back.setAlpha(225)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(back)
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(self.palette().text().color())
        painter.drawText(box.adjusted(8, 4, -8, -4),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap), self._summary)
        painter.restore()

    def summary_rect(self, metrics: Any = None) -> QRectF:
        """Where the summary is drawn: one line, or wrapped at spaces when the canvas is
        narrower than it (never cut off)."""
        metrics = metrics or self.fontMetrics()
        room = max(60, self.viewport().width() - 32)
        text = metrics.boundingRect(0, 0, room, 10_000,
                                    int(Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap),
                                    self._summary)
        return QRectF(8, 8, text.width() + 16, text.height() + 8)



# ------------------------------------------------------------------------ problems panel
class ProblemsPanel(QWidget):
    """Every problem of the graph, one per row; pick one to show its node, Fix to repair it."""

    problem_chosen = Signal(str)  # the user picked a problem of the node with this id
    fix_requested = Signal(str)  # the user asked for the fix offered for this node

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Layer", "Problem"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setColumnWidth(0, 140)
        self.tree.setToolTip("Click a problem (or move with the arrow keys) to show its layer")
        self.fix_button = QPushButton("Fix")
        self.fix_button.setEnabled(False)
        self.fix_button.setToolTip("Apply the fix offered for the selected problem")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        row.addWidget(self.fix_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemClicked.connect(lambda item, _col: self._choose(item))
        self.tree.itemActivated.connect(lambda item, _col: self._choose(item))
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.fix_button.clicked.connect(self._fix_current)
        self._rows: list[dict[str, Any]] = []
        self.set_problems([])

    def set_problems(self, rows: list[dict[str, Any]]) -> None:
        """Show these problems: dicts with node_id (or None), message, severity, fix title."""
        rows = [dict(r) for r in rows]
        if rows == self._rows and self.tree.topLevelItemCount() == len(rows):
            return
        current = self.tree.currentItem()
        keep = current.data(0, Qt.ItemDataRole.UserRole) if current is not None else None
        self._rows = rows
        self.tree.blockSignals(True)
        try:
            self.tree.clear()
            style = self.style()
            icons = {
                "error": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical),
                "warning": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning),
            }
            for i, r in enumerate(rows):
                item = QTreeWidgetItem([str(r.get("node_id") or "—"), str(r["message"])])
                item.setIcon(0, icons.get(str(r.get("severity", "error")), icons["error"]))
                item.setData(0, Qt.ItemDataRole.UserRole, i)
                tip = str(r["message"])
                if r.get("fix"):
                    tip += f"\nFix offered: {r['fix']}"
                item.setToolTip(0, tip)
                item.setToolTip(1, tip)
                self.tree.addTopLevelItem(item)
            if keep is not None and keep < len(rows):
                self.tree.setCurrentItem(self.tree.topLevelItem(keep))
        finally:
            self.tree.blockSignals(False)
        errors = sum(r.get("severity", "error") == "error" for r in rows)
        warnings = len(rows) - errors
        if not rows:
            self.summary.setText("No problems: the network can be built and trained.")
        else:
            parts = [f"{errors} error{'s' * (errors != 1)}"] if errors else []
            if warnings:
                parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
            fixable = sum(bool(r.get("fix")) for r in rows)
            self.summary.setText(
                ", ".join(parts) + (f"; {fixable} with a fix offered" if fixable else "")
            )
        self._update_button()

    def rows(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._rows]

    def select_row(self, index: int) -> None:
        """Make row ``index`` current, as a click would (emits :attr:`problem_chosen`)."""
        item = self.tree.topLevelItem(index)
        if item is not None:
            self.tree.setCurrentItem(item)
            self._choose(item)

    def _row(self, item: QTreeWidgetItem | None) -> dict[str, Any] | None:
        if item is None:
            return None
        i = item.data(0, Qt.ItemDataRole.UserRole)
        return self._rows[i] if isinstance(i, int) and 0 <= i < len(self._rows) else None

    def _on_current(self, item: QTreeWidgetItem | None, _previous: Any = None) -> None:
        self._update_button()
        if item is not None:
            self._choose(item)

    def _choose(self, item: QTreeWidgetItem) -> None:
        row = self._row(item)
        if row and row.get("node_id"):
            self.problem_chosen.emit(str(row["node_id"]))

    def _update_button(self) -> None:
        row = self._row(self.tree.currentItem())
        fix = str(row.get("fix") or "") if row else ""
        self.fix_button.setEnabled(bool(fix))
        self.fix_button.setText(f"Fix: {fix}" if fix else "Fix")
        self.fix_button.setToolTip(fix or "No fix is offered for the selected problem")

    def _fix_current(self) -> None:
        row = self._row(self.tree.currentItem())
        if row and row.get("fix") and row.get("node_id"):
            self.fix_requested.emit(str(row["node_id"]))

    def _context_menu(self, pos: QPoint) -> None:
        row = self._row(self.tree.itemAt(pos))
        if not row:
            return
        menu = QMenu(self)
        show = menu.addAction("Show Layer")
        show.setEnabled(bool(row.get("node_id")))
        show.triggered.connect(lambda: self.problem_chosen.emit(str(row["node_id"])))
        fix = menu.addAction(f"Fix: {row['fix']}" if row.get("fix") else "Fix (none offered)")
        fix.setEnabled(bool(row.get("fix")))
        fix.triggered.connect(lambda: self.fix_requested.emit(str(row["node_id"])))
        menu.exec(self.tree.viewport().mapToGlobal(pos))
        menu.deleteLater()


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication, QSplitter

    app = QApplication([])
    view = GraphView()
    panel = ProblemsPanel()

    def port(name: str, shape: str) -> dict[str, str]:
        return {"name": name, "shape": shape}

    view.set_graph(
        [
            {"id": "input", "type": "input", "title": "Input", "category": "Input/Output",
             "position": (0, 0), "outputs": [port("out", "1×8×8")], "shape_text": "1×8×8"},
            {"id": "conv", "type": "conv2d", "title": "Conv 2D", "category": "Convolution",
             "position": (220, 0), "params_count": 80, "inputs": [port("in", "1×8×8")],
             "outputs": [port("out", "8×8×8")]},
            {"id": "skip", "type": "conv2d", "title": "Conv 2D", "category": "Convolution",
             "position": (220, 110), "params_count": 16, "inputs": [port("in", "1×8×8")],
             "outputs": [port("out", "8×8×8")]},
            {"id": "add", "type": "add", "title": "Add", "category": "Merge",
             "position": (440, 50), "inputs": [port("a", "8×8×8"), port("b", "8×8×8")],
             "outputs": [port("out", "8×8×8")]},
            {"id": "fc", "type": "linear", "title": "Linear", "category": "Dense",
             "position": (660, 50), "params_count": 5130, "fix": "Insert a Flatten",
             "inputs": [port("in", "8×8×8")], "outputs": [port("out", "")]},
            {"id": "output", "type": "output", "title": "Output", "category": "Input/Output",
             "position": (880, 50), "inputs": [port("in", "")]},
        ],
        [
            {"src": "input", "dst": "conv", "label": "1×8×8"},
            {"src": "input", "dst": "skip", "label": "1×8×8"},
            {"src": "conv", "dst": "add", "dst_port": "a", "label": "8×8×8"},
            {"src": "skip", "dst": "add", "dst_port": "b", "label": "8×8×8"},
            {"src": "add", "dst": "fc", "label": "8×8×8"},
        ],
        {"fc": "Node 'fc' (linear): expects a flat vector but receives 8×8×8."},
    )
    view.set_layer_choices([("relu", "ReLU"), ("linear", "Linear"), ("flatten", "Flatten")])
    view.set_summary("6 layers · 5,226 parameters · 1 problem")
    panel.set_problems([{"node_id": "fc", "severity": "error", "fix": "Insert a Flatten",
                         "message": "Node 'fc' (linear): expects a flat vector but receives 8×8×8."}])
    panel.problem_chosen.connect(lambda nid: (view.select_node(nid), view.centre_on_node(nid)))
    for signal in ("node_drop_requested", "node_add_requested", "connection_requested",
                   "edge_reconnected", "edge_replaced", "edge_detached", "nodes_moved",
                   "delete_requested",
                   "status_message"):
        getattr(view, signal).connect(lambda *args, s=signal: print(s, *args))
    splitter = QSplitter(Qt.Orientation.Vertical)
    splitter.addWidget(view)
    splitter.addWidget(panel)
    splitter.resize(1000, 560)
    splitter.show()
    app.exec()
