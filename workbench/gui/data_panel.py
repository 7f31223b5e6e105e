"""Controllers of the data panel and the training settings: panel edits become document commands.

Reading a file and preparing a dataset can take seconds, so :class:`DataController` does
both on a worker thread of its own ``QThreadPool`` (one job at a time; a newer request makes
an older result stale, and stale results are dropped). Results come back to the GUI thread
through a queued signal; only the GUI thread touches the panel. The work itself is plain
functions in :mod:`workbench.core.data_choice` (:func:`read_choice`, :func:`prepare_choice`)
that a test can call without Qt.

Nothing here changes the project directly: Apply becomes one
:meth:`~workbench.gui.document.ProjectDocument.set_data` step (which may also fit the network's
input and output to the data) and every settings edit one
:meth:`~workbench.gui.document.ProjectDocument.set_train_config` step.
"""

from __future__ import annotations

import functools
import json
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from widgets.data.panel import DataPanel
from widgets.training.settings import TrainSettings
from workbench.core.data_choice import (
    DataChoice,
    available_devices,
    fit_graph_to_data,
    objective_for_task,
    prepare_choice,
    read_choice,
    source_for_path,
    spec_with_options,
)
from workbench.gui.document import ProjectDocument

__all__ = ["DataController", "TrainSettingsController"]

OPTIONS_DELAY_MS = 250  # edits of roles or split are prepared once typing pauses


