"""Worker threads: the one place the application starts threads.

A worker runs headless engine code off the GUI thread and reports through a thread-safe
queue that the GUI drains on a timer, so however fast training steps arrive, the GUI redraws
at most ~30 times a second. Only the GUI thread touches widgets.
"""

from __future__ import annotations

import queue
import traceback
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal

DRAIN_INTERVAL_MS = 33


class _QueueCallback:
    """A trainer callback that forwards events into a queue (cheap: no Qt, no copies)."""

    def __init__(self, events: queue.SimpleQueue[tuple[str, Any]]) -> None:
        self.events = events

    def on_train_start(self, trainer: Any) -> None:
        self.events.put(("start", {"total_steps": getattr(trainer, "total_steps", None)}))

    def on_step_end(self, trainer: Any, step: dict[str, Any]) -> None:
        self.events.put(("step", step))

    def on_epoch_end(self, trainer: Any, epoch: dict[str, Any]) -> None:
        self.events.put(("epoch", epoch))

    def on_train_end(self, trainer: Any, result: Any) -> None:
        pass


class _TrainThread(QThread):
    def __init__(self, project: Any, overrides: dict[str, Any], run_name: str,
                 events: queue.SimpleQueue[tuple[str, Any]]) -> None:
        super().__init__()
        self.project = project
        self.overrides = overrides
        self.run_name = run_name
        self.events = events
        self.trainer: Any = None

    def run(self) -> None:
        from workbench.session import train_run

        try:
            outcome = train_run(
                self.project,
                overrides=self.overrides,
                callbacks=[_QueueCallback(self.events)],
                name=self.run_name,
                trainer_hook=self._keep,
                add_to_project=False,
            )
            self.events.put(("done", outcome))
        except Exception as exc:  # reported to the GUI, never lost in the thread
            self.events.put(("error", (f"{type(exc).__name__}: {exc}", traceback.format_exc())))

    def _keep(self, trainer: Any) -> None:
        self.trainer = trainer


class TrainingWorker(QObject):
    """Trains one run on a worker thread; signals are emitted on the GUI thread."""

    started = Signal(object)  # training began: {"total_steps": int | None}
    steps_arrived = Signal(list)  # a batch of step dicts since the last drain
    epoch_finished = Signal(dict)  # one epoch's metrics
    finished = Signal(object)  # the TrainOutcome (run not yet added to the project)
    failed = Signal(str, str)  # one-line message, details

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._thread: _TrainThread | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self._drain)
        self.paused = False

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def start(self, project: Any, overrides: dict[str, Any], run_name: str) -> None:
        if self.is_running():
            raise RuntimeError("a training run is already in progress")
        self._events = queue.SimpleQueue()
        self._thread = _TrainThread(project, overrides, run_name, self._events)
        self.paused = False
        self._thread.start()
        self._timer.start()

    def pause(self) -> None:
        t = self._thread.trainer if self._thread else None
        if t is not None:
            t.pause()
            self.paused = True

    def resume(self) -> None:
        t = self._thread.trainer if self._thread else None
        if t is not None:
            t.resume()
            self.paused = False

    def stop(self) -> None:
        t = self._thread.trainer if self._thread else None
        if t is not None:
            t.stop()

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Stop training and wait for the thread (used when closing)."""
        if self._thread is not None:
            self.stop()
            self._thread.wait(timeout_ms)
            self._drain()
            self._thread = None
        self._timer.stop()

    def _drain(self) -> None:
        steps: list[dict[str, Any]] = []
        while True:
            try:
                kind, payload = self._events.get_nowait()
            except queue.Empty:
                break
            if kind == "step":
                steps.append(payload)
                continue
            if steps:
                self.steps_arrived.emit(steps)
                steps = []
            if kind == "start":
                self.started.emit(payload)
            elif kind == "epoch":
                self.epoch_finished.emit(payload)
            elif kind == "done":
                self._finish()
                self.finished.emit(payload)
            elif kind == "error":
                self._finish()
                self.failed.emit(*payload)
        if steps:
            self.steps_arrived.emit(steps)

    def _finish(self) -> None:
        self._timer.stop()
        if self._thread is not None:
            self._thread.wait()
            self._thread = None
