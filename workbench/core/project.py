"""The project document and its ``.wbproj`` file.

A project is a graph, a data spec, a training config, the runs trained from them and the
GUI state, in one zip archive::

    project.json                     format, schema version, everything but tensors
    runs/<id>/history.json           per-step and per-epoch curves (deflated)
    runs/<id>/weights.safetensors    the run's state_dict (stored: already dense floats)
    runs/<id>/analyses/<a>/<k>.npy   arrays of an explanation or fairness audit of the run
    data/<file>                      small datasets embedded so the project travels

Loading never executes code: tensors come only from safetensors, JSON is parsed as JSON,
NumPy headers are inspected with pickles refused, and anything that looks like a pickle
is refused outright. Every refusal is a :class:`ProjectFileError` whose message says what
is wrong, and loading never writes anything. Saving is atomic: a crash mid-save leaves the
previous file as it was.

This module is headless (no Qt); torch and safetensors are imported only when needed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engines.graph import Graph, GraphError
from workbench import __version__
from workbench.core.migrations import SCHEMA_VERSION, MigrationError, migrate

if TYPE_CHECKING:
    import torch

__all__ = [
    "ANALYSIS_KINDS",
    "FORMAT",
    "Analysis",
    "PROJECT_SCHEMA",
    "SCHEMA_VERSION",
    "Project",
    "ProjectFileError",
    "Recovery",
    "Run",
    "autosave",
    "discard_recovery",
    "list_recoveries",
    "load_project",
    "load_project_for_verify",
    "recovery_dir",
    "recovery_path",
    "save_project",
    "weights_digest",
]

FORMAT = "model-workbench-project"
SUFFIX = ".wbproj"
PROJECT_JSON = "project.json"

# Limits on what a file may ask of the loader. They bound memory and time for a hostile
# file; a real project is far below all of them.
MAX_ENTRIES = 10_000
MAX_ENTRY_SIZE = 4 * 1024**3
MAX_TOTAL_SIZE = 16 * 1024**3
MAX_JSON_SIZE = 512 * 1024**2
MAX_RATIO = 200
RATIO_MIN_SIZE = 1024**2

# Extensions that are (or usually wrap) pickles: never read, whatever their bytes.
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".joblib", ".dill")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


class ProjectFileError(Exception):
    """A project file cannot be read or written; the message says why, in one sentence."""


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------ the document
ANALYSIS_KINDS = ("explanation", "fairness", "group_explanation")
_ARRAY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass
class Analysis:
    """Something computed from a run and kept with it: an explanation or a fairness audit.

    ``meta`` is JSON-able (the result's method, parameters, sample ids, numbers that are
    small); ``arrays`` holds the large numeric parts (attribution maps, inputs) as numeric
    NumPy arrays, stored as ``.npy`` entries. ``epoch`` is the epoch it was computed after
    (None: after training).
    """

    id: str
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    epoch: int | None = None
    created: str = field(default_factory=_now)

    @staticmethod
    def new_id() -> str:
        """A fresh analysis id, safe as an archive folder name."""
        return secrets.token_hex(4)


@dataclass
class Run:
    """One training run: its config, outcome, curves and weights.

    ``history`` is JSON-able: ``{"step": {name: [float]}, "epoch": {name: [...],
    "grad_norm": {layer: [...]}, "confusion": [...]}}``. ``weights`` is the model's
    ``state_dict`` on the CPU, or None for a run that has none (yet). Runs compare equal
    without looking at weights; compare those with ``torch.equal``.
    """

    id: str
    name: str
    created: str = field(default_factory=_now)
    config: dict[str, Any] = field(default_factory=dict)
    status: str = "completed"
    message: str = ""
    history: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, torch.Tensor] | None = field(default=None, compare=False, repr=False)
    data_fingerprint: str = ""
    analyses: list[Analysis] = field(default_factory=list)
    # what re-deriving the run's numbers needs: weights_sha256, metrics_split, seed, versions
    provenance: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def new_id() -> str:
        """A fresh run id, safe as an archive folder name."""
        return secrets.token_hex(4)

    def add_analysis(self, analysis: Analysis) -> Analysis:
        """Keep ``analysis`` with this run (its id must be new and archive-safe)."""
        if not _RUN_ID_RE.match(analysis.id):
            raise ValueError(f"Analysis id {analysis.id!r} is not valid: use 1-64 letters, digits, '_' or '-'.")
        if analysis.kind not in ANALYSIS_KINDS:
            raise ValueError(f"Analysis kind {analysis.kind!r} is not one of {', '.join(ANALYSIS_KINDS)}.")
        if any(a.id == analysis.id for a in self.analyses):
            raise ValueError(f"An analysis with id {analysis.id!r} already exists in run {self.id!r}.")
        self.analyses.append(analysis)
        return analysis


@dataclass
class Project:
    """The document the workbench edits: graph, data, training config, runs and GUI state.

    ``data`` is a ``DataSpec.to_dict()`` and ``ui`` is opaque GUI state; both are stored as
    they are. ``embedded`` maps archive names under ``data/`` to file bytes.
    """

    name: str
    graph: Graph
    data: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str = ""
    train_config: dict[str, Any] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    active_run: str | None = None
    embedded: dict[str, bytes] = field(default_factory=dict)
    ui: dict[str, Any] = field(default_factory=dict)
    app_version: str = __version__
    created: str = field(default_factory=_now)
    modified: str = ""

    @classmethod
    def new(
        cls,
        name: str,
        graph: Graph,
        data: dict[str, Any] | None = None,
        *,
        data_fingerprint: str = "",
        train_config: dict[str, Any] | None = None,
        embedded: Mapping[str, bytes] | None = None,
        ui: dict[str, Any] | None = None,
    ) -> Project:
        """A fresh project with no runs."""
        now = _now()
        return cls(
            name=name,
            graph=graph,
            data=dict(data or {}),
            data_fingerprint=data_fingerprint,
            train_config=dict(train_config or {}),
            embedded=dict(embedded or {}),
            ui=dict(ui or {}),
            created=now,
            modified=now,
        )

    def run(self, run_id: str) -> Run:
        """The run with this id; KeyError if there is none."""
        for r in self.runs:
            if r.id == run_id:
                return r
        raise KeyError(f"There is no run {run_id!r} in this project.")

    def active(self) -> Run | None:
        """The active run, or None."""
        if self.active_run is None:
            return None
        try:
            return self.run(self.active_run)
        except KeyError:
            return None

    def add_run(self, run: Run, *, index: int | None = None) -> Run:
        """Add ``run`` (at ``index``, default last). Its id must be new and archive-safe."""
        if not _RUN_ID_RE.match(run.id):
            raise ValueError(
                f"Run id {run.id!r} is not valid: use 1-64 letters, digits, '_' or '-'."
            )
        if any(r.id == run.id for r in self.runs):
            raise ValueError(f"A run with id {run.id!r} already exists.")
        self.runs.insert(len(self.runs) if index is None else index, run)
        return run

    def remove_run(self, run_id: str) -> tuple[Run, int]:
        """Remove a run; return it and its index so the edit can be undone.

        If it was active, the last remaining run (or none) becomes active.
        """
        run = self.run(run_id)
        index = self.runs.index(run)
        del self.runs[index]
        if self.active_run == run_id:
            self.active_run = self.runs[-1].id if self.runs else None
        return run, index

    def rename_run(self, run_id: str, name: str) -> str:
        """Rename a run and return its previous name."""
        run = self.run(run_id)
        old, run.name = run.name, name
        return old


# --------------------------------------------------------------------------- JSON schema
def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
    }


_STR = {"type": "string"}
_OBJ = {"type": "object"}
_ENTRY = {"type": "string", "minLength": 1, "maxLength": 1024}

RUN_SCHEMA = _obj(
    {
        "id": {"type": "string", "pattern": _RUN_ID_RE.pattern},
        "name": _STR,
        "created": _STR,
        "config": _OBJ,
        "status": _STR,
        "message": _STR,
        "metrics": _OBJ,
        "data_fingerprint": _STR,
        "provenance": _OBJ,
        "history_file": _ENTRY,
        "weights_file": {"anyOf": [_ENTRY, {"type": "null"}]},
        "analyses": {
            "type": "array",
            "items": _obj(
                {
                    "id": {"type": "string", "pattern": _RUN_ID_RE.pattern},
                    "kind": {"enum": list(ANALYSIS_KINDS)},
                    "created": _STR,
                    "epoch": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]},
                    "meta": _OBJ,
                    "arrays": {
                        "type": "object",
                        "propertyNames": {"pattern": _ARRAY_NAME_RE.pattern},
                        "additionalProperties": _ENTRY,
                    },
                }
            ),
        },
    }
)

#: JSON Schema of ``project.json`` at :data:`SCHEMA_VERSION`.
PROJECT_SCHEMA: dict[str, Any] = _obj(
    {
        "format": {"const": FORMAT},
        "schema_version": {"type": "integer"},
        "app_version": _STR,
        "name": _STR,
        "created": _STR,
        "modified": _STR,
        "graph": _obj({"nodes": {"type": "array"}, "edges": {"type": "array"}}),
        "data": _OBJ,
        "data_fingerprint": _STR,
        "train_config": _OBJ,
        "runs": {"type": "array", "items": RUN_SCHEMA},
        "active_run": {"type": ["string", "null"]},
        "ui": _OBJ,
        "embedded": {
            "type": "array",
            "items": _obj(
                {
                    "name": _ENTRY,
                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "size": {"type": "integer", "minimum": 0},
                }
            ),
        },
    }
)

HISTORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"step": _OBJ, "epoch": _OBJ},
}

_TYPE_WORDS = {
    "string": "a string",
    "object": "an object",
    "array": "a list",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
_PATTERN_WORDS = {
    _RUN_ID_RE.pattern: "1-64 letters, digits, '_' or '-'",
    "^[0-9a-f]{64}$": "64 lowercase hex digits",
}


def _json_path(parts: Iterator[Any] | Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _schema_problem(doc: Any, schema: dict[str, Any], where: str) -> str | None:
    """The most relevant schema violation of ``doc`` as one readable phrase, or None."""
    import jsonschema
    from jsonschema.exceptions import best_match

    err = best_match(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    if err is None:
        return None
    path = _json_path(err.absolute_path)
    at = f"{where}: {path}" if path else where
    kind, value = err.validator, err.validator_value
    if kind == "required":
        missing = next(k for k in value if k not in err.instance)
        return f"{where}: {_json_path([*err.absolute_path, missing])} is missing"
    if kind == "type":
        types = [value] if isinstance(value, str) else list(value)
        return f"{at} must be {' or '.join(_TYPE_WORDS.get(t, t) for t in types)}"
    if kind == "pattern":
        return f"{at} must be {_PATTERN_WORDS.get(value, f'text matching {value}')}, not {err.instance!r}"
    if kind == "anyOf":
        return f"{at} must be a file name or null"
    return f"{at}: {err.message}"


# ------------------------------------------------------------------------------- saving
def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays slip into metrics and histories; store them as plain JSON.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _dumps(obj: Any, what: str, indent: int | None = None) -> bytes:
    try:
        text = json.dumps(obj, default=_json_default, indent=indent, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ProjectFileError(f"Cannot save: {what} is not JSON-serialisable ({exc}).") from exc
    return text.encode("utf-8")


def _weights_bytes(weights: Mapping[str, torch.Tensor], run_id: str) -> bytes:
    import safetensors.torch

    seen: set[int] = set()
    flat: dict[str, torch.Tensor] = {}
    for key, value in weights.items():
        t = value.detach().cpu().contiguous()
        # safetensors refuses tensors that share storage (tied weights); each gets its own
        # copy, which is what the file would hold anyway.
        ptr = t.untyped_storage().data_ptr() if t.numel() else 0
        if ptr in seen:
            t = t.clone()
            ptr = t.untyped_storage().data_ptr()
        if ptr:
            seen.add(ptr)
        flat[key] = t
    try:
        return safetensors.torch.save(flat, metadata={"format": "pt"})
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ProjectFileError(f"Cannot save the weights of run {run_id!r}: {exc}") from exc


def weights_digest(weights: Mapping[str, torch.Tensor]) -> str:
    """sha256 of a run's weights as the project file stores them (safetensors bytes).

    The bytes are a pure function of the tensors, so the digest recorded when a run is made
    can be checked again after the file has travelled (``workbench verify``).
    """
    return hashlib.sha256(_weights_bytes(weights, "")).hexdigest()


def _compress_type(data: bytes) -> int:
    """Deflate, unless the result would look like a zip bomb to :func:`load_project`.

    Very repetitive data (a constant learning rate over a million steps) can compress
    beyond :data:`MAX_RATIO`; it is stored as is so our own files always load.
    """
    if len(data) > RATIO_MIN_SIZE:
        packed = len(zlib.compress(data, 6))
        if packed * MAX_RATIO // 2 < len(data):
            return zipfile.ZIP_STORED
    return zipfile.ZIP_DEFLATED


def _check_entry_name(name: str) -> str | None:
    """Why ``name`` is not an acceptable archive entry name, or None."""
    if not name or "\x00" in name:
        return "an empty name or a NUL character"
    if "\\" in name:
        return "a backslash"
    if name.startswith("/") or _DRIVE_RE.match(name):
        return "an absolute path"
    if any(part in ("..", ".") for part in name.split("/")):
        return "a '..' or '.' component"
    return None


def _looks_pickled(head: bytes) -> bool:
    # Pickle protocols 2-5 start with PROTO (0x80) and the protocol number.
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _document(project: Project) -> tuple[dict[str, Any], list[tuple[str, bytes, int]]]:
    """``project.json`` as a dict and the other entries as ``(name, bytes, compression)``."""
    entries: list[tuple[str, bytes, int]] = []
    runs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for run in project.runs:
        if not _RUN_ID_RE.match(run.id) or run.id in seen:
            raise ProjectFileError(
                f"Cannot save: run id {run.id!r} is "
                + (
                    "used twice."
                    if run.id in seen
                    else "not valid (1-64 letters, digits, '_' or '-')."
                )
            )
        seen.add(run.id)
        history_file = f"runs/{run.id}/history.json"
        hist = _dumps(run.history, f"the history of run {run.id!r}")
        entries.append((history_file, hist, _compress_type(hist)))
        weights_file = None
        if run.weights is not None:
            weights_file = f"runs/{run.id}/weights.safetensors"
            # Stored, not deflated: float noise barely compresses and deflate would cost
            # most of the save-time budget for a 10M-parameter model.
            entries.append((weights_file, _weights_bytes(run.weights, run.id), zipfile.ZIP_STORED))
        analyses = [_analysis_entries(run.id, a, entries) for a in run.analyses]
        if len({a["id"] for a in analyses}) != len(analyses):
            raise ProjectFileError(f"Cannot save: run {run.id!r} has two analyses with the same id.")
        runs.append(
            {
                "id": run.id,
                "name": run.name,
                "created": run.created,
                "config": run.config,
                "status": run.status,
                "message": run.message,
                "metrics": run.metrics,
                "data_fingerprint": run.data_fingerprint,
                "provenance": run.provenance,
                "history_file": history_file,
                "weights_file": weights_file,
                "analyses": analyses,
            }
        )
    embedded = []
    for name, blob in project.embedded.items():
        problem = _check_entry_name(name)
        if problem or not name.startswith("data/"):
            raise ProjectFileError(
                f"Cannot save: embedded file name {name!r} must be a relative path under data/"
                + (f" (it has {problem})." if problem else ".")
            )
        blob = bytes(blob)
        if _looks_pickled(blob[:2]) or name.lower().endswith(_PICKLE_SUFFIXES):
            raise ProjectFileError(f"Cannot save: embedded file {name!r} is a pickle.")
        embedded.append(
            {"name": name, "sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}
        )
        entries.append((name, blob, _compress_type(blob)))
    doc = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "app_version": project.app_version,
        "name": project.name,
        "created": project.created,
        "modified": project.modified,
        "graph": project.graph.to_dict(),
        "data": project.data,
        "data_fingerprint": project.data_fingerprint,
        "train_config": project.train_config,
        "runs": runs,
        "active_run": project.active_run,
        "ui": project.ui,
        "embedded": embedded,
    }
    return doc, entries


def _npy_bytes(array: Any, what: str) -> bytes:
    import numpy as np

    a = np.asarray(array)
    if a.dtype.hasobject or a.dtype.kind not in "biuf":
        raise ProjectFileError(f"Cannot save: {what} is not a numeric array (dtype {a.dtype}).")
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def _analysis_entries(
    run_id: str, analysis: Analysis, entries: list[tuple[str, bytes, int]]
) -> dict[str, Any]:
    """The JSON record of ``analysis``; its arrays are appended to ``entries``."""
    where = f"analysis {analysis.id!r} of run {run_id!r}"
    if not _RUN_ID_RE.match(analysis.id) or analysis.kind not in ANALYSIS_KINDS:
        raise ProjectFileError(f"Cannot save: {where} has an invalid id or kind {analysis.kind!r}.")
    files: dict[str, str] = {}
    for name, array in analysis.arrays.items():
        if not _ARRAY_NAME_RE.match(name):
            raise ProjectFileError(f"Cannot save: array name {name!r} of {where} is not valid.")
        entry = f"runs/{run_id}/analyses/{analysis.id}/{name}.npy"
        blob = _npy_bytes(array, f"array {name!r} of {where}")
        entries.append((entry, blob, _compress_type(blob)))
        files[name] = entry
    return {
        "id": analysis.id,
        "kind": analysis.kind,
        "created": analysis.created,
        "epoch": analysis.epoch,
        "meta": json.loads(_dumps(analysis.meta, where)),
        "arrays": files,
    }


def _fsync_dir(folder: Path) -> None:
    # Make the rename itself durable; not possible (nor needed) on Windows.
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, write: Any) -> None:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, then swap it in.

    A crash at any point leaves ``path`` as it was (and at worst a stray ``.*.tmp``).
    """
    target = Path(os.path.realpath(path))  # replace a symlink's target, not the link
    folder = target.parent
    tmp = folder / f".{target.name}.{secrets.token_hex(4)}.tmp"
    # os.open with 0o666 lets the umask decide permissions, as for any new file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def _write_project(project: Project, path: Path) -> None:
    doc, entries = _document(project)
    problem = _schema_problem(doc, PROJECT_SCHEMA, PROJECT_JSON)
    if problem:
        raise ProjectFileError(f"Cannot save: {problem}.")
    meta = _dumps(doc, PROJECT_JSON, indent=1)

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", allowZip64=True) as zf:
            zf.writestr(PROJECT_JSON, meta, compress_type=zipfile.ZIP_DEFLATED)
            for name, blob, compression in entries:
                zf.writestr(name, blob, compress_type=compression)

    try:
        _atomic_write(path, write)
    except OSError as exc:
        raise ProjectFileError(f"Cannot save {path}: {exc.strerror or exc}.") from exc


