"""The Fairness dock: group metrics of the active run, live curves, thresholds, runs compared.

:class:`FairnessDock` puts :class:`widgets.fairness.panel.FairnessPanel` in the window and does the
work behind it:

- **Audit** runs :func:`workbench.core.analysis.audit_run` on a :class:`~workbench.gui.tasks.TaskRunner`
  (a newer request cancels a stale one), then a threshold sweep of the same split's scores
  for the threshold explorer. The audit (with its sweep) becomes an
  :class:`~workbench.core.project.Analysis` of kind ``"fairness"`` of the run, added as one
  undoable document step, so Save keeps it and reopening shows it without recomputing.
- **Mitigation** (reweighing, fairness penalty, threshold optimizer) runs
  :func:`workbench.core.analysis.mitigate_run` on the same runner with progress and Cancel, audits
  the new run with the same settings (and the base run too when it has no such audit yet),
  then adds the run to the project in one undoable step. The runs-compared scatter shows
  every run with an audit: accuracy against the demographic-parity difference, with intervals.
- **Live tracking**: :meth:`FairnessDock.live_spec` is the plain-data request the window hands
  the training process with the job; :meth:`FairnessDock.on_live_analysis` takes each epoch's
  point metrics it sends back. Each epoch is kept as its own fairness Analysis of the run
  (``epoch`` set, ``meta["live"]`` true); while a run trains they are buffered here and go
  into the run before the window adds it, so they are part of that one undo step.

Errors (no sensitive column, a run that cannot be read, a failed mitigation) are shown in red
in the panel; nothing here opens a dialog.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from widgets.fairness.panel import FairnessPanel
from workbench.core.panel_data import DataCache, snapshot
from workbench.gui.tasks import TaskRunner

__all__ = ["SPLITS", "FairnessDock", "audit_key", "run_points"]

SPLITS = ("test", "val", "train", "all")
LIVE_SPLIT = "val"  # live metrics are computed where the trainer validates
NO_RUN = "Train a run first: a fairness audit checks the decisions of a trained run."
NO_SENSITIVE = (
    "This project's data has no sensitive columns: mark one (e.g. sex) as "
    "sensitive when choosing the data, then audit."
)
PROGRESS_EVERY_S = 0.1  # a mitigation's progress is reported at most this often
_MUTED = "color: #607d8b;"
_KIND_NAMES = {
    "reweighing": "reweighing",
    "penalty": "fairness penalty",
    "threshold": "threshold optimizer",
}


class _Cancelled(Exception):
    """The task was cancelled; its result is dropped by the runner anyway."""


# ------------------------------------------------------------------------------ helpers
@dataclass
class _Facts:
    """What the controls offer for the project's data."""

    sensitive: list[str]
    class_names: list[str]
    favourable: str | None  # the default favourable class name
    problem: str = ""  # why nothing can be audited ("" when something can)
    meanings: dict[str, str] = field(default_factory=dict)  # "1" -> "good credit risk"


def audit_key(analysis: Any) -> tuple[str, ...]:
    """``(split, sensitive columns...)`` of a fairness analysis, to tell its settings apart."""
    meta = analysis.meta
    return (str(meta.get("split") or ""), *[str(c) for c in meta.get("sensitive") or []])


def audit_settings(analysis: Any) -> dict[str, Any]:
    """The settings that decide a fairness audit's numbers: split, threshold, favourable
    outcome and resamples. Two audits compare like for like only when these agree."""
    meta = analysis.meta
    report = meta.get("report") or {}
    threshold = report.get("threshold")
    return {
        "split": str(meta.get("split") or ""),
        "threshold": round(float(threshold), 6) if isinstance(threshold, int | float) else None,
        "favourable": str(meta.get("favourable")),
        "n_boot": report.get("n_boot"),
    }


def _settings_text(settings: Mapping[str, Any]) -> str:
    parts = [f"{settings['split']} split"]
    if settings.get("threshold") is not None:
        parts.append(f"threshold {settings['threshold']:g}")
    parts.append(f"favourable {settings['favourable']}")
    parts.append(f"{settings['n_boot']} resamples")
    return ", ".join(parts)


def _audits(run: Any) -> list[Any]:
    """The run's fairness audits made after training (not live per-epoch ones), oldest first."""
    return [
        a
        for a in run.analyses
        if a.kind == "fairness"
        and a.epoch is None
        and not a.meta.get("live")
        and isinstance(a.meta.get("report"), Mapping)
    ]


