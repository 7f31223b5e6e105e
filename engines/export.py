"""Export a graph or built model: readable PyTorch source, ONNX and TorchScript.

Nothing here pickles: the source export is text, ONNX is a protobuf and TorchScript is
written with ``torch.jit.save``.
"""

from __future__ import annotations

import inspect
import json
import re
import warnings
from pathlib import Path
from typing import Any

from engines import modules
from engines.build import wiring
from engines.catalog import get_layer
from engines.graph import Graph, GraphError
from engines.shapes import analyse

__all__ = ["export_onnx", "export_torchscript", "to_python_source"]


def _identifier(node_id: str) -> str:
    # Node ids are already identifiers (letters, digits, '_'); a prefix keeps them clear of
    # Python keywords and of the names used in forward().
    return "h_" + node_id


def to_python_source(graph: Graph) -> str:
    """Standalone PyTorch source defining ``class Model(nn.Module)`` for ``graph``.

    The module imports only ``torch`` (and ``math`` when a copied class needs it), includes
    the source of any custom layer classes, and has the same ``state_dict`` keys as
    :func:`engines.build.build_model`, so ``Model().load_state_dict(sd)`` restores weights.

    Raises
    ------
    GraphError
        If the graph has problems.
    """
    report = analyse(graph)
    if not report.ok:
        raise GraphError("The network cannot be exported:\n" + report.summary())
    input_id = graph.nodes_of_type("input")[0].id
    output_id = graph.nodes_of_type("output")[0].id

    lines_init: list[str] = []
    lines_forward: list[str] = []
    custom: set[str] = set()
    sources, needed = wiring(graph, report)

    for nid in report.order:
        node = graph.nodes[nid]
        spec = get_layer(node.type)
        assert spec.recipe is not None
        params = {p.name: node.params.get(p.name, p.default) for p in spec.params}
        name, kwargs = spec.recipe(params, [report.node_shapes[s] for s in sources[nid]])
        if not name.startswith("nn."):
            custom.add(name)
        args = ", ".join(f"{k}={_literal(v)}" for k, v in kwargs.items())
        lines_init.append(f'                "{nid}": {name}({args}),  # {node.type}')
        if nid == input_id:
            lines_forward.append(f'        {_identifier(nid)} = self.layers["{nid}"](x)')
        elif nid in needed:
            inputs = ", ".join(_identifier(s) for s in sources[nid])
            lines_forward.append(f'        {_identifier(nid)} = self.layers["{nid}"]({inputs})')

    class_sources = [inspect.getsource(getattr(modules, n)) for n in modules.__all__ if n in custom]
    uses_math = any(re.search(r"\bmath\.", src) for src in class_sources)
    shape = report.node_shapes[input_id]
    header = [
        '"""A network exported from Model Workbench.',
        "",
        f"Input: a batch of samples of shape {tuple(shape)}; output: {tuple(report.node_shapes[output_id])}",
        f"per sample. Parameters: {report.total_params:,}.",
        "",
        "    model = Model()",
        '    model.load_state_dict(state_dict)  # e.g. safetensors.torch.load_file("weights.safetensors")',
        '"""',
        "",
    ]
    imports = (["import math", ""] if uses_math else []) + [
        "import torch",
        "from torch import nn",
        "",
        "",
        "",
    ]
    body = [src.rstrip() + "\n\n\n" for src in class_sources]
    model = [
        "class Model(nn.Module):",
        '    """The exported network; ``layers`` holds one module per graph node."""',
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
        "        self.layers = nn.ModuleDict(",
        "            {",
        *lines_init,
        "            }",
        "        )",
        "",
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
        *lines_forward,
        f"        return {_identifier(output_id)}",
        "",
    ]
    return "\n".join(header + imports) + "".join(body) + "\n".join(model)


def _literal(value: Any) -> str:
    """A Python literal for a constructor argument (numbers, text, booleans, tuples, None)."""
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, str):
        return json.dumps(value)  # double quotes, as a formatter would write them
    if isinstance(value, tuple):
        inner = ", ".join(_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)
    raise GraphError(f"Cannot write the value {value!r} into exported source.")


def _example(model: Any, input_shape: tuple[int, ...] | list[int]) -> Any:
    import torch

    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    # A batch of two: a batch of one lets tracing specialise on a size-1 batch.
    return torch.randn((2, *[int(d) for d in input_shape]), device=device)


def export_onnx(model: Any, input_shape: tuple[int, ...] | list[int], path: str | Path) -> Path:
    """Write ``model`` as ONNX with a dynamic batch axis and check the file.

    Parameters
    ----------
    model : nn.Module
        A built model (its train/eval mode is restored afterwards).
    input_shape : sequence of int
        Per-sample input shape, batch excluded.
    path : str or Path
        Where to write the ``.onnx`` file.

    Raises
    ------
    GraphError
        If the exporter or the ONNX checker fails; the message says which.
    """
    import onnx
    import torch

    path = Path(path)
    example = _example(model, input_shape)
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():
            # The TorchScript-based exporter is deprecated in favour of the dynamo one, which
            # needs heavier dependencies; the legacy one is still the dependable choice here.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", UserWarning)
            try:
                torch.onnx.export(
                    model,
                    (example,),
                    str(path),
                    dynamo=False,
                    opset_version=17,
                    input_names=["input"],
                    output_names=["output"],
                    dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                )
            except Exception as legacy_error:
                try:
                    batch = torch.export.Dim("batch", min=1)
                    torch.onnx.export(
                        model,
                        (example,),
                        str(path),
                        dynamo=True,
                        input_names=["input"],
                        output_names=["output"],
                        dynamic_shapes=({0: batch},),
                        external_data=False,
                    )
                except Exception as exc:
                    raise GraphError(
                        f"ONNX export failed: {legacy_error}; the newer exporter also failed: {exc}"
                    ) from exc
        try:
            onnx.checker.check_model(str(path))
        except Exception as exc:
            raise GraphError(
                f"The exported ONNX file does not pass the ONNX checker: {exc}"
            ) from exc
    finally:
        model.train(was_training)
    return path


def export_torchscript(
    model: Any, input_shape: tuple[int, ...] | list[int], path: str | Path
) -> Path:
    """Write ``model`` as a traced TorchScript archive, then load it back and compare outputs.

    Raises
    ------
    GraphError
        If tracing fails or the saved file does not reproduce the model's output.
    """
    import torch

    path = Path(path)
    example = _example(model, input_shape)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            try:
                traced = torch.jit.trace(model, (example,), check_trace=False)
                torch.jit.save(traced, str(path))
                loaded = torch.jit.load(str(path), map_location=example.device)
            except Exception as exc:
                raise GraphError(f"TorchScript export failed: {exc}") from exc
            expected, got = model(example), loaded(example)
        if not torch.allclose(expected, got, rtol=1e-4, atol=1e-5):
            raise GraphError("The TorchScript file does not reproduce the model's output.")
    finally:
        model.train(was_training)
    return path
