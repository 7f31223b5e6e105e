"""``render_pdf``: the report as an A4 PDF, drawn with fpdf2 from ``report.json`` alone.

Text is set in DejaVu Sans (a Unicode TrueType font shipped with matplotlib, which captum
installs, or with the system); without it the PDF falls back to the PDF core fonts and
transliterates what Latin-1 cannot hold, and says so on the first page. The output is
deterministic: the creation date is the report time, the producer is fixed, and the file
identifier is derived from the content and that date, so the same report gives the same bytes.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.core.report.blocks import Block, cover_blocks, section_blocks
from workbench.core.report.canonical import canonical_bytes, sha256_hex
from workbench.core.report.charts import Prim, layout

__all__ = ["PdfFonts", "find_fonts", "render_pdf"]

_MARGIN = 18.0
_CHART_W, _CHART_H = 640.0, 260.0
_PT = 0.3528  # mm per point
_INK, _MUTED, _WARN, _RULE, _BAND = (29, 29, 31), (95, 99, 104), (154, 98, 0), (208, 212, 217), (244, 246, 248)
_STATUS_COLOURS = {"assessed": (27, 127, 59), "incomplete": (154, 98, 0), "not assessed": (107, 111, 117)}
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}


@dataclass(frozen=True)
class PdfFonts:
    """Where the TrueType fonts come from (None: core fonts with transliteration)."""

    folder: Path | None
    origin: str


def find_fonts() -> PdfFonts:
    """DejaVu Sans from matplotlib's data folder or the system, else the core fonts."""
    candidates: list[tuple[Path, str]] = []
    spec = importlib.util.find_spec("matplotlib")  # located, not imported: importing it is slow
    if spec is not None and spec.origin:
        candidates.append((Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf", "matplotlib"))
    candidates += [(Path("/usr/share/fonts/truetype/dejavu"), "system"),
                   (Path("/usr/share/fonts/dejavu"), "system"),
                   (Path("/Library/Fonts"), "system")]
    for folder, origin in candidates:
        if all((folder / name).is_file() for name in _FONT_FILES.values()):
            return PdfFonts(folder, f"DejaVu Sans ({origin})")
    return PdfFonts(None, "PDF core fonts (Helvetica, Courier); non-Latin-1 text transliterated")


_LATIN = str.maketrans({"—": "-", "–": "-", "−": "-", "→": "->", "≥": ">=", "≤": "<=", "…": "...",
                        "⚠": "!", "·": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "²": "2"})


def _latin1(text: str) -> str:
    text = text.translate(_LATIN)
    text = unicodedata.normalize("NFKD", text)
    return text.encode("latin-1", "replace").decode("latin-1")


def _rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _creation_date(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


class _Writer:
    """Draws blocks onto an fpdf2 document."""

    def __init__(self, report: dict[str, Any], digest: str, fonts: PdfFonts) -> None:
        from fpdf import FPDF

        summary = report["summary"]
        self.fonts = fonts
        self.unicode = fonts.folder is not None
        footer_left = self.t(f"{report['title']} · {summary['project']} · {summary['time']}")
        footer_right = f"report digest {digest[:16]}… · page "
        writer = self

        class _Doc(FPDF):
            def footer(self) -> None:
                self.set_y(-12)
                writer.font("", 7.5)
                self.set_text_color(*_MUTED)
                width = self.w - 2 * _MARGIN
                self.cell(width * 0.68, 5, footer_left[:110], align="L")
                self.cell(width * 0.32, 5, writer.t(footer_right) + f"{self.page_no()} of {{nb}}", align="R")

        pdf = _Doc(orientation="portrait", unit="mm", format="A4")
        self.pdf = pdf
        pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
        pdf.set_auto_page_break(True, margin=18)
        pdf.set_creation_date(_creation_date(report["generated"]["time"]))
        pdf.set_producer("Model Workbench report writer (fpdf2)")
        pdf.set_creator(f"{report['generated']['application']} {report['generated']['version']}")
        pdf.set_title(self.t(f"{report['title']}: {summary['project']}"))
        pdf.set_subject(self.t(f"report digest {digest}"))
        pdf.set_lang("en")
        if self.unicode:
            assert fonts.folder is not None
            pdf.add_font("dejavu", "", str(fonts.folder / _FONT_FILES[""]))
            pdf.add_font("dejavu", "B", str(fonts.folder / _FONT_FILES["B"]))
        self.width = pdf.w - 2 * _MARGIN
        self._widths: dict[tuple[str, str, float, str], float] = {}

    # ------------------------------------------------------------------- text helpers
    def t(self, text: Any) -> str:
        s = str(text)
        return s if self.unicode else _latin1(s)

    def font(self, style: str = "", size: float = 9.0, mono: bool = False) -> None:
        # digests are plain ASCII: the core Courier needs no embedding (and no subsetting time)
        if mono:
            self.pdf.set_font("Courier", "", size)
        elif self.unicode:
            self.pdf.set_font("dejavu", style, size)
        else:
            self.pdf.set_font("Helvetica", style, size)

    def need(self, height: float) -> None:
        """Start a new page unless ``height`` mm fit below the current position."""
        if self.pdf.get_y() + height > self.pdf.h - 18:
            self.pdf.add_page()

    def para(self, text: str, size: float = 9.0, colour: tuple[int, int, int] = _INK, style: str = "",
             gap: float = 1.5) -> None:
        """A wrapped paragraph across the text width (breaking pages between lines)."""
        pdf = self.pdf
        self.font(style, size)
        pdf.set_text_color(*colour)
        step = size * _PT * 1.45
        for line in self._wrap(self.t(text), self.width):
            if pdf.get_y() + step > pdf.h - 18:
                pdf.add_page()
                self.font(style, size)
                pdf.set_text_color(*colour)
            pdf.text(_MARGIN, pdf.get_y() + size * _PT * 1.05, line)
            pdf.set_y(pdf.get_y() + step)
        pdf.ln(gap)

    # ------------------------------------------------------------------------ blocks
    def heading(self, text: str, status: str | None = None) -> None:
        pdf = self.pdf
        self.need(40)
        pdf.start_section(self.t(text), level=0)
        self.font("B", 15)
        pdf.set_text_color(*_INK)
        pdf.cell(0, 9, self.t(text), new_x="LMARGIN", new_y="NEXT")
        if status:
            self.font("B", 8)
            pdf.set_text_color(255, 255, 255)
            pdf.set_fill_color(*_STATUS_COLOURS.get(status, _MUTED))
            pdf.cell(pdf.get_string_width(status) + 5, 4.8, self.t(status), fill=True, new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(*_RULE)
        pdf.set_line_width(0.3)
        pdf.line(_MARGIN, pdf.get_y() + 1.5, _MARGIN + self.width, pdf.get_y() + 1.5)
        pdf.ln(4)

    def block(self, b: Block) -> None:
        pdf = self.pdf
        if b.kind == "h3":
            self.need(24)
            pdf.ln(1.5)
            self.para(b.text, 11, style="B", gap=0.8)
        elif b.kind == "h4":
            self.need(20)
            self.para(b.text, 9.5, style="B", gap=0.5)
        elif b.kind == "p":
            self.para(b.text, 9)
        elif b.kind == "note":
            if b.text:
                self.para(b.text, 7.5, _MUTED)
        elif b.kind == "flag":
            self.para(f"⚠ {b.text}", 8.5, _WARN)
        elif b.kind == "list":
            for item in b.items:
                self.para(f"⚠ {item}", 8.5, _WARN, gap=0.6)
            pdf.ln(1)
        elif b.kind == "kv":
            self.kv(b)
        elif b.kind == "table":
            self.table(b)
        elif b.kind == "chart" and b.chart is not None:
            self.chart(layout(b.chart, _CHART_W, _CHART_H))
        elif b.kind == "chain":
            names = [str(layer.get("title") or layer.get("type")) for layer in b.layers]
            self.para("Layers in execution order: " + " → ".join(names), 8.5, _MUTED)

    # ------------------------------------------------------------------------ tables
    # fpdf2's table() lays every cell out twice through multi_cell; these tables are drawn
    # directly (wrapped words, one text() per line), several times faster for the same look.
    def _width_of(self, word: str) -> float:
        key = (self.pdf.font_family, self.pdf.font_style, self.pdf.font_size_pt, word)
        w = self._widths.get(key)
        if w is None:
            # the font's own advance widths, without fpdf2's text-fragment machinery
            font = self.pdf.current_font
            if font is None:
                return self.pdf.get_string_width(word)
            _, points = font.get_text_width(word, self.pdf.font_size_pt, None)
            w = self._widths[key] = points / self.pdf.k
        return w

    def _wrap(self, text: str, width: float) -> list[str]:
        """Lines of ``text`` no wider than ``width`` in the current font (long words are cut)."""
        lines: list[str] = []
        space = self._width_of(" ")
        for para in text.split("\n"):
            line, used = "", 0.0
            for word in para.split(" "):
                w = self._width_of(word)
                while w > width and len(word) > 1:  # a digest or a long name: cut it
                    cut = len(word)
                    while cut > 1 and self._width_of(word[:cut]) > width - (used + space if line else 0):
                        cut -= 1
                    if line and cut < 4:
                        lines.append(line)
                        line, used = "", 0.0
                        continue
                    lines.append((line + " " if line else "") + word[:cut])
                    line, used, word = "", 0.0, word[cut:]
                    w = self._width_of(word)
                if line and used + space + w > width:
                    lines.append(line)
                    line, used = word, w
                else:
                    line, used = (line + " " + word, used + space + w) if line else (word, w)
            lines.append(line)
        return lines

    def _grid(self, rows: list[list[tuple[str, str, float, bool, tuple[int, int, int]]]], widths: list[float],
              header: list[tuple[str, str, float, bool, tuple[int, int, int]]] | None) -> None:
        """Draw rows of cells ``(text, style, size, mono, colour)`` with rules between rows;
        ``header`` is drawn on a band and again at the top of each new page."""
        pdf = self.pdf
        pad_x, pad_y = 1.0, 0.9
        bottom = pdf.h - 18

        def layout_row(cells: list[tuple[str, str, float, bool, tuple[int, int, int]]]) -> tuple[list[list[str]], float]:
            wrapped, height = [], 0.0
            for (text, style, size, mono, _), w in zip(cells, widths, strict=False):
                self.font(style, size, mono)
                lines = self._wrap(_latin1(text) if mono else self.t(text), max(w - 2 * pad_x, 1.0))
                wrapped.append(lines)
                height = max(height, len(lines) * size * _PT * 1.3)
            return wrapped, height + 2 * pad_y

        def draw_row(cells: list[tuple[str, str, float, bool, tuple[int, int, int]]], wrapped: list[list[str]],
                     height: float, band: bool) -> None:
            y = pdf.get_y()
            if band:
                pdf.set_fill_color(*_BAND)
                pdf.rect(_MARGIN, y, sum(widths), height, style="F")
            x = _MARGIN
            for (_, style, size, mono, colour), lines, w in zip(cells, wrapped, widths, strict=False):
                self.font(style, size, mono)
                pdf.set_text_color(*colour)
                step = size * _PT * 1.3
                for k, line in enumerate(lines):
                    if line:
                        pdf.text(x + pad_x, y + pad_y + step * k + size * _PT * 0.98, line)
                x += w
            pdf.set_draw_color(*_RULE)
            pdf.set_line_width(0.2)
            pdf.line(_MARGIN, y + height, _MARGIN + sum(widths), y + height)
            pdf.set_y(y + height)

        head = layout_row(header) if header else None
        for cells in rows:
            wrapped, height = layout_row(cells)
            if pdf.get_y() + height > bottom:
                pdf.add_page()
                if header and head:
                    draw_row(header, *head, band=True)
            elif header and head and cells is rows[0]:
                if pdf.get_y() + head[1] + height > bottom:
                    pdf.add_page()
                draw_row(header, *head, band=True)
            draw_row(cells, wrapped, height, band=False)
        if header and head and not rows:
            draw_row(header, *head, band=True)
        pdf.ln(2.5)

    def kv(self, b: Block) -> None:
        widths = [self.width * 0.28, self.width * 0.72]
        rows = [[(key, "", 8.0, False, _MUTED),
                 (value, "", 8.4 if key in b.mono else 8.2, key in b.mono, _INK)] for key, value in b.pairs]
        self._grid(rows, widths, None)

    def table(self, b: Block) -> None:
        n = len(b.headers)
        rel = list(b.widths) if len(b.widths) == n else [1.0] * n
        widths = [self.width * w / sum(rel) for w in rel]
        size = 7.4 if n > 6 else 8.0
        self.need(14)
        rows = []
        for i, cells in enumerate(b.rows):
            colour = _MUTED if i in b.muted else _INK
            row = []
            for c in cells:
                digest = len(c) == 64 and all(ch in "0123456789abcdef" for ch in c)
                if n > 5 and " [" in c:  # a value and its interval: two lines in a narrow column
                    c = c.replace(" [", "\n[", 1)
                row.append((c, "", size - (0.8 if digest else 0), digest, colour))
            rows.append(row)
        self._grid(rows, widths, [(h, "B", size, False, _INK) for h in b.headers])

    def chart(self, prims: list[Prim]) -> None:
        pdf = self.pdf
        scale = self.width / _CHART_W
        height = _CHART_H * scale
        self.need(height + 2)
        x0, y0 = _MARGIN, pdf.get_y()
        for p in prims:
            if p.kind == "rect":
                (x, y), (w, h) = p.points
                if w <= 0 or h <= 0:
                    continue
                pdf.set_fill_color(*_rgb(p.fill or "#ffffff"))
                pdf.rect(x0 + x * scale, y0 + y * scale, w * scale, h * scale, style="F")
            elif p.kind in ("line", "polyline"):
                pdf.set_draw_color(*_rgb(p.colour))
                pdf.set_line_width(max(p.width * scale, 0.1))
                pts = [(x0 + x * scale, y0 + y * scale) for x, y in p.points]
                if p.kind == "line":
                    (ax, ay), (bx, by) = pts
                    pdf.line(ax, ay, bx, by)
                else:
                    pdf.polyline(pts)
            elif p.kind == "text":
                (x, y), = p.points
                self.font("B" if p.bold else "", p.size * scale / _PT)
                pdf.set_text_color(*_rgb(p.colour))
                text = self.t(p.text)
                w = pdf.get_string_width(text)
                dx = {"start": 0.0, "middle": -w / 2, "end": -w}[p.anchor]
                pdf.text(x0 + x * scale + dx, y0 + y * scale, text)
        pdf.set_y(y0 + height + 3)

    # ------------------------------------------------------------------------- pages
    def cover(self, report: dict[str, Any], digest: str) -> None:
        pdf = self.pdf
        pdf.add_page()
        pdf.set_fill_color(*_INK)
        pdf.rect(0, 0, pdf.w, 6, style="F")
        pdf.set_y(22)
        self.font("B", 8.5)
        pdf.set_text_color(*_MUTED)
        pdf.cell(0, 5, self.t("MODEL WORKBENCH · AUDIT REPORT"), new_x="LMARGIN", new_y="NEXT")
        self.font("B", 24)
        pdf.set_text_color(*_INK)
        pdf.cell(0, 13, self.t(report["title"]), new_x="LMARGIN", new_y="NEXT")
        self.para(str(report["summary"]["project"]), 13, gap=0.5)
        run = report["summary"].get("run")
        self.para((f"Run {run['name']} ({run['id']}) · " if run else "") + str(report["summary"]["time"]), 9.5, _MUTED)
        pdf.set_draw_color(*_INK)
        pdf.set_line_width(0.6)
        pdf.line(_MARGIN, pdf.get_y() + 1, _MARGIN + self.width, pdf.get_y() + 1)
        pdf.ln(5)
        pdf.start_section(self.t("Summary"), level=0)
        for b in cover_blocks(report, digest):
            self.block(b)
        if not self.unicode:
            self.para(f"Fonts: {self.fonts.origin}.", 7, _MUTED)

    def contents(self, report: dict[str, Any]) -> None:
        pdf = self.pdf
        pdf.add_page()
        self.font("B", 15)
        pdf.set_text_color(*_INK)
        pdf.cell(0, 9, self.t("Contents"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        for i, sec in enumerate(report["sections"], 1):
            self.font("", 10)
            pdf.set_text_color(*_INK)
            pdf.cell(self.width - 32, 6.5, self.t(f"{i}.  {sec['title']}"))
            self.font("B", 8)
            pdf.set_text_color(*_STATUS_COLOURS.get(sec["status"], _MUTED))
            pdf.cell(32, 6.5, self.t(sec["status"]), align="R", new_x="LMARGIN", new_y="NEXT")

    def section(self, sec: dict[str, Any], report: dict[str, Any]) -> None:
        self.pdf.ln(6)
        self.heading(sec["title"], sec["status"])
        if sec.get("reason"):
            self.para(sec["reason"], 8.5, _MUTED)
        for b in section_blocks(sec, report):
            self.block(b)


def render_pdf(report: dict[str, Any], fonts: PdfFonts | None = None) -> bytes:
    """The report as PDF bytes: a cover with the summary, contents, then every section."""
    digest = sha256_hex(canonical_bytes(report))
    w = _Writer(report, digest, fonts or find_fonts())
    w.cover(report, digest)
    w.contents(report)
    for sec in report["sections"]:
        w.section(sec, report)
    return bytes(w.pdf.output())
