"""The datasheet view: what the data holds, and what in it deserves a second look.

Plain dicts in (``Datasheet.to_dict()``, see docs/CONTRACTS.md, "engines.data"), nothing out
but files. The findings tab gives every flag with a warning icon and its one-sentence reason
(the number behind it in the sentence and the tooltip), then what does not apply and why. Three
more tabs give the columns (type, missing values, how well each alone predicts the target and each
sensitive attribute), the groups with their class balance (counts and a stacked bar), and the
rows (splits, duplicates, rows shared between splits).

Reading never raises: :func:`read_datasheet` skips what it cannot read and says so in
``problems``, which the view shows in its message line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from widgets.common.export import export_button, export_widget_png, export_widget_svg, write_csv

__all__ = [
    "FLAG_TITLES",
    "SECTION_TITLES",
    "DatasheetView",
    "SheetData",
    "read_datasheet",
    "sample_datasheet",
]

UNDEFINED = "—"
FLAG_TITLES = {
    "leakage": "Possible leakage",
    "proxy": "Proxy",
    "identifier": "Identifier-like column",
    "shared_rows": "Rows shared between splits",
    "duplicates": "Duplicated rows",
}
SECTION_TITLES = {
    "columns": "Columns",
    "missing": "Missing values",
    "class_balance": "Class balance",
    "groups": "Group sizes",
    "identifiers": "Identifier-like columns",
    "proxies": "Proxies",
    "leakage": "Leakage",
    "duplicates": "Duplicated rows",
    "shared_rows": "Rows shared between splits",
}
_SPLIT_WORDS = {"train": "training", "val": "validation", "test": "test"}
# colour-blind-safe (Okabe & Ito), one per class, in class order
CLASS_COLOURS = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#000000",
)
_FLAG_BACKGROUND = QColor("#fff3e0")
_FLAG_FOREGROUND = QColor("#e65100")
_MUTED = QColor("#78909c")
_ERROR_STYLE = "color: #b71c1c;"
_INFO_STYLE = "color: #37474f;"
_SCORE_HELP = (
    "How well this column alone predicts {what}: the chance-adjusted balanced accuracy of a "
    "one-column model on cross-validated predictions (0 is chance, 1 is perfect)."
)
_R2_HELP = (
    "How well this column alone predicts the target: the cross-validated R² of a one-column model."
)


# ================================================================== reading
@dataclass
class SheetFlag:
    kind: str
    reason: str
    column: str | None = None
    sensitive: str | None = None
    splits: list[str] | None = None
    measure: str = ""
    value: float | None = None
    threshold: float | None = None

    @property
    def title(self) -> str:
        if self.kind == "proxy" and self.sensitive:
            return f"Proxy for '{self.sensitive}'"
        return FLAG_TITLES.get(self.kind, self.kind.replace("_", " ").capitalize() or "Flag")

    @property
    def number(self) -> str:
        """``"unique_fraction 1.000 (threshold 0.95)"``, or "" when the flag has no number."""
        if self.value is None:
            return ""
        text = f"{self.measure or 'value'} {_number(self.value)}"
        if self.threshold is not None:
            text += f" (threshold {self.threshold:g})"
        return text


@dataclass
class SheetColumn:
    name: str
    role: str = ""
    type: str = ""
    missing: int | None = None
    distinct: int | None = None
    unique_fraction: float | None = None
    model_input: bool = False
    target_score: float | None = None
    proxy_scores: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class SheetGroup:
    attribute: str
    name: str
    rows: int
    class_counts: list[int] | None = None
    intersection: bool = False


@dataclass
class SheetData:
    """A datasheet read into what the view shows; ``problems`` says what could not be read."""

    title: str = ""
    kind: str = ""
    task: str = ""
    target: str = ""
    rows: int | None = None
    rows_used: int | None = None
    n_columns: int | None = None
    splits: dict[str, int] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    class_counts: list[int] = field(default_factory=list)
    sensitive: list[str] = field(default_factory=list)
    columns: list[SheetColumn] = field(default_factory=list)
    groups: list[SheetGroup] = field(default_factory=list)
    duplicate_rows: int | None = None
    duplicate_examples: list[list[int]] = field(default_factory=list)
    shared: list[tuple[str, str, int]] = field(default_factory=list)
    shared_examples: dict[tuple[str, str], list[list[int]]] = field(default_factory=dict)
    flags: list[SheetFlag] = field(default_factory=list)
    not_applicable: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.rows is None and not self.columns and not self.flags


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    return None


def _float(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _str(v: Any, default: str = "") -> str:
    if v is None:
        return default
    return v if isinstance(v, str) else str(v)


def _number(v: float | None, digits: int = 3) -> str:
    return UNDEFINED if v is None else f"{v:.{digits}f}"


def _percent(part: float | None, whole: float | None) -> str:
    if part is None or not whole:
        return UNDEFINED
    return f"{100 * part / whole:.1f}%"


def read_datasheet(d: Any) -> SheetData:
    """Read ``Datasheet.to_dict()`` output into :class:`SheetData`; never raises."""
    out = SheetData()
    if d is None:
        return out
    if not isinstance(d, Mapping):
        out.problems.append(f"A datasheet must be a dict, not {type(d).__name__}.")
        return out
    out.title = _str(d.get("title"))
    out.kind = _str(d.get("kind"))
    out.task = _str(d.get("task"))
    out.target = _str(d.get("target"))
    out.rows = _int(d.get("rows"))
    out.rows_used = _int(d.get("rows_used"))
    out.n_columns = _int(d.get("n_columns"))
    if "rows" in d and out.rows is None:
        out.problems.append(f"The row count {d.get('rows')!r} is not a whole number.")
    splits = d.get("splits")
    if isinstance(splits, Mapping):
        for k, v in splits.items():
            n = _int(v)
            if n is not None:
                out.splits[_str(k)] = n
    sensitive = d.get("sensitive")
    if isinstance(sensitive, list):
        out.sensitive = [_str(s) for s in sensitive]
    classes, counts = d.get("classes"), d.get("class_counts")
    if isinstance(classes, list):
        out.classes = [_str(c) for c in classes]
        if (
            isinstance(counts, list)
            and len(counts) == len(classes)
            and all(_int(c) is not None for c in counts)
        ):
            out.class_counts = [int(c) for c in counts]
        elif counts is not None:
            out.problems.append("The class counts do not match the classes.")
    _read_columns(d.get("columns"), out)
    _read_groups(d.get("groups"), out)
    _read_rows(d, out)
    _read_flags(d.get("flags"), out)
    na = d.get("not_applicable")
    if isinstance(na, Mapping):
        out.not_applicable = {_str(k): _str(v) for k, v in na.items()}
    elif na is not None:
        out.problems.append("'not_applicable' is not a dict.")
    thresholds = d.get("thresholds")
    if isinstance(thresholds, Mapping):
        for k, v in thresholds.items():
            f = _float(v)
            if f is not None:
                out.thresholds[_str(k)] = f
    notes = d.get("notes")
    if isinstance(notes, list):
        out.notes = [_str(n) for n in notes]
    return out


def _read_columns(columns: Any, out: SheetData) -> None:
    if columns is None:
        return
    if not isinstance(columns, list):
        out.problems.append("'columns' is not a list.")
        return
    for i, c in enumerate(columns):
        if not isinstance(c, Mapping) or not isinstance(c.get("name"), str):
            out.problems.append(f"Column {i + 1} has no name and is left out.")
            continue
        scores = c.get("proxy_scores")
        proxy = (
            {_str(k): _float(v) for k, v in scores.items()} if isinstance(scores, Mapping) else {}
        )
        notes = c.get("score_notes")
        out.columns.append(
            SheetColumn(
                name=c["name"],
                role=_str(c.get("role")),
                type=_str(c.get("type")),
                missing=_int(c.get("missing")),
                distinct=_int(c.get("distinct")),
                unique_fraction=_float(c.get("unique_fraction")),
                model_input=c.get("model_input") is True,
                target_score=_float(c.get("target_score")),
                proxy_scores=proxy,
                notes=[_str(n) for n in notes] if isinstance(notes, list) else [],
            )
        )


def _read_groups(groups: Any, out: SheetData) -> None:
    if groups is None:
        return
    if not isinstance(groups, list):
        out.problems.append("'groups' is not a list.")
        return
    n_classes = len(out.classes)
    for table in groups:
        if not isinstance(table, Mapping) or not isinstance(table.get("groups"), list):
            out.problems.append("A group table without groups is left out.")
            continue
        attribute = _str(table.get("attribute"), "?")
        for g in table["groups"]:
            rows = _int(g.get("rows")) if isinstance(g, Mapping) else None
            if rows is None or rows < 0:
                out.problems.append(f"A group of {attribute!r} has no row count and is left out.")
                continue
            counts = g.get("class_counts")
            class_counts = None
            if isinstance(counts, list) and all(_int(c) is not None for c in counts):
                class_counts = [int(c) for c in counts]
                if n_classes and len(class_counts) != n_classes:
                    out.problems.append(
                        f"Group {g.get('name')!r} of {attribute!r} has class counts that do not match the classes."
                    )
                    class_counts = None
            out.groups.append(
                SheetGroup(
                    attribute=attribute,
                    name=_str(g.get("name"), "?"),
                    rows=rows,
                    class_counts=class_counts,
                    intersection=table.get("intersection") is True,
                )
            )


def _read_rows(d: Mapping[str, Any], out: SheetData) -> None:
    dup = d.get("duplicates")
    if isinstance(dup, Mapping):
        out.duplicate_rows = _int(dup.get("rows"))
        examples = dup.get("examples")
        if isinstance(examples, list):
            out.duplicate_examples = [
                [int(i) for i in e if _int(i) is not None] for e in examples if isinstance(e, list)
            ]
    shared = d.get("shared")
    if isinstance(shared, list):
        for s in shared:
            if not isinstance(s, Mapping):
                continue
            pair, rows = s.get("splits"), _int(s.get("rows"))
            if isinstance(pair, list) and len(pair) == 2 and rows is not None:
                a, b = _str(pair[0]), _str(pair[1])
                out.shared.append((a, b, rows))
                examples = s.get("examples")
                if isinstance(examples, list):
                    out.shared_examples[(a, b)] = [
                        [int(i) for i in e if _int(i) is not None]
                        for e in examples
                        if isinstance(e, list)
                    ]
            else:
                out.problems.append("A shared-rows entry is not a pair of splits with a row count.")


def _read_flags(flags: Any, out: SheetData) -> None:
    if flags is None:
        return
    if not isinstance(flags, list):
        out.problems.append("'flags' is not a list.")
        return
    for f in flags:
        if not isinstance(f, Mapping) or not isinstance(f.get("reason"), str) or not f["reason"]:
            out.problems.append("A flag without a reason is left out.")
            continue
        splits = f.get("splits")
        out.flags.append(
            SheetFlag(
                kind=_str(f.get("kind"), "flag"),
                reason=f["reason"],
                column=f.get("column") if isinstance(f.get("column"), str) else None,
                sensitive=f.get("sensitive") if isinstance(f.get("sensitive"), str) else None,
                splits=[_str(s) for s in splits] if isinstance(splits, list) else None,
                measure=_str(f.get("measure")),
                value=_float(f.get("value")),
                threshold=_float(f.get("threshold")),
            )
        )


# ================================================================== the view
class ClassBalanceDelegate(QStyledItemDelegate):
    """Paints a cell's class shares (a list of counts in ``Qt.UserRole``) as a stacked bar."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        super().paint(painter, option, index)
        counts = index.data(Qt.ItemDataRole.UserRole)
        if not isinstance(counts, list) or not counts:
            return
        total = float(sum(counts))
        if total <= 0:
            return
        rect: QRect = option.rect.adjusted(4, 5, -4, -5)  # type: ignore[attr-defined]
        painter.save()
        x = float(rect.left())
        for i, n in enumerate(counts):
            w = rect.width() * n / total
            painter.fillRect(
                int(round(x)),
                rect.top(),
                int(round(x + w)) - int(round(x)),
                rect.height(),
                QColor(CLASS_COLOURS[i % len(CLASS_COLOURS)]),
            )
            x += w
        painter.setPen(QPen(QColor("#90a4ae")))
        painter.drawRect(rect.adjusted(0, 0, -1, -1))
        painter.restore()


