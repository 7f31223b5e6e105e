"""The ``workbench`` command.

With no subcommand it opens the application window (optionally on a project). The
subcommands run headless, print progress to the terminal, offer ``--json`` for
machine-readable output (documented in docs/CLI.md), and exit with status 2 and a one-line
error on bad input, 1 when a run fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import workbench

SUBCOMMANDS = (
    "new", "train", "eval", "predict", "explain", "fairness", "mitigate", "export", "info",
    "templates", "datasets",
)
EXPLAIN_METHODS = (
    "saliency", "ixg", "ig", "smoothgrad", "deeplift", "deepliftshap", "gradshap", "kernelshap",
    "shapley", "lime", "occlusion", "ablation", "gradcam",
)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class CliError(Exception):
    """Bad input from the command line; printed as one line, exit status 2."""


# ------------------------------------------------------------------------------ helpers
def _emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(_clean(obj), indent=2, sort_keys=False, allow_nan=False) + "\n")


def _clean(obj: Any) -> Any:
    """NaN and infinities become null so the JSON is standard."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _clean(obj.tolist())
    return obj


def _error(message: object) -> None:
    """Print an error as exactly one line: control characters from user input are escaped."""
    text = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(message)
    )
    print(f"error: {text}", file=sys.stderr)


def _load(path: str) -> Any:
    from workbench.core.project import load_project

    p = Path(path)
    if not p.exists():
        raise CliError(f"No such project file: {path}")
    return load_project(p)


def _save(project: Any, path: str | Path) -> None:
    from workbench.core.project import save_project

    save_project(project, Path(path))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if v != v else f"{v:.4g}"
    return str(v)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


# ---------------------------------------------------------------------------- commands
def cmd_templates(args: argparse.Namespace) -> int:
    from engines.templates import TEMPLATES

    rows = [
        {
            "id": t.id,
            "title": t.title,
            "data_kinds": list(t.data_kinds),
            "objective": t.objective,
            "description": t.description,
        }
        for t in TEMPLATES.values()
    ]
    if args.json:
        _emit_json({"templates": rows})
    else:
        width = max(len(r["id"]) for r in rows)
        for r in rows:
            kinds = "/".join(r["data_kinds"])
            print(f"{r['id']:<{width}}  {kinds:<22} {r['description']}")
    return EXIT_OK


def cmd_datasets(args: argparse.Namespace) -> int:
    from engines.data import list_datasets

    infos = list_datasets()
    rows = [
        {
            "id": d.id,
            "title": d.title,
            "kind": d.kind,
            "task": d.task,
            "rows": d.n_rows,
            "features": d.n_features,
            "classes": d.n_classes,
            "target": d.target,
            "sensitive": list(d.sensitive),
            "description": d.description,
        }
        for d in infos
    ]
    if args.json:
        _emit_json({"datasets": rows})
    else:
        width = max(len(str(r["id"])) for r in rows)
        for r in rows:
            size = f"{r['rows']} rows, {r['features']} features"
            if r["classes"]:
                size += f", {r['classes']} classes"
            print(f"{r['id']:<{width}}  {r['kind']:<8} {size:<36} {r['title']}")
    return EXIT_OK


def _data_spec_from_args(args: argparse.Namespace) -> Any:
    from engines.data import DataSpec, builtin_spec

    if args.dataset and args.data:
        raise CliError("Give either --dataset (a built-in) or --data (a file), not both.")
    if args.dataset:
        return builtin_spec(args.dataset)
    if not args.data:
        raise CliError("Choose a dataset: --dataset NAME (see 'workbench datasets') or --data FILE.")
    path = Path(args.data)
    source: str | None = "image_folder"
    if not path.is_dir():
        source = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".npz": "npz"}.get(
            path.suffix.lower()
        )
        if source is None:
            raise CliError(
                f"Cannot tell the format of {args.data!r}: use a .csv, .parquet or .npz file, "
                "or a folder of images with one sub-folder per class."
            )
    roles: dict[str, str] = {}
    for col in args.sensitive or []:
        roles[col] = "sensitive"
    for col in args.ignore or []:
        roles[col] = "ignore"
    spec: dict[str, Any] = {"source": source, "path": str(path.resolve()), "roles": roles}
    if args.target:
        spec["target"] = args.target
    return DataSpec.from_dict(spec)


