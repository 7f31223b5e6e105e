"""``build_report``: everything an auditor needs about one run, as one canonical dict.

Each section is present in every report. A section that cannot be assessed says so with
``"status": "not assessed"`` and a one-sentence ``"reason"``; one that is partly there is
``"incomplete"``. Nothing here retrains: numbers come from what the project stores (the
run's metrics and curves, stored fairness audits and explanations). Evaluating the model
once on the test split is optional (``recompute=True``) and marked as recomputation.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench import APP_NAME, __version__
from workbench.core.project import Analysis, Project, Run
from workbench.core.report.canonical import canonicalise, number
from workbench.core.session import WorkbenchError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "KNOWN_LIMITS",
    "MIN_GROUP_SIZE",
    "SECTION_TITLES",
    "ReportError",
    "build_report",
    "library_versions",
    "parse_time",
]

FORMAT = "model-workbench-audit-report"
FORMAT_VERSION = 1
#: A group with fewer rows than this is reported as "insufficient data".
MIN_GROUP_SIZE = 30
ASSESSED, INCOMPLETE, NOT_ASSESSED = "assessed", "incomplete", "not assessed"
NOT_FILLED = "not filled in by the analyst"
#: Points kept of a step curve (bucket means); epoch curves are kept whole.
MAX_CURVE_POINTS = 200
_Z95 = 1.959963984540054

#: Section ids in report order, with their headings.
SECTION_TITLES: dict[str, str] = {
    "identity": "Identity and versions",
    "intended_use": "Intended use and limitations",
    "datasheet": "Datasheet",
    "architecture": "Architecture",
    "training": "Training",
    "performance": "Performance on the test split",
    "fairness": "Performance by group and fairness",
    "explanations": "Explanations",
    "group_explanations": "Explanations compared across groups",
    "mitigations": "Mitigations compared",
    "verification": "Verification",
    "findings": "Findings and sign-off",
}

METRIC_LABELS = {
    "selection_rate": "Selection rate",
    "accuracy": "Accuracy",
    "tpr": "True-positive rate",
    "fpr": "False-positive rate",
    "fnr": "False-negative rate",
    "precision": "Precision",
    "calibration_error": "Calibration error",
    "f1": "F1 (macro)",
    "auc": "AUC",
    "loss": "Loss",
    "mae": "Mean absolute error",
    "r2": "R²",
    "mse": "Mean squared error",
}
DIFFERENCE_LABELS = {
    "dp_difference": "Demographic-parity difference",
    "dp_ratio": "Demographic-parity ratio",
    "eo_difference": "Equalized-odds difference",
    "eop_difference": "Equal-opportunity difference",
    "di_ratio": "Disparate-impact ratio",
}

#: One sentence per attribution method on what its numbers cannot tell.
KNOWN_LIMITS: dict[str, str] = {
    "saliency": "Gradients show the model's local sensitivity at the input, not how much a feature contributed, and vanish where the output saturates.",
    "ixg": "Input × gradient is exact only for a linear model with a zero baseline; elsewhere it is a first-order approximation that depends on the input's scale.",
    "ig": "Integrated gradients depend on the chosen baseline and on the straight path from it, which can pass through inputs the model never saw.",
    "smoothgrad": "SmoothGrad averages over noise of a chosen size, so its maps depend on that noise level and the seed, and they do not add up to the output change.",
    "deeplift": "DeepLIFT's rescale rule depends on the baseline and on the layer types it passes through, and can disagree with Shapley values when features interact.",
    "deepliftshap": "DeepLIFT-SHAP approximates Shapley values by averaging DeepLIFT over background rows, which assumes independent features and a model close to linear between them.",
    "gradshap": "GradientSHAP is a sampled estimate of expected gradients: it adds up to the output change only in expectation and varies with the seed and the number of samples.",
    "kernelshap": "KernelSHAP is a sampled weighted regression, so its values carry sampling error, and absent features take baseline values regardless of how features correlate.",
    "shapley": "Shapley values share the output change fairly under the chosen value function, but absent features take baseline or background values that can form inputs unlike the data, and above 15 groups they are estimated.",
    "lime": "LIME fits a local linear surrogate to random perturbations; its result depends on the kernel, the number of samples and the seed, and can change between runs.",
    "occlusion": "Occlusion replaces one window at a time with the baseline, so it misses interactions and depends on the window size and the baseline.",
    "ablation": "Feature ablation removes one feature or group at a time, so it misses interactions between features and depends on the value that replaces them.",
    "gradcam": "Grad-CAM shows where one convolutional layer's activations matter at that layer's coarse resolution, upsampled; it says nothing about individual input values.",
}
_UNKNOWN_METHOD_LIMIT = "The limits of this method are not documented in this version of the report."

_SEVERITIES = ("high", "medium", "low", "info")
_LIBRARIES = (("torch", "torch"), ("numpy", "numpy"), ("captum", "captum"),
              ("fairlearn", "fairlearn"), ("fpdf2", "fpdf2"))


class ReportError(WorkbenchError):
    """A report cannot be written as asked; the message says why in one sentence."""


# --------------------------------------------------------------------------- small helpers
def parse_time(value: str | datetime | None) -> str:
    """The report time as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds).

    ``None`` is now. Text is ISO 8601 (``2025-01-31T12:00:00Z``, ``2025-01-31T13:00:00+01:00``,
    ``2025-01-31``); a time without a zone is taken as UTC.
    """
    if value is None:
        moment = datetime.now(UTC)
    elif isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ReportError(
                f"The report time {text!r} is not an ISO-8601 date and time; write it like "
                "2025-01-31T12:00:00Z."
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries the numbers depend on (without importing them)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for key, dist in _LIBRARIES:
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = "not installed"
    return out


def _section(sid: str, status: str, reason: str | None = None, **content: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": sid, "title": SECTION_TITLES[sid], "status": status}
    if reason:
        out["reason"] = reason
    out.update(content)
    return out


def _not_assessed(sid: str, reason: str) -> dict[str, Any]:
    return _section(sid, NOT_ASSESSED, reason)


def _value(v: Any, ci: Any = None, reason: str | None = None) -> dict[str, Any]:
    """A number with its interval; an undefined number is null with a reason."""
    x = number(v)
    out: dict[str, Any] = {"value": x}
    if isinstance(ci, list | tuple) and len(ci) == 2:
        lo, hi = number(ci[0]), number(ci[1])
        out["ci"] = [lo, hi] if lo is not None and hi is not None else None
    if x is None:
        out["reason"] = reason or ("not stored" if v is None else "undefined (not a finite number)")
    return out


def _wilson(correct: int, n: int) -> list[float] | None:
    """95 % Wilson score interval of a proportion."""
    if n <= 0:
        return None
    p = correct / n
    denom = 1 + _Z95**2 / n
    centre = (p + _Z95**2 / (2 * n)) / denom
    half = _Z95 * math.sqrt(p * (1 - p) / n + _Z95**2 / (4 * n * n)) / denom
    return [max(0.0, centre - half), min(1.0, centre + half)]


def _confusion_accuracy(confusion: Any) -> tuple[int, int] | None:
    if not isinstance(confusion, list) or not confusion:
        return None
    try:
        rows = [[int(c) for c in row] for row in confusion]
    except (TypeError, ValueError):
        return None
    n = sum(sum(r) for r in rows)
    correct = sum(r[i] for i, r in enumerate(rows) if i < len(r))
    return correct, n


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _final(analyses: Sequence[Analysis], kind: str) -> list[Analysis]:
    """Analyses of ``kind`` made after training (per-epoch live ones are summarised only)."""
    return [a for a in analyses if a.kind == kind and a.epoch is None]


def _stored(run: Run, audit: Any, kind: str) -> list[tuple[Analysis, str]]:
    """The run's analyses of ``kind`` made after training, then the auditor's own (from the
    audit file), each with where it is kept."""
    own = getattr(audit, "analyses", None) if audit is not None else None
    extra = own.get(run.id, []) if isinstance(own, Mapping) else []
    return ([(a, "project") for a in _final(run.analyses, kind)]
            + [(a, "audit file") for a in _final([a for a in extra if isinstance(a, Analysis)], kind)])


def _is_mitigation(run: Run) -> bool:
    return isinstance(run.config.get("mitigation"), dict)


# ------------------------------------------------------------------------ archive digests
def archive_digests(project: Project, project_path: Path | None) -> dict[str, Any]:
    """sha256 of the project file, each run's weights and the data, as the manifest lists them.

    Weights are the safetensors bytes stored in the archive (``runs/<id>/weights.safetensors``);
    a run not in the saved file is serialised as saving would write it. The data is each
    embedded file, or the data fingerprint when nothing is embedded.
    """
    stored: dict[str, str] = {}
    file_sha: str | None = None
    if project_path is not None:
        try:
            file_sha = _file_sha256(project_path)
            with zipfile.ZipFile(project_path) as zf:
                for info in zf.infolist():
                    name = info.filename
                    if name.endswith("weights.safetensors") or name.startswith("data/"):
                        h = hashlib.sha256()
                        with zf.open(info) as f:
                            while chunk := f.read(1 << 20):
                                h.update(chunk)
                        stored[name] = h.hexdigest()
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            raise ReportError(f"Cannot read the project file {project_path.name!r}: {exc}.") from exc
    runs = []
    for run in project.runs:
        entry = f"runs/{run.id}/weights.safetensors"
        item: dict[str, Any] = {"id": run.id, "name": run.name, "entry": entry}
        if entry in stored:
            item.update(sha256=stored[entry], source="stored in the project file")
        elif run.weights is not None:
            from workbench.core.project import _weights_bytes

            item.update(sha256=hashlib.sha256(_weights_bytes(run.weights, run.id)).hexdigest(),
                        source="serialised from memory (not in the saved project file)")
        else:
            item.update(sha256=None, source="the run has no weights")
        runs.append(item)
    data: list[dict[str, Any]] = []
    for name, blob in sorted(project.embedded.items()):
        data.append({"name": name, "sha256": stored.get(name) or hashlib.sha256(blob).hexdigest(),
                     "kind": "embedded data", "size": len(blob)})
    if not data and project.data_fingerprint:
        data.append({"name": "data fingerprint", "sha256": project.data_fingerprint,
                     "kind": "data fingerprint"})
    return {"file_sha256": file_sha, "runs": runs, "data": data}


# ------------------------------------------------------------------------------ sections
def _identity(project: Project, project_path: Path | None, run: Run | None, digests: dict[str, Any],
              time: str) -> dict[str, Any]:
    spec = project.data or {}
    file_info: dict[str, Any] = {"name": project_path.name if project_path else None,
                                 "sha256": digests["file_sha256"]}
    if project_path is None:
        file_info["reason"] = "the project has not been saved to a file"
    return _section(
        "identity", ASSESSED,
        project={"name": project.name, "file": file_info, "created": project.created,
                 "modified": project.modified, "written_by": project.app_version},
        run=None if run is None else {"id": run.id, "name": run.name, "created": run.created,
                                      "status": run.status, "message": run.message},
        runs=[{"id": r["id"], "name": r["name"], "weights_sha256": r["sha256"],
               "weights_source": r["source"],
               "mitigation": _is_mitigation(project.run(r["id"]))} for r in digests["runs"]],
        data={"source": spec.get("source"), "name": spec.get("name") or (Path(str(spec["path"])).name
                                                                         if spec.get("path") else None),
              "target": spec.get("target"), "fingerprint": project.data_fingerprint,
              "files": digests["data"]},
        application={"name": APP_NAME, "version": __version__},
        libraries=library_versions(),
        report_time=time,
    )


def _intended_use(project: Project) -> dict[str, Any]:
    card = project.ui.get("model_card", {}) if isinstance(project.ui, dict) else {}
    card = card if isinstance(card, dict) else {}
    fields = []
    for key, label in (("intended_use", "Intended use"), ("limitations", "Limitations")):
        text = card.get(key)
        text = text.strip() if isinstance(text, str) else ""
        fields.append({"key": key, "label": label, "text": text, "filled": bool(text),
                       "flag": None if text else NOT_FILLED})
    missing = [str(f["label"]) for f in fields if not f["filled"]]
    if not missing:
        return _section("intended_use", ASSESSED, fields=fields)
    return _section("intended_use", INCOMPLETE, f"{' and '.join(missing)}: {NOT_FILLED}.", fields=fields)


def _datasheet(project: Project, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The datasheet of the project's data: ``given`` (already computed, e.g. by the Data dock)
    when it describes this data, else computed by :func:`workbench.core.datasheet.project_datasheet`."""
    sheet: Any = given
    fp = given.get("fingerprint") if isinstance(given, Mapping) else None
    if sheet is None or (fp and project.data_fingerprint and fp != project.data_fingerprint):
        try:
            from workbench.core.datasheet import project_datasheet
        except ImportError:
            return _not_assessed("datasheet", "The datasheet (workbench.core.datasheet) is not available "
                                 "in this version of Model Workbench.")
        try:
            sheet = project_datasheet(project)
            if hasattr(sheet, "to_dict"):
                sheet = sheet.to_dict()
        except Exception as exc:  # another module's defect must not stop the report
            return _not_assessed("datasheet", f"The datasheet could not be made: {_one_line(exc)}")
    if not isinstance(sheet, Mapping):
        return _not_assessed("datasheet", f"The datasheet is a {type(sheet).__name__}, not a table of fields.")
    flags = sheet.get("flags")
    return _section("datasheet", ASSESSED, content=canonicalise(sheet),
                    flags=len(flags) if isinstance(flags, list) else 0)


