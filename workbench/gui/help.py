"""Help → User Guide (F1): the guide in ``assets/user_guide.md``, shown offline in a window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

GUIDE_PATH = Path(__file__).resolve().parents[2] / "assets" / "user_guide.md"


def guide_text(path: Path = GUIDE_PATH) -> str:
    """The guide's Markdown, or a sentence saying where it should be when it is missing."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        return (f"# User guide not found\n\nThe guide should be at `{path}` "
                f"({exc.strerror or exc}). Reinstall Model Workbench to restore it.")


class GuideDialog(QDialog):
    """A non-modal window with the user guide; links to web pages open in the browser."""

    def __init__(self, parent: QWidget | None = None, path: Path = GUIDE_PATH) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model Workbench — User Guide")
        self.setObjectName("user_guide")
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(guide_text(path))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(720, 640)
        self.setWindowModality(Qt.WindowModality.NonModal)
