"""Highlights that clip white, whatever drew the picture (issue 21, part 3).

Where the amplified mosaic reaches the clip point, the channels no longer carry colour: one
(usually green, the most sensitive) is cut at 1 while the others are not, and anything that
developed them as they are shows a cast. The classical path hides most of it (its white balance
gains are >= 1, so a pixel clipped in every channel develops white), but a network's output just
below the clip point, where green is cut and red and blue are still rising, developed magenta
around skies.

:func:`neutralise_highlights` gives every path the same rule: a pixel whose 3x3 neighbourhood of
the amplified mosaic (every CFA colour around it) reaches :data:`CLIP_FULL` of the clip point
becomes neutral (grey at its own white-balanced level, so white where clipped), with a linear
ramp from :data:`CLIP_START`, so a highlight fades to white instead of stepping to it. Colour
is given up only where the sensor or the amplification lost it, or nearly: no reconstruction
is attempted.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias

#: Where the fade to neutral starts and where it is complete, as fractions of the clip point.
CLIP_START = 0.90
CLIP_FULL = 0.95


def clip_proximity(mosaic_max: torch.Tensor) -> torch.Tensor:
    """``(H, W)`` weight in [0, 1]: 0 below :data:`CLIP_START`, 1 from :data:`CLIP_FULL`,
    smoothed over 5x5 pixels so that noise around the threshold does not speckle a sky.

    Args:
        mosaic_max: ``(H, W)`` the largest amplified, normalised mosaic value around each
            output pixel (1 = the clip point).
    """
    weight = ((mosaic_max - CLIP_START) / (CLIP_FULL - CLIP_START)).clamp_(0.0, 1.0)
    smooth = F.avg_pool2d(weight[None, None], 5, stride=1, padding=2, count_include_pad=False)
    return torch.maximum(weight, smooth[0, 0])  # never less than the pixel's own need


def _max_3x3(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` float32 -> each pixel's 3x3 maximum (edge pixels: over the part inside), as
    the noise estimator takes it: OpenCV's dilation, a quarter of max_pool2d's time at 12 MP."""
    return cv2.dilate(image, np.ones((3, 3), np.uint8))


def neighbourhood_max(mosaic: np.ndarray | torch.Tensor) -> torch.Tensor | None:
    """``(H, W)`` mosaic -> the maximum over each pixel's 3x3 neighbourhood (all CFA colours
    around it, for any 2x2 layout); ``None`` when nothing reaches :data:`CLIP_START` (most
    frames: no full-resolution map is made)."""
    m = np.ascontiguousarray(mosaic, np.float32)
    if float(m.max()) < CLIP_START:
        return None
    return torch.from_numpy(_max_3x3(m))


def packed_max(packed: np.ndarray | torch.Tensor) -> torch.Tensor | None:
    """Packed ``(4, h, w)`` -> ``(2h, 2w)``: each 2x2 block's largest value on its 4 pixels
    (the packed grid; the caller mirrors it back to the frame's grid like the output);
    ``None`` when nothing reaches :data:`CLIP_START`."""
    p = torch.as_tensor(packed, dtype=torch.float32)
    if float(p.max()) < CLIP_START:
        return None
    block = torch.from_numpy(_max_3x3(p.amax(dim=0).numpy()))  # neighbour blocks
    return block.repeat_interleave(2, 0).repeat_interleave(2, 1)


#: Rows per strip when fading highlights: the temporaries stay small on a 12 MP frame.
_STRIP_ROWS = 256
_HALO = 2  # rows the smoothing of clip_proximity reads on each side


def neutralise_highlights(
    linear_camera: torch.Tensor, mosaic_max: torch.Tensor, wb_gains: np.ndarray
) -> torch.Tensor:
    """Fade near-clipped pixels of ``linear_camera`` to neutral white, in place.

    Args:
        linear_camera: ``(3, H, W)`` float32 linear camera RGB (before white balance); only
            the rows that hold a near-clipped pixel are touched, strip by strip.
        mosaic_max: ``(H, W)`` from :func:`neighbourhood_max` or :func:`packed_max`, on the
            same grid.
        wb_gains: ``(3,)`` the frame's white balance (neutral is judged after it).

    Returns:
        ``linear_camera`` itself.
    """
    near = (mosaic_max >= CLIP_START).any(dim=1).nonzero().flatten()
    if near.numel() == 0:
        return linear_camera  # most frames: nothing to do, nothing spent
    gains = torch.as_tensor(np.asarray(wb_gains, np.float32) / np.min(wb_gains)).view(3, 1, 1)
    # The smoothing gives weight to the rows within _HALO of a near-clipped one: they are
    # faded too, wherever the strips start.
    first, last = max(0, int(near[0]) - _HALO), int(near[-1]) + _HALO
    for top in range(first, last + 1, _STRIP_ROWS):
        rows = slice(top, top + _STRIP_ROWS)
        # The 5x5 smoothing reads 2 rows beyond the strip: a strip's edge must not depend on
        # where strips start (a crop of the frame starts them elsewhere).
        halo = min(top, _HALO)
        weight = clip_proximity(mosaic_max[top - halo : top + _STRIP_ROWS + _HALO])
        weight = weight[None, halo : halo + _STRIP_ROWS]
        strip = linear_camera[:, rows]
        # Grey at the pixel's own level once white-balanced (a clipped pixel: white), so a
        # highlight loses its colour, not its brightness.
        grey = (strip * gains).clamp_(max=1.0).mean(dim=0, keepdim=True)
        strip.add_(weight * (grey / gains - strip))
    return linear_camera
