"""What each section of the report shows, as blocks both the HTML and the PDF draw.

:func:`cover_blocks` and :func:`section_blocks` read ``report.json`` (as parsed) and return
plain blocks — headings, paragraphs, key/value lists, tables, charts — so the two renderings
show the same words and numbers. Numbers are formatted here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.core.report.charts import (
    Bars,
    Lines,
    fairness_chart,
    group_importance_chart,
    importance_chart,
    mitigation_chart,
    performance_chart,
    training_charts,
)

__all__ = [
    "Block",
    "cover_blocks",
    "fmt_ci",
    "fmt_num",
    "fmt_p",
    "section_blocks",
]

_GROUP_METRICS = ("selection_rate", "accuracy", "tpr", "fpr", "precision")
_GROUP_HEADERS = ("selection rate", "accuracy", "TPR", "FPR", "precision")
_METRIC_ORDER = ("accuracy", "f1", "auc", "loss", "selection_rate", "tpr", "fpr", "fnr", "precision",
                 "calibration_error", "mae", "r2", "mse")
_METRIC_NAMES: dict[str, str] = {"selection_rate": "selection rate", "tpr": "true-positive rate (TPR)",
                 "fpr": "false-positive rate (FPR)", "fnr": "false-negative rate (FNR)",
                 "calibration_error": "calibration error", "f1": "F1 (macro)", "auc": "AUC"}
_DIFF_ORDER = ("dp_difference", "dp_ratio", "eo_difference", "eop_difference", "di_ratio")


@dataclass
class Block:
    """One thing to draw.

    ``kind``: ``h3`` / ``h4`` (``text``), ``p`` / ``note`` / ``flag`` (``text``), ``kv``
    (``pairs``: label, value; ``mono`` labels whose value is a digest), ``table`` (``headers``,
    ``rows``, ``muted``: indices of rows to grey out, ``widths``: relative column widths),
    ``chart`` (``chart``), ``chain`` (``layers``: the architecture as boxes), ``list``
    (``items``).
    """

    kind: str
    text: str = ""
    pairs: list[tuple[str, str]] = field(default_factory=list)
    mono: set[str] = field(default_factory=set)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    muted: set[int] = field(default_factory=set)
    widths: list[float] = field(default_factory=list)
    chart: Bars | Lines | None = None
    layers: list[dict[str, Any]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- formatting
def fmt_num(v: Any) -> str:
    """A number for a reader: whole numbers with separators, others to three decimals."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 0.001:
            return f"{v:.3f}"
        return f"{v:.2e}"
    return str(v)


def fmt_ci(d: Any) -> str:
    """``value [lo, hi]`` of a ``{"value", "ci", "reason"}`` dict; undefined says why."""
    if not isinstance(d, dict):
        return "—"
    if d.get("value") is None:
        reason = d.get("reason")
        return f"— ({reason})" if reason else "—"
    text = fmt_num(d["value"])
    ci = d.get("ci")
    if isinstance(ci, list) and len(ci) == 2 and None not in ci:
        text += f" [{fmt_num(ci[0])}, {fmt_num(ci[1])}]"
    return text


def fmt_p(p: Any) -> str:
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _text(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        return fmt_num(v)
    if isinstance(v, list):
        return ", ".join(_text(x) for x in v) if all(not isinstance(x, dict | list) for x in v) else str(v)
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_text(x)}" for k, x in v.items())
    return str(v)


def _short(v: Any) -> str:
    """A digest cut to 16 hex digits (the full ones are in report.json), anything else as text."""
    text = _text(v)
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
        return text[:16] + "…"
    return text


def _shape(s: Any) -> str:
    return "(" + ", ".join(str(d) for d in s) + ")" if isinstance(s, list) else "—"


