"""Controllers of the data panel and the training settings: panel edits become document commands.

Reading a file and preparing a dataset can take seconds, so :class:`DataController` does
both on a worker thread of its own ``QThreadPool`` (one job at a time; a newer request makes
an older result stale, and stale results are dropped). Results come back to the GUI thread
through a queued signal; only the GUI thread touches the panel. The work itself is plain
functions (:func:`read_choice`, :func:`prepare_choice`) that a test can call without Qt.

Nothing here changes the project directly: Apply becomes one
:meth:`~workbench.document.ProjectDocument.set_data` step (which may also fit the network's
input and output to the data) and every settings edit one
:meth:`~workbench.document.ProjectDocument.set_train_config` step.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from widgets.data_panel import DataPanel
from widgets.train_settings import TrainSettings
from workbench.document import ProjectDocument

__all__ = [
    "DataChoice",
    "DataController",
    "TrainSettingsController",
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
OPTIONS_DELAY_MS = 250  # edits of roles or split are prepared once typing pauses
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


def read_choice(spec: Any, source: bytes | None = None) -> DataChoice:
    """Read a dataset for the panel and prepare it (see :func:`prepare_choice`).

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
    return prepare_choice(choice, spec)


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

    result = replace(choice, spec=spec, prepared=None, problem=None, summary={})
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
class DataController(QObject):
    """Reads and prepares data off the GUI thread for the panel; Apply edits the document."""

    choice_shown = Signal(object)  # a dataset was read and is now shown (a DataChoice)
    choice_failed = Signal(str)  # a dataset could not be read; the panel shows the message
    data_applied = Signal(str)  # the shown dataset became the project's data (its fingerprint)
    idle = Signal()  # no reading or preparing is waiting or in flight any more
    _job_done = Signal(int, str, object)  # worker -> GUI thread: serial, job kind, outcome

    def __init__(self, panel: DataPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.doc: ProjectDocument | None = None
        self.choice: DataChoice | None = None  # what the panel shows
        self.applied: DataChoice | None = None  # the document's data, as last read
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one read at a time; the machine's cores train
        self._serial = 0
        self._document_serial = 0  # the latest read of the document's own data
        self._in_flight = 0
        self._closed = False
        self._datasets_listed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(OPTIONS_DELAY_MS)
        self._timer.timeout.connect(self._prepare_options)
        self._job_done.connect(self._on_job_done)
        panel.builtin_chosen.connect(self.choose_builtin)
        panel.file_chosen.connect(self.import_path)
        panel.folder_chosen.connect(self.import_path)
        panel.options_changed.connect(self._on_options_changed)
        panel.apply_requested.connect(self.apply)

    # ------------------------------------------------------------------ state
    @property
    def busy(self) -> bool:
        """True while data is being read or prepared, or an edit waits to be prepared."""
        return self._in_flight > 0 or self._timer.isActive()

    def set_document(self, doc: ProjectDocument | None) -> None:
        """Show ``doc``'s data (read in the background) and follow its undo and redo."""
        if self.doc is not None:
            try:
                self.doc.data_changed.disconnect(self._on_document_data_changed)
            except (RuntimeError, TypeError):
                pass  # the old document is already gone
        self.doc = doc
        self.choice = self.applied = None
        if not self._datasets_listed:
            from engines.data import list_datasets

            self.panel.set_datasets([d.to_dict() for d in list_datasets()])
            self._datasets_listed = True
        if doc is None:
            return
        doc.data_changed.connect(self._on_document_data_changed)
        self._load_document_data()

    def shutdown(self) -> None:
        """Drop queued work and wait for the running job (when the window closes)."""
        self._closed = True
        self._timer.stop()
        self._pool.clear()
        self._pool.waitForDone()

    # ------------------------------------------------------------------ user actions
    def choose_builtin(self, name: str) -> None:
        """Read built-in dataset ``name`` and show it (the project's data is unchanged)."""
        from engines.data import DataError, builtin_spec

        try:
            spec = builtin_spec(name)
        except DataError as exc:
            self._fail(str(exc))
            return
        self._submit("read", read_choice, spec, None)

    def import_path(self, path: str | Path) -> None:
        """Read a data file or image folder and show it (the project's data is unchanged)."""
        from engines.data import DataError, DataSpec

        try:
            spec = DataSpec(source=source_for_path(path), path=str(path))
            spec.validate()
        except DataError as exc:
            self._fail(str(exc))
            return
        self._submit("read", read_choice, spec, None)

    def apply(self) -> bool:
        """Make the shown dataset the project's data, as one undo step; False if refused."""
        from engines.graph import GraphError
        from engines.training import ConfigError
        from workbench.session import _source_entry

        choice, doc = self.choice, self.doc
        if doc is None or choice is None or self.busy:
            return False
        if not choice.usable:
            self.panel.show_status(choice.problem or "The data is not ready yet.", error=True)
            return False
        data = choice.prepared
        config = dict(doc.project.train_config)
        config_changes = objective_for_task(config, data.task)
        objective = config_changes.get("objective", config.get("objective", "classification"))
        params: list[tuple[str, str, Any]] = []
        if self.panel.fit_network_requested():
            params = fit_graph_to_data(
                doc.graph, doc.report(), data.input_shape, data.n_outputs, objective
            )
        source = (_source_entry(choice.spec), choice.source) if choice.source is not None else None
        try:
            doc.set_data(choice.spec.to_dict(), data.fingerprint, source, params, config_changes)
        except (GraphError, ConfigError, ValueError) as exc:
            self.panel.show_status(f"The data could not be applied: {exc}", error=True)
            return False
        self.applied = choice
        self._show_applied()
        problems = doc.problems()
        status = choice.status()
        if problems:
            status += (
                f" The network now has {len(problems)} problem(s) to fix: {problems[0].message}"
            )
        self.panel.show_status(status)
        self.data_applied.emit(data.fingerprint)
        return True

    # ------------------------------------------------------------------ document
    def _load_document_data(self) -> None:
        from engines.data import DataError, DataSpec

        doc = self.doc
        assert doc is not None
        project = doc.project
        try:
            spec = DataSpec.from_dict(project.data)
        except DataError as exc:
            self._fail(f"The project's data spec is not usable: {exc}")
            return
        source = next(
            (v for k, v in project.embedded.items() if k.startswith("data/source")), None
        )
        self._submit("document", read_choice, spec, source)

    def _on_document_data_changed(self) -> None:
        doc = self.doc
        if doc is None:
            return
        shown = self.choice
        if (
            shown is not None
            and shown.prepared is not None
            and shown.prepared.fingerprint == doc.project.data_fingerprint
            and shown.spec.to_dict() == doc.project.data
        ):
            self.applied = shown  # our own Apply (or a redo of it): nothing to read
            self._show_applied()
            self._refresh_apply()
            return
        self._load_document_data()  # undo or redo: show what the project has now

    # ------------------------------------------------------------------ options
    def _on_options_changed(self) -> None:
        if self.choice is None:
            return
        self.panel.set_apply_enabled(False)
        self._timer.start()

    def _prepare_options(self) -> None:
        from engines.data import DataError

        choice = self.choice
        if choice is None or self._closed:
            self._maybe_idle()
            return
        try:
            spec = spec_with_options(choice.spec, self.panel.options())
        except DataError as exc:
            choice.problem = str(exc)
            choice.prepared = None
            self.panel.show_status(str(exc), error=True)
            self._refresh_apply()
            self._maybe_idle()
            return
        old = choice.spec
        if spec.source == "image_folder" and (
            tuple(spec.image_size) != tuple(old.image_size) or spec.image_mode != old.image_mode
        ):
            # the embedded images are made at the chosen size and colours: read the folder again
            self._submit("read", read_choice, spec, None)
        else:
            self._submit("prepare", prepare_choice, choice, spec)

    # ------------------------------------------------------------------ jobs
    def _submit(self, kind: str, fn: Callable[..., DataChoice], *args: Any) -> None:
        if self._closed:
            return
        self._serial += 1
        serial = self._serial
        if kind == "document":
            self._document_serial = serial
        self._in_flight += 1
        self.panel.set_busy(True)
        if kind != "prepare":
            self.panel.show_status("Reading…")
        self._pool.start(lambda: self._run(serial, kind, fn, args))

    def _run(self, serial: int, kind: str, fn: Callable[..., DataChoice], args: tuple) -> None:
        # worker thread: no widgets here, only the result goes back by a queued signal
        from engines.data import DataError

        try:
            outcome: tuple[str, Any] = ("ok", fn(*args))
        except DataError as exc:
            outcome = ("error", (str(exc), ""))
        except Exception as exc:  # pandas, pyarrow or Pillow may raise anything on odd files
            message = f"The data could not be read ({type(exc).__name__}: {exc})."
            outcome = ("error", (message, traceback.format_exc()))
        try:
            self._job_done.emit(serial, kind, outcome)
        except RuntimeError:
            pass  # the controller was deleted while the job ran; nobody waits for it

    def _on_job_done(self, serial: int, kind: str, outcome: tuple[str, Any]) -> None:
        self._in_flight -= 1
        status, value = outcome
        if self._closed:
            return
        if kind == "document" and serial == self._document_serial and status == "ok":
            # what the project holds, even when the user has picked something else since
            self.applied = value
            self._show_applied()
        if serial != self._serial:
            self._maybe_idle()  # a newer request is under way: this result is stale
            return
        self.panel.set_busy(self._in_flight > 0)
        if status == "error":
            message, _details = value
            if kind == "document":
                message = f"The project's data could not be read: {message}"
            if kind == "prepare" and self.choice is not None:
                self.choice.problem, self.choice.prepared = message, None
            self._fail(message)
        else:
            self._show(value, from_document=kind == "document", rebuild=kind != "prepare")
        self._maybe_idle()

    def _maybe_idle(self) -> None:
        if not self.busy:
            self.panel.set_busy(False)
            self.idle.emit()

    # ------------------------------------------------------------------ showing
    def _show(self, choice: DataChoice, from_document: bool, rebuild: bool) -> None:
        self.choice = choice
        if from_document:
            self.applied = choice
        if rebuild:
            self.panel.show_choice(choice.panel_choice())
        else:
            self.panel.set_roles({c["name"]: c["role"] for c in choice.columns})
        self.panel.show_summary(choice.summary)
        if choice.problem:
            self.panel.show_status(choice.problem, error=True)
        else:
            self.panel.show_status(choice.status())
        self._show_applied()
        self._refresh_apply()
        self.choice_shown.emit(choice)

    def _fail(self, message: str) -> None:
        # the shown choice (and the project's data) stay as they were; put the list back too
        self.panel.show_status(message, error=True)
        if self.choice is not None:
            spec = self.choice.spec
            self.panel.show_builtin(spec.name if spec.source == "builtin" else None)
        self._refresh_apply()
        self.choice_failed.emit(message)

    def _refresh_apply(self) -> None:
        choice, doc = self.choice, self.doc
        differs = (
            doc is not None
            and choice is not None
            and choice.usable
            and (
                choice.prepared.fingerprint != doc.project.data_fingerprint
                or choice.spec.to_dict() != doc.project.data
            )
        )
        self.panel.set_apply_enabled(bool(differs))

    def _show_applied(self) -> None:
        doc, applied = self.doc, self.applied
        if doc is None:
            self.panel.show_applied("")
            return
        fp = doc.project.data_fingerprint
        if applied is None or applied.prepared is None:
            self.panel.show_applied(f"Project data fingerprint: {fp[:12] or '—'}")
            return
        data = applied.prepared
        columns = sum(1 for c in applied.columns if c.get("role") == "feature") or None
        counts = f"{data.n_rows:,} rows"
        if columns is not None:
            counts += f" · {columns} feature column{'s' if columns != 1 else ''}"
        counts += f" → {int(np.prod(data.input_shape)):,} model inputs"
        self.panel.show_applied(
            f"Project data: {applied.title}\n{counts}\nFingerprint {fp[:16]}…", f"sha256 {fp}"
        )

    def applied_rows(self) -> int | None:
        """Rows of the project's data as last read, or None before it has been read."""
        if self.applied is None or self.applied.prepared is None:
            return None
        return int(self.applied.prepared.n_rows)

    def applied_task(self) -> str | None:
        """'classification' or 'regression' for the project's data, or None before it is read."""
        if self.applied is None or self.applied.prepared is None:
            return None
        return str(self.applied.prepared.task)


# ================================================================== training settings
class TrainSettingsController(QObject):
    """Turns edits of the training settings form into undoable document steps."""

    def __init__(
        self, panel: TrainSettings, data: DataController | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.data = data
        self.doc: ProjectDocument | None = None
        panel.settings_changed.connect(self._on_settings_changed)
        panel.reset_requested.connect(self.reset_to_template)

    def set_document(self, doc: ProjectDocument | None) -> None:
        """Show ``doc``'s settings and follow its undo and redo."""
        from engines.training import EPOCH_METRICS

        if self.doc is not None:
            try:
                self.doc.config_changed.disconnect(self.refresh)
            except (RuntimeError, TypeError):
                pass
        self.doc = doc
        self.panel.set_metric_choices({k: list(v) for k, v in EPOCH_METRICS.items()})
        self.panel.set_devices(available_devices())
        if doc is not None:
            doc.config_changed.connect(self.refresh)
            self.refresh()

    def refresh(self) -> None:
        """Show the document's settings (all of them, defaults filled in)."""
        from engines.training import ConfigError, TrainConfig

        if self.doc is None:
            return
        raw = dict(self.doc.project.train_config)
        try:
            values = TrainConfig.from_dict(raw).to_dict()
        except ConfigError as exc:
            self.panel.set_values({**TrainConfig().to_dict(), **raw})
            self.panel.refuse(f"The project's training settings are not usable: {exc}")
            return
        self.panel.set_values(values)

    def _on_settings_changed(self, changes: dict[str, Any]) -> None:
        from engines.training import ConfigError

        if self.doc is None:
            return
        try:
            self.doc.set_train_config(changes)
        except ConfigError as exc:
            self.panel.refuse(str(exc), list(changes))

    def reset_to_template(self) -> None:
        """Set every setting to the template's defaults for this data, as one undo step."""
        from engines.templates import TEMPLATES
        from engines.training import ConfigError
        from workbench.session import default_train_config

        doc = self.doc
        if doc is None:
            return
        template = str(doc.project.ui.get("template", ""))
        info = TEMPLATES.get(template)
        objective = info.objective if info is not None else str(
            doc.project.train_config.get("objective", "classification")
        )
        task = self.data.applied_task() if self.data is not None else None
        if objective == "classification" and task == "regression":
            objective = "regression"
        rows = (self.data.applied_rows() if self.data is not None else None) or 1000
        try:
            doc.set_train_config(default_train_config(template, objective, rows), replace=True)
        except ConfigError as exc:
            self.panel.refuse(str(exc))
