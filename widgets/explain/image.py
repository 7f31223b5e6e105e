"""Image attributions: a method × sample grid of heatmaps over the input images.

Each row is one method (its title and parameters on the left), each column one sample (its
row id, true and predicted label on top). Every map is drawn over its input with one
diverging colour scale — red pushes the output up, blue down, zero is transparent — shared by
all maps so their sizes compare, or one scale per method. Under each map is its completeness
gap (Δ) where the method defines one; hovering a map shows how it was made.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from widgets.common.export import (
    export_button,
    export_widget_png,
    export_widget_svg,
    write_csv,
)
from widgets.explain.common import (
    DIVERGING,
    ERROR,
    MUTED,
    TEXT,
    WARNING,
    as_array,
    delta_text,
    gap_is_large,
    is_misclassified,
    message_label,
    method_title,
    params_short,
    params_tooltip,
    sample_title,
    show_message,
    symmetric_limit,
    value_function_text,
    wrap,
)

__all__ = ["ImageAttributionGrid", "display_image", "display_map"]

EMPTY = "No attributions to show yet: pick samples and methods, then press Explain."
HEADER_WIDTH = 160


def display_image(image: np.ndarray) -> np.ndarray:
    """An input image as shown: (H, W) grey or (H, W, 3) colour, scaled to [0, 1].

    Accepts (C, H, W) with 1 or 3 channels (other channel counts are averaged to grey) or
    (H, W). The input is usually standardised, so it is stretched to its own range.
    """
    img = np.asarray(image, dtype=float)
    if img.ndim == 3:
        if img.shape[0] == 3:
            img = np.transpose(img, (1, 2, 0))
        elif img.shape[0] == 1:
            img = img[0]
        else:
            img = np.nanmean(img, axis=0) if np.isfinite(img).any() else img[0]
    finite = img[np.isfinite(img)]
    if finite.size == 0:
        return np.zeros(img.shape)
    lo, hi = float(finite.min()), float(finite.max())
    out = (img - lo) / (hi - lo) if hi > lo else np.full(img.shape, 0.5)
    return np.nan_to_num(out, nan=0.0)


def display_map(attribution: np.ndarray) -> np.ndarray:
    """One sample's attribution as drawn: (H, W) as is, (C, H, W) summed over channels.

    Summing keeps the sign and the completeness property (the pixel values still add up to
    the total), as captum's ``visualize_image_attr`` does.
    """
    a = np.asarray(attribution, dtype=float)
    return a.sum(axis=0) if a.ndim == 3 else a


class _Cell:
    """One map: the input image, the heatmap over it, and the completeness gap below."""

    def __init__(self, size: int) -> None:
        self.layout = pg.GraphicsLayout()
        self.layout.setContentsMargins(0, 0, 0, 0)
        self.layout.setSpacing(0)
        self.view = pg.ViewBox(
            lockAspect=True, invertY=True, enableMouse=False, enableMenu=False, defaultPadding=0
        )
        self.view.setFixedWidth(size)
        self.view.setFixedHeight(size)
        self.view.setBorder(pg.mkPen("#cfd8dc"))
        self.image = pg.ImageItem(axisOrder="row-major")
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setZValue(1)
        self.view.addItem(self.image)
        self.view.addItem(self.heat)
        self.gap = pg.LabelItem("", size="8pt", color=MUTED)
        self.gap.setFixedHeight(18)
        self.layout.addItem(self.view, 0, 0)
        self.layout.addItem(self.gap, 1, 0)


class ImageAttributionGrid(QWidget):
    """Heatmaps of several methods (rows) over several samples (columns).

    Parameters
    ----------
    cell_size
        Width and height of one map in pixels.
    """

    def __init__(self, parent: QWidget | None = None, *, cell_size: int = 120) -> None:
        super().__init__(parent)
        self.cell_size = cell_size
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.graphics.ci.setContentsMargins(8, 8, 8, 8)
        self.graphics.ci.setSpacing(6)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.graphics)
        self.scroll.setWidgetResizable(True)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.scroll.setStyleSheet("QScrollArea { background: white; }")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(70)
        self.opacity_slider.setFixedWidth(140)
        self.opacity_slider.setToolTip("How strongly the heatmaps cover the input images")
        self.opacity_label = QLabel()
        self.opacity_label.setMinimumWidth(80)
        self.per_method_box = QCheckBox("One scale per method")
        self.per_method_box.setToolTip(
            "Off: every map uses the same colour levels, so sizes compare across methods.\n"
            "On: each method gets its own levels (its largest |value|)."
        )
        self.export_button = export_button(
            self, self.export_png, self.export_svg, self.export_csv, self._export_failed,
            name="image_attributions",
        )
        self.message_label = message_label()
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Overlay"))
        bar.addWidget(self.opacity_slider)
        bar.addWidget(self.opacity_label)
        bar.addSpacing(12)
        bar.addWidget(self.per_method_box)
        bar.addStretch(1)
        bar.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.message_label)
        layout.addWidget(self.scroll, 1)
        layout.addStretch(0)  # keeps a lone message at the top while the grid is hidden

        self.cells: list[list[_Cell]] = []  # [method][sample]
        self.row_headers: list[pg.LabelItem] = []
        self.column_headers: list[pg.LabelItem] = []
        self.color_bars: list[pg.ColorBarItem] = []
        self._structure: tuple[int, int, bool] | None = None
        self._results: list[Mapping[str, Any]] = []
        self._samples: list[Mapping[str, Any]] = []
        self._maps: list[list[np.ndarray]] = []
        self._levels: list[float] = []
        self.opacity_slider.valueChanged.connect(self._on_opacity)
        self.per_method_box.toggled.connect(self._on_scale_mode)
        self._on_opacity(self.opacity_slider.value())
        self._clear(EMPTY)

    # ------------------------------------------------------------------ public API
    def set_attributions(
        self,
        images: Any,
        results: Sequence[Mapping[str, Any]],
        samples: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Show the maps of one epoch (or of a one-off request).

        Parameters
        ----------
        images
            The inputs, (S, C, H, W) or (S, H, W).
        results
            One dict per method with ``AttributionResult.to_dict()`` keys; ``attributions``
            is (S, C, H, W), or (S, H, W) for Grad-CAM.
        samples
            One dict per sample with ``id`` (row id), ``label`` and ``predicted`` (text).
        """
        images_arr = as_array(images)
        if not results or images_arr is None or images_arr.size == 0:
            self._clear(EMPTY)
            return
        if images_arr.ndim not in (3, 4):
            self._clear(
                "The input images must be (samples, channels, height, width) or "
                f"(samples, height, width); got shape {images_arr.shape}.",
                error=True,
            )
            return
        n_samples = images_arr.shape[0]
        maps: list[list[np.ndarray]] = []
        for result in results:
            arr = as_array(result.get("attributions"))
            title = method_title(result)
            if arr is None or arr.ndim not in (3, 4) or arr.shape[0] != n_samples:
                got = "no numbers" if arr is None else f"shape {arr.shape}"
                self._clear(
                    f"“{title}” needs one map per sample ({n_samples}, height, width); "
                    f"got {got}.",
                    error=True,
                )
                return
            maps.append([display_map(arr[s]) for s in range(n_samples)])
        self._results = list(results)
        self._samples = [dict(s) for s in (samples or [])]
        self._samples += [{} for _ in range(n_samples - len(self._samples))]
        self._maps = maps
        shown = [display_image(images_arr[s]) for s in range(n_samples)]
        structure = (len(results), n_samples, self.per_method_box.isChecked())
        if structure != self._structure:
            self._build(*structure)
        self._fill(shown)
        blank = sum(not np.isfinite(m).any() for row in maps for m in row)
        if blank:
            show_message(
                self.message_label,
                f"{blank} map(s) have no finite values (NaN or ∞) and are left blank.",
                error=True,
            )
        else:
            show_message(self.message_label, "")

    def set_opacity(self, opacity: float) -> None:
        """Set how strongly the heatmaps cover the images, from 0 (hidden) to 1."""
        self.opacity_slider.setValue(round(100 * min(max(float(opacity), 0.0), 1.0)))

    def set_scale_per_method(self, per_method: bool) -> None:
        """Use one colour scale per method (True) or one for all maps (False)."""
        self.per_method_box.setChecked(per_method)

    def levels(self, method_index: int = 0) -> tuple[float, float]:
        """The colour levels (low, high) of one method's maps; symmetric around zero."""
        limit = self._levels[method_index]
        return (-limit, limit)

    def message(self) -> str:
        """The message shown above the grid ("" if none)."""
        return self.message_label.text() if self.message_label.isVisibleTo(self) else ""

    def export_png(self, path: str | Path) -> None:
        """Save the grid (headers, maps, colour scale) as a PNG."""
        export_widget_png(self.graphics, path)

    def export_svg(self, path: str | Path) -> None:
        """Save the grid as SVG."""
        export_widget_svg(self.graphics, path, "attributions")

    def export_csv(self, path: str | Path) -> None:
        """Save every map's values, one pixel a row, as drawn (channels summed)."""
        def rows():
            for result, row in zip(self._results, self._maps):
                for s, m in enumerate(row):
                    sid = self._samples[s].get("id", s)
                    for (r, c), value in np.ndenumerate(m):
                        yield (result.get("method", ""), sid, r, c, float(value))

        write_csv(path, ["method", "sample", "row", "column", "attribution"], rows())

    # ------------------------------------------------------------------ building
    def _clear(self, text: str, *, error: bool = False) -> None:
        self.graphics.clear()
        self.cells, self.row_headers, self.column_headers, self.color_bars = [], [], [], []
        self._structure = None
        self._results, self._samples, self._maps, self._levels = [], [], [], []
        self.scroll.hide()
        self.export_button.setEnabled(False)
        show_message(self.message_label, text, error=error)

    def _build(self, n_methods: int, n_samples: int, per_method: bool) -> None:
        """Create the items for this grid shape; later epochs only update them."""
        self.graphics.clear()
        ci = self.graphics.ci
        size = self.cell_size
        self.column_headers = []
        for s in range(n_samples):
            label = pg.LabelItem("", size="9pt", color=TEXT)
            label.setFixedWidth(size)
            ci.addItem(label, 0, 2 + s)
            self.column_headers.append(label)
        self.row_headers, self.cells = [], []
        for m in range(n_methods):
            header = pg.LabelItem("", size="9pt", color=TEXT, justify="left")
            header.setFixedWidth(HEADER_WIDTH)
            ci.addItem(header, 1 + m, 0)
            self.row_headers.append(header)
            row = []
            for s in range(n_samples):
                cell = _Cell(size)
                ci.addItem(cell.layout, 1 + m, 2 + s)
                cell.heat.setOpacity(self.opacity_slider.value() / 100)
                row.append(cell)
            self.cells.append(row)
        self.color_bars = []
        groups = [[m] for m in range(n_methods)] if per_method else [list(range(n_methods))]
        for rows in groups:
            bar = pg.ColorBarItem(
                values=(-1, 1),
                colorMap=DIVERGING,
                label="attribution",
                interactive=False,
                colorMapMenu=False,
                width=14,
            )
            bar.getAxis("left").setTextPen(TEXT)
            bar.getAxis("right").setTextPen(TEXT)
            bar.setImageItem([self.cells[m][s].heat for m in rows for s in range(n_samples)])
            # the scale sits between the method names and the maps (column 1), so it stays in
            # view however many samples scroll off to the right
            ci.addItem(bar, 1 + rows[0], 1, rowspan=len(rows))
            self.color_bars.append(bar)
        self._structure = (n_methods, n_samples, per_method)
        self.scroll.show()
        self.export_button.setEnabled(True)

    def _fill(self, images: list[np.ndarray]) -> None:
        n_samples = len(images)
        chars = max(6, self.cell_size // 7)  # what fits above one map at 9 pt
        for s, header in enumerate(self.column_headers):
            sample = self._samples[s]
            sid, labels = sample_title(sample, s)
            colour = ERROR if is_misclassified(sample) else MUTED
            lines = [f"<b>{html.escape(_elide(sid, chars))}</b>"]
            for key, word in (("label", "true"), ("predicted", "pred")):
                if sample.get(key) is not None:
                    text = html.escape(_elide(f"{word} {sample[key]}", chars))
                    lines.append(f"<span style='color:{colour}'>{text}</span>")
            header.setText("<br>".join(lines))
            header.setToolTip(f"{sid} {labels}".strip())
        for m, result in enumerate(self._results):
            title_lines = textwrap.wrap(method_title(result), 22) or [""]
            if len(title_lines) > 2:
                title_lines = [title_lines[0], _elide(title_lines[1] + " …", 22)]
            title = "<br>".join(html.escape(line) for line in title_lines)
            detail = wrap(params_short(result.get("params"), 66), 23, 3)
            how = value_function_text(result)
            if how:
                how_lines = textwrap.wrap(how, 24) or [""]
                detail += how_lines[:2] if len(how_lines) <= 2 else [
                    how_lines[0], _elide(how_lines[1] + " …", 24)]
            if result.get("layer"):
                detail.append(f"layer: {result['layer']}")
            small = "".join(
                f"<br><span style='color:{MUTED}'>{html.escape(line)}</span>" for line in detail
            )
            self.row_headers[m].setText(f"<b>{title}</b>{small}")
            tip = params_tooltip(result)
            self.row_headers[m].setToolTip(tip)
            delta = as_array(result.get("delta"))
            outputs = as_array(result.get("outputs"))
            reference = as_array(result.get("reference"))
            for s in range(n_samples):
                cell = self.cells[m][s]
                img = images[s]
                h, w = img.shape[:2]
                # a wider level range than the data greys the input down, so red and blue
                # stay readable over both its dark and its bright parts
                cell.image.setImage(img, levels=(-0.35, 1.5))
                cell.image.setRect(QRectF(0, 0, w, h))
                heat = self._maps[m][s]
                cell.heat.setImage(heat, autoLevels=False)
                # Grad-CAM maps may come at the conv layer's resolution: stretch to the image
                cell.heat.setRect(QRectF(0, 0, w, h))
                cell.view.setRange(xRange=(0, w), yRange=(0, h), padding=0)
                d = _item(delta, s)
                large = gap_is_large(d, _item(outputs, s), _item(reference, s))
                text = delta_text(d) if np.isfinite(heat).any() else "no finite values"
                cell.gap.setText(text, color=WARNING if large else MUTED)
                sid, labels = sample_title(self._samples[s], s)
                gap_line = f"\ncompleteness gap Δ = {d!r}" if d is not None else ""
                warn = (
                    "\nThe attributions do not add up to F(x) − reference: "
                    "more steps or samples would tighten them."
                    if large
                    else ""
                )
                cell.heat.setToolTip(f"{sid} {labels}{gap_line}{warn}\n\n{tip}")
                cell.gap.setToolTip(cell.heat.toolTip())
        self._apply_levels()
        # keep the grid at its natural size (top left) rather than spreading the cells
        hint = self.graphics.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize)
        self.graphics.setFixedSize(math.ceil(hint.width()) + 2, math.ceil(hint.height()) + 2)

    def _apply_levels(self) -> None:
        per_method = self._structure is not None and self._structure[2]
        if per_method:
            self._levels = [symmetric_limit(row) for row in self._maps]
        else:
            shared = symmetric_limit(m for row in self._maps for m in row)
            self._levels = [shared] * len(self._maps)
        for i, bar in enumerate(self.color_bars):
            limit = self._levels[i] if per_method else self._levels[0]
            bar.setLevels((-limit, limit))
            bar.getAxis("left").setLabel("attribution" if not per_method else "")

    # ------------------------------------------------------------------ reactions
    def _on_opacity(self, value: int) -> None:
        self.opacity_label.setText(f"{value} %")
        for row in self.cells:
            for cell in row:
                cell.heat.setOpacity(value / 100)

    def _on_scale_mode(self, per_method: bool) -> None:
        if self._structure is None:
            return
        n_methods, n_samples, _ = self._structure
        images = [c.image.image for c in self.cells[0]] if self.cells else []
        self._build(n_methods, n_samples, per_method)
        self._fill(images)

    def _export_failed(self, text: str) -> None:
        show_message(self.message_label, text, error=True)


