"""A searchable palette of layer types, grouped by category, to drag onto a graph.

Plain data in (one dict per layer type), Qt signals out. A drag carries the layer id under
:data:`LAYER_MIME_TYPE`, so any canvas can accept a drop without knowing this widget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QEvent, QMimeData, QObject, Qt, Signal
from PySide6.QtGui import QFont, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

__all__ = ["LAYER_MIME_TYPE", "LayerPalette"]

LAYER_MIME_TYPE = "application/x-workbench-layer"

# the layer id is stored on each leaf item under this role; categories hold None
_ID_ROLE = Qt.ItemDataRole.UserRole


class _LayerTree(QTreeWidget):
    """The tree of categories and layers; drags carry the layer id, Enter activates."""

    activated_layer = Signal(str)  # Enter or double-click on a layer with this id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setColumnCount(1)
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # our own handlers, not itemActivated: some platforms activate on a single click
        self.itemDoubleClicked.connect(self._on_double_click)

    def mimeTypes(self) -> list[str]:  # noqa: N802 (Qt override)
        return [LAYER_MIME_TYPE]

    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:  # noqa: N802 (Qt override)
        """Return the drag payload: the first dragged layer's id as UTF-8 bytes."""
        data = QMimeData()
        ids = [i.data(0, _ID_ROLE) for i in items if i.data(0, _ID_ROLE)]
        if ids:
            data.setData(LAYER_MIME_TYPE, str(ids[0]).encode("utf-8"))
        return data

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        item = self.currentItem()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and item is not None:
            layer_id = item.data(0, _ID_ROLE)
            if layer_id:
                self.activated_layer.emit(str(layer_id))
            else:
                item.setExpanded(not item.isExpanded())
            event.accept()
            return
        super().keyPressEvent(event)

    def _on_double_click(self, item: QTreeWidgetItem, _column: int) -> None:
        layer_id = item.data(0, _ID_ROLE)
        if layer_id:
            self.activated_layer.emit(str(layer_id))


