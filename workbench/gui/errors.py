"""Unexpected errors: logged to a rotating file, shown with details to copy, never fatal.

:class:`ErrorReporter` is the one place an unexpected error goes, whether it was raised in a
slot on the GUI thread (``sys.excepthook``), in a Python thread (``threading.excepthook``) or
reported by a worker's error signal. It writes the traceback to the log, asks the window to
autosave the user's work, and shows an :class:`ErrorDialog`. One dialog is shown at a time:
errors that repeat while it is open (a failing paint, a timer) are logged and counted in it.

The log folder is ``$WORKBENCH_LOG_DIR`` when set (tests), else ``logs`` under Qt's
AppDataLocation; files rotate at :data:`MAX_LOG_BYTES`, keeping :data:`LOG_BACKUPS` old ones.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import threading
import traceback
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, QStandardPaths, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

import workbench

__all__ = [
    "ErrorDialog",
    "ErrorReporter",
    "LOG_NAME",
    "log_dir",
    "log_path",
    "logger",
    "setup_logging",
]

LOG_NAME = "workbench.log"
MAX_LOG_BYTES = 1_000_000
LOG_BACKUPS = 5

logger = logging.getLogger("workbench")


def log_dir() -> Path:
    """The folder log files go to (not created here)."""
    env = os.environ.get("WORKBENCH_LOG_DIR")
    if env:
        return Path(env)
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    if not base:  # no writable location on this platform: fall back to the home folder
        base = str(Path.home() / ".model-workbench")
    return Path(base) / "logs"


def log_path() -> Path:
    return log_dir() / LOG_NAME


def setup_logging() -> Path:
    """Attach the rotating log file to the ``workbench`` logger; returns the file's path.

    Idempotent; if the log folder changed (another ``$WORKBENCH_LOG_DIR``), the handler moves.
    """
    path = log_path()
    for h in list(logger.handlers):
        if isinstance(h, RotatingFileHandler):
            if Path(h.baseFilename) == path.resolve():
                return path
            logger.removeHandler(h)
            h.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(
        path, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8", delay=True
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return path


def environment() -> str:
    """Versions that help someone reading a report: app, Python, Qt, platform."""
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion

    return (
        f"Model Workbench {workbench.__version__}; Python {platform.python_version()}; "
        f"PySide6 {pyside_version} (Qt {qVersion()}); {platform.platform()}"
    )


def open_log_folder() -> bool:
    """Show the log folder in the desktop's file manager (created if missing)."""
    folder = log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))))


