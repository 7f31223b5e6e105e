"""What a node of a built network outputs for one sample: a look inside the network.

Outputs are captured with forward hooks on the node modules of a
:class:`~engines.build.GraphModule` (``model.layers``, keyed by node id), so the network runs
exactly as it does when it predicts; the hooks are removed afterwards, even on error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["ActivationError", "capture_activations"]


class ActivationError(ValueError):
    """The outputs cannot be captured; the message says why in one sentence."""


def capture_activations(
    model: nn.Module, x: np.ndarray, node_ids: Iterable[str]
) -> dict[str, np.ndarray]:
    """Run one sample through ``model`` and return what each of ``node_ids`` outputs.

    Parameters
    ----------
    model : GraphModule
        A built network; its ``layers`` ModuleDict is keyed by node id.
    x : np.ndarray
        One sample, in the model's per-sample input shape (no batch dimension).
    node_ids : iterable of str
        The nodes to look at.

    Returns
    -------
    dict
        ``{node_id: float32 array}``, each the node's output for the sample, batch dimension
        removed.

    Raises
    ------
    ActivationError
        For an unknown node, a node the output does not depend on (it is never run), or a
        sample of the wrong shape.
    """
    layers = getattr(model, "layers", None)
    if not isinstance(layers, nn.ModuleDict):
        raise ActivationError("The model has no per-node layers to look inside.")
    wanted = list(dict.fromkeys(node_ids))
    for nid in wanted:
        if nid not in layers:
            raise ActivationError(f"The network has no node {nid!r}.")
    sample = np.asarray(x)
    expected = tuple(getattr(model, "input_shape", sample.shape))
    if sample.shape != expected:
        raise ActivationError(
            f"The sample has shape {sample.shape} but the network expects {expected}."
        )
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    # samples are float32 by contract (token ids too: the embedding layer casts them)
    batch = torch.as_tensor(sample, dtype=dtype, device=device).unsqueeze(0)

    captured: dict[str, torch.Tensor] = {}

    def hook_for(nid: str) -> Any:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            out = output[0] if isinstance(output, tuple | list) else output
            captured[nid] = out.detach()

        return hook

    handles = [layers[nid].register_forward_hook(hook_for(nid)) for nid in wanted]
    was_training = model.training
    try:
        model.eval()  # dropout off, batch norm uses its running statistics
        with torch.no_grad():
            model(batch)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    missing = [nid for nid in wanted if nid not in captured]
    if missing:
        raise ActivationError(
            f"Node {missing[0]!r} does not lead to the output, so the network never runs it."
        )
    return {nid: captured[nid][0].float().cpu().numpy() for nid in wanted}
