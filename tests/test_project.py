"""The project document and the .wbproj file: round trips, hostile files, crashes, migration."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench.core.project as wp
from engines.graph import Graph
from workbench import __version__
from workbench.core.migrations import SCHEMA_VERSION, MigrationError, migrate
from workbench.core.project import (
    FORMAT,
    Project,
    ProjectFileError,
    Run,
    autosave,
    discard_recovery,
    list_recoveries,
    load_project,
    recovery_path,
    save_project,
    weights_digest,
)

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ helpers
def make_graph(hidden: int = 8) -> Graph:
    g = Graph()
    g.add_node("input", {"shape": [4]}, id="x", position=(0, 0))
    g.add_node("linear", {"out_features": hidden}, id="fc1", position=(120, 0))
    g.add_node("relu", id="act", position=(240, 0))
    g.add_node("linear", {"out_features": 3}, id="fc2", position=(360, 0))
    g.add_node("output", id="y", position=(480, 0))
    for a, b in [("x", "fc1"), ("fc1", "act"), ("act", "fc2"), ("fc2", "y")]:
        g.connect(a, b)
    return g


def make_weights(seed: int = 0, hidden: int = 8) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "layers.fc1.weight": torch.randn(hidden, 4, generator=gen),
        "layers.fc1.bias": torch.randn(hidden, generator=gen),
        "layers.fc2.weight": torch.randn(3, hidden, generator=gen),
        "layers.fc2.bias": torch.randn(3, generator=gen),
    }


def make_run(run_id: str = "r1", seed: int = 0, weights: bool = True) -> Run:
    return Run(
        id=run_id,
        name=f"run {run_id}",
        created="2024-05-01T12:00:00+00:00",
        config={"optimizer": "adam", "lr": 0.001, "epochs": 3, "seed": seed},
        status="completed",
        message="",
        history={
            "step": {"loss": [1.5, 1.2, 0.9, 0.7], "lr": [0.001] * 4},
            "epoch": {
                "train_loss": [1.1, 0.8, 0.6],
                "val_accuracy": [0.5, 0.7, 0.8],
                "grad_norm": {"fc1": [0.3, 0.2, 0.1], "fc2": [0.5, 0.4, 0.2]},
                "confusion": [[[3, 1, 0], [0, 4, 1], [1, 0, 5]]] * 3,
            },
        },
        metrics={"accuracy": 0.8, "loss": 0.6, "confusion": [[3, 1], [0, 4]]},
        weights=make_weights(seed) if weights else None,
        data_fingerprint="f" * 64,
    )


CSV = b"a,b,c,d,label\n1,2,3,4,0\n5,6,7,8,1\n"


def make_project(n_runs: int = 2) -> Project:
    p = Project.new(
        "Iris MLP",
        make_graph(),
        {"source": "csv", "path": "iris.csv", "target": "label"},
        data_fingerprint="f" * 64,
        train_config={"optimizer": "adam", "lr": 0.001, "epochs": 3},
        embedded={"data/source.csv": CSV},
        ui={"zoom": 1.5, "docks": ["plots", "graph"]},
    )
    for i in range(n_runs):
        p.add_run(make_run(f"r{i + 1}", seed=i, weights=i != 1))
    p.active_run = p.runs[-1].id if p.runs else None
    return p


def entries_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_zip(
    path: Path,
    entries: dict[str, bytes] | list[tuple[str, bytes]],
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    items = entries.items() if isinstance(entries, dict) else entries
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about deliberate duplicate names
        with zipfile.ZipFile(path, "w", compression) as zf:
            for name, blob in items:
                zf.writestr(
                    zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), blob, compress_type=compression
                )
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "good.wbproj"
    save_project(make_project(), path)
    return path


def assert_same_weights(
    a: dict[str, torch.Tensor] | None, b: dict[str, torch.Tensor] | None
) -> None:
    assert (a is None) == (b is None)
    if a is None or b is None:
        return
    assert set(a) == set(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert torch.equal(a[k], b[k]), k


# ---------------------------------------------------------------------------- round trip
def test_round_trip_gives_back_everything(tmp_path: Path) -> None:
    p = make_project(n_runs=3)
    p.runs[0].weights = {
        **make_weights(0),
        "half": torch.randn(5, 3).half(),
        "bf16": torch.randn(7).bfloat16(),
        "steps": torch.arange(10, dtype=torch.int64),
        "mask": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 4),
    }
    p.embedded["data/extra.npz"] = _npz_bytes(x=np.arange(6.0).reshape(2, 3))
    path = tmp_path / "p.wbproj"
    save_project(p, path)
    q = load_project(path)

    assert q == p  # every field but the tensors
    assert q.graph.to_dict() == p.graph.to_dict()
    assert q.app_version == __version__
    assert [r.history for r in q.runs] == [r.history for r in p.runs]
    assert q.embedded == p.embedded
    assert q.active().id == "r3"  # type: ignore[union-attr]
    for a, b in zip(p.runs, q.runs):
        assert_same_weights(a.weights, b.weights)
    assert q.runs[1].weights is None


def test_round_trip_of_an_empty_project_and_of_a_resave(tmp_path: Path) -> None:
    p = Project.new("empty", Graph())
    save_project(p, tmp_path / "e.wbproj")
    q = load_project(tmp_path / "e.wbproj")
    assert q == p and q.runs == [] and q.active() is None
    save_project(q, tmp_path / "e.wbproj")
    assert load_project(tmp_path / "e.wbproj") == q


def test_archive_layout(saved: Path) -> None:
    with zipfile.ZipFile(saved) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        doc = json.loads(zf.read("project.json"))
    assert set(infos) == {
        "project.json",
        "runs/r1/history.json",
        "runs/r1/weights.safetensors",
        "runs/r2/history.json",
        "data/source.csv",
    }
    assert infos["runs/r1/weights.safetensors"].compress_type == zipfile.ZIP_STORED
    assert infos["runs/r1/history.json"].compress_type == zipfile.ZIP_DEFLATED
    assert doc["format"] == FORMAT and doc["schema_version"] == SCHEMA_VERSION
    assert doc["app_version"] == __version__
    assert doc["runs"][1]["weights_file"] is None
    assert doc["embedded"] == [
        {
            "name": "data/source.csv",
            "sha256": __import__("hashlib").sha256(CSV).hexdigest(),
            "size": len(CSV),
        }
    ]


def test_tied_and_strided_weights_are_saved(tmp_path: Path) -> None:
    w = torch.randn(4, 6)
    p = make_project(1)
    p.runs[0].weights = {"enc": w, "dec": w, "t": w.t(), "row": w[1]}
    save_project(p, tmp_path / "t.wbproj")
    got = load_project(tmp_path / "t.wbproj").runs[0].weights
    assert got is not None
    for k, v in {"enc": w, "dec": w, "t": w.t(), "row": w[1]}.items():
        assert torch.equal(got[k], v)


def test_repetitive_history_is_not_mistaken_for_a_zip_bomb(tmp_path: Path) -> None:
    # A constant learning rate over many steps deflates far beyond the bomb ratio.
    p = make_project(1)
    p.runs[0].history = {"step": {"lr": [0.001] * 600_000}}
    save_project(p, tmp_path / "h.wbproj")
    assert load_project(tmp_path / "h.wbproj").runs[0].history == p.runs[0].history


def test_numpy_values_in_metrics_are_stored_as_json(tmp_path: Path) -> None:
    p = make_project(1)
    p.runs[0].metrics = {"acc": np.float32(0.5), "per_class": np.array([1, 2])}
    save_project(p, tmp_path / "n.wbproj")
    assert load_project(tmp_path / "n.wbproj").runs[0].metrics == {"acc": 0.5, "per_class": [1, 2]}


def test_save_sets_modified_and_keeps_created(tmp_path: Path) -> None:
    p = make_project()
    p.created, p.modified = "2020-01-01T00:00:00+00:00", "2020-01-01T00:00:00+00:00"
    save_project(p, tmp_path / "m.wbproj")
    q = load_project(tmp_path / "m.wbproj")
    assert q.created == "2020-01-01T00:00:00+00:00"
    assert q.modified == p.modified and q.modified > "2020"


# -------------------------------------------------------------------- document helpers
def test_project_run_helpers() -> None:
    p = make_project(n_runs=3)
    assert p.run("r2").name == "run r2"
    with pytest.raises(KeyError):
        p.run("nope")
    assert p.active() is p.runs[2]
    assert p.rename_run("r1", "baseline") == "run r1" and p.run("r1").name == "baseline"
    with pytest.raises(ValueError, match="already exists"):
        p.add_run(make_run("r1"))
    with pytest.raises(ValueError, match="not valid"):
        p.add_run(make_run("../x"))
    run, index = p.remove_run("r3")
    assert index == 2 and p.active_run == "r2"  # the last remaining run becomes active
    p.add_run(run, index=index)  # undo
    assert [r.id for r in p.runs] == ["r1", "r2", "r3"]
    p.active_run = "r1"
    p.remove_run("r2")
    assert p.active_run == "r1"
    assert Run.new_id() != Run.new_id()


def test_save_refuses_an_unserialisable_project_and_keeps_the_old_file(saved: Path) -> None:
    before = snapshot(saved.parent)
    p = make_project()
    p.train_config["callback"] = object()
    with pytest.raises(ProjectFileError, match="not JSON-serialisable"):
        save_project(p, saved)
    p = make_project()
    p.embedded["../outside.csv"] = b"x"
    with pytest.raises(ProjectFileError, match="under data/"):
        save_project(p, saved)
    p = make_project()
    p.embedded["data/model.bin"] = pickle.dumps({"a": 1}, protocol=4)
    with pytest.raises(ProjectFileError, match="is a pickle"):
        save_project(p, saved)
    assert snapshot(saved.parent) == before  # no temp files left either


def test_save_keeps_permissions_and_replaces_a_symlinks_target(tmp_path: Path) -> None:
    real = tmp_path / "real.wbproj"
    save_project(make_project(), real)
    os.chmod(real, 0o640)
    link = tmp_path / "link.wbproj"
    link.symlink_to(real)
    p = make_project()
    p.name = "renamed"
    save_project(p, link)
    assert link.is_symlink() and load_project(real).name == "renamed"
    assert real.stat().st_mode & 0o777 == 0o640


def test_save_to_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="Cannot save"):
        save_project(make_project(), tmp_path / "no" / "such" / "p.wbproj")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="No such file"):
        load_project(tmp_path / "absent.wbproj")


# ----------------------------------------------------------------- hostile / broken files
def _doc(path: Path) -> dict[str, Any]:
    return json.loads(entries_of(path)["project.json"])


def _with_doc(path: Path, edit: Callable[[dict[str, Any]], Any]) -> dict[str, bytes]:
    entries = entries_of(path)
    doc = json.loads(entries["project.json"])
    edit(doc)
    entries["project.json"] = json.dumps(doc).encode()
    return entries


def _npz_bytes(**arrays: Any) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npy_bytes(array: Any) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _torch_checkpoint() -> bytes:
    buf = io.BytesIO()
    torch.save(make_weights(), buf)
    return buf.getvalue()


def _flip_in_weights(path: Path, out: Path) -> None:
    raw = bytearray(path.read_bytes())
    blob = entries_of(path)["runs/r1/weights.safetensors"]
    start = raw.find(blob)  # stored uncompressed, so the bytes are in the archive as they are
    assert start > 0
    raw[start + len(blob) - 5] ^= 0xFF
    out.write_bytes(bytes(raw))


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        target = doc
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = value

    return edit


def _delete(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        target = doc
        for p in path[:-1]:
            target = target[p]
        del target[path[-1]]

    return edit


def _rename_node_type(doc: dict[str, Any]) -> None:
    doc["graph"]["nodes"][2]["type"] = "quantum_entangler"


# Each case: build a broken file from a good one, and the words its message must contain.
BROKEN: dict[str, tuple[Callable[[Path, Path], Any], str]] = {
    "not a zip": (
        lambda good, out: out.write_bytes(b"name,age\nann,31\n" * 20),
        "not a zip archive",
    ),
    "empty file": (lambda good, out: out.write_bytes(b""), "not a zip archive"),
    "truncated": (
        lambda good, out: out.write_bytes(good.read_bytes()[: good.stat().st_size // 2]),
        "truncated",
    ),
    "crc error": (_flip_in_weights, "archive is damaged: entry runs/r1/weights.safetensors"),
    "pickle protocol 2": (
        lambda good, out: write_zip(
            out, {**entries_of(good), "runs/r1/extra.bin": pickle.dumps([1], protocol=2)}
        ),
        "entry runs/r1/extra.bin is a pickle",
    ),
    "pickle protocol 5 as weights": (
        lambda good, out: write_zip(
            out,
            {
                **entries_of(good),
                "runs/r1/weights.safetensors": pickle.dumps(make_weights(), protocol=5),
            },
        ),
        "the weights of run 'r1' are a pickle",
    ),
    "pkl entry": (
        lambda good, out: write_zip(out, {**entries_of(good), "model.pkl": b"not even a pickle"}),
        "entry model.pkl is a pickle file",
    ),
    "pt entry": (
        lambda good, out: write_zip(
            out, {**entries_of(good), "runs/r1/weights.pt": _torch_checkpoint()}
        ),
        "entry runs/r1/weights.pt is a pickle file",
    ),
    "ckpt entry": (
        lambda good, out: write_zip(out, {**entries_of(good), "last.ckpt": b"PK"}),
        "entry last.ckpt is a pickle file",
    ),
    "torch checkpoint as safetensors": (
        lambda good, out: write_zip(
            out, {**entries_of(good), "runs/r1/weights.safetensors": _torch_checkpoint()}
        ),
        "weights of run 'r1' are not a valid safetensors file",
    ),
    "npy object array": (
        lambda good, out: write_zip(
            out,
            {
                **entries_of(good),
                "data/x.npy": _npy_bytes(np.array([{"a": 1}, None], dtype=object)),
            },
        ),
        "data/x.npy holds object arrays",
    ),
    "npz object array": (
        lambda good, out: write_zip(
            out,
            {
                **entries_of(good),
                "data/x.npz": _npz_bytes(ok=np.ones(3), bad=np.array([[1], "x"], dtype=object)),
            },
        ),
        "data/x.npz holds object arrays",
    ),
    "npz garbage": (
        lambda good, out: write_zip(
            out, {**entries_of(good), "data/x.npz": b"PK\x03\x04 nonsense"}
        ),
        "data/x.npz is not a valid NumPy file",
    ),
    "absolute path": (
        lambda good, out: write_zip(out, {**entries_of(good), "/etc/cron.d/evil": b"x"}),
        "has an absolute path",
    ),
    "dotdot path": (
        lambda good, out: write_zip(out, {**entries_of(good), "data/../../evil.sh": b"x"}),
        "has a '..' or '.' component",
    ),
    "drive path": (
        lambda good, out: write_zip(out, {**entries_of(good), "C:/Windows/evil.dll": b"x"}),
        "has an absolute path",
    ),
    "backslash drive path": (
        lambda good, out: write_zip(out, {**entries_of(good), "C:\\Windows\\evil.dll": b"x"}),
        "has a backslash",
    ),
    "zip bomb": (
        lambda good, out: write_zip(
            out, {**entries_of(good), "data/zeros.bin": bytes(20 * 1024**2)}
        ),
        "looks like a zip bomb",
    ),
    "too many entries": (
        lambda good, out: write_zip(
            out, [*entries_of(good).items(), *((f"x/{i}", b"") for i in range(10_001))]
        ),
        "more than the 10000 allowed",
    ),
    "duplicate entry": (
        lambda good, out: write_zip(out, [*entries_of(good).items(), ("project.json", b"{}")]),
        "entry 'project.json' appears twice",
    ),
    "bzip2 entry": (
        lambda good, out: write_zip(out, entries_of(good), zipfile.ZIP_BZIP2),
        "unsupported compression method",
    ),
    "no project.json": (
        lambda good, out: write_zip(
            out, {k: v for k, v in entries_of(good).items() if k != "project.json"}
        ),
        "has no project.json",
    ),
    "schema from the future": (
        lambda good, out: write_zip(out, _with_doc(good, _set(["schema_version"], 7))),
        "written by a newer Model Workbench (schema 7, app 0.1.0); this version reads up to schema 3",
    ),
    "schema version not a number": (
        lambda good, out: write_zip(out, _with_doc(good, _set(["schema_version"], "1"))),
        "schema_version must be a whole number, not '1'",
    ),
    "schema with no migration": (
        lambda good, out: write_zip(out, _with_doc(good, _set(["schema_version"], -3))),
        "cannot upgrade it from schema -3: there is no upgrade from schema -3",
    ),
    "wrong format name": (
        lambda good, out: write_zip(out, _with_doc(good, _set(["format"], "other-app-session"))),
        "not a Model Workbench project (project.json format is 'other-app-session'",
    ),
    "unknown layer id": (
        lambda good, out: write_zip(out, _with_doc(good, _rename_node_type)),
        "project.json: graph: Unknown layer type 'quantum_entangler'",
    ),
    "graph edge to nowhere": (
        lambda good, out: write_zip(
            out, _with_doc(good, _set(["graph", "edges", 0, "dst"], "ghost"))
        ),
        "project.json: graph: Graph edge #0 refers to a node that does not exist",
    ),
    "run name not a string": (
        lambda good, out: write_zip(out, _with_doc(good, _set(["runs", 0, "name"], 5))),
        "project.json: runs[0].name must be a string",
    ),
    "run status missing": (
        lambda good, out: write_zip(out, _with_doc(good, _delete(["runs", 1, "status"]))),
        "project.json: runs[1].status is missing",
    ),
    "runs not a list": (
        lambda good, out: write_zip(out, _with_doc(good, _set(["runs"], {"r1": {}}))),
        "project.json: runs must be a list",
    ),
    "bad run id": (
        lambda good, out: write_zip(out, _with_doc(good, _set(["runs", 0, "id"], "../../etc"))),
        "project.json: runs[0].id must be 1-64 letters, digits, '_' or '-', not '../../etc'",
    ),
    "duplicate run id": (
        lambda good, out: write_zip(out, _with_doc(good, _set(["runs", 1, "id"], "r1"))),
        "runs[1].id 'r1' is used by two runs",
    ),
    "weights file outside": (
        lambda good, out: write_zip(
            out, _with_doc(good, _set(["runs", 0, "weights_file"], "../w.safetensors"))
        ),
        "project.json: runs[0].weights_file has a '..' or '.' component",
    ),
    "active run unknown": (
        lambda good, out: write_zip(out, _with_doc(good, _set(["active_run"], "r9"))),
        "active_run 'r9' is not one of the runs",
    ),
    "top level not an object": (
        lambda good, out: write_zip(out, {**entries_of(good), "project.json": b"[1, 2]"}),
        "project.json must be a JSON object",
    ),
    "invalid utf-8": (
        lambda good, out: write_zip(
            out, {**entries_of(good), "project.json": b'{"name": "caf\xe9"}'}
        ),
        "project.json is not valid UTF-8 (byte 13)",
    ),
    "invalid json": (
        lambda good, out: write_zip(
            out, {**entries_of(good), "project.json": b'{"format": "model-workbench-project",'}
        ),
        "project.json is not valid JSON: Expecting property name enclosed in double quotes at line 1",
    ),
    "deeply nested json": (
        lambda good, out: write_zip(
            out, {**entries_of(good), "project.json": b"[" * 100_000 + b"]" * 100_000}
        ),
        "project.json is nested too deeply",
    ),
    "weights not safetensors": (
        lambda good, out: write_zip(
            out, {**entries_of(good), "runs/r1/weights.safetensors": b"\x10\x00garbage"}
        ),
        "the weights of run 'r1' are not a valid safetensors file",
    ),
    "weights missing": (
        lambda good, out: write_zip(
            out, {k: v for k, v in entries_of(good).items() if k != "runs/r1/weights.safetensors"}
        ),
        "the archive has no runs/r1/weights.safetensors (the weights of run 'r1')",
    ),
    "history missing": (
        lambda good, out: write_zip(
            out, {k: v for k, v in entries_of(good).items() if k != "runs/r2/history.json"}
        ),
        "the archive has no runs/r2/history.json (the history of run 'r2')",
    ),
    "history wrong shape": (
        lambda good, out: write_zip(
            out, {**entries_of(good), "runs/r2/history.json": b'{"step": [1, 2]}'}
        ),
        "runs/r2/history.json: step must be an object",
    ),
    "embedded data tampered": (
        lambda good, out: write_zip(
            out, {**entries_of(good), "data/source.csv": CSV.replace(b"1,2", b"9,9")}
        ),
        "embedded file data/source.csv is damaged: its sha256 does not match",
    ),
    "embedded data missing": (
        lambda good, out: write_zip(
            out, {k: v for k, v in entries_of(good).items() if k != "data/source.csv"}
        ),
        "the archive has no data/source.csv (an embedded data file)",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_file_is_refused_with_its_own_message_and_nothing_is_written(
    case: str, saved: Path, tmp_path: Path
) -> None:
    make, expected = BROKEN[case]
    bad = tmp_path / "bad.wbproj"
    make(saved, bad)
    before = snapshot(tmp_path)
    with pytest.raises(ProjectFileError) as info:
        load_project(bad)
    assert expected in str(info.value), str(info.value)
    assert str(info.value).startswith("Cannot open 'bad.wbproj': ")
    assert snapshot(tmp_path) == before


def test_messages_are_all_different() -> None:
    assert len({expected for _, expected in BROKEN.values()}) > 40


def test_header_claiming_a_huge_entry_is_refused_before_reading(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wp, "MAX_ENTRY_SIZE", 20_000)
    assert max(len(b) for b in entries_of(saved).values()) < 20_000
    bad = write_zip(
        tmp_path / "big.wbproj", {**entries_of(saved), "data/blob.bin": os.urandom(50_000)}
    )
    with pytest.raises(
        ProjectFileError,
        match=r"entry data/blob.bin is 48.8 KiB uncompressed, over the 19.5 KiB limit",
    ):
        load_project(bad)


def test_total_size_limit(saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wp, "MAX_TOTAL_SIZE", 2000)
    with pytest.raises(ProjectFileError, match="its entries total .* over the"):
        load_project(saved)


def test_forged_uncompressed_size_is_a_zip_bomb(saved: Path, tmp_path: Path) -> None:
    # Patch the central directory to claim ~4 GB for a tiny deflated entry.
    bad = write_zip(
        tmp_path / "forged.wbproj", {**entries_of(saved), "data/small.txt": b"hello" * 100}
    )
    raw = bytearray(bad.read_bytes())
    name = b"data/small.txt"
    cd = raw.rfind(b"PK\x01\x02", 0, raw.rfind(name))
    raw[cd + 24 : cd + 28] = (0xFFFFFFF0).to_bytes(4, "little")
    bad.write_bytes(bytes(raw))
    with pytest.raises(ProjectFileError, match="looks like a zip bomb"):
        load_project(bad)


def test_a_plain_numpy_dataset_is_accepted(saved: Path, tmp_path: Path) -> None:
    p = load_project(saved)
    p.embedded["data/source.npz"] = _npz_bytes(X=np.ones((4, 2), np.float32), y=np.arange(4))
    p.embedded["data/extra.npy"] = _npy_bytes(np.arange(5))
    save_project(p, tmp_path / "np.wbproj")
    assert load_project(tmp_path / "np.wbproj").embedded == p.embedded


def test_loading_never_unpickles(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("unpickling during load")

    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "Unpickler", boom)
    monkeypatch.setattr(torch, "load", boom)
    load_project(saved)
    for case in (
        "pickle protocol 5 as weights",
        "pt entry",
        "torch checkpoint as safetensors",
        "npy object array",
    ):
        bad = tmp_path / f"{case}.wbproj"
        BROKEN[case][0](saved, bad)
        with pytest.raises(ProjectFileError):
            load_project(bad)


# ---------------------------------------------------------------- a crash mid-save
CHILD = r"""
import os, sys, time, zipfile
import torch
from workbench.core.project import Project, Run, save_project
from engines.graph import Graph

