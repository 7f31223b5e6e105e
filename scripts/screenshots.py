"""Write the README's screenshots: the real window on the demo project, mid-training and after.

Run under a display or Xvfb:  xvfb-run -a .venv/bin/python scripts/screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication


def _wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv)
    app.setApplicationName("Model Workbench")
    # a throw-away settings file, so the shots never depend on a remembered layout
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    from workbench.app import MainWindow

    w = MainWindow()
    w.resize(1500, 950)
    w.show()
    w.open_initial(None, demo=True)
    w.epochs.setValue(30)
    w.start_training()
    for _ in range(600):
        _wait(50)
        if len(w._live_epochs.get("train_loss", [])) >= 6:
            break
    w.grab().save(str(out / "training.png"))
    done = []
    w.worker.finished.connect(lambda *_: done.append(True))
    for _ in range(2400):
        if done:
            break
        _wait(50)
    _wait(300)
    w.grab().save(str(out / "trained.png"))
    w.dirty = False
    w.close()
    print(f"wrote {out / 'training.png'} and {out / 'trained.png'}")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
