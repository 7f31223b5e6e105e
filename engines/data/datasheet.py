"""A datasheet computed from the data: sizes, column types, balance, groups, and flags.

:func:`compute_datasheet` describes a prepared dataset — never a value typed by hand: rows, columns,
each column's type and missing values, class balance overall and per sensitive group, group
sizes (and their intersection), and flags, each with a one-sentence reason and the number
behind it:

- **identifier** — a model input whose value no other row shares in at least
  ``IDENTIFIER_UNIQUE_FRACTION`` of its rows (text or whole numbers only: measurements with
  decimals are unique by nature);
- **proxy** — a model input that alone predicts a sensitive attribute with a chance-adjusted
  balanced accuracy of at least ``PROXY_THRESHOLD``;
- **leakage** — a model input that alone predicts the target almost perfectly
  (``LEAKAGE_THRESHOLD``; ``LEAKAGE_R2`` for a regression target);
- **duplicates** — rows equal in every column to another row;
- **shared_rows** — rows of two splits with the same model-input values.

How one column "predicts" a label: a small decision tree on that column alone (numbers as
they are, text one-hot over its ``MAX_CATEGORIES`` most frequent values), scored on
``CV_FOLDS``-fold cross-validated predictions (stratified, seeded) with scikit-learn's
``balanced_accuracy_score(adjusted=True)``: 0 is chance, 1 is perfect, whatever the number or
sizes of the groups (for two groups it is Youden's J = TPR + TNR − 1). Balanced, so a column
that only echoes the majority group does not score; cross-validated, so a column with a
distinct value per row cannot score by memorising rows (mutual information and Cramér's V
both call such a column a perfect predictor). A regression target is scored by the
cross-validated R² of the same tree.

Flags concern what the model sees (the model-input columns: features, and sensitive columns
when they are fed to the model); ignored columns are described but never flagged. Counts are
over the rows the model uses (those with a target), except ``rows`` and ``missing``, which
count the source table. Continuous sensitive columns are banded at quartile edges fitted on
the training split, exactly as the fairness audits band them. Images and sequences get what
applies to them (rows, class balance, duplicates and shared rows by content hash); the rest
is ``not_applicable`` with the reason.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engines.data.spec import DataError

if TYPE_CHECKING:
    import pandas as pd

    from engines.data.prepare import PreparedData

__all__ = [
    "CV_FOLDS",
    "DATASHEET_FORMAT",
    "DATASHEET_VERSION",
    "DUPLICATE_MIN_ROWS",
    "IDENTIFIER_MIN_ROWS",
    "IDENTIFIER_UNIQUE_FRACTION",
    "LEAKAGE_R2",
    "LEAKAGE_THRESHOLD",
    "MANY_CATEGORIES",
    "MAX_CATEGORIES",
    "MAX_SCORE_ROWS",
    "PROXY_THRESHOLD",
    "SCORE_TOLERANCE",
    "SHARED_MIN_ROWS",
    "ColumnSheet",
    "Datasheet",
    "DatasheetCancelled",
    "Flag",
    "GroupTable",
    "ImportCheck",
    "compute_datasheet",
    "import_checks",
]

DATASHEET_FORMAT = "model-workbench-datasheet"
DATASHEET_VERSION = 1

# A value no other row shares in at least 95 % of a column's rows: the column names rows
# rather than describing them (an id, a name, a timestamp), and a model can memorise rows by it.
IDENTIFIER_UNIQUE_FRACTION = 0.95
# Below 20 rows with a value, distinct values are expected by chance and say nothing.
IDENTIFIER_MIN_ROWS = 20
# Chance-adjusted balanced accuracy of one column predicting a sensitive group. 0.3 is a
# moderate association: for two equal groups it is a balanced accuracy of 0.65, and equals
# Cramér's V / phi of 0.3, the usual lower edge of "moderate". Weaker associations are common
# in any table and are not flagged.
PROXY_THRESHOLD = 0.3
# Chance-adjusted balanced accuracy of one column predicting the target: 0.9 is a balanced
# accuracy of 0.95 for two classes — one column alone almost settles the outcome, which is
# what a value recorded after (or derived from) the outcome looks like.
LEAKAGE_THRESHOLD = 0.9
# The same for a regression target: one column alone explains 95 % of its variance.
LEAKAGE_R2 = 0.95
# Any repeated row is worth a look: it counts twice in training and may sit in two splits.
DUPLICATE_MIN_ROWS = 1
# Any test or validation row whose inputs also occur in an earlier split inflates its score.
SHARED_MIN_ROWS = 1
# A score within this of a threshold counts as reaching it (0.95 - 0.5 is not exactly 0.45).
SCORE_TOLERANCE = 1e-9

CV_FOLDS = 5  # folds of the cross-validated one-column models
MIN_LEAF = 5  # rows per leaf of a one-column tree: no leaf for a single row
MAX_LEAVES = 64  # leaves of a one-column tree: enough for 50 categories or a smooth curve
MANY_CATEGORIES = 50  # an imported text column with more values than this is flagged
MAX_CATEGORIES = 50  # a text column is one-hot over its most frequent values; the rest are "other"
MAX_SCORE_ROWS = 20_000  # one-column models fit on at most this many rows (a seeded sample)
MAX_EXAMPLES = 5  # row ids listed per duplicate group / shared pair, and groups listed
_TEXT_MIN_DISTINCT = (
    20  # as the data panel: more distinct values than this, and most rows, is free text
)
SPLITS = ("train", "val", "test")
_SPLIT_WORDS = {"train": "training", "val": "validation", "test": "test"}

FLAG_KINDS = ("identifier", "proxy", "leakage", "duplicates", "shared_rows")
SECTIONS = (
    "columns",
    "missing",
    "class_balance",
    "groups",
    "identifiers",
    "proxies",
    "leakage",
    "duplicates",
    "shared_rows",
)


class DatasheetCancelled(Exception):
    """The caller's ``cancel()`` returned True; the datasheet stopped between columns."""


