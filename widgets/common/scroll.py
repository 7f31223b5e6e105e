"""A scroll area for a panel's settings, so the buttons under them stay in view.

A dock on a 1366×768 screen is often shorter than its settings. Put the settings in
:func:`scrolling` and the action buttons (Explain, Audit, …) below it, outside the scroll
area: the settings scroll, the buttons never leave the panel.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import QFrame, QLayout, QScrollArea, QWidget


class _Holder(QWidget):
    """Holds the body without a layout, so the scroll area sees no height-for-width.

    A scroll area that resizes its widget gives a widget whose layout has height-for-width
    (any word-wrapped label) the height that width asks for, not the height there is: a
    panel with one wrapped line then always scrolls. The holder reports the body's own
    minimum and preferred sizes and gives it all of its area.
    """

    def __init__(self, body: QWidget) -> None:
        super().__init__()
        self.body = body
        body.setParent(self)
        body.installEventFilter(self)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return self.body.sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return self.body.minimumSizeHint().expandedTo(self.body.minimumSize())

    def resizeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        self.body.setGeometry(self.rect())
        super().resizeEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.body and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the body's sizes changed: the scroll area asks again
        return False


def scrolling(body: QWidget | QLayout, *, horizontal: bool = False) -> QScrollArea:
    """``body`` (a widget, or a layout put in one) in a frameless scroll area that resizes it.

    The area scrolls only when it is smaller than the body's minimum size. Vertical scrolling
    only, unless ``horizontal``: then the area is at least as wide as the body's minimum.
    """
    if isinstance(body, QLayout):
        holder = QWidget()
        holder.setLayout(body)
        body = holder
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    if not horizontal:
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setMinimumWidth(body.minimumSizeHint().width())
    area.setWidget(_Holder(body))
    return area