def _architecture(project: Project) -> dict[str, Any]:
    from engines.catalog import get_layer
    from engines.shapes import analyse

    report = analyse(project.graph)
    graph = project.graph
    order = list(report.order) + [n for n in graph.nodes if n not in report.order]
    layers = []
    for nid in order:
        node = graph.nodes[nid]
        try:
            title = get_layer(node.type).title
        except Exception:  # an unknown layer type is already a problem in the report
            title = node.type
        shape = report.node_shapes.get(nid)
        layers.append({
            "id": nid, "type": node.type, "title": title, "params": canonicalise(node.params),
            "output_shape": None if shape is None else [int(s) for s in shape],
            "parameters": int(report.param_counts.get(nid, 0)),
            "flops": None if nid not in report.flops else int(report.flops[nid]),
        })
    edges = [{"src": e.src, "dst": e.dst,
              "shape": [int(s) for s in report.edge_shapes[e]] if e in report.edge_shapes else None}
             for e in graph.edges]
    status, reason = ASSESSED, None
    if report.errors:
        status, reason = INCOMPLETE, "The graph has problems; shapes and counts are missing where they occur."
    return _section(
        "architecture", status, reason, layers=layers, edges=edges,
        total_parameters=int(report.total_params), total_flops=int(report.total_flops),
        flops_note="Floating-point operations per sample of the layers whose cost is known "
                   "(a lower bound of the total).",
        problems=[{"node": p.node_id, "kind": p.kind, "severity": p.severity, "message": p.message}
                  for p in report.problems],
    )