def save_project(project: Project, path: str | os.PathLike[str]) -> None:
    """Write ``project`` to ``path`` atomically.

    Sets ``project.modified`` and ``project.app_version``. The file at ``path`` is replaced
    only once the new one is complete and on disk.

    Raises
    ------
    ProjectFileError
        When the project cannot be serialised or the file cannot be written.
    """
    project.modified = _now()
    project.app_version = __version__
    _write_project(project, Path(path))


# ------------------------------------------------------------------------------ loading
class _Reader:
    """Checked access to the entries of one archive; every failure is a ProjectFileError."""

    def __init__(self, zf: zipfile.ZipFile, label: str) -> None:
        self.zf = zf
        self.label = label
        self.infos: dict[str, zipfile.ZipInfo] = {}

    def fail(self, reason: str) -> ProjectFileError:
        return ProjectFileError(f"Cannot open {self.label}: {reason}.")

    def damaged(self, name: str, exc: BaseException) -> ProjectFileError:
        return self.fail(f"the archive is damaged: entry {name} cannot be read ({exc})")

    def check_structure(self) -> None:
        infos = self.zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise self.fail(f"it has {len(infos)} entries, more than the {MAX_ENTRIES} allowed")
        total = 0
        for info in infos:
            name = info.filename
            problem = _check_entry_name(name)
            if problem:
                raise self.fail(
                    f"entry {name!r} has {problem}; refusing a path outside the project"
                )
            if name in self.infos:
                raise self.fail(f"entry {name!r} appears twice")
            self.infos[name] = info
            if info.flag_bits & 0x1:
                raise self.fail(f"entry {name} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.fail(f"entry {name} uses an unsupported compression method")
            if name.lower().endswith(_PICKLE_SUFFIXES):
                raise self.fail(f"entry {name} is a pickle file; pickles are never loaded")
            if info.file_size > MAX_ENTRY_SIZE:
                raise self.fail(
                    f"entry {name} is {_size(info.file_size)} uncompressed, "
                    f"over the {_size(MAX_ENTRY_SIZE)} limit"
                )
            if info.file_size > RATIO_MIN_SIZE and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                raise self.fail(
                    f"entry {name} expands {info.file_size // max(info.compress_size, 1)}:1, "
                    "which looks like a zip bomb"
                )
            total += info.file_size
        if total > MAX_TOTAL_SIZE:
            raise self.fail(
                f"its entries total {_size(total)} uncompressed, "
                f"over the {_size(MAX_TOTAL_SIZE)} limit"
            )

    def check_no_pickles(self) -> None:
        for name in self.infos:
            self.check_no_pickles_in(name)

    def check_no_pickles_in(self, name: str) -> None:
        """Refuse ``name`` if it is (or holds) a pickle."""
        if name.endswith("/"):
            return
        # A safetensors file starts with its header length (8 bytes, little-endian), which
        # can begin 0x80 0x02..0x05 like a pickle; it is only ever read by the safetensors
        # parser, which executes nothing and refuses anything that is not safetensors.
        if name.endswith(".safetensors"):
            return
        head = self._open_read(name, 2)
        if _looks_pickled(head):
            raise self.fail(f"entry {name} is a pickle; pickles are never loaded")
        if name.lower().endswith((".npy", ".npz")):
            self._check_numpy(name)

    def _open_read(self, name: str, n: int) -> bytes:
        try:
            with self.zf.open(self.infos[name]) as f:
                return f.read(n)
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            RuntimeError,
            NotImplementedError,
        ) as exc:
            raise self.damaged(name, exc) from exc

    def read(self, name: str, what: str, limit: int = MAX_ENTRY_SIZE) -> bytes:
        info = self.infos.get(name)
        if info is None or name.endswith("/"):
            raise self.fail(f"the archive has no {name} ({what})")
        if info.file_size > limit:
            raise self.fail(f"{name} is {_size(info.file_size)}, over the {_size(limit)} limit")
        # Reading the whole entry is what verifies its CRC.
        data = self._open_read(name, info.file_size + 1)
        if len(data) != info.file_size:
            raise self.fail(f"the archive is damaged: entry {name} has the wrong length")
        return data

    def read_json(self, name: str, what: str) -> Any:
        data = self.read(name, what, MAX_JSON_SIZE)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(f"{name} is not valid UTF-8 (byte {exc.start})") from exc
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.fail(
                f"{name} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from exc
        except RecursionError as exc:
            raise self.fail(f"{name} is nested too deeply") from exc

    def _check_numpy(self, name: str) -> None:
        """Refuse .npy/.npz entries holding object arrays (pickles), reading headers only."""
        data = self.read(name, "a NumPy file")
        try:
            if name.lower().endswith(".npy"):
                members = [io.BytesIO(data)]
            else:
                inner = zipfile.ZipFile(io.BytesIO(data))
                members = [io.BytesIO(inner.open(i).read(1 << 16)) for i in inner.infolist()]
            for fp in members:
                if _npy_has_objects(fp):
                    raise self.fail(f"{name} holds object arrays, which need pickle; refusing it")
        except ProjectFileError:
            raise
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            SyntaxError,
            TypeError,
            RuntimeError,
            NotImplementedError,
        ) as exc:
            raise self.fail(f"{name} is not a valid NumPy file ({exc})") from exc


