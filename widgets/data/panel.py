"""The data panel: choose a built-in dataset or import one, set column roles, see a summary.

Plain data in (lists, dicts, numpy arrays), Qt signals out. The panel shows a choice the
controller has read (a preview of the first rows, the columns with their inferred type and
missing values, split and preparation options, summary plots) and reports what the user
does: picks a built-in, picks a file or folder, edits roles or options, presses Apply. It
reads no file and prepares no data itself; a bad file's message is shown here, in red.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from widgets.data.datasheet import DatasheetView

__all__ = ["ROLES", "DataPanel", "PreviewModel"]

ROLES = ("feature", "target", "sensitive", "ignore")
_ROLE_TIPS = {
    "feature": "An input of the model",
    "target": "What the model predicts (one column)",
    "sensitive": "A protected attribute kept for fairness checks, not fed to the model",
    "ignore": "Left out entirely",
}
_TYPE_TIPS = {
    "numeric": "Numbers: gaps filled, then standardised on the training split",
    "categorical": "A few distinct values: one-hot encoded",
    "text": "Many distinct values (free text or ids): one-hot encoding makes one input per "
    "value; consider the role 'ignore'",
    "constant": "A single value: carries no information",
}
# (value, label); None is the engine's default for the column's type
_MISSING_POLICIES = (
    (None, "default"),
    ("drop", "drop the row"),
    ("mean", "mean"),
    ("median", "median"),
    ("most_frequent", "most frequent"),
)
_NUMERIC_ONLY = {"mean", "median"}
FILE_FILTER = (
    "Data files (*.csv *.tsv *.txt *.parquet *.pq *.npz *.npy);;"
    "CSV (*.csv *.tsv *.txt);;Parquet (*.parquet *.pq);;NumPy (*.npz *.npy);;All files (*)"
)
_ERROR_STYLE = (
    "color: #b71c1c; background: #ffebee; border: 1px solid #ef9a9a;"
    " border-radius: 3px; padding: 4px;"
)
_OK_STYLE = "color: #37474f; padding: 4px;"
_BAR_BRUSH = pg.mkBrush("#1e88e5")
_HIST_BRUSH = pg.mkBrush(30, 136, 229, 90)
_HIST_PEN = pg.mkPen("#1e88e5", width=1.5)
MAX_HIST_CATEGORIES = 20
MAX_IMAGES = 16


def _plot(title: str) -> pg.PlotWidget:
    w = pg.PlotWidget(background="w")
    w.setTitle(title, color="#263238", size="10pt")
    w.showGrid(x=False, y=True, alpha=0.25)
    w.setMouseEnabled(x=False, y=False)
    w.hideButtons()
    w.setMenuEnabled(False)
    return w


def _short(text: str, n: int = 12) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


class PreviewModel(QAbstractTableModel):
    """The first rows of a table as text; missing cells (None) show a grey dash."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._columns: list[str] = []
        self._rows: list[list[Any]] = []

    def set_table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.beginResetModel()
        self._columns = [str(c) for c in columns]
        self._rows = [list(r) for r in rows]
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = self._rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return "—" if value is None else str(value)
        if role == Qt.ItemDataRole.ForegroundRole and value is None:
            return QColor("#9e9e9e")
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, int | float):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._columns[section] if section < len(self._columns) else None
        return str(section)


