"""The report's charts: laid out once as drawing primitives, drawn as SVG or into the PDF.

A chart (:class:`Bars` with intervals, :class:`Lines` for curves) is made from a section of
``report.json`` only, then :func:`layout` turns it into primitives in a ``width × height``
box of abstract units: rectangles, lines, polylines and text. :func:`to_svg` writes them as
an inline SVG element (every text escaped); ``workbench.core.report.pdf`` draws the same
primitives with fpdf2. One layout, two renderings, so the HTML and the PDF show the same
picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import Any

__all__ = [
    "Bars",
    "Lines",
    "Prim",
    "bar_series",
    "fairness_chart",
    "group_importance_chart",
    "importance_chart",
    "layout",
    "mitigation_chart",
    "nice_ticks",
    "performance_chart",
    "to_svg",
    "training_charts",
]

#: Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
INK, GRID, MUTED = "#222222", "#DDDDDD", "#666666"
FONT = 11.0  # text size in chart units


@dataclass
class Series:
    name: str
    values: list[float | None]
    lows: list[float | None] = field(default_factory=list)
    highs: list[float | None] = field(default_factory=list)


@dataclass
class Bars:
    """Vertical (or horizontal) bars per category, one colour per series, with error bars."""

    title: str
    categories: list[str]
    series: list[Series]
    y_label: str = ""
    horizontal: bool = False
    y_min: float | None = None
    y_max: float | None = None
    note: str = ""


@dataclass
class LineSeries:
    name: str
    xs: list[float]
    ys: list[float | None]


@dataclass
class Lines:
    """Curves over a shared x axis."""

    title: str
    series: list[LineSeries]
    x_label: str = ""
    y_label: str = ""


@dataclass
class Prim:
    """One drawing primitive: ``kind`` is rect, line, polyline or text."""

    kind: str
    points: list[tuple[float, float]]
    colour: str = INK
    fill: str | None = None
    width: float = 1.0
    text: str = ""
    size: float = FONT
    anchor: str = "start"  # start | middle | end
    bold: bool = False


def bar_series(name: str, entries: list[dict[str, Any] | None]) -> Series:
    """A series from ``{"value", "ci"}`` dicts as report.json stores them (None: missing)."""
    s = Series(name, [], [], [])
    for e in entries:
        e = e or {}
        s.values.append(e.get("value"))
        ci = e.get("ci") if isinstance(e.get("ci"), list) else None
        s.lows.append(ci[0] if ci else None)
        s.highs.append(ci[1] if ci else None)
    return s


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]`` (about ``n`` of them)."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step + 1e-9) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-6:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi - 1e-12:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt_tick(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.1e}"
    return f"{v:.4g}"


def _text_width(text: str, size: float) -> float:
    return 0.56 * size * len(text)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _legend(names: list[str], x: float, y: float, width: float) -> list[Prim]:
    out: list[Prim] = []
    cx = x
    for i, name in enumerate(names):
        label = _shorten(name, 40)
        w = 14 + _text_width(label, FONT - 1) + 16
        if cx + w > x + width and cx > x:
            break
        colour = PALETTE[i % len(PALETTE)]
        out.append(Prim("rect", [(cx, y - 8), (10, 10)], colour=colour, fill=colour, width=0))
        out.append(Prim("text", [(cx + 14, y + 1)], text=label, size=FONT - 1, colour=INK))
        cx += w
    return out


def _frame(title: str, width: float) -> list[Prim]:
    return [Prim("text", [(0, 14)], text=_shorten(title, int(width / 6.5)), size=FONT + 1, bold=True)]


def _range(values: list[float], y_min: float | None, y_max: float | None) -> tuple[float, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    lo = min([0.0, *finite]) if y_min is None else y_min
    hi = max([*finite, lo + 1e-9]) if y_max is None else y_max
    return lo, hi


def _bars_vertical(chart: Bars, width: float, height: float) -> list[Prim]:
    prims = _frame(chart.title, width)
    all_vals = [v for s in chart.series for v in (*s.values, *s.lows, *s.highs) if v is not None]
    lo, hi = _range(all_vals, chart.y_min, chart.y_max)
    ticks = nice_ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    left, right, top, bottom = 46.0, 8.0, 42.0, 40.0
    pw, ph = width - left - right, height - top - bottom

    def y_of(v: float) -> float:
        return top + ph * (1 - (v - lo) / (hi - lo))

    prims += _legend([s.name for s in chart.series], left, 30, pw) if len(chart.series) > 1 else []
    for t in ticks:
        y = y_of(t)
        prims.append(Prim("line", [(left, y), (left + pw, y)], colour=GRID, width=0.6))
        prims.append(Prim("text", [(left - 5, y + 4)], text=_fmt_tick(t), size=FONT - 2, anchor="end",
                          colour=MUTED))
    n_cat = max(len(chart.categories), 1)
    slot = pw / n_cat
    n_ser = max(len(chart.series), 1)
    bar_w = min(36.0, slot * 0.8 / n_ser)
    limit = max(4, int(slot / (0.56 * (FONT - 2))))
    for ci, cat in enumerate(chart.categories):
        x0 = left + slot * ci + (slot - bar_w * n_ser) / 2
        for si, s in enumerate(chart.series):
            colour = PALETTE[si % len(PALETTE)]
            v = s.values[ci] if ci < len(s.values) else None
            bx = x0 + si * bar_w
            if v is None:
                prims.append(Prim("text", [(bx + bar_w / 2, y_of(max(lo, 0)) - 3)], text="n/a",
                                  size=FONT - 3, anchor="middle", colour=MUTED))
                continue
            base = y_of(max(lo, min(0.0, hi)))
            yv = y_of(v)
            prims.append(Prim("rect", [(bx + 1, min(yv, base)), (bar_w - 2, abs(base - yv))],
                              colour=colour, fill=colour, width=0))
            lo_v = s.lows[ci] if ci < len(s.lows) else None
            hi_v = s.highs[ci] if ci < len(s.highs) else None
            if lo_v is not None and hi_v is not None:
                cx = bx + bar_w / 2
                y1, y2 = y_of(lo_v), y_of(hi_v)
                cap = min(6.0, bar_w / 3)
                prims.append(Prim("line", [(cx, y1), (cx, y2)], colour=INK, width=1.1))
                prims.append(Prim("line", [(cx - cap, y1), (cx + cap, y1)], colour=INK, width=1.1))
                prims.append(Prim("line", [(cx - cap, y2), (cx + cap, y2)], colour=INK, width=1.1))
        prims.append(Prim("text", [(left + slot * (ci + 0.5), top + ph + 14)], text=_shorten(cat, limit),
                          size=FONT - 2, anchor="middle"))
    prims.append(Prim("line", [(left, top + ph), (left + pw, top + ph)], colour=INK, width=0.8))
    prims.append(Prim("line", [(left, top), (left, top + ph)], colour=INK, width=0.8))
    if chart.note or chart.y_label:
        prims.append(Prim("text", [(left, height - 6)], text=_shorten(chart.note or chart.y_label, int(width / 5.5)),
                          size=FONT - 2, colour=MUTED))
    return prims


def _bars_horizontal(chart: Bars, width: float, height: float) -> list[Prim]:
    prims = _frame(chart.title, width)
    s = chart.series[0] if chart.series else Series("", [])
    vals = [v for v in s.values if v is not None]
    lo, hi = _range(vals, chart.y_min, chart.y_max)
    ticks = nice_ticks(lo, hi, 4)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    label_w = min(160.0, max((_text_width(_shorten(c, 28), FONT - 1) for c in chart.categories), default=40) + 8)
    left, right, top, bottom = label_w, 50.0, 28.0, 34.0
    pw, ph = width - left - right, height - top - bottom
    n = max(len(chart.categories), 1)
    row = ph / n

    def x_of(v: float) -> float:
        return left + pw * (v - lo) / (hi - lo)

    for t in ticks:
        x = x_of(t)
        prims.append(Prim("line", [(x, top), (x, top + ph)], colour=GRID, width=0.6))
        prims.append(Prim("text", [(x, top + ph + 14)], text=_fmt_tick(t), size=FONT - 2, anchor="middle",
                          colour=MUTED))
    for i, cat in enumerate(chart.categories):
        y = top + row * i
        v = s.values[i] if i < len(s.values) else None
        prims.append(Prim("text", [(left - 6, y + row / 2 + 4)], text=_shorten(cat, 28), size=FONT - 1,
                          anchor="end"))
        if v is None:
            continue
        h = min(row * 0.7, 18.0)
        prims.append(Prim("rect", [(x_of(min(0.0, v)), y + (row - h) / 2), (abs(x_of(v) - x_of(0.0)), h)],
                          colour=PALETTE[0], fill=PALETTE[0], width=0))
        prims.append(Prim("text", [(x_of(max(0.0, v)) + 4, y + row / 2 + 4)], text=f"{v:.3g}",
                          size=FONT - 2, colour=MUTED))
    prims.append(Prim("line", [(x_of(0.0), top), (x_of(0.0), top + ph)], colour=INK, width=0.8))
    if chart.note:
        prims.append(Prim("text", [(0, height - 4)], text=_shorten(chart.note, int(width / 5.5)), size=FONT - 2,
                          colour=MUTED))
    return prims


def _lines(chart: Lines, width: float, height: float) -> list[Prim]:
    prims = _frame(chart.title, width)
    xs = [x for s in chart.series for x in s.xs]
    ys = [y for s in chart.series for y in s.ys if y is not None and math.isfinite(y)]
    if not xs or not ys:
        prims.append(Prim("text", [(width / 2, height / 2)], text="no data", anchor="middle", colour=MUTED))
        return prims
    x_lo, x_hi = min(xs), max(xs)
    if x_hi == x_lo:
        x_hi = x_lo + 1
    y_ticks = nice_ticks(min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1, 4)
    y_lo, y_hi = y_ticks[0], y_ticks[-1]
    left, right, top, bottom = 50.0, 10.0, 42.0, 34.0
    pw, ph = width - left - right, height - top - bottom

    def pt(x: float, y: float) -> tuple[float, float]:
        return (left + pw * (x - x_lo) / (x_hi - x_lo), top + ph * (1 - (y - y_lo) / (y_hi - y_lo)))

    prims += _legend([s.name for s in chart.series], left, 30, pw)
    for t in y_ticks:
        _, y = pt(x_lo, t)
        prims.append(Prim("line", [(left, y), (left + pw, y)], colour=GRID, width=0.6))
        prims.append(Prim("text", [(left - 5, y + 4)], text=_fmt_tick(t), size=FONT - 2, anchor="end", colour=MUTED))
    for t in nice_ticks(x_lo, x_hi, 5):
        if x_lo - 1e-9 <= t <= x_hi + 1e-9:
            x, _ = pt(t, y_lo)
            prims.append(Prim("text", [(x, top + ph + 14)], text=_fmt_tick(t), size=FONT - 2, anchor="middle",
                              colour=MUTED))
    for i, s in enumerate(chart.series):
        colour = PALETTE[i % len(PALETTE)]
        segment: list[tuple[float, float]] = []
        for x, value in zip(s.xs, s.ys, strict=False):
            if value is None or not math.isfinite(value):
                if len(segment) > 1:
                    prims.append(Prim("polyline", segment, colour=colour, width=1.6))
                segment = []
                continue
            segment.append(pt(x, value))
        if len(segment) == 1:
            (px, py) = segment[0]
            prims.append(Prim("rect", [(px - 2, py - 2), (4, 4)], colour=colour, fill=colour, width=0))
        elif segment:
            prims.append(Prim("polyline", segment, colour=colour, width=1.6))
    prims.append(Prim("line", [(left, top + ph), (left + pw, top + ph)], colour=INK, width=0.8))
    prims.append(Prim("line", [(left, top), (left, top + ph)], colour=INK, width=0.8))
    if chart.x_label:
        prims.append(Prim("text", [(left + pw / 2, height - 4)], text=chart.x_label, size=FONT - 2, anchor="middle",
                          colour=MUTED))
    return prims


def layout(chart: Bars | Lines, width: float, height: float) -> list[Prim]:
    """The chart's primitives in a ``width × height`` box (y grows downwards)."""
    if isinstance(chart, Lines):
        return _lines(chart, width, height)
    if chart.horizontal:
        return _bars_horizontal(chart, width, height)
    return _bars_vertical(chart, width, height)


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def to_svg(chart: Bars | Lines, width: float = 640, height: float = 260, *, standalone: bool = False) -> str:
    """An ``<svg>`` element of the chart; every text is escaped.

    Inline in HTML it needs no namespace (the HTML parser gives it one), so the report holds
    no URL at all; ``standalone`` adds it for a separate ``.svg`` file.
    """
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    out = [f'<svg{ns} viewBox="0 0 {_f(width)} {_f(height)}" '
           f'width="{_f(width)}" height="{_f(height)}" role="img" aria-label="{escape(chart.title)}" '
           'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">']
    for p in layout(chart, width, height):
        if p.kind == "rect":
            (x, y), (w, h) = p.points
            out.append(f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}" fill="{p.fill or "none"}" stroke="none"/>')
        elif p.kind == "line":
            (x1, y1), (x2, y2) = p.points
            out.append(f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" stroke="{p.colour}" '
                       f'stroke-width="{_f(p.width)}"/>')
        elif p.kind == "polyline":
            pts = " ".join(f"{_f(x)},{_f(y)}" for x, y in p.points)
            out.append(f'<polyline points="{pts}" fill="none" stroke="{p.colour}" stroke-width="{_f(p.width)}" '
                       'stroke-linejoin="round"/>')
        elif p.kind == "text":
            (x, y), = p.points
            weight = ' font-weight="bold"' if p.bold else ""
            out.append(f'<text x="{_f(x)}" y="{_f(y)}" font-size="{_f(p.size)}" text-anchor="{p.anchor}" '
                       f'fill="{p.colour}"{weight}>{escape(p.text)}</text>')
    out.append("</svg>")
    return "".join(out)


