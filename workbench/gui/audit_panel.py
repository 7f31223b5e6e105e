"""The Audit dock: verification of every stored number, findings and the sign-off.

A project opened for audit (``workbench --audit PROJECT``, File → Open for Audit…) is never
written. :class:`AuditSession` keeps what the auditor adds — their own explanations and
fairness audits (added to the runs in memory, split off again when saved), findings, the
sign-off and the last verification — in ``PROJECT.wbaudit`` beside the project
(:mod:`workbench.core.audit_file`). Findings and the sign-off are undoable steps on the
document's undo stack, so Ctrl+Z and the unsaved marker work as for any other edit.

:class:`AuditDock` composes :class:`~widgets.audit.verification.VerificationView` and
:class:`~widgets.audit.findings.FindingsView`. Verify re-reads the project file on a
:class:`~workbench.gui.tasks.TaskRunner` thread (:func:`workbench.core.verify.verify_file`),
with progress and Cancel.
"""

from __future__ import annotations

import copy
import getpass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QFrame, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from widgets.audit.findings import FindingsView
from widgets.audit.verification import VerificationView
from workbench.core.audit_file import AuditFile, audit_path_for, load_audit, new_finding, save_audit
from workbench.core.project import Project
from workbench.gui.tasks import TaskRunner

__all__ = ["READ_ONLY_REASON", "AuditDock", "AuditSession"]

READ_ONLY_REASON = "Read-only: the project is open for audit, so it is never changed or saved."


class AuditSession:
    """The project opened for audit, and the auditor's own file beside it."""

    def __init__(self, project: Project, project_path: Path) -> None:
        self.project = project
        self.project_path = Path(project_path)
        self.audit_path = audit_path_for(project_path)
        self.mismatch: str | None = None
        if self.audit_path.exists():
            self.audit = load_audit(self.audit_path)  # ProjectFileError: the caller says why
            self.mismatch = self.audit.matches(self.project_path)
        else:
            self.audit = AuditFile.for_project(project, project_path)
        self.own_ids = {a.id for r in project.runs for a in r.analyses}  # the project's own
        for run in project.runs:  # the auditor's analyses are shown with the runs they are of
            for a in self.audit.analyses.get(run.id, []):
                if a.id not in self.own_ids and all(a.id != b.id for b in run.analyses):
                    run.analyses.append(a)

    def is_auditors(self, analysis_id: str) -> bool:
        """Whether an analysis was made by the auditor (not part of the project file)."""
        return analysis_id not in self.own_ids

    def save(self) -> Path:
        """Write the audit file: the auditor's analyses, findings, sign-off, verification."""
        self.audit.analyses = {
            run.id: [a for a in run.analyses if a.id not in self.own_ids]
            for run in self.project.runs
            if any(a.id not in self.own_ids for a in run.analyses)
        }
        save_audit(self.audit, self.audit_path)
        return self.audit_path


class _AuditEdit(QUndoCommand):
    """One change of the audit file (a finding, the sign-off), undoable."""

    def __init__(self, dock: AuditDock, text: str, findings: list[dict[str, Any]], signoff: Any) -> None:
        super().__init__(text)
        self.dock = dock
        audit = dock.session.audit if dock.session is not None else None
        self.before = (copy.deepcopy(audit.findings), copy.deepcopy(audit.signoff)) if audit else ([], None)
        self.after = (findings, signoff)

    def _set(self, state: tuple[list[dict[str, Any]], Any]) -> None:
        if self.dock.session is None:
            return
        self.dock.session.audit.findings = copy.deepcopy(state[0])
        self.dock.session.audit.signoff = copy.deepcopy(state[1])
        self.dock.refresh()

    def redo(self) -> None:
        self._set(self.after)

    def undo(self) -> None:
        self._set(self.before)


