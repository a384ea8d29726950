"""SmoothQuant-style smoothing before int8 export: move activation outliers into the weights.

A few hidden channels of MiniLM's activations reach ~28 where typical ones stay under ~2,
so one per-tensor int8 scale for the activations (dynamic quantisation) spends most of its
range on them. For every ``nn.Linear`` of the encoder and each input channel ``j``,
``s_j = max|X_j| ** alpha / max|W[:, j]| ** (1 - alpha)``; the layer then computes
``(x / s) @ (W * s).T``, which is the same product in exact arithmetic but with flatter
activations and only slightly less even weight columns (weights are quantised per channel).
The export gains one cheap ``Mul`` before each ``MatMul``. Export-time only: it needs torch,
and nothing that serves predictions imports it.

Example:
    >>> from inference.artifact import load_artifact
    >>> model, tokenizer, _ = load_artifact(model_dir)
    >>> smooth = smoothed(model, tokenizer, ["Talks began in Geneva.", "The EU extended sanctions."], alpha=0.5)
    >>> type(smooth.bert.encoder.layer[0].intermediate.dense).__name__
    'SmoothedLinear'
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch

from inference.text import normalize

MIN_SCALE = 1e-5  # neither a silent channel nor an all-zero weight column may divide by zero
CALIBRATION_BATCH = 16


class SmoothedLinear(torch.nn.Linear):
    """A linear layer whose input is divided by ``scale`` and whose weight columns are multiplied by it.

    A subclass of ``nn.Linear`` on purpose: it keeps the module path, so the exported node
    names (``.../layer.0/intermediate/dense/MatMul``) are those of the plain model.
    """

    def __init__(self, linear: torch.nn.Linear, scale: torch.Tensor) -> None:
        super().__init__(linear.in_features, linear.out_features, bias=linear.bias is not None,
                         device=linear.weight.device, dtype=linear.weight.dtype)
        with torch.no_grad():
            self.weight.copy_(linear.weight * scale)
            if linear.bias is not None:
                self.bias.copy_(linear.bias)
        # A buffer, not a parameter: it is a constant of the exported graph, never trained.
        self.register_buffer("inv_scale", 1.0 / scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(x * self.inv_scale, self.weight, self.bias)


def encoder_linears(model: Any) -> dict[str, torch.nn.Linear]:
    """Every ``nn.Linear`` inside the model's encoder, by its name relative to the whole model."""
    encoder = model.base_model.encoder
    prefix = next(name for name, module in model.named_modules() if module is encoder)
    return {f"{prefix}.{name}": module for name, module in encoder.named_modules()
            if isinstance(module, torch.nn.Linear)}


def activation_maxima(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
    """``max |x_j|`` over the calibration ``texts`` of each encoder linear layer's input channels.

    Texts go in length-sorted batches, so padding (whose activations would count too) stays rare.
    """
    maxima: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def record(_module, inputs, _output):
            seen = inputs[0].detach().abs().flatten(0, -2).amax(dim=0)
            maxima[name] = torch.maximum(maxima[name], seen) if name in maxima else seen
        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in encoder_linears(model).items()]
    ordered = sorted((normalize(t) for t in texts if t.strip()), key=len)
    try:
        with torch.inference_mode():
            for first in range(0, len(ordered), CALIBRATION_BATCH):
                batch = tokenizer(ordered[first: first + CALIBRATION_BATCH], padding=True, truncation=True,
                                  max_length=max_length, return_tensors="pt")
                model(**batch)
    finally:
        for handle in handles:
            handle.remove()
    return maxima


def smoothing_scale(x_max: torch.Tensor, weight: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """The per-input-channel scale ``s`` of one linear layer (``weight`` is ``(out, in)``).

    Example:
        >>> smoothing_scale(torch.tensor([16.0, 1.0]), torch.tensor([[1.0, 1.0]])).tolist()
        [4.0, 1.0]
    """
    w_max = weight.detach().abs().amax(dim=0).clamp(min=MIN_SCALE)
    return (x_max.clamp(min=MIN_SCALE) ** alpha / w_max ** (1.0 - alpha)).clamp(min=MIN_SCALE)


def smoothed(model: Any, tokenizer: Any, texts: Sequence[str], alpha: float = 0.5, max_length: int = 128) -> Any:
    """A copy of ``model`` whose encoder linear layers are :class:`SmoothedLinear`, scales from ``texts``.

    The copy's fp32 outputs equal the original's up to float rounding; ``model`` is unchanged.

    Raises:
        ValueError: no calibration text.
    """
    if not any(t.strip() for t in texts):
        raise ValueError("smoothing needs calibration sentences (training-corpus text)")
    model = copy.deepcopy(model).eval()
    maxima = activation_maxima(model, tokenizer, texts, max_length)
    for name, linear in encoder_linears(model).items():
        parent_name, _, attribute = name.rpartition(".")
        scale = smoothing_scale(maxima[name], linear.weight, alpha)
        setattr(model.get_submodule(parent_name), attribute, SmoothedLinear(linear, scale))
    return model