# ------------------------------------------------------------- charts of report sections
_RATE_METRICS = ("accuracy", "selection_rate", "tpr", "fpr", "precision", "f1", "auc")
_SHORT = {"selection_rate": "selection", "accuracy": "accuracy", "tpr": "TPR", "fpr": "FPR",
          "precision": "precision", "f1": "F1", "auc": "AUC", "fnr": "FNR"}


def training_charts(section: dict[str, Any]) -> list[Lines]:
    """Loss per epoch (train and validation), validation metrics per epoch, step loss."""
    curves = section.get("curves") or {}
    charts = []
    n = max((len(v) for v in curves.values()), default=0)
    epochs = [float(i + 1) for i in range(n)]
    losses = [LineSeries(k.replace("_", " "), epochs[: len(curves[k])], curves[k])
              for k in ("train_loss", "val_loss") if k in curves]
    if losses:
        charts.append(Lines("Loss per epoch", losses, x_label="epoch"))
    metrics = [LineSeries(k.replace("_", " "), epochs[: len(v)], v) for k, v in sorted(curves.items())
               if k.startswith("val_") and k != "val_loss"]
    if metrics:
        charts.append(Lines("Validation metrics per epoch", metrics, x_label="epoch"))
    step = section.get("step_loss")
    if isinstance(step, dict) and step.get("loss"):
        note = "step" + (f" (means of {step['downsampled_from']} steps in {step['points']} buckets)"
                         if step.get("downsampled_from") else "")
        charts.append(Lines("Training loss per step", [LineSeries("loss", [float(x) for x in step["step"]],
                                                                  step["loss"])], x_label=note))
    return charts


