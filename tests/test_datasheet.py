"""The datasheet: planted problems are flagged with the right reason, thresholds hold at their
edges (hand-worked counts), German credit matches pandas, and the command line prints it."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engines.data import (
    DataError,
    Datasheet,
    DatasheetCancelled,
    DataSpec,
    builtin_spec,
    compute_datasheet,
    prepare,
    read_frame,
)
from engines.data.datasheet import (
    IDENTIFIER_MIN_ROWS,
    IDENTIFIER_UNIQUE_FRACTION,
    LEAKAGE_R2,
    LEAKAGE_THRESHOLD,
    PROXY_THRESHOLD,
)
from workbench.cli import main

FEATURES = ["customer_id", "leak", "region", "innocent"]


# ------------------------------------------------------------------ helpers
def _sheet(frame: pd.DataFrame, roles: dict[str, str], target: str, **spec_kw):
    """Prepare ``frame`` as an imported CSV and compute its datasheet (and the prepared data)."""
    data = frame.to_csv(index=False).encode()
    spec = DataSpec(source="csv", path="table.csv", roles=roles, target=target, **spec_kw)
    prepared = prepare(spec, source_bytes=data)
    return compute_datasheet(prepared, read_frame(spec, data)), prepared


def _flags(sheet: Datasheet, kind: str) -> list:
    return [f for f in sheet.flags if f.kind == kind]


def _planted(n: int = 400, seed: int = 3) -> pd.DataFrame:
    """An identifier, a leak (the target with exactly 1 % flipped), a proxy (equal to sex's
    region for exactly 90 % of rows), an innocent column, and three duplicated rows."""
    rng = np.random.default_rng(seed)
    outcome = np.tile([0, 1], n // 2)
    rng.shuffle(outcome)
    sex = np.tile(["f", "m"], n // 2)
    rng.shuffle(sex)
    leak = outcome.copy()
    flip = rng.choice(n, n // 100, replace=False)
    leak[flip] = 1 - leak[flip]
    region = np.where(sex == "f", "north", "south")
    swap = rng.choice(n, n // 10, replace=False)
    region[swap] = np.where(region[swap] == "north", "south", "north")
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{100000 + i}" for i in rng.permutation(n)],
            "leak": leak,
            "region": region,
            "innocent": np.round(rng.normal(size=n), 6),
            "sex": sex,
            "outcome": outcome,
        }
    )
    copies = frame.iloc[[0, 1, 2]].copy()
    # copies get ids of their own: a duplicate record under a new id is still a duplicate
    copies["customer_id"] = ["C900000", "C900001", "C900002"]
    return pd.concat([frame, copies], ignore_index=True)


ROLES = {"sex": "sensitive", "outcome": "target"}


@pytest.fixture(scope="module")
def planted():
    frame = _planted()
    sheet, prepared = _sheet(frame, ROLES, "outcome")
    # plant a test row with the inputs of a training row; the split depends only on the row
    # count, the target and the seed, so it does not move
    tr, te = prepared.splits["train"], prepared.splits["test"]
    i = int(prepared.row_ids[tr[10]])
    # a test row that is no planted duplicate, with the other outcome (so it stays no duplicate)
    j = int(
        next(
            r
            for r in prepared.row_ids[te]
            if 2 < r < 400 and frame.loc[r, "outcome"] != frame.loc[i, "outcome"]
        )
    )
    frame.loc[j, ["leak", "region", "innocent"]] = frame.loc[
        i, ["leak", "region", "innocent"]
    ].to_numpy()
    sheet, again = _sheet(frame, ROLES, "outcome")
    for k in ("train", "val", "test"):
        np.testing.assert_array_equal(again.splits[k], prepared.splits[k])
    return frame, sheet, again, (i, j)


# ------------------------------------------------------------------ planted problems
def test_each_planted_problem_is_flagged_with_its_reason(planted) -> None:
    frame, sheet, prepared, (i, j) = planted
    n = len(frame)
    by_kind = {f.kind: f for f in sheet.flags}
    assert set(by_kind) == {"identifier", "leakage", "proxy", "duplicates", "shared_rows"}

    ident = _flags(sheet, "identifier")
    assert [f.column for f in ident] == ["customer_id"]
    assert ident[0].value == 1.0 and ident[0].threshold == IDENTIFIER_UNIQUE_FRACTION
    assert f"({n:,} of {n:,}; threshold 95.0%)" in ident[0].reason
    assert "memorise" in ident[0].reason

    leak = _flags(sheet, "leakage")
    assert [f.column for f in leak] == ["leak"]
    # 1 % flipped (4 rows, +1 changed by the planted shared row): balanced accuracy ~0.99
    assert 0.97 <= leak[0].value <= 1.0
    assert f"balanced accuracy of {leak[0].value:.3f} (threshold 0.9)" in leak[0].reason
    assert "'outcome'" in leak[0].reason

    proxy = _flags(sheet, "proxy")
    assert [(f.column, f.sensitive) for f in proxy] == [("region", "sex")]
    # equal for 90 % of rows: balanced accuracy 0.9, chance-adjusted 0.8
    assert proxy[0].value == pytest.approx(0.8, abs=0.02)
    assert f"accuracy of {proxy[0].value:.3f} (threshold 0.3)" in proxy[0].reason
    assert "even though 'sex' is not an input" in proxy[0].reason

    # the innocent column is flagged for nothing and scores near chance
    assert not any(f.column == "innocent" for f in sheet.flags)
    innocent = next(c for c in sheet.columns if c.name == "innocent")
    assert innocent.type == "numeric" and abs(innocent.target_score) < 0.15
    assert abs(innocent.proxy_scores["sex"]) < 0.15
    # and the leak is no proxy, the proxy no leak
    cols = {c.name: c for c in sheet.columns}
    assert cols["leak"].proxy_scores["sex"] < PROXY_THRESHOLD
    assert cols["region"].target_score < LEAKAGE_THRESHOLD


def test_duplicates_and_shared_rows_match_pandas(planted) -> None:
    frame, sheet, prepared, (i, j) = planted
    used = frame.iloc[prepared.row_ids]
    compared = [c for c in frame.columns if c != "customer_id"]
    assert sheet.duplicates["compared"] == compared
    assert sheet.duplicates["rows"] == int(used.duplicated(subset=compared).sum()) == 3
    assert sheet.duplicates["distinct"] == 3
    assert [0, len(frame) - 3] in sheet.duplicates["examples"]
    dup = _flags(sheet, "duplicates")[0]
    assert dup.value == 3.0
    assert dup.reason.startswith(
        "3 rows repeat an earlier row in every column except the identifier-like 'customer_id'"
    )

    inputs = ["leak", "region", "innocent"]
    shared = {tuple(s["splits"]): s for s in sheet.shared}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        ra = used.iloc[prepared.splits[a]][inputs].drop_duplicates()
        rb = used.iloc[prepared.splits[b]][inputs]
        expected = len(rb.merge(ra, on=inputs, how="inner"))  # the oracle: a pandas join
        assert shared[(a, b)]["rows"] == expected
    assert [i, j] in shared[("train", "test")]["examples"]
    flagged = {tuple(f.splits): f for f in _flags(sheet, "shared_rows")}
    entry = flagged[("train", "test")]
    count = shared[("train", "test")]["rows"]
    assert entry.value == count
    assert entry.reason.startswith(f"{count} test row")
    assert "as a training row (threshold 1)" in entry.reason


def test_column_types_and_missing_values() -> None:
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "id": np.arange(1000, 1000 + n),  # whole numbers, all distinct
            "measure": rng.normal(size=n),  # decimals, all distinct: a measurement
            "comment": [f"note {i % 80}" for i in range(n)],  # 80 values (> 20 and > half): text
            "colour": rng.choice(["red", "blue", None], n),
            "y": np.tile([0, 1], n // 2),
        }
    )
    frame.loc[[3, 7], "measure"] = np.nan
    sheet, _ = _sheet(frame, {"id": "ignore"}, "y")
    cols = {c.name: c for c in sheet.columns}
    assert {k: c.type for k, c in cols.items()} == {
        "id": "identifier",
        "measure": "numeric",
        "comment": "text",
        "colour": "categorical",
        "y": "categorical",
    }
    assert {k: c.missing for k, c in cols.items()} == frame.isna().sum().to_dict()
    # notes 40..79 occur once, 0..39 twice: 40 of 120 rows have a value of their own
    assert cols["comment"].distinct == 80 and cols["comment"].unique_fraction == 40 / 120
    # an ignored column is described but not flagged, and not scored
    assert not cols["id"].model_input and cols["id"].target_score is None
    assert not _flags(sheet, "identifier")


# ------------------------------------------------------------------ thresholds, by hand
def _with_code(codes: list[str]) -> pd.DataFrame:
    n = len(codes)
    return pd.DataFrame({"code": codes, "x": np.arange(n) % 7, "y": np.tile([0, 1], n // 2)})


def test_identifier_threshold_at_exactly_95_percent() -> None:
    # 100 rows: 95 values of their own and one value shared by 5 rows -> 95/100 = 0.95, flagged
    at = [f"K{i:03d}" for i in range(95)] + ["shared"] * 5
    sheet, _ = _sheet(_with_code(at), {}, "y")
    flag = _flags(sheet, "identifier")
    assert [f.column for f in flag] == ["code"] and flag[0].value == 0.95
    assert "(95 of 100; threshold 95.0%)" in flag[0].reason
    # 94 of their own and one shared by 6 -> 0.94, not flagged (free text instead)
    below = [f"K{i:03d}" for i in range(94)] + ["shared"] * 6
    sheet, _ = _sheet(_with_code(below), {}, "y")
    assert not _flags(sheet, "identifier")
    code = next(c for c in sheet.columns if c.name == "code")
    assert code.type == "text" and code.unique_fraction == 0.94


def test_identifier_needs_twenty_rows() -> None:
    assert IDENTIFIER_MIN_ROWS == 20
    for n, flagged in ((20, True), (19, False)):
        frame = pd.DataFrame(
            {"code": [f"K{i}" for i in range(n)], "x": np.arange(n) % 3, "y": np.arange(n) % 2}
        )
        sheet, _ = _sheet(frame, {}, "y")
        assert bool(_flags(sheet, "identifier")) is flagged, n


def _proxy_frame(flipped: int) -> pd.DataFrame:
    """100 f and 100 m; 'region' equals sex's region except for ``flipped`` rows of each."""
    sex = np.array(["f"] * 100 + ["m"] * 100)
    region = np.where(sex == "f", "north", "south")
    region[:flipped] = "south"
    region[100 : 100 + flipped] = "north"
    rng = np.random.default_rng(1)
    y = np.tile([0, 1], 100)
    rng.shuffle(y)
    return pd.DataFrame({"region": region, "noise": rng.normal(size=200), "sex": sex, "y": y})


