"""Headless compute for Model Workbench: graph, layer catalog, data, training, export.

Imports torch, numpy and pandas (lazily where start-up matters); never Qt.
"""

# The built-in layer types register themselves in the catalog (engines.catalog) when their
# module is imported. Importing them here, once, fills the catalog before any graph is read;
# the catalog itself never imports the layer definitions, so the dependency runs one way:
# engines.layers -> engines.catalog -> engines.errors.
from engines import layers as _builtin_layers  # noqa: E402, F401