target, slow = sys.argv[1], sys.argv[2] == "slow"
gen = torch.Generator().manual_seed(0)
weights = {f"w{i}": torch.randn(500_000, generator=gen) for i in range(8)}
p = Project.new("v0", Graph())
for i in range(4):
    p.add_run(Run(id=f"r{i}", name=f"run {i}", weights=weights, history={"step": {"loss": [1.0] * 1000}}))
if slow:
    # Slow each entry down so the kill lands inside the write, not between saves.
    real = zipfile.ZipFile.writestr
    def writestr(self, *args, **kwargs):
        real(self, *args, **kwargs)
        print("writing", flush=True)
        time.sleep(0.02)
    zipfile.ZipFile.writestr = writestr
print("ready", flush=True)
i = 0
while True:
    i += 1
    p.name = f"v{i}"
    save_project(p, target)
"""


def _expected_weights() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {f"w{i}": torch.randn(500_000, generator=gen) for i in range(8)}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["slow", "fast"])
def test_save_killed_mid_write_leaves_the_previous_file_intact(mode: str, tmp_path: Path) -> None:
    target = tmp_path / "p.wbproj"
    original = make_project()
    save_project(original, target)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(1234)
    expected = _expected_weights()
    for _attempt in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(target), mode],
            stdout=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == b"ready"
            if mode == "slow":
                for _ in range(rng.randint(1, 12)):
                    assert child.stdout.readline().strip() == b"writing"
            else:
                time.sleep(rng.uniform(0.05, 1.5))
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait(timeout=30)
            if child.stdout is not None:
                child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        # Whatever got killed, the file at the target is one complete version.
        got = load_project(target)
        if got.name == original.name:
            assert got == original
        else:
            assert got.name.startswith("v") and len(got.runs) == 4
            for run in got.runs:
                assert_same_weights(run.weights, expected)
        stray = [p.name for p in tmp_path.iterdir() if p.name != target.name]
        assert all(n.startswith(".p.wbproj.") and n.endswith(".tmp") for n in stray), stray
        if mode == "slow":
            assert stray, "the kill should have landed inside a save"
        for p in stray:
            (tmp_path / p).unlink()


# ----------------------------------------------------------------------------- migration
def _v0_entries(saved: Path) -> dict[str, bytes]:
    """A pre-release (schema 0) file with the same content as ``saved``'s first run."""
    entries = entries_of(saved)
    new = _doc(saved)
    doc = {
        "format": FORMAT,
        "schema_version": 0,
        "app_version": "0.0.3",
        "title": "Old iris",
        "created": "2023-12-01T09:00:00+00:00",
        "network": new["graph"],
        "dataset": {"spec": new["data"], "fingerprint": new["data_fingerprint"]},
        "training": new["train_config"],
        "experiments": [
            {
                "id": "e1",
                "title": "first try",
                "created": "2023-12-01T10:00:00+00:00",
                "config": {"lr": 0.01},
                "state": "stopped",
                "metrics": {"accuracy": 0.7},
                "weights": "weights/e1.safetensors",
                "history": "history/e1.json",
            },
            {
                "id": "e2",
                "title": "no weights",
                "created": "2023-12-01T11:00:00+00:00",
                "config": {},
                "state": "failed",
                "message": "loss became NaN",
                "metrics": {},
                "weights": None,
                "history": "history/e2.json",
            },
        ],
        "current_experiment": "e1",
        "gui": {"zoom": 2},
    }
    return {
        "project.json": json.dumps(doc).encode(),
        "weights/e1.safetensors": entries["runs/r1/weights.safetensors"],
        "history/e1.json": entries["runs/r1/history.json"],
        "history/e2.json": b"{}",
    }