# ------------------------------------------------------------------------------- cover
def cover_blocks(report: dict[str, Any], digest: str) -> list[Block]:
    """The first page: who and what, the report digest, the state of the audit."""
    s = report["summary"]
    ident = next(sec for sec in report["sections"] if sec["id"] == "identity")
    proj = ident.get("project") or {}
    file = proj.get("file") or {}
    run = s.get("run") or {}
    pairs = [
        ("Project", str(s.get("project"))),
        ("Project file", f"{file.get('name') or '—'}"),
        ("Project sha256", file.get("sha256") or f"— ({file.get('reason', 'not computed')})"),
        ("Run", f"{run.get('name')} ({run.get('id')})" if run else "— (the project has no trained run)"),
        ("Report time", str(s.get("time"))),
        ("Application", f"{report['generated']['application']} {report['generated']['version']}"),
        ("Report digest", digest),
    ]
    blocks = [Block("kv", pairs=pairs, mono={"Project sha256", "Report digest"}),
              Block("note", text="The report digest is the sha256 of report.json, the canonical record this "
                                 "page is drawn from; manifest.json lists it with the other files' digests.")]
    ver, fnd, so = s["verification"], s["findings"], s["signoff"]
    status = [
        ("Verification", _verification_text(ver)),
        ("Findings", _findings_text(fnd)),
        ("Sign-off", _signoff_text(so)),
    ]
    blocks += [Block("h3", text="State of the audit"), Block("kv", pairs=status)]
    if s.get("headline"):
        rows = [[h["label"], fmt_ci(h), fmt_p(h.get("p_value")) if "p_value" in h else "",
                 fmt_num(h.get("n")) if h.get("n") is not None else ""] for h in s["headline"]]
        blocks += [Block("h3", text="Key numbers"),
                   Block("table", headers=["measure", "value [95 % CI]", "p", "n"], rows=rows, widths=[5, 3, 1.2, 1]),
                   Block("note", text="Metrics: the interval of their source (bootstrap or Wilson). Differences: "
                                      "signed for two groups (its interval holds 0 when they do not differ), else "
                                      "the largest, bias-corrected; p: permutation test.")]
    if s.get("flags"):
        blocks += [Block("h3", text="Needs attention"), Block("list", items=list(s["flags"]))]
    rows = [[sec["title"], sec["status"]] for sec in s["sections"]]
    muted = {i for i, sec in enumerate(s["sections"]) if sec["status"] != "assessed"}
    blocks += [Block("h3", text="Sections"), Block("table", headers=["section", "status"], rows=rows,
                                                    muted=muted, widths=[4, 1.4])]
    return blocks


def _verification_text(v: dict[str, Any]) -> str:
    if v["status"] == "not assessed":
        return f"not assessed — {v.get('reason')}"
    c = v.get("counts") or {}
    return (f"{v['status']}: {c.get('verified', 0)} verified, {c.get('differs', 0)} differ, "
            f"{c.get('cannot verify', 0)} cannot be verified")


def _findings_text(f: dict[str, Any]) -> str:
    if f["status"] == "not assessed":
        return f"not assessed — {f.get('reason')}"
    c = f.get("counts") or {}
    return f"{f.get('total', 0)} finding(s): " + ", ".join(f"{c.get(k, 0)} {k}" for k in ("high", "medium", "low", "info"))


def _signoff_text(s: dict[str, Any]) -> str:
    if s["status"] == "signed off":
        return f"signed off by {s.get('name')} ({s.get('role')}) on {s.get('date')}"
    if s["status"] == "not assessed":
        return f"not assessed — {s.get('reason')}"
    return "not signed off"


# ------------------------------------------------------------------------------ sections
def section_blocks(section: dict[str, Any], report: dict[str, Any]) -> list[Block]:
    """The blocks of one section (its heading, status and reason are drawn by the renderer)."""
    build = _BUILDERS.get(section["id"])
    if build is None or section["status"] == "not assessed":
        return []
    return build(section, report)


