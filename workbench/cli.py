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
    "templates", "datasets", "verify", "datasheet", "report", "keygen", "verify-report",
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
    for col in getattr(args, "feature", None) or []:
        roles[col] = "feature"
    spec: dict[str, Any] = {"source": source, "path": str(path.resolve()), "roles": roles}
    if args.target:
        spec["target"] = args.target
    data_spec = DataSpec.from_dict(spec)
    if source in ("csv", "parquet", "npz"):
        # the import checks: identifier and constant columns not named in --sensitive or
        # --ignore are set aside, and what was found is said
        from workbench.core.data_choice import read_choice

        choice = read_choice(data_spec, checks=True)
        for notice in choice.notices:
            print(f"note: {notice}", file=sys.stderr)
        data_spec = choice.spec
    return data_spec


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

    if args.by_group:
        return _explain_by_group(args)
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


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _explain_by_group(args: argparse.Namespace) -> int:
    """``explain --by-group COL``: every sample of the split, compared across COL's groups."""
    from workbench.core.analysis import (
        explain_by_group,
        group_explanation_analysis,
        group_explanation_meta,
    )

    if args.samples:
        raise CliError("--by-group explains every sample of --split; leave out --samples.")
    if args.output and not Path(args.output).parent.exists():
        raise CliError(f"The folder {str(Path(args.output).parent)!r} does not exist.")
    project = _load(args.project)
    progress = None if args.json or args.quiet else _ProgressLine(f"{args.method} by {args.by_group}")
    outcome = explain_by_group(
        project, args.method, args.by_group, split=args.split, run_id=args.run, layer=args.layer,
        target=args.target, background=args.background, group=not args.no_group, seed=args.seed,
        n_boot=args.n_boot, n_perm=args.n_perm, progress=progress,
    )
    if progress is not None:
        progress.done()
    doc = _group_document(outcome.run.id, group_explanation_meta(outcome), outcome.comparison)
    if args.save:
        outcome.run.add_analysis(group_explanation_analysis(outcome))
        _save(project, args.project)
    if args.output:
        out = Path(args.output)
        out.mkdir(exist_ok=True)
        (out / "group_explanation.json").write_text(json.dumps(_clean(doc), indent=2, allow_nan=False) + "\n")
        if args.json:
            _emit_json({"output": str(out), "files": ["group_explanation.json"]})
        else:
            print(f"Wrote the comparison across {args.by_group!r} to {out / 'group_explanation.json'}")
        return EXIT_OK
    if args.json:
        _emit_json(doc)
        return EXIT_OK
    _print_group_comparison(doc, outcome.run.name, args.top)
    return EXIT_OK


def _group_document(run_id: str, meta: dict[str, Any], c: Any) -> dict[str, Any]:
    """The ``--by-group --json`` document (see docs/CLI.md)."""
    import numpy as np

    doc: dict[str, Any] = {"run": run_id}
    doc.update({k: meta[k] for k in ("method", "title", "params", "baseline", "value_function", "layer",
                                     "seed", "split", "sensitive", "band_edges", "versions")})
    doc.update(n_samples=len(meta["row_ids"]), row_ids=meta["row_ids"], groups=list(c.groups),
               sizes={g: int(n) for g, n in zip(c.groups, c.sizes, strict=True)},
               n_boot=c.n_boot, n_perm=c.n_perm, confidence=c.confidence, statistic=c.statistic,
               p_rule=c.p_rule, correction=c.correction, reasons=c.reasons, notes=c.notes)
    if c.is_map:
        doc["maps"] = {"shape": c.map_shape,
                       "by_group": {g: {"mean": c.mean[i], "mean_abs": c.mean_abs[i]}
                                    for i, g in enumerate(c.groups)},
                       "test": c.map_test}
        return doc

    def ci(a: Any, i: int, j: int) -> Any:
        return None if a is None else a[i, j]

    rows = []
    for j in c.order():
        by_group = {g: {"mean": c.mean[i, j], "mean_ci": ci(c.mean_ci, i, j), "mean_abs": c.mean_abs[i, j],
                        "mean_abs_ci": ci(c.mean_abs_ci, i, j)} for i, g in enumerate(c.groups)}
        rows.append({
            "feature": c.features[j], "by_group": by_group,
            "difference": c.difference[j], "between": [c.groups[int(k)] for k in np.asarray(c.between)[j]],
            "p_value": c.p_value[j], "p_holm": c.p_holm[j],
            "difference_abs": c.difference_abs[j],
            "between_abs": [c.groups[int(k)] for k in np.asarray(c.between_abs)[j]],
            "p_value_abs": c.p_value_abs[j], "p_holm_abs": c.p_holm_abs[j],
        })
    doc["features"] = rows
    return doc


