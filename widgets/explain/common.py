"""What the attribution views share: colour maps, labels for how a map was made, messages.

Exporting (PNG, SVG, CSV) is :mod:`widgets.common.export`, shared with the other panels.

The views take attribution results as plain dicts with the keys of
``AttributionResult.to_dict()`` (``method``, ``title``, ``params``, ``attributions``,
``feature_names``, ``outputs``, ``reference``, ``baseline``, ``value_function``, ``delta``,
``seed``, ``layer``, ``versions``); arrays may be numpy arrays or nested lists.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

TEXT = "#263238"
MUTED = "#607d8b"
ERROR = "#b71c1c"
WARNING = "#e65100"
POSITIVE = "#ff0051"  # the colours shap uses for pushing the output up / down
NEGATIVE = "#008bfb"

# Red for positive, blue for negative, fully transparent at zero: the input image shows
# through wherever a feature does not matter, whatever the opacity setting.
DIVERGING = pg.ColorMap(
    pos=[0.0, 0.25, 0.5, 0.75, 1.0],
    color=[
        (5, 48, 97, 255),
        (67, 147, 195, 210),
        (247, 247, 247, 0),
        (214, 96, 77, 210),
        (103, 0, 31, 255),
    ],
    name="attribution",
)
# feature value low → high, as in shap's beeswarm
FEATURE_VALUE = pg.ColorMap(
    pos=[0.0, 0.5, 1.0],
    color=[(0, 139, 251, 255), (124, 70, 201, 255), (255, 0, 81, 255)],
    name="feature value",
)
MISSING_VALUE = (160, 160, 160, 200)

# relative completeness gaps above this are shown as a warning, not just a number
GAP_WARNING = 0.05


def as_array(value: Any) -> np.ndarray | None:
    """A float array from a numpy array or nested lists, or None (missing or not numeric)."""
    if value is None:
        return None
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


# Beyond this a colour bar's span (2 × limit) and its tick arithmetic overflow a float.
MAX_LIMIT = 1e300


def symmetric_limit(maps: Iterable[np.ndarray]) -> float:
    """The largest finite |value| over all maps (at most ``MAX_LIMIT``); 1.0 when there is
    none (or it is zero)."""
    limit = 0.0
    for m in maps:
        finite = np.abs(m[np.isfinite(m)])
        if finite.size:
            limit = max(limit, float(finite.max()))
    return min(limit, MAX_LIMIT) if limit > 0 else 1.0


def number(x: float | None, digits: int = 3) -> str:
    """A short, readable number: ``0.312``, ``1.2e-06``, ``—`` for missing."""
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:.{digits}g}"


def delta_text(delta: float | None) -> str:
    """The completeness gap as shown under a map: ``Δ = 1.2e-06`` ("" when undefined)."""
    if delta is None:
        return ""
    if not math.isfinite(delta):
        return "Δ = not finite"
    return f"Δ = {delta:.1e}"


def gap_is_large(delta: float | None, output: float | None, reference: float | None) -> bool:
    """True when the gap is a sizeable fraction of F(x) − reference (worth a warning colour)."""
    if delta is None or output is None or reference is None:
        return False
    if not all(math.isfinite(v) for v in (delta, output, reference)):
        return delta is not None and not math.isfinite(delta)
    scale = max(abs(output - reference), 1e-12)
    return abs(delta) > GAP_WARNING * scale


def _param_value(value: Any) -> str:
    if isinstance(value, float):
        return number(value)
    if isinstance(value, list | tuple):
        if len(value) > 4:
            return f"[{len(value)} values]"
        return "[" + ", ".join(_param_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{…}"
    return str(value)


# How the computation was batched or grouped: in the tooltip, not in the short header.
BOOKKEEPING_PARAMS = frozenset(
    {"max_batch", "model_rows", "internal_batch_size", "perturbations_per_eval", "feature_mask",
     "coalitions_per_sample"}
)


def params_short(params: Mapping[str, Any] | None, max_chars: int = 40) -> str:
    """``n_steps=50, method=gausslegendre`` cut to ``max_chars`` with an ellipsis.

    Batching details and nested values (a grouping's index) are left out; the tooltip lists
    every parameter.
    """
    if not params:
        return ""
    shown = {k: v for k, v in params.items() if k not in BOOKKEEPING_PARAMS and not isinstance(v, dict)}
    text = ", ".join(f"{k}={_param_value(v)}" for k, v in shown.items())
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip(", ") + "…"


def wrap(text: str, width: int, max_lines: int) -> list[str]:
    """Split ``text`` at ", " into lines of about ``width`` characters (the last one cut)."""
    lines: list[str] = []
    current = ""
    for part in text.split(", "):
        candidate = f"{current}, {part}" if current else part
        if len(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = part
    if current:
        lines.append(current)
    lines = [line if len(line) <= width else line[: width - 1] + "…" for line in lines]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 1] + "…"
    return lines


def value_function_text(result: Mapping[str, Any]) -> str:
    """How the reference was made: ``baseline: zeros`` / ``background: 100 training rows``."""
    kind = result.get("value_function")
    baseline = result.get("baseline")
    if kind and baseline:
        return f"{kind}: {baseline}"
    if baseline:
        return f"baseline: {baseline}"
    if kind:
        return str(kind)
    return ""


def reference_name(result: Mapping[str, Any]) -> str:
    """What the reference value is called in a label: F(baseline) or the background mean."""
    kind = result.get("value_function")
    if kind == "background":
        return "background mean"
    if kind == "baseline":
        return "F(baseline)"
    return "reference"


def method_title(result: Mapping[str, Any]) -> str:
    return str(result.get("title") or result.get("method") or "attribution")


def params_tooltip(result: Mapping[str, Any]) -> str:
    """Every detail of how a result was made, one per line (for tooltips)."""
    lines = [f"{method_title(result)} ({result.get('method', '?')})"]
    for key, value in (result.get("params") or {}).items():
        lines.append(f"  {key} = {value}")
    how = value_function_text(result)
    if how:
        lines.append(how)
    if result.get("layer"):
        lines.append(f"layer: {result['layer']}")
    if result.get("seed") is not None:
        lines.append(f"seed: {result['seed']}")
    versions = result.get("versions") or {}
    if versions:
        lines.append(", ".join(f"{k} {v}" for k, v in versions.items()))
    return "\n".join(lines)


def sample_title(sample: Mapping[str, Any] | None, index: int) -> tuple[str, str]:
    """``("#12", "true 3 · pred 5")`` for a sample dict with ``id``, ``label``, ``predicted``."""
    sample = sample or {}
    sid = sample.get("id", index)
    parts = []
    if sample.get("label") is not None:
        parts.append(f"true {sample['label']}")
    if sample.get("predicted") is not None:
        parts.append(f"pred {sample['predicted']}")
    return f"#{sid}", " · ".join(parts)


def is_misclassified(sample: Mapping[str, Any] | None) -> bool:
    sample = sample or {}
    label, predicted = sample.get("label"), sample.get("predicted")
    return label is not None and predicted is not None and str(label) != str(predicted)


def message_label() -> QLabel:
    """A word-wrapped label for one-line messages inside a panel (never a dialog)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def show_message(label: QLabel, text: str, *, error: bool = False) -> None:
    label.setText(text)
    label.setStyleSheet(f"color: {ERROR if error else MUTED};")
    label.setVisible(bool(text))
