"""`workbench verify`: every stored number re-derived; a changed byte is named, nothing else.

Each tampering below rewrites the archive as a tamperer would (valid zip, fresh CRCs), so only
the re-derivation can notice: one byte of a run's weights, one stored metric, one stored
attribution, one byte of the embedded data. A naively flipped byte (bad CRC) is named too.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engines.data import DataSpec
from workbench.cli import main
from workbench.core.analysis import audit_run, explain_run, explanation_analysis, fairness_analysis
from workbench.core.project import load_project, save_project
from workbench.core.session import create_project, train_run
from workbench.core.verify import verify_file


def _table_csv(path: Path, rows: int = 240) -> Path:
    rng = np.random.default_rng(0)
    lines = ["income,debt,sex,label"]
    for _ in range(rows):
        income, debt = rng.normal(50, 10), rng.normal(20, 5)
        sex = "female" if rng.random() < 0.4 else "male"
        label = int(income - debt + rng.normal(0, 5) > 30)
        lines.append(f"{income:.3f},{debt:.3f},{sex},{label}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def project_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("verify")
    spec = DataSpec(source="csv", path=str(_table_csv(folder / "people.csv")),
                    roles={"sex": "sensitive"}, target="label")
    project = create_project("mlp", spec, seed=0)
    run = train_run(project, overrides={"epochs": 2}).run
    run.add_analysis(explanation_analysis(explain_run(project, "shapley", pick="first", n=3)))
    run.add_analysis(fairness_analysis(audit_run(project, ["sex"], n_boot=50, seed=1)))
    path = folder / "people.wbproj"
    save_project(project, path)
    return path


def _rewrite(src: Path, dst: Path, changes: dict[str, Callable[[bytes], bytes]]) -> Path:
    """Copy the archive with some entries changed, as a valid zip (fresh CRCs)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            blob = zin.read(info)
            if info.filename in changes:
                blob = changes[info.filename](blob)
            zout.writestr(info.filename, blob, compress_type=info.compress_type)
    return dst


def _names(src: Path) -> list[str]:
    with zipfile.ZipFile(src) as zf:
        return zf.namelist()


def _entry(src: Path, suffix: str) -> str:
    return next(n for n in _names(src) if n.endswith(suffix))


def _statuses(path: Path) -> dict[str, str]:
    _, report = verify_file(path)
    return {item.name: item.status for item in report.items}


