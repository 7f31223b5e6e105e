"""The registered layer types: the catalog's data.

Each layer is a :class:`~engines.catalog.LayerSpec` whose ``recipe`` turns parameters and
per-sample input shapes into a module constructor (a class name and keyword arguments).
``build`` instantiates that recipe. torch is imported only inside ``build``, so importing
the catalog (e.g. to fill the GUI's palette) stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from engines.catalog import LayerProblem, LayerSpec, ParamSpec, PortSpec, Recipe, register

__all__ = ["instantiate", "shape_text"]

Shape = tuple[int, ...]
Params = dict[str, Any]


# ---------------------------------------------------------------- helpers
def shape_text(shape: Sequence[int]) -> str:
    """Format a per-sample shape for messages: ``(3, 28, 28)``."""
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


def instantiate(recipe: Recipe) -> Any:
    """Construct the module a recipe describes; names resolve only to torch.nn or engines.modules."""
    from torch import nn

    from engines import modules

    name, kwargs = recipe
    if name.startswith("nn."):
        cls = getattr(nn, name[3:])
    elif name in modules.__all__:
        cls = getattr(modules, name)
    else:  # pragma: no cover - a programming error in this file, not user input
        raise ValueError(f"recipe names unknown module class {name!r}")
    return cls(**kwargs)


def _builder(
    recipe: Callable[[Params, list[Shape]], Recipe],
) -> Callable[[Params, list[Shape]], Any]:
    def build(params: Params, in_shapes: list[Shape]) -> Any:
        return instantiate(recipe(params, in_shapes))

    return build


def _layer(
    id: str,
    title: str,
    category: str,
    help: str,
    recipe: Callable[[Params, list[Shape]], Recipe],
    params: tuple[ParamSpec, ...] = (),
    inputs: tuple[PortSpec, ...] = (PortSpec("in"),),
    outputs: tuple[PortSpec, ...] = (PortSpec("out"),),
    version: int = 1,
    output_shape: Callable[[Params, list[Shape]], Shape] | None = None,
) -> LayerSpec:
    return register(
        LayerSpec(
            id=id,
            title=title,
            category=category,
            help=help,
            params=params,
            inputs=inputs,
            outputs=outputs,
            version=version,
            build=_builder(recipe),
            recipe=recipe,
            output_shape=output_shape,
        )
    )


_RANK_WORDS = {
    1: "a (features) vector",
    2: "a (steps, features) sequence",
    3: "a (channels, height, width) image",
}


def _ranked(in_shapes: list[Shape], *ranks: int, what: str | None = None) -> Shape:
    """Return the single input shape, refusing ranks the layer cannot take."""
    shape = tuple(in_shapes[0])
    if len(shape) not in ranks:
        if what is None:
            what = " or ".join(_RANK_WORDS.get(r, f"a rank-{r}") for r in ranks)
        raise LayerProblem(f"expects {what} input but receives shape {shape_text(shape)}")
    return shape


def _window_out(size: int, kernel: int, stride: int, padding: int, what: str) -> int:
    """Output length of a convolution or pooling window, refusing windows that do not fit."""
    out = (size + 2 * padding - kernel) // stride + 1
    if size + 2 * padding < kernel or out < 1:
        raise LayerProblem(
            f"its {what} of {kernel} does not fit an input of size {size}"
            + (f" (with padding {padding})" if padding else "")
        )
    return out


def _p(name: str, kind: str, default: Any, help: str, **kw: Any) -> ParamSpec:
    return ParamSpec(name=name, kind=kind, default=default, help=help, **kw)


def _bias() -> ParamSpec:
    return _p("bias", "bool", True, "Learn an additive bias.")


def _dropout(default: float = 0.0) -> ParamSpec:
    return _p(
        "dropout",
        "float",
        default,
        "Probability of zeroing an activation while training.",
        min=0.0,
        max=1.0,
    )


# ------------------------------------------------------- input and output
def _input(params: Params, in_shapes: list[Shape]) -> Recipe:
    shape = params["shape"]
    if not 1 <= len(shape) <= 4:
        raise LayerProblem(
            f"the input shape {shape_text(shape)} must have 1 to 4 dimensions "
            "(features; steps, features; or channels, height, width)",
            kind="param",
        )
    return "nn.Identity", {}


_layer(
    "input",
    "Input",
    "Input/Output",
    "Where samples enter the network; shape excludes the batch.",
    _input,
    params=(
        _p(
            "shape",
            "ints",
            (8,),
            "Shape of one sample, without the batch dimension.",
            min=1,
            max=100_000,
        ),
    ),
    inputs=(),
)
_layer(
    "output",
    "Output",
    "Input/Output",
    "The network's prediction (logits, values or a reconstruction).",
    lambda p, s: ("nn.Identity", {}),
    outputs=(),
)


# ------------------------------------------------------------------ dense
def _linear(params: Params, in_shapes: list[Shape]) -> Recipe:
    shape = tuple(in_shapes[0])
    if not shape:
        raise LayerProblem("expects an input with a features dimension but receives a scalar")
    features = shape[-1]
    wanted = params["in_features"]
    if wanted is not None and wanted != features:
        raise LayerProblem(f"expects {wanted} input features but receives {features}")
    return "nn.Linear", {
        "in_features": features,
        "out_features": params["out_features"],
        "bias": params["bias"],
    }


_layer(
    "linear",
    "Linear",
    "Dense",
    "Fully connected layer on the last dimension: y = xWᵀ + b.",
    _linear,
    params=(
        _p("out_features", "int", 64, "Number of output features.", min=1, max=65_536),
        _p(
            "in_features",
            "int",
            None,
            "Input features; leave empty to infer from the input.",
            min=1,
            max=65_536,
            optional=True,
        ),
        _bias(),
    ),
)


# ------------------------------------------------------------ convolution
def _conv_params(
    out_default: int, kernel_default: int, padding_default: int
) -> tuple[ParamSpec, ...]:
    return (
        _p(
            "out_channels",
            "int",
            out_default,
            "Number of output channels (filters).",
            min=1,
            max=4096,
        ),
        _p(
            "kernel_size",
            "int",
            kernel_default,
            "Width of the square filter window.",
            min=1,
            max=64,
        ),
        _p("stride", "int", 1, "Step between filter positions.", min=1, max=64),
        _p(
            "padding",
            "int",
            padding_default,
            "Zeros added on each side of the input.",
            min=0,
            max=64,
        ),
        _bias(),
    )


def _conv_recipe(cls: str, channels: int, size: int, params: Params) -> Recipe:
    k, st, pad = params["kernel_size"], params["stride"], params["padding"]
    _window_out(size, k, st, pad, "kernel")
    return cls, {
        "in_channels": channels,
        "out_channels": params["out_channels"],
        "kernel_size": k,
        "stride": st,
        "padding": pad,
        "bias": params["bias"],
    }


def _conv1d(params: Params, in_shapes: list[Shape]) -> Recipe:
    c, length = _ranked(in_shapes, 2, what="a (channels, length) signal")
    return _conv_recipe("nn.Conv1d", c, length, params)


def _conv2d(params: Params, in_shapes: list[Shape]) -> Recipe:
    c, h, w = _ranked(in_shapes, 3)
    return _conv_recipe("nn.Conv2d", c, min(h, w), params)


def _dwsep_conv2d(params: Params, in_shapes: list[Shape]) -> Recipe:
    c, h, w = _ranked(in_shapes, 3)
    return _conv_recipe("DepthwiseSeparableConv2d", c, min(h, w), params)


_layer(
    "conv1d",
    "Conv 1D",
    "Convolution",
    "1-D convolution over a (channels, length) signal.",
    _conv1d,
    params=_conv_params(16, 3, 1),
)
_layer(
    "conv2d",
    "Conv 2D",
    "Convolution",
    "2-D convolution over a (channels, height, width) image.",
    _conv2d,
    params=_conv_params(16, 3, 1),
)
_layer(
    "dwsep_conv2d",
    "Depthwise-separable conv 2D",
    "Convolution",
    "A per-channel 2-D convolution then a 1x1 convolution mixing channels (MobileNet).",
    _dwsep_conv2d,
    params=_conv_params(32, 3, 1),
)


# ---------------------------------------------------------------- pooling
def _pool_params() -> tuple[ParamSpec, ...]:
    return (
        _p("kernel_size", "int", 2, "Width of the pooling window.", min=1, max=64),
        _p(
            "stride",
            "int",
            None,
            "Step between windows; empty means the window width.",
            min=1,
            max=64,
            optional=True,
        ),
        _p("padding", "int", 0, "Padding on each side; at most half the window.", min=0, max=32),
    )


def _pool(name: str, rank: int) -> Callable[[Params, list[Shape]], Recipe]:
    def recipe(params: Params, in_shapes: list[Shape]) -> Recipe:
        shape = _ranked(in_shapes, rank, what="a (channels, length) signal" if rank == 2 else None)
        k, pad = params["kernel_size"], params["padding"]
        st = params["stride"] if params["stride"] is not None else k
        if 2 * pad > k:
            raise LayerProblem(f"padding {pad} is more than half the window size {k}", kind="param")
        _window_out(min(shape[1:]), k, st, pad, "window")
        return name, {"kernel_size": k, "stride": st, "padding": pad}

    return recipe


def _adaptive_avgpool2d(params: Params, in_shapes: list[Shape]) -> Recipe:
    _ranked(in_shapes, 3)
    size = list(params["output_size"])
    if len(size) not in (1, 2):
        raise LayerProblem(
            "parameter 'output_size' must be one or two numbers (height, width)", kind="param"
        )
    return "nn.AdaptiveAvgPool2d", {"output_size": tuple(size * 2 if len(size) == 1 else size)}


def _global_avgpool(params: Params, in_shapes: list[Shape]) -> Recipe:
    _ranked(in_shapes, 2, 3, what="an input with channels and at least one more dimension")
    return "GlobalAvgPool", {}


_layer(
    "maxpool1d",
    "Max pool 1D",
    "Pooling",
    "Maximum over sliding windows of a (channels, length) signal.",
    _pool("nn.MaxPool1d", 2),
    params=_pool_params(),
)
_layer(
    "maxpool2d",
    "Max pool 2D",
    "Pooling",
    "Maximum over sliding windows of an image.",
    _pool("nn.MaxPool2d", 3),
    params=_pool_params(),
)
_layer(
    "avgpool2d",
    "Average pool 2D",
    "Pooling",
    "Mean over sliding windows of an image.",
    _pool("nn.AvgPool2d", 3),
    params=_pool_params(),
)
_layer(
    "adaptive_avgpool2d",
    "Adaptive average pool 2D",
    "Pooling",
    "Average-pool an image to a fixed size whatever its input size.",
    _adaptive_avgpool2d,
    params=(_p("output_size", "ints", (4, 4), "Output (height, width).", min=1, max=1024),),
)
_layer(
    "global_avgpool",
    "Global average pool",
    "Pooling",
    "Average each channel over all positions: (C, H, W) -> (C).",
    _global_avgpool,
)


# ---------------------------------------------------------- normalisation
def _batchnorm1d(params: Params, in_shapes: list[Shape]) -> Recipe:
    shape = _ranked(in_shapes, 1, 2, what="a (features) or (channels, length)")
    return "nn.BatchNorm1d", {"num_features": shape[0], "momentum": params["momentum"]}


def _batchnorm2d(params: Params, in_shapes: list[Shape]) -> Recipe:
    shape = _ranked(in_shapes, 3)
    return "nn.BatchNorm2d", {"num_features": shape[0], "momentum": params["momentum"]}


def _layernorm(params: Params, in_shapes: list[Shape]) -> Recipe:
    shape = tuple(in_shapes[0])
    return "nn.LayerNorm", {"normalized_shape": shape[-1], "eps": params["eps"]}


_momentum = _p(
    "momentum", "float", 0.1, "Weight of each batch in the running statistics.", min=0.0, max=1.0
)
_layer(
    "batchnorm1d",
    "Batch norm 1D",
    "Normalisation",
    "Normalise each feature (or channel) over the batch.",
    _batchnorm1d,
    params=(_momentum,),
)
_layer(
    "batchnorm2d",
    "Batch norm 2D",
    "Normalisation",
    "Normalise each image channel over the batch.",
    _batchnorm2d,
    params=(_momentum,),
)
_layer(
    "layernorm",
    "Layer norm",
    "Normalisation",
    "Normalise the last dimension of each sample.",
    _layernorm,
    params=(
        _p("eps", "float", 1e-5, "Added to the variance for numerical safety.", min=1e-12, max=1.0),
    ),
)


# ------------------------------------------------------------------ merge
_TWO_INPUTS = (PortSpec("a", "first input"), PortSpec("b", "second input"))


def _add(params: Params, in_shapes: list[Shape]) -> Recipe:
    a, b = (tuple(s) for s in in_shapes)
    if a != b:
        raise LayerProblem(
            f"its inputs must have the same shape but receive {shape_text(a)} and {shape_text(b)}"
        )
    return "Add", {}


def _concat(params: Params, in_shapes: list[Shape]) -> Recipe:
    a, b = (tuple(s) for s in in_shapes)
    dim = params["dim"]
    if len(a) != len(b):
        raise LayerProblem(
            f"its inputs must have the same number of dimensions but receive {shape_text(a)} and {shape_text(b)}"
        )
    if not -len(a) <= dim < len(a):
        raise LayerProblem(
            f"cannot join along dimension {dim} of inputs with {len(a)} dimension(s)", kind="param"
        )
    d = dim % len(a)
    if a[:d] + a[d + 1 :] != b[:d] + b[d + 1 :]:
        raise LayerProblem(
            f"its inputs {shape_text(a)} and {shape_text(b)} differ outside the joining dimension {dim}"
        )
    return "Concat", {"dim": dim}


_layer(
    "add",
    "Add",
    "Merge",
    "Sum two inputs of the same shape (a residual connection).",
    _add,
    inputs=_TWO_INPUTS,
)
_layer(
    "concat",
    "Concatenate",
    "Merge",
    "Join two inputs along one dimension.",
    _concat,
    inputs=_TWO_INPUTS,
    params=(
        _p(
            "dim",
            "int",
            -1,
            "Per-sample dimension to join along (0 = first, -1 = last).",
            min=-4,
            max=3,
        ),
    ),
)


# -------------------------------------------------------------- recurrent
def _recurrent(cell: str) -> Callable[[Params, list[Shape]], Recipe]:
    def recipe(params: Params, in_shapes: list[Shape]) -> Recipe:
        _steps, features = _ranked(in_shapes, 2)
        return "Recurrent", {
            "cell": cell,
            "input_size": features,
            "hidden_size": params["hidden_size"],
            "num_layers": params["num_layers"],
            "bidirectional": params["bidirectional"],
            "dropout": params["dropout"],
            "return_sequence": params["return"] == "sequence",
        }

    return recipe


def _recurrent_shape(params: Params, in_shapes: list[Shape]) -> Shape:
    # Computed, not run: on meta tensors torch unrolls the recurrence step by step, which
    # would make inference time grow with the sequence length.
    steps = in_shapes[0][0]
    size = params["hidden_size"] * (2 if params["bidirectional"] else 1)
    return (steps, size) if params["return"] == "sequence" else (size,)


def _recurrent_params() -> tuple[ParamSpec, ...]:
    return (
        _p("hidden_size", "int", 64, "Size of the hidden state.", min=1, max=8192),
        _p("num_layers", "int", 1, "Number of stacked recurrent layers.", min=1, max=16),
        _p(
            "bidirectional",
            "bool",
            False,
            "Also read the sequence backwards (doubles the output size).",
        ),
        _dropout(),
        _p(
            "return",
            "choice",
            "last",
            "Return the last step's output or the whole sequence.",
            choices=("last", "sequence"),
        ),
    )


for _cell, _title, _help in (
    ("rnn", "RNN", "Elman recurrent layer over a (steps, features) sequence."),
    ("lstm", "LSTM", "Long short-term memory layer over a (steps, features) sequence."),
    ("gru", "GRU", "Gated recurrent unit layer over a (steps, features) sequence."),
):
    _layer(
        _cell,
        _title,
        "Recurrent",
        _help,
        _recurrent(_cell),
        params=_recurrent_params(),
        output_shape=_recurrent_shape,
    )


# -------------------------------------------------------------- attention
def _heads_fit(dim: int, heads: int) -> None:
    if dim % heads:
        raise LayerProblem(f"its {dim} features cannot be split evenly into {heads} heads")


def _attention(params: Params, in_shapes: list[Shape]) -> Recipe:
    _steps, dim = _ranked(in_shapes, 2, what="a (tokens, features) sequence")
    _heads_fit(dim, params["num_heads"])
    return "SelfAttention", {
        "embed_dim": dim,
        "num_heads": params["num_heads"],
        "dropout": params["dropout"],
    }


def _encoder_block(params: Params, in_shapes: list[Shape]) -> Recipe:
    _steps, dim = _ranked(in_shapes, 2, what="a (tokens, features) sequence")
    _heads_fit(dim, params["num_heads"])
    return "nn.TransformerEncoderLayer", {
        "d_model": dim,
        "nhead": params["num_heads"],
        "dim_feedforward": params["ff_dim"],
        "dropout": params["dropout"],
        "activation": params["activation"],
        "batch_first": True,
        "norm_first": params["norm_first"],
    }


def _positional(params: Params, in_shapes: list[Shape]) -> Recipe:
    steps, dim = _ranked(in_shapes, 2, what="a (tokens, features) sequence")
    if params["kind"] == "learned" and steps > params["max_len"]:
        raise LayerProblem(f"receives {steps} tokens, more than its max_len of {params['max_len']}")
    return "PositionalEncoding", {
        "d_model": dim,
        "max_len": params["max_len"],
        "kind": params["kind"],
    }


def _patch_embedding(params: Params, in_shapes: list[Shape]) -> Recipe:
    c, h, w = _ranked(in_shapes, 3)
    p = params["patch_size"]
    if h % p or w % p:
        raise LayerProblem(f"the {h}x{w} image cannot be cut into whole {p}x{p} patches")
    return "PatchEmbedding", {"in_channels": c, "embed_dim": params["embed_dim"], "patch_size": p}


def _sequence_pool(params: Params, in_shapes: list[Shape]) -> Recipe:
    _ranked(in_shapes, 2, what="a (tokens, features) sequence")
    return "SequencePool", {"mode": params["mode"]}


_heads = _p(
    "num_heads", "int", 4, "Number of attention heads; must divide the feature size.", min=1, max=64
)
_layer(
    "self_attention",
    "Multi-head self-attention",
    "Attention",
    "Each token attends to every token of the same sequence.",
    _attention,
    params=(_heads, _dropout()),
)
_layer(
    "transformer_encoder",
    "Transformer encoder block",
    "Attention",
    "Self-attention and a feed-forward network, each with a residual connection and layer norm.",
    _encoder_block,
    params=(
        _heads,
        _p("ff_dim", "int", 128, "Hidden size of the feed-forward network.", min=1, max=16_384),
        _dropout(0.1),
        _p(
            "activation",
            "choice",
            "gelu",
            "Activation of the feed-forward network.",
            choices=("relu", "gelu"),
        ),
        _p(
            "norm_first",
            "bool",
            True,
            "Normalise before (pre-norm) rather than after each sub-layer.",
        ),
    ),
)
_layer(
    "positional_encoding",
    "Positional encoding",
    "Attention",
    "Add a code for each token's position, learned or sinusoidal.",
    _positional,
    params=(
        _p(
            "kind",
            "choice",
            "sinusoidal",
            "Sinusoidal (fixed) or learned position codes.",
            choices=("sinusoidal", "learned"),
        ),
        _p(
            "max_len",
            "int",
            512,
            "Longest sequence a learned encoding supports.",
            min=1,
            max=100_000,
        ),
    ),
)
_layer(
    "patch_embedding",
    "Patch embedding",
    "Attention",
    "Cut an image into square patches and embed each as a token: (C, H, W) -> (patches, D).",
    _patch_embedding,
    params=(
        _p(
            "patch_size",
            "int",
            4,
            "Side of each square patch; must divide the image size.",
            min=1,
            max=64,
        ),
        _p("embed_dim", "int", 64, "Size of each token's embedding.", min=1, max=8192),
    ),
)
_layer(
    "sequence_pool",
    "Sequence pool",
    "Attention",
    "Pool a token sequence into one vector: (T, D) -> (D).",
    _sequence_pool,
    params=(_p("mode", "choice", "mean", "Mean or maximum over tokens.", choices=("mean", "max")),),
)


# -------------------------------------------------------------- embedding
def _embedding(params: Params, in_shapes: list[Shape]) -> Recipe:
    return "TokenEmbedding", {
        "num_embeddings": params["num_embeddings"],
        "embedding_dim": params["embedding_dim"],
    }


_layer(
    "embedding",
    "Embedding",
    "Embedding",
    "Look up a learned vector for each integer token id.",
    _embedding,
    params=(
        _p(
            "num_embeddings",
            "int",
            1000,
            "Number of distinct token ids (ids run 0 .. n-1).",
            min=1,
            max=1_000_000,
        ),
        _p("embedding_dim", "int", 64, "Size of each token's vector.", min=1, max=8192),
    ),
)


# ----------------------------------------------------------- regularising
_layer(
    "dropout",
    "Dropout",
    "Regularisation",
    "Zero random activations while training.",
    lambda p, s: ("nn.Dropout", {"p": p["p"]}),
    params=(_p("p", "float", 0.5, "Probability of zeroing each activation.", min=0.0, max=1.0),),
)


# ------------------------------------------------------------ activations
_layer("relu", "ReLU", "Activation", "max(0, x).", lambda p, s: ("nn.ReLU", {}))
_layer(
    "leakyrelu",
    "LeakyReLU",
    "Activation",
    "x for x > 0, slope * x otherwise.",
    lambda p, s: ("nn.LeakyReLU", {"negative_slope": p["negative_slope"]}),
    params=(_p("negative_slope", "float", 0.01, "Slope for negative inputs.", min=0.0, max=1.0),),
)
_layer(
    "elu",
    "ELU",
    "Activation",
    "x for x > 0, alpha * (exp(x) - 1) otherwise.",
    lambda p, s: ("nn.ELU", {"alpha": p["alpha"]}),
    params=(
        _p(
            "alpha",
            "float",
            1.0,
            "Value approached for very negative inputs (negated).",
            min=0.0,
            max=10.0,
        ),
    ),
)
_layer(
    "gelu",
    "GELU",
    "Activation",
    "Gaussian error linear unit, as in transformers.",
    lambda p, s: ("nn.GELU", {"approximate": p["approximate"]}),
    params=(
        _p(
            "approximate", "choice", "none", "Exact or tanh-approximated.", choices=("none", "tanh")
        ),
    ),
)
_layer(
    "silu",
    "SiLU",
    "Activation",
    "x * sigmoid(x) (also called swish).",
    lambda p, s: ("nn.SiLU", {}),
)
_layer(
    "tanh",
    "Tanh",
    "Activation",
    "Hyperbolic tangent, output in (-1, 1).",
    lambda p, s: ("nn.Tanh", {}),
)
_layer(
    "sigmoid",
    "Sigmoid",
    "Activation",
    "Logistic function, output in (0, 1).",
    lambda p, s: ("nn.Sigmoid", {}),
)


# ------------------------------------------------------------------ shape
def _reshape(params: Params, in_shapes: list[Shape]) -> Recipe:
    target = [int(d) for d in params["shape"]]
    source = tuple(in_shapes[0])
    n = math.prod(source)
    if target.count(-1) > 1 or 0 in target:
        raise LayerProblem(
            "parameter 'shape' may contain at most one -1 and no zeros", kind="param"
        )
    known = math.prod(d for d in target if d != -1)
    if (-1 in target and n % known) or (-1 not in target and known != n):
        raise LayerProblem(
            f"cannot reshape {shape_text(source)} ({n} values) into {shape_text(target)}"
        )
    return "Reshape", {"shape": tuple(target)}


_layer(
    "flatten",
    "Flatten",
    "Shape",
    "Flatten each sample into one vector.",
    lambda p, s: ("nn.Flatten", {}),
)
_layer(
    "reshape",
    "Reshape",
    "Shape",
    "Reshape each sample; one dimension may be -1 (inferred).",
    _reshape,
    params=(
        _p("shape", "ints", (-1,), "New per-sample shape, batch excluded.", min=-1, max=1_000_000),
    ),
)
