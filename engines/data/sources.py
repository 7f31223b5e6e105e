"""Reading data sources: file bytes, CSV/Parquet tables, NumPy .npz archives, image folders.

Everything that parses user bytes lives here, and every failure becomes a :class:`DataError`
with one specific sentence. Nothing here ever unpickles: ``np.load`` runs with
``allow_pickle=False`` and image folders are embedded as a plain .npz of uint8 arrays.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engines.data.registry import builtin_csv_bytes, get_builtin
from engines.data.spec import DataError, DataSpec

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "IMAGE_EXTENSIONS",
    "load_image_arrays",
    "load_npz",
    "parse_csv",
    "parse_parquet",
    "read_frame",
    "read_source",
]

IMAGE_EXTENSIONS = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
)


def read_source(spec: DataSpec) -> bytes | None:
    """Raw bytes of a file-based source, for embedding in a project; None for built-ins.

    An image folder is returned as a deterministic .npz (``images`` uint8 ``(N, C, H, W)``,
    ``labels`` int64, ``class_names`` and ``files`` as unicode arrays) of the images loaded
    at the spec's size and mode, so the project reopens without the folder.
    """
    spec.validate()
    if spec.source == "builtin":
        get_builtin(spec.name or "")  # an unknown name is an error here too
        return None
    assert spec.path is not None  # validate() guarantees it
    if spec.source == "image_folder":
        return image_folder_npz(Path(spec.path), spec.image_size, spec.image_mode)
    return _file_bytes(Path(spec.path))


def _file_bytes(path: Path) -> bytes:
    if not path.exists():
        raise DataError(f"File '{path}' was not found.")
    if path.is_dir():
        raise DataError(f"'{path}' is a folder, not a file.")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"File '{path}' could not be read: {exc.strerror or exc}.") from None


def source_bytes_for(spec: DataSpec, source_bytes: bytes | None) -> bytes:
    """The bytes ``prepare`` works from: given bytes, a built-in's CSV, or the file's bytes."""
    if source_bytes is not None:
        if not isinstance(source_bytes, bytes | bytearray | memoryview):
            raise DataError(f"Source bytes must be bytes, not {type(source_bytes).__name__}.")
        return bytes(source_bytes)
    if spec.source == "builtin":
        return builtin_csv_bytes(get_builtin(spec.name or "").info.id)
    data = read_source(spec)
    assert data is not None
    return data


# ------------------------------------------------------------------ tables
def parse_csv(data: bytes, label: str = "The CSV file") -> pd.DataFrame:
    """Parse CSV bytes (UTF-8, comma-separated, header row) into a frame."""
    import pandas as pd

    if not data.strip():
        raise DataError(f"{label} is empty.")
    if b"\x00" in data:
        raise DataError(f"{label} contains NUL bytes, so it is a binary file, not a CSV.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{label} is not UTF-8 text (undecodable byte at position {exc.start}); save it as UTF-8 CSV."
        ) from None
    try:
        frame = pd.read_csv(io.StringIO(text), low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{label} is empty.") from None
    except pd.errors.ParserError as exc:
        reason = (
            str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else "malformed rows"
        )
        raise DataError(f"{label} could not be parsed as CSV ({reason}).") from None
    except Exception as exc:  # pandas' parser raises assorted types on odd text; all mean "bad CSV"
        raise DataError(f"{label} could not be parsed as CSV ({type(exc).__name__}).") from None
    return _check_frame(frame, label)


def parse_parquet(data: bytes, label: str = "The Parquet file") -> pd.DataFrame:
    """Parse Parquet bytes into a frame."""
    import pandas as pd

    if not data:
        raise DataError(f"{label} is empty.")
    if data[:4] != b"PAR1":
        raise DataError(f"{label} is not a Parquet file (it does not start with 'PAR1').")
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises many types for corrupt files; all mean "unreadable"
        raise DataError(f"{label} could not be read as Parquet ({type(exc).__name__}).") from None
    return _check_frame(frame, label)


def _check_frame(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    if frame.shape[1] == 0:
        raise DataError(f"{label} has no columns.")
    frame.columns = [str(c) for c in frame.columns]
    dupes = frame.columns[frame.columns.duplicated()]
    if len(dupes):
        raise DataError(f"{label} has two columns named {dupes[0]!r}; column names must be unique.")
    if len(frame) == 0:
        raise DataError(f"{label} has a header but no data rows.")
    return frame.reset_index(drop=True)


def read_frame(spec: DataSpec, source_bytes: bytes | None = None) -> pd.DataFrame:
    """The raw table of a table-like source (CSV, Parquet, a 2-d .npz, any built-in).

    Column roles and preprocessing are not applied; a GUI role editor shows this frame.
    """
    spec.validate()
    data = source_bytes_for(spec, source_bytes)
    if spec.source == "builtin":
        return parse_csv(data, f"Built-in dataset {spec.name!r}")
    if spec.source == "csv":
        return parse_csv(data, f"CSV file '{_name(spec)}'")
    if spec.source == "parquet":
        return parse_parquet(data, f"Parquet file '{_name(spec)}'")
    if spec.source == "npz":
        arrays = load_npz(data, f"NumPy file '{_name(spec)}'")
        return npz_frame(arrays, f"NumPy file '{_name(spec)}'")
    raise DataError("An image folder is not a table; it has no columns to show.")


def _name(spec: DataSpec) -> str:
    return Path(spec.path or "").name or "data"


# ------------------------------------------------------------------- numpy
def load_npz(data: bytes, label: str = "The NumPy file") -> dict[str, np.ndarray]:
    """Load every array of an .npz archive, refusing pickles and object arrays."""
    if not data:
        raise DataError(f"{label} is empty.")
    try:
        obj = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(
                f"{label} holds pickled Python objects, which are refused for safety."
            ) from None
        raise DataError(f"{label} is not a NumPy .npz archive.") from None
    except Exception:  # numpy/zipfile raise assorted types for arbitrary bytes
        raise DataError(f"{label} is not a NumPy .npz archive.") from None
    if not isinstance(obj, np.lib.npyio.NpzFile):
        raise DataError(f"{label} is a single .npy array; save X and y together with numpy.savez.")
    arrays: dict[str, np.ndarray] = {}
    with obj:
        for key in obj.files:
            try:
                arrays[key] = obj[key]
            except ValueError as exc:
                if "Object arrays" in str(exc) or "pickle" in str(exc):
                    raise DataError(
                        f"{label}: array {key!r} is an object array (pickled data), which is refused for safety."
                    ) from None
                raise DataError(f"{label}: array {key!r} could not be read.") from None
            except Exception:
                raise DataError(f"{label}: array {key!r} could not be read.") from None
    return arrays


def npz_xy(arrays: dict[str, np.ndarray], label: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``X`` and ``y`` arrays of an .npz, checked for shape and dtype."""
    for key in ("X", "y"):
        if key not in arrays:
            raise DataError(f"{label} has no array {key!r}; it must hold arrays named X and y.")
    x, y = arrays["X"], arrays["y"]
    if x.dtype.kind not in "biuf":
        raise DataError(f"{label}: X must hold numbers, not {x.dtype}.")
    if x.ndim not in (2, 3, 4):
        raise DataError(
            f"{label}: X has {x.ndim} dimension(s); use (N, F) tables, (N, T, F) sequences, "
            "(N, H, W) or (N, C, H, W) images."
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{label}: y must be one label or value per row, but has shape {y.shape}.")
    if y.dtype.kind not in "biufU":
        raise DataError(f"{label}: y must hold numbers or text, not {y.dtype}.")
    if len(x) != len(y):
        raise DataError(f"{label}: X has {len(x)} rows but y has {len(y)}.")
    if len(x) == 0:
        raise DataError(f"{label} has no rows.")
    if x.size == 0:
        raise DataError(f"{label}: X has no features.")
    return x, y


def str_array(arrays: dict[str, np.ndarray], key: str, n: int, label: str) -> list[str] | None:
    if key not in arrays:
        return None
    a = arrays[key]
    if a.dtype.kind != "U" or a.ndim != 1 or len(a) != n:
        raise DataError(f"{label}: {key!r} must be a 1-d text array of length {n}.")
    names = [str(v) for v in a]
    if len(set(names)) != len(names):
        raise DataError(f"{label}: {key!r} has repeated names.")
    return names


def npz_frame(arrays: dict[str, np.ndarray], label: str) -> pd.DataFrame:
    """A 2-d .npz as a table: feature columns (``feature_names`` or x0, x1, ...) and ``y``."""
    import pandas as pd

    x, y = npz_xy(arrays, label)
    if x.ndim != 2:
        raise DataError(f"{label}: X has shape {x.shape}, which is not a table.")
    names = str_array(arrays, "feature_names", x.shape[1], label) or [
        f"x{i}" for i in range(x.shape[1])
    ]
    if "y" in names:
        raise DataError(f"{label}: a feature is named 'y', which is reserved for the target.")
    frame = pd.DataFrame(x, columns=names)
    frame["y"] = npz_labels(arrays, y, label)
    return frame


def npz_labels(arrays: dict[str, np.ndarray], y: np.ndarray, label: str) -> np.ndarray:
    """Labels as given, or mapped to ``class_names`` when the .npz has them."""
    if "class_names" not in arrays:
        return y
    names = arrays["class_names"]
    if names.dtype.kind != "U" or names.ndim != 1 or len(names) == 0:
        raise DataError(f"{label}: 'class_names' must be a 1-d text array.")
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= len(names):
        raise DataError(
            f"{label}: with 'class_names', y must hold class indices 0..{len(names) - 1}."
        )
    return names[y]


# ------------------------------------------------------------------ images
def _write_npz(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz with fixed timestamps and no compression, so equal arrays give equal bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, arr in arrays.items():
            assert arr.dtype != object
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def image_folder_npz(folder: Path, size: tuple[int, int], mode: str) -> bytes:
    """Load an image folder (one sub-folder per class) into deterministic .npz bytes."""
    from PIL import Image

    if not folder.exists():
        raise DataError(f"Image folder '{folder}' was not found.")
    if not folder.is_dir():
        raise DataError(f"'{folder}' is a file, not an image folder.")
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(
            f"Image folder '{folder}' has no class sub-folders; put each class's images in its own folder."
        )
    height, width = int(size[0]), int(size[1])
    pil_mode = "L" if mode == "grayscale" else "RGB"
    images: list[np.ndarray] = []
    labels: list[int] = []
    files: list[str] = []
    for k, class_dir in enumerate(class_dirs):
        paths = sorted(
            p
            for p in class_dir.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        if not paths:
            raise DataError(
                f"Class folder '{class_dir.name}' has no images ({', '.join(IMAGE_EXTENSIONS)})."
            )
        for p in paths:
            rel = f"{class_dir.name}/{p.name}"
            try:
                with Image.open(p) as opened:
                    img = opened.convert(pil_mode).resize(
                        (width, height), Image.Resampling.BILINEAR
                    )
                    arr = np.asarray(img, dtype=np.uint8)
            except Exception as exc:  # Pillow raises many types for broken or hostile files
                raise DataError(
                    f"Image '{rel}' could not be read ({type(exc).__name__})."
                ) from None
            images.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
            labels.append(k)
            files.append(rel)
    return _write_npz(
        {
            "images": np.stack(images),
            "labels": np.asarray(labels, dtype=np.int64),
            "class_names": np.asarray([d.name for d in class_dirs], dtype=np.str_),
            "files": np.asarray(files, dtype=np.str_),
        }
    )


def load_image_arrays(data: bytes, label: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images (uint8, N C H W), labels and class names from :func:`image_folder_npz` bytes."""
    arrays = load_npz(data, label)
    for key in ("images", "labels", "class_names"):
        if key not in arrays:
            raise DataError(f"{label} is not an embedded image folder (no {key!r} array).")
    images, labels, names = arrays["images"], arrays["labels"], arrays["class_names"]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise DataError(f"{label}: images must be uint8 with shape (N, 1 or 3, H, W).")
    if labels.ndim != 1 or len(labels) != len(images) or labels.dtype.kind not in "iu":
        raise DataError(f"{label}: labels must be one class index per image.")
    if (
        names.dtype.kind != "U"
        or names.ndim != 1
        or len(labels)
        and (labels.min() < 0 or labels.max() >= len(names))
    ):
        raise DataError(f"{label}: class_names must be text, one per class index.")
    if len(images) == 0:
        raise DataError(f"{label} holds no images.")
    return images, labels, [str(n) for n in names]
