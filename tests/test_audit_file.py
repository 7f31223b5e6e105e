"""The ``.wbaudit`` file: round trip, the project it belongs to, and the project file's safety rules."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engines.graph import Graph
from workbench.core.audit_file import (
    AuditFile,
    audit_path_for,
    file_sha256,
    load_audit,
    new_finding,
    save_audit,
)
from workbench.core.project import Analysis, Project, ProjectFileError, Run, save_project


@pytest.fixture
def project_file(tmp_path: Path) -> Path:
    project = Project.new("p", Graph())
    project.add_run(Run(id="r1", name="run 1"))
    path = tmp_path / "p.wbproj"
    save_project(project, path)
    return path


def _audit(project_file: Path) -> AuditFile:
    audit = AuditFile(project_sha256=file_sha256(project_file), project_name="p", project_file="p.wbproj")
    audit.analyses["r1"] = [Analysis(id="a1", kind="explanation", meta={"method": "ig"},
                                     arrays={"attributions": np.arange(6.0).reshape(2, 3)})]
    audit.findings.append(new_finding({"kind": "run", "run": "r1"}, "Too few rows in the test split.", "medium",
                                      author="A. Auditor"))
    audit.signoff = {"name": "A. Auditor", "role": "auditor", "date": "2026-12-07", "statement": "Seen."}
    return audit


def test_round_trip_beside_the_project(project_file: Path) -> None:
    path = audit_path_for(project_file)
    assert path == project_file.with_name("p.wbaudit")
    save_audit(_audit(project_file), path)
    back = load_audit(path)
    assert back.findings[0]["text"] == "Too few rows in the test split."
    assert back.signoff["name"] == "A. Auditor"
    np.testing.assert_array_equal(back.analyses["r1"][0].arrays["attributions"], np.arange(6.0).reshape(2, 3))
    assert back.matches(project_file) is None


def test_another_version_of_the_project_is_named(project_file: Path) -> None:
    audit = _audit(project_file)
    project_file.write_bytes(project_file.read_bytes() + b"\0")
    message = audit.matches(project_file)
    assert message is not None and "another version of p.wbproj" in message
    assert audit.project_sha256[:12] in message


@pytest.mark.parametrize(
    ("severity", "text", "kind", "why"),
    [("urgent", "x", "run", "Severity must be one of"), ("low", "  ", "run", "needs some text"),
     ("low", "x", "planet", "attached to one of")],
)
def test_a_bad_finding_is_refused_in_a_sentence(severity, text, kind, why) -> None:
    with pytest.raises(ValueError, match=why):
        new_finding({"kind": kind}, text, severity)


def _rewrite(src: Path, dst: Path, extra: dict[str, bytes] | None = None, doc: dict | None = None) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            blob = zin.read(info)
            if info.filename == "audit.json" and doc is not None:
                blob = json.dumps(doc).encode()
            zout.writestr(info.filename, blob)
        for name, blob in (extra or {}).items():
            zout.writestr(name, blob)
    return dst


def test_the_project_files_safety_rules_hold(project_file: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.wbaudit"
    save_audit(_audit(project_file), good)
    with zipfile.ZipFile(good) as zf:
        doc = json.loads(zf.read("audit.json"))

    with pytest.raises(ProjectFileError, match="pickle"):
        load_audit(_rewrite(good, tmp_path / "p1.wbaudit", {"evil.pkl": pickle.dumps({"a": 1})}))
    with pytest.raises(ProjectFileError, match="outside the project"):
        load_audit(_rewrite(good, tmp_path / "p2.wbaudit", {"../evil.txt": b"x"}))
    newer = dict(doc, schema_version=99)
    with pytest.raises(ProjectFileError, match="newer Model Workbench"):
        load_audit(_rewrite(good, tmp_path / "p3.wbaudit", doc=newer))
    other = dict(doc, format="something-else")
    with pytest.raises(ProjectFileError, match="not a Model Workbench audit file"):
        load_audit(_rewrite(good, tmp_path / "p4.wbaudit", doc=other))
    bad_finding = dict(doc, findings=[{"id": "x1", "target": {"kind": "run"}, "text": "t", "severity": "extreme",
                                       "created": ""}])
    with pytest.raises(ProjectFileError, match="severity"):
        load_audit(_rewrite(good, tmp_path / "p5.wbaudit", doc=bad_finding))
    (tmp_path / "p6.wbaudit").write_text("not a zip")
    with pytest.raises(ProjectFileError, match="not an audit file"):
        load_audit(tmp_path / "p6.wbaudit")


def test_saving_is_atomic_and_keeps_the_previous_file_on_failure(project_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "a.wbaudit"
    save_audit(_audit(project_file), path)
    before = path.read_bytes()
    broken = _audit(project_file)
    broken.analyses["r1"][0].arrays["attributions"] = np.array([object()], dtype=object)
    with pytest.raises(ProjectFileError, match="not a numeric array"):
        save_audit(broken, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