def test_proxy_threshold_at_exactly_0_3() -> None:
    # every fold's majority in 'north' is f (65 to 35): the one-column model predicts the
    # region's group, so recall is 65/100 in both groups: balanced accuracy 0.65, adjusted
    # (0.65 - 0.5) / 0.5 = 0.3 -> flagged
    sheet, _ = _sheet(_proxy_frame(35), {"sex": "sensitive"}, "y")
    flag = _flags(sheet, "proxy")
    assert [(f.column, f.sensitive) for f in flag] == [("region", "sex")]
    assert flag[0].value == pytest.approx(0.3, abs=1e-12) and flag[0].threshold == PROXY_THRESHOLD
    # 36 of each flipped: recall 0.64, adjusted 0.28 -> not flagged
    sheet, _ = _sheet(_proxy_frame(36), {"sex": "sensitive"}, "y")
    assert not _flags(sheet, "proxy")
    region = next(c for c in sheet.columns if c.name == "region")
    assert region.proxy_scores["sex"] == pytest.approx(0.28, abs=1e-12)


def _leak_frame(flipped: int) -> pd.DataFrame:
    y = np.array([0] * 100 + [1] * 100)
    leak = y.copy()
    leak[:flipped] = 1
    leak[100 : 100 + flipped] = 0
    rng = np.random.default_rng(2)
    return pd.DataFrame({"leak": leak, "noise": rng.normal(size=200), "y": y})


