"""Tests for engines.data: built-ins, import, preprocessing, splits, fingerprints, bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.data import (
    DataError,
    DataSpec,
    SplitSpec,
    apply_preprocessing,
    builtin_spec,
    list_datasets,
    prepare,
    read_frame,
    read_source,
)
from engines.data.generated import (
    LENDING_PENALTY,
    LENDING_RATES,
    LENDING_RATES_WITHOUT_PENALTY,
    lending_frame,
)
from engines.data.registry import ASSETS_DIR, builtin_csv_bytes

BUILTIN_IDS = [d.id for d in list_datasets()]


def csv_spec(**kw) -> DataSpec:
    return DataSpec(source="csv", path=kw.pop("path", "data.csv"), **kw)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


@pytest.fixture(scope="module")
def prepared() -> dict:
    return {name: prepare(builtin_spec(name)) for name in BUILTIN_IDS}


def small_table(n: int = 60, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(10, 3, n).round(3),
            "b": rng.integers(0, 100, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "label": rng.choice(["yes", "no"], n),
        }
    )


# ---------------------------------------------------------------- built-ins
def test_builtins_are_listed():
    assert BUILTIN_IDS == [
        "digits",
        "breast_cancer",
        "wine",
        "iris",
        "german_credit",
        "sequences",
        "lending",
    ]
    for info in list_datasets():
        assert info.description and info.title
        assert json.loads(json.dumps(info.to_dict()))["id"] == info.id


def test_listing_datasets_imports_no_heavy_library():
    code = (
        "import sys, engines.data as d; d.list_datasets(); "
        "print(sorted(m for m in ('pandas', 'sklearn', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", BUILTIN_IDS)
def test_builtin_matches_its_listing(prepared, name):
    info = next(d for d in list_datasets() if d.id == name)
    p = prepared[name]
    assert p.kind == info.kind and p.task == info.task
    assert p.n_rows == info.n_rows == len(p.y) == len(p.row_ids)
    assert p.n_outputs == len(p.class_names) == info.n_classes
    assert set(np.unique(p.y)) == set(range(info.n_classes))
    assert p.X.dtype == np.float32 and p.y.dtype == np.int64
    assert p.X.shape == (info.n_rows, *p.input_shape)
    assert sorted(p.sensitive) == sorted(info.sensitive)
    assert p.preprocessing["target"]["name"] == info.target
    if p.kind == "table":
        assert len(p.preprocessing["columns"]) == info.n_features
        assert p.input_shape == (len(p.feature_names),)
    elif p.kind == "image":
        assert int(np.prod(p.input_shape)) == info.n_features
    else:
        assert p.input_shape[-1] == info.n_features
    assert np.isfinite(p.X).all()
    json.dumps(p.preprocessing)  # JSON-able


def test_builtin_shapes(prepared):
    digits = prepared["digits"]
    assert digits.input_shape == (1, 8, 8)
    assert digits.X.min() == 0.0 and digits.X.max() == 1.0
    assert digits.class_names == [str(i) for i in range(10)]
    assert prepared["sequences"].input_shape == (20, 4)
    assert prepared["iris"].class_names == ["setosa", "versicolor", "virginica"]
    german = prepared["german_credit"]
    assert german.class_names == ["0", "1"] and int((german.y == 1).sum()) == 700
    assert (german.sensitive["sex"] == "female").sum() == 310
    assert "sex" not in {c["name"] for c in german.preprocessing["columns"]}
    assert any(name.startswith("purpose=") for name in german.feature_names)


def test_german_credit_asset_and_licence():
    import hashlib

    digest = hashlib.sha256((ASSETS_DIR / "german_credit.csv").read_bytes()).hexdigest()
    assert digest == "321ff0594e1f887ad6bf05dc51d34c616f1c32dca8c7cdb141434df295f67997"
    note = (ASSETS_DIR / "german_credit.LICENSE.md").read_text()
    assert digest in note and "DbCL" in note and "Hofmann" in note


def test_generated_builtins_are_deterministic_csv_frames():
    for name in ("sequences", "lending"):
        data = builtin_csv_bytes(name)
        builtin_csv_bytes.cache_clear()
        assert builtin_csv_bytes(name) == data
        # parsing and re-writing the CSV gives the same bytes: the frame is CSV-equivalent
        assert csv_bytes(pd.read_csv(io.BytesIO(data))) == data
    assert (
        prepare(builtin_spec("lending")).fingerprint == prepare(builtin_spec("lending")).fingerprint
    )


def test_builtin_equals_the_same_csv_imported(prepared):
    spec = csv_spec(roles={"risk": "target", "sex": "sensitive", "age": "sensitive"})
    p = prepare(spec, builtin_csv_bytes("german_credit"))
    assert np.array_equal(p.X, prepared["german_credit"].X)
    assert p.feature_names == prepared["german_credit"].feature_names


def test_sensitive_columns_can_be_inputs():
    spec = builtin_spec("german_credit")
    spec.sensitive_as_features = True
    p = prepare(spec)
    assert "sex=female" in p.feature_names and "age" in p.feature_names
    assert "sex" in p.sensitive


# ---------------------------------------------------------------- lending ground truth
def test_lending_bias_ground_truth(prepared):
    p = prepared["lending"]
    group = p.sensitive["group"]
    approved = p.y == p.class_names.index("1")
    assert (group == "A").sum() == (group == "B").sum() == 1000
    rate_a, rate_b = approved[group == "A"].mean(), approved[group == "B"].mean()
    assert rate_a == pytest.approx(LENDING_RATES["A"], abs=1e-12)
    assert rate_b == pytest.approx(LENDING_RATES["B"], abs=1e-12)
    assert rate_a - rate_b == pytest.approx(0.224, abs=1e-12)
    info = next(d for d in list_datasets() if d.id == "lending")
    assert "0.224" in info.description and f"{LENDING_PENALTY:g} log-odds" in info.description
    # without the penalty the gap vanishes: the bias is the penalty, not the features
    fair = lending_frame(penalty=0.0)
    rates = fair.groupby("group")["approved"].mean()
    assert rates["A"] == pytest.approx(LENDING_RATES_WITHOUT_PENALTY["A"], abs=1e-12)
    assert rates["B"] == pytest.approx(LENDING_RATES_WITHOUT_PENALTY["B"], abs=1e-12)
    assert abs(rates["A"] - rates["B"]) < 0.02
    frame = lending_frame()
    by_group = frame.groupby("group")[["income", "debt_ratio", "loan_amount"]].mean()
    assert np.allclose(by_group.loc["A"], by_group.loc["B"], rtol=0.1)


# ---------------------------------------------------------------- sequences learnable
def test_sequence_task_is_learnable(prepared):
    from sklearn.linear_model import LogisticRegression

    p = prepared["sequences"]

    def summary(x: np.ndarray) -> np.ndarray:
        # mean of each channel over the early and late half: enough for which-channel / when
        return np.concatenate([x[:, :10].mean(axis=1), x[:, 10:].mean(axis=1)], axis=1)

    x_tr, y_tr, _ = p.split("train")
    x_te, y_te, _ = p.split("test")
    clf = LogisticRegression(max_iter=1000).fit(summary(x_tr), y_tr)
    assert clf.score(summary(x_te), y_te) > 0.9  # chance is 0.25


def test_sequence_task_is_learnable_by_a_small_lstm(prepared):
    torch = pytest.importorskip("torch")
    p = prepared["sequences"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: thread hand-offs would cost 30x the compute
    try:
        torch.manual_seed(0)
        lstm = torch.nn.LSTM(4, 16, batch_first=True)
        head = torch.nn.Linear(16, 4)
        opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=0.02)
        x_tr, y_tr, _ = p.split("train")
        x, y = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
        for _epoch in range(2):
            for i in range(0, len(x), 32):
                out, _ = lstm(x[i : i + 32])
                loss = torch.nn.functional.cross_entropy(head(out[:, -1]), y[i : i + 32])
                opt.zero_grad()
                loss.backward()
                opt.step()
        x_te, y_te, _ = p.split("test")
        with torch.no_grad():
            out, _ = lstm(torch.from_numpy(x_te))
            acc = (head(out[:, -1]).argmax(1).numpy() == y_te).mean()
    finally:
        torch.set_num_threads(threads)
    assert acc > 0.9  # chance is 0.25


# ---------------------------------------------------------------- splits
def test_split_is_disjoint_covering_and_stratified(prepared):
    p = prepared["wine"]
    parts = [p.splits[k] for k in ("train", "val", "test")]
    everything = np.concatenate(parts)
    assert len(everything) == len(set(everything.tolist())) == p.n_rows
    assert [len(s) for s in parts] == [124, 27, 27]
    overall = np.bincount(p.y) / p.n_rows
    for idx in parts:
        share = np.bincount(p.y[idx], minlength=3) / len(idx)
        assert np.abs(share - overall).max() < 0.05
    assert p.preprocessing["split"]["stratified"] is True


def test_split_is_seeded():
    a = prepare(builtin_spec("iris"))
    b = prepare(builtin_spec("iris"))
    assert all(np.array_equal(a.splits[k], b.splits[k]) for k in a.splits)
    spec = builtin_spec("iris")
    spec.split = SplitSpec(seed=1)
    c = prepare(spec)
    assert not np.array_equal(a.splits["train"], c.splits["train"])
    x, y, rows = a.split("val")
    assert np.array_equal(x, a.X[a.splits["val"]]) and np.array_equal(
        rows, a.row_ids[a.splits["val"]]
    )


def test_split_fractions_and_zero_validation():
    spec = builtin_spec("iris")
    spec.split = SplitSpec(train=0.8, val=0.0, test=0.2)
    p = prepare(spec)
    assert len(p.splits["val"]) == 0 and len(p.splits["test"]) == 30


def test_split_falls_back_to_unstratified_with_reason():
    frame = small_table(40)
    frame.loc[0, "label"] = "rare"
    p = prepare(csv_spec(), csv_bytes(frame))
    assert p.preprocessing["split"]["stratified"] is False
    assert "'rare' has only 1 row" in p.preprocessing["split"]["reason"]
    assert any("not stratified" in n for n in p.notes)


# ---------------------------------------------------------------- preprocessing
def test_standardisation_uses_train_statistics_only():
    frame = small_table(100)
    p = prepare(csv_spec(), csv_bytes(frame))
    train_rows = p.row_ids[p.splits["train"]]
    col = next(c for c in p.preprocessing["columns"] if c["name"] == "a")
    assert col["mean"] == pytest.approx(frame["a"].iloc[train_rows].mean(), rel=1e-12)
    assert col["std"] == pytest.approx(frame["a"].iloc[train_rows].std(ddof=0), rel=1e-12)
    assert col["mean"] != pytest.approx(frame["a"].mean(), rel=1e-6)
    j = p.feature_names.index("a")
    assert p.X[p.splits["train"], j].mean() == pytest.approx(0.0, abs=1e-5)
    assert p.X[p.splits["train"], j].std() == pytest.approx(1.0, abs=1e-5)
    # an outlier in the test split must not move the fitted statistics
    test_row = int(p.row_ids[p.splits["test"][0]])
    frame.loc[test_row, "a"] = 1e6
    q = prepare(csv_spec(), csv_bytes(frame))
    assert next(c for c in q.preprocessing["columns"] if c["name"] == "a")["mean"] == col["mean"]


def test_one_hot_categories_come_from_train_and_unseen_is_zero():
    frame = small_table(60)
    p = prepare(csv_spec(), csv_bytes(frame))
    colour = next(c for c in p.preprocessing["columns"] if c["name"] == "colour")
    assert colour["categories"] == ["blue", "green", "red"]
    raw = frame.iloc[[0]].copy()
    raw["colour"] = "purple"
    x = apply_preprocessing(p.preprocessing, raw)
    cols = [i for i, n in enumerate(p.feature_names) if n.startswith("colour=")]
    assert (x[0, cols] == 0).all()


def test_numeric_column_can_be_one_hot():
    frame = small_table(60)
    frame["b"] = frame["b"] % 3
    p = prepare(csv_spec(columns={"b": {"type": "categorical"}}), csv_bytes(frame))
    assert [n for n in p.feature_names if n.startswith("b=")] == ["b=0", "b=1", "b=2"]


@pytest.mark.parametrize("policy", ["mean", "median", "most_frequent", "constant"])
def test_missing_value_policies(policy):
    # fill values come from the observed training values; row 40's gap is filled with them
    values = [1.0] * 20 + [2.0] * 10 + [5.0] * 10
    frame = pd.DataFrame({"v": values + [np.nan], "label": ["p", "q"] * 20 + ["p"]})
    spec = csv_spec(columns={"v": {"missing": policy, "fill_value": -5.0, "scale": "none"}})
    spec.split = SplitSpec(train=0.7, val=0.15, test=0.15)
    p = prepare(spec, csv_bytes(frame))
    col = p.preprocessing["columns"][0]
    train_vals = np.asarray(values + [np.nan])[p.row_ids[p.splits["train"]]]
    observed = train_vals[~np.isnan(train_vals)]
    want = {
        "mean": observed.mean(),
        "median": np.median(observed),
        "most_frequent": 1.0,
        "constant": -5.0,
    }[policy]
    assert col["fill_value"] == pytest.approx(want)
    assert p.X[p.row_ids.tolist().index(40), 0] == pytest.approx(want)


def test_drop_policy_keeps_original_row_ids():
    frame = small_table(50)
    frame.loc[[3, 17], "a"] = np.nan
    frame.loc[25, "label"] = np.nan  # a missing target always drops the row
    p = prepare(csv_spec(columns={"a": {"missing": "drop"}}), csv_bytes(frame))
    assert p.n_rows == 47
    assert not {3, 17, 25} & set(p.row_ids.tolist())
    assert np.array_equal(p.row_ids, np.setdiff1d(np.arange(50), [3, 17, 25]))
    again = apply_preprocessing(p.preprocessing, frame.iloc[p.row_ids])
    assert np.array_equal(again, p.X)
    with pytest.raises(DataError, match="policy is to drop"):
        apply_preprocessing(p.preprocessing, frame.iloc[[3]])


@pytest.mark.parametrize("name", ["german_credit", "lending", "iris"])
def test_apply_preprocessing_reproduces_x(prepared, name):
    p = prepared[name]
    frame = read_frame(builtin_spec(name))
    prep = json.loads(json.dumps(p.preprocessing))
    assert np.array_equal(apply_preprocessing(prep, frame.iloc[p.row_ids]), p.X)


def test_apply_preprocessing_for_images_and_sequences(prepared):
    digits = prepared["digits"]
    frame = read_frame(builtin_spec("digits"))
    assert np.array_equal(apply_preprocessing(digits.preprocessing, frame), digits.X)
    raw = frame.drop(columns="digit").to_numpy().reshape(-1, 1, 8, 8)
    assert np.array_equal(apply_preprocessing(digits.preprocessing, raw), digits.X)
    seq = prepared["sequences"]
    sframe = read_frame(builtin_spec("sequences"))
    assert np.array_equal(apply_preprocessing(seq.preprocessing, sframe), seq.X)
    train = seq.X[seq.splits["train"]].reshape(-1, 4)
    assert np.allclose(train.mean(axis=0), 0, atol=1e-5)


def test_task_inference_and_override():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=80), "price": rng.normal(100, 10, 80)})
    p = prepare(csv_spec(), csv_bytes(frame))
    assert p.task == "regression" and p.n_outputs == 1 and p.y.dtype == np.float32
    assert p.preprocessing["split"]["stratified"] is False
    frame["price"] = (frame["price"] > 100).astype(float)
    assert prepare(csv_spec(), csv_bytes(frame)).task == "classification"
    assert prepare(csv_spec(task="regression"), csv_bytes(frame)).task == "regression"


def test_target_inference():
    frame = small_table(40)[["label", "a", "b"]]
    assert prepare(csv_spec(), csv_bytes(frame)).preprocessing["target"]["name"] == "label"
    frame = frame.rename(columns={"label": "outcome"})
    p = prepare(csv_spec(), csv_bytes(frame))
    # the last column is the target; integers with at most 50 distinct values are classes
    assert p.preprocessing["target"]["name"] == "b" and p.task == "classification"
    p = prepare(csv_spec(roles={"outcome": "target", "b": "ignore"}), csv_bytes(frame))
    assert p.feature_names == ["a"] and p.preprocessing["ignored"] == ["b"]


# ---------------------------------------------------------------- fingerprint
def test_fingerprint_tracks_bytes_and_preprocessing(tmp_path):
    frame = small_table(40)
    data = csv_bytes(frame)
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    base = prepare(csv_spec(path=str(path))).fingerprint
    assert prepare(csv_spec(path="elsewhere/t.csv"), data).fingerprint == base
    assert (
        prepare(csv_spec(path=str(path)), read_source(csv_spec(path=str(path)))).fingerprint == base
    )
    changed = frame.copy()
    changed.loc[0, "a"] += 1
    assert prepare(csv_spec(), csv_bytes(changed)).fingerprint != base
    assert prepare(csv_spec(), data + b"\n").fingerprint != base
    assert prepare(csv_spec(columns={"a": {"scale": "none"}}), data).fingerprint != base
    assert prepare(csv_spec(split=SplitSpec(seed=3)), data).fingerprint != base
    assert prepare(csv_spec(roles={"b": "ignore"}), data).fingerprint != base
    assert len(base) == 64 and int(base, 16) >= 0


def test_builtin_fingerprints_differ_and_are_stable(prepared):
    prints = {p.fingerprint for p in prepared.values()}
    assert len(prints) == len(prepared)
    assert prepare(builtin_spec("wine")).fingerprint == prepared["wine"].fingerprint


# ---------------------------------------------------------------- file sources
def test_parquet_matches_csv(tmp_path):
    frame = small_table(50)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    p = prepare(DataSpec(source="parquet", path=str(path)))
    q = prepare(csv_spec(), csv_bytes(frame))
    assert np.array_equal(p.X, q.X) and np.array_equal(p.y, q.y)
    assert read_source(DataSpec(source="parquet", path=str(path))) == path.read_bytes()


def test_npz_table_and_sequence(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "t.npz"
    np.savez(path, X=rng.normal(size=(60, 3)), y=rng.integers(0, 2, 60))
    p = prepare(DataSpec(source="npz", path=str(path)))
    assert p.kind == "table" and p.feature_names == ["x0", "x1", "x2"]
    names = np.array(["neg", "pos"])
    np.savez(path, X=rng.normal(size=(60, 7, 2)), y=rng.integers(0, 2, 60), class_names=names)
    p = prepare(DataSpec(source="npz", path=str(path)))
    assert p.kind == "sequence" and p.input_shape == (7, 2) and p.class_names == ["neg", "pos"]
    np.savez(path, X=rng.integers(0, 256, (60, 3, 5, 5)).astype(np.uint8), y=rng.integers(0, 3, 60))
    p = prepare(DataSpec(source="npz", path=str(path)))
    assert p.kind == "image" and p.input_shape == (3, 5, 5) and p.X.max() <= 1.0


def make_image_folder(root: Path, n: int = 6) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, name in enumerate(["cat", "dog"]):
        (root / name).mkdir(parents=True)
        for i in range(n):
            arr = np.full((12, 10, 3), 40 + 150 * k, dtype=np.uint8) + rng.integers(
                0, 30, (12, 10, 3), dtype=np.uint8
            )
            Image.fromarray(arr).save(root / name / f"{i}.png")
        (root / name / "notes.txt").write_text("ignored")
    return root


def test_image_folder_embeds_and_reopens(tmp_path):
    folder = make_image_folder(tmp_path / "imgs")
    spec = DataSpec(source="image_folder", path=str(folder), image_size=(8, 8))
    data = read_source(spec)
    assert data == read_source(spec)  # deterministic bytes
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    p = prepare(spec)
    assert p.kind == "image" and p.input_shape == (1, 8, 8) and p.class_names == ["cat", "dog"]
    assert p.n_rows == 12 and 0.0 <= p.X.min() and p.X.max() <= 1.0
    assert p.X[p.y == 1].mean() > p.X[p.y == 0].mean()
    import shutil

    shutil.rmtree(folder)
    again = prepare(spec, data)
    assert np.array_equal(again.X, p.X) and again.fingerprint == p.fingerprint
    rgb = DataSpec(
        source="image_folder",
        path=str(make_image_folder(tmp_path / "b")),
        image_size=(4, 6),
        image_mode="rgb",
    )
    assert prepare(rgb).input_shape == (3, 4, 6)


# ---------------------------------------------------------------- data spec
def test_dataspec_round_trip():
    spec = DataSpec(
        source="csv",
        path="x.csv",
        roles={"g": "sensitive", "t": "target", "junk": "ignore"},
        target="t",
        task="classification",
        columns={"a": {"type": "categorical", "missing": "constant", "fill_value": "none"}},
        split=SplitSpec(train=0.6, val=0.2, test=0.2, seed=5, stratify=False),
        sensitive_as_features=True,
        image_size=(16, 24),
        image_mode="rgb",
    )
    again = DataSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert DataSpec.from_dict(builtin_spec("german_credit").to_dict()) == builtin_spec(
        "german_credit"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"source": "excel"}, "Unknown data source 'excel'"),
        ({"roles": {"a": "weight"}}, "unknown role 'weight'"),
        ({"task": "ranking"}, "Unknown task 'ranking'"),
        ({"split": {"train": 0.5, "val": 0.1, "test": 0.1}}, "add up to 1"),
        ({"split": {"seed": -1}}, "seed"),
        ({"split": {"folds": 3}}, "Unknown split field 'folds'"),
        ({"columns": {"a": {"missing": "guess"}}}, "missing must be one of"),
        ({"columns": {"a": {"missing": "constant"}}}, "needs a 'fill_value'"),
        (
            {"columns": {"a": {"type": "numeric", "missing": "constant", "fill_value": "x"}}},
            "must be a number",
        ),
        ({"columns": {"a": {"colour": 1}}}, "unknown preprocessing setting"),
        ({"extra": 1}, "Unknown data spec field 'extra'"),
        ({"path": None}, "needs a 'path'"),
        ({"image_size": [0, 8]}, "image_size"),
        ({"roles": {"a": "target", "b": "target"}}, "Only one column can be the target"),
    ],
)
def test_dataspec_from_dict_rejects(change, message):
    d = csv_spec().to_dict()
    d.update(change)
    with pytest.raises(DataError, match=message):
        DataSpec.from_dict(d)


def test_from_dict_rejects_non_object():
    with pytest.raises(DataError, match="JSON object"):
        DataSpec.from_dict([1, 2])


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("data", "spec_kw", "message"),
    [
        (b"", {}, "is empty"),
        (b"  \n\n", {}, "is empty"),
        (b"a,b,label\n", {}, "no data rows"),
        (b"\xff\xfe\x00a", {}, "binary file"),
        (b"a,label\n\xe9t\xe9,1\n", {}, "not UTF-8"),
        (b"a;b;label\n1;2;3\n4;5;6\n", {}, "only one column"),
        (b"a,b\n1,2\n3,4\n", {"target": "label"}, "Target column 'label' is missing"),
        (b"a,label\n1,x\n2,x\n3,x\n", {}, "only one class"),
        (b"a,b,label\n1,,p\n2,,q\n3,,p\n", {}, "Column 'b' has no values"),
        (
            b"a,label\n1,p\nzz,q\n3,p\n",
            {"columns": {"a": {"type": "numeric"}}},
            "non-numeric values such as 'zz'",
        ),
        (
            b"a,label\n1,p\n2,q\n",
            {"roles": {"nope": "ignore"}},
            "Column 'nope' named in the data spec",
        ),
        (b"a,label\n1,p\n2,q\n", {"roles": {"a": "ignore"}}, "no feature columns"),
        (b"a,label\ninf,p\n2,q\n3,q\n", {}, "infinite"),
        (b"a,label\n1,p\n2,q\n", {}, "too few to split"),
        (b'a,b\n"1,2\n', {}, "could not be parsed as CSV"),
    ],
)
def test_bad_csv_gets_a_specific_message(data, spec_kw, message):
    with pytest.raises(DataError, match=message):
        prepare(csv_spec(**spec_kw), data)


def test_unknown_role_is_rejected_by_prepare():
    with pytest.raises(DataError, match="unknown role 'key'"):
        prepare(csv_spec(roles={"a": "key"}), b"a,label\n1,2\n")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="was not found"):
        prepare(csv_spec(path=str(tmp_path / "nope.csv")))
    with pytest.raises(DataError, match="is a folder"):
        read_source(csv_spec(path=str(tmp_path)))
    with pytest.raises(DataError, match="no built-in dataset 'mnist'"):
        builtin_spec("mnist")
    with pytest.raises(DataError, match="no built-in dataset 'mnist'"):
        prepare(DataSpec(source="builtin", name="mnist"))


def test_bad_npz(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, X=np.array([[1], ["a"]], dtype=object), y=np.array([0, 1]))
    with pytest.raises(DataError, match="object array"):
        prepare(DataSpec(source="npz", path=str(path)))
    np.savez(path, X=np.zeros((4, 2)))
    with pytest.raises(DataError, match="no array 'y'"):
        prepare(DataSpec(source="npz", path=str(path)))
    np.savez(path, X=np.zeros((4, 2)), y=np.zeros(3))
    with pytest.raises(DataError, match="4 rows but y has 3"):
        prepare(DataSpec(source="npz", path=str(path)))
    npy = tmp_path / "one.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(DataError, match="single .npy array"):
        prepare(DataSpec(source="npz", path=str(npy)))
    import pickle

    with pytest.raises(DataError, match="pickled"):
        prepare(DataSpec(source="npz", path="x.npz"), pickle.dumps({"X": 1}))  # noqa: S301
    with pytest.raises(DataError, match="not a NumPy .npz"):
        prepare(DataSpec(source="npz", path="x.npz"), b"PK\x03\x04garbage")


def test_bad_parquet():
    with pytest.raises(DataError, match="not a Parquet file"):
        prepare(DataSpec(source="parquet", path="x.parquet"), b"a,b\n1,2\n")
    with pytest.raises(DataError, match="could not be read as Parquet"):
        prepare(DataSpec(source="parquet", path="x.parquet"), b"PAR1" + b"\x00" * 20 + b"PAR1")


def test_bad_image_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class sub-folders"):
        read_source(DataSpec(source="image_folder", path=str(tmp_path / "empty")))
    folder = make_image_folder(tmp_path / "imgs", n=3)
    (folder / "cat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="Image 'cat/broken.png' could not be read"):
        read_source(DataSpec(source="image_folder", path=str(folder)))
    (folder / "bird").mkdir()
    (folder / "cat" / "broken.png").unlink()
    with pytest.raises(DataError, match="Class folder 'bird' has no images"):
        read_source(DataSpec(source="image_folder", path=str(folder)))
    (folder / "bird").rmdir()
    spec = DataSpec(source="image_folder", path=str(folder), image_size=(8, 8))
    data = read_source(spec)
    spec.image_size = (9, 9)
    with pytest.raises(DataError, match="re-import the image folder"):
        prepare(spec, data)


# ---------------------------------------------------------------- generated bad input
cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.text(max_size=6),
    st.sampled_from(["", "NA", "nan", "True", "1e400", "-0", "a,b", '"', "\n"]),
)


@st.composite
def tables(draw) -> tuple[str, DataSpec]:
    """Random small CSV texts, sometimes well-formed, with a spec that may name a column."""
    n_cols = draw(st.integers(1, 4))
    n_rows = draw(st.integers(0, 12))
    header = [draw(st.text(min_size=0, max_size=4)) for _ in range(n_cols)]
    if draw(st.booleans()):
        header = [f"c{i}" for i in range(n_cols)]
    rows = [[draw(cells) for _ in range(n_cols)] for _ in range(n_rows)]
    lines = [",".join(header)] + [",".join(str(c) for c in row) for row in rows]
    task = draw(st.sampled_from([None, "classification", "regression"]))
    col = header[0]
    columns: dict = {}
    if draw(st.booleans()):
        columns[col] = {
            "type": draw(st.sampled_from(["numeric", "categorical"])),
            "missing": draw(st.sampled_from(["drop", "most_frequent", "constant"])),
            "fill_value": 0,
        }
    roles = (
        {col: draw(st.sampled_from(["feature", "sensitive", "ignore"]))}
        if draw(st.booleans())
        else {}
    )
    return "\n".join(lines), csv_spec(task=task, columns=columns, roles=roles)


def _prepare_or_data_error(spec: DataSpec, data: bytes) -> None:
    try:
        p = prepare(spec, data)
    except DataError as exc:
        assert str(exc).strip() and "\n" not in str(exc)
        return
    assert np.isfinite(p.X).all() and len(p.X) == len(p.y) == len(p.row_ids)
    assert sum(len(v) for v in p.splits.values()) == len(p.X)
    json.dumps(p.preprocessing)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_random_bytes_only_raise_data_error(data):
    _prepare_or_data_error(csv_spec(), data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_random_tables_only_raise_data_error(case):
    text, spec = case
    _prepare_or_data_error(spec, text.encode())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=120))
def test_random_bytes_as_npz_or_parquet_only_raise_data_error(data):
    _prepare_or_data_error(DataSpec(source="npz", path="x.npz"), data)
    _prepare_or_data_error(DataSpec(source="parquet", path="x.parquet"), b"PAR1" + data)


def test_random_numeric_tables_usually_prepare():
    # the generated-input tests must not pass only because everything is rejected
    rng = np.random.default_rng(0)
    for seed in range(5):
        frame = pd.DataFrame(rng.normal(size=(30, 3)), columns=["a", "b", "c"])
        frame["label"] = rng.integers(0, 2, 30) + seed
        assert prepare(csv_spec(), csv_bytes(frame)).n_rows == 30
