"""What a network costs: multiply-accumulates per frame, counted on its convolutions."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.models.base import EnhanceNet

#: The frame the figures are quoted for: 12 MP, the Sony A7S II's 4256 x 2848 (SID's camera).
FRAME_12MP = (2848, 4256)
#: Packed side the count runs at; convolutions cost the same per pixel at any size, so the
#: count is scaled to the frame (a multiple of every variant's size multiple).
_PROBE = 128


def frame_gmacs(model: EnhanceNet, frame: tuple[int, int] = FRAME_12MP) -> float:
    """Multiply-accumulates (in billions) of ``model``'s convolutions for one ``frame``
    (``height, width`` sensor pixels), counted on a 128 x 128 packed input and scaled by the
    pixel count (padding to the size multiple and tile overlaps not included).

    Counted on the operations the forward pass really runs (torch's ``FlopCounterMode``,
    which counts a multiply-accumulate as two operations), so a convolution called through
    ``F.conv2d`` with a module's weights counts as well as the module itself.
    """
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.zeros(1, model.in_channels, _PROBE, _PROBE))
    scale = (frame[0] / 2) * (frame[1] / 2) / (_PROBE * _PROBE)
    return counter.get_total_flops() / 2 * scale / 1e9