def _table(headers: Sequence[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(list(headers))
    t.verticalHeader().hide()
    t.verticalHeader().setDefaultSectionSize(22)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setAlternatingRowColors(True)
    t.setWordWrap(False)
    header = t.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return t


def _item(text: str, tip: str = "", right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if tip:
        item.setToolTip(tip)
    if right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if text == UNDEFINED:
        item.setForeground(_MUTED)
    return item


class DatasheetView(QWidget):
    """Shows a datasheet: findings with their reasons, then columns, groups and rows."""

    file_stem = "datasheet"  # suggested file name in the export dialog

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data = SheetData()
        self._warning = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self._info = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation)
        self._ok = self.style().standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)

        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = export_button(
            self,
            self.export_png,
            self.export_svg,
            self.export_csv,
            self.set_message,
            self.file_stem,
        )
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.summary_label, 1)
        header.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignTop)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.hide()

        # findings: one row per flag (warning icon, title, reason), then what does not apply
        self.findings = QWidget()
        self.findings_layout = QVBoxLayout(self.findings)
        self.findings_layout.setContentsMargins(2, 2, 6, 2)
        self.findings_layout.setSpacing(4)
        self.findings_scroll = QScrollArea()
        self.findings_scroll.setWidgetResizable(True)
        self.findings_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.findings_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.findings_scroll.setWidget(self.findings)
        self.flag_rows: list[QWidget] = []  # one per flag, in order
        self.flag_labels: list[QLabel] = []

        self.columns_table = _table(["Column", "Role", "Type", "Missing", "Distinct", "Unique"])
        self.groups_table = _table(["Group", "Rows", "Share", "Class balance"])
        self.groups_table.setItemDelegateForColumn(3, ClassBalanceDelegate(self.groups_table))
        self.rows_table = _table(["Rows", "Count", "Details"])
        # one tab each, so each gets the dock's whole width: the findings' sentences wrap less
        self.tables = QTabWidget()
        self.tables.setDocumentMode(True)
        self.tables.addTab(self.findings_scroll, "Findings")
        self.tables.addTab(self.columns_table, "Columns")
        self.tables.addTab(self.groups_table, "Groups and balance")
        self.tables.addTab(self.rows_table, "Rows and splits")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.message_label)
        layout.addWidget(self.tables, 1)
        self.clear("No datasheet yet: it is computed when data is applied or a project is opened.")

    # ------------------------------------------------------------------ public API
    def set_datasheet(self, datasheet: Any) -> None:
        """Show ``Datasheet.to_dict()`` (plus an optional ``title``); what cannot be read is
        described in the message line."""
        self.data = read_datasheet(datasheet)
        self._show_summary()
        self._show_findings()
        self._show_columns()
        self._show_groups()
        self._show_rows()
        if self.data.problems:
            more = len(self.data.problems) - 1
            tail = f" (and {more} more)" if more else ""
            self.set_message(
                f"Part of the datasheet could not be shown: {self.data.problems[0]}{tail}"
            )
        else:
            self.set_message(None)

    def clear(self, message: str = "") -> None:
        """Show no datasheet, with ``message`` saying why (e.g. that one is being computed)."""
        self.set_datasheet(None)
        self.summary_label.setText("")
        self.set_message(message or None, error=False)

    def set_message(self, text: str | None, *, error: bool = True) -> None:
        """A sentence above the datasheet (red for an error); None or "" hides it."""
        self.message_label.setText(text or "")
        self.message_label.setStyleSheet(_ERROR_STYLE if error else _INFO_STYLE)
        self.message_label.setVisible(bool(text))

    def message(self) -> str:
        """The sentence now shown above the datasheet ("" if none)."""
        return self.message_label.text() if not self.message_label.isHidden() else ""

    def flag_texts(self) -> list[str]:
        """The findings as shown: ``"title: reason"`` per flag, in order."""
        return [f"{f.title}: {f.reason}" for f in self.data.flags]

    # ------------------------------------------------------------------ export
    def export_png(self, path: str | Path) -> None:
        export_widget_png(self, path)

    def export_svg(self, path: str | Path) -> None:
        export_widget_svg(self, path, title=f"Datasheet of {self.data.title or 'the data'}")

    def export_csv(self, path: str | Path) -> None:
        """Every number, one per line: section, item, measure, value, note."""
        d = self.data
        rows: list[list[Any]] = []
        for key, value in (("rows", d.rows), ("rows_used", d.rows_used), ("columns", d.n_columns)):
            rows.append(["summary", key, "count", value, ""])
        for name, n in d.splits.items():
            rows.append(["summary", f"split {name}", "rows", n, ""])
        for f in d.flags:
            item = f.column or (" & ".join(f.splits) if f.splits else "rows")
            rows.append(["flag", item, f.kind, f.value, f.reason])
        for section, why in d.not_applicable.items():
            rows.append(["not_applicable", section, "", None, why])
        for c in d.columns:
            rows.append(["column", c.name, "role", c.role, ""])
            rows.append(["column", c.name, "type", c.type, ""])
            rows.append(["column", c.name, "missing", c.missing, ""])
            rows.append(["column", c.name, "distinct", c.distinct, ""])
            rows.append(["column", c.name, "unique_fraction", c.unique_fraction, ""])
            if c.model_input:
                rows.append(["column", c.name, "target_score", c.target_score, "; ".join(c.notes)])
                for s, v in c.proxy_scores.items():
                    rows.append(["column", c.name, f"proxy_score {s}", v, ""])
        for name, count in zip(d.classes, d.class_counts):
            rows.append(["class", name, "rows", count, ""])
        for g in d.groups:
            label = f"{g.attribute} = {g.name}"
            rows.append(["group", label, "rows", g.rows, ""])
            for name, count in zip(d.classes, g.class_counts or []):
                rows.append(["group", label, f"class {name}", count, ""])
        rows.append(["rows", "duplicates", "rows", d.duplicate_rows, ""])
        for a, b, n in d.shared:
            rows.append(["rows", f"{b} in {a}", "rows", n, ""])
        for note in d.notes:
            rows.append(["note", "", "", None, note])
        write_csv(path, ["section", "item", "measure", "value", "note"], rows)

    # ------------------------------------------------------------------ building
    def _show_summary(self) -> None:
        d = self.data
        if d.empty:
            self.summary_label.setText("")
            return
        parts = []
        if d.rows is not None:
            used = (
                f" ({d.rows_used:,} used)"
                if d.rows_used is not None and d.rows_used != d.rows
                else ""
            )
            parts.append(f"{d.rows:,} rows{used}")
        if d.n_columns is not None:
            parts.append(f"{d.n_columns} columns")
        elif d.kind:
            parts.append(f"{d.kind} data")
        if d.target:
            parts.append(
                f"{d.task or 'predicting'} of '{d.target}'" if d.task else f"target '{d.target}'"
            )
        if d.splits:
            parts.append("split " + " / ".join(f"{n:,}" for n in d.splits.values()))
        flags = len(d.flags)
        parts.append(f"{flags} flag{'s' if flags != 1 else ''}" if flags else "no flags")
        title = d.title or "the data"
        self.summary_label.setText(
            f"<b>Datasheet of {_escape(title)}</b> · " + _escape(" · ".join(parts))
        )

    def _clear_findings(self) -> None:
        while self.findings_layout.count():
            item = self.findings_layout.takeAt(0)
            w = item.widget()
            if w is not None:
                w.deleteLater()
        self.flag_rows, self.flag_labels = [], []

    def _finding(
        self, icon: Any, html: str, tip: str = "", muted: bool = False
    ) -> tuple[QWidget, QLabel]:
        row = QFrame()
        h = QHBoxLayout(row)
        h.setContentsMargins(2, 2, 2, 2)
        h.setSpacing(6)
        pic = QLabel()
        pic.setPixmap(icon.pixmap(16, 16))
        pic.setFixedWidth(18)
        text = QLabel(html)
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if muted:
            text.setStyleSheet("color: #607d8b;")
        if tip:
            row.setToolTip(tip)
            text.setToolTip(tip)
        h.addWidget(pic, 0, Qt.AlignmentFlag.AlignTop)
        h.addWidget(text, 1)
        self.findings_layout.addWidget(row)
        return row, text

    def _show_findings(self) -> None:
        self._clear_findings()
        d = self.data
        if d.empty:
            self.tables.setTabText(0, "Findings")
            self.tables.setTabIcon(0, QIcon())
            self.findings_layout.addStretch(1)
            return
        for f in d.flags:
            tip = f.number
            row, label = self._finding(
                self._warning, f"<b>{_escape(f.title)}</b> — {_escape(f.reason)}", tip
            )
            self.flag_rows.append(row)
            self.flag_labels.append(label)
        if not d.flags:
            checked = [
                SECTION_TITLES[k].lower()
                for k in ("identifiers", "proxies", "leakage", "duplicates", "shared_rows")
                if k not in d.not_applicable
            ]
            self._finding(
                self._ok,
                "<b>No flags</b> — nothing reached its threshold"
                + (f" ({_escape(', '.join(checked))} checked)." if checked else "."),
            )
        self.tables.setTabText(
            0,
            f"Findings ({len(d.flags)} flag{'s' if len(d.flags) != 1 else ''})"
            if d.flags
            else "Findings (no flags)",
        )
        self.tables.setTabIcon(0, self._warning if d.flags else self._ok)
        for section, why in d.not_applicable.items():
            title = SECTION_TITLES.get(section, section.replace("_", " ").capitalize())
            self._finding(
                self._info, f"<b>{_escape(title)}: not applicable</b> — {_escape(why)}", muted=True
            )
        for note in d.notes:
            self._finding(self._info, _escape(note), muted=True)
        self.findings_layout.addStretch(1)

    def _flagged(self) -> dict[tuple[str, str], SheetFlag]:
        """Flags by (column, what): what is "type", "target" or a sensitive column."""
        out: dict[tuple[str, str], SheetFlag] = {}
        for f in self.data.flags:
            if f.column is None:
                continue
            if f.kind == "identifier":
                out[(f.column, "type")] = f
            elif f.kind == "leakage":
                out[(f.column, "target")] = f
            elif f.kind == "proxy" and f.sensitive:
                out[(f.column, f.sensitive)] = f
        return out

    def _mark(self, item: QTableWidgetItem, flag: SheetFlag | None) -> QTableWidgetItem:
        if flag is not None:
            item.setBackground(QBrush(_FLAG_BACKGROUND))
            item.setForeground(_FLAG_FOREGROUND)
            item.setIcon(self._warning)
            item.setToolTip(flag.reason)
        return item

    def _show_columns(self) -> None:
        d = self.data
        t = self.columns_table
        sens = [s for s in d.sensitive]
        headers = ["Column", "Role", "Type", "Missing", "Distinct", "Unique", "→ target"]
        headers += [f"→ {s}" for s in sens]
        t.setRowCount(0)
        t.setColumnCount(len(headers))
        t.setHorizontalHeaderLabels(headers)
        header_tips = [
            "",
            "What the column is for",
            "numeric, categorical, text (many distinct values) or "
            "identifier (a value no other row shares in most rows)",
            "Missing values in the source table",
            "Distinct values",
            "Share of rows whose value no other row has",
            _R2_HELP if d.task == "regression" else _SCORE_HELP.format(what="the target"),
        ] + [_SCORE_HELP.format(what=f"the '{s}' group") for s in sens]
        for i, tip in enumerate(header_tips):
            h = t.horizontalHeaderItem(i)
            if h is not None and tip:
                h.setToolTip(tip)
        flagged = self._flagged()
        t.setRowCount(len(d.columns))
        for r, c in enumerate(d.columns):
            name = _item(c.name, "; ".join(c.notes))
            if c.role == "target":
                font = QFont(name.font())
                font.setBold(True)
                name.setFont(font)
            t.setItem(r, 0, name)
            t.setItem(r, 1, _item(c.role or UNDEFINED))
            t.setItem(r, 2, self._mark(_item(c.type or UNDEFINED), flagged.get((c.name, "type"))))
            t.setItem(r, 3, _item(UNDEFINED if c.missing is None else f"{c.missing:,}", right=True))
            t.setItem(
                r, 4, _item(UNDEFINED if c.distinct is None else f"{c.distinct:,}", right=True)
            )
            uf = c.unique_fraction
            t.setItem(r, 5, _item(UNDEFINED if uf is None else f"{100 * uf:.1f}%", right=True))
            not_scored = (
                "Only model inputs are scored." if not c.model_input else "; ".join(c.notes)
            )
            t.setItem(
                r,
                6,
                self._mark(
                    _item(_number(c.target_score, 2), not_scored, right=True),
                    flagged.get((c.name, "target")),
                ),
            )
            for j, s in enumerate(sens):
                v = c.proxy_scores.get(s)
                t.setItem(
                    r,
                    7 + j,
                    self._mark(
                        _item(_number(v, 2), not_scored, right=True), flagged.get((c.name, s))
                    ),
                )
        if not d.columns:
            why = d.not_applicable.get("columns") or "No columns to show."
            t.setRowCount(1)
            t.setItem(0, 0, _item(why))
            t.setSpan(0, 0, 1, t.columnCount())
        else:
            t.clearSpans()

    def _show_groups(self) -> None:
        d = self.data
        t = self.groups_table
        classes = d.classes
        target = d.target or "class"
        headers = ["Group", "Rows", "Share", "Class balance"] + [f"{target} = {c}" for c in classes]
        t.setRowCount(0)
        t.setColumnCount(len(headers))
        t.setHorizontalHeaderLabels(headers)
        legend = ", ".join(f"{c} ({_colour_name(i)})" for i, c in enumerate(classes))
        balance = t.horizontalHeaderItem(3)
        if balance is not None:
            balance.setToolTip(f"Share of each class in the group: {legend}" if legend else "")
        t.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Fixed)
        t.setColumnWidth(3, 120)
        rows: list[tuple[str, int | None, list[int] | None, bool]] = []
        if d.rows_used is not None or d.class_counts:
            total = d.rows_used if d.rows_used is not None else sum(d.class_counts)
            rows.append(("All rows used", total, d.class_counts or None, True))
        for g in d.groups:
            rows.append((f"{g.attribute} = {g.name}", g.rows, g.class_counts, False))
        t.setRowCount(len(rows))
        whole = d.rows_used
        for r, (label, n, counts, bold) in enumerate(rows):
            name = _item(label, label)
            if bold:
                font = QFont(name.font())
                font.setBold(True)
                name.setFont(font)
            t.setItem(r, 0, name)
            t.setItem(r, 1, _item(UNDEFINED if n is None else f"{n:,}", right=True))
            t.setItem(r, 2, _item(_percent(n, whole), right=True))
            bar = _item("")
            if counts and len(counts) == len(classes) and sum(counts) > 0:
                bar.setData(Qt.ItemDataRole.UserRole, list(counts))
                bar.setToolTip(
                    " · ".join(f"{c}: {_percent(k, sum(counts))}" for c, k in zip(classes, counts))
                )
            t.setItem(r, 3, bar)
            for j in range(len(classes)):
                k = counts[j] if counts and j < len(counts) else None
                text = UNDEFINED if k is None else f"{k:,} ({_percent(k, n)})"
                t.setItem(r, 4 + j, _item(text, right=True))
        for j in range(len(classes)):
            h = t.horizontalHeaderItem(4 + j)
            if h is not None:
                h.setForeground(QColor(CLASS_COLOURS[j % len(CLASS_COLOURS)]))

    def _show_rows(self) -> None:
        d = self.data
        t = self.rows_table
        dup_flag = next((f for f in d.flags if f.kind == "duplicates"), None)
        rows: list[tuple[str, str, str, SheetFlag | None]] = []
        if d.empty:
            t.setRowCount(0)
            return
        if d.rows is not None:
            rows.append(("In the source", f"{d.rows:,}", "", None))
        if d.rows_used is not None:
            left = (d.rows or 0) - d.rows_used
            rows.append(
                (
                    "Used by the model",
                    f"{d.rows_used:,}",
                    f"{left:,} left out (no target, or a gap in a 'drop' column)"
                    if left > 0
                    else "",
                    None,
                )
            )
        for name, n in d.splits.items():
            rows.append(
                (
                    f"{_SPLIT_WORDS.get(name, name).capitalize()} split",
                    f"{n:,}",
                    _percent(n, d.rows_used),
                    None,
                )
            )
        if d.duplicate_rows is not None:
            ex = "; ".join(", ".join(str(i) for i in e) for e in d.duplicate_examples[:3])
            rows.append(
                (
                    "Repeating an earlier row",
                    f"{d.duplicate_rows:,}",
                    f"e.g. rows {ex}" if ex else "",
                    dup_flag,
                )
            )
        for a, b, n in d.shared:
            flag = next(
                (f for f in d.flags if f.kind == "shared_rows" and f.splits == [a, b]), None
            )
            pairs = d.shared_examples.get((a, b), [])[:3]
            ex = "; ".join(f"row {p[1]} matches row {p[0]}" for p in pairs if len(p) == 2)
            rows.append(
                (
                    f"{_SPLIT_WORDS.get(b, b).capitalize()} rows also in {_SPLIT_WORDS.get(a, a)}",
                    f"{n:,}",
                    f"e.g. {ex}" if ex else "",
                    flag,
                )
            )
        t.setRowCount(len(rows))
        for r, (label, count, detail, flag) in enumerate(rows):
            t.setItem(r, 0, self._mark(_item(label), flag))
            count_item = _item(count, right=True)
            if flag is not None:
                count_item.setForeground(_FLAG_FOREGROUND)
                count_item.setBackground(QBrush(_FLAG_BACKGROUND))
            t.setItem(r, 1, count_item)
            t.setItem(r, 2, _item(detail, detail))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _colour_name(i: int) -> str:
    return ("blue", "orange", "green", "pink", "sky blue", "vermilion", "yellow", "black")[i % 8]