def cmd_new(args: argparse.Namespace) -> int:
    from workbench.core.session import create_project

    out = Path(args.output)
    if out.exists() and not args.force:
        raise CliError(f"{out} already exists; use --force to overwrite it.")
    if not out.parent.exists():
        raise CliError(f"The folder {str(out.parent)!r} does not exist.")
    spec = _data_spec_from_args(args)
    project = create_project(args.template, spec, name=args.name, seed=args.seed)
    _save(project, out)
    if args.json:
        _emit_json(_info(project, out))
    else:
        print(f"Created {out}: template {args.template} on {spec.name or spec.path}")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from workbench.core.session import load_data, train_run

    project = _load(args.project)
    data = load_data(project)
    overrides = {
        "epochs": args.epochs,
        "seed": args.seed,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "schedule": args.schedule,
        "device": args.device,
        "weight_decay": args.weight_decay,
        "early_stopping_patience": args.patience,
    }
    progress = _TerminalProgress(quiet=args.quiet or args.json)
    outcome = train_run(
        project, overrides=overrides, callbacks=[progress], name=args.name, data=data
    )
    _save(project, args.project)
    run = outcome.run
    if args.json:
        _emit_json(
            {
                "run": run.id,
                "run_name": run.name,
                "status": outcome.status,
                "message": outcome.message,
                "epochs": len(run.history.get("epoch", {}).get("train_loss", [])),
                "metrics": run.metrics,
                "config": run.config,
            }
        )
    else:
        print(f"{run.name} ({run.id}): {outcome.status}. {outcome.message}".rstrip())
        print(f"Saved to {args.project}")
    return EXIT_FAILED if outcome.status == "diverged" else EXIT_OK