class DataController(QObject):
    """Reads and prepares data off the GUI thread for the panel; Apply edits the document."""

    choice_shown = Signal(object)  # a dataset was read and is now shown (a DataChoice)
    choice_failed = Signal(str)  # a dataset could not be read; the panel shows the message
    data_applied = Signal(str)  # the shown dataset became the project's data (its fingerprint)
    idle = Signal()  # no reading or preparing is waiting or in flight any more
    datasheet_ready = Signal(object)  # the project's data has a new datasheet (its dict)
    _job_done = Signal(int, str, object)  # worker -> GUI thread: serial, job kind, outcome
    _sheet_done = Signal(int, object)  # worker -> GUI thread: datasheet serial, outcome

    def __init__(self, panel: DataPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.doc: ProjectDocument | None = None
        self.choice: DataChoice | None = None  # what the panel shows
        self.applied: DataChoice | None = None  # the document's data, as last read
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one read at a time; the machine's cores train
        self._serial = 0
        self._document_serial = 0  # the latest read of the document's own data
        self._in_flight = 0
        self._closed = False
        self._datasets_listed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(OPTIONS_DELAY_MS)
        self._timer.timeout.connect(self._prepare_options)
        self._job_done.connect(self._on_job_done)
        # the datasheet of the project's data: computed on the same pool, below reads in priority
        self.datasheet: dict[str, Any] | None = None
        self._sheet_key: str | None = None
        self._sheet_serial = 0
        self._sheets_in_flight = 0
        self._sheet_cancel: threading.Event | None = None
        self._sheet_done.connect(self._on_sheet_done)
        panel.builtin_chosen.connect(self.choose_builtin)
        panel.file_chosen.connect(self.import_path)
        panel.folder_chosen.connect(self.import_path)
        panel.options_changed.connect(self._on_options_changed)
        panel.apply_requested.connect(self.apply)

    # ------------------------------------------------------------------ state
    @property
    def busy(self) -> bool:
        """True while data is being read or prepared, or an edit waits to be prepared."""
        return self._in_flight > 0 or self._timer.isActive()

    def set_document(self, doc: ProjectDocument | None) -> None:
        """Show ``doc``'s data (read in the background) and follow its undo and redo."""
        if self.doc is not None:
            try:
                self.doc.data_changed.disconnect(self._on_document_data_changed)
            except (RuntimeError, TypeError):
                pass  # the old document is already gone
        self.doc = doc
        self.choice = self.applied = None
        self._forget_datasheet()
        if not self._datasets_listed:
            from engines.data import list_datasets

            self.panel.set_datasets([d.to_dict() for d in list_datasets()])
            self._datasets_listed = True
        if doc is None:
            return
        doc.data_changed.connect(self._on_document_data_changed)
        self._load_document_data()

    def shutdown(self) -> None:
        """Drop queued work and wait for the running job (when the window closes)."""
        self._closed = True
        self._timer.stop()
        if self._sheet_cancel is not None:
            self._sheet_cancel.set()
        self._pool.clear()
        self._pool.waitForDone()

    # ------------------------------------------------------------------ user actions
    def choose_builtin(self, name: str) -> None:
        """Read built-in dataset ``name`` and show it (the project's data is unchanged)."""
        from engines.data import DataError, builtin_spec

        try:
            spec = builtin_spec(name)
        except DataError as exc:
            self._fail(str(exc))
            return
        self._submit("read", read_choice, spec, None)

    def import_path(self, path: str | Path) -> None:
        """Read a data file or image folder and show it (the project's data is unchanged)."""
        from engines.data import DataError, DataSpec

        try:
            spec = DataSpec(source=source_for_path(path), path=str(path))
            spec.validate()
        except DataError as exc:
            self._fail(str(exc))
            return
        # a fresh import: identifier and constant columns are set aside, with a notice
        self._submit("read", functools.partial(read_choice, checks=True), spec, None)

    def apply(self) -> bool:
        """Make the shown dataset the project's data, as one undo step; False if refused."""
        from engines.graph import GraphError
        from engines.training import ConfigError
        from workbench.core.session import _source_entry

        choice, doc = self.choice, self.doc
        if doc is None or choice is None or self.busy:
            return False
        if not choice.usable:
            self.panel.show_status(choice.problem or "The data is not ready yet.", error=True)
            return False
        data = choice.prepared
        config = dict(doc.project.train_config)
        config_changes = objective_for_task(config, data.task)
        objective = config_changes.get("objective", config.get("objective", "classification"))
        params: list[tuple[str, str, Any]] = []
        if self.panel.fit_network_requested():
            params = fit_graph_to_data(
                doc.graph, doc.report(), data.input_shape, data.n_outputs, objective
            )
        source = (_source_entry(choice.spec), choice.source) if choice.source is not None else None
        try:
            doc.set_data(choice.spec.to_dict(), data.fingerprint, source, params, config_changes)
        except (GraphError, ConfigError, ValueError) as exc:
            self.panel.show_status(f"The data could not be applied: {exc}", error=True)
            return False
        self.applied = choice
        self._show_applied()
        problems = doc.problems()
        status = choice.status()
        if problems:
            status += (
                f" The network now has {len(problems)} problem(s) to fix: {problems[0].message}"
            )
        self.panel.show_status(status)
        self.data_applied.emit(data.fingerprint)
        return True

    # ------------------------------------------------------------------ document
    def _load_document_data(self) -> None:
        from engines.data import DataError, DataSpec

        doc = self.doc
        assert doc is not None
        project = doc.project
        try:
            spec = DataSpec.from_dict(project.data)
        except DataError as exc:
            self._fail(f"The project's data spec is not usable: {exc}")
            return
        source = next(
            (v for k, v in project.embedded.items() if k.startswith("data/source")), None
        )
        self._submit("document", read_choice, spec, source)

    def _on_document_data_changed(self) -> None:
        doc = self.doc
        if doc is None:
            return
        shown = self.choice
        if (
            shown is not None
            and shown.prepared is not None
            and shown.prepared.fingerprint == doc.project.data_fingerprint
            and shown.spec.to_dict() == doc.project.data
        ):
            self.applied = shown  # our own Apply (or a redo of it): nothing to read
            self._show_applied()
            self._refresh_apply()
            return
        self._load_document_data()  # undo or redo: show what the project has now

    # ------------------------------------------------------------------ options
    def _on_options_changed(self) -> None:
        if self.choice is None:
            return
        self.panel.set_apply_enabled(False)
        self._timer.start()

    def _prepare_options(self) -> None:
        from engines.data import DataError

        choice = self.choice
        if choice is None or self._closed:
            self._maybe_idle()
            return
        try:
            spec = spec_with_options(choice.spec, self.panel.options())
        except DataError as exc:
            choice.problem = str(exc)
            choice.prepared = None
            self.panel.show_status(str(exc), error=True)
            self._refresh_apply()
            self._maybe_idle()
            return
        old = choice.spec
        if spec.source == "image_folder" and (
            tuple(spec.image_size) != tuple(old.image_size) or spec.image_mode != old.image_mode
        ):
            # the embedded images are made at the chosen size and colours: read the folder again
            self._submit("read", read_choice, spec, None)
        else:
            self._submit("prepare", prepare_choice, choice, spec)

    # ------------------------------------------------------------------ jobs
    def _submit(self, kind: str, fn: Callable[..., DataChoice], *args: Any) -> None:
        if self._closed:
            return
        self._serial += 1
        serial = self._serial
        if kind == "document":
            self._document_serial = serial
        self._in_flight += 1
        self.panel.set_busy(True)
        if kind != "prepare":
            self.panel.show_status("Reading…")
        self._pool.start(lambda: self._run(serial, kind, fn, args))

    def _run(self, serial: int, kind: str, fn: Callable[..., DataChoice], args: tuple) -> None:
        # worker thread: no widgets here, only the result goes back by a queued signal
        from engines.data import DataError

        try:
            outcome: tuple[str, Any] = ("ok", fn(*args))
        except DataError as exc:
            outcome = ("error", (str(exc), ""))
        except Exception as exc:  # pandas, pyarrow or Pillow may raise anything on odd files
            message = f"The data could not be read ({type(exc).__name__}: {exc})."
            outcome = ("error", (message, traceback.format_exc()))
        try:
            self._job_done.emit(serial, kind, outcome)
        except RuntimeError:
            pass  # the controller was deleted while the job ran; nobody waits for it

    def _on_job_done(self, serial: int, kind: str, outcome: tuple[str, Any]) -> None:
        self._in_flight -= 1
        status, value = outcome
        if self._closed:
            return
        if kind == "document" and serial == self._document_serial and status == "ok":
            # what the project holds, even when the user has picked something else since
            self.applied = value
            self._show_applied()
        if serial != self._serial:
            self._maybe_idle()  # a newer request is under way: this result is stale
            return
        self.panel.set_busy(self._in_flight > 0)
        if status == "error":
            message, _details = value
            if kind == "document":
                message = f"The project's data could not be read: {message}"
            if kind == "prepare" and self.choice is not None:
                self.choice.problem, self.choice.prepared = message, None
            self._fail(message)
        else:
            self._show(value, from_document=kind == "document", rebuild=kind != "prepare")
        self._maybe_idle()

    def _maybe_idle(self) -> None:
        if not self.busy:
            self.panel.set_busy(False)
            self.idle.emit()

    # ------------------------------------------------------------------ showing
    def _show(self, choice: DataChoice, from_document: bool, rebuild: bool) -> None:
        self.choice = choice
        if from_document:
            self.applied = choice
        if rebuild:
            self.panel.show_choice(choice.panel_choice())
        else:
            self.panel.set_roles({c["name"]: c["role"] for c in choice.columns})
        self.panel.show_summary(choice.summary)
        if choice.problem:
            self.panel.show_status(choice.problem, error=True)
        else:
            self.panel.show_status(choice.status())
        self._show_applied()
        self._refresh_apply()
        self.choice_shown.emit(choice)

    def _fail(self, message: str) -> None:
        # the shown choice (and the project's data) stay as they were; put the list back too
        self.panel.show_status(message, error=True)
        if self.choice is not None:
            spec = self.choice.spec
            self.panel.show_builtin(spec.name if spec.source == "builtin" else None)
        self._refresh_apply()
        self.choice_failed.emit(message)

    def _refresh_apply(self) -> None:
        choice, doc = self.choice, self.doc
        differs = (
            doc is not None
            and choice is not None
            and choice.usable
            and (
                choice.prepared.fingerprint != doc.project.data_fingerprint
                or choice.spec.to_dict() != doc.project.data
            )
        )
        self.panel.set_apply_enabled(bool(differs))

    def _show_applied(self) -> None:
        doc, applied = self.doc, self.applied
        if doc is None:
            self.panel.show_applied("")
            return
        self._refresh_datasheet()
        fp = doc.project.data_fingerprint
        if applied is None or applied.prepared is None:
            self.panel.show_applied(f"Project data fingerprint: {fp[:12] or '—'}")
            return
        data = applied.prepared
        columns = sum(1 for c in applied.columns if c.get("role") == "feature") or None
        counts = f"{data.n_rows:,} rows"
        if columns is not None:
            counts += f" · {columns} feature column{'s' if columns != 1 else ''}"
        counts += f" → {int(np.prod(data.input_shape)):,} model inputs"
        self.panel.show_applied(
            f"Project data: {applied.title}\n{counts}\nFingerprint {fp[:16]}…", f"sha256 {fp}"
        )

    # ------------------------------------------------------------------ datasheet
    @property
    def datasheet_busy(self) -> bool:
        """True while the datasheet of the project's data is being computed."""
        return self._sheets_in_flight > 0

    def _forget_datasheet(self) -> None:
        if self._sheet_cancel is not None:
            self._sheet_cancel.set()
        self._sheet_serial += 1  # a result still on its way is stale
        self._sheet_key = None
        self.datasheet = None
        self.panel.show_datasheet(None, "No datasheet yet: it is computed when the data is read.")

    def _refresh_datasheet(self) -> None:
        """Compute the datasheet when the project's data (as last read) is new to it."""
        applied = self.applied
        if self._closed or applied is None or applied.prepared is None:
            return
        key = applied.prepared.fingerprint + json.dumps(
            applied.spec.to_dict(), sort_keys=True, default=str
        )
        if key == self._sheet_key:
            return
        self._forget_datasheet()
        self._sheet_key = key
        cancel = threading.Event()
        self._sheet_cancel = cancel
        serial = self._sheet_serial
        self._sheets_in_flight += 1
        self.panel.show_datasheet(None, f"Computing the datasheet of {applied.title}…")
        # below reads and preparations in priority: what the user just picked comes first
        self._pool.start(lambda: self._run_datasheet(serial, applied, cancel), -1)

    def _run_datasheet(self, serial: int, choice: DataChoice, cancel: threading.Event) -> None:
        # worker thread: no widgets here, only the result goes back by a queued signal
        from engines.data import DataError, DatasheetCancelled
        from workbench.core.datasheet import datasheet_of

        try:
            sheet = datasheet_of(choice.prepared, choice.source, title=choice.title, cancel=cancel.is_set)
            outcome: tuple[str, Any] = ("ok", sheet)
        except DatasheetCancelled:
            outcome = ("cancelled", None)
        except DataError as exc:
            outcome = ("error", f"The datasheet could not be computed: {exc}")
        except Exception as exc:  # scikit-learn or pandas on an odd table: say so, never crash
            outcome = ("error", f"The datasheet could not be computed ({type(exc).__name__}: {exc}).")
        try:
            self._sheet_done.emit(serial, outcome)
        except RuntimeError:
            pass  # the controller was deleted while the job ran; nobody waits for it

    def _on_sheet_done(self, serial: int, outcome: tuple[str, Any]) -> None:
        self._sheets_in_flight -= 1
        if self._closed or serial != self._sheet_serial:
            return  # newer data (or none) since: this datasheet is stale
        status, value = outcome
        if status == "ok":
            self.datasheet = value
            self.panel.show_datasheet(value)
            self.datasheet_ready.emit(value)
        elif status == "error":
            self.panel.show_datasheet(None, str(value), error=True)

    def applied_rows(self) -> int | None:
        """Rows of the project's data as last read, or None before it has been read."""
        if self.applied is None or self.applied.prepared is None:
            return None
        return int(self.applied.prepared.n_rows)

    def applied_task(self) -> str | None:
        """'classification' or 'regression' for the project's data, or None before it is read."""
        if self.applied is None or self.applied.prepared is None:
            return None
        return str(self.applied.prepared.task)


# ================================================================== training settings
class TrainSettingsController(QObject):
    """Turns edits of the training settings form into undoable document steps."""

    def __init__(
        self, panel: TrainSettings, data: DataController | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.data = data
        self.doc: ProjectDocument | None = None
        panel.settings_changed.connect(self._on_settings_changed)
        panel.reset_requested.connect(self.reset_to_template)

    def set_document(self, doc: ProjectDocument | None) -> None:
        """Show ``doc``'s settings and follow its undo and redo."""
        from engines.training import EPOCH_METRICS

        if self.doc is not None:
            try:
                self.doc.config_changed.disconnect(self.refresh)
            except (RuntimeError, TypeError):
                pass
        self.doc = doc
        self.panel.set_metric_choices({k: list(v) for k, v in EPOCH_METRICS.items()})
        self.panel.set_devices(available_devices())
        if doc is not None:
            doc.config_changed.connect(self.refresh)
            self.refresh()

    def refresh(self) -> None:
        """Show the document's settings (all of them, defaults filled in)."""
        from engines.training import ConfigError, TrainConfig

        if self.doc is None:
            return
        raw = dict(self.doc.project.train_config)
        try:
            values = TrainConfig.from_dict(raw).to_dict()
        except ConfigError as exc:
            self.panel.set_values({**TrainConfig().to_dict(), **raw})
            self.panel.refuse(f"The project's training settings are not usable: {exc}")
            return
        self.panel.set_values(values)

    def _on_settings_changed(self, changes: dict[str, Any]) -> None:
        from engines.training import ConfigError

        if self.doc is None:
            return
        try:
            self.doc.set_train_config(changes)
        except ConfigError as exc:
            self.panel.refuse(str(exc), list(changes))

    def reset_to_template(self) -> None:
        """Set every setting to the template's defaults for this data, as one undo step."""
        from engines.templates import TEMPLATES
        from engines.training import ConfigError
        from workbench.core.session import default_train_config

        doc = self.doc
        if doc is None:
            return
        template = str(doc.project.ui.get("template", ""))
        info = TEMPLATES.get(template)
        objective = info.objective if info is not None else str(
            doc.project.train_config.get("objective", "classification")
        )
        task = self.data.applied_task() if self.data is not None else None
        if objective == "classification" and task == "regression":
            objective = "regression"
        rows = (self.data.applied_rows() if self.data is not None else None) or 1000
        try:
            doc.set_train_config(default_train_config(template, objective, rows), replace=True)
        except ConfigError as exc:
            self.panel.refuse(str(exc))
