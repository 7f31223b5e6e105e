"""Reading fairness results (plain dicts) into rows the fairness views show.

Every fairness view reads its input through this module and nowhere else, so a change in the
shape of ``FairnessReport.to_dict()`` (see docs/CONTRACTS.md, "engines.fairness"), of a
threshold sweep or of a run list is adapted here once. Reading never raises: whatever cannot
be read is skipped and described in ``problems`` (one sentence each), which the views show.

An undefined value (``None`` or NaN: a zero denominator, an empty group) is kept as ``None``
with the reason it is undefined, and is shown as "—", never as 0.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DIFFERENCES",
    "DIFFERENCE_HELP",
    "DIFFERENCE_TITLES",
    "FOUR_FIFTHS",
    "FOUR_FIFTHS_TOLERANCE",
    "KINDS",
    "KIND_TITLES",
    "METRICS",
    "METRIC_HELP",
    "METRIC_TITLES",
    "SMALL_GROUP",
    "SWEEP_METRICS",
    "UNDEFINED",
    "Cell",
    "DifferenceRow",
    "EpochPoint",
    "GroupRow",
    "ReportData",
    "RunPoint",
    "SweepData",
    "format_number",
    "format_with_interval",
    "four_fifths_passes",
    "read_history",
    "read_point_metrics",
    "read_report",
    "read_runs",
    "read_sweep",
]

UNDEFINED = "—"
SMALL_GROUP = 30  # fewer people than this: intervals are wide, gaps may be noise
FOUR_FIFTHS = 0.8
FOUR_FIFTHS_TOLERANCE = 1e-9  # as engines.fairness.counts

METRICS = (
    "selection_rate",
    "accuracy",
    "tpr",
    "fpr",
    "fnr",
    "precision",
    "calibration_error",
)
METRIC_TITLES = {
    "selection_rate": "Selection rate",
    "accuracy": "Accuracy",
    "tpr": "TPR",
    "fpr": "FPR",
    "fnr": "FNR",
    "precision": "Precision",
    "calibration_error": "Calibration error",
}
METRIC_HELP = {
    "selection_rate": "Share of the group given the favourable outcome.",
    "accuracy": "Share of the group whose outcome the model predicts correctly.",
    "tpr": "True positive rate: of those who truly merit the favourable outcome, the share given it.",
    "fpr": "False positive rate: of those who do not merit it, the share given it anyway.",
    "fnr": "False negative rate: of those who merit the favourable outcome, the share denied it.",
    "precision": "Of those given the favourable outcome, the share who truly merit it.",
    "calibration_error": "How far the predicted probabilities are from the observed rates.",
}
DIFFERENCES = ("dp_difference", "dp_ratio", "eo_difference", "eop_difference", "di_ratio")
DIFFERENCE_TITLES = {
    "dp_difference": "Demographic parity difference",
    "dp_ratio": "Demographic parity ratio",
    "eo_difference": "Equalized odds difference",
    "eop_difference": "Equal opportunity difference",
    "di_ratio": "Disparate impact ratio",
}
DIFFERENCE_HELP = {
    "dp_difference": "Largest gap in selection rate between groups (0 is parity).",
    "dp_ratio": "Smallest selection rate divided by the largest (1 is parity).",
    "eo_difference": "The larger of the largest TPR gap and the largest FPR gap (0 is parity).",
    "eop_difference": "Largest gap in true positive rate between groups (0 is parity).",
    "di_ratio": "Selection-rate ratio between groups; the four-fifths rule asks for at least 0.8.",
}
SWEEP_METRICS = ("selection_rate", "tpr", "fpr", "accuracy")
KINDS = ("baseline", "reweighing", "penalty", "threshold")
KIND_TITLES = {
    "baseline": "Baseline",
    "reweighing": "Reweighing",
    "penalty": "Fairness penalty",
    "threshold": "Threshold optimizer",
    "other": "Other",
}

# Why a metric is undefined when the report itself gives no reason: each metric is a ratio of
# confusion counts, so the zero denominator is known from the metric alone.
_DEFAULT_REASONS = {
    "selection_rate": "Undefined: the group is empty.",
    "accuracy": "Undefined: the group is empty.",
    "tpr": "Undefined: no one in the group truly merits the favourable outcome (TPR divides by 0).",
    "fnr": "Undefined: no one in the group truly merits the favourable outcome (FNR divides by 0).",
    "fpr": "Undefined: everyone in the group truly merits the favourable outcome (FPR divides by 0).",
    "precision": "Undefined: the model gives no one in the group the favourable outcome "
    "(precision divides by 0).",
    "calibration_error": "Undefined: calibration needs predicted probabilities and a non-empty group.",
}
_NO_REASON = "Undefined; the report gives no reason."


# ---------------------------------------------------------------- numbers and their text
def format_number(value: float | None) -> str:
    """Three decimals; "—" for undefined, "∞" for an infinite ratio."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNDEFINED
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.3f}"