def test_a_schema_0_file_is_migrated_on_load(saved: Path, tmp_path: Path) -> None:
    old = write_zip(tmp_path / "old.wbproj", _v0_entries(saved))
    p = load_project(old)
    assert p.name == "Old iris" and p.app_version == "0.0.3"
    assert p.graph.to_dict() == make_graph().to_dict()
    assert p.data_fingerprint == "f" * 64 and p.data["source"] == "csv"
    assert p.ui == {"zoom": 2} and p.embedded == {}
    assert [r.id for r in p.runs] == ["e1", "e2"] and p.active_run == "e1"
    e1, e2 = p.runs
    assert (e1.name, e1.status, e1.message, e1.config) == ("first try", "stopped", "", {"lr": 0.01})
    assert e1.history == make_run().history and e1.data_fingerprint == "f" * 64
    assert_same_weights(e1.weights, make_weights(0))
    assert e2.weights is None and e2.message == "loss became NaN" and e2.history == {}
    # Saving writes the current schema, which loads back the same.
    save_project(p, tmp_path / "new.wbproj")
    assert _doc(tmp_path / "new.wbproj")["schema_version"] == SCHEMA_VERSION
    q = load_project(tmp_path / "new.wbproj")
    assert q == p
    assert_same_weights(q.runs[0].weights, e1.weights)


