"""captum's DeepLift and DeepLiftShap with two hook fixes that captum 0.9 lacks.

1. Adjacent non-linear modules (ReLU → MaxPool, ReLU → Sigmoid, MaxPool → MaxPool): captum
   records a module's output gradient with a tensor hook registered before the next module
   registers the hook that rewrites that same gradient into DeepLIFT multipliers, so the
   earlier module reads the plain gradient and completeness breaks (delta ~1e-2 on LeNet-5).
   Here every hooked module hands a clone of its output onward, so the next module's hook
   sits on the clone and runs first. Upstream: captum issue #1104, fixed by pull request
   #1843 after 0.9; with that fix the clone is harmless.
2. Max-pool's fallback where input and baseline agree used the first sample's gradient for
   every sample (captum issue #1276), so a sample's attributions depended on the batch.

Both are checked by tests/test_explain.py (completeness on every template DeepLift applies to,
and batched against one-by-one attributions).
"""

from __future__ import annotations

from typing import Any

import torch
from captum.attr import DeepLift as _CaptumDeepLift
from captum.attr import DeepLiftShap as _CaptumDeepLiftShap
from torch import nn

__all__ = ["DeepLift", "DeepLiftShap"]

_MAXPOOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)


class _HookFixes:
    """Overrides for captum's DeepLift hook registration and backward hook."""

    forward_handles: list[Any]
    eps: float

    def _register_hooks(self, module: nn.Module, attribute_to_layer_input: bool = True) -> None:
        before = len(self.forward_handles)
        super()._register_hooks(module, attribute_to_layer_input)  # type: ignore[misc]
        if len(self.forward_handles) > before:  # hooked: pass a clone on (fix 1)
            self.forward_handles.append(module.register_forward_hook(_clone_output))

    def _backward_hook(self, module: nn.Module, grad_input: torch.Tensor,
                       grad_output: torch.Tensor) -> torch.Tensor:
        if not (isinstance(module, _MAXPOOLS) and hasattr(module, "input")):
            return super()._backward_hook(module, grad_input, grad_output)  # type: ignore[misc]
        stored: torch.Tensor = getattr(module, "input")  # noqa: B009 - set by captum's pre-hook
        x, ref = stored.chunk(2)
        same = torch.cat(2 * [(x - ref).abs() < self.eps])
        multipliers = super()._backward_hook(module, grad_input, grad_output)  # type: ignore[misc]
        return torch.where(same, grad_input, multipliers)  # fix 2: each sample's own gradient


def _clone_output(_module: nn.Module, _inputs: Any, output: Any) -> Any:
    return output.clone() if isinstance(output, torch.Tensor) else output


class DeepLift(_HookFixes, _CaptumDeepLift):
    """captum ``DeepLift`` (rescale rule) with the fixes above."""


class DeepLiftShap(_HookFixes, _CaptumDeepLiftShap):
    """captum ``DeepLiftShap`` with the fixes above."""