def format_with_interval(
    value: float | None, interval: tuple[float | None, float | None] | None
) -> str:
    """``"0.412 [0.381, 0.440]"``; just the value when there is no interval; "—" if undefined."""
    if value is None:
        return UNDEFINED
    if interval is None:
        return format_number(value)
    return f"{format_number(value)} [{format_number(interval[0])}, {format_number(interval[1])}]"


def four_fifths_passes(ratio: float | None) -> bool | None:
    """Whether a selection-rate ratio meets the four-fifths rule; None when it is undefined.

    Only for a report that gives a ratio without the engine's verdict (``four_fifths_ok``,
    decided exactly from the counts, is what the views show when it is there). The same rule
    as ``engines.fairness.counts.four_fifths_from_ratio``, which a test holds this to: ratios
    above 1 (the other group favoured) are read as their reciprocal, and a ratio within
    :data:`FOUR_FIFTHS_TOLERANCE` of 0.8 passes (4/6 over 5/6 is 0.7999999999999999).
    """
    if ratio is None or math.isnan(ratio):
        return None
    if ratio <= 0 or math.isinf(ratio):
        return False
    return min(ratio, 1.0 / ratio) >= FOUR_FIFTHS - FOUR_FIFTHS_TOLERANCE


class _Problems(list[str]):
    """Sentences about what could not be read; repeated ones are counted, not repeated."""

    def add(self, text: str) -> None:
        if len(self) < 50 and text not in self:
            self.append(text)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


# JSON has no NaN or infinity: the engine's to_dict() writes them as these strings
_ENCODED = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _number(value: Any, where: str, problems: _Problems) -> float | None:
    """A finite or infinite float; None for None/NaN (undefined) and for what is not a number."""
    if value is None:
        return None
    if isinstance(value, str) and value in _ENCODED:
        value = _ENCODED[value]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        problems.add(f"{where} should be a number but is {_short(value)}.")
        return None
    result = float(value)
    return None if math.isnan(result) else result


def _undefined(value: Any) -> bool:
    """None or NaN: a value the report marks as undefined (not one it got wrong)."""
    return (
        value is None
        or value == "NaN"
        or (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isnan(value))
    )


def _interval(
    value: Any, where: str, problems: _Problems
) -> tuple[float | None, float | None] | None:
    if value is None:
        return None
    if (
        isinstance(value, str | bytes)
        or not isinstance(value, Sequence | np.ndarray)
        or len(value) != 2
    ):
        problems.add(f"{where} should be a pair [low, high] but is {_short(value)}.")
        return None
    lo = _number(value[0], f"The low end of {where}", problems)
    hi = _number(value[1], f"The high end of {where}", problems)
    if lo is None and hi is None:
        return None
    if lo is not None and hi is not None and lo > hi:
        problems.add(f"{where} is reversed ({format_number(lo)} > {format_number(hi)}).")
    return (lo, hi)


