"""Compare groups in the Explanations dock, driven through the real main window (offscreen Qt)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from widgets.explain.common import ERROR

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def lending_file(tmp_path_factory) -> Path:
    from engines.data import builtin_spec
    from workbench.core.project import save_project
    from workbench.core.session import create_project, train_run

    spec = builtin_spec("lending")
    spec.sensitive_as_features = True
    project = create_project("mlp", spec, seed=0)
    train_run(project, overrides={"epochs": 2, "batch_size": 128})
    path = tmp_path_factory.mktemp("lending") / "lending.wbproj"
    save_project(project, path)
    return path


def _window(make_main_window, path: Path):
    from workbench.core.project import load_project

    w = make_main_window()
    w.set_project(load_project(path), path)
    return w, w.explain_panel


def _compare(panel, method: str, column: str = "group") -> None:
    """Choose the column and method and press Compare groups, as a user does."""
    view = panel.groups
    view.column_combo.setCurrentText(column)
    view.set_method(method)
    assert view.compare_button.isEnabled(), view.compare_button.toolTip()
    view.compare_button.click()


def test_compare_groups_is_kept_undone_and_reopened_without_recomputing(
        make_main_window, qtbot, lending_file, tmp_path, monkeypatch) -> None:
    from workbench.core import analysis

    w, panel = _window(make_main_window, lending_file)
    view = panel.groups
    assert [view.column_combo.itemText(i) for i in range(view.column_combo.count())] == ["group"]
    methods = [view.method_combo.itemData(i) for i in range(view.method_combo.count())]
    assert "shapley" in methods and "gradcam" not in methods
    run = w.project.active()

    with qtbot.waitSignal(panel.runner.finished, timeout=120_000):
        _compare(panel, "ig")
        assert panel.controls.cancel_button.isEnabled()  # progress and Cancel as for Explain
    assert not panel.controls.cancel_button.isEnabled()
    assert [a.kind for a in run.analyses] == ["group_explanation"] and w.dirty
    assert panel.views.currentWidget() is view
    kept = analysis.group_comparison(run.analyses[0])
    assert run.analyses[0].meta["split"] == "test" and run.analyses[0].meta["method"] == "ig"
    j = kept.features.index("group")
    assert view.shown_features()[0] == "group"
    assert view.bar_values()[("group", "B")][0] == pytest.approx(kept.mean[1, j])
    # every sample explains the favourable class ("1", approved), so the groups compare like
    # with like
    assert run.analyses[0].meta["explained_outputs"] == {"1": sum(kept.sizes)}
    assert "explained output: 1" in view.title.text()
    # the same as the headless operation (same seed, same rows, same output)
    direct = analysis.explain_by_group(w.project, "ig", "group", target=1, n_boot=1000, n_perm=1000)
    np.testing.assert_allclose(direct.comparison.mean, kept.mean)
    np.testing.assert_array_equal(direct.comparison.p_value, kept.p_value)
    before = view.bar_values()

    # one comparison is one undo step
    w.undo_action.trigger()
    assert run.analyses == [] and view.bar_values() == {}
    w.redo_action.trigger()
    assert view.bar_values() == before

    path = tmp_path / "compared.wbproj"
    assert w._save_to(path)
    calls: list[str] = []
    monkeypatch.setattr(analysis, "explain_by_group", lambda *a, **k: calls.append("called"))
    _other, again = _window(make_main_window, path)
    assert calls == []
    assert again.groups.bar_values() == before
    assert "group" in again.groups.title.text() and again.groups.table.rowCount() == len(kept.features)


def test_compare_groups_cancel_and_errors(make_main_window, qtbot, lending_file, monkeypatch) -> None:
    from engines.explain import Cancelled
    from workbench.core import analysis
    from workbench.core.session import WorkbenchError

    w, panel = _window(make_main_window, lending_file)
    entered = threading.Event()

    def slow(project, method, sensitive, *, cancel, **kwargs):
        entered.set()
        while not cancel():
            threading.Event().wait(0.01)
        raise Cancelled()

    monkeypatch.setattr(analysis, "explain_by_group", slow)
    _compare(panel, "shapley")
    assert entered.wait(60)
    with qtbot.waitSignal(panel.runner.cancelled, timeout=10_000):
        panel.controls.cancel_button.click()
    assert panel.groups.message() == "Cancelled." and ERROR not in panel.groups.message_label.styleSheet()
    assert w.project.active().analyses == []

    def fails(project, method, sensitive, **kwargs):
        raise WorkbenchError(f"Column {sensitive!r} has only one group ('A') among the 300 rows.")

    monkeypatch.setattr(analysis, "explain_by_group", fails)
    with qtbot.waitSignal(panel.runner.failed, timeout=60_000):
        _compare(panel, "ig")
    assert "only one group" in panel.groups.message()
    assert ERROR in panel.groups.message_label.styleSheet()
    assert w.project.active().analyses == [] and not w.dirty

    # a request the panel can refuse at once never starts a task
    panel.compare_groups({"sensitive": "income", "method": "ig"})
    assert "not a sensitive column" in panel.groups.message() and not panel.runner.is_busy()
