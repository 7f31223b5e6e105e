"""A mouse wheel over a field changes it only when the field has the keyboard focus.

Scrolling a panel with the wheel passes over spin boxes, combo boxes and sliders; Qt lets each
of them take the wheel and change its value on the way (a fairness threshold 0.50 → 0.46 while
scrolling). :func:`guard_fields` gives every such field under a widget a :class:`WheelGuard`:
the field takes the focus by click or Tab only (not by the wheel), and a wheel event over it
while it has no focus scrolls the scroll area it sits in instead. The window calls it for its
whole tree as panels are built and editors come and go; the guard sits on the fields alone,
so no other widget's events pass through Python.
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

__all__ = ["WheelGuard", "guard_fields"]

_GUARDED = "_wheel_guarded"


class WheelGuard(QObject):
    """Event filter of the fields; see the module docstring."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget) or watched.hasFocus():
            return False
        area = _scroll_area_of(watched)
        if area is not None:
            bar = area.verticalScrollBar()
            if bar is not None and bar.isVisible():
                QApplication.sendEvent(bar, event)
        return True  # the field never takes an unfocused wheel


def _scroll_area_of(widget: QWidget) -> QAbstractScrollArea | None:
    w = widget.parentWidget()
    while w is not None:
        if isinstance(w, QAbstractScrollArea):
            return w
        w = w.parentWidget()
    return None


_guard: WheelGuard | None = None


def guard_fields(root: QWidget) -> int:
    """Guard every spin box, combo box and slider under ``root`` not guarded yet; returns how many."""
    global _guard
    if _guard is None:
        _guard = WheelGuard(QApplication.instance())
    added = 0
    for cls in (QAbstractSpinBox, QComboBox, QAbstractSlider):
        for field in root.findChildren(cls):
            if isinstance(field, QScrollBar) or field.property(_GUARDED):
                continue
            if field.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            field.installEventFilter(_guard)
            field.setProperty(_GUARDED, True)
            added += 1
    return added
