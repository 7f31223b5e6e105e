"""The Explanations dock: attributions of the active run, per epoch, with their checks.

:class:`ExplainPanel` puts the explanation widgets together (controls, epoch slider, the
image grid or the tabular charts, and the checks) and does the work behind them:

- **Explain** runs :func:`workbench.core.analysis.explain_run` once per ticked method on a
  :class:`~workbench.gui.tasks.TaskRunner` (one task for all methods, progress over all of
  them, cancelled between methods and inside them); a newer request cancels the running
  one. Every method computed becomes an :class:`~workbench.core.project.Analysis` of the run,
  added in one undoable document step, so Save keeps it and reopening shows it again
  without recomputing.
- **Pin** (live explanations during training): :meth:`ExplainPanel.pinned_spec` is the
  plain-data request the window hands the training process with the job, and
  :meth:`ExplainPanel.on_live_analysis` takes each result it sends back at an epoch end.
  While a run trains, its live explanations are kept here and shown as they arrive; when
  it finishes they go into the run before the run is added to the project (so they are
  part of that one undo step).
- **Checks** (infidelity, max-sensitivity, deletion/insertion, model randomisation) run on
  a second task runner, on the maps shown, and are shown beside them one by one.
- **Compare groups** (the "Compare groups" tab) runs
  :func:`workbench.core.analysis.explain_by_group` on the same task runner as Explain (its
  progress and Cancel): every sample of the split, compared across the groups of a sensitive
  column. The result is kept with the run as a ``group_explanation`` analysis (one undo step)
  and shown by :class:`~widgets.explain.groups.GroupComparisonView`; reopening shows the newest
  one again without recomputing.

Errors (a bad sample id, a method the model cannot use) are shown in red in the panel.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from widgets.explain.checks import CHECKS, ExplanationChecks
from widgets.explain.common import MUTED
from widgets.explain.groups import GroupComparisonView
from widgets.explain.panel import (
    EpochSlider,
    ExplainControls,
    ImageAttributionGrid,
    TabularAttributionView,
)
from workbench.core.panel_data import DataCache, snapshot
from workbench.gui.tasks import TaskRunner

__all__ = ["DEFAULT_METHODS", "ExplainPanel", "conv_layers", "data_kind", "sensitive_columns",
           "source_values"]

# ticked when a project is first shown: cheap, and telling for that kind of data
DEFAULT_METHODS = {"image": ("saliency", "ig"), "table": ("shapley",), "sequence": ("ig",)}
SPLITS = ("test", "val", "train", "all")
BACKGROUND_ROWS = 100  # as workbench.core.analysis.explain_run draws them
NO_RUN = "Train a run first: explanations explain what a trained run learned."


# ------------------------------------------------------------------------------ helpers
def data_kind(graph: Any) -> str | None:
    """``table``, ``image`` or ``sequence`` from the input layer's per-sample shape."""
    for node in graph.nodes.values():
        if node.type == "input":
            rank = len(node.params.get("shape") or ())
            return {1: "table", 2: "sequence", 3: "image"}.get(rank)
    return None


def conv_layers(graph: Any, report: Any) -> list[str]:
    """Node ids Grad-CAM can look at: convolutions with a (channels, height, width) output."""
    from engines.catalog import get_layer

    out = []
    for node in graph.nodes.values():
        try:
            category = get_layer(node.type).category
        except Exception:  # an unknown type is reported by the shape check, not here
            continue
        if category == "Convolution" and len(report.node_shapes.get(node.id) or ()) == 3:
            out.append(node.id)
    return out


def source_values(preprocessing: Mapping[str, Any], inputs: Any, names: Sequence[str]) -> list[list[Any]]:
    """The explained rows as the source table had them, one value per name in ``names``.

    Numeric columns are de-standardised back to their own units (``x · std + mean``);
    a categorical column (its one-hot columns grouped back) gives the category's text, and
    an input column that is not a source column (features not grouped) its model input.
    """
    X = np.asarray(inputs, dtype=np.float64)
    by_name: dict[str, list[Any]] = {}
    pos = 0
    for col in preprocessing.get("columns") or []:
        name = str(col["name"])
        if col.get("type") == "numeric":
            by_name[name] = [float(v) for v in X[:, pos] * float(col["std"]) + float(col["mean"])]
            pos += 1
        else:
            cats = [str(c) for c in col.get("categories", [])]
            block = X[:, pos:pos + len(cats)]
            if cats:
                by_name[name] = [cats[int(np.argmax(r))] if r.max() > 0.5 else "(unseen)"
                                 for r in block]
            pos += len(cats)
    columns = list(preprocessing.get("feature_names") or [])
    out = []
    for name in names:
        if name in by_name:
            out.append(by_name[name])
        elif name in columns:
            out.append([float(v) for v in X[:, columns.index(name)]])
        else:
            out.append([None] * len(X))
    return [list(row) for row in zip(*out, strict=True)] if out else [[] for _ in range(len(X))]


@dataclass
class _Explained:
    """What one Explain task returns to the GUI thread."""

    run_id: str
    outcomes: list[Any]  # ExplainOutcome per method, in the order asked
    extras: dict[str, Any] = field(default_factory=dict)  # meta every analysis gets
    feature_values: list[list[Any]] | None = None
    n_rows: int | None = None


