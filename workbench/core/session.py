"""Headless operations on a project, shared by the command line and the application.

Each function takes a :class:`~workbench.core.project.Project` and does one user-level thing:
create a project from a template and a dataset, prepare its data, train a run, evaluate,
predict, export. No Qt here: the CLI runs on machines with no display.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.core.project import Project, Run

__all__ = [
    "WorkbenchError",
    "create_project",
    "default_train_config",
    "evaluate_run",
    "export_run",
    "load_data",
    "model_for",
    "predict_rows",
    "train_run",
]

SPLITS = ("train", "val", "test")


class WorkbenchError(ValueError):
    """A user-level operation cannot be done; the message says why in one sentence."""


# ----------------------------------------------------------------------------- creation
def default_train_config(template_id: str, objective: str, n_rows: int) -> dict[str, Any]:
    """Sensible training defaults per template family."""
    from engines.training import TrainConfig

    lr = {"transformer": 1e-3, "vit": 1e-3, "lstm": 3e-3, "gru": 3e-3}.get(template_id, 1e-3)
    batch = 32 if n_rows < 2000 else 64
    cfg = TrainConfig(objective=objective, optimizer="adam", lr=lr, batch_size=batch, epochs=10, seed=0)
    return cfg.to_dict()


EMPTY_GRAPH = "empty"  # New → Empty graph: the data's input and an output, nothing between


def empty_graph(input_shape: tuple[int, ...]) -> Any:
    """An input shaped like the data and an output, unconnected: a graph to build by hand."""
    from engines.graph import Graph

    graph = Graph()
    graph.add_node("input", {"shape": [int(d) for d in input_shape]}, id="input")
    graph.add_node("output", {}, id="output")
    graph.move_node("input", (0.0, 0.0))
    graph.move_node("output", (660.0, 0.0))  # three layer widths apart: room to add layers
    return graph


def create_project(
    template_id: str,
    data_spec: Any,
    *,
    name: str | None = None,
    seed: int = 0,
) -> Project:
    """A new project: a template graph fitted to the dataset's shape, its data and defaults."""
    import numpy as np

    from engines.data import prepare, read_source
    from engines.graph import GraphError
    from engines.templates import TEMPLATES, make_template

    if template_id != EMPTY_GRAPH and template_id not in TEMPLATES:
        raise WorkbenchError(
            f"Unknown template {template_id!r}; choose one of: {', '.join(TEMPLATES)}."
        )
    info = TEMPLATES["mlp" if template_id == EMPTY_GRAPH else template_id]
    source = read_source(data_spec)
    data = prepare(data_spec, source_bytes=source)
    if data.kind not in info.data_kinds:
        raise WorkbenchError(
            f"Template {template_id!r} works on {' or '.join(info.data_kinds)} data, but this "
            f"dataset is {data.kind} data."
        )
    objective = info.objective
    if objective == "classification" and data.task == "regression":
        objective = "regression"
    if objective == "reconstruction":
        n_outputs = int(np.prod(data.input_shape))  # the output has the input's shape
    elif objective == "regression":
        n_outputs = 1
    else:
        n_outputs = data.n_outputs
    try:
        if template_id == EMPTY_GRAPH:
            graph = empty_graph(tuple(data.input_shape))
        else:
            graph = make_template(template_id, tuple(data.input_shape), n_outputs)
    except GraphError as exc:
        raise WorkbenchError(str(exc)) from exc
    embedded: dict[str, bytes] = {}
    if source is not None:
        embedded[_source_entry(data_spec)] = source
    cfg = default_train_config(info.id, objective, len(data.X))
    cfg["seed"] = seed
    return Project.new(
        name=name or f"{template_id} on {data_spec.name or Path(str(data_spec.path)).stem}",
        graph=graph,
        data=data_spec.to_dict(),
        data_fingerprint=data.fingerprint,
        train_config=cfg,
        embedded=embedded,
        ui={"template": template_id},
    )


