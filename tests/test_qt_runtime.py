"""The Qt binding must not corrupt Python's reference counts (PySide6 6.12.0 did on 3.11)."""

from __future__ import annotations

import sys


def test_void_qt_calls_keep_none_refcount(qapp) -> None:
    from PySide6.QtWidgets import QWidget

    w = QWidget()
    before = sys.getrefcount(None)
    for _ in range(20_000):
        w.update()
    # a small drift is other code; the broken binding loses exactly one per call
    assert abs(sys.getrefcount(None) - before) < 1_000
