"""Turning a data source into model inputs: roles, typed preprocessing, split, fingerprint.

The order matters for honesty: rows are dropped (missing target, ``drop`` policy) first,
then split, then every statistic (fill values, means, stds, categories) is fitted on the
train split only, and finally :func:`apply_preprocessing` — the very function an exported
model's user calls — maps raw rows to ``X``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engines.data.registry import get_builtin
from engines.data.sources import (
    load_image_arrays,
    load_npz,
    npz_frame,
    npz_labels,
    npz_xy,
    parse_csv,
    parse_parquet,
    source_bytes_for,
    str_array,
)
from engines.data.spec import DataError, DataSpec, SplitSpec

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PREP_VERSION", "PreparedData", "apply_preprocessing", "prepare"]

PREP_VERSION = 1
_TARGET_NAMES = ("target", "label", "class", "y")
_MAX_INT_CLASSES = 50  # an integer target with more distinct values is treated as a quantity
_MAX_FLOAT_CLASSES = 10


@dataclass
class PreparedData:
    """A dataset ready for training: inputs, targets, splits and how they were made.

    ``X`` is float32 ``(N, *input_shape)``; ``y`` is int64 class indices (classification) or
    float32 values (regression), shape ``(N,)``. ``row_ids[i]`` is row ``i``'s position in
    the source, and ``splits`` hold positions into ``X``. ``sensitive`` maps each sensitive
    column to its raw values, aligned with ``X``. ``feature_names`` are the encoded input
    columns of a table, or the channel names of images and sequences.
    """

    spec: DataSpec
    task: str
    kind: str
    input_shape: tuple[int, ...]
    n_outputs: int
    class_names: list[str]
    feature_names: list[str]
    X: np.ndarray
    y: np.ndarray
    row_ids: np.ndarray
    splits: dict[str, np.ndarray]
    fingerprint: str
    preprocessing: dict[str, Any]
    sensitive: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return int(len(self.X))

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X, y, row_ids)`` of the ``train``, ``val`` or ``test`` split."""
        if name not in self.splits:
            raise DataError(f"There is no split {name!r}; use train, val or test.")
        idx = self.splits[name]
        return self.X[idx], self.y[idx], self.row_ids[idx]