def _elide(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _item(values: np.ndarray | None, index: int) -> float | None:
    if values is None or values.ndim != 1 or index >= values.shape[0]:
        return None
    return float(values[index])


def _digit(rng: np.random.Generator, strokes: list[tuple[float, float, float, float]]) -> np.ndarray:
    """A 28 × 28 stroke drawing (a digit-like image) with a little noise."""
    yy, xx = np.mgrid[0:28, 0:28].astype(float)
    img = np.zeros((28, 28))
    for x0, y0, x1, y1 in strokes:
        t = np.clip(((xx - x0) * (x1 - x0) + (yy - y0) * (y1 - y0))
                    / ((x1 - x0) ** 2 + (y1 - y0) ** 2), 0, 1)
        dist = np.hypot(xx - (x0 + t * (x1 - x0)), yy - (y0 + t * (y1 - y0)))
        img = np.maximum(img, np.exp(-(dist**2) / 3.0))
    return img + 0.05 * rng.random((28, 28))


def sample_images() -> tuple[np.ndarray, list[dict[str, Any]], list[dict[str, Any]]]:
    """Digit-like images and plausible attributions of four methods, for previews."""
    rng = np.random.default_rng(3)
    seven = [(7, 6, 21, 6), (21, 6, 12, 23)]
    one = [(14, 4, 14, 24), (11, 7, 14, 4)]
    four = [(8, 4, 8, 15), (8, 15, 21, 15), (17, 6, 17, 24)]
    images = np.stack([_digit(rng, s) for s in (seven, one, four)])[:, None]  # (3, 1, 28, 28)
    smooth = np.ones(7) / 7

    def field(scale: float) -> np.ndarray:
        """Smooth random blobs scaled so the largest |value| is ``scale``."""
        f = rng.normal(size=(3, 1, 28, 28))
        for axis in (2, 3, 2, 3):
            f = np.apply_along_axis(np.convolve, axis, f, smooth, mode="same")
        return scale * f / np.abs(f).max()

    ig = images * field(1.0) + 0.15 * images
    saliency = np.abs(field(0.5)) * (0.2 + images)
    yy, xx = np.mgrid[0:28, 0:28]
    cam = np.stack([np.exp(-((yy - 9 - 5 * i) ** 2 + (xx - 15) ** 2) / 50) for i in range(3)])
    versions = {"torch": "2.13.0", "captum": "0.8.0", "numpy": np.__version__}
    results = [
        {"method": "ig", "title": "Integrated Gradients",
         "params": {"n_steps": 50, "method": "gausslegendre", "internal_batch_size": 64},
         "attributions": ig, "baseline": "zeros", "value_function": "baseline",
         "delta": [1.2e-6, -3.4e-5, 0.21], "outputs": [4.1, 3.7, 2.0],
         "reference": [0.1, 0.1, 0.1], "seed": 0, "versions": versions},
        {"method": "saliency", "title": "Saliency", "params": {"abs": True},
         "attributions": saliency, "delta": None, "seed": 0, "versions": versions},
        {"method": "smoothgrad", "title": "SmoothGrad",
         "params": {"nt_samples": 25, "stdevs": 0.15, "nt_type": "smoothgrad"},
         "attributions": images * field(0.8), "delta": None, "seed": 7, "versions": versions},
        {"method": "gradcam", "title": "Grad-CAM", "params": {"relu_attributions": True},
         "attributions": 0.6 * cam, "layer": "conv2", "delta": None, "seed": 0,
         "versions": versions},
    ]
    samples = [
        {"id": 17, "label": "7", "predicted": "7"},
        {"id": 240, "label": "1", "predicted": "7"},
        {"id": 1031, "label": "4", "predicted": "4"},
    ]
    return images, results, samples


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    grid = ImageAttributionGrid()
    images, results, samples = sample_images()
    grid.set_attributions(images, results, samples)
    grid.resize(820, 720)
    grid.show()
    app.exec()
