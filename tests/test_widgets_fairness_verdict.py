"""The fairness views give the engine's four-fifths verdict (see tests/test_fairness_boundaries.py).

Kept apart from the engine's boundary tests so the mutation study (bench/mutation.py) can run
those without Qt.
"""

from __future__ import annotations

import copy
import json
import math
from fractions import Fraction

import numpy as np
import pytest

from engines.fairness import audit
from engines.fairness.counts import four_fifths_from_ratio, four_fifths_holds


def _decisions(groups: dict[str, tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, pred, sex = [], [], []
    for g, (selected, size) in groups.items():
        for i in range(size):
            pred.append(1 if i < selected else 0)
            y.append(i % 2)
            sex.append(g)
    return np.array(y), np.array(pred), np.array(sex)


def test_the_ratio_rule_agrees_with_the_exact_rule_on_every_small_ratio() -> None:
    # every pair of selection rates a/n, b/m with up to 40 rows per group
    from widgets.fairness.report import four_fifths_passes

    checked = 0
    for n in range(1, 41):
        for m in range(1, 41):
            for a in range(0, n + 1):
                for b in range(1, m + 1):
                    lo, hi = sorted([Fraction(a, n), Fraction(b, m)])
                    if hi == 0:
                        continue
                    exact = four_fifths_holds([a, b], [n, m])
                    ratio = (a / n) / (b / m) if a / n <= b / m else (b / m) / (a / n)
                    assert four_fifths_from_ratio(ratio) is exact, (a, n, b, m)
                    assert four_fifths_passes(ratio) is exact, (a, n, b, m)
                    checked += 1
    assert checked > 100_000


@pytest.mark.gui
def test_the_panel_shows_the_engines_verdict_without_a_contradiction(qtbot) -> None:
    from widgets.fairness.table import GroupTable

    y, pred, sex = _decisions({"female": (4, 6), "male": (5, 6)})
    report = audit(y, pred, {"sex": sex}, n_boot=100, seed=0, kind="labels").to_dict()
    table = GroupTable()
    qtbot.addWidget(table)
    table.set_report(json.loads(json.dumps(report)))
    table.set_feature("sex")
    assert table.difference_item("di_ratio", 3).text() == "✔ pass"
    assert table.message() == ""
    # without the engine's verdict (an older report), the ratio alone gives the same answer
    older = copy.deepcopy(report)
    del older["differences"]["sex"]["di_ratio"]["four_fifths_ok"]
    table.set_report(older)
    assert table.difference_item("di_ratio", 3).text() == "✔ pass"
    assert math.isclose(report["differences"]["sex"]["di_ratio"]["value"], 0.8)
