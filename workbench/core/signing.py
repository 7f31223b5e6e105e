"""The report's manifest (an in-toto Statement), its Ed25519 signature, and checking both.

``manifest.json`` is an in-toto Statement v1: its ``subject`` lists the sha256 of the
project file, each run's weights (the safetensors bytes stored in the project), the data
(the embedded bytes, or the data fingerprint), the audit file when there is one, and
``report.json`` / ``report.html`` / ``report.pdf``; its predicate records the application
and library versions, the report digest and the report time. ``signature.json`` holds an
Ed25519 signature over the manifest's exact bytes, the public key and the algorithm.

:func:`verify_report_dir` recomputes every digest it can from the files and checks the
signature; what differs is named. Keys are PEM: the private key PKCS#8, unencrypted; the
public key SubjectPublicKeyInfo. Uses the ``cryptography`` package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.report.canonical import canonical_bytes, sha256_hex
from workbench.core.session import WorkbenchError

__all__ = [
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "SigningError",
    "VerifyResult",
    "build_manifest",
    "key_id",
    "load_private_key",
    "load_public_key",
    "manifest_bytes",
    "public_key_path",
    "sign_manifest",
    "verify_report_dir",
    "write_keypair",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model-workbench.dev/audit-report/v1"
ALGORITHM = "Ed25519"
REPORT_FILES = ("report.json", "report.html", "report.pdf")
_MAX_KEY_FILE = 64 * 1024


class SigningError(WorkbenchError):
    """A key, manifest or signature cannot be used; the message says why in one sentence."""


# ------------------------------------------------------------------------------ manifest
def _subject(name: str, sha256: str, **annotations: Any) -> dict[str, Any]:
    return {"name": name, "digest": {"sha256": sha256}, "annotations": annotations}


def build_manifest(report: dict[str, Any], files: dict[str, bytes], *, pdf_fonts: str = "") -> dict[str, Any]:
    """The in-toto Statement of a report: digests from ``report.json`` and the rendered ``files``."""
    ident = next(s for s in report["sections"] if s["id"] == "identity")
    project = ident["project"]
    file = project.get("file") or {}
    in_project = file.get("name") or "(unsaved project)"
    subjects = []
    if file.get("sha256"):
        subjects.append(_subject(file["name"], file["sha256"], kind="project"))
    for run in ident.get("runs") or []:
        if run.get("weights_sha256"):
            subjects.append(_subject(f"runs/{run['id']}/weights.safetensors", run["weights_sha256"],
                                     kind="weights", run=run["id"], **{"in": in_project}))
    for item in (ident.get("data") or {}).get("files") or []:
        kind = "data" if item["kind"] == "embedded data" else "data-fingerprint"
        subjects.append(_subject(item["name"], item["sha256"], kind=kind, **{"in": in_project}))
    findings = next(s for s in report["sections"] if s["id"] == "findings")
    audit_file = findings.get("audit_file") or {}
    if audit_file.get("sha256"):
        subjects.append(_subject(audit_file["name"], audit_file["sha256"], kind="audit-file"))
    for name in REPORT_FILES:
        subjects.append(_subject(name, sha256_hex(files[name]), kind="report-file"))
    summary = report["summary"]
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "application": {"name": report["generated"]["application"], "version": report["generated"]["version"]},
            "libraries": ident.get("libraries") or {},
            "report": {"file": "report.json", "sha256": sha256_hex(files["report.json"]),
                       "format": report["format"], "format_version": report["format_version"]},
            "time": report["generated"]["time"],
            "project": {"name": project.get("name"), "file": file.get("name"), "sha256": file.get("sha256")},
            "run": summary.get("run"),
            "pdf_fonts": pdf_fonts,
        },
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The manifest's canonical bytes (what is signed)."""
    return canonical_bytes(manifest)


# ----------------------------------------------------------------------------------- keys
def public_key_path(private_path: str | os.PathLike[str]) -> Path:
    """Where ``keygen`` puts the public key of ``private_path``: ``NAME.pub.pem`` beside it."""
    p = Path(private_path)
    stem = p.name[: -len(".pem")] if p.name.endswith(".pem") else p.name
    return p.with_name(f"{stem}.pub.pem")