# ================================================================== preview
def sample_datasheet() -> dict[str, Any]:
    """A hand-made datasheet with one flag of every kind (for the preview and the tests)."""
    classes = ["bad", "good"]
    return {
        "format": "model-workbench-datasheet",
        "version": 1,
        "title": "loans.csv",
        "kind": "table",
        "task": "classification",
        "target": "risk",
        "rows": 412,
        "rows_used": 410,
        "n_columns": 7,
        "sensitive": ["sex"],
        "splits": {"train": 287, "val": 61, "test": 62},
        "classes": classes,
        "class_counts": [123, 287],
        "target_summary": None,
        "columns": [
            {
                "name": "customer_id",
                "role": "feature",
                "type": "identifier",
                "missing": 0,
                "distinct": 410,
                "unique_fraction": 1.0,
                "model_input": True,
                "target_score": 0.0,
                "proxy_scores": {"sex": 0.0},
                "score_notes": [],
            },
            {
                "name": "settled",
                "role": "feature",
                "type": "numeric",
                "missing": 0,
                "distinct": 2,
                "unique_fraction": 0.0,
                "model_input": True,
                "target_score": 0.981,
                "proxy_scores": {"sex": 0.012},
                "score_notes": [],
            },
            {
                "name": "region",
                "role": "feature",
                "type": "categorical",
                "missing": 3,
                "distinct": 2,
                "unique_fraction": 0.0,
                "model_input": True,
                "target_score": 0.04,
                "proxy_scores": {"sex": 0.8},
                "score_notes": [],
            },
            {
                "name": "income",
                "role": "feature",
                "type": "numeric",
                "missing": 5,
                "distinct": 398,
                "unique_fraction": 0.94,
                "model_input": True,
                "target_score": 0.21,
                "proxy_scores": {"sex": 0.03},
                "score_notes": [],
            },
            {
                "name": "note",
                "role": "ignore",
                "type": "text",
                "missing": 40,
                "distinct": 301,
                "unique_fraction": 0.6,
                "model_input": False,
                "target_score": None,
                "proxy_scores": {},
                "score_notes": [],
            },
            {
                "name": "sex",
                "role": "sensitive",
                "type": "categorical",
                "missing": 0,
                "distinct": 2,
                "unique_fraction": 0.0,
                "model_input": False,
                "target_score": None,
                "proxy_scores": {},
                "score_notes": [],
            },
            {
                "name": "risk",
                "role": "target",
                "type": "categorical",
                "missing": 2,
                "distinct": 2,
                "unique_fraction": 0.0,
                "model_input": False,
                "target_score": None,
                "proxy_scores": {},
                "score_notes": [],
            },
        ],
        "groups": [
            {
                "attribute": "sex",
                "intersection": False,
                "band_edges": None,
                "groups": [
                    {"name": "female", "rows": 131, "class_counts": [52, 79]},
                    {"name": "male", "rows": 279, "class_counts": [71, 208]},
                ],
            },
        ],
        "duplicates": {
            "rows": 4,
            "distinct": 3,
            "examples": [[12, 87], [40, 41, 300]],
            "compared": [],
        },
        "shared": [
            {"splits": ["train", "val"], "rows": 0, "examples": []},
            {"splits": ["train", "test"], "rows": 2, "examples": [[5, 17], [40, 41]]},
            {"splits": ["val", "test"], "rows": 0, "examples": []},
        ],
        "flags": [
            {
                "kind": "leakage",
                "column": "settled",
                "sensitive": None,
                "splits": None,
                "measure": "balanced_accuracy_adjusted",
                "value": 0.981,
                "threshold": 0.9,
                "reason": "Column 'settled' alone predicts the target 'risk' with a chance-adjusted "
                "balanced accuracy of 0.981 (threshold 0.9): check that it is known before the "
                "outcome and not recorded after it or derived from it.",
            },
            {
                "kind": "proxy",
                "column": "region",
                "sensitive": "sex",
                "splits": None,
                "measure": "balanced_accuracy_adjusted",
                "value": 0.8,
                "threshold": 0.3,
                "reason": "Column 'region' alone predicts the 'sex' group with a chance-adjusted "
                "balanced accuracy of 0.800 (threshold 0.3), so a model can recover 'sex' from it "
                "even though 'sex' is not an input.",
            },
            {
                "kind": "identifier",
                "column": "customer_id",
                "sensitive": None,
                "splits": None,
                "measure": "unique_fraction",
                "value": 1.0,
                "threshold": 0.95,
                "reason": "Column 'customer_id' has a value no other row shares in 100.0% of its "
                "rows (410 of 410; threshold 95.0%), so it names rows rather than describing them "
                "and a model can memorise them by it.",
            },
            {
                "kind": "shared_rows",
                "column": None,
                "sensitive": None,
                "splits": ["train", "test"],
                "measure": "rows",
                "value": 2.0,
                "threshold": 1.0,
                "reason": "2 test rows have the same values in every model input as a training row "
                "(threshold 1), so the test score partly measures memory, not generalisation.",
            },
            {
                "kind": "duplicates",
                "column": None,
                "sensitive": None,
                "splits": None,
                "measure": "rows",
                "value": 4.0,
                "threshold": 1.0,
                "reason": "4 rows repeat an earlier row in every column except the identifier-like "
                "'customer_id' (3 distinct rows repeated; threshold 1), so they count more than "
                "once in training and may sit in two splits.",
            },
        ],
        "not_applicable": {},
        "thresholds": {"identifier_unique_fraction": 0.95, "proxy": 0.3, "leakage": 0.9},
        "methods": {},
        "seed": 0,
        "notes": ["2 row(s) with a missing target or a missing 'drop' value were dropped."],
    }


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    view = DatasheetView()
    view.set_datasheet(sample_datasheet())
    view.resize(1040, 300)
    view.setWindowTitle("Datasheet")
    view.show()
    app.exec()