def _p_text(v: Any) -> str:
    x = _number(v)
    return "—" if x is None else f"{x:.3g}"


def _mean_text(v: Any, ci: Any, signed: bool) -> str:
    x = _number(v)
    if x is None:
        return "—"
    form = "+.3g" if signed else ".3g"
    text = format(x, form)
    if ci is not None and len(ci) == 2 and None not in (_number(ci[0]), _number(ci[1])):
        text += f" [{format(float(ci[0]), form)}, {format(float(ci[1]), form)}]"
    return text


def _print_group_comparison(doc: dict[str, Any], run_name: str, top: int) -> None:
    groups, sizes = doc["groups"], doc["sizes"]
    print(f"{doc['title']} of run {run_name!r} compared across {doc['sensitive']!r} on the {doc['split']} "
          f"split ({doc['n_samples']} samples; baseline: {doc['baseline']})")
    print("groups: " + ", ".join(f"{g} (n={sizes[g]})" for g in groups))
    for note in doc["notes"]:
        print(f"note: {note}")
    if "maps" in doc:
        import numpy as np

        maps, test = doc["maps"], doc["maps"]["test"]
        print(f"\nper-group mean maps of shape {tuple(maps['shape'])}:")
        for g in groups:
            m = np.asarray(maps["by_group"][g]["mean"], dtype=float)
            a = np.asarray(maps["by_group"][g]["mean_abs"], dtype=float)
            if sizes[g] == 0:
                print(f"  {g:<20} no samples")
                continue
            print(f"  {g:<20} sum of mean map {m.sum():+.4g}, max |mean| {np.abs(m).max():.4g}, "
                  f"sum of mean |map| {a.sum():.4g}")
        print(f"\n{test['statistic']}: mean maps {_p_text(test['value'])} (p = {_p_text(test['p_value'])}), "
              f"mean |maps| {_p_text(test['value_abs'])} (p = {_p_text(test['p_value_abs'])})")
        print(f"p: permutation test, {doc['n_perm']} shuffles of the group labels, p = {doc['p_rule']}.")
        return
    two = sum(1 for g in groups if sizes[g] > 0) == 2
    rows = doc["features"]
    tables = []  # per feature: its lines as cells, aligned over all features below
    for row in rows[:top]:
        lines = [["", *(f"{g} (n={sizes[g]})" for g in groups), "difference", "p", "Holm p"]]
        for key, label, signed in (("mean", "mean", True), ("mean_abs", "mean |attr|", False)):
            suffix = "" if key == "mean" else "_abs"
            a, b = row["between" + suffix]
            diff = _number(row["difference" + suffix])
            what = f"{a} − {b}" if two else f"max − min ({a} − {b})"
            lines.append([label, *(_mean_text(row["by_group"][g][key], row["by_group"][g][key + "_ci"], signed)
                                   for g in groups),
                          "—" if diff is None else f"{what} {diff:+.3g}",
                          _p_text(row["p_value" + suffix]), _p_text(row["p_holm" + suffix])])
        tables.append((row["feature"], lines))
    widths = [max((len(line[k]) for _f, lines in tables for line in lines), default=0) + 3
              for k in range(len(groups) + 4)]
    for feature, lines in tables:
        print(f"\n{feature}")
        for line in lines:
            print("  " + "".join(f"{cell:<{w}}" for cell, w in zip(line, widths, strict=True)).rstrip())
    if len(rows) > top:
        print(f"\n({len(rows) - top} more feature(s) with smaller differences; --top {len(rows)} lists them)")
    interval = f"{doc['confidence']:.0%} percentile bootstrap intervals ({doc['n_boot']} resamples per group)" \
        if doc["n_boot"] else "no intervals (--n-boot 0)"
    print(f"\nFeatures ordered by the largest difference of mean attribution; [low, high]: {interval}.")
    print(f"p: permutation test of no difference between groups ({doc['n_perm']} shuffles of the group labels, "
          f"seed {doc['seed']}); statistic: {doc['statistic']}; p = {doc['p_rule']}.")
    print(f"Holm p: {doc['correction']} ({len(rows)} features), for the mean and the mean |attribution| "
          "separately: a Holm p below α keeps the chance of any false difference among them below α.")


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


