"""What the analysis panels hand to their worker threads: project snapshots and prepared data.

Headless (no Qt): the explanation and fairness panels run their work on a TaskRunner thread
while the user may go on editing, so a task reads a snapshot of the project, and the
prepared data is kept between tasks.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["DataCache", "snapshot"]


def snapshot(project: Any, runs: Sequence[Any], *, history: bool = True) -> Any:
    """A copy of what a task on ``runs`` reads, safe to use on a worker thread.

    The graph, settings and data spec are copied (the user may edit them meanwhile); the
    weights are shared, since nothing changes a run's weights in place. The runs keep no
    analyses, and their history only if ``history``. The first run is the active one.
    """
    from engines.graph import Graph
    from workbench.core.project import Project

    extra: dict[str, Any] = {} if history else {"history": {}}
    kept = [dataclasses.replace(r, analyses=[], config=copy.deepcopy(r.config), **extra) for r in runs]
    return Project(
        name=project.name,
        graph=Graph.from_dict(project.graph.to_dict()),
        data=copy.deepcopy(project.data),
        data_fingerprint=project.data_fingerprint,
        train_config=copy.deepcopy(project.train_config),
        runs=kept,
        active_run=kept[0].id if kept else None,
        embedded={k: v for k, v in project.embedded.items() if k.startswith("data/")},
    )


class DataCache:
    """The project's prepared data, kept between tasks (any thread; one load at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: str | None = None
        self._data: Any = None

    @staticmethod
    def key(project: Any) -> str:
        return project.data_fingerprint + json.dumps(project.data, sort_keys=True, default=str)

    def get(self, project: Any) -> Any:
        """The prepared data, loading it on the first call for this data (WorkbenchError if
        the data changed since the project recorded it)."""
        from workbench.core.session import load_data

        key = self.key(project)
        with self._lock:
            if key != self._key:
                self._data, self._key = None, None
                self._data = load_data(project)
                self._key = key
            return self._data

    def peek(self, project: Any) -> Any:
        """The data if it is already prepared, else None (never waits for a load)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._data if self._key == self.key(project) else None
        finally:
            self._lock.release()