def test_leakage_threshold_at_exactly_0_9() -> None:
    # 5 of each class flipped: recall 95/100 in both, balanced accuracy 0.95, adjusted 0.9
    sheet, _ = _sheet(_leak_frame(5), {}, "y")
    flag = _flags(sheet, "leakage")
    assert [f.column for f in flag] == ["leak"]
    assert flag[0].value == pytest.approx(0.9, abs=1e-12) and flag[0].threshold == LEAKAGE_THRESHOLD
    assert "accuracy of 0.900 (threshold 0.9)" in flag[0].reason
    # 6 of each flipped: 0.94 -> 0.88, not flagged
    sheet, _ = _sheet(_leak_frame(6), {}, "y")
    assert not _flags(sheet, "leakage")
    leak = next(c for c in sheet.columns if c.name == "leak")
    assert leak.target_score == pytest.approx(0.88, abs=1e-12)


def test_one_duplicate_and_one_shared_row_are_flagged_none_is_not() -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {"a": rng.normal(size=60), "b": rng.normal(size=60), "y": np.tile([0, 1], 30)}
    )
    sheet, prepared = _sheet(frame, {}, "y")
    assert sheet.duplicates["rows"] == 0 and not _flags(sheet, "duplicates")
    assert all(s["rows"] == 0 for s in sheet.shared) and not _flags(sheet, "shared_rows")
    # one test row gets a training row's inputs (and its target: a full duplicate)
    i = int(prepared.splits["train"][0])
    j = int(next(k for k in prepared.splits["test"] if frame.loc[k, "y"] == frame.loc[i, "y"]))
    frame.loc[j] = frame.loc[i]
    sheet, _ = _sheet(frame, {}, "y")
    dup = _flags(sheet, "duplicates")
    assert len(dup) == 1 and dup[0].value == 1.0
    assert dup[0].reason.startswith("1 row repeats an earlier row in every column (1 distinct row")
    shared = _flags(sheet, "shared_rows")
    assert [(f.splits, f.value) for f in shared] == [(["train", "test"], 1.0)]
    assert shared[0].reason.startswith("1 test row has the same values in every model input")
    assert sheet.shared[1]["examples"] == [[i, j]]


