"""The Model Workbench main window.

Start-up paints the window first and imports the heavy engines (torch) afterwards, so the
window appears quickly. Training runs on a worker thread (:mod:`workbench.workers`); this
module only draws and turns user actions into operations on the project.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoGroup
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QDoubleSpinBox,
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
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

import workbench
from widgets.graph_view import GraphView
from widgets.inspector import Inspector
from widgets.palette import LayerPalette
from widgets.training_plots import TrainingPlots
from workbench.document import ProjectDocument
from workbench.workers import TrainingWorker

MAX_RECENT = 8
FILE_FILTER = "Model Workbench projects (*.wbproj);;All files (*)"


def _metric_key(objective: str) -> tuple[str, str]:
    return {
        "classification": ("val_accuracy", "accuracy"),
        "regression": ("val_r2", "R²"),
    }.get(objective, ("val_loss", "reconstruction loss"))


class NewProjectDialog(QDialog):
    """Choose a template and a built-in dataset."""

    def __init__(self, templates: list[tuple[str, str]], datasets: list[tuple[str, str]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        form = QFormLayout(self)
        self.template = QComboBox()
        for tid, title in templates:
            self.template.addItem(title, tid)
        self.dataset = QComboBox()
        for did, title in datasets:
            self.dataset.addItem(title, did)
        form.addRow("Template", self.template)
        form.addRow("Dataset", self.dataset)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        self._after_first_paint: list[Any] = []
        super().__init__()
        self.project: Any = None
        self.doc: ProjectDocument | None = None
        self.path: Path | None = None
        self._unsaved_new = False  # a new project that was never saved counts as unsaved
        self.undo_group = QUndoGroup(self)
        self._selected_nodes: list[str] = []
        self.settings = QSettings()
        self.worker = TrainingWorker(self)
        self._train_started_at = 0.0
        self._total_steps: int | None = None
        self._steps_done = 0
        self._live_epochs: dict[str, list[float]] = {}

        self.graph_view = GraphView()
        self.setCentralWidget(self.graph_view)
        self._build_docks()
        self._build_actions()
        self._connect_worker()
        self.resize(1400, 900)
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        self.statusBar().showMessage("Loading…")
        self._update_title()
        self._update_actions()

    def call_after_first_paint(self, callback: Any) -> None:
        """Run ``callback`` once the window has been painted (heavy imports wait for it)."""
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
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # so saveState/restoreState can remember the layout
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        panel = QWidget()
        v = QVBoxLayout(panel)
        form = QFormLayout()
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10000)
        self.epochs.setToolTip("How many passes over the training split")
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 10.0)
        self.lr.setSingleStep(1e-4)
        self.lr.setToolTip("Learning rate of the optimizer")
        self.batch = QSpinBox()
        self.batch.setRange(1, 65536)
        self.batch.setToolTip("Samples per optimizer step")
        self.optimizer = QComboBox()
        self.optimizer.addItems(["adam", "adamw", "sgd", "rmsprop", "adagrad"])
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Same seed on the same CPU gives the same curves, bit for bit")
        form.addRow("Epochs", self.epochs)
        form.addRow("Learning rate", self.lr)
        form.addRow("Batch size", self.batch)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Seed", self.seed)
        v.addLayout(form)
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
        v.addStretch(1)
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

        self.plots = TrainingPlots()
        self.plots_dock = self._dock("Plots", "plots", self.plots, Qt.DockWidgetArea.BottomDockWidgetArea)

        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log_dock = self._dock("Log", "log", self.log, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.plots_dock, self.log_dock)
        self.plots_dock.raise_()

        self.train_button.clicked.connect(self.start_training)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop_training)
        self.runs.itemSelectionChanged.connect(self._show_selected_runs)
        self.graph_view.node_selected.connect(self._on_node_selected)

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
        self.new_action = act("&New…", self.new_project, S.New, "Start a project from a template")
        self.open_action = act("&Open…", self.open_dialog, S.Open, "Open a project file")
        self.save_action = act("&Save", self.save, S.Save, "Save the project")
        self.save_as_action = act("Save &As…", self.save_as, S.SaveAs, "Save under a new name")
        self.quit_action = act("&Quit", self.close, S.Quit)
        self.train_action = act("&Train", self.start_training, "F5", "Train a new run")
        self.pause_action = act("&Pause / Resume", self.toggle_pause, "F6", "Pause or resume training")
        self.stop_action = act("&Stop", self.stop_training, "Shift+F5", "Stop training")
        self.fit_action = act("Zoom to &Fit", self.graph_view.zoom_to_fit, "Ctrl+0")
        self.undo_action = self.undo_group.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence(S.Undo))
        self.redo_action = self.undo_group.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence(S.Redo))
        self.delete_action = act("&Delete", self.delete_selected, S.Delete, "Delete the selected layers")

        menu = self.menuBar().addMenu("&File")
        for a in (self.new_action, self.open_action):
            menu.addAction(a)
        self.recent_menu = menu.addMenu("Open &Recent")
        self._fill_recent()
        menu.addSeparator()
        menu.addAction(self.save_action)
        menu.addAction(self.save_as_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        menu = self.menuBar().addMenu("&Edit")
        for a in (self.undo_action, self.redo_action, None, self.delete_action):
            if a is None:
                menu.addSeparator()
            else:
                menu.addAction(a)
        menu = self.menuBar().addMenu("&View")
        menu.addAction(self.fit_action)
        menu.addSeparator()
        for dock in (self.palette_dock, self.inspector_dock, self.train_dock, self.runs_dock,
                     self.plots_dock, self.log_dock):
            menu.addAction(dock.toggleViewAction())
        menu = self.menuBar().addMenu("&Run")
        for a in (self.train_action, self.pause_action, self.stop_action):
            menu.addAction(a)
        menu = self.menuBar().addMenu("&Help")
        menu.addAction(act("&About Model Workbench", self._about))

        bar = self.addToolBar("Main")
        bar.setObjectName("main_toolbar")
        for a in (self.new_action, self.open_action, self.save_action, None,
                  self.undo_action, self.redo_action, None, self.train_action, self.pause_action, self.stop_action, None, self.fit_action):
            if a is None:
                bar.addSeparator()
            else:
                bar.addAction(a)

    def _connect_worker(self) -> None:
        self.worker.started.connect(self._on_train_started)
        self.worker.steps_arrived.connect(self._on_steps)
        self.worker.epoch_finished.connect(self._on_epoch)
        self.worker.finished.connect(self._on_train_finished)
        self.worker.failed.connect(self._on_train_failed)

    # ---------------------------------------------------------------- project
    def open_initial(self, project_path: str | None, demo: bool) -> None:
        """Called once the window is painted: now the heavy imports may happen."""
        if project_path:
            self.open_path(Path(project_path))
        else:
            self.load_demo()
        self.statusBar().showMessage("Ready", 3000)

    def load_demo(self) -> None:
        from workbench.demo import demo_project

        try:
            self.set_project(demo_project(), None)
            self.log_message("Opened the built-in demo project (MLP on German credit).")
        except Exception as exc:
            self.show_error("The demo project could not be created.", exc)

    def set_project(self, project: Any, path: Path | None) -> None:
        if self.doc is not None:
            self.undo_group.removeStack(self.doc.undo_stack)
            self.doc.deleteLater()
        self.project = project
        self.doc = ProjectDocument(project, self)
        self.undo_group.addStack(self.doc.undo_stack)
        self.undo_group.setActiveStack(self.doc.undo_stack)
        self.doc.graph_changed.connect(self._refresh_graph)
        self.doc.runs_changed.connect(self._refresh_runs)
        self.doc.dirty_changed.connect(lambda _dirty: self._update_title())
        self.path = path
        self._unsaved_new = False
        if not self.palette.visible_layer_ids():
            from engines.catalog import LAYERS, get_layer

            get_layer("input")  # loads the catalog
            self.palette.set_layers([
                {"id": spec.id, "title": spec.title, "category": spec.category, "help": spec.help}
                for spec in LAYERS.values() if spec.id not in ("input", "output")
            ])
        cfg = project.train_config
        self.epochs.setValue(int(cfg.get("epochs", 10)))
        self.lr.setValue(float(cfg.get("lr", 1e-3)))
        self.batch.setValue(int(cfg.get("batch_size", 32)))
        self.optimizer.setCurrentText(str(cfg.get("optimizer", "adam")))
        self.seed.setValue(int(cfg.get("seed", 0)))
        self._refresh_graph()
        self._refresh_runs()
        self._update_title()
        self._update_actions()

    def _refresh_graph(self) -> None:
        from engines.catalog import get_layer
        assert self.doc is not None
        graph = self.project.graph
        report = self.doc.report()  # cached by the document, recomputed only after an edit
        nodes = []
        for n in graph.nodes.values():
            spec = get_layer(n.type)
            shape = report.node_shapes.get(n.id)
            nodes.append({
                "id": n.id,
                "type": n.type,
                "title": spec.title,
                "category": spec.category,
                "help": spec.help,
                "position": n.position,
                "params_count": report.param_counts.get(n.id, 0),
                "shape_text": "×".join(map(str, shape)) if shape else "",
            })
        edges = []
        for e in graph.edges:
            shape = report.node_shapes.get(e.src)
            edges.append({"src": e.src, "dst": e.dst, "label": "×".join(map(str, shape)) if shape else ""})
        problems = {p.node_id: p.message for p in report.problems if p.node_id}
        selected = list(self._selected_nodes)
        self.graph_view.set_graph(nodes, edges, problems)
        for node_id in selected:  # keep the selection (and the inspector) across a redraw
            self.graph_view.select_node(node_id)
        if not selected:
            self.inspector.clear()
        self.statusBar().showMessage(
            f"{len(nodes)} layers, {report.total_params:,} parameters"
            + (f", {len(report.problems)} problem(s)" if report.problems else "")
        )

    def _refresh_runs(self) -> None:
        self.runs.blockSignals(True)
        self.runs.clear()
        active_item = None
        for run in self.project.runs:
            metric_key, _ = _metric_key(run.config.get("objective", "classification"))
            value = run.metrics.get(metric_key.removeprefix("val_"), run.metrics.get(metric_key))
            text = f"{run.name} — {run.status}"
            if isinstance(value, int | float):
                text += f", {metric_key.removeprefix('val_')} {value:.3f}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, run.id)
            item.setToolTip(run.message or run.status)
            self.runs.addItem(item)
            if run.id == self.project.active_run:
                active_item = item
        self.runs.blockSignals(False)
        if active_item is not None:
            active_item.setSelected(True)
        else:
            self.plots.clear()

    def _show_selected_runs(self) -> None:
        ids = [i.data(Qt.ItemDataRole.UserRole) for i in self.runs.selectedItems()]
        runs = [r for r in self.project.runs if r.id in ids]
        if not runs or self.worker.is_running():
            return
        self.project.active_run = runs[0].id
        self._plot_history(runs[0].history, runs[0].config.get("objective", "classification"))
        if len(runs) > 1:
            ep = runs[1].history.get("epoch", {})
            key, _ = _metric_key(runs[1].config.get("objective", "classification"))
            self.plots.set_comparison((ep.get("train_loss", []), ep.get("val_loss", []), ep.get(key, [])))
        else:
            self.plots.set_comparison(None)

    def _plot_history(self, history: dict[str, Any], objective: str) -> None:
        steps = history.get("step", {})
        self.plots.set_steps(steps.get("loss", []), steps.get("lr", []))
        ep = history.get("epoch", {})
        key, label = _metric_key(objective)
        self.plots.set_epochs(ep.get("train_loss", []), ep.get("val_loss", []), ep.get(key, []), label)

    def _on_node_selected(self, node_id: str) -> None:
        self._selected_nodes = [node_id] if node_id else []
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
        """Delete the selected layers (one undo step); input and output stay."""
        if self.doc is None or self.worker.is_running():
            return
        ids = [i for i in self._selected_nodes if i in self.project.graph.nodes
               and self.project.graph.nodes[i].type not in ("input", "output")]
        if ids:
            self.doc.remove_nodes(ids)
            self._selected_nodes = []
            self.log_message(f"Deleted {', '.join(ids)}")

    # -------------------------------------------------------------- file menu
    def _confirm_discard(self) -> bool:
        if not self.dirty:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes",
            "The project has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_project(self) -> None:
        from engines.data import builtin_spec, list_datasets
        from engines.templates import TEMPLATES
        from workbench.session import create_project

        if self.worker.is_running() or not self._confirm_discard():
            return
        dlg = NewProjectDialog(
            [(t.id, f"{t.title} ({t.id})") for t in TEMPLATES.values()],
            [(d.id, f"{d.title} ({d.kind})") for d in list_datasets()],
            self,
        )
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        try:
            project = create_project(dlg.template.currentData(), builtin_spec(dlg.dataset.currentData()))
        except Exception as exc:
            self.show_error("The project could not be created.", exc)
            return
        self.set_project(project, None)
        self.dirty = True
        self._update_title()

    def open_dialog(self) -> None:
        if self.worker.is_running() or not self._confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open project", str(self._last_dir()), FILE_FILTER)
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path) -> bool:
        """Open a project; on a bad file, say why and keep the current project untouched."""
        from workbench.project import load_project

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
        if self.path is None:
            return self.save_as()
        return self._save_to(self.path)

    def save_as(self) -> bool:
        default = str(self._last_dir() / f"{(self.project.name if self.project else 'project')}.wbproj")
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", default, FILE_FILTER)
        if not path:
            return False
        p = Path(path)
        if p.suffix != ".wbproj":
            p = p.with_suffix(".wbproj")
        return self._save_to(p)

    def _save_to(self, path: Path) -> bool:
        from workbench.project import save_project

        try:
            save_project(self.project, path)
        except Exception as exc:
            self.show_error(f"Could not save {path.name}; the previous file is unchanged.", exc)
            return False
        self.path = path
        self.dirty = False
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
            self.open_path(Path(p))

    # --------------------------------------------------------------- training
    def start_training(self) -> None:
        if self.project is None or self.worker.is_running():
            return
        assert self.doc is not None
        report = self.doc.report()
        if report.problems:
            QMessageBox.warning(self, "The network cannot be trained",
                                "\n".join(p.message for p in report.problems))
            return
        overrides = {
            "epochs": self.epochs.value(),
            "lr": self.lr.value(),
            "batch_size": self.batch.value(),
            "optimizer": self.optimizer.currentText(),
            "seed": self.seed.value(),
        }
        name = f"run {len(self.project.runs) + 1}"
        self.plots.clear()
        self._live_epochs = {}
        self._steps_done = 0
        self._total_steps = None
        self._train_started_at = time.monotonic()
        self.progress.setValue(0)
        self.progress_label.setText("Preparing data…")
        self.worker.start(self.project, overrides, name)
        self.log_message(f"Training {name}: " + ", ".join(f"{k} {v}" for k, v in overrides.items()))
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

    @Slot(list)
    def _on_steps(self, steps: list[dict[str, Any]]) -> None:
        self.plots.append_steps(
            [s.get("step", self._steps_done + i) for i, s in enumerate(steps)],
            [s.get("loss", float("nan")) for s in steps],
            [s.get("lr", float("nan")) for s in steps],
        )
        self._steps_done += len(steps)
        last = steps[-1]
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
        shown = [k for k in ("train_loss", "val_loss", key) if k in epoch]
        self.log_message(f"epoch {int(epoch.get('epoch', 0)) + 1}: "
                         + ", ".join(f"{k} {epoch[k]:.4g}" for k in shown))

    @Slot(object)
    def _on_train_finished(self, outcome: Any) -> None:
        self.plots.flush()
        assert self.doc is not None
        self.doc.add_run(outcome.run, activate=True)  # undoable, and marks unsaved changes
        self.progress_label.setText(f"{outcome.run.name}: {outcome.status}")
        if self._total_steps:
            self.progress.setValue(self.progress.maximum())
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
        self.show_error("Training failed.", message, details)

    # ------------------------------------------------------------------ misc
    def _update_title(self) -> None:
        name = self.project.name if self.project is not None else "Untitled"
        if self.path is not None:
            name = self.path.stem
        self.setWindowTitle(f"{name}[*] — {workbench.APP_NAME}")
        self.setWindowModified(self.dirty)

    def _update_actions(self) -> None:
        running = self.worker.is_running()
        has = self.project is not None
        for w in (self.train_action, self.train_button):
            w.setEnabled(has and not running)
        for w in (self.pause_action, self.pause_button, self.stop_action, self.stop_button):
            w.setEnabled(running)
        for w in (self.new_action, self.open_action, self.save_action, self.save_as_action):
            w.setEnabled(not running)
        self.save_as_action.setEnabled(has and not running)
        self.save_action.setEnabled(has and not running)
        self.delete_action.setEnabled(has and not running)
        self.inspector.set_read_only(running)
        # no undo while a run trains: the run's graph must stay as it started
        if self.doc is not None:
            self.undo_group.setActiveStack(None if running else self.doc.undo_stack)

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
        event.accept()


def _install_excepthook(window: MainWindow) -> None:
    """Unexpected errors are shown with details and logged, never silently lost."""

    def hook(exc_type: Any, exc: BaseException, tb: Any) -> None:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(details)
        try:
            window.show_error("An unexpected error occurred; your project is still open.",
                              f"{exc_type.__name__}: {exc}", details)
        except Exception:
            pass

    sys.excepthook = hook


def run_app(project_path: str | None = None, demo: bool = False) -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName(workbench.APP_NAME)
    app.setOrganizationName("Model Workbench")
    window = MainWindow()
    _install_excepthook(window)
    window.show()
    # torch and the engines are imported only after the window has been painted once.
    window.call_after_first_paint(lambda: window.open_initial(project_path, demo))
    return int(app.exec())
