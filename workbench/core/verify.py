"""Re-derive every number a project file claims, and say which agree.

:func:`verify_file` opens a ``.wbproj`` without refusing damaged parts, and
:func:`verify_project` checks, item by item:

- each embedded data file against the sha256 recorded for it, and the data's fingerprint
  (recomputed by preparing the data again) against the project's;
- each run's weights against the sha256 recorded when the run was made;
- each stored metric of a run, by evaluating its weights again on the split the metric was
  measured on (the validation split at the end of training), the same way it was measured;
- each stored explanation, by computing it again with its recorded method, samples,
  baseline, options and seed, and each stored fairness audit, by auditing again with its
  recorded settings.

Every item ends *verified*, *differs* (with the stored and the recomputed value) or *cannot
verify* (with the reason: an older file that did not record what is needed, an analysis made
during training from weights that were not kept, data that cannot be found). Nothing is
written. No Qt here: the command line and the window share it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.core.project import Analysis, Project, Run, load_project_for_verify, weights_digest

__all__ = ["STATUSES", "VerificationReport", "VerifyItem", "verify_file", "verify_project"]

VERIFIED, DIFFERS, CANNOT = "verified", "differs", "cannot verify"
STATUSES = (VERIFIED, DIFFERS, CANNOT)

# Recomputed numbers agree when |a − b| ≤ ATOL + RTOL·|b|: the same code on the same kind of
# CPU gives the same bits; other BLAS builds move the last digits of a float32 sum.
RTOL, ATOL = 1e-5, 1e-6


@dataclass
class VerifyItem:
    """One claim of the file and what re-deriving it found."""

    kind: str  # data, weights, metric, explanation, fairness, file
    name: str  # what it is, in the user's words ("accuracy of run 'run 1' on the val split")
    status: str
    expected: Any = None  # what the file says
    actual: Any = None  # what was recomputed
    reason: str = ""
    run: str | None = None
    analysis: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "status": self.status,
                "expected": _jsonable(self.expected), "actual": _jsonable(self.actual),
                "reason": self.reason, "run": self.run, "analysis": self.analysis}


@dataclass
class VerificationReport:
    """Every item checked; ``ok`` only when all are verified."""

    items: list[VerifyItem] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.items) and all(i.status == VERIFIED for i in self.items)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for i in self.items if i.status == s) for s in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "counts": self.counts(), "items": [i.to_dict() for i in self.items],
                "elapsed": self.elapsed}

    def differing(self) -> list[VerifyItem]:
        return [i for i in self.items if i.status == DIFFERS]


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= ATOL + RTOL * abs(b)


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of a JSON-like value with its path (``differences.sex.dp_difference.value``)."""
    if isinstance(value, Mapping):
        for k in sorted(value, key=str):
            yield from _leaves(value[k], f"{path}.{k}" if path else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    return None


def _compare_json(stored: Any, recomputed: Any, skip: Sequence[str] = ()) -> list[tuple[str, Any, Any]]:
    """Paths where two JSON-like values differ (numbers within tolerance agree)."""
    a = {p: v for p, v in _leaves(stored) if not any(p == s or p.startswith(s + ".") for s in skip)}
    b = {p: v for p, v in _leaves(recomputed) if not any(p == s or p.startswith(s + ".") for s in skip)}
    out = []
    for path in sorted(set(a) | set(b)):
        if path not in a or path not in b:
            out.append((path, a.get(path, "(missing)"), b.get(path, "(missing)")))
            continue
        x, y = _number(a[path]), _number(b[path])
        if x is not None and y is not None:
            if not _close(x, y):
                out.append((path, a[path], b[path]))
        elif a[path] != b[path]:
            out.append((path, a[path], b[path]))
    return out


# --------------------------------------------------------------------------------- checks
class _Context:
    """What the checks share: the prepared data (once) and each run's model (once)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._data: Any = None
        self.data_problem: str | None = None
        self._models: dict[str, Any] = {}

    def data(self) -> Any:
        from workbench.core.session import WorkbenchError, load_data

        if self._data is None and self.data_problem is None:
            try:
                self._data = load_data(self.project)
            except (WorkbenchError, ValueError, OSError) as exc:
                self.data_problem = str(exc)
        return self._data

    def model(self, run: Run) -> Any:
        from workbench.core.session import model_for

        if run.id not in self._models:
            self._models[run.id] = model_for(self.project, run)
        return self._models[run.id]


def _check_data(ctx: _Context, damaged: Sequence[tuple[str, str, str]]) -> list[VerifyItem]:
    from engines.data import DataError, DataSpec, prepare

    items = []
    for kind, name, reason in damaged:
        if kind == "data":
            items.append(VerifyItem("data", f"embedded data file {name}", DIFFERS, reason=reason))
    project = ctx.project
    if not project.data_fingerprint:
        items.append(VerifyItem("data", "data fingerprint", CANNOT,
                                reason="the project records no data fingerprint"))
        return items
    try:
        spec = DataSpec.from_dict(project.data)
        source = next((v for k, v in project.embedded.items() if k.startswith("data/source")), None)
        found = prepare(spec, source_bytes=source).fingerprint
    except (DataError, ValueError, OSError) as exc:
        items.append(VerifyItem("data", "data fingerprint", CANNOT, expected=project.data_fingerprint,
                                reason=f"the data cannot be read: {exc}"))
        return items
    status = VERIFIED if found == project.data_fingerprint else DIFFERS
    items.append(VerifyItem("data", "data fingerprint", status, expected=project.data_fingerprint,
                            actual=found, reason="" if status == VERIFIED else
                            "the data is not the data the runs were trained and evaluated on"))
    return items


def _run_label(run: Run) -> str:
    return f"run {run.name!r}"


def _check_weights(run: Run, damaged: Mapping[str, str]) -> VerifyItem:
    label = f"weights of {_run_label(run)}"
    recorded = run.provenance.get("weights_sha256")
    if run.id in damaged:
        return VerifyItem("weights", label, DIFFERS, expected=recorded, reason=damaged[run.id], run=run.id)
    if run.weights is None:
        return VerifyItem("weights", label, CANNOT, reason="the run has no weights", run=run.id)
    if not recorded:
        return VerifyItem("weights", label, CANNOT, run=run.id,
                          reason="no weights digest was recorded (a file from before schema 3)")
    found = weights_digest(run.weights)
    if found == recorded:
        return VerifyItem("weights", label, VERIFIED, expected=recorded, actual=found, run=run.id)
    return VerifyItem("weights", label, DIFFERS, expected=recorded, actual=found, run=run.id,
                      reason="the weights are not those the run was trained to")


def _recomputed_metrics(ctx: _Context, run: Run, split: str, recipe: str) -> dict[str, Any]:
    import numpy as np

    from engines import fairness as fx
    from engines.training import evaluate
    from workbench.core.analysis import _sensitive, favourable_label, favourable_scores
    from workbench.core.session import _objective, _split_indices, _targets

    data = ctx.data()
    idx = _split_indices(data, split)
    model = ctx.model(run)
    if recipe == "threshold_optimizer":
        post = run.config.get("postprocess") or {}
        info = run.config.get("mitigation") or {}
        rule = fx.FairThresholds.from_dict(post)
        fav = favourable_label(data.class_names, info.get("favourable"))
        decided = rule.predict(favourable_scores(model, data.X[idx], fav), _sensitive(data, rule.columns, idx))
        truth = (data.y[idx] == fav).astype(np.int64)
        tp = int(((decided == 1) & (truth == 1)).sum())
        denom = 2 * tp + int(((decided == 1) & (truth == 0)).sum()) + int(((decided == 0) & (truth == 1)).sum())
        return {"accuracy": float((decided == truth).mean()), "f1": 2 * tp / denom if denom else float("nan")}
    objective = _objective(ctx.project)
    return dict(evaluate(model, data.X[idx], _targets(data, idx, objective), objective))


def _check_metrics(ctx: _Context, run: Run, weights_ok: bool) -> list[VerifyItem]:
    label = _run_label(run)
    prov = run.provenance
    recipe = prov.get("metrics_recipe") or ("threshold_optimizer" if run.config.get("postprocess") else "evaluate")
    split = prov.get("metrics_split") or "val"
    assumed = "" if prov.get("metrics_split") else " (split not recorded in this older file: the validation split, where training measures it)"
    names = [k for k, v in run.metrics.items() if _number(v) is not None or k == "confusion"]
    if recipe == "threshold_optimizer":
        names = [k for k in names if k in ("accuracy", "f1")]
    if not names:
        return []

    def item(name: str, status: str, **kw: Any) -> VerifyItem:
        return VerifyItem("metric", f"{name} of {label} on the {split} split", status, run=run.id, **kw)

    if run.weights is None or not weights_ok:
        why = "the run has no weights" if run.weights is None else "its weights do not match their record"
        return [item(n, CANNOT, expected=run.metrics[n], reason=why) for n in names]
    if ctx.data() is None:
        return [item(n, CANNOT, expected=run.metrics[n], reason=f"the data cannot be read: {ctx.data_problem}") for n in names]
    try:
        found = _recomputed_metrics(ctx, run, split, recipe)
    except Exception as exc:  # noqa: BLE001 - any failure to recompute is reported, not raised
        return [item(n, CANNOT, expected=run.metrics[n], reason=f"re-evaluating failed: {exc}") for n in names]
    items = []
    for n in names:
        stored = run.metrics[n]
        if n not in found:
            items.append(item(n, CANNOT, expected=stored, reason="this metric is not re-derivable"))
            continue
        diffs = _compare_json(stored, _jsonable(found[n]))
        status = VERIFIED if not diffs else DIFFERS
        items.append(item(n, status, expected=stored, actual=_jsonable(found[n]),
                          reason=("" if status == VERIFIED else "re-evaluating the weights gives another value") + (assumed if status == VERIFIED else "")))
    return items


def _recompute_explanation(ctx: _Context, run: Run, analysis: Analysis) -> tuple[Any, Any]:
    import numpy as np

    from workbench.core.analysis import explain_run

    req = analysis.meta["request"]
    out = explain_run(ctx.project, req["method"], samples=[int(r) for r in req["samples"]], split=req["split"],
                      run_id=run.id, layer=req.get("layer"), target=req.get("target"),
                      background=req.get("background"), group=bool(req.get("group", True)),
                      seed=int(req.get("seed", 0)), options=req.get("options") or None,
                      data=ctx.data(), model=ctx.model(run))
    return analysis.arrays.get("attributions"), np.asarray(out.result.attributions, dtype=np.float64)


def _recompute_group_comparison(ctx: _Context, run: Run, analysis: Analysis) -> list[tuple[str, Any, Any]]:
    """Names of the arrays that differ (with a stored and a recomputed value) after recomputing."""
    import numpy as np

    from workbench.core.analysis import explain_by_group

    req = dict(analysis.meta["request"])
    out = explain_by_group(ctx.project, req.pop("method"), req.pop("sensitive"), run_id=run.id,
                           options=req.pop("options", None) or None, data=ctx.data(), model=ctx.model(run), **req)
    diffs: list[tuple[str, Any, Any]] = []
    for name, stored in analysis.arrays.items():
        found = getattr(out.comparison, name, None)
        if found is None:
            diffs.append((name, "(stored)", "(not recomputed)"))
            continue
        a, b = np.asarray(stored), np.asarray(found)
        if a.shape != b.shape:
            diffs.append((name, list(a.shape), list(b.shape)))
        elif a.dtype.kind in "fc" or b.dtype.kind in "fc":
            bad = ~np.isclose(a.astype(np.float64), b.astype(np.float64), rtol=1e-4, atol=ATOL, equal_nan=True)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                diffs.append((name, float(a.flat[i]), float(b.flat[i])))
        elif not np.array_equal(a, b):
            diffs.append((name, a.tolist()[:5], b.tolist()[:5]))
    return diffs


def _recompute_audit(ctx: _Context, run: Run, analysis: Analysis) -> tuple[Any, Any]:
    from workbench.core.analysis import audit_run

    req = analysis.meta["request"]
    out = audit_run(ctx.project, req["sensitive"], split=req["split"], run_id=run.id,
                    favourable=req.get("favourable"), threshold=float(req.get("threshold", 0.5)),
                    n_boot=int(req.get("n_boot", 1000)), confidence=float(req.get("confidence", 0.95)),
                    seed=int(req.get("seed", 0)), intersections=bool(req.get("intersections", True)),
                    data=ctx.data(), model=ctx.model(run))
    return analysis.meta.get("report"), out.report.to_dict()


_ANALYSIS_TITLES = {"explanation": "explanation", "fairness": "fairness audit",
                    "group_explanation": "explanations compared across groups"}


def _analysis_label(run: Run, a: Analysis) -> str:
    what = _ANALYSIS_TITLES.get(a.kind, a.kind)
    detail = a.meta.get("title") or a.meta.get("method") or ", ".join(map(str, a.meta.get("sensitive") or []))
    when = f" at epoch {a.epoch}" if a.epoch is not None else ""
    return f"{what} {detail} ({a.id}){when} of {_run_label(run)}".replace("  ", " ")


def _check_analysis(ctx: _Context, run: Run, a: Analysis, weights_ok: bool, damaged: Mapping[str, str]) -> VerifyItem:
    import numpy as np

    kind = "explanation" if a.kind in ("explanation", "group_explanation") else a.kind
    label = _analysis_label(run, a)

    def item(status: str, **kw: Any) -> VerifyItem:
        return VerifyItem(kind, label, status, run=run.id, analysis=a.id, **kw)

    if f"{run.id}/{a.id}" in damaged:
        return item(DIFFERS, reason=damaged[f"{run.id}/{a.id}"])
    if a.epoch is not None:
        return item(CANNOT, reason=f"computed at epoch {a.epoch} during training; only the final weights are kept")
    recorded = a.meta.get("weights_sha256")
    own = run.provenance.get("weights_sha256")
    if recorded and own and recorded != own:
        return item(DIFFERS, expected=recorded, actual=own,
                    reason="it was computed from other weights than the run's")
    if not weights_ok or run.weights is None:
        return item(CANNOT, reason="the run's weights do not match their record")
    if "request" not in a.meta or a.kind not in ("explanation", "fairness", "group_explanation"):
        why = ("it was kept without the settings that recompute it (a file from before schema 3)"
               if a.kind in ("explanation", "fairness", "group_explanation")
               else "this kind of analysis cannot be recomputed yet")
        return item(CANNOT, reason=why)
    if ctx.data() is None:
        return item(CANNOT, reason=f"the data cannot be read: {ctx.data_problem}")
    try:
        if a.kind == "group_explanation":
            diffs = _recompute_group_comparison(ctx, run, a)
            if diffs:
                name, x, y = diffs[0]
                return item(DIFFERS, expected=x, actual=y,
                            reason=f"{len(diffs)} array(s) differ, first {name}")
            return item(VERIFIED, reason="comparison recomputed with its recorded settings and seeds")
        if a.kind == "explanation":
            stored, found = _recompute_explanation(ctx, run, a)
            if stored is None:
                return item(CANNOT, reason="its attributions are not in the file")
            stored = np.asarray(stored, dtype=np.float64)
            if stored.shape != found.shape:
                return item(DIFFERS, expected=list(stored.shape), actual=list(found.shape),
                            reason="the stored attributions have another shape")
            scale = float(np.abs(found).max()) if found.size else 0.0
            bad = ~np.isclose(stored, found, rtol=1e-4, atol=ATOL * max(1.0, scale), equal_nan=True)
            if bad.any():
                first = np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape)
                return item(DIFFERS, expected=float(stored[first]), actual=float(found[first]),
                            reason=f"{int(bad.sum())} of {bad.size} attributions differ (first at sample "
                                   f"{int(first[0])}, position {[int(i) for i in first[1:]]})")
            return item(VERIFIED, reason=f"{found.size} attributions recomputed")
        stored, found = _recompute_audit(ctx, run, a)
        diffs = _compare_json(stored, found, skip=("elapsed",))
        if diffs:
            path, x, y = diffs[0]
            return item(DIFFERS, expected=x, actual=y,
                        reason=f"{len(diffs)} value(s) differ, first {path}")
        return item(VERIFIED, reason="audit recomputed with its recorded settings and seed")
    except Exception as exc:  # noqa: BLE001 - reported, never raised: verify goes on
        return item(CANNOT, reason=f"recomputing failed: {exc}")


# ------------------------------------------------------------------------------ entry points
def verify_project(
    project: Project,
    project_path: str | os.PathLike[str] | None = None,
    *,
    damaged: Sequence[tuple[str, str, str]] = (),
    runs: Sequence[str] | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> VerificationReport:
    """Check every claim of ``project`` (see the module docstring); never raises on a mismatch.

    ``damaged`` are the parts :func:`~workbench.core.project.load_project_for_verify` could
    not read. ``runs`` limits the check to those run ids. ``cancel()`` is checked between items.
    """
    t0 = time.perf_counter()
    report = VerificationReport()
    ctx = _Context(project)
    for kind, name, reason in damaged:
        if kind == "entry":
            report.items.append(VerifyItem("file", f"archive entry {name}", DIFFERS, reason=reason))
    report.items += _check_data(ctx, damaged)
    bad_weights = {name: reason for kind, name, reason in damaged if kind == "weights"}
    bad_analyses = {name: reason for kind, name, reason in damaged if kind == "analysis"}
    chosen = [r for r in project.runs if runs is None or r.id in runs]
    steps = sum(1 + len(r.analyses) for r in chosen) or 1
    done = 0
    for run in chosen:
        if cancel is not None and cancel():
            break
        weights = _check_weights(run, bad_weights)
        report.items.append(weights)
        weights_ok = weights.status == VERIFIED or (weights.status == CANNOT and run.weights is not None)
        report.items += _check_metrics(ctx, run, weights_ok)
        done += 1
        if progress is not None:
            progress(done / steps)
        for a in run.analyses:
            if cancel is not None and cancel():
                break
            report.items.append(_check_analysis(ctx, run, a, weights_ok, bad_analyses))
            done += 1
            if progress is not None:
                progress(done / steps)
    report.elapsed = time.perf_counter() - t0
    return report


def verify_file(
    path: str | os.PathLike[str],
    *,
    runs: Sequence[str] | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> tuple[Project, VerificationReport]:
    """Open ``path`` noting damaged parts instead of refusing them, then :func:`verify_project`.

    Raises ``ProjectFileError`` only when the file is not a project at all (or holds a pickle).
    """
    project, damaged = load_project_for_verify(path)
    return project, verify_project(project, path, damaged=damaged, runs=runs, progress=progress, cancel=cancel)
