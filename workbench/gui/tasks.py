"""Background tasks for panels: one task in flight per owner, cancelled cooperatively.

A panel (explanations, fairness) hands :class:`TaskRunner` a plain function
``fn(progress, cancelled) -> result``; it runs on a worker thread and reports back through
signals on the GUI thread. Starting a new task cancels the one in flight (its result, if it
still arrives, is dropped), so a newer request always wins over a stale one. ``progress``
takes a fraction in [0, 1]; ``cancelled()`` returns True once the task should stop — engines
check it between batches and raise their own ``Cancelled``.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

Task = Callable[[Callable[[float], None], Callable[[], bool]], Any]


class _TaskThread(QThread):
    progressed = Signal(int, float)  # task number, fraction done
    succeeded = Signal(int, object)  # task number, result
    failed = Signal(int, str, str)  # task number, message, traceback

    def __init__(self, number: int, fn: Task, cancel: threading.Event) -> None:
        super().__init__()
        self.number, self.fn, self.cancel = number, fn, cancel

    def run(self) -> None:
        try:
            result = self.fn(lambda f: self.progressed.emit(self.number, float(f)), self.cancel.is_set)
        except BaseException as exc:  # reported to the panel, never raised in the GUI
            if self.cancel.is_set():
                return
            self.failed.emit(self.number, str(exc) or type(exc).__name__, traceback.format_exc())
            return
        if not self.cancel.is_set():
            self.succeeded.emit(self.number, result)


class TaskRunner(QObject):
    """Runs one task at a time off the GUI thread; a new task cancels the previous one."""

    started = Signal()  # a task started
    progressed = Signal(float)  # fraction done of the current task
    finished = Signal(object)  # the current task's result
    failed = Signal(str, str)  # the current task failed: message, traceback
    cancelled = Signal()  # the current task was cancelled by the user

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._number = 0
        self._cancel: threading.Event | None = None
        self._threads: set[_TaskThread] = set()

    def is_busy(self) -> bool:
        """True while a task that has not been cancelled is running."""
        return self._cancel is not None and not self._cancel.is_set()

    def start(self, fn: Task) -> int:
        """Run ``fn`` on a worker thread, cancelling the task in flight; returns its number."""
        self._drop_current()
        self._number += 1
        self._cancel = threading.Event()
        thread = _TaskThread(self._number, fn, self._cancel)
        thread.progressed.connect(self._on_progress)
        thread.succeeded.connect(self._on_success)
        thread.failed.connect(self._on_failure)
        thread.finished.connect(lambda t=thread: self._reap(t))
        self._threads.add(thread)
        thread.start()
        self.started.emit()
        return self._number

    def cancel(self) -> None:
        """Ask the current task to stop; its result will not be reported."""
        if self.is_busy():
            self._drop_current()
            self.cancelled.emit()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Cancel and wait for every thread (when the panel or window closes)."""
        self._drop_current()
        for t in list(self._threads):
            t.wait(timeout_ms)
            self._reap(t)

    def _drop_current(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
        self._cancel = None

    def _current(self, number: int) -> bool:
        return number == self._number and self._cancel is not None and not self._cancel.is_set()

    @Slot(int, float)
    def _on_progress(self, number: int, fraction: float) -> None:
        if self._current(number):
            self.progressed.emit(fraction)

    @Slot(int, object)
    def _on_success(self, number: int, result: Any) -> None:
        if self._current(number):
            self._cancel = None
            self.finished.emit(result)

    @Slot(int, str, str)
    def _on_failure(self, number: int, message: str, details: str) -> None:
        if self._current(number):
            self._cancel = None
            self.failed.emit(message, details)

    def _reap(self, thread: _TaskThread) -> None:
        if thread in self._threads and thread.isFinished():
            self._threads.discard(thread)
            thread.deleteLater()
