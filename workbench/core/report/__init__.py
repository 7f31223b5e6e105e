"""The audit report: one canonical ``report.json``, and the HTML, PDF and manifest drawn from it.

``build_report(project, project_path=..., ...)`` collects every section (see
:data:`SECTION_TITLES`) into a dict; ``render_html`` and ``render_pdf`` draw it;
``write_report`` writes the folder an auditor hands over::

    report.json      the record (canonical JSON: sorted keys, numbers written one way)
    report.html      self-contained: inline SVG charts, no scripts, no URLs
    report.pdf       the same content, drawn with fpdf2
    manifest.json    an in-toto Statement listing the sha256 of every file and input
    signature.json   with a signing key: Ed25519 over manifest.json

The same project, run and time give byte-identical files. No Qt here; the window's
File → Export Report… calls :func:`write_report`.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.core.project import Project
from workbench.core.report.build import (
    FORMAT,
    FORMAT_VERSION,
    KNOWN_LIMITS,
    MIN_GROUP_SIZE,
    SECTION_TITLES,
    ReportError,
    build_report,
    parse_time,
)
from workbench.core.report.canonical import canonical_bytes, sha256_hex
from workbench.core.report.html import render_html
from workbench.core.report.pdf import find_fonts, render_pdf

__all__ = [
    "FILES",
    "FORMAT",
    "FORMAT_VERSION",
    "KNOWN_LIMITS",
    "MIN_GROUP_SIZE",
    "SECTION_TITLES",
    "ReportError",
    "build_report",
    "canonical_bytes",
    "parse_time",
    "render_html",
    "render_pdf",
    "write_report",
]

#: The files of a report folder, in the order they are written.
FILES = ("report.json", "report.html", "report.pdf", "manifest.json", "signature.json")


def _out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """The report folder, checked (it is made only once the report is ready to write)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ReportError(f"{str(out)!r} is a file; give a folder for the report.")
    if not out.exists() and not out.parent.is_dir():
        raise ReportError(f"The folder {str(out.parent)!r} does not exist.")
    return out


def write_report(
    project: Project,
    out_dir: str | os.PathLike[str],
    *,
    project_path: str | os.PathLike[str] | None,
    audit: Any = None,
    run_id: str | None = None,
    time: str | datetime | None = None,
    sign_key: str | os.PathLike[str] | Any = None,
    recompute: bool = False,
    verify: bool | None = None,
    datasheet: dict[str, Any] | None = None,
) -> list[Path]:
    """Write the report folder (see the module docstring); returns the paths written.

    ``sign_key`` is an Ed25519 private key (a PEM file or a loaded key); without it, a
    ``signature.json`` left from an earlier report in the folder is removed, since it would
    no longer match. Other arguments are those of :func:`build_report`.

    Raises
    ------
    ReportError
        For a bad folder, run, time, audit file or key; nothing is written then.
    """
    from workbench.core import signing

    out = _out_dir(out_dir)
    key = signing.load_private_key(sign_key) if isinstance(sign_key, str | os.PathLike) else sign_key
    report = build_report(project, project_path=project_path, audit=audit, run_id=run_id, time=time,
                          recompute=recompute, verify=verify, datasheet=datasheet)
    report_bytes = canonical_bytes(report)
    parsed = json.loads(report_bytes)  # the other files are drawn from the JSON alone
    fonts = find_fonts()
    files = {
        "report.json": report_bytes,
        "report.html": render_html(parsed).encode("utf-8"),
        "report.pdf": render_pdf(parsed, fonts),
    }
    manifest = signing.build_manifest(parsed, files, pdf_fonts=fonts.origin)
    files["manifest.json"] = signing.manifest_bytes(manifest)
    if key is not None:
        files["signature.json"] = signing.sign_manifest(files["manifest.json"], key)
    out.mkdir(exist_ok=True)
    written = []
    for name, data in files.items():
        path = out / name
        path.write_bytes(data)
        written.append(path)
    if key is None:
        (out / "signature.json").unlink(missing_ok=True)
    return written


def report_digest(report: dict[str, Any]) -> str:
    """sha256 of the report's canonical JSON (the digest the PDF, HTML and manifest cite)."""
    return sha256_hex(canonical_bytes(report))