def _identity(sec: dict[str, Any], report: dict[str, Any]) -> list[Block]:
    p, run, data = sec["project"], sec.get("run"), sec["data"]
    file = p.get("file") or {}
    out = [Block("h3", text="Project"), Block("kv", pairs=[
        ("Name", str(p["name"])), ("File", str(file.get("name") or "—")),
        ("sha256", file.get("sha256") or f"— ({file.get('reason')})"),
        ("Created", str(p.get("created"))), ("Last saved", str(p.get("modified"))),
        ("Written by", f"Model Workbench {p.get('written_by')}")], mono={"sha256"})]
    if run:
        out += [Block("h3", text="Run"), Block("kv", pairs=[
            ("Name", str(run["name"])), ("Id", str(run["id"])), ("Trained", str(run.get("created"))),
            ("Status", str(run.get("status"))), ("Message", str(run.get("message") or "—"))])]
    out += [Block("h3", text="Data"), Block("kv", pairs=[
        ("Source", f"{data.get('source')}: {data.get('name') or '—'}"), ("Target", str(data.get("target") or "—")),
        ("Fingerprint", str(data.get("fingerprint") or "—"))], mono={"Fingerprint"})]
    if data.get("files"):
        out.append(Block("table", headers=["data", "kind", "sha256"], widths=[1.9, 1.4, 6],
                         rows=[[f["name"], f["kind"], f["sha256"]] for f in data["files"]]))
    out += [Block("h3", text="Runs in the project"),
            Block("table", headers=["run", "id", "mitigation", "weights sha256"], widths=[1.8, 1.1, 1.3, 5.8],
                  rows=[[r["name"], r["id"], "yes" if r["mitigation"] else "no", r["weights_sha256"] or "—"]
                        for r in sec["runs"]])]
    libs = sec.get("libraries") or {}
    out += [Block("h3", text="Versions"), Block("kv", pairs=[
        ("Application", f"{sec['application']['name']} {sec['application']['version']}"),
        *[(k, str(v)) for k, v in libs.items()], ("Report time", str(sec.get("report_time")))])]
    return out


def _intended_use(sec: dict[str, Any], report: dict[str, Any]) -> list[Block]:
    out = []
    for f in sec["fields"]:
        out.append(Block("h3", text=f["label"]))
        out.append(Block("p", text=f["text"]) if f["filled"] else Block("flag", text=f"{f['label']}: {f['flag']}."))
    return out


def _generic(value: Any, depth: int = 0) -> list[Block]:
    """Blocks for a nested dict of unknown shape (the datasheet, stored checks)."""
    if not isinstance(value, dict):
        return [Block("p", text=_text(value))]
    out: list[Block] = []
    pairs: list[tuple[str, str]] = []
    for k, v in value.items():
        if isinstance(v, dict) and v and depth < 2:
            if pairs:
                out.append(Block("kv", pairs=pairs))
                pairs = []
            out.append(Block("h4", text=str(k).replace("_", " ")))
            out += _generic(v, depth + 1)
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            if pairs:
                out.append(Block("kv", pairs=pairs))
                pairs = []
            keys = list(dict.fromkeys(k2 for x in v for k2 in x))
            out.append(Block("h4", text=str(k).replace("_", " ")))
            out.append(Block("table", headers=keys, rows=[[_text(x.get(k2)) for k2 in keys] for x in v]))
        else:
            pairs.append((str(k).replace("_", " "), _text(v)))
    if pairs:
        out.append(Block("kv", pairs=pairs))
    return out


