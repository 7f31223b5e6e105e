"""Mutation testing of the headless engines with mutmut: do the tests notice a changed line?

mutmut 3 changes one small thing at a time in a copy of the code (``a < b`` → ``a <= b``,
``x + 1`` → ``x - 1``, ``True`` → ``False``, an argument dropped, a string altered, …) and runs
the tests that execute the changed function. A mutant is *killed* when a test fails, a
*timeout* when the tests hang (counted as killed), and *survived* when every test still
passes: a behaviour change that nothing checks. Mutants in functions that none of the
target's tests call are "no tests" and are counted as survivors too.

Targets and budgets (survivors / checked mutants):

- ``engines/fairness`` ≤ 10 % — tests/test_fairness.py, tests/test_mitigation.py and any
  other headless tests/test_*fair*.py (files that use Qt are left out)
- ``engines/explain`` ≤ 10 % — tests/test_explain.py, test_shapley.py, test_explain_checks.py,
  test_explain_by_group.py, test_engine_boundaries.py
- ``engines/training.py`` ≤ 20 % — tests/test_training.py, test_engine_boundaries.py
- ``engines/shapes.py`` ≤ 20 % — tests/test_graph.py, test_layers.py, test_templates.py,
  test_engine_boundaries.py

The working tree is never touched. Each target runs in its own folder, ``.mutmut/<target>/``
(git-ignored), holding a snapshot of engines/, assets/, pyproject.toml (with the target's
``[tool.mutmut]`` section) and the target's tests; mutmut writes its mutated copy and its
cache to ``mutants/`` inside that folder. Each run starts from a fresh snapshot unless
``--resume`` is given (resume keeps earlier verdicts, so use it only to finish an interrupted
run; after changing the tests, run fresh).

Prints per file killed / survived / no-tests / timeout / other / unchecked counts and the
survivor rate, PASS / FAIL per target (INCOMPLETE when a time limit stopped it before the
verdict was certain), and every surviving mutant as file:line with its diff; writes the same
as JSON (default ``bench/results/mutation.json``). Exits 1 when a target fails or errors.

Slow (tens of minutes per target on two cores), so not run in CI.

Run: ``.venv/bin/python bench/mutation.py [--module engines/fairness] [--max-minutes N]
[--max-children 2] [--resume] [--report-only] [--json PATH]``
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime as dt
import difflib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORKDIR = ROOT / ".mutmut"
DEFAULT_JSON = ROOT / "bench" / "results" / "mutation.json"

# Test files that need Qt are never part of a target: they are slow and import widgets.
QT_MARKERS = ("PySide6", "pyqtgraph", "qtbot", "pytest.mark.gui", "import widgets",
              "from widgets", "workbench.gui")


@dataclass(frozen=True)
class Target:
    name: str  # a package folder or a module file, relative to the repository root
    tests: tuple[str, ...]
    budget: float  # highest allowed survivor rate
    extra_tests_glob: str | None = None  # more test files, taken when they are headless

    @property
    def slug(self) -> str:
        return self.name.replace("/", "_").removesuffix(".py")

    def mutate_patterns(self, scope: str | None = None) -> list[str]:
        """Glob patterns (mutmut's ``only_mutate``) for this target or a file/folder inside it."""
        path = scope or self.name
        if path.endswith(".py"):
            return [path]
        return [f"{path.rstrip('/')}/*.py"]


# Run order: cheapest first, so time left over by a quick target goes to the next ones.
TARGETS = (
    Target("engines/shapes.py",
           ("tests/test_graph.py", "tests/test_layers.py", "tests/test_templates.py",
            "tests/test_engine_boundaries.py"), 0.20),
    Target("engines/training.py",
           ("tests/test_training.py", "tests/test_engine_boundaries.py",
            "tests/test_training_mutants.py"), 0.20),
    Target("engines/explain",
           ("tests/test_explain.py", "tests/test_shapley.py", "tests/test_explain_checks.py",
            "tests/test_explain_by_group.py", "tests/test_engine_boundaries.py",
            "tests/test_explain_mutants.py", "tests/test_explain_more_mutants.py"),
           0.10),
    Target("engines/fairness", ("tests/test_fairness.py", "tests/test_mitigation.py"), 0.10,
           extra_tests_glob="tests/test_*fair*.py"),
)

# mutmut's verdicts (mutmut.stats.status_by_exit_code) folded into the columns we print.
COLUMN_OF_STATUS = {
    "killed": "killed",
    "caught by type check": "killed",
    "survived": "survived",
    "no tests": "no_tests",
    "timeout": "timeout",
    "suspicious": "other",
    "segfault": "other",
    "check was interrupted by user": "other",
    "skipped": "skipped",
    "not checked": "unchecked",
}
COLUMNS = ("killed", "survived", "no_tests", "timeout", "other", "unchecked")
SURVIVOR_COLUMNS = ("survived", "no_tests")


# ---------------------------------------------------------------------------------------------
# Choosing targets and tests


def select_targets(modules: list[str] | None) -> list[tuple[Target, str | None]]:
    """(target, scope) pairs for ``--module`` values; scope narrows a package target to a part."""
    if not modules:
        return [(t, None) for t in TARGETS]
    chosen: list[tuple[Target, str | None]] = []
    for raw in modules:
        m = raw.strip().rstrip("/").removeprefix("./")
        if not m.endswith(".py") and (ROOT / f"{m}.py").is_file():
            m = f"{m}.py"
        for t in TARGETS:
            if m == t.name:
                chosen.append((t, None))
                break
            if not t.name.endswith(".py") and m.startswith(t.name + "/"):
                chosen.append((t, m))
                break
        else:
            names = ", ".join(t.name for t in TARGETS)
            raise SystemExit(f"--module {raw}: not a target or inside one (targets: {names})")
    return chosen


def is_headless(test_file: Path) -> bool:
    text = test_file.read_text(encoding="utf-8")
    return not any(marker in text for marker in QT_MARKERS)


def tests_for(target: Target) -> tuple[list[str], list[str]]:
    """The target's test files that exist, and notes on the ones left out."""
    tests: list[str] = []
    notes: list[str] = []
    for rel in target.tests:
        if (ROOT / rel).is_file():
            tests.append(rel)
        else:
            notes.append(f"{rel}: missing, left out")
    if target.extra_tests_glob:
        for path in sorted(ROOT.glob(target.extra_tests_glob)):
            rel = path.relative_to(ROOT).as_posix()
            if rel in tests:
                continue
            if is_headless(path):
                tests.append(rel)
            else:
                notes.append(f"{rel}: uses Qt, left out")
    return tests, notes


# ---------------------------------------------------------------------------------------------
# The per-target work folder


def sync_tree(src: Path, dst: Path) -> None:
    """Make ``dst`` a copy of ``src`` (file times kept, so mutmut sees unchanged files as such)."""
    wanted: set[Path] = set()
    for path in src.rglob("*"):
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        rel = path.relative_to(src)
        wanted.add(rel)
        out = dst / rel
        if path.is_dir():
            out.mkdir(parents=True, exist_ok=True)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            st = path.stat()
            if not out.exists() or out.stat().st_mtime_ns != st.st_mtime_ns or out.stat().st_size != st.st_size:
                shutil.copy2(path, out)
    if dst.exists():
        for path in sorted(dst.rglob("*"), reverse=True):
            if path.relative_to(dst) not in wanted and "__pycache__" not in path.parts:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()


def strip_mutmut_section(pyproject: str) -> str:
    """The pyproject text without a ``[tool.mutmut]`` table (the script writes its own)."""
    return re.sub(r"(?ms)^\[tool\.mutmut\]\s*$.*?(?=^\[|\Z)", "", pyproject)


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


# A pytest plugin copied into each work folder: runs the tests of a mutant fastest first (by the
# call times mutmut measured), so that a killed mutant stops (-x) at its quickest failing test.
# mutmut's plain fork runner sorts them so; its fork server, used here for torch, does not.
FAST_FIRST_PLUGIN = '''"""Written by bench/mutation.py: run tests fastest first (mutmut's measured times)."""

import json


def pytest_collection_modifyitems(session, config, items):
    try:
        with open("mutmut-stats.json", encoding="utf-8") as f:  # the cwd is mutants/
            durations = json.load(f)["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return  # the first (stats) run: nothing measured yet
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))
'''
PLUGIN_NAME = "mutmut_fast_first"

# Statements (by their first line) that mutmut leaves alone: raising with a message, logging,
# warning. Their text is what a user reads, not a number; tests pin the error type instead.
NOT_MUTATED = (
    r"^\s*raise \w+\(",
    r"^\s*(log|logger|_log|LOG)\.(debug|info|warning|error|exception)\(",
    r"^\s*warnings\.warn\(",
)


def mutmut_section(patterns: list[str], tests: list[str]) -> str:
    return "\n".join([
        "",
        "# Written by bench/mutation.py for this work folder only.",
        "[tool.mutmut]",
        'source_paths = ["engines"]',
        f"only_mutate = {toml_list(patterns)}",
        # the wording of raised errors, log lines and warnings is not mutated: a changed
        # message is no changed number (docs/MUTATION.md); the condition that raises still is
        f"do_not_mutate_patterns = {toml_list(list(NOT_MUTATED))}",
        # engines/data finds the built-in datasets in assets/ beside the engines package
        f'also_copy = ["assets", "{PLUGIN_NAME}.py"]',
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}",
        f'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "{PLUGIN_NAME}"]',
        # torch is not fork-safe once used: fork each mutant from a server that has only
        # imported the tests (and run none), not from a process that ran them
        'process_isolation = "forkserver"',
        'forkserver_warmup = "collect"',
        # wall limit per mutant = (time of its tests + constant) × multiplier; module-scoped
        # fixtures (trained models) are not in the measured test times, hence the constant
        "timeout_multiplier = 5.0",
        "timeout_constant = 10.0",
        # every run is a fresh snapshot, not the repository: no git-based change tracking
        "use_git_change_detection = false",
        "",
    ])