# ================================================================== the typed result
@dataclass
class Flag:
    """One finding: what it is about, the number behind it, and a sentence saying why.

    ``measure`` names the number (``unique_fraction``, ``balanced_accuracy_adjusted``, ``r2``,
    ``rows``); ``value`` reaches ``threshold``. ``column`` is the column it is about (None for
    rows), ``sensitive`` the attribute a proxy stands for, ``splits`` the pair of a shared-rows
    flag.
    """

    kind: str
    measure: str
    value: float
    threshold: float
    reason: str
    column: str | None = None
    sensitive: str | None = None
    splits: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "column": self.column,
            "sensitive": self.sensitive,
            "splits": list(self.splits) if self.splits is not None else None,
            "measure": self.measure,
            "value": _finite(self.value),
            "threshold": self.threshold,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Any) -> Flag:
        d = _mapping(d, "A flag")
        splits = d.get("splits")
        return cls(
            kind=_text(d, "kind"),
            measure=_text(d, "measure"),
            value=_number(d, "value"),
            threshold=_number(d, "threshold"),
            reason=_text(d, "reason"),
            column=_optional_text(d, "column"),
            sensitive=_optional_text(d, "sensitive"),
            splits=[str(s) for s in splits] if isinstance(splits, list) else None,
        )


@dataclass
class ColumnSheet:
    """One column of a table.

    ``type`` is ``numeric``, ``categorical``, ``text`` (many distinct values, not unique) or
    ``identifier``; ``missing`` counts the source table; ``distinct`` and ``unique_fraction``
    (share of rows whose value no other row has) the rows the model uses. ``target_score`` and
    ``proxy_scores`` (``{sensitive: score}``) are how well the column alone predicts the target
    and each sensitive attribute (None: not scored, see ``score_notes``); only model inputs
    are scored.
    """

    name: str
    role: str
    type: str
    missing: int
    distinct: int
    unique_fraction: float | None
    model_input: bool
    target_score: float | None = None
    proxy_scores: dict[str, float | None] = field(default_factory=dict)
    score_notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "type": self.type,
            "missing": self.missing,
            "distinct": self.distinct,
            "unique_fraction": _finite(self.unique_fraction),
            "model_input": self.model_input,
            "target_score": _finite(self.target_score),
            "proxy_scores": {k: _finite(v) for k, v in self.proxy_scores.items()},
            "score_notes": list(self.score_notes),
        }

    @classmethod
    def from_dict(cls, d: Any) -> ColumnSheet:
        d = _mapping(d, "A column")
        scores = _mapping(d.get("proxy_scores", {}), "Proxy scores")
        return cls(
            name=_text(d, "name"),
            role=_text(d, "role"),
            type=_text(d, "type"),
            missing=_count(d, "missing"),
            distinct=_count(d, "distinct"),
            unique_fraction=_optional_number(d, "unique_fraction"),
            model_input=bool(d.get("model_input", False)),
            target_score=_optional_number(d, "target_score"),
            proxy_scores={str(k): _optional_number(scores, k) for k in scores},
            score_notes=[str(n) for n in d.get("score_notes", [])],
        )


@dataclass
class GroupTable:
    """Group sizes of one sensitive column (or the intersection of all of them).

    ``groups`` are ``{"name", "rows", "class_counts"}`` (``class_counts`` aligned with the
    datasheet's ``classes``, None for a regression target); ``band_edges`` the interior edges
    of a banded continuous column.
    """

    attribute: str
    intersection: bool
    groups: list[dict[str, Any]]
    band_edges: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "intersection": self.intersection,
            "band_edges": list(self.band_edges) if self.band_edges is not None else None,
            "groups": [
                {
                    "name": str(g["name"]),
                    "rows": int(g["rows"]),
                    "class_counts": (
                        [int(c) for c in g["class_counts"]]
                        if g.get("class_counts") is not None
                        else None
                    ),
                }
                for g in self.groups
            ],
        }

    @classmethod
    def from_dict(cls, d: Any) -> GroupTable:
        d = _mapping(d, "A group table")
        groups = []
        for g in _list(d, "groups"):
            g = _mapping(g, "A group")
            counts = g.get("class_counts")
            groups.append(
                {
                    "name": _text(g, "name"),
                    "rows": _count(g, "rows"),
                    "class_counts": [int(c) for c in counts] if isinstance(counts, list) else None,
                }
            )
        edges = d.get("band_edges")
        return cls(
            attribute=_text(d, "attribute"),
            intersection=bool(d.get("intersection", False)),
            groups=groups,
            band_edges=[float(e) for e in edges] if isinstance(edges, list) else None,
        )