def _mapping(value: Any, where: str, problems: _Problems) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.add(f"{where} should be a dictionary but is {_short(value)}.")
        return {}
    return value


def _size(value: Any, where: str, problems: _Problems) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        problems.add(f"{where} should be a whole number but is {_short(value)}.")
        return None
    as_float = float(value)
    if not math.isfinite(as_float) or as_float < 0 or as_float != int(as_float):
        problems.add(f"{where} should be a whole number of people but is {_short(value)}.")
        return None
    return int(as_float)


# ---------------------------------------------------------------- the report
@dataclass(frozen=True)
class Cell:
    """One number with its interval and, when it is undefined, why."""

    value: float | None
    interval: tuple[float | None, float | None] | None = None
    reason: str = ""

    @property
    def text(self) -> str:
        return format_with_interval(self.value, self.interval)


@dataclass
class GroupRow:
    """One group (or intersection of groups) of one sensitive feature."""

    feature: str
    group: str
    size: int | None
    cells: dict[str, Cell]

    @property
    def small(self) -> bool:
        return self.size is not None and self.size < SMALL_GROUP


@dataclass
class DifferenceRow:
    """One difference or ratio between the groups of one feature."""

    feature: str
    name: str
    cell: Cell
    four_fifths_ok: bool | None = None  # only for di_ratio: follows the value shown
    lowest: str = ""  # the groups with the lowest and highest selection rate, if given
    highest: str = ""
    left_out: list[str] = field(default_factory=list)  # groups the measure could not use
    p_value: float | None = None  # permutation test of "no difference between groups"
    signed: Cell | None = None  # two groups only: rate(order[0]) − rate(order[1])
    order: tuple[str, str] | None = None

    @property
    def signed_title(self) -> str:
        """How the signed difference is taken, e.g. "female − male"."""
        return f"{self.order[0]} − {self.order[1]}" if self.order else ""

    @property
    def title(self) -> str:
        return DIFFERENCE_TITLES.get(self.name, self.name.replace("_", " "))