def _downsample(xs: Sequence[Any], ys: Sequence[Any], limit: int = MAX_CURVE_POINTS) -> tuple[list[Any], list[Any]]:
    n = len(ys)
    if n <= limit:
        return list(xs), list(ys)
    out_x, out_y = [], []
    for i in range(limit):
        lo, hi = i * n // limit, (i + 1) * n // limit
        vals = [float(v) for v in ys[lo:hi] if number(v) is not None]
        out_x.append(xs[lo])
        out_y.append(sum(vals) / len(vals) if vals else None)
    return out_x, out_y


def _training(run: Run | None) -> dict[str, Any]:
    if run is None:
        return _not_assessed("training", "The project has no trained run.")
    config = {k: v for k, v in run.config.items() if k != "postprocess"}
    epoch = run.history.get("epoch", {}) if isinstance(run.history, dict) else {}
    curves: dict[str, list[Any]] = {}
    for key, values in (epoch or {}).items():
        if key in ("epoch", "confusion", "grad_norm", "epoch_time", "samples_per_sec"):
            continue
        if isinstance(values, list) and values and all(
                isinstance(v, int | float) or v is None for v in values):
            curves[key] = [number(v) for v in values]
    n_epochs = max((len(v) for v in curves.values()), default=0)
    step = run.history.get("step", {}) if isinstance(run.history, dict) else {}
    step_curve = None
    if isinstance(step, dict) and isinstance(step.get("loss"), list) and step["loss"]:
        losses = step["loss"]
        given = step.get("step")
        steps: list[Any] = given if isinstance(given, list) and len(given) == len(losses) else list(range(len(losses)))
        xs, ys = _downsample(steps, losses)
        step_curve = {"step": xs, "loss": [number(v) for v in ys], "points": len(ys),
                      "downsampled_from": len(losses) if len(losses) > len(ys) else None}
    metrics = {k: v for k, v in run.metrics.items() if k != "confusion"}
    final = {k: _value(v) for k, v in metrics.items() if not isinstance(v, list | dict)}
    acc = _confusion_accuracy(run.metrics.get("confusion"))
    if acc is not None and "accuracy" in final:
        final["accuracy"]["ci"] = _wilson(*acc)
        final["accuracy"]["ci_method"] = "Wilson score interval, 95 %"
        final["accuracy"]["n"] = acc[1]
    postprocess = "postprocess" in run.config
    return _section(
        "training", ASSESSED, config=config, seed=run.config.get("seed"), status_text=run.status,
        message=run.message, epochs=n_epochs, curves=curves, step_loss=step_curve,
        final_metrics={"split": "validation", "values": final,
                       "confusion": run.metrics.get("confusion"),
                       "note": "Stored when the run was trained (the saved weights on the validation split)."
                       + (" The run decides with per-group thresholds fitted on the validation split."
                          if postprocess else "")},
    )