@dataclass
class Datasheet:
    """What a dataset holds, computed from it; see the module docstring for every rule.

    Attributes
    ----------
    kind, task : ``table`` | ``image`` | ``sequence``; ``classification`` | ``regression``.
    target : the target column (``class`` / ``y`` for images and sequences).
    rows, rows_used : rows in the source; rows the model uses (with a target, not dropped).
    n_columns : columns of the table (None for images and sequences).
    sensitive : the sensitive columns.
    splits : ``{split: rows}``.
    classes, class_counts : class names and their counts over the used rows (classification).
    target_summary : ``{"mean", "std", "min", "max"}`` of a regression target.
    columns : one :class:`ColumnSheet` per column (tables).
    groups : one :class:`GroupTable` per sensitive column, then their intersection.
    duplicates : ``{"rows": repeats of an earlier row, "distinct": rows that repeat,
        "examples": [[row ids]], "compared": [columns compared]}``.
    shared : ``[{"splits": [a, b], "rows": rows of b whose inputs occur in a, "examples":
        [[row id in a, row id in b]]}]`` for (train, val), (train, test), (val, test).
    flags : the findings, each a :class:`Flag`.
    not_applicable : ``{section: why it does not apply}``.
    thresholds, methods : the thresholds used and a sentence per measure on how it is computed.
    seed : seed of the cross-validation folds and of the row sample.
    fingerprint : the prepared data's fingerprint (which data this describes).
    notes : other sentences (rows left out, columns not scored, sampling).
    """

    kind: str
    task: str
    target: str
    rows: int
    rows_used: int
    n_columns: int | None
    sensitive: list[str]
    splits: dict[str, int]
    classes: list[str] | None
    class_counts: list[int] | None
    target_summary: dict[str, float | None] | None
    columns: list[ColumnSheet]
    groups: list[GroupTable]
    duplicates: dict[str, Any]
    shared: list[dict[str, Any]]
    flags: list[Flag]
    not_applicable: dict[str, str]
    thresholds: dict[str, float]
    methods: dict[str, str]
    seed: int
    fingerprint: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (no NaN or infinity: undefined numbers are None)."""
        return {
            "format": DATASHEET_FORMAT,
            "version": DATASHEET_VERSION,
            "kind": self.kind,
            "task": self.task,
            "target": self.target,
            "rows": self.rows,
            "rows_used": self.rows_used,
            "n_columns": self.n_columns,
            "sensitive": list(self.sensitive),
            "splits": dict(self.splits),
            "classes": list(self.classes) if self.classes is not None else None,
            "class_counts": list(self.class_counts) if self.class_counts is not None else None,
            "target_summary": (
                {k: _finite(v) for k, v in self.target_summary.items()}
                if self.target_summary is not None
                else None
            ),
            "columns": [c.to_dict() for c in self.columns],
            "groups": [g.to_dict() for g in self.groups],
            "duplicates": {
                "rows": int(self.duplicates.get("rows", 0)),
                "distinct": int(self.duplicates.get("distinct", 0)),
                "examples": [[int(i) for i in e] for e in self.duplicates.get("examples", [])],
                "compared": [str(c) for c in self.duplicates.get("compared", [])],
            },
            "shared": [
                {
                    "splits": [str(s) for s in s_["splits"]],
                    "rows": int(s_["rows"]),
                    "examples": [[int(i) for i in e] for e in s_.get("examples", [])],
                }
                for s_ in self.shared
            ],
            "flags": [f.to_dict() for f in self.flags],
            "not_applicable": dict(self.not_applicable),
            "thresholds": dict(self.thresholds),
            "methods": dict(self.methods),
            "seed": self.seed,
            "fingerprint": self.fingerprint,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: Any) -> Datasheet:
        """Read :meth:`to_dict` output back; :class:`DataError` if it is not a datasheet."""
        d = _mapping(d, "A datasheet")
        if d.get("format") != DATASHEET_FORMAT:
            raise DataError("This is not a model-workbench datasheet.")
        if d.get("version") != DATASHEET_VERSION:
            raise DataError(f"Datasheet version {d.get('version')!r} is not supported.")
        try:
            summary = d.get("target_summary")
            dup = _mapping(d.get("duplicates", {}), "The duplicates")
            classes = d.get("classes")
            counts = d.get("class_counts")
            n_columns = d.get("n_columns")
            return cls(
                kind=_text(d, "kind"),
                task=_text(d, "task"),
                target=_text(d, "target"),
                rows=_count(d, "rows"),
                rows_used=_count(d, "rows_used"),
                n_columns=int(n_columns) if n_columns is not None else None,
                sensitive=[str(s) for s in _list(d, "sensitive")],
                splits={str(k): int(v) for k, v in _mapping(d.get("splits"), "Splits").items()},
                classes=[str(c) for c in classes] if isinstance(classes, list) else None,
                class_counts=[int(c) for c in counts] if isinstance(counts, list) else None,
                target_summary=(
                    {str(k): _optional_number(summary, k) for k in summary}
                    if isinstance(summary, dict)
                    else None
                ),
                columns=[ColumnSheet.from_dict(c) for c in _list(d, "columns")],
                groups=[GroupTable.from_dict(g) for g in _list(d, "groups")],
                duplicates={
                    "rows": int(dup.get("rows", 0)),
                    "distinct": int(dup.get("distinct", 0)),
                    "examples": [[int(i) for i in e] for e in dup.get("examples", [])],
                    "compared": [str(c) for c in dup.get("compared", [])],
                },
                shared=[
                    {
                        "splits": [str(x) for x in _mapping(s, "A shared-rows entry")["splits"]],
                        "rows": int(s["rows"]),
                        "examples": [[int(i) for i in e] for e in s.get("examples", [])],
                    }
                    for s in _list(d, "shared")
                ],
                flags=[Flag.from_dict(f) for f in _list(d, "flags")],
                not_applicable={
                    str(k): str(v) for k, v in _mapping(d.get("not_applicable", {}), "n/a").items()
                },
                thresholds={
                    str(k): float(v) for k, v in _mapping(d.get("thresholds", {}), "t").items()
                },
                methods={str(k): str(v) for k, v in _mapping(d.get("methods", {}), "m").items()},
                seed=int(d.get("seed", 0)),
                fingerprint=str(d.get("fingerprint", "")),
                notes=[str(n) for n in d.get("notes", [])],
            )
        except DataError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"The datasheet is malformed ({type(exc).__name__}: {exc}).") from None


# ---------------------------------------------------------------- reading helpers
def _finite(v: float | None) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _mapping(v: Any, what: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise DataError(f"{what} must be a JSON object.")
    return v


def _list(d: Mapping[str, Any], key: str) -> list[Any]:
    v = d.get(key, [])
    if not isinstance(v, list):
        raise DataError(f"Datasheet field {key!r} must be a list.")
    return v


def _text(d: Mapping[str, Any], key: str) -> str:
    v = d.get(key)
    if not isinstance(v, str):
        raise DataError(f"Datasheet field {key!r} must be text, not {v!r}.")
    return v


def _optional_text(d: Mapping[str, Any], key: str) -> str | None:
    v = d.get(key)
    return None if v is None else str(v)


def _number(d: Mapping[str, Any], key: str) -> float:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise DataError(f"Datasheet field {key!r} must be a number, not {v!r}.")
    return float(v)


def _optional_number(d: Mapping[str, Any], key: str) -> float | None:
    v = d.get(key)
    if v is None:
        return None
    return _number(d, key)


def _count(d: Mapping[str, Any], key: str) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise DataError(f"Datasheet field {key!r} must be a count, not {v!r}.")
    return v


# ================================================================== the verb
def compute_datasheet(
    data: PreparedData,
    frame: pd.DataFrame | None = None,
    *,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Datasheet:
    """The datasheet of a prepared dataset.

    Parameters
    ----------
    data : PreparedData
        What :func:`~engines.data.prepare` made: roles, target, classes, split positions and
        the source row of every used row.
    frame : pandas.DataFrame, optional
        The raw table as :func:`~engines.data.read_frame` reads it (needed for tables;
        ignored for images and sequences).
    seed : int
        Seed of the cross-validation folds and of the row sample of large tables.
    progress, cancel : callables, optional
        ``progress(fraction)``; ``cancel()`` returning True stops between columns with
        :class:`DatasheetCancelled`.

    Raises
    ------
    DataError
        A table without its frame, or a frame that does not match the prepared data.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise DataError(
            f"The datasheet seed must be a whole number from 0 to 2**32-1, not {seed!r}."
        )
    report = progress or (lambda _f: None)
    stop = cancel or (lambda: False)
    if data.kind == "table":
        if frame is None:
            raise DataError("A table's datasheet needs the raw table it was prepared from.")
        sheet = _table_sheet(data, frame, seed, report, stop)
    else:
        if stop():
            raise DatasheetCancelled("The datasheet was cancelled.")
        sheet = _array_sheet(data, seed)
    report(1.0)
    return sheet