def _live(run: Any) -> list[Any]:
    """The run's per-epoch fairness point metrics, by epoch."""
    items = [
        a
        for a in run.analyses
        if a.kind == "fairness"
        and a.meta.get("live")
        and a.epoch is not None
        and isinstance(a.meta.get("report"), Mapping)
    ]
    return sorted(items, key=lambda a: int(a.epoch))


def _features(report: Mapping[str, Any]) -> list[str]:
    return [str(f) for f in (report.get("differences") or {})]


def run_points(
    runs: Sequence[Any], feature: str, split: str | None = None, like: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """One point per run with an audit of ``feature``: accuracy against its DP difference.

    The run's newest audit that covers ``feature`` (on ``split`` when given) is used — one
    made with the settings ``like`` (see :func:`audit_settings`) when the run has one; a run
    audited only under other settings is still shown, its name saying how it differs, since
    such a point does not compare like for like. Its kind is the mitigation that made it
    (``run.config["mitigation"]["kind"]``) or baseline.
    """
    out = []
    for run in runs:
        found = [
            a
            for a in _audits(run)
            if feature in _features(a.meta["report"])
            and (split is None or a.meta.get("split") == split)
        ]
        if not found:
            continue
        same = [a for a in found if like is None or audit_settings(a) == dict(like)]
        chosen = (same or found)[-1]
        name = run.name
        if like is not None and not same:
            name += f" (audited at {_settings_text(audit_settings(chosen))}; not like for like)"
        report = chosen.meta["report"]
        dp = (report.get("differences") or {}).get(feature, {}).get("dp_difference") or {}
        mitigation = run.config.get("mitigation") if isinstance(run.config, Mapping) else None
        kind = mitigation.get("kind") if isinstance(mitigation, Mapping) else None
        out.append(
            {
                "id": run.id,
                "name": name,
                "kind": str(kind or "baseline"),
                "accuracy": (report.get("overall") or {}).get("accuracy"),
                "accuracy_ci": (report.get("overall_intervals") or {}).get("accuracy"),
                "disparity": dp.get("value"),
                "disparity_ci": dp.get("ci"),
            }
        )
    return out


def _describe_task(snapshot: Any, cache: DataCache) -> Callable[..., _Facts]:
    def task(_progress: Callable[[float], None], _cancelled: Callable[[], bool]) -> _Facts:
        from workbench.core.analysis import favourable_label

        data = cache.get(snapshot)
        sensitive = [str(c) for c in data.sensitive]
        if data.task != "classification":
            return _Facts(
                sensitive,
                [],
                None,
                f"Fairness metrics need a classifier; this project's data is for {data.task}.",
            )
        from engines.data import outcome_meanings

        names = [str(c) for c in data.class_names]
        favourable = names[favourable_label(names)] if names else None
        return _Facts(sensitive, names, favourable, "" if sensitive else NO_SENSITIVE,
                      outcome_meanings(snapshot.data))

    return task


@dataclass
class _Audited:
    """What an Audit task returns to the GUI thread."""

    run_id: str
    analysis: Any  # workbench.core.project.Analysis, kind "fairness"
    seconds: float


def _sweep(data: Any, model: Any, outcome: Any, request: Mapping[str, Any]) -> dict[str, Any]:
    """The threshold sweep of the audited rows' scores, with the audit's groups and bands."""
    from engines import fairness as fx
    from workbench.core.analysis import favourable_label, favourable_scores
    from workbench.core.session import _split_indices

    idx = np.sort(_split_indices(data, outcome.split))  # as audit_run takes them
    fav = favourable_label(data.class_names, outcome.favourable)
    sensitive = {c: data.sensitive[c][idx] for c in outcome.sensitive}
    y_true = (data.y[idx] == fav).astype(np.int64)
    scores = favourable_scores(model, data.X[idx], fav)
    sweep = fx.threshold_sweep(
        y_true,
        scores,
        sensitive,
        favourable=1,
        bands=outcome.report.band_edges or None,
        intersections=bool(request["intersections"]) and len(sensitive) > 1,
    )
    return {**sweep.to_dict(), "threshold": float(request["threshold"])}


def _audit(
    snapshot: Any, run_id: str, request: Mapping[str, Any], data: Any, model: Any = None
) -> Any:
    """Audit one run of ``snapshot`` and keep the sweep with it: an Analysis."""
    from workbench.core import analysis  # looked up at call time: tests count audit_run calls
    from workbench.core.session import model_for

    run = snapshot.run(run_id)
    model = model if model is not None else model_for(snapshot, run)
    outcome = analysis.audit_run(
        snapshot,
        list(request["sensitive"]),
        split=str(request["split"]),
        run_id=run_id,
        favourable=request.get("favourable"),
        threshold=float(request["threshold"]),
        n_boot=int(request["n_boot"]),
        seed=int(request.get("seed", 0)),
        intersections=bool(request["intersections"]),
        data=data,
        model=model,
    )
    found = analysis.fairness_analysis(outcome)
    found.meta.update(
        threshold=float(request["threshold"]),
        n_boot=int(request["n_boot"]),
        seed=int(request.get("seed", 0)),
    )
    if not run.config.get("postprocess"):
        # a threshold-optimizer run decides per group: one threshold for all does not apply
        found.meta["sweep"] = _sweep(data, model, outcome, request)
    return found


def _audit_task(
    snapshot: Any, run_id: str, request: Mapping[str, Any], cache: DataCache
) -> Callable[..., _Audited]:
    def task(_progress: Callable[[float], None], _cancelled: Callable[[], bool]) -> _Audited:
        t0 = time.perf_counter()
        found = _audit(snapshot, run_id, request, cache.get(snapshot))
        return _Audited(run_id, found, time.perf_counter() - t0)

    return task


@dataclass
class _Mitigated:
    """What a Mitigation task returns: the new run (audited) and the base run's audit."""

    run: Any
    base_id: str
    base_audit: Any  # an Analysis for the base run, or None when it had one already
    seconds: float


def _mitigation_task(
    snapshot: Any,
    base_id: str,
    request: Mapping[str, Any],
    cache: DataCache,
    audit_base: bool,
    total: dict[str, int],
) -> Callable[..., _Mitigated]:
    """Train (or post-process) a mitigated run, then audit it with the request's settings.

    ``total`` receives the run's number of training steps, so the panel can show
    "step k of n" from the fraction the runner reports.
    """

    def task(progress: Callable[[float], None], cancelled: Callable[[], bool]) -> _Mitigated:
        from engines.training import Callback
        from workbench.core import analysis

        class Progress(Callback):
            shown = 0.0

            def on_train_start(self, trainer: Any) -> None:
                total["steps"] = int(trainer.total_steps or 0)

            def on_step_end(self, trainer: Any, step: dict[str, Any]) -> None:
                if cancelled():
                    trainer.stop()  # takes effect before the next step
                    return
                now = time.monotonic()
                if now - self.shown >= PROGRESS_EVERY_S:
                    self.shown = now
                    progress(trainer.global_step / max(int(trainer.total_steps or 1), 1))

        t0 = time.perf_counter()
        data = cache.get(snapshot)
        kind = str(request["kind"])
        constraint = str(request.get("constraint") or "demographic_parity")
        if kind == "penalty":
            constraint = (
                "equalized_odds" if request.get("penalty") == "eo" else "demographic_parity"
            )
        run = analysis.mitigate_run(
            snapshot,
            kind,
            str(request["sensitive"][0]),
            run_id=base_id,
            favourable=request.get("favourable"),
            strength=float(request.get("strength", 1.0)),
            constraint=constraint,
            seed=int(request.get("seed", 0)),
            name=request.get("name"),
            data=data,
            callbacks=[Progress()],
            add_to_project=True,  # into the snapshot only
        )
        if cancelled():
            raise _Cancelled()
        progress(1.0)
        run.add_analysis(_audit(snapshot, run.id, request, data))  # not in the project yet
        base = _audit(snapshot, base_id, request, data) if audit_base else None
        return _Mitigated(run, base_id, base, time.perf_counter() - t0)

    return task


# -------------------------------------------------------------------------------- panel
class FairnessDock(QWidget):
    """The Fairness dock's content and the controller behind it.

    Parameters
    ----------
    worker
        The window's training worker: a run that starts training opens a live session (when
        "Track live" is ticked); its end hands the per-epoch metrics to the new run.
    """

    def __init__(self, parent: QWidget | None = None, *, worker: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = FairnessPanel()
        self.panel.controls.set_splits(list(SPLITS), current="test")
        self.shown_label = QLabel()
        self.shown_label.setStyleSheet(_MUTED)
        self.shown_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.shown_label)
        layout.addWidget(self.panel, 1)

        self.runner = TaskRunner(self)  # audits and mitigations: one at a time, newest wins
        self.loader = TaskRunner(self)  # reads the data's columns and classes
        self.doc: Any = None
        self.facts: _Facts | None = None
        self._data = DataCache()
        self._task = ""  # "audit" or "mitigation": what the runner does now
        self._request: dict[str, Any] = {}
        self._started_at = 0.0
        self._total: dict[str, int] = {}
        self._live: list[Any] | None = None  # a tracked run's epochs while it trains
        self._live_spec: dict[str, Any] | None = None
        self._shown: Any = None  # the audit on screen (an Analysis) or None
        self.live_supported = False  # the worker sends per-epoch analyses back

        c = self.panel.controls
        c.audit_requested.connect(self.audit)
        c.mitigation_requested.connect(self.mitigate)
        c.cancel_requested.connect(self.cancel)
        c.live_tracking_toggled.connect(self._on_live_toggled)
        self.panel.threshold.threshold_changed.connect(self._on_threshold_moved)
        self.panel.runs.run_selected.connect(self._on_run_selected)
        self.panel.table.feature_combo.currentIndexChanged.connect(lambda _i: self._show_runs())
        self.runner.progressed.connect(self._on_progress)
        self.runner.finished.connect(self._on_task_finished)
        self.runner.failed.connect(self._on_task_failed)
        self.runner.cancelled.connect(self._on_task_cancelled)
        self.loader.finished.connect(self._on_described)
        self.loader.failed.connect(self._on_describe_failed)
        if worker is not None:
            worker.started.connect(self.training_started)  # type: ignore[attr-defined]
            worker.finished.connect(self.training_finished)  # type: ignore[attr-defined]
            worker.failed.connect(self.training_failed)  # type: ignore[attr-defined]
            live = getattr(worker, "analysis_arrived", None)  # (kind, epoch, payload)
            if live is not None:
                live.connect(self.on_live_analysis)
                self.live_supported = True
        self.refresh()

    # ------------------------------------------------------------------ document
    def set_document(self, doc: Any) -> None:
        """Show ``doc``'s active run and follow its runs, analyses and data."""
        self.runner.cancel()
        self.loader.cancel()
        if self.doc is not None:
            for signal, slot in self._doc_signals(self.doc):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self.doc = doc
        self.facts = None
        self._live = None
        self.panel.controls.set_busy(False)
        self.panel.controls.set_message(None)
        self.panel.controls.set_columns([])
        self.panel.controls.set_outcomes([])
        if doc is not None:
            for signal, slot in self._doc_signals(doc):
                signal.connect(slot)
            self._describe()
        self.refresh()

    def _doc_signals(self, doc: Any) -> list[tuple[Any, Any]]:
        return [
            (doc.runs_changed, self.refresh),
            (doc.analyses_changed, self.refresh),
            (doc.data_changed, self._describe),
        ]

    @property
    def project(self) -> Any:
        return self.doc.project if self.doc is not None else None

    def _run(self) -> Any:
        project = self.project
        return project.active() if project is not None else None

    def _describe(self) -> None:
        """Read the data's sensitive columns and classes off the GUI thread."""
        if self.project is None:
            return
        self.facts = None
        self.shown_label.setText("Reading the project's data…")
        self.loader.start(_describe_task(snapshot(self.project, []), self._data))

    @Slot(object)
    def _on_described(self, facts: _Facts) -> None:
        self.facts = facts
        c = self.panel.controls
        shown = self._latest_audit(self._run())
        ticked = (
            [str(s) for s in shown.meta.get("sensitive") or []]
            if shown is not None
            else facts.sensitive[:1]
        )
        c.set_columns(facts.sensitive, [t for t in ticked if t in facts.sensitive])
        wanted = str(shown.meta.get("favourable")) if shown is not None else facts.favourable
        c.set_outcomes(
            facts.class_names, wanted if wanted in facts.class_names else facts.favourable,
            meanings=facts.meanings,
        )
        if facts.problem:
            c.set_message(facts.problem, error=False)
        self.refresh()

    @Slot(str, str)
    def _on_describe_failed(self, message: str, _details: str) -> None:
        self.facts = None
        self.shown_label.setText("")
        self.panel.controls.set_message(f"The project's data could not be read: {message}")

    # ------------------------------------------------------------------ audit
    def _check(self, request: Mapping[str, Any]) -> str:
        """Why ``request`` cannot be run ("" when it can)."""
        if self.project is None:
            return "Open a project first."
        if self._run() is None:
            return NO_RUN
        if not request.get("sensitive"):
            return (
                NO_SENSITIVE
                if self.facts is not None and not self.facts.sensitive
                else "Tick at least one sensitive column to audit."
            )
        if request.get("split") not in SPLITS:
            return f"Unknown split {request.get('split')!r}; use one of: {', '.join(SPLITS)}."
        return ""

    @staticmethod
    def _unreadable(options: Any) -> str:
        return f"The fairness settings could not be read: {options!r:.200}."

    @staticmethod
    def _normalised(options: Mapping[str, Any]) -> dict[str, Any]:
        """The request in plain types, or {} when ``options`` cannot be read as one."""
        try:
            return FairnessDock._plain(options)
        except (AttributeError, TypeError, ValueError):
            return {}

    @staticmethod
    def _plain(options: Mapping[str, Any]) -> dict[str, Any]:
        sensitive = [str(s) for s in options.get("sensitive") or []]
        favourable = options.get("favourable")
        return {
            "sensitive": sensitive,
            "favourable": None if favourable is None else str(favourable),
            "threshold": float(options.get("threshold", 0.5)),
            "split": str(options.get("split") or "test"),
            "n_boot": int(options.get("n_boot", 1000)),
            "intersections": bool(options.get("intersections")) and len(sensitive) > 1,
            "seed": int(options.get("seed", 0)),
        }

    @Slot(dict)
    def audit(self, options: Mapping[str, Any]) -> None:
        """Audit the active run (cancels a running audit or mitigation).

        ``options`` as ``FairnessControls.audit_requested`` emits them: ``sensitive``,
        ``favourable``, ``threshold``, ``split``, ``n_boot``, ``intersections``; optionally
        ``seed`` (default 0, so the intervals are reproducible).
        """
        request = self._normalised(options)
        problem = self._check(request) if request else self._unreadable(options)
        if problem:
            self._refuse(problem)
            return
        run = self._run()
        self._start(
            "audit",
            request,
            f"Auditing {run.name} on the {request['split']} split…",
            _audit_task(snapshot(self.project, [run]), run.id, request, self._data),
        )

    def _start(
        self,
        what: str,
        request: dict[str, Any],
        text: str,
        task: Any,
        total: dict[str, int] | None = None,
    ) -> None:
        self._task, self._request = what, request
        self._started_at = time.monotonic()
        self._total = total if total is not None else {}
        c = self.panel.controls
        c.set_busy(True)
        c.set_message(text, error=False)
        self.runner.start(task)

    def _refuse(self, problem: str) -> None:
        self.runner.cancel()
        self.panel.controls.set_busy(False)
        self.panel.controls.set_message(problem, error=True)

    @Slot()
    def cancel(self) -> None:
        """Cancel the running audit or mitigation (a training mitigation stops within a step)."""
        self.runner.cancel()

    @Slot(float)
    def _on_progress(self, fraction: float) -> None:
        steps = self._total.get("steps", 0)
        total = steps if steps > 0 else 100
        done = round(min(max(fraction, 0.0), 1.0) * total)
        elapsed = time.monotonic() - self._started_at
        eta = elapsed / fraction * (1 - fraction) if fraction > 0.02 else None
        self.panel.controls.set_progress(done, total, eta)

    @Slot(object)
    def _on_task_finished(self, result: Any) -> None:
        self.panel.controls.set_busy(False)
        if isinstance(result, _Audited):
            self._keep_audit(result)
        elif isinstance(result, _Mitigated):
            self._keep_mitigation(result)

    def _keep_audit(self, done: _Audited) -> None:
        project = self.project
        run = next((r for r in project.runs if r.id == done.run_id), None) if project else None
        if run is None:
            self.panel.controls.set_message(
                "The run was removed while it was being audited; nothing was kept."
            )
            return
        meta = done.analysis.meta
        report = meta["report"]
        self.doc.add_analyses(
            run.id,
            [done.analysis],
            text=f"Fairness audit of {run.name} ({', '.join(meta['sensitive'])})",
        )
        text = (
            f"Audited {run.name} on {report.get('n_rows')} rows of the {meta['split']} "
            f"split with {meta['n_boot']} resamples in {done.seconds:.2f} s."
        )
        if self._run() is None or self._run().id != run.id:
            text += " It is kept with that run, which is not the active run."
        self.panel.controls.set_message(text, error=False)

    @Slot(str, str)
    def _on_task_failed(self, message: str, _details: str) -> None:
        self.panel.controls.set_busy(False)
        what = "The mitigation failed: " if self._task == "mitigation" else ""
        self.panel.controls.set_message(what + message, error=True)

    @Slot()
    def _on_task_cancelled(self) -> None:
        self.panel.controls.set_busy(False)
        self.panel.controls.set_message("Cancelled; nothing was kept.", error=False)

    # ------------------------------------------------------------------ mitigation
    def _free_name(self, wanted: str) -> str:
        taken = {r.name for r in self.project.runs}
        name, k = wanted, 2
        while name in taken:
            name, k = f"{wanted} ({k})", k + 1
        return name

    @Slot(dict)
    def mitigate(self, options: Mapping[str, Any]) -> None:
        """Make a mitigated run from the active run and audit both with the same settings.

        ``options`` as ``FairnessControls.mitigation_requested`` emits them: the audit
        options and ``kind`` ("reweighing", "penalty" with ``penalty`` "dp"/"eo" and
        ``strength``, or "threshold" with ``constraint``). The mitigation works on the
        first ticked column.
        """
        request = self._normalised(options)
        kind = str(options.get("kind") or "")
        problem = self._check(request) if request else self._unreadable(options)
        if not problem and kind not in _KIND_NAMES:
            problem = f"Unknown mitigation {kind!r}; use one of: {', '.join(_KIND_NAMES)}."
        try:
            strength = float(options.get("strength", 1.0))
        except (TypeError, ValueError):
            problem = (
                problem
                or f"The penalty strength must be a number, not {options.get('strength')!r}."
            )
        if problem:
            self._refuse(problem)
            return
        base = self._run()
        column = request["sensitive"][0]
        label = _KIND_NAMES[kind]
        if kind == "penalty":
            label += f" ({'eo' if options.get('penalty') == 'eo' else 'dp'}, {strength:g})"
        request.update(
            kind=kind,
            penalty=options.get("penalty"),
            strength=strength,
            constraint=options.get("constraint"),
            name=self._free_name(f"{base.name} + {label}"),
        )
        # the base run is audited again unless it has an audit made exactly like the new run's
        wanted = {"split": request["split"], "threshold": round(float(request["threshold"]), 6),
                  "n_boot": request["n_boot"]}
        audit_base = not any(
            audit_key(a) == (request["split"], *request["sensitive"])
            and {k: audit_settings(a)[k] for k in wanted} == wanted
            and (request.get("favourable") is None or audit_settings(a)["favourable"] == str(request["favourable"]))
            for a in _audits(base)
        )
        how = "Post-processing" if kind == "threshold" else "Training"
        text = f"{how} {request['name']} on {column!r}…"
        if len(request["sensitive"]) > 1:
            text += f" (the mitigation uses the first ticked column, {column!r})"
        total: dict[str, int] = {}  # the task writes the run's step count here
        task = _mitigation_task(
            snapshot(self.project, [base]), base.id, request, self._data, audit_base, total
        )
        self._start("mitigation", request, text, task, total)

    def _keep_mitigation(self, done: _Mitigated) -> None:
        project = self.project
        if project is None or all(r.id != done.base_id for r in project.runs):
            self.panel.controls.set_message(
                "The base run was removed meanwhile; the mitigated run was not kept."
            )
            return
        if done.base_audit is not None:
            base = project.run(done.base_id)
            self.doc.add_analyses(base.id, [done.base_audit], text=f"Fairness audit of {base.name}")
        self.doc.add_run(done.run, activate=True)  # a record (not an undo step), with its audit inside
        self.panel.tabs.setCurrentWidget(self.panel.runs)
        self.panel.controls.set_message(
            f"{done.run.name}: {done.run.status} in {done.seconds:.1f} s; audited beside "
            f"{project.run(done.base_id).name} (see Runs compared).",
            error=False,
        )

    # ------------------------------------------------------------------ live tracking
    def live_spec(self) -> dict[str, Any] | None:
        """What to compute at each epoch end of the next run, or None (not tracked).

        Plain data for the training process: ``kind`` ("fairness"), ``sensitive`` (column
        names), ``favourable`` (class index), ``favourable_label`` (its name), ``threshold``,
        ``split`` ("val"), ``intersections``.
        """
        c = self.panel.controls
        if not c.live_check.isChecked() or self.facts is None or not self.facts.class_names:
            return None
        options = self._normalised(c.options())
        if (
            not options
            or not options["sensitive"]
            or options["favourable"] not in self.facts.class_names
        ):
            return None
        return {
            "kind": "fairness",
            "sensitive": options["sensitive"],
            "favourable": self.facts.class_names.index(options["favourable"]),
            "favourable_label": options["favourable"],
            "threshold": options["threshold"],
            "split": LIVE_SPLIT,
            "intersections": options["intersections"],
        }

    def _on_live_toggled(self, on: bool) -> None:
        if not on:
            self.panel.controls.set_message(None)
            return
        spec = self.live_spec()
        if spec is None:
            self.panel.controls.set_message(
                "Tick a sensitive column and choose the favourable outcome: those are tracked.",
                error=False,
            )
        elif not self.live_supported:
            self.panel.controls.set_message(
                "This training process does not send fairness metrics per epoch yet; audit "
                "the run when it has finished.",
                error=False,
            )
        else:
            self.panel.controls.set_message(
                f"Point metrics of {', '.join(spec['sensitive'])} on the validation split will "
                "be computed at each epoch end of the next run.",
                error=False,
            )

    def training_started(self, _info: Any = None) -> None:
        """A run started training: open a live session when tracking is on."""
        spec = self.live_spec()
        if spec is None:
            self._live, self._live_spec = None, None
            return
        self._live, self._live_spec = [], spec
        self.panel.live.clear()
        self.panel.tabs.setCurrentWidget(self.panel.live)

    def training_finished(self, outcome: Any) -> None:
        """Connected before the window adds the run: the live epochs go into the run itself,
        so adding the run (one undo step) adds them too."""
        live, self._live = self._live, None
        run = getattr(outcome, "run", None)
        if live and run is not None:
            for a in live:
                run.add_analysis(a)
        self.panel.live.flush()
        self.refresh()

    def training_failed(self, *_args: Any) -> None:
        if self._live:
            self.panel.controls.set_message(
                "Training failed: its live fairness metrics were not kept."
            )
        self._live = None
        self.refresh()

    @Slot(str, int, dict)
    def on_live_analysis(self, kind: str, epoch: int, payload: Mapping[str, Any]) -> None:
        """One epoch's fairness point metrics from the training process: drawn and kept.

        ``payload``: ``{"point_metrics": FairnessReport.to_dict()}`` (from
        :func:`engines.fairness.point_metrics`). While a run trains it is kept for that run;
        otherwise it goes to the active run as an undoable step.
        """
        if kind != "fairness":
            return
        from engines.fairness import FairnessReport
        from workbench.core.project import Analysis

        try:
            report = dict(payload["point_metrics"])
            FairnessReport.from_dict(report)  # FairnessError (a ValueError) if it is not one
            epoch = int(epoch)
        except (KeyError, TypeError, ValueError) as exc:
            self.panel.controls.set_message(f"Live fairness metrics could not be read: {exc}")
            return
        spec = self._live_spec or self.live_spec() or {}
        meta = {
            "report": report,
            "live": True,
            "split": str(spec.get("split") or LIVE_SPLIT),
            "sensitive": list(spec.get("sensitive") or report.get("columns") or []),
            "favourable": str(spec.get("favourable_label") or report.get("favourable")),
            "threshold": report.get("threshold"),
        }
        found = Analysis(id=Analysis.new_id(), kind="fairness", meta=meta, epoch=epoch)
        self.panel.live.append_epoch(epoch, report)
        if self._live is not None:
            self._live.append(found)
            return
        run = self._run()
        if run is None:
            self.panel.controls.set_message(NO_RUN)
            return
        self.doc.add_analyses(run.id, [found], text=f"Fairness at epoch {epoch} of {run.name}")

    # ------------------------------------------------------------------ showing
    def _latest_audit(self, run: Any) -> Any:
        if run is None:
            return None
        audits = _audits(run)
        return audits[-1] if audits else None

    @Slot()
    def refresh(self) -> None:
        """Follow the document: the active run's newest audit, its live curves, the runs."""
        run = self._run()
        shown = self._latest_audit(run)
        if shown is not self._shown:
            self._shown = shown
            self._show_audit(shown)
        if self._live is None:
            history = [(int(a.epoch), a.meta["report"]) for a in _live(run)] if run else []
            if history:
                self.panel.live.set_history(history)
            else:
                self.panel.live.clear()
        self._show_runs()
        self._show_label(run, shown)

    def _show_audit(self, shown: Any) -> None:
        panel = self.panel
        if shown is None:
            panel.table.clear()
            panel.bars.set_report({})
            panel.threshold.set_sweep({"thresholds": [], "groups": {}})
            panel.threshold.set_message(None)
            return
        panel.set_report(shown.meta["report"])
        self._controls_follow(shown)
        sweep = shown.meta.get("sweep")
        if isinstance(sweep, Mapping):
            panel.threshold.set_sweep(dict(sweep))
        else:
            panel.threshold.set_sweep({"thresholds": [], "groups": {}})
            panel.threshold.set_message(
                "This run decides with a threshold per group (threshold optimizer), so one "
                "threshold for everyone does not apply to it.",
                error=False,
            )

    def _controls_follow(self, shown: Any) -> None:
        """The controls show the settings of the audit beside them (threshold, split,
        resamples), so pressing a button next repeats them unless the user changes one."""
        c = self.panel.controls
        settings = audit_settings(shown)
        for widget, value in ((c.threshold_spin, settings["threshold"]), (c.boot_spin, settings["n_boot"])):
            if isinstance(value, int | float):
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)
        index = c.split_combo.findText(settings["split"])
        if index >= 0:
            c.split_combo.blockSignals(True)
            c.split_combo.setCurrentIndex(index)
            c.split_combo.blockSignals(False)

    def _show_label(self, run: Any, shown: Any) -> None:
        if self.project is None:
            self.shown_label.setText("")
        elif run is None:
            self.shown_label.setText(NO_RUN)
        elif shown is None:
            self.shown_label.setText(
                f"{run.name}: no fairness audit yet — tick sensitive columns and press Audit."
            )
        else:
            m, r = shown.meta, shown.meta["report"]
            threshold = r.get("threshold")
            parts = [
                f"{run.name}",
                f"{', '.join(m.get('sensitive') or [])} on the "
                f"{m.get('split')} split ({r.get('n_rows')} rows)",
                f"favourable: {m.get('favourable')}",
            ]
            if isinstance(threshold, int | float):
                parts.append(f"threshold {threshold:g}")
            parts.append(f"{r.get('n_boot')} resamples, seed {r.get('seed')}")
            self.shown_label.setText(" · ".join(parts))

    def scatter_feature(self) -> str:
        """The feature whose DP difference the runs-compared scatter shows."""
        current = self.panel.table.current_feature()
        if current:
            return current
        shown = self._shown
        columns = [str(c) for c in (shown.meta.get("sensitive") or [])] if shown else []
        return columns[0] if columns else ""

    def _show_runs(self) -> None:
        project = self.project
        feature = self.scatter_feature()
        split = self._shown.meta.get("split") if self._shown is not None else None
        like = audit_settings(self._shown) if self._shown is not None else None
        points = run_points(project.runs, feature, split, like) if project is not None and feature else []
        label = (
            f"demographic parity difference of {feature}"
            if feature
            else "demographic parity difference"
        )
        self.panel.runs.set_runs(points, label)
        run = self._run()
        self.panel.runs.select_run(run.id if run is not None else "")

    # ------------------------------------------------------------------ view signals
    def _on_run_selected(self, run_id: str) -> None:
        if self.doc is None or not run_id:
            return
        try:
            self.doc.set_active_run(run_id)  # undoable; runs_changed refreshes the panel
        except KeyError as exc:
            self.panel.controls.set_message(str(exc.args[0]) if exc.args else str(exc))

    def _on_threshold_moved(self, threshold: float) -> None:
        spin = self.panel.controls.threshold_spin
        spin.setValue(round(float(threshold), spin.decimals()))
        self.panel.controls.set_message(
            f"Threshold {spin.value():.3f} chosen: press Audit for the metrics and intervals "
            "at this threshold.",
            error=False,
        )

    # ------------------------------------------------------------------ closing
    def shutdown(self) -> None:
        """Cancel and wait for the audit, mitigation and data tasks (the window is closing)."""
        self.runner.shutdown()
        self.loader.shutdown()


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    from workbench.core.demo import demo_project
    from workbench.core.session import train_run
    from workbench.gui.document import ProjectDocument

    app = QApplication([])
    project = demo_project()
    train_run(project, overrides={"epochs": 3})
    dock = FairnessDock()
    dock.set_document(ProjectDocument(project))
    dock.resize(1400, 700)
    dock.show()
    app.exec()
