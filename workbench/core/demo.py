"""The built-in demo project: a small MLP on the German credit table, ready to train."""

from __future__ import annotations

from typing import Any


def demo_project() -> Any:
    from engines.data import builtin_spec
    from workbench.core.session import create_project

    return create_project("mlp", builtin_spec("german_credit"), name="Demo: German credit MLP")
