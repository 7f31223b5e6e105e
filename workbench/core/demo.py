"""The built-in demo project: a small MLP on the German credit table, ready to train."""

from __future__ import annotations

from typing import Any

DEMO_NAME = "Demo: German credit MLP"
# German credit after preparation: 23 model inputs (numbers scaled, categories one-hot) and
# two classes; tests check that these match the prepared data
DEMO_INPUT_SHAPE, DEMO_OUTPUTS = (23,), 2


def demo_graph() -> Any:
    """The demo's network alone, in a tenth of a second (no torch, no data): drawn while the
    demo project itself (data, shapes) is still being built."""
    from engines.templates import make_template

    return make_template("mlp", DEMO_INPUT_SHAPE, DEMO_OUTPUTS)


def demo_project() -> Any:
    from engines.data import builtin_spec
    from workbench.core.session import create_project

    return create_project("mlp", builtin_spec("german_credit"), name=DEMO_NAME)
