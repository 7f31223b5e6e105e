"""A look inside the network, headless: one node's output for one sample of a run.

:func:`compute_look` takes a :class:`LookRequest` (everything captured from the project at the
moment the user asked) and returns what the view shows. A :class:`LookCache` keeps the last
prepared data and built model, so moving through samples costs one forward pass. The window
(:mod:`workbench.gui.activations_panel`) runs this on a background thread; a test calls it
directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.core.project import Project, Run

__all__ = ["LookCache", "LookRequest", "compute_look"]

SPLIT_NAMES = {"val": "validation", "test": "test", "train": "training"}


@dataclass(frozen=True)
class LookRequest:
    """Everything the worker needs, captured on the GUI thread (nothing shared that changes)."""

    node_id: str
    title: str
    sample: int
    run_id: str
    run_name: str
    weights: Any = field(repr=False)  # the run's state_dict: read-only tensors
    graph: dict[str, Any] = field(repr=False)
    graph_key: str = field(repr=False)
    seed: int = 0
    objective: str = "classification"
    data: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str = ""
    source: bytes | None = field(default=None, repr=False)


class LookCache:
    """The last prepared data and built model (touched by one thread at a time)."""

    def __init__(self) -> None:
        self.data_key: str | None = None
        self.data: Any = None
        self.model_key: tuple[str, str] | None = None
        self.model: Any = None

    def prepared(self, req: LookRequest) -> Any:
        from engines.graph import Graph
        from workbench.core.session import load_data

        key = req.data_fingerprint + json.dumps(req.data, sort_keys=True, default=str)
        if key != self.data_key:
            # a stand-in project holding only what load_data reads (the data and its bytes)
            embedded = {"data/source": req.source} if req.source is not None else {}
            holder = Project(name="", graph=Graph(), data=req.data,
                             data_fingerprint=req.data_fingerprint, embedded=embedded)
            self.data = load_data(holder)
            self.data_key = key
        return self.data

    def built(self, req: LookRequest) -> Any:
        from engines.graph import Graph
        from workbench.core.session import model_for

        key = (req.run_id, req.graph_key)
        if key != self.model_key:
            self.model = None
            holder = Project(name="", graph=Graph.from_dict(req.graph), train_config={"seed": req.seed})
            run = Run(id=req.run_id, name=req.run_name, weights=req.weights)
            self.model = model_for(holder, run)  # WorkbenchError if the weights do not fit
            self.model_key = key
        return self.model


def _split(data: Any) -> tuple[str, np.ndarray]:
    for name in ("val", "test", "train"):
        idx = data.splits.get(name)
        if idx is not None and len(idx):
            return name, np.asarray(idx)
    return "all", np.arange(len(data.X))


def _as_image(x: np.ndarray, kind: str) -> np.ndarray | None:
    if kind != "image" or x.ndim != 3:
        return None
    if x.shape[0] == 3:
        return np.transpose(x, (1, 2, 0))
    return x.mean(axis=0) if x.shape[0] != 1 else x[0]


def compute_look(req: LookRequest, cache: LookCache | None = None) -> dict[str, Any]:
    """Run one request headlessly; returns what the view needs (raises on bad input)."""
    from engines.activations import capture_activations

    cache = cache or LookCache()
    data = cache.prepared(req)
    split, idx = _split(data)
    i = min(max(0, req.sample), len(idx) - 1)
    x = np.asarray(data.X[idx[i]])
    model = cache.built(req)
    wanted = [req.node_id] if req.node_id == model.output_id else [req.node_id, model.output_id]
    outputs = capture_activations(model, x, wanted)
    caption = f"{SPLIT_NAMES.get(split, split)} sample {i} of {len(idx)} (row {int(data.row_ids[idx[i]])})"
    labels = None
    if req.objective == "classification" and data.class_names:
        names = [str(c) for c in data.class_names]
        truth = names[int(data.y[idx[i]])] if int(data.y[idx[i]]) < len(names) else str(data.y[idx[i]])
        out = outputs[model.output_id].reshape(-1)
        caption += f" — label {truth}"
        if len(out) == len(names):
            caption += f", predicted {names[int(np.argmax(out))]}"
            if req.node_id == model.output_id:
                labels = names
    return {
        "node_id": req.node_id,
        "title": req.title,
        "values": outputs[req.node_id],
        "caption": caption,
        "input_image": _as_image(x, data.kind),
        "labels": labels,
        "samples": len(idx),
        "sample": i,
    }
