"""The look inside the network: a selected node's output for a chosen sample of the active run.

:class:`LookInsideController` listens to the canvas selection, the sample chooser and the
document, and computes the output with :func:`workbench.core.look_inside.compute_look` on a
background thread (:class:`~workbench.gui.workers.BackgroundTask`), one computation at a time.
A request made while one runs waits, replacing any older waiting one, and makes the running
one's result stale, so only the latest choice is ever shown. The prepared data and the built model are cached on the worker
side, so moving through samples costs one forward pass.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from workbench.core.look_inside import LookCache, LookRequest, compute_look
from workbench.gui.workers import BackgroundTask

__all__ = ["LookInsideController"]

log = logging.getLogger("workbench.gui.activations_panel")


class LookInsideController(QObject):
    """Keeps an :class:`~widgets.activations.view.ActivationView` showing the selected node's output.

    ``window`` provides ``project``, ``worker`` (training) and ``graph_view.node_selected``;
    ``dock``, when given, is the view's dock: nothing is computed while it is hidden.
    """

    look_shown = Signal(str)  # an output is on screen: the node id

    def __init__(self, window: Any, view: Any, dock: Any = None) -> None:
        super().__init__(window)
        self.window = window
        self.view = view
        self.dock = dock
        self.node_id = ""
        self._cache = LookCache()
        self._generation = 0
        self._task: BackgroundTask | None = None  # the computation in progress: one at a time
        self._next: tuple[int, LookRequest] | None = None  # the latest request waiting for it
        self._shown_key: tuple[Any, ...] | None = None
        self._pending = False
        self._doc: Any = None
        view.sample_changed.connect(lambda _i: self.refresh(force=True))
        window.graph_view.node_selected.connect(self.select_node)
        if dock is not None:
            dock.visibilityChanged.connect(self._on_visibility)
        self.view.set_message("Select a layer on the canvas to see what it outputs for a sample.")

    # ----------------------------------------------------------------- inputs
    def attach(self, doc: Any) -> None:
        """A new document: follow its runs and graph; start from the first sample."""
        if self._doc is not None:
            for signal in (self._doc.runs_changed, self._doc.graph_changed):
                try:
                    signal.disconnect(self._on_document_changed)
                except (RuntimeError, TypeError):
                    pass
        self._doc = doc
        if doc is not None:
            doc.runs_changed.connect(self._on_document_changed)
            doc.graph_changed.connect(self._on_document_changed)
        self.node_id = ""
        self.view.set_sample_count(0, 0)
        self.refresh()

    @Slot(str)
    def select_node(self, node_id: str) -> None:
        self.node_id = node_id or ""
        self.refresh()

    def _on_document_changed(self) -> None:
        self.refresh()

    def _on_visibility(self, visible: bool) -> None:
        if visible and self._pending:
            self.refresh()

    def visible(self) -> bool:
        """Whether the view can be seen (a dock tabbed behind another hides it)."""
        return bool(self.view.isVisible())

    # ---------------------------------------------------------------- request
    def request(self) -> LookRequest | str:
        """What to compute now, or a sentence saying why there is nothing to show."""
        from engines.catalog import get_layer

        project = self.window.project
        node_id = self.node_id
        if project is None or not node_id or node_id not in project.graph.nodes:
            return "Select a layer on the canvas to see what it outputs for a sample."
        run = project.active()
        if run is None:
            return "Train a run to look inside the network: the active run's weights are used."
        if run.weights is None:
            return f"Run {run.name!r} has no weights to look inside."
        node = project.graph.nodes[node_id]
        graph = project.graph.to_dict()
        # positions do not change what a node computes: moving nodes must not rebuild the model
        key = json.dumps(
            {"nodes": [[n["id"], n["type"], n.get("params", {})] for n in graph["nodes"]],
             "edges": graph["edges"]},
            sort_keys=True, default=str,
        )
        source = next((v for k, v in project.embedded.items() if k.startswith("data/source")), None)
        return LookRequest(
            node_id=node_id,
            title=f"{node_id} ({get_layer(node.type).title})",
            sample=self.view.sample_index(),
            run_id=run.id,
            run_name=run.name,
            weights=run.weights,
            graph=graph,
            graph_key=key,
            seed=int(project.train_config.get("seed", 0)),
            objective=str(project.train_config.get("objective", "classification")),
            data=dict(project.data),
            data_fingerprint=project.data_fingerprint,
            source=source,
        )

    def refresh(self, force: bool = False) -> None:
        """Show the output for the current node, run and sample (computed in the background)."""
        req = self.request()
        if isinstance(req, str):
            self._generation += 1  # whatever is being computed is no longer wanted
            self._next = None
            self._shown_key = None
            self.view.set_busy(False)
            self.view.set_message(req)
            return
        if not self.visible():
            self._pending = True
            return
        self._pending = False
        key = (req.node_id, req.sample, req.run_id, req.graph_key)
        if key == self._shown_key and not force:
            return
        self._shown_key = key
        self._generation += 1
        self.view.set_busy(True)
        if self._task is not None:
            self._next = (self._generation, req)  # replaces any older waiting request
            return
        self._start(self._generation, req)

    def _start(self, generation: int, req: LookRequest) -> None:
        cache = self._cache

        def work() -> Any:
            from engines.activations import ActivationError
            from engines.data import DataError
            from engines.graph import GraphError
            from workbench.core.session import WorkbenchError

            try:
                return compute_look(req, cache)
            except (ActivationError, WorkbenchError, DataError, GraphError) as exc:
                return ("expected", str(exc))  # a sentence for the view, not an error report

        task = BackgroundTask(work, self)
        task.succeeded.connect(lambda result, g=generation: self._on_computed(g, result))
        task.failed.connect(
            lambda message, details, g=generation: self._on_computed(g, ("failed", message, details))
        )
        self._task = task
        task.start()

    def _on_computed(self, generation: int, result: Any) -> None:
        if self._task is not None:
            self._task.deleteLater()
            self._task = None
        if self._next is not None:
            waiting, self._next = self._next, None
            if waiting[0] == self._generation:
                self._start(*waiting)  # the latest choice; this result is stale
                return
        if generation != self._generation:
            return  # a newer choice was made since (and needs nothing computed)
        self.view.set_busy(False)
        if isinstance(result, tuple):
            message = result[1]
            if result[0] == "failed":
                log.error("Looking inside the network failed: %s\n%s", message, result[2])
                message = f"The output could not be computed: {message}"
            self._shown_key = None
            self.view.set_message(message, f"<b>{self.node_id}</b>")
            return
        self.view.set_sample_count(result["samples"], result["sample"])
        self.view.set_activation(
            result["title"],
            result["values"],
            caption=result["caption"],
            input_image=result["input_image"],
            labels=result["labels"],
        )
        self.look_shown.emit(result["node_id"])

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Drop the waiting request and wait for the one in progress (before closing)."""
        self._generation += 1
        self._next = None
        if self._task is not None:
            self._task.wait(timeout_s)
