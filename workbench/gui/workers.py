"""Workers: the one place the application starts threads and processes.

Training runs in a separate process, not a thread of the application. A training loop on a
small model spends most of its time in Python between short torch calls, so a training
*thread* would hold the GIL almost all the time and the GUI thread would wait for it at
every slot and paint (70–100 ms late on the demo project, although each paint and queue
drain takes only a few milliseconds). In its own process the trainer has its own GIL.

The training process is started once, after the window is shown (:meth:`TrainingWorker.
warm_up`), imports torch and the engines while the user looks at the project, and then
trains one run after another. It receives plain data (the graph as a dict, the data spec,
the embedded data bytes, the settings) and sends back plain dicts: step batches, epoch
dicts, and at the end the run's fields with its weights as safetensors bytes. Pause,
resume and stop travel on their own pipe to a listener thread in that process, which
calls the trainer's thread-safe controls, so they take effect before the next step.
The GUI drains the events on a timer, so however fast steps arrive it redraws at most
~30 times a second. Only the GUI thread touches widgets.

The training process is started with ``spawn`` (never ``fork``, which is unsafe in a process
running Qt): as with any ``multiprocessing`` program, a script that opens the window must
guard its top level with ``if __name__ == "__main__":``.

Short jobs that must not freeze the window (an autosave, a look inside a layer) run on a
thread through :class:`BackgroundTask`.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

DRAIN_INTERVAL_MS = 33
STEP_FLUSH_S = 0.025  # the training process sends steps in batches at most this often
TRAINING_NICENESS = 5  # how much lower the training process's CPU priority is (Unix)
_QUIT_WAIT_S = 3.0  # how long a process asked to quit may take before it is terminated


# ----------------------------------------------------------------------------- the process
class _Controls:
    """Pause / stop requests from the application, applied to the running trainer.

    A request may arrive before its run's trainer exists (while the data is prepared): it
    is kept per job and applied when the trainer is handed over.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.job: int | None = None
        self.trainer: Any = None
        self.paused: dict[int, bool] = {}
        self.stopped: set[int] = set()

    def listen(self, conn: Connection) -> None:
        while True:
            try:
                command, job = conn.recv()
            except (EOFError, OSError):
                # the application has gone away (closed or killed): nobody will read results
                os._exit(0)
            with self.lock:
                if command == "stop":
                    self.stopped.add(job)
                elif command in ("pause", "resume"):
                    self.paused[job] = command == "pause"
                if job == self.job and self.trainer is not None:
                    self._apply()

    def attach(self, job: int, trainer: Any) -> None:
        with self.lock:
            self.job, self.trainer = job, trainer
            self._apply()

    def detach(self) -> None:
        with self.lock:
            self.job, self.trainer = None, None

    def _apply(self) -> None:
        assert self.job is not None
        if self.job in self.stopped:
            self.trainer.stop()
        elif self.paused.get(self.job):
            self.trainer.pause()
        else:
            self.trainer.resume()


class _EventSender:
    """A trainer callback that sends events to the application, steps in batches."""

    def __init__(self, conn: Connection, job: int, class_names: list[str]) -> None:
        self.conn = conn
        self.job = job
        self.class_names = class_names
        self.steps: list[dict[str, Any]] = []
        self.last_flush = time.perf_counter()

    def on_train_start(self, trainer: Any) -> None:
        self.conn.send(("start", self.job, {"total_steps": getattr(trainer, "total_steps", None),
                                            "class_names": self.class_names}))

    def on_step_end(self, trainer: Any, step: dict[str, Any]) -> None:
        self.steps.append(step)
        now = time.perf_counter()
        if now - self.last_flush >= STEP_FLUSH_S:
            self.flush(now)

    def on_epoch_end(self, trainer: Any, epoch: dict[str, Any]) -> None:
        self.flush()
        self.conn.send(("epoch", self.job, epoch))

    def on_train_end(self, trainer: Any, result: Any) -> None:
        self.flush()

    def flush(self, now: float | None = None) -> None:
        if self.steps:
            self.conn.send(("steps", self.job, self.steps))
            self.steps = []
        self.last_flush = time.perf_counter() if now is None else now