def _datasheet(sec: dict[str, Any], report: dict[str, Any]) -> list[Block]:
    d = sec.get("content") or {}
    if d.get("format") != "model-workbench-datasheet":
        return _generic(d)
    classes = d.get("classes") or []
    counts = d.get("class_counts") or []
    splits = d.get("splits") or {}
    pairs = [("Dataset", _text(d.get("title"))), ("Kind", f"{d.get('kind')}, {d.get('task')}"),
             ("Target", _text(d.get("target"))),
             ("Rows", f"{fmt_num(d.get('rows'))} in the source, {fmt_num(d.get('rows_used'))} used by the model"),
             ("Columns", fmt_num(d.get("n_columns"))), ("Sensitive columns", _text(d.get("sensitive") or "none")),
             ("Splits", ", ".join(f"{k} {fmt_num(splits[k])}" for k in ("train", "val", "test") if k in splits))]
    if classes:
        pairs.append(("Class balance", ", ".join(f"{c}: {fmt_num(n)}" for c, n in zip(classes, counts, strict=False))))
    if d.get("target_summary"):
        pairs.append(("Target summary", _text(d["target_summary"])))
    dup = d.get("duplicates") or {}
    pairs.append(("Duplicate rows", fmt_num(dup.get("rows"))))
    for sh in d.get("shared") or []:
        pairs.append((f"Shared rows {' / '.join(sh.get('splits') or [])}", fmt_num(sh.get("rows"))))
    pairs.append(("Fingerprint", _text(d.get("fingerprint"))))
    out = [Block("kv", pairs=pairs, mono={"Fingerprint"}), Block("h3", text="Flags")]
    flags = d.get("flags") or []
    if flags:
        out.append(Block("table", headers=["flag", "column", "measure", "value", "threshold", "why"],
                         widths=[1, 1.2, 1.6, 0.8, 0.9, 4],
                         rows=[[f.get("kind", ""), _text(f.get("column")) + (f" → {f['sensitive']}" if f.get("sensitive") else ""),
                                _text(f.get("measure")), fmt_num(f.get("value")), fmt_num(f.get("threshold")),
                                _text(f.get("reason"))] for f in flags]))
    else:
        out.append(Block("p", text="No flags: no identifier, proxy, leakage, duplicate or shared-row finding "
                                   "reached its threshold."))
    cols = d.get("columns") or []
    if cols:
        out.append(Block("h3", text="Columns"))
        rows = []
        for c in cols:
            proxies = ", ".join(f"{k} {fmt_num(v)}" for k, v in (c.get("proxy_scores") or {}).items())
            rows.append([c.get("name", ""), c.get("role", ""), c.get("type", ""), fmt_num(c.get("missing")),
                         fmt_num(c.get("distinct")), _text(c.get("model_input")), fmt_num(c.get("target_score")),
                         proxies or "—"])
        out.append(Block("table", headers=["column", "role", "type", "missing", "distinct", "model input",
                                           "target score", "proxy scores"],
                         widths=[1.6, 1, 1.1, 0.8, 0.8, 0.8, 0.9, 2], rows=rows))
    min_size = report.get("min_group_size", 30)
    for g in d.get("groups") or []:
        name = str(g.get("attribute")) + (" (intersection)" if g.get("intersection") else "")
        out.append(Block("h4", text=f"Groups: {name}"))
        groups = g.get("groups") or []
        rows = [[x.get("name", ""), fmt_num(x.get("rows")),
                 ", ".join(f"{c}: {fmt_num(n)}" for c, n in zip(classes, x.get("class_counts") or [], strict=False)) or "—"]
                for x in groups]
        muted = {i for i, x in enumerate(groups) if (x.get("rows") or 0) < min_size}
        out.append(Block("table", headers=["group", "rows", "class counts"], rows=rows, muted=muted, widths=[2, 1, 3]))
        if g.get("band_edges"):
            out.append(Block("note", text="Banded at " + ", ".join(fmt_num(e) for e in g["band_edges"])
                             + " (quartiles of the training split)."))
    for key, why in (d.get("not_applicable") or {}).items():
        out.append(Block("note", text=f"{key.replace('_', ' ')}: not applicable — {why}"))
    for note in d.get("notes") or []:
        out.append(Block("note", text=note))
    methods = d.get("methods") or {}
    if methods:
        out.append(Block("h4", text="How each measure is computed"))
        out.append(Block("kv", pairs=[(k.replace("_", " "), _text(v)) for k, v in methods.items()]))
    return out


def _architecture(sec: dict[str, Any], report: dict[str, Any]) -> list[Block]:
    out = [Block("kv", pairs=[("Layers", str(len(sec["layers"]))),
                              ("Parameters", fmt_num(sec["total_parameters"])),
                              ("FLOPs per sample", fmt_num(sec["total_flops"]))]),
           Block("chain", layers=sec["layers"])]
    rows = []
    for i, layer in enumerate(sec["layers"]):
        params = ", ".join(f"{k}={_text(v)}" for k, v in (layer.get("params") or {}).items() if v is not None)
        rows.append([str(i + 1), layer["id"], layer["title"], _shape(layer.get("output_shape")),
                     fmt_num(layer.get("parameters")), fmt_num(layer.get("flops")), params or "—"])
    out.append(Block("table", headers=["#", "node", "layer", "output shape", "parameters", "FLOPs", "settings"],
                     rows=rows, widths=[0.5, 1.3, 1.6, 1.3, 1.2, 1.2, 2.8]))
    out.append(Block("note", text=sec.get("flops_note", "")))
    for p in sec.get("problems") or []:
        out.append(Block("flag", text=f"{p['severity']}: {p['message']}"))
    return out


