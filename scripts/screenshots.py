"""Write the README's screenshots with the real window.

- ``training.png`` / ``trained.png``: the demo project (MLP on German credit) mid-training and
  after training;
- ``explanations_table.png``: exact Shapley values of five test rows of the trained demo;
- ``fairness.png``: the fairness audit of the trained demo with ``sex`` as the sensitive column;
- ``audit.png``: that project opened for audit at 1366×768, verified, with a finding;
- ``report_page1.png``: the first page of its audit report (PDF rendered by poppler's pdftoppm);
- ``explanations_images.png``: saliency, integrated gradients and Grad-CAM on a LeNet-5 trained
  briefly on scikit-learn's digits;
- ``start.png``: the start page (no project open) at 1366×768;
- ``laptop_{plots,explanations,fairness}.png`` and ``large_…``: the trained demo reopened at
  1366×768 and at 2560×1440, each dock in turn (the script fails if a window is not the size
  it asked for).

Run on a screen of at least 2560×1440, e.g. Xvfb:
  xvfb-run -a -s "-screen 0 2560x1440x24" .venv/bin/python scripts/screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication


def _wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _wait_for(condition, timeout_s: float = 300.0) -> bool:
    for _ in range(int(timeout_s * 20)):
        if condition():
            return True
        _wait(50)
    return False


def _explain(w, methods: list[str], how: str, n: int, layer: str | None = None) -> bool:
    """Tick the methods, choose the samples and press Explain, as a user does."""
    panel = w.explain_panel
    done: list[bool] = []
    panel.runner.finished.connect(lambda *_: done.append(True))
    panel.runner.failed.connect(lambda *a: print("explanation failed:", a[0]) or done.append(False))
    c = panel.controls
    c.set_checked_methods(methods)
    c.set_sample_choice(how, count=n)
    if layer is not None:
        c.layer_combo.setCurrentText(layer)
    c.explain_button.click()
    return _wait_for(lambda: bool(done)) and done[0]


def _audit_shot(app: QApplication, w, out: Path) -> bool:
    """The trained demo saved, then opened for audit at 1366×768: verified, with a finding."""
    from workbench.gui.app import MainWindow

    project_path = Path(tempfile.mkdtemp()) / "credit demo.wbproj"
    if not w._save_to(project_path):
        return False
    a = MainWindow()
    a.resize(1366, 768)
    a.show()
    a.open_for_audit(project_path)
    if not _wait_for(lambda: a.audit_session is not None and not a._loading):
        return False
    a.audit_dock.raise_()
    a.resizeDocks([a.audit_dock], [int(a.height() * 0.5)], Qt.Orientation.Vertical)
    verified: list[bool] = []
    a.audit_panel.verified.connect(lambda *_: verified.append(True))
    a.audit_panel.verification.verify_button.click()
    ok = _wait_for(lambda: bool(verified))
    a.audit_panel.add_finding({"kind": "fairness", "run": a.project.active().id,
                               "analysis": a.project.active().analyses[-1].id},
                              "Women are 44 of the 150 test rows: the selection-rate interval for them "
                              "is twice as wide as for men.", "medium")
    _wait(400)
    a.grab().save(str(out / "audit.png"))
    ok = a.save_audit() and ok
    a.dirty = False
    a.close()
    return _report_page(project_path, out) and ok


def _size_shots(project_path: Path, out: Path) -> bool:
    """The start page, then the trained demo with its stored explanation and fairness audit,
    at 1366×768 (a laptop) and 2560×1440 (``large_*``; needs a screen that big)."""
    from workbench.gui.app import MainWindow

    ok = True
    for width, height, tag in ((1366, 768, "laptop"), (2560, 1440, "large")):
        settings = QSettings()
        for key in ("window/geometry", "window/state"):  # each size as at a first start
            settings.remove(key)
        settings.sync()
        w = MainWindow()
        w.resize(width, height)
        w.show()
        if tag == "laptop":
            w.settings.setValue("files/recent", [str(project_path)])
            w.open_initial(None, demo=False)
            _wait(800)
            w.grab().save(str(out / "start.png"))
        w.open_in_background(project_path)
        ok = _wait_for(lambda w=w: w.project is not None and not w._loading) and ok
        w._analysis_panels()
        _wait(800)
        if (w.width(), w.height()) != (width, height):
            print(f"{tag}: asked for {width}×{height}, the window is {w.width()}×{w.height()}")
            ok = False
        for dock, name in ((w.plots_dock, "plots"), (w.explain_dock, "explanations"),
                           (w.fairness_dock, "fairness")):
            dock.raise_()
            _wait(500)
            w.grab().save(str(out / f"{tag}_{name}.png"))
        w.dirty = False
        w.close()
    return ok


def _report_page(project_path: Path, out: Path) -> bool:
    """The first page of the audit report of that project, as a PNG (needs poppler's pdftoppm)."""
    import shutil
    import subprocess

    from workbench.core.audit_file import audit_path_for
    from workbench.core.project import load_project
    from workbench.core.report import write_report

    folder = Path(tempfile.mkdtemp())
    write_report(load_project(project_path), folder, project_path=project_path,
                 audit=audit_path_for(project_path), time="2026-12-07T12:00:00Z")
    if shutil.which("pdftoppm") is None:
        print("pdftoppm not found (apt-get install poppler-utils): report_page1.png not written")
        return True
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                    str(folder / "report.pdf"), str(out / "report_page1")], check=True)
    return True


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv)
    app.setApplicationName("Model Workbench")
    # a throw-away settings file, so the shots never depend on a remembered layout
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    from workbench.gui.app import MainWindow

    w = MainWindow()
    w.resize(1600, 1000)
    w.show()
    w.open_initial(None, demo=True)
    ok = _wait_for(lambda: w.project is not None and not w.data_controller.busy)
    # small batches: enough steps per epoch to catch the run in the middle
    w.doc.set_train_config({"epochs": 40, "batch_size": 4, "lr": 0.0003})
    w.start_training()
    _wait_for(lambda: len(w._live_epochs.get("train_loss", [])) >= 6)
    _wait(600)  # the progress line and plots catch up (they redraw a few times a second)
    w.grab().save(str(out / "training.png"))
    done: list[bool] = []
    w.worker.finished.connect(lambda *_: done.append(True))
    ok = _wait_for(lambda: bool(done)) and ok
    w.plots.flush()
    _wait(600)
    w.grab().save(str(out / "trained.png"))

    w.explain_dock.raise_()
    ok = _explain(w, ["shapley"], "first", 5) and ok
    _wait(300)
    w.grab().save(str(out / "explanations_table.png"))

    fair = w.fairness_panel
    _wait_for(lambda: fair.facts is not None)
    w.fairness_dock.raise_()
    fair.panel.controls.set_columns(fair.facts.sensitive, ["sex"])
    audited: list[bool] = []
    fair.runner.finished.connect(lambda *_: audited.append(True))
    fair.panel.controls.audit_button.click()
    ok = _wait_for(lambda: bool(audited)) and ok
    _wait(300)
    w.grab().save(str(out / "fairness.png"))

    saved = Path(tempfile.mkdtemp()) / "credit demo.wbproj"
    ok = w._save_to(saved) and ok
    ok = _audit_shot(app, w, out) and ok
    ok = _size_shots(saved, out) and ok

    # images: a LeNet-5 trained briefly on digits, explained three ways
    from engines.data import builtin_spec
    from workbench.core.session import create_project, train_run

    digits = create_project("lenet5", builtin_spec("digits"), seed=0)
    train_run(digits, overrides={"epochs": 4})
    w.dirty = False
    w.set_project(digits, None)
    w.explain_dock.raise_()
    w.resizeDocks([w.explain_dock], [int(w.height() * 0.62)], Qt.Orientation.Vertical)
    ok = _explain(w, ["saliency", "ig", "gradcam"], "misclassified", 4, layer="conv1") and ok
    w.explain_panel.grid.per_method_box.setChecked(True)  # Grad-CAM's units differ from gradients
    _wait(300)
    w.grab().save(str(out / "explanations_images.png"))

    w.dirty = False
    w.close()
    print(f"wrote training, trained, explanations_table, fairness, audit, report_page1, start, "
          f"laptop_*, large_* and explanations_images PNGs to {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
