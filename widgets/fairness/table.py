"""The fairness group table: every metric per group with its interval, then the differences.

Plain data in (``FairnessReport.to_dict()``), nothing out but the clipboard and files. A value
the report leaves undefined shows "—" with the reason as its tooltip; groups of fewer than
:data:`~widgets.fairness.report.SMALL_GROUP` people carry a warning; the disparate-impact
ratio carries a four-fifths pass/fail marker that follows the ratio shown.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QGuiApplication,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from widgets.common.export import (
    write_csv,
)
from widgets.fairness.common import (
    FairnessView,
)
from widgets.fairness.report import (
    DIFFERENCE_HELP,
    METRIC_HELP,
    METRIC_TITLES,
    SMALL_GROUP,
    UNDEFINED,
    Cell,
    DifferenceRow,
    GroupRow,
    ReportData,
    format_number,
    format_with_interval,
    read_report,
)

__all__ = ["GroupTable"]

_SORT_ROLE = Qt.ItemDataRole.UserRole + 1
_UNDEFINED_COLOUR = QColor("#78909c")
_SMALL_COLOUR = QColor("#e65100")
_PASS_BRUSH, _PASS_TEXT = QBrush(QColor("#e8f5e9")), QColor("#1b5e20")
_FAIL_BRUSH, _FAIL_TEXT = QBrush(QColor("#ffebee")), QColor("#b71c1c")
_NUMBER_ALIGN = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class _Item(QTableWidgetItem):
    """A cell that sorts by its number (undefined last), or by its text without case."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.data(_SORT_ROLE), other.data(_SORT_ROLE)
        if isinstance(a, float) and isinstance(b, float):
            # NaN (undefined) compares as larger than any number
            if math.isnan(a) or math.isnan(b):
                return not math.isnan(a) and math.isnan(b)
            return a < b
        return self.text().casefold() < other.text().casefold()