class _TerminalProgress:
    """A trainer callback: a progress bar over steps and one line of metrics per epoch."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None

    def on_train_start(self, trainer: Any) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        total = getattr(trainer, "total_steps", None)
        # a bar only on a terminal: in a log file its carriage returns are noise
        if sys.stderr.isatty():
            self.bar = tqdm(total=total, unit="step", file=sys.stderr, leave=False, dynamic_ncols=True)

    def on_step_end(self, trainer: Any, step: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{step.get('loss', float('nan')):.4f}", refresh=False)

    def on_epoch_end(self, trainer: Any, epoch: dict[str, Any]) -> None:
        if self.quiet:
            return
        keys = [k for k in ("train_loss", "val_loss", "val_accuracy", "val_f1", "val_auc",
                            "val_mae", "val_r2", "lr") if k in epoch]
        line = f"epoch {int(epoch.get('epoch', 0)) + 1:>3}  " + "  ".join(
            f"{k} {_fmt(epoch[k])}" for k in keys
        )
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)

    def on_train_end(self, trainer: Any, result: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cmd_eval(args: argparse.Namespace) -> int:
    from workbench.core.session import evaluate_run

    project = _load(args.project)
    result = evaluate_run(project, split=args.split, run_id=args.run)
    if args.json:
        _emit_json(result)
    else:
        print(f"{result['run_name']} on the {result['split']} split ({result['n']} rows):")
        for k, v in result["metrics"].items():
            if k != "confusion":
                print(f"  {k:<12} {_fmt(v)}")
        if "confusion" in result["metrics"]:
            print("  confusion (rows: true, columns: predicted):")
            for row in result["metrics"]["confusion"]:
                print("   " + " ".join(f"{int(c):>5}" for c in row))
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    from workbench.core.session import predict_rows

    project = _load(args.project)
    frame = predict_rows(project, split=args.split, run_id=args.run)
    if args.output:
        out = Path(args.output)
        if not out.parent.exists():
            raise CliError(f"The folder {str(out.parent)!r} does not exist.")
        frame.to_csv(out, index=False)
        if args.json:
            _emit_json({"rows": len(frame), "output": str(out), "columns": list(frame.columns)})
        else:
            print(f"Wrote {len(frame)} predictions to {out}")
    elif args.json:
        _emit_json({"columns": list(frame.columns), "rows": frame.to_dict(orient="records")})
    else:
        sys.stdout.write(frame.to_csv(index=False))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from workbench.core.session import export_run

    project = _load(args.project)
    written = export_run(project, args.format, args.output, run_id=args.run)
    if args.json:
        _emit_json(written)
    else:
        for kind, path in written.items():
            print(f"{kind:<12} {path}")
    return EXIT_OK


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text!r}")
    return value


def cmd_explain(args: argparse.Namespace) -> int:
    import numpy as np

    from workbench.core.analysis import explain_run, explanation_analysis, explanation_rows

    if args.output and not Path(args.output).parent.exists():
        raise CliError(f"The folder {str(Path(args.output).parent)!r} does not exist.")
    project = _load(args.project)
    progress = None if args.json or args.quiet else _ProgressLine(f"{args.method}")
    outcome = explain_run(
        project,
        args.method,
        samples=args.samples,
        pick=args.pick,
        n=args.n,
        split=args.split,
        run_id=args.run,
        layer=args.layer,
        target=args.target,
        background=args.background,
        group=not args.no_group,
        seed=args.seed,
        progress=progress,
    )
    if progress is not None:
        progress.done()
    r = outcome.result
    summary = {
        "run": outcome.run.id,
        "method": r.method,
        "title": r.title,
        "params": r.params,
        "baseline": r.baseline,
        "value_function": r.value_function,
        "seed": r.seed,
        "layer": r.layer,
        "split": outcome.split,
        "versions": r.versions,
        "elapsed": r.elapsed,
    }
    rows = explanation_rows(outcome)
    if args.save:
        outcome.run.add_analysis(explanation_analysis(outcome))
        _save(project, args.project)
    if args.output:
        out = Path(args.output)
        out.mkdir(exist_ok=True)
        np.save(out / "attributions.npy", np.asarray(r.attributions), allow_pickle=False)
        np.save(out / "inputs.npy", np.asarray(outcome.inputs), allow_pickle=False)
        meta = {**summary, "samples": [{k: v for k, v in row.items() if k not in ("attributions",)}
                                       for row in rows], "feature_names": r.feature_names}
        (out / "explanation.json").write_text(json.dumps(_clean(meta), indent=2, allow_nan=False) + "\n")
        if args.json:
            _emit_json({**summary, "output": str(out), "files": ["explanation.json", "attributions.npy", "inputs.npy"]})
        else:
            print(f"Wrote {len(rows)} {r.title} attributions to {out}")
        return EXIT_OK
    if args.json:
        _emit_json({**summary, "samples": rows})
        return EXIT_OK
    print(f"{r.title} of run {outcome.run.name!r} ({r.baseline}"
          + (f"; value function: {r.value_function}" if r.value_function else "") + ")")
    for row in rows:
        head = f"row {row['row_id']}: {row['target']} output {row['output']:.4g}"
        if row["reference"] is not None:
            head += f", reference {row['reference']:.4g}"
        if row["delta"] is not None:
            head += f", completeness gap {row['delta']:.2g}"
        print(head)
        if isinstance(row["attributions"], dict):
            top = sorted(row["attributions"].items(), key=lambda kv: -abs(kv[1]))[: args.top]
            for name, v in top:
                print(f"   {v:+.4g}  {name}")
        else:
            a = np.asarray(row["attributions"])
            print(f"   map {tuple(a.shape)}: sum {a.sum():+.4g}, max |a| {np.abs(a).max():.4g}")
    return EXIT_OK


class _ProgressLine:
    """A one-line progress readout on stderr (silent when stderr is not a terminal)."""

    def __init__(self, label: str) -> None:
        self.label, self.tty, self.last = label, sys.stderr.isatty(), -1

    def __call__(self, fraction: float) -> None:
        pct = int(100 * min(max(fraction, 0.0), 1.0))
        if self.tty and pct != self.last:
            self.last = pct
            sys.stderr.write(f"\r{self.label}: {pct:3d}%")
            sys.stderr.flush()

    def done(self) -> None:
        if self.tty and self.last >= 0:
            sys.stderr.write("\n")


def cmd_fairness(args: argparse.Namespace) -> int:
    from workbench.core.analysis import audit_run, fairness_analysis

    project = _load(args.project)
    outcome = audit_run(
        project,
        args.sensitive or [],
        split=args.split,
        run_id=args.run,
        favourable=args.favourable,
        threshold=args.threshold,
        n_boot=args.n_boot,
        seed=args.seed,
        intersections=not args.no_intersections,
    )
    if args.save:
        outcome.run.add_analysis(fairness_analysis(outcome))
        _save(project, args.project)
    report = outcome.report.to_dict()
    if args.json:
        _emit_json({**report, "run": outcome.run.id, "split": outcome.split,
                    "favourable": outcome.favourable, "sensitive": outcome.sensitive})
        return EXIT_OK
    print(f"Fairness of run {outcome.run.name!r} on the {outcome.split} split "
          f"(favourable: {outcome.favourable!r}; "
          + (f"{report.get('n_boot')} bootstrap resamples, {report.get('confidence', 0.95):.0%} intervals)"
             if report.get("n_boot") else "no intervals)"))
    metrics = ("selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision", "calibration_error")
    for feature, groups in report["by_group"].items():
        print(f"\n{feature}")
        print(f"  {'group':<22}{'n':>6}" + "".join(f"{m:>20}" for m in metrics))
        for group, vals in groups.items():
            ci = report.get("intervals", {}).get(feature, {}).get(group, {})
            cells = [f"{_value_with_ci(vals.get(m), ci.get(m)):>20}" for m in metrics]
            print(f"  {str(group):<22}{vals.get('size', 0):>6}" + "".join(cells))
        sizes = ", ".join(f"{g} {v.get('size', 0)}" for g, v in groups.items())
        for name, d in report.get("differences", {}).get(feature, {}).items():
            if not isinstance(d, dict):
                continue
            text = _value_with_ci(d.get("value"), d.get("ci"), sep=", ")
            signed = d.get("signed")
            if isinstance(signed, dict) and _number(signed.get("value")) is not None:
                a, b = (signed.get("order") or ["?", "?"])[:2]
                text = f"{a} − {b}: {_value_with_ci(signed.get('value'), signed.get('ci'), sep=', ')}"
            p_value = _number(d.get("p_value"))
            if p_value is not None:
                text += f"  p = {p_value:.3f}" if p_value >= 0.001 else "  p < 0.001"
            if name == "di_ratio" and d.get("four_fifths_ok") is not None:
                text += "  four-fifths rule: " + ("met" if d["four_fifths_ok"] else "NOT met")
            if d.get("reason"):
                text += f"  ({d['reason']})"
            print(f"  {name:<22}{text}")
        print(f"  {'group sizes':<22}{sizes}")
    if report.get("n_perm"):
        print(f"\np: permutation test of no difference between groups ({report['n_perm']} shuffles "
              "of the group labels); with two groups the difference is signed, in the order shown, "
              "and its interval contains 0 when the groups do not differ.")
    for note in report.get("notes", []):
        print(f"note: {note}")
    return EXIT_OK


def _number(v: Any) -> float | None:
    """A finite float, or None for a missing / "NaN" / infinite value."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def _value_with_ci(v: Any, ci: Any, sep: str = ",") -> str:
    x = _number(v)
    if x is None:
        return "—" if v in (None, "NaN") else str(v)
    text = f"{x:.3f}"
    if isinstance(ci, list | tuple) and len(ci) == 2:
        lo, hi = _number(ci[0]), _number(ci[1])
        if lo is not None and hi is not None:
            text += f" [{lo:.3f}{sep}{hi:.3f}]"
    return text