def _source_entry(spec: Any) -> str:
    suffix = {"csv": ".csv", "parquet": ".parquet", "npz": ".npz", "image_folder": ".npz"}.get(
        spec.source, ".bin"
    )
    return f"data/source{suffix}"


# ------------------------------------------------------------------------------- data
def load_data(project: Project) -> Any:
    """Prepare the project's data from its embedded copy (or the built-in / original file).

    Refuses data whose fingerprint differs from the one the project recorded, since its runs
    were trained and evaluated on the recorded data.
    """
    from engines.data import DataSpec, prepare

    spec = DataSpec.from_dict(project.data)
    source = next((v for k, v in project.embedded.items() if k.startswith("data/source")), None)
    data = prepare(spec, source_bytes=source)
    if project.data_fingerprint and data.fingerprint != project.data_fingerprint:
        raise WorkbenchError(
            "The project's data has changed since the project was made "
            f"(fingerprint {data.fingerprint[:12]} instead of {project.data_fingerprint[:12]})."
        )
    return data


def _objective(project: Project) -> str:
    return str(project.train_config.get("objective", "classification"))


def _targets(data: Any, idx: Any, objective: str) -> Any:
    return data.X[idx] if objective == "reconstruction" else data.y[idx]


# ------------------------------------------------------------------------------ models
def pick_run(project: Project, run_id: str | None) -> Run:
    if run_id is not None:
        for run in project.runs:
            if run.id == run_id or run.name == run_id:
                return run
        raise WorkbenchError(f"There is no run {run_id!r} in this project.")
    active = project.active()
    if active is None:
        raise WorkbenchError("This project has no trained run yet: run 'workbench train' first.")
    return active


def model_for(project: Project, run: Run | None = None) -> Any:
    """Build the project's graph and load a run's weights (or keep fresh weights)."""
    from engines.build import build_model
    from engines.graph import GraphError

    try:
        model = build_model(project.graph, seed=int(project.train_config.get("seed", 0)))
    except GraphError as exc:
        raise WorkbenchError(f"The network cannot be built: {exc}") from exc
    if run is not None:
        if run.weights is None:
            raise WorkbenchError(f"Run {run.name!r} has no weights.")
        try:
            model.load_state_dict(run.weights, strict=True)
        except RuntimeError as exc:
            raise WorkbenchError(
                f"Run {run.name!r} was trained on a different network; its weights do not fit "
                "the current graph."
            ) from exc
    model.eval()
    return model


# ----------------------------------------------------------------------------- training
@dataclass
class TrainOutcome:
    run: Run
    status: str
    message: str


def train_run(
    project: Project,
    *,
    overrides: dict[str, Any] | None = None,
    callbacks: Sequence[Any] = (),
    name: str | None = None,
    data: Any = None,
    trainer_hook: Any = None,
    add_to_project: bool = True,
    sample_weight: Any = None,
    loss_terms: Sequence[Any] = (),
) -> TrainOutcome:
    """Train a new run on the project's train split (validated on val) and add it.

    ``trainer_hook(trainer)`` is called with the trainer before it starts, so a caller on
    another thread can keep a handle to pause or stop it. With ``add_to_project=False`` the
    run is returned but not added (the application adds it on its own thread).
    ``sample_weight`` (one per training row) and ``loss_terms`` go to the trainer.
    """
    from engines.training import ConfigError, TrainConfig, Trainer

    cfg_dict = dict(project.train_config)
    cfg_dict.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        cfg = TrainConfig.from_dict(cfg_dict)
    except ConfigError as exc:
        raise WorkbenchError(str(exc)) from exc
    data = data if data is not None else load_data(project)
    model = model_for(project, None)
    tr, va = data.splits["train"], data.splits["val"]
    trainer = Trainer(
        model,
        train=(data.X[tr], _targets(data, tr, cfg.objective)),
        val=(data.X[va], _targets(data, va, cfg.objective)) if len(va) else None,
        config=cfg,
        callbacks=callbacks,
        sample_weight=sample_weight,
        **({"loss_terms": list(loss_terms)} if loss_terms else {}),
    )
    if trainer_hook is not None:
        trainer_hook(trainer)
    result = trainer.fit()
    run = Run(
        id=uuid.uuid4().hex[:8],
        name=name or f"run {len(project.runs) + 1}",
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        config=cfg.to_dict(),
        status=result.status,
        message=result.message,
        history=result.history,
        metrics=_jsonable(result.metrics),
        weights={k: v.detach().cpu().contiguous() for k, v in result.state_dict.items()},
        data_fingerprint=data.fingerprint,
    )
    run.provenance = run_provenance(run, metrics_split="val", metrics_rows=int(len(va)), seed=cfg.seed)
    if add_to_project:
        project.add_run(run)
        project.active_run = run.id
    return TrainOutcome(run=run, status=result.status, message=result.message)