def test_regression_leak_uses_r2_and_class_balance_does_not_apply() -> None:
    rng = np.random.default_rng(5)
    price = rng.normal(100, 20, 300)
    frame = pd.DataFrame(
        {"copy": price + rng.normal(0, 0.5, 300), "noise": rng.normal(size=300), "price": price}
    )
    sheet, _ = _sheet(frame, {}, "price")
    assert sheet.task == "regression" and sheet.classes is None
    assert "regression" in sheet.not_applicable["class_balance"]
    assert (
        "sensitive" in sheet.not_applicable["proxies"]
        and "sensitive" in sheet.not_applicable["groups"]
    )
    flag = _flags(sheet, "leakage")
    assert [f.column for f in flag] == ["copy"] and flag[0].measure == "r2"
    assert flag[0].value >= LEAKAGE_R2 and "R²" in flag[0].reason
    assert sheet.target_summary["mean"] == pytest.approx(float(np.mean(price)))


# ------------------------------------------------------------------ German credit vs pandas
@pytest.fixture(scope="module")
def german():
    spec = builtin_spec("german_credit")
    prepared = prepare(spec)
    raw = read_frame(spec)
    return compute_datasheet(prepared, raw), prepared, raw


def test_german_credit_numbers_match_pandas(german) -> None:
    sheet, prepared, raw = german
    assert sheet.rows == len(raw) == sheet.rows_used == 1000
    assert sheet.n_columns == raw.shape[1] == 10
    assert {c.name: c.missing for c in sheet.columns} == raw.isna().sum().to_dict()
    assert {c.name: c.distinct for c in sheet.columns} == raw.nunique().to_dict()
    counts = raw["risk"].value_counts()
    assert sheet.classes == ["0", "1"] and sheet.class_counts == [counts[0], counts[1]] == [
        300,
        700,
    ]
    groups = {g.attribute: g for g in sheet.groups}
    cross = pd.crosstab(raw["sex"], raw["risk"])
    assert [(g["name"], g["rows"], g["class_counts"]) for g in groups["sex"].groups] == [
        (s, int(cross.loc[s].sum()), [int(cross.loc[s, 0]), int(cross.loc[s, 1])])
        for s in ("female", "male")
    ]
    assert groups["sex"].groups[0]["class_counts"] == [109, 201]
    # age is banded at the training split's quartiles, then crossed with sex
    train_ages = raw["age"].to_numpy()[prepared.row_ids[prepared.splits["train"]]]
    edges = [float(e) for e in np.unique(np.quantile(train_ages, [0.25, 0.5, 0.75]))]
    assert groups["age"].band_edges == edges
    band = pd.cut(raw["age"], [-np.inf, *edges, np.inf], right=False, labels=False)
    assert [g["rows"] for g in groups["age"].groups] == band.value_counts().sort_index().tolist()
    inter = pd.crosstab(raw["sex"], band)
    assert [g["rows"] for g in groups["sex & age"].groups] == inter.to_numpy().ravel().tolist()
    assert sheet.splits == {"train": 700, "val": 150, "test": 150}
    assert sheet.duplicates["rows"] == int(raw.duplicated().sum()) == 0