def _training(sec: dict[str, Any], report: dict[str, Any]) -> list[Block]:
    cfg = sec.get("config") or {}
    out = [Block("kv", pairs=[("Status", str(sec.get("status_text"))), ("Message", str(sec.get("message") or "—")),
                              ("Epochs", str(sec.get("epochs"))), ("Seed", _text(sec.get("seed")))])]
    out.append(Block("h3", text="Configuration"))
    out.append(Block("table", headers=["setting", "value"], widths=[1.5, 3],
                     rows=[[k.replace("_", " "), _text(v)] for k, v in cfg.items()]))
    for chart in training_charts(sec):
        out.append(Block("chart", chart=chart))
    final = sec.get("final_metrics") or {}
    out.append(Block("h3", text=f"Final metrics ({final.get('split')} split)"))
    values = final.get("values") or {}
    order = [k for k in _METRIC_ORDER if k in values] + sorted(k for k in values if k not in _METRIC_ORDER)
    rows = [[str(_METRIC_NAMES.get(k, k)), fmt_ci(values[k]),
             str(values[k].get("ci_method") or "") if isinstance(values[k], dict) else ""] for k in order]
    out.append(Block("table", headers=["metric", "value [95 % CI]", "interval"], rows=rows, widths=[1.5, 2.5, 2.5]))
    out += _confusion(final.get("confusion"))
    if final.get("note"):
        out.append(Block("note", text=final["note"]))
    return out


def _confusion(matrix: Any) -> list[Block]:
    if not isinstance(matrix, list) or not matrix:
        return []
    n = len(matrix)
    return [Block("h4", text="Confusion matrix (rows: true class, columns: predicted)"),
            Block("table", headers=["", *[f"pred {j}" for j in range(n)]],
                  rows=[[f"true {i}", *[fmt_num(c) for c in row]] for i, row in enumerate(matrix)])]


def _performance(sec: dict[str, Any], report: dict[str, Any]) -> list[Block]:
    out: list[Block] = []
    for src in sec.get("sources") or []:
        if src.get("recomputed"):
            out.append(Block("h3", text="Recomputed: the model evaluated once on the test split"))
        else:
            out.append(Block("h3", text=f"From the stored fairness audit {src.get('analysis')}"))
        out.append(Block("kv", pairs=[("Split", str(src.get("split"))), ("Rows", fmt_num(src.get("n"))),
                                      ("Intervals", f"{src.get('ci_method') or 'none'}"
                                       + (f", {fmt_num(src.get('n_boot'))} resamples" if src.get("n_boot") else "")),
                                      ("Threshold", fmt_num(src.get("threshold"))),
                                      ("Favourable outcome", _text(src.get("favourable")))]))
        metrics = src.get("metrics") or {}
        order = [k for k in _METRIC_ORDER if k in metrics] + sorted(k for k in metrics if k not in _METRIC_ORDER)
        rows = [[str(_METRIC_NAMES.get(k, k)), fmt_ci(metrics[k])] for k in order]
        out.append(Block("table", headers=["metric", "value [95 % CI]"], rows=rows, widths=[2, 3]))
        chart = performance_chart(src)
        if chart is not None:
            out.append(Block("chart", chart=chart))
        out += _confusion(src.get("confusion"))
        if src.get("note"):
            out.append(Block("note", text=src["note"]))
    return out


def _group_row(g: dict[str, Any]) -> list[str]:
    if g.get("insufficient"):
        return [g["name"], fmt_num(g["size"]), "insufficient data", *["" for _ in _GROUP_METRICS[1:]]]
    return [g["name"], fmt_num(g["size"]), *[fmt_ci(g["metrics"].get(k)) for k in _GROUP_METRICS]]


def _difference_row(d: dict[str, Any]) -> list[str]:
    notes = []
    if "four_fifths_ok" in d:
        ok = d["four_fifths_ok"]
        notes.append("four-fifths rule " + ("met" if ok else "NOT met" if ok is False else "undefined")
                     + (f" (lowest {d.get('lowest')}, highest {d.get('highest')})" if d.get("lowest") else ""))
    if d.get("note"):
        notes.append(str(d["note"]))
    if d.get("left_out"):
        notes.append("left out: " + ", ".join(map(str, d["left_out"])))
    signed = d.get("signed")
    signed_text = ""
    if isinstance(signed, dict) and signed.get("order"):
        signed_text = f"{' − '.join(map(str, signed['order']))}: {fmt_ci(signed)}"
    return [d.get("label", d["name"]), fmt_ci(d), fmt_p(d.get("p_value")), signed_text, "; ".join(notes)]