@dataclass
class ReportData:
    """A fairness report as the views show it."""

    overall: dict[str, Cell] = field(default_factory=dict)
    overall_size: int | None = None
    features: list[str] = field(default_factory=list)
    groups: dict[str, list[GroupRow]] = field(default_factory=dict)
    differences: dict[str, list[DifferenceRow]] = field(default_factory=dict)
    threshold: float | None = None
    favourable: Any = None
    n_boot: int | None = None
    n_perm: int | None = None
    seed: int | None = None
    confidence: float | None = None
    notes: list[str] = field(default_factory=list)
    band_edges: dict[str, list[float]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def group_sizes(self, feature: str) -> dict[str, int | None]:
        return {row.group: row.size for row in self.groups.get(feature, [])}

    def feature_to_show(self, current: str) -> str:
        """``current`` if it has rows to show, else the first feature that has some.

        A panel keeps showing the feature the user chose as long as the new report has
        something for it; one with nothing for it (say ``by_group.sex`` is missing) shows the
        next feature that has rows rather than an empty table with no explanation.
        """
        filled = [f for f in self.features if self.groups.get(f) or self.differences.get(f)]
        if current in filled:
            return current
        return (filled or ([current] if current in self.features else self.features) or [""])[0]

    def metrics(self) -> list[str]:
        """The metrics present anywhere in the report, known ones first, in the usual order."""
        seen: dict[str, None] = {}
        for rows in self.groups.values():
            for row in rows:
                seen.update(dict.fromkeys(row.cells))
        seen.update(dict.fromkeys(self.overall))
        return [m for m in METRICS if m in seen] + [m for m in seen if m not in METRICS]

    def interval_label(self) -> str:
        """How the intervals were made, for headers and tooltips."""
        level = f"{self.confidence:.0%}" if self.confidence else "95%"
        if self.n_boot:
            return f"{level} bootstrap interval, {self.n_boot} resamples"
        return f"{level} bootstrap interval"

    def permutation_label(self) -> str:
        """How the p-values were made, for tooltips."""
        shuffles = f"{self.n_perm} shuffles" if self.n_perm else "shuffles"
        return f"permutation test of no difference between groups ({shuffles} of the group labels)"


def _sentence(text: str, prefix: str = "Undefined: ") -> str:
    """A reason as a sentence: the engine gives phrases ("the group is empty")."""
    text = text.strip()
    if not text:
        return text
    if prefix and "undefined" not in text.casefold():
        text = prefix + text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _mentions(text: str, word: str) -> bool:
    """Whether ``word`` appears in ``text`` on its own ("male" is not in "female")."""
    return re.search(rf"(?<!\w){re.escape(word.casefold())}(?!\w)", text) is not None


_METRIC_WORDS = {
    m: {m.casefold(), m.replace("_", " ").casefold(), METRIC_TITLES[m].casefold()} for m in METRICS
}


def _reason(notes: Sequence[str], feature: str, group: str, metric: str) -> str:
    """The note that explains an undefined value, else the metric's own reason.

    A note must name the group; one that names this metric is preferred, and one that names
    only other metrics is not about this value.
    """
    own = _METRIC_WORDS.get(metric, {metric.casefold()})
    others = set().union(*(w for m, w in _METRIC_WORDS.items() if m != metric)) - own
    best, best_score = "", 0
    for note in notes:
        text = note.casefold()
        if not _mentions(text, group):
            continue
        if any(_mentions(text, w) for w in own):
            score = 3
        elif any(_mentions(text, w) for w in others):
            continue
        else:
            score = 1  # about the whole group, e.g. "the group is empty"
        score += _mentions(text, feature)
        if score > best_score:
            best, best_score = note, score
    return best or _DEFAULT_REASONS.get(metric, _NO_REASON)


def read_report(report: Any) -> ReportData:
    """Read ``FairnessReport.to_dict()`` (or something like it) without ever raising."""
    problems = _Problems()
    data = ReportData()
    if not isinstance(report, Mapping):
        problems.add(f"The fairness report should be a dictionary but is {_short(report)}.")
        data.problems = list(problems)
        return data
    raw_notes = report.get("notes")
    if isinstance(raw_notes, Sequence) and not isinstance(raw_notes, str | bytes):
        data.notes = [str(n) for n in raw_notes]
    elif raw_notes is not None:
        problems.add(
            f"The report's notes should be a list of sentences but are {_short(raw_notes)}."
        )
    data.threshold = _number(report.get("threshold"), "The threshold", problems)
    data.favourable = report.get("favourable")
    data.confidence = _number(report.get("confidence"), "The confidence level", problems)
    n_boot = _size(report.get("n_boot"), "The number of bootstrap resamples", problems)
    data.n_boot = n_boot
    data.n_perm = _size(report.get("n_perm"), "The number of permutations", problems)
    seed = report.get("seed")
    data.seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    reasons_by_feature = _mapping(report.get("reasons"), "The reasons", problems)
    overall_reasons = _mapping(report.get("overall_reasons"), "The overall reasons", problems)
    overall_intervals = _mapping(report.get("overall_intervals"), "The overall intervals", problems)
    for metric_key, value in _mapping(
        report.get("overall"), "The overall results", problems
    ).items():
        metric = str(metric_key)
        if metric == "size":
            data.overall_size = _size(value, "The overall size", problems)
            continue
        v = _number(value, f"The overall {metric}", problems)
        ci = _interval(
            overall_intervals.get(metric_key), f"the overall interval of {metric}", problems
        )
        reason = ""
        if v is None and not _undefined(value):
            reason = f"The report's value {_short(value)} is not a number."
        elif v is None:
            given = overall_reasons.get(metric_key)
            reason = _sentence(str(given)) if given else _DEFAULT_REASONS.get(metric, _NO_REASON)
        data.overall[metric] = Cell(v, ci, reason)

    sizes = _mapping(report.get("sizes"), "The group sizes", problems)
    intervals = _mapping(report.get("intervals"), "The intervals", problems)
    by_group = _mapping(report.get("by_group"), "The per-group results", problems)
    for feature_key, groups in by_group.items():
        feature = str(feature_key)
        groups = _mapping(groups, f"The groups of {feature}", problems)
        feature_intervals = _mapping(
            intervals.get(feature_key), f"The intervals of {feature}", problems
        )
        feature_sizes = sizes.get(feature_key)
        if not isinstance(feature_sizes, Mapping):
            feature_sizes = {}
        feature_reasons = reasons_by_feature.get(feature_key)
        if not isinstance(feature_reasons, Mapping):
            feature_reasons = {}
        rows: list[GroupRow] = []
        for group_key, metrics in groups.items():
            group = str(group_key)
            where = f"{feature} = {group}"
            metrics = _mapping(metrics, f"The results of {where}", problems)
            group_intervals = _mapping(
                feature_intervals.get(group_key), f"The intervals of {where}", problems
            )
            reasons = metrics.get("reasons", feature_reasons.get(group_key))
            reasons = reasons if isinstance(reasons, Mapping) else {}
            size_value = metrics.get("size", feature_sizes.get(group_key))
            size = _size(size_value, f"The size of {where}", problems)
            cells: dict[str, Cell] = {}
            for metric_key, value in metrics.items():
                metric = str(metric_key)
                if metric in ("size", "reasons"):
                    continue
                v = _number(value, f"{METRIC_TITLES.get(metric, metric)} of {where}", problems)
                ci = _interval(
                    group_intervals.get(metric_key),
                    f"the interval of {METRIC_TITLES.get(metric, metric)} of {where}",
                    problems,
                )
                reason = ""
                if v is None and not _undefined(value):
                    reason = f"The report's value {_short(value)} is not a number."
                elif v is None:
                    given = reasons.get(metric_key)
                    reason = (
                        _sentence(str(given))
                        if given
                        else _reason(data.notes, feature, group, metric)
                    )
                cells[metric] = Cell(v, ci, reason)
            rows.append(GroupRow(feature, group, size, cells))
        data.features.append(feature)
        data.groups[feature] = rows

    four_fifths = _mapping(report.get("four_fifths_ok"), "The four-fifths results", problems)
    differences = _mapping(report.get("differences"), "The differences", problems)
    for feature_key, entries in differences.items():
        feature = str(feature_key)
        entries = _mapping(entries, f"The differences of {feature}", problems)
        if "four_fifths_ok" in entries and feature_key not in four_fifths:
            four_fifths = {**four_fifths, feature_key: entries["four_fifths_ok"]}
        diff_rows: list[DifferenceRow] = []
        names = [n for n in DIFFERENCES if n in entries] + [
            n for n in entries if n not in DIFFERENCES and n != "four_fifths_ok"
        ]
        for name_key in names:
            name = str(name_key)
            title = DIFFERENCE_TITLES.get(name, name)
            entry = entries[name_key]
            if isinstance(entry, Mapping):
                value = _number(entry.get("value"), f"The {title} of {feature}", problems)
                ci = _interval(
                    entry.get("ci"), f"the interval of the {title} of {feature}", problems
                )
                given_reason = entry.get("reason")
            else:  # a bare number (point estimates while training have no interval)
                value = _number(entry, f"The {title} of {feature}", problems)
                ci, given_reason = None, None
            reason = ""
            raw = entry.get("value") if isinstance(entry, Mapping) else entry
            if value is None and not _undefined(raw):
                reason = f"The report's value {_short(raw)} is not a number."
            elif value is None:
                reason = _sentence(str(given_reason)) if given_reason else _NO_REASON
            elif given_reason:
                reason = _sentence(str(given_reason), prefix="")  # e.g. why a ratio is infinite
            row = DifferenceRow(feature, name, Cell(value, ci, reason))
            if isinstance(entry, Mapping):
                row.lowest = "" if entry.get("lowest") is None else str(entry["lowest"])
                row.highest = "" if entry.get("highest") is None else str(entry["highest"])
                left_out = entry.get("left_out")
                if isinstance(left_out, Sequence) and not isinstance(left_out, str | bytes):
                    row.left_out = [str(g) for g in left_out]
                p_value = _number(entry.get("p_value"), f"The p-value of the {title} of {feature}", problems)
                if p_value is not None and not 0 <= p_value <= 1:
                    problems.add(f"The p-value of the {title} of {feature} is {_short(p_value)}, not in [0, 1].")
                    p_value = None
                row.p_value = p_value
                signed = _mapping(entry.get("signed"), f"The signed {title} of {feature}", problems)
                order = signed.get("order")
                if signed and not (isinstance(order, Sequence) and not isinstance(order, str | bytes) and len(order) == 2):
                    problems.add(f"The signed {title} of {feature} does not say which group is taken from which.")
                elif signed:
                    where = f"The signed {title} of {feature}"
                    row.order = (str(order[0]), str(order[1]))
                    row.signed = Cell(
                        _number(signed.get("value"), where, problems),
                        _interval(signed.get("ci"), f"the interval of the signed {title} of {feature}", problems),
                    )
            if name == "di_ratio":
                from_ratio = four_fifths_passes(value)
                reported = four_fifths.get(feature_key)
                if isinstance(entry, Mapping) and "four_fifths_ok" in entry:
                    reported = entry["four_fifths_ok"]
                # the engine decides the rule exactly from the counts: its verdict is shown
                row.four_fifths_ok = reported if isinstance(reported, bool) else from_ratio
                if isinstance(reported, bool) and from_ratio is not None and reported != from_ratio:
                    problems.add(
                        f"The report says {feature} {'passes' if reported else 'fails'} the "
                        f"four-fifths rule, but its ratio {format_number(value)} says otherwise; "
                        "the marker shows the report's verdict."
                    )
            diff_rows.append(row)
        data.differences[feature] = diff_rows
        if feature not in data.groups:
            data.features.append(feature)
            data.groups[feature] = []

    edges = _mapping(report.get("band_edges"), "The band edges", problems)
    for feature_key, values in edges.items():
        if isinstance(values, Sequence) and not isinstance(values, str | bytes):
            data.band_edges[str(feature_key)] = [
                v
                for v in (_number(x, f"A band edge of {feature_key}", problems) for x in values)
                if v is not None
            ]
    data.problems = list(problems)
    return data


# ---------------------------------------------------------------- live per-epoch points
@dataclass
class EpochPoint:
    """Point estimates at one epoch end (no intervals)."""

    epoch: float
    differences: dict[tuple[str, str], float | None]  # (feature, difference name)
    rates: dict[tuple[str, str], float | None]  # (feature, group): selection rate
    overall_rate: float | None
    problems: list[str]


def read_point_metrics(epoch: Any, point_metrics: Any) -> EpochPoint:
    """Read one epoch's point metrics (the report's shape without intervals)."""
    problems = _Problems()
    epoch_value = _number(epoch, "The epoch", problems)
    report = read_report(point_metrics)
    problems.extend(p for p in report.problems if p not in problems)
    differences = {
        (row.feature, row.name): row.cell.value
        for rows in report.differences.values()
        for row in rows
    }
    rates = {
        (row.feature, row.group): row.cells["selection_rate"].value
        for rows in report.groups.values()
        for row in rows
        if "selection_rate" in row.cells
    }
    overall = report.overall.get("selection_rate")
    return EpochPoint(
        epoch=math.nan if epoch_value is None else epoch_value,
        differences=differences,
        rates=rates,
        overall_rate=None if overall is None else overall.value,
        problems=list(problems),
    )


def read_history(history: Any) -> tuple[list[EpochPoint], list[str]]:
    """Read a list of ``(epoch, point_metrics)`` pairs or of dicts with an ``"epoch"`` key.

    A dict without ``"epoch"`` is numbered by its position (1, 2, ...).
    """
    problems = _Problems()
    points: list[EpochPoint] = []
    if not isinstance(history, Sequence) or isinstance(history, str | bytes):
        problems.add(f"The fairness history should be a list of epochs but is {_short(history)}.")
        return points, list(problems)
    for i, item in enumerate(history):
        if isinstance(item, Mapping):
            epoch = item.get("epoch", i + 1)
            point = read_point_metrics(epoch, item)
        elif isinstance(item, Sequence) and not isinstance(item, str | bytes) and len(item) == 2:
            point = read_point_metrics(item[0], item[1])
        else:
            problems.add(f"Epoch entry {i + 1} should be a dictionary but is {_short(item)}.")
            continue
        for p in point.problems:
            problems.add(p)
        if math.isnan(point.epoch):
            continue
        points.append(point)
    return points, list(problems)


# ---------------------------------------------------------------- threshold sweep
@dataclass
class SweepData:
    """Per-group metric curves over the decision threshold, thresholds ascending."""

    thresholds: np.ndarray
    groups: dict[str, dict[str, np.ndarray]]
    problems: list[str]
    features: list[str] = field(default_factory=list)  # when the sweep has several
    feature: str = ""  # the one whose groups are in ``groups``

    def metrics(self) -> list[str]:
        seen: dict[str, None] = {}
        for curves in self.groups.values():
            seen.update(dict.fromkeys(curves))
        return [m for m in SWEEP_METRICS if m in seen] + [m for m in seen if m not in SWEEP_METRICS]

    def at(self, threshold: float) -> dict[str, dict[str, float | None]]:
        """Each group's values at ``threshold``, linearly interpolated between sweep points.

        A value next to an undefined one is undefined; outside the sweep the end value holds.
        """
        out: dict[str, dict[str, float | None]] = {}
        for group, curves in self.groups.items():
            out[group] = {}
            for metric, values in curves.items():
                v = float(np.interp(threshold, self.thresholds, values))
                out[group][metric] = None if math.isnan(v) else v
        return out


def _float_array(value: Any, where: str, problems: _Problems) -> np.ndarray | None:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        problems.add(f"{where} should be a list of numbers but is {_short(value)}.")
        return None
    out = np.empty(len(value))
    for i, x in enumerate(value):
        if isinstance(x, str) and x in _ENCODED:
            x = _ENCODED[x]
        if x is None:
            out[i] = math.nan
        elif isinstance(x, bool) or not isinstance(x, numbers.Real):
            problems.add(f"{where} should hold numbers but holds {_short(x)}.")
            return None
        else:
            out[i] = float(x)
    return out


def read_sweep(sweep: Any, feature: str | None = None) -> SweepData:
    """Read a threshold sweep without raising.

    Either ``ThresholdSweep.to_dict()`` — ``{"thresholds": [...], "by_group": {feature:
    {group: {metric: [...]}}}, ...}``, of which ``feature`` (default: the first) is read — or
    one feature's ``{"thresholds": [...], "groups": {group: {metric: [...]}}}``.
    """
    problems = _Problems()
    empty = SweepData(np.empty(0), {}, [])
    if not isinstance(sweep, Mapping):
        problems.add(f"The threshold sweep should be a dictionary but is {_short(sweep)}.")
        empty.problems = list(problems)
        return empty
    thresholds = _float_array(sweep.get("thresholds", []), "The thresholds", problems)
    if thresholds is None:
        empty.problems = list(problems)
        return empty
    keep = np.isfinite(thresholds)
    if not keep.all():
        problems.add("Some thresholds are not finite numbers; they are left out.")
    order = np.argsort(thresholds[keep], kind="stable")
    xs = thresholds[keep][order]
    # np.interp needs increasing x: keep the first point of each repeated threshold
    xs, first = np.unique(xs, return_index=True)
    features: list[str] = []
    chosen = ""
    if "groups" in sweep or "by_group" not in sweep:
        by_group = _mapping(sweep.get("groups"), "The sweep's groups", problems)
    else:
        by_feature = _mapping(sweep.get("by_group"), "The sweep's groups", problems)
        features = [str(f) for f in by_feature]
        chosen = feature if feature in features else (features[0] if features else "")
        key = next((k for k in by_feature if str(k) == chosen), None)
        by_group = _mapping(by_feature.get(key), f"The sweep's groups of {chosen}", problems)
    groups: dict[str, dict[str, np.ndarray]] = {}
    for group_key, curves in by_group.items():
        group = str(group_key)
        curves = _mapping(curves, f"The curves of {group}", problems)
        for metric_key, values in curves.items():
            metric = str(metric_key)
            where = f"{METRIC_TITLES.get(metric, metric)} of {group}"
            ys = _float_array(values, where, problems)
            if ys is None:
                continue
            if len(ys) != len(thresholds):
                problems.add(
                    f"{where} has {len(ys)} values for {len(thresholds)} thresholds; it is left out."
                )
                continue
            groups.setdefault(group, {})[metric] = ys[keep][order][first]
    return SweepData(xs, groups, list(problems), features, chosen)


# ---------------------------------------------------------------- runs compared
@dataclass(frozen=True)
class RunPoint:
    """One run on the accuracy-vs-disparity plane."""

    id: str
    name: str
    kind: str
    accuracy: float
    accuracy_ci: tuple[float | None, float | None] | None
    disparity: float
    disparity_ci: tuple[float | None, float | None] | None


def read_runs(runs: Any) -> tuple[list[RunPoint], list[str]]:
    """Read a list of run dicts.

    Each run: ``id`` (defaults to ``name``), ``name``, ``kind`` (one of :data:`KINDS`),
    ``accuracy``, ``accuracy_ci``, ``disparity``, ``disparity_ci``. A run without an accuracy
    or a disparity cannot be placed and is listed in the problems.
    """
    problems = _Problems()
    points: list[RunPoint] = []
    if not isinstance(runs, Sequence) or isinstance(runs, str | bytes):
        problems.add(f"The runs should be a list but are {_short(runs)}.")
        return points, list(problems)
    seen: set[str] = set()
    for i, run in enumerate(runs):
        if not isinstance(run, Mapping):
            problems.add(f"Run {i + 1} should be a dictionary but is {_short(run)}.")
            continue
        name = str(run.get("name") or run.get("id") or f"run {i + 1}")
        run_id = str(run.get("id") or name)
        if run_id in seen:
            problems.add(f"Two runs share the id {run_id!r}; the second is left out.")
            continue
        kind = str(run.get("kind") or "other")
        if kind not in KINDS:
            problems.add(f"Run {name!r} has an unknown kind {_short(kind)}; it is shown as other.")
            kind = "other"
        accuracy = _number(run.get("accuracy"), f"The accuracy of {name}", problems)
        disparity = _number(run.get("disparity"), f"The disparity of {name}", problems)
        acc_ci = _interval(
            run.get("accuracy_ci", run.get("acc_ci")), f"the accuracy interval of {name}", problems
        )
        disp_ci = _interval(run.get("disparity_ci"), f"the disparity interval of {name}", problems)
        if (
            accuracy is None
            or disparity is None
            or not (math.isfinite(accuracy) and math.isfinite(disparity))
        ):
            problems.add(f"Run {name!r} has no finite accuracy and disparity, so it is not shown.")
            continue
        seen.add(run_id)
        points.append(RunPoint(run_id, name, kind, accuracy, acc_ci, disparity, disp_ci))
    return points, list(problems)
