"""What a dataset is and how to prepare it: :class:`DataSpec`, its validation, :class:`DataError`.

This module imports nothing heavy, so listing datasets or validating a project's data spec
does not pull in pandas or scikit-learn.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COLUMN_TYPES",
    "MISSING_POLICIES",
    "ROLES",
    "SCALINGS",
    "SOURCES",
    "TASKS",
    "DataError",
    "DataSpec",
    "SplitSpec",
]

SOURCES = ("builtin", "csv", "parquet", "npz", "image_folder")
ROLES = ("feature", "target", "sensitive", "ignore")
TASKS = ("classification", "regression")
COLUMN_TYPES = ("numeric", "categorical")
SCALINGS = ("standardise", "none")
MISSING_POLICIES = ("drop", "mean", "median", "most_frequent", "constant")
IMAGE_MODES = ("grayscale", "rgb")
_COLUMN_KEYS = ("type", "scale", "missing", "fill_value")


class DataError(ValueError):
    """A dataset, a data file or a data spec is not acceptable; the message says why."""


@dataclass
class SplitSpec:
    """Fractions of the train/validation/test split, its seed, and whether to stratify."""

    train: float = 0.7
    val: float = 0.15
    test: float = 0.15
    seed: int = 0
    stratify: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": self.train,
            "val": self.val,
            "test": self.test,
            "seed": self.seed,
            "stratify": self.stratify,
        }

    def validate(self) -> None:
        """Raise :class:`DataError` if the fractions or the seed are not usable."""
        for name in ("train", "val", "test"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise DataError(f"Split fraction '{name}' must be a number, not {v!r}.")
            if not 0.0 <= v < 1.0 or (name == "train" and v == 0.0):
                raise DataError(
                    f"Split fraction '{name}' must be at least 0 and below 1 (train above 0), not {v!r}."
                )
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise DataError(f"Split fractions must add up to 1, but train+val+test = {total:g}.")
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, int)
            or not 0 <= self.seed < 2**32
        ):
            raise DataError(
                f"Split seed must be a whole number from 0 to 2**32-1, not {self.seed!r}."
            )
        if not isinstance(self.stratify, bool):
            raise DataError(f"Split 'stratify' must be true or false, not {self.stratify!r}.")


@dataclass
class DataSpec:
    """Where a dataset comes from and how to turn it into model inputs.

    Parameters
    ----------
    source : str
        One of ``builtin``, ``csv``, ``parquet``, ``npz``, ``image_folder``.
    name : str, optional
        Built-in dataset id (``source='builtin'``).
    path : str, optional
        File or folder of a file-based source. Not part of the fingerprint: a moved file is
        the same data.
    roles : dict
        Column -> ``feature`` | ``target`` | ``sensitive`` | ``ignore``. Columns not named
        here are features (or the target, if inferred).
    target : str, optional
        Target column; inferred when None (a role ``target``, else a column named
        target/label/class/y, else the last column).
    task : str, optional
        ``classification`` or ``regression``; inferred from the target when None.
    columns : dict
        Per-column preprocessing overrides: ``{"type": "numeric"|"categorical",
        "scale": "standardise"|"none", "missing": "drop"|"mean"|"median"|"most_frequent"|
        "constant", "fill_value": ...}``; any key may be left out.
    split : SplitSpec
        Split fractions, seed and stratification.
    sensitive_as_features : bool
        Also feed sensitive columns to the model (they are always kept for fairness).
    image_size : tuple of int
        ``(height, width)`` images of an image folder are resized to.
    image_mode : str
        ``grayscale`` or ``rgb`` for an image folder.
    """

    source: str = "builtin"
    name: str | None = None
    path: str | None = None
    roles: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    task: str | None = None
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    split: SplitSpec = field(default_factory=SplitSpec)
    sensitive_as_features: bool = False
    image_size: tuple[int, int] = (32, 32)
    image_mode: str = "grayscale"

    # ------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`DataError` with a specific message if the spec is not usable."""
        if self.source not in SOURCES:
            raise DataError(
                f"Unknown data source {self.source!r}; use one of {', '.join(SOURCES)}."
            )
        if self.source == "builtin":
            if not isinstance(self.name, str) or not self.name:
                raise DataError("A built-in data spec needs the dataset 'name'.")
        elif not isinstance(self.path, str) or not self.path:
            raise DataError(f"A {self.source} data spec needs a 'path'.")
        if not isinstance(self.roles, dict):
            raise DataError("'roles' must map column names to roles.")
        for col, role in self.roles.items():
            if not isinstance(col, str):
                raise DataError(f"Column names in 'roles' must be text, not {col!r}.")
            if role not in ROLES:
                raise DataError(
                    f"Column {col!r} has unknown role {role!r}; use one of {', '.join(ROLES)}."
                )
        targets = [c for c, r in self.roles.items() if r == "target"]
        if len(targets) > 1:
            raise DataError(
                f"Only one column can be the target, but roles name {', '.join(map(repr, targets))}."
            )
        if self.target is not None:
            if not isinstance(self.target, str) or not self.target:
                raise DataError(f"'target' must be a column name, not {self.target!r}.")
            if self.roles.get(self.target, "target") != "target":
                raise DataError(
                    f"Column {self.target!r} is the target but its role is {self.roles[self.target]!r}."
                )
            if targets and targets[0] != self.target:
                raise DataError(
                    f"'target' is {self.target!r} but roles make {targets[0]!r} the target."
                )
        if self.task is not None and self.task not in TASKS:
            raise DataError(f"Unknown task {self.task!r}; use classification or regression.")
        if not isinstance(self.columns, dict):
            raise DataError("'columns' must map column names to preprocessing settings.")
        for col, opts in self.columns.items():
            _validate_column(col, opts)
        if not isinstance(self.split, SplitSpec):
            raise DataError("'split' must be a SplitSpec.")
        self.split.validate()
        if not isinstance(self.sensitive_as_features, bool):
            raise DataError("'sensitive_as_features' must be true or false.")
        size = self.image_size
        if (
            not isinstance(size, tuple | list)
            or len(size) != 2
            or not all(
                isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 1024 for s in size
            )
        ):
            raise DataError(f"'image_size' must be two whole numbers from 1 to 1024, not {size!r}.")
        if self.image_mode not in IMAGE_MODES:
            raise DataError(f"'image_mode' must be grayscale or rgb, not {self.image_mode!r}.")

    # --------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that :meth:`from_dict` turns back into an equal spec."""
        return {
            "source": self.source,
            "name": self.name,
            "path": self.path,
            "roles": dict(self.roles),
            "target": self.target,
            "task": self.task,
            "columns": copy.deepcopy(self.columns),
            "split": self.split.to_dict(),
            "sensitive_as_features": self.sensitive_as_features,
            "image_size": [int(self.image_size[0]), int(self.image_size[1])],
            "image_mode": self.image_mode,
        }

    @classmethod
    def from_dict(cls, data: Any) -> DataSpec:
        """Rebuild a spec from :meth:`to_dict` output; raise :class:`DataError` if it is not valid."""
        if not isinstance(data, dict):
            raise DataError("A data spec must be a JSON object.")
        known = set(cls().to_dict())
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise DataError(f"Unknown data spec field {unknown[0]!r}.")
        split = data.get("split", {})
        if not isinstance(split, dict):
            raise DataError("Data spec 'split' must be a JSON object.")
        bad = sorted(str(k) for k in split if k not in SplitSpec().to_dict())
        if bad:
            raise DataError(f"Unknown split field {bad[0]!r}.")
        size = data.get("image_size", [32, 32])
        if not isinstance(size, list | tuple):
            raise DataError(f"'image_size' must be two whole numbers, not {size!r}.")
        roles = data.get("roles", {})
        columns = data.get("columns", {})
        spec = cls(
            source=data.get("source", "builtin"),
            name=data.get("name"),
            path=data.get("path"),
            roles=dict(roles) if isinstance(roles, dict) else roles,
            target=data.get("target"),
            task=data.get("task"),
            columns=copy.deepcopy(columns),
            split=SplitSpec(**split),
            sensitive_as_features=data.get("sensitive_as_features", False),
            image_size=tuple(size),  # type: ignore[arg-type]
            image_mode=data.get("image_mode", "grayscale"),
        )
        spec.validate()
        return spec

    def fingerprint_dict(self) -> dict[str, Any]:
        """The part of the spec that decides the prepared data (everything but ``path``)."""
        d = self.to_dict()
        del d["path"]
        return d