class DataPanel(QWidget):
    """Choose, import and inspect the project's data; Apply makes the choice the project's."""

    builtin_chosen = Signal(str)  # the user picked a built-in dataset (its id)
    file_chosen = Signal(str)  # the user picked a data file to import (its path)
    folder_chosen = Signal(str)  # the user picked an image folder to import (its path)
    options_changed = Signal()  # the user edited roles, missing-value policies, task or split
    apply_requested = Signal()  # the user pressed Apply

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._datasets: list[dict[str, Any]] = []
        self._columns: list[dict[str, Any]] = []
        self._role_boxes: dict[str, QComboBox] = {}
        self._missing_boxes: dict[str, QComboBox] = {}
        self._features: dict[str, np.ndarray] = {}
        self._quiet = False
        self._read_only = False
        self._apply_allowed = False
        self._busy = False
        self._kind = ""
        self._source = ""
        self._error = False

        # ---------------------------------------------------------------- source
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(4, 4, 4, 4)
        source_box = QGroupBox("Dataset")
        sv = QVBoxLayout(source_box)
        self.dataset_combo = QComboBox()
        self.dataset_combo.setToolTip("The built-in datasets; they need no network")
        self.dataset_combo.activated.connect(self._on_builtin_activated)
        self.dataset_combo.currentIndexChanged.connect(self._show_description)
        self.description_label = QLabel()
        self.description_label.setWordWrap(True)
        self.description_label.setStyleSheet("color: #546e7a;")
        self.description_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        buttons = QHBoxLayout()
        self.import_file_button = QPushButton("Import file…")
        self.import_file_button.setToolTip("A CSV, Parquet, NumPy .npz or .npy file")
        self.import_file_button.clicked.connect(self._pick_file)
        self.import_folder_button = QPushButton("Import image folder…")
        self.import_folder_button.setToolTip("A folder with one sub-folder of images per class")
        self.import_folder_button.clicked.connect(self._pick_folder)
        buttons.addWidget(self.import_file_button)
        buttons.addWidget(self.import_folder_button)
        sv.addWidget(QLabel("Built-in:"))
        sv.addWidget(self.dataset_combo)
        sv.addWidget(self.description_label)
        sv.addLayout(buttons)
        lv.addWidget(source_box)

        self.choice_label = QLabel("No data chosen")
        bold = QFont(self.choice_label.font())
        bold.setBold(True)
        self.choice_label.setFont(bold)
        self.choice_label.setWordWrap(True)
        self.choice_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.hide()
        lv.addWidget(self.choice_label)
        lv.addWidget(self.status_label)
        lv.addStretch(1)
        self.fit_network = QCheckBox("Fit the network's input and output to this data")
        self.fit_network.setToolTip(
            "Set the input layer's shape and the last layer's size to the dataset's, in the "
            "same undo step as the data"
        )
        self.fit_network.setChecked(True)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Make this the project's data (one undo step)")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self._on_apply)
        apply_row = QHBoxLayout()
        apply_row.addStretch(1)
        apply_row.addWidget(self.apply_button)
        self.applied_label = QLabel()
        self.applied_label.setWordWrap(True)
        self.applied_label.setStyleSheet("color: #546e7a;")
        self.applied_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lv.addWidget(self.fit_network)
        lv.addLayout(apply_row)
        lv.addWidget(self.applied_label)

        # ---------------------------------------------------------------- tabs
        self.tabs = QTabWidget()
        self.preview_model = PreviewModel(self)
        self.preview = QTableView()
        self.preview.setModel(self.preview_model)
        self.preview.setAlternatingRowColors(True)
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview.verticalHeader().setDefaultSectionSize(20)
        self.preview.horizontalHeader().setDefaultSectionSize(90)
        self.tabs.addTab(self.preview, "Preview")

        columns_page = QWidget()
        cv = QVBoxLayout(columns_page)
        cv.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.task_combo = QComboBox()
        for value, label in ((None, "infer from the target"), ("classification", "classification"),
                             ("regression", "regression")):
            self.task_combo.addItem(label, value)
        self.task_combo.setToolTip("Classification or regression; inferred from the target's values by default")
        self.task_combo.currentIndexChanged.connect(self._emit_options)
        self.sensitive_as_features = QCheckBox("Also feed sensitive columns to the model")
        self.sensitive_as_features.setToolTip(
            "Sensitive columns are always kept for fairness checks; tick to use them as inputs too"
        )
        self.sensitive_as_features.toggled.connect(self._emit_options)
        top.addWidget(QLabel("Task:"))
        top.addWidget(self.task_combo)
        top.addSpacing(12)
        top.addWidget(self.sensitive_as_features)
        top.addStretch(1)
        cv.addLayout(top)
        self.roles_table = QTableWidget(0, 5)
        self.roles_table.setHorizontalHeaderLabels(
            ["Column", "Role", "Type", "Missing", "Fill missing with"]
        )
        self.roles_table.verticalHeader().hide()
        self.roles_table.verticalHeader().setDefaultSectionSize(24)
        self.roles_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.roles_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.roles_table.horizontalHeader()
        # sized to their contents, so a column's settings sit next to its name
        for i in range(5):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        cv.addWidget(self.roles_table, 1)
        self.no_columns_label = QLabel("Images and sequences have no columns to assign.")
        self.no_columns_label.setStyleSheet("color: #78909c; padding: 12px;")
        self.no_columns_label.hide()
        cv.addWidget(self.no_columns_label)
        self.tabs.addTab(columns_page, "Columns")

        split_page = QWidget()
        form = QFormLayout(split_page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.split_fields: dict[str, QDoubleSpinBox] = {}
        for name, label, tip in (
            ("train", "Training", "Fraction of rows the model learns from"),
            ("val", "Validation", "Fraction of rows watched during training (curves, early stopping)"),
            ("test", "Test", "Fraction of rows held back for the final evaluation"),
        ):
            spin = QDoubleSpinBox()
            spin.setRange(0.0, 0.99)
            spin.setDecimals(2)
            spin.setSingleStep(0.05)
            spin.setKeyboardTracking(False)
            spin.setToolTip(tip + "; the three add up to 1")
            spin.setMinimumWidth(90)
            spin.valueChanged.connect(self._emit_options)
            self.split_fields[name] = spin
            form.addRow(label, spin)
        self.split_seed = QSpinBox()
        self.split_seed.setRange(0, 2**31 - 1)
        self.split_seed.setMinimumWidth(120)
        self.split_seed.setKeyboardTracking(False)
        self.split_seed.setToolTip("The same seed gives the same split")
        self.split_seed.valueChanged.connect(self._emit_options)
        self.stratify = QCheckBox("Keep class proportions in every split (stratify)")
        self.stratify.toggled.connect(self._emit_options)
        form.addRow("Seed", self.split_seed)
        form.addRow("", self.stratify)
        self.image_height = QSpinBox()
        self.image_width = QSpinBox()
        for spin in (self.image_height, self.image_width):
            spin.setRange(1, 1024)
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._emit_options)
        size_row = QWidget()
        sr = QHBoxLayout(size_row)
        sr.setContentsMargins(0, 0, 0, 0)
        sr.addWidget(self.image_height)
        sr.addWidget(QLabel("×"))
        sr.addWidget(self.image_width)
        self.image_mode = QComboBox()
        self.image_mode.addItem("grayscale", "grayscale")
        self.image_mode.addItem("colour (RGB)", "rgb")
        self.image_mode.currentIndexChanged.connect(self._emit_options)
        self._image_rows = (size_row, self.image_mode)
        form.addRow("Image size (h × w)", size_row)
        form.addRow("Image colours", self.image_mode)
        self._split_form = form
        self.tabs.addTab(split_page, "Split")

        summary_page = QWidget()
        grid = QHBoxLayout(summary_page)
        grid.setContentsMargins(2, 2, 2, 2)
        self.balance_plot = _plot("Class balance")
        self.balance_bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=_BAR_BRUSH)
        self.balance_plot.addItem(self.balance_bars)
        self.target_curve = self.balance_plot.plot(
            [0, 1], [0], stepMode="center", fillLevel=0, brush=_HIST_BRUSH, pen=_HIST_PEN
        )
        grid.addWidget(self.balance_plot, 1)
        hist_box = QWidget()
        hv = QVBoxLayout(hist_box)
        hv.setContentsMargins(0, 0, 0, 0)
        self.feature_combo = QComboBox()
        self.feature_combo.setToolTip("The column (or channel) whose distribution is shown")
        self.feature_combo.currentIndexChanged.connect(self._show_feature)
        self.hist_plot = _plot("Distribution")
        self.hist_curve = self.hist_plot.plot(
            [0, 1], [0], stepMode="center", fillLevel=0, brush=_HIST_BRUSH, pen=_HIST_PEN
        )
        self.hist_bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=_BAR_BRUSH)
        self.hist_plot.addItem(self.hist_bars)
        hv.addWidget(self.feature_combo)
        hv.addWidget(self.hist_plot, 1)
        grid.addWidget(hist_box, 1)
        self.images_view = pg.GraphicsLayoutWidget()
        self.images_view.setBackground("w")
        self.images_view.hide()
        grid.addWidget(self.images_view, 1)
        self.image_items: list[pg.ImageItem] = []
        self.tabs.addTab(summary_page, "Summary")
        # the project's data (not the choice being edited), computed when data is applied
        self.datasheet_view = DatasheetView()
        self.tabs.addTab(self.datasheet_view, "Datasheet")
        self.tabs.setTabToolTip(
            self.tabs.count() - 1,
            "What the project's data holds: sizes, groups, proxies, leaks, duplicates",
        )

        left_scroll = QScrollArea()  # nothing is cut off when the dock is short
        left_scroll.setWidgetResizable(True)
        left_scroll.setFrameShape(QFrame.Shape.NoFrame)
        left_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left_scroll.setWidget(left)
        left_scroll.setMinimumWidth(260)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left_scroll)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([310, 700])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._set_image_options_visible(False)
        self.clear_summary()

    # ================================================================ public API
    def set_datasets(self, datasets: Sequence[Mapping[str, Any]]) -> None:
        """The built-in datasets: dicts with id, title, description, kind, n_rows, n_features,
        n_classes (as ``DatasetInfo.to_dict()`` gives them)."""
        self._datasets = [dict(d) for d in datasets]
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.clear()
        self.dataset_combo.addItem("— choose a built-in dataset —", None)
        for d in self._datasets:
            self.dataset_combo.addItem(
                f"{d['title']} — {int(d.get('n_rows', 0)):,} × {int(d.get('n_features', 0))}",
                d["id"],
            )
            self.dataset_combo.setItemData(
                self.dataset_combo.count() - 1, d.get("description", ""), Qt.ItemDataRole.ToolTipRole
            )
        self.dataset_combo.blockSignals(False)
        self._show_description()

    def show_choice(self, choice: Mapping[str, Any]) -> None:
        """Show a dataset that has been read: its preview, columns and options.

        ``choice`` holds ``title``, ``detail`` (where it comes from), ``builtin`` (id or
        None), ``kind``, ``source``, ``preview`` ({columns, rows, total_rows}), ``columns``
        (for tables: dicts with name, type, missing, numeric, role, missing_policy) and
        ``options`` (task, sensitive_as_features, split {train, val, test, seed, stratify},
        image_size, image_mode).
        """
        self._quiet = True
        try:
            self._kind = str(choice.get("kind", ""))
            self._source = str(choice.get("source", ""))
            self.choice_label.setText(str(choice.get("title", "")))
            self.choice_label.setToolTip(str(choice.get("detail", "")))
            builtin = choice.get("builtin")
            index = self.dataset_combo.findData(builtin) if builtin else 0
            self.dataset_combo.setCurrentIndex(max(index, 0))
            preview = choice.get("preview") or {}
            self.preview_model.set_table(preview.get("columns", []), preview.get("rows", []))
            self._fit_preview_columns()
            total = preview.get("total_rows")
            shown = len(preview.get("rows", []))
            self.tabs.setTabToolTip(
                0, f"The first {shown:,} of {int(total):,} rows" if total else "The first rows"
            )
            self._build_roles(choice.get("columns") or [])
            self._show_options(choice.get("options") or {})
        finally:
            self._quiet = False

    def options(self) -> dict[str, Any]:
        """What the user set: roles, missing-value policies, task, split and image options."""
        return {
            "roles": {name: box.currentData() for name, box in self._role_boxes.items()},
            "missing": {
                name: box.currentData()
                for name, box in self._missing_boxes.items()
                if box.currentData() is not None
            },
            "task": self.task_combo.currentData(),
            "sensitive_as_features": self.sensitive_as_features.isChecked(),
            "split": {
                **{k: round(s.value(), 4) for k, s in self.split_fields.items()},
                "seed": self.split_seed.value(),
                "stratify": self.stratify.isChecked(),
            },
            "image_size": [self.image_height.value(), self.image_width.value()],
            "image_mode": self.image_mode.currentData(),
        }

    def set_roles(self, roles: Mapping[str, str]) -> None:
        """Show these roles (e.g. the target the data inferred) without emitting."""
        self._quiet = True
        try:
            for name, role in roles.items():
                box = self._role_boxes.get(name)
                if box is not None:
                    box.setCurrentIndex(max(box.findData(role), 0))
        finally:
            self._quiet = False

    def set_role(self, column: str, role: str) -> None:
        """Set one column's role as a user would (emits ``options_changed``)."""
        box = self._role_boxes[column]
        box.setCurrentIndex(box.findData(role))

    def show_summary(self, summary: Mapping[str, Any]) -> None:
        """Plots of the chosen data.

        ``summary`` may hold ``classes`` ({names, counts}) or ``target_values`` (a regression
        target), ``target_name``, ``features`` ({name: 1-d array of numbers or of text}),
        ``images`` ((N, H, W) or (N, H, W, 3) in [0, 1]) and ``image_labels``.
        """
        classes = summary.get("classes")
        target = str(summary.get("target_name") or "target")
        if classes:
            names = [str(n) for n in classes["names"]]
            counts = np.asarray(classes["counts"], dtype=float)
            self.balance_plot.setTitle(f"Class balance ({target})", color="#263238", size="10pt")
            self.balance_bars.setOpts(x=np.arange(len(names)), height=counts, width=0.7)
            self.balance_bars.show()
            self.target_curve.hide()
            self.balance_plot.getAxis("bottom").setTicks(
                [[(i, _short(n)) for i, n in enumerate(names)]]
            )
            self.balance_plot.setXRange(-0.6, len(names) - 0.4, padding=0)
            self.balance_plot.setYRange(0, max(float(counts.max(initial=0)), 1.0) * 1.08, padding=0)
        elif summary.get("target_values") is not None:
            values = np.asarray(summary["target_values"], dtype=float)
            values = values[np.isfinite(values)]
            self.balance_plot.setTitle(f"Target distribution ({target})", color="#263238", size="10pt")
            self.balance_bars.hide()
            self.balance_plot.getAxis("bottom").setTicks(None)
            if values.size:
                counts, edges = np.histogram(values, bins=30)
                self.target_curve.setData(edges, counts)
                self.target_curve.show()
                self.balance_plot.enableAutoRange()
        else:
            self.clear_summary()
        self._features = {str(k): np.asarray(v) for k, v in (summary.get("features") or {}).items()}
        current = self.feature_combo.currentText()
        self.feature_combo.blockSignals(True)
        self.feature_combo.clear()
        self.feature_combo.addItems(list(self._features))
        index = self.feature_combo.findText(current)
        self.feature_combo.setCurrentIndex(max(index, 0))
        self.feature_combo.blockSignals(False)
        self._show_feature()
        self._show_images(summary.get("images"), summary.get("image_labels") or [])

    def show_datasheet(self, datasheet: Mapping[str, Any] | None, message: str = "", error: bool = False) -> None:
        """The datasheet of the project's data (``Datasheet.to_dict()``), or none with ``message``
        (e.g. that it is being computed, or why it could not be)."""
        if datasheet is None:
            self.datasheet_view.clear(message)
            if error:
                self.datasheet_view.set_message(message, error=True)
        else:
            self.datasheet_view.set_datasheet(datasheet)

    def clear_summary(self) -> None:
        self.balance_bars.setOpts(x=[], height=[], width=0.7)
        self.target_curve.hide()
        self.hist_curve.hide()
        self.hist_bars.setOpts(x=[], height=[], width=0.7)
        self._show_images(None, [])

    def show_status(self, text: str, error: bool = False) -> None:
        """A message about the current choice; errors in red (the data is left as it was)."""
        self._error = bool(error and text)
        self.status_label.setText(text)
        self.status_label.setStyleSheet(_ERROR_STYLE if self._error else _OK_STYLE)
        self.status_label.setVisible(bool(text))

    def message(self) -> str:
        """The status message now shown ("" if none)."""
        return self.status_label.text() if not self.status_label.isHidden() else ""

    def has_error(self) -> bool:
        """True while the status shows an error."""
        return self._error and bool(self.message())

    def show_applied(self, text: str, details: str = "") -> None:
        """What the project's data is now: fingerprint and row/feature counts (``details``:
        a tooltip, e.g. the whole fingerprint)."""
        self.applied_label.setText(text)
        self.applied_label.setToolTip(details)

    def show_builtin(self, dataset_id: str | None) -> None:
        """Mark which built-in is shown (None: none is), without emitting."""
        index = self.dataset_combo.findData(dataset_id) if dataset_id else 0
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.setCurrentIndex(max(index, 0))
        self.dataset_combo.blockSignals(False)
        self._show_description()

    def set_apply_enabled(self, enabled: bool) -> None:
        self._apply_allowed = bool(enabled)
        self._refresh_enabled()

    def set_busy(self, busy: bool) -> None:
        """Show that data is being read or prepared (Apply waits for it)."""
        self._busy = bool(busy)
        self.setCursor(Qt.CursorShape.BusyCursor if busy else Qt.CursorShape.ArrowCursor)
        self._refresh_enabled()

    def set_read_only(self, read_only: bool) -> None:
        """Lock the panel (while training): the data of a running run must not change."""
        self._read_only = bool(read_only)
        for w in (
            self.dataset_combo,
            self.import_file_button,
            self.import_folder_button,
            self.roles_table,
            self.task_combo,
            self.sensitive_as_features,
            self.split_seed,
            self.stratify,
            self.image_height,
            self.image_width,
            self.image_mode,
            self.fit_network,
            *self.split_fields.values(),
        ):
            w.setEnabled(not read_only)
        self._refresh_enabled()

    def fit_network_requested(self) -> bool:
        """Whether Apply should also fit the network's input and output to the data."""
        return self.fit_network.isChecked()

    # ================================================================ building
    def _refresh_enabled(self) -> None:
        self.apply_button.setEnabled(self._apply_allowed and not self._busy and not self._read_only)

    def _fit_preview_columns(self) -> None:
        header = self.preview.horizontalHeader()
        fm = self.preview.fontMetrics()
        model = self.preview_model
        sample = min(model.rowCount(), 50)  # measuring every cell of a wide table is slow
        for c in range(model.columnCount()):
            texts = [str(model.headerData(c, Qt.Orientation.Horizontal))]
            texts += [str(model.data(model.index(r, c))) for r in range(sample)]
            width = max(fm.horizontalAdvance(t) for t in texts) + 16
            header.resizeSection(c, max(48, min(width, 220)))

    def _show_description(self) -> None:
        did = self.dataset_combo.currentData()
        d = next((x for x in self._datasets if x["id"] == did), None)
        if d is None:
            self.description_label.setText("")
            return
        counts = f"{d.get('kind', '')} · {int(d.get('n_rows', 0)):,} rows · {int(d.get('n_features', 0))} features"
        if d.get("n_classes"):
            counts += f" · {int(d['n_classes'])} classes"
        self.description_label.setText(f"{counts}\n{d.get('description', '')}")

    def _build_roles(self, columns: Sequence[Mapping[str, Any]]) -> None:
        self._columns = [dict(c) for c in columns]
        self._role_boxes, self._missing_boxes = {}, {}
        table = self.roles_table
        table.setRowCount(0)
        table.setRowCount(len(self._columns))
        for row, col in enumerate(self._columns):
            name = str(col["name"])
            item = QTableWidgetItem(name)
            item.setToolTip(name)
            table.setItem(row, 0, item)
            role = QComboBox()
            for r in ROLES:
                role.addItem(r, r)
                role.setItemData(role.count() - 1, _ROLE_TIPS[r], Qt.ItemDataRole.ToolTipRole)
            role.setCurrentIndex(max(role.findData(col.get("role", "feature")), 0))
            role.setToolTip(f"What column {name!r} is for")
            role.currentIndexChanged.connect(lambda _i, n=name: self._on_role(n))
            table.setCellWidget(row, 1, role)
            self._role_boxes[name] = role
            ctype = str(col.get("type", ""))
            type_item = QTableWidgetItem(ctype)
            type_item.setToolTip(_TYPE_TIPS.get(ctype, ""))
            if ctype in ("text", "constant"):
                type_item.setForeground(QColor("#e65100"))
            table.setItem(row, 2, type_item)
            missing = int(col.get("missing", 0))
            miss_item = QTableWidgetItem(f"{missing:,}" if missing else "—")
            miss_item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if missing:
                miss_item.setForeground(QColor("#e65100"))
            miss_item.setToolTip(f"{missing:,} missing value(s)")
            table.setItem(row, 3, miss_item)
            policy = QComboBox()
            numeric = bool(col.get("numeric", ctype == "numeric"))
            for value, label in _MISSING_POLICIES:
                if value in _NUMERIC_ONLY and not numeric:
                    continue
                policy.addItem(label, value)
            policy.setToolTip(
                "How gaps are filled: by default the mean of the training split for numbers, "
                "the most frequent value otherwise; 'drop the row' removes rows with a gap"
            )
            policy.setCurrentIndex(max(policy.findData(col.get("missing_policy")), 0))
            policy.currentIndexChanged.connect(self._emit_options)
            table.setCellWidget(row, 4, policy)
            self._missing_boxes[name] = policy
        is_table = bool(self._columns)
        table.setVisible(is_table)
        self.task_combo.setEnabled(not self._read_only)
        self.sensitive_as_features.setVisible(is_table)
        self.no_columns_label.setVisible(not is_table)

    def _show_options(self, options: Mapping[str, Any]) -> None:
        self.task_combo.setCurrentIndex(max(self.task_combo.findData(options.get("task")), 0))
        self.sensitive_as_features.setChecked(bool(options.get("sensitive_as_features", False)))
        split = options.get("split") or {}
        for name, spin in self.split_fields.items():
            spin.setValue(float(split.get(name, spin.value())))
        self.split_seed.setValue(int(split.get("seed", 0)))
        self.stratify.setChecked(bool(split.get("stratify", True)))
        size = options.get("image_size") or [32, 32]
        self.image_height.setValue(int(size[0]))
        self.image_width.setValue(int(size[1]))
        self.image_mode.setCurrentIndex(max(self.image_mode.findData(options.get("image_mode")), 0))
        self._set_image_options_visible(self._source == "image_folder")

    def _set_image_options_visible(self, visible: bool) -> None:
        for w in self._image_rows:
            self._split_form.setRowVisible(w, visible)

    def _show_feature(self) -> None:
        name = self.feature_combo.currentText()
        values = self._features.get(name)
        self.hist_plot.setTitle(f"Distribution of {name}" if name else "Distribution",
                                color="#263238", size="10pt")
        axis = self.hist_plot.getAxis("bottom")
        if values is None or values.size == 0:
            self.hist_curve.hide()
            self.hist_bars.setOpts(x=[], height=[], width=0.7)
            axis.setTicks(None)
            return
        if values.dtype.kind in "biuf":
            finite = values.astype(float)
            finite = finite[np.isfinite(finite)]
            self.hist_bars.setOpts(x=[], height=[], width=0.7)
            axis.setTicks(None)
            if finite.size == 0:
                self.hist_curve.hide()
                return
            bins = int(min(30, max(1, len(np.unique(finite[:5000])))))
            counts, edges = np.histogram(finite, bins=bins)
            self.hist_curve.setData(edges, counts)
            self.hist_curve.show()
            self.hist_plot.enableAutoRange()
            return
        # text values: bars of the most frequent categories
        cats, counts = np.unique(values.astype(str), return_counts=True)
        order = np.argsort(-counts, kind="stable")[:MAX_HIST_CATEGORIES]
        cats, counts = cats[order], counts[order]
        self.hist_curve.hide()
        self.hist_bars.setOpts(x=np.arange(len(cats)), height=counts.astype(float), width=0.7)
        axis.setTicks([[(i, _short(str(c))) for i, c in enumerate(cats)]])
        self.hist_plot.setXRange(-0.6, len(cats) - 0.4, padding=0)
        self.hist_plot.setYRange(0, float(counts.max(initial=1)) * 1.08, padding=0)

    def _show_images(self, images: Any, labels: Sequence[Any]) -> None:
        self.images_view.clear()
        self.image_items = []
        if images is None or len(images) == 0:
            self.images_view.hide()
            return
        arr = np.asarray(images, dtype=float)[:MAX_IMAGES]
        per_row = 4 if len(arr) > 8 else max(1, min(4, len(arr)))
        for i, img in enumerate(arr):
            if i and i % per_row == 0:
                self.images_view.nextRow()
            box = self.images_view.addViewBox(lockAspect=True, enableMouse=False, invertY=True)
            box.setMenuEnabled(False)
            item = pg.ImageItem(np.clip(img, 0.0, 1.0), axisOrder="row-major")
            if img.ndim == 2:
                item.setLevels([0.0, 1.0])
                item.setLookupTable(np.linspace(0, 255, 256).astype(np.ubyte)[:, None].repeat(3, 1))
            else:
                item.setLevels([0.0, 1.0])
            box.addItem(item)
            if i < len(labels):
                text = pg.TextItem(_short(str(labels[i]), 10), color="#b71c1c", anchor=(0, 0))
                text.setPos(0, 0)
                box.addItem(text)
            self.image_items.append(item)
        self.images_view.show()

    # ================================================================ editing
    def _on_builtin_activated(self, index: int) -> None:
        did = self.dataset_combo.itemData(index)
        if did and not self._read_only:
            self.builtin_chosen.emit(str(did))

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import data file", "", FILE_FILTER)
        if path:
            self.file_chosen.emit(path)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import image folder (one sub-folder per class)")
        if path:
            self.folder_chosen.emit(path)

    def _on_role(self, name: str) -> None:
        if self._quiet:
            return
        if self._role_boxes[name].currentData() == "target":
            # one target: the previous one becomes a feature
            self._quiet = True
            try:
                for other, box in self._role_boxes.items():
                    if other != name and box.currentData() == "target":
                        box.setCurrentIndex(box.findData("feature"))
            finally:
                self._quiet = False
        self._emit_options()

    def _emit_options(self, *_: Any) -> None:
        if not self._quiet and not self._read_only:
            self.options_changed.emit()

    def _on_apply(self) -> None:
        if self._apply_allowed and not self._busy and not self._read_only:
            self.apply_requested.emit()


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    panel = DataPanel()
    panel.set_datasets(
        [
            {"id": "iris", "title": "Iris flowers", "kind": "table", "n_rows": 150,
             "n_features": 4, "n_classes": 3,
             "description": "Four flower measurements, three species."},
            {"id": "digits", "title": "Handwritten digits (8x8)", "kind": "image",
             "n_rows": 1797, "n_features": 64, "n_classes": 10,
             "description": "8x8 grayscale images of 0-9."},
        ]
    )
    rng = np.random.default_rng(0)
    n = 300
    age = rng.integers(19, 75, n)
    amount = np.round(rng.lognormal(7.5, 0.7, n))
    sex = rng.choice(["male", "female"], n)
    risk = rng.choice([0, 1], n, p=[0.3, 0.7])
    rows = [[int(a), float(m), s, int(r)] for a, m, s, r in zip(age, amount, sex, risk)]
    rows[3][1] = None
    panel.show_choice(
        {
            "title": "credit.csv", "detail": "/tmp/credit.csv", "builtin": None, "kind": "table",
            "source": "csv",
            "preview": {"columns": ["age", "amount", "sex", "risk"], "rows": rows[:200], "total_rows": n},
            "columns": [
                {"name": "age", "type": "numeric", "missing": 0, "numeric": True, "role": "sensitive"},
                {"name": "amount", "type": "numeric", "missing": 1, "numeric": True, "role": "feature"},
                {"name": "sex", "type": "categorical", "missing": 0, "numeric": False, "role": "sensitive"},
                {"name": "risk", "type": "numeric", "missing": 0, "numeric": True, "role": "target"},
            ],
            "options": {"split": {"train": 0.7, "val": 0.15, "test": 0.15, "seed": 0, "stratify": True}},
        }
    )
    panel.show_summary(
        {
            "classes": {"names": ["0", "1"], "counts": [int((risk == 0).sum()), int((risk == 1).sum())]},
            "target_name": "risk",
            "features": {"age": age, "amount": amount, "sex": sex},
            "images": rng.random((8, 8, 8)),
            "image_labels": list(range(8)),
        }
    )
    panel.show_status("credit.csv: 300 rows, 4 columns.")
    panel.show_applied("Project data: fingerprint 3fa2c1d9e0b7…, 300 rows → 4 inputs, 2 classes")
    panel.set_apply_enabled(True)
    panel.options_changed.connect(lambda: print("options", panel.options()))
    panel.apply_requested.connect(lambda: print("apply"))
    panel.resize(1100, 380)
    panel.show()
    app.exec()
