"""Starting-point networks, one per architecture family. A template is just a graph.

Each template adapts to the data it is made for (input shape and number of outputs) so it
validates with no problems: e.g. LeNet-5 pads its second convolution on 8x8 digits, and the
tiny ViT picks a patch size that divides the image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engines.graph import Graph, GraphError

__all__ = ["TEMPLATES", "TemplateInfo", "make_template"]

X_SPACING = 180.0  # canvas pixels between columns
Y_SPACING = 110.0  # canvas pixels between parallel branches


@dataclass(frozen=True)
class TemplateInfo:
    """What a template is for: the data kinds it accepts and its training objective."""

    id: str
    title: str
    description: str
    data_kinds: tuple[str, ...]
    objective: str  # "classification" (or regression, same graph) or "reconstruction"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "data_kinds": list(self.data_kinds),
            "objective": self.objective,
        }


TEMPLATES: dict[str, TemplateInfo] = {
    t.id: t
    for t in (
        TemplateInfo(
            "mlp",
            "MLP",
            "Two hidden dense layers with ReLU and dropout.",
            ("table", "image"),
            "classification",
        ),
        TemplateInfo(
            "lenet5",
            "LeNet-5",
            "Two convolution + pooling stages and three dense layers.",
            ("image",),
            "classification",
        ),
        TemplateInfo(
            "resnet",
            "Small ResNet",
            "Convolutional stem and three residual blocks with skip connections.",
            ("image",),
            "classification",
        ),
        TemplateInfo(
            "lstm",
            "LSTM classifier",
            "An LSTM reads the sequence; its last step feeds a dense head.",
            ("sequence",),
            "classification",
        ),
        TemplateInfo(
            "gru",
            "GRU classifier",
            "A GRU reads the sequence; its last step feeds a dense head.",
            ("sequence",),
            "classification",
        ),
        TemplateInfo(
            "transformer",
            "Transformer encoder",
            "Projection, positional encoding, two encoder blocks, mean pooling and a dense head.",
            ("sequence",),
            "classification",
        ),
        TemplateInfo(
            "vit",
            "Tiny ViT",
            "Patch embedding, learned positions, two encoder blocks, mean pooling and a dense head.",
            ("image",),
            "classification",
        ),
        TemplateInfo(
            "autoencoder",
            "Autoencoder",
            "Dense encoder to a small code and a decoder back to the input shape.",
            ("table", "image"),
            "reconstruction",
        ),
        TemplateInfo(
            "mobilenet",
            "MobileNet-style",
            "Convolutional stem and depthwise-separable blocks.",
            ("image",),
            "classification",
        ),
    )
}

_RANK_KIND = {1: "table", 2: "sequence", 3: "image"}


class _Builder:
    """Appends nodes along a chain; ``then`` connects each new node to the previous one."""

    def __init__(self, input_shape: Sequence[int]) -> None:
        self.graph = Graph()
        self.last = self.graph.add_node(
            "input", {"shape": [int(d) for d in input_shape]}, id="input"
        ).id

    def then(self, type: str, id: str, **params: Any) -> str:
        self.graph.add_node(type, params, id=id)
        self.graph.connect(self.last, id)
        self.last = id
        return id

    def merge(self, type: str, id: str, a: str, b: str, **params: Any) -> str:
        self.graph.add_node(type, params, id=id)
        self.graph.connect(a, id, dst_port="a")
        self.graph.connect(b, id, dst_port="b")
        self.last = id
        return id

    def finish(self) -> Graph:
        self.then("output", "output")
        _layout(self.graph)
        return self.graph


def _layout(graph: Graph) -> None:
    """Place nodes left to right by depth (longest path from the input); branches stack."""
    from engines.shapes import topological_order

    depth: dict[str, int] = {}
    for nid in topological_order(graph):
        depth[nid] = max((depth[e.src] + 1 for e in graph.inputs_of(nid)), default=0)
    columns: dict[int, list[str]] = {}
    for nid, d in depth.items():
        columns.setdefault(d, []).append(nid)
    for d, ids in columns.items():
        for row, nid in enumerate(ids):
            # Centre each column on y = 0; a skip branch sits below the main path.
            y = (row - (len(ids) - 1) / 2) * Y_SPACING
            graph.move_node(nid, (d * X_SPACING, y))


# ---------------------------------------------------------------- templates
def _mlp(shape: tuple[int, ...], n_out: int) -> Graph:
    b = _Builder(shape)
    if len(shape) > 1:
        b.then("flatten", "flatten")
    b.then("linear", "fc1", out_features=64)
    b.then("relu", "relu1")
    b.then("dropout", "dropout1", p=0.2)
    b.then("linear", "fc2", out_features=64)
    b.then("relu", "relu2")
    b.then("linear", "head", out_features=n_out)
    return b.finish()


def _lenet5(shape: tuple[int, ...], n_out: int) -> Graph:
    _c, h, w = shape
    b = _Builder(shape)
    b.then("conv2d", "conv1", out_channels=6, kernel_size=5, padding=2)
    b.then("relu", "relu1")
    b.then("maxpool2d", "pool1", kernel_size=2)
    # The classic unpadded 5x5 second convolution needs at least 10x10 after the first pool;
    # small images (8x8 digits) keep their size with padding instead.
    small = min(h, w) // 2 < 10
    b.then("conv2d", "conv2", out_channels=16, kernel_size=5, padding=2 if small else 0)
    b.then("relu", "relu2")
    b.then("maxpool2d", "pool2", kernel_size=2)
    side = max(1, (min(h, w) // 2 - (0 if small else 4)) // 2)
    b.then("adaptive_avgpool2d", "adapt", output_size=[min(5, side), min(5, side)])
    b.then("flatten", "flatten")
    b.then("linear", "fc1", out_features=120)
    b.then("relu", "relu3")
    b.then("linear", "fc2", out_features=84)
    b.then("relu", "relu4")
    b.then("linear", "head", out_features=n_out)
    return b.finish()


def _resnet(shape: tuple[int, ...], n_out: int) -> Graph:
    b = _Builder(shape)
    b.then("conv2d", "stem", out_channels=16, kernel_size=3, padding=1, bias=False)
    b.then("batchnorm2d", "stem_bn")
    skip = b.then("relu", "stem_relu")
    prev_channels = 16
    for i, (channels, stride) in enumerate(((16, 1), (32, 2), (32, 1)), start=1):
        p = f"block{i}_"
        b.last = skip
        b.then(
            "conv2d",
            p + "conv1",
            out_channels=channels,
            kernel_size=3,
            stride=stride,
            padding=1,
            bias=False,
        )
        b.then("batchnorm2d", p + "bn1")
        b.then("relu", p + "relu1")
        b.then("conv2d", p + "conv2", out_channels=channels, kernel_size=3, padding=1, bias=False)
        main = b.then("batchnorm2d", p + "bn2")
        if stride != 1 or channels != prev_channels:
            # Channels or size change: a 1x1 projection matches the shortcut to the main path.
            b.last = skip
            b.then(
                "conv2d",
                p + "proj",
                out_channels=channels,
                kernel_size=1,
                stride=stride,
                padding=0,
                bias=False,
            )
            skip = b.then("batchnorm2d", p + "proj_bn")
        b.merge("add", p + "add", main, skip)
        skip = b.then("relu", p + "relu2")
        prev_channels = channels
    b.then("global_avgpool", "pool")
    b.then("linear", "head", out_features=n_out)
    return b.finish()


def _recurrent(cell: str) -> Callable[[tuple[int, ...], int], Graph]:
    def make(shape: tuple[int, ...], n_out: int) -> Graph:
        b = _Builder(shape)
        b.then(cell, cell, hidden_size=64, num_layers=1, **{"return": "last"})
        b.then("dropout", "dropout", p=0.2)
        b.then("linear", "head", out_features=n_out)
        return b.finish()

    return make


def _encoder_stack(b: _Builder, n_blocks: int, heads: int, ff_dim: int) -> None:
    for i in range(1, n_blocks + 1):
        b.then("transformer_encoder", f"encoder{i}", num_heads=heads, ff_dim=ff_dim, dropout=0.1)


def _transformer(shape: tuple[int, ...], n_out: int) -> Graph:
    b = _Builder(shape)
    b.then("linear", "embed", out_features=32)
    b.then("positional_encoding", "positions", kind="sinusoidal")
    _encoder_stack(b, 2, heads=4, ff_dim=64)
    b.then("layernorm", "norm")
    b.then("sequence_pool", "pool", mode="mean")
    b.then("linear", "head", out_features=n_out)
    return b.finish()


def _patch_size(h: int, w: int) -> int:
    """The smallest patch that divides the image into at most 64 tokens (1 if none does)."""
    for p in (2, 4, 7, 8, 14, 16, 32):
        if h % p == 0 and w % p == 0 and (h // p) * (w // p) <= 64:
            return p
    for p in range(min(h, w), 0, -1):
        if h % p == 0 and w % p == 0:
            return p
    return 1


def _vit(shape: tuple[int, ...], n_out: int) -> Graph:
    _c, h, w = shape
    p = _patch_size(h, w)
    b = _Builder(shape)
    b.then("patch_embedding", "patches", patch_size=p, embed_dim=32)
    b.then("positional_encoding", "positions", kind="learned", max_len=(h // p) * (w // p))
    _encoder_stack(b, 2, heads=4, ff_dim=64)
    b.then("layernorm", "norm")
    b.then("sequence_pool", "pool", mode="mean")
    b.then("linear", "head", out_features=n_out)
    return b.finish()


def _autoencoder(shape: tuple[int, ...], n_out: int) -> Graph:
    size = 1
    for d in shape:
        size *= d
    hidden = max(8, min(128, size // 2))
    code = max(2, min(16, hidden // 4))
    b = _Builder(shape)
    if len(shape) > 1:
        b.then("flatten", "flatten")
    b.then("linear", "enc1", out_features=hidden)
    b.then("relu", "enc_relu")
    b.then("linear", "code", out_features=code)
    b.then("relu", "code_relu")
    b.then("linear", "dec1", out_features=hidden)
    b.then("relu", "dec_relu")
    b.then("linear", "reconstruction", out_features=size)
    if len(shape) > 1:
        b.then("reshape", "unflatten", shape=list(shape))
    return b.finish()


def _mobilenet(shape: tuple[int, ...], n_out: int) -> Graph:
    _c, h, w = shape
    b = _Builder(shape)
    b.then("conv2d", "stem", out_channels=16, kernel_size=3, padding=1, bias=False)
    b.then("batchnorm2d", "stem_bn")
    b.then("relu", "stem_relu")
    side = min(h, w)
    for i, channels in enumerate((32, 64, 64), start=1):
        # Halve the size while it stays at least 2 pixels: 8x8 digits go 8 -> 4 -> 2 -> 2.
        stride = 2 if i > 1 and side >= 4 else 1
        side = (side - 1) // stride + 1
        b.then(
            "dwsep_conv2d",
            f"dwsep{i}",
            out_channels=channels,
            kernel_size=3,
            stride=stride,
            padding=1,
            bias=False,
        )
        b.then("batchnorm2d", f"dwsep{i}_bn")
        b.then("relu", f"dwsep{i}_relu")
    b.then("global_avgpool", "pool")
    b.then("dropout", "dropout", p=0.2)
    b.then("linear", "head", out_features=n_out)
    return b.finish()


_MAKERS: dict[str, Callable[[tuple[int, ...], int], Graph]] = {
    "mlp": _mlp,
    "lenet5": _lenet5,
    "resnet": _resnet,
    "lstm": _recurrent("lstm"),
    "gru": _recurrent("gru"),
    "transformer": _transformer,
    "vit": _vit,
    "autoencoder": _autoencoder,
    "mobilenet": _mobilenet,
}


def make_template(template_id: str, input_shape: Sequence[int], n_outputs: int) -> Graph:
    """Make the graph of a template for data of ``input_shape`` and ``n_outputs`` outputs.

    Parameters
    ----------
    template_id : str
        A key of :data:`TEMPLATES`.
    input_shape : sequence of int
        Per-sample shape: ``(F,)`` table, ``(T, F)`` sequence or ``(C, H, W)`` image.
    n_outputs : int
        Classes (or regression targets). Ignored by ``autoencoder``, whose output has the
        input's shape.

    Raises
    ------
    GraphError
        For an unknown template, or data of a kind the template does not apply to.
    """
    info = TEMPLATES.get(template_id)
    if info is None:
        raise GraphError(f"Unknown template {template_id!r}; choose one of {', '.join(TEMPLATES)}.")
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise GraphError(
            f"The input shape {input_shape!r} must be a list of whole numbers."
        ) from None
    kind = _RANK_KIND.get(len(shape))
    if kind is None or kind not in info.data_kinds or any(d < 1 for d in shape):
        raise GraphError(
            f"Template '{template_id}' applies to {' or '.join(info.data_kinds)} data, "
            f"not to samples of shape {tuple(shape)}."
        )
    if isinstance(n_outputs, bool) or not isinstance(n_outputs, int) or n_outputs < 1:
        raise GraphError(
            f"The number of outputs must be a positive whole number, not {n_outputs!r}."
        )
    return _MAKERS[template_id](shape, n_outputs)