def _explain_task(snapshot: Any, spec: Mapping[str, Any], cache: DataCache) -> Callable[..., Any]:
    """The Explain work: every method on the same rows, progress over all of them."""

    def task(progress: Callable[[float], None], cancelled: Callable[[], bool]) -> _Explained:
        from engines.explain import METHODS, Cancelled
        from workbench.core import analysis
        from workbench.core.session import model_for

        data = cache.get(snapshot)
        run = snapshot.runs[0]
        model = model_for(snapshot, run)  # one per task: a stale task may still use its own
        methods = list(spec["methods"])
        samples: list[int] | None = list(spec["ids"]) if spec["how"] == "ids" else None
        outcomes = []
        for k, method in enumerate(methods):
            if cancelled():
                raise Cancelled()
            outcome = analysis.explain_run(
                snapshot, method, samples=samples, pick=spec["how"] if samples is None else "first",
                n=int(spec["n"]), split=spec["split"], run_id=run.id,
                layer=spec.get("layer") if METHODS[method].needs_layer else None,
                seed=int(spec.get("seed", 0)), data=data, model=model,
                progress=lambda f, k=k: progress((k + min(max(f, 0.0), 1.0)) / len(methods)),
                cancel=cancelled,
            )
            samples = list(outcome.row_ids)  # the rows picked first are explained by all
            outcomes.append(outcome)
        extras: dict[str, Any] = {}
        values = None
        if data.kind == "image" and float(data.preprocessing.get("scale") or 0) > 0:
            extras["input_scale"] = float(data.preprocessing["scale"])
        if data.kind == "table" and outcomes:
            names = outcomes[0].result.feature_names or list(data.feature_names)
            values = source_values(data.preprocessing, outcomes[0].inputs, names)
        rows = data.preprocessing.get("rows", {}).get("source")
        return _Explained(run.id, outcomes, extras, values, int(rows) if rows else None)

    return task


def sensitive_columns(project: Any) -> list[str]:
    """The sensitive columns of the project's data, from its data spec (nothing is loaded)."""
    roles = (project.data or {}).get("roles") if project is not None else None
    return [str(c) for c, role in (roles or {}).items() if role == "sensitive"]


@dataclass
class _Compared:
    """What one Compare-groups task returns to the GUI thread."""

    run_id: str
    outcome: Any  # workbench.core.analysis.GroupExplainOutcome


def _compare_task(snapshot: Any, spec: Mapping[str, Any], cache: DataCache) -> Callable[..., Any]:
    """The Compare-groups work: explain every sample of the split, then compare the groups."""

    def task(progress: Callable[[float], None], cancelled: Callable[[], bool]) -> _Compared:
        from workbench.core import analysis
        from workbench.core.session import model_for

        data = cache.get(snapshot)
        run = snapshot.runs[0]
        target = spec.get("target")
        if target == "favourable":  # one output for every sample, so the groups compare like with like
            classifier = snapshot.train_config.get("objective", "classification") == "classification"
            target = analysis.favourable_label(data.class_names) if classifier and data.class_names else None
        outcome = analysis.explain_by_group(
            snapshot, spec["method"], spec["sensitive"], split=spec["split"], run_id=run.id, target=target,
            seed=int(spec.get("seed", 0)), n_boot=int(spec.get("n_boot", 1000)),
            n_perm=int(spec.get("n_perm", 1000)), data=data, model=model_for(snapshot, run),
            progress=progress, cancel=cancelled,
        )
        return _Compared(run.id, outcome)

    return task


def _attribute_options(data: Any, result: Any) -> dict[str, Any]:
    """The options ``explain_run`` gave the explainer for ``result`` (for the checks)."""
    from engines.explain import METHODS, FeatureGroups

    info = METHODS[result.method]
    train = data.splits["train"]
    # Method options are left at their defaults, as the panel and the pinned run explain
    # with them: the result records some resolved (a window as [1, 4]), not as given.
    out: dict[str, Any] = {"seed": int(result.seed)}
    if data.kind == "table":
        out["baseline"] = data.X[train].mean(axis=0).astype(np.float32)
        if "groups" in result.params:
            out["groups"] = FeatureGroups.from_dict(result.params["groups"])
    if result.value_function == "background" or info.needs_background:
        rng = np.random.default_rng(int(result.seed))
        k = min(len(train), BACKGROUND_ROWS)
        out["background"] = data.X[rng.choice(train, size=k, replace=False)]
        if not info.needs_baseline or result.value_function == "background":
            out.pop("baseline", None)
    return out


def _check_task(snapshot: Any, analyses: Sequence[Any], check: str, cache: DataCache,
                task_kind: str) -> Callable[..., Any]:
    """One check on every method shown; returns {method: entry}."""
    items = [(dict(a.meta), np.asarray(a.arrays["attributions"]), np.asarray(a.arrays["inputs"]))
             for a in analyses]

    def task(progress: Callable[[float], None], cancelled: Callable[[], bool]) -> dict[str, Any]:
        from engines import explain as ex
        from workbench.core.session import model_for

        data = cache.get(snapshot)
        model = model_for(snapshot, snapshot.runs[0])
        out: dict[str, Any] = {}
        for k, (meta, attributions, inputs) in enumerate(items):
            if cancelled():
                raise ex.Cancelled()
            result = ex.AttributionResult.from_dict({**meta, "attributions": attributions})
            opts = _attribute_options(data, result)
            baseline = opts.get("baseline")
            targets = [int(t) for t in result.targets]
            if check == "infidelity":
                params = {"n_perturb": 50, "perturbation": "auto", "seed": 0}
                values = ex.infidelity(model, inputs, result, baseline=baseline, **params)
                entry: dict[str, Any] = {"values": values, "params": params}
            elif check == "sensitivity":
                params = {"radius": 0.02, "n_perturb": 10, "seed": int(result.seed)}
                explainer = ex.make_explainer(result.method, model, layer=result.layer)
                kwargs = {k: v for k, v in opts.items() if k != "seed"}
                values = ex.sensitivity_max(explainer, inputs, target=targets, **params, **kwargs)
                entry = {"values": values, "params": params}
            elif check == "deletion":
                params = {"steps": 20}
                found = ex.deletion_insertion(model, inputs, result, baseline=baseline,
                                              task=task_kind, **params)
                entry = {**found, "params": {**params, "baseline": result.baseline}}
            else:
                kwargs = {k: v for k, v in opts.items() if k != "seed"}
                layers = ex.randomisation_check(model, inputs, result.method, target=targets,
                                                layer=result.layer, seed=result.seed, **kwargs)
                entry = {"layers": layers, "params": {"absolute": True, "order": "output first"}}
            out[result.method] = entry
            progress((k + 1) / len(items))
        return out

    return task


