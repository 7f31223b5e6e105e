"""A mouse wheel over a field changes it only when the field has the keyboard focus.

Scrolling a panel with the wheel passes over spin boxes, combo boxes and sliders; Qt lets each
of them take the wheel and change its value on the way (a fairness threshold 0.50 → 0.46 while
scrolling). :class:`WheelGuard`, installed once on the application, sends such a wheel event
to the scroll area the field sits in instead, unless the user clicked into (or tabbed to) the
field first, as they would to edit it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollBar,
    QWidget,
)

__all__ = ["WheelGuard", "install"]


class WheelGuard(QObject):
    """Application-wide event filter; see the module docstring."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        kind = event.type()
        if kind == QEvent.Type.Polish and isinstance(watched, QWidget) and _field_of(watched) is watched:
            # Qt focuses a field the wheel passes over (WheelFocus) before any filter sees the
            # wheel: fields take the focus by click or Tab only
            if watched.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                watched.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            return False
        if kind != QEvent.Type.Wheel or not isinstance(watched, QWidget):
            return False
        field = _field_of(watched)
        if field is None or field.hasFocus():
            return False
        area = _scroll_area_of(field)
        if area is not None:
            bar = area.verticalScrollBar()
            if bar is not None and bar.isVisible():
                QApplication.sendEvent(bar, event)
        return True  # the field never takes an unfocused wheel


def _field_of(widget: QWidget) -> QWidget | None:
    # a combo box's popup or a spin box's line edit receive the wheel too: find the field itself
    w: QWidget | None = widget
    for _ in range(3):
        if w is None:
            return None
        if isinstance(w, QAbstractSpinBox | QComboBox) or (
            isinstance(w, QAbstractSlider) and not isinstance(w, QScrollBar)
        ):
            return w
        w = w.parentWidget()
    return None


def _scroll_area_of(widget: QWidget) -> QAbstractScrollArea | None:
    w = widget.parentWidget()
    while w is not None:
        if isinstance(w, QAbstractScrollArea):
            return w
        w = w.parentWidget()
    return None


_guard: WheelGuard | None = None


def install(app: QApplication) -> WheelGuard:
    """Install the guard on ``app`` once, and make fields take focus by click or Tab only."""
    global _guard
    if _guard is None:
        _guard = WheelGuard(app)
        app.installEventFilter(_guard)
    return _guard