def write_keypair(path: str | os.PathLike[str], *, force: bool = False) -> tuple[Path, Path]:
    """A new Ed25519 key: the private key at ``path`` (PKCS#8 PEM, unencrypted, mode 0600) and
    the public key beside it (:func:`public_key_path`)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    priv, pub = Path(path), public_key_path(path)
    if not priv.parent.exists():
        raise SigningError(f"The folder {str(priv.parent)!r} does not exist.")
    for p in (priv, pub):
        if p.exists() and not force:
            raise SigningError(f"{p} already exists; use --force to replace it.")
        if p.is_dir():
            raise SigningError(f"{p} is a folder.")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    priv.unlink(missing_ok=True)
    fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    pub.write_bytes(public_pem)
    return priv, pub


def _read_key_file(path: str | os.PathLike[str], what: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise SigningError(f"No such {what} file: {p}")
    if p.stat().st_size > _MAX_KEY_FILE:
        raise SigningError(f"{p.name} is too large to be a {what}.")
    try:
        return p.read_bytes()
    except OSError as exc:
        raise SigningError(f"Cannot read {p.name}: {exc.strerror or exc}.") from exc


def load_private_key(path: str | os.PathLike[str]) -> Any:
    """An Ed25519 private key from a PEM file (PKCS#8, unencrypted)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read_key_file(path, "private key")
    name = Path(path).name
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SigningError(f"{name} is encrypted; give an unencrypted PKCS#8 key (workbench keygen makes one).") from None
    except (ValueError, Exception) as exc:  # cryptography raises several types for bad PEM
        raise SigningError(f"{name} is not a PEM private key ({_first_line(exc)}).") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{name} is a {type(key).__name__.lstrip('_')}, not an Ed25519 key.")
    return key


def load_public_key(path: str | os.PathLike[str]) -> Any:
    """An Ed25519 public key from a PEM file."""
    return _public_from_pem(_read_key_file(path, "public key"), Path(path).name)


def _public_from_pem(data: bytes, name: str) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, Exception) as exc:  # cryptography raises several types for bad PEM
        raise SigningError(f"{name} is not a PEM public key ({_first_line(exc)}).") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{name} is a {type(key).__name__.lstrip('_')}, not an Ed25519 public key.")
    return key


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__).rstrip(".")