# ---------------------------------------------------------------- entry point
def prepare(spec: DataSpec, source_bytes: bytes | None = None) -> PreparedData:
    """Load and prepare a dataset.

    Parameters
    ----------
    spec : DataSpec
        The source and how to prepare it.
    source_bytes : bytes, optional
        The source's bytes as returned by :func:`read_source` (e.g. embedded in a project);
        when None the file is read (or the built-in generated).

    Raises
    ------
    DataError
        With one specific sentence, for any problem with the spec or the data.
    """
    if not isinstance(spec, DataSpec):
        raise DataError(f"prepare() needs a DataSpec, not {type(spec).__name__}.")
    spec.validate()
    data = source_bytes_for(spec, source_bytes)
    fingerprint = _fingerprint(data, spec)
    src = spec.source
    if src == "builtin":
        b = get_builtin(spec.name or "")
        frame = parse_csv(data, f"Built-in dataset {spec.name!r}")
        if b.info.kind == "table":
            return _prepare_table(frame, spec, fingerprint)
        target = spec.target or b.info.target
        if target not in frame.columns:
            raise DataError(
                f"Target column {target!r} is missing from built-in dataset {spec.name!r}."
            )
        cols = [c for c in frame.columns if c != target]
        x = _numeric_block(frame, cols)
        x = x.reshape((len(frame), *b.input_shape))
        return _prepare_arrays(
            x,
            frame[target].to_numpy(),
            b.info.kind,
            spec,
            fingerprint,
            scale=b.scale,
            columns=cols,
            target_name=target,
        )
    label = f"{'NumPy' if src == 'npz' else src.capitalize()} file '{_short(spec.path)}'"
    if src == "csv":
        return _prepare_table(parse_csv(data, label), spec, fingerprint)
    if src == "parquet":
        return _prepare_table(parse_parquet(data, label), spec, fingerprint)
    if src == "npz":
        arrays = load_npz(data, label)
        x, y = npz_xy(arrays, label)
        if x.ndim == 2:
            return _prepare_table(npz_frame(arrays, label), spec, fingerprint)
        kind = "sequence" if x.ndim == 3 else "image"
        if x.ndim == 3 and _looks_like_images(arrays):
            kind = "image"
        if kind == "image" and x.ndim == 3:
            x = x[:, None]
        channels = None
        if kind == "sequence":
            channels = str_array(arrays, "feature_names", x.shape[2], label)
        scale = 1.0 / 255.0 if x.dtype == np.uint8 else 1.0
        return _prepare_arrays(
            x,
            npz_labels(arrays, y, label),
            kind,
            spec,
            fingerprint,
            scale=scale,
            channel_names=channels,
        )
    # image folder: the bytes are the embedded .npz written by read_source
    images, labels, names = load_image_arrays(data, f"Image folder '{_short(spec.path)}'")
    want_c = 1 if spec.image_mode == "grayscale" else 3
    if images.shape[1:] != (want_c, *spec.image_size):
        raise DataError(
            f"The embedded images are {images.shape[1]}x{images.shape[2]}x{images.shape[3]} but the spec asks "
            f"for {want_c}x{spec.image_size[0]}x{spec.image_size[1]}; re-import the image folder."
        )
    y_raw = np.asarray(names, dtype=np.str_)[labels]
    return _prepare_arrays(
        images,
        y_raw,
        "image",
        spec,
        fingerprint,
        scale=1.0 / 255.0,
        class_order=names,
        target_name="class",
    )


def _looks_like_images(arrays: dict[str, np.ndarray]) -> bool:
    # A 3-d X is a sequence unless the file says it holds images.
    kind = arrays.get("kind")
    return (
        kind is not None
        and kind.dtype.kind == "U"
        and kind.size == 1
        and str(kind.reshape(-1)[0]) == "image"
    )


def _short(path: str | None) -> str:
    from pathlib import Path

    return Path(path or "").name or "data"


def _fingerprint(data: bytes, spec: DataSpec) -> str:
    h = hashlib.sha256(b"model-workbench data fingerprint\n")
    h.update(hashlib.sha256(data).digest())
    h.update(_canonical_json({"prep_version": PREP_VERSION, "spec": spec.fingerprint_dict()}))
    return h.hexdigest()


def _canonical_json(obj: Any) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode()


# ---------------------------------------------------------------- values
def _is_missing(v: Any) -> bool:
    import pandas as pd

    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float | np.floating) and math.isnan(v)


def _key(v: Any) -> str:
    """The category key of a raw value: equal for 3, 3.0 and "3" read back from a CSV."""
    if isinstance(v, bool | np.bool_):
        return "True" if v else "False"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        f = float(v)
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        return repr(f)
    return str(v)


def _keys(values: Any) -> list[str | None]:
    return [None if _is_missing(v) else _key(v) for v in list(values)]


def _numeric(series: pd.Series, col: str) -> np.ndarray:
    """float64 values of a column (NaN where missing); DataError if any value is not a number."""
    import pandas as pd

    try:
        if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
            vals = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            coerced = pd.to_numeric(series, errors="coerce")
            bad = coerced.isna().to_numpy() & ~series.isna().to_numpy()
            if bad.any():
                example = series[bad].iloc[0]
                raise DataError(
                    f"Column {col!r} is numeric but has non-numeric values such as {str(example)[:40]!r}."
                )
            vals = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    except DataError:
        raise
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"Column {col!r} is numeric but has values that are not numbers.") from None
    if np.isinf(vals).any():
        raise DataError(f"Column {col!r} has infinite values.")
    return vals


