"""The built-in datasets: their descriptions (cheap to list) and their canonical CSV bytes.

Every built-in is produced as a frame and serialised to canonical CSV bytes; preparing a
built-in parses those bytes exactly as an imported CSV would be parsed, so a built-in and
the same table imported from a CSV file prepare, and fingerprint, identically.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engines.data.generated import (
    LENDING_PENALTY,
    LENDING_RATES,
    SEQUENCE_SHAPE,
    lending_frame,
    sequences_frame,
)
from engines.data.spec import DataError, DataSpec

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ASSETS_DIR", "DatasetInfo", "builtin_csv_bytes", "builtin_spec", "list_datasets"]

# assets/ sits beside the engines package at the repository (and install) root.
ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"


@dataclass(frozen=True)
class DatasetInfo:
    """One built-in dataset as listed to a user.

    ``n_features`` counts raw inputs per sample before encoding: feature columns for tables,
    pixels for images, channels per time step for sequences.
    """

    id: str
    title: str
    kind: str
    task: str
    n_rows: int
    n_features: int
    n_classes: int
    target: str
    sensitive: tuple[str, ...]
    description: str
    outcomes: tuple[tuple[str, str], ...] = ()  # class value -> what it means, from the source

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sensitive"] = list(self.sensitive)
        d["outcomes"] = dict(self.outcomes)
        return d


@dataclass(frozen=True)
class _Builtin:
    info: DatasetInfo
    make: Callable[[], pd.DataFrame]
    input_shape: tuple[int, ...] = ()  # images and sequences: per-sample shape of the flat columns
    scale: float = 1.0  # images: raw pixel value -> [0, 1]
    roles: dict[str, str] = field(default_factory=dict)


def _sklearn_frame(loader_name: str, target_names: bool = True) -> pd.DataFrame:
    import pandas as pd
    from sklearn import datasets

    bunch = getattr(datasets, loader_name)()
    frame = pd.DataFrame(bunch.data, columns=[str(c) for c in bunch.feature_names])
    names = [str(n) for n in bunch.target_names]
    frame["target"] = [names[i] for i in bunch.target] if target_names else bunch.target
    return frame


def _digits_frame() -> pd.DataFrame:
    import pandas as pd
    from sklearn.datasets import load_digits

    bunch = load_digits()
    cols = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
    frame = pd.DataFrame(bunch.data.astype("int64"), columns=cols)
    frame["digit"] = bunch.target.astype("int64")
    return frame


def _german_credit_frame() -> pd.DataFrame:
    import pandas as pd

    path = ASSETS_DIR / "german_credit.csv"
    if not path.is_file():
        raise DataError(
            f"The German credit table is missing from {ASSETS_DIR}; reinstall the workbench."
        )
    return pd.read_csv(path)


_LENDING_DESC = (
    "Generated loan applications (seeded) with a known injected bias. approved = 1 when "
    "merit - {p:g} * [group == B] + logistic noise (scale 0.5) > 0, where merit depends only on "
    "income, debt_ratio, years_employed, loan_amount, previous_defaults and employment; all "
    "features share one distribution across groups except region, a proxy for group with no "
    "effect on merit. Label approval rates: A {a:.3f}, B {b:.3f} (demographic-parity "
    "difference {d:.3f}), all from the {p:g} log-odds penalty on group B."
).format(
    p=LENDING_PENALTY,
    a=LENDING_RATES["A"],
    b=LENDING_RATES["B"],
    d=LENDING_RATES["A"] - LENDING_RATES["B"],
)

_BUILTINS: dict[str, _Builtin] = {
    b.info.id: b
    for b in (
        _Builtin(
            DatasetInfo(
                "digits",
                "Handwritten digits (8x8)",
                "image",
                "classification",
                1797,
                64,
                10,
                "digit",
                (),
                "scikit-learn's bundled UCI digits: 8x8 grayscale images of 0-9, "
                "pixel values 0-16 scaled to [0, 1].",
            ),
            _digits_frame,
            input_shape=(1, 8, 8),
            scale=1.0 / 16.0,
        ),
        _Builtin(
            DatasetInfo(
                "breast_cancer",
                "Breast cancer (Wisconsin diagnostic)",
                "table",
                "classification",
                569,
                30,
                2,
                "target",
                (),
                "scikit-learn's bundled Wisconsin diagnostic breast "
                "cancer table: 30 numeric cell-nucleus measurements, malignant or benign.",
            ),
            functools.partial(_sklearn_frame, "load_breast_cancer"),
        ),
        _Builtin(
            DatasetInfo(
                "wine",
                "Wine cultivars",
                "table",
                "classification",
                178,
                13,
                3,
                "target",
                (),
                "scikit-learn's bundled UCI wine table: 13 chemical measurements, three cultivars.",
            ),
            functools.partial(_sklearn_frame, "load_wine"),
        ),
        _Builtin(
            DatasetInfo(
                "iris",
                "Iris flowers",
                "table",
                "classification",
                150,
                4,
                3,
                "target",
                (),
                "scikit-learn's bundled iris table: four flower measurements, three species.",
            ),
            functools.partial(_sklearn_frame, "load_iris"),
        ),
        _Builtin(
            DatasetInfo(
                "german_credit",
                "German credit (Statlog)",
                "table",
                "classification",
                1000,
                7,
                2,
                "risk",
                ("sex", "age"),
                "Statlog German credit, 1,000 loan applicants; risk 1 = "
                "good credit risk (700 of 1,000). Sensitive: sex, age. UCI / Hans Hofmann (1994), "
                "DbCL v1.0 (see assets/german_credit.LICENSE.md).",
                (("1", "good credit risk"), ("0", "bad credit risk")),
            ),
            _german_credit_frame,
            roles={"risk": "target", "sex": "sensitive", "age": "sensitive"},
        ),
        _Builtin(
            DatasetInfo(
                "sequences",
                "Bump sequences (generated)",
                "sequence",
                "classification",
                1200,
                SEQUENCE_SHAPE[1],
                4,
                "label",
                (),
                "Generated (seeded) sequences of 20 steps x 4 "
                "channels; the class says which of channels 0/1 carries a bump and whether it is "
                "early or late. Channel 2 is a random sine, channel 3 a decoy bump.",
            ),
            sequences_frame,
            input_shape=SEQUENCE_SHAPE,
        ),
        _Builtin(
            DatasetInfo(
                "lending",
                "Loan approvals with injected bias (generated)",
                "table",
                "classification",
                2000,
                7,
                2,
                "approved",
                ("group",),
                _LENDING_DESC,
                (("1", "approved"), ("0", "refused")),
            ),
            lending_frame,
            roles={"approved": "target", "group": "sensitive"},
        ),
    )
}


def list_datasets() -> list[DatasetInfo]:
    """Describe every built-in dataset without loading any of them."""
    return [b.info for b in _BUILTINS.values()]


def get_builtin(name: str) -> _Builtin:
    try:
        return _BUILTINS[name]
    except (KeyError, TypeError):
        raise DataError(
            f"There is no built-in dataset {name!r}; choose one of {', '.join(_BUILTINS)}."
        ) from None


def outcome_meanings(spec: Any) -> dict[str, str]:
    """What each class value means ("1" -> "good credit risk"), as the dataset's source
    describes it; empty when it does not say (imported files, most built-in sets, whose
    class values are already names)."""
    if not isinstance(spec, dict) or spec.get("source") != "builtin":
        return {}
    builtin = _BUILTINS.get(str(spec.get("name")))
    return dict(builtin.info.outcomes) if builtin is not None else {}


def builtin_spec(name: str) -> DataSpec:
    """The default :class:`DataSpec` of a built-in dataset (its target and sensitive roles)."""
    b = get_builtin(name)
    return DataSpec(source="builtin", name=name, roles=dict(b.roles), target=b.info.target)


@functools.cache
def builtin_csv_bytes(name: str) -> bytes:
    """Canonical CSV bytes of a built-in (UTF-8, ``\\n`` line ends, no index)."""
    frame = get_builtin(name).make()
    buf = io.StringIO()
    # repr-precision floats, so parsing the CSV gives back exactly the generated values
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")
