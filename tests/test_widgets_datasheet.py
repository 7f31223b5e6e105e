"""The datasheet view, alone with a hand-made datasheet and in the real window's Data dock."""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt

from widgets.data.datasheet import DatasheetView, read_datasheet, sample_datasheet

pytestmark = pytest.mark.gui

SAMPLE = sample_datasheet()


@pytest.fixture
def view(qtbot) -> DatasheetView:
    w = DatasheetView()
    qtbot.addWidget(w)
    w.resize(620, 280)  # the Data dock's tab area on a 1366 x 768 screen
    w.show()
    return w


def test_every_flag_is_shown_with_its_reason_and_a_warning(view) -> None:
    view.set_datasheet(SAMPLE)
    assert view.message() == ""
    assert view.tables.tabText(0) == "Findings (5 flags)"
    assert len(view.flag_labels) == len(SAMPLE["flags"]) == 5
    for label, flag in zip(view.flag_labels, SAMPLE["flags"]):
        assert flag["reason"] in label.text()
    assert view.flag_labels[1].text().startswith("<b>Proxy for 'sex'</b>")
    assert view.flag_rows[0].toolTip() == "balanced_accuracy_adjusted 0.981 (threshold 0.9)"
    assert view.flag_texts()[2].startswith("Identifier-like column: Column 'customer_id'")
    assert "412 rows (410 used) · 7 columns · classification of 'risk'" in view.summary_label.text()


def _cell(table, row_text: str, column: str):
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    for r in range(table.rowCount()):
        if table.item(r, 0) is not None and table.item(r, 0).text() == row_text:
            return table.item(r, headers.index(column))
    raise AssertionError(f"no row {row_text!r}")


def test_tables_mark_the_flagged_cells(view) -> None:
    view.set_datasheet(SAMPLE)
    cols = view.columns_table
    ident = _cell(cols, "customer_id", "Type")
    assert ident.text() == "identifier" and not ident.icon().isNull()
    assert ident.toolTip() == SAMPLE["flags"][2]["reason"]
    assert _cell(cols, "settled", "→ target").text() == "0.98"
    assert not _cell(cols, "settled", "→ target").icon().isNull()
    assert not _cell(cols, "region", "→ sex").icon().isNull()
    assert _cell(cols, "income", "→ sex").icon().isNull()  # 0.03: no flag
    assert _cell(cols, "note", "→ target").text() == "—"  # ignored: not scored
    assert _cell(cols, "income", "Unique").text() == "94.0%"
    assert _cell(cols, "region", "Missing").text() == "3"

    groups = view.groups_table
    assert _cell(groups, "sex = female", "Rows").text() == "131"
    assert _cell(groups, "sex = female", "Share").text() == "32.0%"  # 131 / 410
    assert _cell(groups, "sex = female", "risk = bad").text() == "52 (39.7%)"
    assert _cell(groups, "All rows used", "risk = good").text() == "287 (70.0%)"
    bar = _cell(groups, "sex = male", "Class balance")
    assert bar.data(Qt.ItemDataRole.UserRole) == [71, 208]

    rows = view.rows_table
    assert _cell(rows, "Repeating an earlier row", "Count").text() == "4"
    assert not _cell(rows, "Repeating an earlier row", "Rows").icon().isNull()
    assert _cell(rows, "Test rows also in training", "Details").text() == (
        "e.g. row 17 matches row 5; row 41 matches row 40"
    )
    assert _cell(rows, "Validation rows also in training", "Rows").icon().isNull()


def test_no_flags_and_not_applicable_are_said(view) -> None:
    d = copy.deepcopy(SAMPLE)
    d["flags"] = []
    d["columns"], d["groups"], d["sensitive"] = [], [], []
    d["not_applicable"] = {
        "proxies": "Images carry no sensitive columns, so nothing can stand in for one."
    }
    view.set_datasheet(d)
    assert view.tables.tabText(0) == "Findings (no flags)"
    assert view.flag_labels == []
    texts = [w.text() for w in view.findings.findChildren(type(view.summary_label))]
    assert any(t.startswith("<b>No flags</b>") for t in texts)
    assert any(
        "<b>Proxies: not applicable</b> — Images carry no sensitive columns" in t for t in texts
    )
    assert view.columns_table.item(0, 0).text() == "No columns to show."