def prepare_workdir(workdir: Path, target: Target, scope: str | None, tests: list[str],
                    resume: bool) -> None:
    if workdir.exists() and not resume:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sync_tree(ROOT / "engines", workdir / "engines")
    sync_tree(ROOT / "assets", workdir / "assets")
    # Only the target's tests and the shared helpers (conftest.py, …), so that mutmut's
    # copy of tests/ and its test listing stay small.
    tests_dir = workdir / "tests"
    if tests_dir.exists():
        shutil.rmtree(tests_dir)
    tests_dir.mkdir()
    for path in sorted((ROOT / "tests").iterdir()):
        rel = path.relative_to(ROOT).as_posix()
        if path.is_file() and (not path.name.startswith("test_") or rel in tests):
            shutil.copy2(path, tests_dir / path.name)
    (workdir / f"{PLUGIN_NAME}.py").write_text(FAST_FIRST_PLUGIN, encoding="utf-8")
    text = strip_mutmut_section((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (workdir / "pyproject.toml").write_text(
        text.rstrip() + "\n" + mutmut_section(target.mutate_patterns(scope), tests),
        encoding="utf-8",
    )


# ---------------------------------------------------------------------------------------------
# Running mutmut


def read_verdicts(workdir: Path) -> dict[str, dict[str, int | None]]:
    """{source file: {mutant name: exit code or None}} from mutmut's .meta files."""
    out: dict[str, dict[str, int | None]] = {}
    mutants = workdir / "mutants"
    for meta in sorted(mutants.rglob("*.py.meta")) if mutants.exists() else []:
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # being written
        rel = meta.relative_to(mutants).as_posix().removesuffix(".meta")
        out[rel] = data.get("exit_code_by_key", {})
    return out


def fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"


def run_mutmut(workdir: Path, max_children: int, deadline: float | None,
               log_path: Path) -> tuple[int | None, bool]:
    """Run ``mutmut run`` in ``workdir`` until done or ``deadline``; (exit code, interrupted)."""
    env = dict(os.environ)
    # One thread per mutant process: the machine has two cores, and libgomp's thread pool
    # does not survive fork.
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", QT_QPA_PLATFORM="offscreen")
    env.pop("MUTANT_UNDER_TEST", None)
    cmd = [sys.executable, "-c",
           "import sys; from mutmut.__main__ import cli; sys.exit(cli())",
           "run", "--max-children", str(max_children)]
    interrupted = False
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        last_progress = time.monotonic()
        try:
            while proc.poll() is None:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                if now - last_progress >= 120:
                    last_progress = now
                    verdicts = read_verdicts(workdir)
                    total = sum(len(v) for v in verdicts.values())
                    done = sum(1 for v in verdicts.values() for c in v.values() if c is not None)
                    print(f"    … {done}/{total} mutants checked", flush=True)
                if deadline is not None and now >= deadline and proc.poll() is None:
                    print("    time limit reached: stopping mutmut (checked mutants are kept)",
                          flush=True)
                    interrupted = True
                    break
        except KeyboardInterrupt:
            print("    interrupted: stopping mutmut (checked mutants are kept)", flush=True)
            interrupted = True
        if proc.poll() is None:
            # SIGINT to mutmut's main process only: it stops its fork server, which kills the
            # mutants in flight, and saves what it has.
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # Nothing mutmut started may outlive it (its process group is its own session).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, interrupted


# ---------------------------------------------------------------------------------------------
# Reading the results


def function_def_lines(source: str) -> dict[tuple[str | None, str], int]:
    """{(class or None, function): line of its ``def``} for top-level functions and methods."""
    lines: dict[tuple[str | None, str], int] = {}
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines[(None, node.name)] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines[(node.name, item.name)] = item.lineno
    return lines


def mutant_texts(workdir: Path, rel: str, name: str) -> tuple[str, str]:
    """The original and the mutated function of mutant ``name`` in file ``rel``, as source."""
    import libcst as cst
    from mutmut.mutation import diff_apply as da

    with contextlib.chdir(workdir):
        functions = da.read_functions_from_index(name, rel)
        if functions is None:
            module = da.read_mutants_module(rel)
            functions = (da.read_original_function(module, name),
                         da.read_mutant_function(module, name))
    orig, mutant = (cst.Module([f]).code.strip() for f in functions)
    return orig, mutant


def locate(orig: str, mutant: str, func: str, def_line: int | None) -> int | None:
    """Line in the source file of the first line a mutant of ``func`` changes.

    ``orig`` starts at the function's leading comments or decorators; ``def_line`` is the line
    of its ``def`` in the file."""
    if def_line is None:
        return None
    a, b = orig.split("\n"), mutant.split("\n")
    pattern = re.compile(rf"^\s*(async\s+)?def\s+{re.escape(func)}\b")
    def_idx = next((i for i, ln in enumerate(a) if pattern.match(ln)), 0)
    for tag, i1, _i2, _j1, _j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            return def_line + (i1 - def_idx)
    return def_line


def function_diff(orig: str, mutant: str, path: str) -> str:
    return "\n".join(difflib.unified_diff(orig.split("\n"), mutant.split("\n"), fromfile=path,
                                          tofile=path, lineterm=""))


def short_diff(diff: str, width: int = 110, max_lines: int = 4) -> list[str]:
    changed = [ln for ln in diff.splitlines()
               if ln[:1] in "+-" and not ln.startswith(("---", "+++"))]
    out = []
    for ln in changed[:max_lines]:
        text = ln[0] + " " + ln[1:].strip()
        out.append(text if len(text) <= width else text[: width - 1] + "…")
    if len(changed) > max_lines:
        out.append(f"  (+{len(changed) - max_lines} more changed lines)")
    return out


def describe(diff_lines: list[str], width: int = 70) -> str:
    """One line for a mutant: the changed part of the line, ``old`` → ``new``."""
    removed = [ln[2:] for ln in diff_lines if ln.startswith("- ")]
    added = [ln[2:] for ln in diff_lines if ln.startswith("+ ")]
    if len(removed) != 1 or len(added) != 1:
        return f"{len(removed)} line(s) → {len(added)} line(s)"
    a, b = removed[0], added[0]
    p = 0
    while p < min(len(a), len(b)) and a[p] == b[p]:
        p += 1
    s = 0
    while s < min(len(a), len(b)) - p and a[len(a) - 1 - s] == b[len(b) - 1 - s]:
        s += 1

    def kind(ch: str) -> str | None:
        return "word" if ch.isalnum() or ch in "_." else "op" if ch in "=!<>+-*/%&|^~" else None

    # widen to whole words and operators so that the change reads on its own (== → !=)
    def edge_kinds(i: int, j: int) -> set[str | None]:
        return {kind(a[i]) if 0 <= i < len(a) else None, kind(b[j]) if 0 <= j < len(b) else None}

    while p > 0 and kind(a[p - 1]) and kind(a[p - 1]) in edge_kinds(p, p):
        p -= 1
    while s > 0 and kind(a[len(a) - s]) and kind(a[len(a) - s]) in edge_kinds(len(a) - s - 1,
                                                                            len(b) - s - 1):
        s -= 1
    old, new = a[p:len(a) - s].strip(), b[p:len(b) - s].strip()

    def cut(x: str) -> str:
        return x if len(x) <= width else x[: width - 1] + "…"

    return f"`{cut(old)}` → `{cut(new)}`" if new else f"`{cut(old)}` removed"


def empty_counts() -> dict[str, int]:
    return {c: 0 for c in ("total", *COLUMNS, "skipped")}


def rate(counts: dict[str, int]) -> float | None:
    checked = sum(counts[c] for c in ("killed", "survived", "no_tests", "timeout", "other"))
    if not checked:
        return None
    return sum(counts[c] for c in SURVIVOR_COLUMNS) / checked


def verdict(counts: dict[str, int], budget: float) -> str:
    """PASS / FAIL, or INCOMPLETE while unchecked mutants could still tip the balance."""
    measurable = counts["total"] - counts["skipped"]
    if measurable <= 0:
        return "NO MUTANTS"
    survivors = sum(counts[c] for c in SURVIVOR_COLUMNS)
    if counts["unchecked"] == 0:
        return "PASS" if survivors / measurable <= budget else "FAIL"
    # With unchecked mutants, the final rate lies between these two bounds.
    if survivors / measurable > budget:
        return "FAIL"
    if (survivors + counts["unchecked"]) / measurable <= budget:
        return "PASS"
    return "INCOMPLETE"


def collect(workdir: Path, target: Target) -> dict[str, Any]:
    """Counts per file and the surviving mutants with file:line and diff."""
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.format_utils import orig_function_and_class_names_from_key

    files: dict[str, dict[str, Any]] = {}
    survivors: list[dict[str, Any]] = []
    total = empty_counts()
    for rel, codes in read_verdicts(workdir).items():
        if not codes:
            continue
        counts = empty_counts()
        source = (workdir / rel).read_text(encoding="utf-8")
        defs = function_def_lines(source)
        for name, code in sorted(codes.items(), key=lambda kv: _mutant_order(kv[0])):
            status = status_by_exit_code[code]
            column = COLUMN_OF_STATUS.get(status, "other")
            counts["total"] += 1
            counts[column] += 1
            if column not in SURVIVOR_COLUMNS:
                continue
            func, cls = orig_function_and_class_names_from_key(name)
            try:
                orig, mutant = mutant_texts(workdir, rel, name)
                diff = function_diff(orig, mutant, rel)
                line = locate(orig, mutant, func, defs.get((cls, func)))
            except Exception as e:  # noqa: BLE001 - a diff we cannot show must not lose the list
                diff, line = f"(no diff: {e})", defs.get((cls, func))
            survivors.append({
                "file": rel,
                "line": line,
                "function": f"{cls}.{func}" if cls else func,
                "mutant": name,
                "status": status,
                "diff": short_diff(diff),
            })
            survivors[-1]["change"] = describe(survivors[-1]["diff"])
        for c in counts:
            total[c] += counts[c]
        files[rel] = {"counts": counts, "survivor_rate": rate(counts)}
    survivors.sort(key=lambda s: (s["file"], s["line"] or 0, _mutant_order(s["mutant"])))
    return {
        "files": files,
        "counts": total,
        "survivor_rate": rate(total),
        "verdict": verdict(total, target.budget),
        "survivors": survivors,
    }


def _mutant_order(name: str) -> tuple[str, int]:
    base, _, n = name.rpartition("__mutmut_")
    return base, int(n) if n.isdigit() else 0


# ---------------------------------------------------------------------------------------------
# Printing


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def print_target(result: dict[str, Any]) -> None:
    header = ("file", "total", "killed", "survived", "no tests", "timeout", "other", "unchecked",
              "survivors")
    rows = [header]
    for rel, f in result["files"].items():
        c = f["counts"]
        rows.append((rel, *(str(c[k]) for k in ("total", *COLUMNS)), pct(f["survivor_rate"])))
    c = result["counts"]
    rows.append(("TOTAL", *(str(c[k]) for k in ("total", *COLUMNS)), pct(result["survivor_rate"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(r[1:], widths[1:])]
        print("  " + "  ".join(cells))
    print(f"  {result['verdict']}  {result['target']}: {pct(result['survivor_rate'])} survivors "
          f"(budget ≤ {result['budget'] * 100:.0f} %)"
          + (f", {c['unchecked']} of {c['total']} mutants unchecked" if c["unchecked"] else ""))
    if result["survivors"]:
        print(f"  Surviving mutants ({len(result['survivors'])}):")
        for s in result["survivors"]:
            tag = "" if s["status"] == "survived" else f"  [{s['status']}]"
            print(f"    {s['file']}:{s['line']}  {s['function']}: {s['change']}{tag}"
                  f"  ({s['mutant'].rpartition('__mutmut_')[2]})")
            for ln in s["diff"]:
                print(f"        {ln}")


# ---------------------------------------------------------------------------------------------


def tests_run_in(workdir: Path) -> list[str] | None:
    """The test selection an earlier run used, from its work folder's pyproject.toml."""
    import tomllib

    try:
        with open(workdir / "pyproject.toml", "rb") as f:
            return list(tomllib.load(f)["tool"]["mutmut"]["pytest_add_cli_args_test_selection"])
    except (OSError, KeyError, ValueError):
        return None


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  check=False).stdout.strip()
        except OSError:
            return ""

    return {"head": git("rev-parse", "HEAD"),
            "dirty": [ln[3:] for ln in git("status", "--porcelain", "--", "engines", "tests",
                                           "assets").splitlines()]}


def write_json(path: Path, summary: dict[str, Any]) -> None:
    """Write the summary; targets not run this time keep their earlier entry (own timestamps)."""
    earlier: list[dict[str, Any]] = []
    with contextlib.suppress(OSError, ValueError, AttributeError):
        earlier = json.loads(path.read_text(encoding="utf-8")).get("targets", [])
    run_now = {e["target"] for e in summary["targets"]}
    kept = [e for e in earlier if isinstance(e, dict) and e.get("target") not in run_now]

    def rank(entry: dict[str, Any]) -> tuple[int, str]:
        name = entry["target"]
        i = next((i for i, t in enumerate(TARGETS)
                  if name == t.name or name.startswith(t.name + "/")), len(TARGETS))
        return i, name

    summary = dict(summary, targets=sorted(kept + summary["targets"], key=rank))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--module", action="append",
                    help="a target (engines/fairness, engines/explain, engines/training.py, "
                         "engines/shapes.py) or a file/folder inside a package target; repeatable; "
                         "default: all targets")
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="wall-time limit for the whole run, shared between the targets (time a "
                         "target does not use goes to the next); default: no limit")
    ap.add_argument("--max-children", type=int, default=2,
                    help="mutants tested at once (default 2, the machine's cores)")
    ap.add_argument("--resume", action="store_true",
                    help="keep earlier verdicts in the work folders (finish an interrupted run)")
    ap.add_argument("--report-only", action="store_true",
                    help="do not run mutmut; report what the work folders hold")
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                    help=f"folder for the per-target work folders (default {DEFAULT_WORKDIR})")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON,
                    help=f"where to write the JSON summary (default {DEFAULT_JSON})")
    args = ap.parse_args()

    try:
        import mutmut
    except ImportError:
        print("mutmut is not installed: .venv/bin/pip install -e '.[dev]'", file=sys.stderr)
        return 2

    selected = select_targets(args.module)
    started = time.monotonic()
    deadline = started + args.max_minutes * 60 if args.max_minutes else None
    summary: dict[str, Any] = {
        "tool": f"mutmut {mutmut.__version__}",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "max_minutes": args.max_minutes,
        "max_children": args.max_children,
        "git": git_state(),
        "targets": [],
    }
    print(f"mutation testing with mutmut {mutmut.__version__}, {args.max_children} at once"
          + (f", at most {args.max_minutes:g} min" if args.max_minutes else ""), flush=True)

    failed = False
    for i, (target, scope) in enumerate(selected):
        name = scope or target.name
        workdir = args.workdir / (target.slug if scope is None
                                  else scope.replace("/", "_").removesuffix(".py"))
        tests, notes = tests_for(target)
        if args.report_only:
            tests, notes = tests_run_in(workdir) or tests, []
        print(f"\n== {name}  (tests: {', '.join(tests) or 'none'})", flush=True)
        for note in notes:
            print(f"   {note}")
        entry: dict[str, Any] = {"target": name, "budget": target.budget, "tests": tests,
                                 "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                                 "git_head": summary["git"]["head"],
                                 "left_out": notes, "workdir": str(workdir),
                                 "log": str(workdir / "mutmut.log")}
        t0 = time.monotonic()
        exit_code, interrupted = 0, False
        if not tests:
            entry.update(verdict="ERROR", error="no tests")
            print("   ERROR: no tests for this target")
            failed = True
            summary["targets"].append(entry)
            continue
        if not args.report_only:
            target_deadline = None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 30:
                    entry.update(verdict="SKIPPED", error="no time left")
                    print("   SKIPPED: no time left")
                    summary["targets"].append(entry)
                    continue
                target_deadline = time.monotonic() + left / (len(selected) - i)
                print(f"   time limit for this target: {fmt_duration(target_deadline - time.monotonic())}")
            prepare_workdir(workdir, target, scope, tests, args.resume)
            exit_code, interrupted = run_mutmut(workdir, args.max_children, target_deadline,
                                                workdir / "mutmut.log")
        elif not (workdir / "mutants").exists():
            entry.update(verdict="ERROR", error="nothing to report (no earlier run)")
            print(f"   ERROR: no earlier run in {workdir}")
            failed = True
            summary["targets"].append(entry)
            continue
        wall = time.monotonic() - t0
        result = collect(workdir, target)
        entry.update(result, target=name, budget=target.budget, wall_seconds=round(wall, 1),
                     interrupted=interrupted, mutmut_exit_code=exit_code)
        if exit_code not in (0, None) and not interrupted:
            log_tail = (workdir / "mutmut.log").read_text(encoding="utf-8", errors="replace")
            tail = [ln.rsplit("\r", 1)[-1] for ln in log_tail.splitlines()[-15:]]
            entry.update(verdict="ERROR", error=f"mutmut exited {exit_code}", log_tail=tail)
            print(f"   ERROR: mutmut exited {exit_code}; end of {workdir / 'mutmut.log'}:")
            for ln in tail:
                print(f"     {ln}")
        if not args.report_only:
            print(f"   wall time {fmt_duration(wall)}" + (" (stopped by the time limit)" if interrupted else ""))
        print_target(entry)
        failed |= entry["verdict"] in ("FAIL", "ERROR")
        summary["targets"].append(entry)
        sys.stdout.flush()

    summary["wall_seconds"] = round(time.monotonic() - started, 1)
    print("\nSummary")
    for e in summary["targets"]:
        c = e.get("counts")
        extra = (f"  {pct(e.get('survivor_rate'))} survivors, {c['total'] - c['unchecked']}/{c['total']} checked"
                 if c else f"  {e.get('error', '')}")
        print(f"  {e['verdict']:<10} {e['target']:<22} budget ≤ {e['budget'] * 100:.0f} %{extra}")
    print(f"  total wall time {fmt_duration(summary['wall_seconds'])}")
    write_json(args.json, summary)
    print(f"  JSON: {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
