"""Headless compute for Model Workbench: graph, layer catalog, data, training, export.

Imports torch, numpy and pandas (lazily where start-up matters); never Qt.
"""
