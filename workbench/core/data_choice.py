"""Reading and preparing a data choice for the data panel: headless, no Qt.

:func:`read_choice` reads what a user picked (a built-in dataset, a CSV / Parquet / .npz file
or an image folder) into a :class:`DataChoice`: a preview of the first rows, the columns with
their inferred type and missing values, and what can be summarised. :func:`prepare_choice`
prepares it with the chosen roles and split (the engines' preparation, the same the training
uses) and adds the summaries. :func:`fit_graph_to_data` fits the network's input and output to
the data. The window's data controller (:mod:`workbench.gui.data_panel`) calls these on a
worker thread; a test calls them directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DataChoice",
    "available_devices",
    "fit_graph_to_data",
    "objective_for_task",
    "prepare_choice",
    "read_choice",
    "source_for_path",
]

PREVIEW_ROWS = 200
MAX_HISTOGRAM_VALUES = 20_000
SAMPLE_IMAGES = 16
_TEXT_MIN_DISTINCT = 20  # a text column with more distinct values than this is free text
_MAX_CELL = 120

_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".npz": "npz",
    ".npy": "npz",
}


# ================================================================== headless work
def source_for_path(path: str | Path) -> str:
    """The data source a path is read as: a folder is an image folder, else by extension.

    Files with another extension are read as CSV (the reader then says if they are not).
    """
    p = Path(path)
    if p.is_dir():
        return "image_folder"
    return _EXTENSIONS.get(p.suffix.lower(), "csv")


@dataclass
class DataChoice:
    """A dataset read for the panel: what it shows, and what Apply would make the project's.

    ``problem`` is the preparation's one-sentence message when the spec cannot be used as
    it is (e.g. a role editor choice); the table is still shown so the user can fix it.
    """

    spec: Any  # engines.data.DataSpec
    source: bytes | None  # the bytes to embed (None for a built-in)
    title: str
    detail: str
    kind: str
    preview: dict[str, Any]
    columns: list[dict[str, Any]]
    features: dict[str, np.ndarray] = field(default_factory=dict)
    prepared: Any = None  # engines.data.PreparedData
    problem: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # what the import checks found and did

    @property
    def usable(self) -> bool:
        return self.problem is None and self.prepared is not None

    def panel_choice(self) -> dict[str, Any]:
        """The plain dict :meth:`DataPanel.show_choice` takes."""
        spec = self.spec
        return {
            "title": self.title,
            "detail": self.detail,
            "builtin": spec.name if spec.source == "builtin" else None,
            "kind": self.kind,
            "source": spec.source,
            "preview": self.preview,
            "columns": self.columns,
            "options": {
                "task": spec.task,
                "sensitive_as_features": spec.sensitive_as_features,
                "split": spec.split.to_dict(),
                "image_size": list(spec.image_size),
                "image_mode": spec.image_mode,
            },
        }

    def status(self) -> str:
        """One or two sentences about the prepared data (counts, split, notes)."""
        data = self.prepared
        if data is None:
            return self.problem or ""
        sizes = {k: len(v) for k, v in data.splits.items()}
        n_inputs = int(np.prod(data.input_shape))
        inputs = (
            f"{n_inputs:,} model input{'' if n_inputs == 1 else 's'}"
            if len(data.input_shape) == 1
            else f"input shape {_shape_text(data.input_shape)}"
        )
        text = (
            f"{data.n_rows:,} rows (train {sizes['train']:,} · validation {sizes['val']:,} · "
            f"test {sizes['test']:,}), {inputs}, "
        )
        text += (
            f"{len(data.class_names)} classes." if data.task == "classification" else "regression."
        )
        if data.notes:
            text += " " + " ".join(data.notes)
        if self.notices:
            text += " " + " ".join(self.notices)
        return text


def _shape_text(shape: Any) -> str:
    return " × ".join(str(int(d)) for d in shape)


def _cell(value: Any) -> Any:
    """A preview cell: None for a gap, numbers as numbers, anything else as short text."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return int(value)
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    text = str(value)
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _sample(values: np.ndarray, n: int = MAX_HISTOGRAM_VALUES) -> np.ndarray:
    """At most ``n`` values, evenly spaced, so a histogram of a big column stays cheap."""
    if len(values) <= n:
        return values
    return values[np.linspace(0, len(values) - 1, n).astype(np.int64)]