def _fairness(sec: dict[str, Any], report: dict[str, Any]) -> list[Block]:
    out = [Block("note", text=sec.get("ci_note", ""))]
    if sec.get("live_analyses_left_out"):
        out.append(Block("note", text=f"{sec['live_analyses_left_out']} per-epoch (live) audit(s) are not included."))
    min_size = sec.get("min_group_size", 30)
    for audit in sec.get("audits") or []:
        out.append(Block("h3", text=f"Audit {audit['analysis']} — {audit.get('split')} split"))
        out.append(Block("kv", pairs=[
            ("Sensitive columns", _text(audit.get("sensitive"))), ("Favourable outcome", _text(audit.get("favourable"))),
            ("Threshold", fmt_num(audit.get("threshold"))), ("Rows", fmt_num(audit.get("n_rows"))),
            ("Bootstrap", f"{fmt_num(audit.get('n_boot'))} resamples, confidence {fmt_num(audit.get('confidence'))}, "
                          f"seed {fmt_num(audit.get('seed'))}"),
            ("Permutations", fmt_num(audit.get("n_perm"))), ("Computed", str(audit.get("created"))),
            ("Kept in", _text(audit.get("source")))]))
        for feature in audit["features"]:
            out.append(Block("h4", text=f"{feature['name']}" + (" (intersection)" if feature.get("intersection") else "")))
            rows = [_group_row(g) for g in feature["groups"]]
            muted = {i for i, g in enumerate(feature["groups"]) if g.get("insufficient")}
            out.append(Block("table", headers=["group", "n", *[f"{h} [CI]" for h in _GROUP_HEADERS]], rows=rows,
                             muted=muted, widths=[1.6, 0.6, 1.5, 1.5, 1.5, 1.5, 1.5]))
            if muted:
                out.append(Block("note", text=f"Groups with fewer than {min_size} rows are shown as insufficient "
                                               "data; their numbers are in report.json."))
            if not feature.get("intersection"):
                out.append(Block("chart", chart=fairness_chart(feature, min_size)))
            diffs = sorted(feature["differences"], key=lambda d: _DIFF_ORDER.index(d["name"])
                           if d["name"] in _DIFF_ORDER else 99)
            if diffs:
                out.append(Block("table", headers=["measure", "value [CI]", "p", "signed [CI]", "notes"],
                                 rows=[_difference_row(d) for d in diffs], widths=[2, 1.6, 0.7, 2, 2.6]))
        for note in audit.get("notes") or []:
            out.append(Block("note", text=note))
    return out


def _explanations(sec: dict[str, Any], report: dict[str, Any]) -> list[Block]:
    out = [Block("note", text=sec.get("importance_definition", ""))]
    if sec.get("live_analyses_left_out"):
        out.append(Block("note", text=f"{sec['live_analyses_left_out']} per-epoch (live) explanation(s) are not included."))
    for item in sec.get("items") or []:
        out.append(Block("h3", text=f"{item['title']} — analysis {item['analysis']}"))
        params = ", ".join(f"{k}={_text(v)}" for k, v in (item.get("params") or {}).items() if v is not None)
        comp = item.get("completeness") or {}
        gap = (f"max |gap| {fmt_num(comp.get('max_abs'))}, mean |gap| {fmt_num(comp.get('mean_abs'))}"
               if comp.get("max_abs") is not None else f"— ({comp.get('reason')})")
        out.append(Block("kv", pairs=[
            ("Method", f"{item['method']} ({item['title']})"), ("Samples", f"{item['samples']} from the {item.get('split')} split"),
            ("Baseline", _text(item.get("baseline"))), ("Value function", _text(item.get("value_function"))),
            ("Seed", _text(item.get("seed"))), ("Options", params or "—"), ("Completeness gap", gap),
            ("Computed", str(item.get("created"))), ("Kept in", _text(item.get("source")))]))
        chart = importance_chart(item)
        imp = item.get("importance") or {}
        if chart is not None:
            out.append(Block("chart", chart=chart))
            out.append(Block("table", headers=["feature", "mean |attribution|"], widths=[3, 2],
                             rows=[[f["name"], fmt_num(f["value"])] for f in imp["features"]]))
        else:
            out.append(Block("note", text=f"Global importance: {imp.get('status')} — {imp.get('reason')}"
                             + (f" Mean |attribution|: {fmt_num(imp.get('mean_abs'))}." if imp.get("mean_abs") is not None else "")))
        checks = item.get("checks")
        if isinstance(checks, dict) and checks.get("status") == "not assessed":
            out.append(Block("note", text=f"Quality checks: {checks.get('reason')}"))
        elif checks is not None:
            out.append(Block("h4", text="Quality checks"))
            out += _generic(checks if isinstance(checks, dict) else {"checks": checks})
        out.append(Block("p", text=f"Known limits: {item['limits']}"))
    return out