def _to_float32(values: np.ndarray) -> np.ndarray:
    # overflow becomes inf, which callers turn into a DataError naming the column
    with np.errstate(all="ignore"):
        return values.astype(np.float32)


def _numeric_block(frame: pd.DataFrame, cols: list[str]) -> np.ndarray:
    if not cols:
        raise DataError("There are no input columns.")
    return np.stack([_numeric(frame[c], c) for c in cols], axis=1)


def _is_numeric_column(series: pd.Series) -> bool:
    import pandas as pd

    return bool(
        pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)
    )


# ---------------------------------------------------------------- target
def _resolve_target(frame: pd.DataFrame, spec: DataSpec) -> str:
    if spec.target is not None:
        if spec.target not in frame.columns:
            raise DataError(
                f"Target column {spec.target!r} is missing; the data has columns {_col_list(frame)}."
            )
        return spec.target
    named = [c for c, r in spec.roles.items() if r == "target"]
    if named:
        return named[0]
    candidates = [c for c in frame.columns if spec.roles.get(c) in (None, "feature")]
    for c in candidates:
        if c.strip().lower() in _TARGET_NAMES and c not in spec.roles:
            return c
    free = [c for c in frame.columns if c not in spec.roles]
    if not free:
        raise DataError("No column is left to be the target; give one the role 'target'.")
    return free[-1]


def _col_list(frame: pd.DataFrame) -> str:
    cols = [repr(c) for c in frame.columns[:8]]
    return ", ".join(cols) + (", ..." if frame.shape[1] > 8 else "")


def _infer_task(series: pd.Series) -> str:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return "classification"
    n_unique = int(series.nunique(dropna=True))
    if pd.api.types.is_integer_dtype(dtype):
        return "classification" if n_unique <= _MAX_INT_CLASSES else "regression"
    return "classification" if n_unique <= _MAX_FLOAT_CLASSES else "regression"