def test_german_credit_findings(german) -> None:
    sheet, _, _ = german
    # what it found: nothing reaches a threshold; the strongest proxy of sex is housing
    assert sheet.flags == []
    cols = {c.name: c for c in sheet.columns}
    assert [c.name for c in sheet.columns if c.model_input] == [
        "job",
        "housing",
        "saving_accounts",
        "checking_account",
        "credit_amount",
        "duration",
        "purpose",
    ]
    strongest = max(
        (c for c in sheet.columns if c.model_input), key=lambda c: c.proxy_scores["sex"]
    )
    assert strongest.name == "housing" and strongest.proxy_scores["sex"] < PROXY_THRESHOLD
    assert cols["checking_account"].target_score == max(
        c.target_score for c in sheet.columns if c.model_input
    )
    assert cols["credit_amount"].type == "numeric"  # 84.7 % unique, below the identifier threshold


def test_round_trip_json_and_determinism(german) -> None:
    sheet, prepared, raw = german
    d = sheet.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert Datasheet.from_dict(json.loads(text)).to_dict() == d
    assert compute_datasheet(prepared, raw).to_dict() == d  # seeded: the same every time
    with pytest.raises(DataError):
        Datasheet.from_dict({"format": "something else"})
    with pytest.raises(DataError):
        Datasheet.from_dict({**d, "columns": "not a list"})
    # undefined numbers are None, never NaN, in the JSON
    broken = Datasheet.from_dict(d)
    broken.columns[0].unique_fraction = float("nan")
    assert broken.to_dict()["columns"][0]["unique_fraction"] is None


