"""Export: standalone PyTorch source, ONNX and TorchScript reproduce the built model."""

from __future__ import annotations

import ast

import onnx
import pytest
import torch

from engines.build import build_model
from engines.export import export_onnx, export_torchscript, to_python_source
from engines.graph import Graph, GraphError
from engines.templates import TEMPLATES, make_template

SHAPE = {"table": (6,), "image": (1, 8, 8), "sequence": (10, 3)}
CASES = [(tid, SHAPE[info.data_kinds[0]]) for tid, info in TEMPLATES.items()]
CASES.append(("autoencoder", (1, 8, 8)))


def load_source(source: str) -> type:
    """Execute exported source in a fresh namespace and return its Model class."""
    namespace: dict = {"__name__": "exported_model"}
    exec(compile(source, "<exported>", "exec"), namespace)  # noqa: S102 - our own generated text
    return namespace["Model"]


@pytest.mark.parametrize("tid, shape", CASES)
def test_python_source_rebuilds_the_model_and_loads_its_weights(tid, shape):
    graph = make_template(tid, shape, 4)
    built = build_model(graph, seed=3).eval()
    source = to_python_source(graph)

    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert imported <= {"torch", "math"}, imported

    model = load_source(source)().eval()
    assert list(model.state_dict()) == list(built.state_dict())
    model.load_state_dict(built.state_dict())  # strict: same keys, same shapes
    x = torch.randn(5, *shape)
    with torch.no_grad():
        torch.testing.assert_close(model(x), built(x), rtol=0, atol=0)


def test_python_source_differs_when_the_graph_differs():
    a = make_template("mlp", (6,), 4)
    b = make_template("mlp", (6,), 4)
    b.set_param("fc1", "out_features", 32)
    source = to_python_source(b)
    assert source != to_python_source(a)
    assert "nn.Linear(in_features=6, out_features=32, bias=True)" in source
    # A wrong architecture cannot silently load weights built for another.
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_source(source)().load_state_dict(build_model(a).state_dict())


def test_python_source_skips_branches_that_do_not_reach_the_output():
    g = make_template("mlp", (6,), 2)
    g.add_node("relu", id="dangling")
    g.connect("fc1", "dangling")
    source = to_python_source(g)
    model = load_source(source)()
    assert "dangling" in model.layers  # same modules as GraphModule...
    assert 'self.layers["dangling"](' not in source  # ...but not run


def test_invalid_graph_is_not_exported():
    g = Graph()
    g.add_node("linear", id="fc")
    with pytest.raises(GraphError, match="cannot be exported"):
        to_python_source(g)


@pytest.mark.parametrize("tid, shape", CASES)
def test_onnx_export_passes_the_checker_with_a_dynamic_batch(tid, shape, tmp_path):
    model = build_model(make_template(tid, shape, 4), seed=0)
    path = export_onnx(model, shape, tmp_path / "model.onnx")
    assert model.training, "export must restore the model's training mode"
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    [graph_input] = proto.graph.input
    dims = graph_input.type.tensor_type.shape.dim
    assert dims[0].dim_param  # symbolic batch
    assert tuple(d.dim_value for d in dims[1:]) == shape
    out_dims = proto.graph.output[0].type.tensor_type.shape.dim
    expected_out = shape if tid == "autoencoder" else (4,)
    assert tuple(d.dim_value for d in out_dims[1:]) == expected_out


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("tid, shape", CASES)
def test_torchscript_export_loads_and_gives_equal_outputs(tid, shape, tmp_path):
    model = build_model(make_template(tid, shape, 4), seed=0)
    path = export_torchscript(model, shape, tmp_path / "model.pt")
    assert model.training
    loaded = torch.jit.load(str(path))
    model.eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=1e-5, atol=1e-6)


def test_export_errors_are_graph_errors(tmp_path):
    model = build_model(make_template("mlp", (6,), 2))
    with pytest.raises(GraphError):
        export_torchscript(model, (7,), tmp_path / "wrong.pt")  # wrong input size
    with pytest.raises(GraphError):
        export_onnx(model, (7,), tmp_path / "wrong.onnx")