def performance_chart(source: dict[str, Any]) -> Bars | None:
    """The source's rate metrics with their intervals."""
    metrics = source.get("metrics") or {}
    keys = [k for k in _RATE_METRICS if k in metrics]
    if not keys:
        return None
    split = source.get("split") or "?"
    what = "recomputed" if source.get("recomputed") else f"fairness audit {source.get('analysis')}"
    return Bars(f"Overall metrics, {split} split ({what})", [_SHORT.get(k, k) for k in keys],
                [bar_series("value", [metrics[k] for k in keys])], y_min=0.0, y_max=1.0,
                note=f"n = {source.get('n')}; bars: {source.get('ci_method') or 'no interval'}")


def fairness_chart(feature: dict[str, Any], min_size: int) -> Bars:
    """Selection rate, accuracy and TPR per group of one sensitive column, with intervals."""
    groups = feature.get("groups") or []
    cats = [(g["name"] + (" *" if g.get("insufficient") else "")) for g in groups]
    series = [bar_series(_SHORT[k], [g["metrics"].get(k) for g in groups])
              for k in ("selection_rate", "accuracy", "tpr")]
    note = "bars: 95 % percentile bootstrap intervals"
    if any(g.get("insufficient") for g in groups):
        note += f"; * fewer than {min_size} rows: insufficient data"
    return Bars(f"{feature['name']}: metrics by group", cats, series, y_min=0.0, y_max=1.0, note=note)