def _npy_has_objects(fp: io.BytesIO) -> bool:
    import numpy as np

    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        _, _, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version == (2, 0):
        _, _, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        # Version 3 only differs by UTF-8 field names; check it through the same parser.
        fp.seek(0)
        raw = bytearray(fp.read())
        raw[6:8] = b"\x02\x00"
        return _npy_has_objects(io.BytesIO(bytes(raw)))
    return bool(dtype.hasobject)


def _load_weights(data: bytes, reader: _Reader, run_id: str) -> dict[str, torch.Tensor]:
    import safetensors
    import safetensors.torch

    try:
        return safetensors.torch.load(data)
    except (
        safetensors.SafetensorError,
        ValueError,
        TypeError,
        RuntimeError,
        OverflowError,
        KeyError,
    ) as exc:
        if _looks_pickled(data[:2]) and data[2:3] in (b"}", b"]", b"c", b"\x95", b"(", b"q"):
            # Not valid safetensors and shaped like a pickle: say so, it matters to a reviewer.
            raise reader.fail(
                f"the weights of run {run_id!r} are a pickle; pickles are never loaded"
            ) from exc
        raise reader.fail(
            f"the weights of run {run_id!r} are not a valid safetensors file ({exc})"
        ) from exc


def _parse_doc(reader: _Reader) -> dict[str, Any]:
    doc = reader.read_json(PROJECT_JSON, "project.json")
    if not isinstance(doc, dict):
        raise reader.fail("project.json must be a JSON object")
    if doc.get("format") != FORMAT:
        raise reader.fail(
            f"it is not a Model Workbench project (project.json format is {doc.get('format')!r}, "
            f"expected {FORMAT!r})"
        )
    version = doc.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise reader.fail(f"project.json: schema_version must be a whole number, not {version!r}")
    if version > SCHEMA_VERSION:
        raise reader.fail(
            f"it was written by a newer Model Workbench (schema {version}, app "
            f"{doc.get('app_version', '?')}); this version reads up to schema {SCHEMA_VERSION}"
        )
    if version < SCHEMA_VERSION:
        try:
            doc = migrate(doc)
        except (MigrationError, RecursionError) as exc:
            raise reader.fail(f"cannot upgrade it from schema {version}: {exc}") from exc
    problem = _schema_problem(doc, PROJECT_SCHEMA, PROJECT_JSON)
    if problem:
        raise reader.fail(problem)
    return doc