def cmd_mitigate(args: argparse.Namespace) -> int:
    from workbench.core.analysis import mitigate_run

    project = _load(args.project)
    run = mitigate_run(
        project,
        args.kind,
        args.sensitive,
        run_id=args.run,
        favourable=args.favourable,
        strength=args.strength,
        constraint=args.constraint,
        seed=args.seed,
        name=args.name,
    )
    _save(project, args.project)
    if args.json:
        _emit_json({"run": run.id, "name": run.name, "status": run.status, "message": run.message,
                    "mitigation": run.config.get("mitigation"), "metrics": run.metrics})
    else:
        print(f"{run.name} ({run.id}): {run.status}. {run.message}")
    return EXIT_OK


def _info(project: Any, path: Path | str) -> dict[str, Any]:
    from engines.shapes import analyse

    report = analyse(project.graph)
    counts: dict[str, int] = {}
    for node in project.graph.nodes.values():
        counts[node.type] = counts.get(node.type, 0) + 1
    return {
        "file": str(path),
        "name": project.name,
        "app_version": project.app_version,
        "graph": {
            "nodes": len(project.graph.nodes),
            "edges": len(project.graph.edges),
            "layers": counts,
            "parameters": int(report.total_params),
            "output_shape": list(
                next(
                    (report.node_shapes.get(e.src, ()) for e in project.graph.edges
                     if project.graph.nodes[e.dst].type == "output"),
                    (),
                )
            ),
            "problems": [p.message for p in report.problems],
        },
        "data": {"spec": project.data, "fingerprint": project.data_fingerprint},
        "train_config": project.train_config,
        "runs": [
            {
                "id": r.id,
                "name": r.name,
                "created": r.created,
                "status": r.status,
                "epochs": len(r.history.get("epoch", {}).get("train_loss", [])),
                "metrics": {k: v for k, v in r.metrics.items() if k != "confusion"},
                "active": r.id == project.active_run,
            }
            for r in project.runs
        ],
    }


