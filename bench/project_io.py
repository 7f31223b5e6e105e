"""Save and reopen a 10-million-parameter project; budget: <= 1 s each, file <= 1.05 x raw.

Run with ``.venv/bin/python bench/project_io.py``. Prints every repetition and the best,
and exits non-zero when a budget is missed.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engines.graph import Graph  # noqa: E402
from workbench.core.project import Project, Run, load_project, save_project  # noqa: E402

# input 1000 -> 2000 -> 2000 -> 2000 -> 10: 10,026,010 parameters.
WIDTHS = [1000, 2000, 2000, 2000, 10]
SAVE_BUDGET_S = 1.0
LOAD_BUDGET_S = 1.0
SIZE_BUDGET = 1.05


def build_project() -> tuple[Project, int]:
    """A project whose one run holds ~10M float32 parameters; returns it and the count."""
    gen = torch.Generator().manual_seed(0)
    weights: dict[str, torch.Tensor] = {}
    graph = Graph()
    have_layers = importlib.util.find_spec("engines.layers") is not None
    if have_layers:
        graph.add_node("input", {"shape": [WIDTHS[0]]}, id="x")
    prev = "x"
    for i, (n_in, n_out) in enumerate(zip(WIDTHS, WIDTHS[1:]), start=1):
        nid = f"fc{i}"
        weights[f"layers.{nid}.weight"] = torch.randn(n_out, n_in, generator=gen)
        weights[f"layers.{nid}.bias"] = torch.randn(n_out, generator=gen)
        if have_layers:
            graph.add_node("linear", {"out_features": n_out}, id=nid)
            graph.connect(prev, nid)
            prev = nid
            if i < len(WIDTHS) - 1:
                graph.add_node("relu", id=f"act{i}")
                graph.connect(prev, f"act{i}")
                prev = f"act{i}"
    if have_layers:
        graph.add_node("output", id="y")
        graph.connect(prev, "y")
    epochs = 50
    history = {
        "step": {"loss": torch.rand(20_000, generator=gen).tolist(), "lr": [1e-3] * 20_000},
        "epoch": {
            "train_loss": torch.rand(epochs, generator=gen).tolist(),
            "grad_norm": {
                f"fc{i}": torch.rand(epochs, generator=gen).tolist() for i in range(1, 5)
            },
        },
    }
    project = Project.new("bench 10M", graph, {"source": "builtin", "name": "digits"})
    project.add_run(Run(id="r1", name="big", history=history, weights=weights))
    project.active_run = "r1"
    n_params = sum(t.numel() for t in weights.values())
    return project, n_params


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=None, help="folder for the file (default: a temp dir)")
    args = parser.parse_args()

    project, n_params = build_project()
    raw = sum(t.numel() * t.element_size() for t in project.runs[0].weights.values())  # type: ignore[union-attr]
    print(
        f"parameters: {n_params:,} ({raw / 1e6:.1f} MB raw), graph nodes: {len(project.graph.nodes)}"
    )
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        path = Path(d) / "bench.wbproj"
        saves, loads = [], []
        for i in range(args.repeat):
            t0 = time.perf_counter()
            save_project(project, path)
            t1 = time.perf_counter()
            loaded = load_project(path)
            t2 = time.perf_counter()
            saves.append(t1 - t0)
            loads.append(t2 - t1)
            print(f"  rep {i + 1}: save {saves[-1]:.3f} s, load {loads[-1]:.3f} s")
        size = path.stat().st_size
        assert loaded.runs[0].weights is not None
        assert all(
            torch.equal(loaded.runs[0].weights[k], v) for k, v in project.runs[0].weights.items()
        )  # type: ignore[union-attr]
    ratio = size / raw
    ok = min(saves) <= SAVE_BUDGET_S and min(loads) <= LOAD_BUDGET_S and ratio <= SIZE_BUDGET
    print(f"save:   best {min(saves):.3f} s (budget {SAVE_BUDGET_S} s)")
    print(f"reopen: best {min(loads):.3f} s (budget {LOAD_BUDGET_S} s)")
    print(
        f"file size / raw parameter bytes: {size:,} / {raw:,} = {ratio:.4f} (budget {SIZE_BUDGET})"
    )
    print("OK" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
