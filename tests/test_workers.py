"""The training worker: a separate process that trains runs and reports to the GUI thread."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest
import torch
from PySide6.QtWidgets import QApplication

from engines.data import builtin_spec
from workbench.core.session import create_project, train_run
from workbench.gui.workers import TrainingWorker

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def project():
    return create_project("mlp", builtin_spec("iris"), name="iris MLP")


class Recorder:
    """Everything a worker reported, in order."""

    def __init__(self, worker: TrainingWorker) -> None:
        self.events: list[tuple[str, object]] = []
        self.connections = [
            (worker.started, lambda info: self.events.append(("started", info))),
            (worker.steps_arrived, lambda steps: self.events.extend(("step", s) for s in steps)),
            (worker.epoch_finished, lambda epoch: self.events.append(("epoch", epoch))),
            (worker.finished, lambda outcome: self.events.append(("finished", outcome))),
            (worker.failed, lambda message, details: self.events.append(("failed", (message, details)))),
        ]
        for signal_, slot in self.connections:
            signal_.connect(slot)

    def detach(self) -> None:
        for signal_, slot in self.connections:
            signal_.disconnect(slot)

    def of(self, kind: str) -> list:
        return [payload for k, payload in self.events if k == kind]


def _wait(condition, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        QApplication.processEvents()
        time.sleep(0.01)


def _gone(pid: int) -> bool:
    """True once the process has exited and been reaped (a zombie still answers signal 0)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def rec(worker):
    r = Recorder(worker)
    yield r
    r.detach()


@pytest.fixture(scope="module")
def worker(qapp):
    """One worker for the module: its process is reused from run to run, as in the window."""
    w = TrainingWorker()
    yield w
    w.shutdown()
    assert not w.is_running()
    assert multiprocessing.active_children() == []


def test_trains_like_the_session_does_and_reports_every_step(worker, rec, project) -> None:
    worker.start(project, {"epochs": 3, "batch_size": 16}, "run 1")
    assert worker.is_running()
    _wait(lambda: rec.of("finished") or rec.of("failed"))
    assert not rec.of("failed")
    assert not worker.is_running()
    outcome = rec.of("finished")[0]
    assert outcome.status == "completed" and outcome.run.name == "run 1"
    kinds = [k for k, _ in rec.events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    info = rec.of("started")[0]
    assert info["class_names"] == ["setosa", "versicolor", "virginica"]
    steps, epochs = rec.of("step"), rec.of("epoch")
    assert len(epochs) == 3 and info["total_steps"] == len(steps)
    assert [s["step"] for s in steps] == list(range(len(steps)))  # none lost, none repeated
    history = outcome.run.history
    assert [s["loss"] for s in steps] == history["step"]["loss"]
    assert [e["train_loss"] for e in epochs] == history["epoch"]["train_loss"]
    assert epochs[-1]["confusion"] == history["epoch"]["confusion"][-1]
    assert set(epochs[0]["grad_norm"]) == set(history["epoch"]["grad_norm"])

    # the same run trained here, with the process's thread count, gives the same numbers
    threads = torch.get_num_threads()
    torch.set_num_threads(worker.torch_threads)
    try:
        here = train_run(project, overrides={"epochs": 3, "batch_size": 16}, add_to_project=False)
    finally:
        torch.set_num_threads(threads)
    assert here.run.history["step"]["loss"] == history["step"]["loss"]
    weights = outcome.run.weights
    assert set(weights) == set(here.run.weights)
    assert all(torch.equal(weights[k], here.run.weights[k]) for k in weights)
    assert outcome.run.data_fingerprint == project.data_fingerprint


def test_pause_resume_and_stop_take_effect_before_the_next_step(worker, rec, project) -> None:
    worker.start(project, {"epochs": 5000, "batch_size": 4}, "long")
    _wait(lambda: len(rec.of("step")) > 20)
    pid = worker.process_id()
    worker.pause()
    assert worker.paused
    time.sleep(0.3)
    QApplication.processEvents()
    settled = len(rec.of("step"))
    time.sleep(0.5)
    QApplication.processEvents()
    assert len(rec.of("step")) == settled  # paused: no steps
    worker.resume()
    assert not worker.paused
    _wait(lambda: len(rec.of("step")) > settled + 20)
    worker.pause()
    time.sleep(0.3)
    worker.stop()  # while paused: the run ends before another step
    _wait(lambda: rec.of("finished"))
    outcome = rec.of("finished")[0]
    assert outcome.status == "stopped"
    done = len(outcome.run.history["step"]["loss"])
    assert len(rec.of("step")) == done  # every step taken was reported, and none after the stop
    assert f"after step {done}." in outcome.message
    assert worker.process_id() == pid  # the same process trains the next run


def test_an_error_arrives_as_a_failure_with_its_traceback(worker, rec, project) -> None:
    worker.start(project, {"epochs": 1, "lr": -1.0}, "bad")
    _wait(lambda: rec.of("failed"))
    message, details = rec.of("failed")[0]
    assert "lr" in message and "greater than 0" in message
    assert "Traceback (most recent call last)" in details and "WorkbenchError" in details
    assert not worker.is_running()
    # the process survives a failed run and trains the next one
    worker.start(project, {"epochs": 1}, "good")
    _wait(lambda: rec.of("finished"))
    assert rec.of("finished")[0].status == "completed"


def test_a_killed_process_is_reported_replaced_and_reaped(worker, rec, project) -> None:
    worker.start(project, {"epochs": 5000}, "doomed")
    _wait(lambda: rec.of("step"))
    pid = worker.process_id()
    os.kill(pid, signal.SIGKILL)
    _wait(lambda: rec.of("failed"))
    message, _details = rec.of("failed")[0]
    assert "ended unexpectedly" in message and "-9" in message
    assert not worker.is_running() and _gone(pid)
    worker.start(project, {"epochs": 1}, "again")
    _wait(lambda: rec.of("finished"))
    assert worker.process_id() not in (None, pid)


def test_shutdown_stops_a_run_delivers_it_and_ends_the_process(qtbot, project) -> None:
    worker = TrainingWorker()
    rec = Recorder(worker)
    worker.start(project, {"epochs": 5000}, "closing")
    _wait(lambda: rec.of("step"))
    pid = worker.process_id()
    worker.shutdown()
    assert rec.of("finished") and rec.of("finished")[0].status == "stopped"  # not lost
    assert not worker.is_running() and worker.process_id() is None
    assert pid not in [p.pid for p in multiprocessing.active_children()] and _gone(pid)
    worker.shutdown()  # twice is harmless


def test_a_background_task_reports_on_the_gui_thread(qtbot) -> None:
    import threading

    from workbench.gui.workers import BackgroundTask

    ran_on = []

    def work() -> int:
        ran_on.append(threading.current_thread())
        return sum(range(10))

    task = BackgroundTask(work)
    delivered_on = []
    task.succeeded.connect(lambda value: delivered_on.append((value, threading.current_thread())))
    with qtbot.waitSignal(task.succeeded, timeout=10_000):
        task.start()
    assert ran_on[0] is not threading.main_thread()
    assert delivered_on == [(45, threading.main_thread())]
    assert task.wait(1.0) and not task.is_running()

    def broken() -> None:
        raise KeyError("no such layer")

    bad = BackgroundTask(broken)
    with qtbot.waitSignal(bad.failed, timeout=10_000) as blocker:
        bad.start()
    message, details = blocker.args
    assert message == "'no such layer'" and "Traceback (most recent call last)" in details
    assert "KeyError" in details and not bad.is_running()
