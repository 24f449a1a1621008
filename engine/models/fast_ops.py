"""The tensor operations the fast network (:mod:`engine.models.fast`) is built from: a
depth-to-space that copies once, a bilinear demosaic of packed RGGB, a convolution over
space-to-depth'ed planes as a strided one, and a per-pixel filter with predicted taps.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import Tensor


def depth_to_space(x: Tensor, factor: int) -> Tensor:
    """``F.pixel_shuffle(x, factor)`` as one contiguous (NCHW) copy from any memory layout.

    Args:
        x: ``(N, C * factor**2, H, W)``.

    Returns:
        ``(N, C, H * factor, W * factor)``, contiguous (a copy wherever one is needed);
        ``pixel_shuffle`` of a channel slice or a channels-last tensor took 2-3x as long at
        12 MP.
    """
    n, channels, height, width = x.shape
    out_channels = channels // (factor * factor)
    blocks = x.reshape(n, out_channels, factor, factor, height, width)
    return blocks.permute(0, 1, 4, 2, 5, 3).reshape(
        n, out_channels, height * factor, width * factor
    )


def bilinear_demosaic(packed: Tensor) -> Tensor:
    """Bilinear demosaic of packed RGGB: ``(N, 4, h, w)`` (R, G1, B, G2) -> ``(N, 3, 2h, 2w)``.

    The packed channels are put back on the sensor grid (R top left, G1 top right, G2 bottom
    left, B bottom right of each 2x2 cell) and every colour is interpolated from its own
    samples with the usual 3x3 kernels. The borders are reflected by one pixel, which keeps
    the CFA phase. Values keep their range; recorded samples are kept exactly.
    """
    r, g1, b, g2 = packed.unbind(1)
    zero = torch.zeros_like(r)
    # pixel_shuffle(2) of 4 channels c0..c3 puts c0 top left, c1 top right, c2 bottom left,
    # c3 bottom right of each cell.
    red = F.pixel_shuffle(torch.stack([r, zero, zero, zero], 1), 2)
    green = F.pixel_shuffle(torch.stack([zero, g1, g2, zero], 1), 2)
    blue = F.pixel_shuffle(torch.stack([zero, zero, zero, b], 1), 2)
    planes = F.pad(torch.cat([red, green, blue], 1), (1, 1, 1, 1), mode="reflect")
    rb = packed.new_tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4
    g = packed.new_tensor([[0, 1, 0], [1, 4, 1], [0, 1, 0]]) / 4
    kernels = torch.stack([rb, g, rb])[:, None]
    return F.conv2d(planes, kernels, groups=3)


def strided_taps(weight: Tensor, factor: int = 2) -> Tensor:
    """A convolution over ``pixel_unshuffle(x, factor)`` as the same convolution over ``x``
    with stride ``factor``: ``(O, C * factor**2, k, k)`` -> ``(O, C, factor k, factor k)``
    (at factor 2, tap ``(2 dy + i, 2 dx + j)`` is unshuffled channel ``4 c + 2 i + j``'s tap
    ``(dy, dx)``), in the memory layout of ``weight``. The same products and sums, without
    rearranging the 12 MP input: the unshuffle was a strided copy of every input plane (0.4 s
    of 2.7 at 12 MP)."""
    out_channels, k = weight.shape[0], weight.shape[-1]
    channels = weight.shape[1] // factor**2
    taps = weight.reshape(out_channels, channels, factor, factor, k, k)
    taps = taps.permute(0, 1, 4, 2, 5, 3).reshape(out_channels, channels, factor * k, -1)
    if weight.is_contiguous(memory_format=torch.channels_last):
        return taps.contiguous(memory_format=torch.channels_last)  # oneDNN's fast path
    return taps


def filter_by_taps(padded: Tensor, taps: Tensor) -> Tensor:
    """Every pixel's own ``k x k`` filter applied around it (a kernel-prediction filter).

    Args:
        padded: ``(N, C, H + k - 1, W + k - 1)``, the image with ``k // 2`` more pixels on
            every side.
        taps: ``(N, k * k, H, W)``, each pixel's weights in raster order (top left first),
            any values (they need not sum to one).

    Returns:
        ``(N, C, H, W)``, in float32 at least: the same weights for every channel, so an edge
        steers all colours alike.

    Examples:
        >>> image = torch.arange(9.0).view(1, 1, 3, 3)
        >>> centre = torch.zeros(1, 9, 1, 1); centre[:, 4] = 1
        >>> filter_by_taps(image, centre).flatten().tolist()
        [4.0]
        >>> filter_by_taps(image, torch.full((1, 9, 1, 1), 1 / 9)).flatten().tolist()
        [4.0]
    """
    side = math.isqrt(taps.shape[1])
    height, width = taps.shape[-2:]
    dtype = torch.promote_types(padded.dtype, torch.float32)
    taps = taps.to(dtype)
    filtered = padded[:, :, :height, :width] * taps[:, :1]
    for t in range(1, side * side):
        dy, dx = divmod(t, side)  # one pass and no temporary per tap
        filtered.addcmul_(padded[:, :, dy : dy + height, dx : dx + width], taps[:, t : t + 1])
    return filtered