def _group_explanations(sec: dict[str, Any], report: dict[str, Any]) -> list[Block]:
    out = [Block("note", text=sec.get("definition", ""))]
    min_size = sec.get("min_group_size", 30)
    for item in sec.get("items") or []:
        out.append(Block("h3", text=f"{item.get('title')} by {_text(item.get('sensitive'))} — analysis {item['analysis']}"))
        pairs = [("Method", _text(item.get("method"))), ("Compared across", _text(item.get("sensitive"))),
                 ("Samples", f"{item.get('samples')} from the {item.get('split')} split"),
                 ("Baseline", _text(item.get("baseline"))), ("Kept in", _text(item.get("source"))),
                 ("Computed", _text(item.get("created")))]
        if item.get("status") == "assessed":
            pairs += [("Bootstrap", f"{fmt_num(item.get('n_boot'))} resamples, confidence {fmt_num(item.get('confidence'))}, "
                                    f"seed {fmt_num(item.get('seed'))}"),
                      ("Permutation test", f"{fmt_num(item.get('n_perm'))} permutations; {item.get('statistic')}; "
                                           f"p = {item.get('p_rule')}; {item.get('correction')}")]
        out.append(Block("kv", pairs=pairs))
        if item.get("status") != "assessed":
            out.append(Block("flag", text=f"not assessed — {item.get('reason')}"))
            continue
        groups = item.get("groups") or []
        small = [g["name"] for g in groups if g.get("insufficient")]
        if small:
            out.append(Block("flag", text=f"Fewer than {min_size} samples (insufficient data): {', '.join(small)}."))
        if item.get("is_map"):
            out.append(Block("kv", pairs=[(k.replace("_", " "), _text(v)) for k, v in (item.get("map_test") or {}).items()]))
        features = item.get("features") or []
        if features:
            names = [f"{g['name']} (n={fmt_num(g['size'])})" for g in groups]
            rows = []
            for f in features:
                d_abs, d = f.get("difference_abs") or {}, f.get("difference") or {}
                rows.append([f["name"], *[fmt_ci(v) for v in f.get("mean_abs") or []],
                             fmt_num(d_abs.get("value")) + (f" ({' − '.join(d_abs['between'])})" if d_abs.get("between") else ""),
                             f"{fmt_p(f.get('p_value_abs'))} / {fmt_p(f.get('p_holm_abs'))}",
                             fmt_num(d.get("value")), f"{fmt_p(f.get('p_value'))} / {fmt_p(f.get('p_holm'))}"])
            out.append(Block("table", headers=["feature", *[f"mean |attr.| {n} [CI]" for n in names],
                                               "difference of mean |attr.|", "p / Holm", "difference of mean attr.",
                                               "p / Holm"], rows=rows))
            chart = group_importance_chart(item)
            if chart is not None:
                out.append(Block("chart", chart=chart))
        for note in item.get("notes") or []:
            out.append(Block("note", text=note))
    return out


