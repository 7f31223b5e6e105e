"""Audit report speed: the full report of the German credit demo, against the 3 s budget.

The project is built here with the headless API (workbench.core.session / analysis): an MLP
on German credit, two runs (a baseline and a reweighing mitigation), three stored
explanations of the baseline (integrated gradients, exact Shapley values, saliency), two
stored fairness audits (test split: sex and age, 1,000 resamples; validation split: sex),
a comparison of explanations across sex, and an audit file with findings, a sign-off and
the auditor's stored verification. It is saved, and then, in this same process (as the
window's File → Export Report… would), ``write_report`` writes report.json, report.html,
report.pdf and manifest.json, signed.

Budget (DESIGN.md): a full report ≤ 3 s excluding recomputation. What is recomputation and
timed apart: re-deriving every stored number (``verify_project``; the report uses the
verification stored in the audit file) and evaluating the model on the test split
(``--recompute``). The datasheet is computed from the data inside ``write_report`` and is
counted in the budget. The ratio printed is measured time / 3 s. Also printed, for
information: the same report from a fresh ``workbench report`` process (imports torch,
loads the project) and a warm repeat.

Run: ``.venv/bin/python bench/report.py [--repeats 3] [--no-cli]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUDGET_S = 3.0
TIME = "2025-01-31T12:00:00Z"


def build_demo(folder: Path) -> tuple[Path, Path]:
    """The demo project and its audit file, saved in ``folder``."""
    from engines.data import builtin_spec
    from workbench.core.analysis import (
        audit_run,
        explain_by_group,
        explain_run,
        explanation_analysis,
        fairness_analysis,
        group_explanation_analysis,
        mitigate_run,
    )
    from workbench.core.audit_file import AuditFile, new_finding, save_audit
    from workbench.core.project import save_project
    from workbench.core.session import create_project, load_data, train_run

    project = create_project("mlp", builtin_spec("german_credit"), seed=0, name="German credit demo")
    project.ui["model_card"] = {
        "intended_use": "Ranking credit applications for manual review by a loan officer.",
        "limitations": "Trained on 1,000 historical applications from one bank; not for automated denial.",
    }
    data = load_data(project)
    train_run(project, overrides={"epochs": 5}, data=data, name="baseline")
    base = project.active()
    assert base is not None
    for method in ("ig", "shapley", "saliency"):
        base.add_analysis(explanation_analysis(explain_run(project, method, n=30, data=data)))
    base.add_analysis(fairness_analysis(audit_run(project, ["sex", "age"], n_boot=1000, data=data)))
    base.add_analysis(fairness_analysis(audit_run(project, ["sex"], split="val", n_boot=1000, data=data)))
    base.add_analysis(group_explanation_analysis(
        explain_by_group(project, "ig", "sex", n_boot=200, n_perm=200, data=data)))
    mitigated = mitigate_run(project, "reweighing", "sex", data=data)
    mitigated.add_analysis(fairness_analysis(audit_run(project, ["sex", "age"], n_boot=1000, data=data,
                                                       run_id=mitigated.id)))
    project.active_run = base.id
    path = folder / "german-credit.wbproj"
    save_project(project, path)

    audit = AuditFile.for_project(project, path)
    audit.findings += [
        new_finding({"kind": "fairness", "run": base.id}, "Selection rates by sex differ by less than "
                    "their interval; no action.", "low", "A. Auditor"),
        new_finding({"kind": "project"}, "The training data is 1,000 rows from one bank.", "medium", "A. Auditor"),
    ]
    audit.signoff = {"name": "A. Auditor", "role": "Model risk", "date": "2025-01-31",
                     "statement": "Reviewed for manual-review use."}
    audit_path = folder / "german-credit.wbaudit"
    save_audit(audit, audit_path)
    return path, audit_path


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def naive_rederive(project) -> int:
    """Re-derive every stored metric and analysis one by one, nothing shared; returns the count."""
    from workbench.core.analysis import audit_run, explain_by_group, explain_run
    from workbench.core.session import evaluate_run

    n = 0
    for run in project.runs:
        evaluate_run(project, split="val", run_id=run.id)
        n += 1
        for a in run.analyses:
            req = dict(a.meta.get("request") or {})
            if a.epoch is not None or not req:
                continue
            if a.kind == "explanation":
                explain_run(project, req.pop("method"), samples=req.pop("samples"), run_id=run.id,
                            options=req.pop("options", None) or None, **req)
            elif a.kind == "fairness":
                audit_run(project, req.pop("sensitive"), run_id=run.id, **req)
            elif a.kind == "group_explanation":
                explain_by_group(project, req.pop("method"), req.pop("sensitive"), run_id=run.id,
                                 options=req.pop("options", None) or None, **req)
            n += 1
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="warm repeats (best of)")
    parser.add_argument("--no-cli", action="store_true", help="skip the fresh-process CLI timing")
    args = parser.parse_args()

    import torch

    from workbench.core.audit_file import load_audit, save_audit
    from workbench.core.project import load_project
    from workbench.core.signing import write_keypair
    from workbench.core.verify import verify_project

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        path, audit_path = build_demo(folder)
        print(f"demo project built and saved in {time.perf_counter() - t0:.1f} s: 2 runs, 3 explanations, "
              "2 fairness audits of the baseline (+1 of the mitigation), 1 comparison across groups")
        key, _ = write_keypair(folder / "auditor.pem")
        project = load_project(path)

        # recomputation, timed apart: the auditor's verification, kept in the audit file
        t0 = time.perf_counter()
        verification = verify_project(project, path).to_dict()
        t_verify = time.perf_counter() - t0
        audit = load_audit(audit_path)
        audit.verification = verification
        save_audit(audit, audit_path)
        # the naive way to re-derive the same numbers: each item on its own, as separate
        # commands would (data prepared and model built again for every one)
        t0 = time.perf_counter()
        naive_items = naive_rederive(project)
        t_naive = time.perf_counter() - t0

        from workbench.core.report import write_report

        t0 = time.perf_counter()
        write_report(project, folder / "r1", project_path=path, audit=audit_path, time=TIME, sign_key=key)
        first = time.perf_counter() - t0
        warm = []
        for i in range(args.repeats):
            t0 = time.perf_counter()
            write_report(project, folder / f"w{i}", project_path=path, audit=audit_path, time=TIME, sign_key=key)
            warm.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        write_report(project, folder / "rc", project_path=path, audit=audit_path, time=TIME, sign_key=key,
                     recompute=True)
        t_recompute = time.perf_counter() - t0 - min(warm)
        same = digest(folder / "r1") == digest(folder / "w0")
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1024:.0f} KiB" for p in sorted((folder / "r1").iterdir()))
        print(f"files: {sizes}; identical on rewrite: {'yes' if same else 'NO'}")

        cli = None
        if not args.no_cli:
            env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "workbench.cli", "report", str(path), "--audit", str(audit_path),
                 "-o", str(folder / "cli"), "--time", TIME, "--sign", str(key), "--json"],
                env=env, capture_output=True, text=True, check=False, cwd=ROOT)
            cli = time.perf_counter() - t0
            if done.returncode != 0:
                print(done.stderr.strip())
            same = same and digest(folder / "cli") == digest(folder / "r1")

    ratio = first / BUDGET_S
    print(f"recomputation (not in the budget): verification {t_verify:.2f} s, "
          f"test-split evaluation {max(t_recompute, 0.0):.2f} s")
    print(f"verify vs naive re-derivation of the same {naive_items} items: {t_verify:.2f} s vs {t_naive:.2f} s "
          f"(ratio {t_verify / t_naive:.2f}; verify prepares the data and builds each model once)")
    print(f"write_report, first call in the process : {first:6.2f} s   ratio {ratio:.2f} of the {BUDGET_S:.0f} s budget")
    print(f"write_report, warm (best of {args.repeats})        : {min(warm):6.2f} s   ratio {min(warm) / BUDGET_S:.2f}")
    if cli is not None:
        print(f"workbench report, fresh process         : {cli:6.2f} s   (imports torch, loads the project; "
              f"ratio {cli / BUDGET_S:.2f}, for information)")
    print(f"same bytes from the CLI and the API: {'yes' if same else 'NO'}")
    ok = ratio <= 1.0 and same
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
