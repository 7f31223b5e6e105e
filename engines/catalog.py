"""The layer catalog: every layer type as declarative data under a stable string id.

A :class:`LayerSpec` declares the layer's parameters (type, range, default, one-line help),
its input and output ports, a version, and a ``build`` function that returns a fresh
``torch.nn.Module`` given the parameters. Nothing is ever resolved by import path: a graph
may name only ids registered here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engines.errors import GraphError, LayerProblem

__all__ = [
    "LAYERS",
    "LayerProblem",
    "LayerSpec",
    "ParamSpec",
    "PortSpec",
    "Recipe",
    "get_layer",
    "register",
]

# A module constructor as data: a class name ("nn.Linear", or a class in engines.modules)
# and its keyword arguments. Building and exporting to source both read the same recipe, so
# the exported model cannot drift from the built one.
Recipe = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a layer type.

    ``kind`` is one of ``int``, ``float``, ``bool``, ``choice``, ``ints`` (a tuple of ints,
    e.g. a shape), ``str``.
    """

    name: str
    kind: str
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] = ()
    optional: bool = False  # None is allowed (e.g. "infer from input")

    def check(self, value: Any) -> str | None:
        """Return a one-sentence problem with ``value``, or None when it is acceptable."""
        if value is None:
            return None if self.optional else f"parameter '{self.name}' must be set"
        if self.kind == "bool":
            return (
                None
                if isinstance(value, bool)
                else f"parameter '{self.name}' must be true or false"
            )
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"parameter '{self.name}' must be a whole number, not {value!r}"
            return self._range(value)
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                return f"parameter '{self.name}' must be a number, not {value!r}"
            return self._range(value)
        if self.kind == "choice":
            if value not in self.choices:
                opts = ", ".join(map(str, self.choices))
                return f"parameter '{self.name}' must be one of {opts}, not {value!r}"
            return None
        if self.kind == "ints":
            if (
                not isinstance(value, list | tuple)
                or not value
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            ):
                return f"parameter '{self.name}' must be a list of whole numbers, not {value!r}"
            for v in value:
                problem = self._range(v)
                if problem:
                    return problem
            return None
        if self.kind == "str":
            return None if isinstance(value, str) else f"parameter '{self.name}' must be text"
        return f"parameter '{self.name}' has an unknown kind {self.kind!r}"

    def _range(self, value: float) -> str | None:
        if self.min is not None and value < self.min:
            return f"parameter '{self.name}' is {value}, below its minimum {self.min:g}"
        if self.max is not None and value > self.max:
            return f"parameter '{self.name}' is {value}, above its maximum {self.max:g}"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "default": list(self.default) if isinstance(self.default, tuple) else self.default,
            "help": self.help,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices),
            "optional": self.optional,
        }


@dataclass(frozen=True)
class PortSpec:
    name: str
    help: str = ""


@dataclass(frozen=True)
class LayerSpec:
    """A layer type. ``build(params, in_shapes)`` returns a fresh ``nn.Module``.

    ``in_shapes`` are the per-sample input shapes (without batch), in port order, so a
    layer can infer e.g. ``in_features``. The module's ``forward`` takes one tensor per
    input port, in port order. ``recipe(params, in_shapes)`` returns the same module as a
    :data:`Recipe` (used by export); both raise :class:`LayerProblem` for inputs or
    parameters the layer cannot accept. ``output_shape(params, in_shapes)``, when given,
    replaces running the module on meta tensors for layers where that is slow (recurrent
    layers unroll over every time step on the meta device).
    """

    id: str
    title: str
    category: str
    help: str
    params: tuple[ParamSpec, ...] = ()
    inputs: tuple[PortSpec, ...] = (PortSpec("in"),)
    outputs: tuple[PortSpec, ...] = (PortSpec("out"),)
    version: int = 1
    build: Callable[[dict[str, Any], list[tuple[int, ...]]], Any] | None = field(
        default=None, compare=False, repr=False
    )
    recipe: Callable[[dict[str, Any], list[tuple[int, ...]]], Recipe] | None = field(
        default=None, compare=False, repr=False
    )
    output_shape: Callable[[dict[str, Any], list[tuple[int, ...]]], tuple[int, ...]] | None = field(
        default=None, compare=False, repr=False
    )

    @property
    def input_names(self) -> list[str]:
        return [p.name for p in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [p.name for p in self.outputs]

    def default_params(self) -> dict[str, Any]:
        return {
            p.name: (list(p.default) if isinstance(p.default, tuple) else p.default)
            for p in self.params
        }

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


LAYERS: dict[str, LayerSpec] = {}


def register(spec: LayerSpec) -> LayerSpec:
    if spec.id in LAYERS:
        raise ValueError(f"layer id {spec.id!r} registered twice")
    LAYERS[spec.id] = spec
    return spec


def get_layer(layer_id: str) -> LayerSpec:
    try:
        return LAYERS[layer_id]
    except KeyError:
        raise GraphError(
            f"Unknown layer type {layer_id!r}: it is not in the layer catalog."
        ) from None