def _read_analyses(
    reader: _Reader,
    records: list[dict[str, Any]],
    i: int,
    rid: str,
    damaged: list[tuple[str, str, str]] | None = None,
) -> list[Analysis]:
    import numpy as np

    out: list[Analysis] = []
    for j, rec in enumerate(records):
        where = f"project.json: runs[{i}].analyses[{j}]"
        if any(a.id == rec["id"] for a in out):
            raise reader.fail(f"{where}.id {rec['id']!r} is used twice in run {rid!r}")
        arrays: dict[str, Any] = {}
        for name, entry in rec["arrays"].items():
            problem = _check_entry_name(entry)
            if problem or not entry.endswith(".npy"):
                raise reader.fail(f"{where}.arrays.{name} must name a .npy entry" + (f" ({problem})" if problem else ""))
            try:
                blob = reader.read(entry, f"an array of analysis {rec['id']!r}")
                try:
                    arrays[name] = np.load(io.BytesIO(blob), allow_pickle=False)
                except (ValueError, OSError, EOFError) as exc:
                    raise reader.fail(f"{entry} is not a valid NumPy array ({exc})") from exc
            except ProjectFileError as exc:
                if damaged is None:
                    raise
                damaged.append(("analysis", f"{rid}/{rec['id']}", str(exc)))
        out.append(
            Analysis(
                id=rec["id"],
                kind=rec["kind"],
                meta=rec["meta"],
                arrays=arrays,
                epoch=rec["epoch"],
                created=rec["created"],
            )
        )
    return out