def _validate_column(col: Any, opts: Any) -> None:
    if not isinstance(col, str):
        raise DataError(f"Column names in 'columns' must be text, not {col!r}.")
    if not isinstance(opts, dict):
        raise DataError(f"Preprocessing settings of column {col!r} must be a JSON object.")
    for key in opts:
        if key not in _COLUMN_KEYS:
            raise DataError(
                f"Column {col!r} has unknown preprocessing setting {key!r}; use {', '.join(_COLUMN_KEYS)}."
            )
    checks = (("type", COLUMN_TYPES), ("scale", SCALINGS), ("missing", MISSING_POLICIES))
    for key, allowed in checks:
        if key in opts and opts[key] not in allowed:
            raise DataError(
                f"Column {col!r}: {key} must be one of {', '.join(allowed)}, not {opts[key]!r}."
            )
    if opts.get("missing") == "constant":
        fill = opts.get("fill_value")
        ok_number = (
            isinstance(fill, int | float) and not isinstance(fill, bool) and math.isfinite(fill)
        )
        if not (ok_number or isinstance(fill, str)):
            raise DataError(
                f"Column {col!r}: missing policy 'constant' needs a 'fill_value' (a number or text)."
            )
        if opts.get("type") == "numeric" and not ok_number:
            raise DataError(
                f"Column {col!r} is numeric, so its fill_value must be a number, not {fill!r}."
            )
