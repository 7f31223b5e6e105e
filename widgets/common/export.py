"""Saving what a view shows: PNG and SVG pictures of widgets and plots, values as CSV.

Every view that has an Export button (explanations, checks, fairness) writes through these
functions, so a picture or a table comes out the same way whichever panel it came from. A file
that cannot be written raises ``OSError`` with a sentence naming the file; the views show that
sentence in their message line, never as a crash.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401 (registers pg.exporters)
from PySide6.QtCore import QCoreApplication, QPoint, QRect, QRectF, QSize
from PySide6.QtGui import QAction, QColor, QPainter
from PySide6.QtWidgets import (
    QFileDialog,
    QGraphicsItem,
    QGraphicsView,
    QMenu,
    QToolButton,
    QWidget,
)

__all__ = [
    "export_button",
    "export_plot_png",
    "export_plot_svg",
    "export_widget_png",
    "export_widget_svg",
    "write_csv",
]


def _settle() -> None:
    """Apply pending layout changes (new data re-lays out the scene) before drawing a copy."""
    QCoreApplication.sendPostedEvents()


def _check_written(path: Path) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        raise OSError(f"Could not write {path}.")


def export_widget_png(widget: QWidget, path: str | Path) -> None:
    """Save what ``widget`` shows as a PNG at its on-screen size.

    ``QWidget.grab`` rather than pyqtgraph's ImageExporter: the grab is exactly the widget's
    size and includes everything it paints.
    """
    _settle()
    pixmap = widget.grab()
    if pixmap.isNull() or not pixmap.save(str(path), "PNG"):
        raise OSError(f"Could not write the image {path}.")


def export_widget_svg(widget: QWidget, path: str | Path, title: str = "") -> None:
    """Save what ``widget`` shows as SVG: bars, lines and text as vectors, images embedded.

    Painted through ``QSvgGenerator`` rather than pyqtgraph's SVGExporter, which (0.14 with
    Qt 6.11) fails on the closed paths Qt now writes (``... Z``) for view boxes and borders.
    The SVG's title is ``title``, else the widget's window title, else its class name.
    """
    _settle()
    path = Path(path)
    size = widget.size() if not widget.size().isEmpty() else widget.sizeHint()
    from PySide6.QtSvg import QSvgGenerator  # only when exporting: QtSvg is slow to load

    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(size)
    generator.setViewBox(QRect(0, 0, size.width(), size.height()))
    generator.setTitle(title or widget.windowTitle() or type(widget).__name__)
    generator.setResolution(widget.logicalDpiX())  # one SVG unit per screen pixel
    painter = QPainter()
    if not painter.begin(generator):
        raise OSError(f"Could not write the image {path}.")
    try:
        if isinstance(widget, QGraphicsView):
            widget.render(painter)  # a scene view's render() takes a painter and target rect
        else:
            widget.render(painter, QPoint(0, 0))
    finally:
        painter.end()
    _check_written(path)


def export_plot_png(plot: pg.PlotItem, path: str | Path, width: int = 1200) -> None:
    """Save a plot through pyqtgraph's image exporter (white background)."""
    path = Path(path)
    exporter = pg.exporters.ImageExporter(plot)
    params = exporter.parameters()
    # the exporter keeps the aspect ratio: setting the width sets the height
    params["width"] = int(max(width, 100))
    params["background"] = QColor("white")
    exporter.export(str(path))
    _check_written(path)


def export_plot_svg(plot: pg.PlotItem, path: str | Path) -> None:
    """Save a plot as vector SVG, drawn by Qt's SVG generator.

    Not pyqtgraph's SVGExporter: it re-parses Qt's path data and fails on the closing "Z"
    that the pinned Qt writes (pyqtgraph issue #3485), even for an empty plot.
    """
    path = Path(path)
    scene = plot.scene()
    if scene is None:
        raise OSError(f"Could not write {path}: the plot is not shown.")
    source = plot.sceneBoundingRect()
    width, height = max(int(source.width()), 1), max(int(source.height()), 1)
    from PySide6.QtSvg import QSvgGenerator  # only when exporting: QtSvg is slow to load

    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(QSize(width, height))
    generator.setViewBox(QRectF(0, 0, width, height))
    generator.setTitle(plot.titleLabel.text or "plot")
    # at the screen's resolution: items recorded as QPictures (bars) would otherwise be
    # replayed scaled by 72/96 against the rest of the plot
    views = scene.views()
    generator.setResolution(views[0].logicalDpiX() if views else 96)
    # cached items (the axes) would be pasted in as bitmaps: draw them as vectors for the file
    cached = [i for i in scene.items() if i.cacheMode() != QGraphicsItem.CacheMode.NoCache]
    modes = [i.cacheMode() for i in cached]
    for item in cached:
        item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
    painter = QPainter()
    try:
        if not painter.begin(generator):
            raise OSError(f"Could not write {path}.")
        painter.fillRect(QRectF(0, 0, width, height), QColor("white"))
        scene.render(painter, QRectF(0, 0, width, height), source)
        painter.end()
    finally:
        for item, mode in zip(cached, modes):
            item.setCacheMode(mode)
    _check_written(path)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""  # undefined stays empty, never 0
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        return repr(float(value))  # the shortest text that reads back as the same float
    return value


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write rows as UTF-8 CSV; floats keep full precision, undefined values (None, NaN) are empty."""
    try:
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for row in rows:
                writer.writerow([_csv_value(v) for v in row])
    except OSError as exc:
        raise OSError(f"Could not write {path}: {exc.strerror or exc}.") from exc


def export_button(
    parent: QWidget,
    export_png: Callable[[str], None],
    export_svg: Callable[[str], None],
    export_csv: Callable[[str], None],
    on_error: Callable[[str], None],
    name: str = "export",
) -> QToolButton:
    """An "Export" tool button whose menu asks for a file and saves PNG, SVG or CSV."""
    button = QToolButton(parent)
    button.setText("Export")
    button.setToolTip("Save this view as an image (PNG, SVG) or its values as CSV")
    button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    menu = QMenu(button)
    for label, suffix, filt, func in (
        ("Image (PNG)…", "png", "PNG image (*.png)", export_png),
        ("Vector image (SVG)…", "svg", "SVG image (*.svg)", export_svg),
        ("Values (CSV)…", "csv", "CSV table (*.csv)", export_csv),
    ):
        action = QAction(label, menu)
        action.triggered.connect(
            lambda _=False, s=suffix, f=filt, fn=func: _ask_and_export(parent, name, s, f, fn, on_error)
        )
        menu.addAction(action)
    button.setMenu(menu)
    return button


def _ask_and_export(
    parent: QWidget,
    name: str,
    suffix: str,
    file_filter: str,
    func: Callable[[str], None],
    on_error: Callable[[str], None],
) -> None:
    path, _ = QFileDialog.getSaveFileName(parent, "Export", f"{name}.{suffix}", file_filter)
    if not path:
        return
    if not path.lower().endswith(f".{suffix}"):
        path += f".{suffix}"
    try:
        func(path)
    except OSError as exc:
        on_error(str(exc))
