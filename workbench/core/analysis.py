"""Explanations and fairness audits of a run, shared by the command line and the application.

Each function takes a :class:`~workbench.core.project.Project` and does one user-level thing:
explain some samples with one method, audit a run for group differences, or train a
mitigated run. Results are returned as the engines' typed results and can be kept in the
project as an :class:`~workbench.core.project.Analysis` of the run. No Qt here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.project import Analysis, Project, Run
from workbench.core.session import (
    WorkbenchError,
    _objective,
    _split_indices,
    load_data,
    model_for,
    pick_run,
    run_provenance,
    train_run,
)

__all__ = [
    "FAVOURABLE_WORDS",
    "AuditOutcome",
    "ExplainOutcome",
    "GroupExplainOutcome",
    "audit_run",
    "explain_run",
    "band_edges",
    "favourable_label",
    "favourable_scores",
    "fairness_analysis",
    "explanation_analysis",
    "explain_by_group",
    "group_comparison",
    "group_explanation_analysis",
    "group_explanation_meta",
    "mitigate_run",
    "parse_samples",
]

MAX_SAMPLES = 10_000
# Class names that usually mean the outcome a person wants (loan granted, good risk).
FAVOURABLE_WORDS = ("good", "approved", "approve", "yes", "granted", "accept", "accepted", "1", "true", "positive")
_RANGE_RE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


# ------------------------------------------------------------------------------- samples
def parse_samples(text: str) -> list[int]:
    """Row ids from text like ``"0-9, 15, 20-22"`` (ranges inclusive), in the order given.

    Raises
    ------
    WorkbenchError
        With the part that is wrong, for anything else.
    """
    if not text or not text.strip():
        raise WorkbenchError("No samples given: use row ids like '0-9' or '3, 17, 42'.")
    out: list[int] = []
    for part in text.split(","):
        m = _RANGE_RE.match(part)
        if not m:
            raise WorkbenchError(
                f"Cannot read samples {part.strip()!r}: use row ids and ranges like '0-9, 15'."
            )
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise WorkbenchError(f"The range {part.strip()!r} goes backwards; write it as {hi}-{lo}.")
        if len(out) + hi - lo + 1 > MAX_SAMPLES:
            raise WorkbenchError(f"Too many samples: at most {MAX_SAMPLES} at once.")
        out.extend(range(lo, hi + 1))
    seen: set[int] = set()
    return [r for r in out if not (r in seen or seen.add(r))]  # type: ignore[func-returns-value]


def _positions(data: Any, split: str, row_ids: Sequence[int]) -> Any:
    """Positions into ``data.X`` of source row ids, all from ``split``."""
    import numpy as np

    in_split = _split_indices(data, split)
    where = {int(r): int(p) for p, r in zip(in_split, data.row_ids[in_split], strict=True)}
    missing = [r for r in row_ids if r not in where]
    if missing:
        r = missing[0]
        if r < 0 or r >= int(data.row_ids.max()) + 1 or r not in set(data.row_ids.tolist()):
            raise WorkbenchError(f"There is no row {r} in this dataset (row ids go from 0 to {int(data.row_ids.max())}).")
        other = next(s for s, idx in data.splits.items() if r in set(data.row_ids[idx].tolist()))
        raise WorkbenchError(
            f"Row {r} is in the {other} split, not {split}; pass --split {other} or --split all."
        )
    return np.array([where[r] for r in row_ids], dtype=np.int64)


# --------------------------------------------------------------------------- explanation
@dataclass
class ExplainOutcome:
    """An explanation of some rows of one run."""

    run: Run
    result: Any  # engines.explain.AttributionResult
    row_ids: list[int]
    split: str
    inputs: Any  # the model inputs explained, (S, *input_shape)
    labels: list[str]  # true label per sample ("" for regression)
    target_names: list[str]  # explained output per sample
    request: dict[str, Any] | None = None  # the arguments that recompute it (workbench verify)


def explain_run(
    project: Project,
    method: str,
    *,
    samples: str | Sequence[int] | None = None,
    pick: str = "first",
    n: int = 10,
    split: str = "test",
    run_id: str | None = None,
    layer: str | None = None,
    target: int | None = None,
    background: int | None = None,
    group: bool = True,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    data: Any = None,
    model: Any = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> ExplainOutcome:
    """Attribute a run's outputs for some rows to its inputs with one method.

    ``samples`` are row ids of the source dataset (as ``predict`` prints them); without
    them, ``pick`` chooses ``n`` rows of ``split`` (first, misclassified, confident,
    random_per_class). Tables are explained against the training mean as the baseline, or
    against ``background`` training rows when given (the value function is then the
    background mean); images and sequences against zeros. One-hot columns are grouped back
    into their source column unless ``group`` is False.
    """
    import numpy as np

    from engines import explain as ex

    if method not in ex.METHODS:
        raise WorkbenchError(f"Unknown method {method!r}; use one of: {', '.join(ex.METHODS)}.")
    run = pick_run(project, run_id)
    data = data if data is not None else load_data(project)
    model = model if model is not None else model_for(project, run)
    objective = _objective(project)
    if objective == "reconstruction":
        raise WorkbenchError("Attributions explain a classifier or a regressor; this project reconstructs its input.")
    if samples is not None:
        row_ids = parse_samples(samples) if isinstance(samples, str) else [int(r) for r in samples]
        pos = _positions(data, split, row_ids)
    else:
        idx = _split_indices(data, split)
        if len(idx) == 0:
            raise WorkbenchError(f"The {split} split is empty.")
        try:
            chosen = ex.pick_samples(model, data.X[idx], data.y[idx], how=pick, n=n, seed=seed)
        except ex.ExplainError as exc:
            raise WorkbenchError(str(exc)) from exc
        pos = np.asarray(idx)[np.asarray(chosen, dtype=np.int64)]
        row_ids = [int(r) for r in data.row_ids[pos]]
    if len(pos) == 0:
        raise WorkbenchError("No samples to explain.")

    X = data.X[pos]
    train = data.splits["train"]
    info = ex.METHODS[method]
    kwargs: dict[str, Any] = {"seed": seed, "progress": progress, "cancel": cancel}
    if data.kind != "table":
        kwargs["baseline_label"] = "zeros"
    if data.kind == "table":
        kwargs["baseline"] = data.X[train].mean(axis=0).astype(np.float32)
        kwargs["baseline_label"] = "mean of the training split"
        if group:
            kwargs["groups"] = ex.feature_groups(data.preprocessing, list(data.feature_names))
    if background is not None or info.needs_background:
        rng = np.random.default_rng(seed)
        k = min(len(train), background or 100)
        kwargs["background"] = data.X[rng.choice(train, size=k, replace=False)]
        kwargs["background_label"] = f"{k} training rows drawn with seed {seed}"
        if background is not None:
            kwargs.pop("baseline", None)
            kwargs.pop("baseline_label", None)
    if target is not None:
        kwargs["target"] = target
    try:
        explainer = ex.make_explainer(method, model, layer=layer)
        result = explainer.attribute(X, **kwargs, **(options or {}))
    except ex.ExplainError as exc:
        raise WorkbenchError(str(exc)) from exc

    names = [str(c) for c in data.class_names] if objective == "classification" else []
    labels = [names[int(data.y[p])] if names else "" for p in pos]
    targets = [
        names[t] if names and t is not None and 0 <= t < len(names) else ("output" if t is None else str(t))
        for t in result.targets
    ]
    request = {"method": method, "samples": list(row_ids), "split": split, "layer": layer,
               "target": target, "background": background, "group": group, "seed": seed,
               "options": dict(options or {})}
    return ExplainOutcome(run=run, result=result, row_ids=row_ids, split=split, inputs=X,
                          labels=labels, target_names=targets, request=request)


def _evidence(run: Run) -> dict[str, Any]:
    """Which weights and data an analysis was computed from, and with which libraries."""
    from workbench.core.session import library_versions

    return {"weights_sha256": run.provenance.get("weights_sha256"),
            "data_fingerprint": run.data_fingerprint, "library_versions": library_versions()}


def explanation_analysis(outcome: ExplainOutcome, epoch: int | None = None) -> Analysis:
    """The explanation as an :class:`Analysis` to keep with its run (arrays as .npy)."""
    import numpy as np

    meta = outcome.result.to_dict()
    meta.pop("attributions", None)
    meta.update(row_ids=outcome.row_ids, split=outcome.split, labels=outcome.labels,
                target_names=outcome.target_names)
    if outcome.request is not None:
        meta["request"] = outcome.request
    meta.update(_evidence(outcome.run))
    arrays = {
        "attributions": np.asarray(outcome.result.attributions, dtype=np.float64),
        "inputs": np.asarray(outcome.inputs, dtype=np.float32),
    }
    return Analysis(id=Analysis.new_id(), kind="explanation", meta=meta, arrays=arrays, epoch=epoch)


def explanation_rows(outcome: ExplainOutcome) -> list[dict[str, Any]]:
    """Per sample: row id, explained output, F(x), reference, attributions, completeness gap."""
    r = outcome.result
    out: list[dict[str, Any]] = []
    for i, row in enumerate(outcome.row_ids):
        a = r.attributions[i]
        entry: dict[str, Any] = {
            "row_id": row,
            "true_label": outcome.labels[i] or None,
            "target": outcome.target_names[i],
            "output": float(r.outputs[i]),
            "reference": None if r.reference is None else float(r.reference[i]),
            "delta": None if r.delta is None else float(r.delta[i]),
        }
        if r.feature_names is not None and a.ndim == 1:
            entry["attributions"] = {n: float(v) for n, v in zip(r.feature_names, a, strict=True)}
        else:
            entry["shape"] = list(a.shape)
            entry["attributions"] = a.tolist()
        out.append(entry)
    return out


# ------------------------------------------------------------------------------ fairness
@dataclass
class AuditOutcome:
    """A fairness audit of one run on one split."""

    run: Run
    report: Any  # engines.fairness.FairnessReport
    split: str
    favourable: str
    sensitive: list[str]
    request: dict[str, Any] | None = None  # the arguments that recompute it (workbench verify)


def favourable_label(class_names: Sequence[Any], wanted: str | None = None) -> int:
    """Index of the favourable class: ``wanted`` if given, else a name that means 'yes'.

    For two classes with no such name, the second class (index 1) is favourable.
    """
    names = [str(c) for c in class_names]
    if wanted is not None:
        if wanted in names:
            return names.index(wanted)
        raise WorkbenchError(f"There is no class {wanted!r}; the classes are: {', '.join(names)}.")
    for word in FAVOURABLE_WORDS:
        for i, n in enumerate(names):
            if n.strip().lower() == word:
                return i
    return 1 if len(names) >= 2 else 0


def _sensitive(data: Any, names: Sequence[str], idx: Any) -> dict[str, Any]:
    if not names:
        raise WorkbenchError(
            "Name at least one sensitive column"
            + (f" (this data has: {', '.join(data.sensitive)})." if data.sensitive else
               "; this project's data has none: mark a column sensitive when importing it.")
        )
    out = {}
    for name in names:
        if name not in data.sensitive:
            have = ", ".join(data.sensitive) or "none"
            raise WorkbenchError(f"Column {name!r} is not a sensitive column of this data (sensitive columns: {have}).")
        out[name] = data.sensitive[name][idx]
    return out


def band_edges(data: Any, names: Sequence[str]) -> dict[str, list[float]]:
    """Quartile band edges of the continuous sensitive columns, fitted on the training split.

    Every audit, live curve and mitigation of the project bands a column at these same edges,
    whichever split it looks at (they are also reported with each result).
    """
    from engines.fairness import encode_sensitive

    tr = data.splits["train"]
    cols = {n: data.sensitive[n][tr] for n in names if n in data.sensitive}
    if not cols or len(tr) == 0:
        return {}
    return {k: [float(e) for e in v] for k, v in
            encode_sensitive(cols, intersections=False, n_rows=len(tr)).band_edges.items()}


def favourable_scores(model: Any, X: Any, favourable: int) -> Any:
    """Probability of the favourable class per row."""
    from engines.training import predict_proba

    proba = predict_proba(model, X)
    if proba.ndim == 1:  # one logit: probability of class 1
        return proba if favourable == 1 else 1.0 - proba
    return proba[:, favourable]


def audit_run(
    project: Project,
    sensitive: Sequence[str],
    *,
    split: str = "test",
    run_id: str | None = None,
    favourable: str | None = None,
    threshold: float = 0.5,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    intersections: bool = True,
    data: Any = None,
    model: Any = None,
) -> AuditOutcome:
    """Group metrics of a run's decisions on a split, with bootstrap intervals.

    The decision is "favourable" when the model's probability of the favourable class is
    greater than ``threshold`` — for two classes at 0.5 these are the predictions ``predict``
    gives.
    """
    import numpy as np

    from engines import fairness as fx

    if _objective(project) != "classification":
        raise WorkbenchError("Fairness metrics need a classifier; this project's objective is "
                             f"{_objective(project)}.")
    run = pick_run(project, run_id)
    data = data if data is not None else load_data(project)
    model = model if model is not None else model_for(project, run)
    idx = np.sort(_split_indices(data, split))
    if len(idx) == 0:
        raise WorkbenchError(f"The {split} split is empty.")
    fav = favourable_label(data.class_names, favourable)
    sens = _sensitive(data, sensitive, idx)
    post = run.config.get("postprocess")
    y_true = (data.y[idx] == fav).astype(np.int64)
    scores = favourable_scores(model, data.X[idx], fav)
    try:
        y_input = scores
        if post:  # a threshold-optimizer run decides per group of its own columns (seeded)
            rule = fx.FairThresholds.from_dict(post)
            y_input = rule.predict(scores, _sensitive(data, rule.columns, idx))
        report = fx.audit(y_true, y_input, sens, favourable=1, threshold=threshold,
                          bands=band_edges(data, list(sensitive)),
                          kind="labels" if post else "scores", n_boot=n_boot,
                          confidence=confidence, seed=seed,
                          intersections=intersections and len(sens) > 1)
    except ValueError as exc:
        raise WorkbenchError(str(exc)) from exc
    request = {"sensitive": list(sensitive), "split": split, "favourable": favourable,
               "threshold": threshold, "n_boot": n_boot, "confidence": confidence, "seed": seed,
               "intersections": intersections}
    return AuditOutcome(run=run, report=report, split=split,
                        favourable=str(data.class_names[fav]), sensitive=list(sensitive), request=request)


def fairness_analysis(outcome: AuditOutcome, epoch: int | None = None) -> Analysis:
    """The audit as an :class:`Analysis` to keep with its run."""
    meta = {"report": outcome.report.to_dict(), "split": outcome.split,
            "favourable": outcome.favourable, "sensitive": outcome.sensitive}
    if outcome.request is not None:
        meta["request"] = outcome.request
    meta.update(_evidence(outcome.run))
    return Analysis(id=Analysis.new_id(), kind="fairness", meta=meta, epoch=epoch)


# -------------------------------------------------------------- explanations by group
@dataclass
class GroupExplainOutcome:
    """Attributions of every sample of a split, compared across the groups of a sensitive column."""

    run: Run
    comparison: Any  # engines.explain.GroupAttributionComparison
    explanation: ExplainOutcome  # the per-sample attributions that were compared
    sensitive: str
    split: str
    band_edges: list[float] | None  # where a continuous column was cut into groups
    request: dict[str, Any]  # the arguments that recompute it
    explained_outputs: dict[str, int] | None = None  # output name: number of samples explained for it


def explain_by_group(
    project: Project,
    method: str,
    sensitive: str,
    *,
    split: str = "test",
    run_id: str | None = None,
    layer: str | None = None,
    target: int | None = None,
    background: int | None = None,
    group: bool = True,
    seed: int = 0,
    n_boot: int = 1000,
    n_perm: int = 1000,
    confidence: float = 0.95,
    options: dict[str, Any] | None = None,
    data: Any = None,
    model: Any = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> GroupExplainOutcome:
    """Explain every sample of ``split`` with ``method`` and compare the groups of ``sensitive``.

    The attributions are those of :func:`explain_run` (same baseline, background, grouping
    and seed); the comparison is :func:`engines.explain.compare_groups` with the groups of the
    sensitive column (a continuous column is banded at the training split's quartiles, as
    fairness audits band it). Every group of the column is reported, including groups with no
    sample in the split (size 0). Images and sequences are compared as per-group mean maps.
    """
    import numpy as np

    from engines import explain as ex
    from engines.fairness import FairnessError, encode_sensitive

    if method not in ex.METHODS:
        raise WorkbenchError(f"Unknown method {method!r}; use one of: {', '.join(ex.METHODS)}.")
    data = data if data is not None else load_data(project)
    info = ex.METHODS[method]
    if data.kind not in info.kinds:
        raise WorkbenchError(f"{info.title} explains {' or '.join(info.kinds)} data; this project's data is "
                             f"a {data.kind}: choose another method.")
    idx = np.sort(np.asarray(_split_indices(data, split)))
    if len(idx) == 0:
        raise WorkbenchError(f"The {split} split is empty.")
    _sensitive(data, [sensitive], idx)  # a sensitive column of this data, or one sentence why not
    edges = band_edges(data, [sensitive])
    try:
        encoded = encode_sensitive({sensitive: data.sensitive[sensitive]}, bands=edges, intersections=False)
    except FairnessError as exc:
        raise WorkbenchError(str(exc)) from exc
    levels = encoded.levels[sensitive]
    codes = encoded.joint_members[sensitive][encoded.joint]  # group index of every row
    present = sorted({int(c) for c in codes[idx]})
    if len(present) < 2:
        raise WorkbenchError(
            f"Column {sensitive!r} has only one group ({levels[present[0]]!r}) among the {len(idx)} rows of "
            f"the {split} split; comparing groups needs at least two (try --split all).")

    def part(lo: float, hi: float) -> Callable[[float], None] | None:
        if progress is None:
            return None
        return lambda f: progress(lo + (hi - lo) * min(max(float(f), 0.0), 1.0))

    row_ids = [int(r) for r in data.row_ids[idx]]
    explained = explain_run(project, method, samples=row_ids, split=split, run_id=run_id, layer=layer,
                            target=target, background=background, group=group, seed=seed,
                            options=options, data=data, model=model, progress=part(0.0, 0.85),
                            cancel=cancel)
    pos = _positions(data, split, explained.row_ids)
    labels = [levels[int(c)] for c in codes[pos]]
    try:
        comparison = ex.compare_groups(explained.result.attributions, labels,
                                       feature_names=explained.result.feature_names, group_order=levels,
                                       n_boot=n_boot, n_perm=n_perm, confidence=confidence, seed=seed,
                                       progress=part(0.85, 1.0), cancel=cancel)
    except ex.ExplainError as exc:
        raise WorkbenchError(str(exc)) from exc
    outputs: dict[str, int] = {}
    for name in explained.target_names:
        outputs[name] = outputs.get(name, 0) + 1
    if len(outputs) > 1:  # not like for like: say so where the numbers are read
        counts = ", ".join(f"{k} for {v}" for k, v in sorted(outputs.items()))
        comparison.notes.append(
            f"The explained output is each sample's predicted class ({counts} samples), so attributions "
            "towards different outputs are averaged together; explain one fixed output (a target class) "
            "to compare like with like.")
    request = {"method": method, "sensitive": sensitive, "split": split, "layer": layer, "target": target,
               "background": background, "group": group, "seed": seed, "n_boot": n_boot, "n_perm": n_perm,
               "confidence": confidence, "options": dict(options or {})}
    return GroupExplainOutcome(run=explained.run, comparison=comparison, explanation=explained,
                               sensitive=sensitive, split=split, band_edges=edges.get(sensitive),
                               request=request, explained_outputs=outputs)


def group_explanation_meta(outcome: GroupExplainOutcome) -> dict[str, Any]:
    """Everything that says how a comparison was made (no arrays): method, options, baseline or
    background, seed, split, row ids, sensitive column and its bands, n_boot, n_perm, versions."""
    from engines.explain.by_group import ARRAY_FIELDS

    r = outcome.explanation.result
    comparison = {k: v for k, v in outcome.comparison.to_dict().items() if k not in ARRAY_FIELDS}
    return {
        "comparison": comparison,
        "method": r.method, "title": r.title, "params": r.params, "baseline": r.baseline,
        "value_function": r.value_function, "layer": r.layer, "seed": r.seed,
        "split": outcome.split, "row_ids": list(outcome.explanation.row_ids),
        "sensitive": outcome.sensitive, "band_edges": outcome.band_edges,
        "explained_outputs": dict(outcome.explained_outputs or {}), "n_boot": outcome.comparison.n_boot, "n_perm": outcome.comparison.n_perm,
        "confidence": outcome.comparison.confidence, "versions": dict(r.versions),
        "request": dict(outcome.request),
    }


def group_explanation_analysis(outcome: GroupExplainOutcome, epoch: int | None = None) -> Analysis:
    """The comparison as an :class:`Analysis` of kind ``group_explanation`` (arrays as .npy)."""
    import numpy as np

    from engines.explain.by_group import ARRAY_FIELDS

    c = outcome.comparison
    arrays = {name: np.asarray(getattr(c, name)) for name in ARRAY_FIELDS if getattr(c, name) is not None}
    return Analysis(id=Analysis.new_id(), kind="group_explanation", meta=group_explanation_meta(outcome),
                    arrays=arrays, epoch=epoch)


def group_comparison(analysis: Analysis) -> Any:
    """The :class:`~engines.explain.GroupAttributionComparison` kept in a ``group_explanation``
    analysis, without recomputing anything (WorkbenchError if it cannot be read)."""
    from engines.explain import ExplainError, GroupAttributionComparison

    if analysis.kind != "group_explanation":
        raise WorkbenchError(f"Analysis {analysis.id!r} is a {analysis.kind}, not a group comparison.")
    try:
        return GroupAttributionComparison.from_dict({**dict(analysis.meta.get("comparison") or {}),
                                                     **analysis.arrays})
    except ExplainError as exc:
        raise WorkbenchError(str(exc)) from exc


# ---------------------------------------------------------------------------- mitigation
MITIGATIONS = ("reweighing", "penalty", "threshold")


def _base_config(project: Project, run_id: str | None) -> dict[str, Any]:
    """The training settings of the run to compare with (so only the mitigation differs)."""
    from dataclasses import fields

    from engines.training import TrainConfig

    try:
        base = pick_run(project, run_id)
    except WorkbenchError:
        return {}
    names = {f.name for f in fields(TrainConfig)}
    return {k: v for k, v in base.config.items() if k in names}


def mitigate_run(
    project: Project,
    kind: str,
    sensitive: str,
    *,
    run_id: str | None = None,
    favourable: str | None = None,
    strength: float = 1.0,
    constraint: str = "demographic_parity",
    seed: int = 0,
    name: str | None = None,
    data: Any = None,
    callbacks: Sequence[Any] = (),
    trainer_hook: Any = None,
    add_to_project: bool = True,
) -> Run:
    """A new run that reduces group differences on ``sensitive``, compared with the base run.

    ``reweighing`` trains with Kamiran & Calders weights; ``penalty`` trains with a
    demographic-parity (or equalized-odds, ``constraint="equalized_odds"``) term of the given
    ``strength``; ``threshold`` keeps the base run's weights and fits fairlearn's
    ThresholdOptimizer on the validation split (its seed is kept with the run).
    """
    import numpy as np

    from engines import fairness as fx

    if kind not in MITIGATIONS:
        raise WorkbenchError(f"Unknown mitigation {kind!r}; use one of: {', '.join(MITIGATIONS)}.")
    if _objective(project) != "classification":
        raise WorkbenchError("Mitigation needs a classifier.")
    data = data if data is not None else load_data(project)
    fav = favourable_label(data.class_names, favourable)
    tr, va = data.splits["train"], data.splits["val"]
    info: dict[str, Any] = {"kind": kind, "sensitive": sensitive, "favourable": str(data.class_names[fav]),
                            "seed": seed}
    started = time.perf_counter()
    try:
        if kind == "threshold":
            if len(data.class_names) != 2:
                raise WorkbenchError("The threshold optimizer needs two classes; this data has "
                                     f"{len(data.class_names)}.")
            base = pick_run(project, run_id)
            if len(va) == 0:
                raise WorkbenchError("The threshold optimizer is fitted on the validation split, which is empty.")
            model = model_for(project, base)
            sens_va = _sensitive(data, [sensitive], va)[sensitive]
            rule = fx.threshold_optimizer((data.y[va] == fav).astype(np.int64), favourable_scores(model, data.X[va], fav),
                                          {sensitive: sens_va}, constraint=constraint, favourable=1, seed=seed,
                                          bands=band_edges(data, [sensitive]))
            info.update(constraint=constraint, base_run=base.id)
            decided = rule.predict(favourable_scores(model, data.X[va], fav), {sensitive: sens_va})
            truth = (data.y[va] == fav).astype(np.int64)
            tp = int(((decided == 1) & (truth == 1)).sum())
            metrics = {k: v for k, v in base.metrics.items() if k not in ("accuracy", "f1", "confusion")}
            metrics["accuracy"] = float((decided == truth).mean())
            denom = 2 * tp + int(((decided == 1) & (truth == 0)).sum()) + int(((decided == 0) & (truth == 1)).sum())
            metrics["f1"] = 2 * tp / denom if denom else float("nan")
            run = Run(
                id=Run.new_id(),
                name=name or f"{base.name} + threshold optimizer",
                config={**base.config, "mitigation": info, "postprocess": rule.to_dict()},
                status="completed",
                message=f"Thresholds per group fitted on the validation split ({constraint.replace('_', ' ')}).",
                history=base.history,
                metrics=metrics,
                weights={k: v.clone() for k, v in (base.weights or {}).items()},
                data_fingerprint=base.data_fingerprint,
            )
            run.provenance = run_provenance(run, metrics_split="val", metrics_rows=int(len(va)),
                                            seed=base.config.get("seed"), recipe="threshold_optimizer")
            if add_to_project:
                project.add_run(run)
                project.active_run = run.id
            return run
        sens_tr = _sensitive(data, [sensitive], tr)[sensitive]
        y_tr = (data.y[tr] == fav).astype(np.int64)
        overrides = _base_config(project, run_id)
        # the comparison is with the base run: same training seed; the option seed is not used
        info["seed"] = overrides.get("seed", project.train_config.get("seed", 0))
        bands = band_edges(data, [sensitive])
        info["band_edges"] = bands
        if kind == "reweighing":
            weights = fx.reweighing_weights(y_tr, {sensitive: sens_tr}, bands=bands)
            outcome = train_run(project, name=name or "reweighing", data=data, callbacks=callbacks,
                                trainer_hook=trainer_hook, add_to_project=False, sample_weight=weights,
                                overrides=overrides)
        else:
            kind_id = "eo" if constraint == "equalized_odds" else "dp"
            penalty = fx.FairnessPenalty({sensitive: sens_tr}, kind=kind_id, strength=strength, favourable=fav,
                                         bands=bands)
            info.update(constraint=constraint, strength=strength)
            outcome = train_run(project, name=name or f"fairness penalty ({kind_id}, {strength:g})", data=data,
                                callbacks=callbacks, trainer_hook=trainer_hook, add_to_project=False,
                                loss_terms=[penalty], overrides=overrides)
    except ValueError as exc:
        if isinstance(exc, WorkbenchError):
            raise
        raise WorkbenchError(str(exc)) from exc
    run = outcome.run
    run.config["mitigation"] = info
    run.message = (run.message + f" Mitigation: {kind} on {sensitive!r} in {time.perf_counter() - started:.1f} s.").strip()
    if add_to_project:
        project.add_run(run)
        project.active_run = run.id
    return run


# ------------------------------------------------------------------------- live, per epoch
def live_callbacks(data: Any, spec: Any, sink: Callable[[str, int, dict[str, Any]], None]) -> list[Any]:
    """Training callbacks that explain pinned samples and measure fairness at each epoch end.

    ``spec`` is plain data (it crosses to the training process): a list of pinned requests,
    ``{"kind": "explanation", "methods": [...], "row_ids": [...], "split": "test", "layer":
    None, "seed": 0}`` and ``{"kind": "fairness", "sensitive": [...], "favourable": index,
    "threshold": 0.5, "split": "val"}``. Results go to ``sink(kind, epoch, payload)`` in the
    training thread, ``epoch`` counting completed epochs (1 after the first):
    ``("explanation", epoch, {"method", "result": AttributionResult.to_dict(), "row_ids",
    "inputs", "split", "labels", "target_names"})`` and ``("fairness", epoch,
    {"point_metrics": FairnessReport.to_dict()})``. A failing live analysis reports
    ``(kind, epoch, {"error": message})`` once and stops; it never stops the training, and
    it leaves the training's random stream as it was.
    """
    out: list[Any] = []
    for item in spec or []:
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind == "explanation":
            out.append(_LiveExplanations(data, item, sink))
        elif kind == "fairness":
            out.append(_live_fairness(data, item, sink))
    return out


def _live_fairness(data: Any, spec: dict[str, Any], sink: Callable[[str, int, dict[str, Any]], None]) -> Any:
    from engines.fairness import FairnessTracker

    idx = _split_indices(data, spec.get("split", "val"))
    if len(idx) == 0:
        idx = _split_indices(data, "test")
    sens = _sensitive(data, list(spec.get("sensitive", [])), idx)
    fav = int(spec.get("favourable", 1))

    def report(epoch: int, rep: Any) -> None:
        sink("fairness", epoch + 1, {"point_metrics": rep.to_dict()})

    return FairnessTracker(data.X[idx], data.y[idx], sens, favourable=fav,
                           threshold=float(spec.get("threshold", 0.5)),
                           intersections=bool(spec.get("intersections", True)) and len(sens) > 1,
                           bands=band_edges(data, list(sens)), on_update=report)


class _LiveExplanations:
    """Explains the pinned samples with each pinned method after every epoch.

    A training callback (the hooks of ``engines.training.Callback``), written without
    subclassing it so that importing this module does not import torch.
    """

    def __init__(self, data: Any, spec: dict[str, Any], sink: Callable[[str, int, dict[str, Any]], None]) -> None:
        from engines import explain as ex

        self.sink, self.data = sink, data
        self.methods = [m for m in spec.get("methods", []) if m in ex.METHODS]
        self.split = str(spec.get("split", "test"))
        self.row_ids = [int(r) for r in spec.get("row_ids", [])]
        self.layer = spec.get("layer")
        self.seed = int(spec.get("seed", 0))
        self.failed = False

    def on_train_start(self, trainer: Any) -> None:
        """Nothing to do before training."""

    def on_step_end(self, trainer: Any, step: dict[str, Any]) -> None:
        """Nothing to do per step."""

    def on_train_end(self, trainer: Any, result: Any) -> None:
        """Nothing to do at the end."""

    def on_epoch_end(self, trainer: Any, epoch: dict[str, Any]) -> None:
        if self.failed or not self.methods or not self.row_ids:
            return
        import torch

        from engines import explain as ex

        done = int(epoch["epoch"]) + 1
        model = trainer.model
        was_training = model.training
        model.eval()
        placeholder = Project.new("live", _EMPTY_GRAPH(), train_config={"objective": trainer.objective})
        placeholder.add_run(Run(id="live", name="live"))
        method = self.methods[0]
        try:
            with torch.random.fork_rng(devices=[]):
                for method in self.methods:
                    out = explain_run(
                        placeholder, method, samples=self.row_ids, split=self.split, run_id="live",
                        layer=self.layer if ex.METHODS[method].needs_layer else None,
                        seed=self.seed, data=self.data, model=model,
                    )
                    self.sink("explanation", done, {
                        "method": method, "result": out.result.to_dict(), "row_ids": out.row_ids,
                        "inputs": out.inputs.tolist(), "split": out.split, "labels": out.labels,
                        "target_names": out.target_names,
                    })
        except Exception as exc:  # a live view must never stop the training
            self.failed = True
            self.sink("explanation", done, {"method": method, "error": f"Live explanations stopped: {exc}"})
        finally:
            model.train(was_training)


def _EMPTY_GRAPH() -> Any:  # noqa: N802 (a constructor-like helper)
    from engines.graph import Graph

    return Graph()