def _thresholds() -> dict[str, float]:
    return {
        "identifier_unique_fraction": IDENTIFIER_UNIQUE_FRACTION,
        "identifier_min_rows": float(IDENTIFIER_MIN_ROWS),
        "proxy": PROXY_THRESHOLD,
        "leakage": LEAKAGE_THRESHOLD,
        "leakage_r2": LEAKAGE_R2,
        "duplicate_rows": float(DUPLICATE_MIN_ROWS),
        "shared_rows": float(SHARED_MIN_ROWS),
    }


def _methods(kind: str) -> dict[str, str]:
    tree = (
        f"a decision tree on that column alone (at most {MAX_LEAVES} leaves of at least "
        f"{MIN_LEAF} rows; text one-hot over its {MAX_CATEGORIES} most frequent values), "
        f"scored on {CV_FOLDS}-fold cross-validated predictions"
    )
    content = (
        "every column except identifier-like ones"
        if kind == "table"
        else "the content hash of each sample"
    )
    inputs = (
        "the model-input columns except identifier-like ones"
        if kind == "table"
        else "the content hash of each sample"
    )
    return {
        "identifier": (
            "Share of a column's rows whose value no other row has (text and whole numbers "
            f"only; columns with at least {IDENTIFIER_MIN_ROWS} values)."
        ),
        "proxy": (
            f"Chance-adjusted balanced accuracy (0 chance, 1 perfect) of {tree}, predicting "
            "each sensitive attribute's group; balanced so group sizes do not matter, "
            "cross-validated so a column cannot score by memorising rows."
        ),
        "leakage": (
            "The same one-column model predicting the target: chance-adjusted balanced "
            "accuracy for classes, cross-validated R² for a regression target."
        ),
        "duplicates": f"Rows equal to another row on {content}.",
        "shared_rows": (
            f"Rows of a later split (validation, test) equal to a row of an earlier split on {inputs}."
        ),
    }


# ================================================================== tables
@dataclass(frozen=True)
class ImportCheck:
    """Something to know about a column of a table being imported, and what is done about it.

    ``kind``: ``identifier`` (set to *ignore*: it names rows, a model would memorise them),
    ``constant`` (one value: it tells the model nothing; set to *ignore*) or
    ``many_categories`` (text with more than ``MANY_CATEGORIES`` values, each of which becomes
    a one-hot model input; flagged, left as it is). ``ignore``: whether the import sets the
    column's role to *ignore* by default.
    """

    kind: str
    column: str
    message: str
    ignore: bool


def import_checks(frame: pd.DataFrame, target: str | None) -> list[ImportCheck]:
    """The checks a freshly imported table gets before any role is chosen by hand.

    The same column typing as the datasheet (:func:`compute_datasheet`'s identifier rule:
    text or whole numbers whose value no other row shares in at least
    ``IDENTIFIER_UNIQUE_FRACTION`` of at least ``IDENTIFIER_MIN_ROWS`` rows). ``target`` (the
    column the model learns) is never checked. In column order.
    """
    import pandas as pd

    found: list[ImportCheck] = []
    for name in frame.columns:
        column = str(name)
        if column == target:
            continue
        values = frame[name]
        sheet = _describe_column(column, "feature", values, values, None, "classification", True)
        present = int(values.notna().sum())
        if sheet.type == "identifier":
            assert sheet.unique_fraction is not None
            found.append(ImportCheck(
                "identifier", column,
                f"Column {column!r} has a value of its own in {_percent(sheet.unique_fraction)} "
                f"of its {present:,} rows: it names rows rather than describing them, so it is "
                "set to ignore (a model would memorise rows by it). Make it a feature by hand "
                "if it really describes the rows.", True))
        elif sheet.distinct <= 1 and len(values) > 1:
            found.append(ImportCheck(
                "constant", column,
                f"Column {column!r} has {'no values' if sheet.distinct == 0 else 'one value'} "
                "in every row: it tells a model nothing, so it is set to ignore.", True))
        elif (sheet.type in ("categorical", "text") and sheet.distinct > MANY_CATEGORIES
              and not pd.api.types.is_numeric_dtype(values.dtype)):
            found.append(ImportCheck(
                "many_categories", column,
                f"Column {column!r} has {sheet.distinct:,} different values, and each becomes a "
                f"model input of its own (more than {MANY_CATEGORIES}). Set it to ignore if it "
                "is free text or a code.", False))
    return found


