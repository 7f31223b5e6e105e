"""Model Workbench: build neural networks visually, train them live, inspect what they learned."""

__version__ = "0.1.0"
APP_NAME = "Model Workbench"