EXIT_UNVERIFIED = 3  # verify: nothing differs, but something could not be checked
_MARKS = {"verified": "✔ verified", "differs": "✘ DIFFERS", "cannot verify": "? cannot verify"}


def cmd_verify(args: argparse.Namespace) -> int:
    from workbench.core.verify import verify_file

    if not Path(args.project).exists():
        raise CliError(f"No such project file: {args.project}")
    progress = None if args.json else _progress_printer("verifying")
    project, report = verify_file(args.project, runs=args.run or None, progress=progress)
    if args.run:
        unknown = sorted(set(args.run) - {r.id for r in project.runs})
        if unknown:
            raise CliError(f"No run {unknown[0]!r} in this project; its runs: "
                           f"{', '.join(r.id for r in project.runs) or 'none'}.")
    counts = report.counts()
    if args.json:
        _emit_json({"project": str(args.project), **report.to_dict()})
    else:
        for item in report.items:
            line = f"{_MARKS[item.status]:<16} {item.name}"
            if item.status == "differs" and (item.expected is not None or item.actual is not None):
                line += f": stored {_short(item.expected)}, recomputed {_short(item.actual)}"
            if item.reason and item.status != "verified":
                line += f" — {item.reason}"
            print(line)
        print(f"\n{counts['verified']} verified, {counts['differs']} differ, "
              f"{counts['cannot verify']} cannot be verified ({report.elapsed:.1f} s)")
    if counts["differs"]:
        return EXIT_FAILED
    return EXIT_OK if report.ok else EXIT_UNVERIFIED


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "…"


def _progress_printer(what: str) -> Any:
    """A progress callback that rewrites one line on a terminal (nothing when piped)."""
    if not sys.stderr.isatty():
        return None

    def show(fraction: float) -> None:
        sys.stderr.write(f"\r{what} {fraction:4.0%}")
        if fraction >= 1:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def cmd_datasheet(args: argparse.Namespace) -> int:
    from workbench.core.datasheet import project_datasheet

    project = _load(args.project)
    sheet = project_datasheet(project)
    if args.json:
        _emit_json(sheet)
    else:
        _print_datasheet(sheet)
    return EXIT_OK


_SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}


