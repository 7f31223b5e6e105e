"""Fairness metrics on the validation split at every epoch end, as a training callback."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from engines.fairness.audit import point_metrics, prepare_outcomes
from engines.fairness.counts import DIFFERENCES
from engines.fairness.groups import FairnessError, encode_sensitive
from engines.fairness.report import FairnessReport
from engines.training import Callback, Trainer

__all__ = ["FairnessTracker"]


class FairnessTracker(Callback):
    """Point fairness metrics of the model on ``(X, y, sensitive)`` after every epoch.

    The groups are encoded once; each epoch runs the model once over ``X`` in eval mode
    without autograd (its train/eval mode is restored afterwards) and counts — a few
    milliseconds for thousands of rows.

    Parameters
    ----------
    X, y : validation inputs and class targets (class indices).
    sensitive : the validation rows' sensitive columns.
    favourable : class index of the favourable outcome; threshold : on its probability.
    on_update : called as ``on_update(epoch, report)`` after each epoch (in the training
        thread: hand the report over, e.g. through a queue, rather than draw from it).

    Attributes
    ----------
    reports : one :class:`FairnessReport` per completed epoch.
    epochs : the epoch index of each report.
    seconds : time each update took.
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        sensitive: Any,
        *,
        favourable: int = 1,
        threshold: float = 0.5,
        intersections: bool = True,
        bands: Mapping[str, Sequence[float]] | None = None,
        on_update: Callable[[int, FairnessReport], None] | None = None,
        batch_size: int = 4096,
    ) -> None:
        self.X = np.asarray(X, dtype=np.float32)
        self.y = np.asarray(y)
        if len(self.X) != len(self.y):
            raise FairnessError(f"The tracker's inputs have {len(self.X)} rows but its targets have {len(self.y)}.")
        if isinstance(favourable, bool) or not isinstance(favourable, int | np.integer) or favourable < 0:
            raise FairnessError(f"The favourable outcome must be a class index (0, 1, ...), not {favourable!r}.")
        # checked now, not at the first epoch end: a bad setting must not stop a training run
        prepare_outcomes(self.y, np.zeros(len(self.y)), favourable=favourable, threshold=threshold, kind="scores")
        self.groups = encode_sensitive(sensitive, bands=bands, intersections=intersections, n_rows=len(self.y))
        self.favourable, self.threshold = int(favourable), threshold
        self.on_update = on_update
        self.batch_size = batch_size
        self.reports: list[FairnessReport] = []
        self.epochs: list[int] = []
        self.seconds: list[float] = []
        self._X_dev: torch.Tensor | None = None

    def scores(self, model: torch.nn.Module) -> np.ndarray:
        """P(favourable) of every row under ``model`` (eval mode, restored after)."""
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        if self._X_dev is None or self._X_dev.device != device:
            self._X_dev = torch.from_numpy(self.X).to(device)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = torch.cat([model(self._X_dev[i:i + self.batch_size]) for i in range(0, len(self.X), self.batch_size)])
        finally:
            model.train(was_training)
        out = out.float()
        if out.ndim != 2:
            raise FairnessError(f"The fairness tracker needs (rows, classes) logits, got shape {tuple(out.shape)}.")
        if out.shape[1] == 1:
            p = torch.sigmoid(out[:, 0])
            if self.favourable > 1:
                raise FairnessError(f"A one-logit model has classes 0 and 1, not {self.favourable}.")
            p = p if self.favourable == 1 else 1 - p
        else:
            if self.favourable >= out.shape[1]:
                raise FairnessError(f"The model has {out.shape[1]} classes; the favourable class {self.favourable} is not one.")
            p = torch.softmax(out, dim=1)[:, self.favourable]
        return p.cpu().numpy().astype(np.float64)

    def update(self, model: torch.nn.Module, epoch: int) -> FairnessReport:
        """Compute, record and announce the report for ``epoch``."""
        t0 = time.perf_counter()
        report = point_metrics(
            self.y, self.scores(model), self.groups, favourable=self.favourable, threshold=self.threshold, kind="scores"
        )
        report.elapsed = time.perf_counter() - t0
        self.reports.append(report)
        self.epochs.append(epoch)
        self.seconds.append(report.elapsed)
        if self.on_update is not None:
            self.on_update(epoch, report)
        return report

    def on_epoch_end(self, trainer: Trainer, epoch: dict[str, Any]) -> None:
        self.update(trainer.model, int(epoch["epoch"]))

    def series(self) -> dict[str, list[float]]:
        """Per-epoch curves: ``epoch``, ``overall/<metric>`` and ``<feature>/<difference>``."""
        out: dict[str, list[float]] = {"epoch": [float(e) for e in self.epochs]}
        for r in self.reports:
            for metric, value in r.overall.items():
                out.setdefault(f"overall/{metric}", []).append(float(value))
            for feature, diffs in r.differences.items():
                for name in DIFFERENCES:
                    out.setdefault(f"{feature}/{name}", []).append(float(diffs[name]["value"]))
        return out
