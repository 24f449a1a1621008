"""What a network costs: multiply-accumulates per frame, counted on its convolutions."""

from __future__ import annotations

import torch
from torch import nn

from engine.models.base import EnhanceNet

#: The frame the figures are quoted for: 12 MP, the Sony A7S II's 4256 x 2848 (SID's camera).
FRAME_12MP = (2848, 4256)
#: Packed side the count runs at; convolutions cost the same per pixel at any size, so the
#: count is scaled to the frame (a multiple of every variant's size multiple).
_PROBE = 128


def _conv_macs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> int:
    kh, kw = module.kernel_size  # type: ignore[misc]
    if isinstance(module, nn.ConvTranspose2d):  # every input pixel scatters a kernel
        x = inputs[0]
        per_input = module.out_channels // module.groups * kh * kw
        return x.shape[0] * x.shape[2] * x.shape[3] * module.in_channels * per_input
    per_output = module.in_channels // module.groups * kh * kw  # type: ignore[operator]
    return output.numel() * per_output


def frame_gmacs(model: EnhanceNet, frame: tuple[int, int] = FRAME_12MP) -> float:
    """Multiply-accumulates (in billions) of ``model``'s convolutions for one ``frame``
    (``height, width`` sensor pixels), counted on a 128 x 128 packed input and scaled by the
    pixel count (padding to the size multiple and tile overlaps not included)."""
    total = 0
    hooks = []

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += _conv_macs(module, inputs, output)

    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            hooks.append(m.register_forward_hook(count))
    try:
        with torch.inference_mode():
            model(torch.zeros(1, model.in_channels, _PROBE, _PROBE))
    finally:
        for h in hooks:
            h.remove()
    scale = (frame[0] / 2) * (frame[1] / 2) / (_PROBE * _PROBE)
    return total * scale / 1e9