def _read_project(reader: _Reader, damaged: list[tuple[str, str, str]] | None = None) -> Project:
    """The project in ``reader``; with ``damaged``, parts that fail their checks are noted there.

    Normally any failure refuses the whole file. ``workbench verify`` passes a list instead:
    a run's weights, an analysis's arrays or an embedded data file that cannot be read, or
    whose bytes do not match their record, is appended as ``(kind, name, reason)`` and left
    out (weights None, arrays empty, data bytes kept), so verify can name each one.
    """

    def lenient(kind: str, name: str, read: Any, fallback: Any) -> Any:
        if damaged is None:
            return read()
        try:
            return read()
        except ProjectFileError as exc:
            damaged.append((kind, name, str(exc)))
            return fallback

    reader.check_structure()
    if PROJECT_JSON not in reader.infos:
        raise reader.fail("it has no project.json, so it is not a Model Workbench project")
    if damaged is None:
        reader.check_no_pickles()
    else:
        for name in list(reader.infos):  # a damaged entry is noted, a pickle still refused
            try:
                reader.check_no_pickles_in(name)
            except ProjectFileError as exc:
                if "pickle" in str(exc) or "object arrays" in str(exc):
                    raise
                damaged.append(("entry", name, str(exc)))
    doc = _parse_doc(reader)
    try:
        graph = Graph.from_dict(doc["graph"])
    except GraphError as exc:
        raise reader.fail(f"project.json: graph: {exc}") from exc
    except RecursionError as exc:
        raise reader.fail("project.json: graph is nested too deeply") from exc

    runs: list[Run] = []
    for i, meta in enumerate(doc["runs"]):
        rid = meta["id"]
        if any(r.id == rid for r in runs):
            raise reader.fail(f"project.json: runs[{i}].id {rid!r} is used by two runs")
        for key in ("history_file", "weights_file"):
            entry = meta[key]
            problem = entry is not None and _check_entry_name(entry)
            if problem:
                raise reader.fail(f"project.json: runs[{i}].{key} has {problem}")
        history = reader.read_json(meta["history_file"], f"the history of run {rid!r}")
        problem = _schema_problem(history, HISTORY_SCHEMA, meta["history_file"])
        if problem:
            raise reader.fail(problem)
        weights = None
        if meta["weights_file"] is not None:
            wfile = meta["weights_file"]
            weights = lenient(
                "weights", rid,
                lambda wfile=wfile, rid=rid: _load_weights(reader.read(wfile, f"the weights of run {rid!r}"), reader, rid),
                None,
            )
        analyses = _read_analyses(reader, meta["analyses"], i, rid, damaged)
        runs.append(
            Run(
                id=rid,
                name=meta["name"],
                created=meta["created"],
                config=meta["config"],
                status=meta["status"],
                message=meta["message"],
                history=history,
                metrics=meta["metrics"],
                weights=weights,
                data_fingerprint=meta["data_fingerprint"],
                analyses=analyses,
                provenance=meta["provenance"],
            )
        )
    active = doc["active_run"]
    if active is not None and not any(r.id == active for r in runs):
        raise reader.fail(f"project.json: active_run {active!r} is not one of the runs")

    embedded: dict[str, bytes] = {}
    for i, item in enumerate(doc["embedded"]):
        name = item["name"]
        problem = _check_entry_name(name)
        if problem or not name.startswith("data/"):
            raise reader.fail(
                f"project.json: embedded[{i}].name {name!r} must be a relative path under data/"
            )
        def read_embedded(name: str = name, item: dict[str, Any] = item) -> bytes:
            blob = reader.read(name, "an embedded data file")
            if len(blob) != item["size"] or hashlib.sha256(blob).hexdigest() != item["sha256"]:
                if damaged is not None:
                    damaged.append(("data", name, f"its sha256 {hashlib.sha256(blob).hexdigest()} "
                                    f"does not match the {item['sha256']} recorded in project.json"))
                    return blob
                raise reader.fail(
                    f"embedded file {name} is damaged: its sha256 does not match project.json"
                )
            return blob

        blob = lenient("data", name, read_embedded, None)
        if blob is not None:
            embedded[name] = blob

    return Project(
        name=doc["name"],
        graph=graph,
        data=doc["data"],
        data_fingerprint=doc["data_fingerprint"],
        train_config=doc["train_config"],
        runs=runs,
        active_run=active,
        embedded=embedded,
        ui=doc["ui"],
        app_version=doc["app_version"],
        created=doc["created"],
        modified=doc["modified"],
    )