def _table_sheet(
    data: PreparedData,
    frame: pd.DataFrame,
    seed: int,
    report: Callable[[float], None],
    stop: Callable[[], bool],
) -> Datasheet:
    prep = data.preprocessing
    target = str(prep["target"]["name"])
    if target not in frame.columns or int(prep["rows"]["source"]) != len(frame):
        raise DataError("The raw table does not match the prepared data (other columns or rows).")
    row_ids = np.asarray(data.row_ids, dtype=np.int64)
    used = frame.iloc[row_ids].reset_index(drop=True)
    n = len(used)
    sensitive = [str(c) for c in prep.get("sensitive", [])]
    ignored = {str(c) for c in prep.get("ignored", [])}
    plan_types = {str(c["name"]): str(c["type"]) for c in prep["columns"]}
    inputs = list(plan_types)
    roles: dict[str, str] = {}
    for c in frame.columns:
        c = str(c)
        if c == target:
            roles[c] = "target"
        elif c in sensitive:
            roles[c] = "sensitive"
        elif c in ignored:
            roles[c] = "ignore"
        else:
            roles[c] = "feature"

    classification = data.task == "classification"
    y = np.asarray(data.y)
    classes = [str(c) for c in data.class_names] if classification else None
    class_counts = (
        [int(c) for c in np.bincount(y.astype(np.int64), minlength=len(classes or []))]
        if classification
        else None
    )
    notes: list[str] = list(data.notes)
    not_applicable: dict[str, str] = {}
    flags: list[Flag] = []

    # ---------------------------------------------------------------- columns
    columns: list[ColumnSheet] = []
    for c in frame.columns:
        c = str(c)
        columns.append(
            _describe_column(
                c, roles[c], frame[c], used[c], plan_types.get(c), data.task, c in plan_types
            )
        )
    by_name = {col.name: col for col in columns}
    identifiers = {col.name for col in columns if col.type == "identifier"}
    for col in columns:
        if col.model_input and col.type == "identifier":
            assert col.unique_fraction is not None
            values = used[col.name].dropna()
            present = len(values)
            unique_rows = int((values.value_counts() == 1).sum())
            flags.append(
                Flag(
                    kind="identifier",
                    column=col.name,
                    measure="unique_fraction",
                    value=col.unique_fraction,
                    threshold=IDENTIFIER_UNIQUE_FRACTION,
                    reason=(
                        f"Column {col.name!r} has a value no other row shares in "
                        f"{_percent(col.unique_fraction)} of its rows ({unique_rows:,} of "
                        f"{present:,}; threshold {_percent(IDENTIFIER_UNIQUE_FRACTION)}), so it "
                        "names rows rather than describing them and a model can memorise them by it."
                    ),
                )
            )
    if not any(c.model_input for c in columns):
        not_applicable["identifiers"] = "No column is a model input."

    # ---------------------------------------------------------------- groups
    groups, group_codes, group_notes = _groups(
        data, sensitive, y if classification else None, classes
    )
    notes.extend(group_notes)
    if not sensitive:
        why = "No column has the role 'sensitive', so there are no groups to size or recover."
        not_applicable["groups"] = why
        not_applicable["proxies"] = why
    if not classification:
        not_applicable["class_balance"] = (
            f"The target {target!r} is a quantity (regression), so there are no classes to balance."
        )

    # ---------------------------------------------------------------- one-column models
    labels: list[tuple[str, np.ndarray]] = []
    if classification:
        labels.append(("__target__", y.astype(np.int64)))
    for s in sensitive:
        if s in group_codes:
            labels.append((s, group_codes[s]))
    scored = [c for c in columns if c.model_input]
    sample = _score_sample(n, seed)
    if len(sample) < n:
        notes.append(
            f"The one-column models were fitted on a seeded sample of {len(sample):,} of the "
            f"{n:,} rows."
        )
    total = max(1, len(scored))
    for i, col in enumerate(scored):
        if stop():
            raise DatasheetCancelled("The datasheet was cancelled.")
        x = _encode_for_model(used[col.name], plan_types.get(col.name) == "numeric")[sample]
        if classification:
            col.target_score, why = _classification_score(x, y.astype(np.int64)[sample], seed)
        else:
            col.target_score, why = _regression_score(x, y.astype(np.float64)[sample], seed)
        if why:
            col.score_notes.append(f"target: {why}")
        for s in sensitive:
            if s == col.name:
                continue
            codes = group_codes.get(s)
            if codes is None:
                col.proxy_scores[s] = None
                continue
            keep = codes[sample] >= 0
            score, why = _classification_score(x[keep], codes[sample][keep], seed)
            col.proxy_scores[s] = score
            if why:
                col.score_notes.append(f"{s}: {why}")
        report(0.05 + 0.85 * (i + 1) / total)

    for col in scored:
        for s, score in col.proxy_scores.items():
            if score is not None and score >= PROXY_THRESHOLD - SCORE_TOLERANCE:
                flags.append(
                    Flag(
                        kind="proxy",
                        column=col.name,
                        sensitive=s,
                        measure="balanced_accuracy_adjusted",
                        value=score,
                        threshold=PROXY_THRESHOLD,
                        reason=(
                            f"Column {col.name!r} alone predicts the {s!r} group with a "
                            f"chance-adjusted balanced accuracy of {score:.3f} (threshold "
                            f"{PROXY_THRESHOLD:g}), so a model can recover {s!r} from it"
                            + (
                                f" even though {s!r} is not an input."
                                if not by_name[s].model_input
                                else "."
                            )
                        ),
                    )
                )
    for col in scored:
        score = col.target_score
        if score is None:
            continue
        limit = LEAKAGE_THRESHOLD if classification else LEAKAGE_R2
        if score >= limit - SCORE_TOLERANCE:
            what = (
                f"a chance-adjusted balanced accuracy of {score:.3f}"
                if classification
                else f"a cross-validated R² of {score:.3f}"
            )
            flags.append(
                Flag(
                    kind="leakage",
                    column=col.name,
                    measure="balanced_accuracy_adjusted" if classification else "r2",
                    value=score,
                    threshold=limit,
                    reason=(
                        f"Column {col.name!r} alone predicts the target {target!r} with {what} "
                        f"(threshold {limit:g}): check that it is known before the outcome "
                        "and not recorded after it or derived from it."
                    ),
                )
            )
    if not scored:
        not_applicable["leakage"] = "No column is a model input."
        not_applicable.setdefault("proxies", "No column is a model input.")

    # ---------------------------------------------------------------- rows
    compared = [str(c) for c in frame.columns if str(c) not in identifiers]
    dup = _duplicates(_row_keys(used, compared), row_ids)
    dup["compared"] = compared
    if dup["rows"] >= DUPLICATE_MIN_ROWS:
        flags.append(
            _duplicate_flag(
                dup,
                "in every column"
                + (
                    f" except the identifier-like {_names(sorted(identifiers))}"
                    if identifiers
                    else ""
                ),
            )
        )
    input_cols = [c for c in inputs if c not in identifiers]
    if input_cols:
        shared = _shared(_row_keys(used, input_cols), data.splits, row_ids)
        flags.extend(_shared_flags(shared, "the same values in every model input"))
    else:
        shared = []
        not_applicable["shared_rows"] = (
            "No model input is left to compare once identifier-like columns are set aside."
        )

    return Datasheet(
        kind="table",
        task=data.task,
        target=target,
        rows=int(len(frame)),
        rows_used=n,
        n_columns=int(frame.shape[1]),
        sensitive=sensitive,
        splits={k: int(len(v)) for k, v in data.splits.items()},
        classes=classes,
        class_counts=class_counts,
        target_summary=None if classification else _summary(y),
        columns=columns,
        groups=groups,
        duplicates=dup,
        shared=shared,
        flags=_ordered(flags),
        not_applicable=not_applicable,
        thresholds=_thresholds(),
        methods=_methods("table"),
        seed=seed,
        fingerprint=data.fingerprint,
        notes=notes,
    )