def library_versions() -> dict[str, str]:
    """The versions that decide a run's or an analysis's numbers, for their provenance."""
    import platform

    import numpy as np
    import torch

    from workbench import __version__

    return {"app": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__}


def run_provenance(run: Run, *, metrics_split: str, metrics_rows: int, seed: Any,
                   recipe: str = "evaluate") -> dict[str, Any]:
    """What ``workbench verify`` needs to re-derive a run's numbers.

    ``weights_sha256`` is the digest of the weights as the project file stores them;
    ``metrics_split`` the split its stored metrics were measured on (the validation split at
    the end of training) and ``recipe`` how (``evaluate``: the loss and metrics of the model's
    outputs; ``threshold_optimizer``: decisions per group of a post-processed run).
    """
    from workbench.core.project import weights_digest

    return {
        "weights_sha256": weights_digest(run.weights) if run.weights else None,
        "metrics_split": metrics_split,
        "metrics_rows": metrics_rows,
        "metrics_recipe": recipe,
        "seed": seed,
        "data_fingerprint": run.data_fingerprint,
        "versions": library_versions(),
    }


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


# ----------------------------------------------------------------------------- evaluation
def _split_indices(data: Any, split: str) -> Any:
    import numpy as np

    if split == "all":
        return np.arange(len(data.X))
    if split not in data.splits:
        raise WorkbenchError(f"Unknown split {split!r}; use train, val, test or all.")
    return data.splits[split]


def evaluate_run(project: Project, *, split: str = "test", run_id: str | None = None) -> dict[str, Any]:
    """Metrics of a run on one split of the project's data."""
    from engines.training import evaluate

    run = pick_run(project, run_id)
    data = load_data(project)
    model = model_for(project, run)
    idx = _split_indices(data, split)
    objective = _objective(project)
    metrics = evaluate(model, data.X[idx], _targets(data, idx, objective), objective)
    return {
        "run": run.id,
        "run_name": run.name,
        "split": split,
        "n": int(len(idx)),
        "objective": objective,
        "metrics": _jsonable(metrics),
    }


def predict_rows(project: Project, *, split: str = "test", run_id: str | None = None) -> Any:
    """A table of predictions: row id (position in the source data), truth, prediction, scores."""
    import numpy as np
    import pandas as pd

    from engines.training import predict

    run = pick_run(project, run_id)
    data = load_data(project)
    model = model_for(project, run)
    idx = np.sort(_split_indices(data, split))
    objective = _objective(project)
    out = predict(model, data.X[idx])
    frame = pd.DataFrame({"row_id": data.row_ids[idx]})
    if objective == "classification":
        logits = out - out.max(axis=1, keepdims=True)
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        names = [str(c) for c in data.class_names]
        frame["true_label"] = [names[int(i)] for i in data.y[idx]]
        frame["predicted_label"] = [names[int(i)] for i in _decide(run, data, idx, proba)]
        for j, c in enumerate(names):
            frame[f"prob_{c}"] = proba[:, j]
    elif objective == "regression":
        frame["true_value"] = data.y[idx].reshape(len(idx), -1)[:, 0]
        frame["predicted_value"] = out.reshape(len(idx), -1)[:, 0]
    else:
        err = ((out.reshape(len(idx), -1) - data.X[idx].reshape(len(idx), -1)) ** 2).mean(axis=1)
        frame["reconstruction_mse"] = err
    return frame


