"""Background tasks: results arrive on the GUI thread, newer requests win, cancel works."""

from __future__ import annotations

import threading
import time

import pytest

from workbench.gui.tasks import TaskRunner


@pytest.fixture
def runner(qtbot):
    r = TaskRunner()
    yield r
    r.shutdown()
    assert not r._threads


def test_result_and_progress_arrive(qtbot, runner) -> None:
    seen: list[float] = []
    runner.progressed.connect(seen.append)

    def task(progress, cancelled):
        for i in range(4):
            progress((i + 1) / 4)
        return sum(range(10))

    with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
        runner.start(task)
    assert blocker.args == [45]
    qtbot.waitUntil(lambda: seen == [0.25, 0.5, 0.75, 1.0], timeout=2000)
    assert not runner.is_busy()


def test_newer_request_cancels_the_stale_one(qtbot, runner) -> None:
    release = threading.Event()
    stale_saw_cancel: list[bool] = []

    def stale(progress, cancelled):
        release.wait(5)
        stale_saw_cancel.append(cancelled())
        return "stale"

    results: list[object] = []
    runner.finished.connect(results.append)
    runner.start(stale)
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.start(lambda p, c: "fresh")
    release.set()
    qtbot.waitUntil(lambda: stale_saw_cancel == [True], timeout=5000)
    qtbot.wait(50)
    assert results == ["fresh"]


def test_cancel_stops_a_cooperative_task(qtbot, runner) -> None:
    steps: list[int] = []

    def task(progress, cancelled):
        for i in range(1000):
            if cancelled():
                raise RuntimeError("cancelled")
            steps.append(i)
            time.sleep(0.002)
        return "done"

    got: list[object] = []
    runner.finished.connect(got.append)
    failed: list[str] = []
    runner.failed.connect(lambda m, d: failed.append(m))
    runner.start(task)
    qtbot.waitUntil(lambda: len(steps) > 3, timeout=5000)
    with qtbot.waitSignal(runner.cancelled, timeout=1000):
        runner.cancel()
    runner.shutdown()
    assert len(steps) < 1000 and got == [] and failed == []


def test_failure_carries_message_and_traceback(qtbot, runner) -> None:
    def task(progress, cancelled):
        raise ValueError("Column 'x' is not sensitive.")

    with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
        runner.start(task)
    message, details = blocker.args
    assert message == "Column 'x' is not sensitive."
    assert "Traceback" in details and "ValueError" in details