def test_a_schema_0_file_of_the_wrong_shape_gets_a_precise_message(
    saved: Path, tmp_path: Path
) -> None:
    entries = _v0_entries(saved)
    doc = json.loads(entries["project.json"])
    doc["experiments"] = "all of them"
    entries["project.json"] = json.dumps(doc).encode()
    with pytest.raises(ProjectFileError, match=r"project.json: runs must be a list"):
        load_project(write_zip(tmp_path / "odd.wbproj", entries))
    doc["experiments"] = [{"id": "e1", "title": 3}]
    entries["project.json"] = json.dumps(doc).encode()
    with pytest.raises(
        ProjectFileError, match=r"project.json: runs\[0\]\.(name must be a string|\w+ is missing)"
    ):
        load_project(write_zip(tmp_path / "odd.wbproj", entries))


def test_migrate_registry() -> None:
    doc = {"schema_version": 0, "title": "t", "network": {"nodes": [], "edges": []}}
    out = migrate(doc)
    assert out["schema_version"] == SCHEMA_VERSION and out["graph"] == {"nodes": [], "edges": []}
    assert doc["title"] == "t"  # the input is left alone
    assert migrate(out) == out
    with pytest.raises(MigrationError, match="newer"):
        migrate({"schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(MigrationError, match="no upgrade from schema -1"):
        migrate({"schema_version": -1})
    with pytest.raises(MigrationError, match="whole number"):
        migrate({"schema_version": True})


# --------------------------------------------------------------------- autosave/recovery
def test_autosave_and_recovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec_dir = tmp_path / "recovery"
    monkeypatch.setenv("WORKBENCH_RECOVERY_DIR", str(rec_dir))
    assert list_recoveries() == []
    p = make_project()
    modified = p.modified
    path = tmp_path / "a" / "iris.wbproj"
    other = tmp_path / "b" / "iris.wbproj"
    rec = autosave(p, path)
    assert rec == recovery_path(path) and rec.parent == rec_dir
    assert recovery_path(other) != rec  # same file name, different folder
    assert p.modified == modified  # an autosave is not a save
    assert not path.exists()
    untitled = autosave(make_project(1), None)
    assert untitled == recovery_path(None)
    found = {r.path: r for r in list_recoveries()}
    assert set(found) == {rec, untitled}
    assert found[rec].original == path.resolve() and found[rec].name == "Iris MLP"
    assert found[untitled].original is None
    assert load_project(rec) == p
    discard_recovery(path)
    discard_recovery(found[untitled])
    assert list_recoveries() == [] and list(rec_dir.iterdir()) == []


def test_recovery_dir_defaults_to_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WORKBENCH_RECOVERY_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert recovery_path(None).parent == tmp_path / ".local/share/model-workbench/recovery"


def test_a_recovery_without_its_sidecar_is_still_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_RECOVERY_DIR", str(tmp_path))
    rec = autosave(make_project(0), tmp_path / "x.wbproj")
    rec.with_suffix(".json").write_text("{broken")
    (found,) = list_recoveries()
    assert found.path == rec and found.original is None and found.saved


# ------------------------------------------------------------ generated corruption (fuzz)
_GOOD: list[bytes] = []


def _good_bytes() -> bytes:
    # Built once: hypothesis forbids function-scoped fixtures in @given tests.
    if not _GOOD:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "g.wbproj"
            save_project(make_project(), path)
            _GOOD.append(path.read_bytes())
    return _GOOD[0]


def _load_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.wbproj"
        path.write_bytes(data)
        try:
            load_project(path)
        except ProjectFileError as exc:
            assert str(exc).startswith("Cannot open 'fuzz.wbproj': ")
        assert [p.name for p in Path(d).iterdir()] == ["fuzz.wbproj"]
        assert path.read_bytes() == data


_FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(
    st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8
    )
)
def test_random_byte_corruption_raises_only_project_file_error(
    flips: list[tuple[float, int]],
) -> None:
    data = bytearray(_good_bytes())
    for where, value in flips:
        data[int(where * len(data))] = value
    _load_bytes(bytes(data))


@_FUZZ
@given(st.floats(0, 1), st.binary(max_size=64))
def test_truncation_or_garbage_tail_raises_only_project_file_error(
    where: float, tail: bytes
) -> None:
    data = _good_bytes()
    _load_bytes(data[: int(where * len(data))] + tail)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@_FUZZ
@given(st.data())
def test_project_json_with_random_values_raises_only_project_file_error(
    data: st.DataObject,
) -> None:
    # Corrupt the document itself (a well-formed archive) to reach the schema and graph checks.
    with zipfile.ZipFile(io.BytesIO(_good_bytes())) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    doc = json.loads(entries["project.json"])
    for _ in range(data.draw(st.integers(1, 3))):
        target: Any = doc
        while isinstance(target, dict | list) and target and data.draw(st.booleans()):
            key = data.draw(
                st.sampled_from(list(target) if isinstance(target, dict) else range(len(target)))
            )
            child = target[key]
            if not isinstance(child, dict | list) or not child:
                break
            target = child
        if isinstance(target, dict) and target:
            target[data.draw(st.sampled_from(sorted(target)))] = data.draw(_JSON)
        elif isinstance(target, list) and target:
            target[data.draw(st.integers(0, len(target) - 1))] = data.draw(_JSON)
    entries["project.json"] = json.dumps(doc).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)
    _load_bytes(buf.getvalue())