def _decide(run: Run, data: Any, idx: Any, proba: Any) -> Any:
    """Predicted class per row: the most probable one, or the run's per-group thresholds."""
    import numpy as np

    post = run.config.get("postprocess")
    if not post:
        return proba.argmax(axis=1)
    from engines.fairness import FairThresholds

    rule = FairThresholds.from_dict(post)
    mitigation = run.config.get("mitigation", {})
    names = [str(c) for c in data.class_names]
    fav = names.index(str(mitigation.get("favourable", names[-1])))
    missing = [c for c in rule.columns if c not in data.sensitive]
    if missing:
        raise WorkbenchError(f"Run {run.name!r} decides per group of {missing[0]!r}, which this data does not have.")
    favourable = rule.predict(proba[:, fav], {c: data.sensitive[c][idx] for c in rule.columns})
    return np.where(favourable == 1, fav, 1 - fav)


# ------------------------------------------------------------------------------- export
EXPORT_FORMATS = ("onnx", "torchscript", "python")


def export_run(
    project: Project, fmt: str, out: str | Path, *, run_id: str | None = None
) -> dict[str, str]:
    """Export a run's model and, beside it, a JSON describing the input it expects.

    Returns the paths written. For ``python`` the weights go beside the source in a
    ``.safetensors`` file the source loads.
    """
    from engines import export

    if fmt not in EXPORT_FORMATS:
        raise WorkbenchError(f"Unknown export format {fmt!r}; use one of: {', '.join(EXPORT_FORMATS)}.")
    out = Path(out)
    if not out.parent.exists():
        raise WorkbenchError(f"The folder {str(out.parent)!r} does not exist.")
    run = pick_run(project, run_id)
    data = load_data(project)
    model = model_for(project, run)
    written: dict[str, str] = {}
    if fmt == "onnx":
        export.export_onnx(model, tuple(data.input_shape), out)
    elif fmt == "torchscript":
        export.export_torchscript(model, tuple(data.input_shape), out)
    else:
        from safetensors.torch import save_file

        weights = out.with_suffix(".safetensors")
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
        source = export.to_python_source(project.graph)
        source += _PY_LOADER.format(weights=weights.name)
        out.write_text(source, encoding="utf-8")
        written["weights"] = str(weights)
    written["model"] = str(out)
    spec_path = out.with_name(out.stem + ".input.json")
    spec = {
        "format": fmt,
        "model_file": out.name,
        "run": {"id": run.id, "name": run.name},
        "objective": _objective(project),
        "input_shape": ["batch", *[int(s) for s in data.input_shape]],
        "input_dtype": "float32",
        "output": _output_description(project, data),
        "class_names": [str(c) for c in data.class_names] if _objective(project) == "classification" else None,
        "data_fingerprint": data.fingerprint,
        "preprocessing": data.preprocessing,
    }
    spec_path.write_text(json.dumps(_jsonable(spec), indent=2), encoding="utf-8")
    written["input_spec"] = str(spec_path)
    return written


def _output_description(project: Project, data: Any) -> str:
    objective = _objective(project)
    if objective == "classification":
        return f"logits over {data.n_outputs} classes (softmax gives probabilities, in class_names order)"
    if objective == "regression":
        return "the predicted target value"
    return "the reconstructed input, same shape as the input"


_PY_LOADER = '''

def load(weights_path: str | None = None) -> Model:
    """Build the model and load the exported weights (safetensors, no pickle)."""
    import os

    from safetensors.torch import load_file

    path = weights_path or os.path.join(os.path.dirname(os.path.abspath(__file__)), "{weights}")
    model = Model()
    model.load_state_dict(load_file(path))
    return model.eval()
'''