def importance_chart(item: dict[str, Any], top: int = 15) -> Bars | None:
    """Global importance (mean |attribution|) of the top features of one explanation."""
    imp = item.get("importance") or {}
    feats = imp.get("features") if imp.get("status") == "assessed" else None
    if not feats:
        return None
    feats = feats[:top]
    return Bars(f"{item.get('title')}: global importance", [f["name"] for f in feats],
                [bar_series("mean |attribution|", feats)], horizontal=True,
                note=f"mean |attribution| over {item.get('samples')} sample(s)")


def mitigation_chart(section: dict[str, Any]) -> Bars | None:
    """Accuracy (validation) and demographic-parity difference (with interval) per run."""
    runs = section.get("runs") or []
    if not runs:
        return None
    acc = [r["metrics"].get("accuracy") for r in runs]
    dp = [(r.get("fairness") or {}).get("differences", {}).get("dp_difference") for r in runs]
    return Bars(f"Mitigations on {section.get('column')}: accuracy and demographic-parity difference",
                [r["name"] for r in runs],
                [bar_series("accuracy (validation)", acc), bar_series("DP difference", dp)],
                y_min=0.0, y_max=1.0, note="DP difference from each run's stored audit; bars: BC bootstrap interval")


def group_importance_chart(item: dict[str, Any], top: int = 8) -> Bars | None:
    """Mean |attribution| per group of the features that differ most, with intervals."""
    features = (item.get("features") or [])[:top]
    groups = item.get("groups") or []
    if not features or not groups:
        return None
    series = [bar_series(f"{g['name']} (n={g['size']})", [(f.get("mean_abs") or [None] * len(groups))[i]
                                                            for f in features])
              for i, g in enumerate(groups)]
    return Bars(f"{item.get('title')}: mean |attribution| by {item.get('sensitive')}", [f["name"] for f in features],
                series, y_min=0.0, note="features that differ most between groups first; bars: percentile bootstrap intervals")
