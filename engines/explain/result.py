"""What an explanation produces (:class:`AttributionResult`) and how it fails."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

__all__ = ["AttributionResult", "Cancelled", "ExplainError", "library_versions"]


class ExplainError(ValueError):
    """An explanation cannot be computed as asked; the message says why in one sentence."""


class Cancelled(Exception):
    """The caller's ``cancel()`` returned True; the explanation stopped between model calls."""


def library_versions() -> dict[str, str]:
    """Versions of the libraries the numbers depend on."""
    import captum
    import torch

    return {"torch": torch.__version__, "captum": captum.__version__, "numpy": np.__version__}


_ARRAYS = ("attributions", "outputs", "reference", "delta")


@dataclass(eq=False)  # arrays inside: compare fields explicitly
class AttributionResult:
    """Attributions for a batch of samples, labelled with how they were made.

    Attributes
    ----------
    method, title : the method id (e.g. ``"ig"``) and its display name.
    params : every option used (defaults included), JSON-ready.
    attributions : float64 ``(S, *input_shape)``; ``(S, G)`` when grouped; ``(S, H, W)``
        for Grad-CAM (upsampled to the input).
    feature_names : a name per attribution column (group names when grouped), or None.
    targets : the explained output index per sample.
    outputs : ``(S,)`` the model output F(x) for the explained target (the logit for
        classifiers, including a one-logit binary model).
    reference : ``(S,)`` F(baseline), or the mean of F over the background, or None.
    baseline : a sentence saying what the baseline or background was.
    value_function : ``"baseline"`` (absent features take the baseline's values),
        ``"background"`` (averaged over background rows), or None.
    delta : ``(S,)`` completeness gap ``sum(attributions) - (outputs - reference)`` for
        methods whose attributions should add up to the output change, else None.
    seed, layer, versions, elapsed : the seed, the layer (Grad-CAM), library versions and
        wall-clock seconds.
    """

    method: str
    title: str
    params: dict[str, Any]
    attributions: np.ndarray
    feature_names: list[str] | None
    targets: list[int | None]
    outputs: np.ndarray
    reference: np.ndarray | None
    baseline: str
    value_function: str | None
    delta: np.ndarray | None
    seed: int
    layer: str | None = None
    versions: dict[str, str] = field(default_factory=library_versions)
    elapsed: float = 0.0

    @property
    def n_samples(self) -> int:
        return int(self.attributions.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (arrays as nested lists) that :meth:`from_dict` reads back."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _ARRAYS:
                value = None if value is None else np.asarray(value, dtype=np.float64).tolist()
            elif f.name == "targets":
                value = [None if t is None else int(t) for t in value]
            elif isinstance(value, dict):
                value = dict(value)
            elif isinstance(value, list):
                value = list(value)
            out[f.name] = value
        out["format"] = "model-workbench-attributions"
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AttributionResult:
        """Rebuild a result from :meth:`to_dict` output.

        Raises
        ------
        ExplainError
            If the dict is not a saved attribution result or misses a field.
        """
        if not isinstance(d, dict) or d.get("format") != "model-workbench-attributions":
            raise ExplainError("This is not a saved attribution result.")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in d:
                if f.name in ("layer", "versions", "elapsed"):
                    continue
                raise ExplainError(f"The saved attribution result has no {f.name!r} field.")
            value = d[f.name]
            if f.name in _ARRAYS and value is not None:
                try:
                    value = np.asarray(value, dtype=np.float64)
                except (TypeError, ValueError):
                    raise ExplainError(
                        f"The saved attribution field {f.name!r} is not an array of numbers."
                    ) from None
            kwargs[f.name] = value
        result = cls(**kwargs)
        if result.attributions.ndim < 2 or len(result.outputs) != result.attributions.shape[0]:
            raise ExplainError("The saved attribution result has arrays of mismatched lengths.")
        return result

    def summary(self) -> str:
        """One line for a person: method, samples and the largest completeness gap."""
        gap = ""
        if self.delta is not None and len(self.delta):
            worst = float(np.max(np.abs(self.delta)))
            gap = f", largest completeness gap {worst:.3g}" if math.isfinite(worst) else ""
        return f"{self.title} on {self.n_samples} sample(s), baseline: {self.baseline}{gap}."
