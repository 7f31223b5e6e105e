"""The audit report: canonical report.json, self-contained HTML, deterministic PDF, manifest, signature."""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engines.data import builtin_spec
from workbench.cli import main
from workbench.core.analysis import (
    audit_run,
    explain_by_group,
    explain_run,
    explanation_analysis,
    fairness_analysis,
    group_explanation_analysis,
    mitigate_run,
)
from workbench.core.project import load_project, save_project
from workbench.core.report import (
    SECTION_TITLES,
    ReportError,
    build_report,
    canonical_bytes,
    parse_time,
    render_html,
    render_pdf,
    write_report,
)
from workbench.core.report.build import MIN_GROUP_SIZE, _wilson
from workbench.core.report.canonical import number
from workbench.core.report.charts import nice_ticks
from workbench.core.session import create_project, load_data, train_run
from workbench.core.signing import verify_report_dir

TIME = "2025-01-31T12:00:00Z"
STATUSES = {"assessed", "incomplete", "not assessed"}
FILES = ("report.json", "report.html", "report.pdf", "manifest.json")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A German credit project with two runs (one a mitigation), an explanation and an audit,
    saved; the same project named like a script; and its datasheet (computed once)."""
    folder = tmp_path_factory.mktemp("report")
    project = create_project("mlp", builtin_spec("german_credit"), seed=0)
    data = load_data(project)
    train_run(project, overrides={"epochs": 2}, data=data, name="baseline")
    base = project.active()
    assert base is not None
    base.add_analysis(explanation_analysis(explain_run(project, "ig", n=5, data=data)))
    base.add_analysis(fairness_analysis(audit_run(project, ["sex", "age"], n_boot=50, data=data)))
    base.add_analysis(group_explanation_analysis(explain_by_group(project, "saliency", "sex", n_boot=50, n_perm=50,
                                                                  data=data)))
    mitigated = mitigate_run(project, "reweighing", "sex", data=data)
    mitigated.add_analysis(fairness_analysis(audit_run(project, ["sex"], n_boot=50, data=data, run_id=mitigated.id)))
    project.active_run = base.id
    path = folder / "credit.wbproj"
    save_project(project, path)
    project.name = "<script>alert(1)</script>"
    hostile = folder / "hostile.wbproj"
    save_project(project, hostile)
    from workbench.core.datasheet import project_datasheet

    loaded = load_project(path)
    return {"folder": folder, "path": path, "hostile": hostile, "project": loaded,
            "datasheet": project_datasheet(loaded)}


@pytest.fixture(scope="module")
def written(saved: dict[str, object]) -> Path:
    out = Path(str(saved["folder"])) / "written"
    write_report(saved["project"], out, project_path=saved["path"], time=TIME,  # type: ignore[arg-type]
                 datasheet=saved["datasheet"])  # type: ignore[arg-type]
    return out


# ----------------------------------------------------------------------- one way of writing
def test_numbers_are_written_one_way() -> None:
    assert number(0.1234567) == 0.123457
    assert number(123456789.0) == 123457000.0
    assert number(-0.0) == 0.0 and str(number(-1e-30 * 0)) == "0.0"
    assert number(1e-7) == 1e-07
    assert number(7) == 7 and isinstance(number(7), int)
    for undefined in (math.nan, math.inf, -math.inf, "NaN", "Infinity", None, True):
        assert number(undefined) is None
    assert canonical_bytes({"b": 1.0, "a": [0.30000000000000004, math.nan]}) == b'{"a":[0.3,null],"b":1.0}'


def test_wilson_interval_of_seven_in_ten() -> None:
    # p = 0.7, n = 10, z = 1.96: centre 0.64449, half-width 0.24771 (worked by hand)
    lo, hi = _wilson(7, 10)  # type: ignore[misc]
    assert lo == pytest.approx(0.39678, abs=5e-5) and hi == pytest.approx(0.89220, abs=5e-5)
    assert _wilson(0, 0) is None


def test_report_time_is_utc_to_the_second() -> None:
    assert parse_time("2025-01-31T13:00:00+01:00") == "2025-01-31T12:00:00Z"
    assert parse_time("2025-01-31T12:00:00.900") == "2025-01-31T12:00:00Z"  # no zone: UTC
    assert parse_time("2025-01-31") == "2025-01-31T00:00:00Z"
    with pytest.raises(ReportError, match="not an ISO-8601"):
        parse_time("last tuesday")


def test_ticks_cover_the_range_in_round_steps() -> None:
    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.5, 0.65, 4) == [0.5, 0.55, 0.6, 0.65]


# ---------------------------------------------------------------------------- the report
def test_same_project_and_time_give_identical_files(saved: dict[str, object], written: Path) -> None:
    again = Path(str(saved["folder"])) / "again"
    write_report(load_project(saved["path"]), again, project_path=saved["path"], time=TIME,  # type: ignore[arg-type]
                 datasheet=saved["datasheet"])  # type: ignore[arg-type]
    for name in FILES:
        assert (written / name).read_bytes() == (again / name).read_bytes(), name
    assert not (written / "signature.json").exists()


def test_html_and_pdf_are_drawn_from_the_json_alone(written: Path) -> None:
    report = json.loads((written / "report.json").read_bytes())
    assert render_html(report).encode("utf-8") == (written / "report.html").read_bytes()
    assert render_pdf(report) == (written / "report.pdf").read_bytes()


def test_every_section_is_present_or_says_why_not(written: Path) -> None:
    report = json.loads((written / "report.json").read_bytes())
    assert [s["id"] for s in report["sections"]] == list(SECTION_TITLES)
    for s in report["sections"]:
        assert s["status"] in STATUSES
        assert s["title"] == SECTION_TITLES[s["id"]]
        if s["status"] != "assessed":
            assert isinstance(s.get("reason"), str) and s["reason"].endswith("."), s["id"]
    by_id = {s["id"]: s for s in report["sections"]}
    assert by_id["intended_use"]["status"] == "incomplete"
    assert all(f["flag"] == "not filled in by the analyst" for f in by_id["intended_use"]["fields"])
    assert by_id["findings"]["status"] == "not assessed" and "--audit" in by_id["findings"]["reason"]
    for sid in ("identity", "group_explanations", "datasheet", "architecture", "training", "performance", "fairness", "explanations",
                "mitigations", "verification"):
        assert by_id[sid]["status"] == "assessed", sid
    arch = by_id["architecture"]
    assert arch["total_parameters"] == sum(layer["parameters"] for layer in arch["layers"]) > 0
    item = by_id["explanations"]["items"][0]
    assert item["method"] == "ig" and item["importance"]["status"] == "assessed"
    values = [f["value"] for f in item["importance"]["features"]]
    assert values == sorted(values, reverse=True) and item["limits"]
    assert item["completeness"]["max_abs"] is not None
    assert [r["is_base"] for r in by_id["mitigations"]["comparisons"][0]["runs"]] == [True, False]
    compared = by_id["group_explanations"]["items"][0]
    assert compared["method"] == "saliency" and compared["sensitive"] == "sex"
    assert [g["name"] for g in compared["groups"]] == ["female", "male"]
    assert sum(g["size"] for g in compared["groups"]) == 150  # every row of the test split
    first = compared["features"][0]
    assert len(first["mean_abs"]) == 2 and first["p_value_abs"] is not None
    assert abs(first["difference_abs"]["value"]) >= abs(compared["features"][-1]["difference_abs"]["value"])


def test_groups_below_the_minimum_size_are_insufficient_data(written: Path) -> None:
    report = json.loads((written / "report.json").read_bytes())
    fairness = next(s for s in report["sections"] if s["id"] == "fairness")
    assert fairness["min_group_size"] == MIN_GROUP_SIZE == 30
    groups = [g for a in fairness["audits"] for f in a["features"] for g in f["groups"]]
    assert all(g["insufficient"] == (g["size"] < 30) for g in groups)
    sizes = {g["name"]: g["size"] for g in groups}
    # the intersection "male & >= 42" of the test split has exactly 30 rows: enough
    assert sizes["male & >= 42"] == 30
    assert not next(g for g in groups if g["name"] == "male & >= 42")["insufficient"]
    assert any(g["insufficient"] for g in groups)
    diffs = {d["name"]: d for d in fairness["audits"][0]["features"][0]["differences"]}
    assert "p_value" in diffs["dp_difference"] and "signed" in diffs["dp_difference"]


def test_report_json_is_canonical(written: Path) -> None:
    raw = (written / "report.json").read_bytes()

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in report.json")

    doc = json.loads(raw, parse_constant=no_constants)
    assert canonical_bytes(doc) == raw
    assert json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8") == raw


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.refs: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "data"):
                self.refs.append(value or "")
            if name == "style":
                self.styles.append(value or "")

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False


def test_html_is_self_contained_and_escapes_the_project(saved: dict[str, object]) -> None:
    out = Path(str(saved["folder"])) / "hostile-report"
    write_report(load_project(saved["hostile"]), out, project_path=saved["hostile"], time=TIME,  # type: ignore[arg-type]
                 verify=False, datasheet=saved["datasheet"])  # type: ignore[arg-type]
    text = (out / "report.html").read_text("utf-8")
    refs = _Refs()
    refs.feed(text)
    assert "script" not in refs.tags and "iframe" not in refs.tags and "img" not in refs.tags
    assert refs.refs and all(r.startswith("#") for r in refs.refs)
    assert all("http" not in r and "//" not in r for r in refs.refs)
    css = " ".join(refs.styles)
    assert "url(" not in css and "@import" not in css
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.count("<svg") >= 4  # training curves, group bars, importance, architecture
    report = json.loads((out / "report.json").read_bytes())
    assert report["summary"]["project"] == "<script>alert(1)</script>"


def test_pdf_text_has_every_heading_and_the_digest(written: Path) -> None:
    from pypdf import PdfReader

    reader = PdfReader(str(written / "report.pdf"))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for title in SECTION_TITLES.values():
        assert title in text, title
    assert sha((written / "report.json").read_bytes()) in text
    assert "Model audit report" in reader.pages[0].extract_text()
    assert reader.metadata is not None and reader.metadata.creation_date is not None
    assert reader.metadata.creation_date.year == 2025


def test_pdf_without_a_unicode_font_falls_back_and_says_so(written: Path) -> None:
    from pypdf import PdfReader

    from workbench.core.report.pdf import PdfFonts

    report = json.loads((written / "report.json").read_bytes())
    report["summary"]["project"] = "Kredit Ω — ≥ 0.8"
    data = render_pdf(report, PdfFonts(None, "PDF core fonts; non-Latin-1 text transliterated"))
    first = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "Kredit ? - >= 0.8" in first and "transliterated" in first


def test_manifest_lists_the_digest_of_every_file(saved: dict[str, object], written: Path) -> None:
    manifest = json.loads((written / "manifest.json").read_bytes())
    assert manifest["_type"] == "https://in-toto.io/Statement/v1"
    assert manifest["predicateType"] == "https://model-workbench.dev/audit-report/v1"
    digests = {s["name"]: s["digest"]["sha256"] for s in manifest["subject"]}
    for name in ("report.json", "report.html", "report.pdf"):
        assert digests[name] == sha((written / name).read_bytes())
    path = Path(str(saved["path"]))
    assert digests[path.name] == sha(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        for run in load_project(path).runs:
            entry = f"runs/{run.id}/weights.safetensors"
            assert digests[entry] == sha(zf.read(entry))
    assert digests["data fingerprint"] == load_project(path).data_fingerprint
    predicate = manifest["predicate"]
    assert predicate["report"]["sha256"] == digests["report.json"]
    assert predicate["time"] == TIME
    assert {"python", "torch", "numpy", "captum", "fairlearn", "fpdf2"} <= set(predicate["libraries"])
    assert verify_report_dir(written, project=path).ok


# --------------------------------------------------------------------------- command line
def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_signature_round_trip(saved: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    folder = Path(str(saved["folder"])) / "signed"
    folder.mkdir()
    key = folder / "auditor.pem"
    assert run_cli(["keygen", "-o", str(key)], capsys)[0] == 0
    assert (folder / "auditor.pub.pem").is_file() and key.stat().st_mode & 0o077 == 0
    assert run_cli(["keygen", "-o", str(folder / "other.pem")], capsys)[0] == 0
    out = folder / "report"
    code, _, err = run_cli(["report", str(saved["path"]), "-o", str(out), "--time", TIME, "--sign", str(key),
                            "--no-verify"], capsys)
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == {*FILES, "signature.json"}
    code, text, _ = run_cli(["verify-report", str(out), "--key", str(folder / "auditor.pub.pem")], capsys)
    assert code == 0 and "OK" in text
    # the same key and time sign the same bytes the same way (Ed25519 is deterministic)
    again = folder / "again"
    assert run_cli(["report", str(saved["path"]), "-o", str(again), "--time", TIME, "--sign", str(key),
                    "--no-verify"], capsys)[0] == 0
    for name in (*FILES, "signature.json"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name

    code, text, _ = run_cli(["verify-report", str(out), "--key", str(folder / "other.pub.pem")], capsys)
    assert code == 1 and "signature.json" in text and "different key" in text

    pdf = bytearray((out / "report.pdf").read_bytes())
    pdf[len(pdf) // 2] ^= 0x01
    (out / "report.pdf").write_bytes(bytes(pdf))
    code, text, _ = run_cli(["verify-report", str(out), "--key", str(folder / "auditor.pub.pem")], capsys)
    assert code == 1
    failed = [line for line in text.splitlines() if line.startswith(("DIFFERS", "FAILED"))]
    assert failed and all("report.pdf" in line for line in failed)


def test_signature_of_an_edited_manifest_fails(saved: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    folder = Path(str(saved["folder"])) / "edited"
    folder.mkdir()
    key = folder / "k.pem"
    run_cli(["keygen", "-o", str(key)], capsys)
    write_report(load_project(saved["path"]), folder / "r", project_path=saved["path"], time=TIME,  # type: ignore[arg-type]
                 verify=False, sign_key=key, datasheet=saved["datasheet"])  # type: ignore[arg-type]
    manifest = (folder / "r" / "manifest.json").read_bytes()
    (folder / "r" / "manifest.json").write_bytes(manifest.replace(b'"time":"2025', b'"time":"2024'))
    result = verify_report_dir(folder / "r")
    assert not result.ok
    assert {i["name"] for i in result.failures} == {"manifest.json", "signature.json"}


def test_report_command_bad_input(saved: dict[str, object], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cases = [
        ["report", str(tmp_path / "missing.wbproj"), "-o", str(tmp_path / "r")],
        ["report", str(saved["path"]), "-o", str(a_file)],
        ["report", str(saved["path"]), "-o", str(tmp_path / "r"), "--time", "yesterday-ish"],
        ["report", str(saved["path"]), "-o", str(tmp_path / "no" / "such" / "folder")],
        ["report", str(saved["path"]), "-o", str(tmp_path / "r"), "--sign", str(a_file)],
        ["report", str(saved["path"]), "-o", str(tmp_path / "r"), "--run", "nope", "--no-verify"],
        ["verify-report", str(tmp_path / "nowhere")],
        ["verify-report", str(tmp_path)],
        ["keygen", "-o", str(a_file)],
    ]
    for args in cases:
        code, out, err = run_cli(args, capsys)
        lines = err.strip().splitlines()
        assert code == 2, (args, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, err)
    assert not (tmp_path / "r").exists()  # nothing is written when the report cannot be made


# ------------------------------------------------------------------ what is and is not there
def test_a_project_without_runs_is_reported_as_not_assessed() -> None:
    project = create_project("mlp", builtin_spec("iris"), seed=0)
    report = build_report(project, project_path=None, time=TIME, verify=False, datasheet={"title": "iris"})
    by_id = {s["id"]: s for s in report["sections"]}
    for sid in ("training", "performance", "fairness", "explanations", "group_explanations", "mitigations",
                "verification", "findings"):
        assert by_id[sid]["status"] == "not assessed" and by_id[sid]["reason"], sid
    assert by_id["identity"]["project"]["file"]["reason"] == "the project has not been saved to a file"
    assert report["summary"]["run"] is None
    assert render_pdf(report)[:5] == b"%PDF-"


def test_findings_and_signoff_come_from_the_audit_file(saved: dict[str, object], tmp_path: Path) -> None:
    from workbench.core.audit_file import AuditFile, new_finding, save_audit

    project = saved["project"]
    audit = AuditFile.for_project(project, saved["path"])  # type: ignore[arg-type]
    audit.findings += [new_finding({"kind": "project"}, "A note.", "info", "me"),
                       new_finding({"kind": "run", "run": "x"}, "Serious <b>problem</b>.", "high", "me")]
    audit.signoff = {"name": "A. Auditor", "role": "Model risk", "date": "2025-01-31", "statement": "Fine."}
    audit_path = tmp_path / "credit.wbaudit"
    save_audit(audit, audit_path)
    report = build_report(project, project_path=saved["path"], audit=audit_path, time=TIME,  # type: ignore[arg-type]
                          verify=False, datasheet=saved["datasheet"])  # type: ignore[arg-type]
    findings = next(s for s in report["sections"] if s["id"] == "findings")
    assert findings["status"] == "assessed"
    assert [f["severity"] for f in findings["findings"]] == ["high", "info"]
    assert findings["counts"] == {"high": 1, "medium": 0, "low": 0, "info": 1}
    assert findings["audit_file"]["matches_project"] is True
    assert findings["audit_file"]["sha256"] == sha(audit_path.read_bytes())
    assert report["summary"]["signoff"]["status"] == "signed off"
    html = render_html(report)
    assert "Serious &lt;b&gt;problem&lt;/b&gt;." in html and "<b>problem" not in html

    # the auditor's stored verification of this very file is used instead of recomputing
    audit.verification = {"ok": True, "elapsed": 1.5, "items": [
        {"kind": "weights", "name": "weights of run 'baseline'", "status": "verified", "expected": "a", "actual": "a"}]}
    save_audit(audit, audit_path)
    report = build_report(project, project_path=saved["path"], audit=audit_path, time=TIME,  # type: ignore[arg-type]
                          datasheet=saved["datasheet"])  # type: ignore[arg-type]
    verification = next(s for s in report["sections"] if s["id"] == "verification")
    assert verification["source"].startswith("stored in the audit file") and not verification["recomputed"]
    assert verification["counts"] == {"verified": 1, "differs": 0, "cannot verify": 0}
    assert "elapsed" not in json.dumps(verification)  # wall-clock time would break byte-identical reports

    other = AuditFile(project_sha256="0" * 64, project_file="other.wbproj")
    save_audit(other, tmp_path / "other.wbaudit")
    report = build_report(project, project_path=saved["path"], audit=tmp_path / "other.wbaudit", time=TIME,  # type: ignore[arg-type]
                          verify=False, datasheet=saved["datasheet"])  # type: ignore[arg-type]
    findings = next(s for s in report["sections"] if s["id"] == "findings")
    assert findings["status"] == "incomplete" and findings["audit_file"]["matches_project"] is False