def _mitigations(sec: dict[str, Any], report: dict[str, Any]) -> list[Block]:
    out = [Block("kv", pairs=[("Base run", f"{sec.get('base_run_name')} ({sec.get('base_run')})")])]
    for comp in sec.get("comparisons") or []:
        out.append(Block("h3", text=f"Compared on {comp['column']}"))
        rows, muted = [], set()
        for i, r in enumerate(comp["runs"]):
            f = r.get("fairness") or {}
            d = f.get("differences") or {}
            how = r["kind"] + (f", {r['constraint']}" if r.get("constraint") else "") + (
                f", strength {fmt_num(r['strength'])}" if r.get("strength") is not None else "")
            if f.get("status") == "assessed":
                dp = d.get("dp_difference")
                like = "yes" if f.get("like_for_like") else ("no: " + "; ".join(f.get("unlike") or [])
                                                            if f.get("like_for_like") is False else "—")
                fair = [fmt_ci(dp) + (f"; p {fmt_p(dp.get('p_value'))}" if dp else ""),
                        fmt_ci(d.get("eo_difference")), fmt_ci(d.get("di_ratio")), like]
            else:
                fair = [f"— ({f.get('reason')})", "", "", ""]
                muted.add(i)
            rows.append([r["name"] + (" (base)" if r.get("is_base") else ""), how,
                         *[fmt_ci(r["metrics"].get(k)) for k in ("accuracy", "f1", "auc")], *fair])
        out.append(Block("table", headers=["run", "mitigation", "accuracy", "F1", "AUC", "DP difference [CI]",
                                           "EO difference [CI]", "DI ratio [CI]", "like for like"],
                         rows=rows, muted=muted, widths=[1.5, 1.5, 0.9, 0.9, 0.9, 1.8, 1.6, 1.6, 1.5]))
        chart = mitigation_chart(comp)
        if chart is not None:
            out.append(Block("chart", chart=chart))
    out.append(Block("note", text=sec.get("note", "")))
    return out


def _verification(sec: dict[str, Any], report: dict[str, Any]) -> list[Block]:
    c = sec.get("counts") or {}
    out = [Block("kv", pairs=[("Source", _text(sec.get("source"))),
                              ("Result", "all verified" if sec.get("ok") else "not all verified"),
                              ("Verified", fmt_num(c.get("verified"))), ("Differs", fmt_num(c.get("differs"))),
                              ("Cannot verify", fmt_num(c.get("cannot verify")))])]
    rows = [[_text(i.get("kind")), _text(i.get("name")), _text(i.get("status")), _short(i.get("expected")),
             _short(i.get("actual")), _text(i.get("reason"))] for i in sec.get("items") or []]
    if rows:
        out.append(Block("table", headers=["kind", "item", "status", "expected", "actual", "reason"], rows=rows,
                         widths=[1, 1.6, 1, 1.4, 1.4, 2.4]))
    return out


def _findings(sec: dict[str, Any], report: dict[str, Any]) -> list[Block]:
    af = sec.get("audit_file") or {}
    match = af.get("matches_project")
    out = [Block("kv", pairs=[("Audit file", _text(af.get("name"))), ("sha256", _text(af.get("sha256"))),
                              ("Audits project", "the same file" if match else "a DIFFERENT file" if match is False
                               else "not recorded")], mono={"sha256"})]
    so = sec.get("signoff")
    out.append(Block("h3", text="Sign-off"))
    if so:
        out.append(Block("kv", pairs=[("Name", so["name"]), ("Role", so["role"]), ("Date", so["date"]),
                                      ("Statement", so["statement"])]))
    else:
        out.append(Block("flag", text="The audit has not been signed off."))
    out.append(Block("h3", text="Findings"))
    findings = sec.get("findings") or []
    if not findings:
        out.append(Block("p", text="No findings were recorded."))
        return out
    rows = []
    for f in findings:
        t = f.get("target") or {}
        target = " / ".join(str(t[k]) for k in ("kind", "run", "analysis", "item") if t.get(k))
        rows.append([f["severity"], f["id"], target or "—", f["text"], f["author"], f["created"]])
    out.append(Block("table", headers=["severity", "id", "about", "finding", "author", "date"], rows=rows,
                     widths=[0.9, 0.8, 1.6, 4, 1.2, 1.3]))
    return out


_BUILDERS = {
    "identity": _identity,
    "intended_use": _intended_use,
    "datasheet": _datasheet,
    "architecture": _architecture,
    "training": _training,
    "performance": _performance,
    "fairness": _fairness,
    "explanations": _explanations,
    "group_explanations": _group_explanations,
    "mitigations": _mitigations,
    "verification": _verification,
    "findings": _findings,
}