@_FUZZ
@given(st.binary(max_size=200))
def test_random_entry_contents_raise_only_project_file_error(blob: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(_good_bytes())) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    for name in ("runs/r1/weights.safetensors", "runs/r1/history.json", "project.json"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for n, b in {**entries, name: blob}.items():
                zf.writestr(n, b)
        _load_bytes(buf.getvalue())


# ------------------------------------------------------------------------------ analyses
def _with_analyses(p: Project) -> Project:
    from workbench.core.project import Analysis

    run = p.runs[0]
    maps = np.arange(2 * 1 * 4 * 4, dtype=np.float64).reshape(2, 1, 4, 4) / 7.0
    run.add_analysis(
        Analysis(
            id="a1",
            kind="explanation",
            meta={"method": "ig", "params": {"n_steps": 50}, "delta": [1e-7, -2e-7]},
            arrays={"attributions": maps, "inputs": maps.astype(np.float32) * 2},
            epoch=2,
        )
    )
    run.add_analysis(
        Analysis(id="f1", kind="fairness", meta={"overall": {"accuracy": 0.75, "fpr": None}})
    )
    return p


def test_analyses_round_trip_with_their_arrays(tmp_path: Path) -> None:
    p = _with_analyses(make_project())
    save_project(p, tmp_path / "a.wbproj")
    back = load_project(tmp_path / "a.wbproj")
    got, want = back.runs[0].analyses, p.runs[0].analyses
    assert got == want  # ids, kinds, meta, epochs, times (arrays compared below)
    for g, w in zip(got, want, strict=True):
        assert set(g.arrays) == set(w.arrays)
        for name in w.arrays:
            assert g.arrays[name].dtype == w.arrays[name].dtype
            np.testing.assert_array_equal(g.arrays[name], w.arrays[name])
    assert "runs/r1/analyses/a1/attributions.npy" in entries_of(tmp_path / "a.wbproj")


def test_analysis_with_non_numeric_array_is_not_saved_and_old_file_kept(tmp_path: Path) -> None:
    from workbench.core.project import Analysis

    path = tmp_path / "a.wbproj"
    save_project(make_project(), path)
    before = path.read_bytes()
    p = make_project()
    p.runs[0].add_analysis(
        Analysis(id="x", kind="explanation", arrays={"names": np.array(["a", {"b": 1}], dtype=object)})
    )
    with pytest.raises(ProjectFileError, match="is not a numeric array"):
        save_project(p, path)
    assert path.read_bytes() == before


def test_analysis_kind_and_id_are_checked() -> None:
    from workbench.core.project import Analysis

    run = make_run()
    with pytest.raises(ValueError, match="kind 'chart'"):
        run.add_analysis(Analysis(id="a", kind="chart"))
    with pytest.raises(ValueError, match="not valid"):
        run.add_analysis(Analysis(id="../a", kind="fairness"))
    run.add_analysis(Analysis(id="a", kind="fairness"))
    with pytest.raises(ValueError, match="already exists"):
        run.add_analysis(Analysis(id="a", kind="fairness"))


def test_analysis_array_outside_its_entry_or_pickled_is_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.wbproj"
    save_project(_with_analyses(make_project()), good)
    entries = entries_of(good)
    doc = json.loads(entries["project.json"])

    doc["runs"][0]["analyses"][0]["arrays"]["attributions"] = "../../etc/passwd"
    write_zip(tmp_path / "b1.wbproj", {**entries, "project.json": json.dumps(doc).encode()})
    with pytest.raises(ProjectFileError, match=r"analyses\[0\]\.arrays\.attributions must name a \.npy entry"):
        load_project(tmp_path / "b1.wbproj")

    bad = {**entries, "runs/r1/analyses/a1/inputs.npy": _npy_bytes(np.array([None, 1], dtype=object))}
    write_zip(tmp_path / "b2.wbproj", bad)
    with pytest.raises(ProjectFileError, match="holds object arrays"):
        load_project(tmp_path / "b2.wbproj")


def test_schema_1_file_gains_empty_analyses() -> None:
    doc = {
        "schema_version": 1,
        "runs": [{"id": "r1", "name": "a"}, "odd"],
    }
    out = migrate(doc)
    assert out["runs"][0]["analyses"] == [] and out["runs"][1] == "odd"
    assert "analyses" not in doc["runs"][0]  # the input is not modified


def test_schema_2_file_gains_an_empty_provenance_and_loads(saved: Path, tmp_path: Path) -> None:
    doc = {"schema_version": 2, "runs": [{"id": "r1", "name": "a", "analyses": []}, 3]}
    out = migrate(doc)
    assert out["schema_version"] == 3
    assert out["runs"][0]["provenance"] == {} and out["runs"][1] == 3
    assert "provenance" not in doc["runs"][0]
    # a real schema-2 file: the runs come back with nothing recorded
    with zipfile.ZipFile(saved) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    project_doc = json.loads(entries["project.json"])
    project_doc["schema_version"] = 2
    for run in project_doc["runs"]:
        run.pop("provenance", None)
    entries["project.json"] = json.dumps(project_doc).encode()
    old = tmp_path / "v2.wbproj"
    with zipfile.ZipFile(old, "w") as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)
    assert all(r.provenance == {} for r in load_project(old).runs)


def test_weights_digest_is_the_sha256_of_the_stored_weights_entry(saved: Path) -> None:
    project = load_project(saved)
    with zipfile.ZipFile(saved) as zf:
        for run in project.runs:
            if run.weights is None:
                continue
            stored = zf.read(f"runs/{run.id}/weights.safetensors")
            assert weights_digest(run.weights) == hashlib.sha256(stored).hexdigest()