class AuditDock(QWidget):
    """Verification and findings of the project open for audit."""

    verified = Signal(dict)  # a verification finished: VerificationReport.to_dict()

    def __init__(self, window: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.session: AuditSession | None = None
        self.verification = VerificationView()
        self.findings = FindingsView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.verification, "Verification")
        scroll = QScrollArea()  # the form is taller than a dock on a 768-pixel screen
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.findings)
        self.tabs.addTab(scroll, "Findings and sign-off")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.runner = TaskRunner(self)
        self.runner.progressed.connect(self.verification.set_progress)
        self.runner.finished.connect(self._on_verified)
        self.runner.failed.connect(self._on_verify_failed)
        self.runner.cancelled.connect(lambda: self._on_verify_failed("Verification cancelled.", ""))
        self.verification.verify_requested.connect(self.verify)
        self.verification.cancel_requested.connect(self.runner.cancel)
        self.findings.finding_added.connect(self.add_finding)
        self.findings.finding_removed.connect(self.remove_finding)
        self.findings.signed_off.connect(self.sign_off)
        self.findings.signoff_withdrawn.connect(lambda: self._edit("Withdraw sign-off", signoff=None))
        self.set_session(None)

    # ------------------------------------------------------------------ session
    def set_session(self, session: AuditSession | None) -> None:
        """Show the audit of a project (None: no project is open for audit)."""
        self.runner.cancel()
        self.session = session
        self.verification.verify_button.setEnabled(session is not None)
        why = "" if session is not None else "Open a project for audit (File → Open for Audit…) to add findings."
        self.findings.set_editable(session is not None, why)
        if session is not None and not self.findings.name_edit.text():
            try:
                self.findings.name_edit.setText(getpass.getuser())
            except (OSError, KeyError):
                pass
        self.refresh()

    def refresh(self) -> None:
        """Show the session's findings, sign-off, last verification and what findings can be about."""
        session = self.session
        if session is None:
            self.findings.set_targets([])
            self.findings.set_findings([])
            self.findings.set_signoff(None)
            self.verification.set_report(None)
            return
        self.findings.set_targets(self.targets())
        self.findings.set_findings(session.audit.findings)
        self.findings.set_signoff(session.audit.signoff)
        self.verification.set_report(session.audit.verification)

    def targets(self) -> list[tuple[str, dict[str, Any]]]:
        """Everything a finding can be attached to, in the user's words."""
        assert self.session is not None
        project = self.session.project
        out: list[tuple[str, dict[str, Any]]] = [("The project as a whole", {"kind": "project"}),
                                                 ("The data", {"kind": "data"})]
        for run in project.runs:
            out.append((f"Run {run.name!r}", {"kind": "run", "run": run.id}))
            for name in run.metrics:
                if name != "confusion":
                    out.append((f"  {name} of {run.name!r}", {"kind": "metric", "run": run.id, "item": name}))
            for a in run.analyses:
                if a.kind == "fairness":
                    cols = ", ".join(map(str, a.meta.get("sensitive") or []))
                    out.append((f"  fairness audit by {cols} ({a.id}) of {run.name!r}",
                                {"kind": "fairness", "run": run.id, "analysis": a.id}))
                elif a.kind in ("explanation", "group_explanation"):
                    title = a.meta.get("title") or a.meta.get("method") or a.kind
                    out.append((f"  explanation {title} ({a.id}) of {run.name!r}",
                                {"kind": "explanation", "run": run.id, "analysis": a.id}))
                    for row in (a.meta.get("row_ids") or [])[:20]:
                        out.append((f"    sample {row} of {title} ({a.id})",
                                    {"kind": "sample", "run": run.id, "analysis": a.id, "item": str(row)}))
        out.append(("The verification", {"kind": "verification"}))
        return out

    # ------------------------------------------------------------------ edits
    def _edit(self, text: str, *, findings: list[dict[str, Any]] | None = None, signoff: Any = ...) -> None:
        if self.session is None or self.window.doc is None:
            return
        audit = self.session.audit
        new_findings = copy.deepcopy(audit.findings if findings is None else findings)
        new_signoff = copy.deepcopy(audit.signoff if signoff is ... else signoff)
        self.window.doc.undo_stack.push(_AuditEdit(self, text, new_findings, new_signoff))

    def add_finding(self, target: dict[str, Any], text: str, severity: str) -> None:
        if self.session is None:
            return
        try:
            finding = new_finding(target, text, severity, author=self.findings.name_edit.text().strip())
        except ValueError as exc:
            self.findings.show_message(str(exc))
            return
        self._edit("Add finding", findings=[*self.session.audit.findings, finding])

    def remove_finding(self, finding_id: str) -> None:
        if self.session is None:
            return
        kept = [f for f in self.session.audit.findings if f.get("id") != finding_id]
        if len(kept) != len(self.session.audit.findings):
            self._edit("Remove finding", findings=kept)

    def sign_off(self, signoff: dict[str, Any]) -> None:
        self._edit(f"Sign off as {signoff.get('name')}", signoff=dict(signoff))

    # ------------------------------------------------------------------ verification
    def verify(self) -> None:
        """Re-derive every stored number of the project file, off the GUI thread."""
        if self.session is None:
            return
        from workbench.core.verify import verify_file

        path = self.session.project_path
        self.verification.set_busy(True)
        self.runner.start(lambda progress, cancelled: verify_file(path, progress=progress, cancel=cancelled)[1].to_dict())

    def _on_verified(self, report: dict[str, Any]) -> None:
        self.verification.set_busy(False)
        if self.session is not None:
            self.session.audit.verification = report
            self.window.dirty = True  # the verification is kept in the audit file when saved
        self.verification.set_report(report)
        counts = report.get("counts", {})
        self.window.log_message(
            f"Verified {self.session.project_path.name if self.session else 'the project'}: "
            f"{counts.get('verified', 0)} verified, {counts.get('differs', 0)} differ, "
            f"{counts.get('cannot verify', 0)} cannot be verified.")
        self.verified.emit(report)

    def _on_verify_failed(self, message: str, details: str) -> None:
        self.verification.set_busy(False)
        self.verification.summary.setText(f"Verification stopped: {message}")
        if details:
            self.window.log_message(f"Verification failed: {message}")

    def shutdown(self) -> None:
        self.runner.shutdown()
