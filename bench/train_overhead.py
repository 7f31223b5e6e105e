"""Training-engine overhead: the Trainer against a hand-written PyTorch loop (budget ≥ 0.95).

Both train the same MLP (64 → 256 → 256 → 10) from the same initial weights on the same
20,000 synthetic rows with Adam, batch 64, shuffled by the same seeded generator, and validate
on 2,000 rows at each epoch end. The hand-written loop is what a careful engineer would write
by hand to get the same cheap readings the Trainer streams: index batches from tensors, log
the step loss and batch accuracy, report validation loss and accuracy per epoch. The Trainer
runs with its defaults on: History, per-layer gradient norms, the NaN/Inf checks, and
accuracy / macro F1 / AUC / confusion matrix per epoch. A bare loop (no logging, no
validation) is timed too, as the floor. Repeats alternate the order so drift in machine speed
hits all alike; the best repeat of each is compared (the median is printed as well). As a
check that they do the same work, the hand loop's and the Trainer's step-loss curves must be
identical.

Threads default to 1: on small shared VMs a second thread makes timings erratic.

Run: ``.venv/bin/python bench/train_overhead.py [--repeats 5] [--epochs 3] [--threads N]``
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engines.training import TrainConfig, Trainer  # noqa: E402

ROWS, VAL_ROWS, FEATURES, CLASSES, BATCH, SEED = 20_000, 2_000, 64, 10, 64, 0


def make_data() -> tuple[np.ndarray, np.ndarray]:
    """Rows labelled by a random linear teacher, so the task is learnable."""
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(ROWS + VAL_ROWS, FEATURES)).astype(np.float32)
    y = (X @ rng.normal(size=(FEATURES, CLASSES))).argmax(axis=1).astype(np.int64)
    return X, y


def make_model() -> nn.Module:
    torch.manual_seed(SEED)
    return nn.Sequential(
        nn.Linear(FEATURES, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, CLASSES)
    )


def hand_loop(
    model: nn.Module, X: np.ndarray, y: np.ndarray, epochs: int, bare: bool = False
) -> tuple[float, list[float]]:
    """A plain PyTorch loop; returns (seconds, step losses).

    It logs what the Trainer streams cheaply (step loss and batch accuracy, validation loss
    and accuracy per epoch); ``bare=True`` drops all logging and validation, the floor no
    useful engine can reach.
    """
    Xt, yt = torch.from_numpy(X[:ROWS]), torch.from_numpy(y[:ROWS])
    Xv, yv = torch.from_numpy(X[ROWS:]), torch.from_numpy(y[ROWS:])
    t0 = time.perf_counter()
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses: list[float] = []
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(ROWS, generator=gen)
        for start in range(0, ROWS, BATCH):
            idx = perm[start:start + BATCH]
            yb = yt[idx]
            out = model(Xt[idx])
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if bare:
                continue
            losses.append(loss.item())
            _batch_acc = (out.argmax(1) == yb).sum().item() / len(idx)
        if bare:
            continue
        model.eval()
        with torch.no_grad():
            out = torch.cat([model(Xv[i:i + 1024]) for i in range(0, VAL_ROWS, 1024)])
            _val_loss = F.cross_entropy(out, yv).item()
            _val_acc = (out.argmax(1) == yv).float().mean().item()
    return time.perf_counter() - t0, losses


def trainer_loop(model: nn.Module, X: np.ndarray, y: np.ndarray, epochs: int) -> tuple[float, list[float]]:
    """The same training through the Trainer with its default callbacks."""
    cfg = TrainConfig(optimizer="adam", lr=1e-3, batch_size=BATCH, epochs=epochs, seed=SEED, device="cpu")
    t0 = time.perf_counter()
    result = Trainer(model, train=(X[:ROWS], y[:ROWS]), val=(X[ROWS:], y[ROWS:]), config=cfg).fit()
    seconds = time.perf_counter() - t0
    assert result.status == "completed", result.message
    return seconds, result.history["step"].get("loss", [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # one setting for both loops

    X, y = make_data()
    initial = make_model()
    samples = ROWS * args.epochs
    times: dict[str, list[float]] = {"bare": [], "hand": [], "trainer": []}
    curves: dict[str, list[float]] = {}
    # warm-up run of each (allocator, lazy imports, first-call dispatch) is not timed
    def bare_loop(model: nn.Module, X: np.ndarray, y: np.ndarray, epochs: int) -> tuple[float, list[float]]:
        return hand_loop(model, X, y, epochs, bare=True)

    for fn in (hand_loop, trainer_loop):
        fn(copy.deepcopy(initial), X, y, 1)
    for r in range(args.repeats):
        order = [("bare", bare_loop), ("hand", hand_loop), ("trainer", trainer_loop)]
        if r % 2:
            order.reverse()
        for name, fn in order:
            seconds, losses = fn(copy.deepcopy(initial), X, y, args.epochs)
            times[name].append(seconds)
            curves[name] = losses

    best = {k: samples / min(v) for k, v in times.items()}
    med = {k: samples / float(np.median(v)) for k, v in times.items()}
    hand, trainer, hand_med, trainer_med = best["hand"], best["trainer"], med["hand"], med["trainer"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {ROWS} rows x {args.epochs} epochs, "
          f"batch {BATCH}, {args.repeats} alternating repeats")
    print(f"identical step-loss curves: {curves['hand'] == curves['trainer']}")
    print(f"bare loop, no logs: {best['bare']:10.0f} samples/s (best)   {med['bare']:10.0f} (median)")
    print(f"hand-written loop : {hand:10.0f} samples/s (best)   {hand_med:10.0f} (median)")
    print(f"Trainer           : {trainer:10.0f} samples/s (best)   {trainer_med:10.0f} (median)")
    ratio = trainer / hand
    print(f"throughput ratio  : {ratio:.3f} (best)   {trainer_med / hand_med:.3f} (median)   target >= 0.95")
    print(f"ratio to bare loop: {trainer / best['bare']:.3f} (best)   {trainer_med / med['bare']:.3f} (median)")
    return 0 if ratio >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