def _serve(conn: Connection, control_conn: Connection, torch_threads: int | None) -> None:
    """Main function of the training process: train the jobs that arrive, one at a time."""
    if hasattr(os, "nice"):
        # below the window's priority: when both want the CPU, the window gets it first (it
        # needs a fraction of a core; training takes whatever is left, which is nearly all)
        os.nice(TRAINING_NICENESS)
    controls = _Controls()
    threading.Thread(target=controls.listen, args=(control_conn,), name="controls", daemon=True).start()
    # imported now, while the user is still looking at the project, so Train starts at once
    import torch

    import workbench.core.session  # noqa: F401 (warm-up import)

    if torch_threads:
        torch.set_num_threads(torch_threads)
    cache: dict[str, Any] = {}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "quit":
            return
        _, job, spec = message
        try:
            _train(conn, controls, job, spec, cache)
        except Exception as exc:  # reported to the application, never lost in the process
            controls.detach()
            # the engines' and session's errors (ValueError subclasses) are sentences for a
            # person; anything else is named, since it is a bug
            message = str(exc) if isinstance(exc, ValueError) and str(exc) else f"{type(exc).__name__}: {exc}"
            conn.send(("error", job, (message, traceback.format_exc())))


def _train(conn: Connection, controls: _Controls, job: int, spec: dict[str, Any], cache: dict[str, Any]) -> None:
    from safetensors.torch import save as safetensors_bytes

    from engines.graph import Graph
    from workbench.core.project import Project
    from workbench.core.session import load_data, train_run

    p = spec["project"]
    project = Project(name=p["name"], graph=Graph.from_dict(p["graph"]), data=p["data"],
                      data_fingerprint=p["data_fingerprint"], train_config=p["train_config"],
                      embedded=p["embedded"])
    # the prepared data is kept for the next run on the same data (a fingerprint names it)
    key = repr((p["data"], p["data_fingerprint"])) if p["data_fingerprint"] else None
    data = cache.get(key) if key is not None else None
    if data is None:
        data = load_data(project)
        cache.clear()
        if key is not None:
            cache[key] = data
    sender = _EventSender(conn, job, [str(c) for c in (getattr(data, "class_names", None) or [])])
    callbacks: list[Any] = [sender]  # first: an epoch's metrics go out before its analyses
    callbacks.extend(_live_callbacks(conn, job, data, spec.get("live")))
    try:
        outcome = train_run(project, overrides=spec["overrides"], callbacks=callbacks, name=spec["name"],
                            data=data, trainer_hook=lambda trainer: controls.attach(job, trainer),
                            add_to_project=False)
    finally:
        controls.detach()
    run = outcome.run
    fields = {name: getattr(run, name) for name in
              ("id", "name", "created", "config", "status", "message", "history", "metrics", "data_fingerprint",
               "provenance")}
    weights = safetensors_bytes(run.weights) if run.weights is not None else None
    conn.send(("done", job, {"run": fields, "weights": weights, "status": outcome.status,
                             "message": outcome.message}))


def _live_callbacks(conn: Connection, job: int, data: Any, live: Any) -> list[Any]:
    """Pinned explanations / fairness tracking, sending their results as "analysis" events.

    A request that cannot be set up (say, a sensitive column the data lacks) is reported
    as an analysis error and the run trains without it.
    """
    from workbench.core.analysis import live_callbacks

    def send(kind: str, epoch: int, payload: dict[str, Any]) -> None:
        conn.send(("analysis", job, (kind, epoch, payload)))

    out: list[Any] = []
    for item in live or []:
        try:
            out.extend(live_callbacks(data, [item], send))
        except Exception as exc:  # the run goes on without this live view
            kind = str(item.get("kind", "analysis")) if isinstance(item, dict) else "analysis"
            send(kind, 0, {"error": f"Live {kind} could not start: {exc}"})
    return out


