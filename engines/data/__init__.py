"""Datasets: built-ins, imported files, and their preparation into model inputs.

:func:`compute_datasheet` describes a prepared dataset (sizes, column types, balance, groups,
proxies, leakage, duplicates) as a :class:`Datasheet`.

Built-ins need no network (scikit-learn's bundled sets, the German credit table in
``assets/``, generated ``sequences`` and ``lending`` — see :mod:`engines.data.generated` for
their ground truth). Files: CSV, Parquet, NumPy .npz (no pickles) and image folders.

Importing this package loads numpy only; pandas, scikit-learn and Pillow load on first use,
so ``workbench datasets`` stays quick.
"""

from __future__ import annotations

from engines.data.datasheet import (
    Datasheet,
    DatasheetCancelled,
    ImportCheck,
    compute_datasheet,
    import_checks,
)
from engines.data.prepare import PreparedData, apply_preprocessing, prepare
from engines.data.registry import DatasetInfo, builtin_spec, list_datasets, outcome_meanings
from engines.data.sources import read_frame, read_source
from engines.data.spec import DataError, DataSpec, SplitSpec

__all__ = [
    "DataError",
    "DataSpec",
    "DatasetInfo",
    "Datasheet",
    "DatasheetCancelled",
    "ImportCheck",
    "PreparedData",
    "SplitSpec",
    "apply_preprocessing",
    "builtin_spec",
    "compute_datasheet",
    "import_checks",
    "list_datasets",
    "outcome_meanings",
    "prepare",
    "read_frame",
    "read_source",
]
