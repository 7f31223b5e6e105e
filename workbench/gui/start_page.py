"""The start page: what the window shows when no project is open.

Recent projects (click to open), New from a template, an empty graph, Import data, the
demo, and Open. The page only asks; the window does the work (its slots are connected by
:class:`~workbench.gui.app.MainWindow`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class StartPage(QWidget):
    """Buttons for every way to begin, and the recent projects."""

    new_requested = Signal()  # New from a template
    empty_requested = Signal()  # an empty graph
    import_requested = Signal()  # a project for the user's own data file
    demo_requested = Signal()
    open_requested = Signal()  # the Open dialog
    recent_requested = Signal(str)  # a recent project's path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("start_page")
        title = QLabel("<h2>Model Workbench</h2>"
                       "<p>Build a network, train it live, see what it learned.</p>")
        title.setTextFormat(Qt.TextFormat.RichText)
        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        entries = (
            ("new", "New from template…", "A ready network (MLP, LeNet-5, ResNet, LSTM, "
             "Transformer, …) on a built-in dataset", self.new_requested),
            ("empty", "Empty graph…", "Only an input and an output: add and connect the "
             "layers yourself", self.empty_requested),
            ("import", "Import data…", "Your own CSV, Parquet or NumPy file or image folder "
             "(an MLP is fitted to it)", self.import_requested),
            ("demo", "Open the demo", "An MLP on the German credit data, ready to train",
             self.demo_requested),
            ("open", "Open…", "Open a project file (.wbproj)", self.open_requested),
        )
        for row, (key, text, tip, signal) in enumerate(entries):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.setMinimumWidth(180)
            button.clicked.connect(signal)
            note = QLabel(tip)
            note.setWordWrap(True)
            note.setStyleSheet("color: #607d8b;")
            grid.addWidget(button, row, 0)
            grid.addWidget(note, row, 1)
            self.buttons[key] = button
        self.recent_label = QLabel("<b>Recent projects</b>")
        self.recent = QListWidget()
        self.recent.setToolTip("Double-click (or press Enter) to open")
        self.recent.itemActivated.connect(
            lambda item: self.recent_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.no_recent = QLabel("None yet: projects you save or open are listed here.")
        self.no_recent.setStyleSheet("color: #607d8b;")
        column = QVBoxLayout()
        column.addWidget(title)
        column.addLayout(grid)
        column.addSpacing(12)
        column.addWidget(self.recent_label)
        column.addWidget(self.no_recent)
        column.addWidget(self.recent, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(32, 24, 32, 24)
        holder = QWidget()
        holder.setLayout(column)
        holder.setMaximumWidth(760)
        outer.addWidget(holder, 1, Qt.AlignmentFlag.AlignHCenter)

    def set_recent(self, paths: list[str]) -> None:
        """List ``paths`` (newest first); a missing file is shown, marked, and still offered."""
        self.recent.clear()
        for p in paths:
            path = Path(p)
            missing = not path.exists()
            item = QListWidgetItem(f"{path.name}    {path.parent}" + ("    (not found)" if missing else ""))
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            if missing:
                item.setForeground(Qt.GlobalColor.gray)
            self.recent.addItem(item)
        self.no_recent.setVisible(not paths)
        self.recent.setVisible(bool(paths))
