"""Checks a table gets when it is imported (CLI and Data dock): identifier and constant
columns set aside with a notice, a column with very many categories flagged, silence on
a clean table. The same column typing as the datasheet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engines.data import DataSpec, builtin_spec, import_checks, read_frame
from engines.data.datasheet import IDENTIFIER_MIN_ROWS, MANY_CATEGORIES
from workbench.cli import main
from workbench.core.data_choice import read_choice


def _table(n: int = 200) -> pd.DataFrame:
    """200 rows: a customer id (a value per row), a country that is always 'DE', a city out
    of 60 names (each in 3 or 4 rows), an income with decimals (distinct per row, but a
    measurement), an age, and the target."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "country": ["DE"] * n,
        "city": [f"city {i % 60}" for i in range(n)],
        "income": np.round(rng.normal(3000, 500, n), 2) + np.arange(n) * 1e-3,
        "age": 18 + np.arange(n) % 50,
        "bought": np.arange(n) % 2,
    })


def test_identifier_constant_and_many_categories_are_found_in_column_order() -> None:
    found = import_checks(_table(), "bought")
    assert [(c.kind, c.column, c.ignore) for c in found] == [
        ("identifier", "customer_id", True),   # 200 of 200 values unique, text
        ("constant", "country", True),          # one value
        ("many_categories", "city", False),     # 60 > 50 values, 3-4 rows each: not an id
    ]
    assert "100.0%" in found[0].message and "200 rows" in found[0].message
    assert "60 different values" in found[2].message and str(MANY_CATEGORIES) in found[2].message


def test_boundaries_of_the_checks() -> None:
    n = IDENTIFIER_MIN_ROWS  # 20 rows: the fewest an identifier is called on
    ids = pd.DataFrame({"id": np.arange(n), "y": np.arange(n) % 2})
    assert [c.kind for c in import_checks(ids, "y")] == ["identifier"]
    fewer = ids.iloc[: n - 1]  # 19 rows: too few to tell an id from a small table
    assert import_checks(fewer, "y") == []
    # 38 of 40 rows hold a value no other row has (two share 100) = 95 %, exactly the
    # threshold: still an identifier
    near = pd.DataFrame({"id": [*range(38), 100, 100], "y": np.arange(40) % 2})
    assert [c.kind for c in import_checks(near, "y")] == ["identifier"]
    # 36 of 40 = 90 %: not one
    below = pd.DataFrame({"id": [*range(36), 100, 100, 101, 101], "y": np.arange(40) % 2})
    assert import_checks(below, "y") == []
    # exactly 50 text categories are not "many"; 51 are
    fifty = pd.DataFrame({"c": [f"v{i % 50}" for i in range(200)], "y": np.arange(200) % 2})
    assert import_checks(fifty, "y") == []
    fifty_one = pd.DataFrame({"c": [f"v{i % 51}" for i in range(204)], "y": np.arange(204) % 2})
    assert [c.kind for c in import_checks(fifty_one, "y")] == ["many_categories"]
    # the target is never checked, even when it is constant or unique
    assert import_checks(pd.DataFrame({"y": np.arange(30)}), "y") == []


def test_german_credit_passes_silently() -> None:
    spec = builtin_spec("german_credit")
    assert import_checks(read_frame(spec), "risk") == []


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    _table().to_csv(path, index=False)
    return path


def test_a_fresh_import_sets_identifier_and_constant_columns_aside(csv_file: Path) -> None:
    spec = DataSpec(source="csv", path=str(csv_file), target="bought")
    plain = read_choice(spec)
    checked = read_choice(spec, checks=True)
    roles = {c["name"]: c["role"] for c in checked.columns}
    assert roles["customer_id"] == "ignore" and roles["country"] == "ignore"
    assert roles["city"] == "feature" and roles["age"] == "feature"
    assert {c["name"]: c["role"] for c in plain.columns}["customer_id"] == "feature"
    # categories are one-hot over the training rows: counted here from those rows
    frame = _table()
    data = checked.prepared
    train = frame.iloc[np.asarray(data.row_ids)[data.splits["train"]]]
    ids, cities = train["customer_id"].nunique(), train["city"].nunique()
    assert ids == len(train)  # one per training row
    assert checked.prepared.input_shape[0] == cities + 2  # + income + age
    assert plain.prepared.input_shape[0] == ids + 1 + cities + 2  # + the ids and the country
    assert len(checked.notices) == 3 and all(n in checked.status() for n in checked.notices)
    # a role the user gave is kept
    mine = DataSpec(source="csv", path=str(csv_file), target="bought",
                    roles={"customer_id": "feature"})
    kept = read_choice(mine, checks=True)
    assert {c["name"]: c["role"] for c in kept.columns}["customer_id"] == "feature"


def test_the_cli_says_what_it_set_aside(csv_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "p.wbproj"
    code = main(["new", "--template", "mlp", "--data", str(csv_file), "--target", "bought",
                 "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0
    assert "note: Column 'customer_id'" in err and "set to ignore" in err
    from workbench.core.project import load_project

    project = load_project(out)
    assert project.data["roles"]["customer_id"] == "ignore"
    assert project.data["roles"]["country"] == "ignore"


def test_feature_keeps_a_column_the_checks_would_set_aside(csv_file: Path, tmp_path: Path,
                                                           capsys) -> None:
    out = tmp_path / "q.wbproj"
    assert main(["new", "--template", "mlp", "--data", str(csv_file), "--target", "bought",
                 "--feature", "customer_id", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "'customer_id'" not in err and "note: Column 'country'" in err
    from workbench.core.project import load_project

    roles = load_project(out).data["roles"]
    assert roles["customer_id"] == "feature" and roles["country"] == "ignore"