class LayerPalette(QWidget):
    """Layer types by category, with a search field; drag one out or double-click to add."""

    layer_requested = Signal(str)  # the user asked to add a layer of this type id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Filter by name, id or description; Enter adds the first match")
        self.tree = _LayerTree()
        self.empty_label = QLabel()
        self.empty_label.setStyleSheet("color: #607d8b;")
        self.empty_label.setWordWrap(True)
        self.empty_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty_label)
        self.search.textChanged.connect(self._apply_filter)
        self.search.returnPressed.connect(self._add_first_match)
        self.search.installEventFilter(self)
        self.tree.activated_layer.connect(self.layer_requested)
        self._by_id: dict[str, dict[str, Any]] = {}

    def set_layers(self, layers: list[dict[str, Any]]) -> None:
        """Show these layer types.

        Parameters
        ----------
        layers
            Dicts with ``id``, ``title``, ``category`` and ``help``, in display order;
            categories appear in the order of their first layer.
        """
        self._by_id = {str(layer["id"]): dict(layer) for layer in layers}
        self.tree.clear()
        categories: dict[str, QTreeWidgetItem] = {}
        bold = QFont(self.tree.font())
        bold.setBold(True)
        for layer in self._by_id.values():
            category = str(layer.get("category") or "Other")
            parent = categories.get(category)
            if parent is None:
                parent = QTreeWidgetItem(self.tree, [category])
                parent.setFont(0, bold)
                parent.setData(0, _ID_ROLE, None)
                parent.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                categories[category] = parent
            layer_id = str(layer["id"])
            title = str(layer.get("title") or layer_id)
            item = QTreeWidgetItem(parent, [title])
            item.setData(0, _ID_ROLE, layer_id)
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled
            )
            help_text = str(layer.get("help") or "")
            item.setToolTip(
                0,
                f"{title} ({layer_id})\n{help_text}\n\nDrag onto the graph, or double-click to add.",
            )
        for parent in categories.values():
            parent.setToolTip(0, f"{parent.childCount()} layer types")
        self._apply_filter(self.search.text())

    def visible_layer_ids(self) -> list[str]:
        """Ids of the layers the current search shows, in display order."""
        ids = []
        for i in range(self.tree.topLevelItemCount()):
            parent = self.tree.topLevelItem(i)
            if parent.isHidden():
                continue
            for j in range(parent.childCount()):
                child = parent.child(j)
                if not child.isHidden():
                    ids.append(str(child.data(0, _ID_ROLE)))
        return ids

    def visible_categories(self) -> list[str]:
        """Categories with at least one layer matching the current search."""
        return [
            self.tree.topLevelItem(i).text(0)
            for i in range(self.tree.topLevelItemCount())
            if not self.tree.topLevelItem(i).isHidden()
        ]

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        # Down in the search field moves into the list, so the keyboard alone can pick one
        if (
            watched is self.search
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Down
        ):
            self._select_first_match()
            self.tree.setFocus()
            return True
        return super().eventFilter(watched, event)

    def _matches(self, layer: dict[str, Any], needle: str) -> bool:
        fields = (layer.get("title"), layer.get("id"), layer.get("help"))
        return any(needle in str(f or "").casefold() for f in fields)

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().casefold()
        shown = 0
        for i in range(self.tree.topLevelItemCount()):
            parent = self.tree.topLevelItem(i)
            any_visible = False
            for j in range(parent.childCount()):
                child = parent.child(j)
                layer = self._by_id.get(str(child.data(0, _ID_ROLE)), {})
                visible = not needle or self._matches(layer, needle)
                child.setHidden(not visible)
                any_visible = any_visible or visible
                shown += visible
            parent.setHidden(not any_visible)
            # while searching every match should be in sight; otherwise start folded open too
            parent.setExpanded(True)
        if needle and not shown:
            self.empty_label.setText(f"No layer matches “{text.strip()}”.")
            self.empty_label.show()
        else:
            self.empty_label.hide()
        if needle:
            self._select_first_match()

    def _select_first_match(self) -> None:
        for i in range(self.tree.topLevelItemCount()):
            parent = self.tree.topLevelItem(i)
            for j in range(parent.childCount()):
                child = parent.child(j)
                if not parent.isHidden() and not child.isHidden():
                    self.tree.setCurrentItem(child)
                    return

    def _add_first_match(self) -> None:
        ids = self.visible_layer_ids()
        if self.search.text().strip() and ids:
            self.layer_requested.emit(ids[0])


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    palette = LayerPalette()
    palette.set_layers(
        [
            {
                "id": "input",
                "title": "Input",
                "category": "Input/Output",
                "help": "Where samples enter the network; shape excludes the batch.",
            },
            {
                "id": "output",
                "title": "Output",
                "category": "Input/Output",
                "help": "The network's prediction.",
            },
            {
                "id": "linear",
                "title": "Linear",
                "category": "Dense",
                "help": "Fully connected layer on the last dimension: y = xWᵀ + b.",
            },
            {
                "id": "conv2d",
                "title": "Conv 2D",
                "category": "Convolution",
                "help": "2-D convolution over a (channels, height, width) image.",
            },
            {
                "id": "dwsep_conv2d",
                "title": "Depthwise-separable conv 2D",
                "category": "Convolution",
                "help": "A per-channel 2-D convolution then a 1x1 convolution mixing channels.",
            },
            {
                "id": "lstm",
                "title": "LSTM",
                "category": "Recurrent",
                "help": "Long short-term memory layer over a (steps, features) sequence.",
            },
            {"id": "relu", "title": "ReLU", "category": "Activation", "help": "max(0, x)."},
            {
                "id": "gelu",
                "title": "GELU",
                "category": "Activation",
                "help": "Gaussian error linear unit, as in transformers.",
            },
        ]
    )
    palette.layer_requested.connect(lambda layer_id: print("add", layer_id))
    palette.resize(260, 420)
    palette.show()
    app.exec()