def _item(text: str, sort_key: float | None = None, tooltip: str = "") -> _Item:
    item = _Item(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if sort_key is not None:
        item.setData(_SORT_ROLE, float(sort_key))
        item.setTextAlignment(_NUMBER_ALIGN)
    if tooltip:
        item.setToolTip(tooltip)
    return item


def _table(columns: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _content_height(table: QTableWidget) -> int:
    """The height that shows every row (and the horizontal scroll bar if needed), no more."""
    height = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
    height += sum(table.rowHeight(r) for r in range(table.rowCount()))
    if table.horizontalHeader().length() > table.width() - 2 * table.frameWidth():
        height += table.horizontalScrollBar().sizeHint().height()
    return height + 2


def _sizes_text(sizes: dict[str, int | None]) -> str:
    return " · ".join(f"{g} {'?' if n is None else n}" for g, n in sizes.items())


def _lower(title: str) -> str:
    return title if title.isupper() else title.lower()  # "TPR" stays an acronym


def _signed_text(value: float, interval: tuple[float | None, float | None] | None) -> str:
    """A signed difference with an explicit sign, e.g. "+0.012 [−0.031, 0.055]"."""
    text = format_with_interval(value, interval)
    return f"+{text}" if value > 0 else text


def _p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


class GroupTable(FairnessView):
    """Per-group metrics with intervals for one sensitive feature, and its differences."""

    file_stem = "fairness-groups"
    COLUMNS = ("group", "size", *METRIC_TITLES)  # the metric keys follow the two first columns

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.feature_combo = QComboBox()
        self.feature_combo.setToolTip(
            "The sensitive feature (or intersection) whose groups are shown"
        )
        self.feature_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.feature_combo.currentIndexChanged.connect(self._show_feature)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the group table as tab-separated text (Ctrl+C)")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.header.addWidget(QLabel("Sensitive feature"))
        self.header.addWidget(self.feature_combo)
        self.header.addWidget(self.copy_button)
        self._finish_header()

        self.overall_label = QLabel()
        self.overall_label.setWordWrap(True)
        self.overall_label.setStyleSheet("color: #37474f;")
        self.groups_table = _table(["Group", "Size", *METRIC_TITLES.values()])
        # report order until the user clicks a header
        self.groups_table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.groups_table.setSortingEnabled(True)
        self.differences_title = QLabel("Differences between groups")
        bold = QFont(self.differences_title.font())
        bold.setBold(True)
        self.differences_title.setFont(bold)
        self.differences_table = _table(
            ["Measure", "Value [interval]", "p (no difference)", "Four-fifths rule", "Group sizes"]
        )
        self.differences_table.setSortingEnabled(False)
        self.differences_table.setWordWrap(True)
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        self.notes_label.setStyleSheet("color: #607d8b;")
        self.body.addWidget(self.overall_label)
        self.body.addWidget(self.groups_table, 3)
        self.body.addWidget(self.differences_title)
        self.body.addWidget(self.differences_table, 2)
        self.body.addWidget(self.notes_label)
        self.body.addStretch(0)
        for table in (self.groups_table, self.differences_table):
            table.installEventFilter(self)
        copy = QShortcut(QKeySequence.StandardKey.Copy, self.groups_table)
        copy.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        copy.activated.connect(self.copy_to_clipboard)
        self._warning_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.data = ReportData()
        self._show_problems([], "No fairness report yet: choose sensitive columns and press Audit.")

    # ------------------------------------------------------------------ public API
    def set_report(self, report: Any) -> None:
        """Show a report (``FairnessReport.to_dict()``); what cannot be read is described above."""
        self.data = read_report(report)
        current = self.feature_combo.currentText()
        self.feature_combo.blockSignals(True)
        self.feature_combo.clear()
        self.feature_combo.addItems(self.data.features)
        self.feature_combo.setCurrentText(self.data.feature_to_show(current))
        self.feature_combo.blockSignals(False)
        self._show_summary()
        self._show_feature()
        empty = None
        if not any(self.data.groups.values()) and not any(self.data.differences.values()):
            empty = "The report has no groups to show."
        self._show_problems(self.data.problems, empty)

    def clear(self) -> None:
        """Show no report."""
        self.set_report({})
        self._show_problems([], "No fairness report yet: choose sensitive columns and press Audit.")

    def set_feature(self, feature: str) -> None:
        """Show the groups of ``feature`` (a sensitive column or an intersection)."""
        index = self.feature_combo.findText(feature)
        if index >= 0:
            self.feature_combo.setCurrentIndex(index)

    def current_feature(self) -> str:
        return self.feature_combo.currentText()

    def group_item(self, group: str, column: str) -> QTableWidgetItem | None:
        """The cell of ``group`` in ``column`` ("group", "size" or a metric key), as shown."""
        col = self.COLUMNS.index(column)
        for row in range(self.groups_table.rowCount()):
            item = self.groups_table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == group:
                return self.groups_table.item(row, col)
        return None

    def difference_item(self, name: str, column: int = 1) -> QTableWidgetItem | None:
        """The cell of difference ``name`` (e.g. "di_ratio"): 0 title, 1 value, 2 p-value,
        3 four-fifths, 4 sizes.

        The group sizes are one cell spanning every difference row.
        """
        for row in range(self.differences_table.rowCount()):
            item = self.differences_table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == name:
                return self.differences_table.item(0 if column == 4 else row, column)
        return None

    def to_tsv(self) -> str:
        """The group table as shown (sorted as shown), tab-separated, with its header."""
        table = self.groups_table
        lines = [
            "\t".join(table.horizontalHeaderItem(c).text() for c in range(table.columnCount()))
        ]
        for r in range(table.rowCount()):
            cells = [table.item(r, c) for c in range(table.columnCount())]
            lines.append("\t".join("" if i is None else i.text() for i in cells))
        return "\n".join(lines) + "\n"

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.to_tsv())

    def export_csv(self, path: str | Path) -> None:
        """Every feature's values, one per line: section, feature, group, measure, value, low, high, size, note.

        ``section`` is "overall", "group" or "difference"; undefined values are empty with the
        reason in ``note``; the disparate-impact row's note says whether the four-fifths rule holds.
        """
        rows: list[list[Any]] = []
        for metric, cell in self.data.overall.items():
            lo, hi = cell.interval or (None, None)
            rows.append(
                ["overall", "", "", metric, cell.value, lo, hi, self.data.overall_size, cell.reason]
            )
        for feature in self.data.features:
            for group in self.data.groups.get(feature, []):
                for metric, cell in group.cells.items():
                    lo, hi = cell.interval or (None, None)
                    rows.append(
                        [
                            "group",
                            feature,
                            group.group,
                            metric,
                            cell.value,
                            lo,
                            hi,
                            group.size,
                            cell.reason,
                        ]
                    )
            for diff in self.data.differences.get(feature, []):
                lo, hi = diff.cell.interval or (None, None)
                note = diff.cell.reason
                if diff.four_fifths_ok is not None:
                    note = "four-fifths rule: " + ("pass" if diff.four_fifths_ok else "fail")
                rows.append(
                    ["difference", feature, "", diff.name, diff.cell.value, lo, hi, None, note]
                )
        write_csv(
            path,
            ["section", "feature", "group", "measure", "value", "low", "high", "size", "note"],
            rows,
        )

    # ------------------------------------------------------------------ filling
    def _show_summary(self) -> None:
        data = self.data
        overall = [
            f"{_lower(METRIC_TITLES.get(m, m))} {format_number(c.value)}"
            for m, c in data.overall.items()
        ]
        people = f" ({data.overall_size} people)" if data.overall_size is not None else ""
        self.overall_label.setText((f"Overall{people}: " + " · ".join(overall)) if overall else "")
        self.overall_label.setVisible(bool(overall))
        facts = []
        if data.favourable is not None:
            facts.append(f"favourable outcome: {data.favourable}")
        if data.threshold is not None:
            facts.append(f"threshold {data.threshold:g}")
        if data.n_boot:
            facts.append(f"intervals: {data.interval_label()}")
        if data.seed is not None:
            facts.append(f"seed {data.seed}")
        for feature, edges in data.band_edges.items():
            facts.append(f"{feature} banded at {', '.join(f'{e:g}' for e in edges)}")
        text = "; ".join(facts)
        if data.notes:
            text += ("\n" if text else "") + "\n".join(f"• {n}" for n in data.notes[:8])
            if len(data.notes) > 8:
                text += f"\n… and {len(data.notes) - 8} more notes"
        self.notes_label.setText(text)
        self.notes_label.setVisible(bool(text))

    def _show_feature(self, _index: int = 0) -> None:
        feature = self.feature_combo.currentText()
        self._fill_groups(self.data.groups.get(feature, []))
        self._fill_differences(
            self.data.differences.get(feature, []), self.data.group_sizes(feature)
        )

    def _cell_item(self, group: GroupRow, metric: str, cell: Cell | None) -> _Item:
        title = METRIC_TITLES.get(metric, metric)
        if cell is None or cell.value is None:
            reason = cell.reason if cell is not None else "Not in the report."
            item = _item(UNDEFINED, math.nan, reason)
            item.setForeground(_UNDEFINED_COLOUR)
            return item
        tip = f"{title} of {group.group}: {format_number(cell.value)}"
        if cell.interval is not None:
            lo, hi = cell.interval
            tip += f"\n{self.data.interval_label()}: {format_number(lo)} to {format_number(hi)}"
        if group.size is not None:
            tip += f"\n{group.size} people in the group"
        if cell.reason:
            tip += f"\n{cell.reason}"
        return _item(cell.text, cell.value, tip)

    def _fill_groups(self, rows: list[GroupRow]) -> None:
        table = self.groups_table
        table.setSortingEnabled(False)  # rows move while they fill if sorting stays on
        table.setRowCount(len(rows))
        for r, group in enumerate(rows):
            name = _item(group.group)
            name.setData(Qt.ItemDataRole.UserRole, group.group)
            size_text = "?" if group.size is None else str(group.size)
            size = _item(size_text, math.nan if group.size is None else group.size)
            if group.small:
                warning = (
                    f"Only {group.size} people (fewer than {SMALL_GROUP}): the intervals are "
                    "wide and differences involving this group may be noise."
                )
                name.setIcon(self._warning_icon)
                for item in (name, size):
                    item.setToolTip(warning)
                size.setForeground(_SMALL_COLOUR)
            elif group.size is None:
                size.setToolTip("The report gives no size for this group.")
            table.setItem(r, 0, name)
            table.setItem(r, 1, size)
            for c, metric in enumerate(METRIC_TITLES, start=2):
                table.setItem(r, c, self._cell_item(group, metric, group.cells.get(metric)))
        for c, metric in enumerate(METRIC_TITLES, start=2):
            header = table.horizontalHeaderItem(c)
            header.setToolTip(
                f"{METRIC_HELP[metric]}\nShown as value [{self.data.interval_label()}]."
            )
        # turning sorting back on re-sorts by the column the user chose (none at first)
        table.setSortingEnabled(True)
        self._fit_heights()

    def _fill_differences(self, rows: list[DifferenceRow], sizes: dict[str, int | None]) -> None:
        table = self.differences_table
        table.setRowCount(len(rows))
        sizes_text = _sizes_text(sizes)
        small = [g for g, n in sizes.items() if n is not None and n < SMALL_GROUP]
        table.clearSpans()
        for r, diff in enumerate(rows):
            title = _item(diff.title, tooltip=DIFFERENCE_HELP.get(diff.name, ""))
            title.setData(Qt.ItemDataRole.UserRole, diff.name)
            marker = self._four_fifths_item(diff) if diff.name == "di_ratio" else _item("")
            cells = (title, self._difference_value(diff), self._p_value_item(diff), marker)
            for c, item in enumerate(cells):
                table.setItem(r, c, item)
        if rows:
            # the sizes hold for every row: one cell beside them all
            sizes_item = _item(sizes_text, tooltip="\n".join(f"{g}: {n}" for g, n in sizes.items()))
            sizes_item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            if small:
                sizes_item.setIcon(self._warning_icon)
                sizes_item.setToolTip(
                    f"Fewer than {SMALL_GROUP} people in: {', '.join(small)}.\n"
                    + sizes_item.toolTip()
                )
            table.setItem(0, 4, sizes_item)
            if len(rows) > 1:
                table.setSpan(0, 4, len(rows), 1)
        # short enough to show every row without a scroll bar when there is room
        # (rows keep the default height: fitting them to contents would give the tall
        # spanning sizes cell to the first row alone)
        self._fit_heights()

    def _fit_heights(self) -> None:
        """No empty space under the rows: the space goes below the tables instead."""
        self.groups_table.setMaximumHeight(max(_content_height(self.groups_table), 80))
        self.differences_table.setMaximumHeight(max(_content_height(self.differences_table), 60))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.Resize:
            self._fit_heights()  # a horizontal scroll bar may have come or gone
        return super().eventFilter(watched, event)

    def _difference_value(self, diff: DifferenceRow) -> _Item:
        cell = diff.cell
        if cell.value is None:
            item = _item(UNDEFINED, math.nan, cell.reason)
            item.setForeground(_UNDEFINED_COLOUR)
            return item
        signed = diff.signed
        if signed is not None and signed.value is not None:
            # two groups: the difference in a stated order, whose interval contains 0 when
            # the groups do not differ (the unsigned spread's interval never does)
            text = f"{diff.signed_title}: {_signed_text(signed.value, signed.interval)}"
            tip = (
                f"{diff.title} for {diff.feature}, {diff.signed_title}: "
                f"{_signed_text(signed.value, None)}"
            )
            if signed.interval is not None:
                lo, hi = signed.interval
                tip += (
                    f"\n{self.data.interval_label()} (percentile): "
                    f"{format_number(lo)} to {format_number(hi)}"
                )
            tip += f"\nLargest difference between the groups (unsigned): {format_number(cell.value)}"
        else:
            text = cell.text
            tip = f"{diff.title} for {diff.feature}: {format_number(cell.value)}"
            if cell.interval is not None:
                lo, hi = cell.interval
                tip += (
                    f"\n{self.data.interval_label()} (bias-corrected): "
                    f"{format_number(lo)} to {format_number(hi)}"
                )
        if cell.reason:
            tip += f"\n{cell.reason}"
        if diff.lowest and diff.highest:
            tip += f"\nLowest selection rate: {diff.lowest}; highest: {diff.highest}."
        if diff.left_out:
            tip += f"\nLeft out (undefined there): {', '.join(diff.left_out)}."
        return _item(text, cell.value, tip)

    def _p_value_item(self, diff: DifferenceRow) -> _Item:
        p = diff.p_value
        if p is None:
            item = _item(UNDEFINED, math.nan, "No p-value in the report (audits without resamples have none).")
            item.setForeground(_UNDEFINED_COLOUR)
            return item
        tip = (
            f"p = {p:.4g}: {self.data.permutation_label()}.\n"
            "A small p (say below 0.05) means a difference this large would be rare if the "
            "groups did not differ; a large p means the data cannot tell them apart."
        )
        return _item(_p_text(p), p, tip)

    def _four_fifths_item(self, diff: DifferenceRow) -> _Item:
        ok = diff.four_fifths_ok
        if ok is None:
            item = _item(UNDEFINED, tooltip=diff.cell.reason or "The ratio is undefined.")
            item.setForeground(_UNDEFINED_COLOUR)
            return item
        value = format_number(diff.cell.value)
        item = _item("✔ pass" if ok else "✘ fail")
        item.setBackground(_PASS_BRUSH if ok else _FAIL_BRUSH)
        item.setForeground(_PASS_TEXT if ok else _FAIL_TEXT)
        tip = (
            f"The ratio {value} is within four fifths (0.8) of parity."
            if ok
            else f"The ratio {value} is below four fifths (0.8): the four-fifths rule is not met."
        )
        lo, hi = diff.cell.interval or (None, None)
        if ok and lo is not None and lo < 0.8:
            tip += f"\nBut its interval reaches {format_number(lo)}, below 0.8: the pass is not certain."
        if not ok and hi is not None and 0.8 <= hi <= 1.25:
            tip += f"\nBut its interval reaches {format_number(hi)}: the fail is not certain."
        item.setToolTip(tip)
        return item


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    from widgets.fairness.samples import sample_report

    app = QApplication([])
    w = GroupTable()
    w.set_report(sample_report())
    w.set_feature("sex × age_band")
    w.resize(1100, 620)
    w.show()
    app.exec()