@contextmanager
def _archive(path: str | os.PathLike[str], what: str = "a Model Workbench project") -> Iterator[tuple[zipfile.ZipFile, str]]:
    """The zip archive at ``path`` and its label for messages; ProjectFileError if it is none."""
    path = Path(path)
    label = repr(path.name)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise ProjectFileError(f"Cannot open {label}: {exc.strerror or exc}.") from exc
    with fh:
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise ProjectFileError(
                f"Cannot open {label}: it is not {what} (not a zip archive, "
                f"or a truncated one: {exc})."
            ) from exc
        with zf:
            yield zf, label


def load_project(path: str | os.PathLike[str]) -> Project:
    """Read a ``.wbproj`` file. Never executes code from it and never writes anything.

    Older schema versions are migrated (see :mod:`workbench.core.migrations`).

    Raises
    ------
    ProjectFileError
        With a one-sentence reason for anything unreadable, unsafe or from a newer version.
    """
    with _archive(path) as (zf, label):
        return _read_project(_Reader(zf, label))


def load_project_for_verify(path: str | os.PathLike[str]) -> tuple[Project, list[tuple[str, str, str]]]:
    """Read a project as :func:`load_project` does, but note damaged parts instead of refusing.

    Returns the project and ``(kind, name, reason)`` for each run's weights (kind
    ``"weights"``, name the run id), analysis (``"analysis"``, ``run/analysis``), embedded data
    file (``"data"``) or other entry (``"entry"``) that is unreadable or does not match its
    record. Pickles, unsafe paths and a broken ``project.json`` are still refused.
    """
    damaged: list[tuple[str, str, str]] = []
    with _archive(path) as (zf, label):
        project = _read_project(_Reader(zf, label), damaged)
    return project, damaged


