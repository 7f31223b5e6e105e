"""The data panel: alone, through its controller, and in the real main window (offscreen Qt)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.data import DataSpec, builtin_spec, list_datasets, prepare, read_frame
from engines.shapes import analyse
from engines.templates import make_template
from widgets.data.panel import DataPanel
from workbench.core.data_choice import (
    fit_graph_to_data,
    read_choice,
    source_for_path,
    spec_with_options,
)
from workbench.gui.data_panel import DataController

pytestmark = pytest.mark.gui

COLUMNS = [
    {"name": "age", "type": "numeric", "missing": 0, "numeric": True, "role": "feature"},
    {"name": "city", "type": "categorical", "missing": 2, "numeric": False, "role": "feature"},
    {"name": "sex", "type": "categorical", "missing": 0, "numeric": False, "role": "sensitive"},
    {"name": "label", "type": "numeric", "missing": 0, "numeric": True, "role": "target"},
]


def _table_choice(rows: int = 300) -> dict:
    data = [[20 + i % 50, None if i < 2 else ["a", "b"][i % 2], "f", i % 2] for i in range(rows)]
    return {
        "title": "people.csv",
        "detail": "/tmp/people.csv",
        "builtin": None,
        "kind": "table",
        "source": "csv",
        "preview": {"columns": [c["name"] for c in COLUMNS], "rows": data[:200], "total_rows": rows},
        "columns": COLUMNS,
        "options": {"split": {"train": 0.6, "val": 0.2, "test": 0.2, "seed": 3, "stratify": False}},
    }


@pytest.fixture
def panel(qtbot) -> DataPanel:
    w = DataPanel()
    qtbot.addWidget(w)
    w.set_datasets([d.to_dict() for d in list_datasets()])
    w.show()
    return w


# ------------------------------------------------------------------ the widget alone
def test_choice_fills_preview_and_role_editor(panel, qtbot) -> None:
    panel.show_choice(_table_choice())
    model = panel.preview_model
    assert model.rowCount() == 200 and model.columnCount() == 4
    assert model.data(model.index(0, 1)) == "—"  # a gap
    assert model.data(model.index(5, 0)) == "25"
    assert panel.roles_table.rowCount() == 4
    assert panel.roles_table.item(1, 3).text() == "2"  # missing values of 'city'
    # categorical columns are not offered the mean or median
    city_policy = panel._missing_boxes["city"]
    assert [city_policy.itemData(i) for i in range(city_policy.count())] == [
        None,
        "drop",
        "most_frequent",
    ]
    options = panel.options()
    assert options["roles"] == {"age": "feature", "city": "feature", "sex": "sensitive", "label": "target"}
    assert options["split"] == {"train": 0.6, "val": 0.2, "test": 0.2, "seed": 3, "stratify": False}

    with qtbot.waitSignal(panel.options_changed):
        panel.set_role("age", "target")
    roles = panel.options()["roles"]
    assert roles["age"] == "target" and roles["label"] == "feature"  # one target only
    with qtbot.waitSignal(panel.options_changed):
        panel._missing_boxes["age"].setCurrentIndex(panel._missing_boxes["age"].findData("median"))
    assert panel.options()["missing"] == {"age": "median"}


def test_summary_plots_show_the_counts_they_are_given(panel) -> None:
    rng = np.random.default_rng(1)
    income = rng.normal(50, 10, 500)
    city = np.array(["x"] * 7 + ["y"] * 3)
    panel.show_summary(
        {
            "classes": {"names": ["bad", "good"], "counts": [300, 700]},
            "target_name": "risk",
            "features": {"income": income, "city": city},
        }
    )
    heights = panel.balance_bars.opts["height"]
    assert list(heights) == [300.0, 700.0]
    panel.feature_combo.setCurrentText("income")
    x, y = panel.hist_curve.getData()
    counts, edges = np.histogram(income, bins=30)
    np.testing.assert_allclose(x, edges)
    np.testing.assert_array_equal(y, counts)
    panel.feature_combo.setCurrentText("city")
    assert list(panel.hist_bars.opts["height"]) == [7.0, 3.0]
    assert panel.images_view.isHidden()

    images = rng.random((20, 8, 8))
    panel.show_summary({"target_values": rng.random(50), "images": images, "image_labels": list(range(20))})
    assert len(panel.image_items) == 16  # a few, not all
    np.testing.assert_allclose(panel.image_items[3].image, images[3])
    assert not panel.images_view.isHidden()


def test_status_errors_and_read_only(panel, qtbot) -> None:
    panel.show_choice(_table_choice())
    panel.set_apply_enabled(True)
    assert panel.apply_button.isEnabled()
    panel.show_status("CSV file 'x.csv' is empty.", error=True)
    assert panel.has_error() and panel.message() == "CSV file 'x.csv' is empty."
    assert "b71c1c" in panel.status_label.styleSheet()  # red
    panel.show_status("1,000 rows.")
    assert not panel.has_error()
    panel.set_read_only(True)
    assert not panel.apply_button.isEnabled() and not panel.import_file_button.isEnabled()
    panel.set_read_only(False)
    panel.set_busy(True)
    assert not panel.apply_button.isEnabled()


# ------------------------------------------------------------------ headless helpers
def test_fit_graph_follows_a_new_dataset() -> None:
    german = prepare(builtin_spec("german_credit"))
    graph = make_template("mlp", german.input_shape, german.n_outputs)
    wine = prepare(builtin_spec("wine"))
    changes = fit_graph_to_data(graph, analyse(graph), wine.input_shape, wine.n_outputs, "classification")
    assert changes == [("input", "shape", [13]), ("head", "out_features", 3)]
    for node_id, name, value in changes:
        graph.set_param(node_id, name, value)
    report = analyse(graph)
    assert report.ok and report.node_shapes["output"] == (3,)
    assert fit_graph_to_data(graph, report, wine.input_shape, 1, "regression") == [
        ("head", "out_features", 1)
    ]
    # an activation after the head is walked through; a reshape before a reconstruction follows
    auto = make_template("autoencoder", (1, 8, 8), 10)
    changes = fit_graph_to_data(auto, analyse(auto), (1, 4, 4), 10, "reconstruction")
    assert changes == [
        ("input", "shape", [1, 4, 4]),
        ("unflatten", "shape", [1, 4, 4]),
        ("reconstruction", "out_features", 16),
    ]


def test_source_for_path(tmp_path: Path) -> None:
    assert source_for_path(tmp_path) == "image_folder"
    assert source_for_path(tmp_path / "a.CSV") == "csv"
    assert source_for_path(tmp_path / "a.parquet") == "parquet"
    assert source_for_path(tmp_path / "a.npy") == "npz"
    assert source_for_path(tmp_path / "a.dat") == "csv"


def test_no_target_chosen_is_explained() -> None:
    choice = read_choice(builtin_spec("iris"))
    roles = {c["name"]: "feature" for c in choice.columns}
    spec = spec_with_options(choice.spec, {"roles": roles, "split": choice.spec.split.to_dict()})
    assert spec.target is None and spec.roles == roles
    with pytest.raises(ValueError, match="give one the role 'target'"):
        prepare(spec)


# ------------------------------------------------------------------ in the main window
def _open_demo(make_main_window, qtbot):
    w = make_main_window()
    w.open_initial(None, demo=True)
    qtbot.waitUntil(lambda: w.project is not None, timeout=60_000)
    _settle(qtbot, w.data_controller)
    return w


def _settle(qtbot, ctrl: DataController) -> None:
    qtbot.waitUntil(lambda: not ctrl.busy, timeout=60_000)


def test_the_demo_data_is_shown_with_its_roles(make_main_window, qtbot) -> None:
    w = _open_demo(make_main_window, qtbot)
    panel, ctrl = w.data_panel, w.data_controller
    assert ctrl.applied is not None and ctrl.applied.prepared.fingerprint == w.project.data_fingerprint
    assert panel.options()["roles"]["risk"] == "target"
    assert panel.options()["roles"]["sex"] == "sensitive"
    assert w.project.data_fingerprint[:16] in panel.applied_label.text()
    assert "1,000 rows" in panel.applied_label.text()
    assert not panel.apply_button.isEnabled()  # nothing new to apply


def test_each_builtin_dataset_from_the_panel(make_main_window, qtbot) -> None:
    w = _open_demo(make_main_window, qtbot)
    panel, ctrl = w.data_panel, w.data_controller
    before = (dict(w.project.data), w.project.data_fingerprint)
    for info in list_datasets():
        index = panel.dataset_combo.findData(info.id)
        panel.dataset_combo.setCurrentIndex(index)
        with qtbot.waitSignal(ctrl.choice_shown, timeout=60_000):
            panel.dataset_combo.activated.emit(index)
        _settle(qtbot, ctrl)
        raw = read_frame(builtin_spec(info.id))  # the oracle: the raw table, counted by pandas
        assert panel.preview_model.rowCount() == min(200, len(raw)) == min(200, info.n_rows)
        assert panel.preview_model.columnCount() == raw.shape[1]
        assert info.title in panel.choice_label.text()
        counts = {str(k): float(v) for k, v in raw[info.target].value_counts().items()}
        names = [str(n) for n in ctrl.choice.summary["classes"]["names"]]
        assert sorted(names) == sorted(counts)
        assert list(panel.balance_bars.opts["height"]) == [counts[n] for n in names]
        assert panel.feature_combo.count() > 0
        if info.kind == "image":
            assert len(panel.image_items) == 16 and panel.roles_table.isHidden()
        elif info.kind == "table":
            assert panel.roles_table.rowCount() == raw.shape[1]
            assert panel.options()["roles"][info.target] == "target"
        assert not panel.has_error()
        assert panel.apply_button.isEnabled() == (info.id != "german_credit")
    assert (w.project.data, w.project.data_fingerprint) == before  # nothing applied


def _people_csv(path: Path, rows: int = 240) -> bytes:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "outcome": rng.integers(0, 2, rows),  # the target, though not the last column
            "age": rng.integers(18, 80, rows),
            "income": np.round(rng.normal(40_000, 9_000, rows), 2),
            "sex": rng.choice(["f", "m"], rows),
            "note": [f"free text {i}" for i in range(rows)],
            "score": rng.normal(size=rows),
        }
    )
    frame.loc[3, "income"] = np.nan
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    data = buf.getvalue().encode()
    path.write_bytes(data)
    return data


def test_import_csv_set_roles_apply_train_and_undo(make_main_window, qtbot, tmp_path: Path) -> None:
    w = _open_demo(make_main_window, qtbot)
    panel, ctrl = w.data_panel, w.data_controller
    before_data, before_fp = dict(w.project.data), w.project.data_fingerprint
    before_embedded = dict(w.project.embedded)
    before_graph = w.project.graph.to_dict()
    path = tmp_path / "people.csv"
    raw = _people_csv(path)
    with qtbot.waitSignal(ctrl.choice_shown, timeout=60_000):
        panel.file_chosen.emit(str(path))
    _settle(qtbot, ctrl)
    types = {c["name"]: c["type"] for c in ctrl.choice.columns}
    assert types == {"outcome": "numeric", "age": "numeric", "income": "numeric",
                     "sex": "categorical", "note": "text", "score": "numeric"}
    assert panel.roles_table.item(2, 3).text() == "1"  # income has one gap
    assert panel.options()["roles"]["score"] == "target"  # inferred: the last column

    panel.set_role("outcome", "target")
    panel.set_role("sex", "sensitive")
    panel.set_role("note", "ignore")
    assert ctrl.busy  # prepared once the edits pause, off the GUI thread
    _settle(qtbot, ctrl)
    assert not panel.has_error(), panel.message()
    assert panel.options()["roles"]["score"] == "feature"
    assert list(panel.balance_bars.opts["height"]) == [
        float(v) for v in np.bincount(pd.read_csv(path)["outcome"])
    ]
    assert panel.apply_button.isEnabled()
    with qtbot.waitSignal(ctrl.data_applied) as applied:
        panel.apply_button.click()
    fingerprint = applied.args[0]
    expected_spec = DataSpec(
        source="csv", path=str(path), target="outcome",
        roles={"outcome": "target", "sex": "sensitive", "note": "ignore"},
    )
    oracle = prepare(expected_spec)  # the engine alone, from the file
    assert fingerprint == oracle.fingerprint == w.project.data_fingerprint
    assert DataSpec.from_dict(w.project.data).roles == expected_spec.roles
    assert w.project.embedded["data/source.csv"] == raw
    # the network followed the data in the same step: its input size and its two classes
    assert w.project.graph.nodes["input"].params["shape"] == [oracle.input_shape[0]]
    assert w.project.graph.nodes["head"].params["out_features"] == 2
    assert w.doc.report().ok
    assert fingerprint[:16] in panel.applied_label.text()
    assert "240 rows" in panel.applied_label.text()
    assert not panel.apply_button.isEnabled()

    w.epochs.setValue(1)
    w.start_training()
    with qtbot.waitSignal(w.worker.finished, timeout=120_000) as blocker:
        pass
    run = blocker.args[0].run
    assert run.data_fingerprint == fingerprint and run.status == "completed"

    w.undo_action.trigger()  # the run
    w.undo_action.trigger()  # the epochs
    w.undo_action.trigger()  # the data: one step
    assert w.project.data == before_data and w.project.data_fingerprint == before_fp
    assert w.project.embedded == before_embedded
    assert w.project.graph.to_dict() == before_graph
    _settle(qtbot, ctrl)
    assert "German credit" in panel.choice_label.text()
    assert panel.options()["roles"]["risk"] == "target"
    assert before_fp[:16] in panel.applied_label.text()
    w.redo_action.trigger()
    assert w.project.data_fingerprint == fingerprint
    _settle(qtbot, ctrl)
    assert panel.choice_label.text() == "people.csv"


def _bad_sources(tmp_path: Path) -> list[tuple[Path, str]]:
    cases = []
    p = tmp_path / "binary.csv"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    cases.append((p, "binary file, not a CSV"))
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    cases.append((p, "is empty"))
    p = tmp_path / "latin1.csv"
    p.write_bytes("a,b\ncafé,1\n".encode("latin-1"))
    cases.append((p, "not UTF-8"))
    p = tmp_path / "broken.parquet"
    p.write_bytes(b"PAR1 this is not really parquet PAR1")
    cases.append((p, "could not be read as Parquet"))
    p = tmp_path / "flat"
    p.mkdir()
    (p / "image.png").write_bytes(b"not even an image")
    cases.append((p, "no class sub-folders"))
    p = tmp_path / "objects.npy"
    np.save(p, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    cases.append((p, "pickled"))
    p = tmp_path / "single.npy"
    np.save(p, np.zeros((4, 3)))
    cases.append((p, "single .npy array"))
    cases.append((tmp_path / "missing.csv", "was not found"))
    return cases


def test_bad_files_are_explained_and_keep_the_choice(make_main_window, qtbot, tmp_path: Path) -> None:
    w = _open_demo(make_main_window, qtbot)
    panel, ctrl = w.data_panel, w.data_controller
    before = (dict(w.project.data), w.project.data_fingerprint, dict(w.project.embedded))
    shown = ctrl.choice
    rows = panel.preview_model.rowCount()
    for path, words in _bad_sources(tmp_path):
        with qtbot.waitSignal(ctrl.choice_failed, timeout=60_000) as failed:
            panel.file_chosen.emit(str(path))
        _settle(qtbot, ctrl)
        assert words in failed.args[0], (path.name, failed.args[0])
        assert panel.has_error() and panel.message() == failed.args[0]
        assert ctrl.choice is shown  # the previous choice is kept, shown as it was
        assert "German credit" in panel.choice_label.text()
        assert panel.preview_model.rowCount() == rows
        assert (dict(w.project.data), w.project.data_fingerprint, dict(w.project.embedded)) == before
        assert not panel.apply_button.isEnabled()

    # one column: read, shown, but not usable; the engine's message says why
    one = tmp_path / "semicolons.csv"
    one.write_text("a;b;label\n1;2;0\n3;4;1\n")
    with qtbot.waitSignal(ctrl.choice_shown, timeout=60_000):
        panel.file_chosen.emit(str(one))
    _settle(qtbot, ctrl)
    assert panel.has_error() and "only one column" in panel.message()
    assert panel.preview_model.columnCount() == 1
    assert not panel.apply_button.isEnabled() and not ctrl.apply()
    assert w.project.data_fingerprint == before[1]


def test_image_folder_import_shows_samples(make_main_window, qtbot, tmp_path: Path) -> None:
    from PIL import Image

    w = _open_demo(make_main_window, qtbot)
    panel, ctrl = w.data_panel, w.data_controller
    folder = tmp_path / "shapes"
    rng = np.random.default_rng(0)
    for k, cls in enumerate(("circle", "square")):
        (folder / cls).mkdir(parents=True)
        for i in range(6):
            pixels = (rng.random((10, 12)) * 60 + 150 * k).astype(np.uint8)
            Image.fromarray(pixels).save(folder / cls / f"{i}.png")
    with qtbot.waitSignal(ctrl.choice_shown, timeout=60_000):
        panel.folder_chosen.emit(str(folder))
    _settle(qtbot, ctrl)
    assert not panel.has_error(), panel.message()
    assert panel.preview_model.rowCount() == 12
    assert panel.preview_model.data(panel.preview_model.index(0, 0)) == "circle/0.png"
    assert list(panel.balance_bars.opts["height"]) == [6.0, 6.0]
    assert len(panel.image_items) == 12
    assert panel._split_form.isRowVisible(panel.image_mode)  # size and colours: folders only
    # a smaller size reads the folder again at that size
    panel.image_height.setValue(8)
    panel.image_width.setValue(8)
    _settle(qtbot, ctrl)
    assert ctrl.choice.prepared.input_shape == (1, 8, 8)
    assert panel.image_items[0].image.shape == (8, 8)


@pytest.fixture
def controller(qtbot, tmp_path: Path):
    panel = DataPanel()
    qtbot.addWidget(panel)
    ctrl = DataController(panel)
    ctrl.set_document(None)
    yield ctrl
    ctrl.shutdown()


def test_arbitrary_bytes_as_a_csv_never_escape(controller, qtbot, tmp_path: Path) -> None:
    panel = controller.panel
    count = iter(range(10**6))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
    def feed(data: bytes) -> None:
        path = tmp_path / f"input{next(count)}.csv"
        path.write_bytes(data)
        results: list[str] = []
        controller.choice_shown.connect(lambda _c: results.append("shown"))
        controller.choice_failed.connect(lambda _m: results.append("failed"))
        controller.import_path(path)
        qtbot.waitUntil(lambda: bool(results) and not controller.busy, timeout=30_000)
        controller.choice_shown.disconnect()
        controller.choice_failed.disconnect()
        assert panel.message()  # always a sentence: counts, or what is wrong
        if results == ["failed"]:
            assert panel.has_error()
        else:
            # the engine read it, so pandas reads the same columns from the same text
            frame = pd.read_csv(io.StringIO(data.decode("utf-8-sig")))
            assert panel.preview_model.columnCount() == frame.shape[1]
            assert panel.has_error() == (controller.choice.problem is not None)

    feed()


def test_numpy_and_parquet_files_are_read(controller, qtbot, tmp_path: Path) -> None:
    panel = controller.panel
    rng = np.random.default_rng(2)
    table = tmp_path / "table.npz"
    np.savez(table, X=rng.normal(size=(60, 3)), y=np.arange(60) % 3,
             feature_names=np.array(["a", "b", "c"]))
    with qtbot.waitSignal(controller.choice_shown, timeout=60_000):
        controller.import_path(table)
    assert [c["name"] for c in controller.choice.columns] == ["a", "b", "c", "y"]
    assert panel.options()["roles"]["y"] == "target"
    assert list(panel.balance_bars.opts["height"]) == [20.0, 20.0, 20.0]

    seq = tmp_path / "sequences.npy"  # a lone .npy cannot say which array is the target
    np.save(seq, rng.normal(size=(10, 5, 2)))
    with qtbot.waitSignal(controller.choice_failed, timeout=60_000):
        controller.import_path(seq)
    seq = tmp_path / "sequences.npz"
    np.savez(seq, X=rng.normal(size=(40, 5, 2)), y=np.arange(40) % 2)
    with qtbot.waitSignal(controller.choice_shown, timeout=60_000):
        controller.import_path(seq)
    assert controller.choice.kind == "sequence" and controller.choice.columns == []
    assert controller.choice.prepared.input_shape == (5, 2)
    assert panel.roles_table.isHidden() and not panel.no_columns_label.isHidden()

    pytest.importorskip("pyarrow")
    parquet = tmp_path / "people.parquet"
    frame = pd.DataFrame({"x": rng.normal(size=50), "kind": ["p", "q"] * 25})
    frame.to_parquet(parquet)
    with qtbot.waitSignal(controller.choice_shown, timeout=60_000):
        controller.import_path(parquet)
    _settle(qtbot, controller)
    assert panel.preview_model.rowCount() == 50 and not panel.has_error()
    assert panel.options()["roles"]["kind"] == "target"
    assert float(panel.preview_model.data(panel.preview_model.index(0, 0))) == pytest.approx(
        frame["x"][0]
    )


def test_an_imported_customer_id_is_set_aside_and_the_panel_says_so(controller, qtbot,
                                                                     tmp_path: Path) -> None:
    """A 60-row table with a customer id (one per row): the Data dock proposes it as ignored
    and its status says why; the other columns stay features."""
    path = tmp_path / "customers.csv"
    n = 60
    pd.DataFrame({"customer_id": [f"C{i:04d}" for i in range(n)],
                  "age": 20 + np.arange(n) % 40, "bought": np.arange(n) % 2}).to_csv(path, index=False)
    with qtbot.waitSignal(controller.choice_shown, timeout=60_000):
        controller.import_path(path)
    roles = controller.panel.options()["roles"]
    assert roles["customer_id"] == "ignore" and roles["age"] == "feature"
    status = controller.panel.status_label.text()
    assert "Column 'customer_id'" in status and "set to ignore" in status