def _overall_from_audit(a: Analysis) -> dict[str, Any] | None:
    rep = a.meta.get("report") if isinstance(a.meta, dict) else None
    if not isinstance(rep, dict):
        return None
    overall = rep.get("overall") or {}
    intervals = rep.get("overall_intervals") or {}
    reasons = rep.get("overall_reasons") or {}
    metrics = {k: _value(v, intervals.get(k), reasons.get(k)) for k, v in overall.items()
               if k != "size" and not isinstance(v, dict | list)}
    return {
        "source": "stored fairness audit", "analysis": a.id, "split": a.meta.get("split"),
        "n": number(overall.get("size", rep.get("n_rows"))), "confidence": number(rep.get("confidence")),
        "n_boot": number(rep.get("n_boot")), "threshold": number(rep.get("threshold")),
        "favourable": a.meta.get("favourable"), "metrics": metrics,
        "ci_method": "percentile bootstrap" if rep.get("n_boot") else None, "recomputed": False,
    }


def _performance(project: Project, run: Run | None, audit_file: Any, recompute: bool) -> dict[str, Any]:
    if run is None:
        return _not_assessed("performance", "The project has no trained run.")
    sources = []
    for a, where in _stored(run, audit_file, "fairness"):
        src = _overall_from_audit(a)
        if src is not None and src["split"] == "test":
            sources.append({**src, "kept_in": where})
    if recompute:
        sources.append(_recomputed(project, run))
    if sources:
        return _section("performance", ASSESSED, sources=sources, recomputed=recompute)
    return _section(
        "performance", INCOMPLETE,
        "No test-split numbers are stored with this run (no fairness audit on the test split); "
        "the validation metrics stored at training are in the Training section, and --recompute "
        "evaluates the model once on the test split.",
        sources=[], recomputed=False)


def _recomputed(project: Project, run: Run) -> dict[str, Any]:
    from workbench.core.session import evaluate_run

    result = evaluate_run(project, split="test", run_id=run.id)
    metrics = result["metrics"]
    values = {k: _value(v) for k, v in metrics.items() if not isinstance(v, list | dict)}
    acc = _confusion_accuracy(metrics.get("confusion"))
    if acc is not None and "accuracy" in values:
        values["accuracy"]["ci"] = _wilson(*acc)
    note = "The model was evaluated once on the test split while writing this report."
    if "postprocess" in run.config:
        note += " This run decides with per-group thresholds; these metrics are of the model's own predictions."
    return {"source": "recomputed", "analysis": None, "split": "test", "n": result["n"],
            "confidence": 0.95 if acc else None, "n_boot": None, "threshold": None, "favourable": None,
            "metrics": values, "confusion": metrics.get("confusion"),
            "ci_method": "Wilson score interval (accuracy only)" if acc else None,
            "recomputed": True, "note": note}


def _difference(name: str, d: Any) -> dict[str, Any]:
    d = d if isinstance(d, dict) else {}
    out = _value(d.get("value"), d.get("ci"), d.get("reason"))
    out.update(name=name, label=DIFFERENCE_LABELS.get(name, name), p_value=number(d.get("p_value")),
               left_out=d.get("left_out") or [])
    if d.get("reason"):
        out["note"] = d["reason"]
    signed = d.get("signed")
    if isinstance(signed, dict):
        out["signed"] = {"order": list(signed.get("order") or []),
                         **_value(signed.get("value"), signed.get("ci"))}
    if "four_fifths_ok" in d:
        out["four_fifths_ok"] = d["four_fifths_ok"] if isinstance(d["four_fifths_ok"], bool) else None
        out["lowest"], out["highest"] = d.get("lowest"), d.get("highest")
    return out


def _audit(a: Analysis) -> dict[str, Any] | None:
    rep = a.meta.get("report") if isinstance(a.meta, dict) else None
    if not isinstance(rep, dict):
        return None
    by_group = rep.get("by_group") or {}
    intervals = rep.get("intervals") or {}
    reasons = rep.get("reasons") or {}
    differences = rep.get("differences") or {}
    features = []
    insufficient = 0
    for feature, groups in by_group.items():
        rows = []
        for group, values in (groups or {}).items():
            size = int(number(values.get("size")) or 0)
            small = size < MIN_GROUP_SIZE
            insufficient += small
            ci = intervals.get(feature, {}).get(group, {})
            why = reasons.get(feature, {}).get(group, {})
            rows.append({
                "name": group, "size": size, "insufficient": small,
                "status": f"insufficient data (fewer than {MIN_GROUP_SIZE} rows)" if small else "ok",
                "metrics": {k: _value(v, ci.get(k), why.get(k)) for k, v in values.items() if k != "size"},
            })
        diffs = [_difference(name, d) for name, d in (differences.get(feature) or {}).items()]
        features.append({"name": feature, "groups": rows, "differences": diffs,
                         "intersection": feature in (rep.get("intersections") or [])})
    return {
        "analysis": a.id, "created": a.created, "split": a.meta.get("split"),
        "favourable": a.meta.get("favourable"), "sensitive": a.meta.get("sensitive") or rep.get("columns"),
        "threshold": number(rep.get("threshold")), "n_boot": number(rep.get("n_boot")),
        "n_perm": number(rep.get("n_perm")), "confidence": number(rep.get("confidence")),
        "seed": number(rep.get("seed")), "n_rows": number(rep.get("n_rows")),
        "band_edges": canonicalise(rep.get("band_edges") or {}), "notes": list(rep.get("notes") or []),
        "features": features, "insufficient_groups": insufficient,
    }


def _fairness(run: Run | None, audit_file: Any) -> dict[str, Any]:
    if run is None:
        return _not_assessed("fairness", "The project has no trained run.")
    stored = _stored(run, audit_file, "fairness")
    live = sum(1 for a in run.analyses if a.kind == "fairness" and a.epoch is not None)
    audits = []
    for a, source in stored:
        read = _audit(a)
        if read is not None:
            audits.append({**read, "source": source})
    extra: dict[str, Any] = {"min_group_size": MIN_GROUP_SIZE,
                             "live_analyses_left_out": live,
                             "ci_note": "Group metrics: percentile bootstrap intervals. Differences and "
                                        "ratios: bias-corrected bootstrap intervals; p: permutation test of "
                                        "no difference between groups. Signed differences (two groups) use "
                                        "percentile intervals and contain 0 when the groups do not differ."}
    if not audits:
        why = "No fairness audit is stored with this run (workbench fairness --save)."
        if stored:
            why = "The stored fairness audits of this run cannot be read."
        return _section("fairness", NOT_ASSESSED, why, audits=[], **extra)
    return _section("fairness", ASSESSED, audits=audits, **extra)