# ----------------------------------------------------------------------- autosave / recovery
@dataclass(frozen=True)
class Recovery:
    """An autosaved copy: where it is, which file it belongs to (None: never saved), when."""

    path: Path
    original: Path | None
    saved: str
    name: str


def recovery_dir() -> Path:
    """Per-user folder for autosaves: ``$WORKBENCH_RECOVERY_DIR``, else the XDG data dir."""
    env = os.environ.get("WORKBENCH_RECOVERY_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "model-workbench" / "recovery"


def recovery_path(path: str | os.PathLike[str] | None) -> Path:
    """Where the autosave of the project at ``path`` (None: an untitled one) goes.

    Keyed by a hash of the absolute path so two projects with the same file name in
    different folders do not share a recovery file; untitled projects are keyed by process.
    """
    if path is None:
        stem = f"untitled-{os.getpid()}"
    else:
        full = os.path.abspath(os.fspath(path))
        digest = hashlib.sha256(full.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        stem = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', Path(full).stem)[:40]}-{digest}"
    return recovery_dir() / f"{stem}{SUFFIX}"


def _sidecar(recovery: Path) -> Path:
    return recovery.with_suffix(".json")


def autosave(project: Project, path: str | os.PathLike[str] | None) -> Path:
    """Save a recovery copy of ``project`` (whose file is ``path``, None if untitled).

    Does not touch ``project.modified``: the document is not "saved" by this. Returns the
    recovery file.
    """
    target = recovery_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_project(project, target)
    info = {
        "original": None if path is None else os.path.abspath(os.fspath(path)),
        "saved": _now(),
        "name": project.name,
    }
    _atomic_write(_sidecar(target), lambda f: f.write(json.dumps(info).encode("utf-8")))
    return target


def list_recoveries() -> list[Recovery]:
    """Recovery files left by earlier sessions (or this one), newest first."""
    folder = recovery_dir()
    if not folder.is_dir():
        return []
    found = []
    for p in folder.glob(f"*{SUFFIX}"):
        original, saved, name = None, "", p.stem
        try:
            info = json.loads(_sidecar(p).read_text("utf-8"))
            if isinstance(info, dict):
                original = Path(info["original"]) if isinstance(info.get("original"), str) else None
                saved = str(info.get("saved", ""))
                name = str(info.get("name", name))
        except (OSError, ValueError):
            # A missing or broken sidecar still leaves a recoverable project file.
            saved = datetime.fromtimestamp(p.stat().st_mtime, UTC).isoformat(timespec="seconds")
        found.append(Recovery(path=p, original=original, saved=saved, name=name))
    return sorted(found, key=lambda r: r.saved, reverse=True)


def discard_recovery(target: Recovery | str | os.PathLike[str] | None) -> None:
    """Delete a recovery copy: a :class:`Recovery`, or the one for project file ``target``."""
    rec = target.path if isinstance(target, Recovery) else recovery_path(target)
    rec.unlink(missing_ok=True)
    _sidecar(rec).unlink(missing_ok=True)
