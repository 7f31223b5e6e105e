"""``render_html``: the report as one self-contained HTML file.

Drawn from ``report.json`` alone. Charts are inline SVG made here, the styles are inline, and
there are no scripts and no URLs (a Content-Security-Policy forbids loading anything), so the
file opens the same way offline, years later. Every text from the project is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from workbench.core.report.blocks import Block, cover_blocks, section_blocks
from workbench.core.report.canonical import canonical_bytes, sha256_hex
from workbench.core.report.charts import to_svg

__all__ = ["render_html"]

_CSS = """
:root { --ink:#1d1d1f; --muted:#5f6368; --rule:#d0d4d9; --band:#f4f6f8; --ok:#1b7f3b; --warn:#9a6200; --na:#6b6f75; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink); margin: 0;
       background: #fff; font-size: 14px; line-height: 1.45; }
main { max-width: 980px; margin: 0 auto; padding: 32px 40px 64px; }
header.cover { border-bottom: 3px solid var(--ink); padding-bottom: 16px; margin-bottom: 24px; }
.kicker { text-transform: uppercase; letter-spacing: .12em; font-size: 12px; color: var(--muted); margin: 0; }
h1 { font-size: 30px; margin: 4px 0 12px; }
h2 { font-size: 20px; border-bottom: 1px solid var(--rule); padding-bottom: 4px; margin-top: 40px; }
h3 { font-size: 16px; margin: 22px 0 6px; }
h4 { font-size: 14px; margin: 16px 0 4px; color: #333; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--rule); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; }
table.kv th { width: 24%; background: none; color: var(--muted); font-weight: normal; }
td.mono, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
tr.muted td { color: var(--na); }
.badge { display: inline-block; font-size: 11px; padding: 1px 8px; border-radius: 9px; margin-left: 8px;
         vertical-align: middle; color: #fff; font-weight: 600; letter-spacing: .02em; }
.badge.assessed { background: var(--ok); } .badge.incomplete { background: var(--warn); }
.badge.not-assessed { background: var(--na); }
p.reason { color: var(--muted); font-style: italic; }
p.note { color: var(--muted); font-size: 12px; }
p.flag, li.flag { color: var(--warn); }
ul.flags li { margin: 2px 0; }
figure { margin: 8px 0 16px; } figure svg { max-width: 100%; height: auto; }
nav ol { columns: 2; font-size: 13px; }
footer { margin-top: 48px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--rule); padding-top: 8px; }
@media print { h2 { page-break-before: always; } main { padding: 0; } }
"""


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


def _kv(block: Block) -> str:
    rows = "".join(
        f'<tr><th scope="row">{_e(k)}</th><td{" class=mono" if k in block.mono else ""}>{_e(v)}</td></tr>'
        for k, v in block.pairs
    )
    return f'<table class="kv">{rows}</table>'


def _table(block: Block) -> str:
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in block.headers)
    body = []
    for i, row in enumerate(block.rows):
        cls = ' class="muted"' if i in block.muted else ""
        cells = "".join(f"<td{' class=mono' if _is_digest(c) else ''}>{_e(c)}</td>" for c in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _is_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _chain_svg(layers: list[dict[str, Any]]) -> str:
    """The layers in execution order as boxes joined by arrows, five to a row."""
    per_row, bw, bh, gap, vgap = 5, 150.0, 54.0, 34.0, 30.0
    n = len(layers)
    rows = max(1, -(-n // per_row))
    width = per_row * bw + (per_row - 1) * gap + 8
    height = rows * bh + (rows - 1) * vgap + 8
    out = [f'<svg viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" role="img" '
           'aria-label="Layers in execution order" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">']
    pos = []
    for i, layer in enumerate(layers):
        r, c = divmod(i, per_row)
        if r % 2:  # snake: odd rows run right to left so each arrow is short
            c = per_row - 1 - c
        x, y = 4 + c * (bw + gap), 4 + r * (bh + vgap)
        pos.append((x, y))
        shape = layer.get("output_shape")
        shape_text = "(" + ", ".join(map(str, shape)) + ")" if isinstance(shape, list) else "—"
        out.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="{bw:.0f}" height="{bh:.0f}" rx="6" fill="#f4f6f8" '
                   'stroke="#5f6368" stroke-width="1"/>')
        title = str(layer.get("title") or layer.get("type"))
        title = title if len(title) <= 22 else title[:21] + "…"
        out.append(f'<text x="{x + bw / 2:.0f}" y="{y + 20:.0f}" font-size="12" font-weight="bold" '
                   f'text-anchor="middle" fill="#1d1d1f">{_e(title)}</text>')
        sub = f"{shape_text} · {layer.get('parameters', 0):,} p"
        out.append(f'<text x="{x + bw / 2:.0f}" y="{y + 38:.0f}" font-size="10" text-anchor="middle" '
                   f'fill="#5f6368">{_e(sub)}</text>')
    for i in range(n - 1):
        (x1, y1), (x2, y2) = pos[i], pos[i + 1]
        if y1 == y2:
            ax, bx = (x1 + bw, x2) if x2 > x1 else (x1, x2 + bw)
            ay = y1 + bh / 2
            tip = -6 if x2 > x1 else 6
            out.append(f'<line x1="{ax:.0f}" y1="{ay:.0f}" x2="{bx:.0f}" y2="{ay:.0f}" stroke="#1d1d1f"/>'
                       f'<polygon points="{bx:.0f},{ay:.0f} {bx + tip:.0f},{ay - 4:.0f} {bx + tip:.0f},{ay + 4:.0f}" '
                       'fill="#1d1d1f"/>')
        else:
            cx = x1 + bw / 2
            out.append(f'<line x1="{cx:.0f}" y1="{y1 + bh:.0f}" x2="{cx:.0f}" y2="{y2:.0f}" stroke="#1d1d1f"/>'
                       f'<polygon points="{cx:.0f},{y2:.0f} {cx - 4:.0f},{y2 - 6:.0f} {cx + 4:.0f},{y2 - 6:.0f}" '
                       'fill="#1d1d1f"/>')
    out.append("</svg>")
    return "".join(out)


def _block(block: Block) -> str:
    k = block.kind
    if k in ("h3", "h4"):
        return f"<{k}>{_e(block.text)}</{k}>"
    if k == "p":
        return f"<p>{_e(block.text)}</p>"
    if k == "note":
        return f'<p class="note">{_e(block.text)}</p>' if block.text else ""
    if k == "flag":
        return f'<p class="flag">⚠ {_e(block.text)}</p>'
    if k == "kv":
        return _kv(block)
    if k == "table":
        return _table(block)
    if k == "list":
        return '<ul class="flags">' + "".join(f'<li class="flag">{_e(i)}</li>' for i in block.items) + "</ul>"
    if k == "chart" and block.chart is not None:
        return f"<figure>{to_svg(block.chart)}</figure>"
    if k == "chain":
        note = ("<figcaption class=note>Layers in execution order; every connection is listed in "
                "report.json.</figcaption>")
        return f"<figure>{_chain_svg(block.layers)}{note}</figure>"
    return ""


def _badge(status: str) -> str:
    return f'<span class="badge {_e(status.replace(" ", "-"))}">{_e(status)}</span>'


def render_html(report: dict[str, Any]) -> str:
    """The report as a self-contained HTML page (see the module docstring)."""
    digest = sha256_hex(canonical_bytes(report))
    s = report["summary"]
    run = s.get("run") or {}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(report['title'])} — {_e(s['project'])}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        '<header class="cover"><p class="kicker">Model Workbench · audit report</p>',
        f"<h1>{_e(report['title'])}</h1>",
        f"<p><strong>{_e(s['project'])}</strong>" + (f" — run {_e(run.get('name'))} ({_e(run.get('id'))})" if run else "")
        + f" — {_e(s['time'])}</p></header>",
        '<section id="summary"><h2 style="margin-top:0">Summary</h2>',
        "".join(_block(b) for b in cover_blocks(report, digest)),
        "</section>",
        "<nav><h2>Contents</h2><ol>"
        + "".join(f'<li><a href="#{_e(sec["id"])}">{_e(sec["title"])}</a> {_badge(sec["status"])}</li>'
                  for sec in report["sections"])
        + "</ol></nav>",
    ]
    for sec in report["sections"]:
        parts.append(f'<section id="{_e(sec["id"])}"><h2>{_e(sec["title"])}{_badge(sec["status"])}</h2>')
        if sec.get("reason"):
            parts.append(f'<p class="reason">{_e(sec["reason"])}</p>')
        parts.append("".join(_block(b) for b in section_blocks(sec, report)))
        parts.append("</section>")
    parts.append(
        f"<footer>Drawn from report.json (sha256 <span class=mono>{_e(digest)}</span>) by "
        f"{_e(report['generated']['application'])} {_e(report['generated']['version'])}. "
        "manifest.json lists the digests of every file of this report.</footer>"
    )
    parts.append("</main></body></html>\n")
    return "\n".join(parts)