def test_export_csv_and_png(view, tmp_path: Path) -> None:
    view.set_datasheet(SAMPLE)
    view.export_csv(tmp_path / "sheet.csv")
    with open(tmp_path / "sheet.csv", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["section", "item", "measure", "value", "note"]
    flags = [r for r in rows if r[0] == "flag"]
    assert [r[1:4] for r in flags] == [
        ["settled", "leakage", "0.981"],
        ["region", "proxy", "0.8"],
        ["customer_id", "identifier", "1.0"],
        ["train & test", "shared_rows", "2.0"],
        ["rows", "duplicates", "4.0"],
    ]
    assert all(r[4] for r in flags)  # every flag keeps its reason
    assert ["group", "sex = female", "class bad", "52", ""] in rows
    assert ["column", "note", "type", "text", ""] in rows
    assert ["column", "income", "proxy_score sex", "0.03", ""] in rows
    view.export_png(tmp_path / "sheet.png")
    assert (tmp_path / "sheet.png").stat().st_size > 1000
    with pytest.raises(OSError):
        view.export_csv(tmp_path / "missing-folder" / "x.csv")


# ---------------------------------------------------------------- malformed input
_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-3, 2000)
    | st.text(max_size=4)
    | st.floats(allow_nan=True, allow_infinity=True)
)
_json = st.recursive(
    _leaf,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "rows", "reason", "kind", "groups", "splits", "x"]),
            children,
            max_size=3,
        )
    ),
    max_leaves=12,
)


@st.composite
def _mutated(draw: st.DrawFn, tree: Any) -> Any:
    """The datasheet with parts dropped, replaced by junk or left alone, at every level."""
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            action = draw(st.sampled_from(["keep", "keep", "recurse", "recurse", "drop", "junk"]))
            if action == "keep":
                out[key] = value
            elif action == "recurse":
                out[key] = draw(_mutated(value))
            elif action == "junk":
                out[key] = draw(_json)
        return out
    if isinstance(tree, list):
        return draw(st.sampled_from([tree, tree[:1], [*tree, draw(_leaf)], draw(_json)]))
    return draw(st.one_of(st.just(tree), _leaf))


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sheet=st.one_of(_mutated(SAMPLE), _json))
def test_any_datasheet_is_shown_or_explained_never_raises(view, tmp_path: Path, sheet: Any) -> None:
    view.set_datasheet(sheet)
    data = read_datasheet(sheet)
    assert len(view.flag_labels) == len(data.flags)
    for label, flag in zip(view.flag_labels, data.flags):
        escaped = flag.reason.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert escaped in label.text()  # every flag shown says why
    if data.problems:
        assert view.message().startswith("Part of the datasheet could not be shown"), sheet
    view.export_csv(tmp_path / "any.csv")  # whatever is shown can be written out


# ---------------------------------------------------------------- in the window
def test_the_data_dock_shows_the_projects_datasheet(make_main_window, qtbot) -> None:
    w = make_main_window()
    ctrl = w.data_controller
    with qtbot.waitSignal(ctrl.datasheet_ready, timeout=120_000) as ready:
        w.open_initial(None, demo=True)
    sheet = ready.args[0]
    assert sheet["title"] == "German credit (Statlog)" and sheet["flags"] == []
    view = w.data_panel.datasheet_view
    assert w.data_panel.tabs.tabText(w.data_panel.tabs.indexOf(view)) == "Datasheet"
    assert view.tables.tabText(0) == "Findings (no flags)"
    assert "Datasheet of German credit (Statlog)" in view.summary_label.text()
    assert "1,000 rows · 10 columns" in view.summary_label.text()
    assert _cell(view.groups_table, "sex = female", "risk = 1").text() == "201 (64.8%)"
    qtbot.waitUntil(lambda: not ctrl.busy and not ctrl.datasheet_busy, timeout=60_000)

    # apply another dataset: its datasheet replaces the old one, with the known proxy flagged
    panel = w.data_panel
    index = panel.dataset_combo.findData("lending")
    panel.dataset_combo.setCurrentIndex(index)
    with qtbot.waitSignal(ctrl.choice_shown, timeout=60_000):
        panel.dataset_combo.activated.emit(index)
    qtbot.waitUntil(lambda: not ctrl.busy, timeout=60_000)
    with qtbot.waitSignal(ctrl.datasheet_ready, timeout=120_000) as ready:
        assert ctrl.apply()
    flags = ready.args[0]["flags"]
    assert [(f["kind"], f["column"], f["sensitive"]) for f in flags] == [
        ("proxy", "region", "group")
    ]
    assert view.flag_texts()[0].startswith("Proxy for 'group': Column 'region' alone predicts")
    qtbot.waitUntil(lambda: not ctrl.datasheet_busy, timeout=60_000)