def key_id(public_key: Any) -> str:
    """sha256 of the raw 32-byte public key, in hex: how a key is named in messages."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign_manifest(manifest: bytes, private_key: Any) -> bytes:
    """``signature.json`` for these manifest bytes (canonical JSON)."""
    from cryptography.hazmat.primitives import serialization

    public = private_key.public_key()
    doc = {
        "algorithm": ALGORITHM,
        "signed_file": "manifest.json",
        "manifest_sha256": sha256_hex(manifest),
        "public_key": public.public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii"),
        "key_id": key_id(public),
        "signature": base64.b64encode(private_key.sign(manifest)).decode("ascii"),
    }
    return canonical_bytes(doc)


# ---------------------------------------------------------------------------- verifying
@dataclass
class VerifyResult:
    """Every check of a report folder: ``items`` of ``{"name", "kind", "status", "expected",
    "actual", "reason"}`` with status ``ok``, ``differs``, ``missing``, ``invalid`` or
    ``not checked``; ``ok`` when none differs, is missing or is invalid."""

    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [i for i in self.items if i["status"] in ("differs", "missing", "invalid")]

    def add(self, name: str, kind: str, status: str, expected: Any = None, actual: Any = None,
            reason: str = "") -> None:
        self.items.append({"name": name, "kind": kind, "status": status, "expected": expected,
                           "actual": actual, "reason": reason})

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "items": list(self.items)}


def _archive_entry_sha(project: Path, entry: str) -> str | None:
    try:
        with zipfile.ZipFile(project) as zf:
            h = hashlib.sha256()
            with zf.open(entry) as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            return h.hexdigest()
    except KeyError:
        return None


def _project_fingerprint(project: Path) -> str | None:
    with zipfile.ZipFile(project) as zf:
        doc = json.loads(zf.read("project.json").decode("utf-8"))
    fp = doc.get("data_fingerprint") if isinstance(doc, dict) else None
    return fp if isinstance(fp, str) else None


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_input(result: VerifyResult, subject: dict[str, Any], project: Path | None, audit: Path | None) -> None:
    name, kind = subject["name"], subject["annotations"].get("kind", "")
    expected = subject["digest"].get("sha256")
    actual: str | None
    if kind == "audit-file":
        if audit is None:
            result.add(name, kind, "not checked", expected, reason="pass --audit to check the audit file")
            return
        actual = _file_sha(audit)
    elif project is None:
        result.add(name, kind, "not checked", expected, reason="pass --project to check the project, weights and data")
        return
    else:
        try:
            if kind == "project":
                actual = _file_sha(project)
            elif kind in ("weights", "data"):
                actual = _archive_entry_sha(project, name)
            elif kind == "data-fingerprint":
                actual = _project_fingerprint(project)
            else:
                result.add(name, kind, "not checked", expected, reason=f"unknown subject kind {kind!r}")
                return
        except (OSError, zipfile.BadZipFile, ValueError, KeyError) as exc:
            result.add(name, kind, "invalid", expected, reason=f"cannot read {project.name}: {_first_line(exc)}")
            return
    if actual is None:
        result.add(name, kind, "missing", expected, reason="not in the project file")
    elif actual == expected:
        result.add(name, kind, "ok", expected, actual)
    else:
        result.add(name, kind, "differs", expected, actual, reason="sha256 differs")


def _check_signature(result: VerifyResult, folder: Path, manifest: bytes, key: Any) -> None:
    sig_path = folder / "signature.json"
    if not sig_path.is_file():
        if key is not None:
            result.add("signature.json", "signature", "missing", reason="the report is not signed, but --key was given")
        else:
            result.add("signature.json", "signature", "not checked", reason="the report is not signed")
        return
    try:
        doc = json.loads(sig_path.read_bytes().decode("utf-8"))
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        algorithm, signature = doc.get("algorithm"), base64.b64decode(str(doc.get("signature", "")), validate=True)
        embedded = _public_from_pem(str(doc.get("public_key", "")).encode("ascii"), "signature.json")
    except (ValueError, UnicodeError, SigningError) as exc:
        result.add("signature.json", "signature", "invalid", reason=f"signature.json cannot be read: {_first_line(exc)}")
        return
    if algorithm != ALGORITHM:
        result.add("signature.json", "signature", "invalid", reason=f"unknown algorithm {algorithm!r}")
        return
    if doc.get("manifest_sha256") != sha256_hex(manifest):
        result.add("manifest.json", "manifest", "differs", doc.get("manifest_sha256"), sha256_hex(manifest),
                   reason="manifest.json is not the manifest that was signed")
    trusted = key if key is not None else embedded
    if key is not None and key_id(key) != key_id(embedded):
        result.add("signature.json", "signature", "differs", key_id(key), key_id(embedded),
                   reason="signed with a different key than the --key given")
        return
    from cryptography.exceptions import InvalidSignature

    try:
        trusted.verify(signature, manifest)
    except InvalidSignature:
        result.add("signature.json", "signature", "differs", reason="the Ed25519 signature does not match manifest.json")
        return
    how = "the --key given" if key is not None else "the key inside signature.json (pass --key to pin the key you trust)"
    result.add("signature.json", "signature", "ok", key_id(trusted), key_id(trusted),
               reason=f"Ed25519 signature valid, checked with {how}")


def verify_report_dir(
    folder: str | os.PathLike[str],
    *,
    key: str | os.PathLike[str] | None = None,
    project: str | os.PathLike[str] | None = None,
    audit: str | os.PathLike[str] | None = None,
) -> VerifyResult:
    """Recompute every digest of a report folder's manifest and check its signature.

    Report files are always checked; the project file, weights and data only with
    ``project`` (the ``.wbproj``), the audit file only with ``audit``. ``key`` is the
    public key to trust; without it the signature is checked with the key it carries.

    Raises
    ------
    SigningError
        When the folder, its manifest or a given file cannot be used at all.
    """
    d = Path(folder)
    if not d.is_dir():
        raise SigningError(f"No such report folder: {d}")
    mpath = d / "manifest.json"
    if not mpath.is_file():
        raise SigningError(f"{d} has no manifest.json, so it is not a report folder.")
    for p, what in ((project, "project"), (audit, "audit")):
        if p is not None and not Path(p).is_file():
            raise SigningError(f"No such {what} file: {p}")
    public = load_public_key(key) if key is not None else None
    manifest = mpath.read_bytes()
    try:
        doc = json.loads(manifest.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("_type") != STATEMENT_TYPE or not isinstance(doc.get("subject"), list):
            raise ValueError(f"it is not an in-toto Statement ({STATEMENT_TYPE})")
        subjects = [s for s in doc["subject"] if isinstance(s, dict) and isinstance(s.get("digest"), dict)]
        for s in subjects:
            s.setdefault("annotations", {})
    except (ValueError, UnicodeError) as exc:
        raise SigningError(f"manifest.json cannot be read: {_first_line(exc)}.") from None
    result = VerifyResult()
    for s in subjects:
        name = str(s.get("name", ""))
        if s["annotations"].get("kind") == "report-file":
            path = d / name
            expected = s["digest"].get("sha256")
            if name not in REPORT_FILES or not path.is_file():
                result.add(name, "report-file", "missing", expected, reason="the file is not in the folder")
                continue
            actual = _file_sha(path)
            if actual == expected:
                result.add(name, "report-file", "ok", expected, actual)
            else:
                result.add(name, "report-file", "differs", expected, actual, reason="sha256 differs")
        else:
            _check_input(result, s, Path(project) if project else None, Path(audit) if audit else None)
    for name in REPORT_FILES:
        if not any(i["name"] == name and i["kind"] == "report-file" for i in result.items):
            result.add(name, "report-file", "missing", reason="the manifest does not list it")
    predicate = doc.get("predicate")
    report_info = predicate.get("report") if isinstance(predicate, dict) else None
    cited = report_info.get("sha256") if isinstance(report_info, dict) else None
    report_json = d / "report.json"
    if report_json.is_file():
        actual = _file_sha(report_json)
        if cited != actual:
            result.add("report digest", "predicate", "differs", cited, actual,
                       reason="the manifest's report digest is not the sha256 of report.json")
        else:
            result.add("report digest", "predicate", "ok", cited, actual)
    _check_signature(result, d, manifest, public)
    return result
