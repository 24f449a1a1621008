"""Weight conversions for the fast network (:mod:`engine.models.fast`): trained weights of one
form made into the starting weights of another that computes the same function (a wider head,
an X-Trans stem), so a new form warm-starts from a trained network instead of from nothing.

All functions take and return plain state-dict tensors; they never modify their inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor


def overlap_head(weight: Tensor, bias: Tensor, scale: int) -> dict[str, Tensor]:
    """A shuffle head's weights as the overlapping head's, computing the same function.

    Args:
        weight: the shuffle head's 1x1 convolution, ``(C * scale**2, F, 1, 1)``.
        bias: its bias, ``(C * scale**2,)``.
        scale: output pixels per level-0 position along each side (4).

    Returns:
        ``{"head.weight": (F, C, 2 scale, 2 scale), "head_bias": (C * scale**2,)}``: the
        transposed convolution's taps with the block's own in the middle and the outer ones
        zero, and the per-position bias.
    """
    flat = weight.detach()[:, :, 0, 0]
    outputs = flat.shape[0] // (scale * scale)
    # (C, scale, scale, features) -> (features, C, scale, scale): the block's own taps.
    own = flat.view(outputs, scale, scale, -1).permute(3, 0, 1, 2)
    taps = own.new_zeros(own.shape[0], outputs, 2 * scale, 2 * scale)
    taps[:, :, scale // 2 : scale // 2 + scale, scale // 2 : scale // 2 + scale] = own
    return {"head.weight": taps, "head_bias": bias.detach().clone()}


def resized_head(
    source: dict[str, Tensor], own_weight: Tensor, own_bias: Tensor
) -> dict[str, Tensor]:
    """``source`` with its shuffle head resized to ``own_weight``'s output channels.

    Args:
        source: a state dict; its ``"head.weight"`` ``(C' * s**2, F, 1, 1)`` and
            ``"head.bias"`` ``(C' * s**2,)`` are resized (``s``: the head's scale).
        own_weight, own_bias: the new network's head as it starts, ``(C * s**2, F, 1, 1)``
            and ``(C * s**2,)``.

    Returns:
        ``source`` with a ``(C * s**2, F, 1, 1)`` head weight and a ``(C * s**2,)`` bias.

    The residual's and the gate's channels come first and are kept. A wider head (one with a
    base filter, from one without) gains the filter's channels as the new network starts
    them (``own_weight``/``own_bias``: zero weights, the centre tap's bias 1), so it starts as
    exactly the source network; a narrower one drops the taps, the nearest start. A source
    without a head, or with a head of another form, is returned as it is.
    """
    weight, bias = source.get("head.weight"), source.get("head.bias")
    if weight is None or bias is None or weight.shape == own_weight.shape:
        return source
    if weight.shape[1:] != own_weight.shape[1:]:
        return source
    rows = min(weight.shape[0], own_weight.shape[0])
    if weight.shape[0] > own_weight.shape[0]:
        return source | {"head.weight": weight[:rows], "head.bias": bias[:rows]}
    return source | {
        "head.weight": torch.cat([weight, own_weight.detach()[rows:].to(weight.dtype)]),
        "head.bias": torch.cat([bias, own_bias.detach()[rows:].to(bias.dtype)]),
    }


def with_colour_stem(
    source: dict[str, Tensor], bayer_width: int, colour_width: int
) -> dict[str, Tensor]:
    """``source`` (a Bayer network's weights) with the demosaic stem an X-Trans network needs.

    The stem's 1x1 taps ``(F, bayer_width, 1, 1)`` gain ``colour_width`` input channels at
    zero and in front (pixel_unshuffle keeps planes together, and the colour planes come
    first), so the X-Trans network starts as the Bayer one looking at samples by position.
    Any other source is returned as it is.

    Returns:
        ``source`` with a ``(F, colour_width + bayer_width, 1, 1)`` demosaic stem.
    """
    taps = source.get("demosaic_stem.weight")
    if taps is None or taps.shape[1] != bayer_width:
        return source
    colour = taps.new_zeros(taps.shape[0], colour_width, *taps.shape[2:])
    return source | {"demosaic_stem.weight": torch.cat([colour, taps], dim=1)}
