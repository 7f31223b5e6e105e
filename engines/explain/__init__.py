"""Explanations: attributions over captum, exact and paired-KernelSHAP Shapley values, checks.

``make_explainer(method_id, model).attribute(inputs, ...)`` returns an
:class:`AttributionResult` that says how it was made (method, options, baseline or
background, value function, seed, completeness gap, library versions). See
``docs/CONTRACTS.md`` (engines.explain). :func:`compare_groups` compares computed
attributions across groups (per-group means with intervals, permutation tests, Holm).
"""

from __future__ import annotations

from engines.explain.by_group import GroupAttributionComparison, compare_groups, holm
from engines.explain.checks import (
    deletion_insertion,
    infidelity,
    randomisation_check,
    sensitivity_max,
)
from engines.explain.groups import FeatureGroups, feature_groups
from engines.explain.methods import ELEMENT_BUDGET, METHODS, Explainer, MethodInfo, make_explainer
from engines.explain.result import AttributionResult, Cancelled, ExplainError
from engines.explain.samples import pick_samples
from engines.explain.shapley import ShapleyValues, exact_shapley, paired_kernel_shap

__all__ = [
    "ELEMENT_BUDGET",
    "METHODS",
    "AttributionResult",
    "Cancelled",
    "ExplainError",
    "Explainer",
    "FeatureGroups",
    "GroupAttributionComparison",
    "MethodInfo",
    "ShapleyValues",
    "deletion_insertion",
    "exact_shapley",
    "compare_groups",
    "feature_groups",
    "holm",
    "infidelity",
    "make_explainer",
    "paired_kernel_shap",
    "pick_samples",
    "randomisation_check",
    "sensitivity_max",
]