def _percent(f: float) -> str:
    return f"{100 * f:.1f}%"


def _names(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _ordered(flags: list[Flag]) -> list[Flag]:
    rank = {
        k: i for i, k in enumerate(("leakage", "proxy", "identifier", "shared_rows", "duplicates"))
    }
    return sorted(flags, key=lambda f: (rank.get(f.kind, 99), -f.value, f.column or ""))


def _summary(y: np.ndarray) -> dict[str, float | None]:
    v = np.asarray(y, dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "std": None, "min": None, "max": None}
    return {
        "mean": float(v.mean()),
        "std": float(v.std()),
        "min": float(v.min()),
        "max": float(v.max()),
    }


def _describe_column(
    name: str,
    role: str,
    source: pd.Series,
    used: pd.Series,
    plan_type: str | None,
    task: str,
    model_input: bool,
) -> ColumnSheet:
    import pandas as pd

    missing = int(source.isna().sum())
    present = used.dropna()
    numeric = bool(
        pd.api.types.is_numeric_dtype(present.dtype)
        and not pd.api.types.is_bool_dtype(present.dtype)
    )
    counts = present.value_counts(dropna=True)
    distinct = int(len(counts))
    unique_fraction = float((counts == 1).sum() / len(present)) if len(present) else None
    if role == "target":
        ctype = "categorical" if task == "classification" else "numeric"
    else:
        whole = not numeric or bool(np.all(np.mod(present.to_numpy(dtype=np.float64), 1.0) == 0))
        if (
            whole
            and unique_fraction is not None
            and len(present) >= IDENTIFIER_MIN_ROWS
            and unique_fraction >= IDENTIFIER_UNIQUE_FRACTION - SCORE_TOLERANCE
        ):
            ctype = "identifier"
        elif plan_type is not None and plan_type == "numeric":
            ctype = "numeric"
        elif numeric and plan_type is None:
            ctype = "numeric"
        elif distinct > _TEXT_MIN_DISTINCT and distinct > 0.5 * len(present):
            ctype = "text"
        else:
            ctype = "categorical"
    return ColumnSheet(
        name=name,
        role=role,
        type=ctype,
        missing=missing,
        distinct=distinct,
        unique_fraction=unique_fraction,
        model_input=model_input,
    )


def _groups(
    data: PreparedData, sensitive: list[str], y: np.ndarray | None, classes: list[str] | None
) -> tuple[list[GroupTable], dict[str, np.ndarray], list[str]]:
    """Group tables (each column, then the intersection) and each column's group codes.

    Codes are -1 for a missing value (those rows are left out of the proxy scores).
    """
    from engines.fairness.groups import MISSING, FairnessError, encode_sensitive

    if not sensitive:
        return [], {}, []
    cols = {s: np.asarray(data.sensitive[s]) for s in sensitive if s in data.sensitive}
    notes: list[str] = []
    train = np.asarray(data.splits.get("train", np.arange(len(data.y))), dtype=np.int64)
    try:
        # quartile edges fitted on the training split, as every fairness audit of the project
        edges = (
            encode_sensitive(
                {k: v[train] for k, v in cols.items()}, intersections=False, n_rows=len(train)
            ).band_edges
            if len(train)
            else {}
        )
        enc = encode_sensitive(cols, bands=edges, intersections=True, n_rows=len(data.y))
    except FairnessError as exc:
        return [], {}, [f"The sensitive groups could not be formed: {exc}"]
    tables: list[GroupTable] = []
    codes: dict[str, np.ndarray] = {}
    n_classes = len(classes or [])
    for feature in enc.features:
        labels = enc.levels[feature]
        row_codes = enc.joint_members[feature][enc.joint]
        sizes = np.bincount(row_codes, minlength=len(labels))
        per_class = None
        if y is not None and n_classes:
            per_class = np.bincount(
                row_codes * n_classes + y.astype(np.int64), minlength=len(labels) * n_classes
            ).reshape(len(labels), n_classes)
        groups = [
            {
                "name": label,
                "rows": int(sizes[i]),
                "class_counts": per_class[i].tolist() if per_class is not None else None,
            }
            for i, label in enumerate(labels)
        ]
        is_inter = feature in enc.intersections
        tables.append(
            GroupTable(
                attribute=feature,
                intersection=is_inter,
                groups=groups,
                band_edges=enc.band_edges.get(feature),
            )
        )
        if not is_inter:
            c = row_codes.astype(np.int64).copy()
            if MISSING in labels:
                c[c == labels.index(MISSING)] = -1
            codes[feature] = c
    for feature, e in enc.band_edges.items():
        notes.append(
            f"Sensitive column {feature!r} is banded at the training split's quartiles "
            f"({', '.join(f'{x:g}' for x in e)}), as the fairness audits band it."
        )
    return tables, codes, notes


# ---------------------------------------------------------------- one-column models
def _score_sample(n: int, seed: int) -> np.ndarray:
    if n <= MAX_SCORE_ROWS:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=MAX_SCORE_ROWS, replace=False))