def _importance(a: Analysis) -> dict[str, Any]:
    import numpy as np

    attributions = a.arrays.get("attributions")
    if attributions is None:
        return {"status": NOT_ASSESSED, "reason": "The attributions are not stored with the analysis."}
    arr = np.asarray(attributions, dtype=np.float64)
    names = a.meta.get("feature_names")
    if arr.ndim == 2 and isinstance(names, list) and len(names) == arr.shape[1]:
        mean_abs = np.nanmean(np.abs(arr), axis=0) if arr.shape[0] else np.zeros(arr.shape[1])
        pairs = sorted(zip([str(n) for n in names], mean_abs.tolist(), strict=True),
                       key=lambda kv: (-kv[1], kv[0]))
        return {"status": ASSESSED, "kind": "per feature",
                "features": [{"name": n, "value": number(v)} for n, v in pairs]}
    if arr.size == 0:
        return {"status": NOT_ASSESSED, "reason": "The stored attributions are empty."}
    return {"status": INCOMPLETE, "kind": "map", "shape": list(arr.shape[1:]),
            "mean_abs": number(float(np.nanmean(np.abs(arr)))),
            "reason": "The attributions are maps over the input (image or sequence): a per-feature "
                      "global importance is not defined; the mean |attribution| over all positions is given."}


def _completeness(meta: dict[str, Any]) -> dict[str, Any]:
    delta = meta.get("delta")
    if not isinstance(delta, list) or not delta:
        return {"max_abs": None, "mean_abs": None,
                "reason": "The method does not define a completeness gap (its attributions need not "
                          "add up to the output change)."}
    vals = [abs(float(v)) for v in delta if number(v) is not None]
    if not vals:
        return {"max_abs": None, "mean_abs": None, "reason": "Every completeness gap is undefined."}
    return {"max_abs": number(max(vals)), "mean_abs": number(sum(vals) / len(vals)), "reason": None,
            "definition": "sum(attributions) − (F(x) − reference), per sample"}


def _explanations(run: Run | None, audit_file: Any) -> dict[str, Any]:
    if run is None:
        return _not_assessed("explanations", "The project has no trained run.")
    stored = _stored(run, audit_file, "explanation")
    live = sum(1 for a in run.analyses if a.kind == "explanation" and a.epoch is not None)
    items = []
    for a, source in stored:
        meta = a.meta if isinstance(a.meta, dict) else {}
        method = str(meta.get("method", "?"))
        checks = None
        for key in ("checks", "quality", "quality_checks"):
            if isinstance(meta.get(key), dict | list):
                checks = canonicalise(meta[key])
                break
        given = meta.get("params")
        params: dict[str, Any] = given if isinstance(given, dict) else {}
        items.append({
            "analysis": a.id, "source": source, "created": a.created, "method": method,
            "title": str(meta.get("title", method)),
            "samples": len(meta.get("row_ids") or meta.get("outputs") or []),
            "split": meta.get("split"), "baseline": meta.get("baseline"),
            "value_function": meta.get("value_function"), "seed": number(meta.get("seed")),
            "layer": meta.get("layer"),
            "params": canonicalise({k: v for k, v in params.items() if k != "groups"}),
            "versions": canonicalise(meta.get("versions") or {}),
            "importance": _importance(a), "completeness": _completeness(meta),
            "checks": checks if checks is not None else {"status": NOT_ASSESSED,
                                                         "reason": "No quality checks are stored with this explanation."},
            "limits": KNOWN_LIMITS.get(method, _UNKNOWN_METHOD_LIMIT),
        })
    extra: dict[str, Any] = {
        "live_analyses_left_out": live,
        "importance_definition": "Global importance: mean |attribution| per feature over the explained samples."}
    if not items:
        return _section("explanations", NOT_ASSESSED,
                        "No explanation is stored with this run (workbench explain --save).", items=[], **extra)
    return _section("explanations", ASSESSED, items=items, **extra)


def _group_explanation(a: Analysis, source: str) -> dict[str, Any]:
    """One stored comparison of attributions across groups, read without recomputing."""
    import numpy as np

    meta = a.meta if isinstance(a.meta, dict) else {}
    item: dict[str, Any] = {"analysis": a.id, "source": source, "created": a.created,
                            "method": meta.get("method"), "title": meta.get("title") or meta.get("method"),
                            "sensitive": meta.get("sensitive"), "split": meta.get("split"),
                            "baseline": meta.get("baseline"), "samples": len(meta.get("row_ids") or [])}
    try:
        from engines.explain import GroupAttributionComparison

        c = GroupAttributionComparison.from_dict({**dict(meta.get("comparison") or {}), **a.arrays})
    except Exception as exc:  # an older or foreign record: say so, never stop the report
        item.update(status=NOT_ASSESSED, reason=f"The stored comparison cannot be read: {_one_line(exc)}")
        return item
    groups = [{"name": str(g), "size": int(n), "insufficient": int(n) < MIN_GROUP_SIZE}
              for g, n in zip(c.groups, c.sizes, strict=False)]
    item.update(status=ASSESSED, groups=groups, n_boot=c.n_boot, n_perm=c.n_perm, confidence=c.confidence,
                seed=c.seed, statistic=c.statistic, p_rule=c.p_rule, correction=c.correction,
                notes=list(c.notes), reasons=dict(c.reasons), is_map=c.is_map)
    if c.is_map:
        item.update(map_shape=list(c.map_shape or []), map_test=canonicalise(c.map_test or {}))
        return item

    def arr(x: Any) -> Any:
        return None if x is None else np.asarray(x, dtype=np.float64)

    mean_abs, ci_abs = arr(c.mean_abs), arr(c.mean_abs_ci)
    diff, diff_abs = arr(c.difference), arr(c.difference_abs)
    p, p_holm, p_abs, p_holm_abs = arr(c.p_value), arr(c.p_holm), arr(c.p_value_abs), arr(c.p_holm_abs)
    between, between_abs = arr(c.between), arr(c.between_abs)

    def pair(b: Any, j: int) -> list[str] | None:
        if b is None or not np.all(np.isfinite(b[j])):
            return None
        return [str(c.groups[int(b[j][0])]), str(c.groups[int(b[j][1])])]

    features = []
    for j in c.order("abs"):
        features.append({
            "name": str(c.features[j]),
            "mean_abs": [_value(mean_abs[g, j], None if ci_abs is None else ci_abs[g, j].tolist(),
                                c.reasons.get(str(c.groups[g]))) for g in range(len(c.groups))],
            "difference_abs": {**_value(diff_abs[j]), "between": pair(between_abs, j)},
            "p_value_abs": None if p_abs is None else number(p_abs[j]),
            "p_holm_abs": None if p_holm_abs is None else number(p_holm_abs[j]),
            "difference": {**_value(diff[j]), "between": pair(between, j)},
            "p_value": None if p is None else number(p[j]),
            "p_holm": None if p_holm is None else number(p_holm[j]),
        })
    item["features"] = features
    return item


