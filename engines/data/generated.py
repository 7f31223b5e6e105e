"""Generated built-in datasets, deterministic (fixed seeds) and with a documented ground truth.

``sequences`` — sequence classification for recurrent networks
    1,200 sequences of T=20 steps and F=4 channels, 300 per class. Every channel carries
    Gaussian noise (sd 0.4). The class says which channel (0 or 1) carries a bump
    (height 1.5-2.5, width sd 1.5) and whether it is early (centre at step 3-7) or late
    (centre at step 12-16): ``bump_ch0_early``, ``bump_ch0_late``, ``bump_ch1_early``,
    ``bump_ch1_late``. Channel 2 is a sine wave with random frequency and phase, and
    channel 3 carries a decoy bump at a random time in every sequence, so a model has to
    tell channels and times apart. An LSTM learns it in a few epochs.

``lending`` — loan approvals with a known, injected bias against group B
    2,000 applicants, exactly 1,000 in group ``A`` and 1,000 in group ``B`` (column
    ``group``, the sensitive attribute). Every other column is drawn from the same
    distribution in both groups, except ``region``, which has no effect on the outcome but is
    a proxy for group (70 % of A and 30 % of B live in ``north``). The merit score is::

        merit = 1.2 * ln(income / 45) - 5 * (debt_ratio - 0.28) + 0.06 * (years_employed - 6)
                - 0.8 * ln(loan_amount / 12) - 1.0 * previous_defaults
                + {salaried: 0, self_employed: -0.3, unemployed: -1.5}[employment] + 0.5

    and ``approved = 1`` when ``merit - 1.0 * [group == B] + noise > 0`` with logistic noise
    of scale 0.5. The 1.0 penalty on the log-odds scale for group B is the injected bias:
    with the fixed seed the approval rates are 0.499 for A and 0.275 for B
    (demographic-parity difference of the labels 0.224); without the penalty they would be
    0.499 and 0.510 (difference -0.011). Both numbers are asserted in the tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LENDING_PENALTY",
    "LENDING_RATES",
    "LENDING_RATES_WITHOUT_PENALTY",
    "SEQUENCE_CLASSES",
    "SEQUENCE_SHAPE",
    "lending_frame",
    "sequences_frame",
]

SEQUENCE_SHAPE = (20, 4)
SEQUENCE_CLASSES = ("bump_ch0_early", "bump_ch0_late", "bump_ch1_early", "bump_ch1_late")
LENDING_PENALTY = 1.0
# Approval rates of the labels by group, measured on the generated table (asserted in tests).
LENDING_RATES = {"A": 0.499, "B": 0.275}
LENDING_RATES_WITHOUT_PENALTY = {"A": 0.499, "B": 0.510}


def sequence_columns() -> list[str]:
    """Flat column names, step-major: ``t00_c0, t00_c1, ..., t19_c3``."""
    t_steps, n_ch = SEQUENCE_SHAPE
    return [f"t{t:02d}_c{c}" for t in range(t_steps) for c in range(n_ch)]


def sequences_frame(n_per_class: int = 300, seed: int = 20240601) -> pd.DataFrame:
    """The ``sequences`` dataset as a flat frame (one row per sequence, target ``label``)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    t_steps, n_ch = SEQUENCE_SHAPE
    labels = rng.permutation(np.repeat(np.arange(len(SEQUENCE_CLASSES)), n_per_class))
    n = len(labels)
    t = np.arange(t_steps, dtype=np.float64)
    x = rng.normal(0.0, 0.4, size=(n, t_steps, n_ch))

    def bump(centre: np.ndarray, height: np.ndarray) -> np.ndarray:
        return height[:, None] * np.exp(-0.5 * ((t[None, :] - centre[:, None]) / 1.5) ** 2)

    channel = labels // 2
    late = labels % 2 == 1
    centre = np.where(late, rng.uniform(12, 16, n), rng.uniform(3, 7, n))
    signal = bump(centre, rng.uniform(1.5, 2.5, n))
    x[np.arange(n), :, channel] += signal
    freq = rng.uniform(0.2, 0.8, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    x[:, :, 2] += np.sin(freq[:, None] * t[None, :] + phase[:, None])
    x[:, :, 3] += bump(rng.uniform(2, 17, n), rng.uniform(1.5, 2.5, n))

    # Rounded so the frame survives a CSV round trip unchanged (fingerprints use CSV bytes).
    frame = pd.DataFrame(np.round(x.reshape(n, -1), 4), columns=sequence_columns())
    frame["label"] = np.asarray(SEQUENCE_CLASSES, dtype=object)[labels]
    return frame


def lending_frame(penalty: float = LENDING_PENALTY, seed: int = 7) -> pd.DataFrame:
    """The ``lending`` dataset; ``penalty`` is the injected log-odds penalty for group B."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = 2000
    group = rng.permutation(np.repeat(np.array(["A", "B"], dtype=object), n // 2))
    is_b = group == "B"
    income = np.round(rng.lognormal(np.log(45.0), 0.4, n), 1)
    debt_ratio = np.round(rng.beta(2.0, 5.0, n), 3)
    years_employed = np.minimum(rng.poisson(6.0, n), 40)
    loan_amount = np.round(rng.lognormal(np.log(12.0), 0.5, n), 1)
    previous_defaults = np.minimum(rng.poisson(0.3, n), 5)
    employment = rng.choice(
        np.array(["salaried", "self_employed", "unemployed"], dtype=object), n, p=[0.65, 0.25, 0.10]
    )
    region = np.where(rng.uniform(size=n) < np.where(is_b, 0.3, 0.7), "north", "south").astype(
        object
    )
    emp_effect = np.select(
        [employment == "self_employed", employment == "unemployed"], [-0.3, -1.5], 0.0
    )
    merit = (
        1.2 * np.log(income / 45.0)
        - 5.0 * (debt_ratio - 0.28)
        + 0.06 * (years_employed - 6)
        - 0.8 * np.log(loan_amount / 12.0)
        - 1.0 * previous_defaults
        + emp_effect
        + 0.5
    )
    noise = rng.logistic(0.0, 0.5, n)
    approved = (merit - penalty * is_b + noise > 0).astype(np.int64)
    return pd.DataFrame(
        {
            "group": group,
            "income": income,
            "debt_ratio": debt_ratio,
            "years_employed": years_employed,
            "loan_amount": loan_amount,
            "previous_defaults": previous_defaults,
            "employment": employment,
            "region": region,
            "approved": approved,
        }
    )
