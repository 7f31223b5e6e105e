"""The errors the graph, the layer catalog and shape inference raise, in the user's words.

Kept apart from the modules that raise them so that the graph, the catalog and the layer
definitions can all import them without importing each other.
"""

from __future__ import annotations

__all__ = ["GraphError", "LayerProblem"]


class GraphError(ValueError):
    """A graph edit or a serialised graph is not acceptable; the message says why."""


class LayerProblem(ValueError):
    """A layer cannot accept its inputs or parameters; the message is in the user's words.

    ``kind`` is ``"shape"`` or ``"param"``, as in :class:`engines.shapes.Problem`.
    """

    def __init__(self, message: str, kind: str = "shape") -> None:
        super().__init__(message)
        self.kind = kind