def _group_explanations(run: Run | None, audit_file: Any) -> dict[str, Any]:
    if run is None:
        return _not_assessed("group_explanations", "The project has no trained run.")
    stored = _stored(run, audit_file, "group_explanation")
    if not stored:
        return _not_assessed("group_explanations",
                             "No comparison of explanations across groups is stored with this run "
                             "(workbench explain --by-group ... --save).")
    items = [_group_explanation(a, source) for a, source in stored]
    if all(i["status"] == NOT_ASSESSED for i in items):
        return _section("group_explanations", NOT_ASSESSED,
                        "The stored comparisons across groups cannot be read by this version of the report.",
                        items=items)
    return _section("group_explanations", ASSESSED, items=items, min_group_size=MIN_GROUP_SIZE,
                    definition="Per group: mean |attribution| of each feature with its percentile bootstrap "
                               "interval. Difference: between the groups' means (largest − smallest with more "
                               "than two groups). p: permutation test of no difference; Holm: adjusted across "
                               "features.")


_SETUP_KEYS = ("split", "threshold", "favourable", "n_boot", "confidence")


def _pick_audit(run: Run, column: str | None, reference: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The run's stored audit of ``column``: one set up like ``reference`` if any, else the
    latest on the test split, else the latest."""
    audits = [x for x in (_audit(a) for a in _final(run.analyses, "fairness"))
              if x is not None and any(f["name"] == column for f in x["features"])]
    if not audits:
        return None
    if reference is not None:
        same = [a for a in audits if all(a.get(k) == reference.get(k) for k in _SETUP_KEYS)]
        if same:
            return same[-1]
    test = [a for a in audits if a["split"] == "test"]
    return (test or audits)[-1]


def _mitigation_row(run: Run, base: Run, reference: dict[str, Any] | None, column: str | None) -> dict[str, Any]:
    info = run.config.get("mitigation") if _is_mitigation(run) else None
    metrics = {k: _value(run.metrics.get(k)) for k in ("accuracy", "f1", "auc") if k in run.metrics}
    row: dict[str, Any] = {
        "id": run.id, "name": run.name, "is_base": run.id == base.id,
        "kind": (info or {}).get("kind", "none (base run)"),
        "sensitive": (info or {}).get("sensitive"), "constraint": (info or {}).get("constraint"),
        "strength": number((info or {}).get("strength")), "base_run": (info or {}).get("base_run"),
        "metrics": metrics, "metrics_split": "validation",
    }
    audit = reference if run.id == base.id else _pick_audit(run, column, reference)
    if audit is None:
        row["fairness"] = {"status": NOT_ASSESSED,
                           "reason": f"No stored fairness audit of this run looks at {column!r}."}
        return row
    feature = next(f for f in audit["features"] if f["name"] == column)
    diffs = {d["name"]: d for d in feature["differences"]}
    unlike = []
    if reference is not None:
        for key in _SETUP_KEYS:
            if audit.get(key) != reference.get(key):
                unlike.append(f"{key}: {audit.get(key)} here, {reference.get(key)} in the base run's audit")
    row["fairness"] = {
        "status": ASSESSED, "analysis": audit["analysis"], "split": audit["split"], "feature": column,
        "differences": {k: diffs[k] for k in ("dp_difference", "eo_difference", "di_ratio") if k in diffs},
        "like_for_like": not unlike if reference is not None else None, "unlike": unlike,
    }
    return row


def _mitigations(project: Project, run: Run | None) -> dict[str, Any]:
    mitigated = [r for r in project.runs if _is_mitigation(r)]
    if not mitigated:
        return _not_assessed("mitigations", "No run in this project is a mitigation (workbench mitigate).")
    base: Run | None = run if run is not None and not _is_mitigation(run) else None
    if base is None:
        wanted = (run.config.get("mitigation", {}) or {}).get("base_run") if run is not None else None
        base = next((r for r in project.runs if r.id == wanted), None) or next(
            (r for r in project.runs if not _is_mitigation(r)), None)
    if base is None:
        return _not_assessed("mitigations", "Every run is a mitigation; there is no base run to compare with.")
    columns = list(dict.fromkeys(str(m.config["mitigation"].get("sensitive")) for m in mitigated))
    comparisons = []
    for column in columns:
        reference = _pick_audit(base, column)
        runs = [base, *[m for m in mitigated if str(m.config["mitigation"].get("sensitive")) == column]]
        comparisons.append({"column": column, "reference_audit": None if reference is None else reference["analysis"],
                            "runs": [_mitigation_row(r, base, reference, column) for r in runs]})
    return _section(
        "mitigations", ASSESSED, base_run=base.id, base_run_name=base.name, comparisons=comparisons,
        note="Accuracy, F1 and AUC are stored at training, on the validation split. Differences come from "
             "each run's stored fairness audit of the column, set up like the base run's (split, threshold, "
             "favourable outcome, resamples, confidence) where one is stored; where not, the row says how "
             "it differs.")


def _verification(project: Project, project_path: Path | None, verify: bool | None, audit: Any,
                  audit_matches: bool | None) -> dict[str, Any]:
    """Re-derived numbers: stored in the audit file (when it is for this very file) or recomputed."""
    stored = getattr(audit, "verification", None) if audit is not None else None
    data: Any = None
    source = ""
    if verify is not True and isinstance(stored, Mapping) and audit_matches:
        data, source = stored, "stored in the audit file (the auditor's last verification of this file)"
    elif verify is False:
        why = ("the audit file's stored verification is for another version of the project"
               if isinstance(stored, Mapping) else "no verification is stored in an audit file")
        return _not_assessed("verification", f"Verification was skipped (--no-verify) and {why}.")
    elif project_path is None:
        return _not_assessed("verification", "The project has not been saved to a file, so it cannot be verified.")
    else:
        try:
            from workbench.core.verify import verify_project
        except ImportError:
            return _not_assessed("verification", "The verifier (workbench.core.verify) is not available in this "
                                 "version of Model Workbench.")
        try:
            result = verify_project(project, project_path)
            data = result.to_dict() if hasattr(result, "to_dict") else result
        except Exception as exc:  # another module's defect must not stop the report
            return _not_assessed("verification", f"Verification failed: {_one_line(exc)}")
        source = "recomputed while writing this report"
    if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
        return _not_assessed("verification", "The verification result cannot be read by this report.")
    items = []
    for it in data["items"]:
        if isinstance(it, Mapping):
            items.append({k: canonicalise(it.get(k)) for k in
                          ("kind", "name", "status", "expected", "actual", "reason", "run", "analysis")})
    counts = {s: sum(1 for i in items if i["status"] == s) for s in ("verified", "differs", "cannot verify")}
    status, reason = ASSESSED, None
    if not items:
        status, reason = INCOMPLETE, "The verifier found nothing to check."
    return _section("verification", status, reason, ok=bool(data.get("ok")) and not counts["differs"],
                    items=items, counts=counts, source=source, recomputed=source.startswith("recomputed"))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if text.endswith(".") else text + "."


def _findings(audit: Any, audit_path: Path | None, file_sha: str | None) -> dict[str, Any]:
    if audit is None:
        return _not_assessed("findings", "No audit file was given (--audit), so there are no findings or sign-off.")
    raw = getattr(audit, "findings", None)
    if raw is None and not hasattr(audit, "signoff"):
        return _not_assessed("findings", "The audit file has no findings or sign-off this report can read.")
    findings = []
    for i, f in enumerate(raw or []):
        f = f.to_dict() if hasattr(f, "to_dict") else f
        if not isinstance(f, Mapping):
            continue
        severity = str(f.get("severity", "info")).lower()
        aimed = f.get("target")
        target: Mapping[str, Any] = aimed if isinstance(aimed, Mapping) else {}
        findings.append({
            "id": str(f.get("id", i + 1)), "severity": severity if severity in _SEVERITIES else "info",
            "text": str(f.get("text", "")), "created": str(f.get("created", "")),
            "author": str(f.get("author", "")),
            "target": {k: canonicalise(target.get(k)) for k in ("kind", "run", "analysis", "item")},
        })
    findings.sort(key=lambda f: (_SEVERITIES.index(f["severity"]), f["created"], f["id"]))
    counts = {s: sum(1 for f in findings if f["severity"] == s) for s in _SEVERITIES}
    raw_signoff: Any = getattr(audit, "signoff", None)
    if raw_signoff is not None and hasattr(raw_signoff, "to_dict"):
        raw_signoff = raw_signoff.to_dict()
    signoff = ({k: str(raw_signoff.get(k, "")) for k in ("name", "role", "date", "statement")}
               if isinstance(raw_signoff, Mapping) else None)
    audited = getattr(audit, "project_sha256", None)
    audit_file: dict[str, Any] = {"name": audit_path.name if audit_path else None,
                                  "sha256": _file_sha256(audit_path) if audit_path and audit_path.is_file() else None,
                                  "project_sha256": audited if isinstance(audited, str) else None}
    match = None
    if isinstance(audited, str) and file_sha is not None:
        match = audited == file_sha
    audit_file["matches_project"] = match
    status, reason = ASSESSED, None
    if match is False:
        status, reason = INCOMPLETE, "The audit file records a different project file (its sha256 differs)."
    elif signoff is None:
        status, reason = INCOMPLETE, "The audit has not been signed off."
    return _section("findings", status, reason, audit_file=audit_file, findings=findings, counts=counts,
                    signoff=signoff)


# ------------------------------------------------------------------------------- summary
def _summary(sections: list[dict[str, Any]], project: Project, run: Run | None, time: str) -> dict[str, Any]:
    by_id = {s["id"]: s for s in sections}
    flags: list[str] = []
    for s in sections:
        if s["status"] != ASSESSED:
            flags.append(f"{s['title']}: {s['status']} — {s.get('reason', '')}".rstrip(" —"))
    headline: list[dict[str, Any]] = []
    perf = by_id["performance"]
    for src in perf.get("sources", []):
        acc = src["metrics"].get("accuracy")
        if acc is not None:
            label = "Test accuracy" + (" (recomputed)" if src["recomputed"] else "")
            headline.append({"label": label, **acc, "n": src["n"]})
            break
    fairness = by_id["fairness"]
    for audit in fairness.get("audits", [])[:1]:
        worst = None
        for feature in audit["features"]:
            if feature["intersection"]:
                continue
            for d in feature["differences"]:
                if d["name"] == "dp_difference" and d["value"] is not None and (
                        worst is None or d["value"] > worst[1]["value"]):
                    worst = (feature["name"], d)
                if d["name"] == "di_ratio" and d.get("four_fifths_ok") is False:
                    flags.append(f"The four-fifths rule is not met for {feature['name']} "
                                 f"(audit {audit['analysis']}, {audit['split']} split).")
        if worst is not None:
            signed = worst[1].get("signed")
            if isinstance(signed, dict) and signed.get("value") is not None and len(signed.get("order") or []) == 2:
                # two groups: the signed difference, whose interval contains 0 when they do not differ
                a, b = signed["order"]
                headline.append({"label": f"Selection rate, {a} − {b} ({worst[0]})",
                                 "value": signed["value"], "ci": signed.get("ci"),
                                 "p_value": worst[1]["p_value"]})
            else:
                headline.append({"label": f"Largest demographic-parity difference ({worst[0]})",
                                 "value": worst[1]["value"], "ci": worst[1].get("ci"),
                                 "p_value": worst[1]["p_value"]})
        if audit["insufficient_groups"]:
            flags.append(f"{audit['insufficient_groups']} group(s) in audit {audit['analysis']} have fewer than "
                         f"{MIN_GROUP_SIZE} rows: insufficient data.")
    ver = by_id["verification"]
    if ver["status"] == NOT_ASSESSED:
        verification = {"status": NOT_ASSESSED, "reason": ver.get("reason")}
    else:
        counts = ver["counts"]
        state = "differs" if counts["differs"] else ("verified" if ver["ok"] and not counts["cannot verify"]
                                                     else "incomplete")
        verification = {"status": state, "counts": counts}
        for item in ver["items"]:
            if item["status"] == "differs":
                flags.append(f"Verification: {item['kind']} {item['name']} differs ({item.get('reason') or ''})".rstrip(" ()"))
    fnd = by_id["findings"]
    if fnd["status"] == NOT_ASSESSED and "findings" not in fnd:
        findings = {"status": NOT_ASSESSED, "reason": fnd.get("reason")}
        signoff = {"status": NOT_ASSESSED, "reason": fnd.get("reason")}
    else:
        findings = {"status": ASSESSED, "counts": fnd["counts"], "total": sum(fnd["counts"].values())}
        so = fnd.get("signoff")
        signoff = {"status": "signed off", **so} if so else {"status": "not signed off"}
    return {
        "project": project.name, "run": None if run is None else {"id": run.id, "name": run.name},
        "time": time, "headline": headline, "verification": verification, "findings": findings,
        "signoff": signoff, "flags": flags,
        "sections": [{"id": s["id"], "title": s["title"], "status": s["status"], "reason": s.get("reason")}
                     for s in sections],
    }


# --------------------------------------------------------------------------------- build
def build_report(
    project: Project,
    *,
    project_path: str | os.PathLike[str] | None,
    audit: Any = None,
    run_id: str | None = None,
    time: str | datetime | None = None,
    recompute: bool = False,
    verify: bool | None = None,
    datasheet: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The audit report of one run of ``project`` as a canonical dict (see docs/CONTRACTS.md).

    ``project_path`` is the saved ``.wbproj`` the report describes (its sha256 and stored
    weights are hashed; None for an unsaved project). ``audit`` is a loaded audit file or the
    path of a ``.wbaudit``: its findings, sign-off, the auditor's own analyses and last
    verification go in. ``run_id`` is a run id or name (default: the active run); ``time``
    the report time (ISO 8601, default now).

    Recomputation, all optional: ``recompute`` evaluates the model once on the test split;
    ``verify`` re-derives every stored number with ``workbench.core.verify`` (None: use the
    audit file's stored verification when it is for this very file, else verify; False: never);
    ``datasheet`` is a datasheet dict already computed for this data (else it is computed).

    Raises
    ------
    ReportError
        For a run that does not exist, an unreadable project or audit file, or a bad time.
    """
    from workbench.core.session import pick_run

    stamp = parse_time(time)
    path = Path(project_path) if project_path is not None else None
    run: Run | None = None
    if run_id is not None or project.active() is not None:
        try:
            run = pick_run(project, run_id)
        except WorkbenchError as exc:
            raise ReportError(str(exc)) from exc
    audit_path: Path | None = None
    unavailable: str | None = None
    if isinstance(audit, str | os.PathLike):
        audit_path = Path(audit)
        audit, unavailable = _load_audit(audit_path)
    elif audit is not None and isinstance(getattr(audit, "path", None), str | os.PathLike):
        audit_path = Path(audit.path)
    digests = archive_digests(project, path)
    audited = getattr(audit, "project_sha256", None)
    matches = audited == digests["file_sha256"] if isinstance(audited, str) and digests["file_sha256"] else None
    findings = (_not_assessed("findings", unavailable) if unavailable
                else _findings(audit, audit_path, digests["file_sha256"]))
    sections = [
        _identity(project, path, run, digests, stamp),
        _intended_use(project),
        _datasheet(project, datasheet),
        _architecture(project),
        _training(run),
        _performance(project, run, audit, recompute),
        _fairness(run, audit),
        _explanations(run, audit),
        _group_explanations(run, audit),
        _mitigations(project, run),
        _verification(project, path, verify, audit, matches),
        findings,
    ]
    report = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "title": "Model audit report",
        "generated": {"time": stamp, "application": APP_NAME, "version": __version__},
        "min_group_size": MIN_GROUP_SIZE,
        "sections": sections,
        "summary": _summary(sections, project, run, stamp),
    }
    return canonicalise(report)  # type: ignore[no-any-return]


def _load_audit(path: Path) -> tuple[Any, str | None]:
    """The audit file at ``path``, or (None, why it cannot be read by this version)."""
    if not path.is_file():
        raise ReportError(f"No such audit file: {path}")
    try:
        from workbench.core.audit_file import load_audit
    except ImportError:
        return None, ("The audit file reader (workbench.core.audit_file) is not available in this "
                      "version of Model Workbench, so findings and sign-off cannot be read.")
    try:
        return load_audit(path), None
    except Exception as exc:  # its own error type is not known here; every failure is one sentence
        raise ReportError(f"Cannot read the audit file {path.name!r}: {_one_line(exc)}") from exc