def _encode_for_model(series: pd.Series, numeric: bool) -> np.ndarray:
    """One column as model input: numbers (NaN kept: the trees route gaps) or one-hot text."""
    import pandas as pd

    if numeric:
        return np.asarray(pd.to_numeric(series, errors="coerce"), dtype=np.float64)[:, None]
    from engines.data.prepare import _keys

    keys = np.asarray([k if k is not None else "\x00missing" for k in _keys(series)], dtype=object)
    values, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:MAX_CATEGORIES]
    slot = np.full(len(values), -1, dtype=np.int64)
    slot[order] = np.arange(len(order))
    rows = slot[inverse.reshape(-1)]
    onehot = np.zeros((len(keys), len(order)), dtype=np.float64)
    hit = rows >= 0
    onehot[np.flatnonzero(hit), rows[hit]] = 1.0
    return onehot


def _folds(y: np.ndarray) -> int | str:
    """Folds for stratified cross-validation of ``y``, or why it cannot be done."""
    counts = np.bincount(y)
    counts = counts[counts > 0]
    if len(counts) < 2:
        return "only one group is present"
    smallest = int(counts.min())
    if smallest < 2:
        return "a group has a single row, too few to cross-validate"
    return min(CV_FOLDS, smallest)


def _classification_score(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float | None, str]:
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.tree import DecisionTreeClassifier

    if x.shape[1] == 0:
        return None, "the column has no values"
    # compact codes, so bincount and the folds see only the groups present
    _, y = np.unique(y, return_inverse=True)
    folds = _folds(y)
    if isinstance(folds, str):
        return None, folds
    tree = DecisionTreeClassifier(
        class_weight="balanced",
        min_samples_leaf=MIN_LEAF,
        max_leaf_nodes=MAX_LEAVES,
        random_state=seed,
    )
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    pred = cross_val_predict(tree, x, y, cv=cv)
    return float(balanced_accuracy_score(y, pred, adjusted=True)), ""


def _regression_score(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float | None, str]:
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.tree import DecisionTreeRegressor

    if x.shape[1] == 0:
        return None, "the column has no values"
    if len(y) < 2 * CV_FOLDS:
        return None, f"fewer than {2 * CV_FOLDS} rows, too few to cross-validate"
    if float(np.std(y)) == 0.0:
        return None, "the target is constant"
    tree = DecisionTreeRegressor(
        min_samples_leaf=MIN_LEAF, max_leaf_nodes=MAX_LEAVES, random_state=seed
    )
    pred = cross_val_predict(
        tree, x, y, cv=KFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed)
    )
    return float(r2_score(y, pred)), ""


