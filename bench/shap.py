"""Shapley values for tables: our exact / paired-KernelSHAP path against captum's KernelShap.

Targets (DESIGN.md, issue "Explanations"): exact values for up to 12 feature groups in at
most 5 ms per sample; for 30 features, a p95 relative error of at most 2 % within 4,096
model evaluations per sample. shap's KernelExplainer is not installed, so captum's
KernelShap is the comparison (measured elsewhere on this kind of machine: shap ~15 ms per
sample exact for 9 groups; captum with 1,000 samples ~210 ms per sample and 13 % off).

Models, all trained briefly here with the Trainer (a few epochs, seed 0):

- ``german_credit``: the built-in table with its 9 original columns (sex and age fed to the
  model) as groups; one-hot columns grouped back with ``feature_groups``.
- ``mixed-10`` / ``mixed-12``: generated tables with 10 / 12 columns (4 categorical, one-hot
  encoded by ``engines.data.prepare`` from a CSV written to a temporary folder).
- ``breast_cancer-30``: the built-in table's 30 numeric features, model = three 10-feature
  MLP blocks whose outputs are added. Exact values over 30 players would need 2^30
  coalitions; because the blocks only add, each feature's exact value is its block's exact
  value (Shapley values add over games, and a block ignores the other features), which
  gives ground truth for the paired estimator on the full 30-player game. The same
  architecture with random weights is shown as a harder case (not judged).

Value function: a fixed baseline, the mean of the training split (what captum's KernelShap
supports); exact per-sample times with a 10-row background are printed too. Relative error
of a sample = ||phi - phi_exact|| / ||phi_exact||. Threads default to 1 (small shared VMs).

The paired estimate is seeded; the 30-feature target is judged on the worst p95 over
``--seeds`` seeds.

Run: ``.venv/bin/python bench/shap.py [--samples 200] [--captum-samples 8] [--seeds 5] [--threads N]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engines.build import build_model  # noqa: E402
from engines.data import DataSpec, builtin_spec, prepare  # noqa: E402
from engines.explain import exact_shapley, feature_groups, paired_kernel_shap  # noqa: E402
from engines.templates import make_template  # noqa: E402
from engines.training import TrainConfig, Trainer  # noqa: E402

EXACT_MS_TARGET, P95_TARGET, EVALS = 5.0, 0.02, 4096


def train(model: nn.Module, X: np.ndarray, y: np.ndarray, epochs: int = 5) -> nn.Module:
    cfg = TrainConfig(epochs=epochs, batch_size=64, lr=3e-3, device="cpu", seed=0)
    Trainer(model, train=(X, y), config=cfg).fit()
    return model.eval()


def mixed_table(n_columns: int, folder: Path) -> Path:
    """A CSV with ``n_columns`` feature columns (4 categorical) and a rule-made label."""
    rng = np.random.default_rng(n_columns)
    rows = 3000
    cols: dict[str, np.ndarray] = {}
    for i in range(n_columns - 4):
        cols[f"num{i}"] = rng.normal(size=rows).round(3)
    levels = ["a", "b", "c", "d"]
    for i in range(4):
        cols[f"cat{i}"] = rng.choice(levels[: 2 + i % 3], size=rows)
    score = cols["num0"] - 0.8 * cols["num1"] + (cols["cat0"] == "a") - 0.5 * (cols["cat1"] == "b")
    cols["label"] = (score + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    path = folder / f"mixed{n_columns}.csv"
    names = list(cols)
    lines = [",".join(names)] + [",".join(str(cols[c][r]) for c in names) for r in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


class Blocks(nn.Module):
    """Three MLPs on features 0-9, 10-19, 20-29; their logits are added."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
            for _ in range(3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(b(x[:, 10 * i:10 * i + 10]) for i, b in enumerate(self.blocks))  # type: ignore[return-value]


def rel_error(est: np.ndarray, exact: np.ndarray) -> np.ndarray:
    return np.linalg.norm(est - exact, axis=1) / np.maximum(np.linalg.norm(exact, axis=1), 1e-12)


def captum_kernel_shap(model: nn.Module, x: torch.Tensor, base: torch.Tensor, target: torch.Tensor,
                       mask: np.ndarray, n_samples: int) -> tuple[np.ndarray, float]:
    """captum KernelShap one sample at a time (as captum recommends); (group values, s/sample)."""
    from captum.attr import KernelShap

    ks = KernelShap(model)
    m = torch.as_tensor(mask)[None]
    first = [int(np.flatnonzero(mask == g)[0]) for g in range(int(mask.max()) + 1)]
    out = []
    t0 = time.perf_counter()
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(len(x)):
            a = ks.attribute(x[i:i + 1], baselines=base, target=int(target[i]), feature_mask=m,
                             n_samples=n_samples, perturbations_per_eval=n_samples)
            out.append(a.detach().double().numpy()[0, first])
    return np.stack(out), (time.perf_counter() - t0) / len(x)


def timed(fn, repeats: int = 3):
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return result, best


def table_case(name: str, X: np.ndarray, y: np.ndarray, x_eval: np.ndarray, groups, args) -> bool:
    model = train(build_model(make_template("mlp", X.shape[1:], 2), seed=0), X, y)
    x = torch.from_numpy(x_eval[: args.samples])
    base = torch.from_numpy(X.mean(0, keepdims=True).astype(np.float32))
    bg = torch.from_numpy(X[np.random.default_rng(0).choice(len(X), 10, replace=False)])
    with torch.no_grad():
        target = model(x).argmax(1)
    g = groups.n_groups
    sv, t = timed(lambda: exact_shapley(model, x, base, target, groups.index))
    ms = 1000 * t / len(x)
    _bg_sv, t_bg = timed(lambda: exact_shapley(model, x, bg, target, groups.index, value_function="background"), 1)
    n_c = min(args.captum_samples, len(x))
    ks, ks_s = captum_kernel_shap(model, x[:n_c], base, target[:n_c], groups.index, 1000)
    err = rel_error(ks, sv.values[:n_c])
    ok = ms <= EXACT_MS_TARGET
    print(f"{name:<17} {g:>2} groups ({X.shape[1]} columns), {len(x)} samples")
    print(f"  ours exact, baseline      : {ms:8.2f} ms/sample   {2**g} coalitions   "
          f"efficiency gap max {np.abs(sv.gap).max():.1e}   target <= {EXACT_MS_TARGET:g} ms  "
          f"{'PASS' if ok else 'FAIL'}")
    print(f"  ours exact, 10-row bg     : {1000 * t_bg / len(x):8.2f} ms/sample")
    print(f"  captum KernelShap n=1000  : {1000 * ks_s:8.2f} ms/sample ({n_c} samples)   "
          f"rel. error median {np.median(err):.1%} p95 {np.percentile(err, 95):.1%}   "
          f"ours is {ks_s * 1000 / ms:.0f}x faster and exact")
    return ok


def blocks_case(label: str, model: nn.Module, X: np.ndarray, x_eval: np.ndarray, args, judged: bool) -> bool:
    x = torch.from_numpy(x_eval[: args.samples])
    base = torch.from_numpy(X.mean(0, keepdims=True).astype(np.float32))
    with torch.no_grad():
        target = model(x).argmax(1)
    truth = np.concatenate(
        [exact_shapley(b, x[:, 10 * i:10 * i + 10], base[:, 10 * i:10 * i + 10], target).values
         for i, b in enumerate(model.blocks)], axis=1)
    est, t = timed(lambda: paired_kernel_shap(model, x, base, target, max_evals=EVALS, seed=0))
    err = rel_error(est.values, truth)
    # the estimate is seeded: judge the worst p95 over several seeds, not a lucky one
    p95s = [float(np.percentile(rel_error(paired_kernel_shap(model, x, base, target, max_evals=EVALS,
                                                             seed=seed).values, truth), 95))
            for seed in range(args.seeds)]
    p95 = max(p95s)
    n_c = min(args.captum_samples, len(x))
    ks, ks_s = captum_kernel_shap(model, x[:n_c], base, target[:n_c], np.arange(30), EVALS)
    ks_err = rel_error(ks, truth[:n_c])
    ok = p95 <= P95_TARGET
    verdict = ("PASS" if ok else "FAIL") if judged else "(not judged)"
    print(f"{label}, 30 features, {len(x)} samples, {EVALS} evaluations/sample")
    print(f"  ours paired KernelSHAP    : {1000 * t / len(x):8.2f} ms/sample   {est.evaluations} coalitions   "
          f"rel. error (seed 0) median {np.median(err):.2%} p95 {np.percentile(err, 95):.2%} max {err.max():.2%}")
    print(f"  p95 over seeds 0-{args.seeds - 1}       : {min(p95s):.2%} .. {p95:.2%}   "
          f"target p95 <= {P95_TARGET:.0%} (worst seed)  {verdict}")
    print(f"  captum KernelShap n={EVALS}  : {1000 * ks_s:8.2f} ms/sample ({n_c} samples)   "
          f"rel. error median {np.median(ks_err):.1%} p95 {np.percentile(ks_err, 95):.1%}")
    return ok or not judged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--captum-samples", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); times are the best of 3 "
          f"(captum: one pass); models trained briefly here (seed 0)")
    ok = True

    spec = builtin_spec("german_credit")
    spec.sensitive_as_features = True
    data = prepare(spec)
    X, y, _ = data.split("train")
    ok &= table_case("german_credit", X, y, data.split("test")[0], feature_groups(data.preprocessing, data.feature_names), args)

    with tempfile.TemporaryDirectory() as folder:
        for n in (10, 12):
            data = prepare(DataSpec(source="csv", path=str(mixed_table(n, Path(folder))), target="label"))
            X, y, _ = data.split("train")
            groups = feature_groups(data.preprocessing, data.feature_names)
            ok &= table_case(f"mixed-{n}", X, y, data.split("test")[0], groups, args)

    data = prepare(builtin_spec("breast_cancer"))
    X, y, _ = data.split("train")
    x_eval = np.concatenate([data.split("test")[0], data.split("val")[0]])
    ok &= blocks_case("breast_cancer-30 (trained)", train(Blocks(), X, y, epochs=10), X, x_eval, args, True)
    ok &= blocks_case("same blocks, random weights", Blocks(seed=1).eval(), X, x_eval, args, False)
    print("all targets met" if ok else "some targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