def cmd_info(args: argparse.Namespace) -> int:
    project = _load(args.project)
    info = _info(project, args.project)
    if args.json:
        _emit_json(info)
        return EXIT_OK
    g = info["graph"]
    print(f"{info['name']}  ({info['file']}, written by Model Workbench {info['app_version']})")
    layers = ", ".join(f"{k}×{v}" if v > 1 else k for k, v in g["layers"].items())
    print(f"graph     {g['nodes']} nodes, {g['edges']} edges, {g['parameters']:,} parameters")
    print(f"layers    {layers}")
    for p in g["problems"]:
        print(f"problem   {p}")
    spec = info["data"]["spec"]
    print(f"data      {spec.get('source')}: {spec.get('name') or spec.get('path')}  "
          f"fingerprint {info['data']['fingerprint'][:16]}")
    if not info["runs"]:
        print("runs      none yet")
    for r in info["runs"]:
        mark = "*" if r["active"] else " "
        metrics = "  ".join(f"{k} {_fmt(v)}" for k, v in list(r["metrics"].items())[:5])
        print(f"run {mark}    {r['name']} ({r['id']}) {r['status']}, {r['epochs']} epochs  {metrics}")
    return EXIT_OK


# ----------------------------------------------------------------------------- parsing
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2
        raise CliError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="workbench", description="Model Workbench: build, train and inspect neural networks.")
    p.add_argument("--version", action="version", version=f"Model Workbench {workbench.__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    s = sub.add_parser("templates", help="list the network templates")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_templates)

    s = sub.add_parser("datasets", help="list the built-in datasets")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_datasets)

    s = sub.add_parser("new", help="create a project from a template and a dataset")
    s.add_argument("--template", required=True, help="template id (see 'workbench templates')")
    s.add_argument("--dataset", help="built-in dataset id (see 'workbench datasets')")
    s.add_argument("--data", help="a CSV, Parquet or .npz file, or an image folder")
    s.add_argument("--target", help="target column of a CSV/Parquet file")
    s.add_argument("--sensitive", action="append", help="a sensitive column (repeatable)")
    s.add_argument("--ignore", action="append", help="a column to leave out (repeatable)")
    s.add_argument("--name", help="project name")
    s.add_argument("--seed", type=_int, default=0, help="seed for weights and training (default 0)")
    s.add_argument("-o", "--output", required=True, help="project file to write (.wbproj)")
    s.add_argument("--force", action="store_true", help="overwrite an existing file")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_new)

    s = sub.add_parser("train", help="train a new run and save it into the project")
    s.add_argument("project")
    s.add_argument("--epochs", type=_positive_int)
    s.add_argument("--seed", type=_int)
    s.add_argument("--lr", type=_positive_float, help="learning rate")
    s.add_argument("--batch-size", type=_positive_int)
    s.add_argument("--optimizer", choices=["sgd", "adagrad", "rmsprop", "adam", "adamw"])
    s.add_argument("--schedule", choices=["none", "step", "cosine", "onecycle"])
    s.add_argument("--weight-decay", type=float)
    s.add_argument("--patience", type=_positive_int, help="early stopping patience in epochs")
    s.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    s.add_argument("--name", help="run name")
    s.add_argument("--quiet", action="store_true", help="no progress output")
    s.add_argument("--json", action="store_true", help="machine-readable result")
    s.set_defaults(func=cmd_train)

    for name, func, helptext in (
        ("eval", cmd_eval, "metrics of a run on a split"),
        ("predict", cmd_predict, "predictions of a run, one row per sample"),
    ):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("project")
        s.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
        s.add_argument("--run", help="run id or name (default: the active run)")
        if name == "predict":
            s.add_argument("-o", "--output", help="CSV file to write (default: standard output)")
        s.add_argument("--json", action="store_true", help="machine-readable output")
        s.set_defaults(func=func)

    s = sub.add_parser("explain", help="attribute a run's outputs for some samples to its inputs")
    s.add_argument("project")
    s.add_argument("--method", required=True, choices=EXPLAIN_METHODS,
                   help="attribution method (shapley: exact / paired KernelSHAP for tables)")
    s.add_argument("--samples", help="row ids of the source data, e.g. 0-9 or '3,17,42' (as in predict)")
    s.add_argument("--pick", default="first", choices=["first", "misclassified", "confident", "random_per_class"],
                   help="how to choose samples when --samples is not given (default first)")
    s.add_argument("-n", type=_positive_int, default=10, help="number of samples to pick (default 10)")
    s.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    s.add_argument("--run", help="run id or name (default: the active run)")
    s.add_argument("--layer", help="node id of the layer for gradcam")
    s.add_argument("--target", type=_int, help="output index to explain (default: the predicted class)")
    s.add_argument("--background", type=_positive_int,
                   help="use N training rows as the background distribution instead of a fixed baseline")
    s.add_argument("--no-group", action="store_true", help="keep one-hot columns separate")
    s.add_argument("--seed", type=_int, default=0, help="seed of stochastic methods (default 0)")
    s.add_argument("--top", type=_positive_int, default=10, help="features listed per sample (default 10)")
    s.add_argument("--save", action="store_true", help="keep the explanation in the project file")
    s.add_argument("-o", "--output", help="folder to write explanation.json and .npy arrays to")
    s.add_argument("--quiet", action="store_true", help="no progress output")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_explain)

    s = sub.add_parser("fairness", help="group metrics of a run with bootstrap intervals")
    s.add_argument("project")
    s.add_argument("--sensitive", action="append", help="a sensitive column (repeatable)")
    s.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    s.add_argument("--run", help="run id or name (default: the active run)")
    s.add_argument("--favourable", help="the favourable class (default: a 'yes'-like class, else the second)")
    s.add_argument("--threshold", type=_probability, default=0.5,
                   help="probability of the favourable class at which the decision is favourable (default 0.5)")
    s.add_argument("--n-boot", type=_int, default=1000, help="bootstrap resamples (default 1000; 0: none)")
    s.add_argument("--seed", type=_int, default=0, help="bootstrap seed (default 0)")
    s.add_argument("--no-intersections", action="store_true", help="leave out intersections of groups")
    s.add_argument("--save", action="store_true", help="keep the audit in the project file")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_fairness)

    s = sub.add_parser("mitigate", help="train (or post-process) a run that reduces group differences")
    s.add_argument("project")
    s.add_argument("--kind", required=True, choices=["reweighing", "penalty", "threshold"])
    s.add_argument("--sensitive", required=True, help="the sensitive column")
    s.add_argument("--run", help="base run for --kind threshold (default: the active run)")
    s.add_argument("--favourable", help="the favourable class")
    s.add_argument("--strength", type=_positive_float, default=1.0, help="penalty strength (default 1)")
    s.add_argument("--constraint", default="demographic_parity", choices=["demographic_parity", "equalized_odds"])
    s.add_argument("--seed", type=_int, default=0)
    s.add_argument("--name", help="run name")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_mitigate)

    s = sub.add_parser("export", help="export a run's model (ONNX, TorchScript or Python source)")
    s.add_argument("project")
    s.add_argument("--format", required=True, choices=["onnx", "torchscript", "python"])
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--run", help="run id or name (default: the active run)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("info", help="summary of a project: graph, data, runs")
    s.add_argument("project")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_info)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one headless subcommand; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "func", None) is None:
            build_parser().print_help()
            return EXIT_BAD_INPUT
        return int(args.func(args))
    except CliError as exc:
        _error(exc)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except Exception as exc:  # every documented error class becomes one line
        if isinstance(exc, _known_errors()):
            _error(exc)
            return EXIT_BAD_INPUT
        if isinstance(exc, OSError):
            _error(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
            return EXIT_BAD_INPUT
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        _error(f"internal error ({type(exc).__name__}: {exc}); set WORKBENCH_DEBUG=1 for the traceback")
        return EXIT_FAILED


def _known_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = []
    for mod, name in (
        ("workbench.core.project", "ProjectFileError"),
        ("workbench.core.session", "WorkbenchError"),
        ("engines.data", "DataError"),
        ("engines.graph", "GraphError"),
        ("engines.training", "ConfigError"),
        ("engines.explain", "ExplainError"),
        ("engines.fairness", "FairnessError"),
    ):
        module = sys.modules.get(mod)
        if module is not None and hasattr(module, name):
            errors.append(getattr(module, name))
    return tuple(errors) or (CliError,)


if __name__ == "__main__":
    sys.exit(main())