class ErrorDialog(QDialog):
    """A summary, the message, the traceback behind "Show details", "Copy details", the log."""

    def __init__(
        self, summary: str, message: str, details: str, log_file: Path | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{workbench.APP_NAME}: error")
        self.setObjectName("error_dialog")
        self.details = details
        self._repeats = 0
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(40, 40))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        top.addWidget(icon)
        text = QVBoxLayout()
        self.summary_label = QLabel(f"<b>{_escape(summary)}</b>")
        self.summary_label.setWordWrap(True)
        self.message_label = QLabel(message)
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.work_label = QLabel("Your project is still open.")
        self.work_label.setWordWrap(True)
        for w in (self.summary_label, self.message_label, self.work_label):
            text.addWidget(w)
        self.repeat_label = QLabel()
        self.repeat_label.hide()
        text.addWidget(self.repeat_label)
        top.addLayout(text, 1)
        layout.addLayout(top)

        self.details_view = QPlainTextEdit(details)
        self.details_view.setReadOnly(True)
        self.details_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details_view.setMinimumSize(560, 220)
        self.details_view.hide()
        layout.addWidget(self.details_view, 1)
        self.log_label = QLabel(
            f"Details were written to {_escape(str(log_file))}" if log_file is not None
            else "The log file could not be written."
        )
        self.log_label.setWordWrap(True)
        self.log_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.log_label)

        buttons = QDialogButtonBox()
        self.details_button = buttons.addButton("Show details", QDialogButtonBox.ButtonRole.ActionRole)
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self._toggle_details)
        self.copy_button = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setToolTip("Copy the summary, versions and traceback, e.g. for a bug report")
        self.copy_button.clicked.connect(self.copy_details)
        self.folder_button: QPushButton = buttons.addButton(
            "Open log folder", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.folder_button.clicked.connect(open_log_folder)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.accept)
        close.setDefault(True)
        layout.addWidget(buttons)

    def _toggle_details(self, shown: bool) -> None:
        self.details_view.setVisible(shown)
        self.details_button.setText("Hide details" if shown else "Show details")
        self.adjustSize()

    def copy_details(self) -> None:
        """Put the full report on the clipboard."""
        QGuiApplication.clipboard().setText(self.details)

    def add_repeat(self, summary: str) -> None:
        """Count another error that arrived while this dialog was open."""
        self._repeats += 1
        self.repeat_label.setText(
            f"{self._repeats} more error(s) since, the last: {summary} See the log for details."
        )
        self.repeat_label.show()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ErrorReporter(QObject):
    """Logs unexpected errors, saves the user's work, and shows one dialog at a time.

    Parameters
    ----------
    parent
        The main window (the dialog's parent).
    autosave
        Called after an error is logged, to put unsaved work in the recovery file; returns
        True when it started writing one.
    """

    error_reported = Signal(str, str)  # an unexpected error was logged: summary, message
    # raised off the GUI thread; queued to it (summary, message, details)
    _from_thread = Signal(str, str, str)

    def __init__(self, parent: QWidget, autosave: Callable[[], Any] | None = None) -> None:
        super().__init__(parent)
        self.window = parent
        self.autosave = autosave
        self.dialog: ErrorDialog | None = None
        self._reporting = False
        self._previous_hooks: tuple[Any, Any] | None = None
        self._from_thread.connect(self._report_on_gui_thread, Qt.ConnectionType.QueuedConnection)

    # ------------------------------------------------------------------ hooks
    def install_excepthook(self) -> None:
        """Route ``sys.excepthook`` and ``threading.excepthook`` here (undo: uninstall)."""
        if self._previous_hooks is None:
            self._previous_hooks = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def uninstall_excepthook(self) -> None:
        if self._previous_hooks is not None:
            sys.excepthook, threading.excepthook = self._previous_hooks
            self._previous_hooks = None

    def _excepthook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        self.report("An unexpected error occurred.", f"{exc_type.__name__}: {exc}", details)

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        details = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        name = args.thread.name if args.thread is not None else "a background thread"
        self.report(
            f"An unexpected error occurred in {name}.",
            f"{args.exc_type.__name__}: {args.exc_value}",
            details,
        )

    # ----------------------------------------------------------------- report
    def report(self, summary: str, message: str, details: str = "") -> None:
        """Log an error and show it; safe to call from any thread."""
        # the Qt GUI thread is Python's main thread (the application is started from it)
        if QApplication.instance() is None or threading.current_thread() is not threading.main_thread():
            self._log(summary, message, details)
            self._from_thread.emit(summary, message, details)  # shown there, not logged again
            return
        self._log(summary, message, details)
        self._show(summary, message, details)

    @Slot(str, str, str)
    def _report_on_gui_thread(self, summary: str, message: str, details: str) -> None:
        self._show(summary, message, details)

    def _log(self, summary: str, message: str, details: str) -> Path | None:
        try:
            path = setup_logging()
            logger.error("%s %s\n%s", summary, message, details or "(no traceback)")
            for h in logger.handlers:
                h.flush()
            return path
        except Exception as exc:  # a full disk must not turn one error into two
            sys.stderr.write(f"Could not write the log: {exc}\n{summary} {message}\n{details}\n")
            return None

    def _show(self, summary: str, message: str, details: str) -> None:
        if self._reporting:
            return  # an error while reporting an error: it is logged, do not recurse
        self._reporting = True
        try:
            self.error_reported.emit(summary, message)
            saving = False
            if self.autosave is not None:
                try:
                    saving = bool(self.autosave())
                except Exception as exc:
                    self._log("Autosave after an error failed.", f"{type(exc).__name__}: {exc}",
                              traceback.format_exc())
            if self.dialog is not None and self.dialog.isVisible():
                self.dialog.add_repeat(summary)
                return
            report = f"{summary}\n{message}\n\n{environment()}\n\n{details}".rstrip() + "\n"
            self.dialog = ErrorDialog(summary, message, report, _existing(log_path()), self.window)
            if saving:
                self.dialog.work_label.setText(
                    "Your project is still open; its unsaved changes are being put in the "
                    "recovery file."
                )
            self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.dialog.destroyed.connect(self._forget_dialog)
            self.dialog.open()  # window-modal, and never a nested event loop inside a hook
        finally:
            self._reporting = False

    def _forget_dialog(self) -> None:
        self.dialog = None


def _existing(path: Path) -> Path | None:
    return path if path.exists() else None
