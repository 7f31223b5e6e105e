"""Small ``nn.Module`` classes for layer types that torch does not provide as one module.

Every class here is self-contained (it uses only ``math``, ``torch`` and ``nn``) because
:mod:`engines.export` copies their source verbatim into standalone model files. Each graph
node gets its own instance, so attribution methods that hook modules (captum DeepLift)
see one module per node.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "Add",
    "Concat",
    "DepthwiseSeparableConv2d",
    "GlobalAvgPool",
    "PatchEmbedding",
    "PositionalEncoding",
    "Recurrent",
    "Reshape",
    "SelfAttention",
    "SequencePool",
    "TokenEmbedding",
]


class Add(nn.Module):
    """Element-wise sum of two inputs (a residual merge)."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


class Concat(nn.Module):
    """Concatenate two inputs along a per-sample dimension ``dim`` (batch excluded)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        # Shift non-negative dims past the batch dimension; negative ones count from the end.
        self.dim = dim + 1 if dim >= 0 else dim

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cat([a, b], dim=self.dim)


class Reshape(nn.Module):
    """Reshape each sample to ``shape`` (one entry may be -1)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape((x.shape[0],) + self.shape)


class GlobalAvgPool(nn.Module):
    """Average over every dimension after the channel one: (C, ...) -> (C,)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).mean(dim=2)


class SequencePool(nn.Module):
    """Pool a token sequence (T, D) -> (D,) by mean or max over tokens."""

    def __init__(self, mode: str = "mean") -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "max":
            return x.max(dim=1).values
        return x.mean(dim=1)


class DepthwiseSeparableConv2d(nn.Module):
    """A per-channel (depthwise) convolution followed by a 1x1 (pointwise) convolution."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_channels,
            in_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            groups=in_channels,
            bias=bias,
        )
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class Recurrent(nn.Module):
    """A batch-first RNN, LSTM or GRU returning the last step (H,) or the sequence (T, H)."""

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        return_sequence: bool = False,
    ) -> None:
        super().__init__()
        kinds = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
        # torch warns when dropout is set on a single-layer RNN, where it has no effect.
        self.rnn = kinds[cell](
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.return_sequence = return_sequence

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.rnn(x)[0]
        if self.return_sequence:
            return out
        return out[:, -1]


class SelfAttention(nn.Module):
    """Multi-head self-attention over a token sequence (T, D) -> (T, D)."""

    def __init__(self, embed_dim: int, num_heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(embed_dim, num_heads, dropout=dropout, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


class PositionalEncoding(nn.Module):
    """Add a learned or sinusoidal position code to a token sequence (T, D)."""

    def __init__(self, d_model: int, max_len: int = 512, kind: str = "sinusoidal") -> None:
        super().__init__()
        self.kind = kind
        self.d_model = d_model
        self.max_len = max_len
        if kind == "learned":
            self.weight = nn.Parameter(torch.randn(max_len, d_model) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "learned":
            return x + self.weight[: x.shape[1]]
        # Computed on the fly rather than stored, so no buffer scales with max_len.
        position = torch.arange(x.shape[1], device=x.device, dtype=x.dtype).unsqueeze(1)
        index = torch.arange(0, self.d_model, 2, device=x.device, dtype=x.dtype)
        angle = position * torch.exp(index * (-math.log(10000.0) / self.d_model))
        pe = torch.zeros(x.shape[1], self.d_model, device=x.device, dtype=x.dtype)
        pe[:, 0::2] = torch.sin(angle)
        pe[:, 1::2] = torch.cos(angle[:, : self.d_model // 2])
        return x + pe


class PatchEmbedding(nn.Module):
    """Cut an image (C, H, W) into patches and embed each: -> (N_patches, D)."""

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class TokenEmbedding(nn.Module):
    """Look up a vector per integer token; float inputs holding whole numbers are accepted."""

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_embeddings, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Datasets arrive as float32; token ids are whole numbers stored in floats.
        return self.embedding(x.long())