def _column_info(frame: Any) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Inferred type and missing count of each column, and its values for a histogram."""
    import pandas as pd

    infos: list[dict[str, Any]] = []
    values: dict[str, np.ndarray] = {}
    n = len(frame)
    for name in frame.columns:
        series = frame[name]
        missing = int(series.isna().sum())
        numeric = bool(
            pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)
        )
        present = series.dropna()
        distinct = int(present.nunique())
        if distinct <= 1:
            ctype = "constant"
        elif numeric:
            ctype = "numeric"
        elif distinct > _TEXT_MIN_DISTINCT and distinct > 0.5 * (n - missing):
            ctype = "text"
        else:
            ctype = "categorical"
        infos.append({"name": str(name), "type": ctype, "missing": missing, "numeric": numeric})
        if numeric:
            values[str(name)] = _sample(present.to_numpy(dtype=np.float64))
        else:
            values[str(name)] = _sample(present.astype(str).to_numpy(dtype=str))
    return infos, values


def _preview(frame: Any) -> dict[str, Any]:
    head = frame.head(PREVIEW_ROWS)
    rows = [[_cell(v) for v in row] for row in head.itertuples(index=False, name=None)]
    return {"columns": [str(c) for c in frame.columns], "rows": rows, "total_rows": int(len(frame))}


def read_choice(spec: Any, source: bytes | None = None, *, checks: bool = False) -> DataChoice:
    """Read a dataset for the panel and prepare it (see :func:`prepare_choice`).

    With ``checks`` (a table imported afresh), the import checks run first
    (:func:`engines.data.import_checks`, the datasheet's column typing): identifier and
    constant columns no role was given for are set to ignore, and every finding is kept in
    ``notices`` (shown with the data's status).

    Parameters
    ----------
    spec : engines.data.DataSpec
    source : bytes, optional
        The source's bytes (e.g. embedded in a project); read from the file when None.

    Raises
    ------
    engines.data.DataError
        When the source cannot be read at all (missing, empty, not a table, a pickle...).
    """
    from engines.data import read_frame, read_source
    from engines.data.registry import get_builtin
    from engines.data.sources import load_image_arrays, load_npz, npz_xy

    spec.validate()
    if source is None and spec.source != "builtin":
        source = read_source(spec)
    name = Path(spec.path or "").name or "data"
    columns: list[dict[str, Any]] = []
    features: dict[str, np.ndarray] = {}
    frame: Any = None
    if spec.source == "builtin":
        info = get_builtin(spec.name or "").info
        title, detail, kind = info.title, f"Built-in dataset '{info.id}'", info.kind
    else:
        title, detail, kind = name, str(spec.path), "table"
    if spec.source == "image_folder":
        assert source is not None
        images, labels, names = load_image_arrays(source, f"Image folder '{name}'")
        files = load_npz(source).get("files")
        rows = [
            [str(files[i]) if files is not None else i, names[int(labels[i])]]
            for i in range(min(len(labels), PREVIEW_ROWS))
        ]
        preview = {"columns": ["file", "class"], "rows": rows, "total_rows": int(len(labels))}
        kind = "image"
    elif spec.source == "npz" and _npz_rank(source, name) != 2:
        assert source is not None
        label = f"NumPy file '{name}'"
        x, y = npz_xy(load_npz(source, label), label)
        rows = [[i, _cell(y[i])] for i in range(min(len(y), PREVIEW_ROWS))]
        preview = {"columns": ["row", "y"], "rows": rows, "total_rows": int(len(y))}
        kind = "sequence" if x.ndim == 3 else "image"
    else:
        frame = read_frame(spec, source)
        preview = _preview(frame)
        if kind == "table":
            columns, features = _column_info(frame)
    choice = DataChoice(
        spec=spec,
        source=source,
        title=title,
        detail=detail,
        kind=kind,
        preview=preview,
        columns=columns,
        features=features,
    )
    prepared = prepare_choice(choice, spec)
    if not (checks and kind == "table" and spec.source != "builtin" and frame is not None):
        return prepared
    return _checked(prepared, frame)


def _checked(choice: DataChoice, frame: Any) -> DataChoice:
    """``choice`` after the import checks: columns to ignore set so, findings in notices."""
    from engines.data import DataSpec, import_checks

    spec = choice.spec
    target = choice.summary.get("target_name") if choice.prepared is not None else spec.target
    found = import_checks(frame, target)
    if not found:
        return choice
    roles = dict(spec.roles)
    ignored = [c.column for c in found if c.ignore and c.column not in roles]
    for column in ignored:
        roles[column] = "ignore"
    # a column the user gave a role keeps it, and no notice says otherwise
    notices = [c.message for c in found if not (c.ignore and c.column in spec.roles)]
    if ignored:
        choice = prepare_choice(choice, DataSpec.from_dict({**spec.to_dict(), "roles": roles}))
    return replace(choice, notices=notices)


def _npz_rank(source: bytes | None, name: str) -> int:
    from engines.data.sources import load_npz, npz_xy

    assert source is not None
    label = f"NumPy file '{name}'"
    x, _ = npz_xy(load_npz(source, label), label)
    return int(x.ndim)


def prepare_choice(choice: DataChoice, spec: Any) -> DataChoice:
    """Prepare ``choice``'s data with ``spec`` (same source): a new choice with the result.

    A spec the data does not allow is not an error here: the returned choice carries the
    message in ``problem`` and keeps the table, so the panel can show both.
    """
    from engines.data import DataError, prepare

    # the import checks' notices describe the import: a later change of roles drops them
    result = replace(choice, spec=spec, prepared=None, problem=None, summary={}, notices=[])
    try:
        data = prepare(spec, source_bytes=choice.source)
    except DataError as exc:
        result.problem = str(exc)
        result.summary = {"features": dict(choice.features)}
        result.columns = _with_roles(choice.columns, spec, None)
        return result
    result.prepared = data
    result.kind = data.kind
    target = data.preprocessing.get("target", {}).get("name")
    result.columns = _with_roles(choice.columns, spec, target)
    result.summary = _summary(data, choice.features, target)
    return result


def _with_roles(columns: list[dict[str, Any]], spec: Any, target: str | None) -> list[dict[str, Any]]:
    out = []
    target = target or spec.target or next((c for c, r in spec.roles.items() if r == "target"), None)
    for col in columns:
        name = col["name"]
        role = "target" if name == target else spec.roles.get(name, "feature")
        if role == "target" and name != target:
            role = "feature"
        policy = spec.columns.get(name, {}).get("missing")
        out.append({**col, "role": role, "missing_policy": policy})
    return out


def _summary(data: Any, features: dict[str, np.ndarray], target: str | None) -> dict[str, Any]:
    summary: dict[str, Any] = {"target_name": target or "target"}
    if data.task == "classification":
        counts = np.bincount(data.y, minlength=len(data.class_names))
        summary["classes"] = {"names": list(data.class_names), "counts": counts.tolist()}
    else:
        summary["target_values"] = _sample(np.asarray(data.y, dtype=np.float64))
    if data.kind == "table":
        summary["features"] = {k: v for k, v in features.items() if k != target}
        return summary
    x = data.X
    if data.kind == "image":
        summary["features"] = {
            f"{name} (pixel values)": _sample(x[:, c].ravel())
            for c, name in enumerate(data.feature_names[: x.shape[1]])
        }
        picks = _pick_per_class(data.y if data.task == "classification" else None, len(x))
        imgs = x[picks]
        if imgs.shape[1] == 3:
            imgs = imgs.transpose(0, 2, 3, 1)
        else:
            imgs = imgs[:, 0]
        summary["images"] = np.clip(imgs, 0.0, 1.0)
        summary["image_labels"] = (
            [data.class_names[int(data.y[i])] for i in picks]
            if data.task == "classification"
            else [f"{float(data.y[i]):.3g}" for i in picks]
        )
    else:  # sequence: the values of each channel, after standardising
        summary["features"] = {
            f"{name} (standardised)": _sample(x[:, :, c].ravel())
            for c, name in enumerate(data.feature_names[: x.shape[2]])
        }
    return summary


def _pick_per_class(y: np.ndarray | None, n: int) -> np.ndarray:
    """Up to SAMPLE_IMAGES positions, taking each class in turn (the first rows of each)."""
    if y is None:
        return np.arange(min(n, SAMPLE_IMAGES))
    by_class = [np.flatnonzero(y == k) for k in np.unique(y)]
    picks: list[int] = []
    depth = 0
    while len(picks) < SAMPLE_IMAGES and any(depth < len(ix) for ix in by_class):
        for ix in by_class:
            if depth < len(ix) and len(picks) < SAMPLE_IMAGES:
                picks.append(int(ix[depth]))
        depth += 1
    return np.asarray(picks, dtype=np.int64)


def spec_with_options(spec: Any, options: Mapping[str, Any]) -> Any:
    """``spec`` with the panel's roles, missing-value policies, task and split.

    Roles name every non-feature column and the target; with no target chosen every column
    is named, so the data says plainly that one is needed instead of guessing one.

    Raises
    ------
    engines.data.DataError
        When the options make an unusable spec (e.g. split fractions that do not add up).
    """
    from engines.data import DataSpec

    d = spec.to_dict()
    roles = dict(options.get("roles") or {})
    if roles:
        targets = [c for c, r in roles.items() if r == "target"]
        if targets:
            d["roles"] = {c: r for c, r in roles.items() if r != "feature"}
            d["target"] = targets[0]
        else:
            d["roles"] = roles
            d["target"] = None
        columns: dict[str, dict[str, Any]] = {}
        for name, opts in d["columns"].items():
            kept = {k: v for k, v in opts.items() if k not in ("missing", "fill_value")}
            if kept:
                columns[name] = kept
        for name, policy in (options.get("missing") or {}).items():
            columns.setdefault(name, {})["missing"] = policy
        d["columns"] = columns
        d["sensitive_as_features"] = bool(options.get("sensitive_as_features", False))
    d["task"] = options.get("task")
    if "split" in options:
        d["split"] = dict(options["split"])
    if spec.source == "image_folder":
        d["image_size"] = list(options.get("image_size") or d["image_size"])
        d["image_mode"] = options.get("image_mode") or d["image_mode"]
    return DataSpec.from_dict(d)


def fit_graph_to_data(
    graph: Any, report: Any, input_shape: Any, n_outputs: int, objective: str
) -> list[tuple[str, str, Any]]:
    """The parameter changes that fit a network to a dataset: ``(node_id, name, value)``.

    The input's ``shape`` becomes the data's; the last sized layer before the output (a
    Linear's ``out_features``, reached back through layers that keep their input's shape)
    becomes the number of classes, 1 for regression, or the input's size for reconstruction
    (where a Reshape before the output takes the input's shape). Other layers are left as
    they are: a mismatch they now have is reported on them, with a fix where one is obvious.
    """
    shape = [int(d) for d in input_shape]
    changes: list[tuple[str, str, Any]] = []
    for node in graph.nodes.values():
        if node.type == "input" and "shape" in node.params and list(node.params["shape"]) != shape:
            changes.append((node.id, "shape", list(shape)))
    outputs = [n for n in graph.nodes.values() if n.type == "output"]
    if len(outputs) != 1:
        return changes
    if objective == "reconstruction":
        size = math.prod(shape)
    elif objective == "regression":
        size = 1
    else:
        size = int(n_outputs)

    def feeder(node_id: str) -> Any:
        feeds = graph.inputs_of(node_id)
        return graph.nodes[feeds[0].src] if len(feeds) == 1 else None

    node = feeder(outputs[0].id)
    for _ in range(len(graph.nodes)):
        if node is None:
            break
        if objective == "reconstruction" and node.type == "reshape" and "shape" in node.params:
            if list(node.params["shape"]) != shape:
                changes.append((node.id, "shape", list(shape)))
            node = feeder(node.id)
            continue
        if "out_features" in node.params:
            if node.params["out_features"] != size:
                changes.append((node.id, "out_features", size))
            break
        before = feeder(node.id)
        # only walk back through layers that keep their input's shape (activations, dropout)
        if before is None or report.node_shapes.get(node.id) is None or (
            report.node_shapes.get(node.id) != report.node_shapes.get(before.id)
        ):
            break
        node = before
    return changes


def objective_for_task(config: Mapping[str, Any], task: str) -> dict[str, Any]:
    """Settings to change so the objective suits a dataset's task (none for reconstruction)."""
    from engines.training import EPOCH_METRICS

    objective = str(config.get("objective", "classification"))
    new = objective
    if objective == "classification" and task == "regression":
        new = "regression"
    elif objective == "regression" and task == "classification":
        new = "classification"
    if new == objective:
        return {}
    changes: dict[str, Any] = {"objective": new}
    if config.get("early_stopping_metric", "val_loss") not in EPOCH_METRICS[new]:
        changes["early_stopping_metric"] = "val_loss"
    return changes


def available_devices() -> list[str]:
    """The training devices present here: always auto and cpu, then CUDA and MPS if found."""
    import torch

    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


# ================================================================== the data panel