def _slot_of(analysis: Any, final: int) -> int:
    return final if analysis.epoch is None else int(analysis.epoch)


def _batch_of(analysis: Any) -> str:
    return str(analysis.meta.get("batch") or analysis.id)


# -------------------------------------------------------------------------------- panel
class ExplainPanel(QWidget):
    """The Explanations dock's content and the controller behind it.

    Parameters
    ----------
    worker
        The window's training worker: a run that starts training opens a live session
        (when something is pinned), its end hands the live explanations to the new run.
    """

    def __init__(self, parent: QWidget | None = None, *, worker: QObject | None = None) -> None:
        super().__init__(parent)
        self.controls = ExplainControls()
        self.controls.set_splits(list(SPLITS), current="test")
        self.slider = EpochSlider()
        self.slot_label = QLabel()
        self.slot_label.setStyleSheet(f"color: {MUTED};")
        self.method_combo = QComboBox()
        self.method_combo.setToolTip("The method the charts show")
        self.method_label = QLabel("Method")
        self.grid = ImageAttributionGrid()
        self.table = TabularAttributionView()
        self.groups = GroupComparisonView()
        self.checks = ExplanationChecks()
        # one Export and one Checks menu for the dock, in its toolbar
        self.export_button = self._export_menu()
        self.checks_button = QToolButton()
        self.checks_button.setText("Checks")
        self.checks_button.setToolTip("Test the maps shown; each check is shown on its own, "
                                      "beside the maps")
        self.checks_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.checks_button.setMenu(self.checks.check_button.menu())
        for hidden in (self.grid.export_button, self.table.export_button,
                       self.checks.export_button, self.checks.check_button):
            hidden.hide()
        self.empty = QLabel("Explanations of the active run appear here.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet(f"color: {MUTED};")
        self.stack = QStackedWidget()
        for w in (self.empty, self.grid, self.table):
            self.stack.addWidget(w)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.slot_label)
        bar.addSpacing(8)
        bar.addWidget(self.method_label)
        bar.addWidget(self.method_combo)
        bar.addWidget(self.checks_button)
        bar.addWidget(self.export_button)
        middle = QWidget()
        v = QVBoxLayout(middle)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(2)
        v.addLayout(bar)
        v.addWidget(self.stack, 1)
        # the controls scroll their own choices and keep Explain in view
        self.controls.setMinimumWidth(self.controls.minimumSizeHint().width() + 16)
        # the checks sit to the right of the maps when there is room, else below them; they
        # stay folded away until a check is asked for
        self.beside = QSplitter(Qt.Orientation.Horizontal)
        # per-sample explanations, or the groups of a sensitive column compared
        self.views = QTabWidget()
        self.views.setDocumentMode(True)
        self.views.addTab(middle, "Samples")
        self.views.addTab(self.groups, "Compare groups")
        self.beside.addWidget(self.views)
        self.beside.addWidget(self.checks)
        self.beside.setCollapsible(0, False)
        self.beside.setStretchFactor(0, 1)
        self.beside.setSizes([900, 0])
        # folded away, the checks are hidden: their minimum size must not widen the panel
        self.checks.hide()
        self.beside.splitterMoved.connect(self._on_beside_moved)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.controls)
        self.splitter.addWidget(self.beside)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(0, False)
        self.splitter.setCollapsible(1, False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.splitter)

        self.runner = TaskRunner(self)  # Explain: one task at a time, the newest wins
        self.check_runner = TaskRunner(self)  # checks, on their own so they never cancel maps
        self.doc: Any = None
        self.kind: str | None = None
        self._data = DataCache()
        self._check: str | None = None
        self._check_batch: str | None = None
        self._live: list[Any] | None = None  # a pinned run's explanations while it trains
        self._live_session = ""
        self._shown: list[Any] = []  # the analyses on screen (one batch)
        self._shown_slot: int | None = None
        self._check_results: dict[str, dict[str, dict[str, Any]]] = {}
        self._refreshing = False
        self._want_final = False  # after an Explain: jump to what was just computed
        self._comparing = False  # a Compare-groups task is in flight

        self.controls.explain_requested.connect(self.explain)
        self.controls.cancel_requested.connect(self.runner.cancel)
        self.controls.pin_box.toggled.connect(self._on_pin_toggled)
        self.slider.epoch_changed.connect(self._on_epoch_changed)
        self.method_combo.currentIndexChanged.connect(lambda _i: self._show_table())
        self.runner.progressed.connect(self.controls.set_progress)
        self.runner.finished.connect(self._on_explained)
        self.runner.failed.connect(self._on_explain_failed)
        self.runner.cancelled.connect(self._on_explain_cancelled)
        self.groups.compare_requested.connect(self.compare_groups)
        self.runner.started.connect(self._on_runner_started)
        self.runner.failed.connect(lambda message, _d="": self._on_compare_stopped(message, True))
        self.runner.cancelled.connect(lambda: self._on_compare_stopped("Cancelled.", False))
        self.checks.check_requested.connect(self.run_check)
        self.checks.cancel_requested.connect(self.check_runner.cancel)
        self.check_runner.finished.connect(self._on_checked)
        self.check_runner.failed.connect(self._on_check_failed)
        self.check_runner.cancelled.connect(lambda: self._on_check_failed("Cancelled.", "", False))
        if worker is not None:
            worker.started.connect(self._on_training_started)  # type: ignore[attr-defined]
            worker.finished.connect(self._on_training_finished)  # type: ignore[attr-defined]
            worker.failed.connect(self._on_training_failed)  # type: ignore[attr-defined]
            live = getattr(worker, "analysis_arrived", None)  # (kind, epoch, payload)
            if live is not None:
                live.connect(self.on_live_analysis)
        self._show_nothing()

    # ------------------------------------------------------------------ document
    def set_document(self, doc: Any) -> None:
        """Show ``doc``'s active run and follow its runs, analyses, graph and data."""
        self.runner.cancel()
        self.check_runner.cancel()
        if self.doc is not None:
            for signal, slot in self._doc_signals(self.doc):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self.doc = doc
        self._live = None
        self._check_results.clear()
        self.controls.set_row_count(None)
        self.controls.set_message("")
        if doc is not None:
            for signal, slot in self._doc_signals(doc):
                signal.connect(slot)
        self._fit_to_model(first=True)
        self.refresh()

    def _doc_signals(self, doc: Any) -> list[tuple[Any, Any]]:
        return [(doc.runs_changed, self.refresh), (doc.analyses_changed, self.refresh),
                (doc.graph_changed, self._fit_to_model), (doc.data_changed, self._fit_to_model)]

    @property
    def project(self) -> Any:
        return self.doc.project if self.doc is not None else None

    def _fit_to_model(self, first: bool = False) -> None:
        """Methods for this kind of data, and the convolution layers Grad-CAM may use."""
        from engines.explain import METHODS

        project = self.project
        kind = data_kind(project.graph) if project is not None else None
        if kind != self.kind or first:
            self.kind = kind
            methods = [
                {"id": m.id, "title": m.title, "needs_layer": m.needs_layer, "help": m.help}
                for m in METHODS.values() if kind is None or kind in m.kinds
            ]
            self.controls.set_methods(methods, checked=DEFAULT_METHODS.get(kind or "", ()))
            self.groups.set_methods([m for m in methods if not m["needs_layer"]],
                                    current=(DEFAULT_METHODS.get(kind or "") or ("",))[0])
        self.groups.set_columns(sensitive_columns(project))
        layers: list[str] = []
        if project is not None and kind == "image":
            layers = conv_layers(project.graph, self.doc.report())
        self.controls.set_layers(layers)

    def _run(self) -> Any:
        project = self.project
        return project.active() if project is not None else None

    # ------------------------------------------------------------------ explain
    @Slot(dict)
    def explain(self, choices: Mapping[str, Any]) -> None:
        """Explain the chosen samples with every chosen method (cancels a running request).

        ``choices`` as ``ExplainControls.explain_requested`` emits them: ``methods``, ``how``,
        ``n``, ``ids``, ``split``, ``layer``, ``pin``; optionally ``seed``.
        """
        from engines.explain import METHODS

        run = self._run()
        methods = [str(m) for m in choices.get("methods") or []]
        problem = ""
        if run is None:
            problem = NO_RUN
        elif not methods:
            problem = "Tick at least one method."
        elif any(m not in METHODS for m in methods):
            problem = f"Unknown method {next(m for m in methods if m not in METHODS)!r}."
        elif any(METHODS[m].needs_layer for m in methods) and not choices.get("layer"):
            problem = "Grad-CAM needs a layer: choose a convolution layer to look at."
        elif choices.get("how") == "ids" and not choices.get("ids"):
            problem = "Enter the row ids to explain, e.g. 0-9, 15."
        if problem:
            self.runner.cancel()
            self.controls.set_busy(False)
            self.controls.set_message(problem, error=True)
            return
        spec = {
            "methods": methods,
            "how": str(choices.get("how") or "first"),
            "n": int(choices.get("n") or 1),
            "ids": [int(i) for i in choices.get("ids") or []],
            "split": str(choices.get("split") or "test"),
            "layer": choices.get("layer"),
            "seed": int(choices.get("seed") or 0),
            "pin": bool(choices.get("pin")),
        }
        self.controls.set_busy(True)
        self.controls.set_message(
            f"Explaining with {', '.join(METHODS[m].title for m in methods)}…", error=False
        )
        self.runner.start(_explain_task(snapshot(self.project, [run], history=False), spec, self._data))

    @Slot(object)
    def _on_explained(self, done: _Explained) -> None:
        from workbench.core.analysis import explanation_analysis

        if isinstance(done, _Compared):
            self._on_compared(done)
            return
        self.controls.set_busy(False)
        self.controls.set_progress(1.0)
        if done.n_rows:
            self.controls.set_row_count(done.n_rows)
        project = self.project
        if project is None or all(r.id != done.run_id for r in project.runs):
            self.controls.set_message("The run was removed while it was being explained; "
                                      "nothing was kept.", error=True)
            return
        batch = secrets.token_hex(4)
        analyses = []
        for outcome in done.outcomes:
            a = explanation_analysis(outcome, epoch=None)
            a.meta.update(done.extras, batch=batch)
            if done.feature_values is not None:
                a.meta["feature_values"] = done.feature_values
            analyses.append(a)
        n = len(done.outcomes[0].row_ids) if done.outcomes else 0
        titles = ", ".join(o.result.title for o in done.outcomes)
        self.controls.set_message(
            f"{titles} on {n} sample(s) of the {done.outcomes[0].split} split." if n else "",
            error=False,
        )
        self._want_final = True  # show what was just computed, wherever the slider was
        self.doc.add_analyses(done.run_id, analyses, text=f"Explain {n} sample(s): {titles}")
        if self._run() is None or self._run().id != done.run_id:
            self.controls.set_message(
                f"The explanations were kept with run {project.run(done.run_id).name!r}, "
                "which is not the active run.", error=False)

    @Slot(str, str)
    def _on_explain_failed(self, message: str, _details: str) -> None:
        self.controls.set_busy(False)
        self.controls.set_message(message, error=True)

    @Slot()
    def _on_explain_cancelled(self) -> None:
        self.controls.set_busy(False)
        self.controls.set_message("Cancelled.", error=False)

    # ------------------------------------------------------------------ pinning
    def pinned_spec(self) -> dict[str, Any] | None:
        """What to recompute at each epoch end while the next run trains, or None.

        Plain data for the training process: ``kind`` ("explanation"), ``methods`` (ids),
        ``row_ids`` (source row ids), ``split``, ``layer`` (Grad-CAM's, else None), ``seed``.
        The rows are the ids typed in, else the rows of the explanations shown.
        """
        if not self.controls.pin_box.isChecked():
            return None
        methods = self.controls.checked_methods()
        choices = self.controls.choices()
        if not methods or choices is None:
            return None
        if choices["how"] == "ids":
            rows = list(choices["ids"])
            split = choices["split"]
        elif self._shown:
            rows = [int(r) for r in self._shown[0].meta.get("row_ids", [])]
            split = str(self._shown[0].meta.get("split") or choices["split"])
        else:
            return None
        if not rows:
            return None
        return {"kind": "explanation", "methods": methods, "row_ids": rows, "split": split,
                "layer": choices["layer"], "seed": 0}

    def _on_pin_toggled(self, on: bool) -> None:
        if on and self.pinned_spec() is None:
            self.controls.set_message(
                "Type row ids, or press Explain once: the samples shown are the ones pinned.",
                error=False)
        elif on:
            spec = self.pinned_spec() or {}
            self.controls.set_message(
                f"{len(spec.get('row_ids', []))} sample(s) will be explained again at each "
                "epoch end of the next run.", error=False)

    @Slot(str, int, dict)
    def on_live_analysis(self, kind: str, epoch: int, payload: Mapping[str, Any]) -> None:
        """One pinned explanation computed at an epoch end: kept with that epoch and shown.

        ``payload``: ``method``, ``result`` (``AttributionResult.to_dict()``), ``row_ids``,
        ``inputs`` (the explained model inputs, or None), optionally ``split``, ``labels``
        and ``target_names``; or ``method`` and ``error`` (one sentence) when it failed.
        While a run trains it is kept for that run; otherwise it goes to the active run as
        an undoable step.
        """
        if kind != "explanation":
            return
        if payload.get("error"):
            self.controls.set_message(
                f"{payload.get('method', 'The explanation')} at epoch {epoch} failed: "
                f"{payload['error']}", error=True)
            return
        try:
            analysis = self._live_analysis(int(epoch), payload)
        except (KeyError, TypeError, ValueError) as exc:
            self.controls.set_message(f"A live explanation could not be read: {exc}", error=True)
            return
        if self._live is not None:
            self._live.append(analysis)
            self.refresh()
            return
        run = self._run()
        if run is None:
            self.controls.set_message(NO_RUN, error=True)
            return
        self.doc.add_analyses(run.id, [analysis],
                              text=f"Explanation at epoch {epoch}: {analysis.meta.get('title')}")

    def _live_analysis(self, epoch: int, payload: Mapping[str, Any]) -> Any:
        from engines.explain import AttributionResult
        from workbench.core.project import Analysis

        result = dict(payload["result"])
        checked = AttributionResult.from_dict(result)  # ExplainError (a ValueError) if not one
        rows = [int(r) for r in payload["row_ids"]]
        if len(rows) != checked.n_samples:
            raise ValueError(f"{len(rows)} row ids for {checked.n_samples} explained samples")
        meta = {k: v for k, v in result.items() if k != "attributions"}
        meta.update(row_ids=rows, split=str(payload.get("split") or "test"),
                    labels=list(payload.get("labels") or []),
                    target_names=list(payload.get("target_names") or []),
                    batch=f"live-{self._live_session or 'run'}-{epoch}")
        arrays = {"attributions": np.asarray(checked.attributions, dtype=np.float64)}
        inputs = payload.get("inputs")
        if inputs is not None:
            arrays["inputs"] = np.asarray(inputs, dtype=np.float32)
        else:
            earlier = self._inputs_for(rows)
            if earlier is not None:
                arrays["inputs"] = earlier
        data = self._data.peek(self.project) if self.project is not None else None
        if data is not None:
            self._describe_rows(meta, data, arrays.get("inputs"), checked)
        return Analysis(id=Analysis.new_id(), kind="explanation", meta=meta, arrays=arrays,
                        epoch=epoch)

    def _inputs_for(self, rows: list[int]) -> np.ndarray | None:
        """The inputs of an explanation of the same rows kept earlier, if any."""
        pools = [self._live or []]
        run = self._run()
        if run is not None:
            pools.append(run.analyses)
        for a in itertools.chain(*pools):
            if a.kind == "explanation" and a.meta.get("row_ids") == rows and "inputs" in a.arrays:
                return np.asarray(a.arrays["inputs"])
        return None

    @staticmethod
    def _describe_rows(meta: dict[str, Any], data: Any, inputs: Any, result: Any) -> None:
        """Labels and source values of live rows, from the prepared data when it is at hand."""
        where = {int(r): p for p, r in enumerate(data.row_ids)}
        pos = [where.get(r) for r in meta["row_ids"]]
        if None in pos:
            return
        names = [str(c) for c in data.class_names or []]
        if names and not meta["labels"]:
            meta["labels"] = [names[int(data.y[p])] for p in pos]
        if names and not meta["target_names"]:
            meta["target_names"] = [names[t] if t is not None and 0 <= t < len(names) else ""
                                    for t in result.targets]
        if data.kind == "table":
            x = np.asarray(inputs) if inputs is not None else data.X[pos]
            meta["feature_values"] = source_values(
                data.preprocessing, x, result.feature_names or list(data.feature_names))
        elif data.kind == "image" and float(data.preprocessing.get("scale") or 0) > 0:
            meta["input_scale"] = float(data.preprocessing["scale"])

    def _on_training_started(self, _info: Any = None) -> None:
        if self.pinned_spec() is not None:
            self._live = []
            self._live_session = secrets.token_hex(3)

    def _on_training_finished(self, outcome: Any) -> None:
        # Connected before the window adds the run: the live explanations go into the run
        # itself, so adding the run (one undo step) adds them too. Should the run already
        # be in the project, they are appended to the same object.
        live, self._live = self._live, None
        run = getattr(outcome, "run", None)
        if live and run is not None:
            for a in live:
                run.add_analysis(a)
        self.refresh()

    def _on_training_failed(self, *_args: Any) -> None:
        if self._live:
            self.controls.set_message("Training failed: its live explanations were not kept.",
                                      error=True)
        self._live = None
        self.refresh()

    # ------------------------------------------------------------------ showing
    def _analyses(self) -> tuple[list[Any], int]:
        """The explanations to show (the live session's, else the active run's) and the slot
        of those computed after training (the run's last epoch)."""
        if self._live:
            items = list(self._live)
            final = max(int(a.epoch) for a in items)
            return items, final
        run = self._run()
        if run is None:
            return [], 0
        items = [a for a in run.analyses if a.kind == "explanation"]
        history = (run.history or {}).get("epoch") or {}
        final = len(history.get("train_loss") or [])
        final = max([final] + [int(a.epoch) for a in items if a.epoch is not None])
        return items, final

    def epochs(self) -> list[int]:
        """The slider's epochs (the after-training explanations sit on the run's last one)."""
        items, final = self._analyses()
        return sorted({_slot_of(a, final) for a in items})

    def shown_analyses(self) -> list[Any]:
        """The analyses on screen now (one Explain request or one epoch of a live run)."""
        return list(self._shown)

    @Slot()
    def refresh(self) -> None:
        """Follow the document: show the newest explanations of the epoch on the slider."""
        items, final = self._analyses()
        slots = sorted({_slot_of(a, final) for a in items})
        self._refreshing = True
        try:
            self.slider.set_epochs(slots)
            if self._want_final and slots:
                self.slider.set_epoch(final)
        finally:
            self._refreshing = False
            self._want_final = False
        self._show_slot(self.slider.epoch())
        self._show_comparison()

    def _on_epoch_changed(self, epoch: int) -> None:
        if not self._refreshing:
            self._show_slot(epoch)

    def _show_slot(self, slot: int | None) -> None:
        items, final = self._analyses()
        here = [a for a in items if slot is not None and _slot_of(a, final) == slot]
        if not here:
            self._show_nothing()
            return
        batch = _batch_of(here[-1])
        self._shown = [a for a in here if _batch_of(a) == batch]
        self._shown_slot = slot
        live = bool(self._live)
        after = not live and any(a.epoch is None for a in self._shown)
        self.slot_label.setText("after training" if after else
                                ("live · " if live else "") + f"after epoch {slot}")
        first = self._shown[0]
        attr = np.asarray(first.arrays["attributions"])
        if attr.ndim == 2:
            self._show_table_batch()
        else:
            self._show_grid()
        self._show_checks()

    def _show_nothing(self) -> None:
        self._shown, self._shown_slot = [], None
        self.stack.setCurrentWidget(self.empty)
        self.empty.setText(NO_RUN if self.project is not None and self._run() is None
                           else "No explanations of the active run yet: pick methods and "
                                "samples, then press Explain.")
        self.slot_label.setText("")
        self.method_label.hide()
        self.method_combo.hide()
        self.export_button.setEnabled(False)
        self._show_checks()

    @staticmethod
    def _result(a: Any) -> dict[str, Any]:
        return {**a.meta, "attributions": np.asarray(a.arrays["attributions"])}

    @staticmethod
    def _samples(a: Any) -> list[dict[str, Any]]:
        rows = a.meta.get("row_ids") or []
        labels = a.meta.get("labels") or []
        targets = a.meta.get("target_names") or []
        out = []
        for i, r in enumerate(rows):
            label = labels[i] if i < len(labels) and labels[i] else None
            predicted = targets[i] if i < len(targets) and label is not None else None
            out.append({"id": int(r), "label": label, "predicted": predicted})
        return out

    def _show_grid(self) -> None:
        first = self._shown[0]
        inputs = first.arrays.get("inputs")
        attr = np.asarray(first.arrays["attributions"])
        if inputs is None:  # a live map without its inputs: over a blank image
            inputs = np.zeros(attr.shape if attr.ndim == 4 else (attr.shape[0], 1, *attr.shape[1:]))
        images = np.asarray(inputs, dtype=np.float64)
        scale = float(first.meta.get("input_scale") or 0)
        if scale > 0:  # back to the source's pixel values (images are only scaled)
            images = images / scale
        self.grid.set_attributions(images, [self._result(a) for a in self._shown],
                                   self._samples(first))
        self.stack.setCurrentWidget(self.grid)
        self.method_label.hide()
        self.method_combo.hide()
        self.export_button.setEnabled(True)

    def _show_table_batch(self) -> None:
        current = self.method_combo.currentData()
        self.method_combo.blockSignals(True)
        self.method_combo.clear()
        for a in self._shown:
            self.method_combo.addItem(str(a.meta.get("title") or a.meta.get("method")),
                                      a.meta.get("method"))
        index = self.method_combo.findData(current)
        self.method_combo.setCurrentIndex(max(index, 0))
        self.method_combo.blockSignals(False)
        many = len(self._shown) > 1
        self.method_label.setVisible(many)
        self.method_combo.setVisible(many)
        self._show_table()

    def _show_table(self) -> None:
        if not self._shown or np.asarray(self._shown[0].arrays["attributions"]).ndim != 2:
            return
        a = self._shown[min(max(self.method_combo.currentIndex(), 0), len(self._shown) - 1)]
        self.table.set_result(self._result(a), feature_values=a.meta.get("feature_values"),
                              samples=self._samples(a))
        self.stack.setCurrentWidget(self.table)
        self.export_button.setEnabled(True)

    # ------------------------------------------------------------------ compare groups
    @Slot(dict)
    def compare_groups(self, request: Mapping[str, Any]) -> None:
        """Compare the groups of ``request["sensitive"]`` with ``request["method"]`` on the split
        chosen in the controls (cancels a running Explain or comparison); optionally ``split``,
        ``seed``, ``n_boot``, ``n_perm`` and ``target`` (an output index, None for each sample's
        predicted class; default "favourable": a classifier's favourable class, as the fairness
        audit picks it, for every sample)."""
        from engines.explain import METHODS

        run = self._run()
        method, column = str(request.get("method") or ""), str(request.get("sensitive") or "")
        problem = ""
        if run is None:
            problem = NO_RUN
        elif method not in METHODS:
            problem = f"Unknown method {method!r}."
        elif column not in sensitive_columns(self.project):
            problem = f"{column!r} is not a sensitive column of this project's data."
        if problem:
            self.groups.set_message(problem, error=True)
            return
        spec = {"method": method, "sensitive": column,
                "split": str(request.get("split") or self.controls.split_combo.currentText() or "test"),
                "target": request.get("target", "favourable"),
                "seed": int(request.get("seed") or 0), "n_boot": int(request.get("n_boot", 1000)),
                "n_perm": int(request.get("n_perm", 1000))}
        self.controls.set_busy(True)
        text = (f"Comparing the groups of {column!r} with {METHODS[method].title} on every sample of "
                f"the {spec['split']} split…")
        self.controls.set_message(text, error=False)
        self.runner.start(_compare_task(snapshot(self.project, [run], history=False), spec, self._data))
        self._comparing = True
        self.groups.set_message(text + " (progress and Cancel on the left)")

    def _on_compared(self, done: _Compared) -> None:
        from workbench.core.analysis import group_explanation_analysis

        self._comparing = False
        self.controls.set_busy(False)
        self.controls.set_progress(1.0)
        project = self.project
        if project is None or all(r.id != done.run_id for r in project.runs):
            self.groups.set_message("The run was removed while its groups were being compared; "
                                    "nothing was kept.", error=True)
            return
        o = done.outcome
        analysis = group_explanation_analysis(o)
        title = o.explanation.result.title
        self.controls.set_message(f"{title} compared across the groups of {o.sensitive!r}.", error=False)
        self.groups.set_message("")
        self.doc.add_analyses(done.run_id, [analysis],
                              text=f"Compare groups of {o.sensitive}: {title}")
        self.views.setCurrentWidget(self.groups)

    def _on_runner_started(self) -> None:
        if self._comparing:  # a newer Explain or comparison replaced it
            self._comparing = False
            self.groups.set_message("The comparison was replaced by a newer request; nothing was kept.")

    def _on_compare_stopped(self, message: str, error: bool) -> None:
        if self._comparing:
            self._comparing = False
            self.groups.set_message(message, error=error)

    def comparisons(self) -> list[Any]:
        """The active run's kept group comparisons, oldest first."""
        run = self._run()
        return [a for a in run.analyses if a.kind == "group_explanation"] if run is not None else []

    def _show_comparison(self) -> None:
        """Show the active run's newest group comparison (as kept: nothing is recomputed)."""
        kept = self.comparisons()
        if not kept:
            self.groups.set_comparison(None)
            return
        a = kept[-1]
        meta = a.meta
        self.groups.set_comparison({**dict(meta.get("comparison") or {}), **a.arrays},
                                   {k: meta.get(k) for k in ("title", "sensitive", "split", "baseline",
                                                             "explained_outputs")})

    # ------------------------------------------------------------------ checks
    def _checkable(self) -> str:
        """Why the maps shown cannot be checked ("" when they can)."""
        if not self._shown:
            return "Explain some samples first: the checks test the maps shown."
        if self._live:
            return "Checks run once training has finished."
        _items, final = self._analyses()
        if self._shown_slot != final:
            return ("Checks need the model as it was at that epoch, which is not kept: "
                    "move the slider to the end.")
        if any("inputs" not in a.arrays for a in self._shown):
            return "These explanations were kept without their inputs, so they cannot be checked."
        return ""

    def _show_checks(self) -> None:
        why = self._checkable()
        self.checks.set_available(not why, why)
        self.checks_button.setToolTip(why or "Test the maps shown; each check is shown on its "
                                             "own, beside the maps")
        if not self._shown:
            self.checks.set_results([])
            return
        batch = _batch_of(self._shown[0])
        found = self._check_results.get(batch, {})
        results = []
        for a in self._shown:
            method = str(a.meta.get("method"))
            results.append({"method": method, "title": a.meta.get("title") or method,
                            **found.get(method, {})})
        rows = self._shown[0].meta.get("row_ids") or []
        split = self._shown[0].meta.get("split") or ""
        self.checks.set_results(results if found else [],
                                f"{self.slot_label.text()} · {len(rows)} sample(s) of the "
                                f"{split} split")

    @Slot(str)
    def run_check(self, check: str) -> None:
        """Run one check (an id of ``widgets.explain.checks.CHECKS``) on the maps shown."""
        if check not in {c[0] for c in CHECKS}:
            self.checks.set_message(f"Unknown check {check!r}.", error=True)
            return
        why = self._checkable()
        if why:
            self._open_checks()
            self.checks.set_message(why, error=True)
            return
        run = self._run()
        self._check = check
        self._check_batch = _batch_of(self._shown[0])
        title = dict((c[0], c[1]) for c in CHECKS)[check]
        self._open_checks()
        self.checks.set_busy(True, f"{title}…")
        self.checks.set_message("")
        task_kind = str(self.project.train_config.get("objective", "classification"))
        self.check_runner.start(_check_task(snapshot(self.project, [run], history=False), list(self._shown),
                                            check, self._data, task_kind))

    @Slot(object)
    def _on_checked(self, found: dict[str, Any]) -> None:
        self.checks.set_busy(False, "")
        if self._check is None or self._check_batch is None:
            return
        store = self._check_results.setdefault(self._check_batch, {})
        for method, entry in found.items():
            key = "deletion" if self._check == "deletion" else self._check
            store.setdefault(method, {})[key] = entry
        self._show_checks()

    def _on_check_failed(self, message: str, _details: str = "", error: bool = True) -> None:
        self.checks.set_busy(False, "")
        self.checks.set_message(message, error=error)

    WIDE = 1000  # px: from this width on the checks go to the right of the maps

    def _arrange_checks(self) -> None:
        wide = self.beside.width() >= self.WIDE
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if orientation != self.beside.orientation():
            open_ = not self.checks.isHidden() and self.beside.sizes()[1] > 0
            self.beside.setOrientation(orientation)
            self.checks.set_orientation(Qt.Orientation.Vertical if wide
                                        else Qt.Orientation.Horizontal)
            self.beside.setSizes([1, 0])
            if open_:
                self._open_checks()

    def _open_checks(self) -> None:
        """Show the checks beside the maps (they start folded away)."""
        self._arrange_checks()
        self.checks.show()
        if self.beside.sizes()[1] >= 150:
            return
        total = sum(self.beside.sizes())
        if self.beside.orientation() == Qt.Orientation.Horizontal:
            give = min(420, max(total - 200, total // 2))
        else:  # below the maps in a short dock: the maps keep two thirds
            give = min(240, max(total // 3, 120))
        self.beside.setSizes([total - give, give])

    def _on_beside_moved(self, _pos: int, _index: int) -> None:
        if self.beside.sizes()[1] == 0:  # dragged shut: folded away again
            self.checks.hide()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._arrange_checks()

    # ------------------------------------------------------------------ export
    def _export_menu(self) -> QToolButton:
        button = QToolButton()
        button.setText("Export")
        button.setToolTip("Save the maps or charts shown (PNG, SVG), their values (CSV), "
                          "or the checks")
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(button)
        entries = (
            ("Maps or chart as image (PNG)…", "png", self.export_png),
            ("Maps or chart as vector image (SVG)…", "svg", self.export_svg),
            ("Values (CSV)…", "csv", self.export_csv),
            None,
            ("Checks as image (PNG)…", "png", self.checks.export_png),
            ("Checks as vector image (SVG)…", "svg", self.checks.export_svg),
            ("Check values (CSV)…", "csv", self.checks.export_csv),
        )
        for entry in entries:
            if entry is None:
                menu.addSeparator()
                continue
            text, suffix, save = entry
            action = menu.addAction(text)
            action.triggered.connect(lambda _=False, s=suffix, f=save: self._ask_and_export(s, f))
        button.setMenu(menu)
        return button

    def _ask_and_export(self, suffix: str, save: Callable[[str], None]) -> None:
        names = {"png": "PNG image (*.png)", "svg": "SVG image (*.svg)", "csv": "CSV table (*.csv)"}
        path, _ = QFileDialog.getSaveFileName(self, "Export", f"explanations.{suffix}",
                                              names[suffix])
        if not path:
            return
        if not path.lower().endswith(f".{suffix}"):
            path += f".{suffix}"
        try:
            save(path)
        except OSError as exc:
            self.controls.set_message(str(exc), error=True)

    def _view(self) -> Any:
        current = self.stack.currentWidget()
        return current if current in (self.grid, self.table) else None

    def export_png(self, path: str) -> None:
        """Save the maps or the chart shown as PNG."""
        view = self._view()
        if view is None:
            raise OSError("There is nothing to export yet.")
        view.export_png(path)

    def export_svg(self, path: str) -> None:
        view = self._view()
        if view is None:
            raise OSError("There is nothing to export yet.")
        view.export_svg(path)

    def export_csv(self, path: str) -> None:
        view = self._view()
        if view is None:
            raise OSError("There is nothing to export yet.")
        view.export_csv(path)

    # ------------------------------------------------------------------ closing
    def shutdown(self) -> None:
        """Cancel and wait for the explanation and check tasks (the window is closing)."""
        self.runner.shutdown()
        self.check_runner.shutdown()