def _encode_classes(
    values: np.ndarray, col: str, class_order: list[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    # missing targets were dropped before this point, so every key is a string
    keys = [k or "" for k in _keys(values)]
    present = set(keys)
    if class_order is not None:
        classes = [c for c in class_order if c in present]
    else:
        raw: dict[str, Any] = {}
        for k, v in zip(keys, list(values)):
            raw.setdefault(k, v)
        numeric = all(
            isinstance(v, int | float | np.integer | np.floating | bool | np.bool_)
            for v in raw.values()
        )
        # numbers sort by value (2 before 10), text by its characters
        classes = sorted(present, key=lambda k: float(raw[k])) if numeric else sorted(present)
    if len(classes) < 2:
        only = classes[0] if classes else "nothing"
        raise DataError(
            f"Target column {col!r} has only one class ({only!r}); classification needs at least two."
        )
    index = {c: i for i, c in enumerate(classes)}
    return np.asarray([index[k] for k in keys], dtype=np.int64), classes


# ---------------------------------------------------------------- split
def _split(
    n: int, y_cls: np.ndarray | None, classes: list[str], split: SplitSpec
) -> tuple[dict[str, np.ndarray], bool, str | None]:
    """Seeded train/val/test positions; stratified by class when possible."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    reason: str | None = None
    stratify = y_cls is not None and split.stratify
    if y_cls is not None and not split.stratify:
        reason = "stratification was turned off in the spec"
    if stratify:
        assert y_cls is not None
        counts = np.bincount(y_cls, minlength=len(classes))
        small = int(np.argmin(counts))
        if counts[small] < 2:
            stratify, reason = False, f"class {classes[small]!r} has only {counts[small]} row"

    def attempt(strat: bool) -> dict[str, np.ndarray]:
        def cut(pool: np.ndarray, frac: float) -> tuple[np.ndarray, np.ndarray]:
            if frac == 0:
                return pool, pool[:0]
            labels = y_cls[pool] if strat and y_cls is not None else None
            a, b = train_test_split(pool, test_size=frac, random_state=split.seed, stratify=labels)
            return np.asarray(a), np.asarray(b)

        rest, test = cut(idx, split.test)
        train, val = cut(rest, split.val / (split.train + split.val))
        return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}

    if stratify:
        try:
            return attempt(True), True, None
        except ValueError:
            reason = "a split would hold fewer rows than there are classes"
    try:
        return attempt(False), False, reason
    except ValueError:
        raise DataError(
            f"Only {n} usable row(s), too few to split {split.train:g}/{split.val:g}/{split.test:g} "
            "into train, validation and test sets."
        ) from None


# ---------------------------------------------------------------- tables
def _prepare_table(frame: pd.DataFrame, spec: DataSpec, fingerprint: str) -> PreparedData:
    for col in [*spec.roles, *spec.columns]:
        if col not in frame.columns:
            raise DataError(
                f"Column {col!r} named in the data spec is not in the data; it has {_col_list(frame)}."
            )
    target = _resolve_target(frame, spec)
    roles = {c: spec.roles.get(c, "feature") for c in frame.columns}
    roles[target] = "target"
    sensitive = [c for c in frame.columns if roles[c] == "sensitive"]
    features = [
        c
        for c in frame.columns
        if roles[c] == "feature" or (spec.sensitive_as_features and roles[c] == "sensitive")
    ]
    if not features:
        if frame.shape[1] == 1:
            raise DataError(
                f"The data has only one column ({target!r}); if it uses ';' or tabs as separators, save it with commas."
            )
        raise DataError(
            "There are no feature columns: every column other than the target is sensitive or ignored."
        )
    for c in [target, *features, *sensitive]:
        if frame[c].isna().all():
            raise DataError(f"Column {c!r} has no values (all missing).")

    # Column types and missing policies, resolved before any row is dropped.
    plans: dict[str, dict[str, Any]] = {}
    for c in features:
        opts = spec.columns.get(c, {})
        ctype = opts.get("type") or ("numeric" if _is_numeric_column(frame[c]) else "categorical")
        values = (
            _numeric(frame[c], c)
            if ctype == "numeric"
            else np.asarray(_keys(frame[c]), dtype=object)
        )
        missing = opts.get("missing") or ("mean" if ctype == "numeric" else "most_frequent")
        if ctype == "categorical" and missing in ("mean", "median"):
            raise DataError(
                f"Column {c!r} is categorical, so its missing values cannot be filled with the {missing}."
            )
        fill = opts.get("fill_value")
        if ctype == "categorical" and fill is not None:
            fill = _key(fill)
        plans[c] = {
            "type": ctype,
            "values": values,
            "missing": missing,
            "fill_value": fill,
            "scale": opts.get("scale", "standardise"),
        }

    # Rows without a target, or with a gap in a 'drop' column, are dropped before splitting.
    keep = ~frame[target].isna().to_numpy()
    for plan in plans.values():
        if plan["missing"] == "drop":
            keep &= ~_missing_mask(plan)
    row_ids = np.flatnonzero(keep).astype(np.int64)
    notes: list[str] = []
    if len(row_ids) < len(frame):
        notes.append(
            f"{len(frame) - len(row_ids)} row(s) with a missing target or a missing 'drop' value were dropped."
        )
    if len(row_ids) == 0:
        raise DataError("No rows are left after dropping rows with missing values.")

    target_series = frame[target].iloc[row_ids]
    task = spec.task or _infer_task(frame[target])
    classes: list[str] = []
    if task == "classification":
        y, classes = _encode_classes(target_series.to_numpy(), target)
    else:
        y = _to_float32(_numeric(target_series, target))
        if not np.isfinite(y).all():
            raise DataError(f"Target column {target!r} has values too large for 32-bit floats.")

    splits, stratified, reason = _split(
        len(row_ids), y if task == "classification" else None, classes, spec.split
    )
    if reason:
        notes.append(f"The split is not stratified: {reason}.")
    train_rows = row_ids[splits["train"]]

    columns: list[dict[str, Any]] = []
    for c, plan in plans.items():
        columns.append(_fit_column(c, plan, train_rows))
    feature_names: list[str] = []
    for entry in columns:
        if entry["type"] == "numeric":
            feature_names.append(entry["name"])
        else:
            feature_names.extend(f"{entry['name']}={cat}" for cat in entry["categories"])
    if not feature_names:
        raise DataError("The features encode to no input columns.")

    preprocessing = {
        "format": "model-workbench-preprocessing",
        "version": PREP_VERSION,
        "kind": "table",
        "input_shape": [len(feature_names)],
        "columns": columns,
        "feature_names": feature_names,
        "target": {"name": target, "task": task, "classes": classes},
        "sensitive": sensitive,
        "ignored": [c for c in frame.columns if roles[c] == "ignore"],
        "split": _split_info(spec.split, splits, stratified, reason),
        "rows": {"source": int(len(frame)), "used": int(len(row_ids))},
    }
    x = apply_preprocessing(preprocessing, frame.iloc[row_ids])
    return PreparedData(
        spec=spec,
        task=task,
        kind="table",
        input_shape=(len(feature_names),),
        n_outputs=len(classes) if task == "classification" else 1,
        class_names=classes,
        feature_names=feature_names,
        X=x,
        y=y,
        row_ids=row_ids,
        splits=splits,
        fingerprint=fingerprint,
        preprocessing=preprocessing,
        sensitive={c: frame[c].to_numpy()[row_ids] for c in sensitive},
        notes=notes,
    )


def _missing_mask(plan: dict[str, Any]) -> np.ndarray:
    values = plan["values"]
    if plan["type"] == "numeric":
        return np.isnan(values)
    return np.asarray([v is None for v in values], dtype=bool)


def _fit_column(name: str, plan: dict[str, Any], train_rows: np.ndarray) -> dict[str, Any]:
    """Fill value and scaling (numeric) or categories (categorical), from the train rows only."""
    policy = plan["missing"]
    values = plan["values"][train_rows]
    out: dict[str, Any] = {"name": name, "type": plan["type"], "missing": policy}
    if plan["type"] == "numeric":
        observed = values[~np.isnan(values)]
        if policy == "constant":
            fill = float(plan["fill_value"])
        elif policy == "drop":
            fill = None
        elif observed.size == 0:
            raise DataError(
                f"Column {name!r} has no values in the training split, so its gaps cannot be filled."
            )
        elif policy == "mean":
            fill = float(np.mean(observed))
        elif policy == "median":
            fill = float(np.median(observed))
        else:
            uniq, counts = np.unique(observed, return_counts=True)
            fill = float(uniq[np.argmax(counts)])  # ties go to the smallest value
        filled = np.where(np.isnan(values), fill if fill is not None else np.nan, values)
        if plan["scale"] == "standardise":
            with np.errstate(all="ignore"):
                mean = float(np.mean(filled))
                std = float(np.std(filled))
            if not (math.isfinite(mean) and math.isfinite(std)):
                raise DataError(f"Column {name!r} has values too large to standardise.")
            # a constant column would divide by zero; leaving it unscaled keeps it finite
            std = std if std > 0 else 1.0
        else:
            mean, std = 0.0, 1.0
        if fill is not None and not math.isfinite(fill):
            raise DataError(f"Column {name!r} has values too large to fill gaps with.")
        out.update({"fill_value": fill, "scale": plan["scale"], "mean": mean, "std": std})
        return out
    observed_keys = [v for v in values if v is not None]
    if policy == "constant":
        fill_key = plan["fill_value"]
    elif policy == "drop":
        fill_key = None
    elif not observed_keys:
        raise DataError(
            f"Column {name!r} has no values in the training split, so its gaps cannot be filled."
        )
    else:
        uniq, counts = np.unique(np.asarray(observed_keys, dtype=object), return_counts=True)
        fill_key = str(uniq[np.argmax(counts)])
    cats = set(observed_keys)
    if fill_key is not None and len(observed_keys) < len(values):
        cats.add(fill_key)
    out.update({"fill_value": fill_key, "categories": sorted(cats)})
    return out


def _split_info(
    split: SplitSpec, splits: dict[str, np.ndarray], stratified: bool, reason: str | None
) -> dict[str, Any]:
    info: dict[str, Any] = split.to_dict()
    info.update(
        {
            "stratified": stratified,
            "reason": reason,
            "sizes": {k: int(len(v)) for k, v in splits.items()},
        }
    )
    return info


# ---------------------------------------------------------------- arrays
def _prepare_arrays(
    x_raw: np.ndarray,
    y_raw: np.ndarray,
    kind: str,
    spec: DataSpec,
    fingerprint: str,
    *,
    scale: float = 1.0,
    columns: list[str] | None = None,
    class_order: list[str] | None = None,
    channel_names: list[str] | None = None,
    target_name: str = "y",
) -> PreparedData:
    """Images ``(N, C, H, W)`` and sequences ``(N, T, F)``: no columns, no missing values."""
    import pandas as pd

    x64 = x_raw.astype(np.float64)
    if not np.isfinite(x64).all():
        raise DataError(
            "The inputs contain missing or infinite values, which images and sequences cannot have."
        )
    y_series = pd.Series(y_raw)
    if y_series.isna().any():
        raise DataError("Some rows have no target value.")
    task = spec.task or _infer_task(y_series)
    classes: list[str] = []
    if task == "classification":
        y, classes = _encode_classes(y_raw, target_name, class_order)
    else:
        y = _to_float32(_numeric(y_series, target_name))
        if not np.isfinite(y).all():
            raise DataError("The target has values too large for 32-bit floats.")
    row_ids = np.arange(len(x_raw), dtype=np.int64)
    splits, stratified, reason = _split(
        len(row_ids), y if task == "classification" else None, classes, spec.split
    )
    notes = [f"The split is not stratified: {reason}."] if reason else []
    shape = [int(s) for s in x_raw.shape[1:]]
    prep: dict[str, Any] = {
        "format": "model-workbench-preprocessing",
        "version": PREP_VERSION,
        "kind": kind,
        "input_shape": shape,
        "columns": columns,
        "scale": scale,
        "target": {"name": target_name, "task": task, "classes": classes},
        "split": _split_info(spec.split, splits, stratified, reason),
        "rows": {"source": int(len(x_raw)), "used": int(len(x_raw))},
    }
    if kind == "sequence":
        train = x64[splits["train"]].reshape(-1, shape[-1]) * scale
        mean, std = train.mean(axis=0), train.std(axis=0)
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise DataError("The sequence values are too large to standardise.")
        prep["mean"] = [float(v) for v in mean]
        prep["std"] = [float(v) if v > 0 else 1.0 for v in std]
        names = channel_names or [f"c{i}" for i in range(shape[-1])]
    else:
        names = {1: ["gray"], 3: ["red", "green", "blue"]}.get(
            shape[0], [f"c{i}" for i in range(shape[0])]
        )
    prep["feature_names"] = names
    x = apply_preprocessing(prep, x_raw)
    return PreparedData(
        spec=spec,
        task=task,
        kind=kind,
        input_shape=tuple(shape),
        n_outputs=len(classes) if task == "classification" else 1,
        class_names=classes,
        feature_names=names,
        X=x,
        y=y,
        row_ids=row_ids,
        splits=splits,
        fingerprint=fingerprint,
        preprocessing=prep,
        notes=notes,
    )


# ---------------------------------------------------------------- apply
def apply_preprocessing(preprocessing: dict[str, Any], frame: Any) -> np.ndarray:
    """Map raw rows to model inputs exactly as :func:`prepare` did.

    Parameters
    ----------
    preprocessing : dict
        ``PreparedData.preprocessing`` (possibly after a JSON round trip).
    frame : pandas.DataFrame or numpy.ndarray
        Raw rows with the source's column names. Images and sequences also accept an array
        of raw values shaped ``(N, *input_shape)``.

    Returns
    -------
    numpy.ndarray
        float32 ``(N, *input_shape)``.
    """
    import pandas as pd

    if (
        not isinstance(preprocessing, dict)
        or preprocessing.get("format") != "model-workbench-preprocessing"
    ):
        raise DataError("This is not a model-workbench preprocessing description.")
    if preprocessing.get("version") != PREP_VERSION:
        raise DataError(f"Preprocessing version {preprocessing.get('version')!r} is not supported.")
    kind = preprocessing.get("kind")
    shape = tuple(int(s) for s in preprocessing["input_shape"])
    if kind in ("image", "sequence"):
        if isinstance(frame, pd.DataFrame):
            cols = preprocessing.get("columns")
            if not cols:
                raise DataError(
                    "These inputs were not made from columns; pass an array of raw values."
                )
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise DataError(f"Input column {missing[0]!r} is missing.")
            raw = _numeric_block(frame, cols)
        else:
            raw = np.asarray(frame)
            if raw.dtype.kind not in "biuf":
                raise DataError(f"Inputs must be numbers, not {raw.dtype}.")
            raw = raw.astype(np.float64)
        try:
            raw = raw.reshape((len(raw), *shape))
        except ValueError:
            raise DataError(
                f"Inputs of shape {tuple(np.shape(frame))} do not fit the per-sample shape {shape}."
            ) from None
        out = raw * float(preprocessing["scale"])
        if kind == "sequence":
            out = (out - np.asarray(preprocessing["mean"])) / np.asarray(preprocessing["std"])
        x = _to_float32(out)
        if not np.isfinite(x).all():
            raise DataError("The inputs contain missing, infinite or too large values.")
        return x
    if kind != "table":
        raise DataError(f"Unknown data kind {kind!r} in the preprocessing description.")
    if not isinstance(frame, pd.DataFrame):
        raise DataError("Table inputs must be given as a DataFrame with the source's columns.")
    blocks: list[np.ndarray] = []
    n = len(frame)
    for col in preprocessing["columns"]:
        name = col["name"]
        if name not in frame.columns:
            raise DataError(f"Input column {name!r} is missing.")
        if col["type"] == "numeric":
            values = _numeric(frame[name], name)
            gaps = np.isnan(values)
            if gaps.any():
                if col["fill_value"] is None:
                    raise DataError(
                        f"Column {name!r} has a missing value and its policy is to drop such rows."
                    )
                values = np.where(gaps, col["fill_value"], values)
            with np.errstate(all="ignore"):
                block = ((values - col["mean"]) / col["std"]).astype(np.float32)
            if not np.isfinite(block).all():
                raise DataError(
                    f"Column {name!r} has values too large for 32-bit floats after scaling."
                )
            blocks.append(block[:, None])
        else:
            keys = _keys(frame[name])
            if col["fill_value"] is None and any(k is None for k in keys):
                raise DataError(
                    f"Column {name!r} has a missing value and its policy is to drop such rows."
                )
            index = {c: i for i, c in enumerate(col["categories"])}
            onehot = np.zeros((n, len(index)), dtype=np.float32)
            for r, k in enumerate(keys):
                j = index.get(col["fill_value"] if k is None else k)
                if j is not None:  # unseen categories stay all zeros
                    onehot[r, j] = 1.0
            blocks.append(onehot)
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((n, 0), dtype=np.float32)
