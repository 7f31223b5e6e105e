"""The explanation panels: image heatmap grid, tabular charts, controls and epoch slider.

The views take attribution results as plain dicts with ``AttributionResult.to_dict()`` keys
(see ``widgets.explain.common``) and never compute attributions themselves; the host
feeds them one epoch at a time and listens to ``ExplainControls.explain_requested`` and
``EpochSlider.epoch_changed``.
"""

from __future__ import annotations

from widgets.explain.controls import (
    SAMPLE_CHOICES,
    EpochSlider,
    ExplainControls,
    parse_sample_ids,
)
from widgets.explain.image import ImageAttributionGrid
from widgets.explain.tabular import MODES, TabularAttributionView

__all__ = [
    "MODES",
    "SAMPLE_CHOICES",
    "EpochSlider",
    "ExplainControls",
    "ImageAttributionGrid",
    "TabularAttributionView",
    "parse_sample_ids",
    "preview_panel",
]


def preview_panel():
    """Controls, epoch slider and both views side by side with sample data (for previews)."""
    import numpy as np
    from PySide6.QtWidgets import QHBoxLayout, QTabWidget, QVBoxLayout, QWidget

    from widgets.explain.controls import PREVIEW_METHODS
    from widgets.explain.image import sample_images
    from widgets.explain.tabular import sample_table

    panel = QWidget()
    controls = ExplainControls()
    controls.set_methods(PREVIEW_METHODS, checked=("ig", "saliency", "smoothgrad", "gradcam"))
    controls.set_layers(["conv1", "conv2"])
    controls.set_sample_choice("misclassified", count=3)
    slider = EpochSlider()
    grid = ImageAttributionGrid()
    table = TabularAttributionView()
    tabs = QTabWidget()
    tabs.addTab(grid, "Images")
    tabs.addTab(table, "Table")
    right = QVBoxLayout()
    right.addWidget(slider)
    right.addWidget(tabs, 1)
    layout = QHBoxLayout(panel)
    controls.setFixedWidth(340)
    layout.addWidget(controls)
    layout.addLayout(right, 1)

    images, results, samples = sample_images()
    table_result, X, rows = sample_table()
    epochs = range(1, 11)

    def show_epoch(epoch: int) -> None:
        # later epochs sharpen the maps: a stand-in for recomputing at each epoch end
        sharpen = epoch / 10
        grid.set_attributions(
            images,
            [{**r, "attributions": np.asarray(r["attributions"]) * sharpen} for r in results],
            samples,
        )
        attr = table_result["attributions"] * sharpen
        outputs = table_result["reference"] + attr.sum(axis=1)
        table.set_result(
            {**table_result, "attributions": attr, "outputs": outputs,
             "delta": np.zeros(len(outputs))},
            feature_values=X,
            samples=rows,
        )

    slider.epoch_changed.connect(show_epoch)
    slider.set_epochs(epochs)
    controls.explain_requested.connect(
        lambda choices: controls.set_message(f"requested: {choices}", error=False)
    )
    panel.resize(1280, 760)
    return panel


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    window = preview_panel()
    window.show()
    app.exec()