def test_an_untouched_project_verifies_every_item(project_file: Path, capsys) -> None:
    _, report = verify_file(project_file)
    kinds = sorted({i.kind for i in report.items})
    assert kinds == ["data", "explanation", "fairness", "metric", "weights"]
    assert report.ok, [i.to_dict() for i in report.items if i.status != "verified"]
    assert main(["verify", str(project_file)]) == 0
    out = capsys.readouterr().out
    assert "0 differ, 0 cannot be verified" in out
    assert main(["verify", str(project_file), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["counts"]["verified"] == len(doc["items"])


def _flip_a_weight_byte(blob: bytes) -> bytes:
    header = int.from_bytes(blob[:8], "little")
    pos = 8 + header + 5  # inside the first tensor's data, not the header
    return blob[:pos] + bytes([blob[pos] ^ 0x01]) + blob[pos + 1:]


def test_one_byte_of_the_weights_is_named(project_file: Path, tmp_path: Path, capsys) -> None:
    bad = _rewrite(project_file, tmp_path / "w.wbproj", {_entry(project_file, "weights.safetensors"): _flip_a_weight_byte})
    statuses = _statuses(bad)
    assert statuses["weights of run 'run 1'"] == "differs"
    assert [n for n, s in statuses.items() if s == "differs"] == ["weights of run 'run 1'"]
    # what was computed from those weights is not claimed either way
    assert statuses["accuracy of run 'run 1' on the val split"] == "cannot verify"
    assert main(["verify", str(bad)]) == 1
    assert "✘ DIFFERS        weights of run 'run 1'" in capsys.readouterr().out


def test_one_stored_metric_is_named(project_file: Path, tmp_path: Path) -> None:
    def bump_accuracy(blob: bytes) -> bytes:
        doc = json.loads(blob)
        doc["runs"][0]["metrics"]["accuracy"] += 0.01
        return json.dumps(doc).encode()

    bad = _rewrite(project_file, tmp_path / "m.wbproj", {"project.json": bump_accuracy})
    statuses = _statuses(bad)
    assert [n for n, s in statuses.items() if s != "verified"] == ["accuracy of run 'run 1' on the val split"]
    assert statuses["accuracy of run 'run 1' on the val split"] == "differs"


def test_one_stored_attribution_is_named(project_file: Path, tmp_path: Path) -> None:
    def nudge(blob: bytes) -> bytes:
        a = np.load(io.BytesIO(blob), allow_pickle=False)
        a.flat[1] += 0.05
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        return buf.getvalue()

    bad = _rewrite(project_file, tmp_path / "a.wbproj", {_entry(project_file, "attributions.npy"): nudge})
    _, report = verify_file(bad)
    wrong = [i for i in report.items if i.status != "verified"]
    assert len(wrong) == 1 and wrong[0].kind == "explanation" and wrong[0].status == "differs"
    # 3 samples × 2 features (income, debt); the nudged value is the second of the first sample
    assert "1 of 6 attributions differ (first at sample 0, position [1])" in wrong[0].reason
    assert wrong[0].actual == pytest.approx(wrong[0].expected - 0.05)


def test_one_byte_of_the_embedded_data_is_named(project_file: Path, tmp_path: Path) -> None:
    def change_a_digit(blob: bytes) -> bytes:
        text = blob.decode()
        first_row = text.index("\n") + 1
        digit = next(i for i in range(first_row, len(text)) if text[i].isdigit())
        return (text[:digit] + str((int(text[digit]) + 1) % 10) + text[digit + 1:]).encode()

    bad = _rewrite(project_file, tmp_path / "d.wbproj", {_entry(project_file, "source.csv"): change_a_digit})
    statuses = _statuses(bad)
    assert statuses["embedded data file data/source.csv"] == "differs"
    assert statuses["data fingerprint"] == "differs"
    assert main(["verify", str(bad)]) == 1


def test_a_naively_flipped_byte_with_a_bad_crc_is_named(project_file: Path, tmp_path: Path) -> None:
    raw = bytearray(project_file.read_bytes())
    with zipfile.ZipFile(project_file) as zf:
        info = zf.getinfo(_entry(project_file, "weights.safetensors"))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.file_size // 2] ^= 0xFF  # stored uncompressed: the byte is in the tensor data
    bad = tmp_path / "crc.wbproj"
    bad.write_bytes(bytes(raw))
    _, report = verify_file(bad)
    weights = next(i for i in report.items if i.kind == "weights")
    assert weights.status == "differs" and "damaged" in weights.reason


def test_a_file_from_before_provenance_verifies_what_it_can(project_file: Path, tmp_path: Path) -> None:
    def as_schema_2(blob: bytes) -> bytes:
        doc = json.loads(blob)
        doc["schema_version"] = 2
        for run in doc["runs"]:
            run.pop("provenance")
            for a in run["analyses"]:
                a["meta"].pop("request", None)
        return json.dumps(doc).encode()

    old = _rewrite(project_file, tmp_path / "old.wbproj", {"project.json": as_schema_2})
    _, report = verify_file(old)
    by_kind = {i.kind: i for i in report.items}
    assert by_kind["weights"].status == "cannot verify" and "schema 3" in by_kind["weights"].reason
    assert all(i.status == "verified" for i in report.items if i.kind == "metric")  # still re-derived
    assert by_kind["explanation"].status == "cannot verify"
    assert main(["verify", str(old)]) == 3  # nothing differs, not everything was checked


def test_verify_never_writes_the_project(project_file: Path) -> None:
    before = project_file.read_bytes()
    verify_file(project_file)
    assert project_file.read_bytes() == before


def test_verify_bad_input_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["verify", str(tmp_path / "missing.wbproj")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No such project file") and err.count("\n") == 1
    notzip = tmp_path / "x.wbproj"
    notzip.write_text("hello")
    assert main(["verify", str(notzip)]) == 2
    assert "not a zip archive" in capsys.readouterr().err


def test_analyses_of_a_reopened_project_record_what_recomputes_them(project_file: Path) -> None:
    project = load_project(project_file)
    run = project.runs[0]
    assert len(run.provenance["weights_sha256"]) == 64 and run.provenance["metrics_split"] == "val"
    assert set(run.provenance["versions"]) >= {"app", "python", "torch", "numpy"}
    for a in run.analyses:
        assert a.meta["weights_sha256"] == run.provenance["weights_sha256"]
        assert a.meta["request"]["split"] == "test"


def test_a_stored_comparison_of_explanations_across_groups_is_recomputed(project_file: Path, tmp_path: Path) -> None:
    from workbench.core.analysis import explain_by_group, group_explanation_analysis

    project = load_project(project_file)
    run = project.runs[0]
    outcome = explain_by_group(project, "shapley", "sex", n_boot=50, n_perm=50, seed=2)
    run.add_analysis(group_explanation_analysis(outcome))
    path = tmp_path / "groups.wbproj"
    save_project(project, path)
    _, report = verify_file(path)
    item = next(i for i in report.items if i.analysis == run.analyses[-1].id)
    assert item.status == "verified", item
    # one stored p-value changed: named
    entry = f"runs/{run.id}/analyses/{run.analyses[-1].id}/p_value.npy"

    def change(blob: bytes) -> bytes:
        a = np.load(io.BytesIO(blob), allow_pickle=False)
        a.flat[0] = 0.5 * a.flat[0] + 0.25
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        return buf.getvalue()

    bad = _rewrite(path, tmp_path / "groups-bad.wbproj", {entry: change})
    _, report = verify_file(bad)
    item = next(i for i in report.items if i.analysis == run.analyses[-1].id)
    assert item.status == "differs" and "p_value" in item.reason