def test_progress_and_cancel() -> None:
    spec = builtin_spec("iris")
    prepared, raw = prepare(spec), read_frame(spec)
    seen: list[float] = []
    compute_datasheet(prepared, raw, progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(DatasheetCancelled):
        compute_datasheet(prepared, raw, cancel=lambda: True)
    with pytest.raises(DataError, match="needs the raw table"):
        compute_datasheet(prepared, None)


# ------------------------------------------------------------------ images
def test_images_report_what_applies(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    images = rng.integers(0, 256, size=(60, 1, 6, 6), dtype=np.uint8)
    labels = np.tile([0, 1, 2], 20)
    images[59] = images[0]  # the same picture twice (same label: a true duplicate)
    labels[59] = labels[0]
    buf = io.BytesIO()
    np.savez(buf, X=images, y=labels)
    spec = DataSpec(source="npz", path="pics.npz")
    prepared = prepare(spec, source_bytes=buf.getvalue())
    sheet = compute_datasheet(prepared)
    assert sheet.kind == "image" and sheet.rows == 60 and sheet.n_columns is None
    assert sheet.class_counts == np.bincount(labels).tolist()
    assert sheet.duplicates["rows"] == 1 and sheet.duplicates["examples"] == [[0, 59]]
    assert [f.kind for f in sheet.flags].count("duplicates") == 1
    split_of = {int(r): k for k, v in prepared.splits.items() for r in v}
    shared_rows = sum(s["rows"] for s in sheet.shared)
    assert shared_rows == (0 if split_of[0] == split_of[59] else 1)
    assert set(sheet.not_applicable) == {
        "columns",
        "missing",
        "identifiers",
        "groups",
        "proxies",
        "leakage",
    }
    assert "no columns" in sheet.not_applicable["leakage"]
    assert json.loads(json.dumps(sheet.to_dict(), allow_nan=False))["kind"] == "image"


# ------------------------------------------------------------------ the project and the CLI
def _planted_project(tmp_path: Path, capsys) -> Path:
    csv = tmp_path / "planted.csv"
    _planted().to_csv(csv, index=False)
    proj = tmp_path / "planted.wbproj"
    code, _, err = _run(
        capsys,
        "new",
        "--template",
        "mlp",
        "--data",
        str(csv),
        "--target",
        "outcome",
        "--sensitive",
        "sex",
        "--feature",  # kept as an input on purpose, so that the datasheet flags it
        "customer_id",
        "-o",
        str(proj),
    )
    assert code == 0, err
    return proj


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_project_datasheet_and_cli(tmp_path: Path, capsys) -> None:
    from workbench.core.datasheet import project_datasheet
    from workbench.core.project import load_project

    proj = _planted_project(tmp_path, capsys)
    d = project_datasheet(load_project(proj))
    assert d["title"] == "planted.csv" and d["format"] == "model-workbench-datasheet"
    assert {"duplicates", "identifier", "leakage", "proxy"} <= {f["kind"] for f in d["flags"]}

    code, out, err = _run(capsys, "datasheet", str(proj), "--json")
    assert code == 0, err
    assert json.loads(out) == json.loads(json.dumps(d))
    code, out, err = _run(capsys, "datasheet", str(proj))
    assert code == 0 and err == ""
    assert out.startswith("Datasheet of planted.csv (table, classification of 'outcome')")
    assert "rows        403 in the source, 403 used; 6 columns" in out
    for f in d["flags"]:
        assert f"  ! {f['kind']:<11} {f['reason']}" in out
    assert "sex = f" in out and "customer_id" in out

    code, out, err = _run(capsys, "datasheet", str(tmp_path / "nope.wbproj"))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    code, _, err = _run(capsys, "datasheet")
    assert code == 2 and err.startswith("error: ")


def test_cli_on_german_credit_says_no_flags(tmp_path: Path, capsys) -> None:
    proj = tmp_path / "gc.wbproj"
    assert (
        _run(capsys, "new", "--template", "mlp", "--dataset", "german_credit", "-o", str(proj))[0]
        == 0
    )
    code, out, _ = _run(capsys, "datasheet", str(proj))
    assert code == 0
    assert "flags       none" in out
    assert re.search(r"^sex = female +310  31\.0% +109 \(35\.2%\) +201 \(64\.8%\)$", out, re.M)