# ---------------------------------------------------------------- duplicate and shared rows
def _row_keys(frame: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
    """One integer per row, equal exactly for rows with equal values in ``cols``."""
    import pandas as pd

    n = len(frame)
    if not cols:
        return np.zeros(n, dtype=np.int64)
    codes = np.empty((n, len(cols)), dtype=np.int64)
    for j, c in enumerate(cols):
        # factorize treats every missing value alike (-1), so two gaps compare equal
        codes[:, j] = pd.factorize(frame[c], use_na_sentinel=True)[0]
    _, keys = np.unique(codes, axis=0, return_inverse=True)
    return np.asarray(keys, dtype=np.int64).reshape(-1)


def _hash_keys(x: np.ndarray) -> np.ndarray:
    """One integer per sample, equal for samples with the same content hash."""
    flat = np.ascontiguousarray(x.reshape(len(x), -1))
    digests = [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat]
    _, keys = np.unique(np.asarray(digests, dtype=object), return_inverse=True)
    return np.asarray(keys, dtype=np.int64).reshape(-1)


def _duplicates(keys: np.ndarray, row_ids: np.ndarray) -> dict[str, Any]:
    if len(keys) == 0:
        return {"rows": 0, "distinct": 0, "examples": []}
    counts = np.bincount(keys)
    repeated = np.flatnonzero(counts > 1)
    examples = []
    for k in repeated[:MAX_EXAMPLES]:
        examples.append([int(r) for r in row_ids[np.flatnonzero(keys == k)][:MAX_EXAMPLES]])
    # rows beyond the first of each set of equal rows
    extra = int((counts[repeated] - 1).sum())
    return {"rows": extra, "distinct": int(len(repeated)), "examples": examples}


def _duplicate_flag(dup: dict[str, Any], how: str) -> Flag:
    rows = int(dup["rows"])
    return Flag(
        kind="duplicates",
        measure="rows",
        value=float(rows),
        threshold=float(DUPLICATE_MIN_ROWS),
        reason=(
            f"{rows:,} row{'s' if rows != 1 else ''} repeat{'' if rows != 1 else 's'} an earlier "
            f"row {how} ({dup['distinct']:,} distinct row{'s' if dup['distinct'] != 1 else ''} "
            f"repeated; threshold {DUPLICATE_MIN_ROWS}), so they count more than once in "
            "training and may sit in two splits."
        ),
    )


def _shared(
    keys: np.ndarray, splits: Mapping[str, np.ndarray], row_ids: np.ndarray
) -> list[dict[str, Any]]:
    out = []
    for a, b in itertools.combinations(SPLITS, 2):
        ia = np.asarray(splits.get(a, []), dtype=np.int64)
        ib = np.asarray(splits.get(b, []), dtype=np.int64)
        in_a = np.isin(keys[ib], keys[ia]) if len(ia) and len(ib) else np.zeros(len(ib), dtype=bool)
        examples = []
        first_in_a: dict[int, int] = {}
        for pos in ia:
            first_in_a.setdefault(int(keys[pos]), int(pos))
        for pos in ib[in_a][:MAX_EXAMPLES]:
            examples.append([int(row_ids[first_in_a[int(keys[pos])]]), int(row_ids[pos])])
        out.append({"splits": [a, b], "rows": int(in_a.sum()), "examples": examples})
    return out


def _shared_flags(shared: list[dict[str, Any]], how: str) -> list[Flag]:
    flags = []
    for entry in shared:
        rows = int(entry["rows"])
        if rows < SHARED_MIN_ROWS:
            continue
        a, b = entry["splits"]
        flags.append(
            Flag(
                kind="shared_rows",
                splits=[a, b],
                measure="rows",
                value=float(rows),
                threshold=float(SHARED_MIN_ROWS),
                reason=(
                    f"{rows:,} {_SPLIT_WORDS[b]} row{'s have' if rows != 1 else ' has'} {how} "
                    f"as a {_SPLIT_WORDS[a]} row (threshold {SHARED_MIN_ROWS}), so the "
                    f"{_SPLIT_WORDS[b]} score partly measures memory, not generalisation."
                ),
            )
        )
    return flags


# ================================================================== images and sequences
def _array_sheet(data: PreparedData, seed: int) -> Datasheet:
    kind = data.kind
    what = "Images" if kind == "image" else "Sequences"
    classification = data.task == "classification"
    y = np.asarray(data.y)
    classes = [str(c) for c in data.class_names] if classification else None
    row_ids = np.asarray(data.row_ids, dtype=np.int64)
    keys = _hash_keys(np.asarray(data.X))
    flags: list[Flag] = []
    dup = _duplicates(keys, row_ids)
    dup["compared"] = []
    if dup["rows"] >= DUPLICATE_MIN_ROWS:
        flags.append(_duplicate_flag(dup, "with the same content hash"))
    shared = _shared(keys, data.splits, row_ids)
    flags.extend(_shared_flags(shared, "the same content hash"))
    no_columns = f"{what} have no columns: each sample is one array of values."
    not_applicable = {
        "columns": no_columns,
        "missing": f"{what} cannot have missing values: preparing them refuses any.",
        "identifiers": f"{no_columns.rstrip('.')}, so no column can name the rows.",
        "groups": f"{what} carry no sensitive columns, so there are no groups to size.",
        "proxies": f"{what} carry no sensitive columns, so nothing can stand in for one.",
        "leakage": (
            f"Leakage is judged one column at a time, and {what.lower()} have no columns; "
            "duplicates and shared rows below are the leaks that apply."
        ),
    }
    if not classification:
        not_applicable["class_balance"] = (
            "The target is a quantity (regression), so there are no classes to balance."
        )
    target = str(data.preprocessing.get("target", {}).get("name") or "class")
    return Datasheet(
        kind=kind,
        task=data.task,
        target=target,
        rows=int(data.preprocessing.get("rows", {}).get("source", len(y))),
        rows_used=int(len(y)),
        n_columns=None,
        sensitive=[],
        splits={k: int(len(v)) for k, v in data.splits.items()},
        classes=classes,
        class_counts=(
            [int(c) for c in np.bincount(y.astype(np.int64), minlength=len(classes or []))]
            if classification
            else None
        ),
        target_summary=None if classification else _summary(y),
        columns=[],
        groups=[],
        duplicates=dup,
        shared=shared,
        flags=_ordered(flags),
        not_applicable=not_applicable,
        thresholds=_thresholds(),
        methods=_methods(kind),
        seed=seed,
        fingerprint=data.fingerprint,
        notes=list(data.notes),
    )