def _print_datasheet(d: dict[str, Any]) -> None:
    """The datasheet as readable text: sizes, columns, groups, rows, then the flags."""

    def pct(part: float, whole: float) -> str:
        return f"{100 * part / whole:.1f}%" if whole else "—"

    def score(v: Any) -> str:
        return "—" if v is None else f"{v:.2f}"

    print(f"Datasheet of {d.get('title') or 'the data'} ({d['kind']}, {d['task']} of {d['target']!r})")
    size = f"{d['rows']:,} in the source, {d['rows_used']:,} used"
    if d.get("n_columns") is not None:
        size += f"; {d['n_columns']} columns"
    print(f"rows        {size}")
    print("splits      " + " · ".join(f"{_SPLIT_NAMES.get(k, k)} {v:,}" for k, v in d["splits"].items()))
    used = d["rows_used"]
    if d.get("classes"):
        print("classes     " + " · ".join(
            f"{c}: {n:,} ({pct(n, used)})" for c, n in zip(d["classes"], d["class_counts"])))
    elif d.get("target_summary"):
        t = d["target_summary"]
        print("target      " + "  ".join(f"{k} {_fmt(v)}" for k, v in t.items()))
    if d["columns"]:
        sens = list(d["sensitive"])
        width = max(12, *(len(c["name"]) for c in d["columns"]))
        head = f"{'column':<{width}}  {'role':<9} {'type':<11} {'missing':>7} {'distinct':>8} {'unique':>7} {'→target':>8}"
        head += "".join(f" {'→' + s:>{max(7, len(s) + 1)}}" for s in sens)
        print("\n" + head)
        for c in d["columns"]:
            uf = c["unique_fraction"]
            line = (f"{c['name']:<{width}}  {c['role']:<9} {c['type']:<11} {c['missing']:>7,} "
                    f"{c['distinct']:>8,} {('—' if uf is None else f'{100 * uf:.1f}%'):>7} "
                    f"{score(c['target_score']):>8}")
            line += "".join(f" {score(c['proxy_scores'].get(s)):>{max(7, len(s) + 1)}}" for s in sens)
            print(line)
        print("→: how well the column alone predicts the target or group (chance-adjusted balanced "
              "accuracy of a cross-validated one-column model; 0 chance, 1 perfect; R² for a "
              "regression target); only model inputs are scored.")
    if d["groups"]:
        print()
        classes = d.get("classes") or []
        width = max(12, *(len(t["attribute"]) + 3 + len(g["name"]) for t in d["groups"] for g in t["groups"]))
        heads = [f"{d['target']} = {c}" for c in classes]
        cell_width = max(14, *(len(h) for h in heads)) if heads else 14
        print(f"{'group':<{width}}  {'rows':>7} {'share':>6}" + "".join(f"  {h:>{cell_width}}" for h in heads))
        for t in d["groups"]:
            for g in t["groups"]:
                name = f"{t['attribute']} = {g['name']}"
                line = f"{name:<{width}}  {g['rows']:>7,} {pct(g['rows'], used):>6}"
                for n in g.get("class_counts") or []:
                    cell = f"{n:,} ({pct(n, g['rows'])})"
                    line += f"  {cell:>{cell_width}}"
                print(line)
    print()
    dup = d["duplicates"]
    print(f"duplicates  {dup['rows']:,} row(s) repeat an earlier row"
          + (f" (e.g. rows {', '.join(map(str, dup['examples'][0]))})" if dup["examples"] else ""))
    if d["shared"]:
        print("shared      " + " · ".join(
            f"{_SPLIT_NAMES.get(s['splits'][1])} rows also in {_SPLIT_NAMES.get(s['splits'][0])}: {s['rows']:,}"
            for s in d["shared"]))
    flags = d["flags"]
    print(f"\nflags       {len(flags) or 'none'}")
    for f in flags:
        print(f"  ! {f['kind']:<11} {f['reason']}")
    if d["not_applicable"]:
        print("not applicable")
        for k, why in d["not_applicable"].items():
            print(f"  {k.replace('_', ' '):<13} {why}")
    for note in d.get("notes", []):
        print(f"note: {note}")


# ------------------------------------------------------------------------- audit report
def cmd_report(args: argparse.Namespace) -> int:
    from workbench.core.report import parse_time, write_report
    from workbench.core.report.canonical import sha256_hex
    from workbench.core.signing import load_private_key

    stamp = parse_time(args.time)  # a bad --time fails before any work
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise CliError(f"{args.output} is a file; -o takes a folder for the report.")
    if not out.exists() and not out.parent.exists():
        raise CliError(f"The folder {str(out.parent)!r} does not exist.")
    if args.audit and not Path(args.audit).is_file():
        raise CliError(f"No such audit file: {args.audit}")
    key = load_private_key(args.sign) if args.sign else None
    project = _load(args.project)
    verify = True if args.verify else (False if args.no_verify else None)
    paths = write_report(project, out, project_path=args.project, audit=args.audit, run_id=args.run,
                         time=stamp, sign_key=key, recompute=args.recompute, verify=verify)
    report = json.loads((out / "report.json").read_bytes())
    digest = sha256_hex((out / "report.json").read_bytes())
    summary = report["summary"]
    if args.json:
        _emit_json({"output": str(out), "files": [p.name for p in paths], "report_sha256": digest,
                    "time": stamp, "signed": key is not None, "run": summary.get("run"),
                    "sections": {s["id"]: s["status"] for s in summary["sections"]},
                    "verification": summary["verification"]["status"], "flags": summary["flags"]})
        return EXIT_OK
    run = summary.get("run") or {}
    print(f"Audit report of {project.name!r}" + (f", run {run.get('name')} ({run.get('id')})" if run else "")
          + f", at {stamp}")
    for s in summary["sections"]:
        print(f"  {s['status']:<13} {s['title']}" + (f" — {s['reason']}" if s.get("reason") and s["status"] != "assessed" else ""))
    print(f"Wrote {', '.join(p.name for p in paths)} to {out}")
    print(f"report.json sha256 {digest}" + ("  (signed)" if key is not None else ""))
    return EXIT_OK


