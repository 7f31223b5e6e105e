"""The Model Workbench main window.

Start-up paints the window first and imports the heavy engines (torch) afterwards, so the
window appears quickly; the project itself is built or read on a worker thread while the
window stays responsive. Training runs in a separate process (:mod:`workbench.gui.workers`); this
module only draws and turns user actions into operations on the project.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QSettings, QSize, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoGroup
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QStyle,
    QTabBar,
    QVBoxLayout,
    QWidget,
)

import workbench
from widgets.activations.view import ActivationView
from widgets.common.scroll import scrolling
from widgets.data.panel import DataPanel
from widgets.graph.canvas import GraphView, ProblemsPanel
from widgets.graph.inspector import Inspector
from widgets.graph.palette import LayerPalette
from widgets.training.plots import TrainingPlots
from widgets.training.settings import TrainSettings
from workbench.gui.activations_panel import LookInsideController
from workbench.gui.audit_panel import READ_ONLY_REASON, AuditDock, AuditSession
from workbench.gui.canvas import CanvasController
from workbench.gui.data_panel import DataController, TrainSettingsController
from workbench.gui.document import ProjectDocument
from workbench.gui.errors import ErrorReporter, open_log_folder
from workbench.gui.explain_panel import ExplainPanel
from workbench.gui.fairness_panel import FairnessDock
from workbench.gui.recovery import RecoveryController
from workbench.gui.runs_panel import RunListController
from workbench.gui.start_page import StartPage
from workbench.gui.tasks import TaskRunner
from workbench.gui.theme import ThemeController
from workbench.gui.wheel_guard import guard_fields
from workbench.gui.workers import TrainingWorker

MAX_RECENT = 8
PROGRESS_INTERVAL_S = 0.25  # the progress bar and its label are updated at most this often
LOADING_SWITCH_INTERVAL_S = 0.001  # the interpreter's thread switch interval while a project loads
FILE_FILTER = "Model Workbench projects (*.wbproj);;All files (*)"


def _ready_to_show(project: Any) -> Any:
    """Import, on the loading thread, what showing ``project`` needs next on the GUI thread
    (torch for shape inference, the layer catalog, the data module), so showing it is quick."""
    import engines.data  # noqa: F401 (warm-up import: pandas, scikit-learn)
    from engines.shapes import analyse

    analyse((project[0] if isinstance(project, tuple) else project).graph)
    return project


def _layer_norms(norms: Any) -> dict[str, Any] | None:
    """Per-layer gradient norms keyed by node id (the trainer names a layer ``layers.<id>``)."""
    if not isinstance(norms, dict):
        return None
    return {str(k).removeprefix("layers."): v for k, v in norms.items()}


def _metric_key(objective: str) -> tuple[str, str]:
    return {
        "classification": ("val_accuracy", "accuracy"),
        "regression": ("val_r2", "R²"),
    }.get(objective, ("val_loss", "reconstruction loss"))


EMPTY_START = "empty"  # = workbench.core.session.EMPTY_GRAPH (a template id for create_project)
IMPORT_START = "import"  # New for the user's own data: a project first, then the import


class NewProjectDialog(QDialog):
    """Choose how to start (a template or an empty graph) and a built-in dataset.

    ``templates`` are (id, title, description); the empty graph comes first. Your own data is
    imported afterwards in the Data dock (the dialog says so).
    """

    def __init__(self, templates: list[tuple[str, str, str]], datasets: list[tuple[str, str]],
                 parent: QWidget | None = None) -> None:
        from workbench.core.session import EMPTY_GRAPH

        super().__init__(parent)
        self.setWindowTitle("New project")
        form = QFormLayout(self)
        heading = QLabel("<b>Start a new project</b>")
        form.addRow(heading)
        self.template = QComboBox()
        self._descriptions: list[str] = []
        entries = [(EMPTY_GRAPH, "Empty graph",
                    "Only the input and the output: add and connect layers yourself.")]
        for tid, title, description in entries + list(templates):
            self.template.addItem(title, tid)
            self._descriptions.append(description)
        self.template.setToolTip("The network to start from")
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.dataset = QComboBox()
        for did, title in datasets:
            self.dataset.addItem(title, did)
        self.dataset.setToolTip("A built-in dataset to start with")
        note = QLabel("Your own data (CSV, Parquet, NumPy, an image folder): create the project, "
                      "then use Import in the Data dock.")
        note.setWordWrap(True)
        form.addRow("Start from", self.template)
        form.addRow("", self.description)
        form.addRow("Dataset", self.dataset)
        form.addRow("", note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.template.currentIndexChanged.connect(self._describe)
        self.template.setCurrentIndex(1 if self.template.count() > 1 else 0)  # a template first
        self._describe(self.template.currentIndex())
        self.setMinimumWidth(460)

    def _describe(self, index: int) -> None:
        self.description.setText(self._descriptions[index] if 0 <= index < len(self._descriptions)
                                 else "")


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        self._after_first_paint: list[Any] = []
        self.graph_shown_at: float | None = None  # when a project's network was first painted
        super().__init__()
        self.project: Any = None
        self.doc: ProjectDocument | None = None
        self.path: Path | None = None
        self._unsaved_new = False  # a new project that was never saved counts as unsaved
        self.audit_session: AuditSession | None = None  # the project is open for audit
        self.undo_group = QUndoGroup(self)
        self._selected_nodes: list[str] = []
        self.settings = QSettings()
        self.worker = TrainingWorker(self)
        self.loader = TaskRunner(self)  # builds or reads a project off the GUI thread
        self._loading = False
        self._loading_bar: QProgressBar | None = None
        self._switch_interval = sys.getswitchinterval()
        self._pending_load: tuple[Any, str, Any] = (None, "", None)  # show, failure, then
        self._train_started_at = 0.0
        self._total_steps: int | None = None
        self._steps_done = 0
        self._progress_shown_at = 0.0
        self._live_epochs: dict[str, list[float]] = {}

        self._docks_before_start: Any = None  # the dock layout the start page put away
        self.graph_view = GraphView()
        # the middle shows the network, or the start page while no project is open
        self.start_page = StartPage()
        self.central = QStackedWidget()
        self.central.addWidget(self.graph_view)
        self.central.addWidget(self.start_page)
        self.setCentralWidget(self.central)
        self.start_page.new_requested.connect(lambda: self.new_project())
        self.start_page.empty_requested.connect(lambda: self.new_project(start=EMPTY_START))
        self.start_page.import_requested.connect(lambda: self.new_project(start=IMPORT_START))
        self.start_page.demo_requested.connect(lambda: self.load_demo())
        self.start_page.open_requested.connect(self.open_dialog)
        self.start_page.recent_requested.connect(self._open_recent)
        self._build_docks()
        self._build_canvas()
        self.recovery = RecoveryController(self)  # autosaves unsaved work, offers it back
        self.errors = ErrorReporter(self, autosave=self.recovery.autosave_now)
        self.errors.error_reported.connect(lambda summary, msg: self.log_message(f"{summary} {msg}"))
        self.theme = ThemeController(self, self.settings)
        self._build_actions()
        self._connect_worker()
        self._first_size()
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        else:  # first start: the network gets most of the height, the plots the rest
            QTimer.singleShot(0, self._default_dock_sizes)
        self._tidy_dock_tabs()
        self.statusBar().showMessage("Loading…")
        # a wheel over a field scrolls the panel, not the value: fields are guarded as they
        # appear (panels are built after the first paint, the inspector makes new editors)
        self._wheel_timer = QTimer(self)
        self._wheel_timer.setInterval(1000)
        self._wheel_timer.timeout.connect(lambda: guard_fields(self))
        self._wheel_timer.start()
        guard_fields(self)
        self._update_title()
        self._update_actions()

    def _first_size(self) -> None:
        """First start: 1400×900, or the whole free area of a smaller screen (1366×768)."""
        screen = self.screen()
        free = screen.availableGeometry() if screen is not None else None
        if free is None or free.isEmpty():
            self.resize(1400, 900)
            return
        self.resize(min(1400, free.width()), min(900, free.height()))

    def _default_dock_sizes(self) -> None:
        # a short screen gives the analysis docks half the height (their buttons stay in view)
        share = 0.5 if self.height() < 880 else 0.4
        self.resizeDocks([self.plots_dock], [max(330, int(self.height() * share))], Qt.Orientation.Vertical)
        h = self.height()
        self.resizeDocks([self.palette_dock, self.inspector_dock], [int(h * 0.3), int(h * 0.3)],
                         Qt.Orientation.Vertical)
        self.resizeDocks([self.train_dock, self.runs_dock], [int(h * 0.7), int(h * 0.25)],
                         Qt.Orientation.Vertical)

    def call_after_first_paint(self, callback: Any, *, first: bool = False) -> None:
        """Run ``callback`` once the window has been painted (heavy imports wait for it);
        ``first``: before the callbacks already waiting (the project before the panels)."""
        if first:
            self._after_first_paint.insert(0, callback)
        else:
            self._after_first_paint.append(callback)
        # if the window is never painted (minimised, hidden), do not wait forever
        QTimer.singleShot(3000, self._run_after_paint)

    def _run_after_paint(self) -> None:
        callbacks, self._after_first_paint = self._after_first_paint, []
        for cb in callbacks:
            QTimer.singleShot(0, cb)

    def event(self, e: QEvent) -> bool:
        handled = super().event(e)
        # An UpdateRequest on the exposed top-level window paints and flushes the backing store;
        # before the window is exposed it paints nothing, so it does not count.
        if (
            self._after_first_paint
            and e.type() in (QEvent.Type.UpdateRequest, QEvent.Type.Paint)
            and self.windowHandle() is not None
            and self.windowHandle().isExposed()
        ):
            self._run_after_paint()
        return handled

    @property
    def dirty(self) -> bool:
        """Unsaved changes: edits since the last save (the undo stack's clean state)."""
        return self._unsaved_new or (self.doc is not None and self.doc.dirty)

    @dirty.setter
    def dirty(self, value: bool) -> None:
        self._unsaved_new = bool(value)
        if not value and self.doc is not None:
            self.doc.mark_saved()
        self._update_title()

    # ------------------------------------------------------------------ layout
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea,
              scroll: bool = False) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # so saveState/restoreState can remember the layout
        self._set_dock_widget(dock, widget, scroll)
        self.addDockWidget(area, dock)
        return dock

    @staticmethod
    def _set_dock_widget(dock: QDockWidget, widget: QWidget, scroll: bool) -> None:
        """Put ``widget`` in ``dock``; a wide panel sits in a scroll area so that its minimum
        size never makes the window larger than the screen (it scrolls only when squeezed)."""
        if not scroll:
            dock.setWidget(widget)
            return
        area = scrolling(widget, horizontal=True)
        area.setObjectName(f"{dock.objectName()}_scroll")
        dock.setWidget(area)

    def _tidy_dock_tabs(self) -> None:
        """Tabs of stacked docks elide their titles and scroll, never widen the window."""
        for bar in self.findChildren(QTabBar):
            if bar.parent() is self:
                bar.setElideMode(Qt.TextElideMode.ElideRight)
                bar.setUsesScrollButtons(True)

    def _fit_to_screen(self) -> None:
        """Keep the window inside the screen's free area (panels built later can ask for more)."""
        screen = self.screen()
        if screen is None or self.isMaximized() or self.isFullScreen():
            return
        free = screen.availableGeometry()
        frame = self.frameGeometry().size() - self.size()  # title bar and borders
        width = min(self.width(), free.width() - frame.width())
        height = min(self.height(), free.height() - frame.height())
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)

    def _build_docks(self) -> None:
        panel = QWidget()
        v = QVBoxLayout(panel)
        # every setting is a document edit (undoable); the controller turns edits into steps
        self.train_settings = TrainSettings()
        self.epochs = self.train_settings.editor("epochs")  # a handle scripts set epochs with
        v.addWidget(self.train_settings, 1)
        row = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        for b in (self.train_button, self.pause_button, self.stop_button):
            row.addWidget(b)
        v.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setFormat("%p%")
        self.progress_label = QLabel("Idle")
        v.addWidget(self.progress)
        v.addWidget(self.progress_label)
        self.train_dock = self._dock("Training", "training", panel, Qt.DockWidgetArea.RightDockWidgetArea)

        self.palette = LayerPalette()
        self.palette.setToolTip("Double-click a layer (or press Enter) to add it after the selected "
                                "layer; with nothing selected it is added unconnected")
        self.palette_dock = self._dock("Layers", "palette", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector = Inspector()
        self.inspector_dock = self._dock("Inspector", "inspector", self.inspector,
                                         Qt.DockWidgetArea.LeftDockWidgetArea)
        self.palette.layer_requested.connect(self.add_layer)
        self.inspector.param_changed.connect(self._on_param_changed)

        self.runs = QListWidget()
        self.runs.setToolTip("Runs of this project; select one to show its curves, "
                             "Ctrl-click a second to compare")
        self.runs.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.runs_dock = self._dock("Runs", "runs", self.runs, Qt.DockWidgetArea.RightDockWidgetArea)
        self.run_list = RunListController(self, self.runs)  # rename, delete, make active

        self.plots = TrainingPlots()
        self.plots_dock = self._dock("Plots", "plots", self.plots, Qt.DockWidgetArea.BottomDockWidgetArea)

        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log_dock = self._dock("Log", "log", self.log, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.plots_dock, self.log_dock)
        self.look_inside = ActivationView()
        self.look_inside_dock = self._dock("Look inside", "look_inside", self.look_inside,
                                           Qt.DockWidgetArea.BottomDockWidgetArea, scroll=True)
        self.tabifyDockWidget(self.plots_dock, self.look_inside_dock)
        self.look_inside_controller = LookInsideController(self, self.look_inside, self.look_inside_dock)
        self.data_panel = DataPanel()
        self.data_dock = self._dock("Data", "data", self.data_panel, Qt.DockWidgetArea.BottomDockWidgetArea,
                                    scroll=True)
        self.tabifyDockWidget(self.plots_dock, self.data_dock)
        self.data_controller = DataController(self.data_panel, self)
        self.data_controller.data_applied.connect(
            lambda fp: self.log_message(f"Data applied (fingerprint {fp[:12]}).")
        )
        self.settings_controller = TrainSettingsController(self.train_settings, self.data_controller, self)
        # The explanation and fairness panels (about a fifth of a second of plot widgets) are
        # built after the first paint, or when first needed (see _analysis_panels).
        self._explain_panel: ExplainPanel | None = None
        self._fairness_panel: FairnessDock | None = None
        self.explain_dock = self._dock("Explanations", "explanations", QWidget(),
                                       Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.plots_dock, self.explain_dock)
        self.fairness_dock = self._dock("Fairness", "fairness", QWidget(),
                                        Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.plots_dock, self.fairness_dock)
        self.audit_panel = AuditDock(self)
        self.audit_dock = self._dock("Audit", "audit", self.audit_panel, Qt.DockWidgetArea.BottomDockWidgetArea,
                                     scroll=True)
        self.tabifyDockWidget(self.plots_dock, self.audit_dock)
        self.audit_dock.hide()  # shown when a project is opened for audit (View menu otherwise)
        self.call_after_first_paint(self._analysis_panels)
        # the right column (training settings, runs) runs the full height beside the bottom docks
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.plots_dock.raise_()

        self.train_button.clicked.connect(self.start_training)
        self.train_settings.validity_changed.connect(lambda _valid: self._update_actions())
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop_training)
        self.runs.itemSelectionChanged.connect(self._show_selected_runs)
        self.graph_view.node_selected.connect(self._on_node_selected)

    def _build_canvas(self) -> None:
        """The graph editor: canvas requests become document commands; a Problems dock."""
        self.problems_panel = ProblemsPanel()
        self.problems_dock = self._dock("Problems", "problems", self.problems_panel,
                                        Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.log_dock, self.problems_dock)
        self.plots_dock.raise_()
        self.canvas = CanvasController(self.graph_view, self.problems_panel, self)
        self.canvas.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.arrange_action = QAction("&Arrange Nodes", self)
        self.arrange_action.setShortcut(QKeySequence("Ctrl+L"))
        tip = "Lay the network out in layers, left to right (one undo step)"
        self.arrange_action.setToolTip(tip)
        self.arrange_action.setStatusTip(tip)
        self.arrange_action.triggered.connect(self.canvas.arrange)

    def _build_actions(self) -> None:
        def act(text: str, slot: Any, shortcut: Any = None, tip: str = "") -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            a.setStatusTip(tip)
            a.setToolTip(tip or text)
            a.triggered.connect(slot)
            return a

        S = QKeySequence.StandardKey
        self.new_action = act("&New…", self.new_project, S.New,
                              "Start a project from a template or an empty graph")
        self.open_action = act("&Open…", self.open_dialog, S.Open, "Open a project file")
        self.save_action = act("&Save", self.save, S.Save, "Save the project")
        self.save_as_action = act("Save &As…", self.save_as, S.SaveAs, "Save under a new name")
        self.open_audit_action = act("Open for &Audit…", self.open_audit_dialog, "Ctrl+Shift+O",
                                     "Open a project read-only; your analyses, findings and sign-off "
                                     "go to an audit file beside it")
        self.export_report_action = act("Export &Report…", self.export_report, "Ctrl+Shift+R",
                                        "Write the audit report (JSON, HTML, PDF, manifest) to a folder")
        self.quit_action = act("&Quit", self.close, S.Quit)
        self.train_action = act("&Train", self.start_training, "F5", "Train a new run")
        self.pause_action = act("&Pause / Resume", self.toggle_pause, "F6", "Pause or resume training")
        self.stop_action = act("&Stop", self.stop_training, "Shift+F5", "Stop training")
        self.fit_action = act("Zoom to &Fit", lambda: self.graph_view.zoom_to_fit(), "Ctrl+0",
                              "Show the whole network (never so small that names cannot be read)")
        # fixed texts, so the toolbar never moves; what would be undone is in the tooltip
        self.undo_action = act("&Undo", self.undo_group.undo, S.Undo, "Nothing to undo")
        self.redo_action = act("&Redo", self.undo_group.redo, S.Redo, "Nothing to redo")
        self.undo_action.setEnabled(False)
        self.redo_action.setEnabled(False)
        self.undo_group.canUndoChanged.connect(self.undo_action.setEnabled)
        self.undo_group.canRedoChanged.connect(self.redo_action.setEnabled)
        self.undo_group.undoTextChanged.connect(
            lambda text: self.undo_action.setToolTip(f"Undo {text}" if text else "Nothing to undo"))
        self.undo_group.redoTextChanged.connect(
            lambda text: self.redo_action.setToolTip(f"Redo {text}" if text else "Nothing to redo"))
        self.delete_action = act("&Delete", self.delete_selected, S.Delete, "Delete the selected layers")

        menu = self.menuBar().addMenu("&File")
        for a in (self.new_action, self.open_action, self.open_audit_action):
            menu.addAction(a)
        self.recent_menu = menu.addMenu("Open &Recent")
        self._fill_recent()
        menu.addSeparator()
        menu.addAction(self.save_action)
        menu.addAction(self.save_as_action)
        menu.addAction(self.export_report_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        menu = self.menuBar().addMenu("&Edit")
        view = self.graph_view
        for a in (self.undo_action, self.redo_action, None, view.copy_action, view.paste_action,
                  view.duplicate_action, self.delete_action, None, view.select_all_action,
                  view.quick_add_action):
            if a is None:
                menu.addSeparator()
            else:
                menu.addAction(a)
        menu = self.menuBar().addMenu("&View")
        menu.addAction(self.fit_action)
        menu.addAction(self.graph_view.zoom_in_action)
        menu.addAction(self.graph_view.zoom_out_action)
        menu.addAction(self.arrange_action)
        menu.addSeparator()
        menu.addAction(self.problems_dock.toggleViewAction())
        for dock in (self.palette_dock, self.inspector_dock, self.train_dock, self.runs_dock,
                     self.plots_dock, self.log_dock, self.look_inside_dock, self.data_dock,
                     self.explain_dock, self.fairness_dock, self.audit_dock):
            menu.addAction(dock.toggleViewAction())
        menu.addSeparator()
        menu.addMenu(self.theme.menu(self))
        menu = self.menuBar().addMenu("&Run")
        for a in (self.train_action, self.pause_action, self.stop_action):
            menu.addAction(a)
        menu = self.menuBar().addMenu("&Help")
        self.guide_action = act("User &Guide", self.show_guide, S.HelpContents,
                                "How to build, train, explain, audit (works offline)")
        menu.addAction(self.guide_action)
        self.open_log_action = act("Open &Log Folder", open_log_folder, None,
                                   "Show the folder with the error log in the file manager")
        menu.addAction(self.open_log_action)
        menu.addAction(act("&About Model Workbench", self._about))

        bar = self.addToolBar("Main")
        bar.setObjectName("main_toolbar")
        # icons from the platform's style (no files to ship), each with its text beside it
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.setIconSize(QSize(16, 16))  # a slim bar: on a 768-pixel screen height is scarce
        P = QStyle.StandardPixmap
        icons = ((self.new_action, P.SP_FileIcon), (self.open_action, P.SP_DialogOpenButton),
                 (self.save_action, P.SP_DialogSaveButton), (self.undo_action, P.SP_ArrowBack),
                 (self.redo_action, P.SP_ArrowForward), (self.train_action, P.SP_MediaPlay),
                 (self.pause_action, P.SP_MediaPause), (self.stop_action, P.SP_MediaStop),
                 (self.guide_action, P.SP_DialogHelpButton))
        for action, pixmap in icons:
            action.setIcon(self.style().standardIcon(pixmap))
        for a in (self.new_action, self.open_action, self.save_action, None,
                  self.undo_action, self.redo_action, None, self.train_action, self.pause_action,
                  self.stop_action, None, self.fit_action):
            if a is None:
                bar.addSeparator()
            else:
                bar.addAction(a)

    @property
    def explain_panel(self) -> ExplainPanel:
        """The Explanations dock's panel (built on first use)."""
        return self._analysis_panels()[0]

    @property
    def fairness_panel(self) -> FairnessDock:
        """The Fairness dock's panel (built on first use)."""
        return self._analysis_panels()[1]

    def _analysis_panels(self) -> tuple[ExplainPanel, FairnessDock]:
        if self._explain_panel is None or self._fairness_panel is None:
            # The panels' slots on the worker's signals must run before the window's own (a
            # finished run gets its live explanations and audits before the window adds it):
            # Qt calls slots in connection order, so the window's are connected again after.
            own = ((self.worker.started, self._on_train_started),
                   (self.worker.finished, self._on_train_finished),
                   (self.worker.failed, self._on_train_failed))
            for signal, slot in own:
                signal.disconnect(slot)
            self._explain_panel = ExplainPanel(worker=self.worker)
            self._fairness_panel = FairnessDock(worker=self.worker)
            for signal, slot in own:
                signal.connect(slot)
            self._set_dock_widget(self.explain_dock, self._explain_panel, scroll=True)
            self._set_dock_widget(self.fairness_dock, self._fairness_panel, scroll=True)
            self._tidy_dock_tabs()
            QTimer.singleShot(0, self, self._fit_to_screen)  # not after the window is gone
            if self.doc is not None:
                self._explain_panel.set_document(self.doc)
                self._fairness_panel.set_document(self.doc)
            self.theme.apply()  # the new panels' plots follow the theme too
            self._apply_audit_lock()
            guard_fields(self)
        return self._explain_panel, self._fairness_panel

    def _connect_worker(self) -> None:
        self.worker.started.connect(self._on_train_started)
        self.worker.steps_arrived.connect(self._on_steps)
        self.worker.epoch_finished.connect(self._on_epoch)
        self.worker.finished.connect(self._on_train_finished)
        self.worker.failed.connect(self._on_train_failed)
        self.loader.finished.connect(self._on_project_loaded)
        self.loader.failed.connect(self._on_project_load_failed)
        # the confusion matrix names its classes once the project's data has been read
        self.data_controller.idle.connect(lambda: self.plots.set_class_names(self._class_names()))

    # ---------------------------------------------------------------- project
    def open_initial(self, project_path: str | None, demo: bool, *, warm_up: bool = False,
                     audit: bool = False) -> None:
        """Called once the window is painted: the project loads on a worker thread, then any
        recovery files are offered; with ``warm_up`` the training process starts after that."""

        def then() -> None:
            self.recovery.offer()  # unsaved work an earlier session left behind, if any
            if warm_up:
                self.worker.warm_up()  # it imports torch too: after the project, not beside it

        if project_path and audit:
            self.open_for_audit(Path(project_path), then=then)
        elif project_path:
            self.open_in_background(Path(project_path), then=then)
        elif demo:
            self.load_demo(then=then)
        else:
            self.show_start_page()
            then()

    def show_start_page(self) -> None:
        """The start page in the middle (no project open): recent projects and ways to begin."""
        self.start_page.set_recent(self._recent())
        if self.central.currentWidget() is not self.start_page:
            # the page has the window to itself; the docks come back with a project
            self._docks_before_start = self.saveState()
            for dock in self.findChildren(QDockWidget):
                dock.hide()
        self.central.setCurrentWidget(self.start_page)
        self.statusBar().showMessage("Start a project, open one, or open the demo.")

    def load_demo(self, then: Any = None) -> None:
        """Build the demo project on a worker thread (torch and scikit-learn imports, data
        preparation); the window stays responsive and says that it is loading."""

        def build() -> Any:
            from workbench.core.demo import demo_project

            return demo_project()

        def show(project: Any) -> None:
            self.set_project(project, None)
            self.log_message("Opened the built-in demo project (MLP on German credit).")

        if self.project is None:  # the network at once; data and shapes follow
            from workbench.core.demo import demo_graph

            self.central.setCurrentWidget(self.graph_view)
            self.canvas.show_preview(demo_graph(), "Loading the demo: data and shapes follow…")
            self.graph_view.viewport().repaint()  # on screen now, before the panels are built
            self.graph_shown_at = time.perf_counter()  # read by bench/startup.py
        self._load_in_background("Loading demo project…", build, show,
                                 "The demo project could not be created.", then)

    def open_in_background(self, path: Path, then: Any = None) -> None:
        """Open a project without freezing the window; on a bad file, say why and keep the
        current project untouched."""

        def read() -> Any:
            from workbench.core.project import load_project

            return load_project(path)

        def show(project: Any) -> None:
            self.set_project(project, path)
            self._add_recent(path)
            self.log_message(f"Opened {path}")

        self._load_in_background(f"Opening {path.name}…", read, show, f"Could not open {path.name}.", then)

    def _load_in_background(self, label: str, load: Any, show: Any, failure: str, then: Any) -> None:
        """Run ``load()`` on a worker thread, then ``show(result)`` here; ``then()`` either way."""
        self._pending_load = (show, failure, then)
        self._set_loading(label)
        self.loader.start(lambda _progress, _cancelled: _ready_to_show(load()))

    @Slot(object)
    def _on_project_loaded(self, project: Any) -> None:
        show, _failure, then = self._pending_load
        self._set_loading(None)
        show(project)
        if then is not None:
            then()

    @Slot(str, str)
    def _on_project_load_failed(self, message: str, details: str) -> None:
        _show, failure, then = self._pending_load
        self._set_loading(None)
        self.statusBar().showMessage(failure, 10_000)  # not "Opening …" any more
        self.show_error(failure, message, details)
        if self.project is None:  # nothing to go back to: no stale preview, the start page
            self.canvas.set_document(None)
            self.show_start_page()
        if then is not None:
            then()

    def _set_loading(self, text: str | None) -> None:
        """Show that a project is on its way (message, busy bar); actions wait for it."""
        if self._loading_bar is None:
            self._loading_bar = QProgressBar()
            self._loading_bar.setRange(0, 0)  # busy: there is no fraction to show
            self._loading_bar.setMaximumWidth(160)
            self.statusBar().addPermanentWidget(self._loading_bar)
        # The loading thread runs Python (imports, data preparation) that keeps the GIL for
        # up to the switch interval at a time, and the GUI thread waits for it at every slot
        # and paint: 1 ms instead of 5 ms keeps the window's lateness at about a third.
        if text is not None and not self._loading:
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(LOADING_SWITCH_INTERVAL_S)
        elif text is None and self._loading:
            sys.setswitchinterval(self._switch_interval)
        self._loading = text is not None
        self._loading_bar.setVisible(self._loading)
        if text is not None:
            self.statusBar().showMessage(text)
        self._update_actions()

    def set_project(self, project: Any, path: Path | None, audit: AuditSession | None = None) -> None:
        """Show ``project``; with ``audit``, read-only for an auditor (see :meth:`open_for_audit`)."""
        self.audit_session = audit
        if self.doc is not None:
            self.undo_group.removeStack(self.doc.undo_stack)
            self.doc.deleteLater()
        self.project = project
        if self.central.currentWidget() is self.start_page:
            self.central.setCurrentWidget(self.graph_view)
            if self._docks_before_start is not None:
                self.restoreState(self._docks_before_start)
                self._docks_before_start = None
        self.doc = ProjectDocument(project, self)
        self.canvas.set_document(self.doc)  # first: the canvas redraws before the window reacts
        self.undo_group.addStack(self.doc.undo_stack)
        self.undo_group.setActiveStack(self.doc.undo_stack)
        self.doc.graph_changed.connect(self._refresh_graph)
        self.doc.runs_changed.connect(self._refresh_runs)
        self.doc.dirty_changed.connect(lambda _dirty: self._update_title())
        # an audited project is never written, not even to a recovery file
        self.recovery.attach(None if audit is not None else self.doc)
        self.look_inside_controller.attach(self.doc)
        self.path = path
        self._unsaved_new = False
        if not self.palette.visible_layer_ids():
            from engines.catalog import LAYERS, get_layer

            get_layer("input")  # loads the catalog
            self.palette.set_layers([
                {"id": spec.id, "title": spec.title, "category": spec.category, "help": spec.help}
                for spec in LAYERS.values() if spec.id not in ("input", "output")
            ])
        self.settings_controller.set_document(self.doc)
        self.data_controller.set_document(self.doc)
        if self._explain_panel is not None and self._fairness_panel is not None:
            self._explain_panel.set_document(self.doc)
            self._fairness_panel.set_document(self.doc)
        self.audit_panel.set_session(audit)
        self.run_list.read_only_reason = READ_ONLY_REASON if audit is not None else None
        if not self.worker.is_running():  # nothing of the previous project's training is left
            self.progress.setValue(0)
            self.progress_label.setText("Idle")
        if audit is not None:
            self.audit_dock.show()
            self.audit_dock.raise_()
        else:  # an ordinary project: no Audit tab left over from an earlier audit
            self.audit_dock.hide()
        self._refresh_graph()
        self._refresh_runs()
        self._update_title()
        self._update_actions()

    # ------------------------------------------------------------------ audit
    def open_audit_dialog(self) -> None:
        if self.worker.is_running() or not self._confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open project for audit", str(self._last_dir()), FILE_FILTER)
        if path:
            self.open_for_audit(Path(path))

    def open_for_audit(self, path: Path, then: Any = None) -> None:
        """Open ``path`` read-only for an auditor, with the audit file beside it if there is one.

        Nothing in the project can be changed and the project file is never written; the
        auditor's own analyses, findings and sign-off are saved to ``NAME.wbaudit``.
        """

        def read() -> Any:
            from workbench.core.project import load_project

            project = load_project(path)
            return project, AuditSession(project, path)

        def show(loaded: Any) -> None:
            project, session = loaded
            self.set_project(project, path, audit=session)
            self._add_recent(path)
            self.log_message(f"Opened {path} for audit (read-only); your work goes to {session.audit_path.name}")
            if session.mismatch:
                self.log_message(session.mismatch)
                box = QMessageBox(QMessageBox.Icon.Warning, workbench.APP_NAME,
                                  "The audit file belongs to another version of this project.", parent=self)
                box.setInformativeText(session.mismatch)
                box.open()

        self._load_in_background(f"Opening {path.name} for audit…", read, show,
                                 f"Could not open {path.name} for audit.", then)

    def save_audit(self) -> bool:
        """Write the auditor's work to the audit file (the project file is left as it is)."""
        if self.audit_session is None:
            return False
        try:
            target = self.audit_session.save()
        except Exception as exc:
            self.show_error(f"Could not save {self.audit_session.audit_path.name}; the previous file is unchanged.", exc)
            return False
        self.dirty = False
        self.log_message(f"Saved the audit to {target}")
        return True

    def export_report(self) -> None:
        """Write the audit report of the active run to a folder the user picks."""
        if self.project is None or self.path is None:
            QMessageBox.information(self, workbench.APP_NAME, "Save the project first: the report records its file's sha256.")
            return
        if self.dirty and not (self.save_audit() if self.audit_session is not None else self.save()):
            return
        folder = QFileDialog.getExistingDirectory(self, "Export report to folder", str(self._last_dir()))
        if not folder:
            return
        try:
            from workbench.core.report import write_report
        except ImportError as exc:  # pragma: no cover - the report module ships with the app
            self.show_error("The report cannot be written.", exc)
            return
        audit_path = self.audit_session.audit_path if self.audit_session is not None else None
        path = self.path
        run_id = self.project.active_run

        def write(_progress: Any, _cancelled: Any) -> Any:
            from workbench.core.project import load_project

            # the report describes the file as it is on disk (an audited project is never changed)
            saved = load_project(path)
            audit = audit_path if audit_path is not None and audit_path.exists() else None
            return write_report(saved, Path(folder), project_path=path, audit=audit,
                                run_id=run_id if any(r.id == run_id for r in saved.runs) else None)

        self.statusBar().showMessage("Writing the report…")
        runner = TaskRunner(self)
        runner.finished.connect(lambda files: (self.log_message(f"Wrote the report to {folder}"),
                                               self.statusBar().showMessage(f"Report written to {folder}", 5000)))
        runner.failed.connect(lambda message, details: self.show_error("The report could not be written.", message, details))
        runner.start(write)
        self._report_runner = runner

    def _refresh_graph(self) -> None:
        # The canvas controller has redrawn the graph (it is connected first); what is left
        # is the selection, the inspector (values may have been undone) and the status line.
        assert self.doc is not None
        graph = self.project.graph
        report = self.doc.report()  # cached by the document, recomputed only after an edit
        selected = [n for n in self._selected_nodes if n in graph.nodes]
        if selected != self.graph_view.selected_node_ids():
            self.graph_view.select_nodes(selected)
        self._selected_nodes = selected
        self._show_in_inspector(selected[0] if selected else "")
        self.statusBar().showMessage(
            f"{len(graph.nodes)} layers, {report.total_params:,} parameters"
            + (f", {len(report.problems)} problem(s)" if report.problems else "")
        )

    def _run_row_text(self, run: Any) -> str:
        metric_key, _ = _metric_key(run.config.get("objective", "classification"))
        value = run.metrics.get(metric_key.removeprefix("val_"), run.metrics.get(metric_key))
        text = f"{run.name} — {run.status}"
        if isinstance(value, int | float):
            text += f", {metric_key.removeprefix('val_')} {value:.3f}"
        return text

    def _refresh_runs(self) -> None:
        rows = [(r.id, self._run_row_text(r)) for r in self.project.runs]
        shown = [(self.runs.item(i).data(Qt.ItemDataRole.UserRole), self.runs.item(i).text())
                 for i in range(self.runs.count())]
        if rows == shown:
            # only the current run changed: restyle the rows (an open name editor stays open)
            if self.runs.state() == QAbstractItemView.State.EditingState:
                # restyling a row closes its name editor: once the edit is over
                QTimer.singleShot(200, self._refresh_runs)
            else:
                for i, run in enumerate(self.project.runs):
                    item = self.runs.item(i)
                    font = item.font()
                    if font.bold() != (run.id == self.project.active_run):
                        font.setBold(run.id == self.project.active_run)
                        item.setFont(font)
                    # made current elsewhere (a point in Runs compared): the list follows
                    if run.id == self.project.active_run and not item.isSelected():
                        self.runs.setCurrentItem(item)
            self._name_docks()
            return
        kept = {i.data(Qt.ItemDataRole.UserRole) for i in self.runs.selectedItems()}
        kept &= {r.id for r in self.project.runs}  # a rename keeps what the user had selected
        self.runs.blockSignals(True)
        self.runs.clear()
        active_item = None
        for run in self.project.runs:
            item = QListWidgetItem(self._run_row_text(run))
            item.setData(Qt.ItemDataRole.UserRole, run.id)
            item.setToolTip(run.message or run.status)
            self.run_list.decorate(item, run, active=run.id == self.project.active_run)
            self.runs.addItem(item)
            if run.id == self.project.active_run:
                active_item = item
        self.runs.blockSignals(False)
        if active_item is not None and self.project.active_run not in kept:
            kept = set()  # a new current run (just trained, added, undone back): select it alone
        if kept:
            for i in range(self.runs.count()):
                item = self.runs.item(i)
                item.setSelected(item.data(Qt.ItemDataRole.UserRole) in kept)
        elif active_item is not None:
            active_item.setSelected(True)
        else:
            self.plots.clear()
        self._name_docks()

    def _show_selected_runs(self) -> None:
        ids = [i.data(Qt.ItemDataRole.UserRole) for i in self.runs.selectedItems()]
        runs = [r for r in self.project.runs if r.id in ids]
        if not runs or self.worker.is_running():
            return
        # the (first) selected run is the current run: every dock works on it and names it
        if self.doc is not None and runs[0].id != self.project.active_run:
            run_id = runs[0].id
            QTimer.singleShot(0, lambda: self._make_current(run_id))
        self._plot_history(runs[0].history, runs[0].config.get("objective", "classification"))
        if len(runs) > 1:
            ep = runs[1].history.get("epoch", {})
            key, _ = _metric_key(runs[1].config.get("objective", "classification"))
            self.plots.set_comparison((ep.get("train_loss", []), ep.get("val_loss", []), ep.get(key, [])))
        else:
            self.plots.set_comparison(None)

    def _make_current(self, run_id: str) -> None:
        if self.doc is not None and not self.worker.is_running() and any(r.id == run_id for r in self.project.runs):
            self.doc.set_active_run(run_id)

    def _name_docks(self) -> None:
        """Every dock that works on the current run says which one it is."""
        run = self.project.active() if self.project is not None else None
        suffix = f" — {run.name}" if run is not None else ""
        for dock, title in ((self.explain_dock, "Explanations"), (self.fairness_dock, "Fairness"),
                            (self.look_inside_dock, "Look inside"), (self.plots_dock, "Plots")):
            dock.setWindowTitle(title + suffix)

    def _plot_history(self, history: dict[str, Any], objective: str) -> None:
        steps = history.get("step", {})
        self.plots.set_steps(steps.get("loss", []), steps.get("lr", []))
        ep = history.get("epoch", {})
        key, label = _metric_key(objective)
        self.plots.set_epochs(ep.get("train_loss", []), ep.get("val_loss", []), ep.get(key, []), label)
        self.plots.set_class_names(self._class_names())
        self.plots.set_epoch_details(_layer_norms(ep.get("grad_norm")) or {}, ep.get("confusion") or [])

    def _class_names(self) -> list[str]:
        """The classes of the project's data once the data panel has read it (else none)."""
        prepared = getattr(getattr(self.data_controller, "applied", None), "prepared", None)
        return self._named_outcomes([str(c) for c in getattr(prepared, "class_names", None) or []])

    def _named_outcomes(self, names: list[str]) -> list[str]:
        """Class names with what the data says they mean: "1" → "1: good credit risk"."""
        from engines.data import outcome_meanings

        meanings = outcome_meanings(self.project.data) if self.project is not None else {}
        return [f"{n}: {meanings[n]}" if n in meanings else n for n in names]

    def _on_node_selected(self, node_id: str) -> None:
        chosen = self.graph_view.selected_node_ids()  # a box or Ctrl-click selects several
        self._selected_nodes = chosen if node_id in chosen else ([node_id] if node_id else [])
        self._show_in_inspector(node_id)

    def _show_in_inspector(self, node_id: str) -> None:
        from engines.catalog import get_layer

        if self.doc is None or node_id not in self.project.graph.nodes:
            self.inspector.clear()
            return
        node = self.project.graph.nodes[node_id]
        spec = get_layer(node.type)
        self.inspector.set_node(node_id, spec.title, [p.to_dict() for p in spec.params], node.params)
        problems = [p.message for p in self.doc.report().problems if p.node_id == node_id]
        self.inspector.set_problem(" ".join(problems) or None)
        self.inspector.set_read_only(self.worker.is_running())

    def _on_param_changed(self, node_id: str, name: str, value: Any) -> None:
        from engines.graph import GraphError

        if self.doc is None or self.worker.is_running():
            return
        try:
            self.doc.set_param(node_id, name, value)
        except GraphError as exc:
            self.inspector.set_problem(str(exc))

    def add_layer(self, layer_id: str) -> None:
        """Add a layer from the palette: after the selected layer, or unconnected."""
        from engines.graph import GraphError

        if self.doc is None or self.worker.is_running():
            return
        graph = self.project.graph
        try:
            selected = self._selected_nodes[0] if self._selected_nodes else None
            outgoing = graph.outputs_of(selected) if selected in graph.nodes else []
            if outgoing:
                new_id = self.doc.insert_node_on_edge(outgoing[0], layer_id)
            else:
                xs = [n.position[0] for n in graph.nodes.values()] or [0.0]
                ys = [n.position[1] for n in graph.nodes.values()] or [0.0]
                new_id = self.doc.add_node(layer_id, position=(min(xs), max(ys) + 120.0))
        except GraphError as exc:
            self.show_error("The layer could not be added.", exc)
            return
        self.log_message(f"Added {new_id}")
        self.graph_view.select_node(new_id)

    def delete_selected(self) -> None:
        """Delete the selected layers and connections (one undo step); the last input and
        output layers stay."""
        if self.doc is None or self.worker.is_running():
            return
        ids = self.canvas.delete(self._selected_nodes, self.graph_view.selected_edges())
        if ids:
            self.log_message(f"Deleted {', '.join(ids)}")

    # -------------------------------------------------------------- file menu
    def _confirm_discard(self) -> bool:
        if not self.dirty:
            return True
        what = ("Your audit has unsaved work (analyses, findings, sign-off). Save it to "
                f"{self.audit_session.audit_path.name} first?" if self.audit_session is not None
                else "The project has unsaved changes. Save them first?")
        answer = QMessageBox.question(
            self, "Unsaved changes", what,
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_project(self, start: str = "") -> None:
        """File → New: a template or an empty graph on a built-in dataset.

        ``start`` is ``EMPTY_START`` (the dialog opens on the empty graph) or ``IMPORT_START``
        (no dialog: an MLP on the German credit table, then the Data dock's import opens for
        the user's own file, which the network is fitted to when applied).
        """
        from engines.data import builtin_spec, list_datasets
        from engines.templates import TEMPLATES
        from workbench.core.session import create_project

        if self.worker.is_running() or not self._confirm_discard():
            return
        if start == IMPORT_START:
            template, dataset = "mlp", "german_credit"
        else:
            dlg = NewProjectDialog(
                [(t.id, t.title, t.description) for t in TEMPLATES.values()],
                [(d.id, f"{d.title} ({d.kind})") for d in list_datasets()],
                self,
            )
            if start == EMPTY_START:
                dlg.template.setCurrentIndex(dlg.template.findData(EMPTY_START))
            if dlg.exec() != QDialog.DialogCode.Accepted:
                return
            template, dataset = dlg.template.currentData(), dlg.dataset.currentData()

        def show(project: Any) -> None:
            self.set_project(project, None)
            self.dirty = True
            self._update_title()
            if start == IMPORT_START:
                self.data_dock.show()
                self.data_dock.raise_()
                self.data_panel.import_file_button.click()  # as the user would

        # preparing the dataset takes a while: on a worker thread, the window stays responsive
        self._load_in_background("Creating the project…", lambda: create_project(template, builtin_spec(dataset)),
                                 show, "The project could not be created.", None)

    def open_dialog(self) -> None:
        if self.worker.is_running() or not self._confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open project", str(self._last_dir()), FILE_FILTER)
        if path:
            self.open_in_background(Path(path))

    def open_path(self, path: Path) -> bool:
        """Open a project; on a bad file, say why and keep the current project untouched."""
        from workbench.core.project import load_project

        try:
            project = load_project(path)
        except Exception as exc:
            self.show_error(f"Could not open {path.name}.", exc)
            return False
        self.set_project(project, path)
        self._add_recent(path)
        self.log_message(f"Opened {path}")
        return True

    def save(self) -> bool:
        if self.audit_session is not None:
            return self.save_audit()
        if self.path is None:
            return self.save_as()
        return self._save_to(self.path)

    def save_as(self) -> bool:
        # a name every system accepts: no <>:"/\\|?* and no control characters
        name = self.project.name if self.project else "project"
        name = re.sub(r'[<>:"/\\|?*\x00-\x1f]+', "-", name).strip(" .-") or "project"
        default = str(self._last_dir() / f"{name}.wbproj")
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", default, FILE_FILTER)
        if not path:
            return False
        p = Path(path)
        if p.suffix != ".wbproj":
            p = p.with_suffix(".wbproj")
        return self._save_to(p)

    def _save_to(self, path: Path) -> bool:
        from workbench.core.project import save_project

        try:
            save_project(self.project, path)
        except Exception as exc:
            self.show_error(f"Could not save {path.name}; the previous file is unchanged.", exc)
            return False
        self.path = path
        self.dirty = False
        self.recovery.saved()  # the file now holds the work: its autosave is not needed
        self._add_recent(path)
        self._update_title()
        self.log_message(f"Saved {path}")
        return True

    def _last_dir(self) -> Path:
        return Path(str(self.settings.value("files/last_dir", str(Path.home()))))

    def _add_recent(self, path: Path) -> None:
        recent = [str(path.resolve())] + [p for p in self._recent() if p != str(path.resolve())]
        self.settings.setValue("files/recent", recent[:MAX_RECENT])
        self.settings.setValue("files/last_dir", str(path.resolve().parent))
        self._fill_recent()

    def _recent(self) -> list[str]:
        value = self.settings.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self._recent():
            a = self.recent_menu.addAction(Path(p).name)
            a.setToolTip(p)
            a.triggered.connect(lambda _=False, p=p: self._open_recent(p))
        self.recent_menu.setEnabled(bool(self._recent()))

    def _open_recent(self, p: str) -> None:
        if not self.worker.is_running() and self._confirm_discard():
            self.open_in_background(Path(p))

    # --------------------------------------------------------------- training
    def start_training(self) -> None:
        problems = self.train_settings.problems()
        if problems:  # F5 with a red field: say what blocks it, train nothing
            self.statusBar().showMessage("Fix the training settings first: " + " ".join(problems.values()), 8000)
            self.train_dock.raise_()
            return
        if self.project is None or self.worker.is_running():
            return
        assert self.doc is not None
        report = self.doc.report()
        if report.problems:
            QMessageBox.warning(self, "The network cannot be trained",
                                "\n".join(p.message for p in report.problems))
            return
        # the settings are the project's own (each edit was an undo step): nothing to override
        overrides: dict[str, Any] = {}
        cfg = self.project.train_config
        shown = ("objective", "optimizer", "lr", "schedule", "batch_size", "epochs", "seed")
        name = f"run {len(self.project.runs) + 1}"
        self.plots_dock.raise_()  # the live curves, not the data panel, while it trains
        self.plots.clear()
        self._live_epochs = {}
        self._steps_done = 0
        self._total_steps = None
        self._train_started_at = time.monotonic()
        self.progress.setValue(0)
        self.progress_label.setText("Preparing data…")
        live = [spec for spec in (self.explain_panel.pinned_spec(), self.fairness_panel.live_spec()) if spec]
        self.worker.start(self.project, overrides, name, live=live)
        self.log_message(f"Training {name}: " + ", ".join(f"{k} {cfg[k]}" for k in shown if k in cfg))
        self._update_actions()

    def toggle_pause(self) -> None:
        if not self.worker.is_running():
            return
        if self.worker.paused:
            self.worker.resume()
            self.pause_button.setText("Pause")
            self.log_message("Resumed")
        else:
            self.worker.pause()
            self.pause_button.setText("Resume")
            self.progress_label.setText("Paused")
            self.log_message("Paused")

    def stop_training(self) -> None:
        if self.worker.is_running():
            self.worker.stop()
            self.progress_label.setText("Stopping…")

    @Slot(object)
    def _on_train_started(self, info: dict[str, Any]) -> None:
        total = info.get("total_steps")
        self._total_steps = int(total) if total else None
        self.progress.setRange(0, self._total_steps or 0)
        if info.get("class_names"):
            self.plots.set_class_names(self._named_outcomes([str(c) for c in info["class_names"]]))

    @Slot(list)
    def _on_steps(self, steps: list[dict[str, Any]]) -> None:
        self.plots.append_steps(
            [s.get("step", self._steps_done + i) for i, s in enumerate(steps)],
            [s.get("loss", float("nan")) for s in steps],
            [s.get("lr", float("nan")) for s in steps],
        )
        self._steps_done += len(steps)
        last = steps[-1]
        # QProgressBar.setValue repaints the window synchronously: a few times a second is plenty
        now = time.monotonic()
        if now - self._progress_shown_at < PROGRESS_INTERVAL_S:
            return
        self._progress_shown_at = now
        if self._total_steps:
            self.progress.setValue(min(self._steps_done, self._total_steps))
            elapsed = time.monotonic() - self._train_started_at
            remaining = elapsed / max(self._steps_done, 1) * (self._total_steps - self._steps_done)
            eta = f"{int(remaining // 60)}:{int(remaining % 60):02d}"
        else:
            eta = "?"
        if not self.worker.paused:
            self.progress_label.setText(
                f"Epoch {int(last.get('epoch', 0)) + 1}, step {self._steps_done}"
                f"{'/' + str(self._total_steps) if self._total_steps else ''} — ETA {eta}"
            )

    @Slot(dict)
    def _on_epoch(self, epoch: dict[str, Any]) -> None:
        for k, v in epoch.items():
            if isinstance(v, int | float):
                self._live_epochs.setdefault(k, []).append(float(v))
        objective = str(self.project.train_config.get("objective", "classification"))
        key, label = _metric_key(objective)
        e = self._live_epochs
        self.plots.set_epochs(
            e.get("train_loss", []), e.get("val_loss", []), e.get(key, []), label, live=True
        )
        self.plots.append_epoch_details(_layer_norms(epoch.get("grad_norm")), epoch.get("confusion"))
        shown = [k for k in ("train_loss", "val_loss", key) if k in epoch]
        self.log_message(f"epoch {int(epoch.get('epoch', 0)) + 1}: "
                         + ", ".join(f"{k} {epoch[k]:.4g}" for k in shown))

    @Slot(object)
    def _on_train_finished(self, outcome: Any) -> None:
        self.plots.flush()
        assert self.doc is not None
        self.doc.add_run(outcome.run, activate=True)  # a record, not an undo step; marks unsaved
        self.progress_label.setText(f"{outcome.run.name}: {outcome.status}")
        if self._total_steps and outcome.status == "completed":
            self.progress.setValue(self.progress.maximum())  # a stopped run keeps the share it did
        self.log_message(f"{outcome.run.name} {outcome.status}. {outcome.message}")
        if outcome.status == "diverged":
            QMessageBox.warning(self, "Training stopped", outcome.message)
        self.pause_button.setText("Pause")
        self._refresh_runs()
        self._update_title()
        self._update_actions()

    @Slot(str, str)
    def _on_train_failed(self, message: str, details: str) -> None:
        self.progress_label.setText("Failed")
        self.pause_button.setText("Pause")
        self._update_actions()
        self.errors.report("Training failed.", message, details)  # logged, work autosaved

    # ------------------------------------------------------------------ misc
    def _update_title(self) -> None:
        name = self.project.name if self.project is not None else "Untitled"
        if self.path is not None:
            name = self.path.stem
        audit = " (audit)" if self.audit_session is not None else ""
        self.setWindowTitle(f"{name}{audit}[*] — {workbench.APP_NAME}")
        self.setWindowModified(self.dirty)

    def _update_actions(self) -> None:
        running = self.worker.is_running()
        has = self.project is not None
        invalid = self.train_settings.problems()
        for w in (self.train_action, self.train_button):
            w.setEnabled(has and not running and not invalid)
            w.setToolTip("Fix the training settings first:\n" + "\n".join(invalid.values()) if invalid
                         else "Train a new run")
        for w in (self.pause_action, self.pause_button, self.stop_action, self.stop_button):
            w.setEnabled(running)
        for w in (self.new_action, self.open_action, self.save_action, self.save_as_action):
            w.setEnabled(not running)
        self.save_as_action.setEnabled(has and not running)
        self.save_action.setEnabled(has and not running)
        self.delete_action.setEnabled(has and not running)
        locked = running or self.audit_session is not None
        self.inspector.set_read_only(locked)
        self.canvas.set_read_only(locked)
        if self.audit_session is not None:
            self.train_settings.set_read_only(True, READ_ONLY_REASON)
        else:
            self.train_settings.set_read_only(locked)
        self.data_panel.set_read_only(locked)
        self.export_report_action.setEnabled(has and not running and self.path is not None)
        self._apply_audit_lock()
        # no undo while a run trains: the run's graph must stay as it started
        if self.doc is not None:
            self.undo_group.setActiveStack(None if running else self.doc.undo_stack)
        if self._loading:  # a project is on its way: nothing to act on until it is shown
            for w in (self.train_action, self.train_button, self.new_action, self.open_action,
                      self.save_action, self.save_as_action, self.delete_action):
                w.setEnabled(False)
            for editor in (self.inspector, self.canvas, self.train_settings, self.data_panel):
                editor.set_read_only(True)

    #: actions that would change the network, data, settings or runs: off while auditing
    def _editing_actions(self) -> list[Any]:
        view = self.graph_view
        return [self.train_action, self.train_button, self.save_as_action, self.delete_action,
                view.paste_action, view.duplicate_action, view.quick_add_action, self.arrange_action]

    def _apply_audit_lock(self) -> None:
        auditing = self.audit_session is not None
        for w in self._editing_actions():
            if auditing:
                w.setEnabled(False)
            elif w in (self.train_action, self.train_button):
                continue  # their tooltips say what blocks training (see _update_actions)
            if isinstance(w, QAction):
                tip = w.property("normal_tip")
                if tip is None:
                    w.setProperty("normal_tip", w.toolTip())
                    tip = w.toolTip()
                w.setToolTip(READ_ONLY_REASON if auditing else str(tip))
            else:
                w.setToolTip(READ_ONLY_REASON if auditing else "")
        self.save_action.setText("&Save Audit" if auditing else "&Save")
        self.save_action.setToolTip(
            f"Save your analyses, findings and sign-off to {self.audit_session.audit_path.name}; "
            "the project file is never written" if auditing and self.audit_session else "Save the project")
        self.palette.setEnabled(not auditing)
        self.palette.setToolTip(READ_ONLY_REASON if auditing else
                                "Double-click a layer (or press Enter) to add it after the selected "
                                "layer; with nothing selected it is added unconnected")
        if self._fairness_panel is not None:
            self._fairness_panel.panel.controls.set_mitigations_refused(
                "Mitigations add runs to the project: not while it is open for audit" if auditing else "")

    def log_message(self, text: str) -> None:
        self.log.appendPlainText(f"{time.strftime('%H:%M:%S')}  {text}")

    def show_error(self, summary: str, exc: Any, details: str | None = None) -> None:
        message = str(exc)
        self.log_message(f"{summary} {message}")
        box = QMessageBox(QMessageBox.Icon.Warning, workbench.APP_NAME, summary, parent=self)
        box.setInformativeText(message)
        if details:
            box.setDetailedText(details)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()  # non-blocking: a modal exec() would stall tests and the event loop

    def show_guide(self) -> None:
        """Help → User Guide (F1): one guide window, raised if it is already open."""
        from workbench.gui.help import GuideDialog

        if getattr(self, "_guide", None) is None:
            self._guide = GuideDialog(self)
        self._guide.show()
        self._guide.raise_()
        self._guide.activateWindow()

    def _about(self) -> None:
        QMessageBox.about(self, "About Model Workbench",
                          f"Model Workbench {workbench.__version__}\n"
                          "Build neural networks, train them live, inspect what they learned.")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if self.worker.is_running():
            answer = QMessageBox.question(self, "Training in progress",
                                          "A run is training. Stop it and close?")
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            self.worker.shutdown()
            self.dirty = True
        if not self._confirm_discard():
            event.ignore()
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.worker.shutdown()
        self.loader.shutdown()  # a project still loading is dropped
        self._set_loading(None)
        self.look_inside_controller.shutdown()
        self.data_controller.shutdown()
        if self._explain_panel is not None and self._fairness_panel is not None:
            self._explain_panel.shutdown()
            self._fairness_panel.shutdown()
        self.audit_panel.shutdown()
        self.recovery.closed()  # the user saved or chose to discard: no recovery needed
        event.accept()


def _install_excepthook(window: MainWindow) -> None:
    """Unexpected errors are logged, shown with details to copy, and never lose the user's work."""
    from workbench.gui.errors import setup_logging

    try:
        setup_logging()
    except OSError as exc:  # no writable log folder: errors are still shown
        window.log_message(f"The error log cannot be written: {exc}")
    window.errors.install_excepthook()


def run_app(project_path: str | None = None, demo: bool = False, audit: bool = False) -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName(workbench.APP_NAME)
    app.setOrganizationName("Model Workbench")
    window = MainWindow()
    _install_excepthook(window)
    window.show()
    # torch and the engines are imported only after the window has been painted once.
    # the project first: its network is drawn (and its data loads on a thread) while the
    # analysis panels are built
    window.call_after_first_paint(
        lambda: window.open_initial(project_path, demo, warm_up=True, audit=audit), first=True)
    return int(app.exec())
