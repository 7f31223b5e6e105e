"""The auditor's own file, ``PROJECT.wbaudit``, kept beside the project it audits.

An auditor opens a project read-only: the ``.wbproj`` is never written. What they add — their
own explanations and fairness audits of its runs, findings attached to any item, the last
verification, and the sign-off — lives here, with the sha256 of the project file it was made
for, so opening it beside another version of the project says so. The format follows the
project file's safety rules (it is read by the same checked reader)::

    audit.json                                   format, schema version, everything but arrays
    analyses/<run id>/<analysis id>/<name>.npy   numeric arrays of the auditor's analyses

Saving is atomic; loading never executes code and refuses pickles, unsafe paths and entries
over the limits, each with a one-sentence message.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench import __version__
from workbench.core.project import (
    ANALYSIS_KINDS,
    Analysis,
    Project,
    ProjectFileError,
    _archive,
    _atomic_write,
    _check_entry_name,
    _compress_type,
    _dumps,
    _npy_bytes,
    _Reader,
    _schema_problem,
)

__all__ = [
    "AUDIT_FORMAT",
    "AUDIT_SCHEMA_VERSION",
    "AUDIT_SUFFIX",
    "SEVERITIES",
    "AuditFile",
    "audit_path_for",
    "file_sha256",
    "load_audit",
    "new_finding",
    "save_audit",
]

AUDIT_FORMAT = "model-workbench-audit"
AUDIT_SCHEMA_VERSION = 1
AUDIT_SUFFIX = ".wbaudit"
AUDIT_JSON = "audit.json"
SEVERITIES = ("info", "low", "medium", "high")
TARGET_KINDS = ("project", "data", "run", "metric", "fairness", "explanation", "sample", "verification")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def audit_path_for(project_path: str | os.PathLike[str]) -> Path:
    """Where the audit of ``project_path`` lives: beside it, ``NAME.wbaudit``."""
    p = Path(project_path)
    return p.with_name(p.stem + AUDIT_SUFFIX)


def new_finding(target: dict[str, Any], text: str, severity: str, author: str = "") -> dict[str, Any]:
    """A finding as the audit file keeps it; raises ``ValueError`` for an unusable one."""
    if severity not in SEVERITIES:
        raise ValueError(f"Severity must be one of {', '.join(SEVERITIES)}, not {severity!r}.")
    if not text.strip():
        raise ValueError("A finding needs some text.")
    if target.get("kind") not in TARGET_KINDS:
        raise ValueError(f"A finding is attached to one of {', '.join(TARGET_KINDS)}, not {target.get('kind')!r}.")
    return {"id": secrets.token_hex(4), "target": dict(target), "text": text.strip(), "severity": severity,
            "author": author, "created": _now()}


@dataclass
class AuditFile:
    """What an auditor adds to a project without changing it.

    ``analyses`` maps a run id to the auditor's analyses of that run; ``findings`` are dicts
    (``id``, ``target`` {``kind``, ``run``, ``analysis``, ``item``}, ``text``, ``severity``,
    ``author``, ``created``); ``signoff`` is None or {``name``, ``role``, ``date``,
    ``statement``}; ``verification`` the last ``VerificationReport.to_dict()`` or None.
    """

    project_sha256: str
    project_name: str = ""
    project_file: str = ""
    analyses: dict[str, list[Analysis]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    signoff: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    created: str = field(default_factory=_now)
    modified: str = ""
    app_version: str = __version__

    @classmethod
    def for_project(cls, project: Project, project_path: str | os.PathLike[str]) -> AuditFile:
        """A new, empty audit of the project file at ``project_path``."""
        return cls(project_sha256=file_sha256(project_path), project_name=project.name,
                   project_file=Path(project_path).name)

    def matches(self, project_path: str | os.PathLike[str]) -> str | None:
        """None if this audit was made for the file at ``project_path``; else why not, in a sentence."""
        found = file_sha256(project_path)
        if found == self.project_sha256:
            return None
        return (f"This audit was made for another version of {self.project_file or 'the project'} "
                f"(sha256 {self.project_sha256[:12]}…, this file is {found[:12]}…): its findings "
                "and analyses refer to that version.")

    def analysis_ids(self) -> set[str]:
        return {a.id for items in self.analyses.values() for a in items}


# --------------------------------------------------------------------------- file layout
_STR = {"type": "string"}
_ANALYSIS = {
    "type": "object",
    "required": ["id", "kind", "created", "epoch", "meta", "arrays"],
    "properties": {
        "id": {"type": "string", "pattern": _ID_RE.pattern},
        "kind": {"enum": list(ANALYSIS_KINDS)},
        "created": _STR,
        "epoch": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]},
        "meta": {"type": "object"},
        "arrays": {"type": "object", "propertyNames": {"pattern": _ID_RE.pattern},
                   "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 1024}},
    },
}
AUDIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format", "schema_version", "app_version", "project_sha256", "project_name",
                 "project_file", "created", "modified", "analyses", "findings", "signoff",
                 "verification"],
    "properties": {
        "format": {"const": AUDIT_FORMAT},
        "schema_version": {"type": "integer"},
        "app_version": _STR,
        "project_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "project_name": _STR,
        "project_file": _STR,
        "created": _STR,
        "modified": _STR,
        "analyses": {"type": "object", "propertyNames": {"pattern": _ID_RE.pattern},
                     "additionalProperties": {"type": "array", "items": _ANALYSIS}},
        "findings": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "target", "text", "severity", "created"],
            "properties": {"id": {"type": "string", "pattern": _ID_RE.pattern},
                           "target": {"type": "object", "required": ["kind"],
                                      "properties": {"kind": {"enum": list(TARGET_KINDS)}}},
                           "text": _STR, "severity": {"enum": list(SEVERITIES)},
                           "author": _STR, "created": _STR}}},
        "signoff": {"anyOf": [{"type": "null"}, {
            "type": "object", "required": ["name", "role", "date", "statement"],
            "properties": {"name": _STR, "role": _STR, "date": _STR, "statement": _STR}}]},
        "verification": {"anyOf": [{"type": "null"}, {"type": "object"}]},
    },
}


def save_audit(audit: AuditFile, path: str | os.PathLike[str]) -> None:
    """Write ``audit`` to ``path`` atomically (the previous file stays whole until then)."""
    audit.modified = _now()
    audit.app_version = __version__
    entries: list[tuple[str, bytes, int]] = []
    analyses: dict[str, list[dict[str, Any]]] = {}
    for run_id, items in audit.analyses.items():
        if not _ID_RE.match(run_id):
            raise ProjectFileError(f"Cannot save the audit: run id {run_id!r} is not valid.")
        records = analyses.setdefault(run_id, [])
        for a in items:
            where = f"analysis {a.id!r} of run {run_id!r}"
            if not _ID_RE.match(a.id) or a.kind not in ANALYSIS_KINDS:
                raise ProjectFileError(f"Cannot save the audit: {where} has an invalid id or kind.")
            files = {}
            for name, array in a.arrays.items():
                if not _ID_RE.match(name):
                    raise ProjectFileError(f"Cannot save the audit: array name {name!r} of {where} is not valid.")
                entry = f"analyses/{run_id}/{a.id}/{name}.npy"
                blob = _npy_bytes(array, f"array {name!r} of {where}")
                entries.append((entry, blob, _compress_type(blob)))
                files[name] = entry
            records.append({"id": a.id, "kind": a.kind, "created": a.created, "epoch": a.epoch,
                            "meta": json.loads(_dumps(a.meta, where)), "arrays": files})
    doc = {
        "format": AUDIT_FORMAT, "schema_version": AUDIT_SCHEMA_VERSION, "app_version": audit.app_version,
        "project_sha256": audit.project_sha256, "project_name": audit.project_name,
        "project_file": audit.project_file, "created": audit.created, "modified": audit.modified,
        "analyses": analyses, "findings": audit.findings, "signoff": audit.signoff,
        "verification": audit.verification,
    }
    problem = _schema_problem(doc, AUDIT_SCHEMA, AUDIT_JSON)
    if problem:
        raise ProjectFileError(f"Cannot save the audit: {problem}.")
    meta = _dumps(doc, AUDIT_JSON, indent=1)

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", allowZip64=True) as zf:
            zf.writestr(AUDIT_JSON, meta, compress_type=zipfile.ZIP_DEFLATED)
            for name, blob, compression in entries:
                zf.writestr(name, blob, compress_type=compression)

    try:
        _atomic_write(Path(path), write)
    except OSError as exc:
        raise ProjectFileError(f"Cannot save {Path(path).name}: {exc.strerror or exc}.") from exc


def load_audit(path: str | os.PathLike[str]) -> AuditFile:
    """Read a ``.wbaudit`` file; never executes code from it and never writes anything.

    Raises
    ------
    ProjectFileError
        With a one-sentence reason for anything unreadable, unsafe or from a newer version.
    """
    import numpy as np

    with _archive(path, "an audit file") as (zf, label):
        reader = _Reader(zf, label)
        reader.check_structure()
        if AUDIT_JSON not in reader.infos:
            raise reader.fail("it has no audit.json, so it is not a Model Workbench audit file")
        reader.check_no_pickles()
        doc = reader.read_json(AUDIT_JSON, "audit.json")
        if not isinstance(doc, dict) or doc.get("format") != AUDIT_FORMAT:
            raise reader.fail("it is not a Model Workbench audit file (audit.json has another format)")
        version = doc.get("schema_version")
        if isinstance(version, int) and not isinstance(version, bool) and version > AUDIT_SCHEMA_VERSION:
            raise reader.fail(f"it was written by a newer Model Workbench (audit schema {version}); "
                              f"this version reads up to {AUDIT_SCHEMA_VERSION}")
        problem = _schema_problem(doc, AUDIT_SCHEMA, AUDIT_JSON)
        if problem:
            raise reader.fail(problem)
        analyses: dict[str, list[Analysis]] = {}
        for run_id, records in doc["analyses"].items():
            items = analyses.setdefault(run_id, [])
            for rec in records:
                arrays = {}
                for name, entry in rec["arrays"].items():
                    bad = _check_entry_name(entry)
                    if bad or not entry.endswith(".npy"):
                        raise reader.fail(f"audit.json: an array of analysis {rec['id']!r} must name a .npy entry")
                    blob = reader.read(entry, f"an array of analysis {rec['id']!r}")
                    try:
                        arrays[name] = np.load(io.BytesIO(blob), allow_pickle=False)
                    except (ValueError, OSError, EOFError) as exc:
                        raise reader.fail(f"{entry} is not a valid NumPy array ({exc})") from exc
                items.append(Analysis(id=rec["id"], kind=rec["kind"], meta=rec["meta"], arrays=arrays,
                                      epoch=rec["epoch"], created=rec["created"]))
    return AuditFile(
        project_sha256=doc["project_sha256"], project_name=doc["project_name"],
        project_file=doc["project_file"], analyses=analyses, findings=doc["findings"],
        signoff=doc["signoff"], verification=doc["verification"], created=doc["created"],
        modified=doc["modified"], app_version=doc["app_version"],
    )