def cmd_keygen(args: argparse.Namespace) -> int:
    from workbench.core.signing import key_id, load_public_key, write_keypair

    private, public = write_keypair(args.output, force=args.force)
    kid = key_id(load_public_key(public))
    if args.json:
        _emit_json({"private_key": str(private), "public_key": str(public), "algorithm": "Ed25519", "key_id": kid})
    else:
        print(f"Wrote the Ed25519 private key to {private} (keep it secret) and the public key to {public}")
        print(f"key id {kid}")
    return EXIT_OK


def cmd_verify_report(args: argparse.Namespace) -> int:
    from workbench.core.signing import verify_report_dir

    result = verify_report_dir(args.folder, key=args.key, project=args.project, audit=args.audit)
    if args.json:
        _emit_json({"folder": str(args.folder), **result.to_dict()})
    else:
        marks = {"ok": "ok", "differs": "DIFFERS", "missing": "MISSING", "invalid": "INVALID",
                 "not checked": "not checked"}
        for item in result.items:
            line = f"{marks.get(item['status'], item['status']):<12} {item['name']}"
            if item["status"] == "differs" and item["expected"] and item["actual"]:
                line += f": {str(item['expected'])[:16]}… expected, {str(item['actual'])[:16]}… found"
            if item["reason"] and (item["status"] != "ok" or item["kind"] == "signature"):
                line += f" — {item['reason']}"
            print(line)
        bad = result.failures
        if bad:
            print(f"FAILED: {', '.join(dict.fromkeys(i['name'] for i in bad))} "
                  f"{'does' if len(bad) == 1 else 'do'} not match the manifest or signature")
        else:
            print("OK: every checked digest matches the manifest" + (
                " and the signature is valid" if any(i["kind"] == "signature" and i["status"] == "ok"
                                                     for i in result.items) else ""))
    return EXIT_OK if result.ok else EXIT_FAILED


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
    s.add_argument("--feature", action="append",
                   help="a column to keep as a model input even if the import checks would set "
                        "it aside, e.g. an id-like column (repeatable)")
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
    s.add_argument("--top", type=_positive_int, default=10, help="features listed per sample, or per comparison with --by-group (default 10)")
    s.add_argument("--by-group", metavar="COL",
                   help="explain every sample of --split and compare the groups of sensitive column COL")
    s.add_argument("--n-boot", type=_non_negative_int, default=1000,
                   help="with --by-group: bootstrap resamples per group (default 1000; 0: no intervals)")
    s.add_argument("--n-perm", type=_non_negative_int, default=1000,
                   help="with --by-group: shuffles of the group labels per test (default 1000; 0: no p-values)")
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

    s = sub.add_parser("verify", help="re-derive every stored number and say which agree")
    s.add_argument("project")
    s.add_argument("--run", action="append", help="check only this run id (repeatable)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("info", help="summary of a project: graph, data, runs")
    s.add_argument("project")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("datasheet", help="what the project's data holds: sizes, groups, proxies, leaks")
    s.add_argument("project")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_datasheet)

    s = sub.add_parser("report", help="write the audit report: report.json, .html, .pdf and a manifest")
    s.add_argument("project")
    s.add_argument("-o", "--output", required=True, help="folder to write the report into (made if missing)")
    s.add_argument("--audit", help="the auditor's .wbaudit: findings, sign-off, their analyses")
    s.add_argument("--run", help="run id or name (default: the active run)")
    s.add_argument("--time", help="report time, ISO 8601 (default now); the same time gives the same files")
    s.add_argument("--sign", metavar="KEYFILE", help="Ed25519 private key (PEM) to sign the manifest with")
    s.add_argument("--recompute", action="store_true", help="also evaluate the model once on the test split")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--verify", action="store_true", help="re-derive every stored number even if the audit "
                                                         "file holds a verification")
    g.add_argument("--no-verify", action="store_true", help="never re-derive (use the audit file's "
                                                            "stored verification, if any)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("keygen", help="make an Ed25519 key pair for signing reports")
    s.add_argument("-o", "--output", required=True, help="private key file; the public key goes beside it")
    s.add_argument("--force", action="store_true", help="replace existing key files")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_keygen)

    s = sub.add_parser("verify-report", help="check a report folder against its manifest and signature")
    s.add_argument("folder")
    s.add_argument("--key", help="the signer's public key (PEM) to trust")
    s.add_argument("--project", help="also check the project file, its weights and data")
    s.add_argument("--audit", help="also check the audit file")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_verify_report)
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
    except BrokenPipeError:
        # the reader went away (``workbench info X | head -3``): stop quietly, as cat does
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return 141
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
