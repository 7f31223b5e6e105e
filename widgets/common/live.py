"""How often live views redraw, shared by every view that plots while a run trains."""

from __future__ import annotations

__all__ = ["REDRAW_HZ"]

# New points are buffered and drawn on a timer at most this many times a second, however
# often events arrive: the GUI thread stays free for input while training runs at full speed.
REDRAW_HZ = 10
