"""The one way the report writes JSON: sorted keys, UTF-8, numbers rounded by one function.

``report.json`` and ``manifest.json`` are hashed and signed, so the same content must
always give the same bytes. Every float goes through :func:`number` (six significant
digits; ``-0.0`` becomes ``0.0``; NaN and infinities become ``None``), and
:func:`canonical_bytes` serialises with ``sort_keys=True``, compact separators,
``ensure_ascii=False`` and ``allow_nan=False``. Parsing those bytes and serialising again
gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["SIGNIFICANT_DIGITS", "canonical_bytes", "canonicalise", "number", "sha256_hex"]

#: Every float in the report is rounded to this many significant digits.
SIGNIFICANT_DIGITS = 6
_NON_FINITE_TEXT = {"NaN", "Infinity", "-Infinity"}


def number(value: Any) -> float | int | None:
    """``value`` as a JSON number written one way only, or None when it is not finite.

    Integers (not bools) stay integers; floats are rounded to :data:`SIGNIFICANT_DIGITS`
    significant digits. The strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (how a
    fairness report stores undefined values) are read as undefined.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        if value in _NON_FINITE_TEXT:
            return None
        try:
            value = float(value)
        except ValueError:
            return None
    if hasattr(value, "item") and not isinstance(value, int | float):
        value = value.item()  # a numpy scalar
    if isinstance(value, int):
        return value
    if not isinstance(value, float):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
    if not math.isfinite(value):
        return None
    rounded = float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return 0.0 if rounded == 0 else rounded


def canonicalise(value: Any) -> Any:
    """A JSON-ready copy of ``value``: floats through :func:`number`, tuples as lists, keys text."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return number(value)
    if isinstance(value, Mapping):
        return {str(k): canonicalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonicalise(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return canonicalise(value.tolist())
    if hasattr(value, "to_dict"):
        return canonicalise(value.to_dict())
    return str(value)


def canonical_bytes(value: Any) -> bytes:
    """The canonical JSON bytes of ``value`` (see the module docstring)."""
    text = json.dumps(
        canonicalise(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return text.encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Lowercase hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