def _job_spec(project: Any, overrides: dict[str, Any], run_name: str,
              live: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What the training process needs of a project, as plain data (runs and weights stay)."""
    return {
        "project": {
            "name": project.name,
            "graph": project.graph.to_dict(),
            "data": project.data,
            "data_fingerprint": project.data_fingerprint,
            "train_config": dict(project.train_config),
            "embedded": {k: v for k, v in project.embedded.items() if k.startswith("data/")},
        },
        "overrides": dict(overrides),
        "name": run_name,
        "live": list(live or []),
    }


def _outcome(payload: dict[str, Any]) -> Any:
    from safetensors.torch import load as load_safetensors

    from workbench.core.project import Run
    from workbench.core.session import TrainOutcome

    weights = load_safetensors(payload["weights"]) if payload["weights"] is not None else None
    run = Run(**payload["run"], weights=weights)
    return TrainOutcome(run=run, status=payload["status"], message=payload["message"])


# ------------------------------------------------------------------------- the Qt side
class TrainingWorker(QObject):
    """Trains one run at a time in a separate, reusable process; signals arrive on the GUI thread.

    Parameters
    ----------
    torch_threads : threads torch may use in the training process. The default leaves one
        core to the window: with torch's default of one thread per core, its threads
        busy-wait for each other on a loaded machine, starve the GUI of CPU (half-second
        stalls measured on two cores) and train slower, not faster, on small models.
    """

    started = Signal(object)  # training began: {"total_steps": int | None, "class_names": [str]}
    steps_arrived = Signal(list)  # a batch of step dicts since the last drain
    epoch_finished = Signal(dict)  # one epoch's metrics
    finished = Signal(object)  # the TrainOutcome (run not yet added to the project)
    failed = Signal(str, str)  # one-line message, details (the traceback text)
    analysis_arrived = Signal(str, int, dict)  # a live analysis: kind, epochs completed, payload

    def __init__(self, parent: QObject | None = None, *, torch_threads: int | None = None) -> None:
        super().__init__(parent)
        self.torch_threads = torch_threads or max(1, (os.cpu_count() or 1) - 1)
        self._process: Any = None
        self._conn: Connection | None = None
        self._control: Connection | None = None
        self._job: int | None = None  # id of the run in progress
        self._jobs = 0
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self._drain)
        self.paused = False

    # -- process ----------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Start the training process now (it imports torch), so that Train starts at once."""
        if self._process is None or not self._process.is_alive():
            self._close_process()
            ctx = multiprocessing.get_context("spawn")  # never fork a process that runs Qt
            conn, child_conn = ctx.Pipe()
            control_reader, control_writer = ctx.Pipe(duplex=False)
            self._process = ctx.Process(target=_serve, args=(child_conn, control_reader, self.torch_threads),
                                        name="workbench-training", daemon=True)
            self._process.start()
            # the process has its own copies: closing these makes its end show up as end-of-file
            child_conn.close()
            control_reader.close()
            self._conn, self._control = conn, control_writer

    def process_id(self) -> int | None:
        """The training process's id while it runs (for diagnostics and tests)."""
        return self._process.pid if self._process is not None and self._process.is_alive() else None

    def _close_process(self, wait_s: float = _QUIT_WAIT_S) -> None:
        process, self._process = self._process, None
        conn, control, self._conn, self._control = self._conn, self._control, None, None
        if process is not None:
            try:
                if conn is not None:
                    conn.send(("quit",))
            except (BrokenPipeError, OSError):
                pass
            process.join(wait_s)
            if process.is_alive():
                process.terminate()
                process.join(1.0)
            if process.is_alive():
                process.kill()
                process.join()
            process.close()
        for c in (conn, control):
            if c is not None:
                c.close()

    # -- runs -------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._job is not None

    def start(self, project: Any, overrides: dict[str, Any], run_name: str,
              live: list[dict[str, Any]] | None = None) -> None:
        """Train a run of ``project``; ``live`` lists per-epoch analyses to compute with it
        (see :func:`workbench.core.analysis.live_callbacks`), reported by ``analysis_arrived``."""
        if self.is_running():
            raise RuntimeError("a training run is already in progress")
        spec = _job_spec(project, overrides, run_name, live)
        self._jobs += 1
        for attempt in range(2):  # a process that died while idle is replaced once
            self.warm_up()
            assert self._conn is not None
            try:
                self._conn.send(("train", self._jobs, spec))
                break
            except (BrokenPipeError, OSError):
                self._close_process(0)
                if attempt:
                    raise
        self._job = self._jobs
        self.paused = False
        self._timer.start()

    def _command(self, command: str) -> None:
        if self._job is not None and self._control is not None:
            try:
                self._control.send((command, self._job))
            except (BrokenPipeError, OSError):
                pass  # the process has ended; the drain reports it

    def pause(self) -> None:
        if self._job is not None:
            self._command("pause")
            self.paused = True

    def resume(self) -> None:
        if self._job is not None:
            self._command("resume")
            self.paused = False

    def stop(self) -> None:
        self._command("stop")

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Stop training, deliver its last events and end the process (used when closing)."""
        deadline = time.monotonic() + timeout_ms / 1000
        if self._job is not None:
            self.stop()
            while self._job is not None and self._conn is not None and time.monotonic() < deadline:
                self._conn.poll(min(0.05, max(deadline - time.monotonic(), 0)))
                self._drain()
            self._job = None  # did not end in time: it goes down with the process
        self._timer.stop()
        self._close_process(max(min(_QUIT_WAIT_S, deadline - time.monotonic()), 0.5))

    # -- events -----------------------------------------------------------------------------
    def _drain(self) -> None:
        steps: list[dict[str, Any]] = []
        conn = self._conn
        while self._job is not None and conn is not None:
            try:
                if not conn.poll():
                    break
                kind, job, payload = conn.recv()
            except (EOFError, OSError):
                if steps:
                    self.steps_arrived.emit(steps)
                self._process_ended()
                return
            if job != self._job:
                continue  # left over from a run that was given up
            if kind == "steps":
                steps.extend(payload)
                continue
            if steps:
                self.steps_arrived.emit(steps)
                steps = []
            if kind == "start":
                self.started.emit(payload)
            elif kind == "epoch":
                self.epoch_finished.emit(payload)
            elif kind == "analysis":
                self.analysis_arrived.emit(*payload)
            elif kind == "done":
                self._end_job()
                try:
                    outcome = _outcome(payload)
                except Exception as exc:
                    self.failed.emit(f"The trained run could not be read back: {exc}", traceback.format_exc())
                else:
                    self.finished.emit(outcome)
            elif kind == "error":
                self._end_job()
                self.failed.emit(*payload)
        if steps:
            self.steps_arrived.emit(steps)

    def _end_job(self) -> None:
        self._job = None
        self.paused = False
        self._timer.stop()

    def _process_ended(self) -> None:
        code = None
        if self._process is not None:
            self._process.join(1.0)
            code = self._process.exitcode
        self._close_process(0)
        self._end_job()
        self.failed.emit(
            f"The training process ended unexpectedly (exit code {code}); the run was lost.",
            "The separate process that trains the network stopped without reporting an error. "
            "It may have run out of memory or been killed by the system.",
        )


class BackgroundTask(QObject):
    """Runs one function on a thread and reports its result or error on the GUI thread.

    For short jobs the window must not wait for (an autosave, a look inside a layer); the
    function must not touch widgets. It cannot be cancelled: :meth:`wait` for it when closing.
    """

    succeeded = Signal(object)  # the function's return value
    failed = Signal(str, str)  # one-line message, details (the traceback text)
    _done = Signal(object, object)  # emitted from the thread; Qt queues it to the GUI thread

    def __init__(self, function: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.function = function
        self._thread: threading.Thread | None = None
        self._done.connect(self._deliver)

    def start(self) -> None:
        if self.is_running():
            raise RuntimeError("the task is already running")
        # a daemon thread: a job in progress must not keep a closed application alive
        self._thread = threading.Thread(target=self._run, name="workbench-task", daemon=True)
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the thread to end; True if it has."""
        if self._thread is not None:
            self._thread.join(timeout_s)
        return not self.is_running()

    def _run(self) -> None:
        try:
            result, error = self.function(), None
        except Exception as exc:
            result, error = None, (str(exc) or type(exc).__name__, traceback.format_exc())
        try:
            self._done.emit(result, error)
        except RuntimeError:  # the receiving object has been deleted meanwhile
            pass

    @Slot(object, object)
    def _deliver(self, result: Any, error: Any) -> None:
        if self._thread is not None:
            self._thread.join()  # it has nothing left to do but return
        if error is None:
            self.succeeded.emit(result)
        else:
            self.failed.emit(*error)
